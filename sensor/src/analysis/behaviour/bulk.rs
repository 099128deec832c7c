//! `volume.bulk_response`: a response far larger than its endpoint's
//! usual, in body bytes on the wire or in records (see `records`), or
//! above a configured absolute bound.
//!
//! The baseline is a per-response EWMA of bytes and of records (records
//! only over JSON responses). It alerts once `warmup_responses` have been
//! learned, when the response is at least `min_bytes` / `min_records`,
//! `factor` times the mean and `sigmas` standard deviations above it.
//! `max_bytes` / `max_records` alert from the first response. A response
//! teaches the baseline at most that alert level.

use crate::analysis::detect::{Location, Message, Part, RuleInfo};
use crate::exchange::HttpResponse;

use super::baseline::{Ceiling, Ewma};
use super::config::BulkConfig;
use super::numbers::{approx, bytes, thousands};
use super::observation::Observation;
use super::records::json_records;
use super::rules;
use super::signal::{Condition, Report, Scope};

/// Weight of one response in the size baselines (a half-life of about
/// 35 responses: sizes vary by request, so a long memory).
const RESPONSE_ALPHA: f64 = 0.02;

#[derive(Debug, Clone, Default)]
pub(crate) struct BulkTracker {
    bytes: Ewma,
    records: Ewma,
}

impl BulkTracker {
    /// Learns one response; returns it when it is a bulk response.
    pub(crate) fn record(&mut self, response: &HttpResponse, config: &BulkConfig) -> Option<Bulk> {
        if !config.enabled {
            return None;
        }
        let size = response.body.wire_len;
        let records = json_records(response.body.content());
        let by_bytes = judge(
            size,
            &self.bytes,
            config.min_bytes,
            config.max_bytes,
            config,
        );
        let by_records = records.and_then(|n| {
            judge(
                n,
                &self.records,
                config.min_records,
                config.max_records,
                config,
            )
        });
        let found = by_records.or(by_bytes).map(|why| Bulk {
            bytes: size,
            records,
            usual_bytes: self.bytes.mean(),
            usual_records: (self.records.samples() > 0).then(|| self.records.mean()),
            by_records: by_records.is_some(),
            why,
            truncated: response.body.truncated,
        });
        let ceiling = |min: u64| Ceiling {
            min: min as f64,
            factor: config.factor,
            sigmas: config.sigmas,
            after: config.warmup_responses,
        };
        self.bytes
            .update_capped(size as f64, RESPONSE_ALPHA, &ceiling(config.min_bytes));
        if let Some(n) = records {
            self.records
                .update_capped(n as f64, RESPONSE_ALPHA, &ceiling(config.min_records));
        }
        found
    }
}

/// Why a response is bulk.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Why {
    /// At or above the configured absolute bound.
    Bound(u64),
    /// Far above the learned baseline.
    Baseline,
}

fn judge(value: u64, baseline: &Ewma, min: u64, max: u64, config: &BulkConfig) -> Option<Why> {
    if max > 0 && value >= max {
        return Some(Why::Bound(max));
    }
    (value >= min
        && baseline.samples() >= config.warmup_responses
        && baseline.far_above(value as f64, config.factor, config.sigmas))
    .then_some(Why::Baseline)
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Bulk {
    bytes: u64,
    records: Option<u64>,
    usual_bytes: f64,
    usual_records: Option<f64>,
    /// Raised by the record count rather than the byte size.
    by_records: bool,
    why: Why,
    /// Records were counted on a prefix: the count is a lower bound.
    truncated: bool,
}

impl Condition for Bulk {
    fn rule(&self) -> &'static RuleInfo {
        &rules::BULK_RESPONSE
    }

    fn scope(&self) -> Scope<'_> {
        Scope::ENDPOINT_AND_CLIENT
    }

    fn observed(&self) -> u64 {
        match self.records {
            Some(n) if self.by_records => n,
            _ => self.bytes,
        }
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let at_least = if self.truncated { "at least " } else { "" };
        let observed = match self.records {
            Some(n) if n > 0 => {
                format!("{at_least}{} records, {}", thousands(n), bytes(self.bytes))
            }
            _ => bytes(self.bytes),
        };
        let usual_bytes = bytes(self.usual_bytes.round() as u64);
        let mut usual = match self.usual_records {
            Some(r) => format!("usually {} records, {usual_bytes}", approx(r)),
            None => format!("usually {usual_bytes}"),
        };
        if let Why::Bound(bound) = self.why {
            let bound = if self.by_records {
                format!("{} records", thousands(bound))
            } else {
                bytes(bound)
            };
            usual = format!("configured bound {bound}, {usual}");
        }
        Report {
            location: Location {
                message: Message::Response,
                part: Part::Body,
                name: None,
            },
            summary: format!(
                "Bulk response from {} to {}: {observed}; {usual}.",
                obs.endpoint, obs.client
            ),
            evidence: format!("{observed}; {usual}"),
        }
    }
}
