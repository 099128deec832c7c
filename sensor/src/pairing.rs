//! One analysis per exchange, not one per side. Between two processes on
//! this host the kernel captures each exchange twice: the client's socket
//! sends the request and reads the response, the server's socket reads the
//! request and sends the response, and each becomes an `HttpExchange` of
//! its own connection. This stage lets one of the two views through, with
//! the other end's connection as its `peer`, and drops the other view.
//!
//! Which view: the server's. It normally completes first (the server
//! writes the response before the client reads it) and goes through at
//! once; the client's view of it, when it comes, is dropped. A client view
//! that completes first waits for the server's, at most `HOLD_NS` and
//! within `MAX_WAITING` exchanges and `MAX_WAITING_BYTES` body bytes;
//! past them it goes through itself (the server's view, if it comes
//! later, is then dropped). So no alert waits more than `HOLD_NS`, and a
//! server end whose exchanges never come (its TLS library not hooked)
//! costs one wait per connection, not one per exchange.
//!
//! A TLS client's request written at the return of its library call
//! (older kernels, a first write that runs the handshake, a write over one
//! TLS record: see `sensor-ebpf`'s `tls::write`) is seen when the call
//! returns, which on a busy host can be after the server has already
//! answered: the server's view then completes before the client's end is
//! known at all. So a server view over TLS from a client on this host
//! whose end is not captured yet waits for it as a client view waits for
//! the server's (`late_client_ends`), once per connection. A request
//! captured at the write's entry never needs it.
//!
//! When only one end is captured (a remote peer, a process filter, a
//! connection without addresses) nothing changes: the exchange goes
//! through at once with no peer. Two views are the same exchange when
//! they are on the two ends of one connection and agree on method,
//! target and status, matched in order. Everything counted.
//!
//! Once a client end's view has been dropped as a duplicate, both ends of
//! that connection are known to be captured and the server's view to come
//! first: the client end is muted (`take_muted`). The pipeline then stops
//! reassembling and parsing it and the kernel stops copying its bytes, so
//! a keep-alive connection between two local processes costs one end's
//! work from its second exchange on. Its server's later views are not
//! looked out for from it, and a view of it still in flight is dropped.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::conntrack::ConnectionInfo;
use crate::exchange::{HttpExchange, Role};

/// The longest a client's view waits for the server's.
pub const HOLD_NS: u64 = 500_000_000;
/// Views waiting at once, and the body bytes they may hold.
const MAX_WAITING: usize = 256;
const MAX_WAITING_BYTES: usize = 4 << 20;
/// How long the view still to come of an exchange already let through is
/// looked out for; and how many per connection and in all.
const EXPECT_NS: u64 = 5_000_000_000;
const MAX_EXPECTED_PER_CONNECTION: usize = 64;
const MAX_EXPECTED: usize = 65_536;
/// How often every connection's expected views are aged.
const SWEEP_NS: u64 = 1_000_000_000;
/// Connections whose server end produced no exchange in time; past this
/// many the set starts over.
const MAX_SILENT: usize = 4096;
/// Muted client ends remembered at once; past this many the oldest are
/// forgotten (their views, if any still come, pair as before).
const MAX_MUTED: usize = 16_384;

/// An exchange ready for the analysis: the view let through, and the other
/// end's connection when both ends were captured on this host.
#[derive(Debug, Clone)]
pub struct Paired {
    pub exchange: HttpExchange,
    pub peer: Option<Arc<ConnectionInfo>>,
}

/// What pairing did, for `--stats` and the metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PairingCounters {
    /// Exchanges whose two ends were both captured: analysed once.
    pub both_ends: u64,
    /// Views dropped because the other end's view of the same exchange
    /// was let through.
    pub duplicate_views: u64,
    /// Exchanges with only one end captured (remote peers included), or
    /// let through alone as `capture.pair_local_ends = false` asks.
    pub one_end: u64,
    /// Views let through without the other end's: it did not come within
    /// the hold time.
    pub waited_out: u64,
    /// Views let through early: the waiting bound was reached.
    pub released_at_bound: u64,
    /// Views still to come that never came (looked out for `EXPECT_NS`),
    /// or that were not looked out for, past the per-connection or total
    /// bound: if one does come, it is analysed too.
    pub expected_never_came: u64,
    /// Client ends muted: their server end's views stand for both.
    pub muted_ends: u64,
    /// Server views over TLS held because their client, on this host, was
    /// not captured yet when they completed.
    pub late_client_ends: u64,
}

/// (local, remote) of one end.
type Addrs = (SocketAddr, SocketAddr);

/// A view still to come of an exchange let through.
#[derive(Debug, Clone, Copy)]
struct Expected {
    key: u64,
    at_ns: u64,
}

struct Waiting {
    addrs: Addrs,
    key: u64,
    since_ns: u64,
    bytes: usize,
    paired: Paired,
}

pub struct Pairing {
    /// Views still to come, by the addresses of the end they will come from.
    expected: HashMap<Addrs, VecDeque<Expected>>,
    expected_total: usize,
    last_sweep_ns: u64,
    /// Views waiting for the other end's, oldest first: client views, and
    /// server views whose client end is not captured yet.
    waiting: VecDeque<Waiting>,
    waiting_bytes: usize,
    /// Ends whose other end let a view wait out (a client's server, a TLS
    /// server's client): their next views go through at once.
    silent: HashSet<Addrs>,
    /// Client ends muted, by their addresses; the connection is held so
    /// that a later connection on the same addresses is told apart.
    muted: HashMap<Addrs, Arc<ConnectionInfo>>,
    /// Muted since the last `take_muted`.
    newly_muted: Vec<Arc<ConnectionInfo>>,
    pub counters: PairingCounters,
}

impl Default for Pairing {
    fn default() -> Self {
        Self::new()
    }
}

impl Pairing {
    pub fn new() -> Self {
        Self {
            expected: HashMap::new(),
            expected_total: 0,
            last_sweep_ns: 0,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            silent: HashSet::new(),
            muted: HashMap::new(),
            newly_muted: Vec::new(),
            counters: PairingCounters::default(),
        }
    }

    /// Views waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Client ends muted since the last call: the caller stops capturing
    /// them.
    pub fn take_muted(&mut self) -> Vec<Arc<ConnectionInfo>> {
        std::mem::take(&mut self.newly_muted)
    }

    fn is_muted(&self, addrs: &Addrs, end: &Arc<ConnectionInfo>) -> bool {
        self.muted.get(addrs).is_some_and(|m| Arc::ptr_eq(m, end))
    }

    fn mute(&mut self, addrs: Addrs, end: &Arc<ConnectionInfo>) {
        if self.muted.len() >= MAX_MUTED {
            self.muted.retain(|_, m| Arc::strong_count(m) > 1);
            if self.muted.len() >= MAX_MUTED {
                self.muted.clear();
            }
        }
        self.muted.insert(addrs, Arc::clone(end));
        self.newly_muted.push(Arc::clone(end));
        self.counters.muted_ends += 1;
    }

    /// Takes one finished exchange and `peer`, the other end of its
    /// connection when it is captured too; appends to `out` what goes on
    /// to the analysis now.
    pub fn offer(
        &mut self,
        exchange: HttpExchange,
        peer: Option<Arc<ConnectionInfo>>,
        out: &mut Vec<Paired>,
    ) {
        let now_ns = exchange.timings.response_end_ns;
        self.release_due(now_ns, out);
        let addrs = addrs_of(&exchange.connection);
        let Some((peer, addrs)) = peer.zip(addrs) else {
            if let Some(addrs) = addrs.filter(|a| self.client_may_be_late(&exchange, a)) {
                self.counters.late_client_ends += 1;
                self.wait(addrs, key_of(&exchange), now_ns, exchange, None, out);
                return;
            }
            self.counters.one_end += 1;
            out.push(Paired {
                exchange,
                peer: None,
            });
            return;
        };
        let key = key_of(&exchange);
        let role = exchange.connection.role;
        if self.take_expected(addrs, key, now_ns) {
            self.counters.duplicate_views += 1;
            if role == Role::Client && !self.is_muted(&addrs, &exchange.connection) {
                self.mute(addrs, &exchange.connection);
            }
            return;
        }
        if role == Role::Client && self.is_muted(&addrs, &exchange.connection) {
            // Parsed before the mute took effect; its server's view was
            // let through without looking out for this one.
            self.counters.duplicate_views += 1;
            return;
        }
        let mirror = (addrs.1, addrs.0);
        match role {
            Role::Server => {
                self.let_held_servers_through(addrs, &peer, out);
                let waited = self
                    .waiting
                    .iter()
                    .position(|w| w.addrs == mirror && w.key == key);
                match waited {
                    Some(i) => {
                        let client = self.waiting.remove(i).expect("position is in range");
                        self.waiting_bytes -= client.bytes;
                        self.counters.duplicate_views += 1;
                    }
                    None if self.is_muted(&mirror, &peer) => {}
                    None => self.expect(mirror, key, now_ns),
                }
                self.silent.remove(&mirror);
                self.counters.both_ends += 1;
                out.push(Paired {
                    exchange,
                    peer: Some(peer),
                });
            }
            Role::Client if self.silent.contains(&addrs) => {
                self.let_through(
                    Paired {
                        exchange,
                        peer: Some(peer),
                    },
                    key,
                    out,
                );
            }
            Role::Client => {
                let held = self
                    .waiting
                    .iter()
                    .position(|w| w.addrs == mirror && w.key == key && w.paired.peer.is_none());
                if let Some(i) = held {
                    // The server's view came first and waited for this end.
                    let mut server = self.waiting.remove(i).expect("position is in range");
                    self.waiting_bytes -= server.bytes;
                    server.paired.peer = Some(Arc::clone(&exchange.connection));
                    self.counters.duplicate_views += 1;
                    self.counters.both_ends += 1;
                    if !self.is_muted(&addrs, &exchange.connection) {
                        self.mute(addrs, &exchange.connection);
                    }
                    out.push(server.paired);
                    return;
                }
                self.wait(addrs, key, now_ns, exchange, Some(peer), out);
            }
        }
    }

    /// True when `exchange`, a server's view with no other end captured,
    /// may yet see its client's end: over TLS (whose client request is
    /// seen only when its write returns) from this host, on a connection
    /// whose client has not already failed to show once.
    fn client_may_be_late(&self, exchange: &HttpExchange, addrs: &Addrs) -> bool {
        let (local, remote) = addrs;
        exchange.connection.role == Role::Server
            && exchange.connection.tls
            && (remote.ip().is_loopback() || remote.ip() == local.ip())
            && !self.silent.contains(addrs)
    }

    /// Holds a view until the other end's comes, within the waiting bounds.
    fn wait(
        &mut self,
        addrs: Addrs,
        key: u64,
        now_ns: u64,
        exchange: HttpExchange,
        peer: Option<Arc<ConnectionInfo>>,
        out: &mut Vec<Paired>,
    ) {
        let bytes = exchange.body_bytes_held();
        while !self.waiting.is_empty()
            && (self.waiting.len() >= MAX_WAITING || self.waiting_bytes + bytes > MAX_WAITING_BYTES)
        {
            self.counters.released_at_bound += 1;
            self.release_oldest(out);
        }
        self.waiting_bytes += bytes;
        self.waiting.push_back(Waiting {
            addrs,
            key,
            since_ns: now_ns,
            bytes,
            paired: Paired { exchange, peer },
        });
    }

    /// The server end `addrs` has its client end captured now: its views
    /// held waiting for it go through, in order, with it as their peer.
    fn let_held_servers_through(
        &mut self,
        addrs: Addrs,
        peer: &Arc<ConnectionInfo>,
        out: &mut Vec<Paired>,
    ) {
        if !self.waiting.iter().any(|w| w.addrs == addrs) {
            return;
        }
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        for mut w in std::mem::take(&mut self.waiting) {
            if w.addrs != addrs {
                kept.push_back(w);
                continue;
            }
            self.waiting_bytes -= w.bytes;
            w.paired.peer = Some(Arc::clone(peer));
            self.let_through(w.paired, w.key, out);
        }
        self.waiting = kept;
    }

    /// Lets through the client views that have waited `HOLD_NS` by
    /// `now_ns` (the capture clock), and forgets expected views older
    /// than `EXPECT_NS`.
    pub fn release_due(&mut self, now_ns: u64, out: &mut Vec<Paired>) {
        while self
            .waiting
            .front()
            .is_some_and(|w| now_ns.saturating_sub(w.since_ns) >= HOLD_NS)
        {
            let addrs = self.waiting.front().expect("checked").addrs;
            if self.silent.len() >= MAX_SILENT {
                self.silent.clear();
            }
            self.silent.insert(addrs);
            self.counters.waited_out += 1;
            self.release_oldest(out);
        }
        if now_ns.saturating_sub(self.last_sweep_ns) >= SWEEP_NS {
            self.last_sweep_ns = now_ns;
            let mut expired = 0;
            self.expected.retain(|_, queue| {
                expired += age(queue, now_ns);
                !queue.is_empty()
            });
            self.expected_total -= expired;
            self.counters.expected_never_came += expired as u64;
            // A muted end nobody else holds any more has closed.
            self.muted.retain(|_, m| Arc::strong_count(m) > 1);
        }
    }

    /// Lets every waiting view through (shutdown, end of a replay).
    pub fn release_all(&mut self, out: &mut Vec<Paired>) {
        while !self.waiting.is_empty() {
            self.counters.waited_out += 1;
            self.release_oldest(out);
        }
    }

    fn release_oldest(&mut self, out: &mut Vec<Paired>) {
        if let Some(w) = self.waiting.pop_front() {
            self.waiting_bytes -= w.bytes;
            self.let_through(w.paired, w.key, out);
        }
    }

    /// A held view goes through without the other end's: that view of the
    /// same exchange, should it still come, is a duplicate.
    fn let_through(&mut self, paired: Paired, key: u64, out: &mut Vec<Paired>) {
        if let Some((local, remote)) = addrs_of(&paired.exchange.connection) {
            let now_ns = paired.exchange.timings.response_end_ns;
            self.expect((remote, local), key, now_ns);
        }
        if paired.peer.is_some() {
            self.counters.both_ends += 1;
        } else {
            self.counters.one_end += 1;
        }
        out.push(paired);
    }

    fn expect(&mut self, addrs: Addrs, key: u64, at_ns: u64) {
        if self.expected_total >= MAX_EXPECTED {
            self.counters.expected_never_came += 1;
            return;
        }
        let queue = self.expected.entry(addrs).or_default();
        if queue.len() >= MAX_EXPECTED_PER_CONNECTION {
            queue.pop_front();
            self.expected_total -= 1;
            self.counters.expected_never_came += 1;
        }
        queue.push_back(Expected { key, at_ns });
        self.expected_total += 1;
    }

    /// True (and forgotten) when a view of this exchange from `addrs` was
    /// expected: the first such in order.
    fn take_expected(&mut self, addrs: Addrs, key: u64, now_ns: u64) -> bool {
        let Some(queue) = self.expected.get_mut(&addrs) else {
            return false;
        };
        let expired = age(queue, now_ns);
        self.expected_total -= expired;
        self.counters.expected_never_came += expired as u64;
        let found = queue.iter().position(|e| e.key == key);
        if let Some(i) = found {
            queue.remove(i);
            self.expected_total -= 1;
        }
        if queue.is_empty() {
            self.expected.remove(&addrs);
        }
        found.is_some()
    }
}

/// Drops the expected views looked out for `EXPECT_NS` by `now_ns`;
/// returns how many.
fn age(queue: &mut VecDeque<Expected>, now_ns: u64) -> usize {
    let before = queue.len();
    while queue
        .front()
        .is_some_and(|e| now_ns.saturating_sub(e.at_ns) >= EXPECT_NS)
    {
        queue.pop_front();
    }
    before - queue.len()
}

fn addrs_of(info: &ConnectionInfo) -> Option<Addrs> {
    Some((info.local?, info.remote?))
}

/// What both views of one exchange agree on: method, target and status.
fn key_of(exchange: &HttpExchange) -> u64 {
    let mut h = DefaultHasher::new();
    exchange.request.method.hash(&mut h);
    exchange.request.target.hash(&mut h);
    exchange.response.status.hash(&mut h);
    h.finish()
}

#[cfg(test)]
#[path = "pairing_tests.rs"]
mod tests;
