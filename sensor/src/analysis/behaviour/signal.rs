//! What every behavioural detector reports, and how a report becomes a
//! `Finding`: rule, what was observed against what was expected, and a
//! fingerprint that is the same for every alert about one condition.

use crate::analysis::detect::{Finding, FingerprintKey, Location, RuleInfo, Severity};

use super::episode::Admit;
use super::observation::Observation;

/// A condition a detector found to hold on the current exchange.
/// Detectors return these cheaply; `report` (strings) only runs for the
/// ones that open or update an episode.
pub(crate) trait Condition {
    fn rule(&self) -> &'static RuleInfo;
    /// The rule's severity, unless this occurrence is worse.
    fn severity(&self) -> Severity {
        self.rule().severity
    }
    /// What the condition is about; the same scope is the same episode and
    /// the same fingerprint.
    fn scope(&self) -> Scope<'_>;
    /// The magnitude reported (requests, ids, failures, records...): the
    /// finding's `count`, and an update is only sent when it grows.
    fn observed(&self) -> u64;
    fn report(&self, obs: &Observation<'_>) -> Report;
}

/// Which parts of an exchange identify a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Scope<'a> {
    pub endpoint: bool,
    pub client: bool,
    /// One more name (a query parameter), when the rule needs it.
    pub name: Option<&'a str>,
}

impl Scope<'static> {
    pub(crate) const ENDPOINT: Scope<'static> = Scope {
        endpoint: true,
        client: false,
        name: None,
    };
    pub(crate) const CLIENT: Scope<'static> = Scope {
        endpoint: false,
        client: true,
        name: None,
    };
    pub(crate) const ENDPOINT_AND_CLIENT: Scope<'static> = Scope {
        endpoint: true,
        client: true,
        name: None,
    };
}

/// The words of a finding. Never a raw id, username or credential.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub location: Location,
    /// A sentence: what was observed, where, against what was expected.
    pub summary: String,
    /// The numbers alone, short.
    pub evidence: String,
}

/// The finding for a condition that opened (`Start`) or updated an episode.
pub(crate) fn finding<C: Condition>(
    condition: &C,
    obs: &Observation<'_>,
    key: &FingerprintKey,
    admit: Admit,
) -> Finding {
    let rule = condition.rule();
    let scope = condition.scope();
    let endpoint = if scope.endpoint {
        obs.endpoint.to_string()
    } else {
        "*".to_owned()
    };
    let client = if scope.client {
        obs.client.to_string()
    } else {
        "*".to_owned()
    };
    let identity = format!(
        "{}\u{0}{endpoint}\u{0}{client}\u{0}{}",
        rule.id,
        scope.name.unwrap_or("")
    );
    let report = condition.report(obs);
    let summary = match admit {
        Admit::Update => format!("Still going: {}", report.summary),
        Admit::Start | Admit::Suppress => report.summary,
    };
    Finding {
        rule: rule.id.to_owned(),
        category: rule.category,
        severity: condition.severity(),
        location: report.location,
        evidence: report.evidence,
        fingerprint: key.fingerprint(identity.as_bytes()),
        count: u32::try_from(condition.observed()).unwrap_or(u32::MAX),
        folded: false,
        summary,
    }
}
