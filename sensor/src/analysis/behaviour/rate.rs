//! `volume.rate_spike`: requests in the current minute far above the
//! learned baseline, for one endpoint or one client.
//!
//! A minute is a spike when its count (so far) is at least
//! `min_per_minute`, `factor` times the baseline mean, `sigmas` standard
//! deviations above it, and `daily_factor` times the busiest minute
//! usually seen around this hour of the day; and the baseline has learned
//! `warmup_minutes`. A minute teaches the baseline at most that alert
//! level (see `Ceiling`). The daily condition is what lets a nightly job pass
//! once it has run on two nights (see `DailyProfile`).

use crate::analysis::detect::{Location, Message, Part, RuleInfo};

use super::baseline::{Ceiling, DailyProfile, MinuteRate};
use super::config::RateConfig;
use super::numbers::{approx, thousands};
use super::observation::Observation;
use super::rules;
use super::signal::{Condition, Report, Scope};
use super::Learning;

/// Requests per minute of one endpoint or one client.
#[derive(Debug, Clone)]
pub(crate) struct RateTracker {
    minutes: MinuteRate,
    daily: DailyProfile,
}

impl RateTracker {
    pub(crate) fn new(minute: i64) -> Self {
        Self {
            minutes: MinuteRate::new(minute),
            daily: DailyProfile::new(minute),
        }
    }

    /// Counts one request at `minute`; returns the minute's figures when
    /// they make a spike.
    pub(crate) fn record(
        &mut self,
        minute: i64,
        learning: &Learning,
        config: &RateConfig,
    ) -> Option<Spike> {
        let ceiling = Ceiling {
            min: f64::from(config.min_per_minute),
            factor: config.factor,
            sigmas: config.sigmas,
            after: learning.warmup_minutes,
        };
        self.minutes.roll(
            minute,
            learning.alpha,
            learning.max_silent_minutes,
            &ceiling,
        );
        let count = self.minutes.add(1);
        self.daily.record(minute, count);
        if !config.enabled
            || count < config.min_per_minute
            || self.minutes.learned_minutes() < learning.warmup_minutes
        {
            return None;
        }
        let baseline = self.minutes.baseline();
        let usual_peak = self.daily.usual_peak(minute);
        let x = f64::from(count);
        (baseline.far_above(x, config.factor, config.sigmas)
            && x >= config.daily_factor * usual_peak)
            .then(|| Spike {
                count,
                mean: baseline.mean(),
                std_dev: baseline.std_dev(),
                usual_peak,
                of_client: false,
            })
    }

    /// Requests counted in the current minute.
    pub(crate) fn current(&self) -> u32 {
        self.minutes.count()
    }
}

/// A minute far busier than usual.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spike {
    count: u32,
    mean: f64,
    std_dev: f64,
    usual_peak: f64,
    /// About a client's requests (to any endpoint), not an endpoint's.
    of_client: bool,
}

impl Spike {
    pub(crate) fn of_client(mut self) -> Self {
        self.of_client = true;
        self
    }
}

impl Condition for Spike {
    fn rule(&self) -> &'static RuleInfo {
        &rules::RATE_SPIKE
    }

    fn scope(&self) -> Scope<'_> {
        if self.of_client {
            Scope::CLIENT
        } else {
            Scope::ENDPOINT
        }
    }

    fn observed(&self) -> u64 {
        u64::from(self.count)
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let subject = if self.of_client {
            format!("from {} (all endpoints)", obs.client)
        } else {
            format!("to {}", obs.endpoint)
        };
        let expected = format!(
            "baseline {} ± {} per minute, usual peak around this hour {}",
            approx(self.mean),
            approx(self.std_dev),
            approx(self.usual_peak)
        );
        Report {
            location: Location {
                message: Message::Request,
                part: Part::RequestLine,
                name: (!self.of_client).then(|| obs.endpoint.template.clone()),
            },
            summary: format!(
                "Request rate spike: {} requests in one minute {subject}; {expected}.",
                thousands(self.observed()),
            ),
            evidence: format!("{} requests/min; {expected}", thousands(self.observed())),
        }
    }
}
