//! `CaptureEvent`: the owned, decoded form of one ring buffer record.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::payloads::Payloads;
use bytes::Bytes;
use sensor_common::{
    CloseEvent, DataEvent, EventHeader, ExecEvent, OpenEvent, AF_INET, AF_INET6, DATA_HEADER_LEN,
    DIR_EGRESS, EVENT_CLOSE, EVENT_DATA, EVENT_EXEC, EVENT_OPEN, EVENT_PROCESS_EXIT,
    FLAG_DISCOVERED, FLAG_TLS, ROLE_CLIENT, ROLE_SERVER,
};

/// Which end of the connection the observed process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The process accepted the connection (or received the requests).
    Server,
    /// The process opened the connection (or sent the requests).
    Client,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// Which way bytes moved, seen from the observed process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Read or received by the process.
    Ingress,
    /// Written or sent by the process.
    Egress,
}

/// Identity of one connection: a reused fd number gets a new generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub pid: u32,
    pub fd: i32,
    pub generation: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEvent {
    /// The kernel started capturing a connection.
    Open {
        conn: ConnId,
        ts_ns: u64,
        comm: String,
        /// None when the kernel did not see the connection being opened.
        role: Option<Role>,
        /// The kernel's guess from the first bytes when it did not see the open.
        guessed_role: Option<Role>,
        /// The peer address seen at accept/connect, when there was one.
        remote: Option<SocketAddr>,
        /// The local address, when the kernel read both from the socket
        /// (socket mode): then neither needs looking up.
        local: Option<SocketAddr>,
        /// The listening socket's fd, for a connection the kernel saw
        /// accepted (syscall mode).
        listener_fd: Option<i32>,
        /// The bytes are a TLS library's plaintext.
        tls: bool,
    },
    /// Bytes of one syscall or TLS library call (or a chunk of them).
    Data {
        conn: ConnId,
        ts_ns: u64,
        direction: Direction,
        stream_offset: u64,
        syscall_offset: u64,
        syscall_len: u32,
        data: Bytes,
        /// The bytes are a TLS library's plaintext.
        tls: bool,
    },
    Close {
        conn: ConnId,
        ts_ns: u64,
    },
    ProcessExit {
        pid: u32,
        ts_ns: u64,
    },
    /// A process started a new program (execve).
    Exec {
        pid: u32,
        ts_ns: u64,
        /// The program's path as given to execve; None when unreadable.
        exe: Option<String>,
        /// The process's real uid.
        uid: u32,
    },
}

impl CaptureEvent {
    pub fn ts_ns(&self) -> u64 {
        match self {
            CaptureEvent::Open { ts_ns, .. }
            | CaptureEvent::Data { ts_ns, .. }
            | CaptureEvent::Close { ts_ns, .. }
            | CaptureEvent::ProcessExit { ts_ns, .. }
            | CaptureEvent::Exec { ts_ns, .. } => *ts_ns,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("ring buffer record of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("ring buffer record has unknown kind {0}")]
    UnknownKind(u8),
    #[error("data record claims {claimed} payload bytes but carries {carried}")]
    BadLength { claimed: usize, carried: usize },
}

fn read<T: Copy>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() < std::mem::size_of::<T>() {
        return Err(DecodeError::Short(bytes.len()));
    }
    // SAFETY: length checked above; T is a #[repr(C)] plain-old-data struct
    // from sensor-common, valid for any bit pattern; read_unaligned copes
    // with the ring buffer's 8-byte alignment.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

pub(crate) fn comm_string(comm: &[u8; 16]) -> String {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    String::from_utf8_lossy(&comm[..end]).into_owned()
}

fn conn_id(h: &EventHeader) -> ConnId {
    ConnId {
        pid: h.pid,
        fd: h.fd,
        generation: h.generation,
    }
}

fn role(raw: u8) -> Option<Role> {
    match raw {
        ROLE_SERVER => Some(Role::Server),
        ROLE_CLIENT => Some(Role::Client),
        _ => None,
    }
}

fn socket_addr(family: u16, port: u16, addr: &[u8; 16]) -> Option<SocketAddr> {
    let ip = match family {
        AF_INET => IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
        AF_INET6 => IpAddr::V6(Ipv6Addr::from(*addr)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Decodes one ring buffer record; a data record's bytes are copied into
/// `payloads`.
pub fn decode(record: &[u8], payloads: &mut Payloads) -> Result<CaptureEvent, DecodeError> {
    let header: EventHeader = read(record)?;
    let conn = conn_id(&header);
    let ts_ns = header.ts_ns;
    match header.kind {
        EVENT_DATA => {
            // Only the header part of DataEvent is present in the record.
            if record.len() < DATA_HEADER_LEN {
                return Err(DecodeError::Short(record.len()));
            }
            let mut fixed = [0u8; DATA_HEADER_LEN];
            fixed.copy_from_slice(&record[..DATA_HEADER_LEN]);
            let stream_offset = u64::from_ne_bytes(field(&fixed, offset_of_stream()));
            let syscall_offset = u64::from_ne_bytes(field(&fixed, offset_of_stream() + 8));
            let syscall_len = u32::from_ne_bytes(field(&fixed, offset_of_stream() + 16));
            let chunk_len = u32::from_ne_bytes(field(&fixed, offset_of_stream() + 20)) as usize;
            let payload = &record[DATA_HEADER_LEN..];
            if payload.len() < chunk_len {
                return Err(DecodeError::BadLength {
                    claimed: chunk_len,
                    carried: payload.len(),
                });
            }
            Ok(CaptureEvent::Data {
                conn,
                ts_ns,
                direction: if header.direction == DIR_EGRESS {
                    Direction::Egress
                } else {
                    Direction::Ingress
                },
                stream_offset,
                syscall_offset,
                syscall_len,
                data: payloads.copy(&payload[..chunk_len]),
                tls: header.flags & FLAG_TLS != 0,
            })
        }
        EVENT_OPEN => {
            let open: OpenEvent = read(record)?;
            let discovered = header.flags & FLAG_DISCOVERED != 0;
            Ok(CaptureEvent::Open {
                conn,
                ts_ns,
                comm: comm_string(&header.comm),
                role: if discovered { None } else { role(header.role) },
                guessed_role: role(header.role),
                remote: socket_addr(open.family, open.port, &open.addr),
                local: if open.local_known != 0 {
                    socket_addr(open.family, open.local_port, &open.local_addr)
                } else {
                    None
                },
                listener_fd: (open.listener_fd >= 0).then_some(open.listener_fd),
                tls: header.flags & FLAG_TLS != 0,
            })
        }
        EVENT_CLOSE => {
            let _: CloseEvent = read(record)?;
            Ok(CaptureEvent::Close { conn, ts_ns })
        }
        EVENT_PROCESS_EXIT => Ok(CaptureEvent::ProcessExit {
            pid: header.pid,
            ts_ns,
        }),
        EVENT_EXEC => {
            let exec: ExecEvent = read(record)?;
            let len = (exec.filename_len as usize).min(exec.filename.len());
            Ok(CaptureEvent::Exec {
                pid: header.pid,
                ts_ns,
                exe: (len > 0).then(|| String::from_utf8_lossy(&exec.filename[..len]).into_owned()),
                uid: exec.uid,
            })
        }
        other => Err(DecodeError::UnknownKind(other)),
    }
}

/// The pid of an exec record (a process started a new program), which the
/// live capture handles itself; None for every other record.
pub fn exec_pid(record: &[u8]) -> Option<u32> {
    let header: EventHeader = read(record).ok()?;
    (header.kind == EVENT_EXEC).then_some(header.pid)
}

const fn offset_of_stream() -> usize {
    std::mem::offset_of!(DataEvent, stream_offset)
}

fn field<const N: usize>(fixed: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&fixed[at..at + N]);
    out
}

/// Serialises an event the way the kernel lays it out (for tests and
/// synthetic inputs).
#[cfg(test)]
pub(crate) fn encode_data(
    conn: ConnId,
    direction: u8,
    stream_offset: u64,
    syscall_offset: u64,
    syscall_len: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8; DATA_HEADER_LEN + data.len()];
    out[0] = EVENT_DATA;
    out[1] = direction;
    out[4..8].copy_from_slice(&conn.pid.to_ne_bytes());
    out[8..12].copy_from_slice(&conn.fd.to_ne_bytes());
    out[24..32].copy_from_slice(&conn.generation.to_ne_bytes());
    let at = offset_of_stream();
    out[at..at + 8].copy_from_slice(&stream_offset.to_ne_bytes());
    out[at + 8..at + 16].copy_from_slice(&syscall_offset.to_ne_bytes());
    out[at + 16..at + 20].copy_from_slice(&syscall_len.to_ne_bytes());
    out[at + 20..at + 24].copy_from_slice(&(data.len() as u32).to_ne_bytes());
    out[DATA_HEADER_LEN..].copy_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_record_round_trips() {
        let conn = ConnId {
            pid: 7,
            fd: 5,
            generation: 99,
        };
        let rec = encode_data(conn, DIR_EGRESS, 10, 4, 100, b"HTTP/1.1 200 OK\r\n");
        match decode(&rec, &mut Payloads::new()).unwrap() {
            CaptureEvent::Data {
                conn: c,
                direction,
                stream_offset,
                syscall_offset,
                syscall_len,
                data,
                ..
            } => {
                assert_eq!(c, conn);
                assert_eq!(direction, Direction::Egress);
                assert_eq!((stream_offset, syscall_offset, syscall_len), (10, 4, 100));
                assert_eq!(&data[..], b"HTTP/1.1 200 OK\r\n");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn tls_flag_and_exec_records() {
        let conn = ConnId {
            pid: 7,
            fd: 5,
            generation: 99,
        };
        let mut rec = encode_data(conn, DIR_EGRESS, 0, 0, 4, b"GET ");
        assert!(matches!(
            decode(&rec, &mut Payloads::new()),
            Ok(CaptureEvent::Data { tls: false, .. })
        ));
        assert_eq!(exec_pid(&rec), None);
        rec[3] = FLAG_TLS;
        assert!(matches!(
            decode(&rec, &mut Payloads::new()),
            Ok(CaptureEvent::Data { tls: true, .. })
        ));
        rec[0] = EVENT_EXEC;
        assert_eq!(exec_pid(&rec), Some(7));
        assert_eq!(exec_pid(&rec[..8]), None);
    }

    #[test]
    fn exec_records_carry_the_program_and_user() {
        let mut filename = [0u8; sensor_common::EXEC_FILENAME_MAX];
        filename[..13].copy_from_slice(b"/usr/bin/curl");
        let exec = ExecEvent {
            header: EventHeader {
                kind: EVENT_EXEC,
                direction: 0,
                role: 0,
                flags: 0,
                pid: 42,
                fd: -1,
                _pad: 0,
                ts_ns: 5,
                generation: 0,
                comm: [0; 16],
            },
            uid: 1000,
            filename_len: 13,
            filename,
        };
        // SAFETY: a #[repr(C)] plain-old-data struct viewed as its bytes.
        let rec = unsafe {
            std::slice::from_raw_parts(
                (&exec as *const ExecEvent).cast::<u8>(),
                std::mem::size_of::<ExecEvent>(),
            )
        };
        assert_eq!(
            decode(rec, &mut Payloads::new()),
            Ok(CaptureEvent::Exec {
                pid: 42,
                ts_ns: 5,
                exe: Some("/usr/bin/curl".into()),
                uid: 1000
            })
        );
        assert_eq!(exec_pid(rec), Some(42));
        assert!(matches!(
            decode(&rec[..60], &mut Payloads::new()),
            Err(DecodeError::Short(60))
        ));
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let conn = ConnId {
            pid: 1,
            fd: 3,
            generation: 1,
        };
        let rec = encode_data(conn, 0, 0, 0, 5, b"hello");
        for len in 0..rec.len() {
            assert!(
                decode(&rec[..len], &mut Payloads::new()).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
        let mut bad = rec.clone();
        bad[0] = 42;
        assert_eq!(
            decode(&bad, &mut Payloads::new()),
            Err(DecodeError::UnknownKind(42))
        );
    }
}
