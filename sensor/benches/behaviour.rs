//! Cost of `BehaviourDetector::observe` per exchange, on a replay of mixed
//! API traffic (list pages with JSON bodies, id lookups, logins, a few
//! errors) from 500 clients over 40 endpoints, an hour of simulated time.
//! A quick measure without criterion:
//! `cargo bench -p sensor --bench behaviour` prints ns per exchange.
//! The "principals" run gives each client its own bearer JWT and times
//! reading the principal too (`auth.bola` then reads the ids of every
//! answer).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use sensor::analysis::behaviour::{BehaviourConfig, BehaviourDetector};
use sensor::analysis::detect::FingerprintKey;
use sensor::analysis::principal::{PrincipalConfig, PrincipalExtractor};
use sensor::endpoint::EndpointKey;
use sensor::exchange::{
    Body, ConnectionInfo, Header, HttpExchange, HttpRequest, HttpResponse, Role, Timings,
};

const EXCHANGES: usize = 400_000;
const CLIENTS: u32 = 500;
const NS_PER_EXCHANGE: i128 = 9_000_000; // 400,000 over an hour

fn body(bytes: &Bytes) -> Body {
    Body {
        wire_len: bytes.len() as u64,
        raw: bytes.clone(),
        decoded: None,
        truncated: false,
        tail: Default::default(),
    }
}

/// The bodies, built once and shared (Bytes clones are reference counts).
struct Bodies {
    empty: Bytes,
    list: Bytes,
    order: Bytes,
    ok: Bytes,
    script: Bytes,
    logins: Vec<Bytes>,
    /// `Bearer <jwt>` per client.
    tokens: Vec<String>,
}

impl Bodies {
    fn new() -> Self {
        let items: Vec<String> = (0..25)
            .map(|k| format!(r#"{{"id":{k},"name":"item {k}","price":{}}}"#, k * 3))
            .collect();
        Self {
            empty: Bytes::new(),
            list: Bytes::from(format!(r#"{{"data":[{}],"total":25}}"#, items.join(","))),
            order: Bytes::from_static(br#"{"id":1,"status":"shipped","total":"12.40"}"#),
            ok: Bytes::from_static(br#"{"ok":true}"#),
            script: Bytes::from("x".repeat(2048)),
            logins: (0..300)
                .map(|u| Bytes::from(format!(r#"{{"username":"user{u}","password":"x"}}"#)))
                .collect(),
            tokens: (0..CLIENTS)
                .map(|c| {
                    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
                    let claims = URL_SAFE_NO_PAD.encode(format!(
                        r#"{{"sub":"user-{c}","iss":"https://auth.acme.io","exp":1800000000}}"#
                    ));
                    format!("Bearer {header}.{claims}.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMzItYnl0ZXM")
                })
                .collect(),
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }
}

/// The `i`th exchange of the mix; with `jwt`, the client's own token.
fn exchange(i: usize, bodies: &Bodies, jwt: bool) -> HttpExchange {
    let client = (i as u32).wrapping_mul(2_654_435_761) % CLIENTS;
    let remote: SocketAddr = SocketAddr::from(([10, 1, (client >> 8) as u8, client as u8], 40_000));
    let (method, target, status, request_body, response_body) = match i % 10 {
        0..=3 => (
            "GET",
            format!("/api/v2/catalog{}/items?page={}", i % 20, i % 7),
            200,
            &bodies.empty,
            &bodies.list,
        ),
        4..=7 => (
            "GET",
            format!("/api/v2/users/{}/orders/{}", 1000 + i % 5000, i % 97),
            if i.is_multiple_of(50) { 503 } else { 200 },
            &bodies.empty,
            &bodies.order,
        ),
        8 => (
            "POST",
            "/api/v1/auth/login".to_owned(),
            if i.is_multiple_of(3) { 401 } else { 200 },
            &bodies.logins[i % 300],
            &bodies.ok,
        ),
        _ => (
            "GET",
            format!("/static/app.{}.js", i % 3),
            200,
            &bodies.empty,
            &bodies.script,
        ),
    };
    HttpExchange {
        connection: Arc::new(ConnectionInfo {
            pid: 1,
            comm: "api".into(),
            fd: 3,
            generation: 1,
            role: Role::Server,
            local: Some(SocketAddr::from(([10, 0, 0, 1], 8080))),
            remote: Some(remote),
            tls: false,
            process: Default::default(),
        }),
        request: HttpRequest {
            method: method.into(),
            target: target.into(),
            version: 1,
            headers: vec![
                header("Host", "api.acme.io"),
                header(
                    "Authorization",
                    if jwt {
                        &bodies.tokens[client as usize]
                    } else {
                        "Bearer abc.def.ghi"
                    },
                ),
                header("Content-Type", "application/json"),
            ],
            trailers: Vec::new(),
            body: body(request_body),
        },
        response: HttpResponse {
            status,
            reason: "OK".into(),
            version: 1,
            headers: vec![header("Content-Type", "application/json")],
            trailers: Vec::new(),
            body: body(response_body),
        },
        timings: Timings::default(),
        upgraded: false,
        anomalies: Vec::new(),
        completed_unix_ns: 0,
    }
}

/// Best of three replays of `traffic`: ns per exchange, findings.
fn measure(config: &BehaviourConfig, traffic: &[HttpExchange]) -> (f64, usize) {
    let start_ns: i128 = 1_700_000_000_000_000_000;
    let mut best = f64::MAX;
    let mut findings = 0;
    for _ in 0..3 {
        let mut detector = BehaviourDetector::new(config, FingerprintKey::from_bytes([1; 32]));
        let began = Instant::now();
        findings = 0;
        for (i, x) in traffic.iter().enumerate() {
            let now = start_ns + i as i128 * NS_PER_EXCHANGE;
            findings += black_box(detector.observe(x, &[], now)).len();
        }
        best = best.min(began.elapsed().as_nanos() as f64 / traffic.len() as f64);
    }
    (best, findings)
}

/// `measure`, reading each exchange's principal and observing as it.
fn measure_as(config: &BehaviourConfig, traffic: &[HttpExchange]) -> (f64, usize) {
    let start_ns: i128 = 1_700_000_000_000_000_000;
    let key = FingerprintKey::from_bytes([1; 32]);
    let principals = PrincipalExtractor::new(&PrincipalConfig::default(), key.clone());
    let mut best = f64::MAX;
    let mut findings = 0;
    for _ in 0..3 {
        let mut detector = BehaviourDetector::new(config, key.clone());
        let began = Instant::now();
        findings = 0;
        for (i, x) in traffic.iter().enumerate() {
            let now = start_ns + i as i128 * NS_PER_EXCHANGE;
            let endpoint = EndpointKey::of(x);
            let principal = principals.of(x, &endpoint.host);
            findings +=
                black_box(detector.observe_as(x, &endpoint, principal.as_ref(), &[], now)).len();
        }
        best = best.min(began.elapsed().as_nanos() as f64 / traffic.len() as f64);
    }
    (best, findings)
}

fn main() {
    // Built up front: what is measured is observe(), not the fixture.
    let bodies = Bodies::new();
    let traffic: Vec<HttpExchange> = (0..EXCHANGES)
        .map(|i| exchange(i, &bodies, false))
        .collect();
    let mut without_bulk = BehaviourConfig::default();
    without_bulk.bulk.enabled = false;
    for (name, config) in [
        ("defaults", BehaviourConfig::default()),
        ("bulk off (no JSON record counting)", without_bulk),
    ] {
        let (ns, findings) = measure(&config, &traffic);
        println!(
            "behaviour observe, {name}: {ns:.0} ns per exchange, {:.0} exchanges/s on one core ({EXCHANGES} exchanges from {CLIENTS} clients, best of 3; {findings} findings)",
            1e9 / ns
        );
    }
    let traffic: Vec<HttpExchange> = (0..EXCHANGES).map(|i| exchange(i, &bodies, true)).collect();
    let (ns, findings) = measure_as(&BehaviourConfig::default(), &traffic);
    println!(
        "behaviour observe, principals (a JWT per client, principal read and auth.bola on): {ns:.0} ns per exchange, {:.0} exchanges/s on one core (best of 3; {findings} findings)",
        1e9 / ns
    );
}
