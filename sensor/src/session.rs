//! One run of the sensor: capture events from a source (live or a pcap)
//! through the pipeline (conntrack, reassembly, http) to exchanges, the
//! pairing of the two views of an exchange between local processes, the
//! analysis to alerts, and the outputs. `sensor run` and `sensor replay`
//! supply only the source and the clock; everything between is here, so
//! what a replay writes is what a live run would have written.
//!
//! Synchronous: the caller hands in events and the time, the session
//! hands back nothing but errors from the outputs.

use crate::alert::Alert;
use crate::analysis::Analysis;
use crate::capture::CaptureEvent;
use crate::config::Config;
use crate::conntrack::Resolver;
use crate::endpoint::EndpointCache;
use crate::exchange::HttpExchange;
use crate::metrics::Page;
use crate::pairing::{Paired, Pairing};
use crate::pipeline::Pipeline;
use crate::sink::chain::ChainKey;
use crate::sink::worker::SinkHandle;
use crate::sink::{OutputError, Outputs};
use crate::stats::{SourceStats, Stats};

/// Finished exchanges held before they must be delivered: one batch of
/// capture records can finish many (small pipelined responses, each
/// decoding to `max_decoded_bytes`), so the queue is bounded in bytes too.
const MAX_DONE: usize = 64;
const MAX_DONE_BYTES: usize = 8 << 20;

pub struct Session {
    pipeline: Pipeline,
    /// One view of each exchange between two captured local processes.
    pairing: Pairing,
    /// `capture.pair_local_ends`.
    pair_local_ends: bool,
    analysis: Analysis,
    outputs: Outputs,
    /// Exchanges the pipeline just finished, before pairing.
    finished: Vec<HttpExchange>,
    /// Exchanges finished, paired and not yet delivered.
    done: Vec<Paired>,
    /// Body bytes those exchanges hold.
    done_bytes: usize,
    /// Scratch for the alerts the analysis lets through.
    ready: Vec<Alert>,
    /// Endpoint keys of recent exchanges, by what they are made of.
    endpoints: EndpointCache,
}

impl Session {
    /// Everything `config` asks for. `unix_offset_ns` is Unix time minus
    /// the source's clock; `resolver` gives connections their context.
    pub fn open(
        config: &Config,
        unix_offset_ns: i128,
        resolver: Resolver,
        sinks: Vec<SinkHandle>,
    ) -> anyhow::Result<Self> {
        let pipeline =
            Pipeline::new(&config.capture, &config.limits, unix_offset_ns).with_resolver(resolver);
        let analysis = Analysis::from_config(config)?;
        let key = crate::analysis::fingerprint_key(config)?;
        let chain_key = ChainKey::from_bytes(key.derive(ChainKey::PURPOSE));
        let origin = crate::origin::Origin::detect(config.kubernetes.node_name.as_deref());
        let outputs = Outputs::open(&config.output)?
            .with_origin(origin)
            .with_sinks(sinks)
            .with_alert_policy(&config.alerts)
            .chained(chain_key)?;
        Ok(Self::new(pipeline, analysis, outputs).pair_local_ends(config.capture.pair_local_ends))
    }

    /// Whether the two views of an exchange between captured local
    /// processes are paired (the default) or each goes on alone.
    pub fn pair_local_ends(mut self, pair: bool) -> Self {
        self.pair_local_ends = pair;
        self
    }

    pub fn new(pipeline: Pipeline, analysis: Analysis, outputs: Outputs) -> Self {
        Self {
            pipeline,
            pairing: Pairing::new(),
            pair_local_ends: true,
            analysis,
            outputs,
            finished: Vec::new(),
            done: Vec::new(),
            done_bytes: 0,
            ready: Vec::new(),
            endpoints: EndpointCache::default(),
        }
    }

    /// One capture event through the pipeline; what it finishes waits for
    /// `deliver_done`.
    pub fn handle(&mut self, event: CaptureEvent) {
        self.pipeline.handle(event, &mut self.finished);
        self.pair_finished();
    }

    /// Passes what the pipeline finished through the pairing into `done`.
    fn pair_finished(&mut self) {
        let before = self.done.len();
        for exchange in self.finished.drain(..) {
            let peer = if self.pair_local_ends {
                self.pipeline.peer_of(&exchange.connection)
            } else {
                None
            };
            self.pairing.offer(exchange, peer, &mut self.done);
        }
        for end in self.pairing.take_muted() {
            self.pipeline.mute(&end);
        }
        self.count_done(before);
    }

    fn count_done(&mut self, from: usize) {
        self.done_bytes += self.done[from..]
            .iter()
            .map(|p| p.exchange.body_bytes_held())
            .sum::<usize>();
    }

    /// True when the finished exchanges held reach their bound: the
    /// caller must `deliver_done` before handling more events.
    pub fn done_is_full(&self) -> bool {
        self.done.len() >= MAX_DONE || self.done_bytes >= MAX_DONE_BYTES
    }

    /// (pid, fd) pairs the source should stop sending.
    pub fn take_ignored(&mut self) -> Vec<crate::capture::ConnId> {
        self.pipeline.take_ignored()
    }

    /// Connections tracked now.
    pub fn connections(&self) -> usize {
        self.pipeline.connections()
    }

    /// Ends connections idle at `now_ns` (the source's clock).
    /// Also lets through the views that waited long enough for their
    /// other end's.
    pub fn expire_idle(&mut self, now_ns: u64) {
        self.pipeline.expire_idle(now_ns, &mut self.finished);
        self.pair_finished();
        let before = self.done.len();
        self.pairing.release_due(now_ns, &mut self.done);
        self.count_done(before);
    }

    /// Delivers the exchanges the pipeline finished.
    pub fn deliver_done(&mut self) -> Result<(), OutputError> {
        self.done_bytes = 0;
        let mut done = std::mem::take(&mut self.done);
        let result = done
            .iter()
            .try_for_each(|p| self.deliver_one(&p.exchange, p.peer.as_ref()));
        done.clear();
        self.done = done;
        result
    }

    /// Writes what the sensor has to say about each of `done`, exchanges
    /// seen from one end, and empties it.
    pub fn deliver(&mut self, done: &mut Vec<HttpExchange>) -> Result<(), OutputError> {
        let result = done.iter().try_for_each(|x| self.deliver_one(x, None));
        done.clear();
        result
    }

    /// One exchange's record (tagged with the rules that fired on it),
    /// then the alerts it raises. `peer` is the other end of its
    /// connection when both ends were captured.
    fn deliver_one(
        &mut self,
        exchange: &HttpExchange,
        peer: Option<&std::sync::Arc<crate::conntrack::ConnectionInfo>>,
    ) -> Result<(), OutputError> {
        // Every stage names the endpoint the same way, worked out once.
        let endpoint = self.endpoints.key_of(exchange);
        let tags = self
            .analysis
            .alerts_on(exchange, peer, &endpoint, &mut self.ready);
        self.outputs
            .record_exchange(exchange, peer.map(|p| &**p), &endpoint, tags)?;
        self.outputs.send(&mut self.ready)
    }

    /// Periodic work at `now_unix_ns` (the capture clock, as alerts are
    /// stamped): the summaries of deduplication windows that have closed,
    /// the inventory saved when due.
    pub fn tick(&mut self, now_unix_ns: i128) -> Result<(), OutputError> {
        self.analysis.tick(now_unix_ns, &mut self.ready);
        self.outputs.send(&mut self.ready)
    }

    /// Makes everything written so far visible to readers (`tail -f`).
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.outputs.flush()
    }

    /// The end of the source at `now_ns`: every connection ends, every
    /// pending summary is written, the inventory saved, the files flushed.
    pub fn finish(&mut self, now_ns: u64) -> Result<(), OutputError> {
        self.pipeline.finish(now_ns, &mut self.finished);
        self.pair_finished();
        self.pairing.release_all(&mut self.done);
        self.deliver_done()?;
        self.analysis.finish(&mut self.ready);
        self.outputs.send(&mut self.ready)?;
        self.outputs.close()
    }

    /// Alerts kept from the alerts file by its minimum severity.
    pub fn below_file_min_severity(&self) -> u64 {
        self.outputs.below_file_min_severity()
    }

    /// What deduplication and rate limiting did.
    pub fn aggregate_counters(&self) -> &crate::analysis::AggregateCounters {
        self.analysis.aggregate_counters()
    }

    /// The session's counters with the source's.
    pub fn stats(&self, source: SourceStats) -> Stats {
        Stats {
            source,
            pipeline: self.pipeline.counters.clone(),
            http: self.pipeline.http_counters.clone(),
            reassembly: self.pipeline.reassembly_counters.clone(),
            pairing: self.pairing.counters.clone(),
            exchanges_written: None,
            alerts_written: None,
            sinks: None,
            tls: None,
            alerts: self.analysis.aggregate_counters().clone(),
            analysis: self.analysis.counters(),
            heap: crate::allocations::counters(),
        }
    }

    /// The counters after a replay: with the lines written.
    pub fn replay_stats(&self, source: SourceStats) -> Stats {
        Stats {
            exchanges_written: Some(self.outputs.exchanges_written()),
            alerts_written: Some(self.outputs.alerts_written()),
            ..self.stats(source)
        }
    }

    /// Closes the remote sinks; the counters at the end of a live run.
    pub fn close(mut self, source: SourceStats) -> Stats {
        let sinks = self.outputs.close_sinks();
        Stats {
            sinks: Some(sinks),
            ..self.stats(source)
        }
    }

    /// The pipeline's, the analysis's and the outputs' part of the metrics
    /// page. `source` gives the source's counters.
    pub fn metrics(&self, source: SourceStats, page: &mut Page) {
        let mut counters = serde_json::to_value(self.stats(source)).unwrap_or_default();
        if let Some(map) = counters.as_object_mut() {
            // A gauge, exported under its own name below; the analysis
            // renders its own counters.
            map.remove("open_connections_at_shutdown");
            map.remove("alerts");
            map.remove("analysis");
        }
        page.counter_groups(counters);
        page.gauge(
            "connections_tracked",
            "HTTP connections the agent is tracking now.",
            self.pipeline.connections() as f64,
        );
        self.analysis.metrics(page);
        self.outputs.metrics(page);
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "schema_tests.rs"]
mod schema_tests;
