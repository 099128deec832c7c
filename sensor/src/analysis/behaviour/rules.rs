//! The behavioural rules, as `sensor rules` would list them.

use crate::analysis::detect::{Category, RuleInfo, Severity};

pub const RATE_SPIKE: RuleInfo = RuleInfo {
    id: "volume.rate_spike",
    category: Category::AbnormalVolume,
    severity: Severity::Medium,
    description: "Requests per minute to an endpoint, or from a client, far above its learned baseline and its usual peak at that hour.",
};

pub const BULK_RESPONSE: RuleInfo = RuleInfo {
    id: "volume.bulk_response",
    category: Category::AbnormalVolume,
    severity: Severity::High,
    description: "A response far larger (bytes, or records in a JSON array) than the endpoint's usual, or above the configured bound.",
};

pub const ENUMERATION: RuleInfo = RuleInfo {
    id: "volume.enumeration",
    category: Category::AbnormalVolume,
    severity: Severity::High,
    description: "One client requesting many distinct ids of one path template in a short window (object-level authorization probing, scraping).",
};

pub const ERROR_SURGE: RuleInfo = RuleInfo {
    id: "volume.error_surge",
    category: Category::AbnormalVolume,
    severity: Severity::Medium,
    description: "A burst of 5xx answers on an endpoint far above its learned baseline.",
};

pub const BRUTE_FORCE: RuleInfo = RuleInfo {
    id: "auth.brute_force",
    category: Category::Auth,
    severity: Severity::High,
    description: "Many failed logins for one account (from any addresses), failed logins from one client across accounts, or many 401/403 answers to one client, in a short window.",
};

pub const CREDENTIAL_STUFFING: RuleInfo = RuleInfo {
    id: "auth.credential_stuffing",
    category: Category::Auth,
    severity: Severity::High,
    description: "Failed logins from one client spread over many distinct usernames.",
};

pub const UNAUTHENTICATED_SENSITIVE: RuleInfo = RuleInfo {
    id: "auth.unauthenticated_sensitive",
    category: Category::Auth,
    severity: Severity::High,
    description: "Sensitive data or secrets answered to a request that carried no credentials (no Authorization, session cookie or API key).",
};

pub const CREDENTIALS_IN_QUERY: RuleInfo = RuleInfo {
    id: "auth.credentials_in_query",
    category: Category::Auth,
    severity: Severity::Medium,
    description: "A token, key, password or signature in a URL query string, where logs, proxies and browser history keep it.",
};

pub const ACCOUNT_ENUMERATION: RuleInfo = RuleInfo {
    id: "auth.account_enumeration",
    category: Category::Auth,
    severity: Severity::Medium,
    description: "A login or password-reset endpoint whose failure answers differ by username (unknown user against wrong password), telling anyone which accounts exist.",
};

pub const BOLA: RuleInfo = RuleInfo {
    id: "auth.bola",
    category: Category::Auth,
    severity: Severity::High,
    description: "A principal requesting ids of a path template that were returned to other principals and never to it, or many ids never returned to it (broken object-level authorization).",
};

/// Every behavioural rule.
pub const RULES: &[RuleInfo] = &[
    RATE_SPIKE,
    BULK_RESPONSE,
    ENUMERATION,
    ERROR_SURGE,
    BRUTE_FORCE,
    CREDENTIAL_STUFFING,
    UNAUTHENTICATED_SENSITIVE,
    CREDENTIALS_IN_QUERY,
    ACCOUNT_ENUMERATION,
    BOLA,
];
