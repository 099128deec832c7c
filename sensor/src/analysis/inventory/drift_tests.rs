//! Shadow and zombie APIs against small reference specs, and the spec
//! reader itself.

use serde_json::json;

use super::spec::{Lookup, ReferenceSpec, Scope};
use super::tests::{as_client, at, fingerprint_key, inventory, request, temp_dir};
use super::*;
use crate::analysis::detect::Category;

const SPEC_YAML: &str = r#"
openapi: 3.0.3
info: {title: Shop, version: "2.0"}
servers:
  - url: https://shop.acme.io/api
  - url: http://{env}.acme.io:8080/api
    variables:
      env: {default: staging}
paths:
  /v1/users/{userId}:
    get: {responses: {200: {description: ok}}}
  /v2/users/{userId}:
    get: {responses: {200: {description: ok}}}
    delete: {responses: {204: {description: gone}}}
  /users/me:
    get: {responses: {200: {description: ok}}}
  /orders:
    get: {responses: {200: {description: ok}}}
  /legacy/export:
    post:
      deprecated: true
      responses: {200: {description: ok}}
  /avatars/{file}.png:
    get: {responses: {200: {description: ok}}}
"#;

fn spec_config(name: &str, text: &str) -> (PathBuf, InventoryConfig) {
    let dir = temp_dir(name);
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let config = InventoryConfig {
        spec: Some(path),
        ..Default::default()
    };
    config.validate().unwrap();
    (dir, config)
}

/// The rules the inventory reports for each exchange, in order.
fn rules(inv: &mut Inventory, exchanges: &[(HttpExchange, i64)]) -> Vec<Vec<String>> {
    exchanges
        .iter()
        .map(|(x, secs)| {
            inv.observe(x, &[], at(*secs))
                .into_iter()
                .map(|f| f.rule)
                .collect()
        })
        .collect()
}

#[test]
fn shadow_and_zombie_apis_against_a_yaml_spec() {
    let (dir, config) = spec_config("openapi.yaml", SPEC_YAML);
    let mut inv = inventory(&config, &dir);
    let shop = "shop.acme.io";
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // Documented: parameters match whatever their names, HEAD rides on
        // GET, OPTIONS on the path, the literal beats the template.
        ("GET", shop, "/api/v2/users/4711", &[]),
        (
            "GET",
            shop,
            "/api/v2/users/550e8400-e29b-41d4-a716-446655440000",
            &[],
        ),
        ("HEAD", shop, "/api/v2/users/4711", &[]),
        ("OPTIONS", shop, "/api/orders", &[]),
        ("GET", shop, "/api/users/me", &[]),
        ("GET", shop, "/api/orders/", &[]),
        ("GET", shop, "/api/avatars/4711.png", &[]),
        ("GET", "staging.acme.io:8080", "/api/orders", &[]),
        // Shadow: an undocumented path, method or file type; a path outside
        // the servers' base path.
        ("GET", shop, "/api/admin/debug", &[SHADOW_API]),
        ("DELETE", shop, "/api/orders", &[SHADOW_API]),
        ("GET", shop, "/api/avatars/4711.gif", &[SHADOW_API]),
        ("GET", shop, "/orders", &[SHADOW_API]),
        // Zombie: deprecated, or an older version than the spec's newest.
        ("POST", shop, "/api/legacy/export", &[ZOMBIE_API]),
        ("GET", shop, "/api/v1/users/4711", &[ZOMBIE_API]),
        // Not documented but an old version: zombie, not also shadow.
        ("DELETE", shop, "/api/v1/users/4711", &[ZOMBIE_API]),
        // A host the spec does not speak for.
        ("GET", "blog.acme.io", "/wp-admin", &[]),
    ];
    let exchanges: Vec<(HttpExchange, i64)> = cases
        .iter()
        .map(|(m, h, t, _)| (request(m, h, t, 200), 1))
        .collect();
    let got = rules(&mut inv, &exchanges);
    for ((m, h, t, want), got) in cases.iter().zip(&got) {
        assert_eq!(got, want, "{m} {h}{t}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_finding_per_endpoint_until_it_was_quiet_for_long() {
    let (dir, config) = spec_config(
        "openapi.json",
        r#"{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{"/orders":{"get":{}}}}"#,
    );
    let config = InventoryConfig {
        realert_after_secs: 3600,
        ..config
    };
    let mut inv = inventory(&config, &dir);
    // One endpoint, `/admin/{id}`, at these seconds.
    let shadow = |id: u32, secs: i64| (request("GET", "api", &format!("/admin/{id}"), 200), secs);
    let got = rules(
        &mut inv,
        &[
            shadow(1, 0),
            shadow(2, 10),
            shadow(3, 3000),
            // 3599 s after the previous one: still the same stretch.
            shadow(4, 6599),
            // An hour of quiet: reported again.
            shadow(5, 10_199),
            shadow(6, 10_200),
        ],
    );
    assert_eq!(
        got,
        [
            vec![SHADOW_API.to_owned()],
            vec![],
            vec![],
            vec![],
            vec![SHADOW_API.to_owned()],
            vec![]
        ]
    );

    // A restart remembers what was reported.
    inv.save();
    let mut again = inventory(&config, &dir);
    assert!(again
        .observe(&request("GET", "api", "/admin/7", 200), &[], at(10_300))
        .is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn findings_are_shaped_like_the_content_detectors() {
    let (dir, config) = spec_config(
        "spec.json",
        r#"{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"deprecated":true}}}}"#,
    );
    let mut inv = inventory(&config, &dir);
    let shadow = inv.observe(
        &request("GET", "api", "/users/4711?email=x", 200),
        &[],
        at(0),
    );
    let zombie = inv.observe(&request("GET", "api", "/a", 200), &[], at(0));
    let (shadow, zombie) = (&shadow[0], &zombie[0]);
    assert_eq!(shadow.category, Category::Inventory);
    assert_eq!(shadow.evidence, "GET api/users/{id}");
    assert_eq!(
        shadow.fingerprint,
        fingerprint_key().fingerprint(b"GET api/users/{id}")
    );
    assert_eq!(
        shadow.summary,
        "Shadow API: GET api/users/{id} is not in the reference spec."
    );
    assert!(!shadow.summary.contains("4711"));
    assert_eq!(zombie.rule, ZOMBIE_API);
    assert_eq!(zombie.category, Category::Inventory);
    assert_eq!(
        zombie.summary,
        "Zombie API: GET api/a is deprecated in the reference spec but still in use."
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zombies_from_traffic_alone_and_who_is_judged() {
    let dir = temp_dir("traffic");
    let mut inv = inventory(&InventoryConfig::default(), &dir);
    let got = rules(
        &mut inv,
        &[
            (request("GET", "api", "/v1/items/1", 200), 0),
            // A client calling someone else's API is not judged.
            (as_client(request("GET", "ext", "/v1/things", 200)), 1),
            (as_client(request("GET", "ext", "/v2/things", 200)), 2),
            (as_client(request("GET", "ext", "/v1/things", 200)), 3),
            // No spec: nothing is a shadow.
            (request("GET", "api", "/v2beta1/items/2", 200), 4),
            (request("GET", "api", "/v1/items/3", 200), 5),
            (request("GET", "api", "/v2/items/4", 200), 6),
            (request("GET", "api", "/v2beta1/items/5", 200), 7),
            (request("GET", "other", "/v1/items/6", 200), 8),
        ],
    );
    let z = || vec![ZOMBIE_API.to_owned()];
    assert_eq!(
        got,
        [
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            z(),
            vec![],
            z(),
            vec![]
        ]
    );
    let finding = &inv.observe(&request("GET", "api2", "/v2/x", 200), &[], at(9));
    assert!(finding.is_empty());
    let finding = inv.observe(&request("GET", "api2", "/v1/x", 200), &[], at(10));
    assert_eq!(
        finding[0].summary,
        "Zombie API: GET api2/v1/x still answers although v2 of it exists in the traffic."
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_spec_naming_hosts_judges_clients_too_and_swagger_2_works() {
    let (dir, config) = spec_config(
        "swagger.json",
        &json!({
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "host": "Partner.Example.com:443",
            "basePath": "/rest/",
            "paths": {"/v2/quotes": {"get": {"responses": {"200": {"description": "ok"}}}}}
        })
        .to_string(),
    );
    let mut inv = inventory(&config, &dir);
    let got = rules(
        &mut inv,
        &[
            (
                as_client(request(
                    "GET",
                    "partner.example.com",
                    "/rest/v2/quotes",
                    200,
                )),
                0,
            ),
            (
                as_client(request(
                    "GET",
                    "partner.example.com",
                    "/rest/v1/quotes",
                    200,
                )),
                0,
            ),
            (
                as_client(request(
                    "GET",
                    "partner.example.com",
                    "/rest/v2/orders",
                    200,
                )),
                0,
            ),
        ],
    );
    assert_eq!(
        got,
        [
            vec![],
            vec![ZOMBIE_API.to_owned()],
            vec![SHADOW_API.to_owned()]
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn spec_reader_table() {
    let spec = |doc: serde_json::Value| ReferenceSpec::from_document(&doc);
    let err = |doc: serde_json::Value| spec(doc).unwrap_err();
    assert!(err(json!([])).contains("mapping"));
    assert!(err(json!({"paths": {}})).contains("openapi"));
    assert!(err(json!({"openapi": "2.0", "paths": {}})).contains("3.x"));
    assert!(err(json!({"swagger": "1.2", "paths": {}})).contains("2.0"));
    assert!(err(json!({"openapi": "3.0.0"})).contains("`paths` is missing"));
    assert!(err(json!({"openapi": "3.0.0", "paths": {"users": {}}})).contains("`/`"));
    assert!(err(json!({"openapi": "3.0.0", "paths": {"/u": {"get": 1}}})).contains("paths./u.get"));
    assert!(
        err(json!({"openapi": "3.0.0", "paths": {"/u": {"get": {"deprecated": "yes"}}}}))
            .contains("deprecated")
    );
    assert!(
        err(json!({"openapi": "3.0.0", "servers": [{"x": 1}], "paths": {}}))
            .contains("servers[0].url")
    );
    // 3.1 may leave `paths` out.
    spec(json!({"openapi": "3.1.0", "webhooks": {}})).unwrap();

    let s = spec(json!({
        "openapi": "3.0.0",
        "servers": [{"url": "/base/"}],
        "paths": {
            "/users/{id}": {"get": {}, "put": {"deprecated": false}, "patch": {"deprecated": true}},
            "/users/me": {"post": {}},
        }
    }))
    .unwrap();
    assert_eq!(s.scope("anything"), Scope::Everywhere);
    for (method, template, want) in [
        ("GET", "/base/users/{id}", Lookup::Documented),
        ("GET", "/base/users/me", Lookup::Documented),
        ("POST", "/base/users/me", Lookup::Documented),
        ("PUT", "/base/users/{uuid}", Lookup::Documented),
        ("PATCH", "/base/users/{id}", Lookup::Deprecated),
        ("POST", "/base/users/{id}", Lookup::Undocumented),
        ("GET", "/users/{id}", Lookup::Undocumented),
        ("GET", "/base/users/{id}/orders", Lookup::Undocumented),
        ("GET", "/base", Lookup::Undocumented),
    ] {
        assert_eq!(s.lookup(method, template), want, "{method} {template}");
    }
}

#[test]
fn unreadable_and_invalid_spec_files_are_named() {
    let dir = temp_dir("badspec");
    for (name, text, expect) in [
        ("a.json", "{not json", "not valid JSON"),
        ("a.yaml", "openapi: [unclosed", "not valid YAML"),
        ("a.yml", "info: {}\n", "not an OpenAPI document"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let err = ReferenceSpec::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(expect) && err.contains(&*path.to_string_lossy()),
            "{err}"
        );
        let config = InventoryConfig {
            spec: Some(path.clone()),
            ..Default::default()
        };
        assert!(Inventory::load_or_new(&config, &dir, fingerprint_key()).is_err());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
