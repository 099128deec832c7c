//! Credentials in strange contexts (category `auth`): a credential used
//! from a client it was never used from (`auth.credential_new_client`),
//! by many clients at once (`auth.credential_shared`), a JWT accepted
//! outside its validity window (`auth.token_expired_accepted`), a token
//! accepted after a logout revoked it (`auth.token_revoked_accepted`), and
//! a credential handed out to one client and presented by another
//! (`auth.credential_other_client`).
//!
//! Guarantees:
//! - Keyed by the credential, never its value: a JWT by issuer and `jti`
//!   (issuer and subject without one, so a normally refreshed token stays
//!   one credential), a Basic user by name, API keys and session cookies
//!   by value, each kept only as a keyed hash (`extract` reduces them at
//!   once). Alerts name a credential by a 16-hex-digit keyed fingerprint.
//! - Time is injected (the exchange's completion time), so a replay alerts
//!   as the live run would have.
//! - Bounded: credentials, tokens (handed out or revoked) and reported
//!   conditions each have a cap with least-recently-used eviction
//!   (counted); a credential learns at most `max_clients_per_credential`
//!   clients and `shared_min_clients` recent ones.
//! - One alert per condition: a condition (rule, credential, client)
//!   reported once stays quiet until unseen for `quiet_period_secs`, and a
//!   new client is learned once reported.
//! - The two sides of one connection on this host (server and client) are
//!   followed separately: each sees its own clients.

mod client;
pub mod config;
mod extract;
pub mod rules;

use serde::Serialize;

use crate::analysis::behaviour::bounded::BoundedMap;
use crate::analysis::behaviour::client::Keys;
use crate::analysis::behaviour::episode::{Admit, Episodes};
use crate::analysis::detect::FingerprintKey;
use crate::endpoint::EndpointKey;
use crate::exchange::{HttpExchange, Role};
use crate::finding::{Finding, Location, Message, Part, RuleInfo};
use crate::glob;

use client::Client;
pub use config::CredentialsConfig;
use extract::Credential;
pub use extract::TokenFields;
pub(crate) use extract::{carries_credentials, hands_out_credentials};
pub use rules::RULES;

const NS_PER_SEC: i128 = 1_000_000_000;
/// Learned clients named in a report, at most.
const NAMED: usize = 3;

/// What is known about one credential (from one side).
#[derive(Debug)]
struct CredentialState {
    first_seen_ns: i128,
    /// Keyed hashes of the clients it was used from.
    learned: Vec<u64>,
    /// The first few of them, for reports (addresses and programs, which
    /// alerts show anyway).
    learned_names: Vec<String>,
    /// More clients than `max_clients_per_credential`: new ones no longer
    /// alert.
    widely_used: bool,
    /// Clients seen within the sharing window, with their last use.
    recent: Vec<(u64, i128)>,
}

/// What is known about one exact token (from one side).
#[derive(Debug, Default)]
struct TokenState {
    /// The client it was handed out to: keyed hash and name.
    issued_to: Option<(u64, String)>,
    /// When a logout revoked it, and which call.
    revoked: Option<(i128, String)>,
}

/// Sizes and what the detector did, for `--stats` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CredentialCounters {
    pub exchanges_with_credentials: u64,
    pub credentials_tracked: usize,
    pub tokens_tracked: usize,
    pub credential_evictions: u64,
    pub token_evictions: u64,
    pub episode_evictions: u64,
    /// Credentials past `max_clients_per_credential`.
    pub widely_used: u64,
    pub findings: u64,
    pub suppressed: u64,
}

pub struct CredentialDetector {
    config: CredentialsConfig,
    token_fields: TokenFields,
    key: FingerprintKey,
    keys: Keys,
    credentials: BoundedMap<CredentialState>,
    tokens: BoundedMap<TokenState>,
    episodes: Episodes,
    /// Keyed hashes of `jwt:`/`user:` entries of `shared`.
    shared_subjects: Vec<u64>,
    /// 16-hex-digit fingerprints listed in `shared`.
    shared_fingerprints: Vec<String>,
    exchanges_with_credentials: u64,
    widely_used: u64,
    findings: u64,
}

/// One exchange, as the rules read it.
struct Seen<'a> {
    exchange: &'a HttpExchange,
    endpoint: &'a EndpointKey,
    client: Client,
    client_id: u64,
    side: u8,
    now: i128,
}

impl Seen<'_> {
    /// The client as reports name it; formatted only when a report or a
    /// learned credential needs it, not for every exchange.
    fn client_name(&self) -> String {
        client::describe(&self.client, self.exchange)
    }
}

impl CredentialDetector {
    /// `key` is the fingerprint key, so credential fingerprints and every
    /// other fingerprint come from one secret.
    pub fn new(config: &CredentialsConfig, key: FingerprintKey) -> Self {
        let keys = Keys::derive(&key);
        let mut shared_subjects = Vec::new();
        let mut shared_fingerprints = Vec::new();
        for entry in &config.shared {
            match entry.split_once(':') {
                Some((kind, name)) => shared_subjects.push(keys.hash(&(kind, name.trim()))),
                None => shared_fingerprints.push(entry.to_ascii_lowercase()),
            }
        }
        Self {
            keys,
            key,
            credentials: BoundedMap::new(config.max_credentials),
            tokens: BoundedMap::new(config.max_tokens),
            episodes: Episodes::new(config.max_credentials, config.quiet_period_secs, 0),
            shared_subjects,
            shared_fingerprints,
            exchanges_with_credentials: 0,
            widely_used: 0,
            findings: 0,
            token_fields: TokenFields::new(config),
            config: config.clone(),
        }
    }

    /// Learns one exchange, completed at `now_unix_ns`, and returns what
    /// it shows.
    pub fn observe_at(
        &mut self,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        now_unix_ns: i128,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        if !self.config.enabled {
            return out;
        }
        let Some(client) = Client::of(exchange) else {
            return out;
        };
        let side = match exchange.connection.role {
            Role::Server => 0u8,
            Role::Client => 1,
        };
        let seen = Seen {
            client_id: self.keys.hash(&(side, &client)),
            client,
            exchange,
            endpoint,
            side,
            now: now_unix_ns,
        };
        let status = exchange.response.status;
        let accepted = (200..300).contains(&status);
        let logout = (200..400).contains(&status)
            && self
                .config
                .logout_paths
                .iter()
                .any(|p| glob::matches(p.as_bytes(), endpoint.template.as_bytes()));
        let presented = extract::presented(exchange, &self.config);
        if !presented.is_empty() {
            self.exchanges_with_credentials += 1;
        }
        for credential in &presented {
            let token_id = self.keys.hash(&(side, b"exact", &credential.exact));
            if accepted && !logout {
                self.check_validity(credential, token_id, &seen, &mut out);
                self.check_revoked(credential, token_id, &seen, &mut out);
            }
            let handed_to_other = self.check_handed_out(credential, token_id, &seen, &mut out);
            self.learn(credential, handed_to_other, &seen, &mut out);
        }
        if logout {
            let revoked_in_body = extract::revoked_in_body(exchange, &self.config);
            for credential in presented.iter().chain(&revoked_in_body) {
                let token_id = self.keys.hash(&(side, b"exact", &credential.exact));
                let call = endpoint.to_string();
                self.tokens
                    .get_or_insert_with(token_id, TokenState::default)
                    .revoked = Some((now_unix_ns, call));
            }
        } else if accepted && self.config.handed_out {
            for credential in extract::issued(exchange, &self.config, &self.token_fields) {
                let token_id = self.keys.hash(&(side, b"exact", &credential.exact));
                let token = self
                    .tokens
                    .get_or_insert_with(token_id, TokenState::default);
                token.issued_to = Some((seen.client_id, seen.client_name()));
                // Handed out anew: whatever revoked it before is over.
                token.revoked = None;
            }
        }
        self.findings += out.len() as u64;
        out
    }

    pub fn counters(&self) -> CredentialCounters {
        CredentialCounters {
            exchanges_with_credentials: self.exchanges_with_credentials,
            credentials_tracked: self.credentials.len(),
            tokens_tracked: self.tokens.len(),
            credential_evictions: self.credentials.evictions(),
            token_evictions: self.tokens.evictions(),
            episode_evictions: self.episodes.evictions(),
            widely_used: self.widely_used,
            findings: self.findings,
            suppressed: self.episodes.suppressed(),
        }
    }

    /// `auth.token_expired_accepted`: a JWT accepted outside its window.
    fn check_validity(
        &mut self,
        credential: &Credential,
        token_id: u64,
        seen: &Seen<'_>,
        out: &mut Vec<Finding>,
    ) {
        if !self.config.expired {
            return;
        }
        let now_secs = (seen.now / NS_PER_SEC) as i64;
        let leeway = self.config.leeway_secs as i64;
        let problem = match (credential.expires, credential.not_before) {
            (Some(exp), _) if now_secs > exp.saturating_add(leeway) => {
                Some((now_secs - exp, "after its exp (expiry)"))
            }
            (_, Some(nbf)) if now_secs < nbf.saturating_sub(leeway) => {
                Some((nbf - now_secs, "before its nbf (not before)"))
            }
            _ => None,
        };
        let Some((secs, when)) = problem else {
            return;
        };
        if !self.admit(&rules::EXPIRED_ACCEPTED, token_id, 0, seen.now) {
            return;
        }
        let name = self.name(credential);
        let summary = format!(
            "{name} presented {} {when} and accepted ({}) by {} from {}; expected 401 for a token outside its validity window (leeway {} s).",
            duration(secs),
            seen.exchange.response.status,
            seen.endpoint,
            seen.client_name(),
            self.config.leeway_secs
        );
        let evidence = format!("{name}: {} {when}", duration(secs));
        out.push(self.finding(
            &rules::EXPIRED_ACCEPTED,
            credential,
            seen,
            summary,
            evidence,
        ));
    }

    /// `auth.token_revoked_accepted`: accepted after a logout revoked it.
    fn check_revoked(
        &mut self,
        credential: &Credential,
        token_id: u64,
        seen: &Seen<'_>,
        out: &mut Vec<Finding>,
    ) {
        if !self.config.revoked {
            return;
        }
        let Some((at, call)) = self
            .tokens
            .get_mut(token_id)
            .and_then(|t| t.revoked.clone())
        else {
            return;
        };
        if !self.admit(&rules::REVOKED_ACCEPTED, token_id, 0, seen.now) {
            return;
        }
        let name = self.name(credential);
        let after = ((seen.now - at) / NS_PER_SEC).max(0) as i64;
        let summary = format!(
            "{name} accepted ({}) by {} from {} {} after a logout ({call}) revoked it; expected 401 once logged out.",
            seen.exchange.response.status,
            seen.endpoint,
            seen.client_name(),
            duration(after),
        );
        let evidence = format!("{name}: accepted {} after logout", duration(after));
        out.push(self.finding(
            &rules::REVOKED_ACCEPTED,
            credential,
            seen,
            summary,
            evidence,
        ));
    }

    /// `auth.credential_other_client`: handed out to one client, presented
    /// by another. True when it fired (the new client is then known).
    fn check_handed_out(
        &mut self,
        credential: &Credential,
        token_id: u64,
        seen: &Seen<'_>,
        out: &mut Vec<Finding>,
    ) -> bool {
        if !self.config.handed_out {
            return false;
        }
        let Some((to, to_name)) = self
            .tokens
            .get_mut(token_id)
            .and_then(|t| t.issued_to.clone())
        else {
            return false;
        };
        if to == seen.client_id {
            return false;
        }
        if self.admit(&rules::HANDED_TO_OTHER, token_id, seen.client_id, seen.now) {
            let name = self.name(credential);
            let summary = format!(
                "{name} handed out to {to_name} presented by {} on {} ({}); expected only the client it was issued to.",
                seen.client_name(), seen.endpoint, seen.exchange.response.status
            );
            let evidence = format!(
                "{name}: issued to {to_name}, presented by {}",
                seen.client_name()
            );
            out.push(self.finding(&rules::HANDED_TO_OTHER, credential, seen, summary, evidence));
        }
        true
    }

    /// Learns the client of a credential; `auth.credential_new_client`
    /// after the warm-up, `auth.credential_shared` when many clients use it.
    fn learn(
        &mut self,
        credential: &Credential,
        handed_to_other: bool,
        seen: &Seen<'_>,
        out: &mut Vec<Finding>,
    ) {
        let cred_id = self
            .keys
            .hash(&(seen.side, credential.kind, &credential.identity));
        let exempt = self.is_shared(credential);
        let now = seen.now;
        let warmup_ns = i128::from(self.config.warmup_secs) * NS_PER_SEC;
        let window_ns = i128::from(self.config.shared_window_secs) * NS_PER_SEC;
        let (cap, shared_min) = (
            self.config.max_clients_per_credential,
            self.config.shared_min_clients,
        );
        let state = self
            .credentials
            .get_or_insert_with(cred_id, || CredentialState {
                first_seen_ns: now,
                learned: Vec::new(),
                learned_names: Vec::new(),
                widely_used: false,
                recent: Vec::new(),
            });
        // Sharing: distinct clients within the window.
        state.recent.retain(|&(_, last)| now - last < window_ns);
        match state.recent.iter().position(|(c, _)| *c == seen.client_id) {
            Some(i) => state.recent[i].1 = now,
            None if state.recent.len() < shared_min => state.recent.push((seen.client_id, now)),
            None => {}
        }
        let sharing = state.recent.len();
        let mut new_client = None;
        if !state.learned.contains(&seen.client_id) {
            let warm = now - state.first_seen_ns >= warmup_ns;
            if warm && !state.widely_used && !handed_to_other && !exempt {
                new_client = Some((
                    state.learned.len(),
                    state.learned_names.join(", "),
                    (now - state.first_seen_ns) / NS_PER_SEC,
                ));
            }
            if state.learned.len() < cap {
                state.learned.push(seen.client_id);
                if state.learned_names.len() < NAMED {
                    state.learned_names.push(seen.client_name());
                }
            } else if !state.widely_used {
                state.widely_used = true;
                self.widely_used += 1;
            }
        }
        if let Some((known, names, age)) = new_client.filter(|_| self.config.new_client) {
            if self.admit(&rules::NEW_CLIENT, cred_id, seen.client_id, now) {
                let name = self.name(credential);
                let more = if known > NAMED {
                    format!(" and {} more", known - NAMED)
                } else {
                    String::new()
                };
                let summary = format!(
                    "{name} used from a new client, {}, on {} ({}); learned from {names}{more} ({known} client(s)) since first seen {} ago, warm-up {}.",
                    seen.client_name(),
                    seen.endpoint,
                    seen.exchange.response.status,
                    duration(age as i64),
                    duration(self.config.warmup_secs as i64),
                );
                let evidence = format!(
                    "{name}: new client {}; learned: {names}{more}",
                    seen.client_name()
                );
                out.push(self.finding(&rules::NEW_CLIENT, credential, seen, summary, evidence));
            }
        }
        if self.config.shared_use
            && !exempt
            && sharing >= shared_min
            && self.admit(&rules::SHARED, cred_id, 0, now)
        {
            let name = self.name(credential);
            let summary = format!(
                "{name} used by {sharing} distinct clients within {} (latest {} on {}); expected one client per credential (threshold {shared_min}): leaked or shared, unless listed in [credentials] shared.",
                duration(self.config.shared_window_secs as i64),
                seen.client_name(),
                seen.endpoint,
            );
            let evidence = format!(
                "{name}: {sharing} clients in {}",
                duration(self.config.shared_window_secs as i64)
            );
            out.push(self.finding(&rules::SHARED, credential, seen, summary, evidence));
        }
    }

    /// Whether `[credentials] shared` lists this credential.
    fn is_shared(&self, credential: &Credential) -> bool {
        if self.shared_subjects.is_empty() && self.shared_fingerprints.is_empty() {
            return false;
        }
        let kind = match credential.kind {
            extract::Kind::Jwt => Some("jwt"),
            extract::Kind::Basic => Some("user"),
            _ => None,
        };
        if let (Some(kind), Some(subject)) = (kind, &credential.subject) {
            if self
                .shared_subjects
                .contains(&self.keys.hash(&(kind, subject.as_str())))
            {
                return true;
            }
        }
        !self.shared_fingerprints.is_empty()
            && self
                .shared_fingerprints
                .contains(&self.credential_fingerprint(credential))
    }

    /// The credential's public name: 16 hex digits of a keyed hash of what
    /// it is (the same across its uses, and what `shared` may list).
    fn credential_fingerprint(&self, credential: &Credential) -> String {
        let mut input = b"credential\0".to_vec();
        input.extend_from_slice(credential.kind.as_str().as_bytes());
        input.push(0);
        input.extend_from_slice(&credential.identity);
        let mut fingerprint = self.key.fingerprint(&input);
        fingerprint.truncate(16);
        fingerprint
    }

    /// `JWT 1a2b3c4d5e6f7081`.
    fn name(&self, credential: &Credential) -> String {
        format!(
            "{} {}",
            credential.kind.as_str(),
            self.credential_fingerprint(credential)
        )
    }

    /// Whether a condition opens an episode (and so is reported).
    fn admit(&mut self, rule: &RuleInfo, subject: u64, client: u64, now: i128) -> bool {
        let key = self.keys.hash(&(rule.id, subject, client));
        self.episodes.admit(key, 1, now) == Admit::Start
    }

    fn finding(
        &self,
        rule: &RuleInfo,
        credential: &Credential,
        seen: &Seen<'_>,
        summary: String,
        evidence: String,
    ) -> Finding {
        let identity = format!(
            "{}\0{}\0{}",
            rule.id,
            self.credential_fingerprint(credential),
            seen.client
        );
        Finding {
            rule: rule.id.to_owned(),
            category: rule.category,
            severity: rule.severity,
            location: Location {
                message: Message::Request,
                part: Part::Header,
                name: Some(credential.header.clone()).filter(|h| !h.is_empty()),
            },
            evidence,
            fingerprint: self.key.fingerprint(identity.as_bytes()),
            count: 1,
            folded: false,
            summary,
        }
    }
}

/// `45 s`, `12 min`, `3 h`, `2 d`: coarse, for sentences.
fn duration(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests;
