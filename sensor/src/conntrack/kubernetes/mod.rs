//! Kubernetes pod metadata: which pod, namespace and container a container
//! id belongs to, from the API server's list of the pods on this node.
//!
//! A background thread lists the pods (read-only, with the pod's service
//! account) and publishes an index; `PodIndex::lookup` only reads that
//! index, so capture never waits on the network. Failures are counted and
//! logged, never fatal: without the API server, alerts simply carry no pod
//! names.

mod client;
pub mod config;
mod pods;
mod refresh;

#[cfg(test)]
mod fake_api_server;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;

pub use config::{InvalidKubernetesConfig, KubernetesConfig, KubernetesMode};
pub use pods::PodMeta;

use client::ApiClient;
use pods::{bare_container_id, PodListing};

/// Unknown container ids waiting for the refresher; past this, further
/// misses are not queued (a listing is already coming).
const MISS_QUEUE: usize = 64;

/// Container ids to pods on this node, kept fresh in the background.
/// Cloning is cheap and shares the index; the refresher stops once every
/// clone is dropped.
#[derive(Clone)]
pub struct PodIndex {
    shared: Arc<Shared>,
    misses: SyncSender<String>,
}

/// What the index did, for metrics and the exit summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct KubernetesCounters {
    /// Listings of the node's pods that succeeded.
    pub refreshes: u64,
    /// Of those, listings made early for an unknown container id.
    pub miss_refreshes: u64,
    /// Listings that failed (the failure is logged when it changes).
    pub refresh_failures: u64,
    /// Pods and containers in the index now.
    pub pods: u64,
    pub containers: u64,
    /// Pods left out of the last listing past `kubernetes.max_pods`.
    pub pods_over_cap: u64,
    pub lookup_hits: u64,
    pub lookup_misses: u64,
}

impl PodIndex {
    /// Starts the index when the sensor runs in Kubernetes (see
    /// `KubernetesConfig::enabled`); None outside it, when disabled, or
    /// when a piece it needs is missing (logged).
    pub fn from_environment(config: &KubernetesConfig) -> Option<PodIndex> {
        let environment = Environment {
            service_host: std::env::var("KUBERNETES_SERVICE_HOST").ok(),
            service_port: std::env::var("KUBERNETES_SERVICE_PORT").ok(),
            node_name: std::env::var("NODE_NAME").ok(),
        };
        let client = match client_for(config, &environment) {
            Ok(client) => client,
            Err(Unavailable::Quietly) => return None,
            // Asked for explicitly, its absence is worth a warning.
            Err(Unavailable::Because(reason)) if config.enabled == KubernetesMode::On => {
                tracing::warn!("Kubernetes pod metadata is off: {reason}");
                return None;
            }
            Err(Unavailable::Because(reason)) => {
                tracing::info!("Kubernetes pod metadata is off: {reason}");
                return None;
            }
        };
        Self::start(client, config)
    }

    fn start(client: ApiClient, config: &KubernetesConfig) -> Option<PodIndex> {
        let shared = Arc::new(Shared::default());
        let (misses, receiver) = sync_channel(MISS_QUEUE);
        let schedule = refresh::Schedule {
            refresh: Duration::from_secs(config.refresh_secs),
            miss_refresh: Duration::from_secs(config.miss_refresh_secs),
        };
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("kubernetes-pods".into())
            .spawn(move || refresh::run(client, schedule, thread_shared, receiver));
        if let Err(err) = spawned {
            tracing::warn!("Kubernetes pod metadata is off: cannot start its thread: {err}");
            return None;
        }
        Some(PodIndex { shared, misses })
    }

    /// The pod of a container, by id (bare, as read from a cgroup, or with
    /// the runtime's `containerd://` scheme). Never waits on the network;
    /// an unknown id asks the refresher for an early listing.
    pub fn lookup(&self, container_id: &str) -> Option<PodMeta> {
        let id = bare_container_id(container_id);
        let found = self.shared.index().get(id.as_ref()).cloned();
        let counters = &self.shared.counters;
        match found {
            Some(_) => counters.lookup_hits.fetch_add(1, Ordering::Relaxed),
            None => {
                // Full: a listing is already asked for.
                let _ = self.misses.try_send(id.into_owned());
                counters.lookup_misses.fetch_add(1, Ordering::Relaxed)
            }
        };
        found
    }

    /// Adds the pod index's counters to the metrics page (not `pods` and
    /// `containers`, which are sizes, not counters).
    pub fn metrics(&self, page: &mut crate::metrics::Page) {
        let k = self.counters();
        page.counters(
            "kubernetes",
            serde_json::json!({
                "refreshes": k.refreshes,
                "miss_refreshes": k.miss_refreshes,
                "refresh_failures": k.refresh_failures,
                "pods_over_cap": k.pods_over_cap,
                "lookup_hits": k.lookup_hits,
                "lookup_misses": k.lookup_misses,
            }),
        );
    }

    pub fn counters(&self) -> KubernetesCounters {
        let c = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        KubernetesCounters {
            refreshes: load(&c.refreshes),
            miss_refreshes: load(&c.miss_refreshes),
            refresh_failures: load(&c.refresh_failures),
            pods: load(&c.pods),
            containers: load(&c.containers),
            pods_over_cap: load(&c.pods_over_cap),
            lookup_hits: load(&c.lookup_hits),
            lookup_misses: load(&c.lookup_misses),
        }
    }
}

/// The state the refresher publishes and lookups read.
#[derive(Default)]
struct Shared {
    /// Swapped whole by the refresher: a lookup holds the read lock only
    /// for one hash lookup, and the writer only for a pointer swap.
    containers: RwLock<Arc<HashMap<String, PodMeta>>>,
    counters: AtomicCounters,
}

#[derive(Default)]
struct AtomicCounters {
    refreshes: AtomicU64,
    miss_refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    pods: AtomicU64,
    containers: AtomicU64,
    pods_over_cap: AtomicU64,
    lookup_hits: AtomicU64,
    lookup_misses: AtomicU64,
}

impl Shared {
    fn index(&self) -> Arc<HashMap<String, PodMeta>> {
        // A panic elsewhere cannot leave a half-written map: it is only
        // ever replaced whole.
        Arc::clone(
            &self
                .containers
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn contains(&self, id: &str) -> bool {
        self.index().contains_key(id)
    }

    fn publish(&self, listing: PodListing, early: bool) {
        let c = &self.counters;
        c.refreshes.fetch_add(1, Ordering::Relaxed);
        if early {
            c.miss_refreshes.fetch_add(1, Ordering::Relaxed);
        }
        c.pods.store(listing.pods as u64, Ordering::Relaxed);
        c.containers
            .store(listing.containers.len() as u64, Ordering::Relaxed);
        c.pods_over_cap
            .store(listing.pods_over_cap as u64, Ordering::Relaxed);
        *self
            .containers
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(listing.containers);
    }
}

/// The process environment the decision depends on (read once, passed in,
/// so the decision is tested without touching the real environment).
#[derive(Debug, Default)]
struct Environment {
    service_host: Option<String>,
    service_port: Option<String>,
    node_name: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Unavailable {
    /// Off, or not in Kubernetes under `auto`: nothing worth a log line.
    Quietly,
    Because(String),
}

/// The API client for this config and environment, or why there is none.
fn client_for(config: &KubernetesConfig, env: &Environment) -> Result<ApiClient, Unavailable> {
    if config.enabled == KubernetesMode::Off {
        return Err(Unavailable::Quietly);
    }
    if let Err(invalid) = config.validate() {
        return Err(Unavailable::Because(invalid.to_string()));
    }
    let base_url = match (&config.api_server, &env.service_host) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(host)) if !host.is_empty() => {
            let port = env.service_port.as_deref().unwrap_or("443");
            // An IPv6 service address needs brackets in a URL.
            if host.contains(':') {
                format!("https://[{host}]:{port}")
            } else {
                format!("https://{host}:{port}")
            }
        }
        _ if config.enabled == KubernetesMode::Auto => return Err(Unavailable::Quietly),
        _ => {
            return Err(Unavailable::Because(
                "kubernetes.enabled is \"on\" but KUBERNETES_SERVICE_HOST is not set and \
                 kubernetes.api_server is unset"
                    .to_owned(),
            ))
        }
    };
    if !Path::new(&config.token_file).exists() {
        return Err(Unavailable::Because(format!(
            "no service account token at {} (kubernetes.token_file); give the pod a service \
             account with automountServiceAccountToken, as deploy/kubernetes does",
            config.token_file.display()
        )));
    }
    let node_name = config
        .node_name
        .clone()
        .or_else(|| env.node_name.clone())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            Unavailable::Because(
                "this node's name is unknown: set the NODE_NAME environment variable from the \
                 downward API (fieldRef spec.nodeName), as deploy/kubernetes/daemonset.yaml does, \
                 or kubernetes.node_name"
                    .to_owned(),
            )
        })?;
    Ok(ApiClient {
        base_url,
        node_name,
        token_file: config.token_file.clone(),
        ca_file: config.ca_file.clone(),
        max_pods: config.max_pods,
        timeout: Duration::from_secs(config.timeout_secs),
    })
}
