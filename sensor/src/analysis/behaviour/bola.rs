//! `auth.bola`: broken object-level authorization, from who asks for what.
//! An API that checks only that a caller is logged in lets one principal
//! read another's records by changing the id in the path. Kept per
//! principal (see `principal`), never per address:
//!
//! - the ids returned to it: ids in its successful responses (the fields
//!   `id`, `*_id`, `*Id` of JSON bodies) and the path ids it read
//!   successfully, in a 2 KiB Bloom filter per principal (false positives
//!   only ever hide an id, never invent one);
//! - the first principal each id was returned to in a response body that
//!   did not merely echo the requested id (its owner, bounded map).
//!
//! A request for a path id that was never returned to the principal is
//! "unreturned"; if another principal owns it, "foreign". Per (principal,
//! endpoint), in a tumbling window of `window_secs`: at least
//! `min_foreign_ids` distinct foreign ids, or at least
//! `min_unreturned_ids` unreturned ones that are most of the ids it
//! requested there (and it has had ids returned at all), raise the alert.
//!
//! Not seen: ids outside the path (query, body), callers without a
//! principal, walks slower than the thresholds per window.

use crate::analysis::detect::{Location, Message, Part, RuleInfo};
use crate::endpoint::path_params;
use crate::exchange::HttpExchange;

use super::bola_ids;
use super::bounded::BoundedMap;
use super::client::Keys;
use super::config::BolaConfig;
use super::distinct::DistinctCounter;
use super::numbers::thousands;
use super::observation::Observation;
use super::rules;
use super::signal::{Condition, Report, Scope};

const NS_PER_SEC: i128 = 1_000_000_000;
/// Bloom filter words per principal: 256 x 64 bits = 2 KiB.
const BLOOM_WORDS: usize = 256;
const BLOOM_BITS: u64 = (BLOOM_WORDS * 64) as u64;
/// Response bodies read for ids.
const MAX_BODY: usize = 64 * 1024;

/// What one principal has been given.
#[derive(Debug, Clone)]
pub(crate) struct Returned {
    bits: Box<[u64; BLOOM_WORDS]>,
    inserted: u64,
}

impl Returned {
    fn new() -> Self {
        Self {
            bits: Box::new([0; BLOOM_WORDS]),
            inserted: 0,
        }
    }

    fn positions(hash: u64) -> [u64; 3] {
        let step = hash.rotate_left(32) | 1;
        [0, 1, 2].map(|i: u64| hash.wrapping_add(i.wrapping_mul(step)) % BLOOM_BITS)
    }

    fn insert(&mut self, hash: u64) {
        if self.contains(hash) {
            return;
        }
        for p in Self::positions(hash) {
            self.bits[(p / 64) as usize] |= 1 << (p % 64);
        }
        self.inserted += 1;
    }

    fn contains(&self, hash: u64) -> bool {
        Self::positions(hash)
            .iter()
            .all(|p| self.bits[(p / 64) as usize] & (1 << (p % 64)) != 0)
    }
}

/// One principal's requests to one endpoint in the current window.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    start_ns: i128,
    requested: DistinctCounter,
    unreturned: DistinctCounter,
    foreign: DistinctCounter,
    owners: DistinctCounter,
}

impl Window {
    fn new(now: i128, config: &BolaConfig) -> Self {
        let cap = |n: u32| (n as usize).saturating_mul(2).max(8);
        let requested = cap(config.min_unreturned_ids).max(cap(config.min_foreign_ids));
        Self {
            start_ns: now,
            requested: DistinctCounter::new(requested, false),
            unreturned: DistinctCounter::new(cap(config.min_unreturned_ids), false),
            foreign: DistinctCounter::new(cap(config.min_foreign_ids), false),
            owners: DistinctCounter::new(16, false),
        }
    }

    fn clear(&mut self, now: i128) {
        self.start_ns = now;
        self.requested.clear();
        self.unreturned.clear();
        self.foreign.clear();
        self.owners.clear();
    }
}

pub(crate) struct BolaTracker {
    returned: BoundedMap<Returned>,
    owners: BoundedMap<u64>,
    windows: BoundedMap<Window>,
}

impl BolaTracker {
    /// (principal, endpoint) windows are capped like principals.
    pub(crate) fn new(config: &BolaConfig) -> Self {
        Self {
            returned: BoundedMap::new(config.max_principals),
            owners: BoundedMap::new(config.max_owned_ids),
            windows: BoundedMap::new(config.max_principals),
        }
    }

    pub(crate) fn principals(&self) -> usize {
        self.returned.len()
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.returned.evictions() + self.owners.evictions() + self.windows.evictions()
    }

    /// Judges the path ids of a request by a principal (its state key
    /// `obs.client_id`), then learns what its answer returned to it.
    pub(crate) fn observe(
        &mut self,
        obs: &Observation<'_>,
        keys: &Keys,
        config: &BolaConfig,
    ) -> Option<ForeignIds> {
        if !config.enabled || obs.principal.is_none() {
            return None;
        }
        let me = obs.client_id;
        let params = path_params(&obs.exchange.request.target);
        let path_ids: Vec<u64> = params.iter().map(|(_, v)| id_hash(keys, v)).collect();
        let found = match path_ids.last() {
            Some(&id) => self.judge(obs, me, id, config),
            None => None,
        };
        if (200..300).contains(&obs.status()) {
            self.learn(obs.exchange, me, &path_ids, keys);
        }
        found
    }

    fn judge(
        &mut self,
        obs: &Observation<'_>,
        me: u64,
        id: u64,
        config: &BolaConfig,
    ) -> Option<ForeignIds> {
        let (returned_to_me, returned_count) = match self.returned.get_mut(me) {
            Some(r) => (r.contains(id), r.inserted),
            None => (false, 0),
        };
        let owner = self.owners.get_mut(id).copied();
        let now = obs.now_unix_ns;
        let pair = keys_pair(me, obs.endpoint_id);
        let window = self
            .windows
            .get_or_insert_with(pair, || Window::new(now, config));
        if now - window.start_ns >= i128::from(config.window_secs) * NS_PER_SEC {
            window.clear(now);
        }
        window.requested.insert(id);
        if !returned_to_me {
            window.unreturned.insert(id);
            if let Some(owner) = owner.filter(|o| *o != me) {
                window.foreign.insert(id);
                window.owners.insert(owner);
            }
        }
        let (foreign, unreturned, requested) = (
            window.foreign.count(),
            window.unreturned.count(),
            window.requested.count(),
        );
        let by_foreign = foreign >= u64::from(config.min_foreign_ids);
        let by_unreturned = returned_count > 0
            && unreturned >= u64::from(config.min_unreturned_ids)
            && unreturned * 2 >= requested;
        (by_foreign || by_unreturned).then(|| ForeignIds {
            foreign,
            owners: window.owners.count(),
            unreturned,
            requested,
            returned: returned_count,
            elapsed_secs: ((now - window.start_ns) / NS_PER_SEC).max(1) as u64,
            window_secs: config.window_secs,
            threshold: if by_foreign {
                config.min_foreign_ids
            } else {
                config.min_unreturned_ids
            },
            by_foreign,
        })
    }

    fn learn(&mut self, exchange: &HttpExchange, me: u64, path_ids: &[u64], keys: &Keys) {
        let body_ids = response_ids(exchange, keys);
        let returned = self.returned.get_or_insert_with(me, Returned::new);
        for &id in path_ids.iter().chain(&body_ids) {
            returned.insert(id);
        }
        for id in body_ids {
            // An echo of the requested id says nothing about who owns it.
            if !path_ids.contains(&id) {
                self.owners.get_or_insert_with(id, || me);
            }
        }
    }
}

fn keys_pair(principal: u64, endpoint: u64) -> u64 {
    principal.rotate_left(17) ^ endpoint.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Ids are compared as text: `17` in a path is `17` in a body.
fn id_hash(keys: &Keys, value: &str) -> u64 {
    keys.hash(&("bola id", value))
}

/// The hashed id values of a JSON response (see `bola_ids`).
fn response_ids(exchange: &HttpExchange, keys: &Keys) -> Vec<u64> {
    let body = exchange.response.body.content();
    if body.is_empty() || body.len() > MAX_BODY {
        return Vec::new();
    }
    if !matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    ) {
        return Vec::new();
    }
    bola_ids::ids(body, &|id| id_hash(keys, id))
}

/// A principal reading ids that are not its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForeignIds {
    foreign: u64,
    owners: u64,
    unreturned: u64,
    requested: u64,
    returned: u64,
    elapsed_secs: u64,
    window_secs: u64,
    threshold: u32,
    by_foreign: bool,
}

impl Condition for ForeignIds {
    fn rule(&self) -> &'static RuleInfo {
        &rules::BOLA
    }

    fn scope(&self) -> Scope<'_> {
        Scope::ENDPOINT_AND_CLIENT
    }

    fn observed(&self) -> u64 {
        if self.by_foreign {
            self.foreign
        } else {
            self.unreturned
        }
    }

    fn report(&self, obs: &Observation<'_>) -> Report {
        let seen = if self.by_foreign {
            format!(
                "{} ids of {} returned to {} other principal(s) and never to {}",
                thousands(self.foreign),
                obs.endpoint,
                thousands(self.owners),
                obs.client
            )
        } else {
            format!(
                "{} ids of {} never returned to {}",
                thousands(self.unreturned),
                obs.endpoint,
                obs.client
            )
        };
        let expected = format!(
            "expected only ids from its own responses ({} returned to it so far); threshold {} per {} s",
            thousands(self.returned),
            self.threshold,
            self.window_secs
        );
        Report {
            location: Location {
                message: Message::Request,
                part: Part::RequestLine,
                name: Some(obs.endpoint.template.clone()),
            },
            summary: format!(
                "Broken object-level authorization: {seen}, in {} s ({} distinct ids requested, {} never returned to it); {expected}.",
                self.elapsed_secs,
                thousands(self.requested),
                thousands(self.unreturned),
            ),
            evidence: format!(
                "{} foreign, {} unreturned of {} ids in {} s; {expected}",
                thousands(self.foreign),
                thousands(self.unreturned),
                thousands(self.requested),
                self.elapsed_secs
            ),
        }
    }
}
