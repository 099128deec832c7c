//! The alerts file: one sink among the others, with the same filter type.
//! Written on the session's thread (a local file write never waits on a
//! peer), cut at `alerts.min_severity`.

use super::worker::{AlertLine, SinkFilter};
use super::JsonLines;
use crate::config::RecordFormat;

pub struct AlertsFile {
    out: JsonLines,
    filter: SinkFilter,
    /// Native alerts or OCSF Detection Findings (`output.format`).
    format: RecordFormat,
    /// Alerts the filter kept from the file (other sinks may still take
    /// them).
    below_min_severity: u64,
}

impl AlertsFile {
    pub fn new(out: JsonLines, filter: SinkFilter, format: RecordFormat) -> Self {
        Self {
            out,
            filter,
            format,
            below_min_severity: 0,
        }
    }

    /// Writes `line` unless the filter refuses it.
    pub fn offer(&mut self, line: &AlertLine) -> std::io::Result<()> {
        if self.filter.accepts(line) {
            self.out.write_raw(line.render(self.format).as_bytes())
        } else {
            self.below_min_severity += 1;
            Ok(())
        }
    }

    pub fn filter(&self) -> &SinkFilter {
        &self.filter
    }

    pub fn format(&self) -> RecordFormat {
        self.format
    }

    pub fn below_min_severity(&self) -> u64 {
        self.below_min_severity
    }

    pub fn into_jsonl(self) -> JsonLines {
        self.out
    }

    pub fn jsonl(&self) -> &JsonLines {
        &self.out
    }

    pub fn jsonl_mut(&mut self) -> &mut JsonLines {
        &mut self.out
    }
}
