//! Reads a socket's addresses from another process: the fd is duplicated
//! with pidfd_getfd(2) (needs CAP_SYS_PTRACE, which the sensor has), asked
//! getsockname/getpeername, and closed again. O(1) per connection, unlike
//! scanning /proc/net/tcp.

use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketAddrs {
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketError {
    /// The fd is open but is not a connected TCP socket.
    NotTcp,
    /// The process or the fd is gone, or we may not look at it.
    Gone,
}

fn dup_from(pid: u32, fd: i32) -> Result<OwnedFd, SocketError> {
    // SAFETY: plain syscalls; every returned fd is owned exactly once.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0);
        if pidfd < 0 {
            return Err(SocketError::Gone);
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as i32);
        let dup = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0);
        if dup < 0 {
            return Err(SocketError::Gone);
        }
        Ok(OwnedFd::from_raw_fd(dup as i32))
    }
}

/// The address `fd` of process `pid` listens on; None when the fd is no
/// longer a listening socket (closed, or its number reused).
pub fn listening_address(pid: u32, fd: i32) -> Option<SocketAddr> {
    let sock = dup_from(pid, fd).ok()?;
    let raw = sock.as_raw_fd();
    if socket_option(raw, libc::SO_ACCEPTCONN)? == 0 {
        return None;
    }
    name(raw, libc::getsockname)
        .as_ref()
        .and_then(to_socket_addr)
}

pub fn peer_and_local(pid: u32, fd: i32) -> Result<SocketAddrs, SocketError> {
    let sock = dup_from(pid, fd)?;
    let raw = sock.as_raw_fd();
    if socket_option(raw, libc::SO_TYPE) != Some(libc::SOCK_STREAM) {
        return Err(SocketError::NotTcp);
    }
    let local = name(raw, libc::getsockname)
        .as_ref()
        .and_then(to_socket_addr)
        .ok_or(SocketError::NotTcp)?;
    // Not connected (any more): for our purpose the connection is gone.
    let remote = name(raw, libc::getpeername).ok_or(SocketError::Gone)?;
    let remote = to_socket_addr(&remote).ok_or(SocketError::NotTcp)?;
    Ok(SocketAddrs { local, remote })
}

/// `getsockname` or `getpeername`.
type NameCall =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

/// An integer `SOL_SOCKET` option of `raw`; None when the call fails.
fn socket_option(raw: RawFd, option: libc::c_int) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value`.
    let rc = unsafe {
        libc::getsockopt(
            raw,
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(value)
}

/// The address `call` reports for `raw`; None when the call fails.
fn name(raw: RawFd, call: NameCall) -> Option<libc::sockaddr_storage> {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the call writes at most `len` bytes into the storage.
    let rc = unsafe {
        call(
            raw,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(storage)
}

fn to_socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: family says this storage holds a sockaddr_in.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: family says this storage holds a sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                0,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn reads_addresses_of_own_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let addrs = peer_and_local(std::process::id(), server.as_raw_fd()).unwrap();
        assert_eq!(addrs.local, listener.local_addr().unwrap());
        assert_eq!(addrs.remote, client.local_addr().unwrap());
    }

    #[test]
    fn files_are_not_tcp() {
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(
            peer_and_local(std::process::id(), file.as_raw_fd()),
            Err(SocketError::NotTcp)
        );
        assert_eq!(
            peer_and_local(std::process::id(), 9999),
            Err(SocketError::Gone)
        );
    }
}
