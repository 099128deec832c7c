//! The bounded map of endpoints. At the cap, a new endpoint pushes out the
//! least recently seen one (counted): a scan that invents paths or Host
//! headers churns the quiet tail of the catalogue, not its busy endpoints.

use std::collections::{BTreeSet, HashMap};

use super::record::EndpointRecord;
use crate::endpoint::EndpointKey;

#[derive(Debug)]
pub struct Catalogue {
    records: HashMap<EndpointKey, EndpointRecord>,
    /// (last seen, endpoint), oldest first: the eviction order. One entry
    /// per record; its time can be behind the record's last-seen time
    /// (never ahead), since seeing a known endpoint does not move it.
    recency: BTreeSet<(i64, EndpointKey)>,
    max: usize,
    /// Endpoints pushed out by the cap, over the catalogue's lifetime
    /// (carried across restarts).
    pub evicted: u64,
}

/// The endpoint an exchange landed on.
pub struct Touched<'a> {
    pub record: &'a mut EndpointRecord,
    /// Its last-seen time before this exchange; None for a new endpoint.
    pub previous_last_seen: Option<i64>,
    /// The endpoint pushed out to make room for a new one.
    pub evicted: Option<EndpointKey>,
}

impl Catalogue {
    pub fn new(max: usize) -> Catalogue {
        Catalogue {
            records: HashMap::new(),
            recency: BTreeSet::new(),
            max: max.max(1),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn get(&self, key: &EndpointKey) -> Option<&EndpointRecord> {
        self.records.get(key)
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }

    pub fn contains(&self, key: &EndpointKey) -> bool {
        self.records.contains_key(key)
    }

    /// The record of `key`, if it is catalogued, left where it is in the
    /// eviction order.
    pub fn get_mut(&mut self, key: &EndpointKey) -> Option<&mut EndpointRecord> {
        self.records.get_mut(key)
    }

    /// The record of `key` seen at `now`, created (and room made) if new.
    /// Last-seen never goes backwards, whatever order exchanges arrive in.
    /// A known endpoint costs no copy of its key: its recency entry is
    /// left behind and caught up when the cap needs a victim.
    pub fn touch(&mut self, key: &EndpointKey, now: i64) -> Touched<'_> {
        if self.records.contains_key(key) {
            let record = self.records.get_mut(key).expect("just found");
            let previous = record.last_seen_unix_ns;
            record.last_seen_unix_ns = previous.max(now);
            record.first_seen_unix_ns = record.first_seen_unix_ns.min(now);
            return Touched {
                record,
                previous_last_seen: Some(previous),
                evicted: None,
            };
        }
        let evicted = self.make_room();
        self.recency.insert((now, key.clone()));
        Touched {
            record: self
                .records
                .entry(key.clone())
                .or_insert(EndpointRecord::new(now)),
            previous_last_seen: None,
            evicted,
        }
    }

    /// Adds a record read from disk; past the cap the oldest goes, as for
    /// live traffic (a restart with a smaller `max_endpoints`).
    pub fn insert_loaded(
        &mut self,
        key: EndpointKey,
        record: EndpointRecord,
    ) -> Option<EndpointKey> {
        if let Some(old) = self.records.remove(&key) {
            if !self.recency.remove(&(old.last_seen_unix_ns, key.clone())) {
                // Its entry fell behind its last-seen time (see `recency`).
                self.recency.retain(|(_, k)| *k != key);
            }
        }
        let evicted = self.make_room();
        self.recency.insert((record.last_seen_unix_ns, key.clone()));
        self.records.insert(key, record);
        evicted
    }

    /// Pushes out the least recently seen endpoint when at the cap. An
    /// entry behind its record's last-seen time is moved up to it and the
    /// search goes on: the first entry found current is then the least
    /// recently seen endpoint, since every other entry is at or before its
    /// own record's time.
    fn make_room(&mut self) -> Option<EndpointKey> {
        if self.records.len() < self.max {
            return None;
        }
        while let Some((seen, key)) = self.recency.pop_first() {
            match self.records.get(&key).map(|r| r.last_seen_unix_ns) {
                Some(last) if last > seen => {
                    self.recency.insert((last, key));
                }
                Some(_) => {
                    self.records.remove(&key);
                    self.evicted += 1;
                    return Some(key);
                }
                // Every record has an entry and every entry a record.
                None => {}
            }
        }
        None
    }

    /// Every endpoint, sorted by host, method and template.
    pub fn sorted(&self) -> Vec<(&EndpointKey, &EndpointRecord)> {
        let mut all: Vec<_> = self.records.iter().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(template: &str) -> EndpointKey {
        EndpointKey {
            host: "api".into(),
            method: "GET".into(),
            template: template.into(),
        }
    }

    #[test]
    fn least_recently_seen_goes_first_and_is_counted() {
        let mut catalogue = Catalogue::new(2);
        assert!(catalogue.touch(&key("/a"), 10).evicted.is_none());
        assert!(catalogue.touch(&key("/b"), 20).evicted.is_none());
        // /a seen again: now /b is the oldest.
        let again = catalogue.touch(&key("/a"), 30);
        assert_eq!(again.previous_last_seen, Some(10));
        assert_eq!(catalogue.touch(&key("/c"), 40).evicted, Some(key("/b")));
        assert_eq!(catalogue.evicted, 1);
        let kept: Vec<&str> = catalogue
            .sorted()
            .iter()
            .map(|(k, _)| k.template.as_str())
            .collect();
        assert_eq!(kept, ["/a", "/c"]);
    }

    /// Against a plain model: the endpoint evicted is always the one with
    /// the oldest last-seen time (then the smallest key), however far the
    /// recency entries fell behind.
    #[test]
    fn evicts_exactly_the_least_recently_seen() {
        let mut catalogue = Catalogue::new(4);
        let mut model: std::collections::BTreeMap<EndpointKey, i64> = Default::default();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for step in 0..5_000i64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let k = key(&format!("/{}", seed % 7));
            // Mostly forwards, sometimes backwards, sometimes a tie.
            let now = step / 3 - seed.is_multiple_of(5) as i64 * 4;
            let want_evicted = (!model.contains_key(&k) && model.len() == 4).then(|| {
                let oldest = model
                    .iter()
                    .min_by_key(|(k, seen)| (**seen, (*k).clone()))
                    .map(|(k, _)| k.clone())
                    .unwrap();
                model.remove(&oldest);
                oldest
            });
            let seen = model.entry(k.clone()).or_insert(now);
            *seen = (*seen).max(now);
            let touched = catalogue.touch(&k, now);
            assert_eq!(touched.evicted, want_evicted, "step {step}");
            assert_eq!(catalogue.recency.len(), catalogue.len());
        }
    }

    #[test]
    fn time_going_backwards_keeps_last_seen_and_moves_first_seen() {
        let mut catalogue = Catalogue::new(10);
        catalogue.touch(&key("/a"), 100);
        let touched = catalogue.touch(&key("/a"), 50);
        assert_eq!(touched.record.last_seen_unix_ns, 100);
        assert_eq!(touched.record.first_seen_unix_ns, 50);
        // The recency index still holds exactly one entry per endpoint.
        assert_eq!(catalogue.recency.len(), 1);
    }

    #[test]
    fn loading_more_than_the_cap_keeps_the_newest() {
        let mut catalogue = Catalogue::new(2);
        for (template, seen) in [("/old", 1), ("/new", 3), ("/mid", 2)] {
            catalogue.insert_loaded(key(template), EndpointRecord::new(seen));
        }
        let kept: Vec<&str> = catalogue
            .sorted()
            .iter()
            .map(|(k, _)| k.template.as_str())
            .collect();
        assert_eq!(kept, ["/mid", "/new"]);
        assert_eq!(catalogue.evicted, 1);
    }
}
