//! `sensor run`: live capture wired to the pipeline and the outputs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{signal, SignalKind};

use crate::capture::live::{LiveCapture, LiveOptions};
use crate::capture::CaptureEvent;
use crate::config::Config;
use crate::exchange::HttpExchange;
use crate::pipeline::Pipeline;
use crate::sink::{ExchangeRecord, JsonLines};
use crate::stats::Stats;

/// Ring buffer records handled per wake-up before outputs get a turn.
const BATCH: usize = 4096;

/// How often the ring buffer is drained when the kernel did not wake us.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

pub async fn run(config: Config, stats_path: Option<PathBuf>) -> anyhow::Result<()> {
    config.validate()?;
    let mut alerts = JsonLines::open(&config.output.alerts).with_context(|| {
        format!(
            "opening the alerts output {}",
            config.output.alerts.display()
        )
    })?;
    let mut exchanges = match &config.output.exchanges {
        Some(path) => Some(
            JsonLines::open(path)
                .with_context(|| format!("opening the exchanges output {}", path.display()))?,
        ),
        None => None,
    };
    let options = LiveOptions {
        capture_limit: config.capture.capture_limit_bytes,
        ring_bytes: config.capture.ring_buffer_bytes,
        pids: config.capture.pids.clone(),
        comms: config.capture.process_names.clone(),
    };
    let mut capture = LiveCapture::start(&options)?;
    if capture.resumed > 0 {
        tracing::info!(
            "{} socket syscalls were already blocked at start; their data will be captured",
            capture.resumed
        );
    }
    let mut pipeline = Pipeline::new(&config.capture, &config.limits, unix_minus_monotonic_ns());
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    // The kernel wakes us only when the ring is filling up (see
    // `Settings::wakeup_bytes`); everything else is collected here.
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(
        "sensor ready: capturing HTTP on this host; alerts to {}{}",
        config.output.alerts.display(),
        config
            .output
            .exchanges
            .as_ref()
            .map(|p| format!(", exchanges to {}", p.display()))
            .unwrap_or_default()
    );

    let mut events: Vec<CaptureEvent> = Vec::with_capacity(BATCH);
    let mut done: Vec<HttpExchange> = Vec::new();
    loop {
        tokio::select! {
            batch = capture.next_batch(&mut events, BATCH) => {
                batch?;
                process(&mut capture, &mut pipeline, &mut events, &mut done);
                write_exchanges(&mut exchanges, &mut done)?;
            }
            _ = poll.tick() => {
                capture.drain_now(&mut events);
                process(&mut capture, &mut pipeline, &mut events, &mut done);
                write_exchanges(&mut exchanges, &mut done)?;
            }
            _ = tick.tick() => {
                pipeline.expire_idle(monotonic_ns(), &mut done);
                write_exchanges(&mut exchanges, &mut done)?;
                flush(&mut alerts, &mut exchanges)?;
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }

    // What the kernel already queued still counts; then detach.
    capture.drain_now(&mut events);
    for event in events.drain(..) {
        pipeline.handle(event, &mut done);
    }
    let kernel = capture.kernel_counters();
    let decode_errors = capture.decode_errors;
    let resumed = capture.resumed;
    drop(capture);
    let open_connections = pipeline.connections();
    pipeline.finish(monotonic_ns(), &mut done);
    write_exchanges(&mut exchanges, &mut done)?;
    flush(&mut alerts, &mut exchanges)?;
    let stats = Stats::new(&kernel, decode_errors, resumed, open_connections, &pipeline);
    tracing::info!("sensor stopped: {}", stats.summary());
    if let Some(path) = stats_path {
        std::fs::write(&path, serde_json::to_vec_pretty(&stats)?)
            .with_context(|| format!("writing stats to {}", path.display()))?;
    }
    Ok(())
}

/// Runs captured events through the pipeline and tells the kernel which
/// connections to stop sending.
fn process(
    capture: &mut LiveCapture,
    pipeline: &mut Pipeline,
    events: &mut Vec<CaptureEvent>,
    done: &mut Vec<HttpExchange>,
) {
    for event in events.drain(..) {
        pipeline.handle(event, done);
    }
    for (pid, fd) in pipeline.take_ignored() {
        capture.ignore(pid, fd);
    }
}

fn write_exchanges(
    out: &mut Option<JsonLines>,
    done: &mut Vec<HttpExchange>,
) -> anyhow::Result<()> {
    if let Some(out) = out {
        for exchange in done.iter() {
            out.write(&ExchangeRecord::new(exchange))
                .with_context(|| format!("writing to {}", out.path().display()))?;
        }
    }
    // Detectors take these exchanges once they exist; until then they end here.
    done.clear();
    Ok(())
}

fn flush(alerts: &mut JsonLines, exchanges: &mut Option<JsonLines>) -> anyhow::Result<()> {
    alerts
        .flush()
        .with_context(|| format!("writing to {}", alerts.path().display()))?;
    if let Some(out) = exchanges {
        out.flush()
            .with_context(|| format!("writing to {}", out.path().display()))?;
    }
    Ok(())
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// The capture clock: bpf_ktime_get_ns is CLOCK_MONOTONIC.
fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC) as u64
}

fn unix_minus_monotonic_ns() -> i128 {
    clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC)
}
