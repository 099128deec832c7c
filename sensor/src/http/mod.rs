//! HTTP/1.0 and 1.1: turns the two reassembled byte streams of a connection
//! into `MessagePair`s (request, response, timings).
//!
//! Guarantees:
//! - Streaming: bytes are consumed as they arrive; only an incomplete head,
//!   chunk-size line or trailer section is held back, never a body.
//! - Bounded: a head or trailer section larger than `max_header_bytes`, more
//!   than `max_buffered_bytes` held while waiting, more than
//!   `max_pending_requests` unanswered requests, a kept body beyond
//!   `max_body_kept` or decoded output beyond `max_decoded_bytes` are cut
//!   off and counted in `HttpCounters`. Nothing grows without bound.
//! - Robust: any input, including garbage and capture gaps, is counted and
//!   skipped (the direction resynchronises on the next line that starts a
//!   message); nothing panics on peer-controlled bytes, and work is linear
//!   in the input.
//! - Exact sizes: a gap inside a body of known length only costs the body
//!   its bytes (`truncated`), `wire_len` stays exact. After a gap inside a
//!   chunked body the decoder finds the chunk framing (or the next
//!   message) again, and the body is kept as truncated.
//! - Fails open: a head httparse refuses, or one over the head limit, is
//!   read as far as it goes (`salvage`), and a body whose framing breaks is
//!   emitted as far as it got; such exchanges carry `Anomaly::Malformed`
//!   and are inspected like any other. Heads with two readings of their
//!   body length carry `Anomaly::AmbiguousFraming` (`ambiguity`).
//! - Pairing is FIFO (HTTP/1.1 pipelining); interim 1xx responses are
//!   skipped; after `101 Switching Protocols` or a successful CONNECT both
//!   directions stop being parsed.

mod ambiguity;
mod body;
mod chunked;
mod decode;
pub mod h2;
mod message;
mod parser;
mod protocol;
mod salvage;
mod start;
mod stream;

#[cfg(test)]
mod tests;

pub use ambiguity::{BOTH_LENGTHS, CONFLICTING_LENGTHS, OBFUSCATED_TE};
pub use h2::H2Counters;
pub use parser::HttpConnectionParser;
pub use protocol::{starts_preface, ConnectionParser};
use start::{request_start, response_start, StartMatch};

/// Limits for one connection's parser; every one bounds memory or work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest head (start line and headers) or trailer section accepted.
    pub max_header_bytes: usize,
    /// Body bytes kept per message in `Body::raw`; the rest is only counted.
    pub max_body_kept: usize,
    /// Output cap when decoding gzip/deflate/br bodies (bomb guard).
    pub max_decoded_bytes: usize,
    /// Requests awaiting a response; beyond it the oldest is dropped.
    pub max_pending_requests: usize,
    /// Bytes one direction may hold back while waiting for more input.
    pub max_buffered_bytes: usize,
}

/// The `[limits]` defaults: one place says what they are.
impl Default for HttpLimits {
    fn default() -> Self {
        Self::from(&crate::config::LimitsConfig::default())
    }
}

impl From<&crate::config::LimitsConfig> for HttpLimits {
    fn from(limits: &crate::config::LimitsConfig) -> Self {
        Self {
            max_header_bytes: limits.max_header_bytes,
            max_body_kept: limits.max_body_kept_bytes,
            max_decoded_bytes: limits.max_decoded_bytes,
            max_pending_requests: limits.max_pending_requests,
            max_buffered_bytes: limits.max_buffered_bytes_per_direction,
        }
    }
}

/// What the HTTP stage produced and, above all, what it dropped.
#[derive(Default, Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpCounters {
    /// Complete requests.
    pub requests: u64,
    /// Complete final (non-1xx) responses.
    pub responses: u64,
    /// Interim 1xx responses skipped (100 Continue, 103 Early Hints...).
    pub interim_responses: u64,
    /// Pairs emitted.
    pub exchanges: u64,
    /// Heads, chunk framing or lengths that did not parse.
    pub parse_errors: u64,
    /// Times a direction lost framing and searched for the next message.
    pub resyncs: u64,
    /// Bytes skipped while searching for the next message.
    pub resync_skipped_bytes: u64,
    /// Messages lost because a capture gap broke their framing.
    pub gap_lost_messages: u64,
    /// Gap bytes absorbed inside bodies of known length (body truncated).
    pub gap_bytes_in_body: u64,
    /// Heads or trailer sections dropped for exceeding `max_header_bytes`
    /// (or httparse's header count).
    pub header_limit_drops: u64,
    /// Bytes dropped because a direction held more than
    /// `max_buffered_bytes` while waiting.
    pub buffer_limit_drops: u64,
    /// Body bytes counted but not kept (beyond `max_body_kept`).
    pub body_bytes_not_kept: u64,
    /// Final responses with no request to answer.
    pub unmatched_responses: u64,
    /// Requests dropped because `max_pending_requests` were waiting.
    pub pending_overflow: u64,
    /// Requests dropped without a response: their response was lost, or
    /// the connection closed first.
    pub requests_unanswered: u64,
    /// Responses dropped because their request was lost.
    pub responses_to_lost_requests: u64,
    /// Messages still incomplete when the connection closed.
    pub incomplete_at_close: u64,
    /// Bodies whose declared encoding did not decode at all.
    pub decode_errors: u64,
    /// Decoded bodies cut at `max_decoded_bytes`.
    pub decode_capped: u64,
    /// Connections that switched protocols (101 or CONNECT 2xx).
    pub upgrades: u64,
    /// Bytes ignored after a protocol switch (not errors).
    pub upgraded_bytes_ignored: u64,
    /// Heads httparse refused (or too large) that were still read as far
    /// as they go, so their exchange is inspected as a partial one.
    pub salvaged_heads: u64,
    /// Bodies cut short by a framing error and still emitted (partial).
    pub partial_bodies: u64,
    /// Heads whose body length two implementations can read differently
    /// (request smuggling shapes).
    pub ambiguous_framing: u64,
    /// Times a chunked body found its framing again after a capture gap.
    pub chunk_resyncs: u64,
    /// Bytes skipped inside chunked bodies while looking for that framing.
    pub chunk_resync_skipped_bytes: u64,
    /// HTTP/2 connections (their exchanges are also counted above).
    pub h2: H2Counters,
}

/// Why a message was dropped; each is counted, none is returned to callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// httparse rejected the start line or a header.
    #[error("malformed head: {0}")]
    Head(httparse::Error),
    /// The head did not end within `max_header_bytes`.
    #[error("head or trailers larger than the limit")]
    TooLarge,
    /// A Content-Length that is not a decimal number, or several that differ.
    #[error("invalid or conflicting Content-Length")]
    ContentLength,
    /// A request Transfer-Encoding whose last coding is not chunked.
    #[error("request Transfer-Encoding without final chunked")]
    TransferEncoding,
    /// A chunk-size line that is not hex, overflows, or is too long.
    #[error("invalid chunk size line")]
    ChunkSize,
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    ChunkEnd,
    /// A capture gap fell where framing cannot survive it.
    #[error("capture gap broke the message framing")]
    Gap,
}

impl HttpError {
    /// What failed, as a fixed phrase for partial exchanges and alerts.
    pub fn reason(&self) -> &'static str {
        match self {
            HttpError::Head(_) => "head did not parse",
            HttpError::TooLarge => "head larger than limits.max_header_bytes",
            HttpError::ContentLength => "Content-Length invalid",
            HttpError::TransferEncoding => "Transfer-Encoding without final chunked",
            HttpError::ChunkSize => "invalid chunk size line",
            HttpError::ChunkEnd => "chunk data not followed by CRLF",
            HttpError::Gap => "capture gap broke the framing",
        }
    }
}

/// True when `b` begins with a common method token and a space.
pub fn looks_like_request_start(b: &[u8]) -> bool {
    request_start(b) == StartMatch::Yes
}

/// True when `b` begins with `HTTP/1.`.
pub fn looks_like_response_start(b: &[u8]) -> bool {
    response_start(b) == StartMatch::Yes
}
