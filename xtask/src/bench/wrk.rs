//! The load generator: wrk, one thread, its request count, rate and p99.

use std::path::Path;
use std::process::Command;

use anyhow::Context as _;

#[derive(Clone)]
pub struct WrkResult {
    pub requests: u64,
    pub rps: f64,
    pub p99_ms: f64,
}

pub fn run(
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
