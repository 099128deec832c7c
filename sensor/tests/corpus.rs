//! The labelled corpus (`tests/corpus/cases.jsonl`, made by
//! `tests/corpus/generate.py`): realistic payloads with their expected
//! rules, true findings and hard negatives. Computes precision and recall
//! per category and fails below 0.95 recall or 0.98 precision; also checks
//! that no long value of a payload reaches a serialised alert.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use sensor::alert::Alert;
use sensor::analysis::detect::{ContentDetector, DetectConfig, FingerprintKey};
use sensor::exchange::{
    Body, ConnectionInfo, Header, HttpExchange, HttpRequest, HttpResponse, Role, Timings,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    /// `request` or `response`: which message carries body and headers.
    #[serde(rename = "where")]
    side: String,
    content_type: String,
    body: String,
    headers: Vec<(String, String)>,
    target: String,
    tls: bool,
    expect: Vec<String>,
}

fn exchange(case: &Case) -> HttpExchange {
    let mut headers: Vec<Header> = case
        .headers
        .iter()
        .map(|(n, v)| Header {
            name: n.clone().into(),
            value: Bytes::copy_from_slice(v.as_bytes()),
        })
        .collect();
    if !case.content_type.is_empty() {
        headers.push(Header {
            name: "Content-Type".into(),
            value: Bytes::copy_from_slice(case.content_type.as_bytes()),
        });
    }
    let body = Body {
        raw: Bytes::copy_from_slice(case.body.as_bytes()),
        decoded: None,
        wire_len: case.body.len() as u64,
        truncated: false,
        tail: Default::default(),
    };
    let request_side = case.side == "request";
    let (req_headers, req_body, resp_headers, resp_body) = if request_side {
        (headers, body, Vec::new(), Body::default())
    } else {
        (Vec::new(), Body::default(), headers, body)
    };
    HttpExchange {
        connection: Arc::new(ConnectionInfo {
            pid: 1,
            comm: "corpus".into(),
            fd: 3,
            generation: 1,
            role: Role::Server,
            local: Some("127.0.0.1:8080".parse().unwrap()),
            remote: Some("127.0.0.1:40000".parse().unwrap()),
            tls: case.tls,
            process: Default::default(),
        }),
        request: HttpRequest {
            method: if request_side { "POST" } else { "GET" }.into(),
            target: case.target.as_str().into(),
            version: 1,
            headers: req_headers,
            trailers: Vec::new(),
            body: req_body,
        },
        response: HttpResponse {
            status: 200,
            reason: "OK".into(),
            version: 1,
            headers: resp_headers,
            trailers: Vec::new(),
            body: resp_body,
        },
        timings: Timings::default(),
        upgraded: false,
        anomalies: Vec::new(),
        completed_unix_ns: 1_717_200_000_000_000_000,
    }
}

fn category(rule: &str) -> &'static str {
    match rule.split('.').next() {
        Some("pii") => "sensitive_data",
        Some("secret") => "secret",
        _ => "verbose_error",
    }
}

/// Runs of value characters, 10 or longer with a digit: the raw values
/// (tokens, numbers, keys) a payload carries.
fn long_values(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/_$.=-@".contains(c)))
        .filter(|w| w.len() >= 10 && w.bytes().any(|b| b.is_ascii_digit()))
        .collect()
}

#[test]
fn precision_and_recall_per_category() {
    let text = include_str!("../../tests/corpus/cases.jsonl");
    let detector = ContentDetector::with_key(
        &DetectConfig::default(),
        FingerprintKey::from_bytes([9; 32]),
    )
    .unwrap();
    // category -> (true positives, false positives, false negatives)
    let mut score: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
    let mut mistakes = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Case = serde_json::from_str(line).unwrap();
        let x = exchange(&case);
        let findings = detector.inspect(&x);
        let found: BTreeSet<String> = findings.iter().map(|f| f.rule.clone()).collect();
        let expected: BTreeSet<String> = case.expect.iter().cloned().collect();
        for rule in found.union(&expected) {
            let entry = score.entry(category(rule)).or_default();
            match (found.contains(rule), expected.contains(rule)) {
                (true, true) => entry.0 += 1,
                (true, false) => {
                    entry.1 += 1;
                    mistakes.push(format!("{}: unexpected {rule}", case.name));
                }
                (false, true) => {
                    entry.2 += 1;
                    mistakes.push(format!("{}: missed {rule}", case.name));
                }
                (false, false) => {}
            }
        }
        // Verbose-error evidence is the marker itself (a path, a frame);
        // everything else must never show its value.
        let query = case.target.split_once('?').map_or("", |(_, q)| q);
        for finding in findings
            .iter()
            .filter(|f| category(&f.rule) != "verbose_error")
        {
            let json = serde_json::to_string(&Alert::from_finding(
                finding,
                &x,
                &sensor::endpoint::EndpointKey::of(&x),
                x.completed_unix_ns,
                &sensor::origin::Origin::new("web-1".into(), None),
            ))
            .unwrap();
            for value in long_values(&case.body).into_iter().chain(
                case.headers
                    .iter()
                    .flat_map(|(_, v)| long_values(v))
                    .chain(long_values(query)),
            ) {
                assert!(
                    !json.contains(value),
                    "{}: raw `{value}` in {json}",
                    case.name
                );
            }
        }
    }
    println!(
        "{:<16} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "category", "tp", "fp", "fn", "precision", "recall"
    );
    let mut failed = Vec::new();
    for (cat, (tp, fp, fn_)) in &score {
        let precision = f64::from(*tp) / f64::from((tp + fp).max(1));
        let recall = f64::from(*tp) / f64::from((tp + fn_).max(1));
        println!("{cat:<16} {tp:>4} {fp:>4} {fn_:>4} {precision:>9.3} {recall:>7.3}");
        if precision < 0.98 || recall < 0.95 {
            failed.push(format!(
                "{cat}: precision {precision:.3}, recall {recall:.3}"
            ));
        }
    }
    for m in &mistakes {
        println!("  {m}");
    }
    assert_eq!(score.len(), 3, "every category is exercised");
    assert!(failed.is_empty(), "{failed:?}\n{mistakes:#?}");
}
