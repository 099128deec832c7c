//! The `--exchanges` record: metadata of one exchange, never its bodies.
//! Borrowed from the exchange and written at once: what it names is not
//! copied, and it allocates nothing of its own in the common case: the
//! time is formatted on the stack, the path borrowed unless a segment is
//! masked, the tags empty unless a rule fired.

use std::borrow::Cow;
use std::net::SocketAddr;

use serde::Serialize;

use crate::alert::ProcessRef;
use crate::conntrack::ConnectionInfo;
use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;
use crate::origin::{Host, Origin, SensorInfo};
use crate::timestamp::Rfc3339Text;

#[derive(Debug, Serialize, PartialEq)]
pub struct ExchangeRecord<'a> {
    /// The record schema's version (`origin::SCHEMA_VERSION`).
    pub schema_version: &'static str,
    /// The host the sensor runs on (`host` is the exchange's HTTP host,
    /// as it was before records named the sensor's).
    pub sensor_host: &'a Host,
    pub sensor: &'a SensorInfo,
    /// OWASP API Top 10 risks and CWEs of the rules that fired on this
    /// exchange (empty when none did).
    pub tags: Vec<&'static str>,
    pub ts: Rfc3339Text,
    pub duration_ms: f64,
    pub method: &'a str,
    pub host: &'a str,
    /// The path with its sensitive segments masked (`endpoint::masked_path`).
    pub path: Cow<'a, str>,
    /// The endpoint's path template (`/users/{id}`), as alerts and the
    /// inventory name it.
    pub template: &'a str,
    pub status: u16,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub truncated: bool,
    /// A message did not parse: the record and its inspection cover what
    /// could be read.
    pub partial: bool,
    /// What did not parse ("request head did not parse"), when partial.
    pub malformed: Option<String>,
    /// The process whose view of the exchange this is (`pid`, `comm`,
    /// `exe`, `uid`, `container_id`, `kubernetes`, as alerts name one):
    /// when both ends are captured on this host, the server's.
    #[serde(flatten)]
    pub process: ProcessRef<'a>,
    pub role: &'static str,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// The plaintext came from a TLS library (not visible on the wire).
    pub tls: bool,
    /// `1.0`, `1.1` or `2`.
    pub http_version: &'static str,
    /// The gRPC status (from the `grpc-status` trailer) of a gRPC call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<u32>,
    /// The process at the other end, when both ends are on this host and
    /// captured: the exchange is then one record, not one per end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<ProcessRef<'a>>,
}

impl<'a> ExchangeRecord<'a> {
    /// `endpoint` is the exchange's, worked out once for every stage;
    /// `tags` those of the rules that fired on it.
    pub fn new(
        exchange: &'a HttpExchange,
        endpoint: &'a EndpointKey,
        origin: &'a Origin,
        tags: Vec<&'static str>,
    ) -> Self {
        let conn = &exchange.connection;
        let t = &exchange.timings;
        let duration_ns = t.response_end_ns.saturating_sub(t.request_start_ns);
        let malformed = exchange.malformed();
        Self {
            schema_version: crate::origin::SCHEMA_VERSION,
            sensor_host: &origin.host,
            sensor: &origin.sensor,
            tags,
            ts: Rfc3339Text::of(exchange.completed_unix_ns),
            duration_ms: (duration_ns as f64 / 1e6 * 1000.0).round() / 1000.0,
            method: &exchange.request.method,
            host: &endpoint.host,
            path: crate::endpoint::masked_path(&exchange.request.target),
            template: &endpoint.template,
            status: exchange.response.status,
            request_bytes: exchange.request.body.wire_len,
            response_bytes: exchange.response.body.wire_len,
            truncated: exchange.truncated(),
            partial: malformed.is_some(),
            malformed,
            process: ProcessRef::of(conn),
            role: conn.role.as_str(),
            local: conn.local,
            remote: conn.remote,
            tls: conn.tls,
            http_version: exchange.http_version(),
            grpc_status: exchange.grpc_status(),
            peer: None,
        }
    }

    /// The record naming `peer`, the other end's process, too.
    pub fn with_peer(mut self, peer: Option<&'a ConnectionInfo>) -> Self {
        self.peer = peer.map(ProcessRef::of);
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::endpoint::path_of;

    #[test]
    fn paths() {
        for (target, path) in [
            ("/", "/"),
            ("/a/b?x=1", "/a/b"),
            ("/a#frag", "/a"),
            ("http://example.com/x/y?q", "/x/y"),
            ("http://example.com", "/"),
            ("*", "*"),
            ("/?", "/"),
            ("/r?to=http://x/y", "/r"),
        ] {
            assert_eq!(path_of(target), path, "{target}");
        }
    }
}
