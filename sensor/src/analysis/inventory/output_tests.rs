//! `sensor inventory` output: the OpenAPI document (checked by the
//! reference validator, openapi-spec-validator, which `cargo xtask setup`
//! installs), the table and the JSON.

use std::process::Command;

use serde_json::Value;

use super::tests::{as_client, at, inventory, request, temp_dir};
use super::*;
use crate::analysis::detect::tests::{detector, exchange};
use crate::analysis::detect::DetectConfig;

/// A saved inventory with two hosts, parameters of several kinds,
/// credentials, sensitive data and a status OpenAPI cannot express.
fn saved(dir: &Path) {
    let mut inv = inventory(&InventoryConfig::default(), dir);
    let detect = detector(&DetectConfig::default());
    let mut observe = |x: HttpExchange, secs| {
        let findings = detect.inspect(&x);
        inv.observe(&x, &findings, at(secs));
    };
    observe(
        exchange(
            "GET",
            "/users/4711/orders/93",
            &[
                ("Host", "shop.acme.io"),
                ("Authorization", "Bearer abc.def.ghi"),
            ],
            "",
            &[("Content-Type", "application/json")],
            r#"{"email":"ann@acme-mail.io"}"#,
        ),
        1,
    );
    observe(
        exchange(
            "GET",
            "/users/550e8400-e29b-41d4-a716-446655440000/orders/94",
            &[("Host", "shop.acme.io"), ("Cookie", "JSESSIONID=x")],
            "",
            &[("Content-Type", "application/problem+json")],
            "{}",
        ),
        2,
    );
    let mut not_found = request("GET", "shop.acme.io", "/users/4712/orders/95", 404);
    not_found.response.status = 404;
    observe(not_found, 3);
    observe(
        exchange(
            "POST",
            "/carts?api_key=k",
            &[
                ("Host", "shop.acme.io"),
                ("Content-Type", "application/json"),
            ],
            "{}",
            &[],
            "",
        ),
        4,
    );
    observe(request("GET", "admin.acme.io", "/healthz", 200), 5);
    observe(request("GET", "admin.acme.io", "/odd", 999), 6);
    observe(
        as_client(request("GET", "admin.acme.io", "/literal/{brace}", 200)),
        7,
    );
    observe(request("OPTIONS", "shop.acme.io", "*", 200), 8);
    inv.save();
    assert_eq!(inv.counters().saves, 1);
}

fn printed(dir: &Path, format: InventoryFormat) -> String {
    let mut out = Vec::new();
    print(dir, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn openapi_document_passes_the_reference_validator() {
    let dir = temp_dir("openapi");
    saved(&dir);
    let text = printed(&dir, InventoryFormat::Openapi);
    let file = dir.join("observed.json");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(open(sys.argv[1])))\n\
             print('valid')",
        ])
        .arg(&file)
        .output()
        .expect("running python3");
    assert!(
        out.status.success() && out.stdout.starts_with(b"valid"),
        "openapi-spec-validator (installed by cargo xtask setup) rejected the document:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn openapi_document_declares_what_was_seen() {
    let dir = temp_dir("openapi-shape");
    saved(&dir);
    let doc: Value = serde_json::from_str(&printed(&dir, InventoryFormat::Openapi)).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(
        doc["servers"],
        serde_json::json!([{"url": "http://admin.acme.io"}, {"url": "http://shop.acme.io"}])
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort();
    // `{id}` and `{uuid}` users merged; a segment with braces is not a word, so a `{token}`; `*` left out.
    assert_eq!(
        names,
        [
            "/carts",
            "/healthz",
            "/literal/{token}",
            "/odd",
            "/users/{param}/orders/{id}"
        ]
    );
    let orders = &paths["/users/{param}/orders/{id}"];
    assert_eq!(
        orders["servers"],
        serde_json::json!([{"url": "http://shop.acme.io"}])
    );
    let params: Vec<(&str, &str, bool)> = orders["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["in"].as_str().unwrap(),
                p["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(params, [("param", "path", true), ("id", "path", true)]);
    let get = &orders["get"];
    assert_eq!(get["responses"]["200"]["description"], "Observed 2 times");
    let types: Vec<&String> = get["responses"]["200"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(types, ["application/json", "application/problem+json"]);
    assert_eq!(get["responses"]["404"]["description"], "Observed once");
    assert_eq!(
        get["security"],
        serde_json::json!([{"bearer_auth": []}, {"cookie_JSESSIONID": []}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer_auth"],
        serde_json::json!({"type": "http", "scheme": "bearer"})
    );
    assert_eq!(get["x-observed"]["requests"], 3);
    assert_eq!(
        get["x-observed"]["sensitive_data"]["response"],
        serde_json::json!(["pii.email"])
    );

    let carts = &paths["/carts"]["post"];
    assert!(carts["requestBody"]["content"]["application/json"].is_object());
    assert_eq!(
        carts["security"],
        serde_json::json!([{"query_api_key": []}])
    );
    assert!(paths["/healthz"]["get"].get("security").is_none());
    // 999 is no OpenAPI status: it stays in x-observed.
    let odd = &paths["/odd"]["get"];
    assert!(odd["responses"]["default"].is_object());
    assert_eq!(odd["x-observed"]["other_statuses"]["999"], 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn table_and_json_show_templates_not_values() {
    let dir = temp_dir("table");
    saved(&dir);
    let table = printed(&dir, InventoryFormat::Table);
    let lines: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().take(4).collect();
    assert_eq!(header, ["METHOD", "HOST", "PATH", "REQUESTS"], "{table}");
    let users = lines
        .iter()
        .find(|l| l.contains("/users/{id}/orders/{id}"))
        .unwrap_or_else(|| panic!("{table}"));
    for cell in [
        "GET",
        "shop.acme.io",
        "200x1",
        "404x1",
        "bearer",
        "resp:pii.email",
        "no-csp",
        "api",
    ] {
        assert!(users.contains(cell), "{cell} missing from {users}");
    }
    assert!(table.contains("client:curl"), "{table}");
    assert_eq!(lines.last(), Some(&"7 endpoints"));

    let json: Value = serde_json::from_str(&printed(&dir, InventoryFormat::Json)).unwrap();
    let endpoints = json["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 7);
    let first = &endpoints[0];
    assert_eq!(first["host"], "admin.acme.io");
    assert_eq!(first["first_seen"], "2023-11-14T22:13:25Z");
    for text in [&table, &json.to_string()] {
        for raw in ["4711", "550e8400", "ann@", "abc.def"] {
            assert!(!text.contains(raw), "{raw} printed:\n{text}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn printing_without_an_inventory_says_where_it_looked() {
    let dir = temp_dir("none");
    let err = print(&dir, InventoryFormat::Table, &mut Vec::new()).unwrap_err();
    assert!(
        err.to_string()
            .contains(&*dir.join(FILE_NAME).to_string_lossy()),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
