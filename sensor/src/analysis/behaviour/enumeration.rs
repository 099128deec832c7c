//! `volume.enumeration`: one client requesting many distinct ids of one
//! endpoint (path template) in a window: object-level authorization
//! probing (BOLA) or scraping.
//!
//! Per (client, endpoint) pair, ids are counted per tumbling window of
//! `window_secs` (the ids of a path taken together, as keyed hashes: exact
//! up to 128, then a HyperLogLog). A window alerts when its distinct ids
//! reach `min_distinct` and `factor` times the pair's usual distinct ids
//! per window (an EWMA over the pair's past windows with traffic), so a
//! sync job that always walks many ids is learned. A walk slower than
//! `min_distinct` per window is not seen.

use crate::analysis::detect::{Location, Message, Part, RuleInfo};

use super::baseline::Ewma;
use super::config::EnumerationConfig;
use super::distinct::DistinctCounter;
use super::numbers::{approx, thousands};
use super::observation::Observation;
use super::rules;
use super::signal::{Condition, Report, Scope};

/// Ids counted exactly before the sketch takes over: above the default
/// threshold, so the default decision is exact.
const EXACT_IDS: usize = 128;
/// Weight of one window in the pair's usual distinct ids.
const WINDOW_ALPHA: f64 = 0.1;
const NS_PER_SEC: i128 = 1_000_000_000;

#[derive(Debug, Clone)]
pub(crate) struct IdTracker {
    window_start_ns: i128,
    ids: DistinctCounter,
    requests: u32,
    answered: u32,
    usual: Ewma,
}

impl IdTracker {
    pub(crate) fn new(now_unix_ns: i128) -> Self {
        Self {
            window_start_ns: now_unix_ns,
            ids: DistinctCounter::new(EXACT_IDS, true),
            requests: 0,
            answered: 0,
            usual: Ewma::default(),
        }
    }

    /// Counts one request for the ids hashed as `ids_hash`, answered with
    /// `status`; returns the window's figures when they make an enumeration.
    pub(crate) fn record(
        &mut self,
        ids_hash: u64,
        status: u16,
        now_unix_ns: i128,
        config: &EnumerationConfig,
    ) -> Option<Walk> {
        let window_ns = i128::from(config.window_secs) * NS_PER_SEC;
        if now_unix_ns - self.window_start_ns >= window_ns {
            self.usual.update(self.ids.count() as f64, WINDOW_ALPHA);
            self.ids.clear();
            self.requests = 0;
            self.answered = 0;
            self.window_start_ns = now_unix_ns;
        }
        self.ids.insert(ids_hash);
        self.requests = self.requests.saturating_add(1);
        if (200..300).contains(&status) {
            self.answered = self.answered.saturating_add(1);
        }
        let distinct = self.ids.count();
        (config.enabled
            && distinct >= u64::from(config.min_distinct)
            && distinct as f64 >= config.factor * self.usual.mean())
        .then(|| Walk {
            distinct,
            requests: self.requests,
            answered: self.answered,
            elapsed_secs: ((now_unix_ns - self.window_start_ns) / NS_PER_SEC).max(1) as u64,
            window_secs: config.window_secs,
            usual: self.usual.mean(),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    distinct: u64,
    requests: u32,
    answered: u32,
    elapsed_secs: u64,
    window_secs: u64,
    usual: f64,
}

impl Condition for Walk {
    fn rule(&self) -> &'static RuleInfo {
        &rules::ENUMERATION
    }

    fn scope(&self) -> Scope<'_> {
        Scope::ENDPOINT_AND_CLIENT
    }

    fn observed(&self) -> u64 {
        self.distinct
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let expected = format!(
            "usually {} per {} s window",
            approx(self.usual),
            self.window_secs
        );
        let observed = format!(
            "{} distinct ids of {} from {} in {} s",
            thousands(self.distinct),
            obs.endpoint,
            obs.client,
            self.elapsed_secs
        );
        Report {
            location: Location {
                message: Message::Request,
                part: Part::RequestLine,
                name: Some(obs.endpoint.template.clone()),
            },
            summary: format!(
                "Id enumeration: {observed} ({} requests, {} answered 2xx); {expected}.",
                thousands(u64::from(self.requests)),
                thousands(u64::from(self.answered)),
            ),
            evidence: format!(
                "{} distinct ids in {} s; {expected}",
                thousands(self.distinct),
                self.elapsed_secs
            ),
        }
    }
}
