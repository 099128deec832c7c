//! A map with a hard cap on entries and approximately least-recently-used
//! eviction, for per-endpoint and per-client state whose keys a peer
//! controls.
//!
//! Two generations: new and touched entries live in `current`; when it
//! holds half the cap, `previous` is dropped (its entries evicted and
//! counted) and `current` becomes `previous`. An entry touched in
//! `previous` moves back to `current`. So an entry survives as long as it
//! is used at least once per half-cap of other keys, every operation is
//! O(1), and there is no per-entry list to maintain.
//!
//! Keys are 64-bit keyed hashes already (see `client::Keys`), so the maps
//! hash them by identity.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes a `u64` key by identity: the keys are SipHash outputs already.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in for safety.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdentityMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

#[derive(Debug)]
pub(crate) struct BoundedMap<V> {
    current: IdentityMap<V>,
    previous: IdentityMap<V>,
    half: usize,
    evictions: u64,
}

impl<V> BoundedMap<V> {
    /// Holds at most `cap` entries (at least 2).
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            current: IdentityMap::default(),
            previous: IdentityMap::default(),
            half: (cap / 2).max(1),
            evictions: 0,
        }
    }

    /// The entry for `key`, created by `make` when absent.
    pub(crate) fn get_or_insert_with(&mut self, key: u64, make: impl FnOnce() -> V) -> &mut V {
        if self.current.contains_key(&key) {
            return self.current.get_mut(&key).expect("checked above");
        }
        let value = self.previous.remove(&key).unwrap_or_else(make);
        if self.current.len() >= self.half {
            self.evictions += self.previous.len() as u64;
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.entry(key).or_insert(value)
    }

    /// The entry for `key`, if present (refreshed as recently used).
    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut V> {
        if self.current.contains_key(&key) || self.previous.contains_key(&key) {
            return Some(self.get_or_insert_with(key, || unreachable!("present")));
        }
        None
    }

    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Entries dropped to stay within the cap, since creation.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_exceeds_the_cap_and_counts_evictions() {
        let mut map = BoundedMap::new(100);
        for key in 0..10_000u64 {
            *map.get_or_insert_with(key, || 0u32) += 1;
            assert!(map.len() <= 100);
        }
        assert_eq!(map.evictions() + map.len() as u64, 10_000);
    }

    #[test]
    fn entries_in_use_survive_a_flood_of_new_keys() {
        let mut map = BoundedMap::new(100);
        *map.get_or_insert_with(u64::MAX, || 0u32) = 7;
        for key in 0..10_000u64 {
            map.get_or_insert_with(key, || 0);
            if key % 40 == 0 {
                assert_eq!(map.get_mut(u64::MAX).copied(), Some(7));
            }
        }
        assert_eq!(map.get_mut(u64::MAX).copied(), Some(7));
    }

    #[test]
    fn idle_entries_are_forgotten() {
        let mut map = BoundedMap::new(10);
        map.get_or_insert_with(1_000, || 1u8);
        for key in 0..10u64 {
            map.get_or_insert_with(key, || 0);
        }
        assert!(map.get_mut(1_000).is_none());
    }
}
