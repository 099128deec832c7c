//! Templates of real-looking paths from public APIs, and endpoint keys.

use super::*;
use crate::analysis::detect::tests::exchange;

/// (target, expected template).
const PATHS: &[(&str, &str)] = &[
    // Plain words, versions and files stay literal.
    ("/", "/"),
    ("/healthz", "/healthz"),
    ("/readyz?verbose=1", "/readyz"),
    ("/metrics", "/metrics"),
    ("/api/v2/users", "/api/v2/users"),
    ("/api/v1/orders/latest", "/api/v1/orders/latest"),
    ("/orders/latest", "/orders/latest"),
    ("/static/app.js", "/static/app.js"),
    ("/static/css/main.css", "/static/css/main.css"),
    ("/favicon.ico", "/favicon.ico"),
    ("/robots.txt", "/robots.txt"),
    ("/assets/jquery-3.6.0.min.js", "/assets/jquery-3.6.0.min.js"),
    (
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration",
    ),
    ("/oauth2/token", "/oauth2/token"),
    (
        "/oauth/authorize?client_id=abc&state=xyz",
        "/oauth/authorize",
    ),
    ("/api/v1/auth/login", "/api/v1/auth/login"),
    ("/i18n/en.json", "/i18n/en.json"),
    ("/docs/api/1.0/index.html", "/docs/api/1.0/index.html"),
    ("/api/2.1/jobs/list", "/api/2.1/jobs/list"),
    ("/V3/Search", "/V3/Search"),
    (
        "/download/x86_64/sha256sums.txt",
        "/download/x86_64/sha256sums.txt",
    ),
    ("/graphql", "/graphql"),
    ("/swagger-ui/index.html", "/swagger-ui/index.html"),
    ("/api/getUserProfileSettings", "/api/getUserProfileSettings"),
    ("/blog/hello-world/", "/blog/hello-world/"),
    ("/api/users/", "/api/users/"),
    ("//double//slash", "//double//slash"),
    ("*", "*"),
    ("http://proxy.example/api/users/42?x=1", "/api/users/{id}"),
    ("https://proxy.example?x=1", "/"),
    ("/redirect?to=http://evil.example/users/42", "/redirect"),
    ("/cafe/decade/facade", "/cafe/decade/facade"),
    (
        "/utf8/base64/md5sum/k8s/l10n",
        "/utf8/base64/md5sum/k8s/l10n",
    ),
    ("/h264/1080p/es2015/covid19", "/h264/1080p/es2015/covid19"),
    // Numbers.
    ("/users/42", "/users/{id}"),
    ("/users/42/orders", "/users/{id}/orders"),
    ("/users/0", "/users/{id}"),
    ("/orders/9876543210123", "/orders/{id}"),
    (
        "/api/v1/users/1234/orders/5678/items",
        "/api/v1/users/{id}/orders/{id}/items",
    ),
    // GitHub REST.
    (
        "/repos/octocat/hello-world/issues/1347",
        "/repos/octocat/hello-world/issues/{id}",
    ),
    (
        "/repos/octocat/hello-world/pulls/1347/files?per_page=100",
        "/repos/octocat/hello-world/pulls/{id}/files",
    ),
    (
        "/repos/rust-lang/rust/commits/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "/repos/rust-lang/rust/commits/{hash}",
    ),
    (
        "/repos/rust-lang/rust/git/trees/6dcb09b5b57875f334f61aebed695e2e4193db5e",
        "/repos/rust-lang/rust/git/trees/{hash}",
    ),
    (
        "/repos/octocat/hello-world/commits/7638417",
        "/repos/octocat/hello-world/commits/{id}",
    ),
    (
        "/repos/octocat/hello-world/commits/a1b2c3d",
        "/repos/octocat/hello-world/commits/{hash}",
    ),
    ("/users/octocat/repos", "/users/octocat/repos"),
    (
        "/orgs/github/teams/justice-league/members",
        "/orgs/github/teams/justice-league/members",
    ),
    ("/gists/aa5a315d61ae9438b18d", "/gists/{hash}"),
    (
        "/repos/octocat/hello-world/actions/runs/30433642/jobs",
        "/repos/octocat/hello-world/actions/runs/{id}/jobs",
    ),
    (
        "/repos/octocat/hello-world/releases/tags/v1.0.0",
        "/repos/octocat/hello-world/releases/tags/v1.0.0",
    ),
    (
        "/app/installations/12345/access_tokens",
        "/app/installations/{id}/access_tokens",
    ),
    // Stripe.
    ("/v1/customers/cus_NffrFeUfNV2Hib", "/v1/customers/{token}"),
    (
        "/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm",
        "/v1/payment_intents/{token}/confirm",
    ),
    (
        "/v1/charges/ch_3MmlLrLkdIwHu7ix0snN0B15",
        "/v1/charges/{token}",
    ),
    (
        "/v1/subscriptions/sub_1MowQVLkdIwHu7ixeRlqHVzs",
        "/v1/subscriptions/{token}",
    ),
    (
        "/v1/invoices/in_1MtHbELkdIwHu7ixl4OzzPMv/pay",
        "/v1/invoices/{token}/pay",
    ),
    ("/v1/customers?limit=3", "/v1/customers"),
    ("/v1/checkout/sessions", "/v1/checkout/sessions"),
    // Kubernetes API.
    (
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/pods",
    ),
    (
        "/api/v1/namespaces/kube-system/pods/coredns-5d78c9869d-8zv7w",
        "/api/v1/namespaces/kube-system/pods/{token}",
    ),
    (
        "/api/v1/namespaces/default/pods/web-7c5ddbdf54-x7k2p/log",
        "/api/v1/namespaces/default/pods/{token}/log",
    ),
    (
        "/apis/apps/v1/namespaces/default/deployments/nginx",
        "/apis/apps/v1/namespaces/default/deployments/nginx",
    ),
    (
        "/apis/batch/v1/namespaces/jobs/cronjobs",
        "/apis/batch/v1/namespaces/jobs/cronjobs",
    ),
    (
        "/apis/autoscaling/v2beta2/namespaces/prod/horizontalpodautoscalers",
        "/apis/autoscaling/v2beta2/namespaces/prod/horizontalpodautoscalers",
    ),
    (
        "/apis/networking.k8s.io/v1/ingresses",
        "/apis/networking.k8s.io/v1/ingresses",
    ),
    (
        "/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions",
        "/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions",
    ),
    (
        "/api/v1/nodes/ip-10-0-1-23.ec2.internal",
        "/api/v1/nodes/ip-10-0-1-23.ec2.internal",
    ),
    (
        "/api/v1/namespaces/default/pods?watch=1&resourceVersion=10245",
        "/api/v1/namespaces/default/pods",
    ),
    // S3-style object storage.
    (
        "/my-bucket/uploads/photo.jpg",
        "/my-bucket/uploads/photo.jpg",
    ),
    ("/my-bucket/avatars/4711.png", "/my-bucket/avatars/{id}.png"),
    (
        "/my-bucket/exports/550e8400-e29b-41d4-a716-446655440000.csv",
        "/my-bucket/exports/{uuid}.csv",
    ),
    (
        "/my-bucket/blobs/d41d8cd98f00b204e9800998ecf8427e",
        "/my-bucket/blobs/{hash}",
    ),
    (
        "/my-bucket/reports/2024-01-15/summary.pdf",
        "/my-bucket/reports/{date}/summary.pdf",
    ),
    ("/my-bucket?list-type=2&prefix=logs", "/my-bucket"),
    (
        "/logs-bucket/AWSLogs/123456789012/elasticloadbalancing",
        "/logs-bucket/AWSLogs/{id}/elasticloadbalancing",
    ),
    // WordPress.
    ("/wp-json/wp/v2/posts/123", "/wp-json/wp/v2/posts/{id}"),
    (
        "/wp-json/wp/v2/users/1?context=edit",
        "/wp-json/wp/v2/users/{id}",
    ),
    ("/wp-admin/admin-ajax.php", "/wp-admin/admin-ajax.php"),
    ("/wp-login.php", "/wp-login.php"),
    (
        "/wp-content/uploads/2023/05/image-1024x768.jpg",
        "/wp-content/uploads/{id}/{id}/image-1024x768.jpg",
    ),
    ("/2023/05/hello-world/", "/{id}/{id}/hello-world/"),
    ("/xmlrpc.php", "/xmlrpc.php"),
    // UUIDs.
    (
        "/accounts/550e8400-e29b-41d4-a716-446655440000",
        "/accounts/{uuid}",
    ),
    (
        "/accounts/550E8400-E29B-41D4-A716-446655440000/cards",
        "/accounts/{uuid}/cards",
    ),
    (
        "/tenants/1b4e28ba-2fa1-11d2-883f-0016d3cca427/users/42",
        "/tenants/{uuid}/users/{id}",
    ),
    // Mongo ObjectIds and other hex.
    ("/api/items/507f1f77bcf86cd799439011", "/api/items/{hash}"),
    ("/api/sessions/deadbeefcafebabe", "/api/sessions/{hash}"),
    ("/api/colors/ff00aa", "/api/colors/{hash}"),
    // Emails.
    ("/users/jane.doe@example.com", "/users/{email}"),
    (
        "/users/jane.doe%40example.com/profile",
        "/users/{email}/profile",
    ),
    (
        "/api/v1/lookup/bob+test@mail.acme.io",
        "/api/v1/lookup/{email}",
    ),
    // Dates.
    ("/reports/2024-01-15", "/reports/{date}"),
    ("/reports/2024-01", "/reports/{date}"),
    (
        "/events/2024-01-15T10:00:00Z/attendees",
        "/events/{date}/attendees",
    ),
    ("/stats/daily/20240115", "/stats/daily/{id}"),
    // Mixed tokens.
    ("/orders/ORD-12345", "/orders/{token}"),
    ("/invoices/INV_2024_0042", "/invoices/{token}"),
    ("/channels/C024BE91L/messages", "/channels/{token}/messages"),
    ("/watch/dQw4w9WgXcQ", "/watch/{token}"),
    ("/share/x7k2p9", "/share/{token}"),
    ("/files/aGVsbG8gd29ybGQ=", "/files/{token}"),
    ("/reset/dGhpcyBpcyBhIHRlc3QgdG9rZW4", "/reset/{token}"),
    (
        "/verify/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",
        "/verify/{token}",
    ),
    ("/hosts/10.0.0.17/status", "/hosts/{token}/status"),
    ("/p/Ab3kQ9zX7mW2", "/p/{token}"),
    // Mixed with everything.
    (
        "/api/v3/orgs/7/projects/2fa1c9e0d6b24d0e8c1f/builds/481/artifacts/app.js",
        "/api/v3/orgs/{id}/projects/{hash}/builds/{id}/artifacts/app.js",
    ),
    (
        "/api/v1/users/42/sessions/latest?token=secret",
        "/api/v1/users/{id}/sessions/latest",
    ),
    ("/shop/cart#checkout", "/shop/cart"),
    ("/search/hello%20world", "/search/{token}"),
    ("/api/v1/users/me", "/api/v1/users/me"),
    ("/api/v1/users/self/avatar", "/api/v1/users/self/avatar"),
    ("/admin/users/new", "/admin/users/new"),
    ("/admin/users/42/edit", "/admin/users/{id}/edit"),
];

#[test]
fn templates_of_real_paths() {
    assert!(PATHS.len() >= 100, "{} cases", PATHS.len());
    let mut failures = Vec::new();
    for (target, want) in PATHS {
        let got = path_template(target);
        if got != *want {
            failures.push(format!("{target}: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn params_are_the_raw_values_with_their_segment_index() {
    assert_eq!(
        path_params("/api/v1/users/1234/orders/5678?x=9"),
        [(3, "1234"), (5, "5678")]
    );
    assert_eq!(path_params("/avatars/4711.png"), [(1, "4711")]);
    assert_eq!(
        path_params("/users/jane.doe@example.com"),
        [(1, "jane.doe@example.com")]
    );
    assert_eq!(path_params("/api/v2/users"), []);
    assert_eq!(path_params("*"), []);
}

#[test]
fn every_template_has_one_placeholder_per_param() {
    for (target, _) in PATHS {
        let placeholders = path_template(target).matches('{').count();
        assert_eq!(placeholders, path_params(target).len(), "{target}");
    }
}

fn with_host(target: &str, host: Option<&str>) -> HttpExchange {
    let headers: Vec<(&str, &str)> = host.map(|h| ("Host", h)).into_iter().collect();
    exchange("get", target, &headers, "", &[], "")
}

#[test]
fn endpoint_key_host_method_and_display() {
    for (host, want) in [
        (Some("API.Acme.io:8443"), "api.acme.io:8443"),
        (Some("api.acme.io:443"), "api.acme.io"),
        (Some("user@API.Acme.io.:8443"), "api.acme.io:8443"),
        (Some("user:pw@api.acme.io"), "api.acme.io"),
        (Some("api.acme.io."), "api.acme.io"),
        (Some("[::1]:8080"), "[::1]:8080"),
        (Some("[::1]:80"), "[::1]"),
        (Some("10.1.2.3:80"), "10.1.2.3"),
        // The fixture's server (local) address.
        (None, "10.0.0.5:8080"),
        (Some(""), "10.0.0.5:8080"),
    ] {
        let key = EndpointKey::of(&with_host("/users/42", host));
        assert_eq!(key.host, want, "{host:?}");
        assert_eq!(key.method, "GET");
        assert_eq!(key.template, "/users/{id}");
    }
    let key = EndpointKey::of(&with_host("/users/42/orders?page=2", Some("api.acme.io")));
    assert_eq!(key.to_string(), "GET api.acme.io/users/{id}/orders");
}

#[test]
fn client_role_uses_the_remote_address() {
    let mut x = with_host("/x", None);
    let mut conn = (*x.connection).clone();
    conn.role = Role::Client;
    x.connection = std::sync::Arc::new(conn);
    assert_eq!(EndpointKey::of(&x).host, "10.0.0.9:50000");
}

#[test]
fn segments_that_are_not_plain_words_fail_closed() {
    for (target, want) in [
        (
            "/app/login;jsessionid=1A2B3C4D5E6F7A8B9C0D1E2F",
            "/app/{token}",
        ),
        (
            "/verify/dGhpcyBpcyBh%2Bc2VjcmV0dG9rZW4%3D",
            "/verify/{token}",
        ),
        ("/users/john.doe%2540example.com", "/users/{token}"),
        ("/files/a:b", "/files/{token}"),
        (
            "/x/abcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
            "/x/{token}",
        ),
        ("/static/app.js", "/static/app.js"),
        ("/api/v2/users/latest", "/api/v2/users/latest"),
        ("/wp-admin/admin-ajax.php", "/wp-admin/admin-ajax.php"),
    ] {
        assert_eq!(path_template(target), want, "{target}");
    }
}

#[test]
fn what_a_peer_controls_stays_bounded() {
    let deep = "/a".repeat(1000);
    let template = path_template(&deep);
    assert_eq!(template, format!("{}/{{rest}}", "/a".repeat(32)));
    assert_eq!(path_template("garbage-target"), "{token}");
    assert_eq!(path_template("*"), "*");
    let long_host = "h".repeat(5000);
    assert_eq!(normalise_host(&long_host), "{invalid-host}");
    assert_eq!(normalise_host("evil\x1b[2J.example"), "{invalid-host}");
    assert_eq!(normalise_host("api.acme.io:8443"), "api.acme.io:8443");
}

#[test]
fn masked_paths_keep_short_ids_and_hide_sensitive_segments() {
    for (target, want) in [
        ("/orders/4711", "/orders/4711"),
        ("/lookup/536-22-8174", "/lookup/{token}"),
        ("/lookup/536228174", "/lookup/{id}"),
        ("/cards/4539148803436467", "/cards/{id}"),
        (
            "/users/ann@acme-mail.io/profile?x=1",
            "/users/{email}/profile",
        ),
        ("/users/ann%40acme-mail.io", "/users/{email}"),
        ("/s/4f1c0a2e-9d3b-4c2e-8a7f-2b1d3c4e5f60", "/s/{uuid}"),
        ("/t/ghp_Zq8Wm3Rt9Xv2Lp8Ns4Kd1Jf6Hg0Bc51a2b3c", "/t/{token}"),
        ("/avatars/4711.png", "/avatars/4711.png"),
        ("/raw/\u{fffd}/x", "/raw/{token}/x"),
        ("*", "*"),
        ("", ""),
        ("example.com:443", "{token}"),
    ] {
        assert_eq!(masked_path(target), want, "{target}");
    }
}

#[test]
fn the_cache_gives_the_key_built_from_scratch() {
    // More distinct inputs than slots, each met several times in a
    // scrambled order, so slots are hit, missed and overwritten; the
    // inputs differ by one part at a time (host, its absence, method,
    // target, the side seen from).
    let mut inputs = Vec::new();
    for i in 0..200 {
        let mut x = with_host(
            &format!("/users/{}/orders{}", i % 7, i % 3),
            match i % 4 {
                0 => None,
                1 => Some("API.acme.io"),
                2 => Some(""),
                _ => Some("api.acme.io:8443"),
            },
        );
        if i % 5 == 0 {
            x.request.method = "POST".into();
        }
        if i % 6 == 0 {
            let mut conn = (*x.connection).clone();
            conn.role = Role::Client;
            x.connection = std::sync::Arc::new(conn);
        }
        inputs.push(x);
    }
    let long = with_host(&format!("/{}", "a".repeat(600)), Some("h"));
    let mut cache = EndpointCache::default();
    for round in 0..5 {
        for i in 0..inputs.len() {
            let x = &inputs[(i * 37 + round * 11) % inputs.len()];
            assert_eq!(*cache.key_of(x), EndpointKey::of(x), "{round} {i}");
        }
        assert_eq!(*cache.key_of(&long), EndpointKey::of(&long));
    }
}
