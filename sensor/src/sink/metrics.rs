//! The outputs' metric families: the alerts file's filter and every remote
//! sink's queue and delivery counters, labelled by sink.

use serde_json::json;

use super::worker::SinkSnapshot;
use super::Outputs;
use crate::metrics::{Labelled, Page};

impl Outputs {
    /// Adds the outputs' counters and families to `page`.
    pub fn metrics(&self, page: &mut Page) {
        page.counters(
            "alerts",
            json!({"below_min_severity": self.below_file_min_severity()}),
        );
        for family in sink_families(&self.sink_snapshots()) {
            page.family(family);
        }
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
