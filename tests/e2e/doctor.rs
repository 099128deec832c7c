//! `sensor doctor` as a user runs it on this machine: as root every check
//! passes (the eBPF programs load and attach, the HTTPS probes attach to
//! the system's libssl); as `nobody` with the shipped unit's capabilities,
//! too, without CAP_SYS_ADMIN (uprobe_multi links attach the probes);
//! without CAP_SYS_ADMIN and with those links turned off it warns that
//! HTTPS is lost; with no
//! capabilities it fails naming each missing one, and says "cannot tell"
//! for the probes rather than claiming they fail. Running Go programs
//! (built here by Go 1.19 and by Go 1.15) are tried one by one and say
//! which ABI their probes use.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sensor_e2e::go::{build, build_old, GoServer};
use sensor_e2e::*;

/// The capabilities the shipped systemd unit grants.
const UNIT_CAPABILITIES: &[&str] = &[
    "CAP_BPF",
    "CAP_PERFMON",
    "CAP_SYS_PTRACE",
    "CAP_DAC_READ_SEARCH",
];

struct Doctor {
    status: std::process::ExitStatus,
    table: String,
    log: String,
}

impl Doctor {
    /// The line of the check named `name` (the name column, exactly).
    fn line(&self, name: &str) -> &str {
        self.table
            .lines()
            .find(|l| {
                l.get(6..)
                    .is_some_and(|rest| rest.starts_with(&format!("{name} ")))
            })
            .unwrap_or_else(|| panic!("no `{name}` check in\n{}", self.table))
    }

    fn status_of(&self, name: &str) -> &str {
        self.line(name).split_whitespace().next().unwrap()
    }

    /// The lines of the HTTPS probe trial on the system's libssl.
    fn libssl(&self) -> &str {
        self.table
            .lines()
            .find(|l| l.contains("HTTPS ") && l.contains("/libssl.so"))
            .unwrap_or_else(|| panic!("no libssl check in\n{}", self.table))
    }
}

/// A config whose outputs and metrics port are usable by anyone.
fn config_in(dir: &Path) -> PathBuf {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let config = dir.join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {:?}\nalerts = {:?}\n\n[metrics]\nlisten = \"127.0.0.1:{}\"\n",
            dir.join("state").display().to_string(),
            dir.join("alerts.jsonl").display().to_string(),
            free_port()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    config
}

/// `sensor doctor --config CONFIG`, through `launcher` when it has one.
fn doctor(config: &Path, launcher: &[String]) -> Doctor {
    let mut command = match launcher.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(sensor_bin());
            c
        }
        None => Command::new(sensor_bin()),
    };
    let out = command
        .arg("doctor")
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    Doctor {
        status: out.status,
        table: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// setpriv as `nobody` with exactly `capabilities`, as the unit applies them.
fn as_nobody_with(capabilities: &[&str]) -> Vec<String> {
    let caps: Vec<String> = capabilities
        .iter()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let caps = if caps.is_empty() {
        String::new()
    } else {
        format!(",{}", caps.join(","))
    };
    [
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        &format!("--inh-caps=-all{caps}"),
        &format!("--ambient-caps=-all{caps}"),
        &format!("--bounding-set=-all{caps}"),
        "--no-new-privs",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn as_root_every_check_passes() {
    if !Path::new("/sys/kernel/tracing/events").is_dir() {
        // A systemd host mounts it; a fresh CI container may not.
        let mounted = Command::new("mount")
            .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            .status()
            .unwrap();
        assert!(mounted.success());
    }
    let dir = scratch_dir("doctor_root");
    let out = doctor(&config_in(&dir), &[]);
    assert!(out.status.success(), "{}\n{}", out.table, out.log);
    for name in [
        "config",
        "kernel",
        "BTF",
        "tracefs",
        "CAP_BPF",
        "CAP_SYS_ADMIN",
        "eBPF programs",
        "tracepoints",
        "state directory",
        "metrics port",
    ] {
        assert_eq!(out.status_of(name), "ok", "{}", out.table);
    }
    assert!(out.line("capture mode").contains("socket"), "{}", out.table);
    let libssl = out.libssl();
    assert!(
        libssl.starts_with("ok")
            && libssl.contains("probes attach to")
            // OpenSSL 3 as Debian builds it is probed at the internal
            // functions behind SSL_read and SSL_write.
            && (libssl.contains("SSL_read") || libssl.contains("ssl_read_internal"))
            && (libssl.contains("SSL_write") || libssl.contains("ssl_write_internal")),
        "{}",
        out.table
    );
    assert!(
        out.table.ends_with("0 failed, 0 could not be checked\n"),
        "{}",
        out.table
    );
}

#[test]
fn the_unit_capabilities_pass_every_check() {
    let dir = scratch_dir("doctor_unit");
    let out = doctor(&config_in(&dir), &as_nobody_with(UNIT_CAPABILITIES));
    assert!(out.status.success(), "{}\n{}", out.table, out.log);
    assert!(out.libssl().starts_with("ok"), "{}", out.table);
    assert_eq!(out.status_of("tracepoints"), "ok", "{}", out.table);
    // Not held, and not needed on this kernel (6.6 or later).
    assert_eq!(out.status_of("CAP_SYS_ADMIN"), "ok", "{}", out.table);
    assert!(
        out.line("CAP_SYS_ADMIN").contains("uprobe_multi"),
        "{}",
        out.table
    );
}

#[test]
fn without_cap_sys_admin_or_uprobe_multi_https_is_a_warning_with_its_reason() {
    let dir = scratch_dir("doctor_no_sys_admin");
    let config = config_in(&dir);
    let perf_only = "\n[capture.tls]\nuprobe_multi = false\n";
    let text = std::fs::read_to_string(&config).unwrap() + perf_only;
    std::fs::write(&config, &text).unwrap();
    let caps: Vec<&str> = UNIT_CAPABILITIES
        .iter()
        .copied()
        .filter(|c| *c != "CAP_SYS_ADMIN")
        .collect();
    let out = doctor(&config, &as_nobody_with(&caps));
    assert!(
        out.status.success(),
        "warnings only:\n{}\n{}",
        out.table,
        out.log
    );
    assert_eq!(out.status_of("CAP_SYS_ADMIN"), "warn", "{}", out.table);
    let libssl = out.libssl();
    assert!(
        libssl.starts_with("warn")
            && libssl.contains("the kernel refuses the uprobes")
            && libssl.contains("lacks CAP_SYS_ADMIN"),
        "{}",
        out.table
    );
    // Where HTTPS is a must, the same host fails.
    let required = dir.join("required.toml");
    let text = text + "required = true\n";
    std::fs::write(&required, text).unwrap();
    std::fs::set_permissions(&required, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = doctor(&required, &as_nobody_with(&caps));
    assert!(!out.status.success(), "{}", out.table);
    assert!(out.libssl().starts_with("FAIL"), "{}", out.table);
}

#[test]
fn without_capabilities_it_names_each_missing_one_and_claims_nothing_it_cannot_see() {
    let dir = scratch_dir("doctor_no_caps");
    let out = doctor(&config_in(&dir), &as_nobody_with(&[]));
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.table, out.log);
    for cap in [
        "CAP_BPF",
        "CAP_PERFMON",
        "CAP_SYS_PTRACE",
        "CAP_DAC_READ_SEARCH",
    ] {
        let line = out.line(cap);
        assert!(
            line.starts_with("FAIL") && line.contains("missing"),
            "{}",
            out.table
        );
    }
    assert!(
        out.line("eBPF programs").contains("lacks CAP_BPF"),
        "{}",
        out.table
    );
    // What does not depend on privilege is still checked, and passes.
    for name in ["kernel", "BTF", "capture mode", "state directory"] {
        assert_eq!(out.status_of(name), "ok", "{}", out.table);
    }
    // The probes were never tried: "cannot tell", not a failure.
    assert_eq!(out.status_of("tracepoints"), "?", "{}", out.table);
    let libssl = out.libssl();
    assert!(
        libssl.starts_with('?') && libssl.contains("cannot tell"),
        "{}",
        out.table
    );
    assert!(out.table.contains("fix: run as root"), "{}", out.table);
    assert!(out.log.contains("doctor checks failed"), "{}", out.log);
}

#[test]
fn running_go_programs_are_tried_each_with_its_abi() {
    let dir = scratch_dir("doctor_go");
    let build_dir = dir.join("build");
    std::fs::create_dir_all(&build_dir).unwrap();
    let server = build(&build_dir, "server.go", "doctor-go-server", &[]);
    let old = build_old(
        &build_dir,
        "server.go",
        "doctor-old-go",
        &["-ldflags=-s -w"],
    );
    // Readable by `nobody`, as the programs' directories must be.
    for path in [&dir, &build_dir, &server, &old] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let _running = [GoServer::start(&server, &dir), GoServer::start(&old, &dir)];
    let config = config_in(&dir);
    for (who, launcher) in [
        ("root", Vec::new()),
        ("the unit's capabilities", as_nobody_with(UNIT_CAPABILITIES)),
    ] {
        let out = doctor(&config, &launcher);
        assert!(out.status.success(), "{who}:\n{}\n{}", out.table, out.log);
        let line = out.line("HTTPS doctor-go-server");
        assert!(
            line.starts_with("ok")
                && line.contains("probes attach to Go's crypto/tls, go1.19")
                && line.contains("register ABI")
                && line.contains("found in its symbol table"),
            "{who}:\n{}",
            out.table
        );
        let line = out.line("HTTPS doctor-old-go");
        assert!(
            line.starts_with("ok")
                && line.contains("go1.15.15, stack ABI")
                && line.contains("found in its .gopclntab"),
            "{who}:\n{}",
            out.table
        );
        // A warning at most (a process this machine's root may not look
        // into, such as a sandbox's init, is named as one).
        let summary = out.line("HTTPS in programs");
        assert!(
            summary.contains("running programs")
                && !summary.contains("no running program")
                && (summary.starts_with("ok") || summary.contains("cannot be read")),
            "{who}:\n{}",
            out.table
        );
    }
    // Without CAP_SYS_PTRACE root's programs' maps cannot be read: said
    // so, not "no program".
    let out = doctor(&config, &as_nobody_with(&[]));
    let line = out.line("HTTPS in programs");
    assert!(
        line.starts_with("warn") && line.contains("cannot be read"),
        "{}",
        out.table
    );
    assert!(!out.table.contains("doctor-go-server"), "{}", out.table);
}

#[test]
fn running_rustls_programs_are_tried_and_a_stripped_one_is_not_covered() {
    let built = sensor_e2e::rustls::build();
    let dir = scratch_dir("doctor_rustls");
    let server = sensor_e2e::rustls::copy(&built, &dir, "doctor-rustls");
    let stripped = sensor_e2e::rustls::stripped_copy(&built, &dir, "doctor-rustls-stripped");
    for path in [&dir, &server, &stripped] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let _running = [
        sensor_e2e::rustls::RustlsServer::start(&server, &dir),
        sensor_e2e::rustls::RustlsServer::start(&stripped, &dir),
    ];
    let config = config_in(&dir);
    for (who, launcher) in [
        ("root", Vec::new()),
        ("the unit's capabilities", as_nobody_with(UNIT_CAPABILITIES)),
    ] {
        let out = doctor(&config, &launcher);
        assert!(out.status.success(), "{who}:\n{}\n{}", out.table, out.log);
        let line = out.line("HTTPS doctor-rustls");
        assert!(
            line.starts_with("ok")
                && line.contains("probes attach to rustls: Writer::write and Reader::read"),
            "{who}:\n{}",
            out.table
        );
        let line = out.line("HTTPS doctor-rustls-stripped");
        assert!(
            line.starts_with("warn") && line.contains("without a symbol table (stripped)"),
            "{who}:\n{}",
            out.table
        );
    }
}
