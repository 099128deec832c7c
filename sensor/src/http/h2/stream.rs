//! One HTTP/2 stream: the request the client sent on it and the response
//! the server sent back, each a head, a body and trailers, until both are
//! complete and become a `MessagePair`.

use bytes::Bytes;

use crate::exchange::{
    Header, HeaderName, HttpRequest, HttpResponse, MessagePair, Timings, WireStr,
};
use crate::http::body::BodyAcc;
use crate::http::HttpCounters;

use super::hpack::{Block, Decoded};

/// `HttpRequest::version` and `HttpResponse::version` of HTTP/2 messages.
pub const VERSION: u8 = 2;

/// One direction of a stream.
#[derive(Debug)]
pub struct Message {
    /// `None` until the head arrives; `Some(Undecodable)` when it came but
    /// could not be decoded.
    pub head: Option<Decoded>,
    pub body: BodyAcc,
    pub trailers: Vec<Header>,
    /// END_STREAM seen: the message is complete.
    pub ended: bool,
}

impl Message {
    fn new(max_body_kept: usize) -> Self {
        Self {
            head: None,
            body: BodyAcc::new(max_body_kept),
            trailers: Vec::new(),
            ended: false,
        }
    }

    fn held(&self) -> usize {
        let head = match &self.head {
            Some(Decoded::Block(b)) => fields_held(&b.fields),
            _ => 0,
        };
        head + fields_held(&self.trailers) + self.body.held()
    }
}

fn fields_held(fields: &[Header]) -> usize {
    fields.iter().map(|h| h.name.len() + h.value.len()).sum()
}

#[derive(Debug)]
pub struct H2Stream {
    pub request: Message,
    pub response: Message,
    pub timings: Timings,
}

impl H2Stream {
    pub fn new(max_body_kept: usize, start_ns: u64) -> Self {
        Self {
            request: Message::new(max_body_kept),
            response: Message::new(max_body_kept),
            timings: Timings {
                request_start_ns: start_ns,
                ..Timings::default()
            },
        }
    }

    pub fn held(&self) -> usize {
        self.request.held() + self.response.held()
    }

    pub fn complete(&self) -> bool {
        self.request.ended && self.response.ended
    }

    /// Whether both heads arrived, so that a pair can be made (bodies may be
    /// incomplete: they are then marked truncated).
    pub fn has_heads(&self) -> bool {
        self.request.head.is_some() && self.response.head.is_some()
    }

    /// The pair, with bodies not ended marked truncated; `None` (counted)
    /// when a head is missing.
    pub fn into_pair(mut self, c: &mut HttpCounters) -> Option<MessagePair> {
        let (Some(req_head), Some(res_head)) =
            (self.request.head.take(), self.response.head.take())
        else {
            return None;
        };
        if !self.request.ended {
            self.request.body.mark_truncated();
        }
        if !self.response.ended {
            self.response.body.mark_truncated();
        }
        let undecodable =
            matches!(req_head, Decoded::Undecodable) || matches!(res_head, Decoded::Undecodable);
        if undecodable {
            c.h2.exchanges_undecodable += 1;
        }
        let req = block(req_head);
        let res = block(res_head);
        let authority = req.authority.map(text_bytes);
        let request = HttpRequest {
            method: req.method.unwrap_or_default().into(),
            target: target(req.path, authority.as_ref()).into(),
            version: VERSION,
            headers: with_host(req.fields, authority),
            trailers: self.request.trailers,
            body: self.request.body.into_body(),
        };
        let response = HttpResponse {
            status: res.status.unwrap_or(0),
            reason: WireStr::default(),
            version: VERSION,
            headers: res.fields,
            trailers: self.response.trailers,
            body: self.response.body.into_body(),
        };
        Some(MessagePair {
            request,
            response,
            timings: self.timings,
            upgraded: false,
            anomalies: Vec::new(),
        })
    }
}

fn block(d: Decoded) -> Block {
    match d {
        Decoded::Block(b) => b,
        Decoded::Undecodable => Block::default(),
    }
}

/// `:path`, or `:authority` for CONNECT (which has no path).
fn target(path: Option<String>, authority: Option<&Bytes>) -> String {
    path.or_else(|| authority.map(|a| String::from_utf8_lossy(a).into_owned()))
        .unwrap_or_default()
}

/// `:authority` as text: bytes that are not UTF-8 replaced, as every
/// value made into a `String` is (it becomes `Host` and the target).
fn text_bytes(b: Bytes) -> Bytes {
    match std::str::from_utf8(&b) {
        Ok(_) => b,
        Err(_) => Bytes::from(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// HTTP/2 carries the host as `:authority`; later stages read `Host`, so
/// it is added as one when the request has none.
fn with_host(mut fields: Vec<Header>, authority: Option<Bytes>) -> Vec<Header> {
    if let Some(authority) = authority {
        if !fields.iter().any(|h| h.name.eq_ignore_ascii_case("host")) {
            fields.insert(
                0,
                Header {
                    name: HeaderName::from_static("host"),
                    value: authority,
                },
            );
        }
    }
    fields
}
