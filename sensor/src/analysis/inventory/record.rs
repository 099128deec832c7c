//! What the inventory knows about one endpoint, and how one exchange adds
//! to it. Every set is capped (a client controls how many distinct content
//! types or status codes an endpoint shows); what a full set turns away is
//! counted in `dropped_values`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::credentials::{credentials_in, Credential};
use super::media_type::media_type;
use super::security_headers::{issues, HeaderIssue};
use super::spec::Lookup;
use crate::analysis::detect::{Category, Finding, Message};
use crate::exchange::{HttpExchange, Role};

/// Distinct status codes kept per endpoint.
pub const MAX_STATUSES: usize = 32;
/// Distinct content types kept per status code, and for requests.
pub const MAX_CONTENT_TYPES: usize = 8;
/// Distinct processes kept per endpoint and role.
pub const MAX_PROCESSES: usize = 8;
/// Distinct credentials (kind and name) kept per endpoint.
pub const MAX_CREDENTIALS: usize = 16;
/// Distinct detector rules kept per endpoint and message.
pub const MAX_RULES: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointRecord {
    /// Capture time (Unix nanoseconds) of the first and latest exchange.
    pub first_seen_unix_ns: i64,
    pub last_seen_unix_ns: i64,
    /// Exchanges seen. Traffic between two observed processes on one host
    /// is seen from both sides, so it counts twice.
    pub requests: u64,
    /// Seen over TLS (plaintext from a TLS library) at least once.
    pub tls: bool,
    /// Seen over HTTP/2 at least once.
    pub http2: bool,
    /// A gRPC method (`POST /pkg.Service/Method`) seen called as one.
    pub grpc: bool,
    /// Per response status code, sorted by code.
    pub statuses: Vec<StatusSeen>,
    /// Media types of request bodies.
    pub request_content_types: BTreeSet<String>,
    pub credentials: BTreeSet<Credential>,
    /// Detector rule id → category, for findings in requests and responses.
    pub request_data: BTreeMap<String, Category>,
    pub response_data: BTreeMap<String, Category>,
    /// Responses with each security header problem.
    pub header_issues: BTreeMap<HeaderIssue, u64>,
    /// Processes seen answering the endpoint, and seen calling it.
    pub served_by: BTreeSet<ProcessSeen>,
    pub called_by: BTreeSet<ProcessSeen>,
    /// Inventory rules already reported for the current stretch of traffic
    /// (cleared after `realert_after_secs` of quiet).
    pub reported: BTreeSet<String>,
    /// Values a full set turned away.
    pub dropped_values: u64,
    /// What the reference spec says about this endpoint; the spec does not
    /// change while the sensor runs, so it is asked once per endpoint.
    #[serde(skip)]
    pub spec_lookup: Option<Lookup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSeen {
    pub status: u16,
    pub count: u64,
    /// Media types of response bodies with this status.
    #[serde(default)]
    pub content_types: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProcessSeen {
    pub comm: String,
    /// Executable path, when /proc could tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
}

impl EndpointRecord {
    pub fn new(now_unix_ns: i64) -> EndpointRecord {
        EndpointRecord {
            first_seen_unix_ns: now_unix_ns,
            last_seen_unix_ns: now_unix_ns,
            ..EndpointRecord::default()
        }
    }

    /// Adds one exchange and the content detectors' findings for it.
    pub fn observe(&mut self, exchange: &HttpExchange, findings: &[Finding]) {
        self.requests += 1;
        self.tls |= exchange.connection.tls;
        self.http2 |= exchange.request.version == 2;
        self.grpc |= exchange.is_grpc();
        let mut dropped = 0;

        let response_type = media_type(&exchange.response.headers);
        dropped += self.count_status(exchange.response.status, response_type);
        if let Some(kind) = media_type(&exchange.request.headers) {
            dropped += insert_str_capped(&mut self.request_content_types, kind, MAX_CONTENT_TYPES);
        }
        for credential in credentials_in(&exchange.request) {
            dropped += insert_capped(&mut self.credentials, credential, MAX_CREDENTIALS);
        }

        let mut sensitive_response = false;
        for finding in findings.iter().filter(|f| is_content_finding(f)) {
            let data = match finding.location.message {
                Message::Request => &mut self.request_data,
                Message::Response => {
                    sensitive_response |= finding.category != Category::VerboseError;
                    &mut self.response_data
                }
            };
            if data.contains_key(&finding.rule) {
                continue;
            }
            if data.len() < MAX_RULES {
                data.insert(finding.rule.clone(), finding.category);
            } else {
                dropped += 1;
            }
        }
        for issue in issues(exchange, sensitive_response) {
            *self.header_issues.entry(issue).or_default() += 1;
        }

        self.dropped_values += dropped;
        self.seen_by(&exchange.connection);
    }

    /// Notes the process at one end (serving or calling the endpoint, by
    /// its role), without counting a request: the analysed view's end, and
    /// the other end's when both are captured on this host.
    pub fn seen_by(&mut self, conn: &crate::conntrack::ConnectionInfo) {
        let processes = match conn.role {
            Role::Server => &mut self.served_by,
            Role::Client => &mut self.called_by,
        };
        // Compared in place: almost always already there, so no clone.
        let known = processes
            .iter()
            .any(|p| p.comm == conn.comm && p.exe == conn.process.exe);
        if !known {
            let process = ProcessSeen {
                comm: conn.comm.clone(),
                exe: conn.process.exe.clone(),
            };
            self.dropped_values += insert_capped(processes, process, MAX_PROCESSES);
        }
    }

    /// Counts a status and its media type; returns values turned away.
    fn count_status(&mut self, status: u16, media_type: Option<Cow<'_, str>>) -> u64 {
        let at = match self.statuses.binary_search_by_key(&status, |s| s.status) {
            Ok(at) => at,
            Err(_) if self.statuses.len() >= MAX_STATUSES => return 1,
            Err(at) => {
                self.statuses.insert(
                    at,
                    StatusSeen {
                        status,
                        count: 0,
                        content_types: BTreeSet::new(),
                    },
                );
                at
            }
        };
        let seen = &mut self.statuses[at];
        seen.count += 1;
        match media_type {
            Some(kind) => insert_str_capped(&mut seen.content_types, kind, MAX_CONTENT_TYPES),
            None => 0,
        }
    }

    /// Media types of every response, whatever the status.
    pub fn response_content_types(&self) -> BTreeSet<&str> {
        self.statuses
            .iter()
            .flat_map(|s| s.content_types.iter().map(String::as_str))
            .collect()
    }
}

/// Findings of the content detectors; the inventory's own and other
/// traffic-level findings say nothing about the data an endpoint carries.
fn is_content_finding(finding: &Finding) -> bool {
    matches!(
        finding.category,
        Category::SensitiveData | Category::Secret | Category::VerboseError
    )
}

/// Inserts unless the set is full; returns 1 when the value was turned away.
/// `insert_capped` for text seen on every exchange: copied only when new.
fn insert_str_capped(set: &mut BTreeSet<String>, value: Cow<'_, str>, cap: usize) -> u64 {
    if set.contains(value.as_ref()) {
        0
    } else {
        insert_capped(set, value.into_owned(), cap)
    }
}

fn insert_capped<T: Ord>(set: &mut BTreeSet<T>, value: T, cap: usize) -> u64 {
    if set.len() < cap || set.contains(&value) {
        set.insert(value);
        0
    } else {
        1
    }
}
