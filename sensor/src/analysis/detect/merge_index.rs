//! The findings of one exchange, merged by rule and (wildcard) location:
//! the same rule on `$.users[*].email` is one finding counted once per
//! element. Looked up by a keyed hash of the rule and the rendered
//! location, written into a buffer kept for the exchange, so counting one
//! more occurrence allocates nothing.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use super::place::Place;
use super::types::{Finding, Location};

pub struct Merged {
    pub finding: Finding,
    /// Where the first occurrence was, indices kept; `None` when that is
    /// `finding.location` (no index in it).
    pub exact: Option<Location>,
    /// A later occurrence was somewhere else (another index).
    pub differs: bool,
    pub rule: usize,
    /// The next entry whose key has the same hash.
    next: Option<usize>,
}

#[derive(Default)]
pub struct MergeIndex {
    merged: Vec<Merged>,
    /// The first entry of each key hash.
    heads: HashMap<u64, usize, BuildHasherDefault<KeyHash>>,
    /// Keys the hash (SipHash): a peer cannot choose paths that collide.
    state: RandomState,
    name: String,
    exact: String,
}

impl MergeIndex {
    /// Counts one more occurrence of `rule` at `place`; when it is the
    /// first, adds the finding `new(wildcard location)` makes.
    pub fn add(&mut self, rule: usize, place: &Place<'_>, new: impl FnOnce(Location) -> Finding) {
        self.name.clear();
        let named = place.write_name(true, &mut self.name);
        let mut h = self.state.build_hasher();
        // One write for the rest of the key, one for the name: each
        // write costs SipHash a buffering step.
        let rest = (rule as u64) << 16
            | (place.message as u64) << 8
            | (place.part as u64) << 1
            | u64::from(named);
        h.write_u64(rest);
        h.write(self.name.as_bytes());
        let hash = h.finish();
        let mut at = self.heads.get(&hash).copied();
        while let Some(i) = at {
            let m = &mut self.merged[i];
            let l = &m.finding.location;
            let same = m.rule == rule
                && l.message == place.message
                && l.part == place.part
                && l.name.as_deref() == named.then_some(self.name.as_str());
            if !same {
                at = m.next;
                continue;
            }
            m.finding.count = m.finding.count.saturating_add(1);
            if !m.differs && place.has_index() {
                self.exact.clear();
                place.write_name(false, &mut self.exact);
                let first = m.exact.as_ref().unwrap_or(&m.finding.location);
                m.differs = first.name.as_deref() != Some(self.exact.as_str());
            }
            return;
        }
        let location = Location {
            message: place.message,
            part: place.part,
            name: named.then(|| self.name.clone()),
        };
        let exact = place.has_index().then(|| place.location(false));
        let next = self.heads.insert(hash, self.merged.len());
        self.merged.push(Merged {
            finding: new(location),
            exact,
            differs: false,
            rule,
            next,
        });
    }

    /// The merged findings, in the order they were first added; the
    /// index is left empty, its buffers kept.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Merged> {
        self.heads.clear();
        self.merged.drain(..)
    }

    /// Empty, its buffers kept unless they hold room for more than `max`
    /// entries (then let go).
    pub fn clear(&mut self, max: usize) {
        if self.merged.capacity() > max {
            self.heads = HashMap::default();
            self.merged = Vec::new();
        } else {
            self.heads.clear();
            self.merged.clear();
        }
    }
}

/// The map's keys are hashes already: used as they are.
#[derive(Default)]
struct KeyHash(u64);

impl Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::json_walk;
    use crate::analysis::detect::place::Name;
    use crate::analysis::detect::types::{Category, Message, Part, Severity};

    fn finding(location: Location) -> Finding {
        Finding {
            rule: "r".into(),
            category: Category::SensitiveData,
            severity: Severity::High,
            location,
            evidence: String::new(),
            fingerprint: String::new(),
            count: 1,
            summary: String::new(),
            folded: false,
        }
    }

    /// Each JSON value of `body` added as a finding of rule 0.
    fn add_values(index: &mut MergeIndex, body: &[u8]) {
        json_walk::walk(body, &mut |path, _, _| {
            let place = Place::new(Message::Response, Part::Body, Name::Path(path));
            index.add(0, &place, finding);
            true
        });
    }

    #[test]
    fn merges_by_rule_and_wildcard_location() {
        let mut index = MergeIndex::default();
        add_values(
            &mut index,
            br#"{"u":[{"e":"a"},{"e":"b"}],"x":"c","y":[{"e":"d"}]}"#,
        );
        let header = Place::new(Message::Response, Part::Header, Name::Text("Server"));
        index.add(1, &header, finding);
        index.add(1, &header, finding);
        index.add(2, &header, finding);
        let request = Place::new(Message::Request, Part::Header, Name::Text("Server"));
        index.add(1, &request, finding);
        let got: Vec<(usize, String, u32, bool, String)> = index
            .drain()
            .map(|m| {
                let f = m.finding;
                let exact = m
                    .exact
                    .unwrap_or(f.location.clone())
                    .name
                    .unwrap_or_default();
                (m.rule, f.location.to_string(), f.count, m.differs, exact)
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    0,
                    "response body $.u[*].e".into(),
                    2,
                    true,
                    "$.u[0].e".into()
                ),
                (0, "response body $.x".into(), 1, false, "$.x".into()),
                (
                    0,
                    "response body $.y[*].e".into(),
                    1,
                    false,
                    "$.y[0].e".into()
                ),
                (
                    1,
                    "response header Server".into(),
                    2,
                    false,
                    "Server".into()
                ),
                (
                    2,
                    "response header Server".into(),
                    1,
                    false,
                    "Server".into()
                ),
                (1, "request header Server".into(), 1, false, "Server".into()),
            ]
        );
        // Drained, the index starts over: nothing merges with what it held.
        index.add(1, &header, finding);
        let again: Vec<(usize, u32)> = index.drain().map(|m| (m.rule, m.finding.count)).collect();
        assert_eq!(again, [(1, 1)]);
        index.clear(0);
        assert_eq!(index.drain().count(), 0);
    }
}
