//! Rules as data: a `Spec` describes a built-in rule; `Rule` is a built-in
//! or custom rule compiled for matching. Detectors (pii, secrets, errors)
//! only contribute specs; the engine in `scan.rs` runs them all alike.

use regex::bytes::{Regex, RegexBuilder};

use super::redact::Mask;
use super::types::{Category, RuleInfo, Severity};

/// What a match must pass before it is a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    Card,
    /// The digits pass the Luhn check (custom rules).
    Luhn,
    Ssn,
    Phone,
    /// A national phone number without country code (the rule's keywords
    /// are the phone context).
    NationalPhone,
    Iban,
    Email,
    /// GitHub/npm token CRC32; fine-grained GitHub tokens pass on format.
    CrcToken,
    PrivateIp,
    /// Not a placeholder, and enough distinct characters.
    Secret,
    /// Not a placeholder.
    NotPlaceholder,
    /// A value assigned to a credential-named variable: long enough,
    /// letters and digits, high entropy, not a placeholder.
    GenericSecret,
    /// The content of an XML credential element (`<secret>`, `<password>`
    /// ...): one of its words is a generated-looking value.
    XmlCredential,
    /// A Google API key, unless the text around it is a Firebase web
    /// config (`apiKey` next to `authDomain` and `projectId`), which every
    /// web app ships to browsers by design.
    GoogleApiKey,
    /// Slack: the token has Slack's structure, not a stand-in's.
    Slack,
    /// Stripe: mixed case (a lowercase-only key is Picatic's format).
    Stripe,
    /// The password in `scheme://user:password@host` is real.
    UriPassword,
    /// Base64 whose decoded start is a PEM private key header.
    Base64Pem,
    /// A password in a config file: not a variable (`%VAR%`, `$(VAR)`),
    /// not one character repeated, not a placeholder or documented sample.
    ConfigPassword,
    /// A password typed on a command line: long enough, not a shell or
    /// template variable, not a word (a digit, mixed case or a symbol),
    /// not a placeholder.
    CliPassword,
    /// A `data:` value of a Kubernetes Secret manifest (`kind: Secret` in
    /// the same text): base64 that decodes to at least 8 bytes.
    KubernetesSecretData,
    /// A non-empty value that is not a mask or placeholder.
    NonEmpty,
    /// A date-like value (at least four digits).
    Date,
    /// At least five letters or digits, one of them a digit.
    GovId,
    /// A JWT: decoded, and problems become findings of the `jwt` rules.
    Jwt,
    /// A server path at least three levels deep.
    FsPath,
    /// A Java trace accompanies the match in the same value.
    JavaTrace,
}

/// Which parts of an exchange a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Request line, query, headers and bodies of both messages.
    Anywhere,
    /// Response bodies; request bodies and queries too with
    /// `pii_in_requests`.
    Pii,
    /// Response bodies only.
    ResponseBody,
    /// Handled by dedicated code (headers), or recorded on behalf of
    /// another rule (its example values); never run by the engine.
    Special,
    /// Custom rules limited to one message: every part of it.
    Request,
    Response,
}

/// A built-in rule as written in the detector tables.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub id: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub description: &'static str,
    /// Case-insensitive literals, one of which must occur for the rule to
    /// run on a part (the prefilter).
    pub keywords: &'static [&'static str],
    /// The keywords start a number (`10.` of an address): an occurrence
    /// right after a digit or a '.' is the middle of another number (a
    /// price, a version) and triggers nothing.
    pub keywords_start_numbers: bool,
    /// Runs when the part holds a long run of digits.
    pub digits: bool,
    /// Pattern over text; capture group 1, when present, is the value.
    pub regex: Option<&'static str>,
    /// Normalised field names (lowercase, letters and digits only) whose
    /// values are checked whole.
    pub fields: &'static [&'static str],
    pub check: Check,
    pub mask: Mask,
    pub scope: Scope,
    /// Listed by `sensor rules` (false for internal carriers).
    pub listed: bool,
    /// The gitleaks default rule ids this rule covers (`sensor rules
    /// --json` shows them), for comparing coverage.
    pub gitleaks: &'static [&'static str],
    /// The rule that reports this rule's published example values (test
    /// cards, documentation IBANs...) when `report_example_values` is off.
    pub example: Option<&'static str>,
}

impl Spec {
    pub const BASE: Spec = Spec {
        id: "",
        category: Category::Secret,
        severity: Severity::High,
        description: "",
        keywords: &[],
        keywords_start_numbers: false,
        digits: false,
        regex: None,
        fields: &[],
        check: Check::None,
        mask: Mask::Prefix(4),
        scope: Scope::Anywhere,
        listed: true,
        gitleaks: &[],
        example: None,
    };
}

/// Matches a field name.
#[derive(Debug, Clone)]
pub enum FieldPattern {
    Exact(String),
    /// `*` matches any run of characters.
    Glob(String),
}

impl FieldPattern {
    pub fn matches(&self, normalised: &str) -> bool {
        match self {
            FieldPattern::Exact(name) => name == normalised,
            FieldPattern::Glob(glob) => {
                super::glob::matches(glob.as_bytes(), normalised.as_bytes())
            }
        }
    }
}

/// A rule ready to run.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub category: Category,
    pub severity: Severity,
    pub description: String,
    pub keywords: Vec<String>,
    /// `Spec::keywords_start_numbers`.
    pub keywords_start_numbers: bool,
    pub digits: bool,
    /// Runs on every part of its scope (no literal to prefilter on).
    pub always: bool,
    pub regex: Option<Regex>,
    pub fields: Vec<FieldPattern>,
    /// Custom rules: a field value must match this as well.
    pub field_regex: Option<Regex>,
    pub check: Check,
    pub mask: Mask,
    pub scope: Scope,
    /// Reported only when no other rule fired on the same value.
    pub fallback: bool,
    pub enabled: bool,
}

/// How every rule pattern is read: bytes, not text, and no Unicode
/// classes (`\d`, `\w` and `\b` are ASCII). The rules' regexes
/// (`compile`), the digit rules' set (`match_set`) and the reading of a
/// pattern's groups (`group_span`) all take it from here, so a pattern
/// means the same to each.
pub fn syntax() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false)
}

/// The compiled size of one pattern, and its lazy DFA's cache: bounded so
/// that no rule can exhaust memory.
pub const SIZE_LIMIT: usize = 4 << 20;
pub const DFA_SIZE_LIMIT: usize = 8 << 20;

/// A rule's regex, read as `syntax` says (`regex::bytes` reads patterns
/// as bytes, `utf8(false)`), within the size bounds.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(syntax().get_unicode())
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
}

impl Rule {
    pub fn from_spec(spec: &Spec) -> Rule {
        Rule {
            id: spec.id.to_owned(),
            category: spec.category,
            severity: spec.severity,
            description: spec.description.to_owned(),
            keywords: spec.keywords.iter().map(|k| (*k).to_owned()).collect(),
            keywords_start_numbers: spec.keywords_start_numbers,
            digits: spec.digits,
            always: false,
            regex: spec
                .regex
                .map(|p| compile(p).unwrap_or_else(|e| panic!("built-in rule {}: {e}", spec.id))),
            fields: spec
                .fields
                .iter()
                .map(|f| FieldPattern::Exact((*f).to_owned()))
                .collect(),
            field_regex: None,
            check: spec.check,
            mask: spec.mask,
            scope: spec.scope,
            fallback: matches!(
                spec.check,
                Check::NonEmpty | Check::GenericSecret | Check::XmlCredential
            ),
            enabled: true,
        }
    }
}

/// Every built-in rule, in the order detectors run.
pub fn builtin_specs() -> Vec<Spec> {
    let mut specs = Vec::new();
    specs.extend_from_slice(super::secrets::SPECS);
    specs.extend_from_slice(super::jwt::SPECS);
    specs.extend_from_slice(super::pii::SPECS);
    specs.extend_from_slice(super::errors::SPECS);
    specs.extend_from_slice(super::headers::SPECS);
    specs.extend_from_slice(super::protocol::SPECS);
    specs
}

/// The built-in rules as `sensor rules` lists them.
pub fn builtin_rules() -> Vec<RuleInfo> {
    builtin_specs()
        .iter()
        .filter(|s| s.listed)
        .map(|s| RuleInfo {
            id: s.id,
            category: s.category,
            severity: s.severity,
            description: s.description,
        })
        .collect()
}

/// The gitleaks rule ids a built-in rule covers (empty for none).
pub fn gitleaks_ids(id: &str) -> &'static [&'static str] {
    builtin_specs()
        .iter()
        .find(|s| s.id == id)
        .map_or(&[], |s| s.gitleaks)
}

/// Lowercase letters and digits only: `Password_Hash` and `passwordHash`
/// both become `passwordhash`.
pub fn normalise_field(name: &[u8]) -> String {
    name.iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .take(128)
        .map(|b| b.to_ascii_lowercase() as char)
        .collect()
}
