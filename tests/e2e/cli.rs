//! The command line as a newcomer meets it: `sensor rules` and
//! `sensor tail` run as a user would, on the release binary. No root and
//! no capture needed.

use std::process::{Command, Output, Stdio};

use sensor_e2e::*;

fn sensor(args: &[&str]) -> Output {
    Command::new(sensor_bin()).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn listed_ids(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}", stderr(out));
    stdout(out)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn rules_lists_every_rule_and_each_can_be_disabled() {
    let ids = listed_ids(&sensor(&["rules"]));
    for id in [
        "inventory.shadow_api",
        "inventory.zombie_api",
        "volume.rate_spike",
        "auth.brute_force",
        "pii.email",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} not in {ids:?}");
    }

    // Every listed id is accepted by disabled_rules and leaves the
    // effective set; the others stay.
    let dir = scratch_dir("cli_rules");
    let config = dir.join("sensor.toml");
    for id in &ids {
        std::fs::write(
            &config,
            format!(
                "[detect]\ndisabled_rules = [\"{id}\"]\n[output]\nstate_dir = \"{}\"\n",
                dir.display()
            ),
        )
        .unwrap();
        let check = sensor(&["check-config", config.to_str().unwrap()]);
        assert!(check.status.success(), "{id}: {}", stderr(&check));
        let left = listed_ids(&sensor(&["rules", "--config", config.to_str().unwrap()]));
        assert!(!left.contains(id), "{id} still in the effective set");
        assert_eq!(left.len(), ids.len() - 1, "{id}: {left:?}");
    }

    // A pattern naming no rule is still refused, naming it.
    std::fs::write(&config, "[detect]\ndisabled_rules = [\"volume.nope\"]\n").unwrap();
    let check = sensor(&["rules", "--config", config.to_str().unwrap()]);
    assert!(!check.status.success());
    assert!(stderr(&check).contains("volume.nope"), "{}", stderr(&check));
}

#[test]
fn rules_into_a_closed_pipe_ends_quietly() {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' rules | head -1", sensor_bin().display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out).lines().count(), 1);
    assert_eq!(stderr(&out), "", "sensor rules | head wrote to stderr");
}

fn alert(severity: &str, category: &str, n: usize) -> String {
    format!(
        r#"{{"ts":"2026-11-23T08:00:0{n}Z","rule":"r{n}","category":"{category}","severity":"{severity}","summary":"alert {n}","endpoint":{{"method":"GET","host":"h","path":"/p"}},"process":{{"pid":1,"comm":"c"}}}}"#
    )
}

#[test]
fn tail_counts_after_the_filter_and_refuses_unknown_filters() {
    let dir = scratch_dir("cli_tail");
    let file = dir.join("alerts.jsonl");
    // Three secrets, then five low-severity alerts after them.
    let mut lines: Vec<String> = (0..3).map(|n| alert("high", "secret", n)).collect();
    lines.extend((3..8).map(|n| alert("low", "auth", n)));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let path = file.to_str().unwrap();

    let out = sensor(&[
        "tail",
        path,
        "--once",
        "--color",
        "never",
        "--category",
        "secret",
        "-n",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert_eq!(shown.lines().count(), 2, "{shown}");
    assert!(
        shown.contains("alert 1") && shown.contains("alert 2"),
        "{shown}"
    );

    let out = sensor(&["tail", path, "--once", "--severity", "high", "-n", "5"]);
    assert_eq!(stdout(&out).lines().count(), 3, "{}", stdout(&out));

    for bad in [["--category", "secrets"], ["--severity", "severe"]] {
        let out = sensor(&["tail", path, "--once", bad[0], bad[1]]);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(stderr(&out).contains(bad[1]), "{}", stderr(&out));
    }

    // Critical and high differ in more than weight: a background colour.
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            alert("critical", "secret", 0),
            alert("high", "secret", 1)
        ),
    )
    .unwrap();
    let out = stdout(&sensor(&["tail", path, "--once", "--color", "always"]));
    let critical = out.lines().next().unwrap();
    let high = out.lines().nth(1).unwrap();
    assert!(critical.contains("\x1b[1;97;41mCRITICAL"), "{critical:?}");
    assert!(high.contains("\x1b[31mHIGH"), "{high:?}");
}
