//! `cargo xtask bench`: nginx serving a 1 KiB JSON document on loopback,
//! wrk against it without the sensor and then with it, in one run, and the
//! ratios that matter: throughput, p99 latency, sensor CPU and memory, and
//! how many exchanges the sensor recorded of those wrk completed.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::{root, sensor_binary};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    duration: u32,
    /// wrk connections.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// Request rate of the paced run (the design point).
    #[arg(long, default_value_t = 10_000)]
    rate: u32,
    /// Port nginx listens on (loopback only).
    #[arg(long, default_value_t = 18080)]
    port: u16,
}

struct WrkResult {
    requests: u64,
    rps: f64,
    p99_ms: f64,
}

pub fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(dir.join("www"))?;
    let doc = json_document(1024);
    std::fs::write(dir.join("www/data.json"), &doc)?;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&dir, args.port))?;
    let mut nginx = Command::new("nginx")
        .args([
            "-c",
            conf.to_str().context("path")?,
            "-p",
            dir.to_str().context("path")?,
        ])
        .spawn()
        .context("starting nginx")?;
    let result = measure(args, &dir);
    // SIGTERM, not kill(): the master then stops its workers too.
    // SAFETY: signalling a child we own.
    unsafe { libc::kill(nginx.id() as i32, libc::SIGTERM) };
    let _ = nginx.wait();
    result
}

/// One load shape, measured without and then with the sensor.
struct Scenario {
    name: String,
    connections: u32,
    /// Milliseconds each connection waits before its next request (wrk's
    /// `delay` hook): caps the rate at connections * 1000 / delay.
    delay_ms: Option<u32>,
}

fn measure(args: &BenchArgs, dir: &Path) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{}/data.json", args.port);
    wait_for_http(&url)?;
    // Warm-up so both runs start from the same state.
    wrk(&url, 2, args.connections, None, dir)?;
    let paced_delay_ms = 2;
    let scenarios = [
        Scenario {
            name: format!("saturation, wrk {} connections", args.connections),
            connections: args.connections,
            delay_ms: None,
        },
        Scenario {
            name: format!("paced at up to {} requests/s", args.rate),
            // wrk's timer and the response time add about a millisecond
            // to each connection's cycle.
            connections: (args.rate * (paced_delay_ms + 1) / 1000).max(1),
            delay_ms: Some(paced_delay_ms),
        },
    ];
    println!(
        "nginx 1 KiB JSON on loopback, {} s per run, sensor writing every exchange",
        args.duration
    );
    for scenario in &scenarios {
        measure_scenario(args, dir, &url, scenario)?;
    }
    Ok(())
}

fn measure_scenario(
    args: &BenchArgs,
    dir: &Path,
    url: &str,
    scenario: &Scenario,
) -> anyhow::Result<()> {
    let load = |dir| {
        wrk(
            url,
            args.duration,
            scenario.connections,
            scenario.delay_ms,
            dir,
        )
    };
    let baseline = load(dir)?;

    let exchanges = dir.join("exchanges.jsonl");
    let stats = dir.join("stats.json");
    let _ = std::fs::remove_file(&exchanges);
    let _ = std::fs::remove_file(dir.join("alerts.jsonl"));
    let mut sensor = start_sensor(dir, &exchanges, &stats)?;
    let cpu_before = cpu_seconds(sensor.id())?;
    let with = load(dir)?;
    let cpu = cpu_seconds(sensor.id())? - cpu_before;
    let peak_rss_kib = peak_rss_kib(sensor.id())?;
    stop(&mut sensor)?;

    let text = std::fs::read_to_string(&exchanges).unwrap_or_default();
    let server_side = text
        .lines()
        .filter(|l| l.contains("\"role\":\"server\"") && l.contains("\"path\":\"/data.json\""))
        .count() as u64;
    let stats_text = std::fs::read_to_string(&stats).unwrap_or_default();
    let stats: serde_json::Value = serde_json::from_str(&stats_text).unwrap_or_default();

    println!("{}", scenario.name);
    println!(
        "  without sensor: {:>10.0} req/s  p99 {:>7.3} ms",
        baseline.rps, baseline.p99_ms
    );
    println!(
        "  with sensor:    {:>10.0} req/s  p99 {:>7.3} ms",
        with.rps, with.p99_ms
    );
    println!(
        "  requests/s ratio (with/without): {:.3}",
        with.rps / baseline.rps
    );
    println!(
        "  p99 latency ratio (with/without): {:.3}",
        with.p99_ms / baseline.p99_ms
    );
    println!(
        "  sensor CPU: {:.3} s over {} requests = {:.3} CPU s per 10,000 requests",
        cpu,
        with.requests,
        cpu * 10_000.0 / with.requests as f64
    );
    println!("  sensor peak RSS: {:.1} MiB", peak_rss_kib as f64 / 1024.0);
    // wrk does not count the requests still in flight when it stops
    // (at most one per connection), which nginx did answer.
    println!(
        "  completeness: {} server-side exchanges / {} requests completed by wrk = {:.4} (up to {} more were in flight when wrk stopped)",
        server_side,
        with.requests,
        server_side as f64 / with.requests as f64,
        scenario.connections
    );
    println!("  kernel counters: {}", stats["kernel"]);
    println!("  pipeline counters: {}", stats["pipeline"]);
    Ok(())
}

fn json_document(size: usize) -> String {
    let mut doc = String::from("{\"items\":[");
    let mut i = 0;
    while doc.len() < size - 64 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!(
            "{{\"id\":{i},\"name\":\"item-{i}\",\"price\":{}.99}}",
            i * 3 + 1
        ));
        i += 1;
    }
    doc.push_str("],\"page\":1}");
    while doc.len() < size {
        doc.insert(doc.len() - 1, ' ');
    }
    doc
}

fn nginx_conf(dir: &Path, port: u16) -> String {
    format!(
        "worker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  # API servers write their bodies; sendfile would hide them from any socket-level sensor.\n  sendfile off;\n  \
         # Clean traffic: with its version in `Server`, every response would be an alert.\n  \
         server_tokens off;\n  keepalive_requests 1000000;\n  \
         client_body_temp_path {dir}/tmp;\n  proxy_temp_path {dir}/tmp;\n  fastcgi_temp_path {dir}/tmp;\n  uwsgi_temp_path {dir}/tmp;\n  scgi_temp_path {dir}/tmp;\n  \
         default_type application/json;\n  server {{\n    listen 127.0.0.1:{port};\n    root {dir}/www;\n  }}\n}}\n",
        dir = dir.display()
    )
}

fn wait_for_http(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if Command::new("curl")
            .args(["-sf", "-o", "/dev/null", url])
            .status()
            .is_ok_and(|s| s.success())
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nginx did not answer on {url}")
}

fn wrk(
    url: &str,
    seconds: u32,
    connections: u32,
    delay_ms: Option<u32>,
    dir: &Path,
) -> anyhow::Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    if let Some(ms) = delay_ms {
        let script = dir.join("paced.lua");
        std::fs::write(&script, format!("function delay()\n  return {ms}\nend\n"))?;
        cmd.arg("-s").arg(script);
    }
    let out = cmd.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no request count in wrk output:\n{text}"))?;
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(parse_duration_ms)
        .with_context(|| format!("no 99% latency in wrk output:\n{text}"))?;
    Ok(WrkResult {
        requests,
        rps,
        p99_ms: p99,
    })
}

fn parse_duration_ms(s: &str) -> Option<f64> {
    let (number, scale) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

fn start_sensor(dir: &Path, exchanges: &Path, stats: &Path) -> anyhow::Result<Child> {
    let log = std::fs::File::create(dir.join("sensor.log"))?;
    let mut child = Command::new(sensor_binary())
        .args(["run", "--alerts"])
        .arg(dir.join("alerts.jsonl"))
        .arg("--exchanges")
        .arg(exchanges)
        .arg("--stats")
        .arg(stats)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting the sensor")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let log = std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default();
        if log.contains("ready") {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            bail!("sensor exited with {status} before it was ready:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    bail!(
        "sensor not ready after 30 s; see {}",
        dir.join("sensor.log").display()
    )
}

fn stop(child: &mut Child) -> anyhow::Result<()> {
    // SAFETY: signalling a child we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait()?;
    if !status.success() {
        bail!("sensor exited with {status}");
    }
    Ok(())
}

fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("parsing /proc/pid/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks as f64 / hz)
}

fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmHWM in /proc/pid/status")
}
