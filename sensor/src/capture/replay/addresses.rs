//! The addresses of replayed flows, for the pipeline's resolver: a live run
//! asks /proc for a connection's addresses, a replay already read them from
//! the packets. The flow table writes, the pipeline's resolver
//! (`conntrack::replay`) reads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::capture::ConnId;

#[derive(Debug, Clone, Copy)]
struct Endpoints {
    server: SocketAddr,
    client: SocketAddr,
}

/// Server and client address of every open replayed flow.
#[derive(Debug, Clone, Default)]
pub struct FlowAddresses(Arc<Mutex<HashMap<ConnId, Endpoints>>>);

impl FlowAddresses {
    pub(super) fn insert(&self, conn: ConnId, server: SocketAddr, client: SocketAddr) {
        self.lock().insert(conn, Endpoints { server, client });
    }

    pub(super) fn remove(&self, conn: ConnId) {
        self.lock().remove(&conn);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The (server, client) addresses of an open flow.
    pub fn get(&self, conn: ConnId) -> Option<(SocketAddr, SocketAddr)> {
        self.lock().get(&conn).map(|e| (e.server, e.client))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Endpoints>> {
        // The map stays consistent whatever panicked while holding it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
