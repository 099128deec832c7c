//! `volume.error_surge`.

use super::*;

const RULE: &str = "volume.error_surge";

/// 200 requests a minute to /api/v1/checkout; `failing(minute, i)` says
/// which are answered 503.
fn traffic(
    d: &mut BehaviourDetector,
    start: i128,
    minutes: i128,
    failing: impl Fn(u64) -> bool,
) -> Vec<Finding> {
    replay(
        d,
        start,
        minutes,
        |_| 200,
        |i| {
            let status = if failing(i) { 503 } else { 200 };
            request(
                "POST",
                "/api/v1/checkout",
                &client_ip(i as u32 % 100),
                status,
            )
        },
    )
}

#[test]
fn a_burst_of_5xx_alerts_once() {
    let mut d = detector();
    // About one 5xx in 500 requests for two hours.
    let calm = traffic(&mut d, T0, 120, |i| jitter(i, 500) == 0);
    assert!(calm.is_empty(), "{calm:#?}");
    // Then half of them fail for five minutes (the first, third...
    // request of each minute: the 20th failure is its 39th request).
    let findings = traffic(&mut d, T0 + 120 * MINUTE, 5, |i| i % 2 == 0);
    let alerts = of_rule(&findings, RULE);
    assert_eq!(alerts.len(), 1, "{findings:#?}");
    assert_eq!(alerts[0].count, 20);
    assert!(
        alerts[0].summary.starts_with("Server error surge on POST api.acme.io/api/v1/checkout: 20 5xx answers in one minute (of 39 requests); baseline 0."),
        "{}",
        alerts[0].summary
    );
}

#[test]
fn a_steady_error_rate_does_not_alert() {
    let mut d = detector();
    // 25% errors (50 a minute) all along: bad, but not a surge.
    let findings = traffic(&mut d, T0, 180, |i| i % 4 == 0);
    assert!(of_rule(&findings, RULE).is_empty(), "{findings:#?}");
}

#[test]
fn client_errors_are_not_server_errors() {
    let mut d = detector();
    let calm = traffic(&mut d, T0, 60, |_| false);
    assert!(calm.is_empty());
    let findings = replay(
        &mut d,
        T0 + 60 * MINUTE,
        5,
        |_| 200,
        |i| request("POST", "/api/v1/checkout", &client_ip(i as u32 % 100), 404),
    );
    assert!(of_rule(&findings, RULE).is_empty());
}
