//! Content detection end to end: a real server leaking planted values of
//! every category, real curl, the real sensor on the real kernel, and the
//! alerts file as a security engineer reads it. The raw values must not
//! appear in anything the sensor wrote.

use sensor_e2e::*;
use serde_json::{json, Value};

/// Synthetic, format-valid values: the checksums hold, none is real.
fn planted() -> Value {
    json!({
        "email": "maria.gonzalez@fastmail.com",
        "ssn": "536-22-8461",
        "card": luhn_complete("453914880343646"),
        "bcrypt": "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "aws_key_id": "AKIAZ7QW3RTLXJ5N4KPV",
        "aws_secret": "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",
        "github_token": github_token("Zq8Wm3Rt9Xv2Lp8Ns4Kd1Jf6Hg0Bc5"),
        "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----",
    })
}

fn luhn_complete(prefix: &str) -> String {
    let sum: u32 = prefix
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    format!("{prefix}{}", (10 - sum % 10) % 10)
}

/// `ghp_` + 30 characters + the base62 CRC32 of those 30, as GitHub mints them.
fn github_token(body: &str) -> String {
    let mut crc = !0u32;
    for &byte in body.as_bytes() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut n = !crc;
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while digits.len() < 6 {
        digits.push(b'0');
    }
    digits.reverse();
    format!("ghp_{body}{}", String::from_utf8(digits).unwrap())
}

/// The leaky server, serving the planted values it returns.
fn leaky_server(dir: &std::path::Path) -> (Value, PyServer) {
    let values = planted();
    let values_file = dir.join("values.json");
    std::fs::write(&values_file, values.to_string()).unwrap();
    let server = PyServer::script(
        "leaky_server.py",
        &["--values", values_file.to_str().unwrap()],
    );
    (values, server)
}

#[test]
fn planted_leaks_are_alerted_and_never_repeated() {
    let dir = scratch_dir("detect");
    let (values, server) = leaky_server(&dir);
    let sensor = Sensor::start(&dir, &[]);
    for path in [
        "/api/users",
        "/api/config",
        "/api/crash",
        "/api/search",
        "/health",
    ] {
        let url = format!("http://127.0.0.1:{}{path}", server.port);
        // `-s` without `-f`: the 500s are part of the test.
        curl(&["-o", "/dev/null", &url]);
    }
    // curl's socket and the server's are both captured: one record per
    // exchange.
    sensor.wait_for("five requests", |e| on_port(e, server.port).len() >= 5);
    let out = sensor.stop();
    let alerts = read_jsonl(&out.alerts_file);
    assert!(!alerts.is_empty(), "no alerts; log:\n{}", out.log);
    // What a live run writes is what the published schema says.
    assert_valid_records("alert", &out.alerts_file);
    assert_valid_records("exchange", &dir.join("exchanges.jsonl"));

    for alert in &alerts {
        for field in [
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
        ] {
            assert!(!alert[field].is_null(), "alert without `{field}`: {alert}");
        }
        for field in ["method", "host", "path"] {
            assert!(alert["endpoint"][field].is_string(), "{alert}");
        }
        assert!(alert["process"]["pid"].is_u64(), "{alert}");
        assert!(["server", "client"].contains(&alert["connection"]["role"].as_str().unwrap()));
        assert!(
            ["low", "medium", "high", "critical"].contains(&alert["severity"].as_str().unwrap()),
            "{alert}"
        );
    }
    let on = |path: &str, category: &str| {
        alerts
            .iter()
            .filter(|a| a["endpoint"]["path"] == path && a["category"] == category)
            .count()
    };
    assert!(on("/api/users", "sensitive_data") > 0, "{}", dump(&alerts));
    assert!(on("/api/config", "secret") > 0, "{}", dump(&alerts));
    assert!(on("/api/crash", "verbose_error") > 0, "{}", dump(&alerts));
    assert!(on("/api/search", "verbose_error") > 0, "{}", dump(&alerts));
    let rules: std::collections::BTreeSet<(&str, &str)> = alerts
        .iter()
        .map(|a| {
            (
                a["endpoint"]["path"].as_str().unwrap(),
                a["rule"].as_str().unwrap(),
            )
        })
        .collect();
    for want in [
        ("/api/users", "pii.email"),
        ("/api/users", "pii.ssn"),
        ("/api/users", "pii.card"),
        ("/api/users", "secret.password_hash"),
        ("/api/config", "secret.aws_access_key_id"),
        ("/api/config", "secret.github_token"),
        ("/api/config", "secret.private_key"),
        ("/api/crash", "error.stack_trace.python"),
        ("/api/crash", "error.version_banner"),
        ("/api/search", "error.sql.mysql"),
    ] {
        assert!(rules.contains(&want), "no {want:?} in {rules:?}");
    }
    // Each banner (Server, X-Powered-By) is one finding for the host,
    // whichever side saw it: never repeated, never summarised.
    let host = format!("127.0.0.1:{}", server.port);
    let banners: Vec<&str> = alerts
        .iter()
        .filter(|a| a["rule"] == "error.version_banner" && a["endpoint"]["host"] == host.as_str())
        .map(|a| a["evidence"].as_str().unwrap())
        .collect();
    let distinct: std::collections::BTreeSet<&&str> = banners.iter().collect();
    assert_eq!(banners.len(), distinct.len(), "{}", dump(&alerts));
    assert_eq!(banners.len(), 2, "{}", dump(&alerts));
    let card = values["card"].as_str().unwrap();
    assert!(alerts.iter().any(|a| a["rule"] == "pii.card"
        && a["evidence"]
            .as_str()
            .unwrap()
            .ends_with(&card[card.len() - 4..])));
    assert!(
        alerts.iter().all(|a| a["endpoint"]["path"] != "/health"),
        "a clean endpoint alerted: {}",
        dump(&alerts)
    );

    // Both ends of one response are one leak: curl's and the server's
    // sockets are both captured, the exchange is analysed once, and each
    // alert names the server (the sender of the response the data is in)
    // as its process and curl as its peer. Nothing to fold: no summary.
    let users: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["endpoint"]["path"] == "/api/users" && a["category"] == "sensitive_data")
        .collect();
    assert!(!users.is_empty(), "{}", dump(&alerts));
    for alert in &users {
        assert_eq!(alert["count"], 1, "{}", dump(&alerts));
        let same = users
            .iter()
            .filter(|a| a["rule"] == alert["rule"] && a["fingerprint"] == alert["fingerprint"])
            .count();
        assert_eq!(same, 1, "one alert per leak: {}", dump(&alerts));
        assert_eq!(alert["connection"]["role"], "server", "{alert}");
        assert_eq!(alert["process"]["pid"], server.pid(), "{alert}");
        // Process context: the executable and user of each end.
        let exe = alert["process"]["exe"].as_str().unwrap_or_default();
        assert!(exe.contains("python"), "{alert}");
        assert_eq!(alert["process"]["uid"], 0, "{alert}");
        let peer = alert["peer"]["exe"].as_str().unwrap_or_default();
        assert!(peer.contains("curl"), "{alert}");
        assert_eq!(alert["peer"]["uid"], 0, "{alert}");
    }

    // The sensor must never become the leak.
    let written = out.written();
    for (name, raw) in values.as_object().unwrap() {
        let raw = raw.as_str().unwrap();
        // Long enough pieces that a match cannot be chance.
        let needles: Vec<&str> = if name == "private_key" {
            vec!["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"]
        } else {
            vec![raw]
        };
        for needle in needles {
            assert!(
                !written.contains(needle),
                "the raw {name} appears in the sensor's output"
            );
        }
    }
}

#[test]
fn every_alert_reaches_the_webhook_and_syslog() {
    let dir = scratch_dir("sinks");
    let (_, server) = leaky_server(&dir);
    let received = dir.join("webhook.jsonl");
    let receiver = PyServer::script(
        "webhook_receiver.py",
        &["--out", received.to_str().unwrap()],
    );
    let syslog = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "Bearer test-token\n").unwrap();
    let config = dir.join("sinks.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {state:?}\n\n[metrics]\nenabled = false\n\n\
             [[sinks.webhook]]\nurl = \"http://127.0.0.1:{port}/alerts\"\n\
             headers_from_file = {{ Authorization = {token:?} }}\nbatch_wait_ms = 100\n\n\
             [[sinks.syslog]]\ntransport = \"udp\"\naddress = \"{syslog}\"\n",
            state = dir.join("state").display().to_string(),
            port = receiver.port,
            token = token.display().to_string(),
            syslog = syslog.local_addr().unwrap(),
        ),
    )
    .unwrap();
    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    for path in ["/api/users", "/api/config", "/api/crash"] {
        curl(&[
            "-o",
            "/dev/null",
            &format!("http://127.0.0.1:{}{path}", server.port),
        ]);
    }
    sensor.wait_for("three requests", |e| on_port(e, server.port).len() >= 3);
    let out = sensor.stop();
    let written: Vec<String> = read_jsonl(&out.alerts_file)
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        written.len() >= 10,
        "{}",
        dump(&read_jsonl(&out.alerts_file))
    );

    // The sensor flushed its sinks before exiting: everything has arrived.
    let mut by_webhook: Vec<String> = std::fs::read_to_string(&received)
        .unwrap_or_default()
        .lines()
        .flat_map(|batch| serde_json::from_str::<Vec<Value>>(batch).unwrap())
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let mut by_syslog = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = syslog.recv(&mut buf) {
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        let json = &message[message.find(" - {").expect("RFC 5424 message") + 3..];
        let alert: Value = serde_json::from_str(json).unwrap();
        by_syslog.push(alert["id"].as_str().unwrap().to_owned());
    }
    let mut expected = written.clone();
    expected.sort();
    by_webhook.sort();
    by_syslog.sort();
    assert_eq!(by_webhook, expected, "webhook");
    assert_eq!(by_syslog, expected, "syslog");
    assert_eq!(out.stats["sinks"][0]["delivered"], written.len());
    assert_eq!(out.stats["sinks"][0]["dropped"], 0);
}

/// `[output] format = "ocsf"`: the live run's alerts file holds OCSF
/// Detection Findings and its exchanges file HTTP Activity, each valid
/// against the OCSF 1.5.0 schema, and neither holds a planted value.
#[test]
fn ocsf_output_is_valid_ocsf() {
    let dir = scratch_dir("ocsf");
    let (values, server) = leaky_server(&dir);
    let config = dir.join("ocsf.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {:?}\nformat = \"ocsf\"\n\n[metrics]\nenabled = false\n",
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    for path in ["/api/users", "/api/config", "/api/crash"] {
        curl(&[
            "-o",
            "/dev/null",
            &format!("http://127.0.0.1:{}{path}", server.port),
        ]);
    }
    // Each request, by the Host it names (one record per exchange: both
    // ends are captured).
    let host = format!("127.0.0.1:{}", server.port);
    sensor.wait_for("three requests", |e| {
        e.iter()
            .filter(|x| x["http_request"]["url"]["hostname"] == host.as_str())
            .count()
            >= 3
    });
    let out = sensor.stop();
    let findings = read_jsonl(&out.alerts_file);
    assert!(!findings.is_empty(), "no alerts; log:\n{}", out.log);
    assert!(
        findings.iter().all(|f| f["class_uid"] == 2004),
        "{}",
        dump(&findings)
    );
    assert_valid_records("ocsf", &out.alerts_file);
    assert_valid_records("ocsf", &dir.join("exchanges.jsonl"));
    let written = out.written();
    for value in values.as_object().unwrap().values() {
        let value = value.as_str().unwrap_or_default();
        if value.len() >= 8 {
            assert!(!written.contains(value), "{value} written");
        }
    }
}

/// A leak between two processes of this host, both captured: the kernel
/// sees the exchange on the client's socket and on the server's, and the
/// sensor analyses it once. One exchange record naming both processes,
/// one alert per finding (the server as `process`, the client as `peer`),
/// and the inventory counts one request.
#[test]
fn a_leak_between_two_local_processes_is_one_alert_naming_both() {
    let dir = scratch_dir("both_ends");
    let (_, server) = leaky_server(&dir);
    let sensor = Sensor::start(&dir, &[]);
    // A client that keeps its connection open a moment after the
    // exchange, as most do (keep-alive).
    let client = std::process::Command::new("python3")
        .args([
            "-c",
            "import http.client, sys, time\n\
             c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]))\n\
             c.request('GET', '/api/users')\n\
             r = c.getresponse()\n\
             assert r.status == 200 and r.read()\n\
             time.sleep(1)\n\
             c.close()\n",
            &server.port.to_string(),
        ])
        .spawn()
        .unwrap();
    let client_pid = client.id();
    let status = client.wait_with_output().unwrap().status;
    assert!(status.success());
    sensor.wait_for("the exchange", |e| !on_port(e, server.port).is_empty());
    let out = sensor.stop();

    let records = on_port(&out.exchanges, server.port);
    assert_eq!(records.len(), 1, "one record: {}", dump(&records));
    let record = &records[0];
    assert_eq!(record["pid"], server.pid(), "{record}");
    assert_eq!(record["role"], "server", "{record}");
    assert_eq!(record["peer"]["pid"], client_pid, "{record}");
    assert_eq!(record["peer"]["comm"], "python3", "{record}");
    // (Other processes on the host may be paired too: at least ours.)
    assert!(
        out.stats["pairing"]["both_ends"].as_u64() >= Some(1),
        "{}",
        out.stats
    );
    assert!(
        out.stats["pairing"]["duplicate_views"].as_u64() >= Some(1),
        "{}",
        out.stats
    );

    // This server's alerts only: the suite's other tests run alongside.
    let port = format!(":{}", server.port);
    let alerts: Vec<Value> = read_jsonl(&out.alerts_file)
        .into_iter()
        .filter(|a| {
            a["connection"]["local"]
                .as_str()
                .is_some_and(|l| l.ends_with(&port))
        })
        .collect();
    let card: Vec<&Value> = alerts.iter().filter(|a| a["rule"] == "pii.card").collect();
    assert_eq!(card.len(), 1, "one alert, no summary: {}", dump(&alerts));
    for alert in &alerts {
        assert_eq!(alert["count"], 1, "{}", dump(&alerts));
        assert_eq!(alert["process"]["pid"], server.pid(), "{alert}");
        assert_eq!(alert["connection"]["role"], "server", "{alert}");
        assert_eq!(alert["peer"]["pid"], client_pid, "{alert}");
    }
    assert_valid_records("alert", &out.alerts_file);
    assert_valid_records("exchange", &dir.join("exchanges.jsonl"));

    let inventory = std::process::Command::new(sensor_bin())
        .args(["inventory", "--format", "json", "--state-dir"])
        .arg(dir.join("state"))
        .output()
        .unwrap();
    assert!(inventory.status.success());
    let inventory: Value = serde_json::from_slice(&inventory.stdout).unwrap();
    let host = format!("127.0.0.1:{}", server.port);
    let users: Vec<&Value> = inventory["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["host"] == host.as_str() && e["template"] == "/api/users")
        .collect();
    assert_eq!(users.len(), 1, "{inventory}");
    assert_eq!(users[0]["requests"], 1, "{}", users[0]);
}
