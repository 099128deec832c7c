//! Which HTTP a connection speaks: HTTP/1.x or HTTP/2, decided from the
//! first bytes of the client's direction (the HTTP/2 preface), and the
//! switch to HTTP/2 after an accepted `Upgrade: h2c`.
//!
//! A server speaks first in HTTP/2 (its SETTINGS may be read before the
//! client's preface is): response bytes that start with a SETTINGS frame
//! are held, bounded by `max_buffered_bytes`, until the client's direction
//! decides; any other first response bytes decide HTTP/1 as before.

use bytes::Bytes;

use super::h2::{self, H2ConnectionParser, PREFACE};
use super::{HttpConnectionParser, HttpCounters, HttpLimits};
use crate::exchange::{header, MessagePair};
use crate::reassembly::Segment;

#[derive(Debug)]
// One parser per connection, held in place for its life: both protocol
// parsers are a few hundred bytes, and boxing would cost an allocation per
// connection for no memory saved.
#[allow(clippy::large_enum_variant)]
enum Parser {
    /// Nothing from the client yet; server bytes that may be HTTP/2 held.
    Undecided {
        held: Vec<u8>,
        held_ts: u64,
    },
    Http1(HttpConnectionParser),
    Http2(H2ConnectionParser),
}

/// Parses both directions of one connection, HTTP/1.x or HTTP/2.
#[derive(Debug)]
pub struct ConnectionParser {
    parser: Parser,
    limits: HttpLimits,
    max_streams: usize,
}

impl ConnectionParser {
    /// `max_streams`: HTTP/2 streams followed at once per connection.
    pub fn new(limits: HttpLimits, max_streams: usize) -> Self {
        Self {
            parser: Parser::Undecided {
                held: Vec::new(),
                held_ts: 0,
            },
            limits,
            max_streams,
        }
    }

    /// Bytes of the request direction (client to server), in order.
    pub fn request_segment(
        &mut self,
        ts_ns: u64,
        seg: Segment<'_>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        if let Parser::Undecided { held, held_ts } = &mut self.parser {
            let http2 = matches!(seg, Segment::Data(d) if starts_preface(d));
            let held = std::mem::take(held);
            let held_ts = *held_ts;
            self.parser = if http2 {
                Parser::Http2(H2ConnectionParser::new(
                    self.limits.clone(),
                    self.max_streams,
                    c,
                ))
            } else {
                Parser::Http1(HttpConnectionParser::new(self.limits.clone()))
            };
            if !held.is_empty() {
                self.response_segment(held_ts, Segment::Data(&held), c, out);
            }
        }
        match &mut self.parser {
            Parser::Http1(p) => p.request_segment(ts_ns, seg, c, out),
            Parser::Http2(p) => p.request_segment(ts_ns, seg, c, out),
            Parser::Undecided { .. } => {}
        }
    }

    /// Bytes of the response direction (server to client), in order.
    pub fn response_segment(
        &mut self,
        ts_ns: u64,
        seg: Segment<'_>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        if let Parser::Undecided { held, held_ts } = &mut self.parser {
            match seg {
                Segment::Data(d)
                    if (!held.is_empty() || starts_settings(d))
                        && held.len() + d.len() <= self.limits.max_buffered_bytes =>
                {
                    if held.is_empty() {
                        *held_ts = ts_ns;
                    }
                    held.extend_from_slice(d);
                    return;
                }
                _ => {
                    let held = std::mem::take(held);
                    let mut p = HttpConnectionParser::new(self.limits.clone());
                    if !held.is_empty() {
                        p.response_segment(ts_ns, Segment::Data(&held), c, out);
                    }
                    self.parser = Parser::Http1(p);
                }
            }
        }
        match &mut self.parser {
            Parser::Http1(p) => {
                let was_upgraded = p.is_upgraded();
                p.response_segment(ts_ns, seg, c, out);
                if !was_upgraded && p.is_upgraded() {
                    self.maybe_h2c(ts_ns, seg, c, out);
                }
            }
            Parser::Http2(p) => p.response_segment(ts_ns, seg, c, out),
            Parser::Undecided { .. } => {}
        }
    }

    /// The connection closed: completes or counts what is in progress.
    pub fn close(&mut self, ts_ns: u64, c: &mut HttpCounters, out: &mut Vec<MessagePair>) {
        match &mut self.parser {
            Parser::Http1(p) => p.close(ts_ns, c, out),
            Parser::Http2(p) => p.close(ts_ns, c, out),
            Parser::Undecided { .. } => {}
        }
    }

    /// The capture record the next segments are slices of (`None` once
    /// they are not): HTTP/1 heads and bodies, and HTTP/2 bodies, that lie
    /// whole inside it are kept as slices of it instead of copies.
    pub fn share_input(&mut self, owner: Option<&Bytes>) {
        match &mut self.parser {
            Parser::Http1(p) => p.share_input(owner),
            Parser::Http2(p) => p.share_input(owner),
            Parser::Undecided { .. } => {}
        }
    }

    /// Memory held, for the caller's per-connection accounting.
    pub fn buffered_bytes(&self) -> usize {
        match &self.parser {
            Parser::Undecided { held, .. } => held.capacity(),
            Parser::Http1(p) => p.buffered_bytes(),
            Parser::Http2(p) => p.buffered_bytes(),
        }
    }

    /// True once the connection is parsed as HTTP/2.
    pub fn is_http2(&self) -> bool {
        matches!(self.parser, Parser::Http2(_))
    }

    /// The HTTP/1 parser just saw a protocol switch: when it was a 101 to
    /// `Upgrade: h2c`, the connection goes on as HTTP/2, the request that
    /// asked being stream 1 (RFC 7540 §3.2), and the server's bytes after
    /// the 101 head are its first HTTP/2 frames.
    fn maybe_h2c(
        &mut self,
        ts_ns: u64,
        seg: Segment<'_>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        let is_h2c = out.last().is_some_and(|p| {
            p.upgraded
                && p.response.status == 101
                && header(&p.response.headers, "upgrade")
                    .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"h2c"))
        });
        if !is_h2c {
            return;
        }
        let Some(pair) = out.pop() else {
            return;
        };
        c.exchanges = c.exchanges.saturating_sub(1);
        let mut p = H2ConnectionParser::after_upgrade(
            self.limits.clone(),
            self.max_streams,
            pair.request,
            pair.timings.request_start_ns,
            c,
        );
        // A 101 has no body: what follows its blank line is HTTP/2.
        if let Segment::Data(d) = seg {
            if let Some(rest) = after_101_head(d) {
                if !rest.is_empty() {
                    p.response_segment(ts_ns, Segment::Data(rest), c, out);
                }
            }
        }
        self.parser = Parser::Http2(p);
    }
}

/// True when `d` begins the HTTP/2 client preface (or is a prefix of it).
pub fn starts_preface(d: &[u8]) -> bool {
    d.len() >= 4 && PREFACE.starts_with(&d[..d.len().min(PREFACE.len())])
}

/// True when `d` begins with a SETTINGS frame header (a server preface).
fn starts_settings(d: &[u8]) -> bool {
    h2::FrameHeader::parse(d).is_some_and(|h| h.kind == 0x4 && h.stream == 0 && h.len % 6 == 0)
}

/// The bytes after the end of the 101 head in `d`, when the head ends in
/// `d`.
fn after_101_head(d: &[u8]) -> Option<&[u8]> {
    let from = memchr::memmem::find(d, b"HTTP/1.1 101").unwrap_or(0);
    let end = memchr::memmem::find(&d[from..], b"\r\n\r\n")?;
    Some(&d[from + end + 4..])
}
