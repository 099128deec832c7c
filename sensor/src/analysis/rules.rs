//! Every rule the sensor can raise, as `sensor rules` lists them, and
//! `detect.disabled_rules` applied to the rules outside the content
//! detectors (behavioural and inventory rules), whose findings are dropped
//! where they meet the content findings.

use serde::Serialize;

use crate::config::Config;
use crate::finding::{Category, RuleInfo, Severity};

use super::detect::{ContentDetector, RuleError};
use super::{behaviour, detect, inventory};

/// A rule as listed: built-in or custom, severity as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedRule {
    pub id: String,
    pub category: Category,
    pub severity: Severity,
    pub description: String,
}

impl From<&RuleInfo> for ListedRule {
    fn from(rule: &RuleInfo) -> Self {
        Self {
            id: rule.id.to_owned(),
            category: rule.category,
            severity: rule.severity,
            description: rule.description.to_owned(),
        }
    }
}

/// The behavioural and inventory rules: those the content detectors do
/// not compile.
pub fn outside_content() -> impl Iterator<Item = &'static RuleInfo> {
    behaviour::RULES
        .iter()
        .chain(inventory::RULES)
        .chain(super::credentials::RULES)
        .chain(super::transport::RULES)
}

/// Every built-in rule, content rules first.
pub fn builtin() -> Vec<ListedRule> {
    detect::builtin_rules()
        .iter()
        .map(ListedRule::from)
        .chain(outside_content().map(ListedRule::from))
        .collect()
}

/// The rules `config` runs: custom rules added, disabled rules left out,
/// severities overridden, behaviour and inventory rules only when their
/// section is enabled.
pub fn effective(config: &Config) -> Result<Vec<ListedRule>, RuleError> {
    let disabled = &config.detect.disabled_rules;
    let mut rules: Vec<ListedRule> = ContentDetector::effective_rules(&config.detect)?
        .into_iter()
        .map(|(id, category, severity, description)| ListedRule {
            id,
            category,
            severity,
            description,
        })
        .collect();
    let sections = [
        (config.behaviour.enabled, behaviour::RULES),
        (config.inventory.enabled, inventory::RULES),
        (config.credentials.enabled, super::credentials::RULES),
        (config.transport.enabled, super::transport::RULES),
    ];
    for (enabled, list) in sections {
        let kept = list.iter().filter(|r| !is_disabled(disabled, r.id));
        rules.extend(kept.filter(|_| enabled).map(ListedRule::from));
    }
    Ok(rules)
}

/// Whether a `detect.disabled_rules` pattern covers `rule`.
pub fn is_disabled(patterns: &[String], rule: &str) -> bool {
    patterns
        .iter()
        .any(|p| crate::glob::matches(p.as_bytes(), rule.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_listed_once() {
        let ids: Vec<String> = builtin().into_iter().map(|r| r.id).collect();
        for id in [
            "inventory.shadow_api",
            "inventory.zombie_api",
            "volume.rate_spike",
            "secret.aws_access_key_id",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn every_listed_rule_can_be_disabled() {
        for rule in builtin() {
            let mut config = Config::default();
            config.detect.disabled_rules = vec![rule.id.clone()];
            let left = effective(&config).unwrap_or_else(|err| panic!("{}: {err}", rule.id));
            assert!(
                !left.iter().any(|r| r.id == rule.id),
                "{} still listed",
                rule.id
            );
        }
        let mut config = Config::default();
        config.detect.disabled_rules = vec!["volume.nope".into()];
        assert!(effective(&config)
            .unwrap_err()
            .to_string()
            .contains("volume.nope"));
    }
}
