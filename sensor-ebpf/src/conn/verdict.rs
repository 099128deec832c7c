//! The process filters' verdict per thread, in a direct-mapped table
//! (`maps::VERDICTS`) indexed by the low bits of the thread id. A slot
//! holds the thread id and its process id as a tag, so a slot shared by
//! two threads only costs the filters again. A verdict depends on the
//! thread's name and its process, which change only when the thread is
//! renamed (`task:task_rename`, which exec also fires) or exits
//! (`sched:sched_process_exit`): both clear the slot.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};

use crate::maps::VERDICTS;

/// Slots in the table (8 bytes each, a power of two).
pub const SLOTS: u32 = 65536;

/// Thread and process ids fit in 22 bits (the kernel's PID_MAX_LIMIT).
const ID_BITS: u64 = 22;
const ID_MASK: u64 = (1 << ID_BITS) - 1;
/// Set in every kept slot: an empty slot (0) never matches a tag.
const VALID: u64 = 1 << 63;
const WANTED: u64 = 1;

/// `task_rename`'s `pid` field: the renamed thread, which need not be the
/// current one (a write to /proc/<tid>/comm renames another thread).
const RENAMED_PID_OFFSET: usize = 8;

#[inline(always)]
fn slot(tid: u64) -> Option<*mut u64> {
    VERDICTS.get_ptr_mut((tid as u32) & (SLOTS - 1))
}

#[inline(always)]
fn tag(id: u64) -> u64 {
    VALID | ((id & ID_MASK) << 1) | (((id >> 32) & ID_MASK) << (1 + ID_BITS))
}

/// The verdict kept for the thread `id` (a pid_tgid), if any.
#[inline(always)]
pub fn cached(id: u64) -> Option<bool> {
    // SAFETY: pointer into an array map value; an aligned 8-byte read.
    let kept = unsafe { *slot(id)? };
    (kept & !WANTED == tag(id)).then_some(kept & WANTED != 0)
}

#[inline(always)]
pub fn keep(id: u64, wanted: bool) {
    if let Some(slot) = slot(id) {
        // SAFETY: as above; an aligned 8-byte store is never torn.
        unsafe { *slot = tag(id) | u64::from(wanted) };
    }
}

/// Clears the slot of thread `tid` when it holds that thread's verdict.
#[inline(always)]
pub fn forget(tid: u64) {
    if let Some(slot) = slot(tid) {
        // SAFETY: as above.
        unsafe {
            if (*slot >> 1) & ID_MASK == tid & ID_MASK {
                *slot = 0;
            }
        }
    }
}

#[tracepoint(category = "task", name = "task_rename")]
pub fn task_rename(ctx: TracePointContext) {
    // SAFETY: the field is within the tracepoint's record.
    if let Ok(pid) = unsafe { ctx.read_at::<i32>(RENAMED_PID_OFFSET) } {
        forget(pid as u64);
    }
}
