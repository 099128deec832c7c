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
        .args(["check-config", example])
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
    ];
    for (case, (text, wanted)) in cases.iter().enumerate() {
        let (ok, stderr) = check(case, text);
        assert!(!ok, "accepted:\n{text}");
        for want in *wanted {
            assert!(stderr.contains(want), "{text:?}: no {want:?} in {stderr}");
        }
    }
    let (ok, stderr) = check(cases.len(), "");
    assert!(ok, "{stderr}");
}
