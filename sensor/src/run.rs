//! `sensor run`: live capture wired to the pipeline and the outputs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{signal, SignalKind};

use crate::analysis::Analysis;
use crate::capture::live::{LiveCapture, LiveOptions};
use crate::capture::CaptureEvent;
use crate::config::Config;
use crate::conntrack::kubernetes::PodIndex;
use crate::conntrack::LiveResolver;
use crate::exchange::HttpExchange;
use crate::metrics::{self, Labelled, MetricsState};
use crate::pipeline::Pipeline;
use crate::sink::worker::SinkSnapshot;
use crate::sink::{write_stats, Outputs};
use crate::stats::Stats;

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
    let analysis = Analysis::from_config(&config)?;
    let mut outputs = Outputs::open(&config.output)?
        .with_sinks(sinks)
        .with_analysis(analysis)
        .with_alert_policy(&config.alerts);
    let options = LiveOptions {
        capture_limit: config.capture.capture_limit_bytes,
        ring_bytes: config.capture.ring_buffer_bytes,
        pids: config.capture.pids.clone(),
        comms: config.capture.process_names.clone(),
        tls: config.capture.tls.clone(),
    };
    let mut capture = LiveCapture::start(&options)?;
    if capture.resumed > 0 {
        tracing::info!(
            "{} socket syscalls were already blocked at start; their data will be captured",
            capture.resumed
        );
    }
    let pods = PodIndex::from_environment(&config.kubernetes);
    // Exchanges are stamped with capture time; deduplication windows close
    // on the same clock, whatever NTP does to the wall clock meanwhile.
    let unix_offset_ns = unix_minus_monotonic_ns();
    let mut pipeline = Pipeline::new(&config.capture, &config.limits, unix_offset_ns)
        .with_resolver(Box::new(LiveResolver::new().with_pods(pods.clone())));
    let metrics = start_metrics(&config).await?;
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

    if let Some(metrics) = &metrics {
        metrics.set_ready();
    }

    let mut events: Vec<CaptureEvent> = Vec::with_capacity(BATCH);
    let mut done: Vec<HttpExchange> = Vec::new();
    loop {
        tokio::select! {
            batch = capture.next_batch(&mut events, BATCH) => {
                batch?;
                process(&mut capture, &mut pipeline, &mut events, &mut done, &mut outputs)?;
            }
            _ = poll.tick() => {
                // Bounded batches, each handled before the next is read:
                // memory stays flat however fast the kernel produces, and
                // the ring is still emptied as fast as the agent can go.
                for _ in 0..BATCHES_PER_POLL {
                    capture.drain_now(&mut events, BATCH);
                    if events.is_empty() {
                        break;
                    }
                    process(&mut capture, &mut pipeline, &mut events, &mut done, &mut outputs)?;
                }
            }
            _ = tick.tick() => {
                pipeline.expire_idle(monotonic_ns(), &mut done);
                outputs.deliver(&mut done)?;
                outputs.tick(i128::from(monotonic_ns()) + unix_offset_ns)?;
                outputs.flush()?;
                if let Some(metrics) = &metrics {
                    metrics.publish(metrics_page(&capture, &pipeline, &outputs, pods.as_ref()));
                }
            }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }

    // What the kernel already queued still counts; then detach. In
    // bounded batches, each handled before the next is read, and a bounded
    // number of them: traffic that goes on must not hold the exit.
    for _ in 0..SHUTDOWN_BATCHES {
        capture.drain_now(&mut events, BATCH);
        if events.is_empty() {
            break;
        }
        for event in events.drain(..) {
            pipeline.handle(event, &mut done);
        }
        outputs.deliver(&mut done)?;
    }
    let kernel = capture.kernel_counters();
    let decode_errors = capture.decode_errors;
    let resumed = capture.resumed;
    let tls = capture.tls_stats();
    drop(capture);
    let open_connections = pipeline.connections();
    pipeline.finish(monotonic_ns(), &mut done);
    outputs.deliver(&mut done)?;
    outputs.finish()?;
    outputs.flush()?;
    let mut stats = Stats::new(&kernel, decode_errors, resumed, open_connections, &pipeline);
    stats.sinks = outputs.close_sinks();
    stats.alerts = Some(outputs.aggregate_counters().clone());
    stats.analysis = outputs.analysis().map(Analysis::counters);
    stats.tls = tls;
    tracing::info!("sensor stopped: {}", stats.summary());
    if let Some(path) = stats_path {
        write_stats(&path, &stats)?;
    }
    Ok(())
}

/// Binds the metrics listener (a taken port fails start-up) and serves it
/// on this runtime.
async fn start_metrics(config: &Config) -> anyhow::Result<Option<MetricsState>> {
    if !config.metrics.enabled {
        return Ok(None);
    }
    let listener = metrics::bind(&config.metrics.listen)
        .await
        .with_context(|| format!("metrics: listening on {}", config.metrics.listen))?;
    let state = MetricsState::default();
    tokio::spawn(metrics::serve(listener, state.clone()));
    tracing::info!("metrics on http://{}/metrics", config.metrics.listen);
    Ok(Some(state))
}

fn metrics_page(
    capture: &LiveCapture,
    pipeline: &Pipeline,
    outputs: &Outputs,
    pods: Option<&PodIndex>,
) -> String {
    let mut stats = Stats::new(
        &capture.kernel_counters(),
        capture.decode_errors,
        capture.resumed,
        pipeline.connections(),
        pipeline,
    );
    stats.tls = capture.tls_stats();
    let analysis = outputs
        .analysis()
        .map(Analysis::counters)
        .unwrap_or_default();
    let mut counters = serde_json::to_value(&stats).unwrap_or_default();
    // Gauges, not counters: exported below under their own names.
    if let Some(map) = counters.as_object_mut() {
        map.remove("open_connections_at_shutdown");
        let aggregate = outputs.aggregate_counters();
        map.insert(
            "alerts".to_owned(),
            serde_json::json!({
                "folded": aggregate.folded,
                "summaries": aggregate.summaries,
                "dedup_evicted": aggregate.evicted,
                "below_min_severity": outputs.below_file_min_severity(),
            }),
        );
        if let Some(b) = &analysis.behaviour {
            map.insert(
                "behaviour".to_owned(),
                serde_json::json!({
                    "exchanges": b.exchanges,
                    "findings": b.findings,
                    "suppressed": b.suppressed,
                    "endpoint_evictions": b.endpoint_evictions,
                    "client_evictions": b.client_evictions,
                    "id_tracker_evictions": b.id_tracker_evictions,
                    "episode_evictions": b.episode_evictions,
                }),
            );
        }
        if let Some(pods) = pods {
            let k = pods.counters();
            map.insert(
                "kubernetes".to_owned(),
                serde_json::json!({
                    "refreshes": k.refreshes,
                    "miss_refreshes": k.miss_refreshes,
                    "refresh_failures": k.refresh_failures,
                    "pods_over_cap": k.pods_over_cap,
                    "lookup_hits": k.lookup_hits,
                    "lookup_misses": k.lookup_misses,
                }),
            );
        }
        if let Some(i) = &analysis.inventory {
            map.insert(
                "inventory".to_owned(),
                serde_json::json!({
                    "evicted": i.evicted,
                    "saves": i.saves,
                    "save_errors": i.save_errors,
                    "files_set_aside": i.files_set_aside,
                }),
            );
        }
    }
    let behaviour = analysis.behaviour.clone().unwrap_or_default();
    metrics::render(
        &counters,
        &[
            (
                "connections_tracked",
                "HTTP connections the agent is tracking now.",
                pipeline.connections() as f64,
            ),
            (
                "behaviour_endpoints_tracked",
                "Endpoints the behavioural detectors keep a baseline for.",
                behaviour.endpoints_tracked as f64,
            ),
            (
                "behaviour_clients_tracked",
                "Clients the behavioural detectors keep a baseline for.",
                behaviour.clients_tracked as f64,
            ),
            (
                "inventory_endpoints",
                "Endpoints in the inventory.",
                analysis.inventory.map_or(0, |i| i.endpoints) as f64,
            ),
        ],
        &[
            vec![alert_family(outputs), rate_limited_family(outputs)],
            sink_families(&outputs.sink_snapshots()),
        ]
        .concat(),
    )
}

fn alert_family(outputs: &Outputs) -> Labelled {
    Labelled {
        name: "alerts_total".to_owned(),
        help: "Alerts raised after deduplication and rate limiting, by rule and severity (alerts.min_severity may keep some from the file).".to_owned(),
        kind: "counter",
        samples: outputs
            .alert_counts()
            .iter()
            .map(|((rule, severity), n)| {
                (
                    vec![
                        ("rule".to_owned(), rule.clone()),
                        ("severity".to_owned(), (*severity).to_owned()),
                    ],
                    *n as f64,
                )
            })
            .collect(),
    }
}

fn rate_limited_family(outputs: &Outputs) -> Labelled {
    Labelled {
        name: "alerts_rate_limited_total".to_owned(),
        help: "New alerts dropped by alerts.max_per_rule_per_minute, by rule.".to_owned(),
        kind: "counter",
        samples: outputs
            .aggregate_counters()
            .rate_limited
            .iter()
            .map(|(rule, n)| (vec![("rule".to_owned(), rule.clone())], *n as f64))
            .collect(),
    }
}

fn sink_families(sinks: &[SinkSnapshot]) -> Vec<Labelled> {
    let family = |name: &str, help: &str, kind, value: fn(&SinkSnapshot) -> u64| Labelled {
        name: name.to_owned(),
        help: help.to_owned(),
        kind,
        samples: sinks
            .iter()
            .map(|s| (vec![("sink".to_owned(), s.name.clone())], value(s) as f64))
            .collect(),
    };
    vec![
        family(
            "sink_queue_depth",
            "Alerts waiting in a sink's queue.",
            "gauge",
            |s| s.queued,
        ),
        family(
            "sink_delivered_total",
            "Alerts a sink delivered.",
            "counter",
            |s| s.delivered,
        ),
        family(
            "sink_queue_overflow_total",
            "Alerts refused because a sink's queue was full.",
            "counter",
            |s| s.queue_overflow,
        ),
        family(
            "sink_failures_total",
            "Failed delivery attempts.",
            "counter",
            |s| s.failures,
        ),
        family("sink_retries_total", "Delivery retries.", "counter", |s| {
            s.retries
        }),
        family(
            "sink_dropped_total",
            "Alerts a sink lost for good (spool full, receiver gone at shutdown).",
            "counter",
            |s| s.dropped,
        ),
        family(
            "sink_spooled_batches",
            "Batches on disk waiting for the receiver.",
            "gauge",
            |s| s.spooled_batches,
        ),
    ]
}

/// Exchanges held before they are handed to the outputs: one batch of
/// records can complete many exchanges (small pipelined responses each
/// decoding to `max_decoded_bytes`), so the queue is bounded in bytes too.
const MAX_PENDING_EXCHANGES: usize = 64;
const MAX_PENDING_EXCHANGE_BYTES: usize = 8 << 20;

/// Runs captured events through the pipeline, delivers the exchanges
/// whenever the queue of them reaches its bound, and tells the kernel which
/// connections to stop sending.
fn process(
    capture: &mut LiveCapture,
    pipeline: &mut Pipeline,
    events: &mut Vec<CaptureEvent>,
    done: &mut Vec<HttpExchange>,
    outputs: &mut Outputs,
) -> anyhow::Result<()> {
    let mut held = 0;
    for event in events.drain(..) {
        let before = done.len();
        pipeline.handle(event, done);
        held += done[before..].iter().map(exchange_bytes).sum::<usize>();
        if done.len() >= MAX_PENDING_EXCHANGES || held >= MAX_PENDING_EXCHANGE_BYTES {
            outputs.deliver(done)?;
            held = 0;
        }
    }
    outputs.deliver(done)?;
    for (pid, fd) in pipeline.take_ignored() {
        capture.ignore(pid, fd);
    }
    Ok(())
}

/// Body bytes an exchange holds (kept, tail and decoded, both messages).
fn exchange_bytes(x: &HttpExchange) -> usize {
    [&x.request.body, &x.response.body]
        .iter()
        .map(|b| b.raw.len() + b.tail.len() + b.decoded.as_ref().map_or(0, |d| d.len()))
        .sum()
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
