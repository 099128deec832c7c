//! rustls end to end: a Rust HTTPS server (started before the sensor,
//! found by the start-up scan) and a Rust client (started after it, found
//! through its exec), both built here from tests/servers/rustls with
//! rustls 0.23 over std's TCP, exchange JSON with a planted key over TLS
//! on loopback. The sensor must report the exchange from both sides,
//! exactly, marked `tls: true`, and alert on the key without writing it,
//! in each capture mode. The same client then posts to a server on
//! tokio-rustls (0.26) and tokio's multi-threaded runtime, whose reads go
//! through `Reader::into_first_chunk` and `consume` and whose tasks move
//! between worker threads. The client writes its request with one vectored
//! write (`Writer::write_vectored`), the server its response with `write`;
//! both read with `Reader::read`. A stripped copy of the program is reported as
//! not covered, with the reason.

use std::path::Path;
use std::process::Command;

use sensor_e2e::rustls::{build, copy, stripped_copy, RustlsServer};
use sensor_e2e::*;
use serde_json::Value;

const PATH: &str = "/v1/accounts/42";
/// What tests/servers/rustls sends and answers.
const REQUEST: &str = r#"{"note":"rotate the key","requested_by":"rustls-client"}"#;
/// The response's body: this, then 100,000 bytes of history and `"}`
/// (longer than rustls's 64 KiB outgoing limit: its write is taken in
/// parts, and each part must be captured once).
const RESPONSE_START: &str =
    r#"{"id":42,"owner":"rustls","aws_key_id":"AKIAZ7QW3RTLXJ5RUSTL","history":""#;
const RESPONSE_BYTES: usize = RESPONSE_START.len() + 100_000 + 2;
const PLANTED_KEY: &str = "AKIAZ7QW3RTLXJ5RUSTL";

fn attached(binary: &Path) -> String {
    format!(
        "TLS probes attached to the rustls program {}",
        binary.display()
    )
}

/// Runs the client against the server once the sensor has attached its
/// probes to the client (its discovery races its start); returns its pid.
fn run_client(binary: &Path, port: u16, sensor: &Sensor) -> u32 {
    let mut client = Command::new(binary);
    client
        .arg("client")
        .arg(format!("https://127.0.0.1:{port}{PATH}"));
    let (pid, printed) = run_held_client(&mut client, sensor, &attached(binary));
    assert_eq!(printed.trim(), format!("200 {RESPONSE_BYTES}"));
    pid
}

#[test]
fn rustls_https_is_captured_from_both_sides_in_each_capture_mode() {
    let built = build();
    let dir = scratch_dir("rustls_tls_build");
    let server = copy(&built, &dir, "rustls-server");
    let tokio_server = copy(&built, &dir, "rustls-tokio-server");
    let client = copy(&built, &dir, "rustls-client");
    let stripped = stripped_copy(&built, &dir, "rustls-stripped");
    for mode in ["socket", "syscalls"] {
        case(&server, &tokio_server, &client, &stripped, mode);
    }
}

/// The two views of the exchange between the client `client_pid` and
/// `server`, exact and marked TLS.
fn check_pair(exchanges: &[Value], server: &RustlsServer, client_pid: u32, mode: &str) {
    let seen = on_port(exchanges, server.port);
    assert_eq!(seen.len(), 2, "{mode}: {}", dump(&seen));
    let client = seen
        .iter()
        .find(|e| e["pid"] == client_pid)
        .unwrap_or_else(|| panic!("{mode}: no client side: {}", dump(&seen)));
    let served = seen
        .iter()
        .find(|e| e["pid"] == server.child.id())
        .unwrap_or_else(|| panic!("{mode}: no server side: {}", dump(&seen)));
    let expected = ExpectedExchange {
        method: "POST",
        path: PATH,
        status: 200,
        request_bytes: REQUEST.len() as u64,
        response_bytes: RESPONSE_BYTES as u64,
        tls: true,
    };
    expected.assert_seen_by(client, "client", mode);
    expected.assert_seen_by(served, "server", mode);
    assert_eq!(
        client["remote"],
        format!("127.0.0.1:{}", server.port),
        "{client}"
    );
}

/// The key in `server`'s response alerted once per side.
fn check_alert(alerts: &[Value], server: &RustlsServer, mode: &str) {
    let host = format!("127.0.0.1:{}", server.port);
    let key_alerts: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            a["rule"] == "secret.aws_access_key_id" && a["endpoint"]["host"] == host.as_str()
        })
        .collect();
    assert!(!key_alerts.is_empty(), "{mode}: {}", dump(alerts));
    assert!(
        key_alerts.iter().all(|a| a["tls"] == true),
        "{}",
        dump(alerts)
    );
    // Both responses (each side's view) carried the key.
    let count = key_alerts
        .iter()
        .map(|a| a["count"].as_u64().unwrap())
        .max();
    assert_eq!(count, Some(2), "{mode}: {}", dump(alerts));
}

fn case(server_bin: &Path, tokio_bin: &Path, client_bin: &Path, stripped: &Path, mode: &str) {
    let dir = scratch_dir(&format!("rustls_tls_{mode}"));
    let config = dir.join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\nmode = {mode:?}\n# Each end's own view is what this test checks.\npair_local_ends = false\n\n[output]\nstate_dir = {:?}\n\n[metrics]\nenabled = false\n",
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    let server = RustlsServer::start(server_bin, &dir);
    let tokio_server = RustlsServer::start_as(tokio_bin, &dir, "tokio-server");
    // Running while the sensor starts: the start-up scan looks at it.
    let stripped_server = RustlsServer::start(stripped, &dir);
    let config = config.display().to_string();
    let sensor = Sensor::start(&dir, &["--config", &config]);
    for binary in [server_bin, tokio_bin] {
        sensor.wait_for_log(&attached(binary));
    }
    let client_pid = run_client(client_bin, server.port, &sensor);
    sensor.wait_for("both sides of the rustls request", |e| {
        on_port(e, server.port).len() >= 2
    });
    let tokio_client_pid = run_client(client_bin, tokio_server.port, &sensor);
    sensor.wait_for("both sides of the tokio-rustls request", |e| {
        on_port(e, tokio_server.port).len() >= 2
    });
    drop(stripped_server);
    let out = sensor.stop();
    check_pair(&out.exchanges, &server, client_pid, mode);
    check_pair(&out.exchanges, &tokio_server, tokio_client_pid, mode);
    let alerts = read_jsonl(&out.alerts_file);
    for server in [&server, &tokio_server] {
        check_alert(&alerts, server, mode);
    }
    let tls = &out.stats["tls"];
    assert!(
        tls["rustls_programs_attached"].as_u64().unwrap() >= 3,
        "{tls}"
    );
    assert!(
        tls["rustls_programs_not_covered"].as_u64().unwrap() >= 1,
        "{tls}"
    );
    assert!(
        out.log.lines().any(|l| l.contains(&format!(
            "HTTPS of {} will not be captured: it is a program linking rustls without a symbol table",
            stripped.display()
        ))),
        "{}",
        out.log
    );
    out.assert_never_wrote(&[PLANTED_KEY]);
}
