//! The probes on the library functions. One entry and one return program
//! serve every hooked function: the attachment's cookie says whether it
//! reads, writes or handshakes and how it reports the bytes it moved.
//!
//! A hooked function may call another hooked one on the same thread
//! (GnuTLS's OpenSSL compatibility layer, a tail call): only the outermost
//! call is reported. The stack pointer tells them apart, since a nested
//! call runs deeper in the stack and returns before the outer one.
//!
//! Each thread keeps one slot in `TLS_CALLS`, marked `DONE` at the
//! return rather than removed, so that a call costs no map update
//! (which allocates an element) beyond the thread's first.

use aya_ebpf::{
    bindings::pt_regs,
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user, generated::bpf_get_attach_cookie},
    macros::{uprobe, uretprobe},
    programs::{ProbeContext, RetProbeContext},
    EbpfContext,
};
use sensor_common::{counter, tls, ConnKey};

use super::{in_flight, stream};
use crate::capture::{self, Source};
use crate::conn;
use crate::maps::{self, TlsCall, TlsSessionKey, TlsSocket, TLS_CALLS, TLS_SESSIONS};

/// Bytes the return address takes on the stack at entry: x86-64 pushes it,
/// arm64 keeps it in a register. At the return, the stack pointer of the
/// call that returned is at least its entry value plus this.
#[cfg(bpf_target_arch = "x86_64")]
const RETURN_ADDRESS_BYTES: u64 = 8;
#[cfg(bpf_target_arch = "aarch64")]
const RETURN_ADDRESS_BYTES: u64 = 0;

/// A thread's slot whose call has returned: no stack pointer is 0, so no
/// call in flight has it.
const DONE: u64 = 0;

#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
pub fn stack_pointer(regs: *mut pt_regs) -> u64 {
    // SAFETY: `regs` is the program's context, readable for its whole run.
    unsafe { (*regs).rsp }
}

#[cfg(bpf_target_arch = "aarch64")]
#[inline(always)]
pub fn stack_pointer(regs: *mut pt_regs) -> u64 {
    // SAFETY: on arm64 the context starts with `user_pt_regs`.
    unsafe { (*(regs as *const aya_ebpf::bindings::user_pt_regs)).sp }
}

/// The third argument, read volatile: LLVM would otherwise merge it with
/// the read of the second into one read at a computed offset of the
/// context, which the verifier refuses.
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn third_argument(regs: *mut pt_regs) -> u64 {
    // SAFETY: `regs` is the program's context, readable for its whole run.
    unsafe { core::ptr::read_volatile(&(*regs).rdx) }
}

#[cfg(bpf_target_arch = "aarch64")]
#[inline(always)]
fn third_argument(regs: *mut pt_regs) -> u64 {
    // SAFETY: on arm64 the context starts with `user_pt_regs`.
    unsafe {
        core::ptr::read_volatile(&(*(regs as *const aya_ebpf::bindings::user_pt_regs)).regs[2])
    }
}

#[uprobe]
pub fn tls_enter(ctx: ProbeContext) {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return;
    }
    // SAFETY: the helper reads the cookie of the attachment that fired.
    let cookie = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    if not_application_data(&ctx, cookie) {
        return;
    }
    let session: u64 = ctx.arg(0).unwrap_or(0);
    let sp = stack_pointer(ctx.regs);
    let outer = current(id);
    if nested(outer, session, sp) {
        return;
    }
    record(&ctx, outer, id, cookie, session, sp);
}

/// True for a call of a function that reads every record content type
/// (`tls::TYPED_READ`) for another type than application data: the
/// handshake's, alerts, which carry no plaintext.
#[inline(always)]
pub fn not_application_data(ctx: &ProbeContext, cookie: u64) -> bool {
    // The type is an `int`: only the low 32 bits of the register are it.
    tls::typed_read(cookie) && ctx.arg::<u64>(1).map(|t| t as u32) != Some(tls::APPLICATION_DATA)
}

/// True when the thread is already inside a hooked call that this one is
/// part of: its return reports the bytes. `outer` is the thread's call in
/// flight (`current`).
#[inline(always)]
pub fn nested(outer: Option<*mut TlsCall>, session: u64, sp: u64) -> bool {
    let Some(outer) = outer else {
        return false;
    };
    // SAFETY: pointer into the map value, valid for this program run.
    let outer = unsafe { &*outer };
    // Deeper in the stack: a call nested in the outer one. At the same
    // depth on the same session: a tail call, or the same function
    // reached through a second attachment. Otherwise the entry is a
    // leftover whose return never came, and this call replaces it.
    outer.sp > sp || (outer.sp == sp && outer.session == session)
}

/// Keeps the call for its return, which captures its bytes, in the
/// thread's slot: `outer` (a leftover call this one replaces), its slot
/// from an earlier call, or a new one.
#[inline(always)]
pub fn record(
    ctx: &ProbeContext,
    outer: Option<*mut TlsCall>,
    id: u64,
    cookie: u64,
    session: u64,
    sp: u64,
) {
    let ret_kind = tls::ret(cookie);
    let call = TlsCall {
        session,
        buf: if tls::typed_read(cookie) {
            third_argument(ctx.regs)
        } else {
            ctx.arg(1).unwrap_or(0)
        },
        out_len: if ret_kind == tls::RET_EX {
            ctx.arg(3).unwrap_or(0)
        } else {
            0
        },
        sp,
        sock: 0,
        fd: -1,
        op: tls::op(cookie),
        ret_kind,
        _pad: 0,
    };
    // The thread's slot from its last call is rewritten in place: an
    // update of a hash map entry allocates a new element and frees the old.
    if let Some(slot) = outer.or_else(|| TLS_CALLS.get_ptr_mut(&id)) {
        // SAFETY: pointer into the map value, valid for this program run;
        // only this thread's programs use its slot.
        let replaced = unsafe { (*slot).sp } != DONE;
        // SAFETY: as above.
        unsafe { *slot = call };
        // A leftover call whose return never came was counted already.
        if !replaced {
            in_flight::started(id);
        }
        return;
    }
    // LRU: never full, the oldest entry (a thread gone quiet, a lost
    // return) makes room.
    if TLS_CALLS.insert(&id, &call, 0).is_ok() {
        in_flight::started(id);
    }
}

#[uretprobe]
pub fn tls_return(ctx: RetProbeContext) {
    finish(&ctx);
}

/// At a hooked function's return: the call kept at its entry ends, and
/// what it read or wrote is captured.
#[inline(always)]
pub fn finish(ctx: &RetProbeContext) {
    let id = bpf_get_current_pid_tgid();
    let Some(slot) = TLS_CALLS.get_ptr_mut(&id) else {
        return;
    };
    // SAFETY: pointer into the map value, valid for this program run.
    let call = unsafe { *slot };
    if call.sp == DONE {
        return;
    }
    if stack_pointer(ctx.regs) < call.sp + RETURN_ADDRESS_BYTES {
        // A nested hooked call returned; the outer one is still running.
        return;
    }
    // SAFETY: as above. The slot stays for the thread's next call.
    unsafe { (*slot).sp = DONE };
    in_flight::ended(id);
    let pid = (id >> 32) as u32;
    let session = TlsSessionKey {
        pid,
        _pad: 0,
        session: call.session,
    };
    let socket = if call.fd >= 0 || call.sock != 0 {
        let socket = TlsSocket {
            fd: call.fd,
            _pad: 0,
            sock: call.sock,
        };
        tie(&session, socket);
        socket
    } else {
        // SAFETY: read-only look at the map value.
        unsafe { TLS_SESSIONS.get(&session) }
            .copied()
            .unwrap_or(TlsSocket {
                fd: -1,
                _pad: 0,
                sock: 0,
            })
    };
    if call.op == tls::OP_HANDSHAKE {
        return;
    }
    let moved = bytes_moved(ctx, &call);
    if moved <= 0 {
        return;
    }
    capture_on(pid, socket, call.op, Source::Buffer(call.buf), moved as u64);
}

/// Captures `moved` plaintext bytes at `source`, moved in direction `op`, on
/// the session's socket `socket`. False when the socket is not known or
/// no longer followed (the bytes are counted as without a socket when it
/// is not known).
#[inline(always)]
pub fn capture_on(pid: u32, socket: TlsSocket, op: u8, source: Source, moved: u64) -> bool {
    maps::count(counter::TLS_CALLS, 1);
    let socket_mode = crate::socket::enabled();
    if (socket_mode && socket.sock == 0) || (!socket_mode && socket.fd < 0) {
        maps::count(counter::TLS_CALLS_WITHOUT_FD, 1);
        maps::count(counter::TLS_BYTES_WITHOUT_FD, moved);
        return false;
    }
    if socket_mode {
        let Some(state) = crate::socket::state::plaintext_state(socket.sock) else {
            return false;
        };
        crate::socket::state::step(state, op, source, moved);
        return true;
    }
    let key = ConnKey { pid, fd: socket.fd };
    let first = capture::first_bytes(source);
    // None: a stream that is not HTTP, or no room to follow it.
    let Some(state) = stream::plaintext_state(&key, op, &first, moved) else {
        return true;
    };
    crate::syscalls::capture_conn(&key, state, op, source, moved);
    true
}

/// Records `socket` as the session's. Almost every call finds the session
/// on the socket it was on, and an update of a hash map entry allocates a
/// new element even when the value is the same, so only a change is written.
#[inline(always)]
fn tie(session: &TlsSessionKey, socket: TlsSocket) {
    // SAFETY: read-only look at the map value.
    if let Some(known) = unsafe { TLS_SESSIONS.get(session) } {
        if known.fd == socket.fd && known.sock == socket.sock {
            return;
        }
    }
    let _ = TLS_SESSIONS.insert(session, &socket, 0);
}

/// The plaintext bytes the call moved, as its kind of function reports them.
#[inline(always)]
fn bytes_moved(ctx: &RetProbeContext, call: &TlsCall) -> i64 {
    match call.ret_kind {
        // `int`: only the low 32 bits of the register are the value.
        tls::RET_INT => i64::from(ctx.ret::<i32>()),
        tls::RET_SSIZE => ctx.ret::<i64>(),
        tls::RET_EX if ctx.ret::<i32>() == 1 => {
            // SAFETY: user pointer read through the fault-safe helper.
            match unsafe { bpf_probe_read_user(call.out_len as *const u64) } {
                Ok(n) if n <= i64::MAX as u64 => n as i64,
                _ => 0,
            }
        }
        _ => 0,
    }
}

/// Called by the syscall hooks at every read/write exit: when the thread is
/// inside a TLS library call, records the syscall's fd as the session's
/// socket and returns true (its bytes are ciphertext, not to be captured).
#[inline(always)]
pub fn note_syscall_fd(pid_tgid: u64, fd: i32) -> bool {
    let Some(call) = current(pid_tgid) else {
        return false;
    };
    // SAFETY: pointer into the map value, valid for this program run.
    unsafe { (*call).fd = fd };
    true
}

/// True when the thread is inside a TLS library call (and the probes are on).
#[inline(always)]
pub fn in_call(pid_tgid: u64) -> bool {
    current(pid_tgid).is_some()
}

/// The thread's TLS library call in flight, if any (and the probes are on).
#[inline(always)]
pub fn current(pid_tgid: u64) -> Option<*mut TlsCall> {
    if !maps::settings().is_some_and(|s| s.tls != 0) || !in_flight::maybe(pid_tgid) {
        return None;
    }
    let call = TLS_CALLS.get_ptr_mut(&pid_tgid)?;
    // SAFETY: pointer into the map value, valid for this program run.
    (unsafe { (*call).sp } != DONE).then_some(call)
}

/// Socket mode: records the socket a send or receive inside the TLS
/// library call `call` (from `current`) used as the session's (its bytes
/// are ciphertext, not captured).
#[inline(always)]
pub fn note_socket(call: *mut TlsCall, fd: i32, sock: u64) {
    // SAFETY: pointer into the map value, valid for this program run;
    // only this thread's programs use its slot.
    unsafe {
        (*call).fd = fd;
        (*call).sock = sock;
    }
}

/// A thread exited: a call it was inside of will never return.
#[inline(always)]
pub fn forget_thread(pid_tgid: u64) {
    if current(pid_tgid).is_some() {
        in_flight::ended(pid_tgid);
    }
    let _ = TLS_CALLS.remove(&pid_tgid);
}
