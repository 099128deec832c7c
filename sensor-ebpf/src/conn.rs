//! Per-(pid, fd) state: which fds are sockets worth capturing, and the
//! stream offsets of each direction. An fd becomes `CAPTURING` when its
//! first bytes look like HTTP/1.x; anything else costs one map lookup.

use aya_ebpf::bindings::BPF_RB_FORCE_WAKEUP;
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use sensor_common::sniff::Verdict;
use sensor_common::{
    counter, CloseEvent, ConnKey, ConnState, EventHeader, OpenEvent, DIR_EGRESS, DIR_INGRESS,
    EVENT_CLOSE, EVENT_DATA, EVENT_OPEN, FLAG_DISCOVERED, ROLE_CLIENT, ROLE_SERVER,
    STATE_CAPTURING, STATE_IGNORED, STATE_SNIFFING,
};

use crate::capture::{self, Source};
use crate::maps::{self, COMM_FILTER, CONNS, EVENTS, PID_FILTER};
use crate::sniff::Outcome;

pub mod verdict;

/// True when the current thread (`id` is its pid_tgid) belongs to a
/// process the agent wants captured. With filters set, the verdict is
/// kept per thread (`verdict`) until the thread is renamed or exits.
#[inline(always)]
pub fn process_wanted(id: u64) -> bool {
    let Some(settings) = maps::settings() else {
        return false;
    };
    let pid = (id >> 32) as u32;
    if pid == settings.self_pid {
        return false;
    }
    if settings.pid_filter == 0 && settings.comm_filter == 0 {
        return true;
    }
    if let Some(wanted) = verdict::cached(id) {
        return wanted;
    }
    let wanted = filters_pass(pid, &settings);
    verdict::keep(id, wanted);
    wanted
}

/// The process filters themselves: the pid, then the thread's name.
#[inline(always)]
fn filters_pass(pid: u32, settings: &sensor_common::Settings) -> bool {
    // SAFETY: map values are plain bytes; we only test presence.
    if settings.pid_filter != 0 && unsafe { PID_FILTER.get(&pid) }.is_none() {
        return false;
    }
    if settings.comm_filter != 0 {
        let comm = bpf_get_current_comm().unwrap_or([0; 16]);
        // SAFETY: as above.
        if unsafe { COMM_FILTER.get(&comm) }.is_none() {
            return false;
        }
    }
    true
}

#[inline(always)]
pub fn current_pid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

#[inline(always)]
pub fn header(kind: u8, key: &ConnKey, state: &ConnState, direction: u8) -> EventHeader {
    EventHeader {
        kind,
        direction,
        role: state.role,
        flags: state.flags & !FLAG_TLS_RECORDS,
        pid: key.pid,
        fd: key.fd,
        _pad: 0,
        ts_ns: unsafe { bpf_ktime_get_ns() },
        generation: state.generation,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    }
}

/// Kernel-only flag (masked out of events): the stream starts with a TLS
/// record, so its bytes are ciphertext whose plaintext a library linked
/// into the program may handle (`tls::rustls` ties it through the
/// thread's I/O on such sockets).
pub const FLAG_TLS_RECORDS: u8 = 0x40;

/// True when `first` (a stream's first bytes) is a TLS handshake record's
/// header: content type 22, protocol version 3.x.
#[inline(always)]
pub fn tls_records(first: &[u8; 8]) -> bool {
    first[0] == 0x16 && first[1] == 0x03
}

/// What the first bytes of a stream say.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    Request,
    Response,
    Other,
}

/// Classifies the first bytes of one syscall (see `sensor_common::sniff`).
/// The syscall path judges each syscall on its own: a start split across
/// syscalls is not HTTP here (socket mode keeps the bytes across sends).
#[inline(always)]
pub fn sniff(b: &[u8; 8], len: u64) -> Sniff {
    let n = if len < 8 { len as usize } else { 8 };
    match sensor_common::sniff::judge(b, n) {
        Verdict::Request => Sniff::Request,
        Verdict::Response => Sniff::Response,
        _ => Sniff::Other,
    }
}

/// Looks at the state of `key` and, for fds not yet capturing, at the bytes
/// moved, and returns the state to capture with (or None to ignore). An fd
/// seen opened by accept/connect keeps its stream's first bytes across
/// syscalls until they are judged (`crate::sniff`); once HTTP, the bytes
/// kept are sent before this syscall's.
#[inline(always)]
pub fn capturing_state(
    key: &ConnKey,
    direction: u8,
    source: Source,
    len: u64,
) -> Option<*mut ConnState> {
    if let Some(state) = CONNS.get_ptr_mut(key) {
        // SAFETY: pointer into the map value, valid for this program run.
        let s = unsafe { &mut *state };
        match s.state {
            STATE_CAPTURING => return Some(state),
            STATE_IGNORED => return None,
            _ => {}
        }
        // STATE_SNIFFING: opened by accept/connect, first bytes decide.
        let dir = (direction & 1) as usize;
        match crate::sniff::step(&mut s.sniff, direction, source, len) {
            Outcome::Undecided => {
                s.offsets[dir] += len;
                return None;
            }
            Outcome::NotHttp => {
                s.state = STATE_IGNORED;
                if tls_records(&s.sniff.bytes) {
                    s.flags |= FLAG_TLS_RECORDS;
                }
                maps::count(counter::NOT_HTTP, 1);
                return None;
            }
            Outcome::Http { kept, .. } => {
                s.state = STATE_CAPTURING;
                emit_open(key, s, direction);
                if kept > 0 {
                    let at = s.offsets[dir] - kept;
                    let header = header(EVENT_DATA, key, s, direction);
                    capture::send_kept(header, direction, &s.sniff.bytes, kept, at);
                }
                s.sniff.len = 0;
                return Some(state);
            }
        }
    }
    let first = capture::first_bytes(source);
    discover(key, direction, &first, len, 0)
}

/// Starts capturing an fd never seen opened: a connection that predates
/// us, or not a socket at all. Only HTTP-looking bytes earn it an entry;
/// the agent checks /proc. `flags` are added to `FLAG_DISCOVERED`.
#[inline(always)]
pub fn discover(
    key: &ConnKey,
    direction: u8,
    first: &[u8; 8],
    len: u64,
    flags: u8,
) -> Option<*mut ConnState> {
    let role = match (sniff(first, len), direction) {
        (Sniff::Other, _) => {
            if flags == 0 && tls_records(first) {
                tls_found(key, direction);
            }
            return None;
        }
        (Sniff::Request, DIR_INGRESS) | (Sniff::Response, DIR_EGRESS) => ROLE_SERVER,
        _ => ROLE_CLIENT,
    };
    let generation = unsafe { bpf_ktime_get_ns() };
    let state = ConnState::new(generation, role, STATE_CAPTURING, FLAG_DISCOVERED | flags);
    if CONNS.insert(key, &state, 0).is_err() {
        maps::count(counter::CONN_TABLE_FULL, 1);
        return None;
    }
    let ptr = CONNS.get_ptr_mut(key)?;
    emit_open(key, &state, direction);
    Some(ptr)
}

/// A handshake record on an fd never seen opened (its accept began before
/// the sensor): kept, ignored but marked `FLAG_TLS_RECORDS`, so that a
/// TLS library linked into the program (rustls) can tie its plaintext to
/// it. The end that receives the first record is the server. The agent
/// hears of it only once plaintext turns it into a TLS stream.
#[inline(always)]
fn tls_found(key: &ConnKey, direction: u8) {
    let role = if direction == DIR_INGRESS {
        ROLE_SERVER
    } else {
        ROLE_CLIENT
    };
    let generation = unsafe { bpf_ktime_get_ns() };
    let flags = FLAG_DISCOVERED | FLAG_TLS_RECORDS;
    let state = ConnState::new(generation, role, STATE_IGNORED, flags);
    if CONNS.insert(key, &state, 0).is_err() {
        maps::count(counter::CONN_TABLE_FULL, 1);
    }
}

/// Starts tracking a socket seen at accept (server) or connect (client).
#[inline(always)]
pub fn track(key: &ConnKey, role: u8, family: u16, port: u16, addr: [u8; 16], listener_fd: i32) {
    let generation = unsafe { bpf_ktime_get_ns() };
    let state = ConnState {
        family,
        port,
        addr,
        listener_fd,
        ..ConnState::new(generation, role, STATE_SNIFFING, 0)
    };
    if CONNS.insert(key, &state, 0).is_err() {
        maps::count(counter::CONN_TABLE_FULL, 1);
    }
}

/// Forgets `key`; tells the agent when it was being captured.
#[inline(always)]
pub fn untrack(key: &ConnKey) {
    // SAFETY: read-only copy of the value before removal.
    let Some(state) = (unsafe { CONNS.get(key) }).copied() else {
        return;
    };
    let _ = CONNS.remove(key);
    if state.state == STATE_CAPTURING {
        let event = CloseEvent {
            header: header(EVENT_CLOSE, key, &state, DIR_INGRESS),
        };
        if EVENTS
            .output::<CloseEvent>(&event, maps::ring_flags())
            .is_err()
        {
            maps::count(counter::RINGBUF_FULL, 1);
        }
    }
}

#[inline(always)]
pub fn emit_open(key: &ConnKey, state: &ConnState, direction: u8) {
    let event = OpenEvent {
        header: header(EVENT_OPEN, key, state, direction),
        family: state.family,
        port: state.port,
        local_port: 0,
        local_known: 0,
        _pad: 0,
        addr: state.addr,
        local_addr: [0; 16],
        listener_fd: state.listener_fd,
        _pad2: 0,
    };
    // Always wake the agent: it reads the socket's addresses through the
    // process's fd table, which only works while the connection is open.
    let wake = u64::from(BPF_RB_FORCE_WAKEUP);
    if EVENTS.output::<OpenEvent>(&event, wake).is_err() {
        maps::count(counter::RINGBUF_FULL, 1);
    }
}
