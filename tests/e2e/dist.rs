//! What `cargo xtask dist` ships, checked as an installer would see it:
//! the .deb's control fields, file list, modes and conffiles, its files
//! extracted and the installed binary accepting the installed config; the
//! tarball's listing, and its install.sh run into a staging directory.
//!
//! `cargo xtask test` runs `dist` first and passes the packages in
//! SENSOR_DEB and SENSOR_TARBALL.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sensor_e2e::*;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn package(variable: &str, kind: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("{variable} is unset: run `cargo xtask test`, which builds the {kind}")
        });
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn ok(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    let out = command.output().unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(command: &mut Command) -> String {
    String::from_utf8(ok(command).stdout).unwrap()
}

/// `tar tv` style listing (what `dpkg-deb --contents` prints): path to
/// (mode, owner) for the regular files.
fn files_of_listing(listing: &str) -> BTreeMap<String, (String, String)> {
    listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let path = fields.last().unwrap().trim_start_matches("./").to_owned();
            (path, (fields[0].to_owned(), fields[1].to_owned()))
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The installed binary accepts the installed config.
fn check_config(binary: &Path, config: &Path) {
    // The package's config names paths systemd creates when the unit starts.
    let out = stdout(
        Command::new(binary)
            .args(["check-config", "--syntax-only"])
            .arg(config),
    );
    assert!(out.contains(": ok"), "{out}");
}

#[test]
fn dist_deb_holds_binary_unit_config_and_docs() {
    let deb = package("SENSOR_DEB", ".deb");
    let arch = stdout(Command::new("dpkg").arg("--print-architecture"));
    let fields = stdout(Command::new("dpkg-deb").arg("--field").arg(&deb).args([
        "Package",
        "Version",
        "Architecture",
        "Section",
        "Depends",
    ]));
    for want in [
        "Package: sensor".to_owned(),
        format!("Version: {VERSION}-1"),
        format!("Architecture: {}", arch.trim()),
        "Section: net".to_owned(),
    ] {
        assert!(
            fields.lines().any(|l| l == want),
            "no {want:?} in:\n{fields}"
        );
    }
    assert!(
        fields.contains("libc6"),
        "Depends should name libc6:\n{fields}"
    );

    let files = files_of_listing(&stdout(
        Command::new("dpkg-deb").arg("--contents").arg(&deb),
    ));
    let root_owned = |mode: &str| (mode.to_owned(), "0/0".to_owned());
    let expected = [
        ("usr/bin/sensor", "-rwxr-xr-x"),
        // /lib/systemd/system on a merged-/usr system (Debian 12+, Ubuntu 22.04+).
        ("usr/lib/systemd/system/sensor.service", "-rw-r--r--"),
        ("etc/sensor/sensor.toml", "-rw-r--r--"),
        ("usr/share/doc/sensor/README.md", "-rw-r--r--"),
        ("usr/share/doc/sensor/sensor.example.toml", "-rw-r--r--"),
        ("usr/share/doc/sensor/copyright", "-rw-r--r--"),
    ];
    for (path, mode) in expected {
        assert_eq!(
            files.get(path),
            Some(&root_owned(mode)),
            "{path} in {files:#?}"
        );
    }
    assert_eq!(files.len(), expected.len(), "unexpected files: {files:#?}");
}

#[test]
fn dist_deb_keeps_the_config_and_leaves_the_service_off() {
    let deb = package("SENSOR_DEB", ".deb");
    let control = scratch_dir("dist_deb_control");
    ok(Command::new("dpkg-deb")
        .arg("--control")
        .arg(&deb)
        .arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/sensor/sensor.toml");
    // A fresh install reloads systemd but neither enables nor starts the
    // sensor: the admin reviews the config first. The postinst is run with
    // stand-ins for the commands it drives, which answer as on a machine
    // that never had the package.
    let fakes = RecordingCommands::new(
        &scratch_dir("dist_deb_postinst"),
        &["systemctl", "deb-systemd-helper", "deb-systemd-invoke"],
    );
    ok(fakes
        .command("sh")
        .arg(control.join("postinst"))
        .arg("configure"));
    let calls = fakes.calls();
    // The script ran, through the stand-ins.
    assert!(
        calls.contains(&"deb-systemd-helper update-state sensor.service".to_owned()),
        "{calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("deb-systemd-helper enable")),
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.starts_with("deb-systemd-invoke")),
        "{calls:?}"
    );
    if Path::new("/run/systemd/system").is_dir() {
        assert!(
            calls.iter().any(|c| c.contains("daemon-reload")),
            "{calls:?}"
        );
    }
}

#[test]
fn dist_deb_binary_accepts_its_config() {
    let deb = package("SENSOR_DEB", ".deb");
    let root = scratch_dir("dist_deb_root");
    ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let workspace = workspace_root();
    for (installed, source) in [
        (
            "usr/lib/systemd/system/sensor.service",
            "deploy/systemd/sensor.service",
        ),
        ("etc/sensor/sensor.toml", "sensor.example.toml"),
    ] {
        assert_eq!(
            std::fs::read_to_string(root.join(installed)).unwrap(),
            std::fs::read_to_string(workspace.join(source)).unwrap(),
            "{installed}"
        );
    }
    let copyright = std::fs::read_to_string(root.join("usr/share/doc/sensor/copyright")).unwrap();
    assert!(copyright.contains("License: Apache-2.0"), "{copyright}");
    assert!(copyright.contains("Apache License"), "{copyright}");
    check_config(
        &root.join("usr/bin/sensor"),
        &root.join("etc/sensor/sensor.toml"),
    );
}

#[test]
fn dist_tarball_install_sh_installs_without_clobbering_the_config() {
    let tarball = package("SENSOR_TARBALL", "tarball");
    let top = format!("sensor-{VERSION}-{}", std::env::consts::ARCH);
    assert_eq!(
        tarball.file_name().unwrap().to_str().unwrap(),
        format!("{top}.tar.gz")
    );
    let listing = stdout(
        Command::new("tar")
            .arg("-tvzf")
            .arg(&tarball)
            .arg("--numeric-owner"),
    );
    let files = files_of_listing(&listing);
    let expected = [
        ("install.sh", "-rwxr-xr-x"),
        ("sensor", "-rwxr-xr-x"),
        ("sensor.service", "-rw-r--r--"),
        ("sensor.example.toml", "-rw-r--r--"),
        ("README.md", "-rw-r--r--"),
        ("LICENSE", "-rw-r--r--"),
    ];
    for (name, mode) in expected {
        let path = format!("{top}/{name}");
        assert_eq!(
            files.get(&path),
            Some(&(mode.to_owned(), "0/0".to_owned())),
            "{path} in {listing}"
        );
    }
    assert_eq!(files.len(), expected.len(), "{listing}");

    let dir = scratch_dir("dist_tarball");
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir));
    let install_sh = dir.join(&top).join("install.sh");
    // A staged install must leave the running systemd alone.
    let fakes = RecordingCommands::new(&dir.join("fakes"), &["systemctl"]);
    let install = |destdir: &Path, args: &[&str]| {
        stdout(
            fakes
                .command("sh")
                .arg(&install_sh)
                .args(args)
                .env("DESTDIR", destdir),
        )
    };

    let root = dir.join("root");
    install(&root, &[]);
    let example = std::fs::read_to_string(workspace_root().join("sensor.example.toml")).unwrap();
    for (path, want_mode) in [
        ("usr/bin/sensor", 0o755),
        ("etc/systemd/system/sensor.service", 0o644),
        ("etc/sensor/sensor.toml", 0o644),
        ("usr/share/doc/sensor/README.md", 0o644),
        ("usr/share/doc/sensor/LICENSE", 0o644),
        ("usr/share/doc/sensor/sensor.example.toml", 0o644),
    ] {
        assert_eq!(mode(&root.join(path)), want_mode, "{path}");
    }
    let config = root.join("etc/sensor/sensor.toml");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), example);
    let unit = std::fs::read_to_string(root.join("etc/systemd/system/sensor.service")).unwrap();
    assert_eq!(
        unit,
        std::fs::read_to_string(workspace_root().join("deploy/systemd/sensor.service")).unwrap()
    );
    // install.sh creates no user because the unit needs none.
    assert!(unit.lines().any(|l| l == "DynamicUser=yes"), "{unit}");
    assert!(!unit.lines().any(|l| l.starts_with("User=")), "{unit}");
    check_config(&root.join("usr/bin/sensor"), &config);

    // Again, over an edited config: the edit stays.
    let edited = example.replace("keep_files = 5", "keep_files = 9");
    assert_ne!(
        edited, example,
        "sensor.example.toml no longer sets keep_files = 5"
    );
    std::fs::write(&config, &edited).unwrap();
    let out = install(&root, &[]);
    assert!(
        out.contains("kept the existing /etc/sensor/sensor.toml"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    check_config(&root.join("usr/bin/sensor"), &config);

    // Another prefix: the unit starts the binary from there.
    let opt = dir.join("opt-root");
    install(&opt, &["--prefix", "/opt/sensor"]);
    assert_eq!(mode(&opt.join("opt/sensor/bin/sensor")), 0o755);
    let unit = std::fs::read_to_string(opt.join("etc/systemd/system/sensor.service")).unwrap();
    let exec_start = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        exec_start.starts_with("ExecStart=/opt/sensor/bin/sensor run "),
        "{exec_start}"
    );
    assert_eq!(
        fakes.calls(),
        Vec::<String>::new(),
        "a staged install ran systemctl"
    );

    for bad in [
        &["--prefix", "opt"][..],
        &["--prefix", "/opt/a b"],
        &["--frobnicate"],
    ] {
        let out = Command::new("sh")
            .arg(&install_sh)
            .args(bad)
            .env("DESTDIR", &opt)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
    }
}

/// The tarball's binary is static (no glibc needed: RHEL 8, Amazon Linux
/// 2, Ubuntu 20.04) and still carries its eBPF programs: it captures an
/// exchange on the real kernel.
#[test]
fn dist_tarball_binary_is_static_and_captures() {
    let tarball = package("SENSOR_TARBALL", "tarball");
    let top = format!("sensor-{VERSION}-{}", std::env::consts::ARCH);
    let dir = scratch_dir("dist_tarball_static");
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir));
    let binary = dir.join(&top).join("sensor");
    let file = stdout(Command::new("file").arg(&binary));
    assert!(
        file.contains("statically linked") || file.contains("static-pie linked"),
        "{file}"
    );
    // ldd exits non-zero on a static binary; what it says is the proof.
    let ldd = Command::new("ldd").arg(&binary).output().unwrap();
    let said =
        String::from_utf8_lossy(&ldd.stdout).into_owned() + &String::from_utf8_lossy(&ldd.stderr);
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "{said}"
    );
    assert!(!said.contains("libc.so"), "{said}");

    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let server = PyServer::start("127.0.0.1");
    let sensor = Sensor::start_binary(&binary, &run, &[], &[]);
    curl(&[
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{}/item/static", server.port),
    ]);
    sensor.wait_for("the exchange, server side", |e| {
        of_pid(e, server.pid())
            .iter()
            .any(|x| x["path"] == "/item/static")
    });
    sensor.stop();
}

/// Stand-ins for system commands, first on PATH, that log each call (name
/// and arguments) and succeed, except `deb-systemd-helper debian-installed`,
/// which fails as it does before the package was ever configured.
struct RecordingCommands {
    bin: PathBuf,
    log: PathBuf,
}

impl RecordingCommands {
    fn new(dir: &Path, names: &[&str]) -> RecordingCommands {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.join("calls");
        for name in names {
            let script = format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\n\
                 [ \"{name} $1\" = \"deb-systemd-helper debian-installed\" ] && exit 1\nexit 0\n",
                log.display()
            );
            let path = bin.join(name);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        RecordingCommands { bin, log }
    }

    /// `program` with the stand-ins first on its PATH.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        let path = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{}:{path}", self.bin.display()));
        command
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
