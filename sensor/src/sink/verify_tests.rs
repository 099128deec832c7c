//! The chain written by the alerts file's writer, verified intact and
//! after every kind of tampering: a line edited, removed, inserted, the
//! tail cut, the start cut, a rotated file gone, the wrong key.

use std::path::{Path, PathBuf};

use super::*;
use crate::sink::JsonLines;

fn key() -> ChainKey {
    ChainKey::from_bytes([11; 32])
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sensor-verify-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `n` alerts to `path` (rotating at `rotate` bytes, keeping 5) and
/// closes the run.
fn write_alerts(path: &Path, from: u32, n: u32, rotate: u64) {
    let mut out = JsonLines::open(path)
        .unwrap()
        .rotate_at(rotate, 5)
        .chained(key())
        .unwrap();
    for i in from..from + n {
        let alert = serde_json::json!({"ts": "2026-12-06T10:00:00Z", "rule": "pii.ssn", "summary": format!("alert {i}")});
        out.write(&alert).unwrap();
    }
    out.close().unwrap();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rewrite(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn check(files: &[PathBuf]) -> Verdict {
    verify(&key(), files).unwrap()
}

fn problem_at(verdict: &Verdict) -> (String, u64, Problem) {
    match verdict {
        Verdict::Broken {
            file,
            line,
            problem,
        } => (
            file.file_name().unwrap().to_string_lossy().into_owned(),
            *line,
            problem.clone(),
        ),
        Verdict::Intact { .. } => panic!("expected a problem, got {verdict}"),
    }
}

#[test]
fn an_intact_file_verifies_and_every_line_is_still_an_alert() {
    let dir = Dir::new("intact");
    let path = dir.path("alerts.jsonl");
    write_alerts(&path, 0, 10, 0);
    // A restart appends and continues the chain.
    write_alerts(&path, 10, 5, 0);
    let all = lines(&path);
    // open, 10 alerts, shutdown, 5 alerts, shutdown.
    assert_eq!(all.len(), 18);
    let verdict = check(std::slice::from_ref(&path));
    assert_eq!(
        verdict,
        Verdict::Intact {
            lines: 18,
            first_seq: 1,
            last_seq: 18
        }
    );
    assert!(verdict.to_string().starts_with("intact: 18 lines"));
    let alert: serde_json::Value = serde_json::from_str(&all[1]).unwrap();
    assert_eq!(alert["rule"], "pii.ssn");
    assert_eq!(alert["summary"], "alert 0");
    assert_eq!(alert["seq"], 2);
    assert_eq!(alert["chain"].as_str().unwrap().len(), 32);
    assert!(
        all[0].starts_with(r#"{"checkpoint":"open","ts":""#),
        "{}",
        all[0]
    );
    assert!(
        all[11].starts_with(r#"{"checkpoint":"shutdown","ts":""#),
        "{}",
        all[11]
    );
    // The key is not in the file.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&"0b".repeat(32)));
}

#[test]
fn an_edited_line_is_named() {
    let dir = Dir::new("edited");
    let path = dir.path("alerts.jsonl");
    write_alerts(&path, 0, 10, 0);
    let mut all = lines(&path);
    all[4] = all[4].replace("pii.ssn", "pii.ss_");
    rewrite(&path, &all);
    let verdict = check(std::slice::from_ref(&path));
    assert_eq!(
        problem_at(&verdict),
        ("alerts.jsonl".into(), 5, Problem::Changed)
    );
    assert!(
        verdict.to_string().contains("alerts.jsonl line 5: changed"),
        "{verdict}"
    );
}

#[test]
fn a_deleted_line_is_named() {
    let dir = Dir::new("deleted");
    let path = dir.path("alerts.jsonl");
    write_alerts(&path, 0, 10, 0);
    let mut all = lines(&path);
    all.remove(6);
    rewrite(&path, &all);
    assert_eq!(
        problem_at(&check(std::slice::from_ref(&path))),
        ("alerts.jsonl".into(), 7, Problem::Removed { missing: 1 })
    );
}

#[test]
fn an_inserted_line_is_named() {
    let dir = Dir::new("inserted");
    let path = dir.path("alerts.jsonl");
    write_alerts(&path, 0, 10, 0);
    let mut all = lines(&path);
    // A forged line copying a neighbour's seq and chain.
    let forged = all[3].replace("alert 2", "nothing to see");
    all.insert(4, forged);
    rewrite(&path, &all);
    assert_eq!(
        problem_at(&check(std::slice::from_ref(&path))),
        ("alerts.jsonl".into(), 5, Problem::Inserted)
    );
    // A duplicated line.
    write_alerts(&dir.path("b.jsonl"), 0, 10, 0);
    let mut all = lines(&dir.path("b.jsonl"));
    let copy = all[2].clone();
    all.insert(6, copy);
    rewrite(&dir.path("b.jsonl"), &all);
    assert_eq!(
        problem_at(&check(&[dir.path("b.jsonl")])),
        ("b.jsonl".into(), 7, Problem::Inserted)
    );
}

#[test]
fn a_truncated_tail_is_found() {
    let dir = Dir::new("truncated");
    let path = dir.path("alerts.jsonl");
    write_alerts(&path, 0, 10, 0);
    let mut all = lines(&path);
    // The last three lines (the shutdown checkpoint among them) cut.
    all.truncate(all.len() - 3);
    rewrite(&path, &all);
    assert_eq!(
        problem_at(&check(std::slice::from_ref(&path))),
        ("alerts.jsonl".into(), 9, Problem::NoClosing)
    );
    // Cut in the middle of a line.
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, &text[..text.len() - 20]).unwrap();
    assert_eq!(
        problem_at(&check(std::slice::from_ref(&path))),
        ("alerts.jsonl".into(), 9, Problem::Incomplete)
    );
    // The start cut.
    write_alerts(&dir.path("c.jsonl"), 0, 10, 0);
    let all = lines(&dir.path("c.jsonl"));
    rewrite(&dir.path("c.jsonl"), &all[2..]);
    assert_eq!(
        problem_at(&check(&[dir.path("c.jsonl")])),
        ("c.jsonl".into(), 1, Problem::NoOpening)
    );
}

#[test]
fn a_rotated_set_verifies_in_any_order_and_a_missing_file_is_found() {
    let dir = Dir::new("rotated");
    let path = dir.path("alerts.jsonl");
    // Lines are about 170 bytes: a few per file.
    write_alerts(&path, 0, 20, 800);
    let mut files: Vec<PathBuf> = (1..=5)
        .map(|n| dir.path(&format!("alerts.jsonl.{n}")))
        .filter(|p| p.exists())
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    files.insert(1, path.clone());
    let verdict = check(&files);
    assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict}");
    // Each rotated file verifies on its own too (opened and closed by
    // checkpoints).
    let oldest = files.iter().max().unwrap().clone();
    let first = lines(&oldest);
    assert!(first[0].contains(r#""checkpoint":"open""#), "{}", first[0]);
    assert!(first.last().unwrap().contains(r#""checkpoint":"rotation""#));
    assert!(matches!(check(&[oldest]), Verdict::Intact { .. }));
    // A file in the middle of the set removed.
    let middle = dir.path("alerts.jsonl.2");
    let set: Vec<PathBuf> = files.iter().filter(|p| **p != middle).cloned().collect();
    let (file, line, problem) = problem_at(&check(&set));
    assert_eq!((file.as_str(), line), ("alerts.jsonl.1", 1));
    assert!(matches!(problem, Problem::Removed { .. }), "{problem:?}");
    // An edit in a rotated file is found across the set.
    let mut one = lines(&dir.path("alerts.jsonl.1"));
    one[1] = one[1].replace("alert", "alarm");
    rewrite(&dir.path("alerts.jsonl.1"), &one);
    assert_eq!(
        problem_at(&check(&files)),
        ("alerts.jsonl.1".into(), 2, Problem::Changed)
    );
}

#[test]
fn the_wrong_key_verifies_nothing() {
    let dir = Dir::new("key");
    let path = dir.path("alerts.jsonl");
    write_alerts(&path, 0, 3, 0);
    let other = ChainKey::from_bytes([12; 32]);
    let verdict = verify(&other, std::slice::from_ref(&path)).unwrap();
    assert_eq!(
        problem_at(&verdict),
        ("alerts.jsonl".into(), 1, Problem::Changed)
    );
}

#[test]
fn a_file_written_before_chaining_is_continued_after_an_opening_checkpoint() {
    let dir = Dir::new("legacy");
    let path = dir.path("alerts.jsonl");
    std::fs::write(&path, "{\"rule\":\"old\"}\n{\"rule\":\"cut").unwrap();
    write_alerts(&path, 0, 2, 0);
    let all = lines(&path);
    assert_eq!(all[1], "{\"rule\":\"cut");
    assert!(all[2].contains(r#""checkpoint":"open""#), "{}", all[2]);
    assert_eq!(
        problem_at(&check(std::slice::from_ref(&path))),
        ("alerts.jsonl".into(), 1, Problem::NotSealed)
    );
}

#[test]
fn old_rotated_files_are_deleted_by_age() {
    let dir = Dir::new("age");
    let path = dir.path("alerts.jsonl");
    for n in 1..=3 {
        std::fs::write(dir.path(&format!("alerts.jsonl.{n}")), "x\n").unwrap();
    }
    std::fs::write(dir.path("alerts.jsonl.keep"), "x\n").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(10 * 86_400);
    for n in [2, 3] {
        let file = std::fs::File::options()
            .write(true)
            .open(dir.path(&format!("alerts.jsonl.{n}")))
            .unwrap();
        file.set_modified(old).unwrap();
    }
    let file = std::fs::File::options()
        .write(true)
        .open(dir.path("alerts.jsonl.keep"))
        .unwrap();
    file.set_modified(old).unwrap();
    let _out = JsonLines::open(&path)
        .unwrap()
        .rotate_at(1000, 5)
        .keep_days(7);
    assert!(dir.path("alerts.jsonl.1").exists(), "recent: kept");
    assert!(!dir.path("alerts.jsonl.2").exists(), "10 days old: deleted");
    assert!(!dir.path("alerts.jsonl.3").exists());
    assert!(dir.path("alerts.jsonl.keep").exists(), "not a rotated file");
}

#[test]
fn nothing_to_verify_is_not_intact() {
    let dir = Dir::new("empty");
    let path = dir.path("alerts.jsonl");
    std::fs::write(&path, "").unwrap();
    assert_eq!(
        problem_at(&check(std::slice::from_ref(&path))).2,
        Problem::Empty
    );
    assert!(matches!(
        check(&[]),
        Verdict::Broken {
            problem: Problem::Empty,
            ..
        }
    ));
}
