//! `sensor verify` as a user runs it: on an alerts file chained by the
//! sensor's writer under the key in a key file, intact, then tampered.

use std::path::{Path, PathBuf};
use std::process::Command;

use sensor::analysis::detect::FingerprintKey;
use sensor::sink::chain::ChainKey;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sensor-verify-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a chained alerts file under the key at `key_file` (created).
fn write_log(path: &Path, key_file: &Path, alerts: u32, rotate: u64) {
    let key = FingerprintKey::load_or_create(key_file).unwrap();
    let key = ChainKey::from_bytes(key.derive(ChainKey::PURPOSE));
    let mut out = sensor::sink::JsonLines::open(path)
        .unwrap()
        .rotate_at(rotate, 9)
        .chained(key)
        .unwrap();
    for i in 0..alerts {
        out.write(&serde_json::json!({"rule": "pii.email", "summary": format!("alert {i}")}))
            .unwrap();
    }
    out.close().unwrap();
}

fn verify(files: &[PathBuf], key_file: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .arg("verify")
        .args(files)
        .arg("--key-file")
        .arg(key_file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn edit_lines(path: &Path, edit: impl Fn(&mut Vec<String>)) {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    edit(&mut lines);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn verify_reports_intact_edited_deleted_and_truncated_logs() {
    let dir = scratch("single");
    let key = dir.join("fingerprint.key");
    let path = dir.join("alerts.jsonl");
    write_log(&path, &key, 8, 0);
    let (ok, out, _) = verify(std::slice::from_ref(&path), &key);
    assert!(ok, "{out}");
    assert!(out.contains("intact: 10 lines (seq 1 to 10)"), "{out}");

    let pristine = std::fs::read(&path).unwrap();
    edit_lines(&path, |l| l[3] = l[3].replace("alert 2", "alert 9"));
    let (ok, out, err) = verify(std::slice::from_ref(&path), &key);
    assert!(!ok);
    assert!(out.contains("line 4: changed"), "{out}");
    assert!(err.contains("does not verify"), "{err}");

    std::fs::write(&path, &pristine).unwrap();
    edit_lines(&path, |l| {
        l.remove(4);
    });
    let (ok, out, _) = verify(std::slice::from_ref(&path), &key);
    assert!(!ok);
    assert!(out.contains("line 5: 1 line(s) removed before it"), "{out}");

    std::fs::write(&path, &pristine[..pristine.len() - 30]).unwrap();
    let (ok, out, _) = verify(std::slice::from_ref(&path), &key);
    assert!(!ok);
    assert!(out.contains("line 10: cut in the middle"), "{out}");

    std::fs::write(&path, &pristine).unwrap();
    edit_lines(&path, |l| {
        l.pop();
    });
    let (ok, out, _) = verify(std::slice::from_ref(&path), &key);
    assert!(!ok);
    assert!(
        out.contains("line 9: the log ends here without a shutdown or rotation checkpoint"),
        "{out}"
    );

    // Without the key nothing is claimed.
    let (ok, _, err) = verify(std::slice::from_ref(&path), &dir.join("absent.key"));
    assert!(!ok);
    assert!(err.contains("no fingerprint key"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn verify_checks_a_rotated_set_given_in_shell_order() {
    let dir = scratch("rotated");
    let key = dir.join("fingerprint.key");
    let path = dir.join("alerts.jsonl");
    write_log(&path, &key, 30, 600);
    // As `alerts.jsonl*` expands: the current file first.
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("alerts.jsonl")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let (ok, out, _) = verify(&files, &key);
    assert!(ok, "{out}");
    let rotated = dir.join("alerts.jsonl.2");
    edit_lines(&rotated, |l| {
        l.remove(1);
    });
    let (ok, out, _) = verify(&files, &key);
    assert!(!ok);
    assert!(
        out.contains("alerts.jsonl.2 line 2: 1 line(s) removed before it"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
