//! The fleet inventory (`[inventory] store`) against a real PostgreSQL:
//! live sensors on this host, each named as its own host (`NODE_NAME`),
//! writing to one database through a database outage at start and a
//! restart mid-run; `sensor inventory --store` shows the merged catalogue;
//! `sensor replay` runs starting together migrate the database once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sensor_e2e::postgres::{Postgres, PASSWORD};
use sensor_e2e::{curl, free_port, on_port, scratch_dir, sensor_bin, wait_until, PyServer, Sensor};
use serde_json::Value;

fn config(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("sensor.toml");
    std::fs::write(
        &path,
        format!(
            "{}[output]\nstate_dir = {:?}\n\n[metrics]\nlisten = \"127.0.0.1:{}\"\n\n\
             [inventory]\nstore = {url:?}\nsave_interval_secs = 1\n",
            sensor_e2e::capture_mode_section(),
            dir.join("state").display().to_string(),
            free_port(),
        ),
    )
    .unwrap();
    path
}

fn start(dir: &Path, url: &str, node: &str) -> Sensor {
    let config = config(dir, url);
    Sensor::start_with(
        dir,
        &["--config", &config.display().to_string()],
        &["env".into(), format!("NODE_NAME={node}")],
    )
}

/// `sensor inventory --store URL --format json`, or its error.
fn fleet_inventory(url: &str) -> Result<Value, String> {
    let out = Command::new(sensor_bin())
        .args(["inventory", "--format", "json", "--store", url])
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap())
}

/// The endpoint `template` of `host` in a `--format json` inventory.
fn endpoint<'a>(inventory: &'a Value, host: &str, template: &str) -> Option<&'a Value> {
    inventory["endpoints"]
        .as_array()?
        .iter()
        .find(|e| e["host"] == host && e["template"] == template && e["method"] == "GET")
}

/// (host, method, template) → requests in a sensor's own inventory.json.
fn local_requests(dir: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(dir.join("state/inventory.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                format!(
                    "{} {} {}",
                    e["host"].as_str().unwrap(),
                    e["method"].as_str().unwrap(),
                    e["template"].as_str().unwrap()
                ),
                e["requests"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The same, as the database holds it for `sensor`.
fn stored_requests(pg: &Postgres, sensor: &str) -> BTreeMap<String, u64> {
    pg.psql(
        "postgres",
        &format!(
            "SELECT host || ' ' || method || ' ' || template || '|' || requests \
             FROM sensor_inventory_endpoints WHERE sensor_host = '{sensor}'"
        ),
    )
    .lines()
    .map(|line| {
        let (key, requests) = line.rsplit_once('|').unwrap();
        (key.to_owned(), requests.parse().unwrap())
    })
    .collect()
}

fn metric(sensor: &Sensor, config: &Path, name: &str) -> f64 {
    let text = std::fs::read_to_string(config).unwrap();
    let listen = text
        .lines()
        .find_map(|l| l.strip_prefix("listen = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let page = String::from_utf8(curl(&["-s", &format!("http://{listen}/metrics")])).unwrap();
    let _ = sensor;
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn sensors_share_one_inventory_through_database_outages() {
    let root = scratch_dir("fleet-inventory");
    let (dir_a, dir_b) = (root.join("a"), root.join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let pg = Postgres::init("fleet");
    let url = pg.url("postgres");
    let api = PyServer::script("api_server.py", &[]);
    let base = format!("http://127.0.0.1:{}", api.port);
    let host = format!("127.0.0.1:{}", api.port);
    let server_side = |n: usize| {
        move |e: &[Value]| {
            on_port(e, api.port)
                .iter()
                .filter(|x| x["role"] == "server")
                .count()
                >= n
        }
    };

    // The database is down when sensor A starts: it runs all the same,
    // keeps its local inventory and counts the failed writes.
    let a = start(&dir_a, &url, "sensor-a");
    curl(&["-s", "-o", "/dev/null", &format!("{base}/api/orders/[1-3]")]);
    a.wait_for("three orders", server_side(3));
    wait_until(
        "a failed write counted",
        20,
        || {
            metric(
                &a,
                &dir_a.join("sensor.toml"),
                "sensor_inventory_store_write_errors_total",
            ) >= 1.0
        },
        || std::fs::read_to_string(dir_a.join("sensor.log")).unwrap_or_default(),
    );
    assert!(fleet_inventory(&url).is_err());

    // The database comes up: A catches up on its own; B starts with it.
    pg.start();
    let b = start(&dir_b, &url, "sensor-b");
    wait_until(
        "A's orders in the fleet inventory",
        30,
        || fleet_inventory(&url).is_ok_and(|i| endpoint(&i, &host, "/api/orders/{id}").is_some()),
        || format!("{:?}", fleet_inventory(&url)),
    );

    // A restart mid-run: traffic while the database is down is written
    // once it is back.
    pg.stop();
    curl(&[
        "-s",
        "-o",
        "/dev/null",
        &format!("{base}/api/health"),
        &format!("{base}/api/health"),
    ]);
    a.wait_for("two health checks", server_side(5));
    b.wait_for("two health checks", server_side(2));
    let errors_before = metric(
        &a,
        &dir_a.join("sensor.toml"),
        "sensor_inventory_store_write_errors_total",
    );
    wait_until(
        "a failed write during the outage",
        20,
        || {
            metric(
                &a,
                &dir_a.join("sensor.toml"),
                "sensor_inventory_store_write_errors_total",
            ) > errors_before
        },
        String::new,
    );
    pg.start();
    wait_until(
        "the health checks of both sensors in the fleet inventory",
        30,
        || {
            fleet_inventory(&url).is_ok_and(|i| {
                endpoint(&i, &host, "/api/health")
                    .is_some_and(|e| e["sensors"] == serde_json::json!(["sensor-a", "sensor-b"]))
            })
        },
        || format!("{:?}", fleet_inventory(&url)),
    );
    let out_a = a.stop();
    let out_b = b.stop();

    // Nothing lost: each sensor's rows are its whole local inventory.
    for (dir, name) in [(&dir_a, "sensor-a"), (&dir_b, "sensor-b")] {
        let local = local_requests(dir);
        assert!(!local.is_empty());
        assert_eq!(stored_requests(&pg, name), local, "{name}");
    }
    let fleet = fleet_inventory(&url).unwrap();
    let orders = endpoint(&fleet, &host, "/api/orders/{id}").unwrap();
    assert_eq!(
        orders["sensors"],
        serde_json::json!(["sensor-a"]),
        "{orders}"
    );
    let health = endpoint(&fleet, &host, "/api/health").unwrap();
    let key = format!("{host} GET /api/health");
    let summed = local_requests(&dir_a)[&key] + local_requests(&dir_b)[&key];
    assert_eq!(health["requests"].as_u64(), Some(summed), "{health}");
    assert!(summed >= 4, "{health}");

    // The same formats as a host's inventory.
    let run = |format: &str| {
        let out = Command::new(sensor_bin())
            .args(["inventory", "--format", format, "--store", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run("table").contains("/api/health"));
    let openapi: Value = serde_json::from_str(&run("openapi")).unwrap();
    assert!(
        openapi["paths"]["/api/orders/{id}"]["get"].is_object(),
        "{openapi}"
    );

    // The outage is in the log, the password is not.
    for out in [&out_a, &out_b] {
        assert!(!out.log.contains(PASSWORD), "{}", out.log);
    }
    assert!(
        out_a.log.contains(&format!(
            "inventory store postgres://sensor:***@127.0.0.1:{}",
            pg.port
        )),
        "{}",
        out_a.log
    );
    let store = &out_a.stats["analysis"]["inventory"]["store"];
    assert_eq!(store["rows_pending"], 0, "{store}");
    assert_eq!(store["rows_dropped"], 0, "{store}");
    assert!(store["rows_written"].as_u64() >= Some(2), "{store}");
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT string_agg(version::text, ',') FROM sensor_inventory_migrations"
        )
        .trim(),
        "1"
    );
}

/// Records the traffic `traffic` makes to `port` on loopback, with tshark
/// (pcapng).
fn record_pcap(path: &Path, port: u16, traffic: impl FnOnce()) {
    let log = path.with_extension("tshark.log");
    let mut tshark = Command::new("tshark")
        .args(["-i", "lo", "-f", &format!("tcp port {port}"), "-w"])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting tshark");
    wait_until(
        "tshark capturing",
        20,
        || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Capturing on")),
        || std::fs::read_to_string(&log).unwrap_or_default(),
    );
    // It prints that line just before the capture starts.
    std::thread::sleep(std::time::Duration::from_millis(500));
    traffic();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tshark.id() as i32, libc::SIGINT) };
    assert!(tshark.wait().unwrap().success());
}

#[test]
fn sensors_starting_together_migrate_the_database_once() {
    let root = scratch_dir("fleet-inventory-race");
    let pg = Postgres::init("fleet-race");
    pg.start();
    let url = pg.url("postgres");
    let api = PyServer::script("api_server.py", &[]);
    let base = format!("http://127.0.0.1:{}", api.port);
    let pcap = root.join("api.pcapng");
    record_pcap(&pcap, api.port, || {
        curl(&["-s", "-o", "/dev/null", &format!("{base}/api/orders/[1-4]")]);
    });

    // Four sensors, four hosts, one fresh database, all at once.
    let runs: Vec<_> = (1..=4)
        .map(|n| {
            let dir = root.join(format!("replay-{n}"));
            std::fs::create_dir_all(&dir).unwrap();
            let config = config(&dir, &url);
            Command::new(sensor_bin())
                .arg("replay")
                .arg(&pcap)
                .arg("--config")
                .arg(&config)
                .arg("--alerts")
                .arg(dir.join("alerts.jsonl"))
                .env("NODE_NAME", format!("replay-{n}"))
                .stderr(std::fs::File::create(dir.join("sensor.log")).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut migrated = 0;
    for (n, mut run) in runs.into_iter().enumerate() {
        let status = run.wait().unwrap();
        let log = std::fs::read_to_string(root.join(format!("replay-{}/sensor.log", n + 1)));
        assert!(status.success(), "replay {}: {log:?}", n + 1);
        // Each wrote at its first attempt: none tripped over another's
        // migration (a retry would hide it).
        let log = log.unwrap();
        assert!(!log.contains("retries"), "replay {}: {log}", n + 1);
        migrated += usize::from(log.contains("applied migrations [1]"));
    }
    assert_eq!(migrated, 1, "exactly one sensor creates the tables");
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT count(*) FROM sensor_inventory_migrations"
        )
        .trim(),
        "1"
    );
    let fleet = fleet_inventory(&url).unwrap();
    let host = format!("127.0.0.1:{}", api.port);
    let orders = endpoint(&fleet, &host, "/api/orders/{id}").unwrap();
    assert_eq!(
        orders["sensors"],
        serde_json::json!(["replay-1", "replay-2", "replay-3", "replay-4"]),
        "{orders}"
    );
    let one = local_requests(&root.join("replay-1"))[&format!("{host} GET /api/orders/{{id}}")];
    assert!(one >= 4, "{one}");
    assert_eq!(orders["requests"].as_u64(), Some(4 * one), "{orders}");
}

/// `python3 -m http.server` on a directory, stopped when dropped.
struct StaticServer(std::process::Child);

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn zombies_are_judged_on_the_fleet_view() {
    let root = scratch_dir("fleet-inventory-zombie");
    let pg = Postgres::init("fleet-zombie");
    pg.start();
    let url = pg.url("postgres");
    let site = root.join("site");
    for version in ["v1", "v2"] {
        std::fs::create_dir_all(site.join(version).join("items")).unwrap();
        std::fs::write(site.join(version).join("items/1"), "{}").unwrap();
    }
    let port = free_port();
    let _server = StaticServer(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(&site)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until(
        "the static server",
        10,
        || {
            Command::new("curl")
                .args(["-sf", "-o", "/dev/null", &format!("{base}/v2/items/1")])
                .status()
                .is_ok_and(|s| s.success())
        },
        String::new,
    );

    // Another host saw v2 only: its sensor's records reach the database.
    let pcap = root.join("v2.pcapng");
    record_pcap(&pcap, port, || {
        curl(&["-s", "-o", "/dev/null", &format!("{base}/v2/items/1")]);
    });
    let other = root.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let status = Command::new(sensor_bin())
        .arg("replay")
        .arg(&pcap)
        .arg("--config")
        .arg(config(&other, &url))
        .arg("--alerts")
        .arg(other.join("alerts.jsonl"))
        .env("NODE_NAME", "other-host")
        .stderr(std::fs::File::create(other.join("sensor.log")).unwrap())
        .status()
        .unwrap();
    assert!(status.success());

    // This host sees only v1: a zombie only on the fleet's view.
    let dir = root.join("this");
    std::fs::create_dir_all(&dir).unwrap();
    let sensor = start(&dir, &url, "this-host");
    let zombie = || {
        sensor_e2e::read_jsonl(&dir.join("alerts.jsonl"))
            .into_iter()
            .find(|a| a["rule"] == "inventory.zombie_api")
    };
    wait_until(
        "inventory.zombie_api for /v1/items/{id}",
        30,
        || {
            curl(&["-s", "-o", "/dev/null", &format!("{base}/v1/items/1")]);
            std::thread::sleep(std::time::Duration::from_millis(300));
            zombie().is_some()
        },
        || std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap_or_default(),
    );
    let alert = zombie().unwrap();
    assert!(alert.to_string().contains("/v1/items/{id}"), "{alert}");
    assert!(alert.to_string().contains("v2"), "{alert}");
    let out = sensor.stop();
    assert!(
        !on_port(&out.exchanges, port)
            .iter()
            .any(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/v2/"))),
        "this host saw v2 itself"
    );
}
