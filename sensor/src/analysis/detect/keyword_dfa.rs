//! The prefilter's keyword automaton as one flat table the scan loop can
//! step through without a bounds check or a call.
//!
//! `aho-corasick` builds the DFA (every occurrence of every keyword, ASCII
//! case-insensitive); its `next_state` checks the index of every lookup
//! and keeps its match states among other special ones. Here its states
//! are copied once, at start-up, into a table where a step is two loads
//! (the byte's class, the next state), state ids are premultiplied row
//! offsets, and the match states come first, so "did any lane reach a
//! match" is one comparison of the smallest id. Long texts are cut into
//! four stretches scanned in lockstep: a step waits on the previous one,
//! and the four lanes' steps overlap in the CPU.

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton as _, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};

/// Stretches scanned in lockstep, and the shortest text worth splitting:
/// a 1 KiB API body scanned as one stretch waited on every load (half the
/// cost of a small exchange); split, the overlap each lane reads again is
/// cheap beside that.
const LANES: usize = 4;
const MIN_SPLIT: usize = 512;

pub struct KeywordDfa {
    /// `trans[state + class]`: the next state. A state is the offset of
    /// its row (`index * stride`); every entry is a valid row offset.
    trans: Vec<u32>,
    /// Each byte's class (the bytes no state tells apart share one);
    /// every class is below `stride`.
    classes: [u8; 256],
    stride: usize,
    start: u32,
    /// States below this are match states.
    match_limit: u32,
    /// Per match state (by index), the keywords ending there as
    /// (pattern, length).
    matches: Vec<Vec<(usize, usize)>>,
    /// Bytes a stretch starts early so that a keyword crossing into it is
    /// seen whole (the longest keyword less one).
    overlap: usize,
}

impl KeywordDfa {
    /// The automaton of `keywords` (lowercase; matched ASCII
    /// case-insensitively), or None for no keyword.
    pub fn new(keywords: &[String]) -> Option<KeywordDfa> {
        if keywords.is_empty() {
            return None;
        }
        // Standard semantics: every occurrence of every keyword, also
        // those inside or overlapping another, so no rule is missed.
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(keywords)
            .expect("keywords are plain literals");
        let start = dfa
            .start_state(Anchored::No)
            .expect("built for unanchored searches");
        // Every state reachable from the start, and its 256 successors.
        let mut order: Vec<StateID> = vec![start];
        let mut seen: HashMap<StateID, usize> = HashMap::from([(start, 0)]);
        let mut next: Vec<[StateID; 256]> = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let sid = order[i];
            let row: [StateID; 256] =
                std::array::from_fn(|b| dfa.next_state(Anchored::No, sid, b as u8));
            for &t in &row {
                seen.entry(t).or_insert_with(|| {
                    order.push(t);
                    order.len() - 1
                });
            }
            next.push(row);
            i += 1;
        }
        // Bytes every state moves on alike share a class.
        let mut class_of: HashMap<Vec<StateID>, u8> = HashMap::new();
        let mut classes = [0u8; 256];
        let mut column: Vec<u8> = Vec::new();
        for b in 0..256 {
            let signature: Vec<StateID> = next.iter().map(|row| row[b]).collect();
            let n = class_of.len();
            let class = *class_of.entry(signature).or_insert_with(|| {
                column.push(b as u8);
                u8::try_from(n).expect("at most 256 classes")
            });
            classes[b] = class;
        }
        let stride = column.len();
        // Match states first: their indexes are 0..matching.
        let mut renumber: Vec<usize> = (0..order.len()).collect();
        renumber.sort_by_key(|&i| !dfa.is_match(order[i]));
        let mut index = vec![0usize; order.len()];
        for (new, &old) in renumber.iter().enumerate() {
            index[old] = new;
        }
        let matching = renumber
            .iter()
            .take_while(|&&i| dfa.is_match(order[i]))
            .count();
        let row_of = |sid: StateID| (index[seen[&sid]] * stride) as u32;
        let mut trans = vec![0u32; order.len() * stride];
        let mut matches = vec![Vec::new(); matching];
        for (old, row) in next.iter().enumerate() {
            let at = index[old] * stride;
            for (class, &b) in column.iter().enumerate() {
                trans[at + class] = row_of(row[usize::from(b)]);
            }
            if index[old] < matching {
                let sid = order[old];
                matches[index[old]] = (0..dfa.match_len(sid))
                    .map(|m| {
                        let p = dfa.match_pattern(sid, m);
                        (p.as_usize(), dfa.pattern_len(p))
                    })
                    .collect();
            }
        }
        u32::try_from(trans.len()).expect("keyword table fits u32 offsets");
        Some(KeywordDfa {
            trans,
            classes,
            stride,
            start: row_of(start),
            match_limit: (matching * stride) as u32,
            matches,
            overlap: dfa.max_pattern_len().saturating_sub(1),
        })
    }

    /// One step from state `sid` on byte `b`.
    #[inline(always)]
    fn step(&self, sid: u32, b: u8) -> u32 {
        let at = sid as usize + usize::from(self.classes[usize::from(b)]);
        debug_assert!(at < self.trans.len());
        // SAFETY: `sid` is a row offset (the start, or an entry of
        // `trans`, all row offsets by construction) and a class is below
        // `stride`, so `at` is inside `trans`.
        unsafe { *self.trans.get_unchecked(at) }
    }

    /// Calls `f(start, end, pattern)` for every keyword occurrence, in
    /// the order of their ends (the JSON walk wants them by start: sorted
    /// by end they are a few swaps from it, where four lanes interleaved
    /// took a full sort).
    #[inline(never)]
    pub fn each(&self, text: &[u8], f: &mut dyn FnMut(usize, usize, usize)) {
        if text.len() < MIN_SPLIT {
            self.stretch(text, 0, 0, self.start, f);
            return;
        }
        // Lane k reports the keywords ending in (own[k], stop[k]] and
        // starts `overlap` bytes before own[k] to see them whole.
        let chunk = text.len() / LANES;
        let own: [usize; LANES] = std::array::from_fn(|k| k * chunk);
        let stop: [usize; LANES] = std::array::from_fn(|k| {
            if k + 1 == LANES {
                text.len()
            } else {
                (k + 1) * chunk
            }
        });
        let from: [usize; LANES] = std::array::from_fn(|k| own[k].saturating_sub(self.overlap));
        let steps = (0..LANES).map(|k| stop[k] - from[k]).min().unwrap_or(0);
        let lanes: [&[u8]; LANES] = std::array::from_fn(|k| &text[from[k]..from[k] + steps]);
        let mut sid = [self.start; LANES];
        // Hits are rare: held as (lane, state, end) and reported lane by
        // lane, each lane's before its tail's.
        let mut held: Vec<(usize, u32, usize)> = Vec::new();
        for step in 0..steps {
            for k in 0..LANES {
                // SAFETY: every lane is `steps` bytes long.
                let b = unsafe { *lanes[k].get_unchecked(step) };
                sid[k] = self.step(sid[k], b);
            }
            // Match states have the lowest ids: one test for all lanes,
            // the rare hit sorted out after.
            if sid.iter().copied().min().unwrap_or(self.start) < self.match_limit {
                for k in 0..LANES {
                    let at = from[k] + step;
                    if sid[k] < self.match_limit && at >= own[k] {
                        hold(&mut held, (k, sid[k], at + 1));
                    }
                }
            }
        }
        for k in 0..LANES {
            for &(_, state, end) in held.iter().filter(|h| h.0 == k) {
                self.report(state, end, f);
            }
            self.stretch(&text[..stop[k]], from[k] + steps, own[k], sid[k], f);
        }
    }

    /// `text[at..]` scanned alone from state `sid`, reporting the keywords
    /// that end after `own`.
    pub fn stretch(
        &self,
        text: &[u8],
        at: usize,
        own: usize,
        mut sid: u32,
        f: &mut dyn FnMut(usize, usize, usize),
    ) {
        for (i, &b) in text[at..].iter().enumerate() {
            sid = self.step(sid, b);
            if sid < self.match_limit && at + i >= own {
                self.report(sid, at + i + 1, f);
            }
        }
    }

    /// The start state, for `stretch` (tests compare lanes with one
    /// stretch).
    #[cfg(test)]
    pub fn start(&self) -> u32 {
        self.start
    }

    #[inline(never)]
    fn report(&self, sid: u32, end: usize, f: &mut dyn FnMut(usize, usize, usize)) {
        for &(p, len) in &self.matches[sid as usize / self.stride] {
            f(end - len, end, p);
        }
    }
}

/// A lane's hit, kept out of line: a push inlined into the lockstep loop
/// made the clean scan 10% slower.
#[cold]
#[inline(never)]
fn hold(held: &mut Vec<(usize, u32, usize)>, hit: (usize, u32, usize)) {
    held.push(hit);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: aho-corasick's own overlapping search.
    fn reference(keywords: &[String], text: &[u8]) -> Vec<(usize, usize, usize)> {
        let ac = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(keywords)
            .unwrap();
        let mut out: Vec<_> = ac
            .find_overlapping_iter(text)
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn finds_what_aho_corasick_finds_in_short_and_long_texts() {
        let keywords: Vec<String> = ["pass", "password", "sword", "10.", "@", "$2b$", "akia", "a"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        let dfa = KeywordDfa::new(&keywords).unwrap();
        let alphabet = b"PASSWORDpassword10.@$2bAKIAxyz \n";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for len in [0, 1, 7, 100, 511, 512, 513, 1024, 4097, 9000, 20011] {
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let mut found = Vec::new();
            dfa.each(&text, &mut |s, e, p| found.push((s, e, p)));
            assert!(found.is_sorted_by_key(|f| f.1), "length {len}: by end");
            found.sort_unstable();
            assert_eq!(found, reference(&keywords, &text), "length {len}");
        }
    }

    #[test]
    fn no_keyword_no_automaton() {
        assert!(KeywordDfa::new(&[]).is_none());
    }
}
