//! `[behaviour]`: the behavioural detectors' baselines, thresholds,
//! windows and memory caps. Every key is optional; the defaults are meant
//! to stay quiet on steady production traffic.

use serde::Deserialize;

use crate::config::InvalidKey;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BehaviourConfig {
    /// Run the behavioural detectors at all.
    pub enabled: bool,
    /// Minutes an endpoint or client must have been tracked (counted from
    /// its first full minute) before its baseline can raise an alert.
    pub warmup_minutes: u32,
    /// Half-life of the per-minute baselines: how fast they forget.
    pub baseline_half_life_minutes: u32,
    /// A condition that has not been seen for this long is over; the next
    /// time it holds it raises a new alert.
    pub quiet_period_secs: u64,
    /// While a condition lasts, at most one updated alert (with the new,
    /// higher count) per this many seconds (0: only the first alert).
    pub update_interval_secs: u64,
    /// Endpoints (host, method, path template) with a baseline; past it
    /// the least recently seen are forgotten (counted as evictions).
    pub max_endpoints: usize,
    /// Clients (remote addresses, or local processes for outgoing calls)
    /// with a baseline; past it the least recently seen are forgotten.
    pub max_clients: usize,
    /// (client, endpoint) pairs whose distinct ids are counted.
    pub max_id_trackers: usize,
    /// Conditions remembered for alert suppression.
    pub max_episodes: usize,
    /// `volume.rate_spike`.
    pub rate: RateConfig,
    /// `volume.bulk_response`.
    pub bulk: BulkConfig,
    /// `volume.enumeration`.
    pub enumeration: EnumerationConfig,
    /// `auth.brute_force` and `auth.credential_stuffing`.
    pub brute_force: BruteForceConfig,
    /// `volume.error_surge`.
    pub errors: ErrorSurgeConfig,
    /// `auth.unauthenticated_sensitive` and `auth.credentials_in_query`.
    pub auth: AuthConfig,
    /// Which endpoints are logins and password resets (`auth.brute_force`,
    /// `auth.credential_stuffing`, `auth.account_enumeration`).
    pub login: LoginConfig,
    /// `auth.account_enumeration`.
    pub account_enumeration: AccountEnumerationConfig,
    /// `auth.bola`.
    pub bola: BolaConfig,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            warmup_minutes: 30,
            baseline_half_life_minutes: 60,
            quiet_period_secs: 600,
            update_interval_secs: 600,
            max_endpoints: 10_000,
            max_clients: 50_000,
            max_id_trackers: 20_000,
            max_episodes: 10_000,
            rate: RateConfig::default(),
            bulk: BulkConfig::default(),
            enumeration: EnumerationConfig::default(),
            brute_force: BruteForceConfig::default(),
            errors: ErrorSurgeConfig::default(),
            auth: AuthConfig::default(),
            login: LoginConfig::default(),
            account_enumeration: AccountEnumerationConfig::default(),
            bola: BolaConfig::default(),
        }
    }
}

/// Requests per minute far above an endpoint's or a client's baseline.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateConfig {
    pub enabled: bool,
    /// Requests in one minute below this never alert, whatever the
    /// baseline (a quiet endpoint going from 1 to 5 per minute is not news).
    pub min_per_minute: u32,
    /// The minute's count must be at least this many times the baseline mean.
    pub factor: f64,
    /// ... and this many standard deviations above it.
    pub sigmas: f64,
    /// ... and this many times the peak usually seen at this hour of the
    /// day (hours either side included), so a nightly batch is learned.
    pub daily_factor: f64,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_per_minute: 120,
            factor: 4.0,
            sigmas: 6.0,
            daily_factor: 1.5,
        }
    }
}

/// Responses far larger, in bytes or records, than an endpoint's usual.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BulkConfig {
    pub enabled: bool,
    /// Responses an endpoint must have answered before its baseline counts.
    pub warmup_responses: u32,
    /// Body bytes (on the wire) below this never alert on the baseline.
    pub min_bytes: u64,
    /// Body bytes at or above this always alert (0: no absolute bound).
    pub max_bytes: u64,
    /// Records (top-level JSON array, or the longest array in a top-level
    /// object) below this never alert on the baseline.
    pub min_records: u64,
    /// Records at or above this always alert (0: no absolute bound).
    pub max_records: u64,
    /// Bytes or records must be at least this many times the endpoint's mean.
    pub factor: f64,
    /// ... and this many standard deviations above it.
    pub sigmas: f64,
}

impl Default for BulkConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            warmup_responses: 50,
            min_bytes: 1024 * 1024,
            max_bytes: 100 * 1024 * 1024,
            min_records: 500,
            max_records: 10_000,
            factor: 10.0,
            sigmas: 6.0,
        }
    }
}

/// One client walking through many ids of one path template (BOLA).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EnumerationConfig {
    pub enabled: bool,
    /// Length of the (tumbling) window distinct ids are counted in.
    pub window_secs: u64,
    /// Distinct ids in one window at or above which a client may alert.
    pub min_distinct: u32,
    /// ... when that is also at least this many times the client's usual
    /// distinct ids per window on that endpoint.
    pub factor: f64,
}

impl Default for EnumerationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            min_distinct: 100,
            factor: 5.0,
        }
    }
}

/// Failed logins and refused requests from one client.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BruteForceConfig {
    pub enabled: bool,
    /// Window failed logins and refusals are counted in (tumbling).
    pub window_secs: u64,
    /// Failed logins per window, counted per username (hashed) across
    /// addresses, and per client across usernames (beyond its most tried
    /// one). A failed login is a login attempt (see `[behaviour.login]`)
    /// answered 401/403, 400/422, or 200 without a token or session and
    /// either shaped unlike the endpoint's successes or saying it failed.
    pub failed_logins: u32,
    /// 401 and 403 answers of any request per window.
    pub denied: u32,
    /// Window distinct usernames of failed logins are counted in.
    pub stuffing_window_secs: u64,
    /// Distinct usernames (hashed) in failed logins per stuffing window.
    pub stuffing_usernames: u32,
    /// Accounts (hashed usernames) whose failed logins are counted; past
    /// it the least recently failing are forgotten (counted).
    pub max_accounts: usize,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            failed_logins: 10,
            denied: 50,
            stuffing_window_secs: 600,
            stuffing_usernames: 10,
            max_accounts: 10_000,
        }
    }
}

/// A burst of 5xx answers on one endpoint.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorSurgeConfig {
    pub enabled: bool,
    /// 5xx answers in one minute below this never alert.
    pub min_per_minute: u32,
    /// The minute's 5xx count must be at least this many times the mean.
    pub factor: f64,
    /// ... and this many standard deviations above it.
    pub sigmas: f64,
}

impl Default for ErrorSurgeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_per_minute: 20,
            factor: 4.0,
            sigmas: 6.0,
        }
    }
}

/// Per-request authentication checks.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Sensitive data or secrets answered to a request carrying no
    /// credentials at all.
    pub unauthenticated_sensitive: bool,
    /// Credentials (tokens, keys, passwords, signatures) in query strings.
    pub credentials_in_query: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            unauthenticated_sensitive: true,
            credentials_in_query: true,
        }
    }
}

/// Login and password-reset endpoints. Paths are `*` globs matched
/// against the lowercase path template (`/api/v1/auth/login`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// A POST to one of these, carrying a password field (JSON or form) or
    /// Basic credentials, is a login attempt.
    pub paths: Vec<String>,
    /// Never logins (registration, logout, token refresh).
    pub exclude_paths: Vec<String>,
    /// Password-reset endpoints: a POST naming an account (checked for
    /// account enumeration only, never counted as a failed login).
    pub reset_paths: Vec<String>,
    /// Field names holding a password, compared lowercase without `_`/`-`.
    pub password_fields: Vec<String>,
}

impl Default for LoginConfig {
    fn default() -> Self {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Self {
            paths: strings(&[
                "*login*",
                "*log-in*",
                "*log_in*",
                "*signin*",
                "*sign-in*",
                "*sign_in*",
                "*logon*",
                "*authenticate*",
                "*/auth",
                "*/auth/*",
                "*/token",
                "*/tokens",
                "*/session",
                "*/sessions",
            ]),
            exclude_paths: strings(&[
                "*register*",
                "*signup*",
                "*sign-up*",
                "*sign_up*",
                "*logout*",
                "*signout*",
                "*refresh*",
            ]),
            reset_paths: strings(&["*reset*", "*forgot*", "*recover*"]),
            password_fields: strings(&[
                "password",
                "passwd",
                "pass",
                "pwd",
                "passphrase",
                "current_password",
            ]),
        }
    }
}

/// Login and reset endpoints whose failures tell which usernames exist.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccountEnumerationConfig {
    pub enabled: bool,
    /// Distinct usernames each of two different failure answers must have
    /// been given to (each username always the same answer) before the
    /// endpoint is reported.
    pub min_usernames: u32,
    /// Usernames remembered per endpoint (hashed).
    pub max_usernames: usize,
}

impl Default for AccountEnumerationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_usernames: 3,
            max_usernames: 512,
        }
    }
}

/// Broken object-level authorization: a principal reading ids that were
/// returned to other principals, or never to it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BolaConfig {
    pub enabled: bool,
    /// Tumbling window the ids a principal requests are counted in.
    pub window_secs: u64,
    /// Distinct ids of one path template, returned to other principals and
    /// never to this one, in one window.
    pub min_foreign_ids: u32,
    /// Distinct ids of one path template never returned to this principal
    /// (by anyone's responses or not) in one window, when they are also
    /// most of the ids it requested there.
    pub min_unreturned_ids: u32,
    /// Principals whose returned ids are remembered (a 2 KiB Bloom filter
    /// each), and (principal, endpoint) windows counted.
    pub max_principals: usize,
    /// Ids whose first owner is remembered.
    pub max_owned_ids: usize,
}

impl Default for BolaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 600,
            min_foreign_ids: 5,
            min_unreturned_ids: 50,
            max_principals: 5_000,
            max_owned_ids: 200_000,
        }
    }
}

impl BehaviourConfig {
    /// The first bad key and why, in the form `Config::validate` reports.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        let positive = [
            (
                "behaviour.baseline_half_life_minutes",
                self.baseline_half_life_minutes as u64,
            ),
            ("behaviour.quiet_period_secs", self.quiet_period_secs),
            ("behaviour.max_endpoints", self.max_endpoints as u64),
            ("behaviour.max_clients", self.max_clients as u64),
            ("behaviour.max_id_trackers", self.max_id_trackers as u64),
            ("behaviour.max_episodes", self.max_episodes as u64),
            (
                "behaviour.enumeration.window_secs",
                self.enumeration.window_secs,
            ),
            (
                "behaviour.enumeration.min_distinct",
                self.enumeration.min_distinct as u64,
            ),
            (
                "behaviour.brute_force.window_secs",
                self.brute_force.window_secs,
            ),
            (
                "behaviour.brute_force.failed_logins",
                self.brute_force.failed_logins as u64,
            ),
            (
                "behaviour.brute_force.denied",
                self.brute_force.denied as u64,
            ),
            (
                "behaviour.brute_force.stuffing_window_secs",
                self.brute_force.stuffing_window_secs,
            ),
            (
                "behaviour.brute_force.stuffing_usernames",
                self.brute_force.stuffing_usernames as u64,
            ),
            (
                "behaviour.account_enumeration.min_usernames",
                self.account_enumeration.min_usernames as u64,
            ),
            (
                "behaviour.account_enumeration.max_usernames",
                self.account_enumeration.max_usernames as u64,
            ),
            (
                "behaviour.brute_force.max_accounts",
                self.brute_force.max_accounts as u64,
            ),
            ("behaviour.bola.window_secs", self.bola.window_secs),
            (
                "behaviour.bola.min_foreign_ids",
                self.bola.min_foreign_ids as u64,
            ),
            (
                "behaviour.bola.min_unreturned_ids",
                self.bola.min_unreturned_ids as u64,
            ),
            (
                "behaviour.bola.max_principals",
                self.bola.max_principals as u64,
            ),
            (
                "behaviour.bola.max_owned_ids",
                self.bola.max_owned_ids as u64,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(InvalidKey::new(key, "must be greater than 0"));
            }
        }
        let factors = [
            ("behaviour.rate.factor", self.rate.factor),
            ("behaviour.rate.daily_factor", self.rate.daily_factor),
            ("behaviour.bulk.factor", self.bulk.factor),
            ("behaviour.enumeration.factor", self.enumeration.factor),
            ("behaviour.errors.factor", self.errors.factor),
        ];
        for (key, value) in factors {
            if !(value.is_finite() && value >= 1.0) {
                return Err(InvalidKey::new(key, "must be a number of at least 1"));
            }
        }
        for (key, value) in [
            ("behaviour.rate.sigmas", self.rate.sigmas),
            ("behaviour.bulk.sigmas", self.bulk.sigmas),
            ("behaviour.errors.sigmas", self.errors.sigmas),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(InvalidKey::new(key, "must be a number of at least 0"));
            }
        }
        Ok(())
    }
}
