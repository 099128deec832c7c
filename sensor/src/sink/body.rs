//! Request bodies of the HTTP sinks: one batch of alerts in the shape a
//! receiver takes (a JSON array, NDJSON, Splunk HEC events, an
//! Elasticsearch `_bulk` request, a Slack message, Alertmanager alerts),
//! each alert in the native schema or in OCSF. Built once, when the batch
//! is spooled, so a retry sends exactly the same bytes.

use serde_json::{json, Value};

use super::worker::AlertLine;
use crate::alert::render::render_alert;
use crate::config::RecordFormat;
use crate::timestamp::{rfc3339, unix_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// A JSON array of alert objects.
    Json,
    /// One alert object per line (`application/x-ndjson`).
    Ndjson,
    /// Splunk HTTP Event Collector events (`/services/collector/event`),
    /// one per line, the alert as the `event`.
    SplunkHec,
    /// An Elasticsearch or OpenSearch `_bulk` request: a `create` action
    /// (the alert id as `_id`, so a retried batch indexes nothing twice)
    /// and the alert, per alert.
    ElasticsearchBulk,
    /// `{"text": ...}`, one readable line per alert.
    Slack,
    /// Prometheus Alertmanager's `POST /api/v2/alerts`.
    Alertmanager,
}

impl WebhookFormat {
    /// As `format` spells it in `[[sinks.webhook]]`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "json" => Self::Json,
            "ndjson" => Self::Ndjson,
            "splunk_hec" => Self::SplunkHec,
            "elasticsearch_bulk" => Self::ElasticsearchBulk,
            "slack" => Self::Slack,
            _ => return None,
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ndjson | Self::ElasticsearchBulk => "application/x-ndjson",
            _ => "application/json",
        }
    }

    /// Whether the body carries whole records (so `schema` applies).
    pub fn carries_records(self) -> bool {
        !matches!(self, Self::Slack | Self::Alertmanager)
    }
}

/// What shapes a body besides the alerts.
#[derive(Debug, Clone)]
pub struct BodyOptions {
    pub format: WebhookFormat,
    pub schema: RecordFormat,
    /// Alertmanager: how long after its last occurrence an alert resolves.
    pub resolve_after_secs: u64,
}

pub fn body_of(batch: &[AlertLine], options: &BodyOptions) -> Vec<u8> {
    let record = |line: &AlertLine| line.render(options.schema).into_owned();
    let mut body = Vec::new();
    match options.format {
        WebhookFormat::Json => {
            body.push(b'[');
            for (i, line) in batch.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(record(line).as_bytes());
            }
            body.push(b']');
        }
        WebhookFormat::Ndjson => {
            for line in batch {
                body.extend_from_slice(record(line).as_bytes());
                body.push(b'\n');
            }
        }
        WebhookFormat::SplunkHec => {
            for line in batch {
                let alert = &line.alert;
                let time = unix_ms(&alert.ts).unwrap_or_default() as f64 / 1000.0;
                let sourcetype = match options.schema {
                    RecordFormat::Native => "sensor:alert",
                    RecordFormat::Ocsf => "ocsf:detection_finding",
                };
                // The event goes in as raw JSON: serialised once, as the
                // file has it.
                let head = json!({
                    "time": time,
                    "host": alert.host.hostname,
                    "source": "sensor",
                    "sourcetype": sourcetype,
                })
                .to_string();
                body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
                body.extend_from_slice(b",\"event\":");
                body.extend_from_slice(record(line).as_bytes());
                body.extend_from_slice(b"}\n");
            }
        }
        WebhookFormat::ElasticsearchBulk => {
            for line in batch {
                let action = json!({"create": {"_id": line.alert.id}});
                body.extend_from_slice(action.to_string().as_bytes());
                body.push(b'\n');
                body.extend_from_slice(record(line).as_bytes());
                body.push(b'\n');
            }
        }
        WebhookFormat::Slack => {
            let text: Vec<String> = batch
                .iter()
                .map(|line| render_alert(&line.alert, false))
                .collect();
            body = serde_json::to_vec(&json!({ "text": text.join("\n") }))
                .expect("a JSON object serialises");
        }
        WebhookFormat::Alertmanager => {
            let alerts: Vec<Value> = batch
                .iter()
                .map(|line| alertmanager_alert(line, options.resolve_after_secs))
                .collect();
            body = serde_json::to_vec(&alerts).expect("JSON values serialise");
        }
    }
    body
}

/// One alert as Alertmanager takes it. Labels identify the alert (the
/// same rule on the same endpoint and host is one Alertmanager alert, and
/// its repeats refresh it); annotations describe it. No label holds a
/// value from the traffic beyond the endpoint's path template.
fn alertmanager_alert(line: &AlertLine, resolve_after_secs: u64) -> Value {
    let alert = &line.alert;
    let endpoint = format!(
        "{} {}{}",
        alert.endpoint.method, alert.endpoint.host, alert.endpoint.path
    );
    let mut labels = json!({
        "alertname": alert.rule,
        "rule": alert.rule,
        "category": alert.category.as_str(),
        "severity": alert.severity.as_str(),
        "endpoint": endpoint,
        "host": alert.host.hostname,
        "source": "sensor",
    });
    if let Some(node) = &alert.host.node {
        labels["node"] = json!(node);
    }
    // Resolves `resolve_after_secs` after the last occurrence, counted
    // from now if that is later (a replay of old traffic still shows).
    let last = unix_ms(&alert.last_seen).unwrap_or_default();
    let now = (crate::timestamp::now_unix_ns() / 1_000_000) as i64;
    let ends_ms = last.max(now) + (resolve_after_secs as i64) * 1000;
    json!({
        "labels": labels,
        "annotations": {
            "summary": alert.summary,
            "evidence": alert.evidence,
            "location": alert.location.to_string(),
            "count": alert.count.to_string(),
            "first_seen": alert.first_seen,
            "last_seen": alert.last_seen,
            "tags": alert.tags.join(" "),
            "process": format!("{} (pid {})", alert.process.comm, alert.process.pid),
            "alert_id": alert.id,
        },
        "startsAt": alert.first_seen,
        "endsAt": rfc3339(i128::from(ends_ms) * 1_000_000),
    })
}

/// Alerts in a spooled body, for the delivered counter.
pub fn count_alerts(body: &[u8], format: WebhookFormat) -> u64 {
    let lines = || {
        body.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64
    };
    match format {
        WebhookFormat::Json | WebhookFormat::Alertmanager => {
            serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(body)
                .map(|v| v.len() as u64)
                .unwrap_or(0)
        }
        WebhookFormat::Ndjson | WebhookFormat::SplunkHec => lines(),
        WebhookFormat::ElasticsearchBulk => lines() / 2,
        WebhookFormat::Slack => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["text"].as_str().map(|t| t.lines().count() as u64))
            .unwrap_or(0),
    }
}

/// Whether an Elasticsearch `_bulk` reply took every document: an item
/// that failed for any reason but already existing (409, a retried batch)
/// fails the batch, which is sent again.
pub fn bulk_reply_ok(reply: &[u8]) -> bool {
    let Ok(reply) = serde_json::from_slice::<Value>(reply) else {
        return false;
    };
    if reply["errors"] != json!(true) {
        return true;
    }
    reply["items"].as_array().is_some_and(|items| {
        items.iter().all(|item| {
            item.as_object()
                .and_then(|o| o.values().next())
                .and_then(|r| r["status"].as_u64())
                .is_some_and(|status| status < 300 || status == 409)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::line;

    fn options(format: WebhookFormat, schema: RecordFormat) -> BodyOptions {
        BodyOptions {
            format,
            schema,
            resolve_after_secs: 300,
        }
    }

    #[test]
    fn every_format_carries_every_alert() {
        let batch = [line(0), line(1), line(2)];
        for format in [
            WebhookFormat::Json,
            WebhookFormat::Ndjson,
            WebhookFormat::SplunkHec,
            WebhookFormat::ElasticsearchBulk,
            WebhookFormat::Slack,
            WebhookFormat::Alertmanager,
        ] {
            for schema in [RecordFormat::Native, RecordFormat::Ocsf] {
                let body = body_of(&batch, &options(format, schema));
                assert_eq!(count_alerts(&body, format), 3, "{format:?}");
            }
        }
    }

    #[test]
    fn splunk_and_elasticsearch_bodies_parse_as_their_receivers_read_them() {
        let batch = [line(0), line(1)];
        let hec = body_of(
            &batch,
            &options(WebhookFormat::SplunkHec, RecordFormat::Native),
        );
        let events: Vec<Value> = serde_json::Deserializer::from_slice(&hec)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["host"], "web-1");
        assert_eq!(events[0]["sourcetype"], "sensor:alert");
        assert_eq!(events[1]["event"]["id"], "a1");
        assert!(events[0]["time"].as_f64().unwrap() > 1.6e9);

        let bulk = body_of(
            &batch,
            &options(WebhookFormat::ElasticsearchBulk, RecordFormat::Ocsf),
        );
        let lines: Vec<Value> = String::from_utf8(bulk)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0], json!({"create": {"_id": "a0"}}));
        assert_eq!(lines[1]["class_uid"], 2004);
        assert_eq!(lines[2], json!({"create": {"_id": "a1"}}));

        assert!(bulk_reply_ok(br#"{"errors":false,"items":[]}"#));
        assert!(bulk_reply_ok(
            br#"{"errors":true,"items":[{"create":{"status":409}},{"create":{"status":201}}]}"#
        ));
        assert!(!bulk_reply_ok(
            br#"{"errors":true,"items":[{"create":{"status":429}}]}"#
        ));
        assert!(!bulk_reply_ok(b"<html>"));
    }

    #[test]
    fn slack_text_is_the_line_sensor_tail_prints_per_alert() {
        let batch = [line(0), line(1)];
        let body = body_of(&batch, &options(WebhookFormat::Slack, RecordFormat::Native));
        let message: Value = serde_json::from_slice(&body).unwrap();
        let tail: Vec<String> = batch
            .iter()
            .map(|l| crate::alert::render::render(&serde_json::from_str(&l.json).unwrap(), false))
            .collect();
        assert_eq!(message, json!({ "text": tail.join("\n") }));
        assert!(tail[0].contains("pii.email"), "{}", tail[0]);
    }

    #[test]
    fn alertmanager_labels_name_the_rule_endpoint_and_host() {
        let body = body_of(
            &[line(0)],
            &options(WebhookFormat::Alertmanager, RecordFormat::Native),
        );
        let alerts: Vec<Value> = serde_json::from_slice(&body).unwrap();
        let labels = &alerts[0]["labels"];
        assert_eq!(labels["rule"], "pii.email");
        assert_eq!(labels["alertname"], "pii.email");
        assert_eq!(labels["category"], "sensitive_data");
        assert_eq!(labels["endpoint"], "GET api.acme.io/api/users/{id}");
        assert_eq!(labels["host"], "web-1");
        assert_eq!(labels["node"], "node-a");
        assert!(!body.windows(20).any(|w| w == b"ann.lee@acme-mail.io"));
        let ends = unix_ms(alerts[0]["endsAt"].as_str().unwrap()).unwrap();
        let now = (crate::timestamp::now_unix_ns() / 1_000_000) as i64;
        assert!(ends > now + 250_000, "{ends} {now}");
    }
}
