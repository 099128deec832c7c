//! One direction of a TCP flow: segments in capture order in, chunks in
//! stream order out, each at its offset from the initial sequence number.
//!
//! Guarantees:
//! - Chunks come out in offset order and never overlap: retransmitted bytes
//!   are trimmed or dropped (counted).
//! - A segment that arrives ahead of a hole is held until the hole fills.
//!   Held bytes are bounded; when the bound is hit, or the flow ends, the
//!   hole is given up: it comes out as an empty chunk covering the missing
//!   bytes, which the reassembler reports as a gap. Bytes the capture lacks
//!   are never closed up or reordered.
//! - Bytes cut by the snapshot length keep their place: the chunk says how
//!   long the segment was and carries the captured prefix.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::ReplayCounters;

/// A piece of the direction's byte stream, ready to become a data event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Offset of the chunk's first byte from the start of the stream.
    pub offset: u64,
    /// Bytes the chunk spans in the stream.
    pub len: u64,
    /// The captured prefix of those bytes; shorter than `len` (or empty)
    /// when the capture lacks the rest.
    pub data: Bytes,
}

/// A segment held until the bytes before it arrive.
#[derive(Debug)]
struct Held {
    len: u64,
    data: Bytes,
}

#[derive(Debug, Default)]
pub struct SeqStream {
    /// Sequence number of stream offset 0.
    base: Option<u32>,
    /// Offset of the next byte to emit.
    next: u64,
    held: BTreeMap<u64, Held>,
    held_bytes: usize,
    /// Offset just past the last byte, once a FIN says where that is.
    fin_end: Option<u64>,
}

impl SeqStream {
    /// Fixes offset 0 to `seq` unless a base is already known (a SYN sets
    /// it to its sequence number plus one).
    pub fn set_base(&mut self, seq: u32) {
        self.base.get_or_insert(seq);
    }

    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// True once a FIN was seen and every byte before it was emitted.
    pub fn complete(&self) -> bool {
        self.fin_end.is_some_and(|end| self.next >= end) && self.held.is_empty()
    }

    /// True when `seq` cannot belong to this stream's connection: a SYN
    /// with another initial sequence number starts a new one.
    pub fn is_other_start(&self, syn_seq: u32) -> bool {
        self.base
            .is_some_and(|base| base != syn_seq.wrapping_add(1))
    }

    /// Takes one segment: `len` bytes at sequence number `seq`, of which
    /// `data` is the captured prefix. `max_held` bounds the bytes held
    /// ahead of a hole.
    pub fn push(
        &mut self,
        seq: u32,
        len: u32,
        data: &[u8],
        max_held: usize,
        counters: &mut ReplayCounters,
        out: &mut impl FnMut(Chunk),
    ) {
        // A flow joined mid-stream starts at the first byte we see.
        self.set_base(seq);
        let Some(start) = self.offset_of(seq) else {
            counters.segments_before_start += 1;
            return;
        };
        let len = u64::from(len);
        let end = start + len;
        if len == 0 {
            return;
        }
        if end <= self.next {
            counters.retransmitted_segments += 1;
            return;
        }
        let data = Bytes::copy_from_slice(data);
        if start > self.next {
            counters.out_of_order_segments += 1;
            self.hold(start, len, data);
            while self.held_bytes > max_held {
                self.give_up_first_hole(counters, out);
            }
            return;
        }
        self.emit(start, len, data, counters, out);
        self.release(counters, out);
    }

    /// Records a FIN on a segment of `len` bytes at `seq`: the direction
    /// ends after it.
    pub fn fin(&mut self, seq: u32, len: u32) {
        self.set_base(seq);
        if let Some(start) = self.offset_of(seq) {
            self.fin_end.get_or_insert(start + u64::from(len));
        }
    }

    /// Gives up on every hole: emits what is held, in order, with the
    /// missing bytes as empty chunks, then the bytes missing before a FIN.
    /// For the end of a flow, and when the flows together hold too much.
    pub fn flush(&mut self, counters: &mut ReplayCounters, out: &mut impl FnMut(Chunk)) {
        while !self.held.is_empty() {
            self.give_up_first_hole(counters, out);
        }
        if let Some(end) = self.fin_end {
            self.skip_to(end, counters, out);
        }
    }

    /// Stream offset of `seq`: sequence numbers wrap at 2^32, offsets do
    /// not, so `seq` is placed at the offset nearest to `next` with those
    /// low 32 bits. `None` for bytes before the stream's start.
    fn offset_of(&self, seq: u32) -> Option<u64> {
        let relative = seq.wrapping_sub(self.base?);
        let delta = i64::from(relative.wrapping_sub(self.next as u32) as i32);
        u64::try_from(self.next as i64 + delta).ok()
    }

    fn hold(&mut self, start: u64, len: u64, data: Bytes) {
        // Of two segments at one offset keep the longer (a retransmission
        // may carry more than the original).
        if self.held.get(&start).is_some_and(|h| h.len >= len) {
            return;
        }
        self.held_bytes += data.len();
        if let Some(old) = self.held.insert(start, Held { len, data }) {
            self.held_bytes -= old.data.len();
        }
    }

    fn give_up_first_hole(&mut self, counters: &mut ReplayCounters, out: &mut impl FnMut(Chunk)) {
        if let Some((&start, _)) = self.held.first_key_value() {
            self.skip_to(start, counters, out);
            self.release(counters, out);
        }
    }

    /// Emits held segments that now follow on.
    fn release(&mut self, counters: &mut ReplayCounters, out: &mut impl FnMut(Chunk)) {
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() > self.next {
                break;
            }
            let (start, held) = entry.remove_entry();
            self.held_bytes -= held.data.len();
            if start + held.len <= self.next {
                counters.retransmitted_segments += 1;
                continue;
            }
            self.emit(start, held.len, held.data, counters, out);
        }
    }

    /// Emits a segment starting at or before `next`, without the bytes
    /// already emitted.
    fn emit(
        &mut self,
        start: u64,
        len: u64,
        data: Bytes,
        counters: &mut ReplayCounters,
        out: &mut impl FnMut(Chunk),
    ) {
        let old = self.next - start;
        counters.overlap_bytes += old;
        let captured_from = (old as usize).min(data.len());
        out(Chunk {
            offset: self.next,
            len: len - old,
            data: data.slice(captured_from..),
        });
        self.next = start + len;
    }

    /// Declares the bytes up to `to` missing.
    fn skip_to(&mut self, to: u64, counters: &mut ReplayCounters, out: &mut impl FnMut(Chunk)) {
        if to <= self.next {
            return;
        }
        counters.holes += 1;
        counters.hole_bytes += to - self.next;
        out(Chunk {
            offset: self.next,
            len: to - self.next,
            data: Bytes::new(),
        });
        self.next = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISN: u32 = 1000;

    /// Pushes (seq offset from ISN, bytes) segments and describes the
    /// chunks as "offset:text" or "offset:-len" for a hole.
    fn run(
        segments: &[(u32, &str)],
        max_held: usize,
        flush: bool,
    ) -> (Vec<String>, ReplayCounters) {
        let mut stream = SeqStream::default();
        stream.set_base(ISN);
        let mut counters = ReplayCounters::default();
        let mut seen = Vec::new();
        let mut out = |c: Chunk| {
            seen.push(if c.data.is_empty() {
                format!("{}:-{}", c.offset, c.len)
            } else {
                format!("{}:{}", c.offset, String::from_utf8_lossy(&c.data))
            })
        };
        for (rel, text) in segments {
            let seq = ISN.wrapping_add(*rel);
            stream.push(
                seq,
                text.len() as u32,
                text.as_bytes(),
                max_held,
                &mut counters,
                &mut out,
            );
        }
        if flush {
            stream.flush(&mut counters, &mut out);
        }
        (seen, counters)
    }

    #[test]
    fn ordering_cases() {
        let big = usize::MAX;
        for (name, segments, max_held, flush, expected) in [
            (
                "in order",
                &[(0, "GET "), (4, "/ ")][..],
                big,
                false,
                &["0:GET ", "4:/ "][..],
            ),
            (
                "out of order",
                &[(4, "/ "), (0, "GET ")],
                big,
                false,
                &["0:GET ", "4:/ "],
            ),
            (
                "retransmit dropped",
                &[(0, "GET "), (0, "GET "), (4, "/")],
                big,
                false,
                &["0:GET ", "4:/"],
            ),
            (
                "overlap trimmed",
                &[(0, "GET "), (2, "T /x")],
                big,
                false,
                &["0:GET ", "4:/x"],
            ),
            ("hole waits", &[(0, "ab"), (4, "ef")], big, false, &["0:ab"]),
            (
                "hole filled",
                &[(0, "ab"), (4, "ef"), (2, "cd")],
                big,
                false,
                &["0:ab", "2:cd", "4:ef"],
            ),
            (
                "hole given up at flush",
                &[(0, "ab"), (4, "ef")],
                big,
                true,
                &["0:ab", "2:-2", "4:ef"],
            ),
            (
                "hole given up at bound",
                &[(0, "ab"), (4, "ef"), (8, "ij")],
                1,
                false,
                &["0:ab", "2:-2", "4:ef", "6:-2", "8:ij"],
            ),
            (
                "late bytes after a given-up hole",
                &[(0, "ab"), (4, "ef"), (8, "ij"), (2, "cd")],
                1,
                false,
                &["0:ab", "2:-2", "4:ef", "6:-2", "8:ij"],
            ),
        ] {
            let (seen, _) = run(segments, max_held, flush);
            assert_eq!(seen, expected, "{name}");
        }
    }

    #[test]
    fn counters_tell_what_was_dropped() {
        let (seen, c) = run(
            &[(0, "ab"), (0, "ab"), (2, "cd"), (6, "gh"), (1, "bcd")],
            1,
            false,
        );
        assert_eq!(seen, ["0:ab", "2:cd", "4:-2", "6:gh"]);
        assert_eq!(c.retransmitted_segments, 2);
        assert_eq!(c.out_of_order_segments, 1);
        assert_eq!((c.holes, c.hole_bytes), (1, 2));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut stream = SeqStream::default();
        stream.set_base(u32::MAX - 1);
        let mut counters = ReplayCounters::default();
        let mut seen = Vec::new();
        for (seq, text) in [(u32::MAX - 1, "abc"), (1, "de")] {
            stream.push(
                seq,
                text.len() as u32,
                text.as_bytes(),
                1 << 20,
                &mut counters,
                &mut |c| seen.push((c.offset, c.data)),
            );
        }
        assert_eq!(seen, [(0, Bytes::from("abc")), (3, Bytes::from("de"))]);
    }

    #[test]
    fn snaplen_cut_segment_keeps_its_length_and_fin_marks_the_end() {
        let mut stream = SeqStream::default();
        let mut counters = ReplayCounters::default();
        let mut seen = Vec::new();
        let mut out = |c: Chunk| seen.push((c.offset, c.len, c.data.len()));
        stream.push(5, 100, &[b'x'; 40], 1 << 20, &mut counters, &mut out);
        stream.fin(105, 0);
        assert!(stream.complete());
        // Bytes before a FIN that never arrived become a hole at flush.
        let mut other = SeqStream::default();
        other.push(0, 10, &[b'y'; 10], 1 << 20, &mut counters, &mut out);
        other.fin(30, 0);
        assert!(!other.complete());
        other.flush(&mut counters, &mut out);
        assert!(other.complete());
        assert_eq!(seen, [(0, 100, 40), (0, 10, 10), (10, 20, 0)]);
    }

    #[test]
    fn bytes_before_the_start_are_counted() {
        let (seen, c) = run(&[(0, "ab"), (u32::MAX - 3, "zz")], 100, false);
        assert_eq!(seen, ["0:ab"]);
        assert_eq!(c.segments_before_start, 1);
    }
}
