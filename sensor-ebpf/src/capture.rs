//! Copies the bytes a syscall moved into ring buffer events: at most the
//! configured limit per syscall, in `CHUNK_SIZE` pieces, each stamped with
//! its stream offset so the agent knows exactly which bytes it missed.
//! The buffers of a vectored write (a server's headers and body in one
//! `writev`) are packed into the same pieces: one event, not one per
//! buffer.

use core::ffi::c_void;

use aya_ebpf::helpers::generated::{bpf_loop, bpf_probe_read_user};
use sensor_common::{
    counter, DataEvent, DirectionRun, EventHeader, BULK_RUN_BYTES, CHUNK_SIZE, DATA_HEADER_LEN,
    MAX_CAPTURE_LIMIT, MAX_LOOP_STEPS,
};

use crate::maps::{self, APPEND_BELOW, EVENTS, SCRATCH, WALK};

/// Where the syscall's bytes are in user memory.
#[derive(Clone, Copy)]
pub enum Source {
    /// One contiguous buffer.
    Buffer(u64),
    /// An iovec array and its length.
    Iovec(u64, u64),
    /// Nothing to copy (sendfile): only the offsets advance.
    Uncopyable,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Iovec {
    base: u64,
    len: u64,
}

/// Reads the first bytes of the syscall's data, for sniffing.
#[inline(always)]
pub fn first_bytes(source: Source) -> [u8; 8] {
    let mut out = [0u8; 8];
    let ptr = match source {
        Source::Buffer(ptr) => ptr,
        Source::Iovec(iov, count) if count > 0 => match read_iovec(iov, 0) {
            Some(v) => v.base,
            None => return out,
        },
        _ => return out,
    };
    // SAFETY: helper copies from user memory and fails cleanly on faults.
    let _ = unsafe { aya_ebpf::helpers::bpf_probe_read_user_buf(ptr as *const u8, &mut out) };
    out
}

#[inline(always)]
fn read_iovec(iov: u64, index: u64) -> Option<Iovec> {
    // SAFETY: user pointer read through the fault-safe helper.
    unsafe { aya_ebpf::helpers::bpf_probe_read_user((iov + index * 16) as *const Iovec) }.ok()
}

/// Emits the events for one syscall that moved `moved` bytes in `direction`
/// on a capturing connection, then advances that direction's offset.
/// `header` names the connection (its `direction` is set here). While the
/// ring buffer is filling, bytes deep in one direction's run (`run`) are
/// only counted: the agent sees them as a gap of their exact size.
#[inline(always)]
pub fn capture(
    header: EventHeader,
    offsets: &mut [u64; 2],
    run: &mut DirectionRun,
    direction: u8,
    source: Source,
    moved: u64,
) {
    let dir = (direction & 1) as usize;
    let syscall_offset = offsets[dir];
    offsets[dir] = syscall_offset + moved;
    if run.dir != direction {
        run.dir = direction;
        run.start = syscall_offset;
    }
    // Saturating: a stream restarted (TLS plaintext from offset 0) with a
    // run left from before must never look deep into a run.
    let shed =
        syscall_offset.saturating_sub(run.start) >= BULK_RUN_BYTES && maps::ring_under_pressure();

    let limit = match maps::settings() {
        Some(s) if s.capture_limit <= MAX_CAPTURE_LIMIT => s.capture_limit as u64,
        _ => MAX_CAPTURE_LIMIT as u64,
    };
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU scratch value, exclusively ours during this run.
    let event = unsafe { &mut (*scratch).event };
    event.header = header;
    event.header.direction = direction;
    event.syscall_offset = syscall_offset;
    event.syscall_len = moved as u32;

    if shed {
        maps::count(counter::BULK_SHED_BYTES, moved);
        // A header-only event: the agent learns where the stream is.
        send(event, 0, syscall_offset);
        return;
    }
    let wanted = if moved < limit { moved } else { limit };
    let (base, left, iov, iovcnt) = match source {
        Source::Buffer(ptr) => (ptr, moved, 0, 0),
        Source::Iovec(iov, count) => match read_iovec(iov, 0) {
            Some(v) if count > 0 => (v.base, v.len, iov, count),
            _ => (0, 0, iov, 0),
        },
        Source::Uncopyable => (0, 0, 0, 0),
    };
    let Some(walk) = WALK.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU value, exclusively ours during this run.
    let walk = unsafe { &mut *walk };
    *walk = Walk {
        base,
        left,
        iov,
        iovcnt,
        iov_index: 0,
        done: 0,
        wanted,
        syscall_offset,
        filled: 0,
    };
    // bpf_loop: the verifier checks the step as a callback instead of
    // unrolling a loop. The walk lives in a map rather than on the stack so
    // the verifier does not track its values from one iteration to the next
    // (it would never see the states converge).
    // SAFETY: `step` has the callback signature bpf_loop expects.
    unsafe {
        bpf_loop(
            MAX_LOOP_STEPS,
            step as *mut c_void,
            core::ptr::null_mut(),
            0,
        );
    }
    if walk.filled > 0 {
        flush(event, walk);
    }
    if walk.done == 0 {
        // Nothing captured: the agent must still learn these bytes went by.
        send(event, 0, syscall_offset);
    }
    if walk.done < moved {
        maps::count(counter::TRUNCATED_SYSCALLS, 1);
        maps::count(counter::TRUNCATED_BYTES, moved - walk.done);
    }
}

/// Progress through the syscall's buffers, shared with `step`.
#[repr(C)]
pub struct Walk {
    /// Next user address to copy from, and bytes left in its buffer.
    base: u64,
    left: u64,
    /// iovec array, its length, and the entry `base` belongs to.
    iov: u64,
    iovcnt: u64,
    iov_index: u64,
    /// Bytes copied so far, and the most that will be.
    done: u64,
    wanted: u64,
    syscall_offset: u64,
    /// Bytes copied into the scratch event and not sent yet (the last of
    /// `done`).
    filled: u64,
}

/// One bpf_loop iteration: copy the next piece into the event being
/// filled, sending it once full (or, before appending, once it holds
/// `APPEND_BELOW` bytes), or move to the next iovec. Returns 1 to stop.
extern "C" fn step(_index: u64, _ctx: *mut c_void) -> i64 {
    let Some(walk) = WALK.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: per-CPU value, exclusively ours during this run.
    let walk = unsafe { &mut *walk };
    if walk.done >= walk.wanted {
        return 1;
    }
    if walk.left == 0 {
        walk.iov_index += 1;
        // No constant bound here: the verifier would then track every
        // index separately. bpf_loop's count bounds the walk.
        if walk.iov_index >= walk.iovcnt {
            return 1;
        }
        let Some(v) = read_iovec(walk.iov, walk.iov_index) else {
            return 1;
        };
        walk.base = v.base;
        walk.left = v.len;
        return 0;
    }
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: per-CPU scratch value, exclusively ours during this run.
    let event = unsafe { &mut (*scratch).event };
    if walk.filled >= APPEND_BELOW as u64 && !flush(event, walk) {
        return 1;
    }
    // The mask changes nothing (the offset is below APPEND_BELOW); it is
    // for the verifier, which needs the offset bounded by a constant.
    let filled = walk.filled & (APPEND_BELOW as u64 - 1);
    let mut n = walk.wanted - walk.done;
    if n > walk.left {
        n = walk.left;
    }
    // Implied by the next bound, but the verifier only learns bounds from
    // comparisons with constants.
    if n > CHUNK_SIZE as u64 {
        n = CHUNK_SIZE as u64;
    }
    if n > CHUNK_SIZE as u64 - filled {
        n = CHUNK_SIZE as u64 - filled;
    }
    // SAFETY: `filled` < APPEND_BELOW and `n` <= CHUNK_SIZE, within the
    // scratch value (the event and APPEND_BELOW bytes of room after it);
    // the source is user memory read fault-safely.
    let ret = unsafe {
        bpf_probe_read_user(
            event.data.as_mut_ptr().add(filled as usize).cast(),
            n as u32,
            walk.base as *const c_void,
        )
    };
    if ret != 0 {
        maps::count(counter::READ_FAULTS, 1);
        return 1;
    }
    walk.base += n;
    walk.left -= n;
    walk.done += n;
    walk.filled = filled + n;
    if walk.filled >= CHUNK_SIZE as u64 && !flush(event, walk) {
        return 1;
    }
    0
}

/// Sends the bytes copied into `event` and not sent yet; false when the
/// ring buffer had no room.
#[inline(always)]
fn flush(event: &mut DataEvent, walk: &mut Walk) -> bool {
    let len = walk.filled;
    walk.filled = 0;
    let start = walk.syscall_offset + walk.done - len;
    send(event, len as usize, start)
}

/// Sends bytes already in hand (the start of a stream, kept while it was
/// sniffed) as the data of one earlier syscall at `stream_offset`.
#[inline(always)]
pub fn send_kept(
    header: EventHeader,
    direction: u8,
    bytes: &[u8; 8],
    len: u64,
    stream_offset: u64,
) {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU scratch value, exclusively ours during this run.
    let event = unsafe { &mut (*scratch).event };
    event.header = header;
    event.header.direction = direction;
    event.syscall_offset = stream_offset;
    event.syscall_len = len as u32;
    event.stream_offset = stream_offset;
    let len = if len > 8 { 8 } else { len };
    event.data[..8].copy_from_slice(bytes);
    event.chunk_len = len as u32;
    let total = DATA_HEADER_LEN + 8;
    // Only `chunk_len` bytes count; the record carries the 8 kept bytes
    // so the verifier sees a constant length.
    // SAFETY: `total` <= size_of::<DataEvent>(); every byte is initialised.
    let record =
        unsafe { core::slice::from_raw_parts((event as *const DataEvent).cast::<u8>(), total) };
    if EVENTS.output::<[u8]>(record, maps::ring_flags()).is_err() {
        maps::count(counter::RINGBUF_FULL, 1);
        maps::count(counter::RINGBUF_FULL_BYTES, len as u64);
        return;
    }
    maps::count(counter::EVENTS_SENT, 1);
    maps::count(counter::BYTES_SENT, len as u64);
}

/// Sends the first `len` (0..=CHUNK_SIZE) payload bytes of `event` as the
/// bytes at `stream_offset`. Returns false when the ring buffer had no room.
#[inline(always)]
fn send(event: &mut DataEvent, len: usize, stream_offset: u64) -> bool {
    if len > CHUNK_SIZE {
        return false;
    }
    event.stream_offset = stream_offset;
    event.chunk_len = len as u32;
    let total = DATA_HEADER_LEN + len;
    // SAFETY: `total` <= size_of::<DataEvent>(); the bytes are initialised
    // (header written by the caller, payload copied).
    let bytes =
        unsafe { core::slice::from_raw_parts((event as *const DataEvent).cast::<u8>(), total) };
    if EVENTS.output::<[u8]>(bytes, maps::ring_flags()).is_err() {
        maps::count(counter::RINGBUF_FULL, 1);
        maps::count(counter::RINGBUF_FULL_BYTES, len as u64);
        return false;
    }
    maps::count(counter::EVENTS_SENT, 1);
    maps::count(counter::BYTES_SENT, len as u64);
    true
}
