//! `volume.bulk_response`.

use super::*;

const RULE: &str = "volume.bulk_response";

/// A JSON list of `n` users, about 60 bytes each.
fn users(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"id":{i},"name":"user {i}","plan":"pro"}}"#))
        .collect();
    format!(r#"{{"data":[{}],"total":{n}}}"#, items.join(","))
}

fn list(client: &str, n: usize) -> HttpExchange {
    let json = [("Content-Type", "application/json")];
    let x = exchange(
        "GET",
        "/api/v1/users?page=1",
        &[("Host", HOST)],
        "",
        &json,
        &users(n),
    );
    from(x, client)
}

#[test]
fn a_response_with_far_more_records_alerts_once() {
    let mut d = detector();
    // Pages of 20 to 30 users, 200 of them.
    let normal = replay(
        &mut d,
        T0,
        20,
        |_| 10,
        |i| list("10.0.0.7", 20 + jitter(i, 11) as usize),
    );
    assert!(normal.is_empty(), "{normal:#?}");
    // One client asks for 5,000 at once, then again.
    let mut findings = d.observe(&list("10.0.0.66", 5000), &[], T0 + 21 * MINUTE);
    findings.extend(d.observe(&list("10.0.0.66", 5000), &[], T0 + 22 * MINUTE));
    let alerts = of_rule(&findings, RULE);
    assert_eq!(alerts.len(), 1, "{findings:#?}");
    let a = alerts[0];
    assert_eq!(a.count, 5000);
    assert!(
        a.summary.starts_with(
            "Bulk response from GET api.acme.io/api/v1/users to 10.0.0.66: 5,000 records"
        ),
        "{}",
        a.summary
    );
    let usual = number_after(&a.summary, "usually ");
    assert!((22.0..=28.0).contains(&usual), "{}", a.summary);
    // Normal pages again: nothing.
    let after = replay(
        &mut d,
        T0 + 23 * MINUTE,
        10,
        |_| 10,
        |i| list("10.0.0.7", 20 + jitter(i, 11) as usize),
    );
    assert!(after.is_empty());
}

#[test]
fn an_endpoint_that_always_answers_big_does_not_alert() {
    let mut d = detector();
    let exports = replay(
        &mut d,
        T0,
        60,
        |_| 2,
        |i| list(&client_ip(i as u32 % 5), 4000 + jitter(i, 2000) as usize),
    );
    assert!(exports.is_empty(), "{exports:#?}");
}

#[test]
fn no_baseline_alert_before_warmup_but_bounds_alert_at_once() {
    let mut d = detector();
    // Fewer than 50 responses learned: 5,000 records pass...
    for i in 0..10 {
        assert!(d
            .observe(&list("10.0.0.7", 20), &[], T0 + i * NS)
            .is_empty());
    }
    assert!(d
        .observe(&list("10.0.0.7", 5000), &[], T0 + 11 * NS)
        .is_empty());
    // ...but 12,000 is above the 10,000-record bound.
    let findings = d.observe(&list("10.0.0.8", 12_000), &[], T0 + 12 * NS);
    assert_eq!(of_rule(&findings, RULE).len(), 1);
    assert!(
        findings[0]
            .summary
            .contains("configured bound 10,000 records"),
        "{}",
        findings[0].summary
    );
    // And 200 MiB on the wire (kept body truncated) is above the byte bound.
    let mut huge = get("/download/report", "10.0.0.9");
    huge.response.body.wire_len = 200 * 1024 * 1024;
    huge.response.body.truncated = true;
    let findings = d.observe(&huge, &[], T0 + 13 * NS);
    assert_eq!(of_rule(&findings, RULE).len(), 1);
    assert!(
        findings[0]
            .summary
            .contains("200.0 MiB; configured bound 100.0 MiB"),
        "{}",
        findings[0].summary
    );
}

#[test]
fn bytes_far_above_the_baseline_alert() {
    let mut d = detector();
    let page = |client: &str, size: u64| {
        let mut x = get("/api/v1/report", client);
        x.response.body.wire_len = size;
        x
    };
    for i in 0..100 {
        let size = 40_000 + jitter(i as u64, 5_000);
        assert!(d
            .observe(&page("10.0.0.7", size), &[], T0 + i * NS)
            .is_empty());
    }
    // 2 MiB: above 1 MiB and 10x the ~42 KiB mean.
    let findings = d.observe(&page("10.0.0.8", 2 * 1024 * 1024), &[], T0 + 101 * NS);
    assert_eq!(of_rule(&findings, RULE).len(), 1, "{findings:#?}");
    let evidence = &findings[0].evidence;
    assert!(evidence.starts_with("2.0 MiB; usually "), "{evidence}");
    let usual = number_after(evidence, "usually ");
    assert!(
        (39.0..=44.0).contains(&usual) && evidence.ends_with("KiB"),
        "{evidence}"
    );
}
