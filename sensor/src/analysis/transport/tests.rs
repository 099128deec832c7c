//! `transport.cleartext_sensitive` on exchanges between hosts.

use std::sync::Arc;

use super::*;
use crate::analysis::detect::tests::exchange;
use crate::exchange::ConnectionInfo;

fn detector(trusted: &[&str]) -> CleartextDetector {
    let config = TransportConfig {
        trusted_networks: trusted.iter().map(|s| (*s).to_owned()).collect(),
        ..TransportConfig::default()
    };
    config.validate().unwrap();
    CleartextDetector::new(&config, FingerprintKey::from_bytes([3; 32]))
}

/// A request served at `local` from `remote`.
fn between(mut x: HttpExchange, local: &str, remote: &str, tls: bool) -> HttpExchange {
    x.connection = Arc::new(ConnectionInfo {
        local: Some(local.parse().unwrap()),
        remote: Some(remote.parse().unwrap()),
        role: Role::Server,
        tls,
        ..(*x.connection).clone()
    });
    x
}

fn authorised(local: &str, remote: &str, tls: bool) -> HttpExchange {
    let x = exchange(
        "GET",
        "/api/me",
        &[
            ("Host", "api.acme.io"),
            ("Authorization", "Bearer abcdef123456"),
        ],
        "",
        &[],
        "{}",
    );
    between(x, local, remote, tls)
}

fn check(d: &mut CleartextDetector, x: &HttpExchange, findings: &[Finding]) -> Vec<Finding> {
    let config = CredentialsConfig::default();
    d.observe(
        x,
        &EndpointKey::of(x),
        findings,
        &config,
        &TokenFields::new(&config),
    )
}

#[test]
fn credentials_between_hosts_in_cleartext_are_reported_once_per_endpoint_and_direction() {
    let mut d = detector(&[]);
    let x = authorised("10.0.0.5:80", "10.0.0.9:50000", false);
    let found = check(&mut d, &x, &[]);
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(f.rule, "transport.cleartext_sensitive");
    assert_eq!(f.category.as_str(), "transport");
    assert_eq!(f.location.message, Message::Request);
    assert!(f.summary.contains("between 10.0.0.9:50000 (client) and 10.0.0.5:80 (server) carried credentials in its headers"), "{}", f.summary);
    assert!(!f.summary.contains("abcdef123456"));
    assert!(
        check(&mut d, &x, &[]).is_empty(),
        "once per endpoint and direction"
    );
    // Another endpoint is its own.
    let mut other = authorised("10.0.0.5:80", "10.0.0.9:50000", false);
    other.request.target = "/api/orders".into();
    assert_eq!(check(&mut d, &other, &[]).len(), 1);
}

#[test]
fn loopback_tls_and_trusted_networks_are_exempt() {
    let mut d = detector(&["10.0.0.0/8"]);
    for x in [
        authorised("127.0.0.1:80", "127.0.0.1:50000", false),
        authorised("[::1]:80", "[::1]:50000", false),
        authorised("10.0.0.5:80", "10.1.2.3:50000", false),
        authorised("192.0.2.5:443", "203.0.113.9:50000", true),
    ] {
        assert!(check(&mut d, &x, &[]).is_empty(), "{:?}", x.connection);
    }
    let outside = authorised("10.0.0.5:80", "203.0.113.9:50000", false);
    assert_eq!(check(&mut d, &outside, &[]).len(), 1);
}

#[test]
fn passwords_handed_out_tokens_and_sensitive_findings_count_and_plain_traffic_does_not() {
    let mut d = detector(&[]);
    let login = exchange(
        "POST",
        "/login",
        &[("Host", "shop.example")],
        "user=ann&password=hunter2",
        &[("Set-Cookie", "session=s-123456789; HttpOnly")],
        "",
    );
    let login = between(login, "192.0.2.5:80", "198.51.100.7:40000", false);
    let found = check(&mut d, &login, &[]);
    let what: Vec<&str> = found.iter().map(|f| f.evidence.as_str()).collect();
    assert_eq!(
        what,
        [
            "cleartext request: a password field in its body",
            "cleartext response: a token or session handed out"
        ]
    );
    assert!(found
        .iter()
        .all(|f| !f.summary.contains("hunter2") && !f.summary.contains("s-123456789")));
    let json = exchange(
        "POST",
        "/api/signup",
        &[("Host", "shop.example")],
        r#"{"email":"a@b.c","password": "pw-1"}"#,
        &[],
        "",
    );
    let json = between(json, "192.0.2.5:80", "198.51.100.7:40000", false);
    assert_eq!(check(&mut d, &json, &[]).len(), 1);
    let page = exchange(
        "GET",
        "/catalogue",
        &[("Host", "shop.example")],
        "",
        &[],
        "<html>",
    );
    let page = between(page, "192.0.2.5:80", "198.51.100.7:40000", false);
    assert!(check(&mut d, &page, &[]).is_empty());
    let leak = Finding {
        rule: "pii.ssn".into(),
        category: Category::SensitiveData,
        severity: Severity::High,
        location: Location {
            message: Message::Response,
            part: Part::Body,
            name: Some("$.ssn".into()),
        },
        evidence: "***-**-1234".into(),
        fingerprint: "f".into(),
        count: 1,
        folded: false,
        summary: String::new(),
    };
    let found = check(&mut d, &page, std::slice::from_ref(&leak));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].evidence, "cleartext response: findings pii.ssn");
}
