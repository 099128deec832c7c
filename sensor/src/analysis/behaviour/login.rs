//! Recognising login attempts, their failure, and the username tried
//! (which leaves here only as a keyed hash).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::analysis::detect::checks::contains_ignore_case;
use crate::exchange::{header, HttpExchange};
use crate::glob;

#[cfg(test)]
use super::client::Keys;
use super::config::LoginConfig;
use super::query::pairs;

/// Whether a path template is a login or token endpoint:
/// a segment containing `login`, `signin`, `logon`, `authenticate`, or a
/// segment that is `auth`, `session(s)`, `token(s)` or `oauth`.
pub(crate) fn is_login_template(template: &str) -> bool {
    template.split('/').any(|segment| {
        let stem = segment.split('.').next().unwrap_or("").as_bytes();
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
        CONTAINS
            .iter()
            .any(|w| contains_ignore_case(stem, w.as_bytes()))
            || IS.iter().any(|w| stem.eq_ignore_ascii_case(w.as_bytes()))
    })
}

/// Whether a login attempt failed, without anything learned about the
/// endpoint: see `outcome::classify`.
#[cfg(test)]
pub(crate) fn login_failed(exchange: &HttpExchange) -> bool {
    super::outcome::classify(exchange, &Default::default()) == super::outcome::Outcome::Failure
}

/// Login and password-reset endpoints, as `[behaviour.login]` names them.
#[derive(Debug, Clone)]
pub(crate) struct LoginRules {
    paths: Vec<String>,
    exclude: Vec<String>,
    reset: Vec<String>,
    password_fields: Vec<String>,
}

/// What kind of credential endpoint a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialEndpoint {
    /// A login attempt: POST to a login path with a password (or Basic
    /// credentials).
    Login,
    /// A POST naming an account to a password-reset path.
    Reset,
}

impl LoginRules {
    pub(crate) fn new(config: &LoginConfig) -> Self {
        let lower = |l: &[String]| l.iter().map(|p| p.to_ascii_lowercase()).collect();
        Self {
            paths: lower(&config.paths),
            exclude: lower(&config.exclude_paths),
            reset: lower(&config.reset_paths),
            password_fields: config.password_fields.iter().map(|f| normal(f)).collect(),
        }
    }

    /// The kind of credential endpoint `exchange` went to, if any.
    pub(crate) fn classify(
        &self,
        exchange: &HttpExchange,
        template: &str,
    ) -> Option<CredentialEndpoint> {
        if !exchange.request.method.eq_ignore_ascii_case("POST") {
            return None;
        }
        let template = template.to_ascii_lowercase();
        let any = |globs: &[String]| {
            globs
                .iter()
                .any(|g| glob::matches(g.as_bytes(), template.as_bytes()))
        };
        if any(&self.reset) {
            return Some(CredentialEndpoint::Reset);
        }
        if !any(&self.paths) || any(&self.exclude) {
            return None;
        }
        let basic = header(&exchange.request.headers, "authorization")
            .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case(b"basic "));
        (basic || self.has_password(exchange)).then_some(CredentialEndpoint::Login)
    }

    fn has_password(&self, exchange: &HttpExchange) -> bool {
        let body = exchange.request.body.content();
        if body.is_empty() || body.len() > MAX_LOGIN_BODY {
            return false;
        }
        let is_password = |name: &str| self.password_fields.contains(&normal(name));
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
                return false;
            };
            return json_has_field(&value, 2, &is_password);
        }
        pairs(body).any(|(name, _)| is_password(&String::from_utf8_lossy(&name)))
    }
}

fn json_has_field(value: &serde_json::Value, depth: u32, wanted: &dyn Fn(&str) -> bool) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    object
        .iter()
        .any(|(k, v)| wanted(k) || (depth > 1 && json_has_field(v, depth - 1, wanted)))
}

fn normal(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
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
#[cfg(test)]
pub(crate) fn username_hash(exchange: &HttpExchange, keys: &Keys) -> Option<u64> {
    username(exchange).map(|u| keys.hash(u.as_str()))
}

/// The username of a login or reset request (JSON or form body, else
/// Basic credentials), trimmed and lowercased. The caller hashes it at
/// once; it is never kept.
pub(crate) fn username(exchange: &HttpExchange) -> Option<String> {
    body_username(exchange)
        .or_else(|| basic_user(exchange))
        .map(|u| u.trim().to_lowercase())
        .filter(|u| !u.is_empty())
}

fn basic_user(exchange: &HttpExchange) -> Option<String> {
    let value = header(&exchange.request.headers, "authorization")?.trim_ascii();
    if value.len() <= 6 || !value[..6].eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = STANDARD.decode(value[6..].trim_ascii()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    String::from_utf8(decoded[..colon].to_vec()).ok()
}

fn body_username(exchange: &HttpExchange) -> Option<String> {
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
    Some(username)
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
