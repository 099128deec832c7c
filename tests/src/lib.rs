//! Harness for the end-to-end tests: starts the real sensor binary (which
//! loads the real eBPF programs), real servers and real clients, and reads
//! back what the sensor wrote, as a user would.

use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod go;
pub mod nginx;
pub mod postgres;
pub mod rustls;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub fn sensor_bin() -> PathBuf {
    std::env::var_os("SENSOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/release/sensor"))
}

/// A fresh directory under target/e2e for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Environment variable that forces the capture mode of every sensor the
/// harness configures (`socket` or `syscalls`; unset: `auto`), so that
/// `cargo xtask test` runs the capture suite once in each mode.
pub const CAPTURE_MODE_VAR: &str = "SENSOR_E2E_CAPTURE_MODE";

/// The `[capture] mode` the tests run in, when forced.
pub fn forced_capture_mode() -> Option<String> {
    std::env::var(CAPTURE_MODE_VAR)
        .ok()
        .filter(|m| !m.is_empty())
}

/// The `[capture]` section of the harness's config (empty unless forced).
pub fn capture_mode_section() -> String {
    forced_capture_mode()
        .map(|mode| format!("[capture]\nmode = {mode:?}\n\n"))
        .unwrap_or_default()
}

/// The `[capture]` section of the harness's config: the forced mode, if
/// any, and `keys`.
fn capture_section(keys: &str) -> String {
    match forced_capture_mode() {
        None if keys.is_empty() => String::new(),
        None => format!("[capture]\n{keys}\n"),
        Some(mode) => format!("[capture]\nmode = {mode:?}\n{keys}\n"),
    }
}

pub struct Sensor {
    child: Child,
    pub dir: PathBuf,
    /// Where the metrics listen, unless the test passed its own config.
    pub metrics_port: u16,
}

/// What the sensor left behind once stopped.
pub struct SensorOutput {
    pub exchanges: Vec<Value>,
    pub stats: Value,
    pub log: String,
    pub alerts_file: PathBuf,
    pub exchanges_file: PathBuf,
}

impl SensorOutput {
    /// Everything the sensor wrote where a user or a SIEM reads it: its
    /// alerts, exchange records, log and stats.
    pub fn written(&self) -> String {
        let mut written = String::new();
        for file in [&self.alerts_file, &self.exchanges_file] {
            written.push_str(&std::fs::read_to_string(file).unwrap_or_default());
        }
        written.push_str(&self.log);
        written.push_str(&self.stats.to_string());
        written
    }

    /// Fails the test if any of `raws` appears in what the sensor wrote:
    /// the sensor must never become the leak.
    pub fn assert_never_wrote(&self, raws: &[&str]) {
        let written = self.written();
        for raw in raws {
            assert!(
                !written.contains(raw),
                "{raw} appears in the sensor's output"
            );
        }
    }
}

/// What one exchange record must say of a request seen end to end.
pub struct ExpectedExchange<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub tls: bool,
}

impl ExpectedExchange<'_> {
    /// Fails the test unless `record` says exactly this, whole (not
    /// truncated); `context` prefixes the failure.
    pub fn assert_matches(&self, record: &Value, context: &str) {
        let e = record;
        assert_eq!(e["method"], self.method, "{context}: {e}");
        assert_eq!(e["path"], self.path, "{context}: {e}");
        assert_eq!(e["status"], self.status, "{context}: {e}");
        assert_eq!(e["request_bytes"], self.request_bytes, "{context}: {e}");
        assert_eq!(e["response_bytes"], self.response_bytes, "{context}: {e}");
        assert_eq!(e["truncated"], false, "{context}: {e}");
        assert_eq!(e["tls"], self.tls, "{context}: {e}");
    }

    /// `assert_matches`, the record being `role`'s view (`client` or
    /// `server`).
    pub fn assert_seen_by(&self, record: &Value, role: &str, context: &str) {
        assert_eq!(record["role"], role, "{context}: {record}");
        self.assert_matches(record, context);
    }
}

impl Sensor {
    /// Starts `sensor run` and waits for its `ready` line. Fails the test,
    /// with the sensor's own words, when it cannot start (not root, no BPF).
    pub fn start(dir: &Path, extra: &[&str]) -> Sensor {
        Self::start_with(dir, extra, &[])
    }

    /// Like `start`, with the sensor launched through `launcher` (for
    /// example `setpriv` with reduced privileges).
    pub fn start_with(dir: &Path, extra: &[&str], launcher: &[String]) -> Sensor {
        Self::start_binary(&sensor_bin(), dir, extra, launcher)
    }

    /// Like `start`, with each end's view of an exchange between two
    /// local processes analysed and written on its own
    /// (`capture.pair_local_ends = false`): for the tests of what each
    /// socket captured.
    pub fn start_each_end(dir: &Path, extra: &[&str]) -> Sensor {
        Self::start_each_end_with(dir, extra, "")
    }

    /// Like `start_each_end`, with `sections` (TOML sections other than
    /// `[capture]`, `[output]` and `[metrics]`) added to the config.
    pub fn start_each_end_with(dir: &Path, extra: &[&str], sections: &str) -> Sensor {
        Self::start_configured(
            &sensor_bin(),
            dir,
            extra,
            &[],
            "pair_local_ends = false\n",
            sections,
        )
    }

    /// Like `start_with`, running `bin` (a packaged copy, say).
    pub fn start_binary(bin: &Path, dir: &Path, extra: &[&str], launcher: &[String]) -> Sensor {
        Self::start_configured(bin, dir, extra, launcher, "", "")
    }

    /// Like `start`, keeping only connections to or from `port`.
    pub fn start_on_port(dir: &Path, port: u16) -> Sensor {
        Self::start_configured(
            &sensor_bin(),
            dir,
            &[],
            &[],
            &format!("ports = [{port}]\n"),
            "",
        )
    }

    /// Like `start`, capturing only the processes named `names`: for the
    /// tests that count what the sensor holds, which other traffic on the
    /// host (a build downloading crates, another test) would skew.
    pub fn start_for_processes(dir: &Path, names: &[&str]) -> Sensor {
        Self::start_configured(
            &sensor_bin(),
            dir,
            &[],
            &[],
            &format!("process_names = {names:?}\n"),
            "",
        )
    }

    /// `start_binary`, with `capture_keys` (TOML lines) in the `[capture]`
    /// section of the harness's config.
    fn start_configured(
        bin: &Path,
        dir: &Path,
        extra: &[&str],
        launcher: &[String],
        capture_keys: &str,
        sections: &str,
    ) -> Sensor {
        assert!(
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() } == 0,
            "end-to-end tests load eBPF programs: run them as root (cargo xtask test)"
        );
        assert!(
            bin.exists(),
            "{} is missing: run `cargo xtask test`, which builds it",
            bin.display()
        );
        let log = std::fs::File::create(dir.join("sensor.log")).unwrap();
        let mut command = match launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        // State (fingerprint key, spools) stays in the test's directory.
        // Metrics on a port of its own, so tests can run side by side.
        let metrics_port = free_port();
        let config_args: Vec<String> = if extra.contains(&"--config") {
            Vec::new()
        } else {
            let config = dir.join("sensor.toml");
            let state = dir.join("state");
            std::fs::write(
                &config,
                format!(
                    "{}[output]\nstate_dir = {:?}\n\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n{sections}",
                    capture_section(capture_keys),
                    state.display().to_string()
                ),
            )
            .unwrap();
            vec!["--config".into(), config.display().to_string()]
        };
        let mut child = command
            .arg("run")
            .args(&config_args)
            .arg("--alerts")
            .arg(dir.join("alerts.jsonl"))
            .arg("--exchanges")
            .arg(dir.join("exchanges.jsonl"))
            .arg("--stats")
            .arg(dir.join("stats.json"))
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the sensor");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default();
            if log.contains("sensor ready") {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the sensor exited with {status} before it was ready; its log:\n{log}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the sensor was not ready after 30 s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Sensor {
            child,
            dir: dir.to_owned(),
            metrics_port,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exchanges written so far.
    pub fn exchanges(&self) -> Vec<Value> {
        read_jsonl(&self.dir.join("exchanges.jsonl"))
    }

    /// Waits until `pred` holds for the exchanges written so far.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let exchanges = self.exchanges();
            if pred(&exchanges) {
                return exchanges;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; exchanges so far:\n{}",
                    dump(&exchanges)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the sensor's log has a line containing `line`.
    pub fn wait_for_log(&self, line: &str) {
        let log = self.dir.join("sensor.log");
        wait_until(
            &format!("the sensor to log `{line}`"),
            20,
            || std::fs::read_to_string(&log).is_ok_and(|text| text.contains(line)),
            || std::fs::read_to_string(&log).unwrap_or_default(),
        );
    }

    /// SIGTERM, then what the sensor wrote. Asserts it exited cleanly.
    pub fn stop(mut self) -> SensorOutput {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        let log = std::fs::read_to_string(self.dir.join("sensor.log")).unwrap_or_default();
        assert!(
            status.success(),
            "the sensor exited with {status}; its log:\n{log}"
        );
        assert!(!log.contains("panicked"), "the sensor panicked:\n{log}");
        let stats = std::fs::read_to_string(self.dir.join("stats.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        SensorOutput {
            exchanges: read_jsonl(&self.dir.join("exchanges.jsonl")),
            stats,
            log,
            alerts_file: self.dir.join("alerts.jsonl"),
            exchanges_file: self.dir.join("exchanges.jsonl"),
        }
    }
}

impl Sensor {
    /// SIGSTOP: the agent stops reading while the kernel keeps capturing,
    /// as when a loaded host does not schedule it; `resume` lets it go on.
    pub fn pause(&self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGSTOP) };
    }

    /// SIGCONT after `pause`.
    pub fn resume(&self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGCONT) };
    }

    /// SIGKILL: the sensor gets no chance to flush or hand anything over.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `pred` every 100 ms until it holds; fails the test with `what`
/// and `detail()` after `secs` seconds.
pub fn wait_until(
    what: &str,
    secs: u64,
    mut pred: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !pred() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}:\n{}", detail());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.ends_with('}'))
        .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        // The alerts file's chain checkpoints are not alerts.
        .filter(|v: &Value| v.get("checkpoint").is_none())
        .collect()
}

pub fn dump(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Python test server (tests/servers/http_server.py).
pub struct PyServer {
    child: Child,
    pub port: u16,
}

/// Starts an HTTPS test program on a free loopback port as `binary
/// before.. 127.0.0.1:PORT CERT KEY after..`, with a self-signed
/// certificate made in `cert_dir`, and waits until it listens.
pub fn start_https_program(
    binary: &Path,
    before: &[&str],
    cert_dir: &Path,
    after: &[&str],
    what: &str,
) -> (Child, u16) {
    std::fs::create_dir_all(cert_dir).unwrap();
    let (cert, key) = self_signed_certificate(cert_dir);
    let port = free_port();
    let mut child = Command::new(binary)
        .args(before)
        .arg(format!("127.0.0.1:{port}"))
        .arg(cert)
        .arg(key)
        .args(after)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    await_listening(&mut child, what);
    (child, port)
}

/// Runs `client`, a test program that waits for a line on its stdin
/// before it connects, and lets it go once the sensor's log has a line
/// containing `seen` (a program's start races its discovery); returns
/// its pid and what it printed. Fails the test if it fails.
pub fn run_held_client(client: &mut Command, sensor: &Sensor, seen: &str) -> (u32, String) {
    let mut child = client
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    sensor.wait_for_log(seen);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{client:?} failed: {printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, printed)
}

/// Waits for a test server's first line, `listening` (its socket is
/// bound); panics naming `what` when it says anything else or exits.
pub fn await_listening(child: &mut Child, what: &str) {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "listening", "{what} did not start");
}

impl PyServer {
    pub fn start(bind: &str) -> PyServer {
        Self::script("http_server.py", &["--bind", bind])
    }

    /// Starts `tests/servers/<name>` with `--port` and `args`.
    pub fn script(name: &str, args: &[&str]) -> PyServer {
        Self::script_on(name, free_port(), args)
    }

    /// Like `script`, on a given port (a server restarted where its
    /// clients expect it).
    pub fn script_on(name: &str, port: u16, args: &[&str]) -> PyServer {
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tests/servers").join(name))
            .args(["--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting python3");
        await_listening(&mut child, "test server");
        PyServer { child, port }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs curl with `args`, asserting it succeeds; returns its stdout.
pub fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .arg("-sS")
        .args(args)
        .output()
        .expect("running curl");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Exchanges seen from the side of process `pid`.
pub fn of_pid(exchanges: &[Value], pid: u32) -> Vec<Value> {
    exchanges
        .iter()
        .filter(|e| e["pid"] == pid)
        .cloned()
        .collect()
}

/// Exchanges whose local or remote port is `port`.
pub fn on_port(exchanges: &[Value], port: u16) -> Vec<Value> {
    let suffix = format!(":{port}");
    exchanges
        .iter()
        .filter(|e| {
            // The Host header too: a connection that closed before the
            // sensor read its socket has no local address (see README).
            e["local"].as_str().is_some_and(|a| a.ends_with(&suffix))
                || e["remote"].as_str().is_some_and(|a| a.ends_with(&suffix))
                || e["host"].as_str().is_some_and(|h| h.ends_with(&suffix))
        })
        .cloned()
        .collect()
}

/// A self-signed certificate and key for 127.0.0.1 in `dir`, made with
/// openssl.
pub fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
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

/// tests/servers/tls_server.py serving the leaky API with the planted
/// `values` (a JSON file) over HTTPS; its `ssl` module links OpenSSL.
pub fn leaky_https_server(dir: &Path, values: &Path) -> PyServer {
    let (cert, key) = self_signed_certificate(dir);
    let args = [
        "--cert".to_owned(),
        cert.display().to_string(),
        "--key".to_owned(),
        key.display().to_string(),
        "--values".to_owned(),
        values.display().to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    PyServer::script("tls_server.py", &args)
}

/// Checks every line of `file` against the published record schema
/// (`schema/validate.py KIND FILE`, KIND `alert`, `exchange` or `ocsf`),
/// failing the test with the validator's report.
pub fn assert_valid_records(kind: &str, file: &Path) {
    let out = Command::new("python3")
        .arg(workspace_root().join("schema/validate.py"))
        .arg(kind)
        .arg(file)
        .output()
        .expect("python3 runs (cargo xtask setup installs jsonschema)");
    assert!(
        out.status.success(),
        "{} does not match the {kind} schema:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
