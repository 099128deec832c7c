//! Identity-aware detection end to end: a real API (tests/servers/
//! identity_api.py) that answers failed logins with 200 and an error body,
//! tells unknown emails from wrong passwords, signs its tokens with a
//! well-known weak secret, and lets any logged-in user read any order.
//! Real curl as three well-behaved users, a brute-forcer, an account
//! prober and a fourth user walking the others' orders, all from one
//! address; the real sensor on the real kernel.

use std::process::Command;

use sensor_e2e::*;
use serde_json::Value;

const USERS: [(&str, &str); 3] = [
    ("alice@acme.test", "alice-pw"),
    ("bob@acme.test", "bob-pw"),
    ("carol@acme.test", "carol-pw"),
];

fn login(base: &str, email: &str, password: &str) -> Value {
    let body = format!(r#"{{"email":"{email}","password":"{password}"}}"#);
    let out = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
        &format!("{base}/api/login"),
    ]);
    serde_json::from_slice(&out).unwrap()
}

/// Logs in and reads the user's orders list, then each of its orders,
/// `rounds` times, on one connection.
fn read_own_orders(base: &str, token: &str, ids: &[u64], rounds: usize) {
    let auth = format!("Authorization: Bearer {token}");
    let mut args: Vec<String> = vec!["-H".into(), auth];
    for _ in 0..rounds {
        args.push(format!("{base}/api/orders"));
        for id in ids {
            args.push(format!("{base}/api/orders/{id}"));
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    curl(&args);
}

/// `jwt:` + the first 16 hex digits of HMAC-SHA256 under the sensor's
/// fingerprint key: how alerts name the principal with subject `sub`.
fn principal_of(key_file: &std::path::Path, sub: &str) -> String {
    let script = "import hmac,hashlib,sys\nkey=open(sys.argv[1],'rb').read()[:32]\nmsg=b'principal\\0jwt\\0'+sys.argv[2].encode()\nprint('jwt:'+hmac.new(key,msg,hashlib.sha256).hexdigest()[:16])";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(key_file)
        .arg(sub)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn brute_force_enumeration_weak_secret_and_bola_each_raise_one_alert() {
    let dir = scratch_dir("identity");
    let api = PyServer::script("identity_api.py", &[]);
    let sensor = Sensor::start(&dir, &[]);
    let base = format!("http://127.0.0.1:{}", api.port);

    // Three well-behaved users: log in, read their own orders.
    for (uid, (email, password)) in USERS.iter().enumerate() {
        let answer = login(&base, email, password);
        let token = answer["token"].as_str().expect("a token").to_owned();
        let ids: Vec<u64> = (1..=5).map(|i| 100 * (uid as u64 + 1) + i).collect();
        read_own_orders(&base, &token, &ids, 3);
    }
    // 60 wrong passwords for one account, answered 200 with an error.
    curl(&[
        "-o",
        "/dev/null",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"email":"alice@acme.test","password":"Winter2024!"}"#,
        &format!("{base}/api/login?attempt=[1-60]"),
    ]);
    // Which accounts exist? Three real ones, three made up.
    for email in [
        "bob@acme.test",
        "carol@acme.test",
        "mallory@acme.test",
        "ghost1@acme.test",
        "ghost2@acme.test",
        "ghost3@acme.test",
    ] {
        let answer = login(&base, email, "letmein");
        assert_eq!(answer["success"], false);
    }
    // The fourth user lists its own orders, then reads everyone's.
    let mallory = login(&base, "mallory@acme.test", "mallory-pw");
    let token = mallory["token"].as_str().unwrap().to_owned();
    read_own_orders(&base, &token, &[], 1);
    let auth = format!("Authorization: Bearer {token}");
    curl(&[
        "-H",
        &auth,
        &format!("{base}/api/orders/[101-105]"),
        &format!("{base}/api/orders/[201-205]"),
        &format!("{base}/api/orders/[301-305]"),
    ]);
    // And the three others carry on.
    for (uid, (email, password)) in USERS.iter().enumerate() {
        let token = login(&base, email, password)["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let ids: Vec<u64> = (1..=5).map(|i| 100 * (uid as u64 + 1) + i).collect();
        read_own_orders(&base, &token, &ids, 2);
    }
    // 16 lists and 90 orders read, seen from the server.
    sensor.wait_for("the last orders", |e| {
        on_port(e, api.port)
            .iter()
            .filter(|x| x["role"] == "server" && x["method"] == "GET")
            .count()
            >= 106
    });
    let out = sensor.stop();
    let host = format!("127.0.0.1:{}", api.port);
    let alerts: Vec<Value> = read_jsonl(&out.alerts_file)
        .into_iter()
        .filter(|a| a["endpoint"]["host"] == host.as_str())
        .collect();
    let of = |rule: &str| -> Vec<&Value> { alerts.iter().filter(|a| a["rule"] == rule).collect() };
    // Both ends (curl and the API) are captured: each exchange is judged
    // once, so each rule raises one alert (about the client, the API as
    // its peer).
    let served = |rule: &str| -> Vec<&Value> { of(rule) };

    let brute = served("auth.brute_force");
    assert_eq!(brute.len(), 1, "{}", dump(&alerts));
    let summary = brute[0]["summary"].as_str().unwrap();
    assert!(summary.contains("failed logins"), "{summary}");
    assert!(summary.contains("all for username user:"), "{summary}");
    assert!(!summary.contains("alice"), "{summary}");

    // One finding on the endpoint, whichever side saw it first.
    let enumeration = of("auth.account_enumeration");
    assert_eq!(enumeration.len(), 1, "{}", dump(&alerts));
    assert_eq!(enumeration[0]["endpoint"]["path"], "/api/login");

    // One signing key, one finding; the secret is never shown.
    let weak = of("secret.jwt_weak_secret");
    assert_eq!(weak.len(), 1, "{}", dump(&alerts));
    assert_eq!(weak[0]["severity"], "critical");
    assert!(!weak[0].to_string().contains("supersecret"), "{}", weak[0]);

    let key = dir.join("state/fingerprint.key");
    let attacker = principal_of(&key, "mallory@acme.test");
    let bola = served("auth.bola");
    assert_eq!(bola.len(), 1, "{}", dump(&alerts));
    assert_eq!(bola[0]["principal"], attacker.as_str(), "{}", bola[0]);
    assert_eq!(bola[0]["endpoint"]["path"], "/api/orders/{id}");
    let summary = bola[0]["summary"].as_str().unwrap();
    // Raised at the fifth of alice's orders: what was seen against what
    // was expected.
    assert!(
        summary.contains(&format!(
            "5 ids of GET {host}/api/orders/{{id}} returned to 1 other principal(s) and never to principal {attacker}"
        )),
        "{summary}"
    );
    assert!(
        summary.contains("expected only ids from its own responses"),
        "{summary}"
    );

    // Nothing behavioural about the well-behaved users, and no other
    // behavioural alert at all.
    let good: Vec<String> = USERS.iter().map(|(e, _)| principal_of(&key, e)).collect();
    let behavioural: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["category"] == "auth" || a["category"] == "abnormal_volume")
        .collect();
    for a in &behavioural {
        let principal = a["principal"].as_str().unwrap_or("");
        assert!(
            !good.iter().any(|g| g == principal),
            "a good user alerted: {a}"
        );
        assert!(
            ["auth.brute_force", "auth.account_enumeration", "auth.bola"]
                .contains(&a["rule"].as_str().unwrap()),
            "unexpected: {a}"
        );
    }
    // No raw credential or token anywhere the sensor wrote.
    out.assert_never_wrote(&[
        "Winter2024!",
        "alice-pw",
        "mallory@acme.test",
        "supersecret",
    ]);
}
