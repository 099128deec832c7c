//! Who is calling: the principal an exchange carries (a bearer JWT's
//! subject, a Basic user, an API key, a session cookie), as a keyed
//! fingerprint. Behavioural detectors key on it when there is one (behind
//! a proxy, a load balancer or a NAT every caller shares one address), and
//! alerts name it.
//!
//! Guarantees: the raw value (token, key, cookie, user name) never leaves
//! this module; a principal is its kind and the first 64 bits of an
//! HMAC-SHA256 under the sensor's fingerprint key, so it is stable across
//! restarts and the same user gets the same fingerprint whether named by
//! Basic credentials or a login form. Nothing is kept between exchanges.

pub mod config;

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

use crate::analysis::detect::FingerprintKey;
use crate::exchange::HttpExchange;
use crate::glob;

pub use config::{HostPrincipalConfig, PrincipalConfig};

/// Longest token or cookie value read; longer ones are not principals.
const MAX_VALUE_BYTES: usize = 8192;

/// A caller, fingerprinted: `jwt:1f2e3d4c5b6a7980`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    /// `jwt`, `bearer` (an opaque token), `user` (Basic, or a login
    /// form's user name), `api_key` or `cookie`.
    pub kind: &'static str,
    /// 16 hex digits of a keyed hash of the value.
    pub fingerprint: String,
}

impl Principal {
    /// The principal for `value` of `kind`, fingerprinted under `key`.
    pub fn of(key: &FingerprintKey, kind: &'static str, value: &[u8]) -> Principal {
        let mut input = Vec::with_capacity(kind.len() + value.len() + 16);
        input.extend_from_slice(b"principal\0");
        input.extend_from_slice(kind.as_bytes());
        input.push(0);
        input.extend_from_slice(value);
        let mut fingerprint = key.fingerprint(&input);
        fingerprint.truncate(16);
        Principal { kind, fingerprint }
    }

    /// A user name as typed into a login form or Basic credentials:
    /// trimmed and lowercased first, so both name one person.
    pub fn user(key: &FingerprintKey, name: &str) -> Principal {
        Self::of(key, "user", name.trim().to_lowercase().as_bytes())
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.fingerprint)
    }
}

/// Where to look, resolved for one host.
struct Sources<'c> {
    jwt_claims: &'c [String],
    api_key_headers: &'c [String],
    session_cookies: &'c [String],
}

/// Finds the principal of exchanges. Build once; `of` takes `&self`.
pub struct PrincipalExtractor {
    config: PrincipalConfig,
    key: FingerprintKey,
}

impl PrincipalExtractor {
    pub fn new(config: &PrincipalConfig, key: FingerprintKey) -> Self {
        Self {
            config: config.clone(),
            key,
        }
    }

    /// The fingerprint key principals are hashed under.
    pub fn key(&self) -> &FingerprintKey {
        &self.key
    }

    /// The principal of an exchange to `host` (the endpoint's), if its
    /// request carries one: a bearer token (its claim when it is a JWT),
    /// Basic credentials, an API key header, then a session cookie.
    pub fn of(&self, exchange: &HttpExchange, host: &str) -> Option<Principal> {
        if !self.config.enabled {
            return None;
        }
        let sources = self.sources(host);
        let headers = &exchange.request.headers;
        for h in headers {
            if h.name.eq_ignore_ascii_case("authorization") {
                if let Some(p) = self.authorization(&h.value, &sources) {
                    return Some(p);
                }
            }
        }
        for name in sources.api_key_headers {
            if let Some(h) = headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)) {
                let value = h.value.trim_ascii();
                if !value.is_empty() && value.len() <= MAX_VALUE_BYTES {
                    return Some(Principal::of(&self.key, "api_key", value));
                }
            }
        }
        for h in headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("cookie"))
        {
            if let Some(value) = session_cookie(&h.value, sources.session_cookies) {
                return Some(Principal::of(&self.key, "cookie", value));
            }
        }
        None
    }

    fn sources(&self, host: &str) -> Sources<'_> {
        let c = &self.config;
        let over = c
            .hosts
            .iter()
            .find(|h| glob::matches(h.host.to_ascii_lowercase().as_bytes(), host.as_bytes()));
        Sources {
            jwt_claims: over
                .and_then(|o| o.jwt_claims.as_deref())
                .unwrap_or(&c.jwt_claims),
            api_key_headers: over
                .and_then(|o| o.api_key_headers.as_deref())
                .unwrap_or(&c.api_key_headers),
            session_cookies: over
                .and_then(|o| o.session_cookies.as_deref())
                .unwrap_or(&c.session_cookies),
        }
    }

    fn authorization(&self, value: &[u8], sources: &Sources<'_>) -> Option<Principal> {
        let value = value.trim_ascii();
        if value.len() > MAX_VALUE_BYTES {
            return None;
        }
        let (scheme, rest) = split_scheme(value)?;
        if scheme.eq_ignore_ascii_case(b"bearer") {
            if let Some(subject) = jwt_claim(rest, sources.jwt_claims) {
                return Some(Principal::of(&self.key, "jwt", subject.as_bytes()));
            }
            return Some(Principal::of(&self.key, "bearer", rest));
        }
        if scheme.eq_ignore_ascii_case(b"basic") && self.config.basic {
            let decoded = STANDARD.decode(rest).ok()?;
            let colon = decoded.iter().position(|&b| b == b':')?;
            let user = std::str::from_utf8(&decoded[..colon]).ok()?;
            if user.trim().is_empty() {
                return None;
            }
            return Some(Principal::user(&self.key, user));
        }
        None
    }
}

/// (`Bearer`, `token`) from `Bearer token`.
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let rest = value[space + 1..].trim_ascii();
    (!rest.is_empty()).then_some((&value[..space], rest))
}

/// The first of `claims` (dotted paths) that a JWT's payload holds as a
/// string or a number; None when the token is not a JWT.
pub fn jwt_claim(token: &[u8], claims: &[String]) -> Option<String> {
    let payload = token.split(|&b| b == b'.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.strip_suffix(b"=").unwrap_or(payload))
        .ok()?;
    let payload: Value = serde_json::from_slice(&bytes).ok()?;
    claims.iter().find_map(|path| {
        let value = path
            .split('.')
            .try_fold(&payload, |v, name| v.as_object()?.get(name))?;
        match value {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    })
}

/// The value of the first cookie named in `names` in a Cookie header.
fn session_cookie<'v>(header: &'v [u8], names: &[String]) -> Option<&'v [u8]> {
    header.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = (&pair[..eq], pair[eq + 1..].trim_ascii());
        (!value.is_empty()
            && value.len() <= MAX_VALUE_BYTES
            && names.iter().any(|n| n.as_bytes() == name))
        .then_some(value)
    })
}

#[cfg(test)]
mod tests;
