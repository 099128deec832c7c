//! Detector throughput on response bodies: clean JSON API responses (the
//! common case the prefilter must make cheap), a clean HTML page, a JSON
//! response and a text log full of findings; and the cost of one small
//! API exchange with a version banner, headers included (new to its host,
//! and reported already, as nearly every exchange sees it).
//! Run: `cargo bench -p sensor --bench detectors`.
//!
//! Time is the benchmark thread's CPU time, not wall time: on a shared,
//! loaded machine wall time counts the slices other processes ran in, and
//! figures taken a minute apart differed by 2x. CPU time still varies with
//! cache pressure from neighbours, so compare back to back.

use std::sync::Arc;

use bytes::Bytes;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sensor::analysis::detect::{ContentDetector, DetectConfig, FingerprintKey, Scratch};
use sensor::exchange::{
    Body, ConnectionInfo, Header, HttpExchange, HttpRequest, HttpResponse, Role, Timings,
};

fn exchange(content_type: &str, body: String) -> HttpExchange {
    exchange_with(content_type, body, &[("Server", "envoy")])
}

fn exchange_with(content_type: &str, body: String, extra: &[(&str, &str)]) -> HttpExchange {
    let mut response_headers = vec![Header {
        name: "Content-Type".into(),
        value: Bytes::copy_from_slice(content_type.as_bytes()),
    }];
    response_headers.extend(extra.iter().map(|(name, value)| Header {
        name: (*name).into(),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }));
    HttpExchange {
        connection: Arc::new(ConnectionInfo {
            pid: 1,
            comm: "bench".into(),
            fd: 3,
            generation: 1,
            role: Role::Server,
            local: None,
            remote: None,
            tls: false,
            process: Default::default(),
        }),
        request: HttpRequest {
            method: "GET".into(),
            target: "/api/v2/orders?page=3&per_page=100".into(),
            version: 1,
            headers: vec![
                Header {
                    name: "Host".into(),
                    value: Bytes::from_static(b"shop.internal"),
                },
                Header {
                    name: "Accept".into(),
                    value: Bytes::from_static(b"application/json"),
                },
            ],
            trailers: Vec::new(),
            body: Body::default(),
        },
        response: HttpResponse {
            status: 200,
            reason: "OK".into(),
            version: 1,
            headers: response_headers,
            trailers: Vec::new(),
            body: Body {
                wire_len: body.len() as u64,
                raw: Bytes::from(body),
                decoded: None,
                truncated: false,
                tail: Default::default(),
            },
        },
        timings: Timings::default(),
        upgraded: false,
        anomalies: Vec::new(),
        completed_unix_ns: 0,
    }
}

/// An order-list response as e-commerce APIs send it: ids, UUIDs, prices,
/// ISO timestamps, statuses, nested line items. No finding.
fn clean_orders(n: usize) -> String {
    let mut out = String::from("{\"data\":[");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"id\":\"ord_{i:08}\",\"uuid\":\"3f2c{i:04x}-9b1e-4c7a-8d2f-6e5a4b3c2d1e\",\"status\":\"shipped\",\
             \"currency\":\"EUR\",\"total\":{}.{:02},\"created_at\":\"2024-05-{:02}T08:{:02}:00Z\",\
             \"customer\":{{\"id\":{},\"tier\":\"gold\",\"country\":\"DE\"}},\
             \"items\":[{{\"product\":\"Desk lamp, brushed steel\",\"qty\":2,\"unit_price\":34.90}},\
             {{\"product\":\"Cable organiser\",\"qty\":1,\"unit_price\":12.50}}],\
             \"shipping\":{{\"carrier\":\"DHL\",\"service\":\"express\",\"eta_days\":2}},\
             \"notes\":\"Leave at the front desk if nobody answers.\"}}",
            100 + i % 900,
            i % 100,
            1 + i % 28,
            i % 60,
            10_000 + i,
        ));
    }
    out.push_str("],\"page\":3,\"per_page\":100,\"total_pages\":12}");
    out
}

fn clean_html(n: usize) -> String {
    let mut out =
        String::from("<!doctype html><html><head><title>Catalogue</title></head><body><main>");
    for i in 0..n {
        out.push_str(&format!(
            "<article class=\"card\"><h2>Product {i}</h2><p>Handmade ceramic mug, dishwasher safe, \
             holds 350 ml. Ships within two days.</p><span class=\"price\">{}.99 EUR</span>\
             <a href=\"/products/{i}\">Details</a></article>\n",
            10 + i % 40
        ));
    }
    out.push_str("</main></body></html>");
    out
}

fn leaky_users(n: usize) -> String {
    let mut out = String::from("{\"users\":[");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"id\":{i},\"email\":\"user{i}@corpmail.net\",\"ssn\":\"536-22-{:04}\",\"password_hash\":\"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\",\"phone\":\"+1 415 867 {:04}\"}}",
            1000 + i, 2000 + i
        ));
    }
    out.push_str("]}");
    out
}

/// An application log served as text, a finding on most lines: emails,
/// private addresses, Java frames, database URIs with passwords.
fn leaky_log(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "2024-05-01T08:{:02}:00Z INFO order {i} placed by user{i}@corpmail.net from 10.20.{}.{}\n\
             2024-05-01T08:{:02}:01Z ERROR payment failed: postgres://billing:Pw{i}x9Kq@db-{i}.internal:5432/pay\n\
             \tat com.shop.billing.Charge.run(Charge.java:{})\n",
            i % 60,
            i % 250,
            1 + i % 250,
            i % 60,
            100 + i % 900
        ));
    }
    out
}

/// One small API exchange as a loaded nginx serves it: 1 KiB of clean
/// JSON, the usual response headers and the version banner.
fn api_exchange() -> HttpExchange {
    let mut body = clean_orders(2);
    body.truncate(1024);
    exchange_with(
        "application/json",
        body,
        &[
            ("Server", "nginx/1.24.0"),
            ("Date", "Sun, 06 Dec 2026 16:40:00 GMT"),
            ("Content-Length", "1024"),
            ("Connection", "keep-alive"),
            ("ETag", "\"6751a2f0-400\""),
            ("Accept-Ranges", "bytes"),
        ],
    )
}

/// The calling thread's CPU time, in nanoseconds.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, started: u64) -> u64 {
        thread_cpu_ns() - started
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, as wall time's are: the same units and throughput.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let detector = ContentDetector::with_key(
        &DetectConfig::default(),
        FingerprintKey::from_bytes([1; 32]),
    )
    .unwrap();
    let mut group = c.benchmark_group("detectors");
    for (name, content_type, body) in [
        ("clean_json_256k", "application/json", clean_orders(480)),
        ("clean_html_256k", "text/html", clean_html(900)),
        ("leaky_json_64k", "application/json", leaky_users(280)),
        ("leaky_text_64k", "text/plain", leaky_log(290)),
    ] {
        let x = exchange(content_type, body);
        group.throughput(Throughput::Bytes(x.response.body.raw.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| std::hint::black_box(detector.inspect(&x)))
        });
    }
    let x = api_exchange();
    group.throughput(Throughput::Elements(1));
    group.bench_function("api_exchange_1k", |b| {
        b.iter(|| std::hint::black_box(detector.inspect(&x)))
    });
    // As the analysis runs it once the host's banner is reported: the
    // banner is dropped before its finding is built.
    let mut scratch = Scratch::default();
    group.bench_function("api_exchange_1k_banner_reported", |b| {
        b.iter(|| {
            std::hint::black_box(detector.inspect_quieting(&x, &mut scratch, &mut |_| true, None))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench
}
criterion_main!(benches);
