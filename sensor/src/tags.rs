//! The `tags` of a rule: its OWASP API Security Top 10 (2023) risk and the
//! CWE of the weakness it reveals, as `API3:2023` and `CWE-359`, so a SIEM
//! can group the sensor's alerts with every other tool's. A rule not named
//! here (a custom rule, a rule added later) takes its category's tags.

use crate::finding::Category;

/// API1: broken object level authorisation.
const BOLA: &str = "API1:2023";
/// API2: broken authentication.
const AUTHENTICATION: &str = "API2:2023";
/// API3: broken object property level authorisation (excessive data
/// exposure).
const PROPERTY_EXPOSURE: &str = "API3:2023";
/// API4: unrestricted resource consumption.
const RESOURCES: &str = "API4:2023";
/// API8: security misconfiguration (verbose errors included).
const MISCONFIGURATION: &str = "API8:2023";
/// API9: improper inventory management.
const INVENTORY: &str = "API9:2023";

/// Rule id prefixes (a whole id, or an id and a `.`) and their tags, most
/// specific first.
const BY_RULE: &[(&str, [&str; 2])] = &[
    ("pii.private_ip", [MISCONFIGURATION, "CWE-200"]),
    ("pii", [PROPERTY_EXPOSURE, "CWE-359"]),
    ("secret.url_credentials", [AUTHENTICATION, "CWE-598"]),
    ("secret.jwt_weak_secret", [AUTHENTICATION, "CWE-521"]),
    ("secret.jwt_alg_not_allowed", [AUTHENTICATION, "CWE-327"]),
    ("secret.jwt_kid_injection", [AUTHENTICATION, "CWE-20"]),
    ("secret.jwt_foreign_key_url", [AUTHENTICATION, "CWE-345"]),
    ("secret", [PROPERTY_EXPOSURE, "CWE-522"]),
    ("error", [MISCONFIGURATION, "CWE-209"]),
    ("volume.enumeration", [BOLA, "CWE-639"]),
    ("volume.bulk_response", [PROPERTY_EXPOSURE, "CWE-213"]),
    ("volume.rate_spike", [RESOURCES, "CWE-770"]),
    ("volume.error_surge", [RESOURCES, "CWE-799"]),
    ("auth.brute_force", [AUTHENTICATION, "CWE-307"]),
    ("auth.credential_stuffing", [AUTHENTICATION, "CWE-307"]),
    (
        "auth.unauthenticated_sensitive",
        [AUTHENTICATION, "CWE-306"],
    ),
    ("auth.credentials_in_query", [AUTHENTICATION, "CWE-598"]),
    ("auth.bola", [BOLA, "CWE-639"]),
    ("auth.account_enumeration", [AUTHENTICATION, "CWE-204"]),
    ("auth.token_expired_accepted", [AUTHENTICATION, "CWE-613"]),
    ("auth.token_revoked_accepted", [AUTHENTICATION, "CWE-613"]),
    ("auth.credential_new_client", [AUTHENTICATION, "CWE-287"]),
    ("auth.credential_shared", [AUTHENTICATION, "CWE-287"]),
    ("auth.credential_other_client", [AUTHENTICATION, "CWE-287"]),
    (
        "transport.cleartext_sensitive",
        [MISCONFIGURATION, "CWE-319"],
    ),
    ("protocol.ambiguous_framing", [MISCONFIGURATION, "CWE-444"]),
    ("inventory.shadow_api", [INVENTORY, "CWE-1059"]),
    ("inventory.zombie_api", [INVENTORY, "CWE-477"]),
];

/// The OWASP API Top 10 risk and CWE of `rule`.
pub fn tags_of(rule: &str, category: Category) -> &'static [&'static str; 2] {
    BY_RULE
        .iter()
        .find(|(prefix, _)| {
            rule.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
        .map(|(_, tags)| tags)
        .unwrap_or_else(|| by_category(category))
}

fn by_category(category: Category) -> &'static [&'static str; 2] {
    match category {
        Category::SensitiveData => &[PROPERTY_EXPOSURE, "CWE-359"],
        Category::Secret => &[PROPERTY_EXPOSURE, "CWE-522"],
        Category::VerboseError => &[MISCONFIGURATION, "CWE-209"],
        Category::AbnormalVolume => &[RESOURCES, "CWE-770"],
        Category::Auth => &[AUTHENTICATION, "CWE-287"],
        Category::Inventory => &[INVENTORY, "CWE-1059"],
        // Cleartext transmission of sensitive information.
        Category::Transport => &[MISCONFIGURATION, "CWE-319"],
        // Request smuggling: inconsistent interpretation of HTTP requests.
        Category::Protocol => &[MISCONFIGURATION, "CWE-444"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_map_to_their_risk_and_weakness() {
        for (rule, category, tags) in [
            ("pii.ssn", Category::SensitiveData, ["API3:2023", "CWE-359"]),
            (
                "pii.private_ip",
                Category::SensitiveData,
                ["API8:2023", "CWE-200"],
            ),
            (
                "secret.aws_access_key_id",
                Category::Secret,
                ["API3:2023", "CWE-522"],
            ),
            (
                "secret.url_credentials",
                Category::Secret,
                ["API2:2023", "CWE-598"],
            ),
            (
                "error.sql.mysql",
                Category::VerboseError,
                ["API8:2023", "CWE-209"],
            ),
            (
                "volume.enumeration",
                Category::AbnormalVolume,
                ["API1:2023", "CWE-639"],
            ),
            (
                "volume.rate_spike",
                Category::AbnormalVolume,
                ["API4:2023", "CWE-770"],
            ),
            ("auth.brute_force", Category::Auth, ["API2:2023", "CWE-307"]),
            (
                "inventory.shadow_api",
                Category::Inventory,
                ["API9:2023", "CWE-1059"],
            ),
            (
                "inventory.zombie_api",
                Category::Inventory,
                ["API9:2023", "CWE-477"],
            ),
            // A custom rule takes its category's; a prefix is a whole word.
            (
                "acme.customer_number",
                Category::SensitiveData,
                ["API3:2023", "CWE-359"],
            ),
            ("piixel", Category::Auth, ["API2:2023", "CWE-287"]),
        ] {
            assert_eq!(tags_of(rule, category), &tags, "{rule}");
        }
    }

    #[test]
    fn every_builtin_rule_is_tagged_by_name() {
        let rules = crate::analysis::detect::builtin_rules();
        assert!(!rules.is_empty());
        for rule in rules {
            assert!(
                BY_RULE
                    .iter()
                    .any(|(prefix, _)| rule.id == *prefix
                        || rule.id.starts_with(&format!("{prefix}."))),
                "{} has no tags of its own",
                rule.id
            );
        }
    }
}
