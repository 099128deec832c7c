//! The alerts file as a session writes it: deduplicated, rate limited, and
//! cut at its minimum severity, while the sinks keep their own filter.

use crate::alert::AlertsConfig;
use crate::analysis::detect::tests::{detector, exchange};
use crate::analysis::detect::DetectConfig;
use crate::analysis::Analysis;
use crate::config::{CaptureConfig, LimitsConfig, OutputConfig};
use crate::exchange::HttpExchange;
use crate::finding::Severity;
use crate::pipeline::Pipeline;
use crate::sink::Outputs;
use crate::tail::severity_rank;

use super::Session;

fn leaky_exchange(path: &str, completed_unix_ns: i128) -> HttpExchange {
    let mut x = exchange(
        "GET",
        path,
        &[("Host", "api.acme.io")],
        "",
        &[("Content-Type", "application/json")],
        r#"{"email":"ann.lee@acme-mail.io","card":"4539 5787 6362 1486"}"#,
    );
    x.completed_unix_ns = completed_unix_ns;
    x
}

fn outputs(dir: &std::path::Path, policy: &AlertsConfig) -> Session {
    let config = OutputConfig {
        alerts: dir.join("alerts.jsonl"),
        state_dir: dir.to_owned(),
        ..OutputConfig::default()
    };
    Session::new(
        Pipeline::new(&CaptureConfig::default(), &LimitsConfig::default(), 0),
        Analysis::new(detector(&DetectConfig::default())).with_alert_policy(policy),
        Outputs::open(&config).unwrap().with_alert_policy(policy),
    )
}

fn written(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sensor-outputs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_alerts_file_keeps_its_minimum_severity() {
    let dir = scratch("severity");
    let all = {
        let mut out = outputs(&dir, &AlertsConfig::default());
        out.deliver(&mut vec![leaky_exchange("/a", 1)]).unwrap();
        out.flush().unwrap();
        written(&dir)
    };
    let ranks: Vec<usize> = all
        .iter()
        .map(|a| severity_rank(a["severity"].as_str().unwrap()).unwrap())
        .collect();
    // The exchange must raise alerts on both sides of the cut.
    assert!(
        ranks.iter().any(|&r| r < 2) && ranks.iter().any(|&r| r >= 2),
        "{all:?}"
    );

    std::fs::remove_file(dir.join("alerts.jsonl")).unwrap();
    let policy = AlertsConfig {
        min_severity: Severity::High,
        ..AlertsConfig::default()
    };
    let mut out = outputs(&dir, &policy);
    out.deliver(&mut vec![leaky_exchange("/a", 1)]).unwrap();
    out.flush().unwrap();
    let kept = written(&dir);
    assert_eq!(kept.len(), ranks.iter().filter(|&&r| r >= 2).count());
    assert!(kept
        .iter()
        .all(|a| a["severity"] == "high" || a["severity"] == "critical"));
    assert_eq!(
        out.below_file_min_severity(),
        ranks.iter().filter(|&&r| r < 2).count() as u64
    );
}

#[test]
fn repeats_are_folded_and_summarised_when_the_window_closes() {
    let dir = scratch("dedup");
    let mut out = outputs(&dir, &AlertsConfig::default());
    let second = 1_000_000_000i128;
    let start = 1_700_000_000 * second;
    // The same leak every second for two minutes.
    let mut done: Vec<HttpExchange> = (0..120)
        .map(|i| leaky_exchange("/api/me", start + i * second))
        .collect();
    out.deliver(&mut done).unwrap();
    out.flush().unwrap();
    let firsts = written(&dir);
    assert!(!firsts.is_empty());
    assert!(firsts.iter().all(|a| a["count"] == 1));
    // Five minutes after the first: each window closes with its summary.
    out.tick(start + 300 * second).unwrap();
    out.flush().unwrap();
    let all = written(&dir);
    assert_eq!(all.len(), 2 * firsts.len());
    for summary in &all[firsts.len()..] {
        assert_eq!(summary["count"], 120);
        assert_eq!(summary["first_seen"], "2023-11-14T22:13:20Z");
        assert_eq!(summary["last_seen"], "2023-11-14T22:15:19Z");
    }
    assert_eq!(out.aggregate_counters().folded, 119 * firsts.len() as u64);
    let _ = std::fs::remove_dir_all(&dir);
}
