//! Deduplication and rate limits over hours of alerts replayed in
//! milliseconds: time is the alerts' own.

use crate::analysis::detect::tests::{detector, exchange};
use crate::analysis::detect::{ContentDetector, DetectConfig};
use crate::endpoint::EndpointKey;

use super::Aggregator;
use crate::alert::{Alert, AlertsConfig};

/// Paths that stay distinct endpoints (`/cards/1` and `/cards/2` are one).
const NAMES: [&str; 20] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
];

const SECOND: i128 = 1_000_000_000;
const START: i128 = 1_700_000_000 * SECOND;

/// The alerts a response leaking one card number on `path` raises.
fn card_alerts(path: &str, card: &str) -> Vec<Alert> {
    let x = exchange(
        "GET",
        path,
        &[("Host", "api.acme.io")],
        "",
        &[("Content-Type", "application/json")],
        &format!(r#"{{"card":"{card}"}}"#),
    );
    // Building the detector is the slow part; one serves every test.
    static DETECTOR: std::sync::OnceLock<ContentDetector> = std::sync::OnceLock::new();
    let findings = DETECTOR
        .get_or_init(|| detector(&DetectConfig::default()))
        .inspect(&x);
    assert!(!findings.is_empty());
    findings
        .iter()
        .map(|f| {
            let origin = crate::origin::Origin::new("web-1".into(), None);
            Alert::from_finding(f, &x, &EndpointKey::of(&x), x.completed_unix_ns, &origin)
        })
        .collect()
}

fn config(window_secs: u64, per_minute: u32) -> AlertsConfig {
    AlertsConfig {
        dedup_window_secs: window_secs,
        max_per_rule_per_minute: per_minute,
        ..AlertsConfig::default()
    }
}

#[test]
fn repeats_in_a_window_become_one_alert_and_one_summary() {
    let mut aggregator = Aggregator::new(&config(300, 0));
    let template = card_alerts("/api/cards/7", "4539 5787 6362 1486");
    let mut out = Vec::new();
    // 1,000 identical leaks, one every 100 ms, all inside a 300 s window.
    for i in 0..1000 {
        for alert in &template {
            aggregator.admit(alert.clone(), START + i * SECOND / 10, &mut out);
        }
    }
    assert_eq!(
        out.len(),
        template.len(),
        "only the first occurrence: {out:?}"
    );
    assert!(out
        .iter()
        .all(|a| a.count == 1 && a.first_seen == a.last_seen));
    out.clear();
    aggregator.close_due(START + 299 * SECOND, &mut out);
    assert!(out.is_empty(), "window still open");
    aggregator.close_due(START + 300 * SECOND, &mut out);
    assert_eq!(out.len(), template.len());
    for summary in &out {
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.first_seen, "2023-11-14T22:13:20Z");
        assert_eq!(summary.last_seen, "2023-11-14T22:14:59.9Z");
        assert_eq!(summary.ts, summary.last_seen);
    }
    assert_eq!(aggregator.counters.folded, 999 * template.len() as u64);
    assert_eq!(aggregator.counters.summaries, template.len() as u64);
    assert_eq!(aggregator.tracked(), 0);
}

#[test]
fn a_lone_alert_has_no_summary_and_a_new_window_alerts_again() {
    let mut aggregator = Aggregator::new(&config(60, 0));
    let alert = card_alerts("/a", "4539 5787 6362 1486").remove(0);
    let mut out = Vec::new();
    aggregator.admit(alert.clone(), START, &mut out);
    aggregator.close_due(START + 3600 * SECOND, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    // The next occurrence, an hour later, is news again.
    aggregator.admit(alert.clone(), START + 3600 * SECOND, &mut out);
    assert_eq!(out.len(), 2);
    // A repeat after its window closed, with no tick in between: the old
    // window's summary, then the new alert.
    aggregator.admit(alert.clone(), START + 3601 * SECOND, &mut out);
    aggregator.admit(alert, START + 3700 * SECOND, &mut out);
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(out[2].count, 2);
    assert_eq!(out[3].count, 1);
}

#[test]
fn other_fingerprints_endpoints_and_rules_are_other_alerts() {
    let mut aggregator = Aggregator::new(&config(300, 0));
    let mut out = Vec::new();
    let a = card_alerts("/a", "4539 5787 6362 1486");
    let b = card_alerts("/a", "4916 3386 1420 8311");
    let c = card_alerts("/b", "4539 5787 6362 1486");
    assert_ne!(a[0].fingerprint, b[0].fingerprint);
    for alert in a.iter().chain(&b).chain(&c) {
        aggregator.admit(alert.clone(), START, &mut out);
    }
    assert_eq!(out.len(), a.len() + b.len() + c.len());
}

#[test]
fn without_a_window_every_repeat_is_written() {
    let mut aggregator = Aggregator::new(&config(0, 0));
    let alert = card_alerts("/a", "4539 5787 6362 1486").remove(0);
    let mut out = Vec::new();
    for i in 0..10 {
        aggregator.admit(alert.clone(), START + i, &mut out);
    }
    assert_eq!(out.len(), 10);
    assert_eq!(aggregator.counters.folded, 0);
}

#[test]
fn the_rate_limit_counts_what_it_drops_per_rule() {
    let mut aggregator = Aggregator::new(&config(300, 5));
    let mut out = Vec::new();
    // 20 distinct cards on 20 paths in one second: 20 new alerts per rule.
    for i in 0..20 {
        for alert in card_alerts(&format!("/{}", NAMES[i as usize]), "4539 5787 6362 1486") {
            aggregator.admit(alert, START + i, &mut out);
        }
    }
    let rules: std::collections::BTreeSet<_> = out.iter().map(|a| a.rule.clone()).collect();
    for rule in &rules {
        assert_eq!(out.iter().filter(|a| &a.rule == rule).count(), 5, "{rule}");
        assert_eq!(aggregator.counters.rate_limited[rule], 15, "{rule}");
    }
}

#[test]
fn the_cap_on_tracked_alerts_summarises_the_oldest_early() {
    let mut aggregator = Aggregator::new(&AlertsConfig {
        max_tracked: 3,
        ..config(300, 0)
    });
    let mut out = Vec::new();
    let alerts: Vec<Alert> = (0..10)
        .map(|i| card_alerts(&format!("/{}", NAMES[i]), "4539 5787 6362 1486").remove(0))
        .collect();
    for (i, alert) in alerts.iter().enumerate() {
        // Each seen twice, so each evicted window has a summary to write.
        aggregator.admit(alert.clone(), START + i as i128, &mut out);
        aggregator.admit(alert.clone(), START + i as i128, &mut out);
        assert!(aggregator.tracked() <= 3);
    }
    assert_eq!(aggregator.counters.evicted, 7);
    let summaries = out.iter().filter(|a| a.count == 2).count();
    assert_eq!(summaries, 7);
    aggregator.close_all(&mut out);
    assert_eq!(out.iter().filter(|a| a.count == 2).count(), 10);
}

#[test]
fn a_repeat_folds_without_its_alert_and_the_summary_names_its_ends() {
    use crate::exchange::{ConnectionInfo, Role};
    use std::sync::Arc;
    let mut aggregator = Aggregator::new(&config(300, 0));
    let alert = card_alerts("/api/cards/7", "4539 5787 6362 1486").remove(0);
    fn key(a: &Alert) -> super::DedupKey<'_> {
        super::DedupKey {
            rule: &a.rule,
            method: &a.endpoint.method,
            host: &a.endpoint.host,
            path: &a.endpoint.path,
            fingerprint: &a.fingerprint,
        }
    }
    let server = |pid: u32| ConnectionInfo {
        pid,
        comm: "api".into(),
        fd: 3,
        generation: 1,
        role: Role::Server,
        local: Some("127.0.0.1:8080".parse().unwrap()),
        remote: Some("127.0.0.1:50000".parse().unwrap()),
        tls: false,
        process: Default::default(),
    };
    let client = ConnectionInfo {
        pid: 77,
        comm: "curl".into(),
        role: Role::Client,
        ..server(0)
    };
    let mut out = Vec::new();
    // No window open: nothing folds, and the ends are not even asked for.
    let asked = std::cell::Cell::new(false);
    let ends = || {
        asked.set(true);
        super::LatestEnds {
            seen: Arc::new(server(1)),
            peer: None,
            status: 200,
        }
    };
    assert!(!aggregator.fold(key(&alert), START, ends, &mut out));
    assert!(!asked.get());
    aggregator.admit(alert.clone(), START, &mut out);
    assert_eq!(out.len(), 1);
    // Repeats fold from the key alone; the newest ends are kept.
    for (i, pid) in [(1, 500u32), (2, 501)] {
        let ends = || super::LatestEnds {
            seen: Arc::new(server(pid)),
            peer: Some(Arc::new(client.clone())),
            status: 206,
        };
        assert!(aggregator.fold(key(&alert), START + i * SECOND, ends, &mut out));
    }
    // Another fingerprint is another alert.
    let mut other = alert.clone();
    other.fingerprint = "0000".into();
    assert!(!aggregator.fold(key(&other), START + 3 * SECOND, ends, &mut out));
    assert_eq!(out.len(), 1);
    aggregator.close_all(&mut out);
    let summary = &out[1];
    assert_eq!(summary.count, 3);
    assert_eq!(summary.status, 206);
    // The card is in the response: about the server, curl its peer.
    assert_eq!(summary.process.pid, 501);
    assert_eq!(summary.connection.role, "server");
    assert_eq!(summary.peer.as_ref().map(|p| p.pid), Some(77));
    assert_eq!(summary.evidence, alert.evidence);
    assert_eq!(aggregator.counters.folded, 2);
}
