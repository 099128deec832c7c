//! The HTTP/2 parser alone on h2load-like traffic: what one exchange costs
//! in thread CPU time and heap allocations from the capture records of
//! both directions to the `MessagePair` (no analysis, no output).
//! Run: `cargo bench -p sensor --bench h2`.
//!
//! Traffic as `cargo xtask bench --h2-only` makes it: h2load's GETs and
//! nghttpd's 1 KiB JSON answers, 32 streams in flight, each direction's
//! frames for 32 streams in one record, header fields indexed as nghttp2
//! indexes them: a field first sent as a literal added to the dynamic
//! table, then by reference.
//! Time is the thread's CPU time (the machine is shared); compare builds
//! back to back.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use sensor::http::{ConnectionParser, HttpCounters, HttpLimits};
use sensor::reassembly::Segment;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const IN_FLIGHT: u32 = 32;
const ROUNDS: u32 = 2_000;

/// Fields the static table holds whole (RFC 7541 Appendix A).
const STATIC: [(&[u8], &[u8], u8); 4] = [
    (b":method", b"GET", 2),
    (b":scheme", b"http", 6),
    (b":status", b"200", 8),
    (b"accept-encoding", b"gzip, deflate", 16),
];

/// One peer's header block encoder: static references, else a reference
/// to the dynamic table, else a literal (plain strings) added to it. The
/// few fields here never fill the 4 KiB table.
#[derive(Default)]
struct Indexer {
    /// Fields added, oldest first.
    table: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Indexer {
    fn encode(&mut self, fields: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(name, value) in fields {
            if let Some(&(_, _, i)) = STATIC.iter().find(|(n, v, _)| (*n, *v) == (name, value)) {
                out.push(0x80 | i);
            } else if let Some(at) = self
                .table
                .iter()
                .position(|(n, v)| (&n[..], &v[..]) == (name, value))
            {
                out.push(0x80 | (62 + self.table.len() - 1 - at) as u8);
            } else {
                out.push(0x40);
                for s in [name, value] {
                    out.push(s.len() as u8);
                    out.extend_from_slice(s);
                }
                self.table.push((name.to_vec(), value.to_vec()));
            }
        }
        out
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// The records of each direction, `IN_FLIGHT` streams each, `ROUNDS`
/// times: client records and server records alternate.
fn traffic() -> Vec<(bool, Bytes)> {
    let (mut client, mut server) = (Indexer::default(), Indexer::default());
    let body = vec![b'x'; 1024];
    let mut records = Vec::new();
    let mut first = PREFACE.to_vec();
    frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100], &mut first);
    records.push((true, Bytes::from(first)));
    let mut settings = Vec::new();
    frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100], &mut settings);
    records.push((false, Bytes::from(settings)));
    let mut stream = 1;
    for _ in 0..ROUNDS {
        let (mut req, mut res) = (Vec::new(), Vec::new());
        for _ in 0..IN_FLIGHT {
            let block = client.encode(&[
                (b":method", b"GET"),
                (b":path", b"/data.json"),
                (b":scheme", b"http"),
                (b":authority", b"127.0.0.1:18082"),
                (b"accept", b"*/*"),
                (b"accept-encoding", b"gzip, deflate"),
                (b"user-agent", b"h2load nghttp2/1.52.0"),
            ]);
            frame(0x1, 0x4 | 0x1, stream, &block, &mut req);
            let block = server.encode(&[
                (b":status", b"200"),
                (b"server", b"nghttpd nghttp2/1.52.0"),
                (b"content-length", b"1024"),
                (b"cache-control", b"max-age=3600"),
                (b"date", b"Mon, 07 Dec 2026 12:00:00 GMT"),
                (b"last-modified", b"Mon, 07 Dec 2026 11:00:00 GMT"),
            ]);
            frame(0x1, 0x4, stream, &block, &mut res);
            frame(0x0, 0x1, stream, &body, &mut res);
            stream += 2;
        }
        records.push((true, Bytes::from(req)));
        records.push((false, Bytes::from(res)));
    }
    records
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One connection through the parser: (exchanges, CPU ns, allocations).
fn run(records: &[(bool, Bytes)]) -> (u64, u64, u64) {
    let mut parser = ConnectionParser::new(HttpLimits::default(), 256);
    let mut counters = HttpCounters::default();
    let mut out = Vec::with_capacity(IN_FLIGHT as usize);
    let (mut exchanges, mut ns, mut allocs) = (0, 0, 0);
    for (i, (client, record)) in records.iter().enumerate() {
        // The first rounds warm the tables and buffers up.
        let measured = i >= 20;
        let (t0, a0) = (thread_cpu_ns(), ALLOCS.load(Ordering::Relaxed));
        parser.share_input(Some(record));
        if *client {
            parser.request_segment(1, Segment::Data(record), &mut counters, &mut out);
        } else {
            parser.response_segment(2, Segment::Data(record), &mut counters, &mut out);
        }
        parser.share_input(None);
        let n = out.len() as u64;
        out.clear();
        if measured {
            ns += thread_cpu_ns() - t0;
            allocs += ALLOCS.load(Ordering::Relaxed) - a0;
            exchanges += n;
        }
    }
    (exchanges, ns, allocs)
}

fn main() {
    let records = traffic();
    let mut per = Vec::new();
    let mut allocs_per = 0.0;
    for _ in 0..15 {
        let (exchanges, ns, allocs) = run(&records);
        per.push(ns as f64 / exchanges as f64);
        allocs_per = allocs as f64 / exchanges as f64;
    }
    per.sort_by(f64::total_cmp);
    println!(
        "h2 parser, h2load-like exchange: {:.0} ns thread CPU (median of {}, min {:.0}), {:.2} allocations (dropping the pair included)",
        per[per.len() / 2],
        per.len(),
        per[0],
        allocs_per
    );
}
