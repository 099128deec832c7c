//! `Alert`: what every sink sends, one per finding. Built from a `Finding`
//! (already redacted) and its exchange's metadata, so it can hold no raw
//! value either.

pub mod config;
pub mod render;

pub use config::AlertsConfig;

use serde::Serialize;

use crate::conntrack::ConnectionInfo;
use crate::endpoint::EndpointKey;
use crate::exchange::{HttpExchange, Role};
use crate::finding::{Category, Finding, Location, Message, Severity};
use crate::origin::{Host, Origin, SensorInfo};
use crate::timestamp::rfc3339;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub method: String,
    pub host: String,
    /// The path template (`/users/{id}`): no query string, and no ids,
    /// emails or tokens from the path, which can be the very values alerts
    /// must not repeat.
    pub path: String,
}

/// A process as every record names one: an alert's `process` and `peer`,
/// an exchange record's own fields (flattened) and its `peer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    pub comm: String,
    /// Executable path, when /proc could tell.
    pub exe: Option<String>,
    pub uid: Option<u32>,
    /// From the process's cgroup, when it runs in a container.
    pub container_id: Option<String>,
    /// Pod, namespace and container name, in Kubernetes.
    pub kubernetes: Option<crate::conntrack::kubernetes::PodMeta>,
}

impl Process {
    /// The process at one end of a connection.
    pub fn of(conn: &ConnectionInfo) -> Self {
        Self {
            pid: conn.pid,
            comm: conn.comm.clone(),
            exe: conn.process.exe.clone(),
            uid: conn.process.uid,
            container_id: conn.process.container_id.clone(),
            kubernetes: conn.process.pod.clone(),
        }
    }

    /// The same, borrowed.
    pub fn as_ref(&self) -> ProcessRef<'_> {
        ProcessRef {
            pid: self.pid,
            comm: &self.comm,
            exe: self.exe.as_deref(),
            uid: self.uid,
            container_id: self.container_id.as_deref(),
            kubernetes: self.kubernetes.as_ref(),
        }
    }
}

/// `Process` borrowed from what it is read from (a connection), for the
/// records written at once: the same fields, written the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProcessRef<'a> {
    pub pid: u32,
    pub comm: &'a str,
    pub exe: Option<&'a str>,
    pub uid: Option<u32>,
    pub container_id: Option<&'a str>,
    pub kubernetes: Option<&'a crate::conntrack::kubernetes::PodMeta>,
}

impl<'a> ProcessRef<'a> {
    /// The process at one end of a connection.
    pub fn of(conn: &'a ConnectionInfo) -> Self {
        Self {
            pid: conn.pid,
            comm: &conn.comm,
            exe: conn.process.exe.as_deref(),
            uid: conn.process.uid,
            container_id: conn.process.container_id.as_deref(),
            kubernetes: conn.process.pod.as_ref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    pub local: Option<String>,
    pub remote: Option<String>,
    pub role: &'static str,
}

impl Connection {
    /// A connection as one end sees it.
    pub fn of(conn: &ConnectionInfo) -> Self {
        Self {
            local: conn.local.map(|a| a.to_string()),
            remote: conn.remote.map(|a| a.to_string()),
            role: conn.role.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The record schema's version (`origin::SCHEMA_VERSION`).
    pub schema_version: &'static str,
    /// The host the sensor runs on.
    pub host: Host,
    pub sensor: SensorInfo,
    /// When the response completed, RFC 3339.
    pub ts: String,
    /// Unique per alert.
    pub id: String,
    pub rule: String,
    /// The rule's OWASP API Security Top 10 risk and CWE (`tags.rs`).
    pub tags: &'static [&'static str],
    pub category: Category,
    pub severity: Severity,
    pub summary: String,
    pub endpoint: Endpoint,
    pub status: u16,
    pub location: Location,
    pub evidence: String,
    pub fingerprint: String,
    /// Content rules: times the rule matched at this location in the
    /// exchange. Behavioural rules: the quantity observed (distinct ids,
    /// failed logins, requests in the minute, records or bytes).
    pub occurrences: u32,
    /// Exchanges this alert stands for: 1, or in the summary written when a
    /// deduplication window closes, every repeat between `first_seen` and
    /// `last_seen`.
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// The process the alert is about, and its end of the connection.
    /// When both ends are on this host and captured, the side that sent
    /// the message the finding is in: the server for the response, the
    /// client for the request (a client's behaviour too); the server for
    /// an inventory finding.
    pub process: Process,
    pub connection: Connection,
    /// The process at the other end, when both ends are on this host and
    /// captured (the exchange is then analysed, and alerted on, once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<Process>,
    /// The plaintext came from a TLS library (not visible on the wire).
    pub tls: bool,
    /// What did not parse when the exchange was malformed ("request head
    /// did not parse"): the finding comes from the part that could be
    /// read. `null` for a well-formed exchange.
    pub malformed: Option<String>,
    /// The exchange's protocol: `1.0`, `1.1` or `2`.
    pub http_version: &'static str,
    /// Who made the request, fingerprinted (`jwt:1f2e3d4c5b6a7980`), when
    /// it carried a JWT, Basic credentials, an API key or a session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

impl Alert {
    /// `endpoint` is the exchange's, worked out once for every stage;
    /// `origin` is this sensor and its host.
    pub fn from_finding(
        finding: &Finding,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        ts_unix_ns: i128,
        origin: &Origin,
    ) -> Alert {
        let conn = &exchange.connection;
        let ts = rfc3339(ts_unix_ns);
        Alert {
            schema_version: crate::origin::SCHEMA_VERSION,
            host: origin.host.clone(),
            sensor: origin.sensor.clone(),
            tags: crate::tags::tags_of(&finding.rule, finding.category),
            first_seen: ts.clone(),
            last_seen: ts.clone(),
            ts,
            id: alert_id(ts_unix_ns),
            rule: finding.rule.clone(),
            category: finding.category,
            severity: finding.severity,
            summary: match exchange.malformed() {
                Some(what) => format!(
                    "{} Seen in a malformed exchange ({what}), inspected as far as it parsed.",
                    finding.summary
                ),
                None => finding.summary.clone(),
            },
            endpoint: Endpoint {
                method: endpoint.method.clone(),
                host: endpoint.host.clone(),
                path: endpoint.template.clone(),
            },
            status: exchange.response.status,
            location: finding.location.clone(),
            evidence: finding.evidence.clone(),
            fingerprint: finding.fingerprint.clone(),
            occurrences: finding.count,
            count: 1,
            process: Process::of(conn),
            connection: Connection::of(conn),
            peer: None,
            tls: conn.tls,
            malformed: exchange.malformed(),
            http_version: exchange.http_version(),
            principal: None,
        }
    }

    /// The alert with both ends of its exchange: `seen` is the end whose
    /// view was analysed, `peer` the other end when it is captured too.
    pub fn with_ends(mut self, seen: &ConnectionInfo, peer: Option<&ConnectionInfo>) -> Self {
        if peer.is_some() {
            self.set_ends(seen, peer);
        }
        self
    }

    /// Names as `process` (and `connection`) the end the alert is about,
    /// the other under `peer`. With one end captured, that end.
    pub fn set_ends(&mut self, seen: &ConnectionInfo, peer: Option<&ConnectionInfo>) {
        let Some(peer) = peer else {
            self.process = Process::of(seen);
            self.connection = Connection::of(seen);
            self.tls = seen.tls;
            self.peer = None;
            return;
        };
        // The end the alert is about: the sender of the message the
        // finding is in (a leak in a response is the server's, a secret in
        // a request or a client's behaviour the client's); an inventory
        // finding is about the server's API.
        let sender = match (self.category, self.location.message) {
            (Category::Inventory, _) | (_, Message::Response) => Role::Server,
            (_, Message::Request) => Role::Client,
        };
        let (about, other) = if seen.role != sender && peer.role == sender {
            (peer, seen)
        } else {
            (seen, peer)
        };
        self.process = Process::of(about);
        self.connection = Connection::of(about);
        self.tls = about.tls;
        self.peer = Some(Process::of(other));
    }

    /// The alert naming the request's principal (kind and fingerprint).
    pub fn with_principal(mut self, principal: Option<String>) -> Self {
        self.principal = principal;
        self
    }
}

/// Time, process-wide counter and a per-process random salt: unique
/// without coordination, and sortable by time within one sensor.
pub(crate) fn alert_id(ts_unix_ns: i128) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SALT: OnceLock<u32> = OnceLock::new();
    let salt = *SALT.get_or_init(|| {
        let mut bytes = [0u8; 4];
        let read = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
        if read.is_err() {
            // No randomness: the pid still separates sensors on one host.
            bytes = std::process::id().to_le_bytes();
        }
        u32::from_le_bytes(bytes)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let ms = (ts_unix_ns / 1_000_000) as u64;
    format!("{ms:012x}-{salt:08x}-{n:012x}")
}

#[cfg(test)]
pub(crate) mod tests;
