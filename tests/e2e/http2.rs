//! HTTP/2 and gRPC end to end: nghttpd serving JSON over h2c and over TLS
//! with ALPN h2, driven by curl (prior knowledge, ALPN) and by nghttp with
//! many concurrent streams; `Upgrade: h2c` (curl and `nghttp -u`) through
//! nghttpx; a Python grpcio server and client with unary, streaming and
//! failing calls whose responses carry planted values in nested messages,
//! their field paths numbered, or named from a descriptor set. Checked:
//! the exchanges (method, path, status, exact sizes, `http_version`), the
//! alerts with their field paths, and that no planted value appears in
//! anything the sensor wrote.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sensor_e2e::*;
use serde_json::{json, Value};

const SSN: &str = "536-22-8461";
const AWS_KEY_ID: &str = "AKIAZ7QW3RTLXJ5N4KPV";

/// The JSON nghttpd serves: `users.json` leaks an SSN, `small.json` not.
fn docroot(dir: &Path) -> (PathBuf, usize, usize) {
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    let users = json!({"users": [{"name": "Maria Gonzalez", "ssn": SSN}]}).to_string();
    let small = json!({"ok": true, "items": [1, 2, 3]}).to_string();
    std::fs::write(root.join("users.json"), &users).unwrap();
    std::fs::write(root.join("small.json"), &small).unwrap();
    (root, users.len(), small.len())
}

/// A child process killed when the test ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nghttpd on a free port: h2c, or TLS with ALPN h2 when `tls` is given.
fn nghttpd(root: &Path, tls: Option<&(PathBuf, PathBuf)>) -> (Daemon, u16) {
    let port = free_port();
    let mut cmd = Command::new("nghttpd");
    cmd.arg("--address=127.0.0.1").arg("-d").arg(root);
    match tls {
        None => {
            cmd.arg("--no-tls").arg(port.to_string());
        }
        Some((cert, key)) => {
            cmd.arg(port.to_string()).arg(key).arg(cert);
        }
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting nghttpd (cargo xtask setup installs nghttp2-server)");
    wait_for_port(port);
    (Daemon(child), port)
}

/// nghttpx in cleartext on a free port in front of `backend` (nghttpd,
/// h2c): unlike nghttpd it accepts an HTTP/1.1 request's `Upgrade: h2c`.
fn nghttpx(backend: u16) -> (Daemon, u16) {
    let port = free_port();
    let child = Command::new("nghttpx")
        .arg(format!("--frontend=127.0.0.1,{port};no-tls"))
        .arg(format!("--backend=127.0.0.1,{backend};;proto=h2"))
        .args(["--workers=1", "--no-ocsp", "--conf=/dev/null"])
        .arg("--errorlog-file=/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting nghttpx (cargo xtask setup installs nghttp2-proxy)");
    wait_for_port(port);
    (Daemon(child), port)
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn by_comm<'a>(exchanges: &'a [Value], comm: &str) -> Vec<&'a Value> {
    exchanges.iter().filter(|e| e["comm"] == comm).collect()
}

/// A GET of `path` over HTTP/2, answered with `response_bytes`.
fn assert_exchange(e: &Value, path: &str, status: u64, response_bytes: usize, tls: bool) {
    let expected = ExpectedExchange {
        method: "GET",
        path,
        status,
        request_bytes: 0,
        response_bytes: response_bytes as u64,
        tls,
    };
    expected.assert_matches(e, "HTTP/2");
    assert_eq!(e["http_version"], "2", "{e}");
}

#[test]
fn nghttpd_over_h2c_with_curl_and_nghttp() {
    let dir = scratch_dir("http2_h2c");
    let (root, users_len, small_len) = docroot(&dir);
    let (_server, port) = nghttpd(&root, None);
    let sensor = Sensor::start_each_end(&dir, &[]);
    let base = format!("http://127.0.0.1:{port}");
    let body = curl(&["--http2-prior-knowledge", &format!("{base}/users.json")]);
    assert_eq!(body.len(), users_len);
    curl(&[
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        &format!("{base}/small.json"),
    ]);
    // 2 paths x 20 requests, concurrent streams on one connection.
    run_ok(
        "nghttp",
        &[
            "-n",
            "-m",
            "20",
            &format!("{base}/users.json"),
            &format!("{base}/small.json"),
        ],
    );
    let exchanges = sensor.wait_for("curl's and nghttp's exchanges", |e| {
        by_comm(e, "curl").len() >= 2 && by_comm(e, "nghttp").len() >= 40
    });
    let out = sensor.stop();
    let curl_seen = by_comm(&exchanges, "curl");
    let prior = curl_seen
        .iter()
        .find(|e| e["path"] == "/users.json")
        .expect("curl's prior-knowledge exchange");
    assert_exchange(prior, "/users.json", 200, users_len, false);
    assert_eq!(prior["role"], "client");
    assert_eq!(prior["host"], format!("127.0.0.1:{port}"));
    let second = curl_seen
        .iter()
        .find(|e| e["path"] == "/small.json")
        .expect("curl's second exchange");
    assert_exchange(second, "/small.json", 200, small_len, false);

    let streams = by_comm(&exchanges, "nghttp");
    assert_eq!(streams.len(), 40, "{}", dump(&exchanges));
    for e in &streams {
        let len = if e["path"] == "/users.json" {
            users_len
        } else {
            small_len
        };
        assert_exchange(e, e["path"].as_str().unwrap(), 200, len, false);
    }
    assert_eq!(
        streams
            .iter()
            .filter(|e| e["path"] == "/users.json")
            .count(),
        20
    );
    // nghttpd's side: it writes its SETTINGS first, the kernel recognises
    // that as well; every stream of both clients, exact as well.
    let served = by_comm(&out.exchanges, "nghttpd");
    assert_eq!(served.len(), 42, "{}", dump(&out.exchanges));
    for e in &served {
        assert_eq!(e["role"], "server", "{e}");
        let len = if e["path"] == "/users.json" {
            users_len
        } else {
            small_len
        };
        assert_exchange(e, e["path"].as_str().unwrap(), 200, len, false);
    }
    let h2 = &out.stats["http"]["h2"];
    assert!(h2["connections"].as_u64().unwrap() >= 6, "{h2}");
    assert_eq!(h2["header_blocks_undecodable"], 0, "{h2}");

    let alerts = read_jsonl(&out.alerts_file);
    assert!(
        alerts.iter().any(|a| a["rule"] == "pii.ssn"
            && a["endpoint"]["path"] == "/users.json"
            && a["http_version"] == "2"),
        "{}",
        dump(&alerts)
    );
    out.assert_never_wrote(&[SSN]);
}

#[test]
fn nghttpd_over_tls_with_alpn_h2() {
    let dir = scratch_dir("http2_tls");
    let (root, users_len, small_len) = docroot(&dir);
    let cert = self_signed_certificate(&dir);
    let (_server, port) = nghttpd(&root, Some(&cert));
    let sensor = Sensor::start_each_end(&dir, &[]);
    let base = format!("https://127.0.0.1:{port}");
    let body = curl(&["--http2", "-k", &format!("{base}/users.json")]);
    assert_eq!(body.len(), users_len);
    run_ok("nghttp", &["-n", "-m", "10", &format!("{base}/small.json")]);
    let exchanges = sensor.wait_for("curl's and nghttp's exchanges over TLS", |e| {
        !by_comm(e, "curl").is_empty() && by_comm(e, "nghttp").len() >= 10
    });
    let out = sensor.stop();
    let curl_seen = by_comm(&exchanges, "curl");
    assert_exchange(curl_seen[0], "/users.json", 200, users_len, true);
    let streams = by_comm(&exchanges, "nghttp");
    assert_eq!(streams.len(), 10, "{}", dump(&exchanges));
    for e in &streams {
        assert_exchange(e, "/small.json", 200, small_len, true);
    }
    let served = by_comm(&out.exchanges, "nghttpd");
    assert_eq!(served.len(), 11, "{}", dump(&out.exchanges));
    assert!(served
        .iter()
        .all(|e| e["role"] == "server" && e["tls"] == true));
    assert_eq!(out.stats["http"]["h2"]["header_blocks_undecodable"], 0);
    let alerts = read_jsonl(&out.alerts_file);
    assert!(
        alerts
            .iter()
            .any(|a| a["rule"] == "pii.ssn" && a["tls"] == true && a["http_version"] == "2"),
        "{}",
        dump(&alerts)
    );
    out.assert_never_wrote(&[SSN]);
}

/// `Upgrade: h2c` with real peers: curl `--http2` on an http:// URL and
/// `nghttp -u` ask nghttpx to upgrade; the request made in HTTP/1.1 is
/// stream 1, answered in HTTP/2 after the 101.
#[test]
fn upgrade_h2c_with_curl_and_nghttp_through_nghttpx() {
    let dir = scratch_dir("http2_upgrade");
    let (root, users_len, _) = docroot(&dir);
    let (_backend, backend_port) = nghttpd(&root, None);
    let (_proxy, port) = nghttpx(backend_port);
    let sensor = Sensor::start_each_end(&dir, &[]);
    let url = format!("http://127.0.0.1:{port}/users.json");
    assert_eq!(curl(&["--http2", &url]).len(), users_len);
    run_ok("nghttp", &["-u", &url]);
    // The proxy's own connection to nghttpd carries the same Host:
    // each end is picked by its command and role.
    let seen = |e: &[Value], comm: &str, role: &str| -> Vec<Value> {
        on_port(e, port)
            .into_iter()
            .filter(|x| x["comm"] == comm && x["role"] == role)
            .collect()
    };
    let exchanges = sensor.wait_for("both ends of both upgraded connections", |e| {
        seen(e, "curl", "client").len() + seen(e, "nghttp", "client").len() >= 2
            && seen(e, "nghttpx", "server").len() >= 2
    });
    let out = sensor.stop();
    for comm in ["curl", "nghttp"] {
        let client = seen(&exchanges, comm, "client");
        assert_eq!(client.len(), 1, "{comm}: {}", dump(&exchanges));
        assert_exchange(&client[0], "/users.json", 200, users_len, false);
    }
    let served = seen(&exchanges, "nghttpx", "server");
    assert_eq!(served.len(), 2, "{}", dump(&served));
    for e in &served {
        assert!(e["local"].as_str().unwrap().ends_with(&format!(":{port}")));
        assert_exchange(e, "/users.json", 200, users_len, false);
    }
    let h2 = &out.stats["http"]["h2"];
    // Each upgraded connection seen from both ends.
    assert!(h2["upgrades_h2c"].as_u64().unwrap() >= 4, "{h2}");
    assert_eq!(h2["header_blocks_undecodable"], 0, "{h2}");
    let alerts = read_jsonl(&out.alerts_file);
    assert!(
        alerts.iter().any(|a| a["rule"] == "pii.ssn"
            && a["http_version"] == "2"
            && a["endpoint"]["host"] == format!("127.0.0.1:{port}")),
        "{}",
        dump(&alerts)
    );
    out.assert_never_wrote(&[SSN]);
}

#[test]
fn grpc_calls_with_planted_values_in_nested_messages() {
    let dir = scratch_dir("http2_grpc");
    let values = dir.join("values.json");
    std::fs::write(
        &values,
        json!({"ssn": SSN, "aws_key_id": AWS_KEY_ID}).to_string(),
    )
    .unwrap();
    let server = PyServer::script("grpc_server.py", &["--values", values.to_str().unwrap()]);
    let sensor = Sensor::start_each_end(&dir, &[]);
    let client = run_ok(
        "python3",
        &[
            workspace_root()
                .join("tests/servers/grpc_client.py")
                .to_str()
                .unwrap(),
            "--port",
            &server.port.to_string(),
        ],
    );
    let calls: Vec<Value> = client
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len(), 3, "{client}");
    // Both sides: grpcio's client writes a request's frames with about 30
    // iovecs in one sendmsg, and the kernel walks every one of them.
    let side = |e: &[Value], role: &str| -> Vec<Value> {
        on_port(e, server.port)
            .into_iter()
            .filter(|x| x["role"] == role)
            .collect()
    };
    let server_side = |e: &[Value]| side(e, "server");
    let exchanges = sensor.wait_for("both sides of the three calls", |e| {
        server_side(e).len() >= 3 && side(e, "client").len() >= 3
    });
    let out = sensor.stop();
    let seen = server_side(&exchanges);
    for call in &calls {
        let path = call["path"].as_str().unwrap();
        let e = seen
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("no exchange for {path}: {}", dump(&seen)));
        assert_eq!(e["method"], "POST", "{e}");
        assert_eq!(e["status"], 200, "{e}");
        assert_eq!(e["http_version"], "2", "{e}");
        assert_eq!(
            e["request_bytes"],
            5 + call["request_len"].as_u64().unwrap(),
            "{e}"
        );
        let lens: Vec<u64> = call["response_lens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        match path {
            "/leak.v1.Accounts/GetAccount" => {
                assert_eq!(e["grpc_status"], 0, "{e}");
                assert_eq!(e["response_bytes"], 5 + lens[0], "{e}");
            }
            "/leak.v1.Accounts/ListAccounts" => {
                // Compressed with gzip: more than the prefixes, size not
                // predictable from the uncompressed lengths.
                assert_eq!(lens.len(), 3);
                assert_eq!(e["grpc_status"], 0, "{e}");
                assert!(e["response_bytes"].as_u64().unwrap() > 15, "{e}");
            }
            _ => {
                assert_eq!(call["code"], "INTERNAL");
                assert_eq!(e["grpc_status"], 13, "{e}");
                assert_eq!(e["response_bytes"], 0, "{e}");
            }
        }
    }

    // The client's side decoded every call, exactly as the server's did.
    let client_side = side(&exchanges, "client");
    for call in &calls {
        let path = call["path"].as_str().unwrap();
        let e = client_side
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| {
                panic!("no client-side exchange for {path}: {}", dump(&client_side))
            });
        assert!(
            seen.iter().any(|s| s["path"] == e["path"]
                && s["request_bytes"] == e["request_bytes"]
                && s["response_bytes"] == e["response_bytes"]
                && s["grpc_status"] == e["grpc_status"]),
            "{e}"
        );
    }
    assert_eq!(
        out.stats["http"]["h2"]["header_blocks_undecodable"].as_u64(),
        Some(0),
        "{}",
        out.stats["http"]
    );

    let all_alerts = read_jsonl(&out.alerts_file);
    // This server's only: the other tests' servers run at the same time.
    let port = format!(":{}", server.port);
    let alerts: Vec<&Value> = all_alerts
        .iter()
        .filter(|a| {
            a["connection"]["role"] == "server"
                && a["connection"]["local"]
                    .as_str()
                    .is_some_and(|l| l.ends_with(&port))
        })
        .collect();
    let at = |rule: &str, location: &str| {
        alerts
            .iter()
            .any(|a| a["rule"] == rule && a["location"]["name"] == location)
    };
    for (rule, location) in [
        ("pii.ssn", "/leak.v1.Accounts/GetAccount $.2.3.1"),
        (
            "secret.aws_access_key_id",
            "/leak.v1.Accounts/GetAccount $.2.4.1",
        ),
        ("pii.ssn", "/leak.v1.Accounts/ListAccounts $.2.3.1"),
        (
            "secret.aws_access_key_id",
            "/leak.v1.Accounts/ListAccounts $.2.4.1",
        ),
        ("error.stack_trace.python", "grpc-message"),
    ] {
        assert!(
            at(rule, location),
            "no {rule} at {location}: {}",
            dump(&all_alerts)
        );
    }
    for a in &alerts {
        assert_eq!(a["endpoint"]["method"], "POST", "{a}");
        assert_eq!(a["http_version"], "2", "{a}");
    }
    out.assert_never_wrote(&[SSN, AWS_KEY_ID]);
}

/// The same calls with a descriptor set in the config, compiled from
/// `tests/servers/leak.proto` by grpcio-tools' protoc: the planted values
/// are alerted at named field paths, none numbered. A missing or invalid
/// descriptor set is refused by `check-config` and `run`, naming it.
#[test]
fn grpc_field_paths_named_from_a_descriptor_set() {
    let dir = scratch_dir("http2_grpc_named");
    let descriptors = dir.join("leak.pb");
    let servers = workspace_root().join("tests/servers");
    run_ok(
        "python3",
        &[
            "-m",
            "grpc_tools.protoc",
            "--include_imports",
            &format!("--descriptor_set_out={}", descriptors.display()),
            "-I",
            servers.to_str().unwrap(),
            "leak.proto",
        ],
    );
    refused_descriptor_sets(&dir);

    let values = dir.join("values.json");
    std::fs::write(
        &values,
        json!({"ssn": SSN, "aws_key_id": AWS_KEY_ID}).to_string(),
    )
    .unwrap();
    let server = PyServer::script("grpc_server.py", &["--values", values.to_str().unwrap()]);
    let grpc = format!(
        "\n[grpc]\ndescriptor_sets = [{:?}]\n",
        descriptors.display().to_string()
    );
    let sensor = Sensor::start_each_end_with(&dir, &[], &grpc);
    let client = run_ok(
        "python3",
        &[
            servers.join("grpc_client.py").to_str().unwrap(),
            "--port",
            &server.port.to_string(),
        ],
    );
    assert_eq!(client.lines().count(), 3, "{client}");
    sensor.wait_for("the server's side of the three calls", |e| {
        on_port(e, server.port)
            .iter()
            .filter(|x| x["role"] == "server")
            .count()
            >= 3
    });
    let out = sensor.stop();
    assert!(
        out.log
            .contains("gRPC field paths named for 3 methods from grpc.descriptor_sets"),
        "{}",
        out.log
    );
    let all_alerts = read_jsonl(&out.alerts_file);
    let port = format!(":{}", server.port);
    let alerts: Vec<&Value> = all_alerts
        .iter()
        .filter(|a| {
            a["connection"]["role"] == "server"
                && a["connection"]["local"]
                    .as_str()
                    .is_some_and(|l| l.ends_with(&port))
        })
        .collect();
    for method in ["GetAccount", "ListAccounts"] {
        for (rule, field) in [
            ("pii.ssn", "owner.identity.ssn"),
            ("secret.aws_access_key_id", "owner.credentials.aws_key_id"),
        ] {
            let location = format!("/leak.v1.Accounts/{method} $.{field}");
            assert!(
                alerts
                    .iter()
                    .any(|a| a["rule"] == rule && a["location"]["name"] == location),
                "no {rule} at {location}: {}",
                dump(&all_alerts)
            );
        }
    }
    // Every field on the way is declared: no numbered segment anywhere.
    for a in &alerts {
        let name = a["location"]["name"].as_str().unwrap_or_default();
        if let Some((_, path)) = name.split_once(" $") {
            assert!(
                !path
                    .split('.')
                    .any(|s| s.starts_with(|c: char| c.is_ascii_digit())),
                "{a}"
            );
        }
    }
    out.assert_never_wrote(&[SSN, AWS_KEY_ID]);
}

/// `check-config` and `run` refuse a descriptor set that is missing or is
/// not one, naming the key and the file.
fn refused_descriptor_sets(dir: &Path) {
    let proto = workspace_root().join("tests/servers/leak.proto");
    for (bad, why) in [
        (dir.join("absent.pb"), "cannot read descriptor set"),
        (proto, "is not a usable protobuf descriptor set"),
    ] {
        let config = dir.join("bad-grpc.toml");
        std::fs::write(
            &config,
            format!(
                "[grpc]\ndescriptor_sets = [{:?}]\n",
                bad.display().to_string()
            ),
        )
        .unwrap();
        for args in [
            vec!["check-config", config.to_str().unwrap()],
            vec!["run", "--config", config.to_str().unwrap()],
        ] {
            let out = Command::new(sensor_bin()).args(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} accepted {bad:?}");
            assert!(
                stderr.contains("grpc.descriptor_sets")
                    && stderr.contains(&*bad.to_string_lossy())
                    && stderr.contains(why),
                "{args:?}: {stderr}"
            );
        }
    }
}
