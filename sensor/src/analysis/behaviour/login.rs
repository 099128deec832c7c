//! Recognising login attempts, their failure, and the username tried
//! (which leaves here only as a keyed hash).

use crate::exchange::{header, HttpExchange};

use super::client::Keys;
use super::query::pairs;

/// Whether a path template is a login or token endpoint:
/// a segment containing `login`, `signin`, `logon`, `authenticate`, or a
/// segment that is `auth`, `session(s)`, `token(s)` or `oauth`.
pub(crate) fn is_login_template(template: &str) -> bool {
    template.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase();
        let stem = segment.split('.').next().unwrap_or("");
        const CONTAINS: &[&str] = &[
            "login",
            "log-in",
            "log_in",
            "signin",
            "sign-in",
            "sign_in",
            "logon",
            "authenticate",
        ];
        const IS: &[&str] = &["auth", "session", "sessions", "token", "tokens", "oauth"];
        CONTAINS.iter().any(|w| stem.contains(w)) || IS.contains(&stem)
    })
}

/// Phrases of a login page or API saying the credentials were wrong,
/// lowercase (compared against the lowercased start of the body).
const FAILURE_PHRASES: &[&str] = &[
    "invalid credentials",
    "invalid username or password",
    "invalid email or password",
    "invalid login",
    "invalid password",
    "incorrect password",
    "incorrect username or password",
    "wrong password",
    "bad credentials",
    "login failed",
    "authentication failed",
    "the password you entered",
];

/// Body bytes searched for a failure phrase.
const FAILURE_SCAN_BYTES: usize = 4096;

/// Whether a login attempt failed: answered 400, 401, 403 or 422; or
/// redirected to a location mentioning an error; or answered with a body
/// saying the credentials were wrong (login pages that answer 200).
pub(crate) fn login_failed(exchange: &HttpExchange) -> bool {
    let response = &exchange.response;
    match response.status {
        400 | 401 | 403 | 422 => true,
        300..=399 => header(&response.headers, "location").is_some_and(|location| {
            let location = String::from_utf8_lossy(location).to_ascii_lowercase();
            location.contains("error") || location.contains("fail")
        }),
        200..=299 => {
            let content = response.body.content();
            let start = &content[..content.len().min(FAILURE_SCAN_BYTES)];
            let text = String::from_utf8_lossy(start).to_ascii_lowercase();
            FAILURE_PHRASES.iter().any(|p| text.contains(p))
        }
        _ => false,
    }
}

/// Field names that hold the username, compared lowercase with `_` and
/// `-` removed (`log` is WordPress's).
const USERNAME_FIELDS: &[&str] = &[
    "username",
    "user",
    "login",
    "log",
    "email",
    "emailaddress",
    "mail",
    "userid",
    "account",
    "identifier",
    "principal",
];

/// Login bodies larger than this are not parsed for a username.
const MAX_LOGIN_BODY: usize = 16 * 1024;

/// The keyed hash of the username in a login request's JSON or form body
/// (trimmed, lowercased), or None when there is none.
pub(crate) fn username_hash(exchange: &HttpExchange, keys: &Keys) -> Option<u64> {
    let body = exchange.request.body.content();
    if body.is_empty() || body.len() > MAX_LOGIN_BODY {
        return None;
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    let username = if *first == b'{' {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        json_username(&value, 2)?
    } else {
        pairs(body).find_map(|(name, value)| {
            (is_username_field(&String::from_utf8_lossy(&name)) && !value.trim_ascii().is_empty())
                .then(|| String::from_utf8_lossy(&value).into_owned())
        })?
    };
    Some(keys.hash(username.trim().to_lowercase().as_str()))
}

fn is_username_field(name: &str) -> bool {
    let normal: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    USERNAME_FIELDS.contains(&normal.as_str())
}

/// A username field of the object, or of an object nested in it (`{"user":
/// {"email": ...}}`), up to `depth` levels.
fn json_username(value: &serde_json::Value, depth: u32) -> Option<String> {
    let object = value.as_object()?;
    let direct = object.iter().find_map(|(name, v)| match v {
        serde_json::Value::String(s) if is_username_field(name) && !s.trim().is_empty() => {
            Some(s.clone())
        }
        _ => None,
    });
    if direct.is_some() || depth <= 1 {
        return direct;
    }
    object.values().find_map(|v| json_username(v, depth - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::tests::exchange;

    #[test]
    fn login_templates() {
        for (template, want) in [
            ("/api/v1/auth/login", true),
            ("/login", true),
            ("/users/sign_in", true),
            ("/wp-login.php", true),
            ("/oauth/token", true),
            ("/api/session", true),
            ("/v1/authenticate", true),
            ("/api/v1/users/{id}", false),
            ("/blog/author/{id}", false),
            ("/tokenizer", false),
        ] {
            assert_eq!(is_login_template(template), want, "{template}");
        }
    }

    fn answered(status: u16, headers: &[(&str, &str)], body: &str) -> HttpExchange {
        let mut x = exchange("POST", "/login", &[], "", headers, body);
        x.response.status = status;
        x
    }

    #[test]
    fn failures() {
        assert!(login_failed(&answered(401, &[], "")));
        assert!(login_failed(&answered(422, &[], "{}")));
        assert!(login_failed(&answered(
            302,
            &[("Location", "/login?error=1")],
            ""
        )));
        assert!(!login_failed(&answered(
            302,
            &[("Location", "/dashboard")],
            ""
        )));
        assert!(login_failed(&answered(
            200,
            &[],
            "<p>Error: The password you entered for the username is incorrect.</p>"
        )));
        assert!(login_failed(&answered(
            200,
            &[],
            r#"{"error":"Invalid credentials"}"#
        )));
        assert!(!login_failed(&answered(200, &[], r#"{"token":"abc"}"#)));
        assert!(!login_failed(&answered(500, &[], "")));
    }

    fn login_body(body: &str) -> HttpExchange {
        exchange("POST", "/login", &[], body, &[], "")
    }

    #[test]
    fn usernames_are_found_and_hashed_normalised() {
        let keys = Keys::derive(&crate::analysis::detect::FingerprintKey::from_bytes(
            [3; 32],
        ));
        let alice = Some(keys.hash("alice@acme.io"));
        assert_eq!(
            username_hash(
                &login_body(r#"{"email":"Alice@Acme.io ","password":"x"}"#),
                &keys
            ),
            alice
        );
        assert_eq!(
            username_hash(
                &login_body(r#"{"user":{"email":"alice@acme.io"},"password":"x"}"#),
                &keys
            ),
            alice
        );
        assert_eq!(
            username_hash(&login_body("user_name=alice%40acme.io&password=x"), &keys),
            alice
        );
        assert_eq!(
            username_hash(
                &login_body("log=alice%40acme.io&pwd=x&wp-submit=Log+In"),
                &keys
            ),
            alice
        );
        assert_ne!(
            username_hash(&login_body(r#"{"username":"bob"}"#), &keys),
            alice
        );
        assert_eq!(
            username_hash(&login_body(r#"{"password":"x"}"#), &keys),
            None
        );
        assert_eq!(username_hash(&login_body("password=x"), &keys), None);
        assert_eq!(username_hash(&login_body(""), &keys), None);
    }
}
