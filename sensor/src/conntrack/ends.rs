//! The two ends of a connection between two processes on this host. Each
//! process's socket is captured as its own connection; their addresses
//! mirror each other (one's local is the other's remote), so the other end
//! of a connection is one lookup. A closed connection is still found for a
//! short while: the exchanges it finished are handed on after its close.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use super::ConnectionInfo;

/// (local, remote), as one end sees them.
type Addrs = (SocketAddr, SocketAddr);

/// How long a closed connection is still found as the other end.
const LINGER_NS: u64 = 2_000_000_000;

/// Connections by their addresses: the live ones, and those closed less
/// than `LINGER_NS` ago (at most `max_closed` of them).
#[derive(Debug)]
pub struct Ends {
    by_addrs: HashMap<Addrs, Arc<ConnectionInfo>>,
    /// Closed connections still in `by_addrs`, oldest first.
    closed: VecDeque<(u64, Addrs, Arc<ConnectionInfo>)>,
    max_closed: usize,
}

impl Ends {
    /// Remembers up to `max_closed` closed connections (live ones are
    /// bounded by the pipeline's connection limit).
    pub fn new(max_closed: usize) -> Self {
        Self {
            by_addrs: HashMap::new(),
            closed: VecDeque::new(),
            max_closed: max_closed.max(1),
        }
    }

    /// A connection started being captured. One without both addresses
    /// cannot be paired and is not kept.
    pub fn opened(&mut self, info: &Arc<ConnectionInfo>) {
        if let Some(addrs) = addrs_of(info) {
            // A newer connection on the same addresses (a TLS stream
            // taking over its socket) replaces the older one.
            self.by_addrs.insert(addrs, Arc::clone(info));
        }
    }

    /// A connection ended at `now_ns`: still found until `LINGER_NS` later.
    pub fn closed(&mut self, info: &Arc<ConnectionInfo>, now_ns: u64) {
        let Some(addrs) = addrs_of(info) else {
            return;
        };
        if !self
            .by_addrs
            .get(&addrs)
            .is_some_and(|known| Arc::ptr_eq(known, info))
        {
            return;
        }
        if self.closed.len() >= self.max_closed {
            self.forget_oldest();
        }
        self.closed.push_back((now_ns, addrs, Arc::clone(info)));
    }

    /// Forgets the connections closed more than `LINGER_NS` before `now_ns`.
    pub fn expire(&mut self, now_ns: u64) {
        while self
            .closed
            .front()
            .is_some_and(|(at, _, _)| now_ns.saturating_sub(*at) >= LINGER_NS)
        {
            self.forget_oldest();
        }
    }

    /// The other end of `info`'s connection, when it is captured too.
    pub fn peer_of(&self, info: &ConnectionInfo) -> Option<Arc<ConnectionInfo>> {
        let (local, remote) = addrs_of(info)?;
        let peer = self.by_addrs.get(&(remote, local))?;
        // Never the connection itself (a socket connected to itself).
        (peer.pid != info.pid || peer.fd != info.fd).then(|| Arc::clone(peer))
    }

    /// Connections known (live and lingering).
    pub fn len(&self) -> usize {
        self.by_addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_addrs.is_empty()
    }

    fn forget_oldest(&mut self) {
        if let Some((_, addrs, info)) = self.closed.pop_front() {
            // Unless a newer connection took the addresses since.
            if self
                .by_addrs
                .get(&addrs)
                .is_some_and(|known| Arc::ptr_eq(known, &info))
            {
                self.by_addrs.remove(&addrs);
            }
        }
    }
}

fn addrs_of(info: &ConnectionInfo) -> Option<Addrs> {
    Some((info.local?, info.remote?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Role;

    fn conn(pid: u32, role: Role, local: &str, remote: &str) -> Arc<ConnectionInfo> {
        Arc::new(ConnectionInfo {
            pid,
            comm: format!("p{pid}"),
            fd: 5,
            generation: 1,
            role,
            local: Some(local.parse().unwrap()),
            remote: Some(remote.parse().unwrap()),
            tls: false,
            process: Default::default(),
        })
    }

    #[test]
    fn the_mirror_connection_is_the_peer_until_it_has_lingered() {
        let mut ends = Ends::new(16);
        let server = conn(1, Role::Server, "127.0.0.1:8080", "127.0.0.1:50000");
        let client = conn(2, Role::Client, "127.0.0.1:50000", "127.0.0.1:8080");
        let other = conn(3, Role::Client, "127.0.0.1:50001", "127.0.0.1:8080");
        ends.opened(&server);
        assert_eq!(ends.peer_of(&server), None, "the client is not captured");
        ends.opened(&client);
        ends.opened(&other);
        assert_eq!(ends.peer_of(&server).unwrap().pid, 2);
        assert_eq!(ends.peer_of(&client).unwrap().pid, 1);
        assert_eq!(ends.peer_of(&other), None);
        ends.closed(&client, 10);
        ends.expire(10 + LINGER_NS - 1);
        assert_eq!(ends.peer_of(&server).unwrap().pid, 2, "still lingering");
        ends.expire(10 + LINGER_NS);
        assert_eq!(ends.peer_of(&server), None);
        assert_eq!(ends.len(), 2);
    }

    #[test]
    fn a_newer_connection_on_the_same_addresses_is_kept() {
        let mut ends = Ends::new(1);
        let server = conn(1, Role::Server, "127.0.0.1:8080", "127.0.0.1:50000");
        let old = conn(2, Role::Client, "127.0.0.1:50000", "127.0.0.1:8080");
        let new = conn(2, Role::Client, "127.0.0.1:50000", "127.0.0.1:8080");
        ends.opened(&server);
        ends.opened(&old);
        ends.opened(&new);
        // The old one's close does not forget the new one.
        ends.closed(&old, 0);
        ends.expire(LINGER_NS * 2);
        assert!(Arc::ptr_eq(&ends.peer_of(&server).unwrap(), &new));
        // Past `max_closed`, the oldest closed is forgotten at once.
        ends.closed(&new, 0);
        ends.closed(&server, 0);
        assert_eq!(ends.peer_of(&server), None);
        assert_eq!(ends.len(), 1);
    }

    #[test]
    fn connections_without_addresses_have_no_peer() {
        let mut ends = Ends::new(4);
        let mut info = (*conn(1, Role::Server, "127.0.0.1:1", "127.0.0.1:2")).clone();
        info.local = None;
        let info = Arc::new(info);
        ends.opened(&info);
        assert!(ends.is_empty());
        assert_eq!(ends.peer_of(&info), None);
    }
}
