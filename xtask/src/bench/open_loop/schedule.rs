//! The open loop's arithmetic, kept free of I/O so that it can be tested:
//! when each request is due, which connection carries it, and what the
//! answers add up to. A request's latency runs from its due time, not from
//! when it was sent: a request that waited for its connection to come free
//! waited because the server was slow, and leaving that wait out (as a
//! closed loop does) hides exactly the delay a paced load is there to see.

/// A fixed schedule: request `i` is due `i * period_ns` after the start,
/// on connection `i % connections`.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub period_ns: u64,
    pub connections: usize,
    /// Requests due inside the measured window.
    pub requests: u64,
}

impl Schedule {
    /// `rate` requests/s over `connections` for `window_ns`. The period is
    /// whole nanoseconds (the timer's unit), so the rate offered is
    /// `offered_rate()`, within a nanosecond per request of `rate`.
    pub fn new(rate: u32, connections: usize, window_ns: u64) -> Self {
        let period_ns = (1e9 / f64::from(rate.max(1))).round().max(1.0) as u64;
        Self {
            period_ns,
            connections: connections.max(1),
            requests: window_ns.div_ceil(period_ns),
        }
    }

    pub fn offered_rate(&self) -> f64 {
        1e9 / self.period_ns as f64
    }

    pub fn due_ns(&self, i: u64) -> u64 {
        i * self.period_ns
    }

    pub fn connection_of(&self, i: u64) -> usize {
        (i % self.connections as u64) as usize
    }

    /// How many requests are due `elapsed_ns` after the start (the first
    /// is due at once), at most the window's.
    pub fn due_by(&self, elapsed_ns: u64) -> u64 {
        (elapsed_ns / self.period_ns + 1).min(self.requests)
    }
}

/// What the answers to one run's requests add up to.
#[derive(Default)]
pub struct Tally {
    /// Each answered request's latency from its due time, ns.
    latencies_ns: Vec<u64>,
    /// Answers that arrived inside the window.
    pub completed_in_window: u64,
    /// Connection failures and answers other than 200.
    pub errors: u64,
}

impl Tally {
    pub fn with_capacity(requests: u64) -> Self {
        Self {
            latencies_ns: Vec::with_capacity(requests as usize),
            ..Self::default()
        }
    }

    /// An answer to the request due at `due_ns` that arrived at `done_ns`
    /// (both from the start).
    pub fn answered(&mut self, due_ns: u64, done_ns: u64, window_ns: u64) {
        self.latencies_ns.push(done_ns.saturating_sub(due_ns));
        if done_ns < window_ns {
            self.completed_in_window += 1;
        }
    }

    pub fn answers(&self) -> u64 {
        self.latencies_ns.len() as u64
    }

    /// The `q` quantile (0..=1) of the latencies, nearest rank, in ms.
    pub fn quantiles_ms(&mut self, qs: &[f64]) -> Vec<f64> {
        self.latencies_ns.sort_unstable();
        qs.iter()
            .map(|q| nearest_rank(&self.latencies_ns, *q) as f64 / 1e6)
            .collect()
    }
}

/// The smallest value at or above the `q` share of `sorted` (0 when empty).
fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_per_second_is_one_request_every_100_us() {
        let s = Schedule::new(10_000, 32, 5_000_000_000);
        assert_eq!(s.period_ns, 100_000);
        assert_eq!(s.offered_rate(), 10_000.0);
        assert_eq!(s.requests, 50_000);
        assert_eq!(s.due_ns(0), 0);
        assert_eq!(s.due_ns(49_999), 4_999_900_000);
    }

    #[test]
    fn requests_go_round_the_connections() {
        let s = Schedule::new(1_000, 3, 1_000_000_000);
        let conns: Vec<usize> = (0..7).map(|i| s.connection_of(i)).collect();
        assert_eq!(conns, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn a_rate_that_does_not_divide_a_second_offers_its_rounded_period() {
        let s = Schedule::new(3, 1, 1_000_000_000);
        assert_eq!(s.period_ns, 333_333_333);
        assert!((s.offered_rate() - 3.0).abs() < 1e-6);
        // Due at 0, 333, 667 and 999.999999 ms: the rounding puts a fourth
        // 1 ns inside the window.
        assert_eq!(s.requests, 4);
        assert_eq!(s.due_ns(3), 999_999_999);
    }

    #[test]
    fn due_by_counts_the_request_due_at_that_instant_and_stops_at_the_window() {
        let s = Schedule::new(10_000, 32, 1_000_000);
        assert_eq!(s.due_by(0), 1);
        assert_eq!(s.due_by(99_999), 1);
        assert_eq!(s.due_by(100_000), 2);
        assert_eq!(s.due_by(950_000), 10);
        assert_eq!(s.due_by(5_000_000), 10);
    }

    #[test]
    fn latency_runs_from_the_due_time_not_the_send() {
        // Due at 1 ms, held back behind a slow answer, sent at 3 ms and
        // answered at 3.2 ms: 2.2 ms late, not 0.2 ms.
        let mut t = Tally::default();
        t.answered(1_000_000, 3_200_000, 10_000_000);
        assert_eq!(t.quantiles_ms(&[0.5]), [2.2]);
    }

    #[test]
    fn only_answers_inside_the_window_count_as_sustained() {
        let mut t = Tally::default();
        t.answered(0, 500, 1_000);
        t.answered(900, 999, 1_000);
        t.answered(950, 1_000, 1_000);
        assert_eq!(t.completed_in_window, 2);
        assert_eq!(t.answers(), 3);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut t = Tally::default();
        for ms in 1..=1000u64 {
            t.answered(0, ms * 1_000_000, u64::MAX);
        }
        assert_eq!(
            t.quantiles_ms(&[0.5, 0.99, 0.999, 1.0]),
            [500.0, 990.0, 999.0, 1000.0]
        );
        assert_eq!(Tally::default().quantiles_ms(&[0.99]), [0.0]);
    }
}
