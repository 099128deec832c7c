//! Records in OCSF 1.5.0 (`format = "ocsf"`): an alert is a Detection
//! Finding (class 2004), an exchange record an HTTP Activity (class 4002).
//! A summary alert (the repeats a deduplication window folded) is an
//! `Update` of the finding its first occurrence created: the finding uid
//! is a hash of what makes two alerts the same alert (rule, endpoint,
//! fingerprint), so a SIEM sees one finding whose count and last-seen
//! time move. Built from the native records, so an OCSF record holds
//! nothing the native one does not (no raw sensitive value).

use std::net::SocketAddr;

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

use super::ExchangeRecord;
use crate::alert::{Alert, ProcessRef};
use crate::finding::Severity;
use crate::origin::{Host, SensorInfo};
use crate::timestamp::unix_ms;

/// The OCSF version records follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.5.0";

const DETECTION_FINDING: u32 = 2004;
const HTTP_ACTIVITY: u32 = 4002;

/// An alert as an OCSF Detection Finding.
pub fn detection_finding(alert: &Alert) -> Value {
    // The first occurrence creates the finding; a summary updates it.
    let (activity_id, activity_name) = if alert.count > 1 {
        (2, "Update")
    } else {
        (1, "Create")
    };
    let (severity_id, severity) = severity(alert.severity);
    let first_seen = unix_ms(&alert.first_seen);
    let last_seen = unix_ms(&alert.last_seen);
    let uid = finding_uid(alert);
    let mut event = json!({
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": DETECTION_FINDING,
        "class_name": "Detection Finding",
        "type_uid": DETECTION_FINDING * 100 + activity_id,
        "type_name": format!("Detection Finding: {activity_name}"),
        "time": unix_ms(&alert.ts).unwrap_or_default(),
        "severity_id": severity_id,
        "severity": severity,
        "is_alert": true,
        "count": alert.count,
        "message": alert.summary,
        "metadata": metadata(&alert.sensor, &alert.id, alert.tags, None),
        "finding_info": {
            "uid": uid,
            "title": alert.summary,
            "analytic": {
                "uid": alert.rule,
                "name": alert.rule,
                "category": alert.category.as_str(),
                "type_id": 1,
                "type": "Rule",
            },
            "types": alert.tags,
        },
        "device": device(&alert.host),
        "evidences": [evidence(alert)],
        "vulnerabilities": alert
            .tags
            .iter()
            .filter(|t| t.starts_with("CWE-"))
            .map(|cwe| json!({"cwe": {"uid": cwe}}))
            .collect::<Vec<_>>(),
        "unmapped": {
            "schema_version": alert.schema_version,
            "alert_id": alert.id,
            "tls": alert.tls,
        },
    });
    let info = &mut event["finding_info"];
    if let Some(ms) = first_seen {
        info["first_seen_time"] = json!(ms);
        info["created_time"] = json!(ms);
        event["start_time"] = json!(ms);
    }
    if let Some(ms) = last_seen {
        event["finding_info"]["last_seen_time"] = json!(ms);
        event["end_time"] = json!(ms);
    }
    if alert.count > 1 {
        event["finding_info"]["modified_time"] = json!(last_seen.unwrap_or_default());
    }
    if let Some(node) = &alert.host.node {
        event["unmapped"]["node"] = json!(node);
    }
    if let Some(peer) = &alert.peer {
        event["unmapped"]["peer"] = peer_process(peer.as_ref());
    }
    event
}

/// The finding an alert belongs to: the same for the first occurrence
/// and the summaries that follow it.
pub fn finding_uid(alert: &Alert) -> String {
    let mut hash = Sha256::new();
    for part in [
        alert.rule.as_str(),
        alert.endpoint.method.as_str(),
        alert.endpoint.host.as_str(),
        alert.endpoint.path.as_str(),
        alert.fingerprint.as_str(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn severity(severity: Severity) -> (u8, &'static str) {
    match severity {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

fn metadata(sensor: &SensorInfo, uid: &str, tags: &[&str], profiles: Option<&[&str]>) -> Value {
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "sensor",
            "vendor_name": "sensor",
            "version": sensor.version,
        },
        "labels": tags,
    });
    if !uid.is_empty() {
        metadata["uid"] = json!(uid);
    }
    if let Some(profiles) = profiles {
        metadata["profiles"] = json!(profiles);
    }
    metadata
}

fn device(host: &Host) -> Value {
    json!({"hostname": host.hostname, "type_id": 0, "type": "Unknown"})
}

/// Where the alert was seen: the request, the response status, the two
/// ends, the process and container, and the sensor's own evidence.
fn evidence(alert: &Alert) -> Value {
    let mut evidence = Map::new();
    evidence.insert(
        "http_request".into(),
        http_request(
            &alert.endpoint.method,
            &alert.endpoint.host,
            &alert.endpoint.path,
            alert.http_version,
            None,
        ),
    );
    evidence.insert("http_response".into(), json!({"code": alert.status}));
    let (src, dst) = ends(
        alert.connection.role,
        alert.connection.local.as_deref(),
        alert.connection.remote.as_deref(),
    );
    if let Some(src) = src {
        evidence.insert("src_endpoint".into(), src);
    }
    if let Some(dst) = dst {
        evidence.insert("dst_endpoint".into(), dst);
    }
    let p = &alert.process;
    evidence.insert("process".into(), process(p.as_ref()));
    if let Some(container) = container(p.container_id.as_deref(), p.kubernetes.as_ref()) {
        evidence.insert("container".into(), container);
    }
    evidence.insert(
        "data".into(),
        json!({
            "location": alert.location,
            "evidence": alert.evidence,
            "fingerprint": alert.fingerprint,
            "occurrences": alert.occurrences,
        }),
    );
    Value::Object(evidence)
}

fn http_request(
    method: &str,
    host: &str,
    path: &str,
    version: &str,
    body_length: Option<u64>,
) -> Value {
    let mut url = json!({ "path": path });
    if !host.is_empty() {
        url["hostname"] = json!(host);
    }
    let mut request = json!({
        "http_method": method,
        "url": url,
        "version": format!("HTTP/{version}"),
    });
    if let Some(length) = body_length {
        request["body_length"] = json!(length);
    }
    request
}

/// (source, destination) endpoints: the client is the source.
fn ends(role: &str, local: Option<&str>, remote: Option<&str>) -> (Option<Value>, Option<Value>) {
    let endpoint = |addr: Option<&str>| {
        let addr: SocketAddr = addr?.parse().ok()?;
        Some(json!({"ip": addr.ip().to_string(), "port": addr.port()}))
    };
    if role == "server" {
        (endpoint(remote), endpoint(local))
    } else {
        (endpoint(local), endpoint(remote))
    }
}

fn process(p: ProcessRef<'_>) -> Value {
    let mut process = json!({"pid": p.pid, "name": p.comm});
    if let Some(exe) = p.exe {
        let name = exe.rsplit('/').next().unwrap_or(exe);
        process["file"] = json!({"path": exe, "name": name, "type_id": 1, "type": "Regular File"});
    }
    if let Some(uid) = p.uid {
        process["user"] = json!({"uid": uid.to_string()});
    }
    process
}

/// The other end's process (OCSF has no attribute for it: `unmapped`),
/// with its container when it has one.
fn peer_process(p: ProcessRef<'_>) -> Value {
    let mut peer = process(p);
    if let Some(container) = container(p.container_id, p.kubernetes) {
        peer["container"] = container;
    }
    peer
}

fn container(
    id: Option<&str>,
    pod: Option<&crate::conntrack::kubernetes::PodMeta>,
) -> Option<Value> {
    let mut container = Map::new();
    if let Some(id) = id {
        container.insert("uid".into(), json!(id));
    }
    if let Some(pod) = pod {
        container.insert("name".into(), json!(pod.container));
        container.insert("orchestrator".into(), json!("kubernetes"));
        container.insert(
            "labels".into(),
            json!([
                format!("pod={}", pod.pod),
                format!("namespace={}", pod.namespace)
            ]),
        );
    }
    (!container.is_empty()).then_some(Value::Object(container))
}

/// An exchange record as an OCSF HTTP Activity (with the `host` profile,
/// for the device and the process).
pub fn http_activity(record: &ExchangeRecord) -> Value {
    let (activity_id, activity_name) = match record.method {
        "CONNECT" => (1, "Connect"),
        "DELETE" => (2, "Delete"),
        "GET" => (3, "Get"),
        "HEAD" => (4, "Head"),
        "OPTIONS" => (5, "Options"),
        "POST" => (6, "Post"),
        "PUT" => (7, "Put"),
        "TRACE" => (8, "Trace"),
        _ => (99, "Other"),
    };
    let end = unix_ms(&record.ts).unwrap_or_default();
    let duration = record.duration_ms.round() as i64;
    let (local, remote) = (
        record.local.map(|a| a.to_string()),
        record.remote.map(|a| a.to_string()),
    );
    let (src, dst) = ends(record.role, local.as_deref(), remote.as_deref());
    let mut event = json!({
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": 4,
        "category_name": "Network Activity",
        "class_uid": HTTP_ACTIVITY,
        "class_name": "HTTP Activity",
        "type_uid": HTTP_ACTIVITY * 100 + activity_id,
        "type_name": format!("HTTP Activity: {activity_name}"),
        "time": end,
        "start_time": end - duration,
        "end_time": end,
        "duration": duration,
        "severity_id": 1,
        "severity": "Informational",
        "metadata": metadata(record.sensor, "", &record.tags, Some(&["host"])),
        "http_request": http_request(record.method, record.host, &record.path, record.http_version, Some(record.request_bytes)),
        "http_response": {"code": record.status, "body_length": record.response_bytes},
        "device": device(record.sensor_host),
        "actor": {"process": process(record.process)},
        "unmapped": {
            "schema_version": record.schema_version,
            "template": record.template,
            "truncated": record.truncated,
            "tls": record.tls,
        },
    });
    if let Some(src) = src {
        event["src_endpoint"] = src;
    }
    if let Some(dst) = dst {
        event["dst_endpoint"] = dst;
    }
    if let Some(container) = container(record.process.container_id, record.process.kubernetes) {
        event["unmapped"]["container"] = container;
    }
    if let Some(peer) = record.peer {
        event["unmapped"]["peer"] = peer_process(peer);
    }
    if let Some(node) = &record.sensor_host.node {
        event["unmapped"]["node"] = json!(node);
    }
    if let Some(status) = record.grpc_status {
        event["unmapped"]["grpc_status"] = json!(status);
    }
    event
}
