//! Deduplication: the same rule on the same endpoint with the same
//! fingerprint, again and again, is one alert. The first occurrence goes out
//! at once (nobody waits for a window to learn of a leak); the repeats within
//! the window are folded, and when the window closes one summary alert
//! carries their `count`, `first_seen` and `last_seen`. Time is the alerts'
//! own (capture time), so a replay folds exactly as the live run did.
//!
//! Decided early: the analysis asks `fold` with the finding's key before
//! it builds an alert, so a repeat costs a hash lookup and no alert, no
//! JSON. The summary then carries the first occurrence's alert with the
//! newest occurrence's ends (process, connection, peer) and status.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;

use serde::Serialize;

use super::rate_limit::RuleRateLimiter;
use crate::alert::Alert;
use crate::conntrack::ConnectionInfo;
use crate::timestamp::rfc3339;

/// What makes two alerts the same alert: rule, endpoint (method, host,
/// path template) and fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupKey<'a> {
    pub rule: &'a str,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub fingerprint: &'a str,
}

impl<'a> DedupKey<'a> {
    fn of(alert: &'a Alert) -> Self {
        Self {
            rule: &alert.rule,
            method: &alert.endpoint.method,
            host: &alert.endpoint.host,
            path: &alert.endpoint.path,
            fingerprint: &alert.fingerprint,
        }
    }
}

/// The newest occurrence's ends of a window folded without building its
/// alert.
#[derive(Debug, Clone)]
pub struct LatestEnds {
    pub seen: Arc<ConnectionInfo>,
    pub peer: Option<Arc<ConnectionInfo>>,
    pub status: u16,
}

#[derive(Debug)]
struct Repeats {
    first_seen_ns: i128,
    last_seen_ns: i128,
    count: u64,
    /// The newest occurrence built as an alert (the first, unless a
    /// repeat came built): the summary is written from it.
    latest: Alert,
    /// The ends of a newer occurrence folded unbuilt: the summary reports
    /// its process and connection, the ones most likely still there.
    latest_ends: Option<LatestEnds>,
}

/// What deduplication and rate limiting did, for the metrics.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AggregateCounters {
    /// Occurrences folded into an alert already written.
    pub folded: u64,
    /// Summary alerts written when a window with repeats closed.
    pub summaries: u64,
    /// Windows closed early because `max_tracked` was reached.
    pub evicted: u64,
    /// New alerts dropped by the per-rule rate limit, by rule.
    pub rate_limited: std::collections::BTreeMap<String, u64>,
}

pub struct Aggregator {
    window_ns: i128,
    max_tracked: usize,
    /// Open windows by the hash of their key (checked against the alert
    /// they hold), so a repeat is found from borrowed parts.
    open: HashMap<u64, Repeats>,
    hasher: RandomState,
    /// Open windows in the order they opened, to close them in time; an
    /// entry whose window was already closed and reopened is skipped.
    opened: VecDeque<(i128, u64)>,
    limiter: RuleRateLimiter,
    pub counters: AggregateCounters,
}

impl Aggregator {
    pub fn new(config: &crate::alert::AlertsConfig) -> Self {
        Self {
            window_ns: i128::from(config.dedup_window_secs) * 1_000_000_000,
            max_tracked: config.max_tracked.max(1),
            open: HashMap::new(),
            hasher: RandomState::new(),
            opened: VecDeque::new(),
            limiter: RuleRateLimiter::new(config.max_per_rule_per_minute),
            counters: AggregateCounters::default(),
        }
    }

    /// Takes one alert seen at `ts_ns`; pushes onto `out` what must be
    /// written now: summaries of windows that have closed by then, and the
    /// alert itself unless it repeats an open window or is rate limited.
    pub fn admit(&mut self, mut alert: Alert, ts_ns: i128, out: &mut Vec<Alert>) {
        self.close_due(ts_ns, out);
        if self.window_ns == 0 {
            if self.allow(&alert.rule, ts_ns) {
                out.push(alert);
            }
            return;
        }
        let key = self.hash(DedupKey::of(&alert));
        if let Some(repeats) = self.open.get_mut(&key) {
            if DedupKey::of(&repeats.latest) == DedupKey::of(&alert) {
                repeats.count += 1;
                repeats.last_seen_ns = repeats.last_seen_ns.max(ts_ns);
                repeats.latest = alert;
                repeats.latest_ends = None;
                self.counters.folded += 1;
                return;
            }
        }
        if !self.allow(&alert.rule, ts_ns) {
            return;
        }
        if self.open.contains_key(&key) {
            // Another key with the same hash holds the window: this alert
            // goes out untracked rather than close it.
            out.push(alert);
            return;
        }
        while self.open.len() >= self.max_tracked {
            let Some((_, oldest)) = self.opened.pop_front() else {
                break;
            };
            if let Some(repeats) = self.open.remove(&oldest) {
                self.counters.evicted += 1;
                self.summarise(repeats, out);
            }
        }
        alert.count = 1;
        self.opened.push_back((ts_ns, key));
        self.open.insert(
            key,
            Repeats {
                first_seen_ns: ts_ns,
                last_seen_ns: ts_ns,
                count: 1,
                latest: alert.clone(),
                latest_ends: None,
            },
        );
        out.push(alert);
    }

    /// Folds an occurrence seen at `ts_ns` into the open window of `key`
    /// without its alert being built; false when no window is open for it
    /// (the caller then builds the alert and `admit`s it). Summaries of
    /// windows closed by then are pushed onto `out` first. `ends` gives the
    /// occurrence's ends, asked only when it folds.
    pub fn fold(
        &mut self,
        key: DedupKey<'_>,
        ts_ns: i128,
        ends: impl FnOnce() -> LatestEnds,
        out: &mut Vec<Alert>,
    ) -> bool {
        self.close_due(ts_ns, out);
        if self.window_ns == 0 {
            return false;
        }
        let hash = self.hash(key);
        let Some(repeats) = self.open.get_mut(&hash) else {
            return false;
        };
        if DedupKey::of(&repeats.latest) != key {
            return false;
        }
        repeats.count += 1;
        repeats.last_seen_ns = repeats.last_seen_ns.max(ts_ns);
        repeats.latest_ends = Some(ends());
        self.counters.folded += 1;
        true
    }

    fn hash(&self, key: DedupKey<'_>) -> u64 {
        self.hasher
            .hash_one((key.rule, key.method, key.host, key.path, key.fingerprint))
    }

    /// Closes the windows that ended by `now_ns`, writing a summary for
    /// each that saw repeats.
    pub fn close_due(&mut self, now_ns: i128, out: &mut Vec<Alert>) {
        while let Some((opened_ns, _)) = self.opened.front() {
            if now_ns < opened_ns + self.window_ns {
                break;
            }
            let (opened_ns, key) = self.opened.pop_front().expect("front exists");
            if self
                .open
                .get(&key)
                .is_some_and(|r| r.first_seen_ns == opened_ns)
            {
                let repeats = self.open.remove(&key).expect("just looked up");
                self.summarise(repeats, out);
            }
        }
    }

    /// Closes every window (shutdown, end of a replay).
    pub fn close_all(&mut self, out: &mut Vec<Alert>) {
        self.close_due(i128::MAX / 2, out);
    }

    /// Windows open now.
    pub fn tracked(&self) -> usize {
        self.open.len()
    }

    fn allow(&mut self, rule: &str, ts_ns: i128) -> bool {
        if self.limiter.allow(rule, ts_ns) {
            return true;
        }
        *self
            .counters
            .rate_limited
            .entry(rule.to_owned())
            .or_default() += 1;
        false
    }

    fn summarise(&mut self, repeats: Repeats, out: &mut Vec<Alert>) {
        if repeats.count < 2 {
            return;
        }
        let mut alert = repeats.latest;
        if let Some(ends) = repeats.latest_ends {
            alert.set_ends(&ends.seen, ends.peer.as_deref());
            alert.status = ends.status;
        }
        alert.id = crate::alert::alert_id(repeats.last_seen_ns);
        alert.ts = rfc3339(repeats.last_seen_ns);
        alert.count = repeats.count;
        alert.first_seen = rfc3339(repeats.first_seen_ns);
        alert.last_seen = rfc3339(repeats.last_seen_ns);
        self.counters.summaries += 1;
        out.push(alert);
    }
}
