//! The background thread that keeps the pod index fresh: it lists the
//! node's pods at start, every `refresh_secs`, and early (at most once per
//! `miss_refresh_secs`) when a lookup asked for a container id it did not
//! know, such as one of a pod started since the last listing. Failures are
//! counted and logged once per change of condition; the index then keeps
//! what the last good listing said.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{ApiClient, ClientError};
use super::pods::PodListing;
use super::Shared;

pub struct Schedule {
    pub refresh: Duration,
    pub miss_refresh: Duration,
}

/// Container ids that were still unknown after a listing they triggered
/// are remembered, so that one container outside Kubernetes (a plain
/// Docker container on the node) does not cause a listing every
/// `miss_refresh_secs`. Past this many the memory starts over.
const MAX_REMEMBERED_ABSENT: usize = 4096;

/// What the last listing's outcome was, to log changes only.
enum Condition {
    Starting,
    Listing { over_cap: bool },
    Failing(ClientError),
}

pub fn run(client: ApiClient, schedule: Schedule, shared: Arc<Shared>, misses: Receiver<String>) {
    let mut condition = Condition::Starting;
    let mut absent: HashSet<String> = HashSet::new();
    // Ids that missed since the last listing: the reason for an early one.
    let mut missed: HashSet<String> = HashSet::new();
    let mut early = false;
    loop {
        let succeeded = match client.list_pods() {
            Ok(listing) => {
                log_success(&client, &condition, &listing);
                condition = Condition::Listing {
                    over_cap: listing.pods_over_cap > 0,
                };
                for id in missed.drain() {
                    if !listing.containers.contains_key(&id) {
                        if absent.len() >= MAX_REMEMBERED_ABSENT {
                            absent.clear();
                        }
                        absent.insert(id);
                    }
                }
                shared.publish(listing, early);
                true
            }
            Err(err) => {
                shared
                    .counters
                    .refresh_failures
                    .fetch_add(1, Ordering::Relaxed);
                log_failure(&client, &condition, &err, schedule.refresh);
                condition = Condition::Failing(err);
                missed.clear();
                false
            }
        };
        let listed_at = Instant::now();
        // Wait for the next periodic listing, or an early one for an
        // unknown id. Early listings only follow a good one: while the API
        // server fails, every lookup misses, and retrying faster than
        // `refresh` would only add load to a server in trouble.
        loop {
            let mut due = listed_at + schedule.refresh;
            if succeeded && !missed.is_empty() {
                due = due.min(listed_at + schedule.miss_refresh);
            }
            let now = Instant::now();
            if now >= due {
                early = due < listed_at + schedule.refresh;
                break;
            }
            match misses.recv_timeout(due - now) {
                Ok(id) => {
                    if !absent.contains(&id) && !shared.contains(&id) {
                        missed.insert(id);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Every PodIndex handle is gone: nothing will look up again.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

fn log_success(client: &ApiClient, condition: &Condition, listing: &PodListing) {
    match condition {
        Condition::Starting => tracing::info!(
            "Kubernetes: {} pods ({} containers) on node {} from {}; alerts name the pod of a \
             container",
            listing.pods,
            listing.containers.len(),
            client.node_name,
            client.base_url
        ),
        Condition::Failing(_) => tracing::info!(
            "Kubernetes: listing the pods of node {} works again ({} pods)",
            client.node_name,
            listing.pods
        ),
        Condition::Listing { .. } => {}
    }
    let was_over_cap = matches!(condition, Condition::Listing { over_cap: true });
    if listing.pods_over_cap > 0 && !was_over_cap {
        tracing::warn!(
            "Kubernetes: node {} runs more pods than kubernetes.max_pods ({}); {} pods are not \
             indexed and their containers stay unnamed: raise kubernetes.max_pods",
            client.node_name,
            listing.pods,
            listing.pods_over_cap
        );
    }
}

fn log_failure(client: &ApiClient, condition: &Condition, err: &ClientError, retry: Duration) {
    if let Condition::Failing(previous) = condition {
        if previous.same_condition(err) {
            return;
        }
    }
    tracing::warn!(
        "Kubernetes: {err}; containers of node {} are not named with their pods until this \
         works (retrying every {}s, the sensor keeps capturing)",
        client.node_name,
        retry.as_secs()
    );
}
