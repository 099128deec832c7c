//! The systemd unit's claims, tested: the unit verifies, and the sensor
//! captures for real, plain HTTP and HTTPS, as an unprivileged user holding
//! only the capabilities the unit grants.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::Command;

use sensor_e2e::*;
use serde_json::{json, Value};

fn unit_path() -> PathBuf {
    workspace_root().join("deploy/systemd/sensor.service")
}

/// The capabilities of `AmbientCapabilities=` in the shipped unit.
fn unit_capabilities() -> Vec<String> {
    let unit = std::fs::read_to_string(unit_path()).unwrap();
    let caps: Vec<String> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("AmbientCapabilities="))
        .flat_map(|l| l.split_whitespace())
        .map(str::to_owned)
        .collect();
    assert!(!caps.is_empty(), "the unit grants no ambient capabilities");
    caps
}

#[test]
fn systemd_unit_verifies() {
    let sensor = std::env::var("SENSOR_BIN").unwrap_or_else(|_| {
        workspace_root()
            .join("target/release/sensor")
            .display()
            .to_string()
    });
    // systemd-analyze checks that ExecStart exists: point it at the build.
    let unit = std::fs::read_to_string(unit_path())
        .unwrap()
        .replace("/usr/bin/sensor", &sensor);
    let dir = scratch_dir("systemd_unit");
    let copy = dir.join("sensor.service");
    std::fs::write(&copy, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze (Debian's systemd package) must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let own: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("sensor.service"))
        .collect();
    assert!(
        out.status.success() && own.is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
}

/// setpriv as the unit applies its capabilities: as `nobody`, with only
/// the unit's capabilities ambient, inheritable and in the bounding set,
/// and no new privileges.
fn unit_launcher() -> Vec<String> {
    launcher_with(&unit_capabilities())
}

/// setpriv as `nobody` with exactly `capabilities` (`CAP_*` names).
fn launcher_with(capabilities: &[String]) -> Vec<String> {
    let caps: Vec<String> = capabilities
        .iter()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let caps = caps.join(",");
    [
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        &format!("--inh-caps=-all,{caps}"),
        &format!("--ambient-caps=-all,{caps}"),
        &format!("--bounding-set=-all,{caps}"),
        "--no-new-privs",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A scratch directory the sensor, running as `nobody`, can write to.
fn scratch_dir_for_nobody(name: &str) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

#[test]
fn captures_as_unprivileged_user_with_the_unit_capabilities() {
    ensure_tracefs_mounted();
    let dir = scratch_dir_for_nobody("unprivileged");
    let launcher = unit_launcher();
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start_with(&dir, &[], &launcher);
    let status = std::fs::read_to_string(format!("/proc/{}/status", sensor.pid())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.split_whitespace().skip(1).all(|id| id == "65534"),
        "the sensor should run as nobody: {uid_line}"
    );
    let url = format!("http://127.0.0.1:{}/item/unprivileged", server.port);
    curl(&["-o", "/dev/null", &url]);
    sensor.wait_for("the request", |e| !on_port(e, server.port).is_empty());
    let out = sensor.stop();
    let server_seen = of_pid(&out.exchanges, server.pid());
    assert_eq!(server_seen.len(), 1, "{}", dump(&out.exchanges));
    assert_eq!(server_seen[0]["path"], "/item/unprivileged");
    // Addresses come from the socket itself (pidfd_getfd), which needs
    // CAP_SYS_PTRACE: they prove that capability is enough.
    assert_eq!(
        server_seen[0]["local"],
        format!("127.0.0.1:{}", server.port)
    );
}

/// `kubectl kustomize` (kubectl from the machine, checked by `cargo xtask
/// setup`) renders `dir`; the documents, split.
fn kustomize(dir: &std::path::Path) -> (String, Vec<String>) {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("running kubectl (cargo xtask setup checks for it)");
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs = text.split("\n---\n").map(str::to_owned).collect();
    (text, docs)
}

fn kind_of(doc: &str) -> &str {
    doc.lines()
        .find_map(|l| l.strip_prefix("kind: "))
        .unwrap_or("")
}

#[test]
fn captures_https_as_unprivileged_user_with_the_unit_capabilities() {
    ensure_tracefs_mounted();
    let dir = scratch_dir_for_nobody("unprivileged_https");
    let values = json!({
        "email": "unit.caps@proton.me",
        "ssn": "536-22-8461",
        "card": "4539148803436467",
        "bcrypt": "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "aws_key_id": "AKIAZ7QW3RTLXJ5NUNIT",
        "aws_secret": "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",
        "github_token": "not-a-token",
        "private_key": "none",
    });
    let values_file = dir.join("values.json");
    std::fs::write(&values_file, values.to_string()).unwrap();
    let server = leaky_https_server(&dir, &values_file);
    let sensor = Sensor::start_with(&dir, &[], &unit_launcher());
    let url = format!("https://127.0.0.1:{}/api/config", server.port);
    curl(&["-k", "-o", "/dev/null", &url]);
    sensor.wait_for("the HTTPS request", |e| !on_port(e, server.port).is_empty());
    let out = sensor.stop();
    assert!(
        !out.log.contains("will not be captured"),
        "a TLS library was not attached with the unit's capabilities:\n{}",
        out.log
    );
    // Both ends' plaintext is captured (curl's and the server's TLS
    // library): one record, naming curl as the peer.
    let seen = on_port(&out.exchanges, server.port);
    assert_eq!(seen.len(), 1, "{}", dump(&out.exchanges));
    assert_eq!(seen[0]["peer"]["comm"], "curl", "{}", dump(&seen));
    for exchange in &seen {
        assert_eq!(exchange["tls"], true, "{}", dump(&seen));
        assert_eq!(exchange["path"], "/api/config", "{}", dump(&seen));
        assert_eq!(exchange["status"], 200, "{}", dump(&seen));
    }
    let alerts = read_jsonl(&out.alerts_file);
    let key_alerts: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "secret.aws_access_key_id")
        .collect();
    assert!(!key_alerts.is_empty(), "{}", dump(&alerts));
    assert!(
        key_alerts.iter().all(|a| a["tls"] == true),
        "{}",
        dump(&alerts)
    );
    out.assert_never_wrote(&["AKIAZ7QW3RTLXJ5NUNIT"]);
}

/// Without CAP_SYS_ADMIN and without uprobe_multi links (turned off here;
/// kernels before 6.6 lack them) the kernel refuses the TLS uprobes: the
/// sensor still runs and captures plain HTTP, and says HTTPS is not
/// captured in
/// its ready line, on `/readyz` (200 by default, 503 with
/// `[capture.tls] required = true`) and in a metric.
#[test]
fn without_uprobe_multi_or_cap_sys_admin_https_is_reported_degraded() {
    ensure_tracefs_mounted();
    let caps: Vec<String> = unit_capabilities()
        .into_iter()
        .filter(|c| c != "CAP_SYS_ADMIN")
        .collect();
    for required in [false, true] {
        let dir = scratch_dir_for_nobody(&format!("degraded_https_{required}"));
        let port = free_port();
        let config = dir.join("sensor.toml");
        std::fs::write(
            &config,
            format!(
                "[output]\nstate_dir = {:?}\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n\
                 [capture.tls]\nuprobe_multi = false\nrequired = {required}\n",
                dir.join("state").display().to_string()
            ),
        )
        .unwrap();
        let config = config.display().to_string();
        let sensor = Sensor::start_with(&dir, &["--config", &config], &launcher_with(&caps));
        let readyz = curl(&[
            "-w",
            " %{http_code}",
            &format!("http://127.0.0.1:{port}/readyz"),
        ]);
        let readyz = String::from_utf8_lossy(&readyz).into_owned();
        let metrics = curl(&[&format!("http://127.0.0.1:{port}/metrics")]);
        let metrics = String::from_utf8_lossy(&metrics).into_owned();
        let out = sensor.stop();
        let ready_line = out
            .log
            .lines()
            .find(|l| l.contains("sensor ready"))
            .unwrap();
        assert!(
            ready_line.contains("degraded: HTTPS not captured")
                && ready_line.contains("CAP_SYS_ADMIN"),
            "{ready_line}"
        );
        assert!(
            out.log
                .contains("uprobes need CAP_SYS_ADMIN since Linux 6.16"),
            "{}",
            out.log
        );
        assert!(
            readyz.starts_with("degraded: HTTPS not captured"),
            "{readyz}"
        );
        let status = if required { "503" } else { "200" };
        assert!(readyz.ends_with(status), "required = {required}: {readyz}");
        let refused: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("sensor_tls_files_not_attached_permission_total "))
            .unwrap_or_else(|| panic!("no refused-files metric in\n{metrics}"))
            .parse()
            .unwrap();
        assert!(refused >= 1, "{metrics}");
    }
}

#[test]
fn kubernetes_manifests_validate() {
    let dir = workspace_root().join("deploy/kubernetes");
    let (rendered, docs) = kustomize(&dir);
    let kinds: Vec<&str> = docs.iter().map(|d| kind_of(d)).collect();
    // The namespace first, so one `kubectl apply -k` works on a new cluster.
    assert_eq!(kinds[0], "Namespace", "{kinds:?}");
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Service",
        "DaemonSet",
    ] {
        assert!(kinds.contains(&kind), "{kind} not rendered: {kinds:?}");
    }
    // Every file of the directory is in the kustomization.
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .count();
    assert_eq!(files, docs.len() - 2, "rbac.yaml holds 3 documents");
    let daemonset = docs.iter().find(|d| kind_of(d) == "DaemonSet").unwrap();
    assert!(
        daemonset.contains(
            r#"- --log-format
        - json
        - run"#
        ),
        "the sensor container logs JSON:\n{daemonset}"
    );
    let service = docs.iter().find(|d| kind_of(d) == "Service").unwrap();
    assert!(
        service.contains("name: metrics") && service.contains("app.kubernetes.io/name: sensor")
    );

    let scratch = scratch_dir("kubernetes_render");
    let file = scratch.join("rendered.yaml");
    std::fs::write(&file, &rendered).unwrap();
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict"])
        .arg(&file)
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "kubernetes-validate (installed by cargo xtask setup) rejected the manifests:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The prometheus-operator overlay adds a ServiceMonitor on the
    // Service's metrics port, in the sensor's namespace.
    let (_, overlay) = kustomize(&workspace_root().join("deploy/prometheus-operator"));
    let monitor = overlay
        .iter()
        .find(|d| kind_of(d) == "ServiceMonitor")
        .expect("no ServiceMonitor rendered");
    assert!(
        monitor.contains("port: metrics") && monitor.contains("namespace: sensor-system"),
        "{monitor}"
    );
    assert_eq!(overlay.len(), docs.len() + 1);

    // The ConfigMap carries a config the sensor accepts.
    let configmap = std::fs::read_to_string(dir.join("configmap.yaml")).unwrap();
    let toml: String = configmap
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("sensor.toml: |"))
        .skip(1)
        .map(|l| l.strip_prefix("    ").unwrap_or(l.trim()))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(toml.contains("[metrics]"), "{toml}");
    let scratch = scratch_dir("kubernetes_config");
    let file = scratch.join("sensor.toml");
    std::fs::write(&file, toml).unwrap();
    let sensor = std::env::var("SENSOR_BIN").unwrap_or_else(|_| {
        workspace_root()
            .join("target/release/sensor")
            .display()
            .to_string()
    });
    let check = Command::new(sensor)
        .arg("check-config")
        // Made for a pod: its paths and port are the pod's, not this host's.
        .arg("--syntax-only")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// A live sensor's /metrics passes `promtool check metrics` (Debian's
/// prometheus, installed by `cargo xtask setup`): every family has HELP
/// and TYPE, names and labels are valid; `sensor_build_info` names the
/// version. Its log, a file here, carries no terminal colour codes.
#[test]
fn live_metrics_pass_promtool_and_logs_have_no_colour() {
    let dir = scratch_dir("metrics_promtool");
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start(&dir, &[]);
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{}/item/1", server.port),
    ]);
    sensor.wait_for("one exchange", |e| !on_port(e, server.port).is_empty());
    let page = curl(&[&format!("http://127.0.0.1:{}/metrics", sensor.metrics_port)]);
    let page = String::from_utf8(page).unwrap();
    let out = sensor.stop();

    let version = env!("CARGO_PKG_VERSION");
    let build_info = format!("sensor_build_info{{version=\"{version}\"}} 1");
    assert!(page.lines().any(|l| l == build_info), "{page}");
    let families = page.lines().filter(|l| l.starts_with("# TYPE ")).count();
    let helps = page.lines().filter(|l| l.starts_with("# HELP ")).count();
    assert!(families > 50, "{families} families:\n{page}");
    assert_eq!(helps, families, "a family without HELP:\n{page}");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running promtool (cargo xtask setup installs prometheus)");
    use std::io::Write as _;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}",
        checked.status,
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    assert!(out.log.contains("sensor ready"), "{}", out.log);
    assert!(
        !out.log.contains('\x1b'),
        "ANSI codes in a log file:\n{:?}",
        out.log
    );
}

/// Run as an unprivileged user with no capabilities, the sensor names the
/// capabilities it lacks, not a mount problem: tracefs is mounted, only
/// unreadable (0700 root).
#[test]
fn unprivileged_run_names_the_missing_capabilities() {
    ensure_tracefs_mounted();
    let dir = scratch_dir("unprivileged_refusal");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let config = dir.join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {:?}\n[metrics]\nenabled = false\n",
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(sensor_bin())
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--alerts")
        .arg(dir.join("alerts.jsonl"))
        .current_dir(&dir)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(!log.contains("not mounted"), "{log}");
    for cap in [
        "CAP_BPF",
        "CAP_PERFMON",
        "CAP_SYS_PTRACE",
        "CAP_DAC_READ_SEARCH",
    ] {
        assert!(log.contains(cap), "{cap} not named:\n{log}");
    }
}

/// A systemd host mounts tracefs (sys-kernel-tracing.mount); a fresh CI
/// container may not, and the unprivileged sensor cannot mount it itself.
fn ensure_tracefs_mounted() {
    if std::path::Path::new("/sys/kernel/tracing/events").is_dir() {
        return;
    }
    let status = Command::new("mount")
        .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
        .status()
        .unwrap();
    assert!(status.success(), "mounting tracefs failed: {status}");
}
