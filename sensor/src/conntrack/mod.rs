//! Connection context: which process a captured fd belongs to, the socket's
//! local and remote addresses, and the side (server or client) the process
//! plays. Resolved once, when the kernel starts capturing a connection.

pub mod ends;
pub mod kubernetes;
pub mod process;
mod replay;
mod socket;

use std::net::SocketAddr;

use crate::capture::Role;

pub use process::ProcessInfo;

pub use socket::{peer_and_local, SocketError};

/// The process and socket an exchange was seen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub pid: u32,
    pub comm: String,
    pub fd: i32,
    /// Distinguishes successive connections that reuse one fd number.
    pub generation: u64,
    pub role: Role,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// True when the plaintext came from a TLS library rather than the socket.
    pub tls: bool,
    /// Executable, user and container of the process.
    pub process: ProcessInfo,
}

/// What the kernel told us about a connection as capture started.
#[derive(Debug, Clone)]
pub struct OpenFacts {
    pub pid: u32,
    pub fd: i32,
    pub generation: u64,
    pub comm: String,
    /// Known when the kernel saw accept (server) or connect (client).
    pub role: Option<Role>,
    /// The kernel's guess from the first bytes, for connections it did not
    /// see being opened.
    pub guessed_role: Option<Role>,
    /// The address accept/connect returned, when there was one.
    pub remote: Option<SocketAddr>,
    /// Both addresses as the kernel read them from the socket (socket
    /// mode): nothing to look up, and right even once the socket closed.
    pub local: Option<SocketAddr>,
    /// The listening socket of a connection the kernel saw accepted
    /// (syscall mode): its address stands in for the local one when the
    /// connection's own fd is gone by the time it is looked up.
    pub listener_fd: Option<i32>,
    /// The bytes are a TLS library's plaintext, not the socket's.
    pub tls: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("pid {pid} fd {fd} is not a TCP socket")]
    NotTcp { pid: u32, fd: i32 },
}

/// Builds a connection's context from what the kernel saw. The pipeline
/// calls it once per connection; `LiveResolver` (the live default) asks
/// /proc, a replay supplies the addresses it read from the packets instead.
pub trait ResolveConnection: Send {
    fn resolve(&mut self, facts: &OpenFacts) -> Result<ConnectionInfo, ResolveError>;

    /// The process is gone: what was learnt of its pid no longer holds.
    fn process_exited(&mut self, _pid: u32) {}

    /// The process started a new program: what was read of it before no
    /// longer holds, and the kernel's `exe` and `uid` stand in for /proc
    /// when the process is gone before it is looked up.
    fn program_started(&mut self, _pid: u32, _exe: Option<String>, _uid: u32) {}
}

impl<F> ResolveConnection for F
where
    F: FnMut(&OpenFacts) -> Result<ConnectionInfo, ResolveError> + Send,
{
    fn resolve(&mut self, facts: &OpenFacts) -> Result<ConnectionInfo, ResolveError> {
        self(facts)
    }
}

pub type Resolver = Box<dyn ResolveConnection>;

/// Processes whose facts are remembered at once; far more than the
/// processes a host runs with open HTTP connections.
const PROCESS_CACHE_CAPACITY: usize = 4096;

/// The live resolver: the socket from /proc for addresses, the process's
/// executable, user and container, read once per process, and in
/// Kubernetes the container's pod.
pub struct LiveResolver {
    processes: process::ProcessCache,
    pods: Option<kubernetes::PodIndex>,
}

impl LiveResolver {
    pub fn new() -> Self {
        Self {
            processes: process::ProcessCache::new("/proc", PROCESS_CACHE_CAPACITY),
            pods: None,
        }
    }

    /// Names the pod of every containerised process from `pods`.
    pub fn with_pods(mut self, pods: Option<kubernetes::PodIndex>) -> Self {
        self.pods = pods;
        self
    }
}

impl Default for LiveResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl ResolveConnection for LiveResolver {
    fn resolve(&mut self, facts: &OpenFacts) -> Result<ConnectionInfo, ResolveError> {
        let mut info = resolve(facts)?;
        info.process = self.processes.get(facts.pid);
        if let (Some(pods), Some(id)) = (&self.pods, &info.process.container_id) {
            info.process.pod = pods.lookup(id);
        }
        Ok(info)
    }

    fn process_exited(&mut self, pid: u32) {
        self.processes.forget(pid);
    }

    fn program_started(&mut self, pid: u32, exe: Option<String>, uid: u32) {
        self.processes.program_started(pid, exe, uid);
    }
}

/// Builds the context of a connection. Addresses come from the socket
/// itself when it is still open, which also proves a connection found
/// mid-stream is a TCP socket; a connection that closed before we looked
/// keeps what the kernel saw at accept/connect.
pub fn resolve(facts: &OpenFacts) -> Result<ConnectionInfo, ResolveError> {
    if let (Some(local), Some(remote)) = (facts.local, facts.remote) {
        return Ok(info(facts, Some(local), Some(remote)));
    }
    let looked_up = peer_and_local(facts.pid, facts.fd);
    let (local, remote) = match looked_up {
        Ok(addrs) => {
            // The fd may already belong to a newer connection: only trust
            // the lookup when it agrees with what the kernel saw.
            match facts.remote {
                Some(remote) if remote != addrs.remote => (listener_address(facts), Some(remote)),
                _ => (Some(addrs.local), Some(addrs.remote)),
            }
        }
        // accept returned an internet address, so the connection was TCP
        // (accept takes only stream sockets): its fd now holds something
        // else. Not so for connect, which a UDP socket may call too.
        Err(SocketError::NotTcp) if facts.role == Some(Role::Server) && facts.remote.is_some() => {
            (listener_address(facts), facts.remote)
        }
        Err(SocketError::NotTcp) => {
            return Err(ResolveError::NotTcp {
                pid: facts.pid,
                fd: facts.fd,
            });
        }
        Err(SocketError::Gone) if facts.role.is_none() => {
            // Found mid-stream and already gone: nothing proves it was TCP,
            // but the bytes were HTTP; keep it without addresses.
            (None, None)
        }
        Err(SocketError::Gone) => (listener_address(facts), facts.remote),
    };
    Ok(info(facts, local, remote))
}

/// The local address of an accepted connection whose own fd is gone: its
/// listening socket's, which has the same port (and the same address,
/// unless it listens on every address: then `0.0.0.0:PORT` or `[::]:PORT`
/// is as much as is known). Enough for a `ports` filter on a server's port.
fn listener_address(facts: &OpenFacts) -> Option<SocketAddr> {
    socket::listening_address(facts.pid, facts.listener_fd?)
}

fn info(
    facts: &OpenFacts,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
) -> ConnectionInfo {
    let role = facts.role.or(facts.guessed_role).unwrap_or(Role::Server);
    ConnectionInfo {
        pid: facts.pid,
        comm: facts.comm.clone(),
        fd: facts.fd,
        generation: facts.generation,
        role,
        local,
        remote,
        tls: facts.tls,
        process: ProcessInfo::default(),
    }
}
