//! `sensor tail` as a user runs it: a real process following a file that
//! is appended to, rotated and truncated.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn alert(n: u32, severity: &str) -> String {
    format!(
        r#"{{"ts":"2026-11-23T08:00:{n:02}Z","rule":"rule.{n}","category":"secret","severity":"{severity}","summary":"alert {n}","endpoint":{{"method":"GET","host":"h","path":"/p"}},"process":{{"pid":1,"comm":"c"}}}}"#
    )
}

fn append(path: &Path, lines: &[String]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
}

struct Tail {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Tail {
    fn start(args: &[&str]) -> Tail {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sensor"))
            .arg("tail")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Tail { child, lines }
    }

    /// The next `n` lines, failing the test after 10 s.
    fn next(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                self.lines
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap_or_else(|_| panic!("line {} of {n} never came", i + 1))
            })
            .collect()
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sensor-tail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn follows_appends_rotation_and_truncation() {
    let dir = scratch("rotation");
    let path = dir.join("alerts.jsonl");
    append(&path, &[alert(1, "low"), alert(2, "low"), alert(3, "low")]);
    let tail = Tail::start(&[path.to_str().unwrap(), "--json", "-n", "2"]);
    assert_eq!(tail.next(2), [alert(2, "low"), alert(3, "low")]);

    append(&path, &[alert(4, "high")]);
    assert_eq!(tail.next(1), [alert(4, "high")]);

    // Rotation: the writer renames the file, finishes a last line into the
    // old one, then starts a new file.
    let rotated = dir.join("alerts.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    append(&rotated, &[alert(5, "low")]);
    std::thread::sleep(Duration::from_millis(300));
    append(&path, &[alert(6, "low"), alert(7, "low")]);
    assert_eq!(
        tail.next(3),
        [alert(5, "low"), alert(6, "low"), alert(7, "low")]
    );

    // Truncation in place starts again from the top.
    std::fs::write(&path, "").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&path, &[alert(8, "low")]);
    assert_eq!(tail.next(1), [alert(8, "low")]);
}

#[test]
fn renders_and_filters() {
    let dir = scratch("render");
    let path = dir.join("alerts.jsonl");
    append(
        &path,
        &[
            alert(1, "low"),
            alert(2, "critical"),
            "not json".to_owned(),
            alert(3, "medium"),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args([
            "tail",
            path.to_str().unwrap(),
            "--once",
            "--severity",
            "medium",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("CRITICAL") && lines[0].contains("rule.2"),
        "{text}"
    );
    assert_eq!(lines[1], "(not an alert) not json");
    assert!(
        lines[2].contains("MEDIUM") && lines[2].contains("alert 3"),
        "{text}"
    );

    let missing = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["tail", dir.join("absent").to_str().unwrap(), "--once"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("absent"));
}

#[test]
fn chained_files_show_checkpoints_to_people_and_only_alerts_as_json() {
    use sensor::sink::chain::ChainKey;
    let dir = scratch("chained");
    let path = dir.join("alerts.jsonl");
    let mut out = sensor::sink::JsonLines::open(&path)
        .unwrap()
        .chained(ChainKey::from_bytes([1; 32]))
        .unwrap();
    out.write_raw(alert(1, "low").as_bytes()).unwrap();
    out.write_raw(alert(2, "critical").as_bytes()).unwrap();
    out.close().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
            .arg("tail")
            .arg(&path)
            .args(["--once", "--color", "never"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let people = run(&[]);
    let lines: Vec<&str> = people.lines().collect();
    assert_eq!(lines.len(), 4, "{people}");
    assert!(lines[0].ends_with("checkpoint open (seq 1)"), "{people}");
    assert!(
        lines[1].contains("rule.1") && lines[2].contains("rule.2"),
        "{people}"
    );
    assert!(
        lines[3].ends_with("checkpoint shutdown (seq 4)"),
        "{people}"
    );
    let json = run(&["--json"]);
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 2, "{json}");
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["rule"], "rule.1");
    assert_eq!(first["seq"], 2);
    let filtered = run(&["--severity", "high"]);
    assert_eq!(filtered.lines().count(), 1, "{filtered}");
}
