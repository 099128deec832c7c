//! The sensor's outputs, shared by `sensor run` and `sensor replay`: the
//! alerts file, the optional exchanges file and the stats file. Both
//! commands hand every finished `HttpExchange` to `Outputs::deliver`, so what
//! a replay writes is exactly what a live run would have written.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::alert::{AggregateCounters, Aggregator, Alert, AlertsConfig};
use crate::analysis::Analysis;
use crate::config::OutputConfig;
use crate::detect::ContentDetector;
use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;
use crate::sink::worker::{AlertLine, SinkHandle, SinkSnapshot};
use crate::sink::{ExchangeRecord, JsonLines};
use crate::tail::severity_rank;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// An output file could not be created or opened.
    #[error("opening the {what} output {}: {source}", path.display())]
    Open {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Writing or flushing an output failed (disk full, closed pipe).
    #[error("writing to {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// The open output files.
pub struct Outputs {
    alerts: JsonLines,
    exchanges: Option<JsonLines>,
    /// Remote sinks, each on its own thread behind a bounded queue.
    sinks: Vec<SinkHandle>,
    analysis: Option<Analysis>,
    /// Folds repeats and applies the per-rule rate limit.
    aggregator: Aggregator,
    /// Lowest severity rank the alerts file keeps.
    file_min_severity: usize,
    /// Alerts below `file_min_severity`, kept from the file (sinks may
    /// still take them).
    below_file_min_severity: u64,
    /// Alerts written, by (rule, severity), for the metrics.
    alert_counts: BTreeMap<(String, &'static str), u64>,
    /// Scratch for what the aggregator lets through.
    ready: Vec<Alert>,
}

impl Outputs {
    pub fn open(config: &OutputConfig) -> Result<Self, OutputError> {
        let open = |what, path: &Path| {
            JsonLines::open(path)
                .map(|out| out.rotate_at(config.rotate_bytes, config.keep_files))
                .map_err(|source| OutputError::Open {
                    what,
                    path: path.to_owned(),
                    source,
                })
        };
        Ok(Self {
            alerts: open("alerts", &config.alerts)?,
            exchanges: config
                .exchanges
                .as_deref()
                .map(|path| open("exchanges", path))
                .transpose()?,
            sinks: Vec::new(),
            analysis: None,
            aggregator: Aggregator::new(&AlertsConfig::default()),
            file_min_severity: 0,
            below_file_min_severity: 0,
            alert_counts: BTreeMap::new(),
            ready: Vec::new(),
        })
    }

    /// Deduplication, rate limit and the alerts file's minimum severity.
    /// The config was validated, so its severity is known.
    pub fn with_alert_policy(mut self, config: &AlertsConfig) -> Self {
        self.aggregator = Aggregator::new(config);
        self.file_min_severity = config.min_severity_rank().unwrap_or(0);
        self
    }

    /// What deduplication and rate limiting did.
    pub fn aggregate_counters(&self) -> &AggregateCounters {
        &self.aggregator.counters
    }

    /// Alerts kept from the alerts file by its minimum severity.
    pub fn below_file_min_severity(&self) -> u64 {
        self.below_file_min_severity
    }

    /// Runs every delivered exchange through the content detectors only.
    pub fn with_detector(self, detector: ContentDetector) -> Self {
        self.with_analysis(Analysis::new(detector))
    }

    /// Runs every delivered exchange through `analysis`.
    pub fn with_analysis(mut self, analysis: Analysis) -> Self {
        self.analysis = Some(analysis);
        self
    }

    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_ref()
    }

    /// Alerts written so far, by rule and severity.
    pub fn alert_counts(&self) -> &BTreeMap<(String, &'static str), u64> {
        &self.alert_counts
    }

    /// Adds the remote sinks every alert is also offered to.
    pub fn with_sinks(mut self, sinks: Vec<SinkHandle>) -> Self {
        self.sinks = sinks;
        self
    }

    fn alert_on(
        &mut self,
        analysis: &mut Analysis,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
    ) -> Result<(), OutputError> {
        let ts = exchange.completed_unix_ns;
        let mut ready = std::mem::take(&mut self.ready);
        for finding in analysis.inspect(exchange, endpoint) {
            let alert = Alert::from_finding(&finding, exchange, endpoint, ts)
                .with_principal(analysis.principal());
            self.aggregator.admit(alert, ts, &mut ready);
        }
        let written = self.write_alerts(&mut ready);
        self.ready = ready;
        written
    }

    /// Periodic work at `now_unix_ns` (the capture clock, as alerts are
    /// stamped): writes the summaries of
    /// deduplication windows that have closed, saves the inventory when due.
    pub fn tick(&mut self, now_unix_ns: i128) -> Result<(), OutputError> {
        let mut ready = std::mem::take(&mut self.ready);
        if let Some(analysis) = &mut self.analysis {
            analysis.tick(now_unix_ns);
            let budget = crate::analysis::weak_jwt::DEFAULT_BUDGET;
            for (alert, ts) in analysis.deferred_alerts(budget) {
                self.aggregator
                    .admit(alert, ts.max(now_unix_ns), &mut ready);
            }
        }
        self.aggregator.close_due(now_unix_ns, &mut ready);
        let written = self.write_alerts(&mut ready);
        self.ready = ready;
        written
    }

    /// Writes every pending summary and saves the inventory (shutdown, end
    /// of a replay).
    pub fn finish(&mut self) -> Result<(), OutputError> {
        let mut ready = std::mem::take(&mut self.ready);
        if let Some(analysis) = &mut self.analysis {
            for (alert, ts) in analysis.deferred_alerts(usize::MAX) {
                self.aggregator.admit(alert, ts, &mut ready);
            }
            analysis.finish();
        }
        self.aggregator.close_all(&mut ready);
        let written = self.write_alerts(&mut ready);
        self.ready = ready;
        written
    }

    fn write_alerts(&mut self, ready: &mut Vec<Alert>) -> Result<(), OutputError> {
        for alert in ready.drain(..) {
            let json = serde_json::to_string(&alert)
                .map_err(|err| write_error(&self.alerts, io::Error::other(err)))?;
            let severity = alert.severity.as_str();
            *self
                .alert_counts
                .entry((alert.rule.clone(), severity))
                .or_default() += 1;
            self.emit_alert(AlertLine {
                json: json.into(),
                severity: severity_rank(severity).unwrap_or(0),
                category: alert.category.as_str().into(),
                rule: alert.rule.as_str().into(),
            })?;
        }
        Ok(())
    }

    /// Writes one alert to the alerts file (unless below its minimum
    /// severity) and offers it to every sink.
    pub fn emit_alert(&mut self, line: AlertLine) -> Result<(), OutputError> {
        if line.severity >= self.file_min_severity {
            self.alerts
                .write_raw(line.json.as_bytes())
                .map_err(|source| write_error(&self.alerts, source))?;
        } else {
            self.below_file_min_severity += 1;
        }
        for sink in &self.sinks {
            sink.offer(&line);
        }
        Ok(())
    }

    pub fn sink_snapshots(&self) -> Vec<SinkSnapshot> {
        self.sinks.iter().map(SinkHandle::snapshot).collect()
    }

    /// Closes every sink, letting each deliver or spool what it holds.
    pub fn close_sinks(&mut self) -> Vec<SinkSnapshot> {
        self.sinks.drain(..).map(SinkHandle::close).collect()
    }

    /// Writes what the sensor has to say about each finished exchange and
    /// empties `done`.
    pub fn deliver(&mut self, done: &mut Vec<HttpExchange>) -> Result<(), OutputError> {
        let mut analysis = self.analysis.take();
        let result = done.iter().try_for_each(|exchange| {
            // Every stage names the endpoint the same way, worked out once.
            let endpoint = EndpointKey::of(exchange);
            if let Some(out) = &mut self.exchanges {
                out.write(&ExchangeRecord::new(exchange, &endpoint))
                    .map_err(|source| write_error(out, source))?;
            }
            match &mut analysis {
                Some(analysis) => self.alert_on(analysis, exchange, &endpoint),
                None => Ok(()),
            }
        });
        self.analysis = analysis;
        done.clear();
        result
    }

    /// Makes everything written so far visible to readers (`tail -f`).
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.alerts
            .flush()
            .map_err(|source| write_error(&self.alerts, source))?;
        if let Some(out) = &mut self.exchanges {
            out.flush().map_err(|source| write_error(out, source))?;
        }
        Ok(())
    }

    pub fn alerts_written(&self) -> u64 {
        self.alerts.written()
    }

    pub fn exchanges_written(&self) -> u64 {
        self.exchanges.as_ref().map_or(0, JsonLines::written)
    }
}

fn write_error(out: &JsonLines, source: io::Error) -> OutputError {
    OutputError::Write {
        path: out.path().to_owned(),
        source,
    }
}

/// Writes the counters of a finished run or replay as one JSON object.
pub fn write_stats(path: &Path, stats: &impl Serialize) -> Result<(), OutputError> {
    let error = |source| OutputError::Write {
        path: path.to_owned(),
        source,
    };
    let text = serde_json::to_vec_pretty(stats).map_err(|err| error(io::Error::other(err)))?;
    std::fs::write(path, text).map_err(error)
}
