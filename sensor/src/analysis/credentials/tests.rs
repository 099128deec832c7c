//! The credential rules on simulated traffic, time injected: what alerts
//! (once) and the hard negatives that must not.

use std::net::SocketAddr;
use std::sync::Arc;

use super::*;
use crate::analysis::detect::jwt::encode;
use crate::analysis::detect::tests::exchange;
use crate::exchange::ConnectionInfo;

const NS: i128 = 1_000_000_000;
const MINUTE: i128 = 60 * NS;
/// 2023-11-14T22:13:20Z.
const T0: i128 = 1_700_000_000 * NS;
const SECS0: i64 = 1_700_000_000;

fn detector_with(config: &CredentialsConfig) -> CredentialDetector {
    config.validate().unwrap();
    CredentialDetector::new(config, FingerprintKey::from_bytes([7; 32]))
}

fn detector() -> CredentialDetector {
    detector_with(&CredentialsConfig::default())
}

/// A request to api.acme.io from `client` (an IP), served here.
fn request(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    client: &str,
    status: u16,
    response_headers: &[(&str, &str)],
    response_body: &str,
) -> HttpExchange {
    let mut all = vec![("Host", "api.acme.io")];
    all.extend_from_slice(headers);
    let mut x = exchange(method, target, &all, "", response_headers, response_body);
    x.response.status = status;
    let remote: SocketAddr = format!("{client}:50000").parse().unwrap();
    x.connection = Arc::new(ConnectionInfo {
        remote: Some(remote),
        role: Role::Server,
        ..(*x.connection).clone()
    });
    x
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn get(token: &str, client: &str, status: u16) -> HttpExchange {
    let auth = bearer(token);
    request(
        "GET",
        "/api/orders",
        &[("Authorization", &auth)],
        client,
        status,
        &[],
        "{}",
    )
}

fn jwt(claims: &str) -> String {
    encode(r#"{"alg":"HS256","typ":"JWT"}"#, claims, "c2lnbmF0dXJl")
}

/// Feeds `x` at `now` and returns the rule ids raised.
fn feed(d: &mut CredentialDetector, x: &HttpExchange, now: i128) -> Vec<Finding> {
    let endpoint = EndpointKey::of(x);
    d.observe_at(x, &endpoint, now)
}

fn rules(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

/// No finding shows any of `values`.
fn never_shown(findings: &[Finding], values: &[&str]) {
    for f in findings {
        let text = format!(
            "{} {} {} {:?}",
            f.summary, f.evidence, f.fingerprint, f.location
        );
        for v in values {
            assert!(!text.contains(v), "{v} shown in {text}");
        }
    }
}

#[test]
fn a_credential_used_from_a_new_client_after_its_warmup_alerts_once() {
    let mut d = detector();
    let token = "opaque-token-4f9a8b7c6d5e";
    let mut all = Vec::new();
    for minute in 0..40 {
        all.extend(feed(
            &mut d,
            &get(token, "10.0.0.1", 200),
            T0 + minute * MINUTE,
        ));
    }
    assert!(all.is_empty(), "{:?}", rules(&all));
    for i in 0..20 {
        all.extend(feed(
            &mut d,
            &get(token, "10.0.0.2", 200),
            T0 + 41 * MINUTE + i * NS,
        ));
    }
    assert_eq!(rules(&all), ["auth.credential_new_client"]);
    let f = &all[0];
    assert!(f.summary.contains("new client, 10.0.0.2"), "{}", f.summary);
    assert!(
        f.summary.contains("learned from 10.0.0.1 (1 client(s))"),
        "{}",
        f.summary
    );
    assert!(f.evidence.starts_with("bearer token "), "{}", f.evidence);
    assert_eq!(f.location.name.as_deref(), Some("Authorization"));
    never_shown(&all, &[token]);
    // Known now: back and forth stays quiet.
    for i in 0..10 {
        let client = if i % 2 == 0 { "10.0.0.1" } else { "10.0.0.2" };
        assert!(feed(&mut d, &get(token, client, 200), T0 + 50 * MINUTE + i * NS).is_empty());
    }
}

#[test]
fn roaming_between_known_addresses_is_not_new() {
    let mut d = detector();
    let token = jwt(r#"{"iss":"https://id.acme.io","sub":"user-17","exp":1700090000}"#);
    let mut all = Vec::new();
    // Warm-up: the laptop on two addresses (office and VPN).
    for minute in 0..30 {
        let client = if minute % 3 == 0 {
            "192.0.2.10"
        } else {
            "198.51.100.7"
        };
        all.extend(feed(
            &mut d,
            &get(&token, client, 200),
            T0 + minute * MINUTE,
        ));
    }
    // Hours later it keeps roaming between the same two.
    for minute in 0..300 {
        let client = if minute % 7 < 3 {
            "192.0.2.10"
        } else {
            "198.51.100.7"
        };
        all.extend(feed(
            &mut d,
            &get(&token, client, 200),
            T0 + (60 + minute) * MINUTE,
        ));
    }
    assert!(all.is_empty(), "{:?}", rules(&all));
}

#[test]
fn a_new_client_during_the_warmup_is_learned() {
    let mut d = detector();
    let token = "opaque-token-aaaabbbbcccc";
    assert!(feed(&mut d, &get(token, "10.0.0.1", 200), T0).is_empty());
    assert!(feed(&mut d, &get(token, "10.0.0.3", 200), T0 + 10 * MINUTE).is_empty());
    assert!(feed(&mut d, &get(token, "10.0.0.3", 200), T0 + 90 * MINUTE).is_empty());
    let late = feed(&mut d, &get(token, "10.0.0.4", 200), T0 + 91 * MINUTE);
    assert_eq!(rules(&late), ["auth.credential_new_client"]);
    assert!(
        late[0].summary.contains("10.0.0.1, 10.0.0.3 (2 client(s))"),
        "{}",
        late[0].summary
    );
}

#[test]
fn one_credential_from_many_clients_is_shared_once() {
    let mut d = detector();
    let key = "ak_live_0123456789abcdef";
    let mut all = Vec::new();
    for i in 0..40 {
        let x = request(
            "GET",
            "/v1/report",
            &[("X-Api-Key", key)],
            &format!("10.1.0.{i}"),
            200,
            &[],
            "{}",
        );
        all.extend(feed(&mut d, &x, T0 + i128::from(i) * NS));
    }
    assert_eq!(rules(&all), ["auth.credential_shared"]);
    assert!(
        all[0]
            .summary
            .contains("used by 10 distinct clients within 10 min"),
        "{}",
        all[0].summary
    );
    assert!(
        all[0].evidence.starts_with("API key "),
        "{}",
        all[0].evidence
    );
    never_shown(&all, &[key]);
    // Still shared an hour on (it never stopped): not repeated.
    for i in 0..40 {
        let x = request(
            "GET",
            "/v1/report",
            &[("X-Api-Key", key)],
            &format!("10.1.0.{i}"),
            200,
            &[],
            "{}",
        );
        assert!(feed(&mut d, &x, T0 + 30 * MINUTE + i128::from(i) * MINUTE).is_empty());
    }
}

#[test]
fn a_busy_service_account_marked_shared_is_exempt() {
    let config = CredentialsConfig {
        shared: vec!["jwt:svc-reporting".into(), "user:batch".into()],
        ..CredentialsConfig::default()
    };
    let mut d = detector_with(&config);
    let token = jwt(r#"{"iss":"https://id.acme.io","sub":"svc-reporting","exp":1800000000}"#);
    let basic = format!("Basic {}", STANDARD_B64.encode("batch:hunter2"));
    let mut all = Vec::new();
    for minute in 0..240i128 {
        for worker in 0..25 {
            let client = format!("10.2.{}.{worker}", minute % 4);
            all.extend(feed(
                &mut d,
                &get(&token, &client, 200),
                T0 + minute * MINUTE + worker as i128 * NS,
            ));
            let x = request(
                "POST",
                "/v1/jobs",
                &[("Authorization", &basic)],
                &client,
                201,
                &[],
                "{}",
            );
            all.extend(feed(&mut d, &x, T0 + minute * MINUTE + worker as i128 * NS));
        }
    }
    assert!(all.is_empty(), "{:?}", rules(&all));
    // Another subject is not exempt.
    let other = jwt(r#"{"iss":"https://id.acme.io","sub":"svc-other","exp":1800000000}"#);
    let mut more = Vec::new();
    for worker in 0..12 {
        more.extend(feed(
            &mut d,
            &get(&other, &format!("10.3.0.{worker}"), 200),
            T0 + 300 * MINUTE,
        ));
    }
    assert_eq!(rules(&more), ["auth.credential_shared"]);
}

#[test]
fn a_credential_fingerprint_in_shared_exempts_an_api_key() {
    let key = "ak_live_fffeeeddd0001";
    let mut d = detector();
    let x = |i: i32| {
        request(
            "GET",
            "/v1/report",
            &[("X-Api-Key", key)],
            &format!("10.1.0.{i}"),
            200,
            &[],
            "{}",
        )
    };
    let mut first = Vec::new();
    for i in 0..10 {
        first.extend(feed(&mut d, &x(i), T0));
    }
    let fingerprint = first[0].evidence["API key ".len()..][..16].to_owned();
    let config = CredentialsConfig {
        shared: vec![fingerprint],
        ..CredentialsConfig::default()
    };
    let mut exempt = detector_with(&config);
    for i in 0..10 {
        assert!(feed(&mut exempt, &x(i), T0).is_empty());
    }
}

#[test]
fn an_expired_jwt_accepted_alerts_and_a_refused_one_does_not() {
    let mut d = detector();
    let exp = SECS0 + 900;
    let token = jwt(&format!(
        r#"{{"iss":"a","sub":"u1","jti":"t-1","exp":{exp}}}"#
    ));
    assert!(feed(&mut d, &get(&token, "10.0.0.1", 200), T0).is_empty());
    // Within the leeway: fine.
    assert!(feed(&mut d, &get(&token, "10.0.0.1", 200), T0 + 930 * NS).is_empty());
    // Refused after expiry: the server does its job.
    assert!(feed(&mut d, &get(&token, "10.0.0.1", 401), T0 + 1000 * NS).is_empty());
    let late = feed(&mut d, &get(&token, "10.0.0.1", 200), T0 + 4500 * NS);
    assert_eq!(rules(&late), ["auth.token_expired_accepted"]);
    assert!(
        late[0].summary.contains("presented 60 min after its exp"),
        "{}",
        late[0].summary
    );
    assert!(
        late[0].summary.contains("accepted (200)"),
        "{}",
        late[0].summary
    );
    never_shown(&late, &[&token, "t-1", "u1"]);
    // While it lasts: once.
    for i in 1..20 {
        assert!(feed(
            &mut d,
            &get(&token, "10.0.0.1", 200),
            T0 + 4500 * NS + i * MINUTE
        )
        .is_empty());
    }
}

#[test]
fn a_jwt_accepted_before_its_nbf_alerts() {
    let mut d = detector();
    let token = jwt(&format!(
        r#"{{"sub":"u2","nbf":{},"exp":{}}}"#,
        SECS0 + 600,
        SECS0 + 4000
    ));
    let found = feed(&mut d, &get(&token, "10.0.0.1", 200), T0);
    assert_eq!(rules(&found), ["auth.token_expired_accepted"]);
    assert!(
        found[0].summary.contains("10 min before its nbf"),
        "{}",
        found[0].summary
    );
}

#[test]
fn a_token_refreshed_normally_raises_nothing() {
    let mut d = detector();
    let mut all = Vec::new();
    // Login hands out a 15-minute token; the client refreshes every 14
    // minutes and uses each new token until the next refresh, for 3 hours.
    let login = |token: &str, target: &str, auth: Option<&str>| {
        let body =
            format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":900}}"#);
        let headers: Vec<(&str, &str)> =
            auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
        request(
            "POST",
            target,
            &headers,
            "10.0.0.1",
            200,
            &[("Content-Type", "application/json")],
            &body,
        )
    };
    let mut current = String::new();
    for round in 0..13i64 {
        let start = SECS0 + round * 840;
        let token = jwt(&format!(
            r#"{{"iss":"https://id.acme.io","sub":"user-5","jti":"r{round}","iat":{start},"exp":{}}}"#,
            start + 900
        ));
        let now = i128::from(start) * NS;
        let auth = bearer(&current);
        let x = if round == 0 {
            login(&token, "/auth/login", None)
        } else {
            login(&token, "/auth/refresh", Some(&auth))
        };
        all.extend(feed(&mut d, &x, now));
        for minute in 0..14 {
            all.extend(feed(
                &mut d,
                &get(&token, "10.0.0.1", 200),
                now + minute * MINUTE + NS,
            ));
        }
        current = token;
    }
    // The old token, expired, is refused: nothing to report either.
    all.extend(feed(
        &mut d,
        &get(
            &jwt(r#"{"iss":"https://id.acme.io","sub":"user-5","jti":"r0","exp":1700000900}"#),
            "10.0.0.1",
            401,
        ),
        T0 + 4 * 60 * MINUTE,
    ));
    assert!(all.is_empty(), "{:?}", rules(&all));
}

#[test]
fn a_token_accepted_after_logout_alerts() {
    let mut d = detector();
    let token = "opaque-session-token-0001";
    let auth = bearer(token);
    assert!(feed(&mut d, &get(token, "10.0.0.1", 200), T0).is_empty());
    let logout = request(
        "POST",
        "/auth/logout",
        &[("Authorization", &auth)],
        "10.0.0.1",
        204,
        &[],
        "",
    );
    assert!(feed(&mut d, &logout, T0 + MINUTE).is_empty());
    // Refused after logout: correct.
    assert!(feed(&mut d, &get(token, "10.0.0.1", 401), T0 + 2 * MINUTE).is_empty());
    let again = feed(&mut d, &get(token, "10.0.0.1", 200), T0 + 3 * MINUTE);
    assert_eq!(rules(&again), ["auth.token_revoked_accepted"]);
    assert!(
        again[0]
            .summary
            .contains("2 min after a logout (POST api.acme.io/auth/logout)"),
        "{}",
        again[0].summary
    );
    never_shown(&again, &[token]);
    assert!(feed(&mut d, &get(token, "10.0.0.1", 200), T0 + 4 * MINUTE).is_empty());
}

#[test]
fn logging_out_and_in_again_raises_nothing() {
    let mut d = detector();
    let cookie = |v: &str| format!("session={v}; theme=dark");
    let first = cookie("s-111111111111");
    let second = cookie("s-222222222222");
    let mut all = Vec::new();
    let page = |c: &str, status| {
        request(
            "GET",
            "/account",
            &[("Cookie", c)],
            "10.0.0.1",
            status,
            &[],
            "{}",
        )
    };
    all.extend(feed(&mut d, &page(&first, 200), T0));
    let logout = request(
        "POST",
        "/logout",
        &[("Cookie", &first)],
        "10.0.0.1",
        302,
        &[("Set-Cookie", "session=deleted; Max-Age=0")],
        "",
    );
    all.extend(feed(&mut d, &logout, T0 + MINUTE));
    let login = request(
        "POST",
        "/login",
        &[],
        "10.0.0.1",
        200,
        &[("Set-Cookie", "session=s-222222222222; HttpOnly")],
        "{}",
    );
    all.extend(feed(&mut d, &login, T0 + 2 * MINUTE));
    all.extend(feed(&mut d, &page(&second, 200), T0 + 3 * MINUTE));
    assert!(all.is_empty(), "{:?}", rules(&all));
    // A revocation endpoint naming the token in its body (RFC 7009).
    let token = "refresh-token-987654321";
    let mut revoke = request("POST", "/oauth/revoke", &[], "10.0.0.1", 200, &[], "");
    revoke.request.body.raw =
        bytes::Bytes::from(format!("token={token}&token_type_hint=access_token"));
    assert!(feed(&mut d, &revoke, T0 + 4 * MINUTE).is_empty());
    let reused = feed(&mut d, &get(token, "10.0.0.1", 200), T0 + 5 * MINUTE);
    assert_eq!(rules(&reused), ["auth.token_revoked_accepted"]);
}

#[test]
fn a_credential_handed_to_one_client_and_presented_by_another_alerts() {
    let mut d = detector();
    let token = jwt(&format!(
        r#"{{"sub":"u9","jti":"h-1","exp":{}}}"#,
        SECS0 + 3600
    ));
    let body = format!(r#"{{"data":{{"access_token":"{token}"}}}}"#);
    let login = request(
        "POST",
        "/auth/login",
        &[],
        "10.0.0.1",
        200,
        &[("Content-Type", "application/json")],
        &body,
    );
    assert!(feed(&mut d, &login, T0).is_empty());
    assert!(feed(&mut d, &get(&token, "10.0.0.1", 200), T0 + NS).is_empty());
    let stolen = feed(&mut d, &get(&token, "203.0.113.66", 200), T0 + 2 * NS);
    assert_eq!(rules(&stolen), ["auth.credential_other_client"]);
    assert!(
        stolen[0]
            .summary
            .contains("handed out to 10.0.0.1 presented by 203.0.113.66"),
        "{}",
        stolen[0].summary
    );
    never_shown(&stolen, &[&token]);
    // Not repeated, and not reported again as a new client after the warm-up.
    for minute in 1..60 {
        assert!(feed(
            &mut d,
            &get(&token, "203.0.113.66", 200),
            T0 + minute * MINUTE
        )
        .is_empty());
    }
    // A session cookie set for one client, sent by another.
    let set = request(
        "POST",
        "/login",
        &[],
        "10.0.0.1",
        200,
        &[("Set-Cookie", "sid=abcdef0123456789; Path=/; HttpOnly")],
        "",
    );
    assert!(feed(&mut d, &set, T0).is_empty());
    let other = request(
        "GET",
        "/account",
        &[("Cookie", "sid=abcdef0123456789")],
        "10.0.0.77",
        200,
        &[],
        "{}",
    );
    assert_eq!(
        rules(&feed(&mut d, &other, T0 + NS)),
        ["auth.credential_other_client"]
    );
}

#[test]
fn calls_this_host_makes_are_known_by_program_not_pid() {
    let mut d = detector();
    let token = "opaque-outbound-key-1234";
    let call = |pid: u32, exe: &str| {
        let mut x = get(token, "10.0.0.1", 200);
        let mut conn = (*x.connection).clone();
        conn.role = Role::Client;
        conn.pid = pid;
        conn.comm = exe.rsplit('/').next().unwrap().to_owned();
        // A short-lived process may be gone before its /proc is read.
        conn.process.exe = pid.is_multiple_of(2).then(|| exe.to_owned());
        conn.process.uid = Some(1000);
        x.connection = Arc::new(conn);
        x
    };
    let mut all = Vec::new();
    for i in 0..60u32 {
        // A cron job: a new pid each minute.
        all.extend(feed(
            &mut d,
            &call(1000 + i, "/usr/bin/report-job"),
            T0 + i128::from(i) * MINUTE,
        ));
    }
    assert!(all.is_empty(), "{:?}", rules(&all));
    let other = feed(&mut d, &call(5000, "/tmp/.x/miner"), T0 + 61 * MINUTE);
    assert_eq!(rules(&other), ["auth.credential_new_client"]);
    assert!(
        other[0]
            .summary
            .contains("new client, program miner (/tmp/.x/miner, uid 1000)"),
        "{}",
        other[0].summary
    );
    assert!(
        other[0]
            .summary
            .contains("learned from program report-job (/usr/bin/report-job, uid 1000)"),
        "{}",
        other[0].summary
    );
}

#[test]
fn state_stays_within_its_caps() {
    let config = CredentialsConfig {
        max_credentials: 1000,
        max_tokens: 1000,
        ..CredentialsConfig::default()
    };
    let mut d = detector_with(&config);
    for i in 0..20_000u32 {
        let token = format!("opaque-token-{i:08}");
        let x = request(
            "POST",
            "/login",
            &[("Authorization", &bearer(&token))],
            "10.0.0.1",
            200,
            &[("Content-Type", "application/json")],
            &format!(r#"{{"token":"{token}-next"}}"#),
        );
        feed(&mut d, &x, T0 + i128::from(i) * NS);
    }
    let c = d.counters();
    assert!(c.credentials_tracked <= 1000, "{c:?}");
    assert!(c.tokens_tracked <= 1000, "{c:?}");
    assert!(c.credential_evictions > 0 && c.token_evictions > 0, "{c:?}");
    assert_eq!(c.exchanges_with_credentials, 20_000);
}

use base64::engine::general_purpose::STANDARD as STANDARD_B64;
use base64::Engine as _;
