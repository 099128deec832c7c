//! Counting distinct values in bounded memory. Values come in as 64-bit
//! keyed hashes (the raw values are never kept): exact up to a cap, then
//! either a HyperLogLog sketch (about 3% error, 1 KiB) or a saturated
//! count, as the caller chooses.

/// Registers of the HyperLogLog sketch: 2^10.
const PRECISION: u32 = 10;
const REGISTERS: usize = 1 << PRECISION;

#[derive(Debug, Clone)]
pub(crate) struct DistinctCounter {
    /// Sorted hashes while there are at most `cap` of them.
    exact: Vec<u64>,
    sketch: Option<Box<HyperLogLog>>,
    cap: usize,
    /// Past the cap: sketch (true) or saturate at the cap (false).
    use_sketch: bool,
    saturated: bool,
}

impl DistinctCounter {
    pub(crate) fn new(cap: usize, use_sketch: bool) -> Self {
        Self {
            exact: Vec::new(),
            sketch: None,
            cap: cap.max(1),
            use_sketch,
            saturated: false,
        }
    }

    pub(crate) fn insert(&mut self, hash: u64) {
        if let Some(sketch) = &mut self.sketch {
            sketch.insert(hash);
            return;
        }
        let Err(at) = self.exact.binary_search(&hash) else {
            return;
        };
        if self.exact.len() < self.cap {
            self.exact.insert(at, hash);
        } else if self.use_sketch {
            let mut sketch = Box::new(HyperLogLog::new());
            for &h in &self.exact {
                sketch.insert(h);
            }
            sketch.insert(hash);
            self.exact = Vec::new();
            self.sketch = Some(sketch);
        } else {
            self.saturated = true;
        }
    }

    /// Distinct values seen: exact below the cap, estimated above it (or
    /// the cap, when saturating).
    pub(crate) fn count(&self) -> u64 {
        match &self.sketch {
            Some(sketch) => sketch.estimate().max(self.cap as u64),
            None => self.exact.len() as u64,
        }
    }

    /// True when `count` is a lower bound (saturated past the cap).
    pub(crate) fn is_lower_bound(&self) -> bool {
        self.saturated
    }

    pub(crate) fn clear(&mut self) {
        self.exact = Vec::new();
        self.sketch = None;
        self.saturated = false;
    }
}

/// HyperLogLog (Flajolet et al.) with linear counting for small
/// cardinalities. The harmonic sum and the empty registers are kept up to
/// date on insert, so an estimate is O(1): it is read on every request.
#[derive(Debug, Clone)]
struct HyperLogLog {
    registers: [u8; REGISTERS],
    /// Sum of 2^-register over all registers.
    sum: f64,
    zeros: u32,
}

impl HyperLogLog {
    fn new() -> Self {
        Self {
            registers: [0; REGISTERS],
            sum: REGISTERS as f64,
            zeros: REGISTERS as u32,
        }
    }

    fn insert(&mut self, hash: u64) {
        let index = (hash >> (64 - PRECISION)) as usize;
        // The remaining bits, with a sentinel so the rank is bounded.
        let rest = (hash << PRECISION) | (1 << (PRECISION - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        let register = &mut self.registers[index];
        if rank > *register {
            if *register == 0 {
                self.zeros -= 1;
            }
            self.sum += 2f64.powi(-i32::from(rank)) - 2f64.powi(-i32::from(*register));
            *register = rank;
        }
    }

    fn estimate(&self) -> u64 {
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / self.sum;
        let estimate = if raw <= 2.5 * m && self.zeros > 0 {
            m * (m / f64::from(self.zeros)).ln()
        } else {
            raw
        };
        estimate.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-mixed hash of `i` (SplitMix64), standing in for a keyed hash.
    fn mix(i: u64) -> u64 {
        let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn exact_below_the_cap_and_repeats_do_not_count() {
        let mut d = DistinctCounter::new(256, true);
        for i in 0..200 {
            d.insert(mix(i));
            d.insert(mix(i));
        }
        assert_eq!(d.count(), 200);
    }

    #[test]
    fn sketch_above_the_cap_within_five_percent() {
        for n in [1_000u64, 20_000, 1_000_000] {
            let mut d = DistinctCounter::new(256, true);
            for i in 0..n {
                d.insert(mix(i));
            }
            let error = (d.count() as f64 - n as f64).abs() / n as f64;
            assert!(error < 0.05, "{n}: estimated {}", d.count());
        }
    }

    #[test]
    fn saturating_counter_stops_at_the_cap() {
        let mut d = DistinctCounter::new(16, false);
        for i in 0..100 {
            d.insert(mix(i));
        }
        assert_eq!(d.count(), 16);
        assert!(d.is_lower_bound());
        d.clear();
        assert_eq!(d.count(), 0);
        assert!(!d.is_lower_bound());
    }
}
