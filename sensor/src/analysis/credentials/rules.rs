//! The credential rules, as `sensor rules` lists them.

use crate::finding::{Category, RuleInfo, Severity};

pub const NEW_CLIENT: RuleInfo = RuleInfo {
    id: "auth.credential_new_client",
    category: Category::Auth,
    severity: Severity::Medium,
    description: "A credential (JWT, API key, Basic user, session cookie) used from a client it was never used from during its warm-up (a stolen or replayed credential).",
};

pub const SHARED: RuleInfo = RuleInfo {
    id: "auth.credential_shared",
    category: Category::Auth,
    severity: Severity::High,
    description: "One credential used by many distinct clients within a window (a leaked or shared token), unless listed in [credentials] shared.",
};

pub const EXPIRED_ACCEPTED: RuleInfo = RuleInfo {
    id: "auth.token_expired_accepted",
    category: Category::Auth,
    severity: Severity::High,
    description: "A JWT presented after its exp, or before its nbf, and answered 2xx: the server does not check the token's validity window.",
};

pub const REVOKED_ACCEPTED: RuleInfo = RuleInfo {
    id: "auth.token_revoked_accepted",
    category: Category::Auth,
    severity: Severity::High,
    description: "A token or session revoked by a logout call, then accepted (2xx) again: logout does not invalidate it on the server.",
};

pub const HANDED_TO_OTHER: RuleInfo = RuleInfo {
    id: "auth.credential_other_client",
    category: Category::Auth,
    severity: Severity::High,
    description:
        "A credential handed out in a response to one client, then presented by a different client.",
};

/// Every credential rule.
pub const RULES: &[RuleInfo] = &[
    NEW_CLIENT,
    SHARED,
    EXPIRED_ACCEPTED,
    REVOKED_ACCEPTED,
    HANDED_TO_OTHER,
];
