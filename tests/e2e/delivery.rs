//! Alert delivery through the sensor binary: a webhook receiver that goes
//! away in the middle of a run and comes back, and a sensor killed with
//! alerts spooled for a receiver that is down. Nothing may be lost.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sensor_e2e::*;
use serde_json::Value;

/// An API whose errors leak (stack traces, SQL errors); it needs no values.
fn erroring_server(dir: &Path) -> PyServer {
    let values = dir.join("values.json");
    std::fs::write(&values, "{}").unwrap();
    PyServer::script("leaky_server.py", &["--values", values.to_str().unwrap()])
}

/// A config with one webhook sink to `port`, deduplication off so every
/// request raises alerts, and metrics on `metrics_port`.
fn webhook_config(dir: &Path, port: u16, metrics_port: u16) -> PathBuf {
    let config = dir.join("delivery.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {state:?}\n\n[alerts]\ndedup_window_secs = 0\n\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n\
             [[sinks.webhook]]\nname = \"hook\"\nurl = \"http://127.0.0.1:{port}/alerts\"\n\
             headers = {{ Authorization = \"Bearer test-token\" }}\n\
             batch_wait_ms = 100\nretry_max_secs = 1\n",
            state = dir.join("state").display().to_string(),
        ),
    )
    .unwrap();
    config
}

fn leak(server: &PyServer, path: &str) {
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{}{path}", server.port),
    ]);
}

fn alert_ids(alerts_file: &Path) -> BTreeSet<String> {
    read_jsonl(alerts_file)
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every alert id the receiver got, and how many deliveries in all (a
/// duplicate delivery shows as more deliveries than ids).
fn received(file: &Path) -> (BTreeSet<String>, usize) {
    let ids: Vec<String> = std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .flat_map(|batch| serde_json::from_str::<Vec<Value>>(batch).unwrap())
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let n = ids.len();
    (ids.into_iter().collect(), n)
}

/// One sample of the sensor's Prometheus page, or 0.
fn metric(metrics_port: u16, sample: &str) -> f64 {
    let page = std::process::Command::new("curl")
        .args(["-sS", &format!("http://127.0.0.1:{metrics_port}/metrics")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    page.lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_webhook_outage_in_the_middle_of_a_run_loses_nothing() {
    let dir = scratch_dir("webhook-outage");
    let server = erroring_server(&dir);
    let out_file = dir.join("received.jsonl");
    let out = out_file.to_str().unwrap().to_owned();
    let receiver = PyServer::script("webhook_receiver.py", &["--out", &out]);
    let port = receiver.port;
    let metrics_port = free_port();
    let config = webhook_config(&dir, port, metrics_port);
    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    let alerts_file = dir.join("alerts.jsonl");

    leak(&server, "/api/crash");
    wait_until(
        "the first alerts at the receiver",
        20,
        || !received(&out_file).0.is_empty(),
        || std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default(),
    );

    // The receiver goes away; alerts keep coming.
    drop(receiver);
    let before = alert_ids(&alerts_file).len();
    leak(&server, "/api/search");
    leak(&server, "/api/crash");
    wait_until(
        "delivery failures while the receiver is down",
        20,
        || metric(metrics_port, "sensor_sink_failures_total{sink=\"hook\"}") >= 1.0,
        || std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default(),
    );
    assert!(alert_ids(&alerts_file).len() > before);

    // It comes back on the same port; more alerts on top.
    let _receiver = PyServer::script_on("webhook_receiver.py", port, &["--out", &out]);
    leak(&server, "/api/search");
    wait_until(
        "every alert at the receiver",
        30,
        || {
            let written = alert_ids(&alerts_file);
            written.len() > before && received(&out_file).0 == written
        },
        || {
            format!(
                "written {:?}\nreceived {:?}",
                alert_ids(&alerts_file),
                received(&out_file).0
            )
        },
    );
    let output = sensor.stop();
    let written = alert_ids(&output.alerts_file);
    let (ids, deliveries) = received(&out_file);
    assert_eq!(ids, written);
    assert_eq!(deliveries, written.len(), "an alert was delivered twice");
    // The deliveries themselves (their JSON carries the leaks' masked
    // evidence) are never analysed: no alert about the receiver.
    let receiver_host = format!("127.0.0.1:{port}");
    let about_receiver: Vec<Value> = read_jsonl(&output.alerts_file)
        .into_iter()
        .filter(|a| a["endpoint"]["host"] == receiver_host.as_str())
        .collect();
    assert!(about_receiver.is_empty(), "{}", dump(&about_receiver));
    assert!(
        output.stats["analysis"]["noise"]["own_sink_exchanges"]
            .as_u64()
            .unwrap()
            >= 1,
        "{}",
        output.stats
    );
    assert!(output.stats["sinks"][0]["failures"].as_u64().unwrap() >= 1);
    assert_eq!(output.stats["sinks"][0]["dropped"], 0);
}

#[test]
fn alerts_spooled_when_the_sensor_is_killed_are_sent_after_a_restart() {
    let dir = scratch_dir("webhook-restart");
    let server = erroring_server(&dir);
    let out_file = dir.join("received.jsonl");
    let out = out_file.to_str().unwrap().to_owned();
    // The receiver's port, with nothing listening on it yet.
    let port = free_port();
    let metrics_port = free_port();
    let config = webhook_config(&dir, port, metrics_port);
    let alerts_file = dir.join("alerts.jsonl");

    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    leak(&server, "/api/crash");
    leak(&server, "/api/search");
    // Wait until the sink has spooled what it was given and is failing to
    // send it; then kill the sensor without a chance to flush anything.
    let spooled = "sensor_sink_spooled_batches{sink=\"hook\"}";
    wait_until(
        "alerts spooled for the dead receiver",
        20,
        || {
            metric(metrics_port, spooled) >= 1.0
                && metric(metrics_port, "sensor_sink_queue_depth{sink=\"hook\"}") == 0.0
                && metric(metrics_port, "sensor_sink_failures_total{sink=\"hook\"}") >= 1.0
                && !alert_ids(&alerts_file).is_empty()
        },
        || std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default(),
    );
    let before_kill = alert_ids(&alerts_file);
    sensor.kill();
    assert!(!before_kill.is_empty());
    assert!(
        received(&out_file).0.is_empty(),
        "nothing can have been received"
    );

    // The receiver is up now; a new sensor with the same state directory
    // sends what the killed one spooled.
    let _receiver = PyServer::script_on("webhook_receiver.py", port, &["--out", &out]);
    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    wait_until(
        "the spooled alerts at the receiver",
        30,
        || before_kill.is_subset(&received(&out_file).0),
        || {
            format!(
                "spooled {before_kill:?}\nreceived {:?}\nlog:\n{}",
                received(&out_file).0,
                std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default()
            )
        },
    );
    let output = sensor.stop();
    assert_eq!(output.stats["sinks"][0]["dropped"], 0);
    let (ids, deliveries) = received(&out_file);
    assert!(before_kill.is_subset(&ids));
    assert_eq!(deliveries, ids.len(), "an alert was delivered twice");
}

/// `[[sinks.alertmanager]]` through the sensor binary to Debian's
/// Alertmanager: every alert of the run is an Alertmanager alert, labelled
/// by rule, category, severity, endpoint and host, and the sink's
/// delivered counter says so.
#[test]
fn alerts_reach_the_real_alertmanager() {
    let dir = scratch_dir("alertmanager");
    let server = erroring_server(&dir);
    let am_port = free_port();
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .unwrap();
    let alertmanager = std::process::Command::new("prometheus-alertmanager")
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus-alertmanager (cargo xtask setup installs it)");
    // Stopped however the test ends.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let alertmanager = Stop(alertmanager);
    let metrics_port = free_port();
    let config = dir.join("am.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {state:?}\n\n[alerts]\ndedup_window_secs = 0\n\n\
             [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n\
             [[sinks.alertmanager]]\nname = \"am\"\nurl = \"http://127.0.0.1:{am_port}\"\n\
             batch_wait_ms = 100\nretry_max_secs = 1\n",
            state = dir.join("state").display().to_string(),
        ),
    )
    .unwrap();
    let sensor = Sensor::start(&dir, &["--config", config.to_str().unwrap()]);
    for path in ["/api/crash", "/api/search"] {
        leak(&server, path);
    }
    sensor.wait_for("two requests", |e| on_port(e, server.port).len() >= 2);
    let api = format!("http://127.0.0.1:{am_port}/api/v2/alerts");
    let fetch = || -> Vec<Value> {
        std::process::Command::new("curl")
            .args(["-sS", &api])
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while metric(metrics_port, "sensor_sink_delivered_total{sink=\"am\"}") < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing delivered to Alertmanager"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Stopping drains the sink: what the run raised is delivered by then.
    let out = sensor.stop();
    let in_am = fetch();
    drop(alertmanager);
    // Other programs on the host make traffic too: this server's only.
    let ours = format!("127.0.0.1:{}", server.port);
    let alerts: Vec<Value> = read_jsonl(&out.alerts_file)
        .into_iter()
        .filter(|a| a["endpoint"]["host"] == ours.as_str())
        .collect();
    assert!(!alerts.is_empty(), "no alerts; log:\n{}", out.log);
    // Alertmanager keeps one alert per label set: one per rule, endpoint
    // and side of the connection's host.
    let labels: BTreeSet<(String, String)> = in_am
        .iter()
        .filter(|a| {
            a["labels"]["endpoint"]
                .as_str()
                .is_some_and(|e| e.contains(&format!(" {ours}/")))
        })
        .map(|a| {
            let l = &a["labels"];
            assert_eq!(l["source"], "sensor", "{a}");
            assert!(l["host"].as_str().is_some_and(|h| !h.is_empty()), "{a}");
            assert!(
                l["severity"].is_string() && l["category"].is_string(),
                "{a}"
            );
            (
                l["rule"].as_str().unwrap().to_owned(),
                l["endpoint"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|a| {
            let e = &a["endpoint"];
            (
                a["rule"].as_str().unwrap().to_owned(),
                format!(
                    "{} {}{}",
                    e["method"].as_str().unwrap(),
                    e["host"].as_str().unwrap(),
                    e["path"].as_str().unwrap()
                ),
            )
        })
        .collect();
    assert_eq!(labels, expected, "alerts file:\n{}", dump(&alerts));
}
