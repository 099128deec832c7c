//! The rustls programs for the tests of rustls capture: tests/servers/rustls
//! built here by cargo (crates from crates.io, pinned by its Cargo.lock)
//! into target/rustls-e2e, which later runs reuse.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::{start_https_program, workspace_root};

/// `cargo build --release` of tests/servers/rustls; the binary's path.
pub fn build() -> PathBuf {
    let root = workspace_root();
    let target = root.join("target/rustls-e2e");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(root.join("tests/servers/rustls/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        // The sensor's own build settings are not this program's.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building tests/servers/rustls: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("release/rustls-https")
}

/// A copy of `binary` at `dir`/`name`: a file of its own (its own inode),
/// so that the sensor finds and attaches it on its own.
pub fn copy(binary: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(binary, &to).unwrap();
    to
}

/// `copy`, then stripped of its symbol table (`strip`).
pub fn stripped_copy(binary: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = copy(binary, dir, name);
    let out = Command::new("strip").arg(&to).output().unwrap();
    assert!(out.status.success(), "strip: {out:?}");
    to
}

/// The rustls server running on loopback; killed when dropped.
pub struct RustlsServer {
    pub child: Child,
    pub port: u16,
}

impl RustlsServer {
    pub fn start(binary: &Path, dir: &Path) -> Self {
        Self::start_as(binary, dir, "server")
    }

    /// `command`: `server` (rustls's blocking stream, a thread per
    /// connection) or `tokio-server` (tokio-rustls on tokio's
    /// multi-threaded runtime).
    pub fn start_as(binary: &Path, dir: &Path, command: &str) -> Self {
        // Its certificate in a directory of its own, named after it (the
        // binary may be in `dir` itself).
        let mut name = binary.file_name().unwrap().to_owned();
        name.push(".files");
        let (child, port) = start_https_program(
            binary,
            &[command],
            &dir.join(name),
            &[],
            "the rustls server",
        );
        Self { child, port }
    }
}

impl Drop for RustlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
