//! HTTPS end to end: the sensor's uprobes on OpenSSL and GnuTLS, real TLS
//! clients (curl and openssl s_client with OpenSSL, gnutls-cli with GnuTLS)
//! started before and after the sensor, and a Python HTTPS server whose
//! `ssl` module links OpenSSL, all on loopback with a self-signed
//! certificate. What is checked is what a user reads: the exchanges and
//! alerts files, marked `"tls": true`, and the stats.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sensor_e2e::*;
use serde_json::{json, Value};

/// A self-signed certificate for 127.0.0.1, made with openssl.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl (cargo xtask setup installs it)");
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// tests/servers/tls_server.py: the plain test server's API over HTTPS, or
/// the leaky API when `values` is given.
fn https_server(dir: &Path, values: Option<&Path>) -> PyServer {
    https_server_with(dir, values, &[])
}

fn https_server_with(dir: &Path, values: Option<&Path>, extra: &[&str]) -> PyServer {
    let (cert, key) = certificate(dir);
    let mut args = vec![
        "--cert".to_owned(),
        cert.display().to_string(),
        "--key".to_owned(),
        key.display().to_string(),
    ];
    if let Some(values) = values {
        args.extend(["--values".to_owned(), values.display().to_string()]);
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    PyServer::script("tls_server.py", &args)
}

/// A TLS client that connects when started and sends what the test writes
/// to its stdin: gnutls-cli or openssl s_client.
struct InteractiveClient {
    child: Child,
    stdin: ChildStdin,
    /// Everything the client printed on stdout: its own messages and the
    /// server's responses.
    output: Arc<Mutex<Vec<u8>>>,
    /// How far into `output` responses have been read.
    read_up_to: usize,
    port: u16,
}

impl InteractiveClient {
    fn gnutls(port: u16) -> Self {
        let mut command = Command::new("gnutls-cli");
        command.args(["--insecure", "-p", &port.to_string(), "127.0.0.1"]);
        Self::start(command, port, "- Simple Client Mode:")
    }

    fn openssl(port: u16) -> Self {
        let mut command = Command::new("openssl");
        command.args(["s_client", "-connect", &format!("127.0.0.1:{port}")]);
        Self::start(command, port, "Verify return code")
    }

    /// Starts the client and waits until it printed `handshake_done`.
    fn start(mut command: Command, port: u16, handshake_done: &str) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a TLS client (cargo xtask setup installs gnutls-bin and openssl)");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let client = Self {
            child,
            stdin,
            output,
            read_up_to: 0,
            port,
        };
        client.wait_for("the TLS handshake", |out| {
            find(out, handshake_done.as_bytes()).is_some()
        });
        client
    }

    fn wait_for(&self, what: &str, done: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.output.lock().unwrap().clone();
            if done(&out[self.read_up_to..]) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the client printed:\n{}",
                String::from_utf8_lossy(&out)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `GET path` and waits for the whole response; returns its
    /// status and body length.
    fn get(&mut self, path: &str) -> (u16, usize) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        );
        self.send(request.as_bytes(), b"")
    }

    /// Sends `POST path` with `body` and waits for the whole response;
    /// returns its status and body length.
    fn post(&mut self, path: &str, body: &[u8]) -> (u16, usize) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\r\n",
            self.port,
            body.len()
        );
        self.send(head.as_bytes(), body)
    }

    /// Writes a request's head and body and waits for the whole
    /// response; returns its status and body length.
    fn send(&mut self, head: &[u8], body: &[u8]) -> (u16, usize) {
        self.stdin.write_all(head).unwrap();
        self.stdin.write_all(body).unwrap();
        self.stdin.flush().unwrap();
        self.wait_for("a response", |out| complete_response(out).is_some());
        let out = self.output.lock().unwrap().clone();
        let (status, body, end) = complete_response(&out[self.read_up_to..]).unwrap();
        self.read_up_to += end;
        (status, body)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for InteractiveClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first complete HTTP/1.1 response (with Content-Length) in `out`:
/// its status, body length, and where it ends.
fn complete_response(out: &[u8]) -> Option<(u16, usize, usize)> {
    let start = find(out, b"HTTP/1.1 ")?;
    let head_len = find(&out[start..], b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&out[start..start + head_len]).into_owned();
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(str::to_owned)
        })?
        .trim()
        .parse()
        .ok()?;
    let end = start + head_len + length;
    (out.len() >= end).then_some((status, length, end))
}

/// The exchange whose path is `path`, seen from process `pid`.
fn seen_by<'a>(exchanges: &'a [Value], pid: u32, path: &str) -> &'a Value {
    let found: Vec<&Value> = exchanges
        .iter()
        .filter(|e| e["pid"] == pid && e["path"] == path)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{path} from pid {pid}:\n{}",
        dump(exchanges)
    );
    found[0]
}

/// How long a client keeps its connection open.
#[derive(Clone, Copy, PartialEq)]
enum Connection {
    /// Open until the end of the test: the sensor reads both addresses
    /// from the live socket.
    Lasting,
    /// Closed right after its response (curl): the local address may be
    /// gone before the sensor reads it (see README, "Not done yet").
    Brief,
}

/// Checks one HTTPS exchange as both of its sides recorded it.
fn assert_both_sides(
    exchanges: &[Value],
    server: &PyServer,
    (client_pid, comm, connection): (u32, &str, Connection),
    (method, path, request_bytes, response_bytes): (&str, &str, u64, u64),
) {
    let server_address = format!("127.0.0.1:{}", server.port);
    let client = seen_by(exchanges, client_pid, path);
    let served = seen_by(exchanges, server.pid(), path);
    let expected = ExpectedExchange {
        method,
        path,
        status: 200,
        request_bytes,
        response_bytes,
        tls: true,
    };
    expected.assert_seen_by(client, "client", comm);
    expected.assert_seen_by(served, "server", comm);
    assert_eq!(client["comm"], comm, "{client}");
    assert_eq!(client["remote"], server_address, "{client}");
    assert!(served["remote"].is_string(), "{served}");
    if connection == Connection::Lasting || !served["local"].is_null() {
        assert_eq!(served["local"], server_address, "{served}");
    }
    if connection == Connection::Lasting || !client["local"].is_null() {
        // Both sides name the same connection.
        assert_eq!(client["local"], served["remote"], "{client}\n{served}");
    }
}

#[test]
fn https_from_openssl_and_gnutls_clients_started_before_and_after_the_sensor() {
    let dir = scratch_dir("tls_clients");
    let server = https_server(&dir, None);
    // Connected, handshake done, before the sensor exists.
    let mut gnutls_before = InteractiveClient::gnutls(server.port);
    let mut openssl_before = InteractiveClient::openssl(server.port);

    let sensor = Sensor::start_each_end(&dir, &[]);
    // The server's threads for these two connections were already waiting
    // inside SSL_read when the sensor started: that first read is not seen
    // (its call began before the probes existed), the later ones are.
    assert_eq!(gnutls_before.get("/bytes/1234"), (200, 1234));
    assert_eq!(openssl_before.get("/bytes/2345"), (200, 2345));
    assert_eq!(gnutls_before.get("/bytes/1235"), (200, 1235));
    assert_eq!(openssl_before.get("/bytes/2346"), (200, 2346));
    // Started after the sensor.
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", server.port);
    // Larger than a TLS record: the library reads it in several calls.
    let body = curl(&["-k", &url("/bytes/100000")]);
    assert_eq!(body.len(), 100_000);
    let upload = dir.join("upload.bin");
    std::fs::write(&upload, vec![b'u'; 30_000]).unwrap();
    let reply = curl(&[
        "-k",
        "--data-binary",
        &format!("@{}", upload.display()),
        &url("/upload"),
    ]);
    assert_eq!(reply, b"{\"received\": 30000}");
    let mut gnutls_after = InteractiveClient::gnutls(server.port);
    assert_eq!(gnutls_after.get("/bytes/4321"), (200, 4321));

    // Seven requests, both sides of each but the two first reads above.
    sensor.wait_for("twelve sides of seven HTTPS requests", |e| {
        on_port(e, server.port).len() >= 12
    });
    let out = sensor.stop();
    let seen = on_port(&out.exchanges, server.port);
    assert_eq!(seen.len(), 12, "{}", dump(&seen));
    for (pid, path, response_bytes) in [
        (gnutls_before.pid(), "/bytes/1234", 1234),
        (openssl_before.pid(), "/bytes/2345", 2345),
    ] {
        let client = seen_by(&seen, pid, path);
        assert_eq!(
            (&client["role"], &client["response_bytes"], &client["tls"]),
            (&json!("client"), &json!(response_bytes), &json!(true)),
            "{client}"
        );
    }
    // The ciphertext on the same sockets was never parsed as HTTP.
    assert!(seen.iter().all(|e| e["tls"] == true), "{}", dump(&seen));

    let curl_of = |path: &str| {
        seen.iter()
            .find(|e| e["comm"] == "curl" && e["path"] == path)
            .and_then(|e| e["pid"].as_u64())
            .unwrap_or_else(|| panic!("no curl exchange for {path}: {}", dump(&seen)))
            as u32
    };
    use Connection::{Brief, Lasting};
    for (client, exchange) in [
        (
            (gnutls_before.pid(), "gnutls-cli", Lasting),
            ("GET", "/bytes/1235", 0, 1235),
        ),
        (
            (openssl_before.pid(), "openssl", Lasting),
            ("GET", "/bytes/2346", 0, 2346),
        ),
        (
            (curl_of("/bytes/100000"), "curl", Brief),
            ("GET", "/bytes/100000", 0, 100_000),
        ),
        (
            (curl_of("/upload"), "curl", Brief),
            ("POST", "/upload", 30_000, 19),
        ),
        (
            (gnutls_after.pid(), "gnutls-cli", Lasting),
            ("GET", "/bytes/4321", 0, 4321),
        ),
    ] {
        assert_both_sides(&seen, &server, client, exchange);
    }

    // Every library call found its socket; the libraries were attached
    // once per file, not per process.
    let stats = &out.stats;
    assert!(
        stats["kernel"]["tls_calls"].as_u64().unwrap() >= 20,
        "{stats}"
    );
    assert_eq!(stats["kernel"]["tls_calls_without_fd"], 0, "{stats}");
    let attached = stats["tls"]["files_attached"].as_u64().unwrap();
    assert!((2..=16).contains(&attached), "{stats}");
    assert!(
        out.log.contains("libssl.so") && out.log.contains("libgnutls.so"),
        "{}",
        out.log
    );
}

/// GnuTLS's sends and reads, each larger than a TLS record, exact on the
/// client's side: gnutls-cli writes with `gnutls_record_send`, whose
/// calls are captured at `gnutls_record_send2` where it is a jump to it,
/// and reads with `gnutls_record_recv`, captured at `_gnutls_recv_int`
/// (see README, HTTPS). A byte lost or captured twice shows in the sizes.
#[test]
fn https_from_a_gnutls_client_is_exact_both_ways() {
    let dir = scratch_dir("tls_gnutls_exact");
    let server = https_server(&dir, None);
    let sensor = Sensor::start_each_end(&dir, &[]);
    let mut client = InteractiveClient::gnutls(server.port);
    assert_eq!(client.post("/upload", &[b'g'; 40_000]), (200, 19));
    assert_eq!(client.get("/bytes/50000"), (200, 50_000));
    assert_eq!(client.post("/upload", b"small"), (200, 15));
    sensor.wait_for("both sides of three HTTPS requests", |e| {
        on_port(e, server.port).len() >= 6
    });
    let out = sensor.stop();
    let seen = on_port(&out.exchanges, server.port);
    assert_eq!(seen.len(), 6, "{}", dump(&seen));
    let client_side = (client.pid(), "gnutls-cli", Connection::Lasting);
    assert_both_sides(
        &seen,
        &server,
        client_side,
        ("GET", "/bytes/50000", 0, 50_000),
    );
    let uploads: Vec<(u64, u64)> = seen
        .iter()
        .filter(|e| e["pid"] == client.pid() && e["path"] == "/upload")
        .map(|e| {
            let bytes = |field: &str| e[field].as_u64().unwrap();
            (bytes("request_bytes"), bytes("response_bytes"))
        })
        .collect();
    assert_eq!(uploads, [(40_000, 19), (5, 15)], "{}", dump(&seen));
    assert_eq!(
        out.stats["kernel"]["tls_calls_without_fd"], 0,
        "{}",
        out.stats
    );
    // On Debian's GnuTLS 3.7 no probe is single-stepped (elsewhere the
    // shape may differ, and the probes stay at the exported functions).
    let gnutls = out
        .log
        .lines()
        .find(|l| l.contains("TLS probes attached to") && l.contains("libgnutls.so.30.34"));
    if let Some(line) = gnutls {
        assert!(
            line.contains("0 of 3 at an instruction the kernel single-steps"),
            "{line}"
        );
    }
}

/// Reads on a socket whose plaintext is not captured skip their return
/// probe (see README, HTTPS): here a local client's end, muted once the
/// pairing knows the server's end of the connection is captured. The
/// server's view of every request on that keep-alive connection, before
/// and after the mute, stays exact, and the skipped reads are counted.
#[test]
fn https_reads_on_a_muted_client_end_skip_their_return_and_lose_nothing() {
    let dir = scratch_dir("tls_muted_reads");
    let server = https_server(&dir, None);
    let sensor = Sensor::start(&dir, &[]);
    let mut client = InteractiveClient::openssl(server.port);
    let sizes = [1201, 1202, 1203, 1204, 1205, 1206];
    for size in sizes {
        assert_eq!(client.get(&format!("/bytes/{size}")), (200, size));
        // Time for the agent to pair the views and mute the client end.
        std::thread::sleep(Duration::from_millis(200));
    }
    sensor.wait_for("the server's view of six HTTPS requests", |e| {
        on_port(e, server.port)
            .iter()
            .filter(|e| e["pid"] == server.pid())
            .count()
            >= sizes.len()
    });
    let out = sensor.stop();
    let seen = on_port(&out.exchanges, server.port);
    for size in sizes {
        let served = seen_by(&seen, server.pid(), &format!("/bytes/{size}"));
        for (field, value) in [
            ("tls", json!(true)),
            ("role", json!("server")),
            ("method", json!("GET")),
            ("status", json!(200)),
            ("response_bytes", json!(size)),
            ("partial", json!(false)),
        ] {
            assert_eq!(served[field], value, "{field}: {served}");
        }
    }
    // The client's first view paired with the server's: it was captured.
    assert_eq!(
        seen_by(&seen, server.pid(), "/bytes/1201")["peer"]["pid"],
        client.pid(),
        "{}",
        dump(&seen)
    );
    let stats = &out.stats;
    assert!(
        stats["pairing"]["muted_ends"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    assert_eq!(stats["kernel"]["tls_calls_without_fd"], 0, "{stats}");
    if !out.log.contains("does not take uprobe sessions") {
        // The client's reads of the later responses (other muted local
        // TLS connections on the host may add theirs).
        assert!(
            stats["kernel"]["tls_reads_not_followed"].as_u64().unwrap() >= 2,
            "{stats}"
        );
    }
}

/// Writes captured at their entry (see README, HTTPS): a write whose send
/// finds the socket's buffer full returns "want write" and is called again
/// with the same arguments; its bytes must be captured once, and a write
/// that fails for a while must lose nothing. A reader slowed by curl's rate
/// limit makes the server's non-blocking writes, as nginx makes them
/// (16,000-byte chunks, small enough to be captured at entry, then 64 KiB
/// blocks, captured at their return), find a full buffer again and again.
/// Three responses on one connection: a byte captured twice or lost shifts
/// the framing of the body and of the responses after it, so exact sizes
/// on both sides show both.
#[test]
fn https_writes_retried_on_a_full_socket_buffer_are_captured_once() {
    let dir = scratch_dir("tls_retried_writes");
    let server = https_server_with(&dir, None, &["--retrying-writes", "4096"]);
    let sensor = Sensor::start_each_end(&dir, &[]);
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", server.port);
    let paths = [
        "/chunked/600000?chunk=16000",
        "/bytes/600000",
        "/item/after",
    ];
    let out_files: Vec<String> = (0..paths.len())
        .map(|i| dir.join(format!("body{i}")).display().to_string())
        .collect();
    let urls: Vec<String> = paths.iter().map(|p| url(p)).collect();
    let mut args = vec!["-k", "--limit-rate", "300k"];
    for (url, out) in urls.iter().zip(&out_files) {
        args.extend(["-o", out.as_str(), url.as_str()]);
    }
    curl(&args);
    for (out, size) in out_files.iter().zip([600_000, 600_000]) {
        assert_eq!(std::fs::metadata(out).unwrap().len(), size, "{out}");
    }
    sensor.wait_for("both sides of three HTTPS requests", |e| {
        on_port(e, server.port).len() >= 6
    });
    let out = sensor.stop();
    let seen = on_port(&out.exchanges, server.port);
    assert_eq!(seen.len(), 6, "{}", dump(&seen));
    let client_pid = seen
        .iter()
        .find(|e| e["comm"] == "curl")
        .and_then(|e| e["pid"].as_u64())
        .unwrap_or_else(|| panic!("no curl exchange: {}", dump(&seen))) as u32;
    let item = std::fs::metadata(&out_files[2]).unwrap().len();
    for (path, size) in [
        ("/chunked/600000", 600_000),
        ("/bytes/600000", 600_000),
        ("/item/after", item),
    ] {
        for (side, pid) in [("client", client_pid), ("server", server.pid())] {
            let e = seen_by(&seen, pid, path);
            assert_eq!(
                (&e["tls"], &e["role"], &e["method"], &e["status"]),
                (&json!(true), &json!(side), &json!("GET"), &json!(200)),
                "{e}"
            );
            // Counted exactly past the bodies' kept prefix (`truncated`).
            assert_eq!(e["response_bytes"], size, "{e}");
            assert_eq!(e["partial"], false, "{e}");
        }
    }
    let kernel = &out.stats["kernel"];
    assert_eq!(kernel["tls_calls_without_fd"], 0, "{}", out.stats);
    if !out.log.contains("does not take uprobe sessions") {
        // The server's 38 chunk writes were captured at entry, and some
        // retried: the case this test is about did happen.
        assert!(
            kernel["tls_writes_at_entry"].as_u64().unwrap() >= 38,
            "{}",
            out.stats
        );
        assert!(
            kernel["tls_write_retries"].as_u64().unwrap() > 0,
            "{}",
            out.stats
        );
    }
}

#[test]
fn a_secret_in_an_https_response_is_alerted_with_tls() {
    let dir = scratch_dir("tls_detect");
    let values = json!({
        "email": "li.wei.tls@proton.me",
        "ssn": "536-22-8461",
        "card": "4539148803436467",
        "bcrypt": "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "aws_key_id": "AKIAZ7QW3RTLXJ5N4KTL",
        "aws_secret": "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",
        "github_token": "not-a-token",
        "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----",
    });
    let values_file = dir.join("values.json");
    std::fs::write(&values_file, values.to_string()).unwrap();
    let server = https_server(&dir, Some(&values_file));
    let sensor = Sensor::start(&dir, &[]);
    for path in ["/api/config", "/api/users"] {
        let url = format!("https://127.0.0.1:{}{path}", server.port);
        curl(&["-k", "-o", "/dev/null", &url]);
    }
    sensor.wait_for("two HTTPS requests", |e| on_port(e, server.port).len() >= 2);
    let out = sensor.stop();
    // Only this server's: the sensor sees every process on the host, the
    // other tests' too.
    let host = format!("127.0.0.1:{}", server.port);
    let alerts: Vec<Value> = read_jsonl(&out.alerts_file)
        .into_iter()
        .filter(|a| a["endpoint"]["host"] == host.as_str())
        .collect();
    assert!(alerts.iter().all(|a| a["tls"] == true), "{}", dump(&alerts));
    for (path, rule) in [
        ("/api/config", "secret.aws_access_key_id"),
        ("/api/config", "secret.private_key"),
        ("/api/users", "pii.ssn"),
        ("/api/users", "pii.card"),
    ] {
        let of_rule: Vec<&Value> = alerts
            .iter()
            .filter(|a| a["endpoint"]["path"] == path && a["rule"] == rule)
            .collect();
        // Both ends' plaintext is captured (curl's and the server's TLS
        // library): the exchange is analysed once, and its alert names the
        // server, whose response leaked, with curl as its peer.
        assert_eq!(of_rule.len(), 1, "{rule}: {}", dump(&alerts));
        let alert = of_rule[0];
        assert_eq!(alert["connection"]["role"], "server", "{alert}");
        assert_eq!(alert["process"]["pid"], server.pid(), "{alert}");
        assert_eq!(alert["peer"]["comm"], "curl", "{alert}");
        assert_eq!(alert["count"], 1, "{alert}");
    }
    out.assert_never_wrote(&["AKIAZ7QW3RTLXJ5N4KTL", "536-22-8461", "4539148803436467"]);
}

#[test]
fn excluded_tls_libraries_are_not_attached() {
    let dir = scratch_dir("tls_exclude");
    let server = https_server(&dir, None);
    let config = dir.join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {:?}\n\n[metrics]\nenabled = false\n\n\
             [capture.tls]\nexclude = [\"*/libgnutls.so*\"]\n",
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    let mut gnutls = InteractiveClient::gnutls(server.port);
    assert_eq!(gnutls.get("/bytes/777"), (200, 777));
    curl(&[
        "-k",
        "-o",
        "/dev/null",
        &format!("https://127.0.0.1:{}/bytes/888", server.port),
    ]);
    sensor.wait_for("curl's request", |e| {
        on_port(e, server.port)
            .iter()
            .any(|x| x["path"] == "/bytes/888")
    });
    // Give gnutls-cli's exchange, were it captured, the time to show up.
    std::thread::sleep(Duration::from_secs(1));
    let out = sensor.stop();
    let seen = on_port(&out.exchanges, server.port);
    // curl's request: both ends captured, one record naming curl as the
    // peer of the server (OpenSSL).
    let curls: Vec<&Value> = seen.iter().filter(|e| e["path"] == "/bytes/888").collect();
    assert_eq!(curls.len(), 1, "{}", dump(&seen));
    assert_eq!(curls[0]["pid"], server.pid(), "{}", dump(&seen));
    assert_eq!(curls[0]["peer"]["comm"], "curl", "{}", dump(&seen));
    // The server still sees gnutls-cli's request; gnutls-cli's own side
    // is not captured, so that record has no peer's view to pair.
    assert!(
        seen.iter()
            .filter(|e| e["path"] == "/bytes/777")
            .all(|e| e["pid"] == server.pid()),
        "{}",
        dump(&seen)
    );
    assert_eq!(seen.len(), 2, "{}", dump(&seen));
    assert!(out.stats["tls"]["files_excluded"].as_u64().unwrap() >= 1);
    assert!(
        out.log.contains("capture.tls.exclude matches it"),
        "{}",
        out.log
    );
}

/// A client that talks through OpenSSL's SSL BIO (`BIO_f_ssl`) never
/// calls `SSL_read` or `SSL_write`: its plaintext is seen because OpenSSL
/// 3 is probed at the internal functions all of them call (README, HTTPS
/// (TLS libraries)), at instructions the kernel emulates.
#[test]
fn https_through_the_openssl_ssl_bio_is_captured() {
    let dir = scratch_dir("tls_bio");
    let server = https_server(&dir, None);
    let sensor = Sensor::start(&dir, &[]);
    let client = Command::new("python3")
        .arg(workspace_root().join("tests/servers/bio_ssl_client.py"))
        .args(["--port", &server.port.to_string(), "--path", "/bytes/3456"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting tests/servers/bio_ssl_client.py");
    let pid = client.id();
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HTTP/1.1 200 OK 3456\n"
    );
    sensor.wait_for("the BIO client's request", |e| {
        on_port(e, server.port)
            .iter()
            .any(|e| e["peer"]["pid"] == pid)
    });
    let out = sensor.stop();
    // Both ends are captured, so the exchange is recorded once, as the
    // server saw it, with the client as its peer (README, pairing): the
    // peer is known only because the client's plaintext was captured.
    let served = seen_by(
        &on_port(&out.exchanges, server.port),
        server.pid(),
        "/bytes/3456",
    )
    .clone();
    for (field, value) in [
        ("tls", json!(true)),
        ("method", json!("GET")),
        ("status", json!(200)),
        ("response_bytes", json!(3456)),
    ] {
        assert_eq!(served[field], value, "{field}: {served}");
    }
    assert_eq!(served["peer"]["pid"], pid, "{served}");
    assert_eq!(served["peer"]["comm"], "python3", "{served}");
    assert!(
        out.stats["pairing"]["both_ends"].as_u64().unwrap() >= 1,
        "{}",
        out.stats
    );
    // Two calls with data at each end.
    assert!(
        out.stats["kernel"]["tls_calls"].as_u64().unwrap() >= 4,
        "{}",
        out.stats
    );
    let tls = &out.stats["tls"];
    assert!(tls["probes_emulated"].as_u64().unwrap() >= 2, "{tls}");
    assert!(
        out.log.contains("ssl_read_internal") && out.log.contains("ssl_write_internal"),
        "{}",
        out.log
    );
}
