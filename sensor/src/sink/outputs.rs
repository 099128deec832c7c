//! The sensor's outputs, shared by `sensor run` and `sensor replay`: the
//! alerts file, the optional exchanges file and the remote sinks. They
//! only deliver: the session hands them each finished exchange's record
//! and the alerts the analysis raised, so what a replay writes is exactly
//! what a live run would have written.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::alert::{Alert, AlertsConfig};
use crate::config::{OutputConfig, RecordFormat};
use crate::conntrack::ConnectionInfo;
use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;
use crate::origin::Origin;
use crate::sink::alerts_file::AlertsFile;
use crate::sink::chain::ChainKey;
use crate::sink::exchange_json::RecordHead;
use crate::sink::worker::{AlertLine, SinkFilter, SinkHandle, SinkSnapshot};
use crate::sink::{ExchangeRecord, JsonLines};

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

/// The open output files and the remote sinks.
pub struct Outputs {
    alerts: AlertsFile,
    exchanges: Option<JsonLines>,
    /// Native records or OCSF, for both files.
    format: RecordFormat,
    /// The host and sensor exchange records name.
    origin: Origin,
    /// The start every native exchange record shares (`origin`'s).
    record_head: RecordHead,
    /// Remote sinks, each on its own thread behind a bounded queue.
    sinks: Vec<SinkHandle>,
}

impl Outputs {
    pub fn open(config: &OutputConfig) -> Result<Self, OutputError> {
        let open = |what, path: &Path| {
            JsonLines::open(path)
                .map(|out| {
                    out.rotate_at(config.rotate_bytes, config.keep_files)
                        .keep_days(config.keep_days)
                })
                .map_err(|source| OutputError::Open {
                    what,
                    path: path.to_owned(),
                    source,
                })
        };
        let alerts = AlertsFile::new(
            open("alerts", &config.alerts)?,
            SinkFilter::default(),
            config.format,
        );
        let origin = Origin::detect(None);
        Ok(Self {
            alerts,
            exchanges: config
                .exchanges
                .as_deref()
                .map(|path| open("exchanges", path))
                .transpose()?,
            format: config.format,
            record_head: RecordHead::of(&origin),
            origin,
            sinks: Vec::new(),
        })
    }

    /// Chains the alerts file under `key` (each line sealed, checkpoints on
    /// open, rotation and `close`).
    pub fn chained(mut self, key: ChainKey) -> Result<Self, OutputError> {
        let filter = self.alerts.filter().clone();
        let format = self.alerts.format();
        let jsonl = self.alerts.into_jsonl();
        let path = jsonl.path().to_owned();
        let jsonl = jsonl.chained(key).map_err(|source| OutputError::Open {
            what: "alerts",
            path,
            source,
        })?;
        self.alerts = AlertsFile::new(jsonl, filter, format);
        Ok(self)
    }

    /// The host and sensor exchange records name.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.record_head = RecordHead::of(&origin);
        self.origin = origin;
        self
    }

    /// The alerts file's minimum severity.
    pub fn with_alert_policy(mut self, config: &AlertsConfig) -> Self {
        let filter = SinkFilter {
            min_severity: config.min_severity,
            categories: Vec::new(),
        };
        let format = self.alerts.format();
        self.alerts = AlertsFile::new(self.alerts.into_jsonl(), filter, format);
        self
    }

    /// Alerts kept from the alerts file by its minimum severity.
    pub fn below_file_min_severity(&self) -> u64 {
        self.alerts.below_min_severity()
    }

    /// Adds the remote sinks every alert is also offered to.
    pub fn with_sinks(mut self, sinks: Vec<SinkHandle>) -> Self {
        self.sinks = sinks;
        self
    }

    /// Writes the record of one finished exchange, if exchanges are kept;
    /// `peer` is the other end of its connection when both were captured,
    /// `tags` are those of the rules that fired on it.
    pub fn record_exchange(
        &mut self,
        exchange: &HttpExchange,
        peer: Option<&ConnectionInfo>,
        endpoint: &EndpointKey,
        tags: Vec<&'static str>,
    ) -> Result<(), OutputError> {
        if let Some(out) = &mut self.exchanges {
            let record =
                ExchangeRecord::new(exchange, endpoint, &self.origin, tags).with_peer(peer);
            let written = match self.format {
                RecordFormat::Native => {
                    out.write_with(|line| record.write_json(&self.record_head, line))
                }
                RecordFormat::Ocsf => out.write(&super::ocsf::http_activity(&record)),
            };
            written.map_err(|source| write_error(out, source))?;
        }
        Ok(())
    }

    /// Sends every alert in `ready` (emptied) to the alerts file and the
    /// sinks, each behind its own filter.
    pub fn send(&mut self, ready: &mut Vec<Alert>) -> Result<(), OutputError> {
        for alert in ready.drain(..) {
            let line = AlertLine::new(alert)
                .map_err(|err| write_error(self.alerts.jsonl(), io::Error::other(err)))?;
            self.emit_alert(line)?;
        }
        Ok(())
    }

    /// Offers one alert to the alerts file and to every sink.
    pub fn emit_alert(&mut self, line: AlertLine) -> Result<(), OutputError> {
        self.alerts
            .offer(&line)
            .map_err(|source| write_error(self.alerts.jsonl(), source))?;
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

    /// Makes everything written so far visible to readers (`tail -f`).
    pub fn flush(&mut self) -> Result<(), OutputError> {
        let alerts = self.alerts.jsonl_mut();
        alerts
            .flush()
            .map_err(|source| write_error(alerts, source))?;
        if let Some(out) = &mut self.exchanges {
            out.flush().map_err(|source| write_error(out, source))?;
        }
        Ok(())
    }

    /// The end of a run: the alerts file's `shutdown` checkpoint, and
    /// everything flushed.
    pub fn close(&mut self) -> Result<(), OutputError> {
        let alerts = self.alerts.jsonl_mut();
        alerts
            .close()
            .map_err(|source| write_error(alerts, source))?;
        self.flush()
    }

    pub fn alerts_written(&self) -> u64 {
        self.alerts.jsonl().written()
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
