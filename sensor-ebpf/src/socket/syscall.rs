//! Where the bytes of a socket send or receive are in user memory: the
//! syscall the thread is in, read from the registers saved at its entry
//! (`bpf_task_pt_regs`), names the buffer, the iovec array or the msghdr.
//! Anything else (sendfile, splice, io_uring, kernel threads, a syscall
//! this does not know) moved bytes that are not in a user buffer it can
//! name: the caller counts them as a gap of their exact size.

use core::ffi::c_void;

use aya_ebpf::helpers::generated::{bpf_get_current_task_btf, bpf_task_pt_regs};
use sensor_common::{DIR_EGRESS, DIR_INGRESS};

use super::kernel_read;
use crate::capture::Source;

/// What the syscall in flight says about the bytes.
#[derive(Clone, Copy)]
pub struct Call {
    /// The file descriptor argument (-1 when the syscall has none).
    pub fd: i32,
    pub source: Source,
    /// The syscall was sendfile: its bytes are counted apart.
    pub sendfile: bool,
}

/// `task_struct.flags` of threads without a user syscall of their own.
const PF_IO_WORKER: u32 = 0x0000_0010;
const PF_KTHREAD: u32 = 0x0020_0000;

/// The registers from r10 to orig_ax in x86-64 `struct pt_regs` (fixed
/// user ABI): one helper call reads them all.
#[repr(C)]
#[derive(Clone, Copy)]
struct Regs {
    r10: u64,
    r9: u64,
    r8: u64,
    ax: u64,
    cx: u64,
    dx: u64,
    si: u64,
    di: u64,
    orig_ax: u64,
}

/// Offset of `r10` in x86-64 `struct pt_regs`.
const REGS_R10: u32 = 7 * 8;

/// The syscall behind a send (`direction` egress) or receive that moved
/// `moved` bytes on the current thread.
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
pub fn current(direction: u8, moved: u64, task_flags_offset: u32) -> Call {
    let gap = Call {
        fd: -1,
        source: Source::Uncopyable,
        sendfile: false,
    };
    // SAFETY: no preconditions; returns the running task, trusted.
    let task = unsafe { bpf_get_current_task_btf() };
    let flags: u32 = kernel_read(task as *const c_void, task_flags_offset).unwrap_or(PF_KTHREAD);
    if flags & (PF_KTHREAD | PF_IO_WORKER) != 0 {
        return gap;
    }
    // SAFETY: `task` is the trusted current task the helper expects.
    let regs = unsafe { bpf_task_pt_regs(task) } as *const c_void;
    let Some(r) = kernel_read::<Regs>(regs, REGS_R10) else {
        return gap;
    };
    let fd = r.di as i32;
    // (number, direction, layout): 0 buffer, 1 iovec, 2 msghdr.
    let (want_direction, layout) = match r.orig_ax {
        0 | 45 => (DIR_INGRESS, 0), // read, recvfrom
        1 | 44 => (DIR_EGRESS, 0),  // write, sendto
        19 => (DIR_INGRESS, 1),     // readv
        20 => (DIR_EGRESS, 1),      // writev
        47 => (DIR_INGRESS, 2),     // recvmsg
        46 => (DIR_EGRESS, 2),      // sendmsg
        40 if direction == DIR_EGRESS => {
            // sendfile(out_fd, in_fd, ...): the bytes come from a file.
            return Call {
                fd,
                source: Source::Uncopyable,
                sendfile: true,
            };
        }
        _ => return gap,
    };
    if want_direction != direction {
        return gap;
    }
    let source = match layout {
        // A buffer shorter than what moved is not this socket's (a kernel
        // user of sockets inside some other syscall).
        0 if r.dx >= moved => Source::Buffer(r.si),
        0 => return gap,
        1 => Source::Iovec(r.si, r.dx),
        _ => msghdr_iovec(r.si),
    };
    Call {
        fd,
        source,
        sendfile: false,
    }
}

#[cfg(not(bpf_target_arch = "x86_64"))]
#[inline(always)]
pub fn current(_direction: u8, _moved: u64, _task_flags_offset: u32) -> Call {
    // The agent only selects socket mode on x86-64.
    Call {
        fd: -1,
        source: Source::Uncopyable,
        sendfile: false,
    }
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
