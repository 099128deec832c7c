//! The rules the prefilter let through for one part, as a bitset: a value
//! that triggered two rules visits two, not every rule there is.

#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    words: Vec<u64>,
}

impl RuleSet {
    /// An empty set for rules `0..rules`.
    pub fn new(rules: usize) -> RuleSet {
        RuleSet {
            words: vec![0; rules.div_ceil(64)],
        }
    }

    pub fn insert(&mut self, rule: usize) {
        self.words[rule / 64] |= 1 << (rule % 64);
    }

    pub fn contains(&self, rule: usize) -> bool {
        self.words[rule / 64] & (1 << (rule % 64)) != 0
    }

    pub fn clear(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }

    /// The rules in the set, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut w = word;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + bit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RuleSet;

    #[test]
    fn insert_iterate_clear() {
        let mut set = RuleSet::new(130);
        assert_eq!(set.iter().count(), 0);
        for r in [129, 0, 64, 63, 5, 64] {
            set.insert(r);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 5, 63, 64, 129]);
        set.clear();
        assert_eq!(set.iter().count(), 0);
    }
}
