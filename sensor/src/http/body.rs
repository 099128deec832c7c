//! Body framing (RFC 9112 §6): how long a body is, decided from the head,
//! and the accumulator that keeps a bounded prefix of it while counting
//! every byte.

use bytes::Bytes;

use super::{HttpCounters, HttpError};
use crate::exchange::{header, Body, Header};
use crate::wire_str::slice_within;

/// How the body of a message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes (0: no body).
    Length(u64),
    /// Chunked transfer coding, then trailers.
    Chunked,
    /// Everything until the connection closes (responses only).
    Close,
}

/// Framing of a request: chunked, Content-Length, or no body.
pub(crate) fn request_framing(headers: &[Header]) -> Result<Framing, HttpError> {
    match final_coding_is_chunked(headers) {
        // Any other final coding leaves the length unknowable (§6.3 rule 4).
        Some(false) => Err(HttpError::TransferEncoding),
        // Transfer-Encoding overrides Content-Length (§6.3 rule 3).
        Some(true) => Ok(Framing::Chunked),
        None => Ok(Framing::Length(content_length(headers)?.unwrap_or(0))),
    }
}

/// Framing of a response to a request made with `method`.
pub(crate) fn response_framing(
    status: u16,
    method: &str,
    headers: &[Header],
) -> Result<Framing, HttpError> {
    let connect_ok = method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status);
    if method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || connect_ok
    {
        return Ok(Framing::Length(0));
    }
    match final_coding_is_chunked(headers) {
        Some(true) => Ok(Framing::Chunked),
        Some(false) => Ok(Framing::Close),
        None => Ok(content_length(headers)?.map_or(Framing::Close, Framing::Length)),
    }
}

/// `None` without Transfer-Encoding, else whether its last coding is chunked.
fn final_coding_is_chunked(headers: &[Header]) -> Option<bool> {
    let last = headers
        .iter()
        .rev()
        .find(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))?;
    let coding = last.value.rsplit(|&b| b == b',').next().unwrap_or_default();
    Some(coding.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// The Content-Length, if any. Several headers or list elements must agree
/// (§6.3 rule 5); anything else is an error, since guessing a length lets a
/// peer hide one message inside another.
fn content_length(headers: &[Header]) -> Result<Option<u64>, HttpError> {
    let mut found: Option<u64> = None;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        for item in h.value.split(|&b| b == b',') {
            let n = parse_decimal(item.trim_ascii()).ok_or(HttpError::ContentLength)?;
            if found.is_some_and(|f| f != n) {
                return Err(HttpError::ContentLength);
            }
            found = Some(n);
        }
    }
    Ok(found)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

/// True when the request asks to switch protocols after its response.
pub(crate) fn wants_upgrade(method: &str, headers: &[Header]) -> bool {
    method.eq_ignore_ascii_case("CONNECT") || header(headers, "upgrade").is_some()
}

/// Most bytes of a body's end kept past the prefix (a quarter of the
/// prefix limit when that is smaller).
const MAX_TAIL: usize = 64 * 1024;

/// Keeps the first `limit` body bytes and a window of the last bytes seen
/// after them, and counts them all.
#[derive(Debug, Default)]
pub(crate) struct BodyAcc {
    /// The kept body while it is one slice of a capture record (no copy):
    /// set when the first piece arrives whole inside its record; a second
    /// piece moves it into `kept`.
    shared: Option<Bytes>,
    kept: Vec<u8>,
    /// The end of the body past `kept`: at most `2 * tail_limit` bytes, cut
    /// to the last `tail_limit` when the body ends.
    tail: Vec<u8>,
    tail_limit: usize,
    wire_len: u64,
    truncated: bool,
    limit: usize,
}

impl BodyAcc {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            tail_limit: MAX_TAIL.min(limit / 4),
            ..Self::default()
        }
    }

    /// `data` for a piece that may lie inside `owner` (the capture record
    /// it arrived in): a body that arrives in one piece is kept as a slice
    /// of the record instead of a copy.
    pub(crate) fn data_in(&mut self, d: &[u8], owner: Option<&Bytes>, counters: &mut HttpCounters) {
        let first = self.shared.is_none() && self.kept.is_empty() && self.tail.is_empty();
        if first && !d.is_empty() && d.len() <= self.limit && self.wire_len == 0 {
            if let Some(slice) = owner.and_then(|o| slice_within(o, d)) {
                self.wire_len = d.len() as u64;
                self.shared = Some(slice);
                return;
            }
        }
        self.data(d, counters);
    }

    pub(crate) fn data(&mut self, d: &[u8], counters: &mut HttpCounters) {
        if let Some(shared) = self.shared.take() {
            // More than one piece after all: copy what the record held.
            self.kept.reserve_exact(self.limit.min(2 * shared.len()));
            self.kept.extend_from_slice(&shared);
        }
        self.wire_len = self.wire_len.saturating_add(d.len() as u64);
        let take = d.len().min(self.limit - self.kept.len());
        if take > 0 {
            let need = self.kept.len() + take;
            if need > self.kept.capacity() {
                // Grow geometrically but never past the limit, so a kept
                // body costs at most `limit` bytes of memory.
                let want = need.max(self.kept.capacity() * 2).min(self.limit);
                self.kept.reserve_exact(want - self.kept.len());
            }
            self.kept.extend_from_slice(&d[..take]);
        }
        if take < d.len() {
            self.truncated = true;
            counters.body_bytes_not_kept += (d.len() - take) as u64;
            self.keep_tail(&d[take..]);
        }
    }

    /// Slides the tail window over `rest`, bytes past the kept prefix.
    fn keep_tail(&mut self, rest: &[u8]) {
        let window = self.tail_limit;
        if window == 0 {
            return;
        }
        if self.tail.capacity() < 2 * window {
            // Once, exactly: the window never grows past it.
            self.tail.reserve_exact(2 * window - self.tail.len());
        }
        if rest.len() >= window {
            self.tail.clear();
            self.tail.extend_from_slice(&rest[rest.len() - window..]);
            return;
        }
        if self.tail.len() + rest.len() > 2 * window {
            let drop = self.tail.len() + rest.len() - window;
            self.tail.drain(..drop.min(self.tail.len()));
        }
        self.tail.extend_from_slice(rest);
    }

    /// `n` body bytes went by uncaptured.
    pub(crate) fn gap(&mut self, n: u64, counters: &mut HttpCounters) {
        self.wire_len = self.wire_len.saturating_add(n);
        self.truncated = true;
        counters.gap_bytes_in_body += n;
        if !self.tail.is_empty() {
            // Keep what comes after the gap from running into what came
            // before it: a value split by a gap is not one value.
            self.keep_tail(b"\n");
        }
    }

    /// Some of the body will never be seen (it was cut short).
    pub(crate) fn mark_truncated(&mut self) {
        self.truncated = true;
    }

    /// Memory held.
    pub(crate) fn held(&self) -> usize {
        self.shared.as_ref().map_or(0, Bytes::len) + self.kept.capacity() + self.tail.capacity()
    }

    pub(crate) fn into_body(self) -> Body {
        let from = self.tail.len().saturating_sub(self.tail_limit);
        Body {
            raw: self.shared.unwrap_or_else(|| Bytes::from(self.kept)),
            decoded: None,
            wire_len: self.wire_len,
            truncated: self.truncated,
            tail: Bytes::copy_from_slice(&self.tail[from..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(list: &[(&str, &str)]) -> Vec<Header> {
        list.iter()
            .map(|(n, v)| Header {
                name: (*n).into(),
                value: Bytes::copy_from_slice(v.as_bytes()),
            })
            .collect()
    }

    #[test]
    fn request_framing_table() {
        use Framing::*;
        type Case = (
            &'static [(&'static str, &'static str)],
            Result<Framing, HttpError>,
        );
        let cases: &[Case] = &[
            (&[], Ok(Length(0))),
            (&[("Content-Length", "42")], Ok(Length(42))),
            (&[("content-length", " 7 ")], Ok(Length(7))),
            (&[("Content-Length", "5, 5")], Ok(Length(5))),
            (
                &[("Content-Length", "5"), ("Content-Length", "5")],
                Ok(Length(5)),
            ),
            (
                &[("Content-Length", "5"), ("Content-Length", "6")],
                Err(HttpError::ContentLength),
            ),
            (&[("Content-Length", "5, 6")], Err(HttpError::ContentLength)),
            (&[("Content-Length", "-1")], Err(HttpError::ContentLength)),
            (&[("Content-Length", "+1")], Err(HttpError::ContentLength)),
            (&[("Content-Length", "")], Err(HttpError::ContentLength)),
            (&[("Content-Length", "0x10")], Err(HttpError::ContentLength)),
            (
                &[("Content-Length", "99999999999999999999")],
                Err(HttpError::ContentLength),
            ),
            (&[("Transfer-Encoding", "chunked")], Ok(Chunked)),
            (&[("Transfer-Encoding", "gzip, Chunked")], Ok(Chunked)),
            (
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "3")],
                Ok(Chunked),
            ),
            (
                &[("Transfer-Encoding", "chunked, gzip")],
                Err(HttpError::TransferEncoding),
            ),
        ];
        for (headers, want) in cases {
            assert_eq!(&request_framing(&hs(headers)), want, "headers {headers:?}");
        }
    }

    #[test]
    fn response_framing_table() {
        use Framing::*;
        let cl = &[("Content-Length", "10")][..];
        let te = &[("Transfer-Encoding", "chunked")][..];
        type Case<'a> = (
            u16,
            &'a str,
            &'a [(&'a str, &'a str)],
            Result<Framing, HttpError>,
        );
        let cases: &[Case] = &[
            (200, "GET", cl, Ok(Length(10))),
            (200, "HEAD", cl, Ok(Length(0))),
            (204, "GET", cl, Ok(Length(0))),
            (304, "GET", cl, Ok(Length(0))),
            (100, "POST", cl, Ok(Length(0))),
            (101, "GET", &[], Ok(Length(0))),
            (200, "CONNECT", cl, Ok(Length(0))),
            (407, "CONNECT", cl, Ok(Length(10))),
            (200, "GET", te, Ok(Chunked)),
            (200, "GET", &[("Transfer-Encoding", "gzip")], Ok(Close)),
            (200, "GET", &[], Ok(Close)),
            (
                200,
                "GET",
                &[("Content-Length", "x")],
                Err(HttpError::ContentLength),
            ),
        ];
        for (status, method, headers, want) in cases {
            assert_eq!(
                &response_framing(*status, method, &hs(headers)),
                want,
                "{status} {method} {headers:?}"
            );
        }
    }

    #[test]
    fn tail_keeps_the_end_of_a_long_body() {
        let mut c = HttpCounters::default();
        let mut acc = BodyAcc::new(16);
        acc.data(b"0123456789abcdef", &mut c);
        for _ in 0..100 {
            acc.data(b"xy", &mut c);
        }
        acc.data(b"SECRET", &mut c);
        acc.gap(5, &mut c);
        acc.data(b"ZZ", &mut c);
        assert!(acc.held() <= 16 + 8);
        let body = acc.into_body();
        assert_eq!(&body.raw[..], b"0123456789abcdef");
        assert_eq!(&body.tail[..], b"T\nZZ");
        assert_eq!(body.wire_len, 16 + 200 + 6 + 5 + 2);
    }

    #[test]
    fn accumulator_keeps_prefix_and_counts_all() {
        // (limit, pieces (None = gap of 3), raw, wire_len, truncated)
        type Case = (
            usize,
            &'static [Option<&'static str>],
            &'static str,
            u64,
            bool,
        );
        let cases: &[Case] = &[
            (10, &[Some("abc"), Some("def")], "abcdef", 6, false),
            (4, &[Some("abc"), Some("def")], "abcd", 6, true),
            (0, &[Some("abc")], "", 3, true),
            (10, &[Some("ab"), None, Some("c")], "abc", 6, true),
            (
                8,
                &[Some("abcdefgh"), Some("ijklmnop")],
                "abcdefgh",
                16,
                true,
            ),
        ];
        for (limit, pieces, raw, wire, truncated) in cases {
            let mut c = HttpCounters::default();
            let mut acc = BodyAcc::new(*limit);
            for p in *pieces {
                match p {
                    Some(d) => acc.data(d.as_bytes(), &mut c),
                    None => acc.gap(3, &mut c),
                }
            }
            assert!(acc.held() <= *limit + 2 * (*limit / 4));
            let body = acc.into_body();
            assert_eq!(
                (&body.raw[..], body.wire_len, body.truncated),
                (raw.as_bytes(), *wire, *truncated)
            );
        }
    }
}
