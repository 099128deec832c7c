//! Learned baselines: an exponentially weighted mean and variance, a
//! per-minute event counter that feeds one, and a profile of the busiest
//! minute of each hour of the day so daily jobs are learned.
//!
//! Time is what the caller passes (the exchange's completion time), never
//! the wall clock; time going backwards (exchanges finishing out of order
//! across connections) counts into the current minute.

/// Nanoseconds per minute and per hour.
pub(crate) const MINUTE_NS: i128 = 60_000_000_000;
const HOUR_MINUTES: i64 = 60;

/// The minute (since the Unix epoch) `now_unix_ns` falls in.
pub(crate) fn minute_of(now_unix_ns: i128) -> i64 {
    now_unix_ns.div_euclid(MINUTE_NS) as i64
}

/// Exponentially weighted mean and variance (West's incremental form).
/// Until `1/n` drops below `alpha` it is the plain running mean, so the
/// first observations are not pulled towards zero.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ewma {
    mean: f64,
    var: f64,
    n: u32,
}

impl Ewma {
    pub(crate) fn update(&mut self, x: f64, alpha: f64) {
        self.n = self.n.saturating_add(1);
        let weight = alpha.max(1.0 / f64::from(self.n));
        let diff = x - self.mean;
        let step = weight * diff;
        self.mean += step;
        self.var = (1.0 - weight) * (self.var + diff * step);
    }

    pub(crate) fn mean(&self) -> f64 {
        self.mean
    }

    pub(crate) fn std_dev(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }

    /// Observations folded in so far.
    pub(crate) fn samples(&self) -> u32 {
        self.n
    }

    /// `x` is at least `factor` times the mean and `sigmas` standard
    /// deviations above it.
    pub(crate) fn far_above(&self, x: f64, factor: f64, sigmas: f64) -> bool {
        x >= factor * self.mean && x >= self.mean + sigmas * self.std_dev()
    }

    /// Learns `x`; once the baseline is warm, a value above `ceiling` (one
    /// that alerts) moves the mean only up to the ceiling and leaves the
    /// variance alone.
    pub(crate) fn update_capped(&mut self, x: f64, alpha: f64, ceiling: &Ceiling) {
        let limit = ceiling
            .min
            .max(ceiling.factor * self.mean)
            .max(self.mean + ceiling.sigmas * self.std_dev());
        if self.n < ceiling.after || x <= limit {
            self.update(x, alpha);
        } else {
            self.n = self.n.saturating_add(1);
            let weight = alpha.max(1.0 / f64::from(self.n));
            self.mean += weight * (limit - self.mean);
        }
    }
}

/// What an anomaly may teach a warm baseline. Learned at full size, an
/// attack would raise the bar for the next one, and its variance would
/// hide spikes for hours after it. So a value above the alert level moves
/// the mean only as far as that level (a lasting change in traffic is
/// still learned, by a few percent a minute) and not the variance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ceiling {
    /// Below this nothing alerts, so anything up to it is learned as is.
    pub min: f64,
    pub factor: f64,
    pub sigmas: f64,
    /// Observations learned before the ceiling applies (the warm-up).
    pub after: u32,
}

/// The weight of one minute in a baseline with this half-life.
pub(crate) fn alpha_for_half_life(half_life: u32) -> f64 {
    1.0 - 0.5f64.powf(1.0 / f64::from(half_life.max(1)))
}

/// Events per minute, and the baseline of past minutes' counts.
#[derive(Debug, Clone)]
pub(crate) struct MinuteRate {
    minute: i64,
    count: u32,
    /// False during the minute tracking started in: that minute is partial
    /// and would drag the baseline down, so it is not learned.
    current_is_full: bool,
    baseline: Ewma,
}

impl MinuteRate {
    pub(crate) fn new(minute: i64) -> Self {
        Self {
            minute,
            count: 0,
            current_is_full: false,
            baseline: Ewma::default(),
        }
    }

    /// Moves to `minute`, folding the finished minute (at most `ceiling`)
    /// and every silent minute since into the baseline. Silent minutes past `max_gap` are
    /// not folded one by one: by then the old mean has decayed to a
    /// sixteenth, which is forgotten enough.
    pub(crate) fn roll(&mut self, minute: i64, alpha: f64, max_gap: u32, ceiling: &Ceiling) {
        if minute <= self.minute {
            return;
        }
        if self.current_is_full {
            self.baseline
                .update_capped(f64::from(self.count), alpha, ceiling);
        }
        let silent = (minute - self.minute - 1).min(i64::from(max_gap));
        for _ in 0..silent {
            self.baseline.update(0.0, alpha);
        }
        self.minute = minute;
        self.count = 0;
        self.current_is_full = true;
    }

    /// Counts `n` events in the current minute; returns the minute's count.
    pub(crate) fn add(&mut self, n: u32) -> u32 {
        self.count = self.count.saturating_add(n);
        self.count
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    pub(crate) fn baseline(&self) -> &Ewma {
        &self.baseline
    }

    /// Full minutes learned (silent ones included).
    pub(crate) fn learned_minutes(&self) -> u32 {
        self.baseline.samples()
    }
}

/// For each hour of the day, the busiest minute's count, averaged over
/// days with weight 1/2: a job that runs at 02:00 every night raises the
/// 02:00 slot to half its rate after the first night and three quarters
/// after the second. A one-off spike only half-teaches its hour.
#[derive(Debug, Clone)]
pub(crate) struct DailyProfile {
    hour: i64,
    peak: u32,
    slots: [f32; 24],
}

const DAY_WEIGHT: f32 = 0.5;

impl DailyProfile {
    pub(crate) fn new(minute: i64) -> Self {
        Self {
            hour: minute.div_euclid(HOUR_MINUTES),
            peak: 0,
            slots: [0.0; 24],
        }
    }

    /// Records that the current minute has reached `count` events at `minute`.
    pub(crate) fn record(&mut self, minute: i64, count: u32) {
        let hour = minute.div_euclid(HOUR_MINUTES);
        if hour > self.hour {
            self.fold_until(hour);
        }
        self.peak = self.peak.max(count);
    }

    fn fold_until(&mut self, hour: i64) {
        self.fold(self.hour, self.peak);
        // Hours without a single event had a peak of 0; a day's worth is
        // all that can matter, each slot being folded once.
        let first_silent = (self.hour + 1).max(hour - 24);
        for silent in first_silent..hour {
            self.fold(silent, 0);
        }
        self.hour = hour;
        self.peak = 0;
    }

    fn fold(&mut self, hour: i64, peak: u32) {
        let slot = &mut self.slots[hour.rem_euclid(24) as usize];
        *slot += DAY_WEIGHT * (peak as f32 - *slot);
    }

    /// The usual busiest minute around `minute`'s hour of day (that hour
    /// and the ones either side, so a job drifting over an hour boundary
    /// still matches).
    pub(crate) fn usual_peak(&self, minute: i64) -> f64 {
        let hour = minute.div_euclid(HOUR_MINUTES).rem_euclid(24) as usize;
        let around = [(hour + 23) % 24, hour, (hour + 1) % 24];
        around
            .iter()
            .map(|&h| f64::from(self.slots[h]))
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_starts_as_a_plain_mean_then_forgets() {
        let mut e = Ewma::default();
        for x in [10.0, 20.0, 30.0] {
            e.update(x, 0.01);
        }
        assert!((e.mean() - 20.0).abs() < 1e-9);
        for _ in 0..2000 {
            e.update(100.0, 0.01);
        }
        assert!((e.mean() - 100.0).abs() < 1.0);
        assert!(e.std_dev() < 1.0);
    }

    const NO_CEILING: Ceiling = Ceiling {
        min: f64::MAX,
        factor: 1.0,
        sigmas: 0.0,
        after: 0,
    };

    #[test]
    fn minute_rate_skips_the_partial_first_minute_and_folds_silence() {
        let mut r = MinuteRate::new(0);
        r.add(3); // partial first minute: not learned
        r.roll(1, 0.1, 240, &NO_CEILING);
        assert_eq!(r.learned_minutes(), 0);
        r.add(10);
        r.roll(4, 0.1, 240, &NO_CEILING); // minute 1 (10) then silent minutes 2 and 3
        assert_eq!(r.learned_minutes(), 3);
        assert!((r.baseline().mean() - 10.0 / 3.0).abs() < 1e-9);
        // Late events count into the current minute.
        r.roll(2, 0.1, 240, &NO_CEILING);
        assert_eq!(r.add(1), 1);
    }

    #[test]
    fn a_warm_baseline_learns_an_outlier_only_up_to_the_ceiling() {
        let ceiling = Ceiling {
            min: 50.0,
            factor: 4.0,
            sigmas: 6.0,
            after: 10,
        };
        let mut e = Ewma::default();
        for _ in 0..5 {
            e.update_capped(1000.0, 0.5, &ceiling); // cold: learned as is
        }
        assert_eq!(e.mean(), 1000.0);
        let mut e = Ewma::default();
        for _ in 0..100 {
            e.update_capped(100.0, 0.1, &ceiling);
        }
        let before = e.std_dev();
        e.update_capped(100_000.0, 0.1, &ceiling);
        // Learned as 400 (4x the mean), not 100,000, and not as variance.
        assert!((e.mean() - 130.0).abs() < 1e-6, "{}", e.mean());
        assert_eq!(e.std_dev(), before);
        // A quiet baseline learns anything up to `min` in full.
        let mut quiet = Ewma::default();
        for _ in 0..100 {
            quiet.update_capped(0.0, 0.1, &ceiling);
        }
        quiet.update_capped(40.0, 0.1, &ceiling);
        assert!((quiet.mean() - 4.0).abs() < 1e-6, "{}", quiet.mean());
    }

    #[test]
    fn daily_profile_learns_a_repeating_hour() {
        let mut p = DailyProfile::new(0);
        let two_am = 2 * 60;
        for day in 0..3 {
            let minute = day * 24 * 60 + two_am;
            p.record(minute, 600);
            p.record(minute + 60, 5);
        }
        // Three nights at 600: 300, 450, 525.
        assert!((p.usual_peak(3 * 24 * 60 + two_am) - 525.0).abs() < 1e-3);
        assert!((p.usual_peak(3 * 24 * 60 + two_am + 60) - 525.0).abs() < 1e-3);
        assert!(p.usual_peak(3 * 24 * 60 + 12 * 60) < 1.0);
    }
}
