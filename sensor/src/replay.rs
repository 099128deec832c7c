//! `sensor replay`: a pcap or pcapng capture through the same pipeline and
//! outputs as `sensor run`, without root and without the kernel. Exchanges
//! and alerts are those a live run would have written for the same traffic,
//! seen from each connection's server side.
//!
//! A capture cut short at the end (tcpdump killed mid-write) is replayed up
//! to the cut with a warning; any other unreadable record stops the replay
//! with an error naming the file and packet, after everything before it has
//! been written out.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::capture::replay::{
    decode, CaptureReader, FlowAddresses, FlowLimits, FlowTable, ReplayCounters, Skip,
};
use crate::capture::CaptureEvent;
use crate::config::Config;
use crate::exchange::HttpExchange;
use crate::http::HttpCounters;
use crate::pipeline::{Pipeline, PipelineCounters};
use crate::reassembly::ReassemblyCounters;
use crate::sink::{write_stats, Outputs};

/// Bytes one direction of a flow may hold ahead of a hole: several full
/// windows of 64 KiB loopback segments.
const MAX_HELD_PER_DIRECTION: usize = 512 << 10;
/// Bytes all flows together may hold ahead of holes.
const MAX_HELD_TOTAL: usize = 64 << 20;
/// How often (capture time) the pipeline looks for idle connections.
const EXPIRE_INTERVAL_NS: u64 = 1_000_000_000;

/// The `--stats` object of a replay.
#[derive(Debug, Serialize)]
pub struct ReplayStats {
    pub file: String,
    pub capture: ReplayCounters,
    pub pipeline: PipelineCounters,
    pub http: HttpCounters,
    pub reassembly: ReassemblyCounters,
    pub exchanges_written: u64,
    pub alerts_written: u64,
    /// Deduplication and rate limiting of alerts.
    pub alerts: crate::alert::AggregateCounters,
    /// Behavioural detectors and the inventory.
    pub analysis: Option<crate::analysis::AnalysisCounters>,
}

impl ReplayStats {
    /// One line for the user.
    pub fn summary(&self) -> String {
        let c = &self.capture;
        let p = &self.pipeline;
        format!(
            "replayed {}: {} packets ({} skipped), {} TCP flows, {} exchanges; dropped: {} holes ({} bytes missing from the capture), {} flows and {} connections evicted at limits, {} HTTP messages lost to gaps",
            self.file,
            c.packets,
            c.skipped_packets(),
            c.flows,
            p.exchanges,
            c.holes,
            c.hole_bytes,
            c.flows_evicted_limit,
            p.connections_evicted_limit + p.connections_evicted_memory,
            self.http.gap_lost_messages,
        )
    }
}

pub fn replay(config: Config, file: &Path, stats_path: Option<PathBuf>) -> anyhow::Result<()> {
    config.validate()?;
    let shown = file.display();
    let input = File::open(file).with_context(|| format!("opening the capture {shown}"))?;
    let mut reader = CaptureReader::new(BufReader::with_capacity(1 << 20, input))
        .map_err(|err| anyhow!("{shown}: {err}"))?;
    let analysis = Analysis::from_config(&config)?;
    let mut outputs = Outputs::open(&config.output)?
        .with_analysis(analysis)
        .with_alert_policy(&config.alerts);
    let comm = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let addresses = FlowAddresses::default();
    let limits = FlowLimits {
        max_flows: config.limits.max_connections,
        max_held_per_direction: MAX_HELD_PER_DIRECTION,
        max_held_total: MAX_HELD_TOTAL,
        idle_timeout_ns: config
            .limits
            .idle_timeout_secs
            .saturating_mul(1_000_000_000),
    };
    let mut flows = FlowTable::new(limits, comm.clone(), addresses.clone());
    // Capture timestamps are already Unix time.
    let mut pipeline =
        Pipeline::new(&config.capture, &config.limits, 0).with_resolver(addresses.resolver(comm));

    let mut events: Vec<CaptureEvent> = Vec::new();
    let mut done: Vec<HttpExchange> = Vec::new();
    let mut unknown_links = BTreeSet::new();
    let mut last_ts_ns = 0;
    let mut next_expire_ns = 0;
    let failure = loop {
        let packet = match reader.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break None,
            Err(err) => break Some(err),
        };
        flows.counters.packets += 1;
        flows.counters.captured_bytes += packet.data.len() as u64;
        last_ts_ns = last_ts_ns.max(packet.ts_ns);
        match decode(packet.link_type, packet.data) {
            Ok(segment) => flows.push(&segment, packet.ts_ns, &mut events),
            Err(skip) => {
                if skip == Skip::UnknownLink && unknown_links.insert(packet.link_type) {
                    tracing::warn!(
                        "{shown}: packet {} was captured on an interface of link type {}, which is not supported; packets of that interface are skipped",
                        packet.number,
                        packet.link_type
                    );
                }
                tracing::debug!("{shown}: packet {} skipped: {skip:?}", packet.number);
                flows.counters.count_skip(skip);
            }
        }
        handle(&mut pipeline, &mut flows, &mut events, &mut done);
        if last_ts_ns >= next_expire_ns {
            next_expire_ns = last_ts_ns.saturating_add(EXPIRE_INTERVAL_NS);
            pipeline.expire_idle(last_ts_ns, &mut done);
        }
        if !done.is_empty() {
            outputs.deliver(&mut done)?;
        }
    };

    flows.finish(last_ts_ns, &mut events);
    handle(&mut pipeline, &mut flows, &mut events, &mut done);
    pipeline.finish(last_ts_ns, &mut done);
    outputs.deliver(&mut done)?;
    outputs.finish()?;
    outputs.flush()?;
    let stats = ReplayStats {
        file: shown.to_string(),
        capture: flows.counters.clone(),
        pipeline: pipeline.counters.clone(),
        http: pipeline.http_counters.clone(),
        reassembly: pipeline.reassembly_counters.clone(),
        exchanges_written: outputs.exchanges_written(),
        alerts_written: outputs.alerts_written(),
        alerts: outputs.aggregate_counters().clone(),
        analysis: outputs.analysis().map(Analysis::counters),
    };
    eprintln!("{}", stats.summary());
    if let Some(path) = stats_path {
        write_stats(&path, &stats)?;
    }
    match failure {
        None => Ok(()),
        Some(err) if err.is_truncation() => {
            tracing::warn!(
                "{shown}: {err}; the {} packets before it were replayed",
                reader.packets()
            );
            Ok(())
        }
        Some(err) => Err(anyhow!(
            "{shown}: {err}; the {} packets before it were replayed and their results written",
            reader.packets()
        )),
    }
}

/// Runs flow events through the pipeline. A connection the pipeline turns
/// down (port filter) is muted at once, so the rest of its events are not
/// mistaken for a connection whose open was lost.
fn handle(
    pipeline: &mut Pipeline,
    flows: &mut FlowTable,
    events: &mut Vec<CaptureEvent>,
    done: &mut Vec<HttpExchange>,
) {
    let mut refused: Vec<i32> = Vec::new();
    for event in events.drain(..) {
        if let CaptureEvent::Data { conn, .. } | CaptureEvent::Close { conn, .. } = &event {
            if refused.contains(&conn.fd) {
                continue;
            }
        }
        pipeline.handle(event, done);
        for conn in pipeline.take_ignored() {
            flows.mute(conn.fd);
            refused.push(conn.fd);
        }
    }
}
