use super::*;
use crate::analysis::detect::jwt::encode;
use crate::analysis::detect::tests::exchange;

fn extractor(config: &PrincipalConfig) -> PrincipalExtractor {
    config.validate().unwrap();
    PrincipalExtractor::new(config, FingerprintKey::from_bytes([5; 32]))
}

fn with(headers: &[(&str, &str)]) -> HttpExchange {
    exchange("GET", "/api/orders/1", headers, "", &[], "")
}

#[test]
fn sources_in_order_and_never_the_raw_value() {
    let e = extractor(&PrincipalConfig::default());
    let alice = encode(r#"{"alg":"HS256"}"#, r#"{"sub":"alice","exp":1}"#, "sig");
    let alice2 = encode(r#"{"alg":"HS256"}"#, r#"{"sub":"alice","exp":2}"#, "other");
    let bob = encode(r#"{"alg":"HS256"}"#, r#"{"sub":"bob"}"#, "sig");
    let of = |h: &[(&str, &str)]| e.of(&with(h), "api.acme.io");
    let a = of(&[("Authorization", &format!("Bearer {alice}"))]).unwrap();
    assert_eq!(a.kind, "jwt");
    assert_eq!(a.fingerprint.len(), 16);
    // Two tokens of one subject are one principal; another subject is not.
    assert_eq!(
        of(&[("authorization", &format!("bearer {alice2}"))]),
        Some(a.clone())
    );
    assert_ne!(
        of(&[("Authorization", &format!("Bearer {bob}"))]),
        Some(a.clone())
    );
    // Opaque bearer tokens, Basic users, API keys, session cookies.
    assert_eq!(
        of(&[("Authorization", "Bearer opaque-1")]).unwrap().kind,
        "bearer"
    );
    let basic = of(&[("Authorization", "Basic YWxpY2U6czNjcjN0")]).unwrap();
    assert_eq!(basic, Principal::user(e.key(), " Alice"));
    assert_eq!(of(&[("X-Api-Key", "k-123")]).unwrap().kind, "api_key");
    let cookie = of(&[("Cookie", "theme=dark; sessionid=abc123")]).unwrap();
    assert_eq!(cookie.kind, "cookie");
    assert_eq!(of(&[("Cookie", "theme=dark")]), None);
    assert_eq!(of(&[]), None);
    for p in [&a, &basic, &cookie] {
        let shown = p.to_string();
        for raw in ["alice", "abc123", "s3cr3t", "k-123"] {
            assert!(!shown.contains(raw), "{shown}");
        }
    }
}

#[test]
fn hosts_override_the_lists_and_claim_paths_reach_into_objects() {
    let config = PrincipalConfig {
        hosts: vec![HostPrincipalConfig {
            host: "*.internal".into(),
            jwt_claims: Some(vec!["user.id".into()]),
            api_key_headers: Some(vec!["x-tenant-key".into()]),
            session_cookies: Some(vec!["sid2".into()]),
        }],
        ..PrincipalConfig::default()
    };
    let e = extractor(&config);
    let token = encode(
        r#"{"alg":"HS256"}"#,
        r#"{"sub":"svc","user":{"id":7}}"#,
        "s",
    );
    let bearer = [("Authorization", format!("Bearer {token}"))];
    let bearer: Vec<(&str, &str)> = bearer.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let inside = e.of(&with(&bearer), "billing.internal").unwrap();
    let outside = e.of(&with(&bearer), "api.acme.io").unwrap();
    assert_eq!(inside, Principal::of(e.key(), "jwt", b"7"));
    assert_eq!(outside, Principal::of(e.key(), "jwt", b"svc"));
    assert_eq!(e.of(&with(&[("X-Api-Key", "k")]), "billing.internal"), None);
    assert!(e
        .of(&with(&[("X-Tenant-Key", "k")]), "billing.internal")
        .is_some());
    assert!(e
        .of(&with(&[("Cookie", "sid2=x")]), "billing.internal")
        .is_some());
    assert_eq!(e.of(&with(&[("Cookie", "sid2=x")]), "api.acme.io"), None);
}

#[test]
fn disabled_and_bad_config() {
    let e = extractor(&PrincipalConfig {
        enabled: false,
        ..PrincipalConfig::default()
    });
    assert_eq!(e.of(&with(&[("X-Api-Key", "k")]), "h"), None);
    let bad = PrincipalConfig {
        jwt_claims: vec!["user..id".into()],
        ..PrincipalConfig::default()
    };
    assert_eq!(bad.validate().unwrap_err().key, "principal.jwt_claims");
}
