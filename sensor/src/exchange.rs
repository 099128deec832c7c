//! `HttpExchange`: one completed request/response pair with its connection
//! context. It is the one value every later stage (detectors, outputs)
//! consumes, so it carries everything they need and nothing they must look up.

use std::sync::Arc;

use bytes::Bytes;

// The connection facts are conntrack's, the side is what capture saw;
// both are carried on the exchange.
pub use crate::capture::Role;
pub use crate::conntrack::ConnectionInfo;

pub use crate::wire_str::{HeaderName, WireStr};

/// A header as it appeared on the wire (name case preserved, value raw bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: Bytes,
}

/// A message body: a bounded prefix kept for inspection, plus the true size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// Body bytes as sent (after de-chunking, before content decoding),
    /// at most the configured prefix.
    pub raw: Bytes,
    /// `raw` decoded from gzip/deflate/br when the message declared one of
    /// those encodings and decoding succeeded (bounded by the decode cap).
    pub decoded: Option<Bytes>,
    /// Every body byte the message carried on the wire after de-chunking,
    /// whether it was kept, skipped past a capture gap, or dropped at a limit.
    pub wire_len: u64,
    /// True when `raw` is not the whole body: a limit cut it, or capture
    /// missed some of its bytes.
    pub truncated: bool,
    /// The last bytes seen of a body longer than `raw` (after the kept
    /// prefix, or after a capture gap), so a secret at the end of a large
    /// body is still inspected. Not contiguous with `raw`; empty when `raw`
    /// holds every byte seen.
    pub tail: Bytes,
}

impl Body {
    /// The bytes detectors should read: decoded when available, else raw.
    pub fn content(&self) -> &Bytes {
        self.decoded.as_ref().unwrap_or(&self.raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: WireStr,
    /// The request target as sent: path plus query string.
    pub target: WireStr,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub headers: Vec<Header>,
    pub trailers: Vec<Header>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub reason: WireStr,
    pub version: u8,
    pub headers: Vec<Header>,
    pub trailers: Vec<Header>,
    pub body: Body,
}

/// Monotonic timestamps (nanoseconds, capture clock) of the exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    pub request_start_ns: u64,
    pub request_end_ns: u64,
    pub response_start_ns: u64,
    pub response_end_ns: u64,
}

/// Which message of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Request,
    Response,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Request => "request",
            MessageKind::Response => "response",
        }
    }
}

/// One way of reading where a body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// `content-length`, `chunked`, `no body` or `connection close`.
    pub framing: &'static str,
    /// Where the body ends, in bytes after the head (framing included);
    /// `None` when that reading was not followed and cannot be known.
    pub body_end: Option<u64>,
}

/// Something irregular in how an exchange was framed or parsed. It holds
/// fixed reasons and lengths only, never bytes a peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// A message did not parse: the exchange carries what could be parsed
    /// (it is partial), and its bytes were still inspected.
    Malformed {
        message: MessageKind,
        reason: &'static str,
    },
    /// The head allows two readings of where the body ends (request
    /// smuggling shapes); `followed` is the one the sensor parsed by.
    AmbiguousFraming {
        message: MessageKind,
        shape: &'static str,
        followed: Reading,
        other: Reading,
    },
}

/// A request matched with its response, as the HTTP stage produces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePair {
    pub request: HttpRequest,
    pub response: HttpResponse,
    pub timings: Timings,
    /// True when the connection switched protocols after this exchange.
    pub upgraded: bool,
    /// Malformed messages and ambiguous framing, in the order found.
    pub anomalies: Vec<Anomaly>,
}

/// One HTTP exchange with its process and connection context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpExchange {
    pub connection: Arc<ConnectionInfo>,
    pub request: HttpRequest,
    pub response: HttpResponse,
    pub timings: Timings,
    pub upgraded: bool,
    /// Wall-clock time (Unix nanoseconds) the response completed.
    pub completed_unix_ns: i128,
    /// Malformed messages and ambiguous framing (see `Anomaly`).
    pub anomalies: Vec<Anomaly>,
}

impl HttpExchange {
    /// Body bytes the exchange holds (kept, tail and decoded, both
    /// messages): what holding it back costs in memory.
    pub fn body_bytes_held(&self) -> usize {
        [&self.request.body, &self.response.body]
            .iter()
            .map(|b| b.raw.len() + b.tail.len() + b.decoded.as_ref().map_or(0, |d| d.len()))
            .sum()
    }

    /// True when either body is not complete in this exchange.
    pub fn truncated(&self) -> bool {
        self.request.body.truncated || self.response.body.truncated
    }

    /// What failed to parse, as one sentence fragment ("request head: ...;
    /// response body: ..."), or `None` when both messages parsed. An
    /// exchange with one is partial.
    pub fn malformed(&self) -> Option<String> {
        let reasons: Vec<String> = self
            .anomalies
            .iter()
            .filter_map(|a| match a {
                Anomaly::Malformed { message, reason } => {
                    Some(format!("{} {reason}", message.as_str()))
                }
                Anomaly::AmbiguousFraming { .. } => None,
            })
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// The protocol version as output: `1.0`, `1.1` or `2`.
    pub fn http_version(&self) -> &'static str {
        match self.request.version {
            0 => "1.0",
            2 => "2",
            _ => "1.1",
        }
    }

    /// True for a gRPC call (`content-type: application/grpc...`).
    pub fn is_grpc(&self) -> bool {
        header(&self.request.headers, "content-type")
            .or_else(|| header(&self.response.headers, "content-type"))
            .is_some_and(|ct| ct.len() >= 16 && ct[..16].eq_ignore_ascii_case(b"application/grpc"))
    }

    /// The gRPC status of a gRPC call: from the trailers, or from the
    /// headers of a trailers-only response.
    pub fn grpc_status(&self) -> Option<u32> {
        if !self.is_grpc() {
            return None;
        }
        let r = &self.response;
        let value =
            header(&r.trailers, "grpc-status").or_else(|| header(&r.headers, "grpc-status"))?;
        std::str::from_utf8(value).ok()?.trim().parse().ok()
    }
}

/// Looks up a header case-insensitively; the first occurrence wins.
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_ref())
}
