//! The HTTP/2 case: nghttpd serving the bench's 1 KiB JSON document over
//! h2c on loopback, and h2load (many streams per connection) against it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

pub struct Nghttpd {
    child: Child,
}

impl Nghttpd {
    /// Serves `dir/www` (where nginx's document already is) over h2c.
    pub fn start(dir: &Path, port: u16) -> anyhow::Result<Self> {
        let child = Command::new("nghttpd")
            .arg("--address=127.0.0.1")
            .arg("--no-tls")
            .arg("-d")
            .arg(dir.join("www"))
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nghttpd (cargo xtask setup installs nghttp2-server)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("nghttpd is not listening on {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self { child })
    }
}

impl Drop for Nghttpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct H2loadResult {
    pub requests: u64,
    pub rps: f64,
    /// Mean time for a request (h2load reports no percentiles).
    pub mean_ms: f64,
}

/// h2load for `seconds` with `clients` connections of `streams` streams
/// each, at most `rps` requests/s per connection when given.
pub fn run(
    url: &str,
    seconds: u32,
    clients: u32,
    streams: u32,
    rps: Option<u32>,
) -> anyhow::Result<H2loadResult> {
    let mut cmd = Command::new("h2load");
    cmd.args([
        &format!("--duration={seconds}"),
        &format!("--clients={clients}"),
        &format!("--max-concurrent-streams={streams}"),
    ]);
    if let Some(rps) = rps {
        cmd.arg(format!("--rps={rps}"));
    }
    let out = cmd
        .arg(url)
        .output()
        .context("running h2load (cargo xtask setup installs nghttp2-client)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|s| s.strip_suffix(" req/s"))
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no req/s in h2load output:\n{text}"))?;
    let requests = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .and_then(|l| l.split(", ").find(|p| p.ends_with(" succeeded")))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no request count in h2load output:\n{text}"))?;
    let mean_ms = text
        .lines()
        .find(|l| l.starts_with("time for request:"))
        .and_then(|l| l.split_whitespace().nth(5))
        .and_then(duration_ms)
        .with_context(|| format!("no request time in h2load output:\n{text}"))?;
    Ok(H2loadResult {
        requests,
        rps,
        mean_ms,
    })
}

/// `123us`, `4.56ms`, `1.2s` in milliseconds.
fn duration_ms(s: &str) -> Option<f64> {
    if let Some(v) = s.strip_suffix("us") {
        v.parse::<f64>().ok().map(|v| v / 1000.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        v.parse().ok()
    } else {
        s.strip_suffix('s')?.parse::<f64>().ok().map(|v| v * 1000.0)
    }
}
