//! Which credentials an exchange carries: presented in its request
//! (`Authorization: Bearer` or `Basic`, API key headers, session cookies)
//! and handed out in its response (token fields of a JSON body, session
//! cookies set). Each is reduced at once to keyed hashes and the few JWT
//! claims the rules need (`exp`, `nbf`); the raw value goes no further.
//!
//! One file on purpose: it is the part that overlaps with the principal
//! of an exchange (who is calling), and folds into it when that lands.

use aho_corasick::{AhoCorasick, Input, MatchKind};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

use crate::exchange::{Header, HttpExchange};

use super::config::CredentialsConfig;

/// Longest credential value read; longer ones are ignored.
const MAX_VALUE_BYTES: usize = 8192;
/// Credentials taken from one message, at most.
const MAX_PER_MESSAGE: usize = 4;
/// Largest response body searched for handed-out tokens.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// Depth of JSON objects searched for handed-out tokens.
const MAX_JSON_DEPTH: usize = 3;

/// What kind of credential: it names the credential in alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Jwt,
    Bearer,
    Basic,
    ApiKey,
    Cookie,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Jwt => "JWT",
            Kind::Bearer => "bearer token",
            Kind::Basic => "Basic user",
            Kind::ApiKey => "API key",
            Kind::Cookie => "session cookie",
        }
    }
}

/// One credential, raw value already gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub kind: Kind,
    /// The header it came in (`Authorization`, `Cookie`, `X-Api-Key`) or
    /// the response part that handed it out.
    pub header: String,
    /// What the credential is, across its uses: a JWT's issuer and `jti`
    /// (or issuer and subject when it has no `jti`), a Basic user name,
    /// otherwise the value. Keyed hash input, never shown.
    pub identity: Vec<u8>,
    /// The exact value (a revoked or handed-out token is this one token,
    /// not its subject's next one). Keyed hash input, never shown.
    pub exact: Vec<u8>,
    /// Who it belongs to, when the credential names it (a JWT's `sub`, a
    /// Basic user): what `[credentials] shared` lists as `jwt:NAME` or
    /// `user:NAME`.
    pub subject: Option<String>,
    /// JWT validity window, Unix seconds.
    pub expires: Option<i64>,
    pub not_before: Option<i64>,
}

/// The credentials a request presents, at most four.
pub(crate) fn presented(exchange: &HttpExchange, config: &CredentialsConfig) -> Vec<Credential> {
    let mut out = Vec::new();
    for h in &exchange.request.headers {
        if out.len() >= MAX_PER_MESSAGE {
            break;
        }
        let name = h.name.as_str();
        let value = h.value.trim_ascii();
        if value.is_empty() || value.len() > MAX_VALUE_BYTES {
            continue;
        }
        let from = out.len();
        if name.eq_ignore_ascii_case("authorization") {
            out.extend(authorization(value));
        } else if name.eq_ignore_ascii_case("cookie") {
            cookies(value, config, &mut out);
        } else if config
            .api_key_headers
            .iter()
            .any(|k| k.eq_ignore_ascii_case(name))
        {
            out.push(opaque(Kind::ApiKey, value));
        }
        for credential in &mut out[from..] {
            credential.header.clear();
            credential.header.push_str(&h.name);
        }
    }
    out.truncate(MAX_PER_MESSAGE);
    out
}

/// Whether a request carries a credential of any kind this module knows.
pub(crate) fn carries_credentials(exchange: &HttpExchange, config: &CredentialsConfig) -> bool {
    !presented(exchange, config).is_empty()
}

/// Whether a response hands out a credential (a session cookie set, a
/// token field in its JSON body).
pub(crate) fn hands_out_credentials(
    exchange: &HttpExchange,
    config: &CredentialsConfig,
    fields: &TokenFields,
) -> bool {
    !issued(exchange, config, fields).is_empty()
}

/// The token field names of `issued_token_fields` as JSON keys, searched
/// for in one pass; built once, since every response is searched.
///
/// The searcher looks for the bare names and each hit is then checked for
/// its quotes: every name starts with a letter that is rare in JSON, so
/// the searcher's vectorised prefilter (Teddy) skips most of a body, where
/// the quoted names all start with `"`, the commonest byte of JSON, and
/// sent the automaton to every string of every response.
#[derive(Debug, Clone)]
pub struct TokenFields {
    searcher: Option<AhoCorasick>,
    names: Vec<Box<[u8]>>,
}

impl TokenFields {
    pub fn new(config: &CredentialsConfig) -> Self {
        let names = &config.issued_token_fields;
        // Leftmost matches: the searcher reports the earliest start at
        // which any name matches (which the check below relies on), and
        // only leftmost searchers use the packed prefilter.
        let searcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(names)
            .ok();
        Self {
            searcher,
            names: names.iter().map(|n| n.as_bytes().into()).collect(),
        }
    }

    /// Whether `body` holds one of the names as a JSON key or string
    /// (`"access_token"`): a cheap test before parsing.
    fn named_in(&self, body: &[u8]) -> bool {
        let Some(searcher) = &self.searcher else {
            return false;
        };
        let mut at = 0;
        while at <= body.len() {
            let Some(hit) = searcher.find(Input::new(body).span(at..body.len())) else {
                return false;
            };
            let start = hit.start();
            // Every name that starts here, not only the one reported: one
            // name can be a prefix of another ("token", "tokens").
            let quoted = |name: &[u8]| {
                body[start..]
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.first() == Some(&b'"'))
            };
            if start > 0 && body[start - 1] == b'"' && self.names.iter().any(|n| quoted(n)) {
                return true;
            }
            at = start + 1;
        }
        false
    }
}

/// The credentials a response hands out: session cookies it sets and
/// token fields of its JSON body. At most four.
pub(crate) fn issued(
    exchange: &HttpExchange,
    config: &CredentialsConfig,
    fields: &TokenFields,
) -> Vec<Credential> {
    let response = &exchange.response;
    let mut out = Vec::new();
    for h in &response.headers {
        if h.name.eq_ignore_ascii_case("set-cookie") {
            set_cookie(h, config, &mut out);
        }
    }
    let body = response.body.content();
    let json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // Parse only what can hand out a token: small, whole JSON objects that
    // name one of the fields (a token response is a few hundred bytes;
    // every other JSON response is left to the content detectors' walk).
    if json
        && !response.body.truncated
        && body.len() <= MAX_TOKEN_RESPONSE_BYTES
        && fields.named_in(body)
    {
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            token_fields(&value, config, 0, &mut out);
        }
    }
    out.truncate(MAX_PER_MESSAGE);
    out
}

/// `Authorization: Bearer ...` or `Basic ...`.
fn authorization(value: &[u8]) -> Option<Credential> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = (&value[..space], value[space + 1..].trim_ascii());
    if rest.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case(b"bearer") {
        return Some(token(rest));
    }
    if scheme.eq_ignore_ascii_case(b"basic") {
        let decoded = STANDARD.decode(rest).ok()?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        let user = String::from_utf8_lossy(&decoded[..colon])
            .trim()
            .to_lowercase();
        if user.is_empty() {
            return None;
        }
        return Some(Credential {
            kind: Kind::Basic,
            header: String::new(),
            identity: user.as_bytes().to_vec(),
            exact: decoded,
            subject: Some(user),
            expires: None,
            not_before: None,
        });
    }
    None
}

/// A bearer token: a JWT when it decodes as one, else opaque.
pub(crate) fn token(value: &[u8]) -> Credential {
    jwt(value).unwrap_or_else(|| opaque(Kind::Bearer, value))
}

fn opaque(kind: Kind, value: &[u8]) -> Credential {
    Credential {
        kind,
        header: String::new(),
        identity: value.to_vec(),
        exact: value.to_vec(),
        subject: None,
        expires: None,
        not_before: None,
    }
}

fn jwt(value: &[u8]) -> Option<Credential> {
    let mut parts = value.split(|&b| b == b'.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let payload = payload.strip_suffix(b"=").unwrap_or(payload);
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let claims = claims.as_object()?;
    let text = |name: &str| match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let seconds = |name: &str| claims.get(name).and_then(Value::as_f64).map(|f| f as i64);
    let issuer = text("iss").unwrap_or_default();
    let subject = text("sub")
        .or_else(|| text("client_id"))
        .or_else(|| text("azp"));
    let identity = match (text("jti"), &subject) {
        (Some(jti), _) => format!("{issuer}\0jti\0{jti}").into_bytes(),
        (None, Some(sub)) => format!("{issuer}\0sub\0{sub}").into_bytes(),
        (None, None) => value.to_vec(),
    };
    Some(Credential {
        kind: Kind::Jwt,
        header: String::new(),
        identity,
        exact: value.to_vec(),
        subject,
        expires: seconds("exp"),
        not_before: seconds("nbf"),
    })
}

/// Session cookies named in the config, from a Cookie header.
fn cookies(header: &[u8], config: &CredentialsConfig, out: &mut Vec<Credential>) {
    for pair in header.split(|&b| b == b';') {
        if let Some(value) = named_cookie(pair, config) {
            out.push(opaque(Kind::Cookie, value));
        }
    }
}

/// The session cookie a Set-Cookie header sets, unless it clears it.
fn set_cookie(h: &Header, config: &CredentialsConfig, out: &mut Vec<Credential>) {
    let mut attributes = h.value.split(|&b| b == b';');
    let Some(value) = attributes
        .next()
        .and_then(|pair| named_cookie(pair, config))
    else {
        return;
    };
    let clears = attributes.any(|a| {
        let a = a.trim_ascii().to_ascii_lowercase();
        a == b"max-age=0" || a.starts_with(b"expires=thu, 01 jan 1970")
    });
    if !clears {
        out.push(opaque(Kind::Cookie, value));
    }
}

fn named_cookie<'v>(pair: &'v [u8], config: &CredentialsConfig) -> Option<&'v [u8]> {
    let pair = pair.trim_ascii();
    let eq = pair.iter().position(|&b| b == b'=')?;
    let (name, value) = (&pair[..eq], pair[eq + 1..].trim_ascii());
    let value = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    (!value.is_empty()
        && value.len() <= MAX_VALUE_BYTES
        && value != b"deleted"
        && config.session_cookies.iter().any(|n| n.as_bytes() == name))
    .then_some(value)
}

/// Token fields (`access_token`, `token`...) of a JSON object, searched a
/// few levels deep (`{"data": {"token": ...}}`).
fn token_fields(
    value: &Value,
    config: &CredentialsConfig,
    depth: usize,
    out: &mut Vec<Credential>,
) {
    let Some(object) = value.as_object() else {
        return;
    };
    for (name, field) in object {
        if out.len() >= MAX_PER_MESSAGE {
            return;
        }
        match field {
            Value::String(s)
                if s.len() >= 8
                    && s.len() <= MAX_VALUE_BYTES
                    && config.issued_token_fields.iter().any(|f| f == name) =>
            {
                out.push(token(s.as_bytes()));
            }
            Value::Object(_) if depth + 1 < MAX_JSON_DEPTH => {
                token_fields(field, config, depth + 1, out);
            }
            _ => {}
        }
    }
}

/// A token a revocation request names in its body (RFC 7009 `token=`, or a
/// JSON `token`/`refresh_token` field), for logout calls that carry the
/// token in the body instead of the Authorization header.
pub(crate) fn revoked_in_body(
    exchange: &HttpExchange,
    config: &CredentialsConfig,
) -> Vec<Credential> {
    let body = exchange.request.body.content();
    if body.is_empty() || exchange.request.body.truncated {
        return Vec::new();
    }
    let mut out = Vec::new();
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            token_fields(&value, config, MAX_JSON_DEPTH - 1, &mut out);
        }
        return out;
    }
    for pair in body.split(|&b| b == b'&').take(32) {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (&pair[..eq], &pair[eq + 1..]);
        if (name == b"token" || name == b"refresh_token" || name == b"access_token")
            && value.len() >= 8
            && value.len() <= MAX_VALUE_BYTES
            && out.len() < MAX_PER_MESSAGE
        {
            out.push(token(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::jwt::encode;

    #[test]
    fn token_field_names_are_found_only_quoted() {
        let mut config = CredentialsConfig::default();
        config.issued_token_fields.push("tokens".into());
        let fields = TokenFields::new(&config);
        for (body, want) in [
            (r#"{"access_token":"abc"}"#, true),
            (r#"{"token":"abc"}"#, true),
            (r#"{"data":{"jwt":"abc"}}"#, true),
            (r#"{"tokens":["abc"]}"#, true),
            (r#"{"token_type":"bearer"}"#, false),
            (r#"{"my_token":"abc"}"#, false),
            (r#"{"accessToken2":"abc"}"#, false),
            (r#"{"name":"access_token"}"#, true),
            (r#"token"access_token"#, false),
            (r#"access_token""#, false),
            (r#"{"id":1,"tokenx":2,"xtoken":3,"id_token":"a"}"#, true),
            ("", false),
        ] {
            assert_eq!(fields.named_in(body.as_bytes()), want, "{body}");
        }
        let none = TokenFields::new(&CredentialsConfig {
            issued_token_fields: Vec::new(),
            ..CredentialsConfig::default()
        });
        assert!(!none.named_in(br#"{"token":"abc"}"#));
    }

    #[test]
    fn a_jwt_is_known_by_issuer_and_jti_or_subject() {
        let with_jti = token(
            encode(
                r#"{"alg":"HS256"}"#,
                r#"{"iss":"a","sub":"u1","jti":"j1","exp":100,"nbf":5}"#,
                "sig",
            )
            .as_bytes(),
        );
        assert_eq!(with_jti.kind, Kind::Jwt);
        assert_eq!(with_jti.identity, b"a\0jti\0j1");
        assert_eq!(with_jti.subject.as_deref(), Some("u1"));
        assert_eq!(
            (with_jti.expires, with_jti.not_before),
            (Some(100), Some(5))
        );
        let refreshed = token(
            encode(
                r#"{"alg":"HS256"}"#,
                r#"{"iss":"a","sub":"u1","exp":200}"#,
                "sig",
            )
            .as_bytes(),
        );
        let again = token(
            encode(
                r#"{"alg":"HS256"}"#,
                r#"{"iss":"a","sub":"u1","exp":300}"#,
                "sig2",
            )
            .as_bytes(),
        );
        assert_eq!(
            refreshed.identity, again.identity,
            "same subject, same credential"
        );
        assert_ne!(refreshed.exact, again.exact, "but not the same token");
        assert_eq!(token(b"opaque-token-value").kind, Kind::Bearer);
    }
}
