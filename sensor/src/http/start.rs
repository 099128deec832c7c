//! Recognising where a message starts: the cheap byte patterns used to
//! resynchronise a direction after garbage or a gap, and to reject bytes
//! that cannot begin a head before buffering them. Every check answers on a
//! prefix as short as one byte (`NeedMore` when the bytes so far could
//! still match), so a start split across segments is never missed.

use super::stream::Side;

const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
    b"CONNECT ",
];
const RESPONSE_START: &[u8] = b"HTTP/1.";

/// Answer of a start check on a possibly short prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartMatch {
    Yes,
    No,
    /// `b` is a proper prefix of a start: more bytes decide.
    NeedMore,
}

fn match_any(b: &[u8], starts: &[&[u8]]) -> StartMatch {
    let mut need_more = false;
    for s in starts {
        if b.starts_with(s) {
            return StartMatch::Yes;
        }
        need_more |= s.starts_with(b);
    }
    if need_more {
        StartMatch::NeedMore
    } else {
        StartMatch::No
    }
}

pub(crate) fn request_start(b: &[u8]) -> StartMatch {
    match_any(b, &METHODS)
}

pub(crate) fn response_start(b: &[u8]) -> StartMatch {
    match_any(b, &[RESPONSE_START])
}

/// A request start in the middle of a line: a common method, a space and
/// an origin-form target ("GET /").
pub(crate) fn request_line_start(b: &[u8]) -> StartMatch {
    match request_start(b) {
        StartMatch::Yes => {
            let method = b.iter().position(|&x| x == b' ').unwrap_or(0);
            match b.get(method + 1) {
                None => StartMatch::NeedMore,
                Some(b'/') => StartMatch::Yes,
                Some(_) => StartMatch::No,
            }
        }
        other => other,
    }
}

/// A status line in the middle of a line: "HTTP/1.x NNN".
pub(crate) fn status_line_start(b: &[u8]) -> StartMatch {
    const PATTERN: &[u8] = b"HTTP/1.x 000";
    for (i, &p) in PATTERN.iter().enumerate() {
        let Some(&x) = b.get(i) else {
            return StartMatch::NeedMore;
        };
        let ok = match p {
            b'x' => x == b'0' || x == b'1',
            b'0' => x.is_ascii_digit(),
            _ => x == p,
        };
        if !ok {
            return StartMatch::No;
        }
    }
    StartMatch::Yes
}

/// False when `b` (a prefix of a head) cannot begin a message of `side`:
/// a response must start with "HTTP/1.", a request with a method token
/// (any token, not only the common ones, so extension methods parse).
pub(crate) fn plausible_start(side: Side, b: &[u8]) -> bool {
    match side {
        Side::Response => response_start(b) != StartMatch::No,
        Side::Request => {
            const MAX_METHOD: usize = 24;
            let token = b
                .iter()
                .take(MAX_METHOD + 1)
                .take_while(|&&x| x != b' ')
                .count();
            let all_token = b[..token]
                .iter()
                .all(|&x| x.is_ascii_alphanumeric() || x == b'-' || x == b'_');
            token > 0 && all_token && (token <= MAX_METHOD)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StartMatch::{NeedMore, No, Yes};

    #[test]
    fn patterns_table() {
        type Check = fn(&[u8]) -> StartMatch;
        let line: Check = request_line_start;
        let status: Check = status_line_start;
        let req: Check = request_start;
        let cases: &[(&str, Check, &str, StartMatch)] = &[
            ("request", req, "GET / HTTP/1.1", Yes),
            ("request", req, "DEL", NeedMore),
            ("request", req, "", NeedMore),
            ("request", req, "FETCH /", No),
            ("mid-line request", line, "POST /x", Yes),
            ("mid-line request", line, "POST ", NeedMore),
            ("mid-line request", line, "GET it", No),
            ("mid-line status", status, "HTTP/1.1 200 OK", Yes),
            ("mid-line status", status, "HTTP/1.0 5", NeedMore),
            ("mid-line status", status, "HTTP/1.1 OK", No),
            ("mid-line status", status, "HTTP/1.2 200", No),
        ];
        for (what, check, b, want) in cases {
            assert_eq!(check(b.as_bytes()), *want, "{what}: {b:?}");
        }
    }

    #[test]
    fn plausible_table() {
        let cases: &[(Side, &str, bool)] = &[
            (Side::Request, "PROPFIND / HTTP/1.1", true),
            (Side::Request, "G", true),
            (Side::Request, "\x16\x03", false),
            (Side::Request, "{\"json\": 1}", false),
            (Side::Request, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false),
            (Side::Response, "HTTP/1.1 200", true),
            (Side::Response, "HTT", true),
            (Side::Response, "HTTP/2 200", false),
        ];
        for (side, b, want) in cases {
            assert_eq!(
                plausible_start(*side, b.as_bytes()),
                *want,
                "{side:?} {b:?}"
            );
        }
    }
}
