//! `volume.error_surge`: 5xx answers on one endpoint in the current minute
//! far above its learned baseline of 5xx per minute (at least
//! `min_per_minute`, `factor` times the mean, `sigmas` standard deviations
//! above it, after the warm-up). A minute teaches the baseline at most
//! that alert level.

use crate::analysis::detect::{Location, Message, Part, RuleInfo};

use super::baseline::{Ceiling, MinuteRate};
use super::config::ErrorSurgeConfig;
use super::numbers::{approx, thousands};
use super::observation::Observation;
use super::rules;
use super::signal::{Condition, Report, Scope};
use super::Learning;

#[derive(Debug, Clone)]
pub(crate) struct ErrorTracker {
    server_errors: MinuteRate,
}

impl ErrorTracker {
    pub(crate) fn new(minute: i64) -> Self {
        Self {
            server_errors: MinuteRate::new(minute),
        }
    }

    /// Learns one answer; returns the minute's figures when they make a
    /// surge. `requests` is the endpoint's request count this minute.
    pub(crate) fn record(
        &mut self,
        minute: i64,
        status: u16,
        requests: u32,
        learning: &Learning,
        config: &ErrorSurgeConfig,
    ) -> Option<Surge> {
        let ceiling = Ceiling {
            min: f64::from(config.min_per_minute),
            factor: config.factor,
            sigmas: config.sigmas,
            after: learning.warmup_minutes,
        };
        self.server_errors.roll(
            minute,
            learning.alpha,
            learning.max_silent_minutes,
            &ceiling,
        );
        if !(500..600).contains(&status) {
            return None;
        }
        let count = self.server_errors.add(1);
        let baseline = self.server_errors.baseline();
        (config.enabled
            && count >= config.min_per_minute
            && self.server_errors.learned_minutes() >= learning.warmup_minutes
            && baseline.far_above(f64::from(count), config.factor, config.sigmas))
        .then(|| Surge {
            count,
            requests,
            mean: baseline.mean(),
            std_dev: baseline.std_dev(),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Surge {
    count: u32,
    requests: u32,
    mean: f64,
    std_dev: f64,
}

impl Condition for Surge {
    fn rule(&self) -> &'static RuleInfo {
        &rules::ERROR_SURGE
    }

    fn scope(&self) -> Scope<'_> {
        Scope::ENDPOINT
    }

    fn observed(&self) -> u64 {
        u64::from(self.count)
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let expected = format!(
            "baseline {} ± {} per minute",
            approx(self.mean),
            approx(self.std_dev)
        );
        Report {
            location: Location {
                message: Message::Request,
                part: Part::RequestLine,
                name: Some(obs.endpoint.template.clone()),
            },
            summary: format!(
                "Server error surge on {}: {} 5xx answers in one minute (of {} requests); {expected}.",
                obs.endpoint,
                thousands(u64::from(self.count)),
                thousands(u64::from(self.requests)),
            ),
            evidence: format!(
                "{} 5xx/min of {} requests; {expected}",
                thousands(u64::from(self.count)),
                thousands(u64::from(self.requests))
            ),
        }
    }
}
