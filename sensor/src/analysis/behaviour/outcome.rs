//! What a login or password-reset endpoint answered: a success (it issued
//! a token or a session), a failure, or nothing we can tell. Judged from
//! the response itself, not the status alone: many APIs answer a wrong
//! password with 200 and an error body. A 200 without a token or session
//! is a failure when its shape differs from the endpoint's learned
//! successes or it carries an error flag (`success: false`, an `error`
//! field, a failure phrase); error words alone, without the missing token,
//! never make a failure.
//!
//! `signature` reduces a failure to what stays the same between two
//! attempts at one account (status, field names, short messages with
//! digits and random-looking words removed): two usernames answered with
//! different signatures are told apart by the endpoint.

#[allow(deprecated)]
use std::hash::SipHasher;
use std::hash::{Hash, Hasher};

use serde_json::Value;

use crate::exchange::{header, HttpExchange};

/// Body bytes read to judge an answer.
const MAX_BODY: usize = 16 * 1024;
/// Success shapes remembered per endpoint.
const MAX_SHAPES: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Issued a token or a session; `shape` is the body's shape.
    Success {
        shape: u64,
    },
    Failure,
    /// Neither: not counted.
    Unknown,
}

/// The shapes of an endpoint's successful answers, learned from traffic.
#[derive(Debug, Clone, Default)]
pub(crate) struct SuccessShapes {
    shapes: Vec<u64>,
}

impl SuccessShapes {
    pub(crate) fn learn(&mut self, shape: u64) {
        if !self.shapes.contains(&shape) && self.shapes.len() < MAX_SHAPES {
            self.shapes.push(shape);
        }
    }

    fn known(&self) -> bool {
        !self.shapes.is_empty()
    }

    fn contains(&self, shape: u64) -> bool {
        self.shapes.contains(&shape)
    }
}

/// Field names (lowercase, `_`/`-` removed) whose presence in an answer
/// means a credential was issued.
const TOKEN_FIELDS: &[&str] = &[
    "token",
    "accesstoken",
    "idtoken",
    "refreshtoken",
    "authtoken",
    "jwt",
    "sessionid",
    "sessiontoken",
    "apikey",
];

/// Phrases saying the credentials were wrong, lowercase: supporting
/// evidence only.
const FAILURE_PHRASES: &[&str] = &[
    "invalid credentials",
    "invalid username",
    "invalid email",
    "invalid login",
    "invalid password",
    "incorrect password",
    "incorrect username",
    "wrong password",
    "bad credentials",
    "login failed",
    "authentication failed",
    "the password you entered",
    "unknown user",
    "user not found",
    "no such user",
    "not recognised",
    "not recognized",
];

/// Classifies the answer of a login attempt against the endpoint's
/// learned successes.
pub(crate) fn classify(exchange: &HttpExchange, learned: &SuccessShapes) -> Outcome {
    let response = &exchange.response;
    let body = response.body.content();
    let body = &body[..body.len().min(MAX_BODY)];
    let json: Option<Value> = looks_like_json(body)
        .then(|| serde_json::from_slice(body).ok())
        .flatten();
    let issued = header(&response.headers, "set-cookie").is_some_and(sets_session)
        || json.as_ref().is_some_and(has_token)
        || (json.is_none() && contains_jwt(body));
    match response.status {
        401 | 403 => Outcome::Failure,
        400 | 422 if !issued => Outcome::Failure,
        300..=399 => match header(&response.headers, "location") {
            Some(l) if mentions_error(l) => Outcome::Failure,
            _ if issued => Outcome::Success { shape: 0 },
            _ => Outcome::Unknown,
        },
        200..=299 | 400 | 422 => {
            let shape = shape_of(json.as_ref(), body);
            if issued {
                return Outcome::Success { shape };
            }
            let differs = learned.known() && !learned.contains(shape);
            if differs || says_failed(json.as_ref(), body) {
                Outcome::Failure
            } else {
                Outcome::Unknown
            }
        }
        _ => Outcome::Unknown,
    }
}

fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[')
}

fn normal(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn sets_session(value: &[u8]) -> bool {
    // A cookie being cleared (`=;` or an expiry in the past) is no session.
    let text = String::from_utf8_lossy(value).to_ascii_lowercase();
    let cleared = text.contains("=;") || text.contains("max-age=0") || text.contains("1970");
    !cleared && text.contains('=')
}

fn has_token(value: &Value) -> bool {
    fn walk(value: &Value, depth: u32) -> bool {
        match value {
            Value::Object(map) => map.iter().any(|(k, v)| {
                (TOKEN_FIELDS.contains(&normal(k).as_str())
                    && v.as_str().is_some_and(|s| s.len() >= 8))
                    || (depth > 0 && walk(v, depth - 1))
            }),
            Value::String(s) => contains_jwt(s.as_bytes()),
            _ => false,
        }
    }
    walk(value, 2)
}

fn contains_jwt(body: &[u8]) -> bool {
    body.windows(4).any(|w| w == b"eyJh" || w == b"eyJ0")
        && body.windows(5).filter(|w| w == b".eyJ").count() > 0
}

fn mentions_error(location: &[u8]) -> bool {
    let l = String::from_utf8_lossy(location).to_ascii_lowercase();
    l.contains("error") || l.contains("fail") || l.contains("invalid")
}

/// Error flags and failure phrases.
fn says_failed(json: Option<&Value>, body: &[u8]) -> bool {
    if let Some(Value::Object(map)) = json {
        let flag = map.iter().any(|(k, v)| {
            let k = normal(k);
            match (k.as_str(), v) {
                ("success" | "ok" | "authenticated" | "valid" | "loggedin", Value::Bool(b)) => !b,
                ("status" | "result", Value::String(s)) => {
                    let s = s.to_ascii_lowercase();
                    s == "error" || s == "fail" || s == "failed" || s == "failure"
                }
                ("error" | "errors" | "errormessage" | "errordescription", v) => {
                    !v.is_null() && v != &Value::Bool(false)
                }
                _ => false,
            }
        });
        if flag {
            return true;
        }
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    FAILURE_PHRASES.iter().any(|p| text.contains(p))
}

fn hasher() -> impl Hasher {
    // Fixed keys: shapes and signatures are compared, never shown or kept
    // beyond the endpoint's state.
    #[allow(deprecated)]
    SipHasher::new_with_keys(0x5368_6170_6573, 0x6f66_206c_6f67)
}

/// The shape of a body: the sorted field names of a JSON object (two
/// levels), else its kind.
fn shape_of(json: Option<&Value>, body: &[u8]) -> u64 {
    let mut h = hasher();
    match json {
        Some(value) => shape_fields(value, 2, &mut h),
        None => (body.is_empty(), body.first() == Some(&b'<')).hash(&mut h),
    }
    h.finish()
}

fn shape_fields(value: &Value, depth: u32, h: &mut impl Hasher) {
    if let Value::Object(map) = value {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for k in keys {
            k.hash(h);
            if depth > 1 {
                shape_fields(&map[k], depth - 1, h);
            }
        }
    } else {
        std::mem::discriminant(value).hash(h);
    }
}

/// What stays the same between failures for one account: status, field
/// names, and short string values with digits and random-looking words
/// (request ids, timestamps, counters) removed.
pub(crate) fn signature(exchange: &HttpExchange) -> u64 {
    let response = &exchange.response;
    let body = response.body.content();
    let body = &body[..body.len().min(MAX_BODY)];
    let mut h = hasher();
    response.status.hash(&mut h);
    match looks_like_json(body)
        .then(|| serde_json::from_slice::<Value>(body).ok())
        .flatten()
    {
        Some(value) => signature_value(&value, 3, &mut h),
        None => stable_words(&String::from_utf8_lossy(body)).hash(&mut h),
    }
    h.finish()
}

fn signature_value(value: &Value, depth: u32, h: &mut impl Hasher) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                k.hash(h);
                if depth > 0 {
                    signature_value(&map[k], depth - 1, h);
                }
            }
        }
        Value::String(s) if s.len() <= 200 => stable_words(s).hash(h),
        Value::Bool(b) => b.hash(h),
        other => std::mem::discriminant(other).hash(h),
    }
}

/// The words of a message without digits or random-looking tokens.
fn stable_words(text: &str) -> String {
    let text = &text[..text.len().min(2048)];
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= 20 && !w.chars().any(|c| c.is_numeric()))
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::tests::exchange;

    fn answered(status: u16, headers: &[(&str, &str)], body: &str) -> HttpExchange {
        let mut x = exchange("POST", "/login", &[], "", headers, body);
        x.response.status = status;
        x
    }

    #[test]
    fn outcomes() {
        let none = SuccessShapes::default();
        let token = r#"{"success":true,"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"}"#;
        let ok = classify(&answered(200, &[], token), &none);
        let Outcome::Success { shape } = ok else {
            panic!("{ok:?}")
        };
        let mut learned = SuccessShapes::default();
        learned.learn(shape);
        for (status, headers, body, want_unlearned, want_learned) in [
            (401, vec![], "", Outcome::Failure, Outcome::Failure),
            (422, vec![], "{}", Outcome::Failure, Outcome::Failure),
            (
                200,
                vec![],
                r#"{"success":false,"error":"invalid credentials"}"#,
                Outcome::Failure,
                Outcome::Failure,
            ),
            // A shape unlike the successes, no token, no error words.
            (
                200,
                vec![],
                r#"{"message":"try again"}"#,
                Outcome::Unknown,
                Outcome::Failure,
            ),
            // Error words, but a session was issued: a success.
            (
                200,
                vec![("Set-Cookie", "sid=abc123; HttpOnly")],
                "<p>no error here, welcome</p>",
                Outcome::Success { shape: 0 },
                Outcome::Success { shape: 0 },
            ),
            (
                302,
                vec![("Location", "/login?error=1")],
                "",
                Outcome::Failure,
                Outcome::Failure,
            ),
            (
                302,
                vec![("Location", "/home"), ("Set-Cookie", "sid=1a2b3c")],
                "",
                Outcome::Success { shape: 0 },
                Outcome::Success { shape: 0 },
            ),
            (500, vec![], "", Outcome::Unknown, Outcome::Unknown),
        ] {
            let x = answered(status, &headers, body);
            let got = |l| match classify(&x, l) {
                Outcome::Success { .. } => Outcome::Success { shape: 0 },
                o => o,
            };
            assert_eq!(got(&none), want_unlearned, "{status} {body}");
            assert_eq!(got(&learned), want_learned, "{status} {body}");
        }
    }

    #[test]
    fn signatures_ignore_what_varies_per_attempt() {
        let sig = |status, body| signature(&answered(status, &[], body));
        let wrong = sig(
            200,
            r#"{"success":false,"error":"wrong password, 2 attempts left","request_id":"a81f9c2e"}"#,
        );
        let wrong2 = sig(
            200,
            r#"{"success":false,"error":"wrong password, 1 attempts left","request_id":"77b0d3aa"}"#,
        );
        let unknown = sig(
            200,
            r#"{"success":false,"error":"no such user","request_id":"a81f9c2e"}"#,
        );
        assert_eq!(wrong, wrong2);
        assert_ne!(wrong, unknown);
        assert_ne!(sig(401, "{}"), sig(404, "{}"));
    }
}
