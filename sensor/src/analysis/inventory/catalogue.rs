//! The bounded map of endpoints. At the cap, a new endpoint pushes out the
//! least recently seen one (counted): a scan that invents paths or Host
//! headers churns the quiet tail of the catalogue, not its busy endpoints.

use std::collections::{BTreeSet, HashMap};

use super::record::EndpointRecord;
use crate::endpoint::EndpointKey;

#[derive(Debug)]
pub struct Catalogue {
    records: HashMap<EndpointKey, EndpointRecord>,
    /// (last seen, endpoint), oldest first: the eviction order.
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
    pub fn touch(&mut self, key: EndpointKey, now: i64) -> Touched<'_> {
        if let Some(previous) = self.records.get(&key).map(|r| r.last_seen_unix_ns) {
            let record = self.records.get_mut(&key).expect("just found");
            if now > previous {
                let stored = self
                    .recency
                    .take(&(previous, key))
                    .expect("every record has a recency entry")
                    .1;
                self.recency.insert((now, stored));
                record.last_seen_unix_ns = now;
            }
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
            record: self.records.entry(key).or_insert(EndpointRecord::new(now)),
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
            self.recency.remove(&(old.last_seen_unix_ns, key.clone()));
        }
        let evicted = self.make_room();
        self.recency.insert((record.last_seen_unix_ns, key.clone()));
        self.records.insert(key, record);
        evicted
    }

    fn make_room(&mut self) -> Option<EndpointKey> {
        if self.records.len() < self.max {
            return None;
        }
        let (_, oldest) = self.recency.pop_first()?;
        self.records.remove(&oldest);
        self.evicted += 1;
        Some(oldest)
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
        assert!(catalogue.touch(key("/a"), 10).evicted.is_none());
        assert!(catalogue.touch(key("/b"), 20).evicted.is_none());
        // /a seen again: now /b is the oldest.
        let again = catalogue.touch(key("/a"), 30);
        assert_eq!(again.previous_last_seen, Some(10));
        assert_eq!(catalogue.touch(key("/c"), 40).evicted, Some(key("/b")));
        assert_eq!(catalogue.evicted, 1);
        let kept: Vec<&str> = catalogue
            .sorted()
            .iter()
            .map(|(k, _)| k.template.as_str())
            .collect();
        assert_eq!(kept, ["/a", "/c"]);
    }

    #[test]
    fn time_going_backwards_keeps_last_seen_and_moves_first_seen() {
        let mut catalogue = Catalogue::new(10);
        catalogue.touch(key("/a"), 100);
        let touched = catalogue.touch(key("/a"), 50);
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
