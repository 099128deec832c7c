//! The Go HTTPS case (`--case go`): a Go server (tests/servers/go's, Go's
//! own crypto/tls and net/http) and a Go client (`xtask/bench/go_load.go`,
//! keep-alive GETs from several goroutines) over loopback, without the
//! sensor and then with it (and with `--compare-with`'s binary), in one
//! run. Go programs link their own TLS, so the sensor reads their
//! plaintext through its Go probes, whose cost the Go processes pay: the
//! figure to watch is their CPU per request.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::sensor::{self, cpu_seconds_of};
use super::BenchArgs;
use crate::root;

/// Client goroutines, each with its own keep-alive connection.
const GOROUTINES: u32 = 8;
/// The server's one endpoint (it answers a 62-byte JSON document).
const PATH: &str = "/v1/accounts/42";

pub fn measure(args: &BenchArgs, dir: &Path) -> anyhow::Result<()> {
    let go_dir = dir.join("go");
    std::fs::create_dir_all(&go_dir)?;
    let server_bin = build(
        &go_dir,
        &root().join("tests/servers/go/server.go"),
        "go-bench-server",
    )?;
    let client_bin = build(
        &go_dir,
        &root().join("xtask/bench/go_load.go"),
        "go-bench-load",
    )?;
    let mut server = Server::start(&server_bin, dir, args.go_port)?;
    let url = format!("https://127.0.0.1:{}{PATH}", args.go_port);
    println!(
        "\nGo HTTPS: Go server and Go client ({GOROUTINES} goroutines, keep-alive), {} s per run",
        args.duration
    );
    let baseline = load(&client_bin, &url, args.duration, server.pid())?;
    print_load("without sensor", &baseline);
    let mut binaries = vec![crate::sensor_binary()];
    binaries.extend(args.compare_with.clone());
    for bin in binaries {
        let exchanges = dir.join("exchanges.jsonl");
        let stats = dir.join("stats.json");
        let _ = std::fs::remove_file(&exchanges);
        let mut running =
            sensor::Running::start_binary(&bin, dir, &exchanges, &stats, "mode = \"socket\"")?;
        let cpu_before = running.cpu_seconds()?;
        let with = load(&client_bin, &url, args.duration, server.pid())?;
        let cpu = running.cpu_seconds()? - cpu_before;
        running.stop()?;
        let text = std::fs::read_to_string(&exchanges).unwrap_or_default();
        let recorded = text
            .lines()
            .filter(|l| l.contains(&format!("\"path\":\"{PATH}\"")) && l.contains("\"tls\":true"))
            .count();
        println!("  with {}:", bin.display());
        print_load("  with sensor", &with);
        println!(
            "    ratio {:.3}; Go processes' CPU per request {:.1} → {:.1} µs; sensor {:.3} CPU s per 10,000 requests; exchanges recorded {recorded} / {} requests",
            with.rps / baseline.rps,
            baseline.go_cpu_per_request_us(),
            with.go_cpu_per_request_us(),
            cpu * 10_000.0 / with.requests.max(1) as f64,
            with.requests,
        );
    }
    server.stop();
    Ok(())
}

/// What one client run measured.
struct Load {
    requests: u64,
    rps: f64,
    /// CPU seconds of the client and of the server during the run.
    client_cpu: f64,
    server_cpu: f64,
}

impl Load {
    fn go_cpu_per_request_us(&self) -> f64 {
        (self.client_cpu + self.server_cpu) * 1e6 / self.requests.max(1) as f64
    }
}

fn print_load(what: &str, load: &Load) {
    println!(
        "  {what}: {:>8.0} req/s, client {:.2} s and server {:.2} s of CPU",
        load.rps, load.client_cpu, load.server_cpu
    );
}

/// One run of the client against the server whose pid is `server`.
fn load(client: &Path, url: &str, seconds: u32, server: u32) -> anyhow::Result<Load> {
    let server_before = cpu_seconds_of(server)?;
    let started = Instant::now();
    let out = Command::new(client)
        .args([url, &GOROUTINES.to_string(), &seconds.to_string()])
        .output()
        .context("running the Go load client")?;
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds_of(server)? - server_before;
    if !out.status.success() {
        bail!(
            "the Go load client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    let (Some(requests), Some(client_cpu)) = (fields.next(), fields.next()) else {
        bail!("the Go load client printed {text:?}");
    };
    let requests: u64 = requests.parse()?;
    Ok(Load {
        requests,
        rps: requests as f64 / elapsed,
        client_cpu: client_cpu.parse()?,
        server_cpu,
    })
}

/// `source` built by the machine's Go (`cargo xtask setup` installs
/// Debian's golang-go) into `dir/name`.
fn build(dir: &Path, source: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let out = dir.join(name);
    crate::run(
        Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&out)
            .arg(source)
            .current_dir(dir)
            .env("GOCACHE", crate::target_dir().join("go-cache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GOPROXY", "off")
            .env("GO111MODULE", "off"),
    )
    .with_context(|| format!("building {}", source.display()))?;
    Ok(out)
}

/// The Go server, on the bench's certificate.
struct Server {
    child: Child,
}

impl Server {
    fn start(bin: &Path, dir: &Path, port: u16) -> anyhow::Result<Self> {
        let child = Command::new(bin)
            .arg(format!("127.0.0.1:{port}"))
            .arg(dir.join("cert.pem"))
            .arg(dir.join("key.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the Go server")?;
        let server = Self { child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("the Go server is not listening on {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
