//! Writes captured at their entry. A write function's plaintext is in its
//! buffer when it is called, so when the session's socket is already
//! known (from an earlier call or the handshake) the bytes are captured
//! right there and the call needs no return probe, which costs more than
//! the entry (a second trap, the kernel's return trampoline).
//!
//! One program serves both ends through a uprobe session link (Linux
//! 6.13, `session`): at the entry it returns `SKIP_RETURN` and the kernel
//! skips the function's return, or `KEEP_RETURN` and the return runs this
//! program again, which then finishes the call as `calls::tls_return` does. That
//! fallback covers the writes whose socket is not known yet (the first
//! write of a client that lets it run the handshake), the writes too long
//! to be sure they are sent whole (`tls::MAX_AT_ENTRY`), and the hooks the
//! agent did not mark `tls::AT_ENTRY`.
//!
//! A write's bytes are captured before its sends, which then find the
//! socket marked TLS and skip them as ciphertext. When a send finds the
//! socket's buffer full, the library says "want write" and the caller
//! must call again with the same arguments: `note_failed_send` marks the
//! socket, and the next write entry on it captures only what it adds.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_attach_cookie},
    programs::ProbeContext,
    EbpfContext,
};
use sensor_common::{counter, tls, ConnKey, ConnState, SockState};

use super::{calls, session, stream};
use crate::capture::{self, Source};
use crate::conn;
use crate::maps::{self, TlsSessionKey, CONNS, SOCKS, TLS_SESSIONS};

const EAGAIN: i64 = 11;
const EINTR: i64 = 4;

/// The uprobe session program of the write functions. Written out rather
/// than with `#[uprobe]`, which discards the program's result.
#[unsafe(no_mangle)]
#[unsafe(link_section = "uprobe")]
pub fn tls_write(ctx: *mut core::ffi::c_void) -> u32 {
    session::run(ctx, enter)
}

/// The write's entry: true when it is done with (captured, or nothing to
/// capture), false when its return must capture it (socket not known, not
/// followed, or a write longer than one record that is no retry).
#[inline(always)]
fn enter(ctx: &ProbeContext) -> bool {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return true;
    }
    // SAFETY: the helper reads the cookie of the attachment that fired.
    let cookie = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    let session: u64 = ctx.arg(0).unwrap_or(0);
    let sp = calls::stack_pointer(ctx.regs);
    let outer = calls::current(id);
    if calls::nested(outer, session, sp) {
        // The outer call's return reports the bytes.
        return true;
    }
    let len = requested(ctx, cookie);
    let key = TlsSessionKey {
        pid: (id >> 32) as u32,
        _pad: 0,
        session,
    };
    // SAFETY: copy of the map value.
    let socket = unsafe { TLS_SESSIONS.get(&key) }.copied();
    let captured = match socket {
        Some(socket) if tls::at_entry(cookie) => {
            let buf: u64 = ctx.arg(1).unwrap_or(0);
            if crate::socket::enabled() {
                socket.sock != 0 && capture_sock(socket.sock, buf, len)
            } else {
                socket.fd >= 0 && capture_conn(key.pid, socket.fd, buf, len)
            }
        }
        _ => false,
    };
    if !captured {
        calls::record(ctx, outer, id, cookie, session, sp);
    }
    captured
}

/// The bytes the caller asks to write (the third argument: an `int` for
/// `SSL_write`, a `size_t` for the others); 0 for a negative `int`.
#[inline(always)]
fn requested(ctx: &ProbeContext, cookie: u64) -> u64 {
    if tls::ret(cookie) == tls::RET_INT {
        let len: i32 = ctx.arg(2).unwrap_or(0);
        len.max(0) as u64
    } else {
        ctx.arg(2).unwrap_or(0)
    }
}

/// Socket mode: captures the write on the socket `cookie`. False when the
/// socket is not followed (closed, aged out, left out by the port
/// filter): the return sees which socket the write really uses.
#[inline(always)]
fn capture_sock(cookie: u64, buf: u64, len: u64) -> bool {
    if len == 0 {
        // A retry that only flushes (GnuTLS takes NULL, 0).
        if let Some(s) = SOCKS.get_ptr_mut(&cookie) {
            // SAFETY: pointer into the map value, valid for this run.
            unsafe { (*s).tls_write = 0 };
        }
        return true;
    }
    let Some(state) = crate::socket::state::plaintext_state(cookie) else {
        return false;
    };
    // SAFETY: pointer into the map value, valid for this run.
    let last = unsafe { &mut (*state).tls_write };
    let Some(skip) = retried(u32::from(*last), len) else {
        return false;
    };
    *last = remembered(len) as u16;
    if len > skip {
        crate::socket::state::step(state, tls::OP_WRITE, Source::Buffer(buf + skip), len - skip);
    }
    true
}

/// Syscall mode: captures the write on the process's fd `fd`.
#[inline(always)]
fn capture_conn(pid: u32, fd: i32, buf: u64, len: u64) -> bool {
    let key = ConnKey { pid, fd };
    if len == 0 {
        if let Some(s) = CONNS.get_ptr_mut(&key) {
            // SAFETY: pointer into the map value, valid for this run.
            unsafe { (*s).tls_write = 0 };
        }
        return true;
    }
    let source = Source::Buffer(buf);
    let first = capture::first_bytes(source);
    // None: a stream that is not HTTP, or no room to follow it; the
    // return would find the same.
    let Some(state) = stream::plaintext_state(&key, tls::OP_WRITE, &first, len) else {
        return true;
    };
    // SAFETY: pointer into the map value, valid for this run.
    let last = unsafe { &mut (*state).tls_write };
    let Some(skip) = retried(*last, len) else {
        return false;
    };
    *last = remembered(len);
    if len > skip {
        crate::syscalls::capture_conn(
            &key,
            state,
            tls::OP_WRITE,
            Source::Buffer(buf + skip),
            len - skip,
        );
    }
    true
}

/// Bytes of this write already captured: the last write captured at entry
/// on the socket when a send of it found the buffer full (this call is its
/// retry, with the same arguments or, OpenSSL allows it, more bytes), else
/// none. None when the write is to be captured at its return instead:
/// longer than `tls::MAX_AT_ENTRY` and no retry (a retry is captured here
/// whatever its length, so that the mark never outlives it). Counts the
/// write.
#[inline(always)]
fn retried(last: u32, len: u64) -> Option<u64> {
    let blocked = last & tls::WRITE_BLOCKED != 0;
    if !blocked && len > tls::MAX_AT_ENTRY {
        return None;
    }
    maps::count(counter::TLS_CALLS, 1);
    maps::count(counter::TLS_WRITES_AT_ENTRY, 1);
    if !blocked {
        return Some(0);
    }
    maps::count(counter::TLS_WRITE_RETRIES, 1);
    Some(u64::from(last & !tls::WRITE_BLOCKED).min(len))
}

/// The length kept for a write captured at entry, below the
/// `tls::WRITE_BLOCKED` bit: only a retry longer than one record (which
/// OpenSSL takes) is cut, and its own retry would then capture again what
/// lies past the cut.
#[inline(always)]
fn remembered(len: u64) -> u32 {
    len.min(u64::from(tls::WRITE_BLOCKED - 1)) as u32
}

/// True for a send's error after which a TLS library asks to be called
/// again with the same write ("want write").
#[inline(always)]
pub fn retry_error(ret: i64) -> bool {
    ret == -EAGAIN || ret == -EINTR
}

/// Socket mode: a send on the socket `cookie` failed with `retry_error`.
/// Outside a call followed to its return, a send on a TLS socket is a
/// write captured at entry (or a library function not hooked, such as
/// `SSL_shutdown`, after which nothing is written): mark it so that its
/// retry is not captured again.
#[inline(always)]
pub fn note_failed_send_sock(pid_tgid: u64, cookie: u64) {
    if calls::in_call(pid_tgid) {
        return;
    }
    if let Some(s) = SOCKS.get_ptr_mut(&cookie) {
        // SAFETY: pointer into the map value, valid for this run.
        mark_blocked_sock(unsafe { &mut *s });
    }
}

#[inline(always)]
fn mark_blocked_sock(s: &mut SockState) {
    if s.flags & sensor_common::FLAG_TLS != 0 && s.tls_write != 0 {
        s.tls_write |= tls::WRITE_BLOCKED as u16;
    }
}

/// Syscall mode: as `note_failed_send_sock`, for the connection `key`
/// (the syscall hooks have already checked the thread is in no followed
/// call).
#[inline(always)]
pub fn note_failed_send_conn(key: &ConnKey) {
    if !maps::settings().is_some_and(|s| s.tls != 0) {
        return;
    }
    if let Some(s) = CONNS.get_ptr_mut(key) {
        // SAFETY: pointer into the map value, valid for this run.
        mark_blocked_conn(unsafe { &mut *s });
    }
}

#[inline(always)]
fn mark_blocked_conn(s: &mut ConnState) {
    if s.flags & sensor_common::FLAG_TLS != 0 && s.tls_write != 0 {
        s.tls_write |= tls::WRITE_BLOCKED;
    }
}
