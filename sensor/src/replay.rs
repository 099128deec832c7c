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

use crate::capture::replay::{decode, CaptureReader, FlowAddresses, FlowLimits, FlowTable, Skip};
use crate::capture::CaptureEvent;
use crate::config::Config;
use crate::session::Session;
use crate::sink::{write_stats, OutputError};
use crate::stats::SourceStats;

/// Bytes one direction of a flow may hold ahead of a hole: several full
/// windows of 64 KiB loopback segments.
const MAX_HELD_PER_DIRECTION: usize = 512 << 10;
/// Bytes all flows together may hold ahead of holes.
const MAX_HELD_TOTAL: usize = 64 << 20;
/// How often (capture time) the pipeline looks for idle connections.
const EXPIRE_INTERVAL_NS: u64 = 1_000_000_000;

pub fn replay(config: Config, file: &Path, stats_path: Option<PathBuf>) -> anyhow::Result<()> {
    config.validate()?;
    let shown = file.display();
    let input = File::open(file).with_context(|| format!("opening the capture {shown}"))?;
    let mut reader = CaptureReader::new(BufReader::with_capacity(1 << 20, input))
        .map_err(|err| anyhow!("{shown}: {err}"))?;
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
    let mut session = Session::open(&config, 0, addresses.resolver(comm), Vec::new())?;

    let mut events: Vec<CaptureEvent> = Vec::new();
    let mut unknown_links = BTreeSet::new();
    let mut last_ts_ns = 0;
    let mut next_expire_ns = 0;
    crate::allocations::mark_ready();
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
        handle(&mut session, &mut flows, &mut events)?;
        if last_ts_ns >= next_expire_ns {
            next_expire_ns = last_ts_ns.saturating_add(EXPIRE_INTERVAL_NS);
            session.expire_idle(last_ts_ns);
        }
        session.deliver_done()?;
    };

    flows.finish(last_ts_ns, &mut events);
    handle(&mut session, &mut flows, &mut events)?;
    session.finish(last_ts_ns)?;
    let stats = session.replay_stats(SourceStats::Replay {
        file: shown.to_string(),
        capture: flows.counters.clone(),
    });
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

/// Runs flow events through the session. A connection the pipeline turns
/// down (port filter) is muted at once, so the rest of its events are not
/// mistaken for a connection whose open was lost. Finished exchanges are
/// delivered whenever their bound is reached (the end of the file closes
/// every flow at once).
fn handle(
    session: &mut Session,
    flows: &mut FlowTable,
    events: &mut Vec<CaptureEvent>,
) -> Result<(), OutputError> {
    let mut refused: Vec<i32> = Vec::new();
    for event in events.drain(..) {
        if let CaptureEvent::Data { conn, .. } | CaptureEvent::Close { conn, .. } = &event {
            if refused.contains(&conn.fd) {
                continue;
            }
        }
        session.handle(event);
        for conn in session.take_ignored() {
            flows.mute(conn.fd);
            refused.push(conn.fd);
        }
        if session.done_is_full() {
            session.deliver_done()?;
        }
    }
    Ok(())
}
