//! JWTs: decoded, not just matched. A token is only a finding when it has
//! a problem: `alg: none` (unsigned), an `alg` outside the allowlist, no
//! expiry, a lifetime past the configured bound, claims that carry
//! sensitive data, a `kid` shaped like a path traversal or SQL, or a
//! `jku`/`x5u` pointing at a host that is neither the issuer's nor the
//! one answering. Whether an HMAC token's secret is a well-known weak one
//! is asked off the hot path (`analysis::weak_jwt`); its rule is listed
//! here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::redact::Mask;
use super::rules::{normalise_field, Check, Scope, Spec};
use super::types::Severity::*;

pub const ALG_NONE: &str = "secret.jwt_alg_none";
pub const NO_EXPIRY: &str = "secret.jwt_no_expiry";
pub const LONG_LIFETIME: &str = "secret.jwt_long_lifetime";
pub const SENSITIVE_CLAIMS: &str = "secret.jwt_sensitive_claims";
pub const ALG_NOT_ALLOWED: &str = "secret.jwt_alg_not_allowed";
pub const KID_INJECTION: &str = "secret.jwt_kid_injection";
pub const FOREIGN_KEY_URL: &str = "secret.jwt_foreign_key_url";
pub const WEAK_SECRET: &str = "secret.jwt_weak_secret";
pub const EXPOSED: &str = "secret.jwt_exposed";

const JWT: Spec = Spec {
    scope: Scope::Special,
    mask: Mask::Prefix(3),
    ..Spec::BASE
};

pub const SPECS: &[Spec] = &[
    // Finds the tokens; its findings are the four rules below.
    Spec {
        id: "secret.jwt",
        gitleaks: &["jwt"],
        description: "JSON Web Token (decoded by the jwt rules)",
        keywords: &["eyj"],
        regex: Some(
            r"\b(eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{0,1024})",
        ),
        check: Check::Jwt,
        scope: Scope::Anywhere,
        listed: false,
        ..JWT
    },
    Spec {
        id: ALG_NONE,
        severity: Critical,
        description: "JWT with alg none (unsigned, forgeable)",
        ..JWT
    },
    Spec {
        id: NO_EXPIRY,
        severity: Medium,
        description: "JWT without an exp claim (valid forever)",
        ..JWT
    },
    Spec {
        id: LONG_LIFETIME,
        severity: Medium,
        description: "JWT whose lifetime (exp - iat) exceeds jwt_max_lifetime_secs",
        ..JWT
    },
    Spec {
        id: SENSITIVE_CLAIMS,
        severity: High,
        description: "JWT whose claims carry sensitive data (password, ssn, card, secret...)",
        ..JWT
    },
    Spec {
        id: ALG_NOT_ALLOWED,
        severity: High,
        description: "JWT whose alg is outside jwt_allowed_algs (algorithm confusion, deprecated algorithms)",
        ..JWT
    },
    Spec {
        id: KID_INJECTION,
        severity: High,
        description: "JWT whose kid header looks like a path traversal or SQL (key lookup injection)",
        ..JWT
    },
    Spec {
        id: FOREIGN_KEY_URL,
        severity: High,
        description: "JWT whose jku or x5u header points at a host other than its issuer's or the server's (attacker-supplied keys)",
        ..JWT
    },
    Spec {
        id: EXPOSED,
        severity: Low,
        description: "JWT with no problem found, in a response body or a URL (path or query): whoever reads the body, a proxy log or the browser history can replay it until it expires",
        ..JWT
    },
    Spec {
        id: WEAK_SECRET,
        severity: Critical,
        description: "JWT (HS256/384/512) signed with a well-known weak secret: anyone can forge tokens",
        ..JWT
    },
];

/// What a token is checked against, beyond its own content.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub max_lifetime_secs: u64,
    /// `alg` values accepted (case-sensitive, as RFC 7518 spells them).
    pub allowed_algs: &'a [String],
    /// The host of the exchange the token was seen in (no port), for `jku`.
    pub host: &'a str,
}

/// The `alg` values accepted by default: every signing algorithm of RFC
/// 7518 and 8037 still recommended.
pub fn default_allowed_algs() -> Vec<String> {
    [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
        "PS384", "PS512", "EdDSA",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Claim names that should never travel in a token anyone can decode.
const SENSITIVE: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "ssn",
    "socialsecuritynumber",
    "creditcard",
    "cardnumber",
    "cvv",
    "pin",
    "secret",
    "clientsecret",
    "privatekey",
    "apikey",
    "passwordhash",
    "dob",
    "dateofbirth",
];

/// The problems of one token, as rule ids. Empty for a healthy token, for
/// anything that does not decode, and for the token every JWT tutorial
/// shows.
pub fn problems(token: &[u8], max_lifetime_secs: u64) -> Vec<&'static str> {
    let algs = default_allowed_algs();
    problems_with(
        token,
        &Policy {
            max_lifetime_secs,
            allowed_algs: &algs,
            host: "",
        },
    )
}

/// The token's header and claims, when both decode (the claims to a
/// JSON object) and it is not the token every JWT tutorial shows
/// (jwt.io's `1234567890` / `John Doe`).
fn decoded(token: &[u8]) -> Option<(Value, serde_json::Map<String, Value>)> {
    let mut parts = token.split(|&b| b == b'.');
    let (header, payload) = (parts.next()?, parts.next()?);
    let (header, payload) = (decode(header)?, decode(payload)?);
    let Value::Object(claims) = payload else {
        return None;
    };
    let example = claims.get("sub").and_then(Value::as_str) == Some("1234567890")
        && claims.get("name").and_then(Value::as_str) == Some("John Doe");
    (!example).then_some((header, claims))
}

/// A real token: header and claims decode to JSON objects, and it is not
/// the tutorial's example.
pub fn decodes(token: &[u8]) -> bool {
    decoded(token).is_some_and(|(header, _)| header.is_object())
}

/// `problems` under a policy.
pub fn problems_with(token: &[u8], policy: &Policy<'_>) -> Vec<&'static str> {
    let max_lifetime_secs = policy.max_lifetime_secs;
    let Some((header, claims)) = decoded(token) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg.eq_ignore_ascii_case("none") {
        out.push(ALG_NONE);
    } else if !policy.allowed_algs.iter().any(|a| a == alg) {
        out.push(ALG_NOT_ALLOWED);
    }
    if header
        .get("kid")
        .and_then(Value::as_str)
        .is_some_and(injection_shaped)
    {
        out.push(KID_INJECTION);
    }
    let issuer = claims.get("iss").and_then(Value::as_str).and_then(url_host);
    let foreign = ["jku", "x5u"].iter().any(|name| {
        header
            .get(*name)
            .and_then(Value::as_str)
            .is_some_and(|url| match url_host(url) {
                Some(host) => {
                    !same_site(&host, policy.host)
                        && !issuer.as_deref().is_some_and(|i| same_site(&host, i))
                }
                None => true,
            })
    });
    if foreign {
        out.push(FOREIGN_KEY_URL);
    }
    match (
        claims.get("exp").and_then(Value::as_i64),
        claims.get("iat").and_then(Value::as_i64),
    ) {
        (None, _) => out.push(NO_EXPIRY),
        (Some(exp), Some(iat)) if exp.saturating_sub(iat) > max_lifetime_secs as i64 => {
            out.push(LONG_LIFETIME)
        }
        _ => {}
    }
    if claims
        .keys()
        .any(|k| SENSITIVE.contains(&normalise_field(k.as_bytes()).as_str()))
    {
        out.push(SENSITIVE_CLAIMS);
    }
    out
}

/// A `kid` that walks the filesystem or closes an SQL string.
fn injection_shaped(kid: &str) -> bool {
    let lower = kid.to_ascii_lowercase();
    const SHAPES: &[&str] = &[
        "../", "..\\", "/etc/", "/dev/", "/proc/", "\0", "'", "\"", "--", "/*", ";", " union ",
        " or ", " and ", "sleep(", "|",
    ];
    lower.contains('\0') || SHAPES.iter().any(|s| lower.contains(s))
}

/// The host of an absolute http(s) URL, lowercase, without port.
fn url_host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Same registrable domain, approximately: the last two labels agree
/// (`keys.acme.io` and `api.acme.io`), or the hosts are equal.
fn same_site(a: &str, b: &str) -> bool {
    let b = b.split(':').next().unwrap_or(b).to_ascii_lowercase();
    if b.is_empty() {
        return false;
    }
    let tail = |h: &str| -> String {
        let labels: Vec<&str> = h.trim_end_matches('.').rsplit('.').take(2).collect();
        labels.join(".")
    };
    a == b || tail(a) == tail(&b)
}

fn decode(part: &[u8]) -> Option<Value> {
    let trimmed = part
        .strip_suffix(b"==")
        .or(part.strip_suffix(b"="))
        .unwrap_or(part);
    let bytes = URL_SAFE_NO_PAD.decode(trimmed).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Builds a token for tests and the corpus generator.
pub fn encode(header: &str, claims: &str, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_problems() {
        let sig = "c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
        for (header, claims, want) in [
            (
                r#"{"alg":"HS256"}"#,
                r#"{"sub":"u1","iat":1700000000,"exp":1700003600}"#,
                vec![],
            ),
            (
                r#"{"alg":"none"}"#,
                r#"{"sub":"u1","iat":1700000000,"exp":1700003600}"#,
                vec![ALG_NONE],
            ),
            (
                r#"{"alg":"RS256"}"#,
                r#"{"sub":"u1","iat":1700000000}"#,
                vec![NO_EXPIRY],
            ),
            (
                r#"{"alg":"RS256"}"#,
                r#"{"sub":"u1","iat":1700000000,"exp":1800000000}"#,
                vec![LONG_LIFETIME],
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"sub":"u1","iat":1700000000,"exp":1700003600,"password":"x"}"#,
                vec![SENSITIVE_CLAIMS],
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#,
                vec![],
            ),
        ] {
            let token = encode(header, claims, sig);
            assert_eq!(problems(token.as_bytes(), 86_400), want, "{claims}");
        }
        assert!(problems(b"eyJhbGciOi.eyJzdWIi.x", 86_400).is_empty());
    }

    #[test]
    fn header_problems() {
        let sig = "c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
        let claims =
            r#"{"sub":"u1","iss":"https://auth.acme.io/","iat":1700000000,"exp":1700003600}"#;
        let algs = vec!["RS256".to_owned(), "ES256".to_owned()];
        let policy = Policy {
            max_lifetime_secs: 86_400,
            allowed_algs: &algs,
            host: "api.acme.io",
        };
        for (header, want) in [
            (r#"{"alg":"RS256","kid":"2024-key-1"}"#, vec![]),
            (r#"{"alg":"HS256"}"#, vec![ALG_NOT_ALLOWED]),
            (r#"{"alg":"none"}"#, vec![ALG_NONE]),
            (
                r#"{"alg":"RS256","kid":"../../../../dev/null"}"#,
                vec![KID_INJECTION],
            ),
            (
                r#"{"alg":"RS256","kid":"x' UNION SELECT 'key"}"#,
                vec![KID_INJECTION],
            ),
            (
                r#"{"alg":"RS256","jku":"https://keys.acme.io/jwks.json"}"#,
                vec![],
            ),
            (
                r#"{"alg":"RS256","jku":"https://evil.example/jwks.json"}"#,
                vec![FOREIGN_KEY_URL],
            ),
            (
                r#"{"alg":"RS256","x5u":"http://10.0.0.9:8000/cert.pem"}"#,
                vec![FOREIGN_KEY_URL],
            ),
            (
                r#"{"alg":"RS256","jku":"file:///etc/keys"}"#,
                vec![FOREIGN_KEY_URL],
            ),
        ] {
            let token = encode(header, claims, sig);
            assert_eq!(problems_with(token.as_bytes(), &policy), want, "{header}");
        }
    }
}
