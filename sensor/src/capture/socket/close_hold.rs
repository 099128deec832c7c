//! Socket mode reports a close when the socket's state becomes CLOSE, and
//! a reset can do that in the middle of a send: the kernel then reports
//! the close first and the send's bytes a few microseconds later (see
//! sensor-ebpf's `maps::CLOSED`). The agent holds each close back for a
//! moment, so the bytes of that last send reach the connection before it
//! is finished.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::capture::CaptureEvent;

/// Longer than a few ring buffer polls (10 ms each): the late bytes are
/// queued microseconds after the close.
pub const HOLD: Duration = Duration::from_millis(50);

#[derive(Default)]
pub struct CloseHold {
    held: VecDeque<(Instant, CaptureEvent)>,
}

impl CloseHold {
    /// Closes are held; every other event goes straight out.
    pub fn route(&mut self, event: CaptureEvent, now: Instant, out: &mut Vec<CaptureEvent>) {
        match event {
            CaptureEvent::Close { .. } => self.held.push_back((now, event)),
            other => out.push(other),
        }
    }

    /// Releases the closes held for `HOLD` by `now`, or every one (None).
    pub fn release(&mut self, now: Option<Instant>, out: &mut Vec<CaptureEvent>) {
        while let Some((since, _)) = self.held.front() {
            if now.is_some_and(|now| now.duration_since(*since) < HOLD) {
                break;
            }
            if let Some((_, event)) = self.held.pop_front() {
                out.push(event);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{ConnId, Direction};

    const CONN: ConnId = ConnId {
        pid: 1,
        fd: 3,
        generation: 9,
    };

    fn data() -> CaptureEvent {
        CaptureEvent::Data {
            conn: CONN,
            ts_ns: 2,
            direction: Direction::Egress,
            stream_offset: 0,
            syscall_offset: 0,
            syscall_len: 1,
            data: bytes::Bytes::from_static(b"x"),
            tls: false,
        }
    }

    #[test]
    fn a_late_send_goes_out_before_the_close() {
        let mut hold = CloseHold::default();
        let mut out = Vec::new();
        let t0 = Instant::now();
        hold.route(
            CaptureEvent::Close {
                conn: CONN,
                ts_ns: 1,
            },
            t0,
            &mut out,
        );
        hold.route(data(), t0, &mut out);
        hold.release(Some(t0 + Duration::from_millis(10)), &mut out);
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0], CaptureEvent::Data { .. }));
        hold.release(Some(t0 + HOLD), &mut out);
        assert!(matches!(out[1], CaptureEvent::Close { .. }));
        assert!(hold.is_empty());
    }

    #[test]
    fn shutdown_releases_everything() {
        let mut hold = CloseHold::default();
        let mut out = Vec::new();
        hold.route(
            CaptureEvent::Close {
                conn: CONN,
                ts_ns: 1,
            },
            Instant::now(),
            &mut out,
        );
        assert_eq!(hold.len(), 1);
        hold.release(None, &mut out);
        assert_eq!(out.len(), 1);
    }
}
