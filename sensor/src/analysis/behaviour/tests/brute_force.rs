//! `auth.brute_force` and `auth.credential_stuffing`.

use super::*;

const BRUTE: &str = "auth.brute_force";
const STUFFING: &str = "auth.credential_stuffing";

fn login(client: &str, username: &str, status: u16) -> HttpExchange {
    let body = format!(r#"{{"username":"{username}","password":"Winter2024!"}}"#);
    let json = [("Host", HOST), ("Content-Type", "application/json")];
    // A success issues a token; a failure says so.
    let answer = if status == 200 {
        r#"{"access_token":"opaque-token-0123456789"}"#
    } else {
        r#"{"error":"unauthorized"}"#
    };
    let mut x = exchange("POST", "/api/v1/auth/login", &json, &body, &[], answer);
    x.response.status = status;
    from(x, client)
}

#[test]
fn hundred_failed_logins_alert_exactly_once() {
    let mut d = detector();
    let mut findings = Vec::new();
    for i in 0..100 {
        findings.extend(d.observe(&login("10.0.0.7", "alice", 401), &[], T0 + i * NS));
    }
    assert_eq!(of_rule(&findings, BRUTE).len(), 1, "{findings:#?}");
    assert_eq!(
        findings.len(),
        1,
        "one username is not stuffing: {findings:#?}"
    );
    let a = &findings[0];
    assert_eq!(a.category, Category::Auth);
    assert_eq!(a.count, 10);
    assert!(
        a.summary.starts_with("Brute force: 10 failed logins from 10.0.0.7 in 9 s (latest on POST api.acme.io/api/v1/auth/login"),
        "{}",
        a.summary
    );
    assert!(
        a.summary.ends_with("threshold 10 per 60 s."),
        "{}",
        a.summary
    );
    assert_never_shown(&findings, &["alice".to_owned(), "Winter2024".to_owned()]);
}

#[test]
fn many_usernames_are_credential_stuffing() {
    let mut d = detector();
    let usernames: Vec<String> = (0..100)
        .map(|i| format!("user{i}@mail-{i}.example.net"))
        .collect();
    let mut findings = Vec::new();
    for (i, username) in usernames.iter().enumerate() {
        // Two seconds apart: 30 a minute.
        findings.extend(d.observe(
            &login("10.0.0.8", username, 401),
            &[],
            T0 + i as i128 * 2 * NS,
        ));
    }
    assert_eq!(of_rule(&findings, BRUTE).len(), 1, "{findings:#?}");
    let stuffing = of_rule(&findings, STUFFING);
    assert_eq!(stuffing.len(), 1, "{findings:#?}");
    assert_eq!(stuffing[0].count, 10);
    assert!(
        stuffing[0].summary.starts_with(
            "Credential stuffing: failed logins for 10 distinct usernames from 10.0.0.8 in 18 s"
        ),
        "{}",
        stuffing[0].summary
    );
    assert_never_shown(&findings, &usernames);
}

#[test]
fn refusals_of_any_request_count_too() {
    let mut d = detector();
    let mut findings = Vec::new();
    for i in 0..300 {
        let x = request("GET", &format!("/api/v1/admin/users/{i}"), "10.0.0.9", 403);
        findings.extend(d.observe(&x, &[], T0 + i * NS / 5));
    }
    let alerts = of_rule(&findings, BRUTE);
    assert_eq!(alerts.len(), 1, "{findings:#?}");
    assert!(
        alerts[0]
            .summary
            .starts_with("Brute force: 50 401/403 answers from 10.0.0.9"),
        "{}",
        alerts[0].summary
    );
}

#[test]
fn login_pages_answering_200_with_an_error_count_as_failures() {
    let mut d = detector();
    let mut findings = Vec::new();
    for i in 0..20 {
        let form = [
            ("Host", HOST),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        let body = format!("log=admin{i}&pwd=secret&wp-submit=Log+In");
        let page = "<div id=\"login_error\"><strong>Error:</strong> The password you entered for the username is incorrect.</div>";
        let x = from(
            exchange("POST", "/wp-login.php", &form, &body, &[], page),
            "10.0.0.10",
        );
        findings.extend(d.observe(&x, &[], T0 + i * NS));
    }
    assert_eq!(of_rule(&findings, BRUTE).len(), 1, "{findings:#?}");
    assert_eq!(of_rule(&findings, STUFFING).len(), 1, "{findings:#?}");
}

#[test]
fn ordinary_logins_and_occasional_typos_do_not_alert() {
    let mut d = detector();
    // 200 users, each logging in every 10 minutes for 4 hours; one in ten
    // attempts is a typo (401), and a shared NAT address carries 20 users.
    let findings = replay(
        &mut d,
        T0,
        240,
        |_| 20,
        |i| {
            let user = i % 200;
            let status = if jitter(i, 10) == 0 { 401 } else { 200 };
            let client = if user < 20 {
                "10.1.0.1".to_owned()
            } else {
                client_ip(user as u32)
            };
            login(&client, &format!("user{user}"), status)
        },
    );
    assert!(findings.is_empty(), "{findings:#?}");
}
