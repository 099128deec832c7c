//! Every detector on one exchange: the content detectors first, then the
//! behavioural detectors and the endpoint inventory, which both read the
//! content findings (unauthenticated access to sensitive data, sensitive
//! categories per endpoint). One key fingerprints all of them.

pub mod behaviour;
pub mod detect;
pub mod inventory;

mod aggregate;
mod rate_limit;

pub use aggregate::{AggregateCounters, Aggregator};

use serde::Serialize;

use crate::behaviour::{BehaviourCounters, BehaviourDetector};
use crate::config::Config;
use crate::detect::{ContentDetector, Finding};
use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;
use crate::inventory::{Inventory, InventoryCounters};

pub struct Analysis {
    content: ContentDetector,
    behaviour: Option<BehaviourDetector>,
    inventory: Option<Inventory>,
}

/// What the behavioural detectors and the inventory did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AnalysisCounters {
    pub behaviour: Option<BehaviourCounters>,
    pub inventory: Option<InventoryCounters>,
}

impl Analysis {
    /// Content detectors only.
    pub fn new(content: ContentDetector) -> Self {
        Self {
            content,
            behaviour: None,
            inventory: None,
        }
    }

    /// Every detector the config asks for, the inventory loaded from
    /// `output.state_dir`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let key = config.fingerprint_key()?;
        let content = ContentDetector::with_key(&config.detect, key.clone())?;
        let behaviour = config
            .behaviour
            .enabled
            .then(|| BehaviourDetector::new(&config.behaviour, key.clone()));
        let inventory = if config.inventory.enabled {
            Some(Inventory::load_or_new(
                &config.inventory,
                &config.output.state_dir,
                key,
            )?)
        } else {
            None
        };
        Ok(Self {
            content,
            behaviour,
            inventory,
        })
    }

    /// All findings on one exchange, content findings first. `endpoint`
    /// is the exchange's.
    pub fn inspect(&mut self, exchange: &HttpExchange, endpoint: &EndpointKey) -> Vec<Finding> {
        let mut findings = self.content.inspect(exchange);
        let ts = exchange.completed_unix_ns;
        let content = findings.len();
        if let Some(behaviour) = &mut self.behaviour {
            let more = behaviour.observe_at(exchange, endpoint, &findings[..content], ts);
            findings.extend(more);
        }
        if let Some(inventory) = &mut self.inventory {
            let more = inventory.observe_at(exchange, endpoint, &findings[..content], ts);
            findings.extend(more);
        }
        findings
    }

    /// Periodic work: saving the inventory when its interval has passed.
    pub fn tick(&mut self, now_unix_ns: i128) {
        if let Some(inventory) = &mut self.inventory {
            // Counted in the inventory's save_errors; the previous file stays.
            if let Err(err) = inventory.save_if_due(now_unix_ns) {
                tracing::warn!("inventory: {err}");
            }
        }
    }

    /// Saves what must survive a restart.
    pub fn finish(&mut self) {
        if let Some(inventory) = &mut self.inventory {
            inventory.save();
        }
    }

    pub fn counters(&self) -> AnalysisCounters {
        AnalysisCounters {
            behaviour: self.behaviour.as_ref().map(BehaviourDetector::counters),
            inventory: self.inventory.as_ref().map(Inventory::counters),
        }
    }
}

#[cfg(test)]
mod aggregate_tests;
