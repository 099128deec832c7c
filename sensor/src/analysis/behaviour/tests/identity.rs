//! Who is calling: `auth.bola` per principal, brute force per account
//! across addresses, account enumeration, and the hard negatives (a busy
//! legitimate principal, a popular login page, a password-reset flow).

use super::*;
use crate::analysis::principal::Principal;

const BOLA: &str = "auth.bola";
const BRUTE: &str = "auth.brute_force";
const STUFFING: &str = "auth.credential_stuffing";
const ENUMERATION: &str = "auth.account_enumeration";

fn key() -> FingerprintKey {
    FingerprintKey::from_bytes([9; 32])
}

fn principal(sub: &str) -> Principal {
    Principal::of(&key(), "jwt", sub.as_bytes())
}

/// A GET by `sub` from the shared address 10.9.9.9 (a NAT), answered
/// 200 with `body`.
fn by(d: &mut BehaviourDetector, sub: &str, target: &str, body: &str, now: i128) -> Vec<Finding> {
    let json = [("Content-Type", "application/json")];
    let x = from(
        exchange("GET", target, &[("Host", HOST)], "", &json, body),
        "10.9.9.9",
    );
    let endpoint = EndpointKey::of(&x);
    d.observe_as(&x, &endpoint, Some(&principal(sub)), &[], now)
}

/// The ids of user `u`'s orders: 100u+1 ..= 100u+10.
fn orders_of(u: u64) -> Vec<u64> {
    (1..=10).map(|i| 100 * u + i).collect()
}

fn list_body(ids: &[u64]) -> String {
    let items: Vec<String> = ids
        .iter()
        .map(|i| format!(r#"{{"id":{i},"total":12.5}}"#))
        .collect();
    format!(r#"{{"orders":[{}]}}"#, items.join(","))
}

/// Three users list their orders and read each of them, every minute
/// for `minutes`; returns the findings.
fn steady_users(d: &mut BehaviourDetector, start: i128, minutes: i128) -> Vec<Finding> {
    let mut findings = Vec::new();
    for minute in 0..minutes {
        for u in 1..=3u64 {
            let now = start + minute * MINUTE + i128::from(u) * NS;
            let sub = format!("user-{u}");
            let ids = orders_of(u);
            findings.extend(by(d, &sub, "/api/orders", &list_body(&ids), now));
            for (k, id) in ids.iter().enumerate() {
                let body = format!(r#"{{"id":{id},"user_id":{u},"total":12.5}}"#);
                let t = now + (k as i128 + 1) * NS / 20;
                findings.extend(by(d, &sub, &format!("/api/orders/{id}"), &body, t));
            }
        }
    }
    findings
}

#[test]
fn a_principal_walking_other_principals_ids_is_bola_once() {
    let mut d = detector();
    let mut findings = steady_users(&mut d, T0, 5);
    assert!(findings.is_empty(), "steady users: {findings:#?}");
    // user-4 lists its own orders, then reads everyone's, behind the same
    // address as everyone else.
    let start = T0 + 10 * MINUTE;
    let own = orders_of(4);
    findings.extend(by(&mut d, "user-4", "/api/orders", &list_body(&own), start));
    let mut walked = 0;
    for u in 1..=4u64 {
        for id in orders_of(u) {
            walked += 1;
            let body = format!(r#"{{"id":{id},"user_id":{u},"total":12.5}}"#);
            let now = start + walked * NS;
            findings.extend(by(
                &mut d,
                "user-4",
                &format!("/api/orders/{id}"),
                &body,
                now,
            ));
        }
    }
    // And the three others carry on as before: nothing about them.
    findings.extend(steady_users(&mut d, start + MINUTE, 3));
    let bola = of_rule(&findings, BOLA);
    assert_eq!(bola.len(), 1, "{findings:#?}");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = bola[0];
    assert_eq!(f.category, Category::Auth);
    assert_eq!(f.count, 5);
    let attacker = principal("user-4").to_string();
    assert!(
        f.summary.starts_with(&format!(
            "Broken object-level authorization: 5 ids of GET api.acme.io/api/orders/{{id}} returned to 1 other principal(s) and never to principal {attacker}"
        )),
        "{}",
        f.summary
    );
    assert!(
        f.summary
            .contains("expected only ids from its own responses"),
        "{}",
        f.summary
    );
    assert_never_shown(&findings, &["user-4".to_owned(), "user-1".to_owned()]);
}

#[test]
fn a_busy_principal_reading_its_own_records_is_not_bola() {
    let mut d = detector();
    // One principal, 50 lists and 500 reads a minute of its own 200
    // records, for an hour; two others alongside.
    let ids: Vec<u64> = (1..=200).map(|i| 5000 + i).collect();
    let mut findings = Vec::new();
    for minute in 0..60 {
        let now = T0 + minute * MINUTE;
        for page in 0..50 {
            let slice = &ids[(page * 4) % 200..(page * 4) % 200 + 4];
            let t = now + i128::from(page as u32) * NS;
            findings.extend(by(&mut d, "busy", "/api/orders", &list_body(slice), t));
        }
        for k in 0..500 {
            let id = ids[(k * 7 + minute as usize) % 200];
            let t = now + (k as i128) * MINUTE / 600;
            let body = format!(r#"{{"id":{id},"total":1}}"#);
            findings.extend(by(&mut d, "busy", &format!("/api/orders/{id}"), &body, t));
        }
    }
    findings.extend(steady_users(&mut d, T0 + HOUR, 5));
    assert!(of_rule(&findings, BOLA).is_empty(), "{findings:#?}");
}

#[test]
fn reading_many_ids_never_returned_is_bola_too() {
    let config = BehaviourConfig {
        bola: config::BolaConfig {
            min_unreturned_ids: 20,
            ..config::BolaConfig::default()
        },
        ..BehaviourConfig::default()
    };
    let mut d = detector_with(&config);
    let mut findings = by(
        &mut d,
        "user-7",
        "/api/orders",
        &list_body(&orders_of(7)),
        T0,
    );
    for i in 0..40 {
        let id = 90_000 + i;
        let body = format!(r#"{{"id":{id}}}"#);
        findings.extend(by(
            &mut d,
            "user-7",
            &format!("/api/orders/{id}"),
            &body,
            T0 + (i as i128 + 1) * NS,
        ));
    }
    let bola = of_rule(&findings, BOLA);
    assert_eq!(bola.len(), 1, "{findings:#?}");
    assert!(
        bola[0]
            .summary
            .contains("20 ids of GET api.acme.io/api/orders/{id} never returned to principal jwt:"),
        "{}",
        bola[0].summary
    );
}

/// A login to api.acme.io that answers 200 either way: a token for the
/// right password, `{"success":false,...}` otherwise. Unknown users get a
/// different message when `leaky`.
fn login_200(client: &str, user: &str, right: bool, exists: bool, leaky: bool) -> HttpExchange {
    let body = format!(
        r#"{{"email":"{user}","password":"{}"}}"#,
        if right { "right" } else { "guess" }
    );
    let answer = if right && exists {
        r#"{"success":true,"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}"#.to_owned()
    } else if !exists && leaky {
        format!(
            r#"{{"success":false,"error":"no account for this email","request_id":"{}"}}"#,
            jitter(user.len() as u64, 1 << 40)
        )
    } else {
        format!(
            r#"{{"success":false,"error":"wrong password","request_id":"{}"}}"#,
            jitter(user.len() as u64 + 7, 1 << 40)
        )
    };
    let json = [("Host", HOST), ("Content-Type", "application/json")];
    from(
        exchange("POST", "/api/session", &json, &body, &json[1..], &answer),
        client,
    )
}

#[test]
fn failures_answered_200_for_one_account_from_many_addresses_are_brute_force() {
    let mut d = detector();
    let mut findings = Vec::new();
    // A few real logins teach the endpoint what success looks like.
    for i in 0..3 {
        findings.extend(d.observe(
            &login_200("10.2.0.1", &format!("u{i}@acme.io"), true, true, false),
            &[],
            T0 + i * NS,
        ));
    }
    // 60 guesses at one account, each from another address: no address
    // fails twice, the account fails 60 times.
    for i in 0..60 {
        let x = login_200(
            &client_ip(1000 + i as u32),
            "ceo@acme.io",
            false,
            true,
            false,
        );
        findings.extend(d.observe(&x, &[], T0 + MINUTE + i * NS / 2));
    }
    let brute = of_rule(&findings, BRUTE);
    assert_eq!(brute.len(), 1, "{findings:#?}");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let ceo = Principal::user(&key(), "ceo@acme.io").to_string();
    assert!(
        brute[0].summary.starts_with(
            "Brute force: 10 failed logins from 10 addresses (latest 10.0.3.241) in 4 s"
        ),
        "{}",
        brute[0].summary
    );
    assert!(
        brute[0]
            .summary
            .contains(&format!("all for username {ceo}")),
        "{}",
        brute[0].summary
    );
    assert_never_shown(&findings, &["ceo@acme.io".to_owned(), "guess".to_owned()]);
}

#[test]
fn one_address_failing_across_accounts_is_brute_force_once_with_one_account_hammered() {
    let mut d = detector();
    let mut findings = Vec::new();
    // Three accounts, five guesses each, from one address: 15 failures,
    // no account at 10.
    for i in 0..15 {
        let x = login_200(
            "10.3.0.1",
            &format!("user{}@acme.io", i % 3),
            false,
            true,
            false,
        );
        findings.extend(d.observe(&x, &[], T0 + i * NS));
    }
    assert_eq!(of_rule(&findings, BRUTE).len(), 1, "{findings:#?}");
    // One account hammered from one address: the account's alert only,
    // not the address's too.
    let mut d = detector();
    let mut findings = Vec::new();
    for i in 0..100 {
        let x = login_200("10.3.0.2", "admin@acme.io", false, true, false);
        findings.extend(d.observe(&x, &[], T0 + i * NS / 2));
    }
    assert_eq!(of_rule(&findings, BRUTE).len(), 1, "{findings:#?}");
}

#[test]
fn a_login_answering_unknown_users_differently_is_account_enumeration_once() {
    let mut d = detector();
    let mut findings = Vec::new();
    let mut t = T0;
    for (user, exists) in [
        ("ann@acme.io", true),
        ("nobody1@acme.io", false),
        ("bob@acme.io", true),
        ("nobody2@acme.io", false),
        ("cat@acme.io", true),
        ("nobody3@acme.io", false),
        ("nobody4@acme.io", false),
        ("dan@acme.io", true),
    ] {
        t += 5 * NS;
        findings.extend(d.observe(&login_200(&client_ip(7), user, false, exists, true), &[], t));
    }
    let found = of_rule(&findings, ENUMERATION);
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert_eq!(found[0].category, Category::Auth);
    assert!(
        found[0].summary.starts_with("Account enumeration: POST api.acme.io/api/session gives 2 different failed-login answers"),
        "{}",
        found[0].summary
    );
    assert_never_shown(&findings, &["nobody1@".to_owned(), "no account".to_owned()]);
}

#[test]
fn a_popular_login_page_with_typos_and_resets_is_quiet() {
    let mut d = detector();
    let mut findings = Vec::new();
    // 300 users over two hours, from 300 addresses and one shared NAT;
    // one in eight mistypes once, asks for a reset (answered the same for
    // everyone), then logs in.
    let reset = |client: &str, user: &str| {
        let json = [("Host", HOST), ("Content-Type", "application/json")];
        let body = format!(r#"{{"email":"{user}"}}"#);
        let answer = r#"{"message":"If the account exists, we sent a link."}"#;
        from(
            exchange(
                "POST",
                "/api/password/reset",
                &json,
                &body,
                &json[1..],
                answer,
            ),
            client,
        )
    };
    for i in 0..300u64 {
        let user = format!("user{i}@acme.io");
        let client = if i % 4 == 0 {
            "10.4.0.1".to_owned()
        } else {
            client_ip(2000 + i as u32)
        };
        let mut t = T0 + i128::from(i) * 24 * NS;
        if jitter(i, 8) == 0 {
            findings.extend(d.observe(&login_200(&client, &user, false, true, true), &[], t));
            t += NS;
            findings.extend(d.observe(&reset(&client, &user), &[], t));
            t += NS;
        }
        findings.extend(d.observe(&login_200(&client, &user, true, true, true), &[], t));
    }
    // Unknown emails asking for a reset get the same answer: nothing to tell.
    for i in 0..20u64 {
        findings.extend(d.observe(
            &reset(&client_ip(9), &format!("ghost{i}@x.io")),
            &[],
            T0 + 2 * HOUR + i128::from(i) * NS,
        ));
    }
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_reset_answering_unknown_emails_differently_is_account_enumeration() {
    let mut d = detector();
    let mut findings = Vec::new();
    for i in 0..8u64 {
        let exists = i % 2 == 0;
        let json = [("Host", HOST), ("Content-Type", "application/json")];
        let body = format!(r#"{{"email":"u{i}@acme.io"}}"#);
        let answer = if exists {
            r#"{"sent":true}"#
        } else {
            r#"{"error":"unknown email"}"#
        };
        let mut x = exchange(
            "POST",
            "/api/forgot-password",
            &json,
            &body,
            &json[1..],
            answer,
        );
        x.response.status = if exists { 200 } else { 404 };
        findings.extend(d.observe(&from(x, "10.5.0.1"), &[], T0 + i128::from(i) * NS));
    }
    let found = of_rule(&findings, ENUMERATION);
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert!(
        found[0].summary.contains("password-reset answers"),
        "{}",
        found[0].summary
    );
    assert!(of_rule(&findings, BRUTE).is_empty() && of_rule(&findings, STUFFING).is_empty());
}
