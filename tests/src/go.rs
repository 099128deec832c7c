//! Go programs for the tests of Go's crypto/tls: built here from
//! tests/servers/go by the machine's Go (Debian's golang-go, 1.19) or by
//! Go 1.15 (Debian 11's golang-1.15, for the stack ABI before Go 1.17),
//! both installed by `cargo xtask setup`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::{start_https_program, workspace_root};

/// Go 1.15 (Debian 11's package).
pub const OLD_GO: &str = "/usr/lib/go-1.15/bin/go";

/// Debian's golang-go puts `go` on the PATH.
pub fn go() -> PathBuf {
    for candidate in [
        "/usr/bin/go",
        "/usr/lib/go-1.19/bin/go",
        "/usr/local/go/bin/go",
    ] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("no Go toolchain: cargo xtask setup installs Debian's golang-go");
}

/// `go build` of tests/servers/go/`source` into `dir`/`name`, offline and
/// with the standard library only, with `flags`.
pub fn build(dir: &Path, source: &str, name: &str, flags: &[&str]) -> PathBuf {
    build_with(&go(), dir, source, name, flags)
}

/// `build` by Go 1.15, with a cache of its own.
pub fn build_old(dir: &Path, source: &str, name: &str, flags: &[&str]) -> PathBuf {
    assert!(
        Path::new(OLD_GO).exists(),
        "no Go 1.15 at {OLD_GO}: cargo xtask setup installs it"
    );
    build_with(Path::new(OLD_GO), dir, source, name, flags)
}

fn build_with(go: &Path, dir: &Path, source: &str, name: &str, flags: &[&str]) -> PathBuf {
    let out_path = dir.join(name);
    let cache = if go == Path::new(OLD_GO) {
        "target/go-1.15-cache"
    } else {
        "target/go-cache"
    };
    let out = Command::new(go)
        .arg("build")
        .arg("-o")
        .arg(&out_path)
        .args(flags)
        .arg(workspace_root().join("tests/servers/go").join(source))
        .current_dir(dir)
        // The cache outlives the test's directory: the standard library
        // is compiled once per machine, not per run.
        .env("GOCACHE", workspace_root().join(cache))
        .env("GOPATH", dir.join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GO111MODULE", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go build {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out_path
}

/// tests/servers/go/server.go running on loopback; killed when dropped.
pub struct GoServer {
    pub child: Child,
    pub port: u16,
}

impl GoServer {
    pub fn start(binary: &Path, dir: &Path) -> Self {
        Self::start_with(binary, dir, &[])
    }

    /// With `extra` arguments after the certificate's (`h2`).
    pub fn start_with(binary: &Path, dir: &Path, extra: &[&str]) -> Self {
        // Each server its own certificate: two servers sharing one file
        // would race its rewriting.
        let dir = dir.join(binary.file_name().unwrap());
        let (child, port) = start_https_program(binary, &[], &dir, extra, "the Go server");
        Self { child, port }
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
