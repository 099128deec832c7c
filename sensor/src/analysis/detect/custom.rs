//! Compiling `[detect]` into the rule list: custom rules, disabled rules,
//! severity overrides, allowlists. Every mistake names its rule.

use super::config::{Applies, CustomRuleConfig, DetectConfig};
use super::glob;
use super::redact::Mask;
use super::rules::{compile, normalise_field, Check, FieldPattern, Rule, Scope};

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rule `{id}`: {message}")]
    Invalid { id: String, message: String },
    #[error("detect.disabled_rules: `{0}` matches no rule")]
    UnknownDisabled(String),
    #[error("detect.severity: no rule `{0}`")]
    UnknownSeverity(String),
    #[error("detect.allow[{index}]: {message}")]
    Allow { index: usize, message: String },
    #[error(transparent)]
    Key(#[from] super::fingerprint::KeyError),
}

fn invalid(id: &str, message: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        id: id.to_owned(),
        message: message.into(),
    }
}

/// Appends the custom rules and applies disables and severities.
pub fn apply(config: &DetectConfig, rules: &mut Vec<Rule>) -> Result<(), RuleError> {
    for custom in &config.rules {
        if rules.iter().any(|r| r.id == custom.id) {
            return Err(invalid(&custom.id, "id already used by another rule"));
        }
        rules.push(compile_custom(custom)?);
    }
    for pattern in &config.disabled_rules {
        let mut matched = false;
        for rule in rules.iter_mut() {
            if glob::matches(pattern.as_bytes(), rule.id.as_bytes())
                || is_jwt_carrier(pattern, rule)
            {
                rule.enabled = false;
                matched = true;
            }
        }
        // Behavioural and inventory rules are disabled where their
        // findings meet (`analysis::rules`); only a pattern that names no
        // rule at all is a mistake.
        let elsewhere = crate::analysis::rules::outside_content()
            .any(|rule| glob::matches(pattern.as_bytes(), rule.id.as_bytes()));
        if !matched && !elsewhere {
            return Err(RuleError::UnknownDisabled(pattern.clone()));
        }
    }
    for (id, severity) in &config.severity {
        let rule = rules
            .iter_mut()
            .find(|r| r.id == *id)
            .ok_or_else(|| RuleError::UnknownSeverity(id.clone()))?;
        rule.severity = *severity;
    }
    for (index, allow) in config.allow.iter().enumerate() {
        let fail = |message: &str| RuleError::Allow {
            index,
            message: message.to_owned(),
        };
        if allow.rules.is_empty() && allow.endpoints.is_empty() && allow.fingerprints.is_empty() {
            return Err(fail("set at least one of rules, endpoints, fingerprints"));
        }
        for endpoint in &allow.endpoints {
            if !endpoint
                .split_whitespace()
                .last()
                .is_some_and(|p| p.starts_with('/') || p == "*")
            {
                return Err(fail(&format!(
                    "endpoint `{endpoint}` must be `METHOD /path` or `/path`"
                )));
            }
        }
        for fp in &allow.fingerprints {
            if fp.len() != 32 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(fail(&format!("fingerprint `{fp}` is not 32 hex digits")));
            }
        }
    }
    Ok(())
}

/// Disabling every jwt rule also stops decoding tokens.
fn is_jwt_carrier(pattern: &str, rule: &Rule) -> bool {
    rule.id == "secret.jwt" && glob::matches(pattern.as_bytes(), b"secret.jwt_")
}

fn compile_custom(c: &CustomRuleConfig) -> Result<Rule, RuleError> {
    let id = c.id.as_str();
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(invalid(id, "id must be letters, digits, `.`, `_` or `-`"));
    }
    if c.regex.is_none() && c.field_names.is_empty() && c.keywords.is_empty() {
        return Err(invalid(id, "needs regex, field_names or keywords"));
    }
    if c.keywords.iter().any(|k| k.is_empty()) {
        return Err(invalid(id, "keywords must not be empty strings"));
    }
    let check = match c.validator.as_deref() {
        None | Some("none") => Check::None,
        Some("luhn") => Check::Luhn,
        Some("card") => Check::Card,
        Some("iban") => Check::Iban,
        Some("ssn") => Check::Ssn,
        Some("email") => Check::Email,
        Some("phone") => Check::Phone,
        Some("crc_token") => Check::CrcToken,
        Some("private_ip") => Check::PrivateIp,
        Some("entropy") => Check::Secret,
        Some(other) => {
            return Err(invalid(
                id,
                format!("unknown validator `{other}` (luhn, card, iban, ssn, email, phone, crc_token, private_ip, entropy)"),
            ))
        }
    };
    let regex = match &c.regex {
        Some(pattern) => {
            Some(compile(pattern).map_err(|e| invalid(id, format!("bad regex: {e}")))?)
        }
        None if c.field_names.is_empty() => {
            let alternation: Vec<String> = c.keywords.iter().map(|k| regex::escape(k)).collect();
            Some(
                compile(&format!("(?i){}", alternation.join("|")))
                    .map_err(|e| invalid(id, e.to_string()))?,
            )
        }
        None => None,
    };
    let fields: Vec<FieldPattern> = c
        .field_names
        .iter()
        .map(|f| {
            let glob: String = f
                .chars()
                .filter(|ch| *ch == '*' || ch.is_ascii_alphanumeric())
                .map(|ch| ch.to_ascii_lowercase())
                .collect();
            if glob.is_empty() || glob.chars().all(|ch| ch == '*') {
                return Err(invalid(id, format!("field name `{f}` matches every field")));
            }
            Ok(if glob.contains('*') {
                FieldPattern::Glob(glob)
            } else {
                FieldPattern::Exact(normalise_field(f.as_bytes()))
            })
        })
        .collect::<Result<_, _>>()?;
    let (regex, field_regex) = if fields.is_empty() {
        (regex, None)
    } else {
        (None, regex)
    };
    let scope = match c.applies_to {
        Applies::Both => Scope::Anywhere,
        Applies::Request => Scope::Request,
        Applies::Response => Scope::Response,
    };
    Ok(Rule {
        id: c.id.clone(),
        category: c.category,
        severity: c.severity,
        description: if c.description.is_empty() {
            format!("Custom rule {}", c.id)
        } else {
            c.description.clone()
        },
        keywords: c.keywords.clone(),
        keywords_start_numbers: false,
        digits: false,
        // Field names are compared normalised, so their raw spelling is no
        // literal to look for; such rules run on every part.
        always: c.keywords.is_empty(),
        regex,
        fields,
        field_regex,
        check,
        mask: Mask::Prefix(4),
        scope,
        fallback: false,
        enabled: true,
    })
}
