//! One pass over a text that tells which rules of a group can match it
//! at all. The digit rules (phone, SSN, card, IBAN) are triggered
//! together by any long digit run, and usually one of them matches (a
//! JSON value holding an SSN) or none (a log served as text): one
//! multi-pattern scan rules the others out instead of one scan per rule.
//! A rule the set says matches runs as before; one it rules out has no
//! match (the set reports exactly the patterns with a match somewhere in
//! the text), so nothing changes but the cost.

use regex_automata::meta::{self, Regex};
use regex_automata::{Input, MatchKind, PatternID, PatternSet};

use super::rule_set::RuleSet;
use super::rules::{self, Rule};

pub struct MatchSet {
    set: Regex,
    /// The rule of each pattern of the set.
    rules: Vec<usize>,
}

/// The patterns a search found, kept per exchange. (`regex`'s own set
/// allocates its answer on every search; on an 11-byte value that cost
/// more than the scans the set saves. The lazy DFA's cache is the set's
/// own, kept from one exchange to the next.)
pub struct Scratch {
    found: PatternSet,
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
        let patterns: Vec<&str> = members
            .iter()
            .map(|&i| rules[i].regex.as_ref().map_or("", |re| re.as_str()))
            .collect();
        // Each pattern read as its rule's regex reads it; every match of
        // every pattern (`All`), the size bounds scaled to the set.
        let config = meta::Config::new()
            .match_kind(MatchKind::All)
            .utf8_empty(false)
            .which_captures(regex_automata::nfa::thompson::WhichCaptures::None)
            .nfa_size_limit(Some(members.len() * rules::SIZE_LIMIT))
            .hybrid_cache_capacity(rules::DFA_SIZE_LIMIT);
        let set = meta::Builder::new()
            .configure(config)
            .syntax(rules::syntax())
            .build_many(&patterns)
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

    pub fn scratch(&self) -> Scratch {
        Scratch {
            found: PatternSet::new(self.set.pattern_len()),
        }
    }

    /// Adds to `out` the members with no match anywhere in `text`.
    pub fn misses(&self, text: &[u8], scratch: &mut Scratch, out: &mut RuleSet) {
        scratch.found.clear();
        self.set
            .which_overlapping_matches(&Input::new(text), &mut scratch.found);
        for (p, &rule) in self.rules.iter().enumerate() {
            if !scratch.found.contains(PatternID::must(p)) {
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
        let mut scratch = set.scratch();
        let mut check = |text: &[u8]| {
            let mut missed = RuleSet::new(rules.len());
            set.misses(text, &mut scratch, &mut missed);
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
