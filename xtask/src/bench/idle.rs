//! The idle case: what an attached sensor costs the host when it captures
//! nothing (every process filtered out in the kernel, `process_names =
//! ["no-such-proc"]`). Runs without the sensor and with it in each capture
//! mode are interleaved, round after round, in an order that rotates, so
//! that drift on a shared machine (other work, thermal, caches) hits every
//! variant alike; the median of the per-round ratios is the figure. On a
//! busy machine throughput mostly measures the scheduler, so each run also
//! reports the CPU time nginx and wrk spent per request (user and system:
//! the syscall slow path and the eBPF programs are system time), which
//! other work on the machine disturbs far less.

use std::path::Path;

use super::nginx::Nginx;
use super::{load_average, sensor, wrk, BenchArgs, MODES};

/// CPU seconds of the children this process has reaped (wrk's runs).
pub(super) fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// One wrk run: its result and the CPU microseconds nginx and wrk spent
/// per request.
fn load(url: &str, args: &BenchArgs, dir: &Path, nginx: &Nginx) -> anyhow::Result<(f64, f64)> {
    let (wrk0, nginx0) = (children_cpu_seconds(), nginx.cpu_seconds());
    let r = wrk::run(url, args.idle_seconds, args.connections, None, dir)?;
    let cpu = children_cpu_seconds() - wrk0 + nginx.cpu_seconds() - nginx0;
    Ok((r.rps, cpu * 1e6 / r.requests.max(1) as f64))
}

pub fn measure(url: &str, args: &BenchArgs, dir: &Path, nginx: &Nginx) -> anyhow::Result<()> {
    println!(
        "idle case: plain HTTP, wrk {} connections, {} rounds of {} s; sensor attached with every process filtered out",
        args.connections, args.idle_rounds, args.idle_seconds
    );
    // Warm-up so the first round starts from the same state as the rest.
    wrk::run(url, 2, args.connections, None, dir)?;
    let variants: Vec<Option<&str>> = std::iter::once(None)
        .chain(MODES.iter().map(|m| Some(*m)))
        .collect();
    // rps[variant][round], and CPU µs per request
    let mut rps = vec![Vec::new(); variants.len()];
    let mut cpu = vec![Vec::new(); variants.len()];
    for round in 0..args.idle_rounds as usize {
        let mut line = format!("  round {:>2} (load {}):", round + 1, load_average());
        for k in 0..variants.len() {
            let v = (round + k) % variants.len();
            let (result, per_request) = match variants[v] {
                None => load(url, args, dir, nginx)?,
                Some(mode) => {
                    let capture = format!("mode = {mode:?}\nprocess_names = [\"no-such-proc\"]\n");
                    let exchanges = dir.join("idle-exchanges.jsonl");
                    let stats = dir.join("idle-stats.json");
                    let mut running = sensor::Running::start(dir, &exchanges, &stats, &capture)?;
                    let r = load(url, args, dir, nginx)?;
                    running.stop()?;
                    r
                }
            };
            line.push_str(&format!(
                "  {} {:.0} ({:.1} µs CPU/req)",
                variants[v].unwrap_or("none"),
                result,
                per_request
            ));
            rps[v].push(result);
            cpu[v].push(per_request);
        }
        println!("{line}");
    }
    println!("\nsummary, idle (sensor attached, every process filtered out)");
    let base = &rps[0];
    println!("  none      median {:>8.0} req/s", median(base));
    for (v, variant) in variants.iter().enumerate().skip(1) {
        let ratios: Vec<f64> = rps[v].iter().zip(base).map(|(w, b)| w / b).collect();
        println!(
            "  {:<9} median {:>8.0} req/s  ratio of medians {:.3}  median of per-round ratios {:.3}  (min {:.3}, max {:.3})",
            variant.unwrap_or_default(),
            median(&rps[v]),
            median(&rps[v]) / median(base),
            median(&ratios),
            ratios.iter().cloned().fold(f64::INFINITY, f64::min),
            ratios.iter().cloned().fold(0.0, f64::max),
        );
    }
    println!("  CPU (nginx + wrk, user + system) per request, the load-robust figure:");
    let base = &cpu[0];
    println!("  none      median {:>6.1} µs", median(base));
    for (v, variant) in variants.iter().enumerate().skip(1) {
        let ratios: Vec<f64> = base.iter().zip(&cpu[v]).map(|(b, w)| b / w).collect();
        println!(
            "  {:<9} median {:>6.1} µs  throughput-equivalent ratio (none/with CPU per request): median of per-round {:.3}, of medians {:.3}",
            variant.unwrap_or_default(),
            median(&cpu[v]),
            median(&ratios),
            median(base) / median(&cpu[v]),
        );
    }
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
