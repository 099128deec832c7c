//! `auth.unauthenticated_sensitive` and `auth.credentials_in_query`, with
//! the content detectors' findings passed in as the pipeline will.

use super::*;
use crate::analysis::detect::{ContentDetector, DetectConfig};

const UNAUTHENTICATED: &str = "auth.unauthenticated_sensitive";
const IN_QUERY: &str = "auth.credentials_in_query";

const LEAKY_BODY: &str = r#"{"users":[{"id":1,"ssn":"536-22-8726"}]}"#;

/// Compiled once: building the rules is the slow part.
fn content() -> &'static ContentDetector {
    static DETECTOR: std::sync::OnceLock<ContentDetector> = std::sync::OnceLock::new();
    DETECTOR.get_or_init(|| {
        ContentDetector::with_key(
            &DetectConfig::default(),
            FingerprintKey::from_bytes([9; 32]),
        )
        .unwrap()
    })
}

fn leaky(target: &str, headers: &[(&str, &str)]) -> HttpExchange {
    let mut request_headers = vec![("Host", HOST)];
    request_headers.extend_from_slice(headers);
    let json = [("Content-Type", "application/json")];
    from(
        exchange("GET", target, &request_headers, "", &json, LEAKY_BODY),
        "10.0.0.7",
    )
}

/// Runs the content detectors, then the behavioural ones, on `x`.
fn both(d: &mut BehaviourDetector, x: &HttpExchange, now: i128) -> Vec<Finding> {
    let found = content().inspect(x);
    assert!(found.iter().any(|f| f.rule == "pii.ssn"), "{found:#?}");
    d.observe(x, &found, now)
}

#[test]
fn sensitive_data_without_credentials_alerts_once_per_endpoint() {
    let mut d = detector();
    let mut findings = Vec::new();
    for i in 0..100 {
        findings.extend(both(
            &mut d,
            &leaky(&format!("/api/v1/users/{i}"), &[]),
            T0 + i * NS,
        ));
    }
    let alerts = of_rule(&findings, UNAUTHENTICATED);
    assert_eq!(alerts.len(), 1, "{findings:#?}");
    let a = alerts[0];
    assert_eq!(a.category, Category::Auth);
    assert_eq!(a.severity, crate::analysis::detect::Severity::High);
    assert!(
        a.summary.starts_with("Sensitive data answered without credentials: GET api.acme.io/api/v1/users/{id} returned 1 finding(s) (pii.ssn) to 10.0.0.7"),
        "{}",
        a.summary
    );
    assert_never_shown(&findings, &["536-22-8726".to_owned()]);
}

#[test]
fn any_credential_in_the_request_means_authenticated() {
    for headers in [
        &[("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")][..],
        &[("Cookie", "theme=dark; PHPSESSID=9f86d081884c7d659a2f")],
        &[("Cookie", "connect.sid=s%3Aabc")],
        &[("X-API-Key", "k_live_123")],
        &[("X-Acme-Api-Key", "k_live_123")],
    ] {
        let mut d = detector();
        let findings = both(&mut d, &leaky("/api/v1/users", headers), T0);
        assert!(findings.is_empty(), "{headers:?}: {findings:#?}");
    }
    let mut d = detector();
    let findings = both(
        &mut d,
        &leaky("/api/v1/users?api_key=k_live_9f86d081884c7d65", &[]),
        T0,
    );
    assert!(of_rule(&findings, UNAUTHENTICATED).is_empty());
    // A cookie that is no session is no credential.
    let mut d = detector();
    let findings = both(
        &mut d,
        &leaky("/api/v1/users", &[("Cookie", "theme=dark; lang=en")]),
        T0,
    );
    assert_eq!(of_rule(&findings, UNAUTHENTICATED).len(), 1);
}

#[test]
fn request_side_findings_errors_and_logins_are_not_judged() {
    let mut d = detector();
    let request_only = Finding {
        location: crate::analysis::detect::Location {
            message: crate::analysis::detect::Message::Request,
            part: crate::analysis::detect::Part::Body,
            name: None,
        },
        ..content().inspect(&leaky("/x", &[]))[0].clone()
    };
    let x = leaky("/api/v1/profile", &[]);
    assert!(d.observe(&x, &[request_only], T0).is_empty());
    let mut error = leaky("/api/v1/users", &[]);
    error.response.status = 500;
    assert!(both(&mut d, &error, T0).is_empty());
    let mut login = leaky("/api/v1/auth/login", &[]);
    login.request.method = "POST".into();
    assert!(both(&mut d, &login, T0).is_empty());
}

#[test]
fn credentials_in_the_query_are_reported_masked() {
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
    let mut d = detector();
    let mut findings = Vec::new();
    for i in 0..50 {
        let target = format!("/api/v1/reports/{i}?format=csv&access_token={token}");
        findings.extend(d.observe(&get(&target, "10.0.0.7"), &[], T0 + i * NS));
    }
    let alerts = of_rule(&findings, IN_QUERY);
    assert_eq!(alerts.len(), 1, "{findings:#?}");
    let a = alerts[0];
    assert_eq!(
        a.evidence,
        format!("access_token=[{} characters]", token.len())
    );
    assert_eq!(a.location.part, crate::analysis::detect::Part::Query);
    assert_eq!(a.location.name.as_deref(), Some("access_token"));
    assert_eq!(a.severity, crate::analysis::detect::Severity::Medium);
    assert_never_shown(&findings, &[token.to_owned(), "eyJ".to_owned()]);

    let password = d.observe(
        &get("/login?user=bob&password=hunter22", "10.0.0.7"),
        &[],
        T0,
    );
    assert_eq!(password.len(), 1);
    assert_eq!(
        password[0].severity,
        crate::analysis::detect::Severity::High
    );
    assert_never_shown(&password, &["hunter22".to_owned()]);

    for target in [
        "/search?q=token&key=created_at",
        "/items?page_token=CAEQAhoA&sort=asc",
        "/api?token=abc",
        "/api?password=&api_key=null",
        "/api?access_token=xxxxxxxxxxxx",
    ] {
        assert!(
            d.observe(&get(target, "10.0.0.8"), &[], T0).is_empty(),
            "{target}"
        );
    }
}
