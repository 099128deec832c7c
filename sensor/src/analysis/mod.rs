//! Exchange in, alerts out: the content detectors first, then the
//! behavioural detectors and the endpoint inventory, which both read the
//! content findings (unauthenticated access to sensitive data, sensitive
//! categories per endpoint); then every finding becomes an `Alert` and goes
//! through deduplication and the per-rule rate limit (transforms, as Vector
//! keeps `dedupe` and `throttle`: sinks only deliver). One key fingerprints
//! every finding. Synchronous and clock-free: time is the capture time the
//! caller hands in.
//!
//! Each exchange's principal (`principal`) is worked out once, handed to
//! the behavioural detectors and named in its alerts. What is kept quiet
//! (`noise`: repeated banners, the sensor's own deliveries) is dropped
//! here, and the weak-JWT-secret checks (`weak_jwt`) run on the tick.

pub mod behaviour;
pub mod credentials;
pub mod detect;
pub mod inventory;
pub mod noise;
pub mod principal;
pub mod transport;
pub mod weak_jwt;

mod aggregate;
mod rate_limit;
pub mod rules;

pub use aggregate::{AggregateCounters, Aggregator, DedupKey, LatestEnds};

mod metrics;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::alert::{Alert, AlertsConfig};
use crate::config::Config;
use crate::conntrack::ConnectionInfo;
use crate::endpoint::EndpointKey;
use crate::exchange::HttpExchange;
use crate::finding::Finding;
use crate::origin::Origin;
use behaviour::{BehaviourCounters, BehaviourDetector};
use credentials::{CredentialCounters, CredentialDetector, CredentialsConfig, TokenFields};
use detect::{ContentDetector, FingerprintKey};
use inventory::{Inventory, InventoryCounters};
use noise::{Noise, NoiseCounters};
use principal::{Principal, PrincipalExtractor};
use transport::CleartextDetector;
use weak_jwt::{WeakJwtChecker, WeakJwtCounters};

pub struct Analysis {
    content: ContentDetector,
    /// The content detectors' buffers, kept between exchanges.
    scratch: detect::Scratch,
    behaviour: Option<BehaviourDetector>,
    inventory: Option<Inventory>,
    credentials: Option<CredentialDetector>,
    cleartext: Option<CleartextDetector>,
    /// Where credentials are found (the cleartext check reads them too).
    credentials_config: CredentialsConfig,
    credentials_token_fields: TokenFields,
    /// `detect.disabled_rules`, for the behavioural and inventory rules
    /// (the content detectors compile theirs out).
    disabled: Vec<String>,
    /// Where each exchange's principal is read.
    principals: Option<PrincipalExtractor>,
    /// Weak HMAC secrets of JWTs, tried on the tick.
    weak_jwt: Option<WeakJwtChecker>,
    /// Repeated banners and the sensor's own deliveries, kept quiet.
    noise: Option<Noise>,
    /// Folds repeats and applies the per-rule rate limit.
    aggregator: Aggregator,
    /// This sensor and its host, stamped on every alert.
    origin: Origin,
    /// Alerts raised after deduplication and rate limiting, by (rule,
    /// severity), for the metrics.
    alert_counts: BTreeMap<(String, &'static str), u64>,
}

/// What the behavioural detectors and the inventory did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AnalysisCounters {
    pub behaviour: Option<BehaviourCounters>,
    pub inventory: Option<InventoryCounters>,
    pub credentials: Option<CredentialCounters>,
    pub weak_jwt: Option<WeakJwtCounters>,
    pub noise: Option<NoiseCounters>,
}

impl Analysis {
    /// Content detectors only.
    pub fn new(content: ContentDetector) -> Self {
        Self {
            content,
            scratch: detect::Scratch::default(),
            behaviour: None,
            inventory: None,
            credentials: None,
            cleartext: None,
            credentials_config: CredentialsConfig::default(),
            credentials_token_fields: TokenFields::new(&CredentialsConfig::default()),
            disabled: Vec::new(),
            principals: None,
            weak_jwt: None,
            noise: None,
            aggregator: Aggregator::new(&AlertsConfig::default()),
            origin: Origin::detect(None),
            alert_counts: BTreeMap::new(),
        }
    }

    /// The host and sensor alerts name.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Deduplication and rate limit as `config` sets them.
    pub fn with_alert_policy(mut self, config: &AlertsConfig) -> Self {
        self.aggregator = Aggregator::new(config);
        self
    }

    /// Every detector the config asks for, the inventory loaded from
    /// `output.state_dir`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let key = fingerprint_key(config)?;
        let grpc_schema = detect::grpc_schema::GrpcSchema::load(&config.grpc)
            .map_err(|err| anyhow::anyhow!("grpc.descriptor_sets: {err}"))?;
        if !grpc_schema.is_empty() {
            tracing::info!(
                "gRPC field paths named for {} methods from grpc.descriptor_sets",
                grpc_schema.len()
            );
        }
        let content =
            ContentDetector::with_key(&config.detect, key.clone())?.with_grpc_schema(grpc_schema);
        let behaviour = config
            .behaviour
            .enabled
            .then(|| BehaviourDetector::new(&config.behaviour, key.clone()));
        let origin = Origin::detect(config.kubernetes.node_name.as_deref());
        let inventory = if config.inventory.enabled {
            let mut inventory =
                Inventory::load_or_new(&config.inventory, &config.output.state_dir, key.clone())?;
            if let Some(url) = &config.inventory.store {
                // One row per endpoint and host: the Kubernetes node when
                // known (a pod's hostname changes with every restart).
                let sensor_host = origin
                    .host
                    .node
                    .clone()
                    .unwrap_or_else(|| origin.host.hostname.clone());
                inventory.attach_store(url, sensor_host)?;
            }
            Some(inventory)
        } else {
            None
        };
        let weak_jwt = config
            .detect
            .jwt_weak_secrets
            .then(|| content.rule_info(detect::jwt::WEAK_SECRET))
            .flatten()
            .map(|(_, severity)| WeakJwtChecker::new(key.clone(), severity));
        let webhooks: Vec<&str> = config
            .sinks
            .webhook
            .iter()
            .map(|w| w.url.as_str())
            .collect();
        let syslogs: Vec<&str> = config
            .sinks
            .syslog
            .iter()
            .filter(|s| s.transport != "unix")
            .map(|s| s.address.as_str())
            .collect();
        let noise = Noise::new(&webhooks, &syslogs);
        Ok(Self {
            behaviour,
            inventory,
            disabled: config.detect.disabled_rules.clone(),
            principals: Some(PrincipalExtractor::new(&config.principal, key.clone())),
            weak_jwt,
            noise: Some(noise),
            ..Self::new(content)
                .with_alert_policy(&config.alerts)
                .with_origin(origin)
                .with_credentials(&config.credentials, key.clone())
                .with_transport(&config.transport, key)
        })
    }

    /// Follows credentials across exchanges (`[credentials]`).
    pub fn with_credentials(mut self, config: &CredentialsConfig, key: FingerprintKey) -> Self {
        self.credentials = config.enabled.then(|| CredentialDetector::new(config, key));
        self.credentials_config = config.clone();
        self.credentials_token_fields = TokenFields::new(config);
        self
    }

    /// Reports sensitive plaintext between hosts (`[transport]`).
    pub fn with_transport(
        mut self,
        config: &transport::TransportConfig,
        key: FingerprintKey,
    ) -> Self {
        self.cleartext = config.enabled.then(|| CleartextDetector::new(config, key));
        self
    }

    /// All findings on one exchange, content findings first. `endpoint`
    /// is the exchange's.
    pub fn inspect(&mut self, exchange: &HttpExchange, endpoint: &EndpointKey) -> Vec<Finding> {
        self.inspect_as(exchange, None, endpoint, None).0
    }

    /// `inspect`, with the principal the exchange's request carries.
    /// `peer` is the other end when both ends are captured. With `out`,
    /// a new content finding that repeats an open deduplication window is
    /// folded into it as it is found (summaries of windows closed by then
    /// go to `out`), and comes back `folded`, its words never built.
    fn inspect_as(
        &mut self,
        exchange: &HttpExchange,
        peer: Option<&Arc<ConnectionInfo>>,
        endpoint: &EndpointKey,
        out: Option<&mut Vec<Alert>>,
    ) -> (Vec<Finding>, Option<Principal>) {
        if let Some(noise) = &mut self.noise {
            if noise.is_own_delivery(exchange, endpoint) {
                return (Vec::new(), None);
            }
        }
        let principal = self
            .principals
            .as_ref()
            .and_then(|p| p.of(exchange, &endpoint.host));
        let mut findings = match &mut self.noise {
            Some(noise) => {
                let host = endpoint.host.as_str();
                let aggregator = &mut self.aggregator;
                let mut fold = out.map(|out| {
                    move |rule: &str, fingerprint: &str| {
                        fold_repeat(aggregator, exchange, peer, endpoint, rule, fingerprint, out)
                    }
                });
                let mut findings = self.content.inspect_quieting(
                    exchange,
                    &mut self.scratch,
                    &mut |fingerprint| noise.is_repeated_banner(host, fingerprint),
                    fold.as_mut()
                        .map(|f| f as &mut dyn FnMut(&str, &str) -> bool),
                );
                // Banners new to the host (and the second of two in one
                // exchange) are told here.
                noise.drop_repeated_banners(host, &mut findings);
                findings
            }
            None => self.content.inspect(exchange),
        };
        let ts = exchange.completed_unix_ns;
        let content = findings.len();
        if exchange.request.method.is_empty() {
            // An HTTP/2 request whose headers could not be decoded (counted
            // in http.h2): its body was inspected, but it names no endpoint.
            return (findings, principal);
        }
        if let Some(behaviour) = &mut self.behaviour {
            let more = behaviour.observe_as(
                exchange,
                endpoint,
                principal.as_ref(),
                &findings[..content],
                ts,
            );
            findings.extend(more);
        }
        if let Some(inventory) = &mut self.inventory {
            let more = inventory.observe_at(exchange, endpoint, &findings[..content], ts);
            findings.extend(more);
            if let Some(peer) = peer {
                inventory.peer_seen(endpoint, peer);
            }
        }
        if let Some(credentials) = &mut self.credentials {
            findings.extend(credentials.observe_at(exchange, endpoint, ts));
        }
        if let Some(cleartext) = &mut self.cleartext {
            let more = cleartext.observe(
                exchange,
                endpoint,
                &findings[..content],
                &self.credentials_config,
                &self.credentials_token_fields,
            );
            findings.extend(more);
        }
        if !self.disabled.is_empty() {
            let mut index = 0;
            findings.retain(|f| {
                index += 1;
                index <= content || !rules::is_disabled(&self.disabled, &f.rule)
            });
        }
        if let Some(weak_jwt) = &mut self.weak_jwt {
            weak_jwt.offer(exchange, endpoint, principal.as_ref());
        }
        (findings, principal)
    }

    /// The alerts one exchange raises, after deduplication and rate
    /// limiting, appended to `out`. `peer` is the other end of its
    /// connection when both ends are captured on this host (its alerts
    /// then name both processes). Returns the tags of every rule that
    /// fired on it (repeats folded away included), sorted, for its record.
    ///
    /// A finding that repeats an open deduplication window is folded
    /// before any alert is built for it: a repeat costs no alert and no
    /// JSON; a content finding is folded as the scan finds it, before its
    /// evidence and summary are written.
    pub fn alerts_on(
        &mut self,
        exchange: &HttpExchange,
        peer: Option<&Arc<ConnectionInfo>>,
        endpoint: &EndpointKey,
        out: &mut Vec<Alert>,
    ) -> Vec<&'static str> {
        let ts = exchange.completed_unix_ns;
        let from = out.len();
        let mut tags = Vec::new();
        let (findings, principal) = self.inspect_as(exchange, peer, endpoint, Some(out));
        let mut principal_name: Option<Option<String>> = None;
        for finding in findings {
            tags.extend_from_slice(crate::tags::tags_of(&finding.rule, finding.category));
            if finding.folded {
                continue;
            }
            let (rule, fingerprint) = (&finding.rule, &finding.fingerprint);
            if fold_repeat(
                &mut self.aggregator,
                exchange,
                peer,
                endpoint,
                rule,
                fingerprint,
                out,
            ) {
                continue;
            }
            let principal = principal_name
                .get_or_insert_with(|| principal.as_ref().map(|p| p.to_string()))
                .clone();
            let alert = Alert::from_finding(&finding, exchange, endpoint, ts, &self.origin)
                .with_principal(principal)
                .with_ends(&exchange.connection, peer.map(|p| &**p));
            self.aggregator.admit(alert, ts, out);
        }
        tags.sort_unstable();
        tags.dedup();
        self.count(&out[from..]);
        tags
    }

    /// Alerts found off the hot path (weak JWT secrets), at most `budget`
    /// secrets tried, through deduplication and rate limiting into `out`.
    /// Each is stamped with the time of the exchange it is about.
    fn deferred_alerts(&mut self, budget: usize, now_unix_ns: i128, out: &mut Vec<Alert>) {
        let Some(weak_jwt) = &mut self.weak_jwt else {
            return;
        };
        for weak in weak_jwt.work(budget) {
            let ts = weak.exchange.completed_unix_ns;
            let principal = weak.principal.map(|p| p.to_string());
            let alert = Alert::from_finding(
                &weak.finding,
                &weak.exchange,
                &weak.endpoint,
                ts,
                &self.origin,
            )
            .with_principal(principal);
            self.aggregator.admit(alert, ts.max(now_unix_ns), out);
        }
    }

    /// Periodic work at `now_unix_ns` (the capture clock, as alerts are
    /// stamped): the summaries of deduplication windows that have closed
    /// and a bounded slice of the weak-JWT-secret checks, appended to
    /// `out`, and saving the inventory when its interval has passed.
    pub fn tick(&mut self, now_unix_ns: i128, out: &mut Vec<Alert>) {
        if let Some(inventory) = &mut self.inventory {
            // Counted in the inventory's save_errors; the previous file stays.
            if let Err(err) = inventory.save_if_due(now_unix_ns) {
                tracing::warn!("inventory: {err}");
            }
        }
        let from = out.len();
        self.deferred_alerts(weak_jwt::DEFAULT_BUDGET, now_unix_ns, out);
        self.aggregator.close_due(now_unix_ns, out);
        self.count(&out[from..]);
    }

    /// Every pending summary, appended to `out`, and saves what must
    /// survive a restart (shutdown, end of a replay).
    pub fn finish(&mut self, out: &mut Vec<Alert>) {
        if let Some(inventory) = &mut self.inventory {
            inventory.save();
        }
        let from = out.len();
        self.deferred_alerts(usize::MAX, i128::MIN, out);
        self.aggregator.close_all(out);
        self.count(&out[from..]);
    }

    fn count(&mut self, raised: &[Alert]) {
        for alert in raised {
            *self
                .alert_counts
                .entry((alert.rule.clone(), alert.severity.as_str()))
                .or_default() += 1;
        }
    }

    /// What deduplication and rate limiting did.
    pub fn aggregate_counters(&self) -> &AggregateCounters {
        &self.aggregator.counters
    }

    /// Alerts raised so far, by rule and severity.
    pub fn alert_counts(&self) -> &BTreeMap<(String, &'static str), u64> {
        &self.alert_counts
    }

    pub fn counters(&self) -> AnalysisCounters {
        AnalysisCounters {
            behaviour: self.behaviour.as_ref().map(BehaviourDetector::counters),
            inventory: self.inventory.as_ref().map(Inventory::counters),
            credentials: self.credentials.as_ref().map(CredentialDetector::counters),
            weak_jwt: self.weak_jwt.as_ref().map(WeakJwtChecker::counters),
            noise: self.noise.as_ref().map(Noise::counters),
        }
    }
}

/// The fingerprint key from `detect.fingerprint_key_file` (which must
/// exist: a configured key file is only ever read, never created) or
/// `<output.state_dir>/fingerprint.key` (created on first use). Errors name
/// the config key and the path, with the OS error once.
pub fn fingerprint_key(config: &Config) -> anyhow::Result<detect::FingerprintKey> {
    let path = config.detect.key_path(&config.output.state_dir);
    let (key, result) = match &config.detect.fingerprint_key_file {
        Some(_) => (
            "detect.fingerprint_key_file",
            detect::FingerprintKey::load(&path),
        ),
        None => (
            "output.state_dir",
            detect::FingerprintKey::load_or_create(&path),
        ),
    };
    result.map_err(|err| crate::config::InvalidKey::new(key, err.to_string()).into())
}

/// Folds an occurrence of `rule` with `fingerprint` on `exchange` into
/// the open deduplication window it repeats, if there is one (windows
/// closed by then go to `out` as summaries). True when it was folded.
fn fold_repeat(
    aggregator: &mut Aggregator,
    exchange: &HttpExchange,
    peer: Option<&Arc<ConnectionInfo>>,
    endpoint: &EndpointKey,
    rule: &str,
    fingerprint: &str,
    out: &mut Vec<Alert>,
) -> bool {
    let key = DedupKey {
        rule,
        method: &endpoint.method,
        host: &endpoint.host,
        path: &endpoint.template,
        fingerprint,
    };
    let ends = || LatestEnds {
        seen: Arc::clone(&exchange.connection),
        peer: peer.cloned(),
        status: exchange.response.status,
    };
    aggregator.fold(key, exchange.completed_unix_ns, ends, out)
}

#[cfg(test)]
mod aggregate_tests;
