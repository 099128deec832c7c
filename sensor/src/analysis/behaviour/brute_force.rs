//! `auth.brute_force` and `auth.credential_stuffing`, per client.
//!
//! Brute force: in a tumbling window of `window_secs`, at least
//! `failed_logins` failed login attempts (see `outcome`) across usernames
//! (not counting the most tried one, which `account_brute_force` judges
//! per account), or at least `denied` answers of 401 or 403 to any request. Credential stuffing: in
//! a tumbling window of `stuffing_window_secs`, failed logins for at least
//! `stuffing_usernames` distinct usernames (kept as keyed hashes, at most
//! twice the threshold: past that the count is "at least").
//! The thresholds are absolute: a client's first minute can alert.

use crate::analysis::detect::{Location, Message, Part, RuleInfo};

use super::config::BruteForceConfig;
use super::distinct::DistinctCounter;
use super::numbers::thousands;
use super::observation::Observation;
use super::rules;
use super::signal::{Condition, Report, Scope};

const NS_PER_SEC: i128 = 1_000_000_000;

/// What one exchange was, as far as authentication goes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Attempt {
    pub failed_login: bool,
    /// Answered 401 or 403.
    pub denied: bool,
    /// Keyed hash of the username of a failed login, when found.
    pub username: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthTracker {
    window_start_ns: i128,
    failed_logins: u32,
    denied: u32,
    stuffing_start_ns: i128,
    stuffing_failures: u32,
    usernames: DistinctCounter,
    /// Failed logins per username (keyed hash; None: no username) in the
    /// window, for the most tried one; at most `PER_USER` entries, the
    /// rest counted together.
    per_user: Vec<(Option<u64>, u32)>,
}

/// Usernames whose failures are counted apart per client and window.
const PER_USER: usize = 32;

impl AuthTracker {
    pub(crate) fn new(now_unix_ns: i128, config: &BruteForceConfig) -> Self {
        let cap = (config.stuffing_usernames as usize).saturating_mul(2);
        Self {
            window_start_ns: now_unix_ns,
            failed_logins: 0,
            denied: 0,
            stuffing_start_ns: now_unix_ns,
            stuffing_failures: 0,
            usernames: DistinctCounter::new(cap, false),
            per_user: Vec::new(),
        }
    }

    pub(crate) fn record(
        &mut self,
        attempt: Attempt,
        now_unix_ns: i128,
        config: &BruteForceConfig,
    ) -> (Option<Failures>, Option<Stuffing>) {
        if !config.enabled || !(attempt.failed_login || attempt.denied) {
            return (None, None);
        }
        if now_unix_ns - self.window_start_ns >= i128::from(config.window_secs) * NS_PER_SEC {
            self.window_start_ns = now_unix_ns;
            self.failed_logins = 0;
            self.denied = 0;
            self.per_user.clear();
        }
        if now_unix_ns - self.stuffing_start_ns
            >= i128::from(config.stuffing_window_secs) * NS_PER_SEC
        {
            self.stuffing_start_ns = now_unix_ns;
            self.stuffing_failures = 0;
            self.usernames.clear();
        }
        if attempt.failed_login {
            self.failed_logins = self.failed_logins.saturating_add(1);
            self.stuffing_failures = self.stuffing_failures.saturating_add(1);
            if let Some(username) = attempt.username {
                self.usernames.insert(username);
            }
            let room = self.per_user.len() < PER_USER;
            match self
                .per_user
                .iter_mut()
                .find(|(u, _)| u.is_some() && *u == attempt.username)
            {
                Some((_, n)) => *n = n.saturating_add(1),
                None if room && attempt.username.is_some() => {
                    self.per_user.push((attempt.username, 1))
                }
                None => {}
            }
        }
        if attempt.denied {
            self.denied = self.denied.saturating_add(1);
        }
        let elapsed = |start: i128| ((now_unix_ns - start) / NS_PER_SEC).max(1) as u64;
        // The most tried username is the account detector's; what is left
        // is spread over other usernames.
        let most = self.per_user.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let spread = self.failed_logins - most;
        let failures =
            (spread >= config.failed_logins || self.denied >= config.denied).then(|| Failures {
                failed_logins: self.failed_logins,
                denied: self.denied,
                by_logins: spread >= config.failed_logins,
                elapsed_secs: elapsed(self.window_start_ns),
                threshold: if spread >= config.failed_logins {
                    config.failed_logins
                } else {
                    config.denied
                },
                window_secs: config.window_secs,
            });
        let usernames = self.usernames.count();
        let stuffing = (usernames >= u64::from(config.stuffing_usernames)).then(|| Stuffing {
            usernames,
            at_least: self.usernames.is_lower_bound(),
            failures: self.stuffing_failures,
            elapsed_secs: elapsed(self.stuffing_start_ns),
            threshold: config.stuffing_usernames,
            window_secs: config.stuffing_window_secs,
        });
        (failures, stuffing)
    }
}

/// Many failed logins or refusals from one client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failures {
    failed_logins: u32,
    denied: u32,
    /// Raised by failed logins (else by 401/403 answers).
    by_logins: bool,
    elapsed_secs: u64,
    threshold: u32,
    window_secs: u64,
}

impl Condition for Failures {
    fn rule(&self) -> &'static RuleInfo {
        &rules::BRUTE_FORCE
    }

    fn scope(&self) -> Scope<'_> {
        Scope::CLIENT
    }

    fn observed(&self) -> u64 {
        u64::from(if self.by_logins {
            self.failed_logins
        } else {
            self.denied
        })
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let what = if self.by_logins {
            "failed logins"
        } else {
            "401/403 answers"
        };
        let observed = format!(
            "{} {what} from {} in {} s",
            thousands(self.observed()),
            obs.client,
            self.elapsed_secs
        );
        let expected = format!(
            "threshold {} per {} s",
            thousands(u64::from(self.threshold)),
            self.window_secs
        );
        Report {
            location: Location {
                message: Message::Request,
                part: Part::RequestLine,
                name: Some(obs.endpoint.template.clone()),
            },
            summary: format!(
                "Brute force: {observed} (latest on {}; {} failed logins, {} refusals in the window); {expected}.",
                obs.endpoint,
                thousands(u64::from(self.failed_logins)),
                thousands(u64::from(self.denied)),
            ),
            evidence: format!("{observed}; {expected}"),
        }
    }
}

/// Failed logins from one client over many usernames.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stuffing {
    usernames: u64,
    at_least: bool,
    failures: u32,
    elapsed_secs: u64,
    threshold: u32,
    window_secs: u64,
}

impl Condition for Stuffing {
    fn rule(&self) -> &'static RuleInfo {
        &rules::CREDENTIAL_STUFFING
    }

    fn scope(&self) -> Scope<'_> {
        Scope::CLIENT
    }

    fn observed(&self) -> u64 {
        self.usernames
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let at_least = if self.at_least { "at least " } else { "" };
        let observed = format!(
            "failed logins for {at_least}{} distinct usernames from {} in {} s",
            thousands(self.usernames),
            obs.client,
            self.elapsed_secs
        );
        let expected = format!(
            "threshold {} per {} s",
            thousands(u64::from(self.threshold)),
            self.window_secs
        );
        Report {
            location: Location {
                message: Message::Request,
                part: Part::RequestLine,
                name: Some(obs.endpoint.template.clone()),
            },
            summary: format!(
                "Credential stuffing: {observed} ({} failed logins, latest on {}); {expected}.",
                thousands(u64::from(self.failures)),
                obs.endpoint,
            ),
            evidence: format!(
                "{at_least}{} usernames in {} s; {expected}",
                thousands(self.usernames),
                self.elapsed_secs
            ),
        }
    }
}
