use crate::analysis::detect::tests::{detector, exchange, github_token};
use crate::analysis::detect::DetectConfig;
use crate::endpoint::EndpointKey;

use super::Alert;
use crate::origin::Origin;

/// A real alert (an email address in a response body) with id `a{n}`.
pub(crate) fn sample(n: usize) -> Alert {
    let x = exchange(
        "GET",
        "/api/users/7",
        &[("Host", "api.acme.io")],
        "",
        &[("Content-Type", "application/json")],
        r#"{"email":"ann.lee@acme-mail.io"}"#,
    );
    let findings = detector(&DetectConfig::default()).inspect(&x);
    let origin = Origin::new("web-1".into(), Some("node-a"));
    let mut alert = Alert::from_finding(
        &findings[0],
        &x,
        &EndpointKey::of(&x),
        x.completed_unix_ns,
        &origin,
    );
    alert.id = format!("a{n}");
    alert
}

/// `sample(n)` as the sinks receive it.
pub(crate) fn line(n: usize) -> crate::sink::worker::AlertLine {
    crate::sink::worker::AlertLine::new(sample(n)).unwrap()
}

#[test]
fn alert_has_the_issue_fields_and_no_raw_values() {
    let token = github_token("ghp_");
    let raw = [
        "4539 5787 6362 1486",
        "536-22-8726",
        "ann.lee@acme-mail.io",
        "hunter2-Secret",
        token.as_str(),
        "Zq8vT3xK",
        "YWxpY2U6czNjcjN0",
        "+1 415 867 2309",
    ];
    let body = format!(
        r#"{{"card":"{}","ssn":"{}","email":"{}","password":"{}","gh":"{}","db":"postgres://app:{}@db.internal:5432/x","phone":"{}"}}"#,
        raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[7]
    );
    let target = format!("/api/users?token={token}");
    let x = exchange(
        "GET",
        &target,
        &[
            ("Host", "api.acme.io"),
            ("Authorization", &format!("Basic {}", raw[6])),
        ],
        "",
        &[("Content-Type", "application/json")],
        &body,
    );
    let findings = detector(&DetectConfig::default()).inspect(&x);
    assert!(findings.len() >= 8, "{findings:?}");
    let mut ids = std::collections::HashSet::new();
    for f in &findings {
        let origin = Origin::new("web-1".into(), None);
        let alert = Alert::from_finding(f, &x, &EndpointKey::of(&x), x.completed_unix_ns, &origin);
        let json = serde_json::to_string(&alert).unwrap();
        let debug = format!("{alert:?} {f:?}");
        for value in raw {
            assert!(!json.contains(value), "{value} in {json}");
            assert!(!debug.contains(value), "{value} in {debug}");
        }
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        for key in [
            "ts",
            "id",
            "rule",
            "category",
            "severity",
            "summary",
            "endpoint",
            "status",
            "location",
            "evidence",
            "fingerprint",
            "occurrences",
            "count",
            "first_seen",
            "last_seen",
            "process",
            "connection",
            "tls",
            "schema_version",
            "host",
            "sensor",
            "tags",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {json}");
        }
        assert_eq!(v["endpoint"]["path"], "/api/users");
        assert_eq!(v["endpoint"]["host"], "api.acme.io");
        assert_eq!(v["ts"], "2023-11-14T22:13:20Z");
        assert_eq!(v["connection"]["role"], "server");
        assert_eq!(v["process"]["comm"], "api");
        assert_eq!(v["count"], 1);
        assert_eq!(v["first_seen"], v["ts"]);
        assert_eq!(v["last_seen"], v["ts"]);
        assert_eq!(v["host"], serde_json::json!({"hostname": "web-1"}));
        assert_eq!(v["sensor"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["schema_version"], crate::origin::SCHEMA_VERSION);
        assert_eq!(v["tags"].as_array().map(Vec::len), Some(2));
        assert!(ids.insert(alert.id.clone()));
    }
}

#[test]
fn with_both_ends_the_process_is_the_sender_of_the_message_and_the_other_is_the_peer() {
    use crate::exchange::{ConnectionInfo, Role};
    use crate::finding::Message;
    let token = github_token("ghp_");
    let x = exchange(
        "GET",
        &format!("/api/users?token={token}"),
        &[("Host", "api.acme.io")],
        "",
        &[("Content-Type", "application/json")],
        r#"{"email":"ann.lee@acme-mail.io"}"#,
    );
    // The analysed view is the server's (pid 42); the client is pid 7.
    let server = &*x.connection;
    assert_eq!(server.role, Role::Server);
    let client = ConnectionInfo {
        pid: 7,
        comm: "curl".into(),
        role: Role::Client,
        local: server.remote,
        remote: server.local,
        ..server.clone()
    };
    let findings = detector(&DetectConfig::default()).inspect(&x);
    let origin = Origin::new("web-1".into(), None);
    let mut seen = std::collections::HashSet::new();
    for f in &findings {
        let alert = Alert::from_finding(f, &x, &EndpointKey::of(&x), 1, &origin)
            .with_ends(server, Some(&client));
        let (pid, peer, role) = match f.location.message {
            Message::Response => (42, 7, "server"),
            Message::Request => (7, 42, "client"),
        };
        assert_eq!(alert.process.pid, pid, "{}", f.rule);
        assert_eq!(alert.peer.as_ref().map(|p| p.pid), Some(peer));
        assert_eq!(alert.connection.role, role);
        seen.insert(role);
        let json: serde_json::Value = serde_json::to_value(&alert).unwrap();
        assert_eq!(json["peer"]["pid"], peer);
        assert_eq!(json["peer"]["comm"], if peer == 7 { "curl" } else { "api" });
    }
    assert_eq!(seen.len(), 2, "a request and a response finding");
    // One end captured: no peer, and none written.
    let alone = Alert::from_finding(&findings[0], &x, &EndpointKey::of(&x), 1, &origin)
        .with_ends(server, None);
    assert!(alone.peer.is_none());
    assert!(serde_json::to_value(&alone).unwrap().get("peer").is_none());
}

#[test]
fn a_process_is_written_the_same_owned_or_borrowed() {
    use super::{Process, ProcessRef};
    let x = exchange("GET", "/", &[], "", &[], "");
    let mut conn = (*x.connection).clone();
    conn.process.exe = Some("/usr/bin/python3".into());
    conn.process.uid = Some(1000);
    conn.process.container_id = Some("ab".repeat(32));
    let owned = Process::of(&conn);
    let written = serde_json::to_value(&owned).unwrap();
    assert_eq!(
        written,
        serde_json::to_value(ProcessRef::of(&conn)).unwrap()
    );
    assert_eq!(written, serde_json::to_value(owned.as_ref()).unwrap());
    assert_eq!(written["exe"], "/usr/bin/python3");
}
