//! Content detectors: sensitive data, secrets and verbose errors in one
//! `HttpExchange`.
//!
//! Guarantees:
//! - Pure: an exchange in, findings out; no I/O after construction.
//! - No raw value leaves: a `Finding` holds masked evidence and a keyed
//!   fingerprint only, and nothing here logs.
//! - Cheap on clean traffic: one prefilter pass (Aho-Corasick over every
//!   rule's keywords, plus a digit-run scan) per part; rules only run on
//!   parts that triggered them, validators only on pattern matches.
//! - Linear: every pattern is a `regex` (finite automata, no
//!   backtracking), the JSON walker is one pass with bounded depth.
//!
//! Layout: `pii`, `secrets`, `jwt`, `errors` and `headers` hold the rule
//! tables; `rules` and `custom` compile them; `prefilter`, `body`,
//! `keyword_dfa`, `json_walk`, `scan`, `place`, `merge_index`, `group_span`,
//! `match_set` and `memo` (header findings by value) are the engine;
//! `validators`, `checks`, `provider_formats`, `redact` and `fingerprint`
//! the per-value work.

mod body;
pub(crate) mod checks;
pub mod config;
mod custom;
mod errors;
mod fingerprint;
mod group_span;
mod match_set;
use crate::glob;
pub mod grpc;
pub mod grpc_schema;
mod headers;
mod json_walk;
pub mod jwt;
mod keyword_dfa;
mod memo;
mod merge_index;
mod pii;
mod place;
mod prefilter;
pub mod protobuf;
mod protocol;
mod provider_formats;
pub mod redact;
mod rule_set;
mod rules;
mod scan;
mod scratch;

pub use scratch::Scratch;

/// Asked with a new finding's rule id and fingerprint: true when it
/// folded into an open deduplication window (and was counted there).
pub type Fold<'a> = dyn FnMut(&str, &str) -> bool + 'a;
mod secrets;
pub mod validators;

use std::collections::HashMap;

use crate::exchange::HttpExchange;

pub use crate::finding::{Category, Finding, Location, Message, Part, RuleInfo, Severity};
pub use config::DetectConfig;
pub use custom::RuleError;
pub use fingerprint::{FingerprintKey, KeyError};
pub use rules::{builtin_rules, gitleaks_ids};

/// The vocabulary moved to `crate::finding`; the rule tables still name it here.
mod types {
    pub use crate::finding::*;
}

use prefilter::Prefilter;
use rules::{builtin_specs, Rule};

/// State directory whose `fingerprint.key` `ContentDetector::new` uses
/// when no `fingerprint_key_file` is configured.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/sensor";

/// Runs every enabled rule on exchanges. Build once, share by reference:
/// `inspect` takes `&self`; the only state kept between calls is the
/// bounded memo of header findings, which changes no result.
pub struct ContentDetector {
    rules: Vec<Rule>,
    /// Per rule, how its value (group 1) is cut from a match.
    group_span: Vec<group_span::GroupSpan>,
    /// Per rule, whether its pattern has a group 1.
    grouped: Vec<bool>,
    /// Per rule, its description up to the details, as summaries say it.
    short_descriptions: Vec<String>,
    /// The digit rules' patterns as one set, for long texts.
    digit_set: Option<match_set::MatchSet>,
    by_id: HashMap<String, usize>,
    prefilter: Prefilter,
    key: FingerprintKey,
    allow: Vec<Allow>,
    basic_rule: Option<usize>,
    banner_rule: Option<usize>,
    framing_rule: Option<usize>,
    /// Per rule, the enabled rule its published example values are
    /// reported under (`Spec::example`).
    example_rule: Vec<Option<usize>>,
    pii_in_requests: bool,
    report_examples: bool,
    jwt_max_lifetime_secs: u64,
    jwt_allowed_algs: Vec<String>,
    max_inspect_bytes: usize,
    /// gRPC methods' message types (`[grpc] descriptor_sets`): named
    /// field paths.
    grpc_schema: grpc_schema::GrpcSchema,
    /// What header values yielded before (a Server banner), shared by
    /// every exchange.
    header_memo: memo::HeaderMemo,
}

impl std::fmt::Debug for ContentDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentDetector")
            .field("rules", &self.rules.len())
            .field("enabled", &self.rules.iter().filter(|r| r.enabled).count())
            .finish_non_exhaustive()
    }
}

impl ContentDetector {
    /// Compiles the rules and loads (or creates) the fingerprint key from
    /// `fingerprint_key_file`, else `/var/lib/sensor/fingerprint.key`.
    /// Callers with a state directory should use
    /// `with_key(config, FingerprintKey::load_or_create(&config.key_path(state_dir))?)`.
    pub fn new(config: &DetectConfig) -> Result<ContentDetector, RuleError> {
        let path = config.key_path(std::path::Path::new(DEFAULT_STATE_DIR));
        let key = FingerprintKey::load_or_create(&path)?;
        Self::with_key(config, key)
    }

    /// Compiles the rules with an explicit fingerprint key (tests, or a key
    /// loaded by the caller).
    pub fn with_key(
        config: &DetectConfig,
        key: FingerprintKey,
    ) -> Result<ContentDetector, RuleError> {
        let mut rules: Vec<Rule> = builtin_specs().iter().map(Rule::from_spec).collect();
        custom::apply(config, &mut rules)?;
        let by_id: HashMap<String, usize> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let enabled = |id: &str| by_id.get(id).copied().filter(|&i| rules[i].enabled);
        let basic_rule = enabled(headers::BASIC_AUTH);
        let banner_rule = enabled(headers::VERSION_BANNER);
        let framing_rule = enabled(protocol::AMBIGUOUS_FRAMING);
        let specs = builtin_specs();
        let example_rule = rules
            .iter()
            .map(|r| {
                let spec = specs.iter().find(|s| s.id == r.id)?;
                enabled(spec.example?)
            })
            .collect();
        let prefilter = Prefilter::new(&rules);
        let group_span = rules
            .iter()
            .map(|r| match &r.regex {
                Some(re) => group_span::GroupSpan::of(re.as_str()),
                None => group_span::GroupSpan::Captures,
            })
            .collect();
        let grouped = rules
            .iter()
            .map(|r| r.regex.as_ref().is_some_and(|re| re.captures_len() > 1))
            .collect();
        let short_descriptions = rules
            .iter()
            .map(|r| scan::short(&r.description).to_owned())
            .collect();
        let digit_rules: Vec<usize> = (0..rules.len())
            .filter(|&i| rules[i].enabled && rules[i].digits)
            .collect();
        let digit_set = match_set::MatchSet::new(&rules, &digit_rules);
        let allow = config.allow.iter().map(Allow::new).collect();
        Ok(ContentDetector {
            group_span,
            grouped,
            short_descriptions,
            digit_set,
            example_rule,
            by_id,
            prefilter,
            key,
            allow,
            basic_rule,
            banner_rule,
            framing_rule,
            pii_in_requests: config.pii_in_requests,
            report_examples: config.report_example_values,
            jwt_max_lifetime_secs: config.jwt_max_lifetime_secs,
            jwt_allowed_algs: config.jwt_allowed_algs.clone(),
            max_inspect_bytes: config.max_inspect_bytes,
            header_memo: memo::HeaderMemo::default(),
            grpc_schema: grpc_schema::GrpcSchema::default(),
            rules,
        })
    }

    /// gRPC field paths named from `schema` (loaded from `[grpc]`).
    pub fn with_grpc_schema(mut self, schema: grpc_schema::GrpcSchema) -> Self {
        self.grpc_schema = schema;
        self
    }

    /// Checks the rules of `config` (custom rules, disables, severities,
    /// allowlists) without a key: what `check-config` and start-up run.
    pub fn validate(config: &DetectConfig) -> Result<(), RuleError> {
        let mut rules: Vec<Rule> = builtin_specs().iter().map(Rule::from_spec).collect();
        custom::apply(config, &mut rules)
    }

    /// The rules `config` leaves enabled, as `sensor rules --config`
    /// lists them: listed built-ins and custom rules, each with its
    /// configured severity, as (id, category, severity, description).
    pub fn effective_rules(
        config: &DetectConfig,
    ) -> Result<Vec<(String, Category, Severity, String)>, RuleError> {
        let listed: Vec<&str> = builtin_rules().iter().map(|r| r.id).collect();
        let builtin: Vec<&str> = builtin_specs().iter().map(|s| s.id).collect();
        let mut rules: Vec<Rule> = builtin_specs().iter().map(Rule::from_spec).collect();
        custom::apply(config, &mut rules)?;
        Ok(rules
            .into_iter()
            .filter(|r| r.enabled)
            .filter(|r| listed.contains(&r.id.as_str()) || !builtin.contains(&r.id.as_str()))
            .map(|r| (r.id, r.category, r.severity, r.description))
            .collect())
    }

    /// The category and severity of rule `id` as configured, or None when
    /// it is disabled or unknown (for findings made outside the engine,
    /// such as `secret.jwt_weak_secret`).
    pub fn rule_info(&self, id: &str) -> Option<(Category, Severity)> {
        let rule = &self.rules[*self.by_id.get(id)?];
        rule.enabled.then_some((rule.category, rule.severity))
    }

    /// The rule a match of rule `rule` is a finding of, if any: the rule
    /// itself, or for a published example value its example rule (low
    /// severity) unless `report_example_values` is on.
    fn judge(&self, rule: usize, value: &[u8], segment: &[u8]) -> Option<usize> {
        let check = self.rules[rule].check;
        match checks::verdict(check, value, segment, self.report_examples) {
            checks::Verdict::Finding => Some(rule),
            checks::Verdict::Example => self.example_rule[rule],
            checks::Verdict::No => None,
        }
    }

    /// Every finding in one exchange, merged by rule and location.
    pub fn inspect(&self, exchange: &HttpExchange) -> Vec<Finding> {
        let mut scratch = Scratch::default();
        scan::Scan::new(self, exchange, &mut scratch).run(exchange)
    }

    /// `inspect` as the analysis runs it: with `scratch`, the buffers it
    /// keeps between exchanges, and where `reported` tells a version
    /// banner (by fingerprint) already reported for the exchange's host:
    /// it is dropped before its finding is built, so a repeated banner
    /// costs no allocation. `fold`, when given, is asked with each new
    /// finding's rule id and fingerprint whether it folds into an open
    /// deduplication window (and counts it there): such a finding comes
    /// back `folded`, its words not built.
    pub fn inspect_quieting(
        &self,
        exchange: &HttpExchange,
        scratch: &mut Scratch,
        reported: &mut dyn FnMut(&str) -> bool,
        fold: Option<&mut Fold<'_>>,
    ) -> Vec<Finding> {
        let scan = scan::Scan::new(self, exchange, scratch).with_reported_banners(reported);
        match fold {
            Some(fold) => scan.with_folding(fold).run(exchange),
            None => scan.run(exchange),
        }
    }
}

/// A compiled allowlist entry.
struct Allow {
    rules: Vec<String>,
    /// (method, path glob); no method: any.
    endpoints: Vec<(Option<String>, String)>,
    fingerprints: Vec<String>,
}

impl Allow {
    fn new(c: &config::AllowConfig) -> Allow {
        Allow {
            rules: c.rules.clone(),
            endpoints: c
                .endpoints
                .iter()
                .map(|e| match e.split_once(char::is_whitespace) {
                    Some((m, p)) => (Some(m.to_ascii_uppercase()), p.trim().to_owned()),
                    None => (None, e.trim().to_owned()),
                })
                .collect(),
            fingerprints: c
                .fingerprints
                .iter()
                .map(|f| f.to_ascii_lowercase())
                .collect(),
        }
    }

    fn endpoint_matches(&self, method: &str, path: &str) -> bool {
        self.endpoints.is_empty()
            || self.endpoints.iter().any(|(m, p)| {
                m.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                    && glob::matches(p.as_bytes(), path.as_bytes())
            })
    }

    /// Whether the entry is about `rule` (it names no rule, or a glob
    /// matching it).
    fn covers(&self, rule: &str) -> bool {
        self.rules.is_empty()
            || self
                .rules
                .iter()
                .any(|r| glob::matches(r.as_bytes(), rule.as_bytes()))
    }

    fn drops(&self, rule: &str, fingerprint: &str) -> bool {
        self.covers(rule)
            && (self.fingerprints.is_empty() || self.fingerprints.iter().any(|f| f == fingerprint))
    }
}

#[cfg(test)]
pub(crate) mod tests;
