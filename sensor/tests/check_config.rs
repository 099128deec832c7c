//! `sensor check-config` as an operator runs it: exit status and a message
//! that names the key (and the line, for syntax and type errors).

use std::process::Command;

fn check(case: usize, text: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("sensor-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("case{case}.toml"));
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["--log-format", "json", "check-config"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stderr)
}

#[test]
fn shipped_example_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../sensor.example.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["check-config", "--syntax-only", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));
}

#[test]
fn errors_name_the_key_and_line() {
    let cases: &[(&str, &[&str])] = &[
        ("[capture]\nbogus = 1\n", &["unknown field `bogus`", "line 2"]),
        ("[capture]\ncapture_limit_bytes = \"x\"\n", &["line 2", "expected u32"]),
        ("[capture]\ncapture_limit_bytes = 0\n", &["capture.capture_limit_bytes"]),
        ("[metrics]\nlisten = \"localhost\"\n", &["metrics.listen"]),
        (
            "[[sinks.webhook]]\nurl = \"https://x\"\nheaders_from_file = { Authorization = \"/nonexistent/token\" }\n",
            &["sinks.webhook[0].headers_from_file.Authorization", "/nonexistent/token"],
        ),
        ("[[sinks.syslog]]\ntransport = \"udp\"\naddress = \"nowhere\"\n", &["sinks.syslog[0].address"]),
        ("[output\n", &["line 1"]),
        (
            "[metrics]\nenabled = false\n\n[alerts]\nmin_severity = \"urgent\"\n",
            &[
                "config key `alerts.min_severity` (line 5)",
                "`urgent` is not a severity: must be low, medium, high or critical",
            ],
        ),
        (
            "[[sinks.webhook]]\nurl = \"https://x\"\nmin_severity = \"urgent\"\n",
            &["sinks.webhook[0].min_severity", "line 3"],
        ),
    ];
    for (case, (text, wanted)) in cases.iter().enumerate() {
        let (ok, stderr) = check(case, text);
        assert!(!ok, "accepted:\n{text}");
        for want in *wanted {
            assert!(stderr.contains(want), "{text:?}: no {want:?} in {stderr}");
        }
    }
    let (ok, stderr) = check(cases.len(), "[metrics]\nenabled = false\n");
    assert!(ok, "{stderr}");
    // Severities are spelt as alerts spell them, in any case.
    let (ok, stderr) = check(
        cases.len() + 1,
        "[metrics]\nenabled = false\n[alerts]\nmin_severity = \"High\"\n",
    );
    assert!(ok, "{stderr}");
}

/// What `run` refuses on this host, `check-config` refuses too, naming the
/// key, the path, and the OS error once; `run` refuses it before loading
/// anything and creates nothing.
#[test]
fn check_config_refuses_what_run_refuses() {
    let dir = std::env::temp_dir().join(format!("sensor-host-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("keydir")).unwrap();
    std::fs::write(dir.join("file"), b"x").unwrap();
    std::fs::write(dir.join("short.key"), b"0123456789").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let d = dir.display();
    let base = format!("[output]\nstate_dir = \"{d}/state\"\nalerts = \"{d}/alerts.jsonl\"\n");
    let no_metrics = "[metrics]\nenabled = false\n";
    let missing_key = format!("{d}/missing/fingerprint.key");
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            format!("{base}{no_metrics}[detect]\nfingerprint_key_file = \"{missing_key}\"\n"),
            vec!["detect.fingerprint_key_file".into(), missing_key.clone(), "does not exist".into()],
        ),
        (
            format!("{base}{no_metrics}[detect]\nfingerprint_key_file = \"{d}/keydir\"\n"),
            vec!["detect.fingerprint_key_file".into(), "is a directory".into()],
        ),
        (
            format!("{base}{no_metrics}[detect]\nfingerprint_key_file = \"{d}/short.key\"\n"),
            vec!["detect.fingerprint_key_file".into(), "holds 10 bytes".into()],
        ),
        (
            format!("[output]\nstate_dir = \"{d}/file/state\"\nalerts = \"{d}/a.jsonl\"\n{no_metrics}"),
            vec!["output.state_dir".into(), "not a directory".into()],
        ),
        (
            format!("[output]\nstate_dir = \"{d}/state\"\nalerts = \"{d}/nodir/alerts.jsonl\"\n{no_metrics}"),
            vec!["output.alerts".into(), "No such file or directory (os error 2)".into()],
        ),
        (
            format!("{base}[metrics]\nlisten = \"{}\"\n", taken.local_addr().unwrap()),
            vec!["metrics.listen".into(), "in use".into()],
        ),
        (
            format!("{base}{no_metrics}[limits]\nmax_body_kept_bytes = 99999999999999\n"),
            vec!["limits.max_body_kept_bytes".into(), "at most 16777216".into()],
        ),
    ];
    for (case, (text, wanted)) in cases.iter().enumerate() {
        let (ok, stderr) = check(100 + case, text);
        assert!(!ok, "accepted:\n{text}");
        for want in wanted {
            assert!(
                stderr.contains(want.as_str()),
                "{text:?}: no {want:?} in {stderr}"
            );
        }
        assert!(
            stderr.matches("os error").count() <= 1,
            "OS error twice: {stderr}"
        );
        // `run` refuses the same config, with the same words, at once.
        let file = dir.join(format!("run{case}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
            .args(["run", "--config"])
            .arg(&file)
            .output()
            .unwrap();
        let run_err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "run accepted:\n{text}");
        assert!(run_err.contains(wanted[0].as_str()), "run: {run_err}");
    }
    assert!(
        !std::path::Path::new(&missing_key).exists() && !dir.join("missing").exists(),
        "a missing key file was created"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
