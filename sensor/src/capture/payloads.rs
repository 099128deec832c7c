//! `Payloads`: where the bytes of decoded data records live once their
//! ring buffer record is handed back to the kernel.
//!
//! Copying each payload into an allocation of its own cost two allocations
//! per record (the copy, then the shared header `Bytes` makes when the
//! first slice of it is kept), and glibc consolidating its fast bins on
//! the larger of them. Small payloads are instead copied one after another
//! into a shared chunk and handed out as slices of it: a new chunk is
//! allocated every few exchanges, and none at all while every slice of the
//! last one has been dropped (the chunk is reused in place).
//!
//! What a kept slice costs: it keeps its whole chunk alive, so a payload
//! held (a request waiting for its response) may pin up to `CHUNK_BYTES`.
//! The chunk is no larger than one full record (16 KiB), which a payload
//! copied on its own could pin as well; payloads over half a chunk get
//! their own allocation.

use bytes::{Bytes, BytesMut};

/// Bytes per shared chunk.
const CHUNK_BYTES: usize = 8 << 10;
/// Larger payloads are copied on their own: they would fill most of a
/// chunk anyway, and a chunk must not pin much more than its slices.
const SHARED_MAX: usize = CHUNK_BYTES / 2;

/// Copies of record payloads, made to be kept as `Bytes` slices.
#[derive(Default)]
pub struct Payloads {
    /// The free part of the current chunk (empty: every byte before it has
    /// been handed out).
    chunk: BytesMut,
}

impl Payloads {
    pub fn new() -> Self {
        Self::default()
    }

    /// `payload` copied out of its record.
    pub fn copy(&mut self, payload: &[u8]) -> Bytes {
        if payload.len() > SHARED_MAX {
            return Bytes::copy_from_slice(payload);
        }
        if self.chunk.capacity() < payload.len() {
            // Reuses the chunk in place when no slice of it is alive, else
            // starts a new one.
            self.chunk.reserve(CHUNK_BYTES);
        }
        self.chunk.extend_from_slice(payload);
        self.chunk.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payloads_share_a_chunk_and_keep_their_bytes() {
        let mut payloads = Payloads::new();
        let a = payloads.copy(b"GET / HTTP/1.1\r\n\r\n");
        let b = payloads.copy(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(&a[..], b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(&b[..], b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            a.as_ptr().wrapping_add(a.len()),
            b.as_ptr(),
            "one after the other in one chunk"
        );
        assert!(payloads.copy(b"").is_empty());
    }

    #[test]
    fn a_full_chunk_is_reused_only_once_nothing_holds_it() {
        let mut payloads = Payloads::new();
        let piece = [7u8; SHARED_MAX];
        let first = payloads.copy(&piece);
        let start = first.as_ptr();
        let held = payloads.copy(&piece);
        // The chunk is full and `held` is alive: a new chunk.
        let next = payloads.copy(&piece);
        assert_ne!(next.as_ptr(), start);
        assert_eq!(&held[..], &piece[..]);
        drop((first, held));
        let again = payloads.copy(&piece);
        // `next`'s chunk is still held, so the new slice follows it; once
        // it and `again` are dropped, that chunk is reused from its start.
        assert_eq!(again.as_ptr(), next.as_ptr().wrapping_add(SHARED_MAX));
        let reused_start = next.as_ptr();
        drop((next, again));
        let reused = payloads.copy(&piece);
        assert_eq!(reused.as_ptr(), reused_start, "reused in place");
        assert_eq!(&reused[..], &piece[..]);
    }

    #[test]
    fn large_payloads_are_copied_on_their_own() {
        let mut payloads = Payloads::new();
        let small = payloads.copy(b"x");
        let large = payloads.copy(&[1u8; SHARED_MAX + 1]);
        assert_eq!(large.len(), SHARED_MAX + 1);
        assert!(large.iter().all(|&b| b == 1));
        let after = payloads.copy(b"y");
        assert_eq!(after.as_ptr(), small.as_ptr().wrapping_add(1));
    }
}
