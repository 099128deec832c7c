//! Runs the content detectors on arbitrary bytes as request and response
//! bodies of several content types, in the query string and in headers.
//! Checks that nothing panics, findings are well formed, and no finding
//! carries long raw runs of the input as evidence.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sensor::analysis::detect::{ContentDetector, DetectConfig, FingerprintKey};
use sensor::exchange::{
    Body, ConnectionInfo, Header, HttpExchange, HttpRequest, HttpResponse, Role, Timings,
};

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "text/html",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/xml",
    "image/png",
    "",
];

fn detector() -> &'static ContentDetector {
    static DETECTOR: OnceLock<ContentDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let config: DetectConfig = toml::from_str(
            "pii_in_requests = true\n[[rules]]\nid = \"custom.f\"\ncategory = \"secret\"\nseverity = \"low\"\nfield_names = [\"*key*\"]\n",
        )
        .unwrap();
        ContentDetector::with_key(&config, FingerprintKey::from_bytes([3; 32])).unwrap()
    })
}

fn body(data: &[u8]) -> Body {
    Body {
        raw: Bytes::copy_from_slice(data),
        decoded: None,
        wire_len: data.len() as u64,
        truncated: false,
        tail: Default::default(),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let ct = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let split = data.len() / 3;
    let (head, rest) = data.split_at(split);
    let text = String::from_utf8_lossy(head);
    let mut headers = vec![Header {
        name: "Authorization".into(),
        value: Bytes::copy_from_slice(head),
    }];
    if !ct.is_empty() {
        headers.push(Header {
            name: "Content-Type".into(),
            value: Bytes::from_static(ct.as_bytes()),
        });
    }
    let exchange = HttpExchange {
        connection: Arc::new(ConnectionInfo {
            pid: 1,
            comm: "fuzz".into(),
            fd: 3,
            generation: 1,
            role: Role::Server,
            local: None,
            remote: None,
            tls: selector & 0x80 != 0,
            process: Default::default(),
        }),
        request: HttpRequest {
            method: "POST".into(),
            target: format!("/p?{text}"),
            version: 1,
            headers: headers.clone(),
            trailers: Vec::new(),
            body: body(rest),
        },
        response: HttpResponse {
            status: 500,
            reason: String::new(),
            version: 1,
            headers: vec![Header {
                name: "Server".into(),
                value: Bytes::copy_from_slice(head),
            }]
            .into_iter()
            .chain(headers.into_iter().skip(1))
            .collect(),
            trailers: Vec::new(),
            body: body(rest),
        },
        timings: Timings::default(),
        upgraded: false,
        anomalies: Vec::new(),
        completed_unix_ns: 0,
    };
    for finding in detector().inspect(&exchange) {
        assert!(finding.count >= 1);
        assert_eq!(finding.fingerprint.len(), 32);
        assert!(!finding.summary.is_empty());
        let alert = sensor::alert::Alert::from_finding(
            &finding,
            &exchange,
            &sensor::endpoint::EndpointKey::of(&exchange),
            0,
            &sensor::origin::Origin::new("fuzz".into(), None),
        );
        serde_json::to_string(&alert).unwrap();
    }
});
