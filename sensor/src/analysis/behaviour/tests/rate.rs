//! `volume.rate_spike`.

use super::*;

const RULE: &str = "volume.rate_spike";

/// `per_minute` requests a minute to /api/v1/orders/{id} from 50 clients.
fn steady(
    d: &mut BehaviourDetector,
    start: i128,
    minutes: i128,
    per_minute: impl Fn(i128) -> u32,
) -> Vec<Finding> {
    replay(d, start, minutes, per_minute, |i| {
        get(
            &format!("/api/v1/orders/{}", 1000 + i % 500),
            &client_ip(i as u32 % 50),
        )
    })
}

#[test]
fn busy_steady_endpoint_never_alerts() {
    let mut d = detector();
    // 1,000 ± 20% requests a minute for six hours.
    let findings = steady(&mut d, T0, 6 * 60, |m| 800 + jitter(m as u64, 400) as u32);
    assert!(findings.is_empty(), "{findings:#?}");
    assert_eq!(d.counters().endpoints_tracked, 1);
    assert_eq!(d.counters().clients_tracked, 50);
}

#[test]
fn spike_alerts_once_with_observed_and_expected() {
    let config = BehaviourConfig {
        update_interval_secs: 0,
        ..BehaviourConfig::default()
    };
    let mut d = detector_with(&config);
    assert!(steady(&mut d, T0, 120, |m| 90 + jitter(m as u64, 20) as u32).is_empty());
    // Ten minutes at 2,000 a minute, spread over the same 50 clients (40
    // a minute each: no client is unusual, the endpoint is).
    let spike = steady(&mut d, T0 + 120 * MINUTE, 10, |_| 2000);
    let alerts = of_rule(&spike, RULE);
    assert_eq!(alerts.len(), 1, "{spike:#?}");
    assert_eq!(spike.len(), 1);
    let a = alerts[0];
    assert_eq!(a.category, Category::AbnormalVolume);
    assert_eq!(a.location.name.as_deref(), Some("/api/v1/orders/{id}"));
    assert!(
        a.summary.contains("to GET api.acme.io/api/v1/orders/{id}"),
        "{}",
        a.summary
    );
    assert!(
        a.summary.contains("requests in one minute"),
        "{}",
        a.summary
    );
    let baseline = number_after(&a.summary, "baseline ");
    assert!((90.0..=110.0).contains(&baseline), "{}", a.summary);
    // Alerted when the minute's count crossed 4x the baseline.
    assert!(
        f64::from(a.count) >= 4.0 * baseline && a.count < 450,
        "{} {baseline}",
        a.count
    );
    // Back to normal: nothing more.
    assert!(steady(&mut d, T0 + 130 * MINUTE, 60, |_| 100).is_empty());
}

#[test]
fn a_long_spike_updates_at_most_once_per_interval_with_one_fingerprint() {
    let mut d = detector();
    assert!(steady(&mut d, T0, 120, |_| 100).is_empty());
    // 35 minutes at 3,000 a minute: the baseline learns each minute only
    // up to the alert level, so the spike stays a spike throughout.
    let spike = steady(&mut d, T0 + 120 * MINUTE, 35, |_| 3000);
    let alerts = of_rule(&spike, RULE);
    // The start, then an update 10, 20 and 30 minutes in at most.
    assert!((2..=4).contains(&alerts.len()), "{spike:#?}");
    assert!(!alerts[0].summary.starts_with("Still going"));
    assert!(alerts[1..]
        .iter()
        .all(|a| a.summary.starts_with("Still going")));
    assert!(alerts.windows(2).all(|w| w[1].count > w[0].count));
    assert!(alerts
        .iter()
        .all(|a| a.fingerprint == alerts[0].fingerprint));
    // An hour of calm, then the same spike: a new alert (the first spike
    // did not raise the bar), with the same fingerprint.
    assert!(steady(&mut d, T0 + 155 * MINUTE, 60, |_| 100).is_empty());
    let again = steady(&mut d, T0 + 215 * MINUTE, 2, |_| 3000);
    let again = of_rule(&again, RULE);
    assert_eq!(again.len(), 1, "{again:#?}");
    assert!(!again[0].summary.starts_with("Still going"));
    assert_eq!(again[0].fingerprint, alerts[0].fingerprint);
}

#[test]
fn no_alert_during_warmup_or_below_the_minimum_rate() {
    let mut d = detector();
    // Wild from the first minute: not learned yet.
    assert!(steady(&mut d, T0, 20, |m| if m % 2 == 0 { 5 } else { 3000 }).is_empty());
    // A quiet endpoint going from 1 to 100 a minute: above 4x, below 120.
    let mut d = detector();
    let quiet = replay(&mut d, T0, 120, |_| 1, |_| get("/healthz", "10.0.0.1"));
    let busier = replay(
        &mut d,
        T0 + 120 * MINUTE,
        10,
        |_| 100,
        |_| get("/healthz", "10.0.0.1"),
    );
    assert!(quiet.is_empty() && busier.is_empty(), "{busier:#?}");
}

#[test]
fn one_client_spiking_alerts_for_the_client() {
    let config = BehaviourConfig {
        update_interval_secs: 0,
        ..BehaviourConfig::default()
    };
    let mut d = detector_with(&config);
    // A busy endpoint (2,000 a minute) that one client (10.9.9.9) uses
    // 20 times a minute; then that client alone sends 1,000 a minute,
    // which the endpoint's baseline absorbs (+50%) but the client's does not.
    let mixed = |d: &mut BehaviourDetector, start, minutes, mine: u32| {
        replay(
            d,
            start,
            minutes,
            move |_| 2000 + mine,
            move |i| {
                let client = if i % u64::from(2000 + mine) < u64::from(mine) {
                    "10.9.9.9".to_owned()
                } else {
                    client_ip(i as u32 % 200)
                };
                get(&format!("/api/v1/orders/{}", i % 700), &client)
            },
        )
    };
    assert!(mixed(&mut d, T0, 90, 20).is_empty());
    let findings = mixed(&mut d, T0 + 90 * MINUTE, 5, 1000);
    let alerts = of_rule(&findings, RULE);
    assert_eq!(alerts.len(), 1, "{findings:#?}");
    assert!(
        alerts[0].summary.contains("from 10.9.9.9 (all endpoints)"),
        "{}",
        alerts[0].summary
    );
    assert_eq!(alerts[0].location.name, None);
}

/// Steady 20 requests a minute all day; a batch job (its own client) sends
/// 600 a minute from 02:00 to 02:10 every night. The job alerts the first
/// two nights (as a new pattern, then as a pattern seen once) and not from
/// the third on, when the 02:00 slot of the daily profile has learned it.
#[test]
fn nightly_batch_is_learned_by_the_third_night() {
    let config = BehaviourConfig {
        update_interval_secs: 0,
        ..BehaviourConfig::default()
    };
    let mut d = detector_with(&config);
    let mut per_night = Vec::new();
    for day in 0..5 {
        let midnight = T0 + day * DAY;
        // 00:00-02:00 background.
        let mut night = steady(&mut d, midnight, 120, |_| 20);
        // 02:00-02:10 background and batch together.
        night.extend(replay(
            &mut d,
            midnight + 2 * HOUR,
            10,
            |_| 620,
            |i| {
                if i % 31 == 0 {
                    get(
                        &format!("/api/v1/orders/{}", i % 500),
                        &client_ip(i as u32 % 50),
                    )
                } else {
                    get(&format!("/api/v1/orders/{}", i % 500), "10.200.0.1")
                }
            },
        ));
        // 02:10-24:00 background.
        night.extend(steady(
            &mut d,
            midnight + 2 * HOUR + 10 * MINUTE,
            22 * 60 - 10,
            |_| 20,
        ));
        per_night.push(of_rule(&night, RULE).len());
    }
    println!("rate spike findings per night: {per_night:?}");
    assert!(per_night[0] >= 1 && per_night[1] >= 1, "{per_night:?}");
    assert_eq!(per_night[2..], [0, 0, 0], "{per_night:?}");
}
