//! Counts the agent's heap allocations, so that `--stats`, the metrics and
//! `cargo xtask bench` can say how many allocations an exchange costs in a
//! live run, not only in the allocation bench's model of one.
//!
//! The `sensor` binary installs `Counting` as its global allocator (the
//! library does not, so tests and benches keep their own). Each thread adds
//! to its own cache line: one shared counter would bounce between the
//! cores on every allocation of every thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

/// Counter lines. The first `LINES - 1` threads each own one; every
/// later thread shares the last (still exact: adds to it are atomic).
const LINES: usize = 64;
const SHARED: usize = LINES - 1;

#[repr(align(64))]
struct Line(AtomicU64);

static COUNTS: [Line; LINES] = [const { Line(AtomicU64::new(0)) }; LINES];
static NEXT_LINE: AtomicUsize = AtomicUsize::new(0);
/// The total when the sensor said ready (or a replay began).
static AT_READY: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // A const-initialised `Cell` with no destructor: reading it never
    // allocates and works until the thread's very end.
    static LINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn count_one() {
    let line = LINE
        .try_with(|line| {
            let mut index = line.get();
            if index == usize::MAX {
                index = NEXT_LINE.fetch_add(1, Ordering::Relaxed).min(SHARED);
                line.set(index);
            }
            index
        })
        .unwrap_or(SHARED);
    let count = &COUNTS[line].0;
    if line == SHARED {
        count.fetch_add(1, Ordering::Relaxed);
    } else {
        // This thread is the line's only writer, so a plain load and
        // store count exactly, without the locked add (about 20 cycles
        // on every allocation, 3% of a replay's CPU).
        count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc`
/// calls (as `benches/allocations.rs` does).
pub struct Counting;

// SAFETY: every call is passed on to `System` unchanged; counting touches
// no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn total() -> u64 {
    COUNTS
        .iter()
        .map(|line| line.0.load(Ordering::Relaxed))
        .sum()
}

/// Start-up is over: later allocations are the steady state's.
pub fn mark_ready() {
    AT_READY.store(total(), Ordering::Relaxed);
}

/// The counts, for `--stats` and the metrics (`sensor_heap_*_total`).
#[derive(Debug, Clone, Serialize)]
pub struct HeapCounters {
    /// Allocations since the sensor started.
    pub allocations: u64,
    /// Allocations since it said ready (since the first packet, in a
    /// replay): start-up's parsing and loading left out.
    pub allocations_after_ready: u64,
}

/// `None` when the counting allocator is not installed (the library used
/// from tests or benches): nothing was counted.
pub fn counters() -> Option<HeapCounters> {
    let allocations = total();
    (allocations > 0).then(|| HeapCounters {
        allocations,
        allocations_after_ready: allocations.saturating_sub(AT_READY.load(Ordering::Relaxed)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_thread_and_the_steady_state_apart() {
        let before = total();
        count_one();
        std::thread::spawn(count_one).join().unwrap();
        assert_eq!(total() - before, 2);
        // Past the owned lines, threads share one and still count exactly.
        let threads: Vec<_> = (0..LINES + 8)
            .map(|_| std::thread::spawn(|| (0..1000).for_each(|_| count_one())))
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(total() - before, 2 + (LINES as u64 + 8) * 1000);
        mark_ready();
        count_one();
        let counted = counters().expect("counted above");
        assert!(counted.allocations >= before + 3);
        assert_eq!(counted.allocations_after_ready, 1);
    }
}
