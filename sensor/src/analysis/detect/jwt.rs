//! JWTs: decoded, not just matched. A token is only a finding when it has
//! a problem: `alg: none` (unsigned), no expiry, a lifetime past the
//! configured bound, or claims that carry sensitive data.

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
];

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
    let mut parts = token.split(|&b| b == b'.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return Vec::new();
    };
    let (Some(header), Some(payload)) = (decode(header), decode(payload)) else {
        return Vec::new();
    };
    let Some(claims) = payload.as_object() else {
        return Vec::new();
    };
    if claims.get("sub").and_then(Value::as_str) == Some("1234567890")
        && claims.get("name").and_then(Value::as_str) == Some("John Doe")
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg.eq_ignore_ascii_case("none") {
        out.push(ALG_NONE);
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
}
