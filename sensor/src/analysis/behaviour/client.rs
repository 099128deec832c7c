//! Who a request came from, and the keyed hashes state is stored under.

use std::fmt;
#[allow(deprecated)]
use std::hash::SipHasher;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::analysis::detect::FingerprintKey;
use crate::analysis::principal::Principal;
use crate::exchange::{HttpExchange, Role};

/// The party sending requests: its principal when the request carries
/// one (a JWT subject, an API key...), else the remote address when the
/// observed process serves them, the observed process itself when it
/// makes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    /// Kept per side: one request seen by both its client and its server
    /// on this host is two observations.
    Principal {
        principal: Principal,
        role: Role,
    },
    Address(IpAddr),
    Process {
        pid: u32,
        comm: String,
    },
    /// A server-side connection whose peer address is unknown.
    Unknown,
}

impl ClientKey {
    pub(crate) fn of(exchange: &HttpExchange, principal: Option<&Principal>) -> ClientKey {
        let conn = &exchange.connection;
        if let Some(principal) = principal {
            return ClientKey::Principal {
                principal: principal.clone(),
                role: conn.role,
            };
        }
        match conn.role {
            Role::Server => conn
                .remote
                .map_or(ClientKey::Unknown, |a| ClientKey::Address(a.ip())),
            Role::Client => ClientKey::Process {
                pid: conn.pid,
                comm: conn.comm.clone(),
            },
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKey::Principal { principal, .. } => write!(f, "principal {principal}"),
            ClientKey::Address(ip) => write!(f, "{ip}"),
            ClientKey::Process { pid, comm } => write!(f, "process {comm} (pid {pid})"),
            ClientKey::Unknown => f.write_str("an unknown client"),
        }
    }
}

/// Keyed 64-bit hashes (SipHash-2-4 under a key derived from the
/// fingerprint key): the map keys of all state, and the only form ids and
/// usernames are kept in. The key keeps a peer from engineering
/// collisions; deriving it (instead of drawing it at random) makes a
/// detector's behaviour, sketch estimates included, reproducible.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    k0: u64,
    k1: u64,
}

impl Keys {
    pub(crate) fn derive(key: &FingerprintKey) -> Self {
        let digest = key.fingerprint(b"sensor behaviour state hashing v1");
        let half = |range: std::ops::Range<usize>| {
            u64::from_str_radix(&digest[range], 16).expect("a fingerprint is 32 hex digits")
        };
        Self {
            k0: half(0..16),
            k1: half(16..32),
        }
    }

    pub(crate) fn hash<T: Hash + ?Sized>(&self, value: &T) -> u64 {
        // The one keyed SipHash in std; deprecated only in favour of
        // crates, and its output is stable.
        #[allow(deprecated)]
        let mut hasher = SipHasher::new_with_keys(self.k0, self.k1);
        value.hash(&mut hasher);
        hasher.finish()
    }
}
