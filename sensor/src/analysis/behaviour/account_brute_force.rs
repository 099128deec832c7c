//! `auth.brute_force` per account: failed logins for one username
//! (hashed) in a tumbling window of `window_secs`, from any number of
//! addresses, at least `failed_logins`. Behind a proxy or a NAT the
//! attacker shares an address with everyone, and a botnet spreads over
//! many: the account under attack is what stays the same.

use crate::analysis::detect::{Location, Message, Part, RuleInfo};
use crate::analysis::principal::Principal;

use super::config::BruteForceConfig;
use super::distinct::DistinctCounter;
use super::numbers::thousands;
use super::observation::Observation;
use super::rules;
use super::signal::{Condition, Report, Scope};

const NS_PER_SEC: i128 = 1_000_000_000;
/// Addresses counted exactly per account, then "at least".
const MAX_ADDRESSES: usize = 32;

#[derive(Debug, Clone)]
pub(crate) struct AccountTracker {
    window_start_ns: i128,
    failures: u32,
    addresses: DistinctCounter,
}

impl AccountTracker {
    pub(crate) fn new(now_unix_ns: i128) -> Self {
        Self {
            window_start_ns: now_unix_ns,
            failures: 0,
            addresses: DistinctCounter::new(MAX_ADDRESSES, false),
        }
    }

    /// One failed login for this account from the client hashed `client`.
    pub(crate) fn record(
        &mut self,
        user: &Principal,
        client: u64,
        now_unix_ns: i128,
        config: &BruteForceConfig,
    ) -> Option<AccountFailures> {
        if now_unix_ns - self.window_start_ns >= i128::from(config.window_secs) * NS_PER_SEC {
            self.window_start_ns = now_unix_ns;
            self.failures = 0;
            self.addresses.clear();
        }
        self.failures = self.failures.saturating_add(1);
        self.addresses.insert(client);
        (config.enabled && self.failures >= config.failed_logins).then(|| AccountFailures {
            user: user.to_string(),
            failures: self.failures,
            addresses: self.addresses.count(),
            at_least: self.addresses.is_lower_bound(),
            elapsed_secs: ((now_unix_ns - self.window_start_ns) / NS_PER_SEC).max(1) as u64,
            threshold: config.failed_logins,
            window_secs: config.window_secs,
        })
    }
}

/// Many failed logins for one account.
#[derive(Debug, Clone)]
pub(crate) struct AccountFailures {
    /// The username's fingerprint (`user:...`), with the side it was seen
    /// from, so one request seen by client and server is two conditions.
    user: String,
    failures: u32,
    addresses: u64,
    at_least: bool,
    elapsed_secs: u64,
    threshold: u32,
    window_secs: u64,
}

impl AccountFailures {
    /// Scoped to the side the exchange was seen from.
    pub(crate) fn on_side(mut self, role: &str) -> Self {
        self.user = format!("{role} {}", self.user);
        self
    }

    fn username(&self) -> &str {
        self.user.split_once(' ').map_or(&self.user, |(_, u)| u)
    }
}

impl Condition for AccountFailures {
    fn rule(&self) -> &'static RuleInfo {
        &rules::BRUTE_FORCE
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            endpoint: false,
            client: false,
            name: Some(&self.user),
        }
    }

    fn observed(&self) -> u64 {
        u64::from(self.failures)
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let at_least = if self.at_least { "at least " } else { "" };
        let from = if self.addresses <= 1 {
            obs.client.to_string()
        } else {
            format!(
                "{at_least}{} addresses (latest {})",
                thousands(self.addresses),
                obs.client
            )
        };
        let observed = format!(
            "{} failed logins from {from} in {} s",
            thousands(u64::from(self.failures)),
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
                "Brute force: {observed} (latest on {}; all for username {}); {expected}.",
                obs.endpoint,
                self.username(),
            ),
            evidence: format!("{observed} for {}; {expected}", self.username()),
        }
    }
}
