//! URL-encoded pairs (query strings and form bodies), and which parameter
//! names carry credentials.

use std::borrow::Cow;

/// The query string of a request target (after `?`, before `#`).
pub(crate) fn query_of(target: &str) -> &str {
    let Some((_, query)) = target.split_once('?') else {
        return "";
    };
    query.split('#').next().unwrap_or("")
}

/// `a=1&b=x%20y` as decoded (name, value) pairs; a bare `a` has an empty value.
pub(crate) fn pairs(text: &[u8]) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> {
    text.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => (decode(&pair[..i]), decode(&pair[i + 1..])),
            None => (decode(pair), Cow::Borrowed(&b""[..])),
        })
}

fn decode(s: &[u8]) -> Cow<'_, [u8]> {
    if !s.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (
            s[i],
            s.get(i + 1).copied().and_then(hex),
            s.get(i + 2).copied().and_then(hex),
        ) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(high), Some(low)) => {
                out.push(high * 16 + low);
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// How sure a parameter name is to carry a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strength {
    /// The name says so (`password`, `api_key`, `access_token`): any real
    /// value counts.
    Strong,
    /// A generic name also used for other things (`key`, `token`, `sig`):
    /// the value must look like a secret too.
    Weak,
}

/// Names compared lowercase with `-` and `_` removed.
const STRONG: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "clientsecret",
    "apikey",
    "apitoken",
    "apisecret",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "privatetoken",
    "sessiontoken",
    "sessionid",
    "jsessionid",
    "phpsessid",
    "signature",
    "xamzsignature",
    "xamzsecuritytoken",
    "xamzcredential",
    "xgoogsignature",
    "xgoogcredential",
    "jwt",
    "bearer",
    "credential",
    "credentials",
];

const WEAK: &[&str] = &["token", "key", "auth", "sig", "session", "sid", "secretkey"];

/// Whether a query or form parameter named `name` carries a credential.
pub(crate) fn credential_param(name: &[u8]) -> Option<Strength> {
    if name.len() > 32 {
        return None;
    }
    let normal: Vec<u8> = name
        .iter()
        .filter(|&&b| b != b'-' && b != b'_')
        .map(u8::to_ascii_lowercase)
        .collect();
    let is = |list: &[&str]| list.iter().any(|n| n.as_bytes() == normal.as_slice());
    if is(STRONG) {
        Some(Strength::Strong)
    } else if is(WEAK) {
        Some(Strength::Weak)
    } else {
        None
    }
}

/// Values that stand for "no credential": empty, placeholders, one
/// character repeated (`xxxx`, `****`).
pub(crate) fn is_placeholder(value: &[u8]) -> bool {
    let trimmed = value.trim_ascii();
    let Some(&first) = trimmed.first() else {
        return true;
    };
    const WORDS: &[&str] = &[
        "null",
        "undefined",
        "none",
        "true",
        "false",
        "redacted",
        "hidden",
    ];
    trimmed.iter().all(|&b| b == first)
        || WORDS
            .iter()
            .any(|w| trimmed.eq_ignore_ascii_case(w.as_bytes()))
}

/// A value worth reporting under a name of this strength.
pub(crate) fn is_credential_value(value: &[u8], strength: Strength) -> bool {
    if is_placeholder(value) {
        return false;
    }
    match strength {
        Strength::Strong => value.len() >= 4,
        Strength::Weak => {
            value.len() >= 16
                && value.iter().any(u8::is_ascii_digit)
                && value.iter().any(u8::is_ascii_alphabetic)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_and_split() {
        let got: Vec<(Vec<u8>, Vec<u8>)> = pairs(b"a=1&b=x%20y+z&flag&&c=%zz")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> =
            [("a", "1"), ("b", "x y z"), ("flag", ""), ("c", "%zz")]
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect();
        assert_eq!(got, want);
        assert_eq!(query_of("/x?a=1#frag"), "a=1");
        assert_eq!(query_of("/x"), "");
    }

    #[test]
    fn credential_names_and_values() {
        assert_eq!(credential_param(b"access_token"), Some(Strength::Strong));
        assert_eq!(credential_param(b"API-Key"), Some(Strength::Strong));
        assert_eq!(credential_param(b"X-Amz-Signature"), Some(Strength::Strong));
        assert_eq!(credential_param(b"token"), Some(Strength::Weak));
        assert_eq!(credential_param(b"page_token"), None);
        assert_eq!(credential_param(b"sort"), None);
        assert!(is_credential_value(b"hunter2", Strength::Strong));
        assert!(!is_credential_value(b"xxxxxxxx", Strength::Strong));
        assert!(!is_credential_value(b"null", Strength::Strong));
        assert!(!is_credential_value(b"created_at", Strength::Weak));
        assert!(is_credential_value(b"9f86d081884c7d659a2f", Strength::Weak));
    }
}
