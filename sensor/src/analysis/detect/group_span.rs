//! Where a rule's value (capture group 1) lies in a match, told from the
//! match alone when the pattern allows, so the capture engines (a
//! backtracker over every match) need not run.
//!
//! Most rules read one byte of context on each side of the value:
//! `(?:^|[^0-9-])([0-9]{3}-[0-9]{2}-[0-9]{4})(?:$|[^0-9-])`. When the
//! context byte can never be a byte the value starts (or ends) with, the
//! byte at each end of the match says whether it is context, and the
//! value is the match less those bytes: the same span the captures give,
//! as no other reading of the match exists.
//!
//! When the context is longer than a byte or may share bytes with the
//! value (`(?:^|[^a-z]|mailto:)(...)`, a phone number's `(`), each match
//! is read on its own: every way the context alternatives could frame a
//! value is tried against what the value can hold (its first, last and
//! inner bytes); when only one framing fits, it is group 1 (the captures
//! can only give a framing that fits), and otherwise the captures say.

use regex_syntax::hir::{Class, Hir, HirKind};

/// How group 1 is cut from a match.
#[derive(Debug, Clone)]
pub enum GroupSpan {
    /// The captures are needed.
    Captures,
    /// The match, less its first byte when that byte is in `lead` and
    /// its last when that byte is in `trail` (empty sets: the whole
    /// match is the value).
    Trim {
        lead: Box<[bool; 256]>,
        trail: Box<[bool; 256]>,
    },
    /// Group 1 told per match when one framing alone fits.
    Read(Box<Reading>),
}

/// A byte string's shape: one set of allowed bytes per position.
type Shape = Vec<[bool; 256]>;

/// `[lead] (value) [trail]` with each context a few alternatives of a
/// few bytes (zero-width assertions read as always holding: a framing
/// is only ever ruled out by bytes).
#[derive(Debug, Clone)]
pub struct Reading {
    lead: Vec<Shape>,
    trail: Vec<Shape>,
    /// The bytes a value can start with, end with, and hold.
    first: [bool; 256],
    last: [bool; 256],
    inner: [bool; 256],
    min_len: usize,
}

/// Context alternatives beyond which a pattern is left to the captures.
const MAX_ALTERNATIVES: usize = 16;
const MAX_CONTEXT_LEN: usize = 16;

impl GroupSpan {
    /// The plan for `pattern`, parsed as `rules::compile` builds it.
    pub fn of(pattern: &str) -> GroupSpan {
        regex_automata::util::syntax::parse_with(pattern, &super::rules::syntax())
            .ok()
            .and_then(|hir| trim(&hir).or_else(|| read(&hir)))
            .unwrap_or(GroupSpan::Captures)
    }

    /// Whether `cut` may answer None for a match (the captures then say).
    pub fn may_need_captures(&self) -> bool {
        !matches!(self, GroupSpan::Trim { .. })
    }

    /// Group 1's span in the match `(start, end)` of `text`, or None when
    /// the captures must say.
    pub fn cut(&self, text: &[u8], (start, end): (usize, usize)) -> Option<(usize, usize)> {
        let (lead, trail) = match self {
            GroupSpan::Captures => return None,
            GroupSpan::Read(reading) => {
                return reading
                    .cut(&text[start..end])
                    .map(|(s, e)| (start + s, start + e))
            }
            GroupSpan::Trim { lead, trail } => (lead, trail),
        };
        let mut s = start;
        let mut e = end;
        if s < e && lead[usize::from(text[s])] {
            s += 1;
        }
        if s < e && trail[usize::from(text[e - 1])] {
            e -= 1;
        }
        Some((s, e))
    }
}

impl Reading {
    /// The one framing of `m` (a whole match) that fits, as a span of `m`.
    fn cut(&self, m: &[u8]) -> Option<(usize, usize)> {
        let mut found = None;
        for lead in &self.lead {
            if lead.len() > m.len() || !fits(lead, &m[..lead.len()]) {
                continue;
            }
            for trail in &self.trail {
                let (s, e) = (lead.len(), m.len().saturating_sub(trail.len()));
                if e < s + self.min_len.max(1) || !fits(trail, &m[e..]) {
                    continue;
                }
                let value = &m[s..e];
                let fitting = self.first[usize::from(value[0])]
                    && self.last[usize::from(value[value.len() - 1])]
                    && value.iter().all(|&b| self.inner[usize::from(b)]);
                if !fitting {
                    continue;
                }
                match found {
                    None => found = Some((s, e)),
                    Some(span) if span == (s, e) => {}
                    Some(_) => return None,
                }
            }
        }
        found
    }
}

fn fits(shape: &[[bool; 256]], bytes: &[u8]) -> bool {
    shape.iter().zip(bytes).all(|(set, &b)| set[usize::from(b)])
}

/// The pattern's top-level parts and where group 1 is among them.
fn group_one(hir: &Hir) -> Option<(&[Hir], usize)> {
    let parts: &[Hir] = match hir.kind() {
        HirKind::Concat(parts) => parts,
        _ => std::slice::from_ref(hir),
    };
    let at = parts
        .iter()
        .position(|p| matches!(p.kind(), HirKind::Capture(c) if c.index == 1))?;
    Some((parts, at))
}

/// `[lead] (value) [trail]` with contexts of a few short alternatives.
fn read(hir: &Hir) -> Option<GroupSpan> {
    let (parts, at) = group_one(hir)?;
    let HirKind::Capture(group) = parts[at].kind() else {
        return None;
    };
    let value = &group.sub;
    let min_len = value.properties().minimum_len().unwrap_or(0);
    if min_len == 0 {
        return None;
    }
    let mut inner = [false; 256];
    inner_bytes(value, &mut inner)?;
    Some(GroupSpan::Read(Box::new(Reading {
        lead: context_of(&parts[..at])?,
        trail: context_of(&parts[at + 1..])?,
        first: edge_bytes(value, true)?,
        last: edge_bytes(value, false)?,
        inner,
        min_len,
    })))
}

/// The shapes a run of context parts can take; None past the bounds or
/// for a part that is not literals, classes and assertions.
fn context_of(parts: &[Hir]) -> Option<Vec<Shape>> {
    let mut shapes: Vec<Shape> = vec![Vec::new()];
    for p in parts {
        let next = alternatives(p)?;
        let mut product = Vec::new();
        for a in &shapes {
            for b in &next {
                let mut s = a.clone();
                s.extend_from_slice(b);
                if s.len() > MAX_CONTEXT_LEN {
                    return None;
                }
                product.push(s);
            }
        }
        if product.len() > MAX_ALTERNATIVES {
            return None;
        }
        shapes = product;
    }
    Some(shapes)
}

fn alternatives(hir: &Hir) -> Option<Vec<Shape>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(lit) => Some(vec![lit
            .0
            .iter()
            .map(|&b| {
                let mut set = [false; 256];
                set[usize::from(b)] = true;
                set
            })
            .collect()]),
        HirKind::Class(class) => Some(vec![vec![class_bytes(class)?]]),
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for b in branches {
                all.extend(alternatives(b)?);
                if all.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            Some(all)
        }
        HirKind::Concat(parts) => context_of(parts),
        _ => None,
    }
}

/// Every byte a match of `hir` can hold, added to `set`.
fn inner_bytes(hir: &Hir, set: &mut [bool; 256]) -> Option<()> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => lit.0.iter().for_each(|&b| set[usize::from(b)] = true),
        HirKind::Class(class) => union(set, &class_bytes(class)?),
        HirKind::Repetition(rep) => inner_bytes(&rep.sub, set)?,
        HirKind::Capture(c) => inner_bytes(&c.sub, set)?,
        HirKind::Alternation(parts) | HirKind::Concat(parts) => {
            for p in parts {
                inner_bytes(p, set)?;
            }
        }
    }
    Some(())
}

/// `[lead] (value) [trail]`, each context zero-width or one byte of a
/// class disjoint from the value's first (last) bytes.
fn trim(hir: &Hir) -> Option<GroupSpan> {
    let (parts, at) = group_one(hir)?;
    if at > 1 || parts.len() - at > 2 {
        return None;
    }
    let HirKind::Capture(group) = parts[at].kind() else {
        return None;
    };
    // Groups inside the value do not move its ends: only group 1 is read.
    let value = &group.sub;
    if value.properties().minimum_len().unwrap_or(0) == 0 {
        return None;
    }
    let lead = match at {
        1 => context_byte(&parts[0])?,
        _ => [false; 256],
    };
    let trail = match parts.get(at + 1) {
        Some(p) => context_byte(p)?,
        None => [false; 256],
    };
    let first = edge_bytes(value, true)?;
    let last = edge_bytes(value, false)?;
    let disjoint = |a: &[bool; 256], b: &[bool; 256]| !a.iter().zip(b).any(|(x, y)| *x && *y);
    (disjoint(&lead, &first) && disjoint(&trail, &last)).then(|| GroupSpan::Trim {
        lead: Box::new(lead),
        trail: Box::new(trail),
    })
}

/// The bytes a context part can consume: a zero-width assertion (none),
/// a byte class, or an alternation of those.
fn context_byte(hir: &Hir) -> Option<[bool; 256]> {
    match hir.kind() {
        HirKind::Look(_) => Some([false; 256]),
        HirKind::Class(class) => class_bytes(class),
        HirKind::Literal(lit) if lit.0.len() == 1 => {
            let mut set = [false; 256];
            set[usize::from(lit.0[0])] = true;
            Some(set)
        }
        HirKind::Alternation(branches) => {
            let mut set = [false; 256];
            for b in branches {
                union(&mut set, &context_byte(b)?);
            }
            Some(set)
        }
        _ => None,
    }
}

/// The bytes a match of `hir` can start (`first`) or end with; None when
/// the shape is not one this reads.
fn edge_bytes(hir: &Hir, first: bool) -> Option<[bool; 256]> {
    let mut set = [false; 256];
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => {
            let b = if first { lit.0.first() } else { lit.0.last() };
            if let Some(&b) = b {
                set[usize::from(b)] = true;
            }
        }
        HirKind::Class(class) => set = class_bytes(class)?,
        HirKind::Repetition(rep) => {
            if rep.max != Some(0) {
                set = edge_bytes(&rep.sub, first)?;
            }
        }
        HirKind::Capture(c) => set = edge_bytes(&c.sub, first)?,
        HirKind::Alternation(branches) => {
            for b in branches {
                union(&mut set, &edge_bytes(b, first)?);
            }
        }
        HirKind::Concat(parts) => {
            // Parts that may match nothing let the next one's bytes be
            // an edge too.
            let ordered: Box<dyn Iterator<Item = &Hir>> = if first {
                Box::new(parts.iter())
            } else {
                Box::new(parts.iter().rev())
            };
            for p in ordered {
                union(&mut set, &edge_bytes(p, first)?);
                if p.properties().minimum_len().unwrap_or(0) > 0 {
                    break;
                }
            }
        }
    }
    Some(set)
}

fn class_bytes(class: &Class) -> Option<[bool; 256]> {
    let mut set = [false; 256];
    match class {
        Class::Bytes(c) => {
            for r in c.ranges() {
                for b in r.start()..=r.end() {
                    set[usize::from(b)] = true;
                }
            }
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                if !r.end().is_ascii() {
                    return None;
                }
                for b in r.start() as u8..=r.end() as u8 {
                    set[usize::from(b)] = true;
                }
            }
        }
    }
    Some(set)
}

fn union(set: &mut [bool; 256], other: &[bool; 256]) {
    for (a, b) in set.iter_mut().zip(other) {
        *a |= *b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::bytes::Regex;

    /// Every pattern's group 1, by the plan and by the captures, on texts
    /// that put context (or none) around values.
    #[test]
    fn cuts_agree_with_the_captures() {
        let patterns = [
            r"(?:^|[^0-9-])([0-9]{3}-[0-9]{2}-[0-9]{4})(?:$|[^0-9-])",
            r"\b([A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,7})\b",
            r"(?:^|[^0-9.])([0-9]{4}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{1,7})(?:$|[^0-9.])",
            r"(ghp_[A-Za-z0-9]{8})",
            r"(?:[^a-z]|^)(x[a-z]*y)",
            // Groups inside group 1 do not move its ends.
            r"\b((?:postgres|mysql)://[a-z]{0,8}:([^\s@]{1,9})@[a-z.]{1,20})",
        ];
        let texts = [
            "536-22-1234",
            " 536-22-1234 ",
            "a536-22-1234b",
            "1536-22-1234",
            "DE89 3704 0044 0532 0130 00",
            "x DE89370400440532013000, ",
            "4539 5787 6362 1486",
            "(4539-5787-6362-1486).",
            "ghp_abcdEFGH tail",
            "Xxaby",
            "xy",
            "1xzzy!",
            "url postgres://app:s3cr@t@db.local:5432 x",
            "(mysql://:p@h)",
        ];
        for pattern in patterns {
            let plan = GroupSpan::of(pattern);
            assert!(matches!(plan, GroupSpan::Trim { .. }), "{pattern}");
            let re = Regex::new(pattern).unwrap();
            for text in texts {
                let text = text.as_bytes();
                for caps in re.captures_iter(text) {
                    let m = caps.get(0).unwrap();
                    let g = caps.get(1).unwrap();
                    assert_eq!(
                        plan.cut(text, (m.start(), m.end())),
                        Some((g.start(), g.end())),
                        "{pattern} on {:?}",
                        String::from_utf8_lossy(text)
                    );
                }
            }
        }
    }

    /// Every built-in rule the plan cuts, on every line of the labelled
    /// corpus: the cut is group 1 of the captures.
    #[test]
    fn builtin_rules_cut_as_their_captures_do() {
        let corpus = include_str!("../../../../tests/corpus/cases.jsonl");
        let (mut trimmed, mut read, mut resolved) = (0, 0, 0);
        for spec in crate::analysis::detect::rules::builtin_specs() {
            let Some(pattern) = spec.regex else { continue };
            let plan = GroupSpan::of(pattern);
            match plan {
                GroupSpan::Captures => continue,
                GroupSpan::Trim { .. } => trimmed += 1,
                GroupSpan::Read(_) => read += 1,
            }
            let re = crate::analysis::detect::rules::compile(pattern).unwrap();
            for line in corpus.lines() {
                let text = line.replace("\\n", "\n");
                resolved += agree(&plan, &re, text.as_bytes(), spec.id);
            }
        }
        assert!(trimmed > 10, "{trimmed} rules trimmed");
        assert!(read >= 3, "{read} rules read per match");
        assert!(resolved > 100, "{resolved} matches read without captures");
    }

    /// Checks every match of `re` in `text`: where the plan gives a cut,
    /// it is group 1 of the captures. Returns how many it gave.
    fn agree(plan: &GroupSpan, re: &Regex, text: &[u8], what: &str) -> usize {
        let mut cut = 0;
        for caps in re.captures_iter(text) {
            let m = caps.get(0).unwrap();
            let g = caps
                .get(1)
                .map_or((m.start(), m.end()), |g| (g.start(), g.end()));
            let got = plan.cut(text, (m.start(), m.end()));
            if matches!(plan, GroupSpan::Trim { .. }) {
                assert!(got.is_some(), "{what}");
            }
            if let Some(got) = got {
                assert_eq!(got, g, "{what} on {:?}", String::from_utf8_lossy(text));
                cut += 1;
            }
        }
        cut
    }

    /// The built-in rules read per match (email, phone, private address
    /// among them), on random texts drawn from the bytes their contexts
    /// and values are made of: every cut is group 1 of the captures, and
    /// most matches are cut.
    #[test]
    fn reading_per_match_agrees_with_the_captures_on_random_text() {
        let alphabet = b"ab9Z0123456789+-.()@ :/_%\"mailto:x.com(555) 10.172.";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut read = 0;
        for spec in crate::analysis::detect::rules::builtin_specs() {
            let Some(pattern) = spec.regex else { continue };
            let plan = GroupSpan::of(pattern);
            if !matches!(plan, GroupSpan::Read(_)) {
                continue;
            }
            read += 1;
            let re = crate::analysis::detect::rules::compile(pattern).unwrap();
            let (mut matches, mut cut) = (0, 0);
            for _ in 0..20_000 {
                let len = (next() % 48) as usize;
                let text: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                matches += re.find_iter(&text).count();
                cut += agree(&plan, &re, &text, spec.id);
            }
            assert!(cut * 2 >= matches, "{}: {cut} of {matches} cut", spec.id);
        }
        assert!(read >= 3, "{read}");
    }

    #[test]
    fn ambiguous_context_is_read_per_match() {
        for pattern in [
            // '(' is both context and a value's first byte.
            r"(?:^|[^0-9A-Za-z+.-])(\(?[2-9][0-9]{2}\)?[0-9]{4})",
            // Context longer than a byte.
            r"(?:^|[^a-z]|mailto:)([a-z]+@[a-z]+)",
        ] {
            assert!(
                matches!(GroupSpan::of(pattern), GroupSpan::Read(_)),
                "{pattern}"
            );
        }
        let re = Regex::new(r"(?:^|[^0-9A-Za-z+.-])(\(?[2-9][0-9]{2}\)?[0-9]{4})").unwrap();
        let plan = GroupSpan::of(re.as_str());
        // '(' opens the value or is the context: the captures must say.
        assert_eq!(plan.cut(b"(234)5678", (0, 9)), None);
        assert_eq!(plan.cut(b" (234)5678", (0, 10)), Some((1, 10)));
        let re = Regex::new(r"(?:^|[^a-z]|mailto:)([a-z]+@[a-z]+)").unwrap();
        let plan = GroupSpan::of(re.as_str());
        // The value holds no ':', so "mailto:" is context.
        assert_eq!(plan.cut(b"mailto:ab@cd", (0, 12)), Some((7, 12)));
    }

    #[test]
    fn unbounded_context_needs_the_captures() {
        for pattern in [
            // A repeated context.
            r"(?:^|[^a-z]+)([a-z]+@[a-z]+)",
            // A value that may be empty.
            r"(?:^|[^0-9])([0-9]*)",
            // A group after the first.
            r"(a)(b)",
        ] {
            assert!(
                matches!(GroupSpan::of(pattern), GroupSpan::Captures),
                "{pattern}"
            );
        }
    }
}
