//! Exchanges in, catalogue out: what one endpoint record holds after a
//! table of exchanges, caps and eviction, and the save schedule. Shared
//! helpers for the other inventory tests live here too.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::*;
use crate::analysis::detect::tests::{detector, exchange};
use crate::analysis::detect::{Category, DetectConfig};
use crate::exchange::Role;

/// A fresh directory per call, so tests never share state.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sensor-inventory-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn fingerprint_key() -> FingerprintKey {
    FingerprintKey::from_bytes([7; 32])
}

/// `secs` seconds into the test's timeline, as Unix nanoseconds.
pub(crate) fn at(secs: i64) -> i128 {
    (1_700_000_000 + i128::from(secs)) * 1_000_000_000
}

/// A request to `host` with a response of `status`.
pub(crate) fn request(method: &str, host: &str, target: &str, status: u16) -> HttpExchange {
    let mut x = exchange(method, target, &[("Host", host)], "", &[], "");
    x.response.status = status;
    x
}

pub(crate) fn as_client(mut x: HttpExchange) -> HttpExchange {
    let mut conn = (*x.connection).clone();
    conn.role = Role::Client;
    conn.comm = "curl".into();
    x.connection = Arc::new(conn);
    x
}

pub(crate) fn inventory(config: &InventoryConfig, dir: &Path) -> Inventory {
    Inventory::load_or_new(config, dir, fingerprint_key()).unwrap()
}

fn only(inv: &Inventory) -> (EndpointKey, EndpointRecord) {
    let all = inv.endpoints();
    assert_eq!(all.len(), 1, "{all:?}");
    (all[0].0.clone(), all[0].1.clone())
}

#[test]
fn one_endpoint_from_a_table_of_exchanges() {
    let dir = temp_dir("table");
    let mut inv = inventory(&InventoryConfig::default(), &dir);
    let detect = detector(&DetectConfig::default());
    let users = r#"{"id":4711,"email":"ann@acme-mail.io","ssn":"536-22-8726"}"#;
    type Headers<'a> = &'a [(&'a str, &'a str)];
    // (request headers, response headers, response body, status, seconds)
    let table: &[(Headers, Headers, &str, u16, i64)] = &[
        (
            &[
                ("Host", "user@API.Acme.io.:443"),
                ("Authorization", "Bearer eyJx.eyJ.sig"),
            ],
            &[("Content-Type", "application/json; charset=utf-8")],
            users,
            200,
            10,
        ),
        (
            &[
                ("Host", "api.acme.io"),
                ("Cookie", "theme=dark; JSESSIONID=s3cr3t"),
            ],
            &[
                ("Content-Type", "application/json"),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
            ],
            users,
            200,
            20,
        ),
        (
            &[("Host", "api.acme.io"), ("X-Api-Key", "k-123")],
            &[("Content-Type", "text/html")],
            "<h1>Not Found</h1>",
            404,
            5,
        ),
    ];
    for (i, (req, resp, body, status, secs)) in table.iter().enumerate() {
        let target = format!("/users/{}?verbose=1", 4711 + i);
        let mut x = exchange("GET", &target, req, "", resp, body);
        x.response.status = *status;
        let findings = detect.inspect(&x);
        assert!(inv.observe(&x, &findings, at(*secs)).is_empty());
    }

    let (key, record) = only(&inv);
    assert_eq!(key.to_string(), "GET api.acme.io/users/{id}");
    // Out-of-order capture times: first and last seen still bracket them.
    assert_eq!(record.first_seen_unix_ns, at(5) as i64);
    assert_eq!(record.last_seen_unix_ns, at(20) as i64);
    assert_eq!(record.requests, 3);
    let statuses: Vec<(u16, u64, Vec<&str>)> = record
        .statuses
        .iter()
        .map(|s| {
            (
                s.status,
                s.count,
                s.content_types.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (200, 2, vec!["application/json"]),
            (404, 1, vec!["text/html"])
        ]
    );
    let credentials: Vec<String> = record
        .credentials
        .iter()
        .map(|c| format!("{:?}:{}", c.kind, c.name))
        .collect();
    assert_eq!(
        credentials,
        [
            "Authorization:bearer",
            "Cookie:JSESSIONID",
            "ApiKeyHeader:x-api-key"
        ]
    );
    let data: Vec<(&str, Category)> = record
        .response_data
        .iter()
        .map(|(rule, category)| (rule.as_str(), *category))
        .collect();
    assert_eq!(
        data,
        [
            ("pii.email", Category::SensitiveData),
            ("pii.ssn", Category::SensitiveData)
        ]
    );
    assert!(record.request_data.is_empty());
    let issues: Vec<(&str, u64)> = record
        .header_issues
        .iter()
        .map(|(issue, n)| (issue.as_str(), *n))
        .collect();
    assert_eq!(
        issues,
        [
            ("missing_csp", 3),
            ("missing_x_content_type_options", 2),
            ("missing_x_frame_options", 3),
            // Only the first response carried sensitive data without no-store.
            ("sensitive_data_cacheable", 1),
        ]
    );
    let served: Vec<&str> = record.served_by.iter().map(|p| p.comm.as_str()).collect();
    assert_eq!(served, ["api"]);
    assert!(record.called_by.is_empty());
    assert_eq!(record.dropped_values, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn request_findings_processes_and_roles_are_kept_apart() {
    let dir = temp_dir("roles");
    let mut inv = inventory(&InventoryConfig::default(), &dir);
    let detect = detector(&DetectConfig::default());
    let token = crate::analysis::detect::tests::github_token("ghp_");
    let mut x = exchange(
        "POST",
        "/hooks",
        &[
            ("Host", "hooks.acme.io"),
            ("Content-Type", "application/json"),
        ],
        &format!(r#"{{"token":"{token}"}}"#),
        &[],
        "",
    );
    let mut conn = (*x.connection).clone();
    conn.process.exe = Some("/usr/bin/api".into());
    x.connection = Arc::new(conn);
    let findings = detect.inspect(&x);
    assert!(
        findings.iter().any(|f| f.category == Category::Secret),
        "{findings:?}"
    );
    inv.observe(&x, &findings, at(1));
    inv.observe(&as_client(x.clone()), &[], at(2));

    let (_, record) = only(&inv);
    assert_eq!(record.requests, 2);
    assert!(record.response_data.is_empty());
    assert!(record.request_data.values().all(|c| *c == Category::Secret));
    assert_eq!(
        record.request_content_types.iter().collect::<Vec<_>>(),
        ["application/json"]
    );
    let served: Vec<(&str, Option<&str>)> = record
        .served_by
        .iter()
        .map(|p| (p.comm.as_str(), p.exe.as_deref()))
        .collect();
    assert_eq!(served, [("api", Some("/usr/bin/api"))]);
    let called: Vec<&str> = record.called_by.iter().map(|p| p.comm.as_str()).collect();
    assert_eq!(called, ["curl"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cap_evicts_the_least_recently_seen_and_counts_it() {
    let dir = temp_dir("cap");
    let config = InventoryConfig {
        max_endpoints: 3,
        ..Default::default()
    };
    let mut inv = inventory(&config, &dir);
    for (i, path) in ["/a", "/b", "/c", "/a", "/d", "/e"].iter().enumerate() {
        inv.observe(&request("GET", "api", path, 200), &[], at(i as i64));
    }
    let kept: Vec<&str> = inv
        .endpoints()
        .iter()
        .map(|(k, _)| k.template.as_str())
        .collect();
    // /b and /c were the least recently seen when /d and /e arrived.
    assert_eq!(kept, ["/a", "/d", "/e"]);
    let counters = inv.counters();
    assert_eq!((counters.endpoints, counters.evicted), (3, 2));

    // The count survives a restart.
    inv.save();
    let again = inventory(&config, &dir);
    assert_eq!(again.counters().evicted, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn per_endpoint_sets_are_capped_and_overflow_counted() {
    let dir = temp_dir("sets");
    let mut inv = inventory(&InventoryConfig::default(), &dir);
    let extra = 5;
    for i in 0..(record::MAX_STATUSES + extra) {
        let mut x = request("GET", "api", "/x", 200 + i as u16);
        let ct = format!("application/x-{i}");
        x.response.headers.push(crate::exchange::Header {
            name: "Content-Type".into(),
            value: ct.into_bytes().into(),
        });
        inv.observe(&x, &[], at(1));
    }
    for i in 0..(record::MAX_CONTENT_TYPES + extra) {
        let mut x = request("GET", "api", "/x", 200);
        x.response.headers.push(crate::exchange::Header {
            name: "Content-Type".into(),
            value: format!("text/x-{i}").into_bytes().into(),
        });
        inv.observe(&x, &[], at(2));
    }
    let (_, record) = only(&inv);
    assert_eq!(record.statuses.len(), record::MAX_STATUSES);
    let ok = record.statuses.iter().find(|s| s.status == 200).unwrap();
    assert_eq!(ok.content_types.len(), record::MAX_CONTENT_TYPES);
    assert_eq!(
        ok.count,
        1 + record::MAX_CONTENT_TYPES as u64 + extra as u64
    );
    // Statuses past the cap, and content types past the cap on 200.
    assert_eq!(record.dropped_values, (extra + extra + 1) as u64);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn saves_only_when_changed_and_due() {
    let dir = temp_dir("due");
    let config = InventoryConfig {
        save_interval_secs: 30,
        ..Default::default()
    };
    let mut inv = inventory(&config, &dir);
    let file = dir.join(FILE_NAME);
    inv.save_if_due(at(0)).unwrap();
    assert!(!file.exists(), "nothing to save yet");

    inv.observe(&request("GET", "api", "/a", 200), &[], at(1));
    inv.save_if_due(at(1)).unwrap();
    assert_eq!(inv.counters().saves, 1);

    inv.observe(&request("GET", "api", "/b", 200), &[], at(2));
    inv.save_if_due(at(20)).unwrap();
    assert_eq!(inv.counters().saves, 1, "within the interval");
    inv.save_if_due(at(31)).unwrap();
    assert_eq!(inv.counters().saves, 2);
    inv.save_if_due(at(90)).unwrap();
    assert_eq!(inv.counters().saves, 2, "nothing changed");
    inv.save();
    assert_eq!(inv.counters().saves, 2, "nothing changed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn disabled_inventory_records_and_writes_nothing() {
    let dir = temp_dir("disabled");
    let config = InventoryConfig {
        enabled: false,
        ..Default::default()
    };
    let mut inv = inventory(&config, &dir);
    inv.observe(&request("GET", "api", "/a", 200), &[], at(1));
    inv.save();
    assert_eq!(inv.counters(), InventoryCounters::default());
    assert!(!dir.join(FILE_NAME).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn not_found_and_not_allowed_are_counted_per_host_not_catalogued() {
    let dir = temp_dir("unrouted");
    let mut inv = inventory(&InventoryConfig::default(), &dir);
    for i in 1..=12 {
        let x = request("GET", "api.acme.io", &format!("/nope{i}"), 404);
        assert!(inv.observe(&x, &[], at(i)).is_empty());
    }
    let x = request("DELETE", "shop.acme.io", "/api/cart", 405);
    inv.observe(&x, &[], at(20));
    assert!(inv.endpoints().is_empty(), "{:?}", inv.endpoints());
    let counters = inv.counters();
    assert_eq!(counters.unrouted, 13);
    assert_eq!(counters.unrouted_by_host.get("api.acme.io"), Some(&12));
    assert_eq!(counters.unrouted_by_host.get("shop.acme.io"), Some(&1));
    // An endpoint that exists keeps counting its 404s (an id not found).
    inv.observe(
        &request("GET", "api.acme.io", "/api/users/7", 200),
        &[],
        at(30),
    );
    inv.observe(
        &request("GET", "api.acme.io", "/api/users/8", 404),
        &[],
        at(31),
    );
    let (_, record) = only(&inv);
    assert_eq!(record.requests, 2);
    assert_eq!(inv.counters().unrouted, 13);
}
