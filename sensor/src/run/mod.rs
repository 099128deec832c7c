//! `sensor run`: the live capture and the monotonic clock, handed to a
//! `Session`; metrics served while it runs (`status`).

mod status;

use status::{announce_ready, https_refused, live_options, metrics_page, source_stats};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{signal, SignalKind};

use crate::capture::live::LiveCapture;
use crate::capture::CaptureEvent;
use crate::clock::{monotonic_ns, unix_minus_monotonic_ns};
use crate::config::Config;
use crate::conntrack::kubernetes::PodIndex;
use crate::conntrack::LiveResolver;
use crate::metrics;
use crate::session::Session;
use crate::sink::write_stats;

/// Ring buffer records handled per wake-up before outputs get a turn.
const BATCH: usize = 4096;

/// Batches read on one timed poll before the other tasks (metrics, idle
/// expiry, signals) get a turn.
const BATCHES_PER_POLL: usize = 16;

/// Batches read from the ring buffer at shutdown, at most: more than a
/// full default ring (16 MiB) holds.
const SHUTDOWN_BATCHES: usize = 64;

/// How often the ring buffer is drained when the kernel did not wake us.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The longest wait between drains once polls keep finding nothing: an
/// idle sensor (every process filtered out, a quiet host) wakes ten times a
/// second instead of a hundred, and each wake-up on a loaded host is a
/// context switch taken from the applications. The kernel still wakes the
/// agent as soon as the ring fills past its mark, and for every exec.
const IDLE_POLL_INTERVAL: Duration = Duration::from_millis(100);

pub async fn run(config: Config, stats_path: Option<PathBuf>) -> anyhow::Result<()> {
    config.validate()?;
    crate::preflight::check(&config)?;
    let sinks = config.sinks.start(&config.output.state_dir)?;
    let pods = PodIndex::from_environment(&config.kubernetes);
    let resolver = Box::new(LiveResolver::new().with_pods(pods.clone()));
    let unix_offset_ns = unix_minus_monotonic_ns();
    let mut session = Session::open(&config, unix_offset_ns, resolver, sinks)?;
    let mut capture = LiveCapture::start(&live_options(&config))?;
    if capture.resumed > 0 {
        tracing::info!(
            "{} socket syscalls were already blocked at start; their data will be captured",
            capture.resumed
        );
    }
    let metrics = metrics::start(&config.metrics)
        .await
        .with_context(|| format!("metrics: listening on {}", config.metrics.listen))?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    // The kernel wakes us only when the ring is filling up (see
    // `Settings::wakeup_bytes`); everything else is collected here.
    let mut poll_every = POLL_INTERVAL;
    let poll = tokio::time::sleep(poll_every);
    tokio::pin!(poll);
    announce_ready(&config, &capture, metrics.as_ref());

    let mut events: Vec<CaptureEvent> = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            batch = capture.next_batch(&mut events, BATCH) => {
                batch?;
                poll_every = POLL_INTERVAL;
                poll.as_mut().reset(tokio::time::Instant::now() + poll_every);
            }
            _ = &mut poll => {
                // Bounded batches, each handled before the next is read:
                // memory stays flat however fast the kernel produces, and
                // the ring is still emptied as fast as the agent can go.
                let mut found = false;
                for _ in 0..BATCHES_PER_POLL {
                    let more = capture.drain_now(&mut events, BATCH);
                    found |= !events.is_empty();
                    process(&mut capture, &mut session, &mut events)?;
                    if !more {
                        break;
                    }
                }
                poll_every = next_poll_interval(poll_every, found || capture.needs_prompt_polls(Instant::now()));
                poll.as_mut().reset(tokio::time::Instant::now() + poll_every);
            }
            _ = tick.tick() => {
                session.expire_idle(monotonic_ns());
                session.deliver_done()?;
                session.tick(i128::from(monotonic_ns()) + unix_offset_ns)?;
                session.flush()?;
                if let Some(metrics) = &metrics {
                    metrics.publish(metrics_page(&capture, &session, pods.as_ref()));
                    // A library refused after start-up (a new program
                    // bringing its own) degrades readiness too.
                    if let Some(what) = https_refused(&capture.tls_stats()) {
                        metrics.set_degraded(what, config.capture.tls.required);
                    }
                }
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
        process(&mut capture, &mut session, &mut events)?;
    }

    // What the kernel already queued still counts; then detach. In
    // bounded batches, each handled before the next is read, and a bounded
    // number of them: traffic that goes on must not hold the exit.
    for _ in 0..SHUTDOWN_BATCHES {
        let more = capture.drain_final(&mut events, BATCH);
        process(&mut capture, &mut session, &mut events)?;
        if !more {
            break;
        }
    }
    let source = source_stats(&capture, session.connections());
    let tls = capture.tls_stats();
    // Detaching is most of a shutdown: the kernel waits out an RCU grace
    // period for each probe it removes.
    let detaching = std::time::Instant::now();
    drop(capture);
    tracing::info!("probes detached in {} ms", detaching.elapsed().as_millis());
    session.finish(monotonic_ns())?;
    let mut stats = session.close(source);
    stats.tls = Some(tls);
    tracing::info!("sensor stopped: {}", stats.summary());
    if let Some(path) = stats_path {
        write_stats(&path, &stats)?;
    }
    Ok(())
}

/// The wait before the next drain: the shortest while drains find records
/// (or something waits on time), doubling up to `IDLE_POLL_INTERVAL` while
/// they find nothing.
fn next_poll_interval(current: Duration, busy: bool) -> Duration {
    if busy {
        POLL_INTERVAL
    } else {
        (current * 2).min(IDLE_POLL_INTERVAL)
    }
}

/// Runs captured events through the session, delivers the exchanges
/// whenever the session holds its bound of them (one batch of records can
/// finish many), and tells the kernel which connections to stop sending.
fn process(
    capture: &mut LiveCapture,
    session: &mut Session,
    events: &mut Vec<CaptureEvent>,
) -> Result<(), crate::sink::OutputError> {
    for event in events.drain(..) {
        session.handle(event);
        if session.done_is_full() {
            session.deliver_done()?;
        }
    }
    session.deliver_done()?;
    for conn in session.take_ignored() {
        capture.ignore(conn);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_back_off_while_idle_and_snap_back_on_activity() {
        let mut every = POLL_INTERVAL;
        let mut seen = Vec::new();
        for _ in 0..6 {
            every = next_poll_interval(every, false);
            seen.push(every.as_millis());
        }
        assert_eq!(seen, [20, 40, 80, 100, 100, 100]);
        assert_eq!(next_poll_interval(every, true), POLL_INTERVAL);
    }
}
