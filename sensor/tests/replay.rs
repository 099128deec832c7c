//! `sensor replay` on captures of real traffic: the repository's test
//! server on loopback, real curl, tcpdump or tshark writing the capture, and
//! assertions on what the user reads (the exchanges file, the stats, the
//! exit status and messages). No eBPF; capturing on `lo` needs root, as
//! `cargo xtask test` runs it.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("replay")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Spawns a tool the tests cannot do without, failing with what to do
/// when it is missing.
fn spawn(cmd: &mut Command, package_hint: &str) -> Child {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.spawn().unwrap_or_else(|err| {
        panic!(
            "cannot start {program} ({err}): install it with `cargo xtask setup` ({package_hint})"
        )
    })
}

/// Reads `stream` line by line on a thread until a line contains `ready`;
/// the rest is kept for the failure message.
fn wait_for(
    stream: impl Read + Send + 'static,
    ready: &'static str,
    what: &str,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(ready) {
                let _ = ready_tx.send(());
            }
        }
        let _ = tx.send(seen);
    });
    if ready_rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let said = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
        panic!("{what} did not become ready: {said}");
    }
    rx
}

#[derive(Clone, Copy)]
enum Tool {
    /// `tcpdump -i IFACE`, pcap.
    Tcpdump(&'static str),
    /// `tshark -i lo`, pcapng.
    Tshark,
}

struct Capture {
    child: Child,
    log: mpsc::Receiver<String>,
    file: PathBuf,
    /// A UDP port the capture filter also takes: probes sent there show
    /// when the tool is really writing packets (replay skips them as not TCP).
    probe_port: u16,
}

impl Capture {
    fn start(tool: Tool, port: u16, file: &Path) -> Capture {
        assert!(
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() } == 0,
            "capturing on lo needs root: run these tests as root (cargo xtask test)"
        );
        let probe_port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let filter = format!("tcp port {port} or udp port {probe_port}");
        let mut cmd = match tool {
            Tool::Tcpdump(iface) => {
                let mut c = Command::new("tcpdump");
                // -Z root: write the file as root in a root-owned directory.
                // A 64 MiB buffer: loopback delivers 64 KiB segments faster
                // than an immediate-mode reader keeps up with.
                c.args([
                    "-i",
                    iface,
                    "--immediate-mode",
                    "-B",
                    "65536",
                    "-U",
                    "-Z",
                    "root",
                    "-w",
                ])
                .arg(file)
                .arg(&filter);
                c
            }
            Tool::Tshark => {
                let mut c = Command::new("tshark");
                c.args(["-i", "lo", "-B", "64", "-f", &filter, "-w"])
                    .arg(file);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let (hint, ready) = match tool {
            Tool::Tcpdump(_) => ("Debian package tcpdump", "listening on"),
            Tool::Tshark => ("Debian package tshark", "Capturing on"),
        };
        let mut child = spawn(&mut cmd, hint);
        let stderr: ChildStderr = child.stderr.take().unwrap();
        let log = wait_for(stderr, ready, "the packet capture");
        let capture = Capture {
            child,
            log,
            file: file.to_owned(),
            probe_port,
        };
        // Tools say they listen a little before packets reach the file.
        capture.sync();
        capture
    }

    /// Returns once a probe sent now is in the file, so every packet sent
    /// before it is too (the tools write in order, some every half second).
    fn sync(&self) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let size = || std::fs::metadata(&self.file).map_or(0, |m| m.len());
        let mut seen = None;
        for _ in 0..400 {
            socket
                .send_to(b"probe", ("127.0.0.1", self.probe_port))
                .unwrap();
            std::thread::sleep(Duration::from_millis(50));
            let now = size();
            match seen {
                None if now > 0 => seen = Some(now),
                Some(before) if now > before => return,
                _ => {}
            }
        }
        panic!(
            "the capture tool wrote no probe packet to {} within 20 s",
            self.file.display()
        );
    }

    /// Stops the capture the way a user would (Ctrl-C) so the file is
    /// complete, and returns what the tool said.
    fn stop(mut self) -> String {
        self.sync();
        // SAFETY: signals the child we started and still own.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        let said = self
            .log
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        assert!(
            status.success(),
            "the capture tool failed ({status}): {said}"
        );
        said
    }
}

struct Server(Child);

impl Server {
    fn start(bind: &str, port: u16) -> Server {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/servers/http_server.py");
        let mut child = spawn(
            Command::new("python3")
                .arg(script)
                .args(["--port", &port.to_string(), "--bind", bind])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
            "Debian package python3",
        );
        let stdout = child.stdout.take().unwrap();
        drop(wait_for(stdout, "listening", "the test HTTP server"));
        Server(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(args: &[&str]) {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "30"])
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run curl ({err}): install it with `cargo xtask setup`")
        });
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Replayed {
    output: Output,
    exchanges: Vec<Value>,
    stats: Value,
}

fn replay(capture: &Path) -> Replayed {
    let dir = capture.parent().unwrap();
    let exchanges = dir.join("exchanges.jsonl");
    let stats = dir.join("stats.json");
    let _ = std::fs::remove_file(&exchanges);
    let _ = std::fs::remove_file(&stats);
    let output = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .arg("replay")
        .arg(capture)
        .arg("--exchanges")
        .arg(&exchanges)
        .arg("--alerts")
        .arg(dir.join("alerts.jsonl"))
        .arg("--stats")
        .arg(&stats)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let exchanges = std::fs::read_to_string(&exchanges)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stats = std::fs::read(&stats)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    Replayed {
        output,
        exchanges,
        stats,
    }
}

fn stderr(r: &Replayed) -> String {
    String::from_utf8_lossy(&r.output.stderr).into_owned()
}

/// (method, path, status, response_bytes) of each exchange, in file order.
fn summary(exchanges: &[Value]) -> Vec<(String, String, u64, u64)> {
    exchanges
        .iter()
        .map(|x| {
            (
                x["method"].as_str().unwrap().to_owned(),
                x["path"].as_str().unwrap().to_owned(),
                x["status"].as_u64().unwrap(),
                x["response_bytes"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn expected(rows: &[(&str, &str, u64, u64)]) -> Vec<(String, String, u64, u64)> {
    rows.iter()
        .map(|(m, p, s, n)| (m.to_string(), p.to_string(), *s, *n))
        .collect()
}

/// Every exchange is seen from the server at `server`, with a client on
/// `client_ip`; returns the client addresses.
fn assert_server_side(
    exchanges: &[Value],
    server: &str,
    client_ip: &str,
    file: &str,
) -> Vec<String> {
    exchanges
        .iter()
        .map(|x| {
            assert_eq!(x["role"], "server", "{x}");
            assert_eq!(x["local"], server, "{x}");
            assert_eq!(x["pid"], 0, "{x}");
            assert_eq!(x["comm"], file, "{x}");
            let remote = x["remote"].as_str().unwrap().to_owned();
            assert!(remote.starts_with(client_ip), "{x}");
            remote
        })
        .collect()
}

const MIB: u64 = 1 << 20;

#[test]
fn tcpdump_ipv4_keepalive_chunked_post_and_large_download() {
    let dir = scratch("tcpdump_ipv4");
    let port = free_port("127.0.0.1");
    let file = dir.join("lo.pcap");
    let _server = Server::start("127.0.0.1", port);
    let capture = Capture::start(Tool::Tcpdump("lo"), port, &file);
    let base = format!("http://127.0.0.1:{port}");
    // Two requests on one keep-alive connection.
    curl(&[
        "-o",
        "/dev/null",
        &format!("{base}/item/1"),
        "-o",
        "/dev/null",
        &format!("{base}/item/22"),
    ]);
    curl(&["-o", "/dev/null", &format!("{base}/chunked/5000")]);
    let upload = "u".repeat(3000);
    curl(&[
        "-o",
        "/dev/null",
        "--data-binary",
        &upload,
        &format!("{base}/upload"),
    ]);
    curl(&["-o", "/dev/null", &format!("{base}/bytes/{MIB}")]);
    let tool_said = capture.stop();

    let r = replay(&file);
    assert!(r.output.status.success(), "{}", stderr(&r));
    assert_eq!(
        summary(&r.exchanges),
        expected(&[
            ("GET", "/item/1", 200, 30),
            ("GET", "/item/22", 200, 32),
            ("GET", "/chunked/5000", 200, 5000),
            ("POST", "/upload", 200, 18),
            ("GET", &format!("/bytes/{MIB}"), 200, MIB),
        ])
    );
    assert_eq!(r.exchanges[3]["request_bytes"], 3000);
    let remotes = assert_server_side(
        &r.exchanges,
        &format!("127.0.0.1:{port}"),
        "127.0.0.1:",
        "lo.pcap",
    );
    assert_eq!(
        remotes[0], remotes[1],
        "keep-alive requests share a connection"
    );
    assert_ne!(remotes[1], remotes[2]);
    let capture = &r.stats["capture"];
    assert_eq!(capture["flows"], 4, "{}", r.stats);
    assert_eq!(
        capture["hole_bytes"], 0,
        "tcpdump: {tool_said}\nstats: {}",
        r.stats
    );
    assert_eq!(r.stats["pipeline"]["exchanges"], 5);
    assert_eq!(r.stats["reassembly"]["gap_bytes"], 0);
    let said = stderr(&r);
    assert!(
        said.contains("replayed") && said.contains("5 exchanges"),
        "{said}"
    );
}

#[test]
fn tshark_pcapng_over_ipv6() {
    let dir = scratch("tshark_ipv6");
    let port = free_port("::1");
    let file = dir.join("lo6.pcapng");
    let _server = Server::start("::1", port);
    let capture = Capture::start(Tool::Tshark, port, &file);
    let base = format!("http://[::1]:{port}");
    curl(&[
        "-g",
        "-o",
        "/dev/null",
        &format!("{base}/item/7"),
        "-o",
        "/dev/null",
        &format!("{base}/chunked/2500"),
    ]);
    capture.stop();
    let mut magic = [0u8; 4];
    std::fs::File::open(&file)
        .unwrap()
        .read_exact(&mut magic)
        .unwrap();
    assert_eq!(magic, [0x0a, 0x0d, 0x0d, 0x0a], "tshark writes pcapng");

    let r = replay(&file);
    assert!(r.output.status.success(), "{}", stderr(&r));
    assert_eq!(
        summary(&r.exchanges),
        expected(&[
            ("GET", "/item/7", 200, 30),
            ("GET", "/chunked/2500", 200, 2500)
        ])
    );
    let remotes = assert_server_side(
        &r.exchanges,
        &format!("[::1]:{port}"),
        "[::1]:",
        "lo6.pcapng",
    );
    assert_eq!(remotes[0], remotes[1]);
}

#[test]
fn tcpdump_on_any_interface_writes_linux_cooked_frames() {
    let dir = scratch("tcpdump_any");
    let port = free_port("127.0.0.1");
    let file = dir.join("any.pcap");
    let _server = Server::start("127.0.0.1", port);
    let capture = Capture::start(Tool::Tcpdump("any"), port, &file);
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{port}/bytes/100000"),
    ]);
    capture.stop();
    let header = std::fs::read(&file).unwrap();
    let link_type = u32::from_le_bytes(header[20..24].try_into().unwrap());
    assert!([113, 276].contains(&link_type), "link type {link_type}");

    let r = replay(&file);
    assert!(r.output.status.success(), "{}", stderr(&r));
    assert_eq!(
        summary(&r.exchanges),
        expected(&[("GET", "/bytes/100000", 200, 100_000)])
    );
    assert_server_side(
        &r.exchanges,
        &format!("127.0.0.1:{port}"),
        "127.0.0.1:",
        "any.pcap",
    );
}

#[test]
fn cut_and_damaged_captures_are_reported_without_losing_what_came_before() {
    let dir = scratch("damaged");
    let port = free_port("127.0.0.1");
    let file = dir.join("whole.pcap");
    let _server = Server::start("127.0.0.1", port);
    let capture = Capture::start(Tool::Tcpdump("lo"), port, &file);
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{port}/item/1"),
    ]);
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{port}/bytes/200000"),
    ]);
    capture.stop();
    let whole = std::fs::read(&file).unwrap();

    // Cut inside the large download: the first exchange survives, the
    // user is told the file was cut, and the exit status is success.
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &whole[..whole.len() - 70_000]).unwrap();
    let r = replay(&cut);
    let said = stderr(&r);
    assert!(r.output.status.success(), "{said}");
    assert!(
        said.contains("cut.pcap") && said.contains("cut short"),
        "{said}"
    );
    assert_eq!(r.exchanges[0]["path"], "/item/1");

    // A record claiming an impossible length: an error naming the file and
    // the packet, after the packets before it were replayed.
    let mut bad = whole.clone();
    let mut at = 24;
    for _ in 0..12 {
        let len = u32::from_le_bytes(bad[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + len;
    }
    bad[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let corrupt = dir.join("corrupt.pcap");
    std::fs::write(&corrupt, &bad).unwrap();
    let r = replay(&corrupt);
    let said = stderr(&r);
    assert!(!r.output.status.success(), "{said}");
    assert!(said.contains("corrupt.pcap: packet 13"), "{said}");
    assert_eq!(r.stats["capture"]["packets"], 12, "stats still written");

    for (name, bytes, message) in [
        (
            "text.pcap",
            b"GET / HTTP/1.1\r\n".to_vec(),
            "not a pcap or pcapng capture",
        ),
        ("empty.pcap", Vec::new(), "not a pcap or pcapng capture"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let r = replay(&path);
        let said = stderr(&r);
        assert!(!r.output.status.success(), "{said}");
        assert!(said.contains(name) && said.contains(message), "{said}");
    }
    let r = replay(&dir.join("missing.pcap"));
    assert!(!r.output.status.success());
    assert!(stderr(&r).contains("missing.pcap"), "{}", stderr(&r));
}
