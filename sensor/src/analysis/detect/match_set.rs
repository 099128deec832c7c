//! One pass over a long text that tells which rules of a group can match
//! it at all. The digit rules (phone, SSN, card, IBAN) are triggered
//! together by any long digit run, and in a long text (a log served as
//! text) usually none of them matches: one multi-pattern scan rules them
//! out instead of one scan per rule. A rule the set says matches runs as
//! before; one it rules out has no match (the set reports exactly the
//! patterns with a match somewhere in the text), so nothing changes but
//! the cost.

use regex::bytes::{RegexSet, RegexSetBuilder};

use super::rule_set::RuleSet;
use super::rules::Rule;

/// Texts shorter than this run each rule alone: the set's own start-up
/// cost is more than the scans it saves.
pub const MIN_TEXT: usize = 512;

pub struct MatchSet {
    set: RegexSet,
    /// The rule of each pattern of the set.
    rules: Vec<usize>,
}

impl MatchSet {
    /// The set over `members`' patterns (rules with a regex), or None
    /// when fewer than two have one or the set does not compile within
    /// the rules' bounds.
    pub fn new(rules: &[Rule], members: &[usize]) -> Option<MatchSet> {
        let members: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| rules[i].regex.is_some())
            .collect();
        if members.len() < 2 {
            return None;
        }
        let patterns = members
            .iter()
            .map(|&i| rules[i].regex.as_ref().map_or("", |re| re.as_str()));
        // The syntax options of `rules::compile`, so each pattern means
        // what its rule's regex means; the size bounds scaled to the set.
        let set = RegexSetBuilder::new(patterns)
            .unicode(false)
            .size_limit(members.len() * (4 << 20))
            .dfa_size_limit(8 << 20)
            .build()
            .ok()?;
        Some(MatchSet {
            set,
            rules: members,
        })
    }

    /// The members of the set.
    pub fn rules(&self) -> &[usize] {
        &self.rules
    }

    /// Adds to `out` the members with no match anywhere in `text`.
    pub fn misses(&self, text: &[u8], out: &mut RuleSet) {
        let found = self.set.matches(text);
        for (p, &rule) in self.rules.iter().enumerate() {
            if !found.matched(p) {
                out.insert(rule);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::rules::{builtin_specs, Rule};

    /// The set's verdict for each digit rule is the rule's own `is_match`,
    /// on the corpus lines and on random texts of digits and separators.
    #[test]
    fn set_verdicts_are_each_rules_is_match() {
        let rules: Vec<Rule> = builtin_specs().iter().map(Rule::from_spec).collect();
        let digit: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].digits).collect();
        let set = MatchSet::new(&rules, &digit).expect("digit rules form a set");
        assert!(set.rules().len() >= 4);
        let check = |text: &[u8]| {
            let mut missed = RuleSet::new(rules.len());
            set.misses(text, &mut missed);
            for &r in set.rules() {
                let matches = rules[r].regex.as_ref().unwrap().is_match(text);
                assert_eq!(
                    !missed.contains(r),
                    matches,
                    "{} on {:?}",
                    rules[r].id,
                    String::from_utf8_lossy(text)
                );
            }
        };
        let corpus = include_str!("../../../../tests/corpus/cases.jsonl");
        for line in corpus.lines() {
            check(line.as_bytes());
        }
        let alphabet = b"0123456789 -.()+xDE\nGB";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let len = (seed >> 40) as usize % 64;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            check(&text);
        }
    }
}
