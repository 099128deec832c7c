//! Drives one connection through `StreamReassembler` and
//! `HttpConnectionParser` with operations decoded from the fuzz input:
//! captured chunks (with uncaptured tails, overlaps, lost events), capture
//! gaps, zero-byte (sendfile) chunks and closes. Checks that nothing panics,
//! memory stays bounded, and every emitted body respects the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::exchange::{Body, MessagePair};
use sensor::http::{HttpConnectionParser, HttpCounters, HttpLimits};
use sensor::reassembly::{Chunk, StreamReassembler};

/// One direction as the kernel would report it.
struct Direction {
    stream: StreamReassembler,
    /// Offset of the next byte the "kernel" moves.
    offset: u64,
}

struct Conn {
    request: Direction,
    response: Direction,
    parser: HttpConnectionParser,
}

impl Conn {
    fn new(limits: &HttpLimits) -> Self {
        let dir = || Direction {
            stream: StreamReassembler::new(),
            offset: 0,
        };
        Self {
            request: dir(),
            response: dir(),
            parser: HttpConnectionParser::new(limits.clone()),
        }
    }

    fn push(
        &mut self,
        is_request: bool,
        ts: u64,
        chunk: Chunk<'_>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        let Conn {
            request,
            response,
            parser,
        } = self;
        if is_request {
            request
                .stream
                .push(chunk, &mut |s| parser.request_segment(ts, s, c, out));
        } else {
            response
                .stream
                .push(chunk, &mut |s| parser.response_segment(ts, s, c, out));
        }
    }

    fn close(&mut self, ts: u64, c: &mut HttpCounters, out: &mut Vec<MessagePair>) {
        let Conn {
            request,
            response,
            parser,
        } = self;
        request
            .stream
            .flush_tail(&mut |s| parser.request_segment(ts, s, c, out));
        response
            .stream
            .flush_tail(&mut |s| parser.response_segment(ts, s, c, out));
        parser.close(ts, c, out);
    }
}

fn limits_for(selector: u8) -> HttpLimits {
    if selector & 1 == 0 {
        HttpLimits::default()
    } else {
        // Small limits reach every limit path with short inputs.
        HttpLimits {
            max_header_bytes: 64 + usize::from(selector >> 1),
            max_body_kept: usize::from(selector >> 3),
            max_decoded_bytes: 16,
            max_pending_requests: 1 + usize::from(selector >> 6),
            max_buffered_bytes: 32 + usize::from(selector),
        }
    }
}

/// Memory a parser may hold under `l`: two directions' buffers and bodies
/// in progress, plus the queue of requests (each a head and a kept body,
/// one of them with a response).
fn memory_bound(l: &HttpLimits) -> usize {
    let wait = l.max_buffered_bytes.max(l.max_header_bytes).max(4096);
    let head = l.max_header_bytes + 128 * 64;
    // The kept prefix and the window over the body's end (a quarter of the
    // prefix, held at up to twice its size while it slides).
    let body = l.max_body_kept + l.max_body_kept / 2;
    let direction = 2 * wait + 4096 + body;
    2 * direction + (l.max_pending_requests + 2) * (2 * head + 2 * body)
}

fn check_body(b: &Body, l: &HttpLimits) {
    assert!(
        b.raw.len() <= l.max_body_kept,
        "kept {} > {}",
        b.raw.len(),
        l.max_body_kept
    );
    assert!(b.wire_len >= b.raw.len() as u64);
    assert!(b.tail.len() <= l.max_body_kept / 4, "tail {}", b.tail.len());
    if let Some(d) = &b.decoded {
        assert!(d.len() <= l.max_decoded_bytes);
    }
}

/// HTTP-ish words, so short inputs reach deep states.
const WORDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\n",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 101 Switching\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"Content-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Upgrade: websocket\r\n",
    b"\r\n",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"CONNECT h:1 HTTP/1.1\r\n",
    b"HEAD / HTTP/1.0\r\n",
    b"Content-Length: 13\r\n",
    b"Transfer-Encoding : chunked\r\n",
    b"GET /\xff HTTP/1.1\r\n",
    b"ZZ\r\n",
    b"400\r\n",
];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, mut data)) = input.split_first() else {
        return;
    };
    let limits = limits_for(selector);
    let bound = memory_bound(&limits);
    let mut conn = Conn::new(&limits);
    let mut counters = HttpCounters::default();
    let mut out = Vec::new();
    let mut ts = 0u64;
    let mut scratch = Vec::new();
    while let [op, arg, rest @ ..] = data {
        data = rest;
        ts += 1;
        let is_request = op & 1 == 0;
        match (op >> 1) % 6 {
            // A captured syscall, possibly with an uncaptured tail, sent
            // with a stale offset (overlap) when the top bit is set.
            0 | 1 => {
                let len = usize::from(*arg).min(data.len());
                let (bytes, rest) = data.split_at(len);
                data = rest;
                let tail = u64::from(op >> 5);
                let dir = if is_request {
                    &mut conn.request
                } else {
                    &mut conn.response
                };
                let start = dir.offset;
                dir.offset += len as u64 + tail;
                let skew = if op & 0x80 != 0 {
                    u64::from(*arg % 7)
                } else {
                    0
                };
                let chunk = Chunk {
                    stream_offset: start.saturating_sub(skew),
                    data: bytes,
                    syscall_offset: start,
                    syscall_len: len as u64 + tail,
                };
                conn.push(is_request, ts, chunk, &mut counters, &mut out);
            }
            // A dictionary word as one syscall.
            2 => {
                scratch.clear();
                scratch.extend_from_slice(WORDS[usize::from(*arg) % WORDS.len()]);
                let dir = if is_request {
                    &mut conn.request
                } else {
                    &mut conn.response
                };
                let start = dir.offset;
                dir.offset += scratch.len() as u64;
                let chunk = Chunk {
                    stream_offset: start,
                    data: &scratch,
                    syscall_offset: start,
                    syscall_len: scratch.len() as u64,
                };
                conn.push(is_request, ts, chunk, &mut counters, &mut out);
            }
            // Lost events: the stream moves on without us.
            3 => {
                let dir = if is_request {
                    &mut conn.request
                } else {
                    &mut conn.response
                };
                dir.offset += u64::from(*arg) << (op >> 5);
            }
            // sendfile: moved, never captured.
            4 => {
                let dir = if is_request {
                    &mut conn.request
                } else {
                    &mut conn.response
                };
                let start = dir.offset;
                let n = u64::from(*arg) << (op >> 5);
                dir.offset += n;
                let chunk = Chunk {
                    stream_offset: start,
                    data: &[],
                    syscall_offset: start,
                    syscall_len: n,
                };
                conn.push(is_request, ts, chunk, &mut counters, &mut out);
            }
            // Close, then a new connection.
            _ => {
                conn.close(ts, &mut counters, &mut out);
                conn = Conn::new(&limits);
            }
        }
        let held = conn.parser.buffered_bytes();
        assert!(held <= bound, "parser holds {held} bytes, bound {bound}");
        for pair in out.drain(..) {
            check_body(&pair.request.body, &limits);
            check_body(&pair.response.body, &limits);
        }
    }
    conn.close(ts, &mut counters, &mut out);
    for pair in out.drain(..) {
        check_body(&pair.request.body, &limits);
        check_body(&pair.response.body, &limits);
    }
    assert!(counters.exchanges <= counters.responses);
});
