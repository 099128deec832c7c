//! The records a session writes, against the schemas consumers rely on:
//! native alerts and exchange records against `schema/*.schema.json`
//! (Python's `jsonschema`), and with `output.format = "ocsf"` against the
//! OCSF 1.5.0 classes (the official schema export, `ocsf-json-schema`),
//! both through `schema/validate.py`.

use std::path::{Path, PathBuf};

use crate::alert::AlertsConfig;
use crate::analysis::detect::tests::{detector, exchange, github_token};
use crate::analysis::detect::DetectConfig;
use crate::analysis::Analysis;
use crate::config::{CaptureConfig, LimitsConfig, OutputConfig, RecordFormat};
use crate::exchange::HttpExchange;
use crate::origin::Origin;
use crate::pipeline::Pipeline;
use crate::sink::Outputs;

use super::Session;

const SECOND: i128 = 1_000_000_000;
const START: i128 = 1_700_000_000 * SECOND;

/// Exchanges that raise content alerts of every category the content
/// detectors have (a leak repeated, so deduplication writes summaries),
/// and a clean one.
fn traffic() -> Vec<HttpExchange> {
    let leaky = |path: &str, body: &str, status: u16, i: i128| {
        let mut x = exchange(
            "GET",
            path,
            &[("Host", "api.acme.io")],
            "",
            &[("Content-Type", "application/json")],
            body,
        );
        x.response.status = status;
        x.completed_unix_ns = START + i * SECOND;
        x
    };
    let mut done = Vec::new();
    for i in 0..3 {
        done.push(leaky(
            "/api/users/42",
            r#"{"email":"ann.lee@acme-mail.io","card":"4539 5787 6362 1486","ssn":"536-22-8726"}"#,
            200,
            i,
        ));
    }
    done.push(leaky(
        "/api/orders",
        r#"{"error":"Traceback (most recent call last):\n  File \"/srv/app.py\", line 3, in get\nKeyError: 'id'"}"#,
        500,
        4,
    ));
    let token = github_token("ghp_");
    done.push(leaky(
        "/api/keys",
        &format!(r#"{{"key":"{token}"}}"#),
        200,
        5,
    ));
    done.push(leaky("/health", r#"{"ok":true}"#, 200, 6));
    done
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sensor-schema-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `traffic()` through a session writing both files in `format`.
fn write_records(dir: &Path, format: RecordFormat, node: Option<&str>) {
    let config = OutputConfig {
        alerts: dir.join("alerts.jsonl"),
        exchanges: Some(dir.join("exchanges.jsonl")),
        state_dir: dir.to_owned(),
        format,
        ..OutputConfig::default()
    };
    let origin = Origin::new("web-1".into(), node);
    let policy = AlertsConfig::default();
    let mut session = Session::new(
        Pipeline::new(&CaptureConfig::default(), &LimitsConfig::default(), 0),
        Analysis::new(detector(&DetectConfig::default()))
            .with_alert_policy(&policy)
            .with_origin(origin.clone()),
        Outputs::open(&config)
            .unwrap()
            .with_origin(origin)
            .with_alert_policy(&policy),
    );
    session.deliver(&mut traffic()).unwrap();
    session.tick(START + 600 * SECOND).unwrap();
    session.finish(0).unwrap();
}

/// `schema/validate.py KIND FILE`: whether every record is valid, and
/// its report.
fn check(kind: &str, file: &Path) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/validate.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(kind)
        .arg(file)
        .output()
        .expect("python3 runs (cargo xtask setup installs jsonschema and ocsf-json-schema)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

/// Panics with the validator's report unless every record is valid.
fn validate(kind: &str, file: &Path) {
    let (valid, report) = check(kind, file);
    assert!(valid, "{kind} {}:\n{report}", file.display());
}

fn lines(file: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn native_records_match_the_published_schema() {
    let dir = scratch("native");
    write_records(&dir, RecordFormat::Native, Some("node-a"));
    let alerts = lines(&dir.join("alerts.jsonl"));
    let categories: std::collections::BTreeSet<&str> = alerts
        .iter()
        .map(|a| a["category"].as_str().unwrap())
        .collect();
    assert!(categories.len() >= 3, "{categories:?}");
    assert!(
        alerts.iter().any(|a| a["count"].as_u64() > Some(1)),
        "no summary"
    );
    for alert in &alerts {
        assert_eq!(alert["host"]["hostname"], "web-1");
        assert_eq!(alert["host"]["node"], "node-a");
        assert_eq!(alert["schema_version"], crate::origin::SCHEMA_VERSION);
    }
    let exchanges = lines(&dir.join("exchanges.jsonl"));
    assert_eq!(exchanges.len(), traffic().len());
    // Tagged with the rules that fired: sensitive data, none on /health.
    assert!(exchanges[0]["tags"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("API3:2023")));
    assert_eq!(exchanges.last().unwrap()["tags"], serde_json::json!([]));
    validate("alert", &dir.join("alerts.jsonl"));
    validate("exchange", &dir.join("exchanges.jsonl"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_schema_files_carry_the_version_records_do() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema");
    for name in ["alert.schema.json", "exchange.schema.json"] {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(name)).unwrap()).unwrap();
        assert_eq!(
            schema["x-schema-version"],
            crate::origin::SCHEMA_VERSION,
            "{name}: a record field changed without the schema (or the other way round)"
        );
    }
}

#[test]
fn a_record_with_a_field_the_schema_lacks_is_refused() {
    // The check can fail: an unknown field, a bad tag and a missing host
    // are each an error.
    let dir = scratch("refused");
    write_records(&dir, RecordFormat::Native, None);
    let alert = lines(&dir.join("alerts.jsonl")).remove(0);
    let bad = dir.join("bad.jsonl");
    for mutate in [
        |a: &mut serde_json::Value| a["undocumented"] = serde_json::json!(1),
        |a: &mut serde_json::Value| a["tags"] = serde_json::json!(["OWASP-3"]),
        |a: &mut serde_json::Value| {
            a.as_object_mut().unwrap().remove("host");
        },
    ] {
        let mut a = alert.clone();
        mutate(&mut a);
        std::fs::write(&bad, format!("{a}\n")).unwrap();
        assert!(!check("alert", &bad).0, "{a}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ocsf_records_are_valid_detection_findings_and_http_activity() {
    let dir = scratch("ocsf");
    write_records(&dir, RecordFormat::Ocsf, Some("node-a"));
    let findings = lines(&dir.join("alerts.jsonl"));
    assert!(findings.iter().all(|f| f["class_uid"] == 2004));
    // A summary updates the finding its first occurrence created.
    let update = findings
        .iter()
        .find(|f| f["activity_id"] == 2)
        .expect("a summary");
    let uid = &update["finding_info"]["uid"];
    let created: Vec<_> = findings
        .iter()
        .filter(|f| &f["finding_info"]["uid"] == uid)
        .collect();
    assert_eq!(created[0]["activity_id"], 1);
    assert_eq!(update["count"], 3);
    assert!(
        update["finding_info"]["last_seen_time"].as_i64()
            > update["finding_info"]["first_seen_time"].as_i64()
    );
    assert_eq!(update["metadata"]["product"]["name"], "sensor");
    assert_eq!(update["device"]["hostname"], "web-1");
    let analytic = &update["finding_info"]["analytic"];
    assert_eq!(analytic["type"], "Rule");
    assert_eq!(analytic["uid"], analytic["name"]);
    assert!(update["finding_info"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t.as_str().unwrap().ends_with(":2023")));
    let activity = lines(&dir.join("exchanges.jsonl"));
    assert!(activity
        .iter()
        .all(|a| a["class_uid"] == 4002 && a["activity_id"] == 3));
    let token = github_token("ghp_");
    for raw in [
        "ann.lee@acme-mail.io",
        "4539 5787 6362 1486",
        "536-22-8726",
        &token,
    ] {
        for file in ["alerts.jsonl", "exchanges.jsonl"] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            assert!(!text.contains(raw), "{raw} in {file}");
        }
    }
    validate("ocsf", &dir.join("alerts.jsonl"));
    validate("ocsf", &dir.join("exchanges.jsonl"));
    // The OCSF check can fail too: a severity OCSF does not define.
    let mut bad = update.clone();
    bad["severity_id"] = serde_json::json!(9);
    std::fs::write(dir.join("bad.jsonl"), format!("{bad}\n")).unwrap();
    assert!(!check("ocsf", &dir.join("bad.jsonl")).0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The capture events of `n` leaky exchanges on one keep-alive connection
/// between two processes of this host, as the kernel delivers them: the
/// client's socket (pid 200) and the server's (pid 100) each their own
/// connection, the server's view of each exchange completing first.
fn both_ends(n: u64) -> Vec<crate::capture::CaptureEvent> {
    use crate::capture::{CaptureEvent, ConnId, Direction, Role};
    let server: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let client: std::net::SocketAddr = "127.0.0.1:50123".parse().unwrap();
    let conn = |pid| ConnId {
        pid,
        fd: 5,
        generation: 1,
    };
    let open = |pid, role, local, remote, comm: &str| CaptureEvent::Open {
        conn: conn(pid),
        ts_ns: 1,
        comm: comm.into(),
        role: Some(role),
        guessed_role: None,
        remote: Some(remote),
        local: Some(local),
        listener_fd: None,
        tls: false,
    };
    let request = "GET /api/users/42 HTTP/1.1\r\nHost: api.acme.io\r\n\r\n";
    let body = r#"{"email":"ann.lee@acme-mail.io","card":"4539 5787 6362 1486"}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let data = |pid, ts_ns, direction, i: u64, bytes: &str| CaptureEvent::Data {
        conn: conn(pid),
        ts_ns,
        direction,
        stream_offset: i * bytes.len() as u64,
        syscall_offset: i * bytes.len() as u64,
        syscall_len: bytes.len() as u32,
        data: bytes::Bytes::copy_from_slice(bytes.as_bytes()),
        tls: false,
    };
    let mut events = vec![
        open(200, Role::Client, client, server, "curl"),
        open(100, Role::Server, server, client, "api"),
    ];
    for i in 0..n {
        let ts = 1_000_000 * (i + 1);
        events.push(data(200, ts, Direction::Egress, i, request));
        events.push(data(100, ts + 1, Direction::Ingress, i, request));
        events.push(data(100, ts + 2, Direction::Egress, i, &response));
        events.push(data(200, ts + 3, Direction::Ingress, i, &response));
    }
    events
}

#[test]
fn an_exchange_between_two_local_processes_is_one_record_and_one_alert_each() {
    let dir = scratch("both-ends");
    let config = OutputConfig {
        alerts: dir.join("alerts.jsonl"),
        exchanges: Some(dir.join("exchanges.jsonl")),
        state_dir: dir.to_owned(),
        ..OutputConfig::default()
    };
    let policy = AlertsConfig::default();
    let resolver: crate::conntrack::Resolver = Box::new(crate::conntrack::resolve);
    let mut session = Session::new(
        Pipeline::new(&CaptureConfig::default(), &LimitsConfig::default(), START)
            .with_resolver(resolver),
        Analysis::new(detector(&DetectConfig::default())).with_alert_policy(&policy),
        Outputs::open(&config).unwrap().with_alert_policy(&policy),
    );
    for event in both_ends(3) {
        session.handle(event);
    }
    session.deliver_done().unwrap();
    session.finish(10_000_000_000).unwrap();
    let counters = session.stats(crate::stats::SourceStats::Replay {
        file: String::new(),
        capture: Default::default(),
    });
    assert_eq!(counters.pairing.both_ends, 3);
    // The client's first view is dropped as the server's duplicate; that
    // mutes the client end, whose later bytes are dropped unread.
    assert_eq!(counters.pairing.duplicate_views, 1);
    assert_eq!(counters.pairing.muted_ends, 1);
    let request = "GET /api/users/42 HTTP/1.1\r\nHost: api.acme.io\r\n\r\n";
    let body = r#"{"email":"ann.lee@acme-mail.io","card":"4539 5787 6362 1486"}"#;
    let response_len = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .len();
    assert_eq!(
        counters.pipeline.muted_bytes,
        2 * (request.len() + response_len) as u64,
        "the client's second and third exchanges"
    );

    let exchanges = lines(&dir.join("exchanges.jsonl"));
    assert_eq!(exchanges.len(), 3, "one record per exchange");
    for x in &exchanges {
        assert_eq!(x["pid"], 100, "{x}");
        assert_eq!(x["comm"], "api", "{x}");
        assert_eq!(x["role"], "server", "{x}");
        assert_eq!(x["peer"]["pid"], 200, "{x}");
        assert_eq!(x["peer"]["comm"], "curl", "{x}");
    }
    let alerts = lines(&dir.join("alerts.jsonl"));
    let rules: Vec<&str> = alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    let distinct: std::collections::BTreeSet<&str> = rules.iter().copied().collect();
    assert!(rules.contains(&"pii.card"), "{rules:?}");
    // Each rule once, then its summary of the 3 exchanges (not of 6 views).
    for rule in &distinct {
        let of_rule: Vec<_> = alerts.iter().filter(|a| a["rule"] == *rule).collect();
        assert_eq!(of_rule.len(), 2, "{rule}: {of_rule:?}");
        assert_eq!(of_rule[1]["count"], 3);
    }
    for a in &alerts {
        // The leak is in the response: about the server, the client as peer.
        assert_eq!(a["process"]["pid"], 100);
        assert_eq!(a["connection"]["role"], "server");
        assert_eq!(a["peer"]["pid"], 200);
    }
    validate("alert", &dir.join("alerts.jsonl"));
    validate("exchange", &dir.join("exchanges.jsonl"));
    let _ = std::fs::remove_dir_all(&dir);
}
