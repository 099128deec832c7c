//! `sensor run`: the live capture and the monotonic clock, handed to a
//! `Session`; metrics served while it runs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{signal, SignalKind};

use crate::capture::live::{LiveCapture, LiveOptions};
use crate::capture::tls::TlsStats;
use crate::capture::CaptureEvent;
use crate::clock::{monotonic_ns, unix_minus_monotonic_ns};
use crate::config::Config;
use crate::conntrack::kubernetes::PodIndex;
use crate::conntrack::LiveResolver;
use crate::metrics::{self, Page};
use crate::session::Session;
use crate::sink::write_stats;
use crate::stats::SourceStats;

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

pub async fn run(config: Config, stats_path: Option<PathBuf>) -> anyhow::Result<()> {
    config.validate()?;
    crate::preflight::check(&config)?;
    let sinks = config.sinks.start(&config.output.state_dir)?;
    let pods = PodIndex::from_environment(&config.kubernetes);
    let resolver = Box::new(LiveResolver::new().with_pods(pods.clone()));
    let unix_offset_ns = unix_minus_monotonic_ns();
    let mut session = Session::open(&config, unix_offset_ns, resolver, sinks)?;
    let mut capture = LiveCapture::start(&LiveOptions {
        capture_limit: config.capture.capture_limit_bytes,
        ring_bytes: config.capture.ring_buffer_bytes,
        pids: config.capture.pids.clone(),
        comms: config.capture.process_names.clone(),
        tls: config.capture.tls.clone(),
        ports: config.capture.ports.clone(),
        mode: config.capture.mode,
    })?;
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
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let exchanges = config.output.exchanges.as_ref();
    let exchanges = exchanges.map(|p| format!(", exchanges to {}", p.display()));
    // Start-up parsed the kernel's BTF and the eBPF object and scanned
    // the host's TLS libraries, all freed now: give those pages back
    // instead of carrying them as resident memory for the sensor's life.
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    let degraded = https_refused(&capture.tls_stats());
    let https_note = degraded.as_ref().map(|what| format!(" (degraded: {what})"));
    tracing::info!(
        "sensor ready: capturing HTTP on this host ({} mode){}; alerts to {}{}",
        capture.mode,
        https_note.unwrap_or_default(),
        config.output.alerts.display(),
        exchanges.unwrap_or_default()
    );
    if let Some(metrics) = &metrics {
        if let Some(what) = degraded {
            metrics.set_degraded(what, config.capture.tls.required);
        }
        metrics.set_ready();
    }

    let mut events: Vec<CaptureEvent> = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            batch = capture.next_batch(&mut events, BATCH) => batch?,
            _ = poll.tick() => {
                // Bounded batches, each handled before the next is read:
                // memory stays flat however fast the kernel produces, and
                // the ring is still emptied as fast as the agent can go.
                for _ in 0..BATCHES_PER_POLL {
                    if !capture.drain_now(&mut events, BATCH) {
                        break;
                    }
                    process(&mut capture, &mut session, &mut events)?;
                }
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

/// What the ready line and `/readyz` say when the kernel refused the TLS
/// uprobes for want of privilege: HTTPS through those files is not
/// captured.
fn https_refused(tls: &TlsStats) -> Option<String> {
    let refused = tls.files_not_attached.permission;
    (refused > 0).then(|| {
        format!(
            "HTTPS not captured: the kernel refused the TLS uprobes on {refused} \
             libraries for want of CAP_SYS_ADMIN"
        )
    })
}

fn source_stats(capture: &LiveCapture, open_connections: usize) -> SourceStats {
    let kernel = capture.kernel_counters();
    SourceStats::live(
        capture.mode,
        &kernel,
        capture.decode_errors,
        capture.resumed,
        open_connections,
    )
}

fn metrics_page(capture: &LiveCapture, session: &Session, pods: Option<&PodIndex>) -> String {
    let mut page = Page::default();
    session.metrics(source_stats(capture, session.connections()), &mut page);
    page.counters(
        "tls",
        serde_json::to_value(capture.tls_stats()).unwrap_or_default(),
    );
    page.family(mode_family(capture.mode));
    if let Some(pods) = pods {
        pods.metrics(&mut page);
    }
    page.render()
}

fn mode_family(mode: crate::capture::Mode) -> crate::metrics::Labelled {
    crate::metrics::Labelled {
        name: "capture_mode".to_owned(),
        help: "The kernel hooks capturing: socket (socket-layer tracepoints) or syscalls (syscall tracepoints).".to_owned(),
        kind: "gauge",
        samples: vec![(vec![("mode".to_owned(), mode.name().to_owned())], 1.0)],
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
