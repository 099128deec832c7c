//! HTTP/2 (RFC 9113): turns the two byte streams of a connection into one
//! `MessagePair` per request/response stream, streams multiplexed and
//! interleaved in any order.
//!
//! Guarantees:
//! - Streaming: DATA is consumed as it arrives; only an incomplete frame
//!   other than DATA (at most `max_header_bytes`) or an incomplete header
//!   block is held.
//! - Header blocks (HEADERS or PUSH_PROMISE plus CONTINUATION) of each
//!   direction are decoded in order with that direction's HPACK table.
//!   After a block is lost (capture gap, over the size limit, bad HPACK)
//!   later blocks of the direction are counted as undecodable and their
//!   streams still yield exchanges with exact byte counts and inspected
//!   bodies, but no method, path, status or headers: never guessed ones.
//! - Bounded: streams per connection, header block size, bytes kept per
//!   body and decoded output all have limits; what they cut is counted in
//!   `H2Counters`.
//! - Exact sizes: a body's `wire_len` counts DATA content without padding,
//!   uncaptured bytes included.
//! - A capture gap inside a DATA payload costs only those bytes (counted
//!   in `gaps_kept_in_sync`): the frame's remaining length is known, so
//!   framing and both HPACK tables stay in sync. Only a gap that covers a
//!   frame header or part of a header block loses them.

mod frame;
mod hpack;
mod stream;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use bytes::Bytes;

pub use frame::{FrameHeader, PREFACE};
pub use stream::VERSION;

use frame::{FrameEvent, FrameReader};
use hpack::{Decoded, HpackDirection};
use stream::H2Stream;

use super::decode::decode_body;
use super::{HttpCounters, HttpLimits};
use crate::exchange::MessagePair;
use crate::reassembly::Segment;

/// What the HTTP/2 parser saw and dropped (inside `HttpCounters::h2`).
#[derive(Default, Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct H2Counters {
    /// Connections parsed as HTTP/2.
    pub connections: u64,
    /// Connections switched from HTTP/1.1 by `Upgrade: h2c`.
    pub upgrades_h2c: u64,
    pub frames: u64,
    /// Streams that carried a request (pushed ones included).
    pub streams: u64,
    /// Streams announced by PUSH_PROMISE.
    pub pushed_streams: u64,
    /// Streams dropped unfinished because `max_streams_per_connection`
    /// were open when another began (the oldest goes).
    pub streams_over_limit: u64,
    /// Streams reset (RST_STREAM) before both heads arrived: no exchange.
    pub streams_reset: u64,
    /// Streams still open, without both heads, when the connection closed.
    pub streams_incomplete_at_close: u64,
    /// Header blocks that could not be decoded (the direction's HPACK
    /// table was lost earlier, or this block did not decode).
    pub header_blocks_undecodable: u64,
    /// Header blocks larger than `max_header_bytes` (they break the table).
    pub header_blocks_too_large: u64,
    /// Header blocks whose decoded fields exceeded `max_header_bytes`:
    /// fields beyond it were dropped.
    pub header_lists_capped: u64,
    /// Exchanges emitted with at least one undecodable head.
    pub exchanges_undecodable: u64,
    /// Frames (other than DATA) too large to hold, skipped.
    pub frames_skipped: u64,
    /// DATA or HEADERS for a stream not being followed.
    pub frames_without_stream: u64,
    /// Frame sequences that break the protocol (a block interrupted,
    /// CONTINUATION without a block).
    pub protocol_errors: u64,
    /// Capture gaps that fell inside one frame's payload (DATA, or a
    /// frame being skipped): framing and HPACK table kept in sync, only
    /// those body bytes missing.
    pub gaps_kept_in_sync: u64,
    pub gap_bytes_kept_in_sync: u64,
    /// Times a capture gap broke the framing of a direction (it covered a
    /// frame header or a held frame: the HPACK table is lost with it).
    pub framing_lost: u64,
    /// Bytes searched past before framing was found again.
    pub resync_skipped_bytes: u64,
    /// Client directions that did not start with the preface after all.
    pub bad_prefaces: u64,
    pub goaways: u64,
}

/// A header block being assembled from HEADERS/PUSH_PROMISE + CONTINUATION
/// (its bytes in its half's `block_buf`).
#[derive(Debug)]
struct PendingBlock {
    stream: u32,
    /// The stream a PUSH_PROMISE announces (0 for HEADERS).
    promised: u32,
    end_stream: bool,
    too_large: bool,
}

/// Largest `block_buf` kept between blocks (most blocks are decoded where
/// they lie, without it).
const BLOCK_BUF_KEPT: usize = 4096;

/// One direction of the connection.
#[derive(Debug)]
struct Half {
    reader: FrameReader,
    hpack: HpackDirection,
    block: Option<PendingBlock>,
    /// The fragments of a block that spans frames, reused.
    block_buf: Vec<u8>,
}

impl Half {
    fn new(preface: bool, limits: &HttpLimits) -> Self {
        Self {
            reader: FrameReader::new(preface, limits.max_header_bytes),
            hpack: HpackDirection::new(limits.max_header_bytes),
            block: None,
            block_buf: Vec::new(),
        }
    }

    fn held(&self) -> usize {
        self.reader.held() + self.block_buf.capacity()
    }

    /// Adds a fragment to the pending block, within `max` bytes.
    fn append(&mut self, fragment: &[u8], max: usize) {
        let Some(block) = self.block.as_mut() else {
            return;
        };
        if block.too_large {
            return;
        }
        if self.block_buf.len() + fragment.len() > max {
            block.too_large = true;
            self.block_buf = Vec::new();
            return;
        }
        self.block_buf.extend_from_slice(fragment);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// Parses both directions of one HTTP/2 connection into `MessagePair`s.
#[derive(Debug)]
pub struct H2ConnectionParser {
    limits: HttpLimits,
    max_streams: usize,
    client: Half,
    server: Half,
    streams: HashMap<u32, H2Stream>,
    /// The capture record the segments being fed are slices of: a body
    /// that arrives whole in one is kept as a slice of it, not a copy.
    input_owner: Option<Bytes>,
}

impl H2ConnectionParser {
    /// A connection whose client direction starts with the preface.
    pub fn new(limits: HttpLimits, max_streams: usize, counters: &mut HttpCounters) -> Self {
        counters.h2.connections += 1;
        Self {
            client: Half::new(true, &limits),
            server: Half::new(false, &limits),
            limits,
            max_streams: max_streams.max(1),
            streams: HashMap::new(),
            input_owner: None,
        }
    }

    /// After `Upgrade: h2c` was accepted (RFC 7540 §3.2): the request that
    /// asked becomes stream 1, whose response comes as HTTP/2.
    pub fn after_upgrade(
        limits: HttpLimits,
        max_streams: usize,
        request: crate::exchange::HttpRequest,
        start_ns: u64,
        counters: &mut HttpCounters,
    ) -> Self {
        let mut p = Self::new(limits, max_streams, counters);
        counters.h2.upgrades_h2c += 1;
        counters.h2.streams += 1;
        let mut s = H2Stream::new(p.limits.max_body_kept, start_ns);
        let block = hpack::Block {
            method: Some(request.method.into()),
            path: Some(request.target.into()),
            fields: request.headers,
            ..hpack::Block::default()
        };
        s.request.head = Some(Decoded::Block(block));
        s.request.ended = true;
        s.timings.request_end_ns = start_ns;
        p.streams.insert(1, s);
        p
    }

    /// Bytes of the client-to-server direction, in order.
    pub fn request_segment(
        &mut self,
        ts_ns: u64,
        seg: Segment<'_>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        self.segment(Side::Client, ts_ns, seg, c, out);
    }

    /// Bytes of the server-to-client direction, in order.
    pub fn response_segment(
        &mut self,
        ts_ns: u64,
        seg: Segment<'_>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        self.segment(Side::Server, ts_ns, seg, c, out);
    }

    /// The connection closed: streams with both heads become exchanges
    /// (bodies not ended marked truncated), the rest are counted.
    pub fn close(&mut self, _ts_ns: u64, c: &mut HttpCounters, out: &mut Vec<MessagePair>) {
        let mut ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(s) = self.streams.remove(&id) else {
                continue;
            };
            if s.has_heads() {
                self.emit(s, c, out);
            } else {
                c.h2.streams_incomplete_at_close += 1;
                c.incomplete_at_close += 1;
            }
        }
    }

    /// The capture record the next segments are slices of (`None` once
    /// they are not).
    pub fn share_input(&mut self, owner: Option<&Bytes>) {
        self.input_owner = owner.cloned();
    }

    /// Memory held: incomplete frames and blocks, kept heads and bodies.
    pub fn buffered_bytes(&self) -> usize {
        self.client.held()
            + self.server.held()
            + self.streams.values().map(H2Stream::held).sum::<usize>()
    }

    fn segment(
        &mut self,
        side: Side,
        ts: u64,
        seg: Segment<'_>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        // The reader borrows its half while events need the whole parser:
        // take the reader out for the call.
        let half = self.half(side);
        let mut reader = std::mem::replace(&mut half.reader, FrameReader::new(false, 0));
        let mut on = |ev: FrameEvent<'_>| self.event(side, ts, ev, c, out);
        let kept = match seg {
            Segment::Data(d) => {
                reader.feed(d, &mut on);
                0
            }
            Segment::Gap(n) if reader.gap(n, &mut on) => n,
            Segment::Gap(_) => 0,
        };
        if kept > 0 {
            c.h2.gaps_kept_in_sync += 1;
            c.h2.gap_bytes_kept_in_sync += kept;
        }
        self.half(side).reader = reader;
    }

    fn half(&mut self, side: Side) -> &mut Half {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    fn event(
        &mut self,
        side: Side,
        ts: u64,
        ev: FrameEvent<'_>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        match ev {
            FrameEvent::Frame(h, payload) => {
                c.h2.frames += 1;
                self.frame(side, ts, h, payload, c, out);
            }
            FrameEvent::Skipped(h) => {
                c.h2.frames += 1;
                c.h2.frames_skipped += 1;
                if matches!(
                    h.kind,
                    frame::HEADERS | frame::PUSH_PROMISE | frame::CONTINUATION
                ) {
                    // A header block went unread: the table is lost.
                    c.h2.header_blocks_too_large += 1;
                    c.header_limit_drops += 1;
                    self.half(side).block = None;
                    self.half(side).hpack.lose();
                }
            }
            FrameEvent::Data { stream, data } => match self.streams.get_mut(&stream) {
                Some(s) => message(s, side)
                    .body
                    .data_in(data, self.input_owner.as_ref(), c),
                None => c.h2.frames_without_stream += 1,
            },
            FrameEvent::DataGap { stream, len } => {
                if let Some(s) = self.streams.get_mut(&stream) {
                    message(s, side).body.gap(len, c);
                }
            }
            FrameEvent::DataEnd { stream, end_stream } => {
                c.h2.frames += 1;
                if end_stream {
                    self.end_stream(side, stream, ts, c, out);
                }
            }
            FrameEvent::BadPreface => c.h2.bad_prefaces += 1,
            FrameEvent::Lost => {
                c.h2.framing_lost += 1;
                let half = self.half(side);
                half.block = None;
                half.hpack.lose();
                // Whatever was arriving in this direction lost bytes.
                for s in self.streams.values_mut() {
                    let m = message(s, side);
                    if !m.ended {
                        m.body.mark_truncated();
                    }
                }
            }
            FrameEvent::Resynced { skipped } => c.h2.resync_skipped_bytes += skipped,
        }
    }

    fn frame(
        &mut self,
        side: Side,
        ts: u64,
        h: FrameHeader,
        payload: &[u8],
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        if self.half(side).block.is_some() && h.kind != frame::CONTINUATION {
            // A header block must be followed by its CONTINUATIONs only.
            c.h2.protocol_errors += 1;
            let half = self.half(side);
            half.block = None;
            half.hpack.lose();
        }
        match h.kind {
            frame::HEADERS => {
                let Some(fragment) = headers_fragment(&h, payload) else {
                    c.h2.protocol_errors += 1;
                    self.half(side).hpack.lose();
                    return;
                };
                self.start_block(side, ts, &h, 0, fragment, c, out);
            }
            frame::PUSH_PROMISE => {
                let Some((promised, fragment)) = push_fragment(&h, payload) else {
                    c.h2.protocol_errors += 1;
                    self.half(side).hpack.lose();
                    return;
                };
                self.start_block(side, ts, &h, promised, fragment, c, out);
            }
            frame::CONTINUATION => {
                let max = self.limits.max_header_bytes;
                let half = self.half(side);
                if half.block.as_ref().is_none_or(|b| b.stream != h.stream) {
                    c.h2.protocol_errors += 1;
                    half.block = None;
                    half.hpack.lose();
                    return;
                }
                half.append(payload, max);
                if h.has(frame::FLAG_END_HEADERS) {
                    self.finish_block(side, ts, None, c, out);
                }
            }
            frame::RST_STREAM => {
                if let Some(s) = self.streams.remove(&h.stream) {
                    if s.has_heads() {
                        self.emit(s, c, out);
                    } else {
                        c.h2.streams_reset += 1;
                    }
                }
            }
            frame::GOAWAY => c.h2.goaways += 1,
            // SETTINGS, PING, WINDOW_UPDATE, PRIORITY and unknown types
            // carry nothing an exchange needs.
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)] // reason: one frame's parts, all needed.
    fn start_block(
        &mut self,
        side: Side,
        ts: u64,
        h: &FrameHeader,
        promised: u32,
        fragment: &[u8],
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        let max = self.limits.max_header_bytes;
        let half = self.half(side);
        half.block = Some(PendingBlock {
            stream: h.stream,
            promised,
            end_stream: h.kind == frame::HEADERS && h.has(frame::FLAG_END_STREAM),
            too_large: fragment.len() > max,
        });
        if h.has(frame::FLAG_END_HEADERS) {
            // The whole block is in this frame: decoded where it lies.
            self.finish_block(side, ts, Some(fragment), c, out);
        } else {
            half.block_buf.clear();
            half.append(fragment, max);
        }
    }

    /// The pending block ended: its bytes are `whole` when it was one
    /// frame, else the half's `block_buf`.
    fn finish_block(
        &mut self,
        side: Side,
        ts: u64,
        whole: Option<&[u8]>,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        let half = self.half(side);
        let Some(block) = half.block.take() else {
            return;
        };
        let decoded = if block.too_large {
            c.h2.header_blocks_too_large += 1;
            c.header_limit_drops += 1;
            half.hpack.lose();
            Decoded::Undecodable
        } else {
            half.hpack.decode(whole.unwrap_or(&half.block_buf))
        };
        if whole.is_none() {
            half.block_buf.clear();
            if half.block_buf.capacity() > BLOCK_BUF_KEPT {
                half.block_buf = Vec::new();
            }
        }
        match &decoded {
            Decoded::Undecodable => c.h2.header_blocks_undecodable += 1,
            Decoded::Block(b) if b.capped => c.h2.header_lists_capped += 1,
            Decoded::Block(_) => {}
        }
        if block.promised != 0 {
            // A pushed request: complete as promised, its response follows.
            c.h2.pushed_streams += 1;
            if let Some(s) = self.open_stream(block.promised, ts, c) {
                s.request.head = Some(decoded);
                s.request.ended = true;
                s.timings.request_end_ns = ts;
                c.requests += 1;
            }
            return;
        }
        self.on_headers(side, block.stream, decoded, block.end_stream, ts, c, out);
    }

    #[allow(clippy::too_many_arguments)] // reason: one block's parts, all needed.
    fn on_headers(
        &mut self,
        side: Side,
        id: u32,
        decoded: Decoded,
        end_stream: bool,
        ts: u64,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        let stream = match side {
            Side::Client => self.open_stream(id, ts, c),
            Side::Server => self.streams.get_mut(&id),
        };
        let Some(s) = stream else {
            if side == Side::Server {
                c.h2.frames_without_stream += 1;
            }
            return;
        };
        let m = message(s, side);
        match (&m.head, side) {
            (None, Side::Server) => {
                if let Decoded::Block(b) = &decoded {
                    if b.status.is_some_and(|s| (100..200).contains(&s)) {
                        // 100 Continue, 103 Early Hints: the final head follows.
                        c.interim_responses += 1;
                        return;
                    }
                }
                s.timings.response_start_ns = ts;
                s.response.head = Some(decoded);
            }
            (None, Side::Client) => m.head = Some(decoded),
            (Some(_), _) => {
                // A second block on the side: trailers.
                if let Decoded::Block(b) = decoded {
                    m.trailers = b.fields;
                }
            }
        }
        if end_stream {
            self.end_stream(side, id, ts, c, out);
        }
    }

    /// The stream `id`, opened on its first request head. At the limit the
    /// oldest stream (lowest id) goes, counted: after a capture gap a
    /// stream may never see its end, and new streams are the live ones.
    fn open_stream(&mut self, id: u32, ts: u64, c: &mut HttpCounters) -> Option<&mut H2Stream> {
        if !self.streams.contains_key(&id) {
            if self.streams.len() >= self.max_streams {
                if let Some(&oldest) = self.streams.keys().min() {
                    self.streams.remove(&oldest);
                }
                c.h2.streams_over_limit += 1;
            }
            c.h2.streams += 1;
            self.streams
                .insert(id, H2Stream::new(self.limits.max_body_kept, ts));
        }
        self.streams.get_mut(&id)
    }

    fn end_stream(
        &mut self,
        side: Side,
        id: u32,
        ts: u64,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        let m = message(s, side);
        if m.ended {
            return;
        }
        m.ended = true;
        match side {
            Side::Client => {
                s.timings.request_end_ns = ts;
                c.requests += 1;
            }
            Side::Server => {
                s.timings.response_end_ns = ts;
                c.responses += 1;
            }
        }
        if s.complete() {
            if let Some(s) = self.streams.remove(&id) {
                self.emit(s, c, out);
            }
        }
    }

    fn emit(&mut self, s: H2Stream, c: &mut HttpCounters, out: &mut Vec<MessagePair>) {
        let Some(mut pair) = s.into_pair(c) else {
            return;
        };
        let cap = self.limits.max_decoded_bytes;
        decode_body(&pair.request.headers, &mut pair.request.body, cap, c);
        decode_body(&pair.response.headers, &mut pair.response.body, cap, c);
        c.exchanges += 1;
        out.push(pair);
    }
}

fn message(s: &mut H2Stream, side: Side) -> &mut stream::Message {
    match side {
        Side::Client => &mut s.request,
        Side::Server => &mut s.response,
    }
}

/// The header block fragment of a HEADERS frame: padding and priority
/// fields removed. `None` when the lengths do not add up.
fn headers_fragment<'a>(h: &FrameHeader, payload: &'a [u8]) -> Option<&'a [u8]> {
    let (mut body, pad) = unpad(h, payload)?;
    if h.has(frame::FLAG_PRIORITY) {
        body = body.get(5..)?;
    }
    body.get(..body.len().checked_sub(pad)?)
}

/// The promised stream and fragment of a PUSH_PROMISE frame.
fn push_fragment<'a>(h: &FrameHeader, payload: &'a [u8]) -> Option<(u32, &'a [u8])> {
    let (body, pad) = unpad(h, payload)?;
    let id: [u8; 4] = body.get(..4)?.try_into().ok()?;
    let promised = u32::from_be_bytes(id) & 0x7fff_ffff;
    let rest = body.get(4..)?;
    Some((promised, rest.get(..rest.len().checked_sub(pad)?)?))
}

/// The payload after the pad length byte, and the pad length.
fn unpad<'a>(h: &FrameHeader, payload: &'a [u8]) -> Option<(&'a [u8], usize)> {
    if h.has(frame::FLAG_PADDED) {
        let (&pad, rest) = payload.split_first()?;
        Some((rest, usize::from(pad)))
    } else {
        Some((payload, 0))
    }
}
