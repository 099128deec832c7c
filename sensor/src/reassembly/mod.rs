//! Reassembly: turns the kernel's data chunks for one direction of one
//! connection into an ordered byte stream of `Segment`s.
//!
//! Guarantees, for every `StreamReassembler`:
//! - Segments are emitted in stream order and never overlap: each byte
//!   offset after the stream start is reported exactly once, either inside a
//!   `Data` segment or counted by a `Gap`.
//! - The first chunk seen fixes the stream start (a connection discovered
//!   mid-stream starts wherever we joined it); bytes before it are not a gap.
//! - Bytes the kernel says a syscall moved but did not capture (capture
//!   limit, sendfile, ring buffer full) become a `Gap` as soon as they are
//!   known to be missing: when a later chunk starts past them, when a
//!   zero-byte chunk says nothing of its syscall was captured, or on
//!   `flush_tail`.
//! - Chunks that start before the expected offset (duplicates, reordering)
//!   are trimmed to their new bytes or dropped, and counted; the stream never
//!   goes backwards, so a byte reported as a gap stays a gap.
//! - Constant memory: nothing is buffered; `Data` borrows the chunk.

/// One data event of one direction, as the kernel described it.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// Offset of `data[0]` in this direction's byte stream.
    pub stream_offset: u64,
    /// The captured bytes (possibly empty: the syscall's bytes went by
    /// without being copied).
    pub data: &'a [u8],
    /// Offset of the first byte the syscall moved.
    pub syscall_offset: u64,
    /// Bytes the syscall really moved; only a prefix may have been captured.
    pub syscall_len: u64,
}

/// A piece of the ordered stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Bytes that follow the previous segment directly.
    Data(&'a [u8]),
    /// This many bytes followed the previous segment but were not captured.
    Gap(u64),
}

/// What one stream saw and dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReassemblyCounters {
    /// Chunks pushed.
    pub chunks: u64,
    /// New bytes emitted as `Data`.
    pub data_bytes: u64,
    /// `Gap` segments emitted.
    pub gaps: u64,
    /// Bytes reported missing by those gaps.
    pub gap_bytes: u64,
    /// Chunks that started before the expected offset (out of order or
    /// duplicated): trimmed to their new bytes, or dropped when all old.
    pub late_chunks: u64,
    /// Bytes trimmed from those chunks because they were already emitted
    /// (or already reported as a gap).
    pub overlap_bytes: u64,
}

impl ReassemblyCounters {
    /// Adds a finished stream's counters to a running total.
    pub fn add(&mut self, other: &Self) {
        self.chunks += other.chunks;
        self.data_bytes += other.data_bytes;
        self.gaps += other.gaps;
        self.gap_bytes += other.gap_bytes;
        self.late_chunks += other.late_chunks;
        self.overlap_bytes += other.overlap_bytes;
    }
}

/// Orders the chunks of one direction of one connection.
#[derive(Debug, Default)]
pub struct StreamReassembler {
    /// Offset of the next byte to emit; `None` until the first chunk.
    next: Option<u64>,
    /// End of the furthest syscall seen: bytes up to here were moved by the
    /// kernel, whether or not they were captured.
    transferred_end: u64,
    counters: ReassemblyCounters,
}

impl StreamReassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts one chunk and emits the segments it makes known, in order.
    pub fn push(&mut self, chunk: Chunk<'_>, out: &mut impl FnMut(Segment<'_>)) {
        self.counters.chunks += 1;
        let start = chunk.stream_offset;
        let end = start.saturating_add(chunk.data.len() as u64);
        let syscall_end = chunk.syscall_offset.saturating_add(chunk.syscall_len);
        let next = *self.next.get_or_insert(start);
        self.transferred_end = self.transferred_end.max(syscall_end);

        if start > next {
            // Everything between the expected offset and this chunk went by
            // uncaptured: the tail of an earlier syscall or lost events.
            self.gap_to(start, out);
        } else if start < next {
            self.counters.late_chunks += 1;
            let old = (next - start).min(chunk.data.len() as u64);
            self.counters.overlap_bytes += old;
        }
        let next = self.next.unwrap_or(start);
        if end > next {
            // `end - next` <= data.len(), so the index is in bounds.
            let fresh = &chunk.data[chunk.data.len() - (end - next) as usize..];
            self.counters.data_bytes += fresh.len() as u64;
            self.next = Some(end);
            out(Segment::Data(fresh));
        }
        if chunk.data.is_empty() {
            // The kernel sends an empty chunk only when it captured nothing
            // of the syscall, so the whole syscall is known missing now.
            self.gap_to(syscall_end, out);
        }
    }

    /// Emits as a gap every byte the kernel reported moved but that was not
    /// captured, up to the end of the furthest syscall. For a close or idle
    /// timeout, so a body delimited by the connection close can complete.
    pub fn flush_tail(&mut self, out: &mut impl FnMut(Segment<'_>)) {
        self.gap_to(self.transferred_end, out);
    }

    /// Offset of the next byte expected, once the stream has started.
    pub fn next_offset(&self) -> Option<u64> {
        self.next
    }

    pub fn counters(&self) -> &ReassemblyCounters {
        &self.counters
    }

    fn gap_to(&mut self, to: u64, out: &mut impl FnMut(Segment<'_>)) {
        let Some(next) = self.next else { return };
        if to > next {
            self.counters.gaps += 1;
            self.counters.gap_bytes += to - next;
            self.next = Some(to);
            out(Segment::Gap(to - next));
        }
    }
}

#[cfg(test)]
mod tests;
