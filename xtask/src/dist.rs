//! `cargo xtask dist`: the release binary (built by `cargo xtask build`)
//! packaged for installation, in `target/dist/`:
//! - `sensor_<version>-1_<debian arch>.deb`, built by cargo-deb from
//!   `[package.metadata.deb]` in sensor/Cargo.toml;
//! - `sensor-<version>-<arch>.tar.gz`: the same files and `install.sh`,
//!   with a static binary (`x86_64-unknown-linux-musl`, its eBPF programs
//!   embedded as in the glibc build) that needs no glibc: it runs on
//!   RHEL 8, Amazon Linux 2 and Ubuntu 20.04 as on Debian 12.
//!
//! cargo-deb is installed here, when missing, rather than by `setup`: only
//! this task needs it, and compiling it costs about three minutes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

use crate::{cargo, root, run, setup, target_dir};
use setup::STATIC_TARGET;

const CARGO_DEB_VERSION: &str = "3.8.0";

/// The workspace version, which the sensor crate inherits too.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Files of the tarball besides the binary and the script, by their
/// source in the workspace and their name in the tarball.
const TARBALL_FILES: &[(&str, &str)] = &[
    ("deploy/systemd/sensor.service", "sensor.service"),
    ("sensor.example.toml", "sensor.example.toml"),
    ("README.md", "README.md"),
    ("LICENSE", "LICENSE"),
];

pub struct Artefacts {
    pub deb: PathBuf,
    pub tarball: PathBuf,
}

/// Where the packages go.
pub fn dist_dir() -> PathBuf {
    target_dir().join("dist")
}

/// The static binary `build_static` writes.
pub fn static_binary() -> PathBuf {
    target_dir().join(STATIC_TARGET).join("release/sensor")
}

/// The release binary for the musl target: statically linked, C
/// dependencies compiled by musl-gcc (installed by `setup::static_target`).
fn build_static() -> anyhow::Result<()> {
    let cc_var = format!("CC_{}", STATIC_TARGET.replace('-', "_"));
    run(cargo().env(cc_var, "musl-gcc").args([
        "build",
        "--release",
        "-p",
        "sensor",
        "--target",
        STATIC_TARGET,
    ]))
    .context("building the static binary")
}

pub fn dist() -> anyhow::Result<Artefacts> {
    ensure_cargo_deb()?;
    build_static()?;
    let out = dist_dir();
    std::fs::create_dir_all(&out)?;
    let deb = deb(&out)?;
    let tarball = tarball(&out)?;
    for file in [&deb, &tarball] {
        let bytes = std::fs::metadata(file)?.len();
        eprintln!(
            "xtask: {} ({:.1} MiB)",
            file.display(),
            bytes as f64 / (1024.0 * 1024.0)
        );
    }
    Ok(Artefacts { deb, tarball })
}

fn ensure_cargo_deb() -> anyhow::Result<()> {
    let version = Command::new("cargo")
        .env("PATH", setup::path_with_cargo_bin())
        .args(["deb", "--version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if version.contains(CARGO_DEB_VERSION) {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-deb {CARGO_DEB_VERSION} (takes a few minutes, once)");
    run(cargo().args([
        "install",
        "cargo-deb",
        "--version",
        CARGO_DEB_VERSION,
        "--locked",
    ]))
    .context("installing cargo-deb")
}

/// The .deb, from the binary already built (`--no-build`: cargo-deb's own
/// build would skip the eBPF set-up that `cargo xtask build` does).
fn deb(out: &Path) -> anyhow::Result<PathBuf> {
    let output = cargo()
        .current_dir(root())
        .args(["deb", "-p", "sensor", "--no-build", "--strip", "--output"])
        .arg(out)
        .output()
        .context("starting cargo deb")?;
    if !output.status.success() {
        bail!(
            "cargo deb failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // cargo-deb prints the path of the package it wrote.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let deb = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| l.ends_with(".deb"))
        .map(PathBuf::from)
        .with_context(|| format!("cargo deb printed no .deb path: {stdout}"))?;
    if !deb.is_file() {
        bail!("cargo deb reported {} but it is not there", deb.display());
    }
    Ok(deb)
}

/// `sensor-<version>-<arch>.tar.gz` with one top directory of that name.
fn tarball(out: &Path) -> anyhow::Result<PathBuf> {
    let name = format!("sensor-{VERSION}-{}", std::env::consts::ARCH);
    let stage = out.join("stage");
    let top = stage.join(&name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    std::fs::create_dir_all(&top)?;
    let binary = top.join("sensor");
    std::fs::copy(static_binary(), &binary)
        .with_context(|| format!("copying {}", static_binary().display()))?;
    // Stripped as cargo-deb strips the .deb's copy: the release profile
    // keeps debug info for profiling, which users do not need.
    run(Command::new("strip")
        .args([
            "--strip-unneeded",
            "--remove-section=.comment",
            "--remove-section=.note",
        ])
        .arg(&binary))?;
    for (source, dest) in TARBALL_FILES {
        std::fs::copy(root().join(source), top.join(dest))
            .with_context(|| format!("copying {source}"))?;
    }
    std::fs::copy(
        root().join("deploy/tarball/install.sh"),
        top.join("install.sh"),
    )?;
    set_mode(&binary, 0o755)?;
    set_mode(&top.join("install.sh"), 0o755)?;
    for (_, dest) in TARBALL_FILES {
        set_mode(&top.join(dest), 0o644)?;
    }
    let tarball = out.join(format!("{name}.tar.gz"));
    // Owned by root, not by whoever built it, and in a fixed order.
    run(Command::new("tar")
        .arg("-C")
        .arg(&stage)
        .args([
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--sort=name",
            "-czf",
        ])
        .arg(&tarball)
        .arg(&name))?;
    std::fs::remove_dir_all(&stage)?;
    Ok(tarball)
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}
