//! Request smuggling shapes (RFC 9112 §6.3, §11.2): heads whose body
//! length two implementations can read differently. Each is reported with
//! both readings; the sensor parses by the one RFC 9112 prefers (chunked
//! over Content-Length, the first Content-Length of several) and the
//! other reading's boundary goes into the finding.

use super::body::Framing;
use crate::exchange::Header;

/// Content codings a Transfer-Encoding may list (RFC 9110 §8.4.1, and the
/// registered `x-` aliases).
const CODINGS: &[&[u8]] = &[
    b"chunked",
    b"gzip",
    b"x-gzip",
    b"deflate",
    b"compress",
    b"x-compress",
    b"identity",
    b"br",
];

/// Two readings of where one message's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ambiguity {
    pub shape: &'static str,
    /// What the sensor parses by.
    pub follow: Framing,
    /// What another implementation may use instead.
    pub other: Framing,
}

/// Shape names, as findings report them.
pub const BOTH_LENGTHS: &str = "content_length_and_transfer_encoding";
pub const CONFLICTING_LENGTHS: &str = "conflicting_content_length";
pub const OBFUSCATED_TE: &str = "obfuscated_transfer_encoding";

/// The ambiguity in `headers`, if any. `no_length` is the framing of a
/// message without a length (no body for requests, close for responses).
pub(crate) fn check(headers: &[Header], no_length: Framing) -> Option<Ambiguity> {
    let mut lengths = content_lengths(headers);
    let first_length = lengths.clone().next();
    let mut te_headers = headers.iter().filter(|h| te_like(&h.name)).peekable();
    if te_headers.peek().is_some() {
        let te: Vec<&Header> = te_headers.collect();
        let says_chunked = te.iter().any(|h| contains_chunked(&h.value));
        let obfuscated = te.len() > 1 || te.iter().any(|h| irregular(h));
        let other = first_length.map_or(no_length, Framing::Length);
        if obfuscated {
            let follow = if says_chunked {
                Framing::Chunked
            } else {
                other
            };
            let other = if says_chunked {
                other
            } else {
                Framing::Chunked
            };
            return Some(Ambiguity {
                shape: OBFUSCATED_TE,
                follow,
                other,
            });
        }
        if first_length.is_some() {
            return Some(Ambiguity {
                shape: BOTH_LENGTHS,
                follow: Framing::Chunked,
                other,
            });
        }
        return None;
    }
    let first = first_length?;
    let differing = lengths.find(|&n| n != first)?;
    Some(Ambiguity {
        shape: CONFLICTING_LENGTHS,
        follow: Framing::Length(first),
        other: Framing::Length(differing),
    })
}

/// Every Content-Length value, in order; values that are not numbers are
/// left out (the framing code rejects them as malformed). Read as needed,
/// not collected: every message is checked.
fn content_lengths(headers: &[Header]) -> impl Iterator<Item = u64> + Clone + '_ {
    headers
        .iter()
        .filter(|h| h.name.trim().eq_ignore_ascii_case("content-length"))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .filter_map(|v| std::str::from_utf8(v.trim_ascii()).ok()?.parse().ok())
        .take(16)
}

/// A header some implementation may take for Transfer-Encoding: the exact
/// name, or one with whitespace around it or `_` for `-`.
fn te_like(name: &str) -> bool {
    let name = name.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b' || c == '\x0c');
    name.len() == "transfer-encoding".len()
        && name
            .bytes()
            .zip(b"transfer-encoding".iter())
            .all(|(a, &b)| a.to_ascii_lowercase() == b || (b == b'-' && a == b'_'))
}

fn contains_chunked(value: &[u8]) -> bool {
    value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"))
}

/// A Transfer-Encoding header that is not a clean list of known codings
/// under its exact name: the forms parsers disagree on.
fn irregular(h: &Header) -> bool {
    if !h.name.eq_ignore_ascii_case("transfer-encoding") {
        return true;
    }
    let value = &h.value[..];
    if value.is_empty() || value.iter().any(|&b| !(b.is_ascii_graphic() || b == b' ')) {
        return true;
    }
    let codings: Vec<&[u8]> = value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .collect();
    if codings
        .iter()
        .any(|c| !CODINGS.iter().any(|k| c.eq_ignore_ascii_case(k)))
    {
        return true;
    }
    // Chunked must be applied once and last (RFC 9112 §6.1).
    let chunked = codings
        .iter()
        .filter(|c| c.eq_ignore_ascii_case(b"chunked"))
        .count();
    chunked > 1 || (chunked == 1 && !codings[codings.len() - 1].eq_ignore_ascii_case(b"chunked"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use Framing::*;

    fn hs(list: &[(&str, &str)]) -> Vec<Header> {
        list.iter()
            .map(|(n, v)| Header {
                name: (*n).into(),
                value: Bytes::copy_from_slice(v.as_bytes()),
            })
            .collect()
    }

    #[test]
    fn shapes_table() {
        type Case = (
            &'static [(&'static str, &'static str)],
            Option<(&'static str, Framing, Framing)>,
        );
        let cases: &[Case] = &[
            (&[], None),
            (&[("Content-Length", "5")], None),
            (&[("Content-Length", "5"), ("content-length", "5")], None),
            (&[("Transfer-Encoding", "chunked")], None),
            (&[("Transfer-Encoding", "gzip, chunked")], None),
            (
                &[("Content-Length", "48"), ("Transfer-Encoding", "chunked")],
                Some((BOTH_LENGTHS, Chunked, Length(48))),
            ),
            (
                &[("Content-Length", "5"), ("Content-Length", "40")],
                Some((CONFLICTING_LENGTHS, Length(5), Length(40))),
            ),
            (
                &[("Content-Length", "5, 6")],
                Some((CONFLICTING_LENGTHS, Length(5), Length(6))),
            ),
            (
                &[("Transfer-Encoding", "xchunked"), ("Content-Length", "7")],
                Some((OBFUSCATED_TE, Chunked, Length(7))),
            ),
            (
                &[("Transfer-Encoding ", "chunked")],
                Some((OBFUSCATED_TE, Chunked, Length(0))),
            ),
            (
                &[("Transfer_Encoding", "chunked"), ("Content-Length", "3")],
                Some((OBFUSCATED_TE, Chunked, Length(3))),
            ),
            (
                &[("Transfer-Encoding", "\x0bchunked")],
                Some((OBFUSCATED_TE, Chunked, Length(0))),
            ),
            (
                &[
                    ("Transfer-Encoding", "chunked"),
                    ("Transfer-Encoding", "identity"),
                ],
                Some((OBFUSCATED_TE, Chunked, Length(0))),
            ),
            (
                &[("Transfer-Encoding", "chunked, identity")],
                Some((OBFUSCATED_TE, Chunked, Length(0))),
            ),
            (
                &[("Transfer-Encoding", "foo"), ("Content-Length", "9")],
                Some((OBFUSCATED_TE, Length(9), Chunked)),
            ),
        ];
        for (headers, want) in cases {
            let got = check(&hs(headers), Length(0)).map(|a| (a.shape, a.follow, a.other));
            assert_eq!(got, *want, "{headers:?}");
        }
    }
}
