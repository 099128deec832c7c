//! The idle case: what an attached sensor costs the host when it captures
//! nothing (every process filtered out in the kernel, `process_names =
//! ["no-such-proc"]`). Runs without the sensor and with it in each capture
//! mode are interleaved, round after round, in an order that rotates, so
//! that drift on a shared machine (other work, thermal, caches) hits every
//! variant alike; the median of the per-round ratios is the figure.

use std::path::Path;

use super::{load_average, sensor, wrk, BenchArgs, MODES};

pub fn measure(url: &str, args: &BenchArgs, dir: &Path) -> anyhow::Result<()> {
    println!(
        "idle case: plain HTTP, wrk {} connections, {} rounds of {} s; sensor attached with every process filtered out",
        args.connections, args.idle_rounds, args.idle_seconds
    );
    // Warm-up so the first round starts from the same state as the rest.
    wrk::run(url, 2, args.connections, None, dir)?;
    let variants: Vec<Option<&str>> = std::iter::once(None)
        .chain(MODES.iter().map(|m| Some(*m)))
        .collect();
    // rps[variant][round]
    let mut rps = vec![Vec::new(); variants.len()];
    for round in 0..args.idle_rounds as usize {
        let mut line = format!("  round {:>2} (load {}):", round + 1, load_average());
        for k in 0..variants.len() {
            let v = (round + k) % variants.len();
            let result = match variants[v] {
                None => wrk::run(url, args.idle_seconds, args.connections, None, dir)?,
                Some(mode) => {
                    let capture = format!("mode = {mode:?}\nprocess_names = [\"no-such-proc\"]\n");
                    let exchanges = dir.join("idle-exchanges.jsonl");
                    let stats = dir.join("idle-stats.json");
                    let mut running = sensor::Running::start(dir, &exchanges, &stats, &capture)?;
                    let r = wrk::run(url, args.idle_seconds, args.connections, None, dir)?;
                    running.stop()?;
                    r
                }
            };
            line.push_str(&format!(
                "  {} {:.0}",
                variants[v].unwrap_or("none"),
                result.rps
            ));
            rps[v].push(result.rps);
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
