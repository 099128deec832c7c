//! Every detector on one exchange: the content detectors first, then the
//! behavioural detectors and the endpoint inventory, which both read the
//! content findings (unauthenticated access to sensitive data, sensitive
//! categories per endpoint). One key fingerprints all of them.

pub mod behaviour;
pub mod detect;
pub mod inventory;
pub mod principal;
pub mod weak_jwt;

mod aggregate;
pub mod noise;
mod rate_limit;

pub use aggregate::{AggregateCounters, Aggregator};

use serde::Serialize;

use crate::alert::Alert;
use crate::behaviour::{BehaviourCounters, BehaviourDetector};
use crate::config::Config;
use crate::detect::{ContentDetector, Finding};
use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;
use crate::inventory::{Inventory, InventoryCounters};
use noise::{Noise, NoiseCounters};
use principal::{Principal, PrincipalExtractor};
use weak_jwt::{WeakJwtChecker, WeakJwtCounters};

pub struct Analysis {
    content: ContentDetector,
    principals: Option<PrincipalExtractor>,
    /// The principal of the exchange `inspect` saw last, for its alerts.
    principal: Option<Principal>,
    behaviour: Option<BehaviourDetector>,
    inventory: Option<Inventory>,
    /// Weak HMAC secrets of JWTs, tried on the tick.
    weak_jwt: Option<WeakJwtChecker>,
    /// Repeated banners and the sensor's own deliveries, kept quiet.
    noise: Option<Noise>,
}

/// What the behavioural detectors and the inventory did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AnalysisCounters {
    pub behaviour: Option<BehaviourCounters>,
    pub inventory: Option<InventoryCounters>,
    pub weak_jwt: Option<WeakJwtCounters>,
    pub noise: Option<NoiseCounters>,
}

impl Analysis {
    /// Content detectors only.
    pub fn new(content: ContentDetector) -> Self {
        Self {
            content,
            principals: None,
            principal: None,
            behaviour: None,
            inventory: None,
            weak_jwt: None,
            noise: None,
        }
    }

    /// Every detector the config asks for, the inventory loaded from
    /// `output.state_dir`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let key = config.fingerprint_key()?;
        let content = ContentDetector::with_key(&config.detect, key.clone())?;
        let key_for_principals = key.clone();
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
        let weak_jwt = config
            .detect
            .jwt_weak_secrets
            .then(|| content.rule_info(detect::jwt::WEAK_SECRET))
            .flatten()
            .map(|(_, severity)| WeakJwtChecker::new(key_for_principals.clone(), severity));
        let principals_key = key_for_principals.clone();
        let principals = Some(PrincipalExtractor::new(&config.principal, principals_key));
        Ok(Self {
            content,
            principals,
            principal: None,
            behaviour,
            inventory,
            weak_jwt,
            noise: Some(Noise::new(&config.sinks, key_for_principals)),
        })
    }

    /// All findings on one exchange, content findings first. `endpoint`
    /// is the exchange's.
    pub fn inspect(&mut self, exchange: &HttpExchange, endpoint: &EndpointKey) -> Vec<Finding> {
        if let Some(noise) = &mut self.noise {
            if noise.is_own_delivery(exchange, endpoint) {
                self.principal = None;
                return Vec::new();
            }
        }
        let mut findings = self.content.inspect(exchange);
        if let Some(noise) = &mut self.noise {
            noise.drop_repeated_banners(&endpoint.host, &mut findings);
        }
        let ts = exchange.completed_unix_ns;
        let content = findings.len();
        self.principal = self
            .principals
            .as_ref()
            .and_then(|p| p.of(exchange, &endpoint.host));
        if let Some(behaviour) = &mut self.behaviour {
            let principal = self.principal.as_ref();
            let more =
                behaviour.observe_as(exchange, endpoint, principal, &findings[..content], ts);
            findings.extend(more);
        }
        if let Some(inventory) = &mut self.inventory {
            let more = inventory.observe_at(exchange, endpoint, &findings[..content], ts);
            findings.extend(more);
        }
        if let Some(weak_jwt) = &mut self.weak_jwt {
            weak_jwt.offer(exchange, endpoint, self.principal.as_ref());
        }
        findings
    }

    /// Alerts found off the hot path, at most `budget` units of work
    /// (secrets tried) at a time: call on the periodic tick, and with
    /// `usize::MAX` at the end. Each is stamped with, and returned with,
    /// the time of the exchange it is about.
    pub fn deferred_alerts(&mut self, budget: usize) -> Vec<(Alert, i128)> {
        let Some(weak_jwt) = &mut self.weak_jwt else {
            return Vec::new();
        };
        weak_jwt
            .work(budget)
            .into_iter()
            .map(|weak| {
                let ts = weak.exchange.completed_unix_ns;
                let alert = Alert::from_finding(&weak.finding, &weak.exchange, &weak.endpoint, ts)
                    .with_principal(weak.principal.as_ref());
                (alert, ts)
            })
            .collect()
    }

    /// Who made the request `inspect` saw last, fingerprinted (its alerts
    /// name it).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
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
            weak_jwt: self.weak_jwt.as_ref().map(WeakJwtChecker::counters),
            noise: self.noise.as_ref().map(Noise::counters),
        }
    }
}

#[cfg(test)]
mod aggregate_tests;
