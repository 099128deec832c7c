//! The `--exchanges` record: metadata of one exchange, never its bodies.

use serde::Serialize;

use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;
use crate::origin::{Host, Origin, SensorInfo};
use crate::timestamp::rfc3339;

#[derive(Debug, Serialize, PartialEq)]
pub struct ExchangeRecord {
    /// The record schema's version (`origin::SCHEMA_VERSION`).
    pub schema_version: &'static str,
    /// The host the sensor runs on (`host` is the exchange's HTTP host,
    /// as it was before records named the sensor's).
    pub sensor_host: Host,
    pub sensor: SensorInfo,
    /// OWASP API Top 10 risks and CWEs of the rules that fired on this
    /// exchange (empty when none did).
    pub tags: Vec<&'static str>,
    pub ts: String,
    pub duration_ms: f64,
    pub method: String,
    pub host: String,
    /// The path with its sensitive segments masked (`endpoint::masked_path`).
    pub path: String,
    /// The endpoint's path template (`/users/{id}`), as alerts and the
    /// inventory name it.
    pub template: String,
    pub status: u16,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub truncated: bool,
    /// A message did not parse: the record and its inspection cover what
    /// could be read.
    pub partial: bool,
    /// What did not parse ("request head did not parse"), when partial.
    pub malformed: Option<String>,
    pub pid: u32,
    pub comm: String,
    pub exe: Option<String>,
    pub uid: Option<u32>,
    pub container_id: Option<String>,
    /// Pod, namespace and container name, in Kubernetes.
    pub kubernetes: Option<crate::conntrack::kubernetes::PodMeta>,
    pub role: &'static str,
    pub local: Option<String>,
    pub remote: Option<String>,
    /// The plaintext came from a TLS library (not visible on the wire).
    pub tls: bool,
    /// `1.0`, `1.1` or `2`.
    pub http_version: &'static str,
    /// The gRPC status (from the `grpc-status` trailer) of a gRPC call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<u32>,
}

impl ExchangeRecord {
    /// `endpoint` is the exchange's, worked out once for every stage;
    /// `tags` those of the rules that fired on it.
    pub fn new(
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        origin: &Origin,
        tags: Vec<&'static str>,
    ) -> Self {
        let conn = &exchange.connection;
        let t = &exchange.timings;
        let duration_ns = t.response_end_ns.saturating_sub(t.request_start_ns);
        let ts = rfc3339(exchange.completed_unix_ns);
        Self {
            schema_version: crate::origin::SCHEMA_VERSION,
            sensor_host: origin.host.clone(),
            sensor: origin.sensor.clone(),
            tags,
            ts,
            duration_ms: (duration_ns as f64 / 1e6 * 1000.0).round() / 1000.0,
            method: exchange.request.method.clone(),
            host: endpoint.host.clone(),
            path: crate::endpoint::masked_path(&exchange.request.target),
            template: endpoint.template.clone(),
            status: exchange.response.status,
            request_bytes: exchange.request.body.wire_len,
            response_bytes: exchange.response.body.wire_len,
            truncated: exchange.truncated(),
            partial: exchange.malformed().is_some(),
            malformed: exchange.malformed(),
            pid: conn.pid,
            comm: conn.comm.clone(),
            exe: conn.process.exe.clone(),
            uid: conn.process.uid,
            container_id: conn.process.container_id.clone(),
            kubernetes: conn.process.pod.clone(),
            role: conn.role.as_str(),
            local: conn.local.map(|a| a.to_string()),
            remote: conn.remote.map(|a| a.to_string()),
            tls: conn.tls,
            http_version: exchange.http_version(),
            grpc_status: exchange.grpc_status(),
        }
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
