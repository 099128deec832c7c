//! What the uprobe session programs (`write`, `read`) share: one program
//! runs at a function's entry and, unless that run returned nonzero, again
//! at its return (a `BPF_TRACE_UPROBE_SESSION` link, Linux 6.13), which
//! spares the calls that need no return its trap and trampoline.

use aya_ebpf::{
    bindings::pt_regs,
    helpers::generated::bpf_get_func_ip,
    programs::{ProbeContext, RetProbeContext},
    EbpfContext,
};

use super::calls;

/// Entry result: the kernel skips the function's return.
pub const SKIP_RETURN: u32 = 1;
/// Entry result: the return runs the program again.
pub const KEEP_RETURN: u32 = 0;

/// One run of a session program: at the return, the call is finished
/// (`calls::finish`); at the entry, `enter` says whether the return has
/// nothing left to do (true: the kernel skips it).
#[inline(always)]
pub fn run(ctx: *mut core::ffi::c_void, enter: impl FnOnce(&ProbeContext) -> bool) -> u32 {
    let probe = ProbeContext::new(ctx);
    if at_return(&probe) {
        calls::finish(&RetProbeContext::new(ctx));
        return KEEP_RETURN;
    }
    if enter(&probe) {
        SKIP_RETURN
    } else {
        KEEP_RETURN
    }
}

/// True at the function's return. The kernel points the registers'
/// instruction pointer at the probed instruction for the entry's run and
/// at the caller's return address for the return's, while the function
/// address is the probed one for both (`bpf_session_is_return` says the
/// same, but is a kfunc, which this toolchain does not call).
#[inline(always)]
pub fn at_return(ctx: &ProbeContext) -> bool {
    // SAFETY: the helper reads the run's probed address.
    let probed = unsafe { bpf_get_func_ip(ctx.as_ptr()) };
    instruction_pointer(ctx.regs) != probed
}

#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn instruction_pointer(regs: *mut pt_regs) -> u64 {
    // SAFETY: `regs` is the program's context, readable for its whole run.
    unsafe { (*regs).rip }
}

#[cfg(bpf_target_arch = "aarch64")]
#[inline(always)]
fn instruction_pointer(regs: *mut pt_regs) -> u64 {
    // SAFETY: on arm64 the context starts with `user_pt_regs`.
    unsafe { (*(regs as *const aya_ebpf::bindings::user_pt_regs)).pc }
}
