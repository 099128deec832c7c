//! Judging the start of a stream across sends: the first bytes of each
//! send are added to those kept (`SniffStart`) until
//! `sensor_common::sniff::judge` can say whether the stream is HTTP. Every
//! byte since the last judgement is kept while undecided (a verdict needs
//! at most 8), so when the stream turns out to be HTTP the caller sends the
//! kept bytes first, at their own offsets, and the agent sees the stream
//! from its first byte. Shared by both capture modes.

use core::ffi::c_void;

use aya_ebpf::helpers::bpf_probe_read_user;
use sensor_common::sniff::{self, Verdict, SNIFF_BYTES};
use sensor_common::SniffStart;

use crate::capture::Source;

/// What a send did to the judgement.
#[derive(Clone, Copy)]
pub enum Outcome {
    /// Still a prefix of something HTTP: its bytes are kept.
    Undecided,
    /// Not HTTP (or not readable): the kept bytes are dropped.
    NotHttp,
    /// HTTP: the `kept` bytes in `SniffStart::bytes` came before this
    /// send and must be sent before its own.
    Http { verdict: Verdict, kept: u64 },
}

/// Judges a send of `moved` bytes at `source` in `direction`.
#[inline(always)]
pub fn step(start: &mut SniffStart, direction: u8, source: Source, moved: u64) -> Outcome {
    if start.len > 0 && start.dir != direction {
        // HTTP starts with a whole request before any reply.
        start.len = 0;
        return Outcome::NotHttp;
    }
    let kept = (start.len as usize) & (SNIFF_BYTES - 1);
    let room = (SNIFF_BYTES - kept) as u64;
    let (ptr, available) = match source {
        Source::Buffer(ptr) => (ptr, moved),
        Source::Iovec(iov, count) if count > 0 => {
            // SAFETY: user pointer read through the fault-safe helper.
            match unsafe { bpf_probe_read_user(iov as *const [u64; 2]) } {
                Ok([base, len]) => (base, if len < moved { len } else { moved }),
                Err(_) => (0, 0),
            }
        }
        _ => (0, 0),
    };
    let wanted = if available < room { available } else { room };
    let mut fresh = [0u8; SNIFF_BYTES];
    if wanted == 0 || !read_start(&mut fresh, ptr, wanted) {
        // Not in a buffer we can read: nothing to judge the start by.
        start.len = 0;
        return Outcome::NotHttp;
    }
    // Shifts, not indexing: the verifier refuses the pointer arithmetic
    // a variable index into a stack array compiles to.
    let old = if kept == 0 {
        0
    } else {
        u64::from_le_bytes(start.bytes) & (u64::MAX >> (64 - kept * 8))
    };
    let bytes = (old | (u64::from_le_bytes(fresh) << (kept * 8))).to_le_bytes();
    let total = kept + wanted as usize;
    match sniff::judge(&bytes, total) {
        // Only when the whole send was kept: the kept bytes must be all
        // of the stream so far.
        Verdict::NeedMore if wanted == moved => {
            start.bytes = bytes;
            start.len = total as u8;
            start.dir = direction;
            Outcome::Undecided
        }
        verdict @ (Verdict::Request | Verdict::Response) => Outcome::Http {
            verdict,
            kept: kept as u64,
        },
        _ => {
            // Kept for `conn::tls_records`, though no longer counted.
            start.bytes = bytes;
            start.len = 0;
            Outcome::NotHttp
        }
    }
}

/// Reads `len` (1..=8) bytes at user address `ptr` into `out`.
#[inline(always)]
fn read_start(out: &mut [u8; SNIFF_BYTES], ptr: u64, len: u64) -> bool {
    let len = (len as u32) & 0xf;
    if len == 0 || len > SNIFF_BYTES as u32 {
        return false;
    }
    // SAFETY: `len` <= size of `out`; user memory read fault-safely.
    unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_user(
            out.as_mut_ptr().cast(),
            len,
            ptr as *const c_void,
        ) == 0
    }
}
