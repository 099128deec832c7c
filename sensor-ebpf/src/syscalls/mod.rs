//! Tracepoint entry points. Each is a thin wrapper: sys_enter stashes the
//! arguments, sys_exit acts on the result.

mod data;
mod lifecycle;

pub use data::capture_conn;

use aya_ebpf::programs::TracePointContext;

/// Offset of the first syscall argument in a `syscalls:sys_enter_*` record
/// (after the common header and `__syscall_nr`); `sys_exit_*` keeps `ret`
/// at the same offset.
const ARGS: usize = 16;

#[inline(always)]
fn arg(ctx: &TracePointContext, index: usize) -> u64 {
    // SAFETY: reads inside the tracepoint record, fault-safe helper.
    unsafe { ctx.read_at::<u64>(ARGS + index * 8) }.unwrap_or(0)
}

#[inline(always)]
fn ret(ctx: &TracePointContext) -> i64 {
    // SAFETY: as above.
    unsafe { ctx.read_at::<i64>(ARGS) }.unwrap_or(-1)
}
