//! The synchronous heart of the agent: capture events in, HTTP exchanges
//! out. It owns the per-connection state of conntrack, reassembly and http
//! and enforces the limits on connections and buffered bytes. No kernel, no
//! runtime, no clock of its own: the same code runs live and in tests.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::capture::{CaptureEvent, ConnId, Direction};
use crate::config::{CaptureConfig, LimitsConfig};
use crate::conntrack::ends::Ends;
use crate::conntrack::{LiveResolver, OpenFacts, Resolver};
use crate::exchange::{ConnectionInfo, HttpExchange, MessagePair, Role};
use crate::http::{self, ConnectionParser, HttpCounters, HttpLimits};
use crate::reassembly::{Chunk, ReassemblyCounters, StreamReassembler};

/// Everything the pipeline dropped or did, for metrics and the exit summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PipelineCounters {
    pub events: u64,
    pub payload_bytes: u64,
    pub connections_opened: u64,
    pub connections_closed: u64,
    pub connections_not_tcp: u64,
    pub connections_filtered: u64,
    pub connections_evicted_limit: u64,
    pub connections_evicted_memory: u64,
    pub connections_idle_expired: u64,
    pub data_without_open: u64,
    pub exchanges: u64,
    /// Bytes of muted connections (client ends whose server end stands for
    /// both, see `pairing`) dropped before reassembly: those that were
    /// already on their way when the kernel was told to stop.
    pub muted_bytes: u64,
}

struct Connection {
    info: Arc<ConnectionInfo>,
    request_direction: Direction,
    ingress: StreamReassembler,
    egress: StreamReassembler,
    parser: ConnectionParser,
    last_active_ns: u64,
    buffered: usize,
    /// Its other end's views stand for it: its bytes are no longer read.
    muted: bool,
}

pub struct Pipeline {
    conns: HashMap<ConnId, Connection>,
    /// Every connection by its addresses, to find the other end of one
    /// between two processes on this host.
    ends: Ends,
    resolver: Resolver,
    limits: LimitsConfig,
    http_limits: HttpLimits,
    ports: Vec<u16>,
    buffered_total: usize,
    max_buffered_total: usize,
    /// Unix time minus capture clock, to stamp exchanges with wall time.
    unix_offset_ns: i128,
    /// Connections the kernel should stop sending; drained by the caller.
    ignored: Vec<ConnId>,
    pairs: Vec<MessagePair>,
    pub counters: PipelineCounters,
    pub http_counters: HttpCounters,
    /// Both directions of every finished connection, summed.
    pub reassembly_counters: ReassemblyCounters,
}

impl Pipeline {
    pub fn new(capture: &CaptureConfig, limits: &LimitsConfig, unix_offset_ns: i128) -> Self {
        let http_limits = HttpLimits::from(limits);
        Self {
            conns: HashMap::new(),
            ends: Ends::new(limits.max_connections),
            resolver: Box::new(LiveResolver::new()),
            limits: limits.clone(),
            http_limits,
            ports: capture.ports.clone(),
            buffered_total: 0,
            // Enough for every connection to hold a full head in flight at
            // the same time is far more than needed; a quarter of the
            // worst case is the budget, and the heaviest connection goes
            // first. At most 64 MiB, so the agent stays within its memory
            // target (128 MiB) whatever peers send.
            max_buffered_total: (limits.max_connections * limits.max_buffered_bytes_per_direction
                / 4)
            .clamp(16 << 20, 64 << 20),
            unix_offset_ns,
            ignored: Vec::new(),
            pairs: Vec::new(),
            counters: PipelineCounters::default(),
            http_counters: HttpCounters::default(),
            reassembly_counters: ReassemblyCounters::default(),
        }
    }

    /// Replaces how connections get their context (addresses, role); the
    /// default looks at the live socket in /proc.
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = resolver;
        self
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The other end of `info`'s connection when both ends are processes
    /// on this host and both are captured (also for a while after it
    /// closed).
    pub fn peer_of(&self, info: &ConnectionInfo) -> Option<Arc<ConnectionInfo>> {
        self.ends.peer_of(info)
    }

    /// Stops reading `info`'s connection, whose other end's views stand
    /// for it (see `pairing`): what it holds is dropped, the kernel is told
    /// to stop sending it, and it stays known (as the other end's peer)
    /// until it closes.
    pub fn mute(&mut self, info: &Arc<ConnectionInfo>) {
        let id = ConnId {
            pid: info.pid,
            fd: info.fd,
            generation: info.generation,
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if !Arc::ptr_eq(&conn.info, info) || conn.muted {
            return;
        }
        conn.muted = true;
        conn.ingress = StreamReassembler::new();
        conn.egress = StreamReassembler::new();
        conn.parser = ConnectionParser::new(self.http_limits.clone(), 1);
        self.buffered_total -= conn.buffered;
        conn.buffered = 0;
        self.ignored.push(id);
    }

    /// Connections the kernel should stop capturing.
    pub fn take_ignored(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.ignored)
    }

    pub fn handle(&mut self, event: CaptureEvent, out: &mut Vec<HttpExchange>) {
        self.counters.events += 1;
        match event {
            CaptureEvent::Open {
                conn,
                ts_ns,
                comm,
                role,
                guessed_role,
                remote,
                local,
                listener_fd,
                tls,
            } => {
                let facts = OpenFacts {
                    pid: conn.pid,
                    fd: conn.fd,
                    generation: conn.generation,
                    comm,
                    role,
                    guessed_role,
                    remote,
                    local,
                    listener_fd,
                    tls,
                };
                self.open(conn, &facts, ts_ns, out);
            }
            CaptureEvent::Data {
                conn,
                ts_ns,
                direction,
                stream_offset,
                syscall_offset,
                syscall_len,
                data,
                tls,
            } => {
                self.counters.payload_bytes += data.len() as u64;
                if !self.conns.contains_key(&conn) {
                    // The open event was lost (ring buffer full): rebuild
                    // what we can from the process and the bytes themselves.
                    self.counters.data_without_open += 1;
                    let starts_request =
                        http::looks_like_request_start(&data) || http::starts_preface(&data);
                    let guessed_role = match (starts_request, direction) {
                        (true, Direction::Ingress) => Some(Role::Server),
                        (true, Direction::Egress) => Some(Role::Client),
                        (false, Direction::Ingress) => Some(Role::Client),
                        (false, Direction::Egress) => Some(Role::Server),
                    };
                    let facts = OpenFacts {
                        pid: conn.pid,
                        fd: conn.fd,
                        generation: conn.generation,
                        comm: process_name(conn.pid),
                        role: None,
                        guessed_role,
                        remote: None,
                        local: None,
                        listener_fd: None,
                        tls,
                    };
                    if !self.open(conn, &facts, ts_ns, out) {
                        return;
                    }
                }
                let chunk = Chunk {
                    stream_offset,
                    data: &data,
                    syscall_offset,
                    syscall_len: u64::from(syscall_len),
                };
                self.data(conn, ts_ns, direction, chunk, &data, out);
            }
            CaptureEvent::Close { conn, ts_ns } => {
                if let Some(c) = self.conns.remove(&conn) {
                    self.counters.connections_closed += 1;
                    self.finish_connection(c, ts_ns, out);
                }
            }
            CaptureEvent::Exec { pid, exe, uid, .. } => {
                self.resolver.program_started(pid, exe, uid);
            }
            CaptureEvent::ProcessExit { pid, ts_ns } => {
                self.resolver.process_exited(pid);
                let gone: Vec<ConnId> = self
                    .conns
                    .keys()
                    .filter(|c| c.pid == pid)
                    .copied()
                    .collect();
                for id in gone {
                    if let Some(c) = self.conns.remove(&id) {
                        self.counters.connections_closed += 1;
                        self.finish_connection(c, ts_ns, out);
                    }
                }
            }
        }
    }

    /// Closes connections idle since before `now_ns - idle_timeout`.
    pub fn expire_idle(&mut self, now_ns: u64, out: &mut Vec<HttpExchange>) {
        self.ends.expire(now_ns);
        let cutoff = now_ns.saturating_sub(self.limits.idle_timeout_secs * 1_000_000_000);
        let ends = &self.ends;
        let idle: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.last_active_ns < cutoff)
            // A muted end is quiet by design; it lasts as long as its
            // other end is captured.
            .filter(|(_, c)| !c.muted || ends.peer_of(&c.info).is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            if let Some(c) = self.conns.remove(&id) {
                self.counters.connections_idle_expired += 1;
                self.finish_connection(c, now_ns, out);
            }
        }
    }

    /// Completes every connection (shutdown).
    pub fn finish(&mut self, now_ns: u64, out: &mut Vec<HttpExchange>) {
        let all: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in all {
            if let Some(c) = self.conns.remove(&id) {
                self.finish_connection(c, now_ns, out);
            }
        }
    }

    fn open(
        &mut self,
        id: ConnId,
        facts: &OpenFacts,
        ts_ns: u64,
        out: &mut Vec<HttpExchange>,
    ) -> bool {
        let info = match self.resolver.resolve(facts) {
            Ok(info) => info,
            Err(err) => {
                tracing::debug!("not capturing: {err}");
                self.counters.connections_not_tcp += 1;
                self.ignored.push(id);
                return false;
            }
        };
        if !self.port_wanted(&info) {
            self.counters.connections_filtered += 1;
            self.ignored.push(id);
            return false;
        }
        // A new generation on the same (pid, fd) means we missed the close.
        let stale: Vec<ConnId> = self
            .conns
            .keys()
            .filter(|c| c.pid == id.pid && c.fd == id.fd && **c != id)
            .copied()
            .collect();
        for old in stale {
            if let Some(c) = self.conns.remove(&old) {
                self.counters.connections_closed += 1;
                self.finish_connection(c, ts_ns, out);
            }
        }
        if self.conns.len() >= self.limits.max_connections {
            if let Some(oldest) = self
                .conns
                .iter()
                .min_by_key(|(_, c)| c.last_active_ns)
                .map(|(id, _)| *id)
            {
                if let Some(c) = self.conns.remove(&oldest) {
                    self.counters.connections_evicted_limit += 1;
                    self.finish_connection(c, ts_ns, out);
                }
            }
        }
        let request_direction = match info.role {
            Role::Server => Direction::Ingress,
            Role::Client => Direction::Egress,
        };
        self.counters.connections_opened += 1;
        let info = Arc::new(info);
        self.ends.expire(ts_ns);
        self.ends.opened(&info);
        self.conns.insert(
            id,
            Connection {
                info,
                request_direction,
                ingress: StreamReassembler::new(),
                egress: StreamReassembler::new(),
                parser: ConnectionParser::new(
                    self.http_limits.clone(),
                    self.limits.max_streams_per_connection,
                ),
                last_active_ns: ts_ns,
                buffered: 0,
                muted: false,
            },
        );
        true
    }

    fn port_wanted(&self, info: &ConnectionInfo) -> bool {
        if self.ports.is_empty() {
            return true;
        }
        [info.local, info.remote]
            .iter()
            .flatten()
            .any(|a| self.ports.contains(&a.port()))
    }

    fn data(
        &mut self,
        id: ConnId,
        ts_ns: u64,
        direction: Direction,
        chunk: Chunk<'_>,
        record: &Bytes,
        out: &mut Vec<HttpExchange>,
    ) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.muted {
            self.counters.muted_bytes += chunk.data.len() as u64;
            return;
        }
        conn.last_active_ns = ts_ns;
        let is_request = direction == conn.request_direction;
        let stream = match direction {
            Direction::Ingress => &mut conn.ingress,
            Direction::Egress => &mut conn.egress,
        };
        let parser = &mut conn.parser;
        let counters = &mut self.http_counters;
        let pairs = &mut self.pairs;
        // What the parser keeps of the record's bytes (heads, a body that
        // arrived in one piece) is a slice of it, not a copy.
        parser.share_input(Some(record));
        stream.push(chunk, &mut |segment| {
            if is_request {
                parser.request_segment(ts_ns, segment, counters, pairs);
            } else {
                parser.response_segment(ts_ns, segment, counters, pairs);
            }
        });
        parser.share_input(None);
        let buffered = parser.buffered_bytes();
        self.buffered_total = self.buffered_total - conn.buffered + buffered;
        conn.buffered = buffered;
        let info = Arc::clone(&conn.info);
        self.emit(&info, out);
        if self.buffered_total > self.max_buffered_total {
            self.shed_memory(ts_ns, out);
        }
    }

    /// Drops the connections holding the most buffered bytes until the
    /// total is back under budget.
    fn shed_memory(&mut self, ts_ns: u64, out: &mut Vec<HttpExchange>) {
        while self.buffered_total > self.max_buffered_total {
            let Some(heaviest) = self
                .conns
                .iter()
                .max_by_key(|(_, c)| c.buffered)
                .map(|(id, _)| *id)
            else {
                break;
            };
            let Some(c) = self.conns.remove(&heaviest) else {
                break;
            };
            self.counters.connections_evicted_memory += 1;
            self.finish_connection(c, ts_ns, out);
        }
    }

    fn finish_connection(&mut self, mut conn: Connection, ts_ns: u64, out: &mut Vec<HttpExchange>) {
        let (request_stream, response_stream) = match conn.request_direction {
            Direction::Ingress => (&mut conn.ingress, &mut conn.egress),
            Direction::Egress => (&mut conn.egress, &mut conn.ingress),
        };
        let parser = &mut conn.parser;
        let counters = &mut self.http_counters;
        let pairs = &mut self.pairs;
        request_stream
            .flush_tail(&mut |segment| parser.request_segment(ts_ns, segment, counters, pairs));
        response_stream
            .flush_tail(&mut |segment| parser.response_segment(ts_ns, segment, counters, pairs));
        parser.close(ts_ns, counters, pairs);
        self.reassembly_counters.add(conn.ingress.counters());
        self.reassembly_counters.add(conn.egress.counters());
        self.buffered_total -= conn.buffered;
        self.ends.closed(&conn.info, ts_ns);
        self.emit(&conn.info, out);
    }

    fn emit(&mut self, info: &Arc<ConnectionInfo>, out: &mut Vec<HttpExchange>) {
        for pair in self.pairs.drain(..) {
            self.counters.exchanges += 1;
            out.push(HttpExchange {
                connection: Arc::clone(info),
                completed_unix_ns: self.unix_offset_ns + i128::from(pair.timings.response_end_ns),
                request: pair.request,
                response: pair.response,
                timings: pair.timings,
                upgraded: pair.upgraded,
                anomalies: pair.anomalies,
            });
        }
    }
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}
