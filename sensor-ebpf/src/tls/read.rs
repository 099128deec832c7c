//! Reads through a uprobe session link. A read's plaintext appears only
//! when the function returns, so its return is probed, except where the
//! entry already knows nothing will be captured: the session's socket is
//! known (from an earlier call or the handshake) and is not captured, as
//! a TLS stream the agent told the kernel to leave (a local client end
//! muted once its server end is captured, a stream that is not HTTP), or
//! a socket the port filter leaves alone. The entry then tells the kernel
//! to skip the return, a second trap and the return trampoline. A socket
//! whose verdict is not in yet (sniffing, or never seen) keeps its return.
//!
//! Nothing is lost by the skip: the return would have found the same
//! state and dropped the bytes. The sends and receives inside the call
//! find the socket marked TLS and skip its ciphertext on their own. What
//! the return also does, tying the session to a socket its syscalls use,
//! is only needed when the session moved to another socket, which starts
//! with a handshake (its return ties it again).

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_attach_cookie},
    programs::ProbeContext,
    EbpfContext,
};
use sensor_common::{counter, ConnKey, FLAG_TLS, STATE_IGNORED};

use super::{calls, session};
use crate::conn;
use crate::maps::{self, TlsSessionKey, CONNS, SOCKS, TLS_SESSIONS};

/// The uprobe session program of the read functions. Written out rather
/// than with `#[uprobe]`, which discards the program's result.
#[unsafe(no_mangle)]
#[unsafe(link_section = "uprobe")]
pub fn tls_read(ctx: *mut core::ffi::c_void) -> u32 {
    session::run(ctx, enter)
}

/// The read's entry: true when its return has nothing to do (a process
/// left out, a read of no application data, a call nested in a followed
/// one, a socket not captured), false when the call is kept for its
/// return.
#[inline(always)]
fn enter(ctx: &ProbeContext) -> bool {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return true;
    }
    // SAFETY: the helper reads the cookie of the attachment that fired.
    let cookie = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    if calls::not_application_data(ctx, cookie) {
        return true;
    }
    let session: u64 = ctx.arg(0).unwrap_or(0);
    let sp = calls::stack_pointer(ctx.regs);
    let outer = calls::current(id);
    if calls::nested(outer, session, sp) {
        // The outer call's return reports the bytes.
        return true;
    }
    let pid = (id >> 32) as u32;
    if not_captured(pid, session) {
        maps::count(counter::TLS_READS_NOT_FOLLOWED, 1);
        return true;
    }
    calls::record(ctx, outer, id, cookie, session, sp);
    false
}

/// True when the session's socket is known and its plaintext is not
/// captured: a TLS stream left alone (`STATE_IGNORED`) or, in socket
/// mode, a socket the port filter leaves alone. A socket that is not a
/// TLS stream yet is still to be judged by this read's bytes.
#[inline(always)]
fn not_captured(pid: u32, session: u64) -> bool {
    let key = TlsSessionKey {
        pid,
        _pad: 0,
        session,
    };
    // SAFETY: copy of the map value.
    let Some(socket) = (unsafe { TLS_SESSIONS.get(&key) }).copied() else {
        return false;
    };
    let (flags, state) = if crate::socket::enabled() {
        if socket.sock == 0 {
            return false;
        }
        // SAFETY: copy of the map value. Cookies are never reused, and a
        // closed socket's entry is gone.
        match unsafe { SOCKS.get(&socket.sock) } {
            Some(s) => (s.flags, s.state),
            None => return false,
        }
    } else {
        if socket.fd < 0 {
            return false;
        }
        let key = ConnKey { pid, fd: socket.fd };
        // SAFETY: copy of the map value. A closed fd's entry is gone, and
        // a new connection on the same fd starts not TLS.
        match unsafe { CONNS.get(&key) } {
            Some(s) => (s.flags, s.state),
            None => return false,
        }
    };
    if crate::socket::enabled() && flags & crate::socket::state::FLAG_PORT_FILTERED != 0 {
        return true;
    }
    flags & FLAG_TLS != 0 && state == STATE_IGNORED
}
