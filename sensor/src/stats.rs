//! The counters of one session (`sensor run` or `sensor replay`) in one
//! type: what the source saw, what the pipeline, the analysis and the
//! outputs did. Written by `--stats` as one JSON object; the fields of the
//! source that did not run are left out, so a run and a replay write the
//! objects they always wrote.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::allocations::HeapCounters;
use crate::analysis::{AggregateCounters, AnalysisCounters};
use crate::capture::replay::ReplayCounters;
use crate::capture::tls::TlsStats;
use crate::capture::Mode;
use crate::http::HttpCounters;
use crate::pairing::PairingCounters;
use crate::pipeline::PipelineCounters;
use crate::reassembly::ReassemblyCounters;
use crate::sink::worker::SinkSnapshot;

/// What the capture source counted: the kernel's ring buffer, or a file.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SourceStats {
    Live {
        /// The kernel hooks that captured: socket or syscalls.
        capture_mode: Mode,
        kernel: BTreeMap<&'static str, u64>,
        ring_decode_errors: u64,
        /// Socket syscalls already blocked when the sensor started, handed
        /// to the kernel so their data is captured.
        resumed_syscalls: u64,
        /// Connections still tracked when shutdown began (0 once every
        /// peer closed: nothing leaked).
        open_connections_at_shutdown: usize,
    },
    Replay {
        file: String,
        capture: ReplayCounters,
    },
}

impl SourceStats {
    /// The live source's counters, `kernel` in `sensor_common::counter`
    /// order.
    pub fn live(
        capture_mode: Mode,
        kernel: &[u64],
        decode_errors: u64,
        resumed_syscalls: u64,
        open_connections: usize,
    ) -> Self {
        SourceStats::Live {
            capture_mode,
            kernel: sensor_common::counter::NAMES
                .iter()
                .copied()
                .zip(kernel.iter().copied())
                .collect(),
            ring_decode_errors: decode_errors,
            resumed_syscalls,
            open_connections_at_shutdown: open_connections,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Stats {
    #[serde(flatten)]
    pub source: SourceStats,
    pub pipeline: PipelineCounters,
    pub http: HttpCounters,
    pub reassembly: ReassemblyCounters,
    /// The two views of exchanges between local processes, paired.
    pub pairing: PairingCounters,
    /// Lines written to the exchanges and alerts files (after a replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchanges_written: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts_written: Option<u64>,
    /// Remote alert sinks, as they stood when they closed (live).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sinks: Option<Vec<SinkSnapshot>>,
    /// TLS library probes: files attached, new programs looked at (live).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsStats>,
    /// Deduplication and rate limiting of alerts.
    pub alerts: AggregateCounters,
    /// Behavioural detectors and the inventory.
    pub analysis: AnalysisCounters,
    /// The agent's heap allocations (the `sensor` binary counts them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap: Option<HeapCounters>,
}

impl Stats {
    /// One line for the user.
    pub fn summary(&self) -> String {
        let p = &self.pipeline;
        match &self.source {
            SourceStats::Live { kernel, .. } => {
                let k = |name| kernel.get(name).copied().unwrap_or(0);
                format!(
                    "{} exchanges from {} connections; kernel sent {} events ({} bytes), dropped {} (ring buffer full), truncated {} syscalls ({} bytes)",
                    p.exchanges,
                    p.connections_opened,
                    k("events_sent"),
                    k("bytes_sent"),
                    k("ringbuf_full_events"),
                    k("truncated_syscalls"),
                    k("truncated_bytes"),
                )
            }
            SourceStats::Replay { file, capture: c } => format!(
                "replayed {}: {} packets ({} skipped), {} TCP flows, {} exchanges; dropped: {} holes ({} bytes missing from the capture), {} flows and {} connections evicted at limits, {} HTTP messages lost to gaps",
                file,
                c.packets,
                c.skipped_packets(),
                c.flows,
                p.exchanges,
                c.holes,
                c.hole_bytes,
                c.flows_evicted_limit,
                p.connections_evicted_limit + p.connections_evicted_memory,
                self.http.gap_lost_messages,
            ),
        }
    }
}
