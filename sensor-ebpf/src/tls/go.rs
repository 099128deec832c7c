//! Go's crypto/tls: Go programs link their own TLS, so the library probes
//! never see it. Uprobes on `crypto/tls.(*Conn).Write` (at its entry,
//! where the plaintext is already in the buffer) and `(*Conn).Read` (at
//! its entry to note the buffer, and at each of its `RET` instructions,
//! found by the agent, to capture what it filled). No uretprobes: the
//! kernel's return probe rewrites the return address on the stack, and Go
//! copies goroutine stacks when they grow, which breaks them.
//!
//! Where the agent finds `(*Conn).Read`'s one call of `runtime.memmove`
//! (the inlined `bytes.Reader.Read` of the decrypted record into the
//! caller's buffer), the plaintext is captured at that call instead of at
//! the `RET`s: a call is emulated by the kernel, a `RET` single-stepped,
//! and the debug exception after the step cost Go servers about 40% of
//! their CPU.
//!
//! The entry probes sit on the `jbe` of the function's stack check (the
//! agent's `go_stack_check` found it and checked that nothing before it
//! changes what these programs read). A hit whose jump is taken is
//! ignored: the call grows its stack or yields to the scheduler and then
//! starts over, and the hit of that restart is the call's.
//!
//! Go's register ABI (Go 1.17 and later, x86-64): the receiver in RAX, the
//! slice's pointer and length in RBX and RCX; the results (`n`, `err`) in
//! RAX, RBX and RCX; the running goroutine (`g`) in R14. A Read is keyed
//! by its goroutine, not its thread: a goroutine that waits for data is
//! parked and may return on another thread.
//!
//! Go's stack ABI (before 1.17; the `_stack` programs): at the entry and
//! at a `RET` the stack pointer points at the return address, the
//! arguments follow it (receiver, then the slice's pointer, length and
//! capacity) and then the results (`n` 40 bytes above it). The goroutine
//! is the word 8 bytes below the thread's FS base (Go's `runtime.tlsg`,
//! the program's only thread-local variable: the agent checks the
//! program's TLS segment is 8 bytes).
//!
//! The socket is read from Go's own structs: a `*tls.Conn` starts with its
//! `net.Conn` interface (type word, then data pointer); when the type word
//! is the `*net.TCPConn` one, the data is a `*net.TCPConn`, which starts with
//! its `*netFD`, whose `poll.FD` holds `Sysfd` after a 16-byte mutex.
//! The `*net.TCPConn` type word is the address of its interface table:
//! each attachment's cookie is that table's distance from the probed
//! instruction (the agent found both in the binary), added here to the
//! instruction pointer, which the kernel sets to the probed instruction
//! for the program's run. So the check holds for position-independent
//! programs too, wherever they are loaded. These
//! are fixed offsets; the agent checks them against the program's DWARF
//! when it has any and does not hook a program whose layout differs
//! (`capture::tls::go_layout`). In socket mode the fd
//! leads to the socket's cookie through the kernel's file table.

use aya_ebpf::{
    bindings::pt_regs,
    helpers::{
        bpf_get_current_pid_tgid, bpf_probe_read_kernel, bpf_probe_read_user,
        generated::{bpf_get_attach_cookie, bpf_get_current_task},
    },
    macros::{map, uprobe},
    maps::LruHashMap,
    programs::ProbeContext,
    EbpfContext, Global,
};
use sensor_common::{
    counter,
    tls::{FdLayout, GoStackLayout, OP_READ, OP_WRITE},
    ConnKey,
};

use super::stream;
use crate::capture::{self, Source};
use crate::conn;
use crate::maps;

/// Offset of the data word of the `net.Conn` interface in `tls.Conn`.
const CONN_DATA: u64 = 8;
/// Offset of `poll.FD.Sysfd` in `net.netFD` (after `fdmu`, 16 bytes).
const NETFD_SYSFD: u64 = 16;

/// Kernel offsets for socket mode, set by the agent at load time.
#[unsafe(no_mangle)]
static FD_LAYOUT: Global<FdLayout> = Global::new(FdLayout {
    ready: 0,
    task_files: 0,
    files_fdt: 0,
    fdt_max_fds: 0,
    fdt_fd: 0,
    file_private_data: 0,
    socket_sk: 0,
    sk_cookie: 0,
});

/// Where the FS base is in `task_struct`, set by the agent at load time.
#[unsafe(no_mangle)]
static GO_STACK_LAYOUT: Global<GoStackLayout> = Global::new(GoStackLayout {
    ready: 0,
    task_fsbase: 0,
});

/// Stack ABI: offsets from the stack pointer at the entry or a `RET`.
const STACK_RECEIVER: u64 = 8;
const STACK_BUF: u64 = 16;
const STACK_LEN: u64 = 24;
/// `n`, after the receiver and the slice (8 + 24 bytes of arguments).
const STACK_N: u64 = 40;
/// The goroutine's distance below the FS base.
const TLS_G: u64 = 8;

/// A goroutine inside `(*Conn).Read`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GoReadKey {
    pub pid: u32,
    pub _pad: u32,
    /// The goroutine (`g` pointer, R14).
    pub goroutine: u64,
}

/// What `(*Conn).Read` was called with.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GoRead {
    pub conn: u64,
    pub buf: u64,
}

/// Reads in flight, from entry to the copy or a `RET`. LRU: a Read whose end was
/// never seen (the program died) ages out.
#[map]
static GO_TLS_READS: LruHashMap<GoReadKey, GoRead> = LruHashMap::with_max_entries(16384, 0);

/// `jbe`'s condition in RFLAGS: carry or zero.
const BELOW_OR_EQUAL: u64 = 1 | 1 << 6;

/// The registers the Go ABI passes what the probes need in.
struct GoRegs {
    /// First argument or result: the receiver, or `n`.
    rax: u64,
    /// The slice's pointer.
    rbx: u64,
    /// The slice's length.
    rcx: u64,
    /// The goroutine.
    r14: u64,
    /// The probed instruction.
    rip: u64,
    /// The stack pointer (stack ABI).
    rsp: u64,
    /// The flags, at an entry probe those of the stack check.
    flags: u64,
}

impl GoRegs {
    /// At an entry probe: whether the stack check's jump is taken, so this
    /// hit is not the call's (it restarts).
    #[inline(always)]
    fn restarts(&self) -> bool {
        self.flags & BELOW_OR_EQUAL != 0
    }
}

#[inline(always)]
fn regs(ctx: &ProbeContext) -> GoRegs {
    let regs: *const pt_regs = ctx.regs;
    // SAFETY: `regs` is the program's context, readable for its whole run.
    unsafe {
        GoRegs {
            rax: (*regs).rax,
            rbx: (*regs).rbx,
            rcx: (*regs).rcx,
            r14: (*regs).r14,
            rip: (*regs).rip,
            rsp: (*regs).rsp,
            flags: (*regs).eflags,
        }
    }
}

#[uprobe]
pub fn go_tls_write(ctx: ProbeContext) {
    let r = regs(&ctx);
    if r.restarts() {
        return;
    }
    on_write(&ctx, r.rip, || Some((r.rax, r.rbx, r.rcx as i64)));
}

#[uprobe]
pub fn go_tls_read(ctx: ProbeContext) {
    let r = regs(&ctx);
    if r.restarts() {
        return;
    }
    on_read(|| {
        Some((
            r.r14,
            GoRead {
                conn: r.rax,
                buf: r.rbx,
            },
        ))
    });
}

/// Attached at every `RET` of `(*Conn).Read`.
#[uprobe]
pub fn go_tls_read_return(ctx: ProbeContext) {
    let r = regs(&ctx);
    on_read_return(&ctx, r.rip, r.r14, || Some(r.rax as i64));
}

#[uprobe]
pub fn go_tls_write_stack(ctx: ProbeContext) {
    let r = regs(&ctx);
    if r.restarts() {
        return;
    }
    on_write(&ctx, r.rip, || {
        Some((
            user::<u64>(r.rsp + STACK_RECEIVER)?,
            user::<u64>(r.rsp + STACK_BUF)?,
            user::<i64>(r.rsp + STACK_LEN)?,
        ))
    });
}

#[uprobe]
pub fn go_tls_read_stack(ctx: ProbeContext) {
    let r = regs(&ctx);
    if r.restarts() {
        return;
    }
    on_read(|| {
        let goroutine = stack_abi_goroutine()?;
        let conn = user::<u64>(r.rsp + STACK_RECEIVER)?;
        let buf = user::<u64>(r.rsp + STACK_BUF)?;
        Some((goroutine, GoRead { conn, buf }))
    });
}

/// Attached at `(*Conn).Read`'s call of `runtime.memmove`, which copies
/// the plaintext out to the caller: its source and length in RBX and RCX.
#[uprobe]
pub fn go_tls_read_copy(ctx: ProbeContext) {
    let r = regs(&ctx);
    on_read_copy(&ctx, r.rip, r.r14, || Some((r.rbx, r.rcx as i64)));
}

/// The same in a stack-ABI program: `memmove`'s arguments (destination,
/// source, length) are at the stack pointer, as the call will find them.
#[uprobe]
pub fn go_tls_read_copy_stack(ctx: ProbeContext) {
    let Some(goroutine) = stack_abi_goroutine() else {
        return;
    };
    let r = regs(&ctx);
    on_read_copy(&ctx, r.rip, goroutine, || {
        Some((user::<u64>(r.rsp + 8)?, user::<i64>(r.rsp + 16)?))
    });
}

/// Attached at every `RET` of `(*Conn).Read` in a stack-ABI program.
#[uprobe]
pub fn go_tls_read_return_stack(ctx: ProbeContext) {
    let Some(goroutine) = stack_abi_goroutine() else {
        return;
    };
    let r = regs(&ctx);
    on_read_return(&ctx, r.rip, goroutine, || user::<i64>(r.rsp + STACK_N));
}

/// `(*Conn).Write`'s entry: `ip` is the probed instruction; `arguments`
/// (the `*tls.Conn`, the buffer and its length, as the ABI passes them)
/// are read only in a followed process.
#[inline(always)]
fn on_write(ctx: &ProbeContext, ip: u64, arguments: impl FnOnce() -> Option<(u64, u64, i64)>) {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return;
    }
    let Some((conn, buf, len)) = arguments() else {
        return;
    };
    if len <= 0 {
        return;
    }
    capture_plaintext(ctx, ip, (id >> 32) as u32, conn, OP_WRITE, buf, len as u64);
}

/// `(*Conn).Read`'s entry: the call kept for its `RET`, by goroutine;
/// `call` (the goroutine and the arguments) is read only in a followed
/// process.
#[inline(always)]
fn on_read(call: impl FnOnce() -> Option<(u64, GoRead)>) {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return;
    }
    let Some((goroutine, read)) = call() else {
        return;
    };
    let key = GoReadKey {
        pid: (id >> 32) as u32,
        _pad: 0,
        goroutine,
    };
    let _ = GO_TLS_READS.insert(&key, &read, 0);
}

/// A `RET` of `(*Conn).Read`: the goroutine's call taken out, and the
/// bytes it filled captured (`n` read only when there was a call).
#[inline(always)]
fn on_read_return(ctx: &ProbeContext, ip: u64, goroutine: u64, n: impl FnOnce() -> Option<i64>) {
    let pid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let Some(read) = take_read(pid, goroutine) else {
        return;
    };
    match n() {
        Some(n) if n > 0 => capture_plaintext(ctx, ip, pid, read.conn, OP_READ, read.buf, n as u64),
        _ => {}
    }
}

/// `(*Conn).Read`'s copy of `len` plaintext bytes from `source` out to its
/// caller (`copy` reads both from the arguments): the goroutine's call
/// taken out, and the bytes captured from the source, which holds them
/// before the copy as after it.
#[inline(always)]
fn on_read_copy(
    ctx: &ProbeContext,
    ip: u64,
    goroutine: u64,
    copy: impl FnOnce() -> Option<(u64, i64)>,
) {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return;
    }
    let pid = (id >> 32) as u32;
    let Some(read) = take_read(pid, goroutine) else {
        return;
    };
    match copy() {
        Some((source, len)) if len > 0 => {
            capture_plaintext(ctx, ip, pid, read.conn, OP_READ, source, len as u64)
        }
        _ => {}
    }
}

/// The goroutine's Read in flight, taken out of `GO_TLS_READS`.
#[inline(always)]
fn take_read(pid: u32, goroutine: u64) -> Option<GoRead> {
    let key = GoReadKey {
        pid,
        _pad: 0,
        goroutine,
    };
    // SAFETY: copy out of the map value before removing it.
    let read = (unsafe { GO_TLS_READS.get(&key) }).copied()?;
    let _ = GO_TLS_READS.remove(&key);
    Some(read)
}

/// The running goroutine of a stack-ABI program: the word below the
/// thread's FS base.
#[inline(always)]
fn stack_abi_goroutine() -> Option<u64> {
    let layout = GO_STACK_LAYOUT.load();
    if layout.ready == 0 {
        return None;
    }
    // SAFETY: no preconditions; the current task's address.
    let task = unsafe { bpf_get_current_task() };
    let fsbase: u64 = kernel(task + u64::from(layout.task_fsbase))?;
    let goroutine: u64 = user(fsbase.wrapping_sub(TLS_G))?;
    (goroutine != 0).then_some(goroutine)
}

/// Hands `len` plaintext bytes at `buf` to the capture of the socket
/// under `conn` (a `*tls.Conn`); `ip` is the probed instruction.
#[inline(always)]
fn capture_plaintext(
    ctx: &ProbeContext,
    ip: u64,
    pid: u32,
    tls_conn: u64,
    op: u8,
    buf: u64,
    len: u64,
) {
    maps::count(counter::TLS_CALLS, 1);
    let Some(fd) = socket_fd(ctx, ip, tls_conn) else {
        maps::count(counter::TLS_CALLS_WITHOUT_FD, 1);
        maps::count(counter::TLS_BYTES_WITHOUT_FD, len);
        return;
    };
    let source = Source::Buffer(buf);
    if crate::socket::enabled() {
        let Some(cookie) = socket_cookie(fd) else {
            maps::count(counter::TLS_CALLS_WITHOUT_FD, 1);
            maps::count(counter::TLS_BYTES_WITHOUT_FD, len);
            return;
        };
        let Some(state) = crate::socket::state::plaintext_state(cookie) else {
            return;
        };
        crate::socket::state::step(state, op, source, len);
        return;
    }
    let key = ConnKey { pid, fd };
    let first = capture::first_bytes(source);
    let Some(state) = stream::plaintext_state(&key, op, &first, len) else {
        return;
    };
    crate::syscalls::capture_conn(&key, state, op, source, len);
}

/// Reads a `T` from user memory at `at`.
#[inline(always)]
fn user<T>(at: u64) -> Option<T> {
    // SAFETY: the helper reads user memory fault-safely.
    unsafe { bpf_probe_read_user(at as *const T) }.ok()
}

/// Reads a `T` from kernel memory at `at`.
#[inline(always)]
fn kernel<T>(at: u64) -> Option<T> {
    // SAFETY: the helper reads kernel memory fault-safely.
    unsafe { bpf_probe_read_kernel(at as *const T) }.ok()
}

/// The fd of the TCP socket under a `*tls.Conn`, or None when its
/// `net.Conn` is not a `*net.TCPConn` (a wrapper, a pipe in tests): then
/// nothing is guessed.
#[inline(always)]
fn socket_fd(ctx: &ProbeContext, ip: u64, tls_conn: u64) -> Option<i32> {
    // SAFETY: the helper reads the cookie of the attachment that fired.
    let distance = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) };
    let conn_type: u64 = user(tls_conn)?;
    if distance == 0 || conn_type != ip.wrapping_add(distance) {
        return None;
    }
    let tcp_conn: u64 = user(tls_conn + CONN_DATA)?;
    let net_fd: u64 = user(tcp_conn)?;
    let sysfd: i64 = user(net_fd + NETFD_SYSFD)?;
    if !(0..=i64::from(i32::MAX)).contains(&sysfd) {
        return None;
    }
    Some(sysfd as i32)
}

/// Socket mode: the cookie of this process's socket `fd`, through
/// `current->files->fdt->fd[fd]->private_data->sk`. Zero (never asked for
/// by the socket programs, so never captured) counts as none.
#[inline(always)]
fn socket_cookie(fd: i32) -> Option<u64> {
    let layout = FD_LAYOUT.load();
    if layout.ready == 0 {
        return None;
    }
    // SAFETY: no preconditions; the current task's address.
    let task = unsafe { bpf_get_current_task() };
    let files: u64 = kernel(task + u64::from(layout.task_files))?;
    let fdt: u64 = kernel(files + u64::from(layout.files_fdt))?;
    let max_fds: u32 = kernel(fdt + u64::from(layout.fdt_max_fds))?;
    if fd as u32 >= max_fds {
        return None;
    }
    let array: u64 = kernel(fdt + u64::from(layout.fdt_fd))?;
    let file: u64 = kernel(array + 8 * fd as u64)?;
    let socket: u64 = kernel(file + u64::from(layout.file_private_data))?;
    let sk: u64 = kernel(socket + u64::from(layout.socket_sk))?;
    let cookie: u64 = kernel(sk + u64::from(layout.sk_cookie))?;
    (cookie != 0).then_some(cookie)
}
