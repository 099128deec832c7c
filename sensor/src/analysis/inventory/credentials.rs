//! Which credentials a request carries: an Authorization header (by
//! scheme), a session-like cookie, an API-key header or an API-key query
//! parameter. Only kinds and names are kept (`bearer`, `JSESSIONID`,
//! `x-api-key`), never a value.

use serde::{Deserialize, Serialize};

use crate::exchange::HttpRequest;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// `Authorization: <scheme> ...`; the name is the scheme, lowercase.
    Authorization,
    /// A cookie whose name says session or token; the name is the cookie's.
    Cookie,
    /// A header whose name says API key or token; lowercase.
    ApiKeyHeader,
    /// A query parameter whose name says API key or token; lowercase.
    ApiKeyQuery,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Credential {
    pub kind: CredentialKind,
    pub name: String,
}

/// Names longer than this are not names a person chose for a credential.
const MAX_NAME: usize = 64;

/// Every credential the request carries, in header order, then the query.
/// Allocates only for what it finds: it runs on every exchange.
pub fn credentials_in(request: &HttpRequest) -> Vec<Credential> {
    let mut found = Vec::new();
    for header in &request.headers {
        let name = header.name.as_str();
        if name.eq_ignore_ascii_case("authorization") {
            found.push(Credential {
                kind: CredentialKind::Authorization,
                name: auth_scheme(&String::from_utf8_lossy(&header.value)),
            });
        } else if name.eq_ignore_ascii_case("cookie") {
            let value = String::from_utf8_lossy(&header.value);
            // A piece without `=` has no name, only text that may be a value.
            for (cookie_name, _) in value.split(';').filter_map(|c| c.split_once('=')) {
                let cookie_name = cookie_name.trim();
                if is_plain_name(cookie_name) && is_session_cookie(cookie_name) {
                    found.push(Credential {
                        kind: CredentialKind::Cookie,
                        name: cookie_name.to_owned(),
                    });
                }
            }
        } else if is_plain_name(name) && is_key_header(name) {
            found.push(Credential {
                kind: CredentialKind::ApiKeyHeader,
                name: name.to_ascii_lowercase(),
            });
        }
    }
    if let Some((_, query)) = request.target.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        for pair in query.split('&') {
            let name = pair.split('=').next().unwrap_or_default();
            if is_plain_name(name) && is_key_param(name) {
                found.push(Credential {
                    kind: CredentialKind::ApiKeyQuery,
                    name: name.to_ascii_lowercase(),
                });
            }
        }
    }
    found
}

/// The scheme word (`bearer`, `basic`, `digest`, `aws4-hmac-sha256`), or
/// `other` when the header starts with something that is not one.
fn auth_scheme(value: &str) -> String {
    let scheme = value.split_whitespace().next().unwrap_or_default();
    let is_word = !scheme.is_empty()
        && scheme.len() <= 32
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !value.trim().eq(scheme);
    if is_word {
        scheme.to_ascii_lowercase()
    } else {
        "other".to_owned()
    }
}

/// Letters, digits and `-_.`: a name, not data smuggled into one.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Lowercase with `-`, `_` and `.` removed: `X-Api-Key`, `api_key` and
/// `apiKey` all become `xapikey` / `apikey`.
fn squashed(name: &str) -> String {
    name.bytes()
        .filter(|b| !matches!(b, b'-' | b'_' | b'.'))
        .map(|b| b.to_ascii_lowercase() as char)
        .collect()
}

const KEY_WORDS: &[&str] = &[
    "apikey",
    "apitoken",
    "authtoken",
    "accesstoken",
    "accesskey",
    "secretkey",
    "subscriptionkey",
    "privatetoken",
];

/// Case-insensitive substring test, without allocating.
fn mentions(name: &str, word: &str) -> bool {
    name.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

fn is_key_header(name: &str) -> bool {
    // Every key word holds `key` or `token`: most headers stop here.
    if !mentions(name, "key") && !mentions(name, "token") {
        return false;
    }
    let s = squashed(name);
    // CSRF tokens protect forms; they do not authenticate a caller.
    !s.contains("csrf")
        && !s.contains("xsrf")
        && (KEY_WORDS.iter().any(|w| s.contains(w)) || s == "xtoken" || s == "token")
}

fn is_key_param(name: &str) -> bool {
    if !mentions(name, "key") && !mentions(name, "token") && !mentions(name, "auth") {
        return false;
    }
    let s = squashed(name);
    KEY_WORDS.iter().any(|w| s.contains(w)) || matches!(s.as_str(), "key" | "token" | "auth")
}

/// `JSESSIONID`, `PHPSESSID`, `connect.sid`, `laravel_session`, `auth_token`,
/// `remember_token`, `jwt`.
fn is_session_cookie(name: &str) -> bool {
    let s = squashed(name);
    s.contains("sess")
        || s.ends_with("sid")
        || s.contains("auth")
        || s.contains("token")
        || s.contains("jwt")
        || s.contains("login")
        || s.contains("remember")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::tests::exchange;

    fn found(target: &str, headers: &[(&str, &str)]) -> Vec<(CredentialKind, String)> {
        let x = exchange("GET", target, headers, "", &[], "");
        credentials_in(&x.request)
            .into_iter()
            .map(|c| (c.kind, c.name))
            .collect()
    }

    #[test]
    fn table_of_requests() {
        use CredentialKind::*;
        let none: &[(CredentialKind, &str)] = &[];
        for (target, headers, want) in [
            ("/", &[][..], none),
            (
                "/",
                &[("Authorization", "Bearer eyJhbGciOi.x.y")][..],
                &[(Authorization, "bearer")][..],
            ),
            (
                "/",
                &[("authorization", "Basic YWxpY2U6czNjcjN0")],
                &[(Authorization, "basic")],
            ),
            (
                "/",
                &[("Authorization", "s3cr3t-token-without-scheme")],
                &[(Authorization, "other")],
            ),
            (
                "/",
                &[("Cookie", "theme=dark; JSESSIONID=abc123; lang=en")],
                &[(Cookie, "JSESSIONID")],
            ),
            (
                "/",
                &[("Cookie", "connect.sid=s%3Aabc; _ga=GA1.2")],
                &[(Cookie, "connect.sid")],
            ),
            ("/", &[("Cookie", "theme=dark; sidebar=open")], none),
            ("/", &[("X-API-Key", "k")], &[(ApiKeyHeader, "x-api-key")]),
            (
                "/",
                &[("Ocp-Apim-Subscription-Key", "k")],
                &[(ApiKeyHeader, "ocp-apim-subscription-key")],
            ),
            ("/", &[("X-CSRF-Token", "t")], none),
            ("/", &[("X-Request-Id", "r")], none),
            ("/x?api_key=k&q=1", &[], &[(ApiKeyQuery, "api_key")]),
            ("/x?apiKey=k", &[], &[(ApiKeyQuery, "apikey")]),
            ("/x?token=t#frag", &[], &[(ApiKeyQuery, "token")]),
            ("/x?monkey=1&keyword=2", &[], none),
            (
                "/x?page=2",
                &[("Cookie", "session=x")],
                &[(Cookie, "session")],
            ),
        ] {
            let want: Vec<(CredentialKind, String)> =
                want.iter().map(|(k, n)| (*k, n.to_string())).collect();
            assert_eq!(found(target, headers), want, "{target} {headers:?}");
        }
    }

    #[test]
    fn values_are_never_kept() {
        let all = found(
            "/x?api_key=SECRETVALUE",
            &[
                ("Authorization", "Bearer SECRETVALUE"),
                ("Cookie", "session=SECRETVALUE"),
                ("X-Api-Key", "SECRETVALUE"),
                ("Cookie", "SECRETVALUE"),
            ],
        );
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|(_, name)| !name.contains("SECRETVALUE")));
    }
}
