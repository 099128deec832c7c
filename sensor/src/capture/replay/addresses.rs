//! The addresses of replayed flows, for the pipeline's resolver: a live run
//! asks /proc for a connection's addresses, a replay already read them from
//! the packets. The flow table writes, the pipeline's resolver reads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::capture::ConnId;
use crate::conntrack::{OpenFacts, Resolver};
use crate::exchange::{ConnectionInfo, Role};

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

    /// A resolver for the pipeline: every replayed flow is seen from its
    /// server side, named `comm`.
    pub fn resolver(&self, comm: String) -> Resolver {
        let addresses = self.clone();
        Box::new(move |facts: &OpenFacts| {
            let conn = ConnId {
                pid: facts.pid,
                fd: facts.fd,
                generation: facts.generation,
            };
            let found = addresses.lock().get(&conn).copied();
            Ok(ConnectionInfo {
                pid: facts.pid,
                comm: comm.clone(),
                fd: facts.fd,
                generation: facts.generation,
                role: Role::Server,
                local: found.map(|e| e.server),
                remote: found.map(|e| e.client).or(facts.remote),
                tls: false,
                process: Default::default(),
            })
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Endpoints>> {
        // The map stays consistent whatever panicked while holding it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
