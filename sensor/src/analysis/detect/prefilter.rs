//! The single pass that decides which rules can fire on a part of a
//! message. One Aho-Corasick automaton over every enabled rule's keywords
//! (ASCII case-insensitive) plus a scan for long digit runs; a part that
//! triggers nothing is done after this pass, which is what keeps clean
//! traffic cheap.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::rules::Rule;

pub struct Prefilter {
    automaton: Option<AhoCorasick>,
    /// For each automaton pattern, the rules it triggers.
    pattern_rules: Vec<Vec<usize>>,
    digit_rules: Vec<usize>,
    always_rules: Vec<usize>,
}

/// Digits (allowing the separators phone, card and SSN formats use) in a
/// row that make numeric PII possible.
const MIN_DIGITS: usize = 9;

impl Prefilter {
    pub fn new(rules: &[Rule]) -> Prefilter {
        let mut keywords: Vec<String> = Vec::new();
        let mut pattern_rules: Vec<Vec<usize>> = Vec::new();
        let mut digit_rules = Vec::new();
        let mut always_rules = Vec::new();
        for (i, rule) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            if rule.always {
                always_rules.push(i);
            }
            if rule.digits {
                digit_rules.push(i);
            }
            for keyword in &rule.keywords {
                let keyword = keyword.to_ascii_lowercase();
                match keywords.iter().position(|k| *k == keyword) {
                    Some(p) => pattern_rules[p].push(i),
                    None => {
                        keywords.push(keyword);
                        pattern_rules.push(vec![i]);
                    }
                }
            }
        }
        // Leftmost-longest matching reports `passw` and not `pass` inside
        // it: a keyword containing another triggers that one's rules too.
        for p in 0..keywords.len() {
            for q in 0..keywords.len() {
                if p != q && keywords[p].contains(keywords[q].as_str()) {
                    let extra = pattern_rules[q].clone();
                    for r in extra {
                        if !pattern_rules[p].contains(&r) {
                            pattern_rules[p].push(r);
                        }
                    }
                }
            }
        }
        let automaton = (!keywords.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&keywords)
                .expect("keywords are plain literals")
        });
        Prefilter {
            automaton,
            pattern_rules,
            digit_rules,
            always_rules,
        }
    }

    /// Every keyword occurrence in `text` as (start, end, pattern), in
    /// order of end: JSON bodies map them onto values instead of running
    /// every triggered rule on every value.
    pub fn hits(&self, text: &[u8], out: &mut Vec<(usize, usize, usize)>) {
        out.clear();
        if let Some(automaton) = &self.automaton {
            out.extend(
                automaton
                    .find_iter(text)
                    .map(|m| (m.start(), m.end(), m.pattern().as_usize())),
            );
        }
    }

    /// Marks the rules of keyword `pattern`.
    pub fn mark_pattern(&self, pattern: usize, active: &mut [bool]) -> bool {
        for &r in &self.pattern_rules[pattern] {
            active[r] = true;
        }
        !self.pattern_rules[pattern].is_empty()
    }

    /// Marks the rules that run on every part, and the digit rules when
    /// `text` holds a long digit run.
    pub fn mark_unconditional(&self, text: &[u8], active: &mut [bool]) -> bool {
        let mut any = false;
        for &r in &self.always_rules {
            active[r] = true;
            any = true;
        }
        if !self.digit_rules.is_empty() && has_digit_run(text) {
            for &r in &self.digit_rules {
                active[r] = true;
            }
            any = true;
        }
        any
    }

    /// Marks in `active` (one flag per rule) the rules `text` can trigger;
    /// returns whether any was marked.
    pub fn run(&self, text: &[u8], active: &mut [bool]) -> bool {
        let mut any = false;
        let mut mark = |rules: &[usize], active: &mut [bool]| {
            for &r in rules {
                active[r] = true;
            }
            any |= !rules.is_empty();
        };
        mark(&self.always_rules, active);
        if let Some(automaton) = &self.automaton {
            let mut seen = vec![false; self.pattern_rules.len()];
            let mut left = seen.len();
            for m in automaton.find_iter(text) {
                let p = m.pattern().as_usize();
                if !seen[p] {
                    seen[p] = true;
                    mark(&self.pattern_rules[p], active);
                    left -= 1;
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        if !self.digit_rules.is_empty() && has_digit_run(text) {
            mark(&self.digit_rules, active);
        }
        any
    }
}

/// True when `text` holds at least `MIN_DIGITS` digits with at most two
/// separator characters between neighbours.
pub fn has_digit_run(text: &[u8]) -> bool {
    let mut digits = 0usize;
    let mut gap = 0usize;
    for &b in text {
        if b.is_ascii_digit() {
            digits += 1;
            gap = 0;
            if digits >= MIN_DIGITS {
                return true;
            }
        } else if digits > 0 && gap < 2 && matches!(b, b' ' | b'-' | b'.' | b'(' | b')') {
            gap += 1;
        } else {
            digits = 0;
            gap = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_digit_run;

    #[test]
    fn digit_runs() {
        for (text, want) in [
            ("4539 5787 6362 1486", true),
            ("(415) 867-2309", true),
            ("536-22-8726", true),
            ("2024-01-15", false),
            ("12345678", false),
            ("id 1234 and 56789", false),
            ("123456789", true),
        ] {
            assert_eq!(has_digit_run(text.as_bytes()), want, "{text}");
        }
    }
}
