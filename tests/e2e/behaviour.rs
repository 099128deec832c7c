//! Behavioural detection end to end: a real API, real curl walking through
//! a thousand order ids and failing a hundred logins, the real sensor on
//! the real kernel. Steady traffic must raise nothing.

use sensor_e2e::*;
use serde_json::Value;

fn alerts_of(alerts: &[Value], rule: &str) -> Vec<Value> {
    alerts
        .iter()
        .filter(|a| a["rule"] == rule)
        .cloned()
        .collect()
}

#[test]
fn an_enumeration_and_a_login_burst_raise_exactly_their_alerts() {
    let dir = scratch_dir("behaviour");
    let api = PyServer::script("api_server.py", &[]);
    let sensor = Sensor::start(&dir, &[]);
    let started = std::time::Instant::now();
    let base = format!("http://127.0.0.1:{}", api.port);

    // Steady, ordinary traffic first: nothing to say about it.
    curl(&["-o", "/dev/null", &format!("{base}/api/health?n=[1-50]")]);
    // One client walks through 1,000 order ids on one connection.
    curl(&["-o", "/dev/null", &format!("{base}/api/orders/[1-1000]")]);
    // And fails to log in 100 times.
    curl(&[
        "-o",
        "/dev/null",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"username":"alice","password":"not-her-password"}"#,
        &format!("{base}/api/login?attempt=[1-100]"),
    ]);
    sensor.wait_for("the last login attempt", |e| {
        on_port(e, api.port)
            .iter()
            .filter(|x| x["path"] == "/api/login" && x["role"] == "server")
            .count()
            >= 100
    });
    eprintln!("traffic seen in {:?}", started.elapsed());
    let out = sensor.stop();
    // Only this API's alerts: other processes on the host have their own.
    let host = format!("127.0.0.1:{}", api.port);
    let alerts: Vec<Value> = read_jsonl(&out.alerts_file)
        .into_iter()
        .filter(|a| a["endpoint"]["host"] == host.as_str())
        .collect();

    let enumeration = alerts_of(&alerts, "volume.enumeration");
    let brute_force = alerts_of(&alerts, "auth.brute_force");
    // Both ends of every connection are captured (curl and the API on
    // this host): each exchange is judged once, and each alert is about
    // the client's behaviour, curl's, with the API as its peer.
    let firsts = |list: &[Value]| list.iter().filter(|a| a["count"] == 1).count();
    assert_eq!(firsts(&enumeration), 1, "{}", dump(&alerts));
    assert_eq!(firsts(&brute_force), 1, "{}", dump(&alerts));
    for alert in enumeration.iter().chain(&brute_force) {
        assert_eq!(alert["connection"]["role"], "client", "{alert}");
        assert_eq!(alert["process"]["comm"], "curl", "{alert}");
        assert_eq!(alert["peer"]["pid"], api.pid(), "{alert}");
    }
    assert_eq!(enumeration[0]["category"], "abnormal_volume");
    assert_eq!(brute_force[0]["category"], "auth");
    assert!(
        enumeration[0]["endpoint"]["path"]
            .as_str()
            .unwrap()
            .starts_with("/api/orders/"),
        "{}",
        enumeration[0]
    );
    let summary = enumeration[0]["summary"].as_str().unwrap();
    assert!(summary.contains("distinct ids"), "{summary}");

    // Nothing else: the health checks, the content of the orders and the
    // login answers are all clean.
    let unexpected: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] != "volume.enumeration" && a["rule"] != "auth.brute_force")
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected alerts:\n{}",
        unexpected
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        alerts
            .iter()
            .all(|a| a["endpoint"]["path"] != "/api/health"),
        "steady traffic alerted"
    );
}

#[test]
fn the_inventory_lists_the_endpoints_seen_and_prints_openapi() {
    let dir = scratch_dir("inventory");
    let api = PyServer::script("api_server.py", &[]);
    let sensor = Sensor::start(&dir, &[]);
    let base = format!("http://127.0.0.1:{}", api.port);
    curl(&["-o", "/dev/null", &format!("{base}/api/orders/[1-5]")]);
    curl(&["-o", "/dev/null", &format!("{base}/api/health")]);
    sensor.wait_for("six requests", |e| {
        on_port(e, api.port)
            .iter()
            .filter(|x| x["role"] == "server")
            .count()
            >= 6
    });
    sensor.stop();

    let inventory = |format: &str| {
        let out = std::process::Command::new(sensor_bin())
            .args(["inventory", "--format", format, "--state-dir"])
            .arg(dir.join("state"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: Value = serde_json::from_str(&inventory("json")).unwrap();
    let host = format!("127.0.0.1:{}", api.port);
    let ours: Vec<&Value> = json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["host"] == host.as_str())
        .collect();
    let find = |template: &str| {
        ours.iter()
            .find(|e| e["template"] == template && e["method"] == "GET")
            .unwrap_or_else(|| panic!("no {template} in {ours:?}"))
    };
    // Five ids, one endpoint; each request counted once though both ends
    // (the server and curl) are captured, and both ends named.
    let orders = find("/api/orders/{id}");
    assert_eq!(orders["requests"], 5, "{orders}");
    assert!(orders.to_string().contains("python3"), "{orders}");
    assert!(orders.to_string().contains("curl"), "{orders}");
    find("/api/health");
    assert_eq!(ours.len(), 2, "{ours:?}");

    let openapi: Value = serde_json::from_str(&inventory("openapi")).unwrap();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    let get = &openapi["paths"]["/api/orders/{id}"]["get"];
    assert!(get["responses"]["200"].is_object(), "{openapi}");
    let table = inventory("table");
    assert!(table.contains("/api/orders/{id}"), "{table}");
}
