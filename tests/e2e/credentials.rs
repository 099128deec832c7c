//! Credentials in strange contexts, end to end: one bearer token used
//! from 127.0.0.1 through its warm-up, then from 127.0.0.2 (curl bound to
//! that address), against a real local API, the real sensor on the real
//! kernel. Exactly one `auth.credential_new_client`; the token is never
//! written anywhere; the alerts file then verifies intact.

use sensor_e2e::*;
use serde_json::Value;

const TOKEN: &str = "e2e-bearer-7f3c9a1b5d2e8f40";
/// The warm-up in the test's config.
const WARMUP_SECS: u64 = 3;

#[test]
fn one_token_from_a_second_address_after_its_warmup_raises_one_new_client_alert() {
    let dir = scratch_dir("credentials");
    let api = PyServer::script("api_server.py", &[]);
    let config = dir.join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {:?}\n\n[metrics]\nlisten = \"127.0.0.1:{}\"\n\n[credentials]\nwarmup_secs = {WARMUP_SECS}\n",
            dir.join("state").display().to_string(),
            free_port()
        ),
    )
    .unwrap();
    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    let base = format!("http://127.0.0.1:{}", api.port);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let served_from = |exchanges: &[Value], client: &str| {
        on_port(exchanges, api.port)
            .iter()
            .filter(|x| {
                x["role"] == "server"
                    && x["remote"]
                        .as_str()
                        .is_some_and(|r| r.starts_with(&format!("{client}:")))
            })
            .count()
    };

    // The warm-up: the token learns its client, 127.0.0.1.
    curl(&[
        "-o",
        "/dev/null",
        "-H",
        &auth,
        &format!("{base}/api/orders/[1-5]"),
    ]);
    sensor.wait_for("five requests from 127.0.0.1", |e| {
        served_from(e, "127.0.0.1") >= 5
    });
    std::thread::sleep(std::time::Duration::from_secs(WARMUP_SECS + 1));
    // Still 127.0.0.1 after the warm-up: known.
    curl(&[
        "-o",
        "/dev/null",
        "-H",
        &auth,
        &format!("{base}/api/orders/6"),
    ]);
    // The same token from 127.0.0.2, twice.
    curl(&[
        "--interface",
        "127.0.0.2",
        "-o",
        "/dev/null",
        "-H",
        &auth,
        &format!("{base}/api/orders/[7-8]"),
    ]);
    sensor.wait_for("two requests from 127.0.0.2", |e| {
        served_from(e, "127.0.0.2") >= 2 && served_from(e, "127.0.0.1") >= 6
    });
    let out = sensor.stop();

    let host = format!("127.0.0.1:{}", api.port);
    let alerts: Vec<Value> = read_jsonl(&out.alerts_file)
        .into_iter()
        .filter(|a| a["endpoint"]["host"] == host.as_str())
        .collect();
    let new_client: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "auth.credential_new_client")
        .collect();
    assert_eq!(new_client.len(), 1, "{}", dump(&alerts));
    let alert = new_client[0];
    assert_eq!(alert["category"], "auth");
    // Judged from the API's view, about the client that used the token
    // (curl, on this host: both ends captured, the API is its peer).
    assert_eq!(alert["connection"]["role"], "client", "{alert}");
    assert_eq!(alert["peer"]["pid"], api.pid(), "{alert}");
    let summary = alert["summary"].as_str().unwrap();
    assert!(summary.contains("new client, 127.0.0.2"), "{summary}");
    assert!(
        summary.contains("learned from 127.0.0.1 (1 client(s))"),
        "{summary}"
    );
    assert_eq!(alert["location"]["name"], "Authorization");
    // No other credential rule fired on this API.
    let credential_rules: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            let rule = a["rule"].as_str().unwrap_or("");
            rule.starts_with("auth.credential_") || rule.starts_with("auth.token_")
        })
        .collect();
    assert_eq!(credential_rules.len(), 1, "{}", dump(&alerts));

    // The token is nowhere the sensor writes.
    for file in [
        "alerts.jsonl",
        "exchanges.jsonl",
        "sensor.log",
        "stats.json",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(!text.contains(TOKEN), "the token is in {file}");
    }

    // The alerts file the run wrote verifies, closed by its shutdown
    // checkpoint.
    let verify = std::process::Command::new(sensor_bin())
        .arg("verify")
        .arg(&out.alerts_file)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(report.contains("intact"), "{report}");
}
