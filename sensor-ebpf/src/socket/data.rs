//! `sock:sock_send_length` and `sock:sock_recv_length`: every send and
//! receive on a socket, after the bytes moved. Rejecting one costs the
//! process filter, then one read for the family, then one map lookup.

use core::ffi::c_void;

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_socket_cookie},
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use sensor_common::{
    counter, tls::OP_WRITE, SockState, DIR_EGRESS, DIR_INGRESS, FLAG_TLS, STATE_CAPTURING,
    STATE_IGNORED,
};

use super::{layout, state, syscall};
use crate::capture::Source;
use crate::conn;
use crate::maps::{self, TlsSocket, SOCKS};
use crate::tls;

/// `recvmsg` flag: the bytes stay queued and will be received again.
const MSG_PEEK: i32 = 2;

#[btf_tracepoint(function = "sock_send_length")]
pub fn sock_send_length(ctx: BtfTracePointContext) -> i32 {
    on_io(&ctx, DIR_EGRESS);
    0
}

#[btf_tracepoint(function = "sock_recv_length")]
pub fn sock_recv_length(ctx: BtfTracePointContext) -> i32 {
    on_io(&ctx, DIR_INGRESS);
    0
}

#[inline(always)]
fn on_io(ctx: &BtfTracePointContext, direction: u8) {
    let moved: i32 = ctx.arg(1);
    if moved <= 0 {
        if direction == DIR_EGRESS && tls::write::retry_error(i64::from(moved)) {
            let id = bpf_get_current_pid_tgid();
            // A left-out process's sockets are not followed: no mark to
            // set, and its failed sends stay on the idle path's one lookup.
            if conn::process_wanted(id) {
                let sk: *mut c_void = ctx.arg(0);
                // SAFETY: `sk` is the tracepoint's `struct sock *`.
                let cookie = unsafe { bpf_get_socket_cookie(sk) };
                tls::write::note_failed_send_sock(id, cookie);
            }
        }
        return;
    }
    if direction == DIR_INGRESS && ctx.arg::<i32>(2) & MSG_PEEK != 0 {
        return;
    }
    let id = bpf_get_current_pid_tgid();
    let pid = (id >> 32) as u32;
    if !conn::process_wanted(id) {
        return;
    }
    let layout = layout();
    if layout.ready == 0 {
        return;
    }
    let sk: *mut c_void = ctx.arg(0);
    let Some(family) = state::inet_family(sk, &layout) else {
        return;
    };
    // SAFETY: `sk` is the tracepoint's `struct sock *`.
    let cookie = unsafe { bpf_get_socket_cookie(sk) };
    let moved = moved as u64;
    let ptr = match SOCKS.get_ptr_mut(&cookie) {
        Some(s) => {
            if !known(id, pid, s, direction, cookie) {
                return;
            }
            s
        }
        None => {
            let call = syscall::current(direction, moved, layout.task_flags);
            // Looked up once: a socket's first bytes are rare.
            let tls_call = tls::calls::current(id);
            if tls_call.is_none() && state::late(cookie, direction, call.source, moved) {
                return;
            }
            let Some(s) = state::create(sk, cookie, family, pid, call.fd, &layout) else {
                return;
            };
            if let Some(tls_call) = tls_call {
                tls::calls::note_socket(tls_call, call.fd, cookie);
                return;
            }
            // SAFETY: pointer into the map value, valid for this run.
            if unsafe { (*s).state } == STATE_IGNORED {
                // Left out by the port filter.
                return;
            }
            return capture(s, direction, call, moved);
        }
    };
    let call = syscall::current(direction, moved, layout.task_flags);
    capture(ptr, direction, call, moved);
}

/// The send or receive on a socket already followed: true when its bytes
/// are to be captured (plaintext of a socket sniffing or captured). The
/// thread's TLS call is looked up once, and before the registers are
/// read, which only a capture needs: most sends and receives on TLS or
/// muted sockets end here.
#[inline(always)]
fn known(id: u64, pid: u32, s: *mut SockState, direction: u8, cookie: u64) -> bool {
    // SAFETY: pointer into the map value, valid for this run.
    let (now, flags, fd) = unsafe { ((*s).state, (*s).flags, (*s).fd) };
    if flags & state::FLAG_PORT_FILTERED != 0 {
        return false;
    }
    let plaintext = flags & FLAG_TLS == 0 && now != STATE_IGNORED;
    let Some(tls_call) = tls::calls::current(id) else {
        if flags & conn::FLAG_TLS_RECORDS != 0 {
            // TLS records outside a library call: ciphertext, maybe of
            // rustls, whose plaintext this send or receive ties.
            if let Some((source, len)) = tls::rustls::socket_io(id, direction, -1, cookie) {
                let socket = TlsSocket {
                    fd: -1,
                    _pad: 0,
                    sock: cookie,
                };
                tls::calls::capture_on(pid, socket, OP_WRITE, source, len);
            }
            return false;
        }
        return plaintext;
    };
    // Inside SSL_read/SSL_write and the like the socket carries
    // ciphertext: the library's probes capture the plaintext, this only
    // tells them which socket the session uses (the fd is the one the
    // agent names the connection by; socket mode ties by cookie).
    tls::calls::note_socket(tls_call, fd, cookie);
    false
}

/// Copies (or judges) the bytes `call` moved on a socket that is
/// sniffing or captured.
#[inline(always)]
fn capture(ptr: *mut SockState, direction: u8, call: syscall::Call, moved: u64) {
    if let Source::Uncopyable = call.source {
        // SAFETY: pointer into the map value, valid for this run.
        if unsafe { (*ptr).state } == STATE_CAPTURING {
            let which = if call.sendfile {
                counter::SENDFILE_BYTES
            } else {
                counter::UNCOPYABLE_BYTES
            };
            maps::count(which, moved);
        }
    }
    state::step(ptr, direction, call.source, moved);
}
