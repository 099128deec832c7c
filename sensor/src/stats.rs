//! The sensor's counters in one place: kernel drops, pipeline and HTTP.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::capture::tls::TlsStats;
use crate::http::HttpCounters;
use crate::pipeline::{Pipeline, PipelineCounters};
use crate::reassembly::ReassemblyCounters;
use crate::sink::worker::SinkSnapshot;

#[derive(Debug, Serialize)]
pub struct Stats {
    /// The kernel hooks that captured (live runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_mode: Option<crate::capture::Mode>,
    pub kernel: BTreeMap<&'static str, u64>,
    pub ring_decode_errors: u64,
    /// Socket syscalls already blocked when the sensor started, handed to
    /// the kernel so their data is captured.
    pub resumed_syscalls: u64,
    /// Connections still tracked when shutdown began (0 once every peer
    /// closed: nothing leaked).
    pub open_connections_at_shutdown: usize,
    pub pipeline: PipelineCounters,
    pub http: HttpCounters,
    pub reassembly: ReassemblyCounters,
    /// Remote alert sinks, as they stood when they closed.
    pub sinks: Vec<SinkSnapshot>,
    /// TLS library probes: files attached, new programs looked at.
    pub tls: TlsStats,
    /// Deduplication and rate limiting of alerts.
    pub alerts: Option<crate::alert::AggregateCounters>,
    /// Behavioural detectors and the inventory.
    pub analysis: Option<crate::analysis::AnalysisCounters>,
}

impl Stats {
    pub fn new(
        kernel: &[u64],
        decode_errors: u64,
        resumed_syscalls: u64,
        open_connections: usize,
        pipeline: &Pipeline,
    ) -> Self {
        Self {
            capture_mode: None,
            open_connections_at_shutdown: open_connections,
            kernel: sensor_common::counter::NAMES
                .iter()
                .copied()
                .zip(kernel.iter().copied())
                .collect(),
            ring_decode_errors: decode_errors,
            resumed_syscalls,
            pipeline: pipeline.counters.clone(),
            http: pipeline.http_counters.clone(),
            reassembly: pipeline.reassembly_counters.clone(),
            sinks: Vec::new(),
            tls: TlsStats::default(),
            alerts: None,
            analysis: None,
        }
    }

    /// One line for the log.
    pub fn summary(&self) -> String {
        let k = |name| self.kernel.get(name).copied().unwrap_or(0);
        format!(
            "{} exchanges from {} connections; kernel sent {} events ({} bytes), dropped {} (ring buffer full), truncated {} syscalls ({} bytes)",
            self.pipeline.exchanges,
            self.pipeline.connections_opened,
            k("events_sent"),
            k("bytes_sent"),
            k("ringbuf_full_events"),
            k("truncated_syscalls"),
            k("truncated_bytes"),
        )
    }
}
