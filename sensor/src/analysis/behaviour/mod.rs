//! Behavioural detectors: what no single exchange shows, but the traffic
//! over time does. Rate spikes, bulk responses, id enumeration, error
//! surges (category `abnormal_volume`), brute force, credential stuffing,
//! unauthenticated access to sensitive data and credentials in URLs
//! (category `auth`).
//!
//! Guarantees:
//! - Time is injected: every call takes the exchange's completion time and
//!   nothing reads the clock, so hours of traffic replay in milliseconds
//!   and a pcap replay alerts as the live run would have.
//! - Bounded memory whatever the traffic: endpoints, clients, (client,
//!   endpoint) id trackers and open episodes each have a cap with
//!   least-recently-used eviction, counted in `BehaviourCounters`; ids
//!   are counted exactly up to 128 per tracker, then in a 1 KiB sketch.
//! - No raw value kept or reported: ids and usernames are kept only as
//!   keyed hashes; findings hold counts, endpoint templates
//!   (`/users/{id}`), client addresses and parameter names.
//! - One alert per condition: a condition (rule, endpoint, client) raises
//!   a finding when it starts, at most one update per
//!   `update_interval_secs` while it lasts (only when its count grew), and
//!   a new one only after `quiet_period_secs` without it. Fingerprints are
//!   keyed hashes of rule, endpoint and client, so every alert about one
//!   condition carries the same one.
//!
//! Baselines: per endpoint and per client, requests per minute feed an
//! EWMA of mean and variance (half-life `baseline_half_life_minutes`,
//! silent minutes count as 0) that may alert once `warmup_minutes` full
//! minutes are learned; a daily profile of each hour's busiest minute
//! lets jobs that recur at the same hour pass after their second day.
//! Response sizes and record counts keep a per-endpoint EWMA; distinct
//! ids per window a per-(client, endpoint) EWMA. A value that alerts
//! teaches a warm baseline only up to the alert level (`baseline::Ceiling`),
//! so an attack does not raise the bar for the next one, while a lasting
//! change of traffic is still learned within the hour. Brute force and
//! stuffing thresholds are absolute.
//!
//! Not seen: a client's rate spike during its own warm-up (a new address
//! flooding; the endpoint's spike and the absolute detectors still see
//! it), walks slower than the enumeration threshold per window, stuffing
//! spread over many addresses, credentials the sensor cannot see (mutual
//! TLS, network allowlists).
//!
//! Layout: one file per detector (`rate`, `bulk`, `enumeration`,
//! `brute_force`, `errors`, `unauthenticated`, `query_credentials`), each
//! returning a `signal::Condition`; `baseline`, `distinct`, `bounded` and
//! `episode` are the machinery; `records`, `login` and `query` read
//! bodies and URLs.

mod account_brute_force;
mod account_enumeration;
mod baseline;
mod bola;
mod bola_ids;
pub(crate) mod bounded;
mod brute_force;
mod bulk;
pub(crate) mod client;
pub mod config;
mod distinct;
mod enumeration;
pub(crate) mod episode;
mod errors;
mod login;
mod numbers;
mod observation;
mod outcome;
mod query;
mod query_credentials;
mod rate;
mod records;
pub mod rules;
mod signal;
mod unauthenticated;

use serde::Serialize;

use crate::analysis::detect::{Finding, FingerprintKey};
use crate::analysis::principal::Principal;
use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;

pub use config::BehaviourConfig;
pub use rules::RULES;

use account_brute_force::AccountTracker;
use account_enumeration::AnswerTracker;
use bola::BolaTracker;
use bounded::BoundedMap;
use brute_force::{Attempt, AuthTracker};
use bulk::BulkTracker;
use client::{ClientKey, Keys};
use enumeration::IdTracker;
use episode::{Admit, Episodes};
use errors::ErrorTracker;
use login::{CredentialEndpoint, LoginRules};
use observation::Observation;
use outcome::{Outcome, SuccessShapes};
use rate::RateTracker;
use signal::Condition;

/// How the per-minute baselines learn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Learning {
    /// Weight of one minute.
    pub alpha: f64,
    /// Silent minutes folded one by one after a gap; past this many the
    /// old mean has decayed below a sixteenth (four half-lives).
    pub max_silent_minutes: u32,
    pub warmup_minutes: u32,
}

impl Learning {
    fn new(config: &BehaviourConfig) -> Self {
        Self {
            alpha: baseline::alpha_for_half_life(config.baseline_half_life_minutes),
            max_silent_minutes: config.baseline_half_life_minutes.saturating_mul(4),
            warmup_minutes: config.warmup_minutes,
        }
    }
}

/// What is known about one endpoint.
#[derive(Debug)]
struct EndpointState {
    rate: RateTracker,
    errors: ErrorTracker,
    bulk: BulkTracker,
    /// For login endpoints: the shapes of successful answers.
    logins: SuccessShapes,
}

/// What is known about one client.
#[derive(Debug)]
struct ClientState {
    rate: RateTracker,
    auth: AuthTracker,
}

/// The detector's size and what it did, for `--stats` and the metrics.
/// Counts only: no endpoint, client or value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BehaviourCounters {
    pub exchanges: u64,
    pub endpoints_tracked: usize,
    pub clients_tracked: usize,
    pub id_trackers: usize,
    pub episodes_open: usize,
    pub endpoint_evictions: u64,
    pub client_evictions: u64,
    pub id_tracker_evictions: u64,
    pub episode_evictions: u64,
    /// Findings returned (episode starts and updates).
    pub findings: u64,
    /// Conditions held back because their episode was already reported.
    pub suppressed: u64,
    /// Accounts (hashed usernames) with failed logins being counted.
    pub accounts_tracked: usize,
    /// Principals whose returned ids are remembered for `auth.bola`.
    pub principals_tracked: usize,
    /// Account, credential endpoint and `auth.bola` entries dropped to
    /// stay within their caps.
    pub identity_evictions: u64,
}

/// Learns the traffic and reports what departs from it. One per pipeline;
/// `observe` takes `&mut self`.
pub struct BehaviourDetector {
    config: BehaviourConfig,
    learning: Learning,
    fingerprint_key: FingerprintKey,
    keys: Keys,
    endpoints: BoundedMap<EndpointState>,
    clients: BoundedMap<ClientState>,
    id_trackers: BoundedMap<IdTracker>,
    episodes: Episodes,
    login_rules: LoginRules,
    /// Failed logins per (side, host, username).
    accounts: BoundedMap<AccountTracker>,
    /// Failure answers per credential endpoint.
    answers: BoundedMap<AnswerTracker>,
    bola: BolaTracker,
    exchanges: u64,
    findings: u64,
}

/// Credential endpoints whose answers are compared per username.
const MAX_CREDENTIAL_ENDPOINTS: usize = 256;

impl std::fmt::Debug for BehaviourDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BehaviourDetector")
            .field("counters", &self.counters())
            .finish_non_exhaustive()
    }
}

impl BehaviourDetector {
    /// `key` is the content detectors' fingerprint key, so fingerprints of
    /// both kinds come from one secret.
    pub fn new(config: &BehaviourConfig, key: FingerprintKey) -> Self {
        Self {
            learning: Learning::new(config),
            keys: Keys::derive(&key),
            fingerprint_key: key,
            endpoints: BoundedMap::new(config.max_endpoints),
            clients: BoundedMap::new(config.max_clients),
            id_trackers: BoundedMap::new(config.max_id_trackers),
            episodes: Episodes::new(
                config.max_episodes,
                config.quiet_period_secs,
                config.update_interval_secs,
            ),
            login_rules: LoginRules::new(&config.login),
            accounts: BoundedMap::new(config.brute_force.max_accounts),
            answers: BoundedMap::new(MAX_CREDENTIAL_ENDPOINTS),
            bola: BolaTracker::new(&config.bola),
            exchanges: 0,
            findings: 0,
            config: config.clone(),
        }
    }

    /// Learns one exchange and returns the behavioural findings it starts
    /// or updates. `findings` are the content detectors' findings for this
    /// exchange; `now_unix_ns` its completion time.
    pub fn observe(
        &mut self,
        exchange: &HttpExchange,
        findings: &[Finding],
        now_unix_ns: i128,
    ) -> Vec<Finding> {
        self.observe_at(exchange, &EndpointKey::of(exchange), findings, now_unix_ns)
    }

    /// `observe` with the exchange's endpoint already worked out (the
    /// caller shares it with the inventory and the alerts).
    pub fn observe_at(
        &mut self,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        findings: &[Finding],
        now_unix_ns: i128,
    ) -> Vec<Finding> {
        self.observe_as(exchange, endpoint, None, findings, now_unix_ns)
    }

    /// `observe_at` for an exchange whose request carries `principal`:
    /// the per-client detectors key on it instead of the address.
    pub fn observe_as(
        &mut self,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        principal: Option<&Principal>,
        findings: &[Finding],
        now_unix_ns: i128,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        if !self.config.enabled {
            return out;
        }
        self.exchanges += 1;
        let obs = Observation::new(exchange, endpoint, principal, &self.keys, now_unix_ns);
        let (endpoint_spike, surge, bulk) = self.observe_endpoint(&obs);
        let credentials = self.observe_credentials(&obs);
        let (client_spike, failures, stuffing) = self.observe_client(&obs, credentials.attempt);
        let walk = self.observe_ids(&obs);
        let bola = self.bola.observe(&obs, &self.keys, &self.config.bola);
        self.raise(endpoint_spike, &obs, &mut out);
        self.raise(client_spike, &obs, &mut out);
        self.raise(surge, &obs, &mut out);
        self.raise(bulk, &obs, &mut out);
        self.raise(walk, &obs, &mut out);
        self.raise(failures, &obs, &mut out);
        self.raise(credentials.account, &obs, &mut out);
        self.raise(stuffing, &obs, &mut out);
        self.raise(credentials.enumerable, &obs, &mut out);
        self.raise(bola, &obs, &mut out);
        let auth = &self.config.auth;
        let exposure = auth
            .unauthenticated_sensitive
            .then(|| unauthenticated::check(&obs, findings))
            .flatten();
        let in_query = auth
            .credentials_in_query
            .then(|| query_credentials::check(&obs))
            .flatten();
        self.raise(exposure, &obs, &mut out);
        self.raise(in_query, &obs, &mut out);
        self.findings += out.len() as u64;
        out
    }

    pub fn counters(&self) -> BehaviourCounters {
        BehaviourCounters {
            exchanges: self.exchanges,
            endpoints_tracked: self.endpoints.len(),
            clients_tracked: self.clients.len(),
            id_trackers: self.id_trackers.len(),
            episodes_open: self.episodes.len(),
            endpoint_evictions: self.endpoints.evictions(),
            client_evictions: self.clients.evictions(),
            id_tracker_evictions: self.id_trackers.evictions(),
            episode_evictions: self.episodes.evictions(),
            findings: self.findings,
            suppressed: self.episodes.suppressed(),
            accounts_tracked: self.accounts.len(),
            principals_tracked: self.bola.principals(),
            identity_evictions: self.accounts.evictions()
                + self.answers.evictions()
                + self.bola.evictions(),
        }
    }

    fn observe_endpoint(
        &mut self,
        obs: &Observation<'_>,
    ) -> (
        Option<rate::Spike>,
        Option<errors::Surge>,
        Option<bulk::Bulk>,
    ) {
        let minute = obs.minute;
        let state = self
            .endpoints
            .get_or_insert_with(obs.endpoint_id, || EndpointState {
                rate: RateTracker::new(minute),
                errors: ErrorTracker::new(minute),
                bulk: BulkTracker::default(),
                logins: SuccessShapes::default(),
            });
        let spike = state.rate.record(minute, &self.learning, &self.config.rate);
        let surge = state.errors.record(
            minute,
            obs.status(),
            state.rate.current(),
            &self.learning,
            &self.config.errors,
        );
        let bulk = state.bulk.record(&obs.exchange.response, &self.config.bulk);
        (spike, surge, bulk)
    }

    fn observe_client(
        &mut self,
        obs: &Observation<'_>,
        attempt: Attempt,
    ) -> (
        Option<rate::Spike>,
        Option<brute_force::Failures>,
        Option<brute_force::Stuffing>,
    ) {
        if obs.client == ClientKey::Unknown {
            // All peers without an address would be one client.
            return (None, None, None);
        }
        let (minute, now) = (obs.minute, obs.now_unix_ns);
        let brute_force = &self.config.brute_force;
        let state = self
            .clients
            .get_or_insert_with(obs.client_id, || ClientState {
                rate: RateTracker::new(minute),
                auth: AuthTracker::new(now, brute_force),
            });
        let spike = state
            .rate
            .record(minute, &self.learning, &self.config.rate)
            .map(rate::Spike::of_client);
        let (failures, stuffing) = state.auth.record(attempt, now, brute_force);
        (spike, failures, stuffing)
    }

    /// Logins and password resets: what the answer was, per account and
    /// per endpoint.
    fn observe_credentials(&mut self, obs: &Observation<'_>) -> Credentials {
        let status = obs.status();
        let mut out = Credentials {
            attempt: Attempt {
                denied: status == 401 || status == 403,
                ..Attempt::default()
            },
            account: None,
            enumerable: None,
        };
        let Some(kind) = self
            .login_rules
            .classify(obs.exchange, &obs.endpoint.template)
        else {
            return out;
        };
        let outcome = match kind {
            CredentialEndpoint::Reset => Outcome::Unknown,
            CredentialEndpoint::Login => {
                let learned = &mut self
                    .endpoints
                    .get_or_insert_with(obs.endpoint_id, || EndpointState {
                        rate: RateTracker::new(obs.minute),
                        errors: ErrorTracker::new(obs.minute),
                        bulk: BulkTracker::default(),
                        logins: SuccessShapes::default(),
                    })
                    .logins;
                let outcome = outcome::classify(obs.exchange, learned);
                if let Outcome::Success { shape } = outcome {
                    learned.learn(shape);
                }
                outcome
            }
        };
        let failed = outcome == Outcome::Failure;
        // A failed login is the login detectors' to judge, not a refusal.
        out.attempt.denied &= !failed;
        let compared = match kind {
            CredentialEndpoint::Login => failed,
            // Every answer of a reset, but a refusal to answer at all.
            CredentialEndpoint::Reset => status < 500 && status != 429,
        };
        if !(failed || compared) {
            return out;
        }
        let Some(name) = login::username(obs.exchange) else {
            out.attempt.failed_login = failed;
            return out;
        };
        let user = self.keys.hash(name.as_str());
        out.attempt.failed_login = failed;
        out.attempt.username = Some(user);
        if failed && self.config.brute_force.enabled {
            let account = Principal::user(&self.fingerprint_key, &name);
            let role = obs.exchange.connection.role;
            let key = self.keys.hash(&(role, &obs.endpoint.host, user));
            let client = obs.client_id;
            let now = obs.now_unix_ns;
            out.account = self
                .accounts
                .get_or_insert_with(key, || AccountTracker::new(now))
                .record(&account, client, now, &self.config.brute_force)
                .map(|c| c.on_side(role.as_str()));
        }
        if compared {
            let signature = outcome::signature(obs.exchange);
            let reset = kind == CredentialEndpoint::Reset;
            out.enumerable = self
                .answers
                .get_or_insert_with(obs.endpoint_id, AnswerTracker::default)
                .record(user, signature, reset, &self.config.account_enumeration);
        }
        out
    }

    fn observe_ids(&mut self, obs: &Observation<'_>) -> Option<enumeration::Walk> {
        if !self.config.enumeration.enabled || obs.client == ClientKey::Unknown {
            return None;
        }
        let ids = obs.ids_hash(&self.keys)?;
        let pair = self.keys.hash(&(obs.client_id, obs.endpoint_id));
        let now = obs.now_unix_ns;
        self.id_trackers
            .get_or_insert_with(pair, || IdTracker::new(now))
            .record(ids, obs.status(), now, &self.config.enumeration)
    }

    /// Turns a condition into a finding when it opens or updates an episode.
    fn raise<C: Condition>(
        &mut self,
        condition: Option<C>,
        obs: &Observation<'_>,
        out: &mut Vec<Finding>,
    ) {
        let Some(condition) = condition else {
            return;
        };
        let scope = condition.scope();
        let key = self.keys.hash(&(
            condition.rule().id,
            scope.endpoint.then_some(obs.endpoint_id),
            scope.client.then_some(obs.client_id),
            scope.name,
        ));
        let admit = self
            .episodes
            .admit(key, condition.observed(), obs.now_unix_ns);
        if admit != Admit::Suppress {
            out.push(signal::finding(
                &condition,
                obs,
                &self.fingerprint_key,
                admit,
            ));
        }
    }
}

/// What a login or reset attempt amounted to.
struct Credentials {
    attempt: Attempt,
    account: Option<account_brute_force::AccountFailures>,
    enumerable: Option<account_enumeration::Enumerable>,
}

#[cfg(test)]
mod tests;
