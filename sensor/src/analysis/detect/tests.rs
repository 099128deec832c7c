//! Behaviour of the whole detector on built exchanges: what fires where,
//! merging, allowlists, custom rules, and that raw values stay inside.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::exchange::{Body, ConnectionInfo, Header, HttpRequest, HttpResponse, Role, Timings};

pub(crate) fn exchange(
    method: &str,
    target: &str,
    request_headers: &[(&str, &str)],
    request_body: &str,
    response_headers: &[(&str, &str)],
    response_body: &str,
) -> HttpExchange {
    let headers = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(n, v)| Header {
                name: (*n).into(),
                value: Bytes::copy_from_slice(v.as_bytes()),
            })
            .collect()
    };
    let body = |text: &str| Body {
        raw: Bytes::copy_from_slice(text.as_bytes()),
        decoded: None,
        wire_len: text.len() as u64,
        truncated: false,
        tail: Default::default(),
    };
    HttpExchange {
        connection: Arc::new(ConnectionInfo {
            pid: 42,
            comm: "api".into(),
            fd: 3,
            generation: 1,
            role: Role::Server,
            local: Some("10.0.0.5:8080".parse().unwrap()),
            remote: Some("10.0.0.9:50000".parse().unwrap()),
            tls: false,
            process: Default::default(),
        }),
        request: HttpRequest {
            method: method.into(),
            target: target.into(),
            version: 1,
            headers: headers(request_headers),
            trailers: Vec::new(),
            body: body(request_body),
        },
        response: HttpResponse {
            status: 200,
            reason: "OK".into(),
            version: 1,
            headers: headers(response_headers),
            trailers: Vec::new(),
            body: body(response_body),
        },
        timings: Timings::default(),
        upgraded: false,
        anomalies: Vec::new(),
        completed_unix_ns: 1_700_000_000_000_000_000,
    }
}

pub(crate) fn detector(config: &DetectConfig) -> ContentDetector {
    ContentDetector::with_key(config, FingerprintKey::from_bytes([7; 32])).unwrap()
}

const JSON: &[(&str, &str)] = &[("Content-Type", "application/json")];
const HTML: &[(&str, &str)] = &[("Content-Type", "text/html")];

fn rules_of(findings: &[Finding]) -> Vec<String> {
    let mut r: Vec<String> = findings.iter().map(|f| f.rule.clone()).collect();
    r.sort();
    r
}

fn response(ct: &[(&str, &str)], body: &str) -> Vec<String> {
    let d = detector(&DetectConfig::default());
    rules_of(&d.inspect(&exchange("GET", "/x", &[], "", ct, body)))
}

#[test]
fn json_fields_are_walked_with_paths_and_merged() {
    let d = detector(&DetectConfig::default());
    let body = r#"{"users":[{"id":1,"ssn":"536-22-8726","email":"ann@acme-mail.io"},{"id":2,"ssn":"536-22-8727","email":"bob@acme-mail.io"}],"card":"4539 5787 6362 1486"}"#;
    let findings = d.inspect(&exchange("GET", "/users", &[], "", JSON, body));
    assert_eq!(rules_of(&findings), ["pii.card", "pii.email", "pii.ssn"]);
    let ssn = findings.iter().find(|f| f.rule == "pii.ssn").unwrap();
    assert_eq!(ssn.count, 2);
    assert_eq!(ssn.location.name.as_deref(), Some("$.users[*].ssn"));
    assert_eq!(ssn.evidence, "***-**-****");
    let card = findings.iter().find(|f| f.rule == "pii.card").unwrap();
    assert_eq!(card.location.name.as_deref(), Some("$.card"));
    assert_eq!(card.evidence, "**** **** **** 1486");
    assert_eq!(card.summary, "Payment card number in response body $.card.");
}

#[test]
fn published_example_values_are_low_findings_of_their_own() {
    let body = r#"{"card":"4111 1111 1111 1111","iban":"GB82 WEST 1234 5698 7654 32","phone":"415-555-0142","ssn":"078-05-1120","to":"qa@example.com"}"#;
    let x = exchange("GET", "/x", &[], "", JSON, body);
    let findings = detector(&DetectConfig::default()).inspect(&x);
    assert_eq!(
        rules_of(&findings),
        [
            "pii.example.card",
            "pii.example.iban",
            "pii.example.phone",
            "pii.example.ssn"
        ]
    );
    let card = findings
        .iter()
        .find(|f| f.rule == "pii.example.card")
        .unwrap();
    assert_eq!(card.severity, Severity::Low);
    assert_eq!(card.evidence, "**** **** **** 1111");
    // Fingerprinted as the value it is, whatever its spacing.
    let spaced = |v: &str| {
        let x = exchange("GET", "/x", &[], "", JSON, &format!(r#"{{"card":"{v}"}}"#));
        detector(&DetectConfig::default()).inspect(&x)[0]
            .fingerprint
            .clone()
    };
    assert_eq!(spaced("4111111111111111"), card.fingerprint);

    // With `report_example_values` they are ordinary findings of the rule.
    let config = DetectConfig {
        report_example_values: true,
        ..DetectConfig::default()
    };
    let findings = detector(&config).inspect(&x);
    assert_eq!(
        rules_of(&findings),
        ["pii.card", "pii.email", "pii.iban", "pii.phone", "pii.ssn"]
    );
    // Disabled, an example rule reports nothing, and the value is no
    // finding of the rule it stands for either.
    let config = DetectConfig {
        disabled_rules: vec!["pii.example.*".into()],
        ..DetectConfig::default()
    };
    assert!(detector(&config).inspect(&x).is_empty());
}

#[test]
fn table_of_response_bodies() {
    for (ct, body, want) in [
        (JSON, r#"{"password":"hunter2"}"#, &["pii.sensitive_field"][..]),
        (JSON, r#"{"password":""}"#, &[]),
        (JSON, r#"{"password":"********"}"#, &[]),
        (JSON, r#"{"password_hash":"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"}"#, &["secret.password_hash"]),
        (JSON, r#"{"checksum":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}"#, &[]),
        (JSON, r#"{"id":"550e8400-e29b-41d4-a716-446655440000","order":"4539578763621487"}"#, &[]),
        (JSON, r#"{"ts":1700000000123,"created":"2024-01-15 12:30:00"}"#, &[]),
        (JSON, r#"{"dob":"1984-03-12"}"#, &["pii.date_of_birth"]),
        (JSON, r#"{"passport_number":"X1234567"}"#, &["pii.government_id"]),
        (JSON, r#"{"backend":"10.12.4.7"}"#, &["pii.private_ip"]),
        (JSON, r#"{"version":"10.4"}"#, &[]),
        (JSON, r#"{"iban":"DE44500105175407324931"}"#, &["pii.iban"]),
        (JSON, r#"{"iban":"DE89370400440532013000"}"#, &["pii.example.iban"]),
        (JSON, r#"{"phone":"+1 415 867 2309"}"#, &["pii.phone"]),
        (JSON, r#"{"card":"4111111111111111"}"#, &["pii.example.card"]),
        (JSON, r#"{"key":"AKIAIOSFODNN7EXAMPLE"}"#, &[]),
        (JSON, r#"{"key":"AKIAZ3MHQX7KDPLR4WTN"}"#, &["secret.aws_access_key_id"]),
        (JSON, r#"{"db":"postgres://app:Zq8vT3xK@db.internal:5432/main"}"#, &["secret.database_uri"]),
        (JSON, r#"{"db":"postgres://app:${DB_PASSWORD}@db.internal:5432/main"}"#, &[]),
        (HTML, "<pre>Traceback (most recent call last):\n  File \"/srv/app/views.py\", line 12, in get\n", &["error.filesystem_path", "error.stack_trace.python", "error.stack_trace.python"]),
        (HTML, "You have an error in your SQL syntax; check the manual", &["error.sql.mysql"]),
        (HTML, "<h1>Whitelabel Error Page</h1><div>java.lang.IllegalStateException\n\tat com.acme.Api.get(Api.java:42)</div>", &["error.debug_page.spring", "error.stack_trace.jvm"]),
        (HTML, "<h1>Whitelabel Error Page</h1><div>There was an unexpected error (type=Not Found, status=404).</div>", &[]),
        (HTML, "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()", &["error.stack_trace.go"]),
        (JSON, r#"{"error":"ORA-00933: SQL command not properly ended"}"#, &["error.sql.oracle"]),
        (JSON, r#"{"error":"not found"}"#, &[]),
        (&[("Content-Type", "image/png")], "password=hunter2 4539578763621486", &[]),
    ] {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        want.dedup();
        assert_eq!(response(ct, body), want, "{body}");
    }
}

#[test]
fn request_line_headers_and_forms() {
    let d = detector(&DetectConfig::default());
    let token = github_token("ghp_");
    let target = format!("/hook?access={token}&q=1");
    let x = exchange(
        "POST",
        &target,
        &[
            ("Authorization", "Basic YWxpY2U6czNjcjN0"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "email=ann%40acme-mail.io&password=x",
        &[
            ("Server", "Apache/2.4.41 (Ubuntu)"),
            ("X-Powered-By", "PHP/7.4.3"),
        ],
        "",
    );
    let findings = d.inspect(&x);
    assert_eq!(
        rules_of(&findings),
        [
            "error.version_banner",
            "error.version_banner",
            "secret.basic_auth",
            "secret.github_token"
        ]
    );
    let gh = findings
        .iter()
        .find(|f| f.rule == "secret.github_token")
        .unwrap();
    assert_eq!(
        gh.location,
        Location {
            message: Message::Request,
            part: Part::Query,
            name: Some("access".into())
        }
    );
    assert_eq!(gh.evidence, "ghp_****");
    let mut tls = x.clone();
    Arc::make_mut(&mut tls.connection).tls = true;
    assert!(!rules_of(&d.inspect(&tls)).contains(&"secret.basic_auth".to_string()));
}

pub(crate) fn github_token(prefix: &str) -> String {
    let body = "Xk2pQ9rT4vW7yZ1bC3dE5fG8hJ0mN6";
    format!(
        "{prefix}{body}{}",
        String::from_utf8_lossy(&validators::base62_crc32(body.as_bytes()))
    )
}

#[test]
fn jwt_problems_are_findings() {
    let none = jwt::encode(
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"sub":"u1","iat":1700000000,"exp":1700000600}"#,
        "",
    );
    let forever = jwt::encode(
        r#"{"alg":"HS256"}"#,
        r#"{"sub":"u1","iat":1700000000}"#,
        "c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    );
    let fine = jwt::encode(
        r#"{"alg":"HS256"}"#,
        r#"{"sub":"u1","iat":1700000000,"exp":1700000600}"#,
        "c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    );
    for (token, want) in [
        (none, vec!["secret.jwt_alg_none"]),
        (forever, vec!["secret.jwt_no_expiry"]),
        (fine, vec![]),
    ] {
        let d = detector(&DetectConfig::default());
        let auth = format!("Bearer {token}");
        let got = rules_of(&d.inspect(&exchange(
            "GET",
            "/",
            &[("Authorization", &auth)],
            "",
            &[],
            "",
        )));
        assert_eq!(got, want);
    }
}

#[test]
fn healthy_jwt_is_a_finding_in_a_response_body_or_url() {
    let fine = jwt::encode(
        r#"{"alg":"HS256"}"#,
        r#"{"sub":"u1","iat":1700000000,"exp":1700000600}"#,
        "c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    );
    let d = detector(&DetectConfig::default());
    let body = format!(r#"{{"data": "{fine}"}}"#);
    let in_body = d.inspect(&exchange("GET", "/x", &[], "", JSON, &body));
    assert_eq!(rules_of(&in_body), vec!["secret.jwt_exposed"]);
    assert!(!in_body[0].evidence.contains(&fine[fine.len() - 8..]));
    let url = format!("/cb?state=1&id_token={fine}");
    let in_url = d.inspect(&exchange("GET", &url, &[], "", &[], ""));
    assert_eq!(rules_of(&in_url), vec!["secret.jwt_exposed"]);
    // Where a token belongs (a request's Authorization header), or a
    // token that does not decode, is not one.
    let auth = format!("Bearer {fine}");
    let in_header = d.inspect(&exchange(
        "GET",
        "/",
        &[("Authorization", &auth)],
        "",
        &[],
        "",
    ));
    assert_eq!(rules_of(&in_header), Vec::<String>::new());
    let broken =
        r#"{"data": "eyJhbGciOieeeiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"}"#;
    assert_eq!(response(JSON, broken), Vec::<String>::new());
}

#[test]
fn config_disables_overrides_allows_and_adds_rules() {
    let config: DetectConfig = toml::from_str(
        r#"
        disabled_rules = ["error.*"]
        severity = { "pii.email" = "low" }
        [[allow]]
        rules = ["pii.card"]
        endpoints = ["GET /public/*"]
        [[rules]]
        id = "custom.internal_token"
        category = "secret"
        severity = "critical"
        regex = "\\bitk_[0-9a-f]{16}\\b"
        keywords = ["itk_"]
        [[rules]]
        id = "custom.employee_id"
        category = "sensitive_data"
        severity = "medium"
        field_names = ["employee*id"]
        "#,
    )
    .unwrap();
    let d = detector(&config);
    let body = r#"{"email":"ann@acme-mail.io","card":"4539578763621486","t":"itk_0123456789abcdef","employee_id":"E-77","err":"You have an error in your SQL syntax"}"#;
    let public = d.inspect(&exchange("GET", "/public/x", &[], "", JSON, body));
    assert_eq!(
        rules_of(&public),
        ["custom.employee_id", "custom.internal_token", "pii.email"]
    );
    assert_eq!(
        public
            .iter()
            .find(|f| f.rule == "pii.email")
            .unwrap()
            .severity,
        Severity::Low
    );
    let private = d.inspect(&exchange("GET", "/private/x", &[], "", JSON, body));
    assert!(rules_of(&private).contains(&"pii.card".to_string()));
    let fp = private
        .iter()
        .find(|f| f.rule == "pii.card")
        .unwrap()
        .fingerprint
        .clone();
    let by_fp: DetectConfig =
        toml::from_str(&format!("[[allow]]\nfingerprints = [\"{fp}\"]\n")).unwrap();
    assert!(
        !rules_of(&detector(&by_fp).inspect(&exchange("GET", "/", &[], "", JSON, body)))
            .contains(&"pii.card".to_string())
    );
}

#[test]
fn bad_rules_are_named() {
    for (toml_text, needle) in [
        ("[[rules]]\nid = \"custom.bad\"\ncategory = \"secret\"\nseverity = \"high\"\nregex = \"(unclosed\"\n", "custom.bad"),
        ("[[rules]]\nid = \"custom.empty\"\ncategory = \"secret\"\nseverity = \"high\"\n", "custom.empty"),
        ("[[rules]]\nid = \"custom.v\"\ncategory = \"secret\"\nseverity = \"high\"\nregex = \"x\"\nvalidator = \"nope\"\n", "custom.v"),
        ("[[rules]]\nid = \"pii.email\"\ncategory = \"secret\"\nseverity = \"high\"\nregex = \"x\"\n", "pii.email"),
        ("disabled_rules = [\"pii.nope\"]\n", "pii.nope"),
        ("severity = { \"pii.nope\" = \"low\" }\n", "pii.nope"),
        ("[[allow]]\n", "detect.allow[0]"),
    ] {
        let config: DetectConfig = toml::from_str(toml_text).unwrap();
        let err = ContentDetector::validate(&config).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn builtin_rules_are_unique_and_described() {
    let rules = builtin_rules();
    let mut ids: Vec<&str> = rules.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len());
    assert!(rules.iter().all(|r| !r.description.is_empty()));
    assert!(rules.len() >= 60, "{}", rules.len());
}

#[test]
fn debug_output_holds_no_key_or_values() {
    let d = detector(&DetectConfig::default());
    let text = format!("{d:?}");
    assert!(text.starts_with("ContentDetector"), "{text}");
}

#[test]
fn ambiguous_framing_is_a_protocol_finding_with_both_readings() {
    use crate::exchange::{Anomaly, MessageKind, Reading};
    let d = detector(&DetectConfig::default());
    let mut x = exchange("POST", "/", &[], "", &[], "ok");
    x.anomalies.push(Anomaly::AmbiguousFraming {
        message: MessageKind::Request,
        shape: crate::http::BOTH_LENGTHS,
        followed: Reading {
            framing: "chunked",
            body_end: Some(5),
        },
        other: Reading {
            framing: "content-length",
            body_end: Some(48),
        },
    });
    let findings = d.inspect(&x);
    let f = findings
        .iter()
        .find(|f| f.rule == "protocol.ambiguous_framing")
        .expect("a protocol finding");
    assert_eq!(f.category, Category::Protocol);
    assert_eq!(f.location.name.as_deref(), Some("Transfer-Encoding"));
    assert!(
        f.summary.contains("5 bytes") && f.summary.contains("48 bytes"),
        "{}",
        f.summary
    );
}

#[test]
fn the_end_of_a_long_body_is_inspected() {
    let d = detector(&DetectConfig::default());
    let mut x = exchange("GET", "/dump", &[], "", JSON, r#"{"rows":["aaaa","#);
    x.response.body.truncated = true;
    x.response.body.tail = Bytes::from_static(b"\"zz\"],\"aws\":\"AKIAZ3MSJV4WWNKWQXMT\"}");
    let findings = d.inspect(&x);
    assert!(
        findings.iter().any(|f| f.rule.starts_with("secret.aws")),
        "{findings:?}"
    );
}

/// Banners allowed on `GET /health` only.
fn banner_allowed_on_health() -> DetectConfig {
    toml::from_str(
        r#"
        [[allow]]
        rules = ["error.version_banner"]
        endpoints = ["GET /health"]
        "#,
    )
    .unwrap()
}

#[test]
fn header_findings_are_remembered_by_value_and_allowlists_still_apply() {
    let d = detector(&banner_allowed_on_health());
    let at = |target: &str, server: &str| {
        d.inspect(&exchange("GET", target, &[], "", &[("Server", server)], ""))
    };
    let first = at("/x", "nginx/1.24.0");
    assert_eq!(rules_of(&first), ["error.version_banner"]);
    for again in [at("/x", "nginx/1.24.0"), at("/y", "nginx/1.24.0")] {
        assert_eq!(rules_of(&again), ["error.version_banner"]);
        assert_eq!(again[0].evidence, first[0].evidence);
        assert_eq!(again[0].fingerprint, first[0].fingerprint);
        assert_eq!(again[0].location, first[0].location);
        assert_eq!(again[0].summary, first[0].summary);
        assert_eq!(again[0].count, 1);
    }
    // The endpoint's allowlist drops it, remembered or not.
    assert!(at("/health", "nginx/1.24.0").is_empty());
    let other = at("/x", "nginx/1.25.3");
    assert_eq!(other[0].evidence, "nginx/1.25.3");
    assert_ne!(other[0].fingerprint, first[0].fingerprint);
    assert!(at("/x", "nginx").is_empty());
}

#[test]
fn banners_reported_already_are_dropped_before_they_are_built() {
    let d = detector(&banner_allowed_on_health());
    let x = |target: &str| {
        exchange(
            "GET",
            target,
            &[],
            "",
            &[("Server", "nginx/1.24.0"), ("X-Powered-By", "PHP/7.4.3")],
            r#"{"card":"4539 5787 6362 1486"}"#,
        )
    };
    let all = d.inspect(&x("/x"));
    let nginx = all
        .iter()
        .find(|f| f.evidence == "nginx/1.24.0")
        .unwrap()
        .fingerprint
        .clone();
    let mut asked = Vec::new();
    let quiet = d.inspect_quieting(
        &x("/x"),
        &mut Scratch::default(),
        &mut |fingerprint| {
            asked.push(fingerprint.to_owned());
            fingerprint == nginx
        },
        None,
    );
    // Both banners asked about, the reported one dropped, the rest kept
    // as `inspect` makes them.
    assert_eq!(asked.len(), 2);
    assert_eq!(rules_of(&quiet), ["error.version_banner", "pii.card"]);
    assert_eq!(quiet[0].evidence, "PHP/7.4.3");
    let kept: Vec<_> = all.iter().filter(|f| f.fingerprint != nginx).collect();
    assert_eq!(
        format!("{kept:?}"),
        format!("{:?}", quiet.iter().collect::<Vec<_>>())
    );
    // What an allowlist drops is not asked about (not a repeat).
    asked.clear();
    let allowed = d.inspect_quieting(
        &x("/health"),
        &mut Scratch::default(),
        &mut |fingerprint| {
            asked.push(fingerprint.to_owned());
            true
        },
        None,
    );
    assert!(asked.is_empty());
    assert_eq!(rules_of(&allowed), ["pii.card"]);
}

#[test]
fn buffers_kept_between_exchanges_change_no_finding() {
    let d = detector(&DetectConfig::default());
    let bodies = [
        r#"{"users":[{"email":"ann.lee@acme-mail.io","card":"4539 5787 6362 1486"},{"email":"bo.ek@acme-mail.io"}]}"#,
        r#"{"ok":true}"#,
        r#"{"ssn":"536-22-8726","notes":"call 415-555-0142","token":"ghp_8Yq3kz0aVb1cD2eF3gH4iJ5kL6mN7oP8qR9s"}"#,
        r#"{"users":[{"email":"ann.lee@acme-mail.io"}]}"#,
    ];
    let mut scratch = Scratch::default();
    for round in 0..2 {
        for body in bodies {
            let x = exchange(
                "GET",
                "/u",
                &[],
                "",
                &[("Content-Type", "application/json")],
                body,
            );
            let kept = d.inspect_quieting(&x, &mut scratch, &mut |_| false, None);
            assert_eq!(
                format!("{kept:?}"),
                format!("{:?}", d.inspect(&x)),
                "round {round}: {body}"
            );
        }
    }
}

#[test]
fn a_finding_that_folds_keeps_no_words() {
    let d = detector(&DetectConfig::default());
    let x = exchange(
        "GET",
        "/u",
        &[],
        "",
        &[
            ("Content-Type", "application/json"),
            ("Server", "nginx/1.24.0"),
        ],
        r#"{"users":[{"email":"ann.lee@acme-mail.io","card":"4539 5787 6362 1486"},{"email":"bo.ek@acme-mail.io","card":"4539 5787 6362 1486"}]}"#,
    );
    let all = d.inspect(&x);
    let mut asked = Vec::new();
    let mut fold = |rule: &str, fingerprint: &str| {
        asked.push((rule.to_owned(), fingerprint.to_owned()));
        rule == "pii.card"
    };
    let folded = d.inspect_quieting(&x, &mut Scratch::default(), &mut |_| false, Some(&mut fold));
    // Asked once per new finding with the fingerprint it would carry;
    // never for a banner (the noise filter may still drop it).
    let want: Vec<_> = all
        .iter()
        .filter(|f| f.rule != "error.version_banner")
        .map(|f| (f.rule.clone(), f.fingerprint.clone()))
        .collect();
    assert_eq!(asked, want);
    assert_eq!(all.len(), folded.len());
    for (a, f) in all.iter().zip(&folded) {
        if a.rule == "pii.card" {
            assert!(f.folded);
            assert_eq!((f.evidence.as_str(), f.fingerprint.as_str()), ("", ""));
            assert_eq!(f.summary, "");
            assert_eq!((&f.location, f.count), (&a.location, a.count));
        } else {
            assert_eq!(a, f);
        }
    }
}
