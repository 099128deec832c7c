//! The analysis's metric families: deduplication, alerts by rule, the
//! behavioural detectors, the credential detector and the inventory.

use serde_json::json;

use super::Analysis;
use crate::metrics::{Labelled, Page};

impl Analysis {
    /// Adds the analysis's counters, gauges and families to `page`.
    pub fn metrics(&self, page: &mut Page) {
        let aggregate = self.aggregate_counters();
        page.counters(
            "alerts",
            json!({
                "folded": aggregate.folded,
                "summaries": aggregate.summaries,
                "dedup_evicted": aggregate.evicted,
            }),
        );
        let counters = self.counters();
        if let Some(b) = &counters.behaviour {
            page.counters(
                "behaviour",
                json!({
                    "exchanges": b.exchanges,
                    "findings": b.findings,
                    "suppressed": b.suppressed,
                    "endpoint_evictions": b.endpoint_evictions,
                    "client_evictions": b.client_evictions,
                    "id_tracker_evictions": b.id_tracker_evictions,
                    "episode_evictions": b.episode_evictions,
                    "identity_evictions": b.identity_evictions,
                }),
            );
        }
        if let Some(i) = &counters.inventory {
            page.counters(
                "inventory",
                json!({
                    "evicted": i.evicted,
                    "saves": i.saves,
                    "save_errors": i.save_errors,
                    "files_set_aside": i.files_set_aside,
                    "unrouted": i.unrouted,
                }),
            );
            if let Some(store) = &i.store {
                page.counters(
                    "inventory",
                    json!({
                        "store_rows_written": store.rows_written,
                        "store_write_errors": store.write_errors,
                        "store_rows_failed": store.rows_failed,
                        "store_rows_dropped": store.rows_dropped,
                    }),
                );
                page.gauge(
                    "inventory_store_rows_pending",
                    "Endpoint records waiting to be written to the fleet inventory database.",
                    store.rows_pending as f64,
                );
            }
        }
        if let Some(c) = &counters.credentials {
            page.counters(
                "credentials",
                json!({
                    "exchanges_with_credentials": c.exchanges_with_credentials,
                    "credential_evictions": c.credential_evictions,
                    "token_evictions": c.token_evictions,
                    "episode_evictions": c.episode_evictions,
                    "widely_used": c.widely_used,
                    "findings": c.findings,
                    "suppressed": c.suppressed,
                }),
            );
            page.gauge(
                "credentials_tracked",
                "Credentials followed for new clients and sharing.",
                c.credentials_tracked as f64,
            );
        }
        if let Some(w) = &counters.weak_jwt {
            page.counters(
                "weak_jwt",
                json!({
                    "keys_queued": w.keys_queued,
                    "keys_weak": w.keys_weak,
                    "keys_strong": w.keys_strong,
                    "keys_dropped": w.keys_dropped,
                    "attempts": w.attempts,
                }),
            );
        }
        if let Some(n) = &counters.noise {
            page.counters(
                "noise",
                json!({
                    "banner_repeats": n.banner_repeats,
                    "own_sink_exchanges": n.own_sink_exchanges,
                }),
            );
        }
        let behaviour = counters.behaviour.clone().unwrap_or_default();
        page.gauge(
            "behaviour_endpoints_tracked",
            "Endpoints the behavioural detectors keep a baseline for.",
            behaviour.endpoints_tracked as f64,
        );
        page.gauge(
            "behaviour_clients_tracked",
            "Clients the behavioural detectors keep a baseline for.",
            behaviour.clients_tracked as f64,
        );
        page.gauge(
            "behaviour_principals_tracked",
            "Principals whose returned ids auth.bola remembers.",
            behaviour.principals_tracked as f64,
        );
        page.gauge(
            "behaviour_accounts_tracked",
            "Accounts (hashed usernames) whose failed logins are counted.",
            behaviour.accounts_tracked as f64,
        );
        page.gauge(
            "inventory_endpoints",
            "Endpoints in the inventory.",
            counters.inventory.map_or(0, |i| i.endpoints) as f64,
        );
        page.family(Labelled {
            name: "alerts_total".to_owned(),
            help: "Alerts raised after deduplication and rate limiting, by rule and severity (alerts.min_severity may keep some from the file).".to_owned(),
            kind: "counter",
            samples: self
                .alert_counts()
                .iter()
                .map(|((rule, severity), n)| {
                    (
                        vec![
                            ("rule".to_owned(), rule.clone()),
                            ("severity".to_owned(), (*severity).to_owned()),
                        ],
                        *n as f64,
                    )
                })
                .collect(),
        });
        page.family(Labelled {
            name: "alerts_rate_limited_total".to_owned(),
            help: "New alerts dropped by alerts.max_per_rule_per_minute, by rule.".to_owned(),
            kind: "counter",
            samples: aggregate
                .rate_limited
                .iter()
                .map(|(rule, n)| (vec![("rule".to_owned(), rule.clone())], *n as f64))
                .collect(),
        });
    }
}
