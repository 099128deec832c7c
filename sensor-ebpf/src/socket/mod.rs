//! Socket mode: typed tracepoints at the socket layer instead of syscall
//! tracepoints. `sock:sock_send_length` and `sock:sock_recv_length` fire
//! at the end of every `sock_sendmsg`/`sock_recvmsg` in the calling thread
//! (socket I/O only: files, pipes and other syscalls pay nothing), and
//! `sock:inet_sock_set_state` tells which side opened a TCP connection and
//! when it closes. The user buffer is found through the registers saved at
//! syscall entry (`syscall`), and the connection is the socket itself,
//! named by its cookie (`state`).

pub mod data;
pub mod lifecycle;
pub mod state;
mod syscall;

use core::ffi::c_void;

use aya_ebpf::helpers::bpf_probe_read_kernel;
use aya_ebpf::Global;
use sensor_common::SockLayout;

/// Field offsets of the running kernel, set by the agent at load time.
#[unsafe(no_mangle)]
static SOCK_LAYOUT: Global<SockLayout> = Global::new(SockLayout {
    ready: 0,
    family: 0,
    daddr: 0,
    rcv_saddr: 0,
    dport: 0,
    num: 0,
    v6_daddr: 0,
    v6_rcv_saddr: 0,
    protocol: 0,
    sock_type: 0,
    task_flags: 0,
});

#[inline(always)]
pub fn layout() -> SockLayout {
    SOCK_LAYOUT.load()
}

/// True when the programs run in socket mode (the agent set the layout).
#[inline(always)]
pub fn enabled() -> bool {
    layout().ready != 0
}

/// Reads a `T` at `base + offset` in kernel memory.
#[inline(always)]
pub fn kernel_read<T>(base: *const c_void, offset: u32) -> Option<T> {
    // SAFETY: the helper reads kernel memory fault-safely.
    unsafe { bpf_probe_read_kernel((base as *const u8).wrapping_add(offset as usize) as *const T) }
        .ok()
}
