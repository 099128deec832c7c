//! Reads and writes: read/write, readv/writev, recvfrom/sendto,
//! recvmsg/sendmsg, and sendfile (counted, never copied).

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::tracepoint, programs::TracePointContext,
};
use sensor_common::{
    counter, tls::OP_WRITE, ConnKey, ConnState, PendingIo, BUF_IOVEC, BUF_MSGHDR, BUF_NONE,
    BUF_PLAIN, DIR_EGRESS, DIR_INGRESS, EVENT_DATA, FLAG_TLS, STATE_CAPTURING,
};

use super::{arg, ret};
use crate::capture::{self, Source};
use crate::conn;
use crate::maps::{self, TlsSocket, CONNS, PENDING_IO};
use crate::tls;

#[inline(always)]
fn enter(ctx: &TracePointContext, direction: u8, layout: u8) {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return;
    }
    let pending = PendingIo {
        fd: arg(ctx, 0) as i32,
        layout,
        direction,
        _pad: 0,
        buf: arg(ctx, 1),
        iovcnt: arg(ctx, 2),
    };
    if PENDING_IO.insert(&id, &pending, 0).is_err() {
        maps::count(counter::PENDING_TABLE_FULL, 1);
    }
}

#[inline(always)]
fn exit(ctx: &TracePointContext) {
    let id = bpf_get_current_pid_tgid();
    // SAFETY: copy out of the map value before removing it.
    let Some(pending) = (unsafe { PENDING_IO.get(&id) }).copied() else {
        return;
    };
    let _ = PENDING_IO.remove(&id);
    // Inside SSL_read/SSL_write and the like the socket carries ciphertext:
    // the library's probes capture the plaintext, this only tells them
    // which fd the session uses.
    if tls::calls::note_syscall_fd(id, pending.fd) {
        return;
    }
    let moved = ret(ctx);
    let key = ConnKey {
        pid: (id >> 32) as u32,
        fd: pending.fd,
    };
    if moved > 0 && tls_records(&key) {
        // TLS records outside a library call: ciphertext, maybe of
        // rustls, whose plaintext this syscall ties.
        if let Some((source, len)) = tls::rustls::socket_io(id, pending.direction, key.fd, 0) {
            let socket = TlsSocket {
                fd: key.fd,
                _pad: 0,
                sock: 0,
            };
            tls::calls::capture_on(key.pid, socket, OP_WRITE, source, len);
        }
        return;
    }
    if moved <= 0 {
        if pending.direction == DIR_EGRESS && tls::write::retry_error(moved) {
            tls::write::note_failed_send_conn(&key);
        }
        return;
    }
    let source = match pending.layout {
        BUF_PLAIN => Source::Buffer(pending.buf),
        BUF_IOVEC => Source::Iovec(pending.buf, pending.iovcnt),
        BUF_MSGHDR => msghdr_iovec(pending.buf),
        _ => Source::Uncopyable,
    };
    if pending.layout == BUF_NONE {
        // sendfile: the bytes come from a file; only a capturing
        // connection needs to know they went by.
        let Some(state) = CONNS.get_ptr_mut(&key) else {
            return;
        };
        // SAFETY: map value pointer valid for this run.
        let (state_now, flags) = unsafe { ((*state).state, (*state).flags) };
        if state_now != STATE_CAPTURING || flags & FLAG_TLS != 0 {
            return;
        }
        maps::count(counter::SENDFILE_BYTES, moved as u64);
        capture_conn(&key, state, pending.direction, source, moved as u64);
        return;
    }
    let Some(state) = conn::capturing_state(&key, pending.direction, source, moved as u64) else {
        return;
    };
    // A TLS connection's socket bytes (handshake, alerts) are ciphertext;
    // its plaintext comes from the library's probes.
    // SAFETY: map value pointer valid for this run.
    if unsafe { (*state).flags } & FLAG_TLS != 0 {
        return;
    }
    capture_conn(&key, state, pending.direction, source, moved as u64);
}

/// True when the connection `key` carries TLS records (`conn::FLAG_TLS_RECORDS`).
#[inline(always)]
fn tls_records(key: &ConnKey) -> bool {
    // SAFETY: copy of the map value's flags.
    unsafe { CONNS.get(key) }.is_some_and(|s| s.flags & conn::FLAG_TLS_RECORDS != 0)
}

/// Captures a syscall's bytes on the connection `key` (state `state`).
#[inline(always)]
pub fn capture_conn(
    key: &ConnKey,
    state: *mut ConnState,
    direction: u8,
    source: Source,
    moved: u64,
) {
    // SAFETY: `state` points into the CONNS map value for this run.
    let st = unsafe { &mut *state };
    let header = conn::header(EVENT_DATA, key, st, direction);
    capture::capture(
        header,
        &mut st.offsets,
        &mut st.run,
        direction,
        source,
        moved,
    );
}

/// `struct user_msghdr`: msg_iov at offset 16, msg_iovlen at offset 24.
#[inline(always)]
fn msghdr_iovec(msg: u64) -> Source {
    // SAFETY: user pointers read through the fault-safe helper.
    let iov = unsafe { aya_ebpf::helpers::bpf_probe_read_user((msg + 16) as *const u64) };
    let len = unsafe { aya_ebpf::helpers::bpf_probe_read_user((msg + 24) as *const u64) };
    match (iov, len) {
        (Ok(iov), Ok(len)) => Source::Iovec(iov, len),
        _ => Source::Uncopyable,
    }
}

#[tracepoint(category = "syscalls", name = "sys_enter_read")]
pub fn sys_enter_read(ctx: TracePointContext) {
    enter(&ctx, DIR_INGRESS, BUF_PLAIN)
}
#[tracepoint(category = "syscalls", name = "sys_exit_read")]
pub fn sys_exit_read(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_write")]
pub fn sys_enter_write(ctx: TracePointContext) {
    enter(&ctx, DIR_EGRESS, BUF_PLAIN)
}
#[tracepoint(category = "syscalls", name = "sys_exit_write")]
pub fn sys_exit_write(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_readv")]
pub fn sys_enter_readv(ctx: TracePointContext) {
    enter(&ctx, DIR_INGRESS, BUF_IOVEC)
}
#[tracepoint(category = "syscalls", name = "sys_exit_readv")]
pub fn sys_exit_readv(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_writev")]
pub fn sys_enter_writev(ctx: TracePointContext) {
    enter(&ctx, DIR_EGRESS, BUF_IOVEC)
}
#[tracepoint(category = "syscalls", name = "sys_exit_writev")]
pub fn sys_exit_writev(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_recvfrom")]
pub fn sys_enter_recvfrom(ctx: TracePointContext) {
    enter(&ctx, DIR_INGRESS, BUF_PLAIN)
}
#[tracepoint(category = "syscalls", name = "sys_exit_recvfrom")]
pub fn sys_exit_recvfrom(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_sendto")]
pub fn sys_enter_sendto(ctx: TracePointContext) {
    enter(&ctx, DIR_EGRESS, BUF_PLAIN)
}
#[tracepoint(category = "syscalls", name = "sys_exit_sendto")]
pub fn sys_exit_sendto(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_recvmsg")]
pub fn sys_enter_recvmsg(ctx: TracePointContext) {
    enter(&ctx, DIR_INGRESS, BUF_MSGHDR)
}
#[tracepoint(category = "syscalls", name = "sys_exit_recvmsg")]
pub fn sys_exit_recvmsg(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_sendmsg")]
pub fn sys_enter_sendmsg(ctx: TracePointContext) {
    enter(&ctx, DIR_EGRESS, BUF_MSGHDR)
}
#[tracepoint(category = "syscalls", name = "sys_exit_sendmsg")]
pub fn sys_exit_sendmsg(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_sendfile64")]
pub fn sys_enter_sendfile64(ctx: TracePointContext) {
    enter(&ctx, DIR_EGRESS, BUF_NONE)
}
#[tracepoint(category = "syscalls", name = "sys_exit_sendfile64")]
pub fn sys_exit_sendfile64(ctx: TracePointContext) {
    exit(&ctx)
}
