//! Who presented a credential: the remote address when the observed
//! process serves the request, the calling program when this host makes
//! the call. A program is known by its process name, not its pid (every
//! run of a cron job is the same client) and not its executable path,
//! which a short-lived process (curl) may no longer have in /proc by the
//! time the agent looks: the name comes with every captured event.

use std::fmt;
use std::net::IpAddr;

use crate::exchange::{HttpExchange, Role};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    Address(IpAddr),
    Program { comm: String },
}

impl Client {
    /// None for a served request whose peer address is unknown: all such
    /// peers would look like one client.
    pub(crate) fn of(exchange: &HttpExchange) -> Option<Client> {
        let conn = &exchange.connection;
        match conn.role {
            Role::Server => conn.remote.map(|a| Client::Address(a.ip())),
            Role::Client => Some(Client::Program {
                comm: conn.comm.clone(),
            }),
        }
    }
}

/// The client as a report names it: the address, or the program with its
/// executable and user when they are known.
pub(crate) fn describe(client: &Client, exchange: &HttpExchange) -> String {
    match client {
        Client::Address(_) => client.to_string(),
        Client::Program { comm } => {
            let process = &exchange.connection.process;
            match (&process.exe, process.uid) {
                (Some(exe), Some(uid)) => format!("program {comm} ({exe}, uid {uid})"),
                (Some(exe), None) => format!("program {comm} ({exe})"),
                (None, Some(uid)) => format!("program {comm} (uid {uid})"),
                (None, None) => format!("program {comm}"),
            }
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Client::Address(ip) => write!(f, "{ip}"),
            Client::Program { comm } => write!(f, "program {comm}"),
        }
    }
}
