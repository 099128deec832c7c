//! Go's crypto/tls end to end: a Go HTTPS server (started before the
//! sensor, found by the start-up scan) and a Go client (started after it,
//! found through its exec), both built here from tests/servers/go with
//! Debian's Go, exchange JSON with a planted key over TLS on loopback. The
//! sensor must report the exchange from both sides, exactly, marked
//! `tls: true`, and alert on the key without writing it. The same again
//! between stripped builds (`-ldflags=-s -w`: functions found through Go's
//! own function table), from a stripped position-independent client, and
//! between programs built by Go 1.15 (the stack ABI, before Go 1.17: a
//! server with its symbol table and DWARF, a stripped client whose
//! functions are in the Go 1.2–1.15 function table layout).

use std::path::{Path, PathBuf};
use std::process::Command;

use sensor_e2e::go::{build, build_old, GoServer};
use sensor_e2e::*;
use serde_json::Value;

const PATH: &str = "/v1/accounts/42";
/// What tests/servers/go/client.go sends.
const REQUEST: &str = r#"{"note":"rotate the key","requested_by":"go-client"}"#;
/// The key tests/servers/go/server.go plants in its response.
const PLANTED_KEY: &str = "AKIAZ7QW3RTLXJ5GOTLS";

/// Without the symbol table and DWARF.
const STRIPPED: &[&str] = &["-ldflags=-s -w"];
/// Position-independent and stripped.
const PIE_STRIPPED: &[&str] = &["-buildmode=pie", "-ldflags=-s -w"];

/// Runs the client against the server once the sensor has attached its
/// probes to it (the start-up of a program races its discovery, which
/// runs at the lowest priority); returns its pid and the response body's
/// length.
fn run_client(binary: &Path, port: u16, sensor: &Sensor) -> (u32, u64) {
    run_client_speaking(binary, port, sensor, "HTTP/1.1")
}

/// `run_client`, the client asking for `protocol` ("HTTP/2.0": ALPN h2),
/// which the response must have come over.
fn run_client_speaking(binary: &Path, port: u16, sensor: &Sensor, protocol: &str) -> (u32, u64) {
    let mut client = Command::new(binary);
    client
        .arg(format!("https://127.0.0.1:{port}{PATH}"))
        .args((protocol == "HTTP/2.0").then_some("h2"));
    let (pid, printed) = run_held_client(&mut client, sensor, &attached(binary));
    let fields: Vec<&str> = printed.split_whitespace().collect();
    assert_eq!(fields[0], "200", "{printed}");
    assert_eq!(fields[2], protocol, "{printed}");
    (pid, fields[1].parse().unwrap())
}

/// The client's POST of `REQUEST` over TLS, answered with
/// `response_bytes`.
fn posted(response_bytes: u64) -> ExpectedExchange<'static> {
    ExpectedExchange {
        method: "POST",
        path: PATH,
        status: 200,
        request_bytes: REQUEST.len() as u64,
        response_bytes,
        tls: true,
    }
}

fn seen_by(exchanges: &[Value], pid: u32) -> &Value {
    let found: Vec<&Value> = exchanges.iter().filter(|e| e["pid"] == pid).collect();
    assert_eq!(found.len(), 1, "pid {pid}:\n{}", dump(exchanges));
    found[0]
}

/// The Go programs, built once for every case.
struct Programs {
    server: PathBuf,
    client: PathBuf,
    stripped_server: PathBuf,
    stripped_client: PathBuf,
    pie_client: PathBuf,
    /// Built by Go 1.15.
    old_server: PathBuf,
    old_stripped_client: PathBuf,
}

#[test]
fn go_https_is_captured_from_both_sides_in_each_capture_mode() {
    let dir = scratch_dir("go_tls_build");
    let programs = Programs {
        server: build(&dir, "server.go", "go-server", &[]),
        client: build(&dir, "client.go", "go-client", &[]),
        stripped_server: build(&dir, "server.go", "go-server-stripped", STRIPPED),
        stripped_client: build(&dir, "client.go", "go-client-stripped", STRIPPED),
        pie_client: build(&dir, "client.go", "go-client-pie", PIE_STRIPPED),
        old_server: build_old(&dir, "server.go", "old-go-server", &[]),
        old_stripped_client: build_old(&dir, "client.go", "old-go-client", STRIPPED),
    };
    for mode in ["socket", "syscalls"] {
        case(&programs, mode);
    }
}

fn attached(binary: &Path) -> String {
    format!("TLS probes attached to the Go program {}", binary.display())
}

fn case(programs: &Programs, mode: &str) {
    let dir = scratch_dir(&format!("go_tls_{mode}"));
    // Socket mode attaches through uprobe_multi links, syscall mode
    // through perf_event_open uprobes (root holds CAP_SYS_ADMIN): both
    // ways of attaching carry the same cookies.
    let multi = mode == "socket";
    let config = dir.join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\nmode = {mode:?}\n# Each end's own view is what this test checks.\npair_local_ends = false\n\n[capture.tls]\nuprobe_multi = {multi}\n\n[output]\nstate_dir = {:?}\n\n[metrics]\nenabled = false\n",
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    let server = GoServer::start(&programs.server, &dir);
    let stripped_server = GoServer::start(&programs.stripped_server, &dir);
    let old_server = GoServer::start(&programs.old_server, &dir);
    let config = config.display().to_string();
    let sensor = Sensor::start(&dir, &["--config", &config]);
    // The servers ran before the sensor: the start-up scan finds them.
    for binary in [
        &programs.server,
        &programs.stripped_server,
        &programs.old_server,
    ] {
        sensor.wait_for_log(&attached(binary));
    }
    // Each client is found through its exec. Each pair: the client, the
    // server it talks to, and how many exchanges are seen once it is done.
    let pairs = [
        (&programs.client, &server, "go-client", 2),
        (
            &programs.stripped_client,
            &stripped_server,
            "go-client-strip",
            4,
        ),
        (&programs.pie_client, &server, "go-client-pie", 6),
        (
            &programs.old_stripped_client,
            &old_server,
            "old-go-client",
            8,
        ),
    ];
    let ports = [server.port, stripped_server.port, old_server.port];
    let seen_on_ports = |exchanges: &[Value]| -> Vec<Value> {
        ports.iter().flat_map(|&p| on_port(exchanges, p)).collect()
    };
    let mut clients = Vec::new();
    for (client, to, comm, seen) in pairs {
        let (pid, response_bytes) = run_client(client, to.port, &sensor);
        sensor.wait_for(&format!("both sides of {comm}'s request"), |e| {
            seen_on_ports(e).len() >= seen
        });
        clients.push((pid, to, comm, response_bytes));
    }
    let out = sensor.stop();
    let seen = seen_on_ports(&out.exchanges);
    assert_eq!(seen.len(), 8, "{mode}: {}", dump(&seen));
    // Syscall mode reads a client's local address from its socket when the
    // agent first handles the connection: a client that has exited by then
    // has none (see README), and is matched to the server's view whose
    // client address no other client has.
    let client_addrs: Vec<Value> = clients
        .iter()
        .map(|(pid, ..)| seen_by(&seen, *pid)["local"].clone())
        .collect();
    for (pid, to, comm, response_bytes) in &clients {
        let client = seen_by(&seen, *pid);
        let served: Vec<&Value> = seen
            .iter()
            .filter(|e| {
                e["pid"] == to.child.id()
                    && e["local"] == client["remote"]
                    && if client["local"].is_null() {
                        mode == "syscalls" && !client_addrs.contains(&e["remote"])
                    } else {
                        e["remote"] == client["local"]
                    }
            })
            .collect();
        assert_eq!(served.len(), 1, "{mode} {comm}: {}", dump(&seen));
        let expected = posted(*response_bytes);
        expected.assert_seen_by(client, "client", mode);
        expected.assert_seen_by(served[0], "server", mode);
        assert_eq!(client["comm"], *comm, "{client}");
        assert_eq!(
            client["remote"],
            format!("127.0.0.1:{}", to.port),
            "{client}"
        );
    }
    // The key is seen in eight responses, both sides of four requests:
    // four through the first server (two clients), two through each of
    // the others. Per server the first raises the alert; the others are
    // folded into the summary written at shutdown (`count`).
    let alerts = read_jsonl(&out.alerts_file);
    let key_alerts: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            a["rule"] == "secret.aws_access_key_id" && a["endpoint"]["path"] == "/v1/accounts/{id}"
        })
        .collect();
    assert!(!key_alerts.is_empty(), "{mode}: {}", dump(&alerts));
    for (port, responses) in [
        (server.port, 4),
        (stripped_server.port, 2),
        (old_server.port, 2),
    ] {
        let host = format!("127.0.0.1:{port}");
        let seen_count = key_alerts
            .iter()
            .filter(|a| a["endpoint"]["host"] == host.as_str())
            .map(|a| a["count"].as_u64().unwrap())
            .max();
        assert_eq!(
            seen_count,
            Some(responses),
            "{mode} {host}: {}",
            dump(&alerts)
        );
    }
    assert!(
        key_alerts.iter().all(|a| a["tls"] == true),
        "{}",
        dump(&alerts)
    );
    let tls = &out.stats["tls"];
    assert!(tls["go_programs_attached"].as_u64().unwrap() >= 7, "{tls}");
    assert_eq!(tls["go_programs_not_covered"], 0, "{tls}");
    // The stripped ones were found through Go's function table.
    for binary in [
        &programs.stripped_server,
        &programs.stripped_client,
        &programs.pie_client,
        &programs.old_stripped_client,
    ] {
        let line = attached(binary);
        assert!(
            out.log
                .lines()
                .any(|l| l.contains(&line) && l.contains("found in its .gopclntab")),
            "{line}\n{}",
            out.log
        );
    }
    // Go 1.15's programs run the stack-ABI probes; the server's offsets
    // were checked against its (compressed) DWARF.
    for (binary, layout) in [
        (
            &programs.old_server,
            "struct offsets checked against its DWARF",
        ),
        (
            &programs.old_stripped_client,
            "no DWARF, struct offsets assumed",
        ),
    ] {
        let line = attached(binary);
        assert!(
            out.log.lines().any(|l| l.contains(&line)
                && l.contains("(go1.15.15, stack ABI:")
                && l.contains(layout)),
            "{line}\n{}",
            out.log
        );
    }
    out.assert_never_wrote(&[PLANTED_KEY]);
}

/// Go's net/http speaks HTTP/2 over TLS when both ends offer it (ALPN):
/// the same probes carry its frames, and the exchange is decoded from
/// both sides as HTTP/2, the key alerted.
#[test]
fn go_http2_over_tls_is_captured_from_both_sides() {
    let dir = scratch_dir("go_tls_h2_build");
    let server = build(&dir, "server.go", "go-h2-server", &[]);
    let client = build(&dir, "client.go", "go-h2-client", &[]);
    for mode in ["socket", "syscalls"] {
        let dir = scratch_dir(&format!("go_tls_h2_{mode}"));
        let config = dir.join("sensor.toml");
        std::fs::write(
            &config,
            format!(
                "[capture]\nmode = {mode:?}\npair_local_ends = false\n\n[output]\nstate_dir = {:?}\n\n[metrics]\nenabled = false\n",
                dir.join("state").display().to_string()
            ),
        )
        .unwrap();
        let running = GoServer::start_with(&server, &dir, &["h2"]);
        let config = config.display().to_string();
        let sensor = Sensor::start(&dir, &["--config", &config]);
        sensor.wait_for_log(&attached(&server));
        let (pid, response_bytes) = run_client_speaking(&client, running.port, &sensor, "HTTP/2.0");
        sensor.wait_for("both sides of the HTTP/2 request", |e| {
            on_port(e, running.port).len() >= 2
        });
        let out = sensor.stop();
        let seen = on_port(&out.exchanges, running.port);
        assert_eq!(seen.len(), 2, "{mode}: {}", dump(&seen));
        for (role, e) in [
            ("client", seen_by(&seen, pid)),
            ("server", seen_by(&seen, running.child.id())),
        ] {
            posted(response_bytes).assert_seen_by(e, role, mode);
            assert_eq!(e["http_version"], "2", "{mode}: {e}");
        }
        let alerts = read_jsonl(&out.alerts_file);
        assert!(
            alerts
                .iter()
                .any(|a| a["rule"] == "secret.aws_access_key_id"
                    && a["tls"] == true
                    && a["http_version"] == "2"),
            "{mode}: {}",
            dump(&alerts)
        );
        out.assert_never_wrote(&[PLANTED_KEY]);
    }
}
