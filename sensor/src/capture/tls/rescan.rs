//! When to look at a new program's mappings. The exec event arrives before
//! the dynamic loader has mapped the libraries, so a process is looked at
//! several times: soon after the exec, when its shared libraries are in
//! place, and later for libraries it loads itself (`dlopen`, Python's
//! `import ssl`). The queue is bounded; what does not fit is counted.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Delays after the exec at which a process is scanned.
pub const SCAN_DELAYS: [Duration; 3] = [
    Duration::from_millis(20),
    Duration::from_millis(300),
    Duration::from_secs(3),
];

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Scan {
    due: Instant,
    pid: u32,
    /// Index into `SCAN_DELAYS`.
    step: usize,
    started: Instant,
}

#[derive(Debug)]
pub struct RescanQueue {
    heap: BinaryHeap<Reverse<Scan>>,
    capacity: usize,
}

impl RescanQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            heap: BinaryHeap::new(),
            capacity,
        }
    }

    /// Process `pid` executed a new program at `now`. False when the queue
    /// is full and the process will not be looked at.
    pub fn exec(&mut self, pid: u32, now: Instant) -> bool {
        if self.heap.len() >= self.capacity {
            return false;
        }
        self.heap.push(Reverse(Scan {
            due: now + SCAN_DELAYS[0],
            pid,
            step: 0,
            started: now,
        }));
        true
    }

    /// The processes due for a scan at `now`, at most `max` (the rest wait
    /// for the next call); each is queued again for its next scan.
    pub fn due(&mut self, now: Instant, max: usize) -> Vec<u32> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.heap.peek() {
                Some(Reverse(scan)) if scan.due <= now => {}
                _ => break,
            }
            let Some(Reverse(scan)) = self.heap.pop() else {
                break;
            };
            out.push(scan.pid);
            if let Some(delay) = SCAN_DELAYS.get(scan.step + 1) {
                self.heap.push(Reverse(Scan {
                    due: scan.started + *delay,
                    step: scan.step + 1,
                    ..scan
                }));
            }
        }
        out
    }

    /// When the next scan is due, if any is queued.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(scan)| scan.due)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_exec_is_scanned_at_every_delay_then_forgotten() {
        let t0 = Instant::now();
        let mut q = RescanQueue::new(16);
        assert!(q.exec(7, t0));
        assert!(q.exec(8, t0 + Duration::from_millis(100)));
        assert_eq!(q.due(t0, 10), Vec::<u32>::new());
        assert_eq!(q.next_due(), Some(t0 + SCAN_DELAYS[0]));
        assert_eq!(q.due(t0 + Duration::from_millis(30), 10), vec![7]);
        assert_eq!(q.due(t0 + Duration::from_millis(150), 10), vec![8]);
        assert_eq!(q.due(t0 + Duration::from_millis(410), 10), vec![7, 8]);
        assert_eq!(q.due(t0 + Duration::from_secs(4), 10), vec![7, 8]);
        assert_eq!((q.len(), q.next_due()), (0, None));
        assert_eq!(q.due(t0 + Duration::from_secs(60), 10), Vec::<u32>::new());
    }

    #[test]
    fn bounded_in_size_and_work_per_call() {
        let t0 = Instant::now();
        let mut q = RescanQueue::new(3);
        let queued: Vec<bool> = (1..=5).map(|pid| q.exec(pid, t0)).collect();
        assert_eq!(queued, [true, true, true, false, false]);
        assert_eq!(q.len(), 3);
        let later = t0 + Duration::from_millis(30);
        assert_eq!(q.due(later, 2).len(), 2);
        assert_eq!(q.due(later, 2).len(), 1);
        assert_eq!(q.len(), 3, "each is waiting for its next scan");
    }
}
