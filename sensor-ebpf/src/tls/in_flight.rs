//! How many threads may be inside a hooked TLS library call, per slot of a
//! direct-mapped table indexed by the low bits of the thread id
//! (`maps::TLS_IN_FLIGHT`). Every send and receive asks whether its thread
//! is in a call; nearly all are not, and a zero slot answers that with one
//! array read instead of a hash lookup in `TLS_CALLS`.
//!
//! A slot is never below the number of its threads in a call: it is raised
//! when a thread's call starts to be followed (`calls::record`) and lowered
//! only when that call ends (`calls::finish`, or the thread's exit). A call
//! whose end is never seen (its entry evicted from `TLS_CALLS`) leaves the
//! slot raised, which only costs its threads the hash lookup again.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

use crate::maps::TLS_IN_FLIGHT;

/// Slots in the table (8 bytes each, a power of two).
pub const SLOTS: u32 = 16384;

#[inline(always)]
fn slot(pid_tgid: u64) -> Option<*mut u64> {
    TLS_IN_FLIGHT.get_ptr_mut((pid_tgid as u32) & (SLOTS - 1))
}

/// False only when no thread of `pid_tgid`'s slot is in a followed call.
#[inline(always)]
pub fn maybe(pid_tgid: u64) -> bool {
    // SAFETY: pointer into an array map value; an aligned 8-byte read. A
    // missing slot cannot happen (the index is masked), and says "maybe".
    slot(pid_tgid).is_none_or(|s| unsafe { *s } != 0)
}

/// The thread `pid_tgid` started a followed call.
#[inline(always)]
pub fn started(pid_tgid: u64) {
    add(pid_tgid, 1);
}

/// The followed call of the thread `pid_tgid` ended. Every end matches a
/// start, so the slot holds at least one.
#[inline(always)]
pub fn ended(pid_tgid: u64) {
    add(pid_tgid, u64::MAX);
}

/// Adds `by` (wrapping: `u64::MAX` takes one) to the thread's slot. Threads
/// of one slot may run on other CPUs at once, hence the atomic add (BPF's
/// `lock xadd`; `core`'s atomic types have no read-modify-write on BPF).
#[inline(always)]
fn add(pid_tgid: u64, by: u64) {
    if let Some(s) = slot(pid_tgid) {
        // SAFETY: `s` points at an aligned 8-byte array map value.
        let _ = unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(s, by) };
    }
}
