//! The agent's end of the kernel's ring buffer (`EVENTS`), mapped once.
//!
//! The kernel maps a ring buffer's data pages twice in a row, so that a
//! record running past the end reads on contiguously, and a consumer that
//! maps the whole area (libbpf, aya's `RingBuf`) gets every page inserted
//! twice: a 16 MiB ring costs 32 MiB of the sensor's resident memory from
//! the moment it is mapped. This reader maps the data pages once and copies
//! the rare record that wraps around the end into a scratch buffer.
//!
//! The protocol is the kernel's (kernel/bpf/ringbuf.c): a consumer page the
//! agent writes, a producer page the kernel writes, then the data. Each
//! record starts with an 8-byte header (a 32-bit length whose top two bits
//! say busy and discarded, and the record's page offset) and is padded to
//! 8 bytes. The kernel wakes a waiting reader (epoll on the map's fd) when
//! a record is committed with `BPF_RB_FORCE_WAKEUP`, or without flags when
//! the reader had caught up.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use aya::maps::MapData;

/// The kernel is still writing the record.
const BUSY_BIT: u32 = 1 << 31;
/// The program discarded the record: skip it.
const DISCARD_BIT: u32 = 1 << 30;
/// Bytes of a record's header.
const HEADER_BYTES: u64 = 8;

#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error("the object's `EVENTS` map is not a ring buffer")]
    NotARing,
    #[error("reading the ring buffer's size: {0}")]
    Info(#[from] aya::maps::MapError),
    #[error("the ring buffer's size {0} is not a power of two")]
    Size(u32),
    #[error("mapping the ring buffer's {what}: {source}")]
    Map {
        what: &'static str,
        source: std::io::Error,
    },
}

/// One shared mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(
        fd: RawFd,
        len: usize,
        prot: i32,
        offset: usize,
        what: &'static str,
    ) -> Result<Self, RingError> {
        // SAFETY: a fresh shared mapping of the map's fd; the kernel checks
        // the offset and length against the ring's pages.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd,
                offset as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(RingError::Map {
                what,
                source: std::io::Error::last_os_error(),
            });
        }
        let ptr = NonNull::new(ptr.cast()).ok_or(RingError::Map {
            what,
            source: std::io::Error::other("mmap returned null"),
        })?;
        Ok(Self { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing borrows it past `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The consumer side of a `BPF_MAP_TYPE_RINGBUF`.
pub struct Ring {
    // The mappings before the map: unmapped before its fd closes.
    consumer: Mapping,
    /// The producer page, then the data pages once.
    producer: Mapping,
    map: MapData,
    page: usize,
    /// Data bytes (a power of two).
    size: u64,
    /// Where the next record starts (ever-growing, like the kernel's).
    pos: u64,
    /// The producer position last read.
    producer_pos: u64,
    /// A record that wrapped around the end, made contiguous.
    scratch: Vec<u8>,
}

// SAFETY: the mappings are owned and only read or written through
// `&mut self` (the kernel writes its side concurrently, which the atomics
// order), so moving the reader to another thread is sound.
unsafe impl Send for Ring {}

impl Ring {
    pub fn new(map: MapData) -> Result<Self, RingError> {
        let size = map.info()?.max_entries();
        if !size.is_power_of_two() {
            return Err(RingError::Size(size));
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let fd = map.fd().as_fd().as_raw_fd();
        let consumer = Mapping::new(
            fd,
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            0,
            "consumer page",
        )?;
        let producer = Mapping::new(
            fd,
            page + size as usize,
            libc::PROT_READ,
            page,
            "data pages",
        )?;
        let mut ring = Self {
            consumer,
            producer,
            map,
            page,
            size: u64::from(size),
            pos: 0,
            producer_pos: 0,
            scratch: Vec::new(),
        };
        ring.pos = ring.consumer_pos().load(Ordering::Acquire);
        ring.producer_pos = ring.producer_pos().load(Ordering::Acquire);
        Ok(ring)
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: the consumer page is mapped read-write for our lifetime
        // and starts with the 8-byte aligned position.
        unsafe { &*self.consumer.ptr.as_ptr().cast::<AtomicU64>() }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: as above, the producer page starts with its position.
        unsafe { &*self.producer.ptr.as_ptr().cast::<AtomicU64>() }
    }

    /// The next committed record, or None when the ring holds no more (or
    /// the next one is still being written). The record is handed back to
    /// the kernel when the returned value drops.
    pub fn next_record(&mut self) -> Option<Record<'_>> {
        let (start, len, next) = self.next_committed()?;
        let data = data_pages(&self.producer, self.page, self.size);
        Some(Record {
            bytes: contiguous(data, start, len, &mut self.scratch),
            next,
            pos: &mut self.pos,
            consumer: consumer_ref(&self.consumer),
        })
    }

    /// Where the next committed record's bytes start in the data, their
    /// length and the position after the record; discarded records are
    /// skipped (handed back) on the way.
    fn next_committed(&mut self) -> Option<(usize, usize, u64)> {
        loop {
            if self.pos == self.producer_pos {
                // Our last consumption must be visible to the kernel
                // before we look again, or it could skip waking us.
                fence(Ordering::SeqCst);
                self.producer_pos = self.producer_pos().load(Ordering::Acquire);
                if self.pos == self.producer_pos {
                    return None;
                }
            }
            let data = data_pages(&self.producer, self.page, self.size);
            let offset = (self.pos & (self.size - 1)) as usize;
            // SAFETY: records and the data area are 8-byte aligned, so the
            // header never crosses the end.
            let header = unsafe { &*data.as_ptr().add(offset).cast::<AtomicU32>() };
            let word = header.load(Ordering::Acquire);
            if word & BUSY_BIT != 0 {
                return None;
            }
            let len = word & !(BUSY_BIT | DISCARD_BIT);
            let next = self.pos + (HEADER_BYTES + u64::from(len)).next_multiple_of(8);
            if word & DISCARD_BIT != 0 || len == 0 {
                self.consume(next);
                continue;
            }
            // The kernel never reserves a record as large as the ring; the
            // clamp only keeps a corrupt length from reading out of bounds
            // (the record then fails to decode, and is counted).
            let len = u64::from(len).min(self.size - HEADER_BYTES) as usize;
            return Some((offset + HEADER_BYTES as usize, len, next));
        }
    }

    fn consume(&mut self, next: u64) {
        self.pos = next;
        self.consumer_pos().store(next, Ordering::Release);
    }
}

/// The data pages, which follow the producer page in its mapping. The
/// kernel writes records concurrently, but only past what it has published
/// as committed (a header's busy bit, read with acquire ordering before
/// the record's bytes).
fn data_pages(producer: &Mapping, page: usize, size: u64) -> &[u8] {
    // SAFETY: the mapping is `page + size` bytes long and lives as long as
    // the borrow.
    unsafe { std::slice::from_raw_parts(producer.ptr.as_ptr().add(page), size as usize) }
}

fn consumer_ref(mapping: &Mapping) -> &AtomicU64 {
    // SAFETY: see `Ring::consumer_pos`.
    unsafe { &*mapping.ptr.as_ptr().cast::<AtomicU64>() }
}

/// `len` bytes of the ring's data from `start` (which may be at or past the
/// end, and may run past it): borrowed when they do not wrap, else copied
/// into `scratch`.
fn contiguous<'a>(data: &'a [u8], start: usize, len: usize, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let size = data.len();
    let start = start % size;
    if start + len <= size {
        return &data[start..start + len];
    }
    let first = size - start;
    scratch.clear();
    scratch.extend_from_slice(&data[start..]);
    scratch.extend_from_slice(&data[..len - first]);
    scratch
}

impl AsRawFd for Ring {
    fn as_raw_fd(&self) -> RawFd {
        self.map.fd().as_fd().as_raw_fd()
    }
}

/// One record, borrowed from the ring (or its scratch copy).
pub struct Record<'a> {
    bytes: &'a [u8],
    next: u64,
    pos: &'a mut u64,
    consumer: &'a AtomicU64,
}

impl std::ops::Deref for Record<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl Drop for Record<'_> {
    /// Hands the record's space back to the kernel.
    fn drop(&mut self) {
        *self.pos = self.next;
        self.consumer.store(self.next, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::contiguous;

    #[test]
    fn a_record_inside_the_data_is_borrowed() {
        let data: Vec<u8> = (0..64).collect();
        let mut scratch = Vec::new();
        assert_eq!(contiguous(&data, 8, 4, &mut scratch), &[8, 9, 10, 11]);
        assert!(scratch.is_empty());
        assert_eq!(contiguous(&data, 60, 4, &mut scratch), &[60, 61, 62, 63]);
    }

    #[test]
    fn a_record_running_past_the_end_continues_at_the_start() {
        let data: Vec<u8> = (0..64).collect();
        let mut scratch = Vec::new();
        assert_eq!(contiguous(&data, 62, 5, &mut scratch), &[62, 63, 0, 1, 2]);
    }

    #[test]
    fn a_record_whose_header_ends_the_data_starts_at_the_beginning() {
        // Header in the last 8 bytes: the payload begins at offset 0.
        let data: Vec<u8> = (0..64).collect();
        let mut scratch = Vec::new();
        assert_eq!(contiguous(&data, 64, 3, &mut scratch), &[0, 1, 2]);
    }
}
