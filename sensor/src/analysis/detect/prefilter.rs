//! The single pass that decides which rules can fire on a part of a
//! message. One Aho-Corasick DFA over every enabled rule's keywords (ASCII
//! case-insensitive, every occurrence) plus a scan for long digit runs; a
//! part that triggers nothing is done after this pass, which is what keeps
//! clean traffic cheap.
//!
//! Why not a packed (Teddy) searcher: the rules carry about 220
//! case-insensitive keywords, and Teddy takes at most 64 case-sensitive
//! ones. The DFA is stepped through as a flat table (`keyword_dfa`).

use super::keyword_dfa::KeywordDfa;
use super::rule_set::RuleSet;
use super::rules::Rule;

pub struct Prefilter {
    automaton: Option<KeywordDfa>,
    /// For each automaton pattern, the rules it triggers.
    pattern_rules: Vec<Vec<usize>>,
    /// For each automaton pattern, whether it starts a number
    /// (`Rule::keywords_start_numbers`).
    starts_number: Vec<bool>,
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
        let mut starts_number: Vec<bool> = Vec::new();
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
                let numeric = rule.keywords_start_numbers;
                match keywords
                    .iter()
                    .zip(&starts_number)
                    .position(|(k, &n)| *k == keyword && n == numeric)
                {
                    Some(p) => pattern_rules[p].push(i),
                    None => {
                        keywords.push(keyword);
                        pattern_rules.push(vec![i]);
                        starts_number.push(numeric);
                    }
                }
            }
        }
        let automaton = KeywordDfa::new(&keywords);
        Prefilter {
            automaton,
            pattern_rules,
            starts_number,
            digit_rules,
            always_rules,
        }
    }

    /// Every keyword occurrence in `text` as (start, end, pattern), ordered
    /// by start: JSON bodies map them onto values instead of running every
    /// triggered rule on every value.
    pub fn hits(&self, text: &[u8], out: &mut Vec<(usize, usize, usize)>) {
        out.clear();
        if let Some(k) = &self.automaton {
            k.each(text, &mut |start, end, p| {
                if self.counts(text, start, p) {
                    out.push((start, end, p));
                }
            });
            // Reported by end: a hit is out of place only behind the
            // shorter keywords that end inside it, a few swaps back.
            for i in 1..out.len() {
                let mut j = i;
                while j > 0 && out[j - 1] > out[j] {
                    out.swap(j - 1, j);
                    j -= 1;
                }
            }
        }
    }

    /// Whether keyword `pattern` found at `start` triggers its rules: a
    /// keyword that starts a number does not in the middle of another
    /// (`10.` in `110.50`). Next to a backslash the byte before may be
    /// part of an escape (`\u00a0`) that decodes to something else, so the
    /// occurrence counts.
    #[inline]
    fn counts(&self, text: &[u8], start: usize, pattern: usize) -> bool {
        if !self.starts_number[pattern] || start == 0 {
            return true;
        }
        let before = text[start - 1];
        !(before.is_ascii_digit() || before == b'.')
            || text[start.saturating_sub(6)..start].contains(&b'\\')
    }

    /// Marks the rules of keyword `pattern`.
    pub fn mark_pattern(&self, pattern: usize, active: &mut RuleSet) -> bool {
        for &r in &self.pattern_rules[pattern] {
            active.insert(r);
        }
        !self.pattern_rules[pattern].is_empty()
    }

    /// Marks the rules that run on every part.
    pub fn mark_always(&self, active: &mut RuleSet) -> bool {
        for &r in &self.always_rules {
            active.insert(r);
        }
        !self.always_rules.is_empty()
    }

    /// Marks the rules that read digit runs.
    pub fn mark_digits(&self, active: &mut RuleSet) -> bool {
        for &r in &self.digit_rules {
            active.insert(r);
        }
        !self.digit_rules.is_empty()
    }

    /// Whether any rule reads digit runs (else they need not be looked for).
    pub fn wants_digits(&self) -> bool {
        !self.digit_rules.is_empty()
    }

    /// Marks the rules that run on every part, and the digit rules when
    /// `text` holds a long digit run.
    pub fn mark_unconditional(&self, text: &[u8], active: &mut RuleSet) -> bool {
        let mut any = self.mark_always(active);
        if self.wants_digits() && has_digit_run(text) {
            any |= self.mark_digits(active);
        }
        any
    }

    /// Marks in `active` the rules `text` can trigger;
    /// returns whether any was marked.
    pub fn run(&self, text: &[u8], active: &mut RuleSet) -> bool {
        let mut any = self.mark_unconditional(text, active);
        if let Some(k) = &self.automaton {
            k.each(text, &mut |start, _, p| {
                if !self.counts(text, start, p) {
                    return;
                }
                for &r in &self.pattern_rules[p] {
                    active.insert(r);
                    any = true;
                }
            });
        }
        any
    }
}

/// True when `text` holds at least `MIN_DIGITS` digits with at most two
/// separator characters between neighbours.
pub fn has_digit_run(text: &[u8]) -> bool {
    // Header values and parameters are short and most hold a few digits
    // at most: counting them (vectorised) rules a run out before the
    // block masks, which pad a short text to 64 bytes first.
    if text.len() < 64 && text.iter().filter(|b| b.is_ascii_digit()).count() < MIN_DIGITS {
        return false;
    }
    let mut found = false;
    digit_runs(text, &mut |_, _| {
        found = true;
        false
    });
    found
}

/// Calls `f(start, end)` for each digit run of `MIN_DIGITS` or more (from
/// its first digit to past its last) until `f` returns false.
///
/// Text is read 64 bytes at a time as bit masks (which bytes are digits,
/// which separators): the bytes that keep a run going form stretches of
/// set bits, and a stretch's digits are counted with one popcount, so no
/// byte is read on its own (dates and UUIDs, nine bytes of digits and
/// dashes with fewer than nine digits, used to send whole blocks to a
/// byte-by-byte reading).
pub fn digit_runs(text: &[u8], f: &mut dyn FnMut(usize, usize) -> bool) {
    let mut run = Runs::default();
    let mut blocks = text.chunks_exact(64);
    let mut at = 0;
    for block in &mut blocks {
        if !run.block(block_masks(block), at, f) {
            return;
        }
        at += 64;
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padding bytes are neither digits nor separators: they end a run.
        let mut last = [0u8; 64];
        last[..rest.len()].copy_from_slice(rest);
        if !run.block(block_masks(&last), at, f) {
            return;
        }
    }
    run.close(f);
}

/// A stretch of run bytes still open at the end of the last block read,
/// and the masks' top bits a separator in the next block looks back to.
#[derive(Default)]
struct Runs {
    /// (first digit, digits so far, past the last digit)
    open: Option<(usize, u32, usize)>,
    /// Bits 62 and 63 of the previous block's digit mask (as bits 0 and
    /// 1), bit 63 of its separator mask (as bit 0).
    digit_carry: u64,
    sep_carry: u64,
}

impl Runs {
    /// Reads one block's masks (at offset `at`); false when `f` asked to
    /// stop.
    fn block(
        &mut self,
        (d, s): (u64, u64),
        at: usize,
        f: &mut dyn FnMut(usize, usize) -> bool,
    ) -> bool {
        let d1 = (d << 1) | (self.digit_carry >> 1);
        let d2 = (d << 2) | self.digit_carry;
        let s1 = (s << 1) | self.sep_carry;
        self.digit_carry = d >> 62;
        self.sep_carry = s >> 63;
        // Bytes that keep a run going: digits, and separators right after a
        // digit or after a digit and one separator (at most two in a row).
        let mut keep = d | (s & (d1 | (s1 & d2)));
        // The stretch a previous block left open, continued or ended.
        if let Some((start, n, last)) = self.open.take() {
            let len = keep.trailing_ones();
            let stretch = if len == 64 { !0 } else { (1u64 << len) - 1 };
            let digits = d & stretch;
            let past = match digits {
                0 => last,
                _ => at + 64 - digits.leading_zeros() as usize,
            };
            self.open = Some((start, n + digits.count_ones(), past));
            if len == 64 {
                return true;
            }
            if !self.close(f) {
                return false;
            }
            keep &= !stretch;
        }
        // Only stretches of nine bytes or more can hold nine digits: most
        // blocks have none, and are done after these shifts.
        let k2 = keep & (keep >> 1);
        let k4 = k2 & (k2 >> 2);
        let mut long = k4 & (k4 >> 4) & (keep >> 8);
        while long != 0 {
            let first = long.trailing_zeros();
            let len = (keep >> first).trailing_ones();
            let stretch = if first + len == 64 {
                !0u64 << first
            } else {
                ((1u64 << len) - 1) << first
            };
            keep &= !stretch;
            long &= !stretch;
            let digits = d & stretch;
            let past = at + 64 - digits.leading_zeros() as usize;
            self.open = Some((at + first as usize, digits.count_ones(), past));
            if first + len < 64 && !self.close(f) {
                return false;
            }
        }
        // A short stretch running to the block's end may go on in the next.
        if keep >> 63 != 0 {
            let first = 64 - keep.leading_ones();
            let digits = d & (!0u64 << first);
            let past = at + 64 - digits.leading_zeros() as usize;
            self.open = Some((at + first as usize, digits.count_ones(), past));
        }
        true
    }

    /// Ends the open stretch; reports it when it holds enough digits.
    fn close(&mut self, f: &mut dyn FnMut(usize, usize) -> bool) -> bool {
        match self.open.take() {
            Some((start, n, past)) if n as usize >= MIN_DIGITS => f(start, past),
            _ => true,
        }
    }
}

/// Which bytes of a 64-byte block are digits, and which are separators
/// (bit i for byte i): 16 bytes per step with SSE2, which every x86_64
/// has.
#[cfg(target_arch = "x86_64")]
fn block_masks(block: &[u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    assert_eq!(block.len(), 64);
    let (mut d, mut s) = (0u64, 0u64);
    for (i, chunk) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86_64 baseline; the unaligned load
        // reads exactly the 16 bytes of `chunk`.
        let (digits, seps) = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            let x = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
            let digit = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(9)), x);
            let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            let sep = _mm_or_si128(
                _mm_or_si128(eq(b' '), eq(b'-')),
                _mm_or_si128(eq(b'.'), _mm_or_si128(eq(b'('), eq(b')'))),
            );
            (_mm_movemask_epi8(digit), _mm_movemask_epi8(sep))
        };
        d |= u64::from(digits as u16) << (16 * i);
        s |= u64::from(seps as u16) << (16 * i);
    }
    (d, s)
}

#[cfg(not(target_arch = "x86_64"))]
fn block_masks(block: &[u8]) -> (u64, u64) {
    let (mut d, mut s) = (0u64, 0u64);
    for (i, &b) in block.iter().enumerate() {
        d |= u64::from(b.wrapping_sub(b'0') < 10) << i;
        s |= u64::from(matches!(b, b' ' | b'-' | b'.' | b'(' | b')')) << i;
    }
    (d, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::rules::{builtin_specs, Rule};

    #[test]
    fn digit_runs_found() {
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

    #[test]
    fn digit_run_spans_across_blocks() {
        let pad = "x".repeat(60);
        let text = format!("{pad}1234 5678 9{pad}{}  123456789", "y".repeat(200));
        let mut spans = Vec::new();
        digit_runs(text.as_bytes(), &mut |s, e| {
            spans.push(&text[s..e]);
            true
        });
        assert_eq!(spans, ["1234 5678 9", "123456789"]);
    }

    /// Reference: the digit-run state machine byte by byte.
    fn slow_has_run(text: &[u8]) -> bool {
        let (mut digits, mut gap) = (0, 0);
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

    #[test]
    fn digit_runs_agree_with_the_byte_by_byte_reading_across_blocks() {
        // Runs and near-runs placed at every offset around block edges.
        for piece in [
            "123456789",
            "12-34 56.78(9",
            "12345678",
            "1-2-3-4-5-6-7-8-9",
            "1  2345678",
        ] {
            for offset in 40..140 {
                let mut text = vec![b'x'; offset];
                text.extend_from_slice(piece.as_bytes());
                text.extend_from_slice(b"-- 1 yy");
                let mut spans = Vec::new();
                digit_runs(&text, &mut |s, e| {
                    spans.push((s, e));
                    true
                });
                let want = slow_has_run(&text);
                assert_eq!(!spans.is_empty(), want, "{piece} at {offset}");
                if want {
                    assert_eq!(
                        spans,
                        [(offset, offset + piece.len())],
                        "{piece} at {offset}"
                    );
                }
            }
        }
    }

    /// Reference: every run's span, byte by byte.
    fn slow_spans(text: &[u8]) -> Vec<(usize, usize)> {
        let (mut digits, mut gap, mut start) = (0, 0, 0);
        let mut out = Vec::new();
        for (i, &b) in text.iter().chain(std::iter::once(&b'x')).enumerate() {
            if b.is_ascii_digit() {
                if digits == 0 {
                    start = i;
                }
                digits += 1;
                gap = 0;
            } else if digits > 0 && gap < 2 && matches!(b, b' ' | b'-' | b'.' | b'(' | b')') {
                gap += 1;
            } else {
                if digits >= MIN_DIGITS {
                    out.push((start, i - gap));
                }
                digits = 0;
                gap = 0;
            }
        }
        out
    }

    #[test]
    fn digit_run_spans_agree_with_the_byte_by_byte_reading_on_random_text() {
        // Texts drawn from digits, separators and a letter, across blocks.
        let alphabet = b"0123456789012345 -.()x";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..400 {
            for _ in 0..8 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        alphabet[(seed >> 33) as usize % alphabet.len()]
                    })
                    .collect();
                let mut spans = Vec::new();
                digit_runs(&text, &mut |s, e| {
                    spans.push((s, e));
                    true
                });
                assert_eq!(
                    spans,
                    slow_spans(&text),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }

    #[test]
    fn digit_runs_agree_with_the_byte_by_byte_reading() {
        // Every window of a text mixing digits, separators and letters.
        let text = b"a12-34 5.6(7)89-0x 12345 6789  0123456789 x(415)  867-2309 1-2-3-4-5-6-7-8-9";
        for s in 0..text.len() {
            for e in s..=text.len() {
                let w = &text[s..e];
                assert_eq!(
                    has_digit_run(w),
                    slow_has_run(w),
                    "{:?}",
                    String::from_utf8_lossy(w)
                );
            }
        }
    }

    #[test]
    fn block_masks_mark_digits_and_separators() {
        let mut block = [b'x'; 64];
        block[0] = b'0';
        block[17] = b'9';
        block[63] = b'5';
        block[5] = b'-';
        block[40] = b')';
        block[41] = b'/';
        block[42] = b':';
        assert_eq!(
            block_masks(&block),
            ((1 << 0) | (1 << 17) | (1 << 63), (1 << 5) | (1 << 40))
        );
    }

    #[test]
    fn keywords_starting_numbers_count_only_where_a_number_starts() {
        let rules: Vec<Rule> = builtin_specs().iter().map(Rule::from_spec).collect();
        let pre = Prefilter::new(&rules);
        let ip = rules.iter().position(|r| r.id == "pii.private_ip").unwrap();
        for (text, want) in [
            ("10.1.2.3", true),
            ("host 10.1.2.3", true),
            ("\"ip\":\"172.16.0.9\"", true),
            ("a10.1.2.3", true),
            ("\\u00a010.1.2.3", true),
            ("\"total\":110.50,\"v\":\"2.100.4\"", false),
            ("price 4172.00", false),
        ] {
            let mut active = RuleSet::new(rules.len());
            pre.run(text.as_bytes(), &mut active);
            assert_eq!(active.iter().any(|r| r == ip), want, "{text}");
            let mut hits = Vec::new();
            pre.hits(text.as_bytes(), &mut hits);
            let marked = hits
                .iter()
                .any(|&(_, _, p)| pre.pattern_rules[p].contains(&ip));
            assert_eq!(marked, want, "{text}");
        }
    }

    #[test]
    fn lanes_find_every_keyword_occurrence() {
        let rules: Vec<Rule> = builtin_specs().iter().map(Rule::from_spec).collect();
        let pre = Prefilter::new(&rules);
        // Keywords at every offset around the stretch boundaries.
        let mut text = Vec::new();
        let mut i = 0;
        while text.len() < 3 * 4096 {
            text.extend_from_slice(b"lorem ipsum ");
            text.extend(std::iter::repeat_n(b'z', i % 13));
            text.extend_from_slice(if i % 2 == 0 {
                b"Passw"
            } else {
                b"AKIA_goroutine "
            });
            i += 1;
        }
        let mut lanes = Vec::new();
        pre.hits(&text, &mut lanes);
        let k = pre.automaton.as_ref().unwrap();
        let mut alone = Vec::new();
        k.stretch(&text, 0, 0, k.start(), &mut |s, e, p| alone.push((s, e, p)));
        alone.sort_unstable();
        assert!(!lanes.is_empty());
        assert_eq!(lanes, alone);
    }
}
