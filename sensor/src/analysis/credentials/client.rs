//! Who presented a credential: the remote address when the observed
//! process serves the request, the calling program when this host makes
//! the call. A program is its executable, user and container, not its
//! pid: every run of a cron job is the same client.

use std::fmt;
use std::net::IpAddr;

use crate::exchange::{HttpExchange, Role};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    Address(IpAddr),
    Program {
        /// The executable, or the process name when it is unknown.
        exe: String,
        uid: Option<u32>,
        container: Option<String>,
    },
}

impl Client {
    /// None for a served request whose peer address is unknown: all such
    /// peers would look like one client.
    pub(crate) fn of(exchange: &HttpExchange) -> Option<Client> {
        let conn = &exchange.connection;
        match conn.role {
            Role::Server => conn.remote.map(|a| Client::Address(a.ip())),
            Role::Client => Some(Client::Program {
                exe: conn
                    .process
                    .exe
                    .clone()
                    .unwrap_or_else(|| conn.comm.clone()),
                uid: conn.process.uid,
                container: conn.process.container_id.clone(),
            }),
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Client::Address(ip) => write!(f, "{ip}"),
            Client::Program { exe, uid, .. } => match uid {
                Some(uid) => write!(f, "program {exe} (uid {uid})"),
                None => write!(f, "program {exe}"),
            },
        }
    }
}
