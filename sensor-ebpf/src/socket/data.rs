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
    counter, tls::OP_WRITE, DIR_EGRESS, DIR_INGRESS, FLAG_TLS, STATE_CAPTURING, STATE_IGNORED,
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
    let known = SOCKS.get_ptr_mut(&cookie);
    if let Some(s) = known {
        // SAFETY: pointer into the map value, valid for this run.
        let (now, flags) = unsafe { ((*s).state, (*s).flags) };
        if flags & conn::FLAG_TLS_RECORDS != 0 && !tls::calls::in_call(id) {
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
            return;
        }
        if flags & state::FLAG_PORT_FILTERED != 0
            || (now == STATE_IGNORED && flags & FLAG_TLS == 0 && !tls::calls::in_call(id))
        {
            return;
        }
    }
    let call = syscall::current(direction, moved, layout.task_flags);
    let in_tls = tls::calls::in_call(id);
    if known.is_none() && !in_tls && state::late(cookie, direction, call.source, moved) {
        return;
    }
    let ptr = match known {
        Some(s) => s,
        None => match state::create(sk, cookie, family, pid, call.fd, &layout) {
            Some(s) => s,
            None => return,
        },
    };
    if in_tls {
        // Inside SSL_read/SSL_write and the like the socket carries
        // ciphertext: the library's probes capture the plaintext, this
        // only tells them which socket the session uses.
        tls::calls::note_socket(id, call.fd, cookie);
        return;
    }
    // SAFETY: pointer into the map value, valid for this run.
    let s = unsafe { &*ptr };
    if s.flags & FLAG_TLS != 0 || s.state == STATE_IGNORED {
        return;
    }
    if let Source::Uncopyable = call.source {
        if s.state == STATE_CAPTURING {
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
