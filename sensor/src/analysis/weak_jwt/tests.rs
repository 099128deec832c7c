use super::*;
use crate::analysis::detect::tests::exchange;

fn sign(alg: &str, claims: &str, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
    let payload = URL_SAFE_NO_PAD.encode(claims);
    let input = format!("{header}.{payload}");
    let signature = match alg {
        "HS256" => {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap();
            m.update(input.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        "HS512" => {
            let mut m = <Hmac<Sha512> as Mac>::new_from_slice(secret).unwrap();
            m.update(input.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        _ => b"not-an-hmac-signature".to_vec(),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn checker() -> WeakJwtChecker {
    WeakJwtChecker::new(FingerprintKey::from_bytes([4; 32]), Severity::Critical)
}

fn bearer(token: &str) -> HttpExchange {
    let auth = format!("Bearer {token}");
    exchange(
        "GET",
        "/api/orders/7",
        &[("Host", "api.acme.io"), ("Authorization", &auth)],
        "",
        &[],
        r#"{"id":7}"#,
    )
}

fn offer(c: &mut WeakJwtChecker, x: &HttpExchange) {
    c.offer(x, &EndpointKey::of(x), None);
}

/// Runs the checker in ticks of `budget` until nothing waits.
fn run(c: &mut WeakJwtChecker, budget: usize) -> (Vec<WeakToken>, usize) {
    let mut found = Vec::new();
    let mut ticks = 0;
    while c.pending() > 0 {
        found.extend(c.work(budget));
        ticks += 1;
        assert!(ticks < 10_000);
    }
    (found, ticks)
}

#[test]
fn a_token_signed_with_a_listed_secret_is_found_once_without_the_secret() {
    let mut c = checker();
    let claims = r#"{"sub":"alice","iss":"https://api.acme.io","exp":1999999999}"#;
    let token = sign("HS256", claims, b"keyboard cat");
    offer(&mut c, &bearer(&token));
    // A second token of the same key (another subject) is not tried again.
    let other = sign(
        "HS256",
        r#"{"sub":"bob","iss":"https://api.acme.io"}"#,
        b"keyboard cat",
    );
    offer(&mut c, &bearer(&other));
    assert_eq!(c.pending(), 1);
    let (found, ticks) = run(&mut c, 100);
    assert_eq!(found.len(), 1);
    assert!(ticks >= 1);
    let weak = &found[0];
    let f = &weak.finding;
    assert_eq!(f.rule, "secret.jwt_weak_secret");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.location.name.as_deref(), Some("Authorization"));
    let shown = format!("{} {} {}", f.summary, f.evidence, f.fingerprint);
    assert!(!shown.contains("keyboard"), "{shown}");
    assert!(f.summary.contains("can be forged"), "{}", f.summary);
    // The exchange kept for the alert has neither the token nor bodies.
    assert!(weak
        .exchange
        .request
        .headers
        .iter()
        .all(|h| h.name == "Host"));
    assert!(weak.exchange.response.body.content().is_empty());
    let counters = c.counters();
    assert_eq!((counters.keys_queued, counters.keys_weak), (1, 1));
}

#[test]
fn tokens_in_responses_and_other_algorithms() {
    let mut c = checker();
    let login = sign("HS512", r#"{"sub":"carol"}"#, b"password");
    let body = format!(r#"{{"success":true,"auth_token":"{login}"}}"#);
    let x = exchange(
        "POST",
        "/api/login",
        &[("Host", "api.acme.io")],
        "{}",
        &[],
        &body,
    );
    offer(&mut c, &x);
    // RS256 is not an HMAC: nothing to try.
    offer(&mut c, &bearer(&sign("RS256", r#"{"sub":"d"}"#, b"")));
    assert_eq!(c.pending(), 1);
    let (found, _) = run(&mut c, DEFAULT_BUDGET);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].finding.location.message, Message::Response);
}

#[test]
fn a_strong_secret_costs_one_pass_of_the_list_in_bounded_ticks() {
    let mut c = checker();
    let token = sign(
        "HS256",
        r#"{"sub":"e"}"#,
        b"q8V3v0o9-ZrWc5Kf2n1XyTt7uLbM4hJs",
    );
    offer(&mut c, &bearer(&token));
    let list = wordlist::secrets().len();
    let (found, ticks) = run(&mut c, 100);
    assert!(found.is_empty());
    assert_eq!(ticks, list.div_ceil(100));
    let counters = c.counters();
    assert_eq!(counters.attempts, list as u64);
    assert_eq!(counters.keys_strong, 1);
    // Each tick tried at most its budget.
    let mut c = checker();
    offer(&mut c, &bearer(&token));
    c.work(10);
    assert_eq!(c.counters().attempts, 10);
}

#[test]
fn the_queue_is_bounded_and_drops_are_counted() {
    let mut c = checker();
    for i in 0..100 {
        let claims = format!(r#"{{"sub":"x","iss":"https://issuer-{i}.example"}}"#);
        offer(
            &mut c,
            &bearer(&sign("HS256", &claims, b"q8V3v0o9-ZrWc5Kf2n1XyTt7uLbM4hJs")),
        );
    }
    assert_eq!(c.pending(), MAX_PENDING);
    assert_eq!(c.counters().keys_dropped, 100 - MAX_PENDING as u64);
    assert!(c.drain().is_empty());
    assert_eq!(c.pending(), 0);
}
