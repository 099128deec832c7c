//! `[credentials]`: how credentials are followed across exchanges, and
//! which of their uses are strange. Every key is optional.

use serde::Deserialize;

use crate::analysis::principal::config::{DEFAULT_API_KEY_HEADERS, DEFAULT_SESSION_COOKIES};

use crate::config::InvalidKey;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialsConfig {
    /// Follow credentials at all.
    pub enabled: bool,
    /// Seconds a credential learns its clients (remote addresses, or local
    /// executables for calls this host makes) after it is first seen;
    /// afterwards a client it was never used from raises
    /// `auth.credential_new_client`.
    pub warmup_secs: u64,
    /// Clients learned per credential. A credential used from more is
    /// widely used: new clients no longer alert (`auth.credential_shared`
    /// does).
    pub max_clients_per_credential: usize,
    /// `auth.credential_shared`: distinct clients of one credential within
    /// `shared_window_secs` at which it alerts.
    pub shared_min_clients: usize,
    pub shared_window_secs: u64,
    /// Credentials used by many clients on purpose (service accounts):
    /// exempt from `auth.credential_new_client` and
    /// `auth.credential_shared`. `jwt:SUBJECT` (a JWT's `sub`, or
    /// `client_id`), `user:NAME` (a Basic user), or the 16-hex-digit
    /// credential fingerprint an alert's evidence shows (API keys, cookies).
    pub shared: Vec<String>,
    /// Seconds of clock skew allowed before a JWT counts as expired (or not
    /// yet valid).
    pub leeway_secs: u64,
    /// Path templates (`*` wildcards) of logout and revocation calls: a
    /// credential they carry, answered 2xx or 3xx, is revoked.
    pub logout_paths: Vec<String>,
    /// JSON fields of a response body that hand out a token.
    pub issued_token_fields: Vec<String>,
    /// Request headers carrying an API key (case-insensitive).
    pub api_key_headers: Vec<String>,
    /// Cookies carrying a session (case-sensitive, as browsers send them).
    pub session_cookies: Vec<String>,
    /// Credentials followed; past it the least recently used are forgotten
    /// (counted).
    pub max_credentials: usize,
    /// Tokens remembered as handed out or revoked.
    pub max_tokens: usize,
    /// A condition already reported stays quiet until unseen this long.
    pub quiet_period_secs: u64,
    /// Each rule on its own.
    pub new_client: bool,
    pub shared_use: bool,
    pub expired: bool,
    pub revoked: bool,
    pub handed_out: bool,
}

impl Default for CredentialsConfig {
    fn default() -> Self {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Self {
            enabled: true,
            warmup_secs: 1800,
            max_clients_per_credential: 16,
            shared_min_clients: 10,
            shared_window_secs: 600,
            shared: Vec::new(),
            leeway_secs: 60,
            logout_paths: strings(&[
                "*/logout",
                "*/log-out",
                "*/signout",
                "*/sign-out",
                "*/revoke",
                "*/token/revoke",
                "*/sessions/current",
            ]),
            issued_token_fields: strings(&[
                "access_token",
                "accessToken",
                "id_token",
                "refresh_token",
                "token",
                "auth_token",
                "session_token",
                "jwt",
            ]),
            api_key_headers: strings(DEFAULT_API_KEY_HEADERS),
            session_cookies: strings(DEFAULT_SESSION_COOKIES),
            max_credentials: 50_000,
            max_tokens: 50_000,
            quiet_period_secs: 3600,
            new_client: true,
            shared_use: true,
            expired: true,
            revoked: true,
            handed_out: true,
        }
    }
}

impl CredentialsConfig {
    /// The first bad key and why, in the form `Config::validate` reports.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        for (key, value) in [
            (
                "credentials.max_clients_per_credential",
                self.max_clients_per_credential as u64,
            ),
            ("credentials.shared_window_secs", self.shared_window_secs),
            ("credentials.max_credentials", self.max_credentials as u64),
            ("credentials.max_tokens", self.max_tokens as u64),
            ("credentials.quiet_period_secs", self.quiet_period_secs),
        ] {
            if value == 0 {
                return Err(InvalidKey::new(key, "must be greater than 0"));
            }
        }
        if !(2..=256).contains(&self.shared_min_clients) {
            return Err(InvalidKey::new(
                "credentials.shared_min_clients",
                "must be between 2 and 256",
            ));
        }
        for entry in &self.shared {
            let ok = match entry.split_once(':') {
                Some(("jwt" | "user", name)) => !name.trim().is_empty(),
                Some(_) => false,
                None => entry.len() == 16 && entry.bytes().all(|b| b.is_ascii_hexdigit()),
            };
            if !ok {
                return Err(InvalidKey::new(
                    "credentials.shared",
                    format!("{entry:?} must be jwt:SUBJECT, user:NAME or a 16-hex-digit credential fingerprint"),
                ));
            }
        }
        if self.logout_paths.iter().any(|p| !p.starts_with(['/', '*'])) {
            return Err(InvalidKey::new(
                "credentials.logout_paths",
                "each must be a path template starting with / or *",
            ));
        }
        Ok(())
    }
}
