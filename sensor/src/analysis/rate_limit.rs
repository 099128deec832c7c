//! Per-rule rate limit: a token bucket per rule, refilled on the alerts'
//! own clock so a replay limits exactly as the live run would have.

use std::collections::HashMap;

const MINUTE_NS: i128 = 60_000_000_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_ns: i128,
}

#[derive(Debug)]
pub struct RuleRateLimiter {
    /// Alerts per rule per minute; 0 is no limit.
    per_minute: u32,
    buckets: HashMap<String, Bucket>,
}

impl RuleRateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `rule` at `now_ns`; false when the rule has
    /// raised its share of alerts for the last minute. Rules are a fixed
    /// set (built-in plus configured), so one bucket each stays bounded.
    pub fn allow(&mut self, rule: &str, now_ns: i128) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let capacity = f64::from(self.per_minute);
        let bucket = match self.buckets.get_mut(rule) {
            Some(bucket) => bucket,
            None => self.buckets.entry(rule.to_owned()).or_insert(Bucket {
                tokens: capacity,
                refilled_ns: now_ns,
            }),
        };
        let elapsed = (now_ns - bucket.refilled_ns).max(0);
        bucket.tokens =
            (bucket.tokens + capacity * elapsed as f64 / MINUTE_NS as f64).min(capacity);
        bucket.refilled_ns = bucket.refilled_ns.max(now_ns);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i128 = 1_000_000_000;

    #[test]
    fn a_burst_is_cut_at_the_limit_and_the_bucket_refills() {
        let mut limiter = RuleRateLimiter::new(10);
        let allowed = (0..50).filter(|i| limiter.allow("r", i * 10_000)).count();
        assert_eq!(allowed, 10);
        // Another rule has its own share.
        assert!(limiter.allow("other", 0));
        // Six seconds refill one token of a ten-per-minute bucket.
        assert!(limiter.allow("r", 6 * SECOND + 500_000));
        assert!(!limiter.allow("r", 6 * SECOND + 600_000));
        // A quiet minute refills it to the brim, not beyond.
        let later = 10 * 60 * SECOND;
        let allowed = (0..50).filter(|i| limiter.allow("r", later + i)).count();
        assert_eq!(allowed, 10);
    }

    #[test]
    fn zero_is_no_limit() {
        let mut limiter = RuleRateLimiter::new(0);
        assert!((0..10_000).all(|i| limiter.allow("r", i)));
    }

    #[test]
    fn time_going_backwards_does_not_mint_tokens() {
        let mut limiter = RuleRateLimiter::new(2);
        assert!(limiter.allow("r", 100 * SECOND));
        assert!(limiter.allow("r", 100 * SECOND));
        assert!(!limiter.allow("r", 50 * SECOND));
        assert!(!limiter.allow("r", 100 * SECOND));
    }
}
