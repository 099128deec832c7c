//! `WireStr`: text as it appeared on the wire (case kept) without an
//! allocation of its own on the hot path: a header's name, a request's
//! method and target, a response's reason. An HTTP/1 head is copied once
//! (or is a slice of its capture record) and its header values point into
//! it; these texts do too, or are static when they are common ones.
//! Texts made elsewhere (HTTP/2, tests) own theirs.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// A header's name: the most common `WireStr`.
pub type HeaderName = WireStr;

/// UTF-8 text held in shared `Bytes`. Reads as a `&str` (`Deref`),
/// compares by its bytes (case-sensitive, as `String` did).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct WireStr(Bytes);

impl WireStr {
    /// A text that costs nothing to make (`"host"`).
    pub const fn from_static(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }

    /// `text`: static when it is a common one, else shared with `owner`
    /// when it lies inside it (a slice of the head's copy: no allocation),
    /// copied otherwise.
    pub fn shared(owner: &Bytes, text: &str) -> Self {
        if let Some(known) = common(text) {
            return Self::from_static(known);
        }
        match slice_within(owner, text.as_bytes()) {
            Some(bytes) => Self(bytes),
            None => Self::from(text),
        }
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor takes its bytes from a `&str` or a
        // `String` (or a slice of `owner` equal to one), so they are UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

/// The texts `common` knows, by length: header names, methods, reasons.
const COMMON_BY_LENGTH: [&[&str]; 18] = [
    &[],
    &[],
    &["OK"],
    &["GET", "PUT"],
    &[
        "Host", "host", "Date", "date", "ETag", "etag", "Vary", "vary", "POST", "HEAD",
    ],
    &["PATCH", "Found"],
    &[
        "Server", "server", "Accept", "accept", "Cookie", "cookie", "Origin", "Pragma", "DELETE",
    ],
    &[
        "Referer", "referer", "Expires", "Upgrade", "OPTIONS", "CONNECT", "Created",
    ],
    &["Location", "location", "Accepted"],
    &["Not Found", "Forbidden"],
    &[
        "User-Agent",
        "user-agent",
        "Connection",
        "connection",
        "Keep-Alive",
        "Set-Cookie",
        "No Content",
    ],
    &["Bad Request"],
    &[
        "Content-Type",
        "content-type",
        "X-Powered-By",
        "X-Request-Id",
        "Unauthorized",
        "Not Modified",
    ],
    &[
        "Last-Modified",
        "last-modified",
        "Accept-Ranges",
        "Cache-Control",
        "cache-control",
        "Authorization",
        "authorization",
    ],
    &["Content-Length", "content-length"],
    &[
        "Accept-Encoding",
        "accept-encoding",
        "Accept-Language",
        "X-Forwarded-For",
    ],
    &["Content-Encoding", "content-encoding"],
    &["Transfer-Encoding", "transfer-encoding"],
];

/// `text` as a static string when it is one of the names, methods and
/// reasons most heads carry, spelled as servers and clients send them:
/// such a text costs no reference count to keep and drop (two atomic
/// operations per text on every exchange). Exact bytes only, so the case
/// seen on the wire stays.
fn common(text: &str) -> Option<&'static str> {
    COMMON_BY_LENGTH
        .get(text.len())?
        .iter()
        .find(|known| **known == text)
        .copied()
}

/// `part` as a slice of `owner` (no copy) when it lies inside it.
pub fn slice_within(owner: &Bytes, part: &[u8]) -> Option<Bytes> {
    let at = (part.as_ptr() as usize).wrapping_sub(owner.as_ptr() as usize);
    (at <= owner.len() && part.len() <= owner.len() - at).then(|| owner.slice(at..at + part.len()))
}

impl Deref for WireStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for WireStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for WireStr {
    fn from(text: &str) -> Self {
        Self(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<String> for WireStr {
    fn from(text: String) -> Self {
        Self(Bytes::from(text.into_bytes()))
    }
}

impl From<WireStr> for String {
    fn from(text: WireStr) -> Self {
        text.as_str().to_owned()
    }
}

impl PartialEq<str> for WireStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for WireStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for WireStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for WireStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for WireStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_a_name_inside_its_owner_and_copies_one_outside() {
        let head = Bytes::from_static(b"GET / HTTP/1.1\r\nX-Api-Key: v\r\n\r\n");
        let text = std::str::from_utf8(&head).unwrap();
        let name = HeaderName::shared(&head, &text[16..25]);
        assert_eq!(name, "X-Api-Key");
        assert_eq!(name.as_ptr(), head[16..].as_ptr(), "a slice, not a copy");
        let elsewhere = String::from("Host");
        let copied = HeaderName::shared(&head, &elsewhere);
        assert_eq!(copied, "Host");
        assert_ne!(copied.as_ptr(), elsewhere.as_ptr());
        // Right past the end of the owner is outside it.
        let whole = std::str::from_utf8(&head[..]).unwrap();
        let after = HeaderName::shared(&head.slice(..4), &whole[4..8]);
        assert_eq!(after, "/ HT");
        assert_eq!(format!("{name:?} {name}"), "\"X-Api-Key\" X-Api-Key");
    }

    #[test]
    fn common_names_are_static_and_keep_their_case() {
        let head =
            Bytes::from_static(b"Content-Length: 1\r\ncontent-length: 1\r\nCONTENT-LENGTH: 1\r\n");
        let text = std::str::from_utf8(&head).unwrap();
        let (upper, lower, shout) = (&text[..14], &text[19..33], &text[38..52]);
        for (name, is_static) in [(upper, true), (lower, true), (shout, false)] {
            let got = HeaderName::shared(&head, name);
            assert_eq!(got, name);
            assert_eq!(
                slice_within(&head, got.as_bytes()).is_some(),
                !is_static,
                "{name}"
            );
        }
        // Every entry sits under its own length, so each can be found.
        for (len, names) in COMMON_BY_LENGTH.iter().enumerate() {
            for name in *names {
                assert_eq!(name.len(), len, "{name}");
                assert_eq!(common(name), Some(*name));
            }
        }
    }
}
