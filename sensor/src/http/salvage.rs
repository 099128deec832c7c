//! Heads httparse refuses (a raw 0xFF in the target, a header line without
//! a colon, a head larger than the limit): what can still be read from
//! them, so the exchange is inspected as a partial one instead of lost.
//! A sensor fails open: the server may well have answered such a request.

use bytes::Bytes;

use super::message::{Head, StartLine};
use super::stream::Side;
use crate::exchange::Header;

/// Header lines read from a salvaged head.
const MAX_HEADERS: usize = 128;
/// Longest method token accepted.
const MAX_METHOD: usize = 24;

/// Reads the start line and whatever header lines have a name and a
/// colon from `buf`, the beginning of a head (complete or cut at the head
/// limit). `None` when not even the start line makes sense.
pub(crate) fn salvage(side: Side, buf: &[u8], reason: &'static str) -> Option<Head> {
    let mut lines = buf.split(|&b| b == b'\n');
    let first = trim_cr(lines.next()?);
    let (start, version) = match side {
        Side::Request => request_line(first)?,
        Side::Response => status_line(first)?,
    };
    let copy = Bytes::copy_from_slice(buf);
    let base = buf.as_ptr() as usize;
    let mut headers = Vec::new();
    for line in lines {
        let line = trim_cr(line);
        if line.is_empty() || headers.len() >= MAX_HEADERS {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
            continue;
        }
        let value = line[colon + 1..].trim_ascii();
        let at = (value.as_ptr() as usize).wrapping_sub(base);
        headers.push(Header {
            // Kept as written (spaces included): a name a strict parser
            // would not recognise must not be taken for the real one.
            name: String::from_utf8_lossy(name).into_owned().into(),
            value: copy
                .get(at..at.saturating_add(value.len()))
                .map_or_else(|| Bytes::copy_from_slice(value), |s| copy.slice_ref(s)),
        });
    }
    Some(Head {
        start,
        version,
        headers,
        wire_len: buf.len(),
        malformed: Some(reason),
    })
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `METHOD target HTTP/1.x`, leniently: the target is whatever lies between
/// the first and last space (bytes that are not UTF-8 replaced).
fn request_line(line: &[u8]) -> Option<(StartLine, u8)> {
    let sp = line.iter().position(|&b| b == b' ')?;
    let method = &line[..sp];
    if method.is_empty()
        || method.len() > MAX_METHOD
        || !method
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    {
        return None;
    }
    let rest = &line[sp + 1..];
    let (target, version) = match rest.iter().rposition(|&b| b == b' ') {
        Some(i) if rest[i + 1..].starts_with(b"HTTP/1.") => {
            (&rest[..i], version_of(&rest[i + 1..]))
        }
        _ => (rest, 1),
    };
    let start = StartLine::Request {
        method: String::from_utf8_lossy(method).into_owned().into(),
        target: String::from_utf8_lossy(target.trim_ascii())
            .into_owned()
            .into(),
    };
    Some((start, version))
}

/// `HTTP/1.x NNN reason`; the status is 0 when it is not three digits.
fn status_line(line: &[u8]) -> Option<(StartLine, u8)> {
    if !line.starts_with(b"HTTP/1.") {
        return None;
    }
    let version = version_of(line);
    let rest = line.get(9..).unwrap_or_default();
    let digits = rest.get(..3).unwrap_or_default();
    let status = if digits.len() == 3 && digits.iter().all(u8::is_ascii_digit) {
        digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))
    } else {
        0
    };
    let reason = rest.get(3..).unwrap_or_default().trim_ascii();
    let start = StartLine::Response {
        status,
        reason: String::from_utf8_lossy(reason).into_owned().into(),
    };
    Some((start, version))
}

fn version_of(v: &[u8]) -> u8 {
    u8::from(v.get(7) != Some(&b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salvage_table() {
        // (side, head, start line summary, header names)
        type Case = (
            Side,
            &'static [u8],
            Option<(&'static str, &'static [&'static str])>,
        );
        let cases: &[Case] = &[
            (
                Side::Request,
                b"GET /lookup/\xff/x HTTP/1.1\r\nHost: a\r\n\r\n",
                Some(("GET /lookup/\u{fffd}/x 1", &["Host"])),
            ),
            (
                Side::Request,
                b"POST /x HTTP/1.0\r\nBad Line\r\nTransfer-Encoding : chunked\r\n\r\n",
                Some(("POST /x 0", &["Transfer-Encoding "])),
            ),
            (Side::Request, b"\x16\x03\x01 x\r\n\r\n", None),
            (
                Side::Response,
                b"HTTP/1.1 200 OK\r\nX-A: \x01\r\n\r\n",
                Some(("200 OK 1", &["X-A"])),
            ),
            (Side::Response, b"HTTP/1.1 2x0\r\n", Some(("0  1", &[]))),
            (Side::Response, b"SSH-2.0\r\n", None),
        ];
        for (side, head, want) in cases {
            let got = salvage(*side, head, "test").map(|h| {
                let start = match &h.start {
                    StartLine::Request { method, target } => {
                        format!("{method} {target} {}", h.version)
                    }
                    StartLine::Response { status, reason } => {
                        format!("{status} {reason} {}", h.version)
                    }
                };
                let names: Vec<String> = h.headers.iter().map(|h| h.name.to_string()).collect();
                (start, names)
            });
            let want = want.map(|(s, n)| {
                (
                    s.to_owned(),
                    n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
                )
            });
            assert_eq!(got, want, "{head:?}");
        }
    }
}
