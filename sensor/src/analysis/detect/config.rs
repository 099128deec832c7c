//! `[detect]`: which rules run, how severe they are, what is allowed, and
//! the user's own rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::types::{Category, Severity};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Built-in or custom rule ids (or `*` globs such as `error.sql.*`)
    /// that never run.
    pub disabled_rules: Vec<String>,
    /// Severity per rule id, replacing the built-in one.
    pub severity: BTreeMap<String, Severity>,
    /// Also report PII in request bodies and query strings (by default
    /// only responses, where leakage shows; requests carry users' own
    /// data by design).
    pub pii_in_requests: bool,
    /// Report documented example and test values as ordinary findings of
    /// their rule, at its severity (AWS `...EXAMPLE` keys and other
    /// placeholder-shaped secrets, test card numbers such as 4111 1111
    /// 1111 1111, documentation IBANs, 555-01xx phone numbers, example
    /// SSNs, the jwt.io token, addresses at reserved example domains).
    /// Off, the published PII examples (cards, IBANs, phones, SSNs) are
    /// still reported, as `pii.example.*` at low severity, and the others
    /// not at all.
    pub report_example_values: bool,
    /// A JWT whose `exp - iat` exceeds this is reported.
    pub jwt_max_lifetime_secs: u64,
    /// JWT `alg` values accepted; any other is `secret.jwt_alg_not_allowed`
    /// (`none` is always `secret.jwt_alg_none`).
    pub jwt_allowed_algs: Vec<String>,
    /// Try HS256/384/512 tokens (from `Authorization` headers and
    /// responses) against the bundled list of well-known weak secrets,
    /// once per issuer and key id, off the hot path.
    pub jwt_weak_secrets: bool,
    /// Body bytes inspected per message (after decoding).
    pub max_inspect_bytes: usize,
    /// Key for fingerprints (at least 32 bytes; the first 32 are used).
    /// Unset: `<output.state_dir>/fingerprint.key`, created on first use.
    pub fingerprint_key_file: Option<PathBuf>,
    /// Findings to drop.
    pub allow: Vec<AllowConfig>,
    /// User-defined rules.
    pub rules: Vec<CustomRuleConfig>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            disabled_rules: Vec::new(),
            severity: BTreeMap::new(),
            pii_in_requests: false,
            report_example_values: false,
            jwt_max_lifetime_secs: 86_400,
            jwt_allowed_algs: super::jwt::default_allowed_algs(),
            jwt_weak_secrets: true,
            max_inspect_bytes: 1024 * 1024,
            fingerprint_key_file: None,
            allow: Vec::new(),
            rules: Vec::new(),
        }
    }
}

impl DetectConfig {
    /// Where the fingerprint key lives: the configured file, else
    /// `fingerprint.key` in the state directory.
    pub fn key_path(&self, state_dir: &Path) -> PathBuf {
        self.fingerprint_key_file
            .clone()
            .unwrap_or_else(|| state_dir.join("fingerprint.key"))
    }
}

/// One allowlist entry: a finding is dropped when it matches every
/// condition the entry sets (at least one must be set).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AllowConfig {
    /// Rule ids or globs (`pii.*`); empty: any rule.
    pub rules: Vec<String>,
    /// Endpoints as `METHOD /path/glob` or `/path/glob` (any method);
    /// empty: any endpoint.
    pub endpoints: Vec<String>,
    /// Finding fingerprints (as alerts show them); empty: any value.
    pub fingerprints: Vec<String>,
}

/// Which messages a custom rule reads.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Applies {
    #[default]
    Both,
    Request,
    Response,
}

/// A user-defined rule. It needs `regex`, `field_names` or `keywords`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomRuleConfig {
    /// Unique id, shown in alerts (e.g. `custom.internal_token`).
    pub id: String,
    pub category: Category,
    pub severity: Severity,
    #[serde(default)]
    pub description: String,
    /// Pattern (Rust regex syntax, linear time); capture group 1, when
    /// present, is the value. With `field_names`, values of those fields
    /// must match it.
    #[serde(default)]
    pub regex: Option<String>,
    /// Case-insensitive literals; the rule runs only on parts holding
    /// one. Without `regex` or `field_names`, a keyword is the match.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Field names (JSON keys, form and query parameters, header names),
    /// `*` globs allowed, compared in lowercase without `_`, `-` or `.`.
    #[serde(default)]
    pub field_names: Vec<String>,
    /// Extra check on each value: `luhn`, `card`, `iban`, `ssn`, `email`,
    /// `phone`, `crc_token`, `private_ip`, `entropy`.
    #[serde(default)]
    pub validator: Option<String>,
    #[serde(default)]
    pub applies_to: Applies,
}

/// The custom rules' errors, as `check-config` reports them.
pub use super::custom::RuleError;

impl DetectConfig {
    /// Compiles the custom rules against the built-in ones, so a bad rule
    /// is reported before start.
    pub fn validate(&self) -> Result<(), RuleError> {
        super::ContentDetector::validate(self)
    }
}
