//! Heads: the start line and headers of one message. httparse parses them
//! once the blank line that ends them has arrived; the start line's texts
//! and the header names and values are kept as slices of one shared copy
//! of the head.

use bytes::Bytes;

use super::HttpError;
use crate::exchange::{Header, WireStr};
use crate::wire_str::slice_within;

/// Headers httparse accepts per head or trailer section; more is a limit drop.
const MAX_HEADERS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartLine {
    Request { method: WireStr, target: WireStr },
    Response { status: u16, reason: WireStr },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub start: StartLine,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub headers: Vec<Header>,
    /// Bytes the head took on the wire.
    pub wire_len: usize,
    /// Why httparse refused it, when it was salvaged (see `salvage`).
    pub malformed: Option<&'static str>,
}

impl Head {
    pub(crate) fn method(&self) -> &WireStr {
        static NONE: WireStr = WireStr::from_static("");
        match &self.start {
            StartLine::Request { method, .. } => method,
            StartLine::Response { .. } => &NONE,
        }
    }

    pub(crate) fn status(&self) -> u16 {
        match &self.start {
            StartLine::Request { .. } => 0,
            StartLine::Response { status, .. } => *status,
        }
    }

    /// Memory held, roughly, for the caller's accounting.
    pub(crate) fn held(&self) -> usize {
        self.wire_len + self.headers.len() * std::mem::size_of::<Header>()
    }
}

/// Index just past the blank line that ends a head starting at `buf[0]`.
/// `from` is how much of `buf` an earlier call already searched, so that a
/// head arriving byte by byte costs linear, not quadratic, time.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    // Back up two bytes: the "\n\r" of a terminator may end the old part.
    let mut i = from.saturating_sub(2).min(buf.len());
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        match (buf.get(nl + 1), buf.get(nl + 2)) {
            (Some(b'\n'), _) => return Some(nl + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// Parses a complete head (`buf` ends with its blank line); `owner`, when
/// `buf` lies inside it, is shared instead of copying the head.
pub(crate) fn parse_request(buf: &[u8], owner: Option<&Bytes>) -> Result<Head, HttpError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let n = complete(req.parse(buf))?;
    let copy = HeadCopy::new(buf, n, owner);
    let start = StartLine::Request {
        method: copy.text(req.method.unwrap_or_default()),
        target: copy.text(req.path.unwrap_or_default()),
    };
    Ok(Head {
        start,
        version: req.version.unwrap_or(1),
        headers: copy.headers(req.headers),
        wire_len: n,
        malformed: None,
    })
}

/// Parses a complete head (`buf` ends with its blank line); `owner` as
/// for `parse_request`.
pub(crate) fn parse_response(buf: &[u8], owner: Option<&Bytes>) -> Result<Head, HttpError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut slots);
    let n = complete(res.parse(buf))?;
    let copy = HeadCopy::new(buf, n, owner);
    let start = StartLine::Response {
        status: res.code.unwrap_or_default(),
        reason: copy.text(res.reason.unwrap_or_default()),
    };
    Ok(Head {
        start,
        version: res.version.unwrap_or(1),
        headers: copy.headers(res.headers),
        wire_len: n,
        malformed: None,
    })
}

/// Parses a complete trailer section (`buf` ends with its blank line);
/// returns its length and the trailers.
pub(crate) fn parse_trailers(buf: &[u8]) -> Result<(usize, Vec<Header>), HttpError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::parse_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete((n, headers))) => {
            Ok((n, HeadCopy::new(buf, n, None).headers(headers)))
        }
        Ok(httparse::Status::Partial) => Err(HttpError::Head(httparse::Error::NewLine)),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooLarge),
        Err(e) => Err(HttpError::Head(e)),
    }
}

fn complete(r: httparse::Result<usize>) -> Result<usize, HttpError> {
    match r {
        Ok(httparse::Status::Complete(n)) => Ok(n),
        // The caller found the blank line, so a partial parse means the
        // head is malformed in a way httparse waits on (e.g. no start line).
        Ok(httparse::Status::Partial) => Err(HttpError::Head(httparse::Error::NewLine)),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooLarge),
        Err(e) => Err(HttpError::Head(e)),
    }
}

/// The head copied once (or a slice of `owner` when it lies inside it):
/// the start line's texts and every header name and value point into it.
struct HeadCopy<'a> {
    buf: &'a [u8],
    copy: Bytes,
}

impl<'a> HeadCopy<'a> {
    fn new(buf: &'a [u8], len: usize, owner: Option<&Bytes>) -> Self {
        let head = &buf[..len.min(buf.len())];
        let copy = owner
            .and_then(|o| slice_within(o, head))
            .unwrap_or_else(|| Bytes::copy_from_slice(head));
        Self { buf, copy }
    }

    /// The bytes of `part` (a slice of `buf`) in the copy; `None` when it
    /// is not inside the head.
    fn of(&self, part: &[u8]) -> Option<&[u8]> {
        // httparse hands out subslices of `buf`, so the offset is in
        // range; `get` keeps this panic-free should that ever change.
        let at = (part.as_ptr() as usize).wrapping_sub(self.buf.as_ptr() as usize);
        self.copy.get(at..at.saturating_add(part.len()))
    }

    /// A text of the head (method, target, reason, header name).
    fn text(&self, part: &str) -> WireStr {
        // The part's bytes in the copy are the part's (a `&str`).
        self.of(part.as_bytes())
            .and_then(|s| std::str::from_utf8(s).ok())
            .map_or_else(|| WireStr::from(part), |s| WireStr::shared(&self.copy, s))
    }

    fn headers(&self, headers: &[httparse::Header<'_>]) -> Vec<Header> {
        headers
            .iter()
            .map(|h| Header {
                name: self.text(h.name),
                value: self.of(h.value).map_or_else(
                    || Bytes::copy_from_slice(h.value),
                    |s| self.copy.slice_ref(s),
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_head_end_table() {
        let cases: &[(&str, usize, Option<usize>)] = &[
            ("GET / HTTP/1.1\r\n\r\n", 0, Some(18)),
            ("GET / HTTP/1.1\n\n", 0, Some(16)),
            ("GET / HTTP/1.1\r\nA: b\r\n\r\nbody", 0, Some(24)),
            ("GET / HTTP/1.1\r\nA: b\r\n\r", 0, None),
            ("GET / HTTP/1.1\r\nA: b\r\n", 0, None),
            // Resuming right after "\n\r" still finds the terminator.
            ("GET / HTTP/1.1\r\n\r\n", 17, Some(18)),
            ("GET / HTTP/1.1\r\n\r\n", 16, Some(18)),
            ("", 0, None),
        ];
        for (buf, from, want) in cases {
            assert_eq!(
                find_head_end(buf.as_bytes(), *from),
                *want,
                "{buf:?} from {from}"
            );
        }
    }

    #[test]
    fn parse_request_table() {
        type Case = (
            &'static str,
            Result<(&'static str, &'static str, u8, usize), ()>,
        );
        let cases: &[Case] = &[
            (
                "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                Ok(("GET", "/a?b=1", 1, 1)),
            ),
            ("POST / HTTP/1.0\r\n\r\n", Ok(("POST", "/", 0, 0))),
            ("GET / HTTP/2.0\r\n\r\n", Err(())),
            ("GET /\r\n\r\n", Err(())),
            ("\x16\x03\x01\r\n\r\n", Err(())),
            ("GET / HTTP/1.1\r\nBad Header\r\n\r\n", Err(())),
        ];
        for (buf, want) in cases {
            let got = parse_request(buf.as_bytes(), None).map(|h| match h.start {
                StartLine::Request { method, target } => {
                    (method, target, h.version, h.headers.len())
                }
                StartLine::Response { .. } => unreachable!("request parser made a response"),
            });
            let got = got
                .as_ref()
                .map(|(m, t, v, n)| (m.as_str(), t.as_str(), *v, *n))
                .map_err(|_| ());
            assert_eq!(got, *want, "{buf:?}");
        }
    }

    #[test]
    fn header_values_share_the_head() {
        let buf = b"HTTP/1.1 404 Not Found\r\nX-A: one\r\nx-b:two  \r\n\r\n";
        let head = parse_response(buf, None).expect("valid head");
        assert_eq!(head.status(), 404);
        assert_eq!(head.wire_len, buf.len());
        let got: Vec<(&str, &[u8])> = head
            .headers
            .iter()
            .map(|h| (h.name.as_str(), &h.value[..]))
            .collect();
        assert_eq!(got, vec![("X-A", &b"one"[..]), ("x-b", &b"two"[..])]);
        // Names live in the head's one copy too: "X-A: " before "one".
        let (name, value) = (&head.headers[0].name, &head.headers[0].value);
        assert_eq!(name.as_ptr().wrapping_add(5), value.as_ptr());
        assert!(
            matches!(head.start, StartLine::Response { ref reason, .. } if reason == "Not Found")
        );
    }

    #[test]
    fn start_line_texts_are_static_or_share_the_head() {
        let owner = Bytes::from_static(b"GET /users/7?x=1 HTTP/1.1\r\n\r\n");
        let head = parse_request(&owner, Some(&owner)).expect("valid head");
        let StartLine::Request { method, target } = &head.start else {
            panic!("request parser made a response");
        };
        assert_eq!((method.as_str(), target.as_str()), ("GET", "/users/7?x=1"));
        assert!(slice_within(&owner, method.as_bytes()).is_none(), "static");
        assert_eq!(target.as_ptr(), owner[4..].as_ptr(), "a slice, not a copy");
        let buf = b"HTTP/1.1 499 Client Went Away\r\n\r\n";
        let head = parse_response(buf, None).expect("valid head");
        let StartLine::Response { status, reason } = &head.start else {
            panic!("response parser made a request");
        };
        assert_eq!((*status, reason.as_str()), (499, "Client Went Away"));
        assert_ne!(reason.as_ptr(), buf[13..].as_ptr(), "copied with the head");
    }

    #[test]
    fn too_many_headers_is_a_limit() {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            buf.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        assert_eq!(parse_request(&buf, None), Err(HttpError::TooLarge));
    }
}
