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
}

impl GroupSpan {
    /// The plan for `pattern`, parsed as `rules::compile` builds it.
    pub fn of(pattern: &str) -> GroupSpan {
        let parsed = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern);
        parsed
            .ok()
            .and_then(|hir| trim(&hir))
            .unwrap_or(GroupSpan::Captures)
    }

    /// Group 1's span in the match `(start, end)` of `text`, or None when
    /// the captures must say.
    pub fn cut(&self, text: &[u8], (start, end): (usize, usize)) -> Option<(usize, usize)> {
        let GroupSpan::Trim { lead, trail } = self else {
            return None;
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

/// `[lead] (value) [trail]`, each context zero-width or one byte of a
/// class disjoint from the value's first (last) bytes.
fn trim(hir: &Hir) -> Option<GroupSpan> {
    let parts: &[Hir] = match hir.kind() {
        HirKind::Concat(parts) => parts,
        _ => std::slice::from_ref(hir),
    };
    let at = parts
        .iter()
        .position(|p| matches!(p.kind(), HirKind::Capture(c) if c.index == 1))?;
    if at > 1 || parts.len() - at > 2 {
        return None;
    }
    let HirKind::Capture(group) = parts[at].kind() else {
        return None;
    };
    let value = &group.sub;
    if value.properties().minimum_len().unwrap_or(0) == 0
        || value.properties().explicit_captures_len() > 0
    {
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
        let mut cut = 0;
        for spec in crate::analysis::detect::rules::builtin_specs() {
            let Some(pattern) = spec.regex else { continue };
            let plan = GroupSpan::of(pattern);
            if matches!(plan, GroupSpan::Captures) {
                continue;
            }
            cut += 1;
            let re = crate::analysis::detect::rules::compile(pattern).unwrap();
            for line in corpus.lines() {
                let text = line.replace("\\n", "\n");
                let text = text.as_bytes();
                for caps in re.captures_iter(text) {
                    let m = caps.get(0).unwrap();
                    let g = caps
                        .get(1)
                        .map_or((m.start(), m.end()), |g| (g.start(), g.end()));
                    assert_eq!(plan.cut(text, (m.start(), m.end())), Some(g), "{}", spec.id);
                }
            }
        }
        assert!(cut > 10, "{cut} rules cut");
    }

    #[test]
    fn ambiguous_context_needs_the_captures() {
        for pattern in [
            // '(' is both context and a value's first byte.
            r"(?:^|[^0-9A-Za-z+.-])(\(?[2-9][0-9]{2}\)?[0-9]{4})",
            // Context longer than a byte.
            r"(?:^|[^a-z]|mailto:)([a-z]+@[a-z]+)",
            // A value that may be empty.
            r"(?:^|[^0-9])([0-9]*)",
            // Groups beyond the first.
            r"(a)(b)",
            r"(a(b))",
        ] {
            assert!(
                matches!(GroupSpan::of(pattern), GroupSpan::Captures),
                "{pattern}"
            );
        }
    }
}
