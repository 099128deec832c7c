//! Connection context for a replay: the addresses the pcap source read
//! from the packets, every flow seen from its server side.

use super::{ConnectionInfo, OpenFacts, Resolver};
use crate::capture::replay::FlowAddresses;
use crate::capture::{ConnId, Role};

impl FlowAddresses {
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
            let found = addresses.get(conn);
            Ok(ConnectionInfo {
                pid: facts.pid,
                comm: comm.clone(),
                fd: facts.fd,
                generation: facts.generation,
                role: Role::Server,
                local: found.map(|(server, _)| server),
                remote: found.map(|(_, client)| client).or(facts.remote),
                tls: false,
                process: Default::default(),
            })
        })
    }
}
