//! TCP flows of a capture as the connections the pipeline knows: each flow
//! becomes `Open`, ordered `Data` in both directions, then `Close`.
//!
//! The observed process is always the server: the side that sent the
//! SYN-ACK (or received the SYN); for a flow joined mid-stream, the side
//! whose first payload starts a response, or receives one that starts a
//! request, judged as the kernel side judges a stream's first bytes
//! (`sensor_common::sniff`: HTTP/1.x, the HTTP/2 client preface and a
//! server's first SETTINGS frame), else the side with the lower port. It gets pid 0, the capture file's name
//! as its command, and a connection id numbered by flow.
//!
//! A flow closes on RST, once both directions have sent FIN and every byte
//! before it, after `idle_timeout` of capture time, when `max_flows` is
//! reached (least recently active first), or at the end of the file; what
//! is still missing then is handed on as gaps.

use std::collections::HashMap;
use std::net::SocketAddr;

use sensor_common::sniff::{self, Verdict, SNIFF_BYTES};

use crate::capture::Role;
use crate::capture::{CaptureEvent, ConnId, Direction};

use super::addresses::FlowAddresses;
use super::packet::TcpSegment;
use super::stream::{Chunk, SeqStream};
use super::ReplayCounters;

/// How often (in capture time) idle flows are looked for.
const SWEEP_INTERVAL_NS: u64 = 1_000_000_000;

#[derive(Debug, Clone)]
pub struct FlowLimits {
    /// Flows tracked at once.
    pub max_flows: usize,
    /// Bytes one direction may hold ahead of a hole.
    pub max_held_per_direction: usize,
    /// Bytes all flows together may hold ahead of holes.
    pub max_held_total: usize,
    /// A flow without packets for this long (capture time) is closed.
    pub idle_timeout_ns: u64,
}

/// The two endpoints of a flow, in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey(SocketAddr, SocketAddr);

impl FlowKey {
    fn of(a: SocketAddr, b: SocketAddr) -> Self {
        if a <= b {
            Self(a, b)
        } else {
            Self(b, a)
        }
    }
}

struct Flow {
    conn: ConnId,
    server: SocketAddr,
    to_server: SeqStream,
    to_client: SeqStream,
    /// A SYN of this connection was seen, so acks tell stream starts.
    handshake: bool,
    /// The pipeline does not want this flow: track it, send nothing.
    muted: bool,
    /// FIN seen from the client (bit 0) and the server (bit 1); what ends
    /// a muted flow, whose streams are not followed.
    fins: u8,
    last_ts_ns: u64,
}

impl Flow {
    fn held_bytes(&self) -> usize {
        self.to_server.held_bytes() + self.to_client.held_bytes()
    }
}

pub struct FlowTable {
    flows: HashMap<FlowKey, Flow>,
    limits: FlowLimits,
    comm: String,
    addresses: FlowAddresses,
    /// Flows closed by the previous call: the pipeline may still need their
    /// addresses for the events that call returned.
    closed: Vec<ConnId>,
    held_total: usize,
    serial: u64,
    last_sweep_ns: u64,
    pub counters: ReplayCounters,
}

impl FlowTable {
    pub fn new(limits: FlowLimits, comm: String, addresses: FlowAddresses) -> Self {
        Self {
            flows: HashMap::new(),
            limits,
            comm,
            addresses,
            closed: Vec::new(),
            held_total: 0,
            serial: 0,
            last_sweep_ns: 0,
            counters: ReplayCounters::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Takes one segment captured at `ts_ns`; the events it makes known go
    /// to `out`, in order.
    pub fn push(&mut self, seg: &TcpSegment<'_>, ts_ns: u64, out: &mut Vec<CaptureEvent>) {
        self.forget_closed();
        if ts_ns >= self.last_sweep_ns.saturating_add(SWEEP_INTERVAL_NS) {
            self.last_sweep_ns = ts_ns;
            self.expire_idle(ts_ns, out);
        }
        let key = FlowKey::of(seg.src, seg.dst);
        let flags = seg.flags;
        if flags.syn && !flags.ack {
            // The same addresses and ports again: a new connection when the
            // client's initial sequence number differs.
            if let Some(flow) = self.flows.get(&key) {
                let from_client = seg.dst == flow.server;
                if !from_client || flow.to_server.is_other_start(seg.seq) {
                    self.close(key, ts_ns, out);
                }
            }
        }
        if !self.flows.contains_key(&key) {
            if flags.rst || (!flags.syn && seg.payload_len == 0) {
                self.counters.segments_without_flow += 1;
                return;
            }
            self.open(key, seg, ts_ns, out);
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        flow.last_ts_ns = ts_ns;
        let conn = flow.conn;
        let to_server = seg.dst == flow.server;
        let (sending, receiving) = if to_server {
            (&mut flow.to_server, &mut flow.to_client)
        } else {
            (&mut flow.to_client, &mut flow.to_server)
        };
        if flags.syn {
            flow.handshake = true;
            sending.set_base(seg.seq.wrapping_add(1));
        }
        if flags.ack && flow.handshake {
            // The peer's first ack tells where its stream starts even when
            // the capture missed its SYN.
            receiving.set_base(seg.ack);
        }
        if flags.fin {
            flow.fins |= if to_server { 1 } else { 2 };
        }
        if flags.rst || (flow.muted && flow.fins == 3) {
            self.close(key, ts_ns, out);
            return;
        }
        if !flow.muted {
            if (seg.payload.len() as u64) < u64::from(seg.payload_len) {
                self.counters.segments_cut_by_snaplen += 1;
            }
            let before = sending.held_bytes();
            let direction = if to_server {
                Direction::Ingress
            } else {
                Direction::Egress
            };
            let data_seq = seg.seq.wrapping_add(u32::from(flags.syn));
            sending.push(
                data_seq,
                seg.payload_len,
                seg.payload,
                self.limits.max_held_per_direction,
                &mut self.counters,
                &mut |chunk| out.push(data_event(conn, ts_ns, direction, chunk)),
            );
            if flags.fin {
                sending.fin(data_seq, seg.payload_len);
            }
            self.held_total = self.held_total + sending.held_bytes() - before;
            if self.held_total > self.limits.max_held_total {
                // Too much held across flows: this flow waits no longer.
                self.held_total -= sending.held_bytes();
                sending.flush(&mut self.counters, &mut |chunk| {
                    out.push(data_event(conn, ts_ns, direction, chunk))
                });
            }
        }
        if !flow.muted && flow.to_server.complete() && flow.to_client.complete() {
            self.close(key, ts_ns, out);
        }
    }

    /// Stops sending events for a connection the pipeline does not want
    /// (it names connections by pid and fd, and replayed flows differ by fd).
    pub fn mute(&mut self, fd: i32) {
        if let Some(flow) = self.flows.values_mut().find(|f| f.conn.fd == fd) {
            if !flow.muted {
                flow.muted = true;
                self.counters.flows_filtered += 1;
                self.held_total -= flow.held_bytes();
                flow.to_server = SeqStream::default();
                flow.to_client = SeqStream::default();
            }
        }
    }

    /// Closes every flow (end of the capture), oldest connection first.
    pub fn finish(&mut self, ts_ns: u64, out: &mut Vec<CaptureEvent>) {
        let mut keys: Vec<(ConnId, FlowKey)> =
            self.flows.iter().map(|(k, f)| (f.conn, *k)).collect();
        keys.sort_unstable_by_key(|(conn, _)| *conn);
        for (_, key) in keys {
            self.close(key, ts_ns, out);
        }
        self.forget_closed();
    }

    fn expire_idle(&mut self, now_ns: u64, out: &mut Vec<CaptureEvent>) {
        let cutoff = now_ns.saturating_sub(self.limits.idle_timeout_ns);
        let mut idle: Vec<(ConnId, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, f)| f.last_ts_ns < cutoff)
            .map(|(k, f)| (f.conn, *k))
            .collect();
        idle.sort_unstable_by_key(|(conn, _)| *conn);
        for (_, key) in idle {
            self.counters.flows_idle_expired += 1;
            self.close(key, now_ns, out);
        }
    }

    fn open(
        &mut self,
        key: FlowKey,
        seg: &TcpSegment<'_>,
        ts_ns: u64,
        out: &mut Vec<CaptureEvent>,
    ) {
        if self.flows.len() >= self.limits.max_flows {
            if let Some(oldest) = self
                .flows
                .iter()
                .min_by_key(|(_, f)| (f.last_ts_ns, f.conn))
                .map(|(k, _)| *k)
            {
                self.counters.flows_evicted_limit += 1;
                self.close(oldest, ts_ns, out);
            }
        }
        let server = server_of(seg);
        let client = if server == seg.src { seg.dst } else { seg.src };
        self.serial += 1;
        let conn = ConnId {
            pid: 0,
            fd: (self.serial & 0x7fff_ffff) as i32,
            generation: self.serial,
        };
        self.counters.flows += 1;
        self.addresses.insert(conn, server, client);
        out.push(CaptureEvent::Open {
            conn,
            ts_ns,
            comm: self.comm.clone(),
            role: seg.flags.syn.then_some(Role::Server),
            guessed_role: Some(Role::Server),
            remote: Some(client),
            local: None,
            listener_fd: None,
            // A capture file holds what the wire carried: TLS stays opaque.
            tls: false,
        });
        self.flows.insert(
            key,
            Flow {
                conn,
                server,
                to_server: SeqStream::default(),
                to_client: SeqStream::default(),
                handshake: false,
                muted: false,
                fins: 0,
                last_ts_ns: ts_ns,
            },
        );
    }

    /// Ends a flow: what it still holds goes out with its holes as gaps.
    fn close(&mut self, key: FlowKey, ts_ns: u64, out: &mut Vec<CaptureEvent>) {
        let Some(mut flow) = self.flows.remove(&key) else {
            return;
        };
        self.held_total -= flow.held_bytes();
        let conn = flow.conn;
        if !flow.muted {
            for (stream, direction) in [
                (&mut flow.to_server, Direction::Ingress),
                (&mut flow.to_client, Direction::Egress),
            ] {
                stream.flush(&mut self.counters, &mut |chunk| {
                    out.push(data_event(conn, ts_ns, direction, chunk))
                });
            }
        }
        out.push(CaptureEvent::Close { conn, ts_ns });
        self.closed.push(conn);
    }

    fn forget_closed(&mut self) {
        for conn in self.closed.drain(..) {
            self.addresses.remove(conn);
        }
    }
}

/// Which endpoint of a new flow is the server (see the module docs).
fn server_of(seg: &TcpSegment<'_>) -> SocketAddr {
    if seg.flags.syn {
        return if seg.flags.ack { seg.src } else { seg.dst };
    }
    let mut first = [0u8; SNIFF_BYTES];
    let len = seg.payload.len().min(SNIFF_BYTES);
    first[..len].copy_from_slice(&seg.payload[..len]);
    match sniff::judge(&first, len) {
        Verdict::Response => seg.src,
        Verdict::Request => seg.dst,
        Verdict::Other | Verdict::NeedMore if seg.dst.port() <= seg.src.port() => seg.dst,
        Verdict::Other | Verdict::NeedMore => seg.src,
    }
}

fn data_event(conn: ConnId, ts_ns: u64, direction: Direction, chunk: Chunk) -> CaptureEvent {
    CaptureEvent::Data {
        conn,
        ts_ns,
        direction,
        stream_offset: chunk.offset,
        syscall_offset: chunk.offset,
        // A segment is at most 4 GiB; a hole can be longer, and the
        // reassembler learns the rest from the next chunk's offset.
        syscall_len: u32::try_from(chunk.len).unwrap_or(u32::MAX),
        data: chunk.data,
        tls: false,
    }
}
