//! `[principal]`: where the sensor reads who is calling. Every key is
//! optional; the defaults cover bearer JWTs, Basic users, the common API
//! key headers and session cookies. `[[principal.hosts]]` entries replace
//! any of the lists for the hosts they match.

use serde::Deserialize;

use crate::config::InvalidKey;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrincipalConfig {
    /// Give exchanges a principal at all (off: every detector keys on the
    /// client address, as before).
    pub enabled: bool,
    /// JWT claims naming the caller, tried in order; a dotted path reaches
    /// into objects (`user.id`). The token is read from `Authorization:
    /// Bearer`, never verified.
    pub jwt_claims: Vec<String>,
    /// Request headers carrying an API key (case-insensitive).
    pub api_key_headers: Vec<String>,
    /// Cookies carrying a session id (case-sensitive, as browsers send them).
    pub session_cookies: Vec<String>,
    /// The user name of `Authorization: Basic` credentials.
    pub basic: bool,
    /// Per-host overrides, first match wins.
    pub hosts: Vec<HostPrincipalConfig>,
}

/// Where the principal is for the hosts matching `host`; a list left out
/// keeps the top-level one.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HostPrincipalConfig {
    /// Host name as the endpoint shows it (lowercase), `*` wildcards allowed.
    pub host: String,
    pub jwt_claims: Option<Vec<String>>,
    pub api_key_headers: Option<Vec<String>>,
    pub session_cookies: Option<Vec<String>>,
}

/// Headers that carry an API key by default, lowercase. The credential
/// tracker (`[credentials]`) starts from the same names.
pub const DEFAULT_API_KEY_HEADERS: &[&str] = &[
    "x-api-key",
    "api-key",
    "apikey",
    "x-api-token",
    "x-auth-token",
    "x-access-token",
];

/// Session cookie names recognised by default (the credential tracker's
/// defaults too).
pub const DEFAULT_SESSION_COOKIES: &[&str] = &[
    "session",
    "sessionid",
    "session_id",
    "sid",
    "connect.sid",
    "JSESSIONID",
    "PHPSESSID",
    "_session_id",
    "laravel_session",
];

impl Default for PrincipalConfig {
    fn default() -> Self {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Self {
            enabled: true,
            jwt_claims: strings(&["sub", "client_id", "azp"]),
            api_key_headers: strings(DEFAULT_API_KEY_HEADERS),
            session_cookies: strings(DEFAULT_SESSION_COOKIES),
            basic: true,
            hosts: Vec::new(),
        }
    }
}

impl PrincipalConfig {
    /// The first bad key and why, in the form `Config::validate` reports.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        for (i, host) in self.hosts.iter().enumerate() {
            if host.host.trim().is_empty() {
                return Err(InvalidKey::new(
                    "principal.hosts.host",
                    format!("entry {} has no host (use \"*\" for every host)", i + 1),
                ));
            }
        }
        let claims = self.jwt_claims.iter().chain(
            self.hosts
                .iter()
                .flat_map(|h| h.jwt_claims.iter().flatten()),
        );
        for claim in claims {
            if claim.is_empty() || claim.split('.').any(str::is_empty) {
                return Err(InvalidKey::new(
                    "principal.jwt_claims",
                    format!("{claim:?} is not a claim path (names joined by dots)"),
                ));
            }
        }
        Ok(())
    }
}
