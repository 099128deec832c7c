//! Go's crypto/tls end to end: a Go HTTPS server (started before the
//! sensor, found by the start-up scan) and a Go client (started after it,
//! found through its exec), both built here from tests/servers/go with
//! Debian's Go, exchange JSON with a planted key over TLS on loopback. The
//! sensor must report the exchange from both sides, exactly, marked
//! `tls: true`, and alert on the key without writing it. A stripped build
//! of the same client is reported as not covered, never half-captured.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sensor_e2e::*;
use serde_json::Value;

const PATH: &str = "/v1/accounts/42";
/// What tests/servers/go/client.go sends.
const REQUEST: &str = r#"{"note":"rotate the key","requested_by":"go-client"}"#;
/// The key tests/servers/go/server.go plants in its response.
const PLANTED_KEY: &str = "AKIAZ7QW3RTLXJ5GOTLS";

/// Debian's golang-go puts `go` on the PATH (cargo xtask setup installs it).
fn go() -> PathBuf {
    for candidate in [
        "/usr/bin/go",
        "/usr/lib/go-1.19/bin/go",
        "/usr/local/go/bin/go",
    ] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("no Go toolchain: cargo xtask setup installs Debian's golang-go");
}

/// `go build` of tests/servers/go/`source` into `dir`/`name`, offline and
/// with the standard library only; `stripped` drops the symbol table and
/// DWARF (`-ldflags=-s -w`).
fn build(dir: &Path, source: &str, name: &str, stripped: bool) -> PathBuf {
    let out_path = dir.join(name);
    let mut command = Command::new(go());
    command.arg("build").arg("-o").arg(&out_path);
    if stripped {
        command.arg("-ldflags=-s -w");
    }
    let out = command
        .arg(workspace_root().join("tests/servers/go").join(source))
        .current_dir(dir)
        // The cache outlives the test's directory: the standard library
        // is compiled once per machine, not per run.
        .env("GOCACHE", workspace_root().join("target/go-cache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GO111MODULE", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go build {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out_path
}

struct GoServer {
    child: Child,
    port: u16,
}

impl GoServer {
    fn start(binary: &Path, dir: &Path) -> Self {
        let (cert, key) = self_signed_certificate(dir);
        let port = free_port();
        let mut child = Command::new(binary)
            .arg(format!("127.0.0.1:{port}"))
            .arg(cert)
            .arg(key)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "listening", "the Go server did not start");
        Self { child, port }
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the client against the server once the sensor's log says `seen`
/// about it (the start-up of a program races its discovery, which runs at
/// the lowest priority); returns its pid and the response body's length.
fn run_client(binary: &Path, port: u16, sensor_log: &Path, seen: &str) -> (u32, u64) {
    let mut child = Command::new(binary)
        .arg(format!("https://127.0.0.1:{port}{PATH}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_until(
        &format!("the sensor to log `{seen}`"),
        20,
        || std::fs::read_to_string(sensor_log).is_ok_and(|log| log.contains(seen)),
        || std::fs::read_to_string(sensor_log).unwrap_or_default(),
    );
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the Go client failed: {printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, length) = printed.trim().split_once(' ').unwrap();
    assert_eq!(status, "200", "{printed}");
    (pid, length.parse().unwrap())
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
    stripped: PathBuf,
}

#[test]
fn go_https_is_captured_from_both_sides_in_each_capture_mode() {
    let dir = scratch_dir("go_tls_build");
    let programs = Programs {
        server: build(&dir, "server.go", "go-server", false),
        client: build(&dir, "client.go", "go-client", false),
        stripped: build(&dir, "client.go", "go-client-stripped", true),
    };
    for mode in ["socket", "syscalls"] {
        case(&programs, mode);
    }
}

fn case(programs: &Programs, mode: &str) {
    let dir = scratch_dir(&format!("go_tls_{mode}"));
    let (server_bin, client_bin, stripped_bin) =
        (&programs.server, &programs.client, &programs.stripped);
    let config = dir.join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\nmode = {mode:?}\n# Each end's own view is what this test checks.\npair_local_ends = false\n\n[output]\nstate_dir = {:?}\n\n[metrics]\nenabled = false\n",
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    let server = GoServer::start(server_bin, &dir);
    let config = config.display().to_string();
    let sensor = Sensor::start(&dir, &["--config", &config]);
    let log = dir.join("sensor.log");
    let attached = format!(
        "TLS probes attached to the Go program {}",
        client_bin.display()
    );
    let (client_pid, response_bytes) = run_client(client_bin, server.port, &log, &attached);
    sensor.wait_for("both sides of the Go HTTPS request", |e| {
        on_port(e, server.port).len() >= 2
    });
    // The stripped client is not covered: its request is made, and only
    // the server's side of it is seen.
    let not_covered = "go-client-stripped will not be captured: it is a stripped Go program";
    let (stripped_pid, _) = run_client(stripped_bin, server.port, &log, not_covered);
    sensor.wait_for("the server's side of the stripped client's request", |e| {
        on_port(e, server.port).len() >= 3
    });
    let out = sensor.stop();
    let seen = on_port(&out.exchanges, server.port);
    let client = seen_by(&seen, client_pid);
    let served: Vec<&Value> = seen
        .iter()
        .filter(|e| e["pid"] == server.child.id())
        .collect();
    assert_eq!(served.len(), 2, "{}", dump(&seen));
    for (role, e) in [
        ("client", client),
        ("server", served[0]),
        ("server", served[1]),
    ] {
        assert_eq!(e["tls"], true, "{mode}: {e}");
        assert_eq!(e["role"], role, "{e}");
        assert_eq!(e["method"], "POST", "{e}");
        assert_eq!(e["path"], PATH, "{e}");
        assert_eq!(e["status"], 200, "{e}");
        assert_eq!(e["request_bytes"], REQUEST.len() as u64, "{e}");
        assert_eq!(e["response_bytes"], response_bytes, "{e}");
        assert_eq!(e["truncated"], false, "{e}");
    }
    assert_eq!(client["comm"], "go-client", "{client}");
    assert_eq!(
        client["remote"],
        format!("127.0.0.1:{}", server.port),
        "{client}"
    );
    assert!(
        seen.iter().all(|e| e["pid"] != stripped_pid),
        "the stripped client was captured?\n{}",
        dump(&seen)
    );
    // The key is seen in three responses: the Go client's and the
    // server's sides of its request, and the server's side of the
    // stripped client's. The first raises the alert; the others are
    // folded into the summary written at shutdown (`count`).
    let alerts = read_jsonl(&out.alerts_file);
    let key_alerts: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            a["rule"] == "secret.aws_access_key_id" && a["endpoint"]["path"] == "/v1/accounts/{id}"
        })
        .collect();
    assert!(!key_alerts.is_empty(), "{mode}: {}", dump(&alerts));
    let seen_count: u64 = key_alerts
        .iter()
        .map(|a| a["count"].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(seen_count, 3, "{mode}: {}", dump(&alerts));
    assert!(
        key_alerts.iter().all(|a| a["tls"] == true),
        "{}",
        dump(&alerts)
    );
    let tls = &out.stats["tls"];
    assert!(tls["go_programs_attached"].as_u64().unwrap() >= 2, "{tls}");
    assert!(
        tls["go_programs_not_covered"].as_u64().unwrap() >= 1,
        "{tls}"
    );
    assert!(
        out.log
            .contains("go-client-stripped will not be captured: it is a stripped Go program"),
        "{}",
        out.log
    );
    let written = std::fs::read_to_string(&out.alerts_file).unwrap()
        + &std::fs::read_to_string(dir.join("exchanges.jsonl")).unwrap()
        + &out.log;
    assert!(
        !written.contains(PLANTED_KEY),
        "the planted key appears in the sensor's output"
    );
}
