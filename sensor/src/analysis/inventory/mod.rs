//! The API inventory: a catalogue of the endpoints the sensor has seen
//! (host, method, path template), what each carries and lacks, and the
//! shadow and zombie APIs among them.
//!
//! Guarantees:
//! - Time is what the caller says it is (`now_unix_ns`); nothing here reads
//!   the clock, so a replay builds the catalogue a live run would.
//! - Bounded: at most `max_endpoints` endpoints (the least recently seen
//!   goes, counted) and capped sets per endpoint.
//! - No raw value: paths are kept as templates, credentials and cookies by
//!   name, detector findings by rule.
//! - Survives restarts: saved atomically to `inventory.json` in the state
//!   directory; a file that cannot be used is set aside, not overwritten.
//! - Shared with a fleet when `store` names a PostgreSQL database: changed
//!   records are handed to a writer thread on the save interval, never
//!   waited for (`fleet`).
//!
//! Layout: `record` is one endpoint, `catalogue` the bounded map, `store`
//! the file; `credentials`, `media_type` and `security_headers` read one
//! exchange; `spec`, `path_match`, `versions` and `drift` judge shadow and
//! zombie APIs; `openapi`, `table` and `cli` print the catalogue; `fleet`
//! shares it through PostgreSQL.

mod catalogue;
pub mod cli;
pub mod config;
mod credentials;
mod drift;
pub mod fleet;
mod media_type;
mod openapi;
mod path_match;
mod record;
mod security_headers;
mod spec;
mod store;
mod table;
mod versions;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::analysis::detect::{Finding, FingerprintKey};
use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;

use catalogue::Catalogue;
use fleet::{Batch, FleetError, FleetWriter, StoreCounters, StoreUrl};
use spec::ReferenceSpec;
use versions::VersionIndex;

pub use cli::{print, print_fleet, InventoryFormat};
pub use config::InventoryConfig;
pub use credentials::{Credential, CredentialKind};
pub use drift::{RULES, SHADOW_API, ZOMBIE_API};
pub use record::{EndpointRecord, ProcessSeen, StatusSeen};
pub use security_headers::HeaderIssue;
pub use spec::SpecError;
pub use store::{StoreError, FILE_NAME};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("inventory store {url}: {source}")]
    Fleet {
        url: StoreUrl,
        #[source]
        source: FleetError,
    },
}

/// How long shutdown waits for the fleet database to take the last
/// records (what it does not take is written at the next start).
const STORE_FINISH_WAIT: Duration = Duration::from_secs(2);

/// What the inventory did, for `--stats` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InventoryCounters {
    /// Endpoints tracked now.
    pub endpoints: u64,
    /// Endpoints forgotten at the cap, since the catalogue was created.
    pub evicted: u64,
    /// Successful writes of the catalogue file.
    pub saves: u64,
    /// Failed writes (the previous file stays in place).
    pub save_errors: u64,
    /// Unusable catalogue files set aside at start-up.
    pub files_set_aside: u64,
    /// 404 and 405 answers on paths that are not endpoints: counted, never
    /// added (a scanner's guesses are not the API).
    pub unrouted: u64,
    /// The same, per host (at most `MAX_UNROUTED_HOSTS`; the rest under
    /// `*`).
    pub unrouted_by_host: std::collections::BTreeMap<String, u64>,
    /// The fleet database's writer, when `store` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreCounters>,
}

/// Hosts whose 404/405 answers are counted apart.
const MAX_UNROUTED_HOSTS: usize = 1000;

pub struct Inventory {
    enabled: bool,
    path: PathBuf,
    catalogue: Catalogue,
    spec: Option<ReferenceSpec>,
    versions: VersionIndex,
    fingerprint_key: FingerprintKey,
    save_interval_ns: i128,
    realert_after_ns: i64,
    /// Changed since the last successful save.
    dirty: bool,
    last_save_attempt_ns: Option<i128>,
    saves: u64,
    save_errors: u64,
    files_set_aside: u64,
    unrouted: std::collections::BTreeMap<String, u64>,
    /// The fleet database's writer (`store`).
    store: Option<FleetWriter>,
    /// Endpoints changed since they were last handed to the writer.
    unstored: HashSet<EndpointKey>,
    /// Every host's versioned endpoints, read back from the fleet
    /// database: zombies are judged on the fleet's view.
    fleet_versions: Option<VersionIndex>,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("path", &self.path)
            .field("endpoints", &self.catalogue.len())
            .field("spec", &self.spec.is_some())
            .finish_non_exhaustive()
    }
}

impl Inventory {
    /// The catalogue in `state_dir` (empty when there is none yet), and the
    /// reference spec from the config. An unusable catalogue file is moved
    /// aside (`inventory.json.corrupt`) with an error in the log, and the
    /// inventory starts empty; an unreadable one, or a bad spec, is an
    /// error. `fingerprint_key` is the content detectors' key, so the
    /// inventory's findings are fingerprinted like theirs.
    pub fn load_or_new(
        config: &InventoryConfig,
        state_dir: &Path,
        fingerprint_key: FingerprintKey,
    ) -> Result<Inventory, InventoryError> {
        let mut inventory = Inventory {
            enabled: config.enabled,
            path: state_dir.join(FILE_NAME),
            catalogue: Catalogue::new(config.max_endpoints),
            spec: None,
            versions: VersionIndex::default(),
            fingerprint_key,
            save_interval_ns: i128::from(config.save_interval_secs) * 1_000_000_000,
            realert_after_ns: i64::try_from(config.realert_after_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000_000),
            dirty: false,
            last_save_attempt_ns: None,
            saves: 0,
            save_errors: 0,
            files_set_aside: 0,
            unrouted: std::collections::BTreeMap::new(),
            store: None,
            unstored: HashSet::new(),
            fleet_versions: None,
        };
        if !config.enabled {
            return Ok(inventory);
        }
        inventory.spec = config
            .spec
            .as_deref()
            .map(ReferenceSpec::load)
            .transpose()?;
        store::remove_stale_temp(&inventory.path)?;
        match store::read(&inventory.path) {
            Ok(Some(snapshot)) => {
                inventory.catalogue.evicted = snapshot.evicted;
                for (key, record) in snapshot.endpoints {
                    inventory.versions.insert(&key.host, &key.template);
                    if let Some(gone) = inventory.catalogue.insert_loaded(key, record) {
                        inventory.versions.remove(&gone.host, &gone.template);
                    }
                }
            }
            Ok(None) => {}
            Err(err) if err.is_unusable_content() => {
                let aside = store::set_aside(&inventory.path)?;
                tracing::error!(
                    "{err}; moved it to {} and starting an empty inventory (inspect or delete the copy)",
                    aside.display()
                );
                inventory.files_set_aside += 1;
            }
            Err(err) => return Err(err.into()),
        }
        Ok(inventory)
    }

    /// Shares the catalogue with the fleet database at `url`, as
    /// `sensor_host`: starts the writer thread (without waiting for the
    /// database, which may be down) and marks every endpoint already known
    /// for writing, so what an earlier run could not write goes now.
    pub fn attach_store(
        &mut self,
        url: &StoreUrl,
        sensor_host: String,
    ) -> Result<(), InventoryError> {
        if !self.enabled {
            return Ok(());
        }
        let max_pending = self.catalogue.max().saturating_mul(2);
        let writer =
            FleetWriter::start(url.clone(), sensor_host, max_pending).map_err(|source| {
                InventoryError::Fleet {
                    url: url.clone(),
                    source,
                }
            })?;
        self.store = Some(writer);
        self.unstored = self
            .catalogue
            .sorted()
            .into_iter()
            .map(|(key, _)| key.clone())
            .collect();
        Ok(())
    }

    /// Adds one exchange, with the content detectors' findings for it, and
    /// returns the shadow or zombie API finding when this endpoint is one
    /// and has not been reported since it was last quiet for
    /// `realert_after_secs`.
    pub fn observe(
        &mut self,
        exchange: &HttpExchange,
        findings: &[Finding],
        now_unix_ns: i128,
    ) -> Vec<Finding> {
        self.observe_at(exchange, &EndpointKey::of(exchange), findings, now_unix_ns)
    }

    /// `observe` with the exchange's endpoint already worked out (the
    /// caller shares it with the behavioural detectors and the alerts).
    /// Notes `peer`, the other end of the exchange just observed on `key`
    /// (both ends captured on this host), as serving or calling it: the
    /// exchange itself was counted once, from the analysed end.
    pub fn peer_seen(&mut self, key: &EndpointKey, peer: &crate::conntrack::ConnectionInfo) {
        if let Some(record) = self.catalogue.get_mut(key) {
            record.seen_by(peer);
        }
    }

    pub fn observe_at(
        &mut self,
        exchange: &HttpExchange,
        key: &EndpointKey,
        findings: &[Finding],
        now_unix_ns: i128,
    ) -> Vec<Finding> {
        if !self.enabled {
            return Vec::new();
        }
        let status = exchange.response.status;
        if (status == 404 || status == 405) && !self.catalogue.contains(key) {
            let host = if self.unrouted.len() < MAX_UNROUTED_HOSTS
                || self.unrouted.contains_key(&key.host)
            {
                key.host.clone()
            } else {
                "*".to_owned()
            };
            *self.unrouted.entry(host).or_default() += 1;
            return Vec::new();
        }
        let now = now_unix_ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let touched = self.catalogue.touch(key, now);
        if let Some(gone) = &touched.evicted {
            self.versions.remove(&gone.host, &gone.template);
            self.unstored.remove(gone);
        }
        let record = touched.record;
        match touched.previous_last_seen {
            None => self.versions.insert(&key.host, &key.template),
            Some(previous) if now.saturating_sub(previous) >= self.realert_after_ns => {
                record.reported.clear();
            }
            Some(_) => {}
        }
        record.observe(exchange, findings);
        self.dirty = true;
        // Compared first: almost always already marked, so no clone.
        if self.store.is_some() && !self.unstored.contains(key) {
            self.unstored.insert(key.clone());
        }

        let drift = drift::classify(
            self.spec.as_ref(),
            &self.versions,
            self.fleet_versions.as_ref(),
            key,
            exchange.connection.role,
            &mut record.spec_lookup,
        );
        match drift {
            Some(drift) if record.reported.insert(drift.rule().to_owned()) => {
                vec![drift::finding(drift, key, &self.fingerprint_key)]
            }
            _ => Vec::new(),
        }
    }

    /// Saves when something changed and `save_interval_secs` passed since
    /// the last attempt. A failed save is counted and returned; the previous
    /// file stays, and the next attempt comes an interval later.
    /// Changed records go to the fleet database's writer at the same pace.
    pub fn save_if_due(&mut self, now_unix_ns: i128) -> Result<(), InventoryError> {
        if !self.enabled || (!self.dirty && self.unstored.is_empty()) {
            return Ok(());
        }
        if self
            .last_save_attempt_ns
            .is_some_and(|last| now_unix_ns - last < self.save_interval_ns)
        {
            return Ok(());
        }
        self.last_save_attempt_ns = Some(now_unix_ns);
        self.hand_over_to_store();
        if !self.dirty {
            return Ok(());
        }
        self.write().map_err(InventoryError::from)
    }

    /// Gives the writer the records changed since the last hand-over,
    /// without waiting: when its queue is full they stay marked for the
    /// next one.
    fn hand_over_to_store(&mut self) {
        let Some(store) = &self.store else {
            return;
        };
        if let Some(versions) = store.take_fleet_versions() {
            self.fleet_versions = Some(versions);
        }
        if self.unstored.is_empty() || !store.has_room() {
            return;
        }
        let endpoints = self
            .unstored
            .iter()
            .filter_map(|key| Some((key.clone(), self.catalogue.get(key)?.clone())))
            .collect();
        let batch = Batch {
            endpoints,
            evicted: self.catalogue.evicted,
        };
        if store.try_hand_over(batch).is_ok() {
            self.unstored.clear();
        }
    }

    /// Saves now if anything changed (shutdown); a failure is logged and
    /// counted.
    /// The fleet database's writer gets the last records and a moment to
    /// write them.
    pub fn save(&mut self) {
        if !self.enabled {
            return;
        }
        self.hand_over_to_store();
        if self.dirty {
            if let Err(err) = self.write() {
                tracing::error!("{err}; the inventory file keeps its previous contents");
            }
        }
        if let Some(store) = &mut self.store {
            store.finish(STORE_FINISH_WAIT);
        }
    }

    pub fn counters(&self) -> InventoryCounters {
        InventoryCounters {
            endpoints: self.catalogue.len() as u64,
            evicted: self.catalogue.evicted,
            saves: self.saves,
            save_errors: self.save_errors,
            files_set_aside: self.files_set_aside,
            unrouted: self.unrouted.values().sum(),
            unrouted_by_host: self.unrouted.clone(),
            store: self.store.as_ref().map(FleetWriter::counters),
        }
    }

    /// Every endpoint, sorted by host, method and template.
    pub fn endpoints(&self) -> Vec<(&EndpointKey, &EndpointRecord)> {
        self.catalogue.sorted()
    }

    fn write(&mut self) -> Result<(), StoreError> {
        let bytes = store::encode(self.catalogue.evicted, &self.catalogue.sorted());
        match store::write_atomic(&self.path, &bytes) {
            Ok(()) => {
                self.saves += 1;
                self.dirty = false;
                Ok(())
            }
            Err(err) => {
                self.save_errors += 1;
                Err(err)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod drift_tests;

#[cfg(test)]
mod output_tests;

#[cfg(test)]
mod store_tests;
