//! `cargo xtask bench`: nginx serving a 1 KiB JSON document on loopback,
//! over plain HTTP and over HTTPS (a self-signed certificate made at bench
//! time), wrk against it without the sensor and then with it in each
//! capture mode (socket, syscalls), in one run, and the ratios that
//! matter: throughput, p99 latency, sensor CPU and memory, and how many
//! exchanges the sensor recorded of those wrk completed. Over HTTPS the
//! sensor reads the plaintext through its OpenSSL probes (nginx and wrk
//! both link libssl). Next to wrk's paced case (a closed loop) runs an
//! open-loop client of our own (`open_loop`) at a fixed offered rate,
//! over plain HTTP and HTTPS (`--case paced` runs only it). The Go case
//! runs a Go server and a Go client, read through the Go probes. The idle
//! case (`idle`) measures what an attached sensor that captures nothing
//! costs the host. Then the HTTP/2 case:
//! nghttpd serving the same document over h2c, h2load with many streams
//! per connection.

mod flamegraph;
mod go_https;
mod h2;
mod idle;
mod kernel_time;
mod nginx;
mod open_loop;
pub(crate) mod sensor;
mod wrk;

use std::path::Path;

use anyhow::Context as _;

use crate::target_dir;
use wrk::WrkResult;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    duration: u32,
    /// wrk connections.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// Request rate of the paced runs (the design point): wrk's
    /// closed loop at up to this rate, and the open loop offering exactly
    /// this rate.
    #[arg(long, default_value_t = 10_000)]
    rate: u32,
    /// Keep-alive connections of the open-loop paced run.
    #[arg(long, default_value_t = 32)]
    paced_connections: u32,
    /// Port nginx serves plain HTTP on (loopback only).
    #[arg(long, default_value_t = 18080)]
    port: u16,
    /// Port nginx serves HTTPS on (loopback only).
    #[arg(long, default_value_t = 18443)]
    tls_port: u16,
    /// Interleaved rounds of the idle case (no sensor, then the sensor in
    /// each mode with every process filtered out).
    #[arg(long, default_value_t = 10)]
    idle_rounds: u32,
    /// Seconds per wrk run of the idle case.
    #[arg(long, default_value_t = 3)]
    idle_seconds: u32,
    /// Which cases to run: all, idle (the idle case only), full (every
    /// detector on, both modes), https (the full case over HTTPS only),
    /// paced (the full case's open-loop paced runs only, plain HTTP and
    /// HTTPS) or go (a Go HTTPS server and client, Go's own crypto/tls).
    #[arg(long, default_value = "all")]
    case: String,
    /// Also run every scenario of the full (https, paced) case and of the
    /// HTTP/2 case with this sensor binary (a build of main, say), right
    /// after the one built here and against the same baseline: a
    /// side-by-side comparison within one run, whatever else loads the
    /// machine.
    #[arg(long)]
    compare_with: Option<std::path::PathBuf>,
    /// Port nginx serves plain HTTP on with its `Server: nginx/<version>`
    /// banner, as nginx's default configuration does (loopback only).
    #[arg(long, default_value_t = 18081)]
    banner_port: u16,
    /// Draw a flame graph of the sensor's CPU during the saturation run
    /// over plain HTTP in socket mode into this SVG file.
    #[arg(long)]
    flamegraph: Option<std::path::PathBuf>,
    /// Also report, for every run with the sensor, each of its eBPF
    /// programs' run time per request (the kernel's statistics, which
    /// cost the traced processes two clock reads per program run, so they
    /// are off by default) and its threads' wake-ups and preemptions.
    #[arg(long)]
    kernel_time: bool,
    /// Port nghttpd serves h2c on (loopback only).
    #[arg(long, default_value_t = 18082)]
    h2_port: u16,
    /// h2load connections, each with `--h2-streams` concurrent streams.
    #[arg(long, default_value_t = 4)]
    h2_clients: u32,
    #[arg(long, default_value_t = 32)]
    h2_streams: u32,
    /// Only the HTTP/2 case (nghttpd and h2load).
    #[arg(long)]
    h2_only: bool,
    /// Port the Go HTTPS case's server listens on (loopback only).
    #[arg(long, default_value_t = 18543)]
    go_port: u16,
}

/// The capture modes compared, as `[capture] mode` values.
const MODES: [&str; 2] = ["socket", "syscalls"];

pub fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let dir = target_dir().join("bench");
    let mut server = nginx::Nginx::start(&dir, args.port, args.tls_port, args.banner_port)?;
    println!("load before the run: {}", load_average());
    if !args.h2_only {
        if args.case == "all" || args.case == "idle" {
            let url = format!("http://127.0.0.1:{}/data.json", args.port);
            nginx::wait_until_serving(&url)?;
            idle::measure(&url, args, &dir, &server)?;
        }
        if ["all", "full", "https", "paced"].contains(&args.case.as_str()) {
            measure(args, &dir, &server)?;
        }
    }
    server.stop();
    if !args.h2_only && (args.case == "all" || args.case == "go") {
        go_https::measure(args, &dir)?;
    }
    if args.h2_only || args.case == "all" || args.case == "full" {
        measure_h2(args, &dir)?;
    }
    println!("load after the run: {}", load_average());
    Ok(())
}

/// /proc/loadavg's three averages: other work on the machine skews ratios.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// nghttpd over h2c, h2load without and then with the sensor: at
/// saturation, then paced at `--rate` requests/s in all.
fn measure_h2(args: &BenchArgs, dir: &Path) -> anyhow::Result<()> {
    let _server = h2::Nghttpd::start(dir, args.h2_port)?;
    let url = format!("http://127.0.0.1:{}/data.json", args.h2_port);
    println!(
        "\nHTTP/2 (h2c): nghttpd 1 KiB JSON, h2load {} connections x {} streams, {} s per run",
        args.h2_clients, args.h2_streams, args.duration
    );
    h2::run(&url, 2, args.h2_clients, args.h2_streams, None)?;
    let paced = (args.rate / args.h2_clients.max(1)).max(1);
    for (name, rps) in [("saturation", None), ("paced", Some(paced))] {
        match rps {
            None => println!("HTTP/2, {name}"),
            Some(r) => println!("HTTP/2, {name} at {} requests/s", r * args.h2_clients),
        }
        measure_h2_scenario(args, dir, &url, rps)?;
    }
    Ok(())
}

fn measure_h2_scenario(
    args: &BenchArgs,
    dir: &Path,
    url: &str,
    rps: Option<u32>,
) -> anyhow::Result<()> {
    let load = || h2::run(url, args.duration, args.h2_clients, args.h2_streams, rps);
    let baseline = load()?;
    println!(
        "  without sensor: {:>10.0} req/s  mean {:.3} ms",
        baseline.rps, baseline.mean_ms
    );
    let mut sensors = vec![crate::sensor_binary()];
    sensors.extend(args.compare_with.iter().cloned());
    for bin in &sensors {
        if sensors.len() > 1 {
            println!("  sensor {}", bin.display());
        }
        measure_h2_with(bin, dir, &baseline, &load)?;
    }
    Ok(())
}

/// One h2load run with the sensor `bin`, its figures against `baseline`.
fn measure_h2_with(
    bin: &Path,
    dir: &Path,
    baseline: &h2::H2loadResult,
    load: &dyn Fn() -> anyhow::Result<h2::H2loadResult>,
) -> anyhow::Result<()> {
    let exchanges = dir.join("exchanges.jsonl");
    let stats = dir.join("stats.json");
    let _ = std::fs::remove_file(&exchanges);
    let _ = std::fs::remove_file(dir.join("alerts.jsonl"));
    let mut running = sensor::Running::start_binary(bin, dir, &exchanges, &stats, "")?;
    let cpu_before = running.cpu_seconds()?;
    let with = load()?;
    let cpu = running.cpu_seconds()? - cpu_before;
    let peak_rss_mib = running.peak_rss_kib()? as f64 / 1024.0;
    running.stop()?;
    // Both sides are captured: h2load's (it sends the preface) and
    // nghttpd's (it sends its SETTINGS first). Paired (the default), each
    // exchange is one record, nghttpd's, naming h2load as its `peer`: a
    // side's count is the records naming its command either way.
    let text = std::fs::read_to_string(&exchanges).unwrap_or_default();
    let count = |comm: &str| {
        text.lines()
            .filter(|l| {
                l.contains(&format!("\"comm\":\"{comm}\""))
                    && l.contains("\"path\":\"/data.json\"")
                    && l.contains("\"http_version\":\"2\"")
            })
            .count()
    };
    let (client, server) = (count("h2load"), count("nghttpd"));
    let stats_text =
        std::fs::read_to_string(&stats).with_context(|| format!("reading {}", stats.display()))?;
    let stats: serde_json::Value = serde_json::from_str(&stats_text).unwrap_or_default();
    println!(
        "  with sensor:    {:>10.0} req/s  mean {:.3} ms  (ratio {:.3})",
        with.rps,
        with.mean_ms,
        with.rps / baseline.rps
    );
    println!(
        "  sensor CPU: {:.3} s over {} requests = {:.3} CPU s per 10,000 requests; peak RSS {:.1} MiB",
        cpu,
        with.requests,
        cpu * 10_000.0 / with.requests.max(1) as f64,
        peak_rss_mib
    );
    println!(
        "  completeness: h2load's side {} and nghttpd's side {} HTTP/2 exchanges / {} requests h2load completed = {:.4} and {:.4}",
        client,
        server,
        with.requests,
        client as f64 / with.requests.max(1) as f64,
        server as f64 / with.requests.max(1) as f64
    );
    if let Some(allocations) = stats["heap"]["allocations_after_ready"].as_u64() {
        println!(
            "  allocations after ready: {:.1} per request",
            allocations as f64 / with.requests.max(1) as f64
        );
    }
    println!("  http.h2 counters: {}", stats["http"]["h2"]);
    println!("  kernel counters: {}", stats["kernel"]);
    Ok(())
}

/// One load shape, measured without and then with the sensor.
struct Scenario {
    name: String,
    load: Load,
}

/// What loads the server.
#[derive(Clone, Copy)]
enum Load {
    /// wrk, each connection waiting `delay_ms` (wrk's `delay` hook) after
    /// an answer before its next request: a closed loop, which caps the
    /// rate at connections * 1000 / (delay + latency).
    Wrk {
        connections: u32,
        delay_ms: Option<u32>,
    },
    /// The open loop: `rate` requests/s over `connections`, each due at a
    /// fixed time whatever the answers do.
    OpenLoop { connections: u32, rate: u32 },
}

impl Load {
    fn connections(&self) -> u32 {
        match *self {
            Load::Wrk { connections, .. } | Load::OpenLoop { connections, .. } => connections,
        }
    }
}

/// One load run: what it measured, the CPU microseconds nginx and the
/// client spent per request (the sensor's eBPF programs run in their
/// time), and the open loop's own figures.
struct Run {
    result: WrkResult,
    host_cpu_us: f64,
    open_loop: Option<open_loop::Report>,
}

impl Run {
    fn client(&self) -> &'static str {
        match self.open_loop {
            Some(_) => "paced-load",
            None => "wrk",
        }
    }

    /// The figure line (`without sensor:` or `with sensor:`), and the
    /// open loop's own line under it.
    fn print(&self, label: &str) {
        println!(
            "  {label:<15} {:>10.0} req/s  p99 {:>7.3} ms  nginx + {} {:.2} µs CPU per request",
            self.result.rps,
            self.result.p99_ms,
            self.client(),
            self.host_cpu_us
        );
        if let Some(r) = &self.open_loop {
            println!(
                "    open loop: offered {:.0} req/s, sustained {:.0} ({:.4} of offered), latency from due time p50 {:.3} p99 {:.3} p99.9 {:.3} ms, errors {}, unanswered {}, client {:.2} µs CPU per request",
                r.offered_rate,
                r.sustained_rate,
                r.sustained_rate / r.offered_rate,
                r.p50_ms,
                r.p99_ms,
                r.p999_ms,
                r.errors,
                r.unanswered,
                r.cpu_us_per_request
            );
        }
    }
}

/// What one scenario measured on one protocol in one capture mode with
/// one sensor binary.
struct Measured {
    /// The binary's file name and directory, when `--compare-with` runs
    /// two.
    sensor: String,
    baseline: WrkResult,
    with: WrkResult,
    /// The open loop's offered rate (None for wrk).
    offered: Option<f64>,
    cpu_per_10k: f64,
    peak_rss_mib: f64,
    /// Server-side exchanges the sensor wrote.
    recorded: u64,
    /// Records the kernel dropped or cut (ring full, truncated, unreadable,
    /// TLS calls whose socket was not found).
    kernel_drops: u64,
    /// The agent's heap allocations after its ready line, per server-side
    /// exchange (None for a binary that does not count them).
    allocations_per_exchange: Option<f64>,
}

fn measure(args: &BenchArgs, dir: &Path, server: &nginx::Nginx) -> anyhow::Result<()> {
    let paced_delay_ms = 2;
    let scenarios = [
        Scenario {
            name: format!("saturation, wrk {} connections", args.connections),
            load: Load::Wrk {
                connections: args.connections,
                delay_ms: None,
            },
        },
        Scenario {
            name: format!("paced at up to {} requests/s", args.rate),
            load: Load::Wrk {
                // wrk's timer and the response time add about a
                // millisecond to each connection's cycle.
                connections: (args.rate * (paced_delay_ms + 1) / 1000).max(1),
                delay_ms: Some(paced_delay_ms),
            },
        },
        Scenario {
            name: format!(
                "open loop offering {} requests/s, {} connections",
                args.rate, args.paced_connections
            ),
            load: Load::OpenLoop {
                connections: args.paced_connections,
                rate: args.rate,
            },
        },
    ];
    let scenarios: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| args.case != "paced" || matches!(s.load, Load::OpenLoop { .. }))
        .collect();
    let protocols = [
        (
            "plain HTTP",
            format!("http://127.0.0.1:{}/data.json", args.port),
        ),
        (
            "HTTPS",
            format!("https://127.0.0.1:{}/data.json", args.tls_port),
        ),
        // nginx's default `server_tokens on`: every response carries a
        // version banner, a finding that deduplication then folds.
        (
            "HTTP+banner",
            format!("http://127.0.0.1:{}/data.json", args.banner_port),
        ),
    ];
    println!(
        "nginx 1 KiB JSON on loopback, {} s per run, sensor writing every exchange",
        args.duration
    );
    let mut table = Vec::new();
    let https_only = args.case == "https";
    let protocols = protocols
        .iter()
        .filter(|(protocol, _)| !https_only || *protocol == "HTTPS")
        .filter(|(protocol, _)| args.case != "paced" || *protocol != "HTTP+banner");
    let mut sensors = vec![crate::sensor_binary()];
    sensors.extend(args.compare_with.iter().cloned());
    for (protocol, url) in protocols {
        nginx::wait_until_serving(url)?;
        // Warm-up so both runs start from the same state.
        wrk::run(url, 2, args.connections, None, dir)?;
        for scenario in &scenarios {
            // The banner listener shows what deduplication does, which
            // the open loop would not add to.
            if *protocol == "HTTP+banner" && matches!(scenario.load, Load::OpenLoop { .. }) {
                continue;
            }
            for mode in MODES {
                println!("{protocol}, {}, {mode} mode", scenario.name);
                for measured in
                    measure_scenario(args, dir, (url, server), scenario, mode, &sensors)?
                {
                    table.push((*protocol, scenario.name.as_str(), mode, measured));
                }
            }
        }
    }
    if let Some(svg) = &args.flamegraph {
        draw_flamegraph(args, dir, svg, args.connections)?;
    }
    println!("\nsummary, every detector on (without -> with sensor)");
    for (protocol, scenario, mode, m) in &table {
        println!(
            "  {protocol:<10} {scenario:<36} {mode:<8} {}req/s {:>8.0} -> {:>8.0} ({:.3}){}  p99 {:.2} -> {:.2} ms  CPU {:.3} s/10k req  RSS {:.1} MiB  allocs {}/exchange  complete {}/{}  kernel drops {}",
            m.sensor,
            m.baseline.rps,
            m.with.rps,
            m.with.rps / m.baseline.rps,
            m.offered.map_or_else(String::new, |o| format!(
                "  sustained/offered {:.3} -> {:.3}",
                m.baseline.rps / o,
                m.with.rps / o
            )),
            m.baseline.p99_ms,
            m.with.p99_ms,
            m.cpu_per_10k,
            m.peak_rss_mib,
            m.allocations_per_exchange
                .map_or_else(|| "-".to_owned(), |a| format!("{a:.1}")),
            m.recorded,
            m.with.requests,
            m.kernel_drops,
        );
    }
    Ok(())
}

/// One more run of `scenario` over plain HTTP in socket mode, its own so
/// that perf's overhead skews no figure, with the sensor sampled.
fn draw_flamegraph(
    args: &BenchArgs,
    dir: &Path,
    svg: &Path,
    connections: u32,
) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{}/data.json", args.port);
    println!("flame graph: plain HTTP, saturation, wrk {connections} connections, socket mode");
    let exchanges = dir.join("exchanges.jsonl");
    let _ = std::fs::remove_file(&exchanges);
    let mut running = sensor::Running::start(
        dir,
        &exchanges,
        &dir.join("stats.json"),
        "mode = \"socket\"\n",
    )?;
    let recording = flamegraph::Recording::start(running.pid(), dir)?;
    wrk::run(&url, args.duration, connections, None, dir)?;
    let title = format!(
        "sensor, socket mode, wrk saturation ({connections} connections) on nginx 1 KiB JSON, every detector on"
    );
    recording.finish(svg, &title)?;
    running.stop()
}

/// `scenario` without the sensor, then with each of `sensors` in turn.
fn measure_scenario(
    args: &BenchArgs,
    dir: &Path,
    (url, server): (&str, &nginx::Nginx),
    scenario: &Scenario,
    mode: &str,
    sensors: &[std::path::PathBuf],
) -> anyhow::Result<Vec<Measured>> {
    let load = |dir: &Path| match scenario.load {
        Load::Wrk {
            connections,
            delay_ms,
        } => {
            let (wrk0, nginx0) = (idle::children_cpu_seconds(), server.cpu_seconds());
            let r = wrk::run(url, args.duration, connections, delay_ms, dir)?;
            let cpu = idle::children_cpu_seconds() - wrk0 + server.cpu_seconds() - nginx0;
            Ok(Run {
                host_cpu_us: cpu * 1e6 / r.requests.max(1) as f64,
                result: r,
                open_loop: None,
            })
        }
        Load::OpenLoop { connections, rate } => {
            let nginx0 = server.cpu_seconds();
            let r = open_loop::run(url, rate, connections as usize, args.duration)?;
            let nginx_cpu = server.cpu_seconds() - nginx0;
            Ok(Run {
                result: WrkResult {
                    requests: r.answers,
                    rps: r.sustained_rate,
                    p99_ms: r.p99_ms,
                },
                host_cpu_us: nginx_cpu * 1e6 / r.answers.max(1) as f64 + r.cpu_us_per_request,
                open_loop: Some(r),
            })
        }
    };
    let baseline = load(dir)?;
    baseline.print("without sensor:");
    let baseline = (baseline.result, baseline.open_loop.map(|r| r.offered_rate));
    let mut out = Vec::new();
    for bin in sensors {
        let sensor = if sensors.len() > 1 {
            println!("  sensor {}", bin.display());
            format!("{} ", bin.display())
        } else {
            String::new()
        };
        out.push(measure_with(
            bin,
            sensor,
            dir,
            url,
            (mode, scenario.load.connections(), args.kernel_time),
            &baseline,
            &load,
        )?);
    }
    Ok(out)
}

/// One run with the sensor `bin`, its figures against `baseline`.
fn measure_with(
    bin: &Path,
    sensor: String,
    dir: &Path,
    url: &str,
    (mode, connections, kernel_time): (&str, u32, bool),
    (baseline, offered): &(WrkResult, Option<f64>),
    load: &dyn Fn(&Path) -> anyhow::Result<Run>,
) -> anyhow::Result<Measured> {
    let exchanges = dir.join("exchanges.jsonl");
    let stats = dir.join("stats.json");
    let _ = std::fs::remove_file(&exchanges);
    let _ = std::fs::remove_file(dir.join("alerts.jsonl"));
    let mut running =
        sensor::Running::start_binary(bin, dir, &exchanges, &stats, &format!("mode = {mode:?}\n"))?;
    let recording = kernel_time
        .then(|| kernel_time::Recording::start(running.pid()))
        .transpose()?;
    let started = std::time::Instant::now();
    let cpu_before = running.cpu_seconds()?;
    let run = load(dir)?;
    let cpu = running.cpu_seconds()? - cpu_before;
    let kernel_time = recording
        .map(|r| r.finish(started.elapsed().as_secs_f64()))
        .transpose()?;
    let peak_rss_kib = running.peak_rss_kib()?;
    running.stop()?;

    let tls = url.starts_with("https:");
    let text = std::fs::read_to_string(&exchanges).unwrap_or_default();
    let recorded = text
        .lines()
        .filter(|l| {
            l.contains("\"role\":\"server\"")
                && l.contains("\"path\":\"/data.json\"")
                && l.contains(&format!("\"tls\":{tls}"))
        })
        .count() as u64;
    let stats_text =
        std::fs::read_to_string(&stats).with_context(|| format!("reading {}", stats.display()))?;
    let stats: serde_json::Value = serde_json::from_str(&stats_text).unwrap_or_default();
    let kernel = |name: &str| stats["kernel"][name].as_u64().unwrap_or(0);
    let kernel_drops = [
        "ringbuf_full_events",
        "truncated_syscalls",
        "read_faults",
        "tls_calls_without_fd",
    ]
    .iter()
    .map(|n| kernel(n))
    .sum();

    run.print("with sensor:");
    let with = run.result.clone();
    println!(
        "  requests/s ratio (with/without): {:.3}",
        with.rps / baseline.rps
    );
    println!(
        "  p99 latency ratio (with/without): {:.3}",
        with.p99_ms / baseline.p99_ms
    );
    let cpu_per_10k = cpu * 10_000.0 / with.requests as f64;
    println!(
        "  sensor CPU: {:.3} s over {} requests = {:.3} CPU s per 10,000 requests",
        cpu, with.requests, cpu_per_10k
    );
    let peak_rss_mib = peak_rss_kib as f64 / 1024.0;
    println!("  sensor peak RSS: {peak_rss_mib:.1} MiB");
    if let Some(kernel_time) = kernel_time {
        kernel_time.report(with.requests);
    }
    // wrk does not count the requests still in flight when it stops
    // (at most one per connection), which nginx did answer. The open loop
    // waits for its answers.
    let in_flight = match &run.open_loop {
        Some(r) => format!("{} unanswered when the client stopped", r.unanswered),
        None => format!("up to {connections} more were in flight when wrk stopped"),
    };
    println!(
        "  completeness: {} server-side exchanges / {} requests completed by {} = {:.4} ({in_flight})",
        recorded,
        with.requests,
        run.client(),
        recorded as f64 / with.requests as f64,
    );
    // Everything the agent allocated once ready, over the exchanges of
    // the run: start-up's parsing and loading is left out, the steady
    // state's timers, maps and outputs are in.
    let allocations_per_exchange = stats["heap"]["allocations_after_ready"]
        .as_u64()
        .map(|n| n as f64 / recorded.max(1) as f64);
    if let Some(per) = allocations_per_exchange {
        println!("  allocations after ready: {per:.1} per server-side exchange");
    }
    println!("  kernel counters: {}", stats["kernel"]);
    println!("  pipeline counters: {}", stats["pipeline"]);
    Ok(Measured {
        sensor,
        baseline: baseline.clone(),
        with,
        offered: *offered,
        cpu_per_10k,
        peak_rss_mib,
        recorded,
        kernel_drops,
        allocations_per_exchange,
    })
}
