//! `volume.enumeration`.

use super::*;

const RULE: &str = "volume.enumeration";

#[test]
fn walking_1000_ids_alerts_exactly_once_without_showing_them() {
    let mut d = detector();
    // Ordinary use first: 50 clients each reading a few users.
    let normal = replay(
        &mut d,
        T0,
        30,
        |_| 100,
        |i| {
            get(
                &format!("/users/{}", 500_000 + i % 7 * 50 + i % 50),
                &client_ip(i as u32 % 50),
            )
        },
    );
    assert!(normal.is_empty(), "{normal:#?}");
    // One client walks 1,000 consecutive ids in 100 s.
    let ids: Vec<String> = (0..1000).map(|i| (900_000 + i).to_string()).collect();
    let mut findings = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let now = T0 + 30 * MINUTE + i as i128 * NS / 10;
        findings.extend(d.observe(
            &get(&format!("/users/{id}?fields=all"), "10.0.9.7"),
            &[],
            now,
        ));
    }
    let alerts = of_rule(&findings, RULE);
    assert_eq!(alerts.len(), 1, "{findings:#?}");
    let a = alerts[0];
    assert_eq!(a.count, 100, "alerts when the threshold is crossed");
    assert_eq!(a.category, Category::AbnormalVolume);
    assert!(
        a.summary.starts_with("Id enumeration: 100 distinct ids of GET api.acme.io/users/{id} from 10.0.9.7 in 9 s (100 requests, 100 answered 2xx); usually 0.0 per 60 s window."),
        "{}",
        a.summary
    );
    assert_eq!(a.location.name.as_deref(), Some("/users/{id}"));
    assert_never_shown(&findings, &ids);
}

#[test]
fn updates_report_the_grown_count_once_per_interval() {
    let config = BehaviourConfig {
        update_interval_secs: 30,
        ..BehaviourConfig::default()
    };
    let mut d = detector_with(&config);
    let mut findings = Vec::new();
    // 50 ids a second for 50 s: 2,500 ids in one window.
    for i in 0..2500u64 {
        let now = T0 + i128::from(i) * NS / 50;
        findings.extend(d.observe(
            &get(&format!("/users/{}/orders", 10_000 + i), "10.0.0.7"),
            &[],
            now,
        ));
    }
    let alerts = of_rule(&findings, RULE);
    assert_eq!(alerts.len(), 2, "{findings:#?}");
    assert_eq!(alerts[0].count, 100);
    // 30 s after the first alert: 1,600 ids, estimated by the sketch
    // (3.25% standard error; hashes are keyed by the fixed test key, so
    // the estimate is the same on every run).
    assert!(
        (1480..=1720).contains(&alerts[1].count),
        "{}",
        alerts[1].count
    );
    assert!(
        alerts[1]
            .summary
            .starts_with("Still going: Id enumeration: 1,"),
        "{}",
        alerts[1].summary
    );
    assert_eq!(alerts[0].fingerprint, alerts[1].fingerprint);
}

#[test]
fn repeated_ids_steady_readers_and_slow_walks_do_not_alert() {
    // One id 1,000 times.
    let same = replay(
        &mut detector(),
        T0,
        2,
        |_| 500,
        |_| get("/users/42", "10.0.0.7"),
    );
    // 200 clients reading 20 distinct ids a minute each, for two hours.
    let steady = replay(
        &mut detector(),
        T0,
        120,
        |_| 4000,
        |i| {
            get(
                &format!("/items/{}", (i / 200) % 20 + 100 * (i % 200)),
                &client_ip(i as u32 % 200),
            )
        },
    );
    // A walk of 90 ids a minute: under the threshold per window.
    let slow = replay(
        &mut detector(),
        T0,
        30,
        |_| 90,
        |i| get(&format!("/accounts/{}", 7_000 + i), "10.0.0.8"),
    );
    for findings in [same, steady, slow] {
        assert!(of_rule(&findings, RULE).is_empty(), "{findings:#?}");
    }
}

#[test]
fn a_sync_job_walking_ids_every_minute_is_learned_after_one_alert() {
    let mut d = detector();
    // 500 distinct ids every minute for three hours, from one process.
    let findings = replay(
        &mut d,
        T0,
        180,
        |_| 500,
        |i| get(&format!("/v1/customers/{}", 1_000 + i % 500), "10.0.0.9"),
    );
    assert_eq!(of_rule(&findings, RULE).len(), 1, "{findings:#?}");
}

#[test]
fn each_client_and_endpoint_is_its_own_condition() {
    let mut d = detector();
    let mut fingerprints = Vec::new();
    for (client, template) in [
        ("10.0.0.1", "/users/"),
        ("10.0.0.2", "/users/"),
        ("10.0.0.1", "/orders/"),
    ] {
        let mut findings = Vec::new();
        for i in 0..150 {
            findings.extend(d.observe(
                &get(&format!("{template}{}", 1_000 + i), client),
                &[],
                T0 + i * NS / 10,
            ));
        }
        let alerts = of_rule(&findings, RULE);
        assert_eq!(alerts.len(), 1, "{client} {template}");
        fingerprints.push(alerts[0].fingerprint.clone());
    }
    fingerprints.sort();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), 3);
}
