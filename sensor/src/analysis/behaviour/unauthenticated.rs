//! `auth.unauthenticated_sensitive`: a response the content detectors
//! found sensitive data or secrets in, answered to a request that carried
//! no credentials at all: no Authorization header, no session-like
//! cookie, no API-key header, no credential query parameter.
//!
//! Not judged: login and token endpoints (their credentials are in the
//! body, and their answer is a token by design) and error answers (4xx,
//! 5xx). Credentials the sensor cannot see (mutual TLS, network
//! allowlists) make an endpoint look unauthenticated.

use crate::analysis::detect::checks::contains_ignore_case;
use crate::analysis::detect::{Category, Finding, Location, Message, Part, RuleInfo};
use crate::exchange::HttpRequest;

use super::login::is_login_template;
use super::numbers::thousands;
use super::observation::Observation;
use super::query::{credential_param, is_placeholder, pairs, query_of};
use super::rules;
use super::signal::{Condition, Report, Scope};

/// Content rules named in the report, at most.
const RULES_NAMED: usize = 3;

/// The exchange's sensitive response findings when its request carried no
/// credentials. Their rules are named only when the report is written
/// (most exposures repeat an episode already reported).
pub(crate) fn check<'f>(obs: &Observation<'_>, findings: &'f [Finding]) -> Option<Exposure<'f>> {
    let occurrences: u64 = sensitive(findings).map(|f| u64::from(f.count.max(1))).sum();
    // Cheapest first: most exchanges have no sensitive finding at all.
    if occurrences == 0
        || obs.status() >= 400
        || is_login_template(&obs.endpoint.template)
        || has_credentials(&obs.exchange.request)
    {
        return None;
    }
    Some(Exposure {
        findings,
        occurrences,
    })
}

/// The findings of sensitive data or secrets in the response.
fn sensitive(findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings.iter().filter(|f| {
        f.location.message == Message::Response
            && matches!(f.category, Category::SensitiveData | Category::Secret)
    })
}

/// The content rules of `findings` that found sensitive data in the
/// response, sorted, the first `RULES_NAMED` named.
fn rules_named(findings: &[Finding]) -> String {
    let mut rules: Vec<&str> = Vec::new();
    for finding in sensitive(findings) {
        if !rules.contains(&finding.rule.as_str()) {
            rules.push(&finding.rule);
        }
    }
    rules.sort_unstable();
    let more = rules.len().saturating_sub(RULES_NAMED);
    let mut named = rules[..rules.len().min(RULES_NAMED)].join(", ");
    if more > 0 {
        named.push_str(&format!(" and {more} more"));
    }
    named
}

/// Header names (lowercase) that carry credentials.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "apikey",
    "x-auth-token",
    "x-access-token",
    "x-amz-security-token",
    "x-goog-api-key",
    "x-session-token",
];

/// Pieces of header names that say credentials (`X-Acme-Api-Key`).
const CREDENTIAL_HEADER_PARTS: &[&str] =
    &["api-key", "apikey", "api_key", "auth-token", "access-token"];

/// Pieces of cookie names that say session (`PHPSESSID`, `connect.sid`,
/// `session`, `auth_token`, `__Host-id`).
const SESSION_COOKIE_PARTS: &[&str] = &[
    "sess",
    "sid",
    "token",
    "auth",
    "jwt",
    "login",
    "remember",
    "identity",
    "__host-",
    "__secure-",
];

/// Whether the request carries anything that looks like a credential.
pub(crate) fn has_credentials(request: &HttpRequest) -> bool {
    let header_says = request.headers.iter().any(|h| {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"cookie") {
            return has_session_cookie(&h.value);
        }
        !h.value.trim_ascii().is_empty()
            && (CREDENTIAL_HEADERS
                .iter()
                .any(|c| name.eq_ignore_ascii_case(c.as_bytes()))
                || CREDENTIAL_HEADER_PARTS
                    .iter()
                    .any(|p| contains_ignore_case(name, p.as_bytes())))
    });
    header_says
        || pairs(query_of(&request.target).as_bytes())
            .any(|(name, value)| credential_param(&name).is_some() && !is_placeholder(&value))
}

fn has_session_cookie(cookie: &[u8]) -> bool {
    cookie.split(|&b| b == b';').any(|pair| {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => return false,
        };
        let name = String::from_utf8_lossy(name.trim_ascii()).to_ascii_lowercase();
        !value.trim_ascii().is_empty() && SESSION_COOKIE_PARTS.iter().any(|p| name.contains(p))
    })
}

#[derive(Debug, Clone)]
pub(crate) struct Exposure<'f> {
    /// The exchange's content findings (their rule ids are named, not
    /// their values).
    findings: &'f [Finding],
    occurrences: u64,
}

impl Condition for Exposure<'_> {
    fn rule(&self) -> &'static RuleInfo {
        &rules::UNAUTHENTICATED_SENSITIVE
    }

    fn scope(&self) -> Scope<'_> {
        Scope::ENDPOINT
    }

    fn observed(&self) -> u64 {
        self.occurrences
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let rules = rules_named(self.findings);
        Report {
            location: Location {
                message: Message::Response,
                part: Part::Body,
                name: None,
            },
            summary: format!(
                "Sensitive data answered without credentials: {} returned {} finding(s) ({}) to {}, whose request carried no Authorization header, session cookie or API key; expected credentials on an endpoint returning such data.",
                obs.endpoint,
                thousands(self.occurrences),
                rules,
                obs.client
            ),
            evidence: format!("no credentials; response: {rules}"),
        }
    }
}
