//! `auth.credentials_in_query`: a token, key, password or signature in
//! the query string, where access logs, proxies, browser history and
//! Referer headers keep it. The evidence names the parameter and the
//! value's length, never the value.

use crate::analysis::detect::{Location, Message, Part, RuleInfo, Severity};

use super::observation::Observation;
use super::query::{credential_param, is_credential_value, pairs, query_of, Strength};
use super::rules;
use super::signal::{Condition, Report, Scope};

/// The first credential-carrying parameter of the request's query.
pub(crate) fn check(obs: &Observation<'_>) -> Option<InQuery> {
    let query = query_of(&obs.exchange.request.target);
    if query.is_empty() {
        return None;
    }
    pairs(query.as_bytes()).find_map(|(name, value)| {
        let strength = credential_param(&name)?;
        is_credential_value(&value, strength).then(|| InQuery {
            name: String::from_utf8_lossy(&name).to_ascii_lowercase(),
            value_len: value.len(),
            password: strength == Strength::Strong
                && matches!(
                    name.to_ascii_lowercase().as_slice(),
                    b"password" | b"passwd" | b"pwd" | b"pass" | b"passphrase"
                ),
        })
    })
}

#[derive(Debug, Clone)]
pub(crate) struct InQuery {
    /// The parameter's name (lowercase); names are not secret.
    name: String,
    value_len: usize,
    /// A password rather than a token: worse, as it outlives any session.
    password: bool,
}

impl Condition for InQuery {
    fn rule(&self) -> &'static RuleInfo {
        &rules::CREDENTIALS_IN_QUERY
    }

    fn severity(&self) -> Severity {
        if self.password {
            Severity::High
        } else {
            self.rule().severity
        }
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            endpoint: true,
            client: false,
            name: Some(&self.name),
        }
    }

    fn observed(&self) -> u64 {
        1
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let kind = if self.password {
            "password"
        } else {
            "credential"
        };
        Report {
            location: Location {
                message: Message::Request,
                part: Part::Query,
                name: Some(self.name.clone()),
            },
            summary: format!(
                "A {kind} in the query string of {}: parameter {} ({} characters) from {}; expected in a header or body, never in the URL.",
                obs.endpoint, self.name, self.value_len, obs.client
            ),
            evidence: format!("{}=[{} characters]", self.name, self.value_len),
        }
    }
}
