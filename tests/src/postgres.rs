//! A private PostgreSQL cluster for one test: `initdb` in a temporary
//! directory, run as `nobody` (PostgreSQL refuses root), listening on a
//! free loopback port with a password. The system's clusters are never
//! touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::free_port;

const USER: &str = "sensor";
/// Asserted absent from the sensor's logs.
pub const PASSWORD: &str = "fleet-pw-9c1e7a";
const NOBODY: u32 = 65534;

pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

impl Postgres {
    /// A new cluster in a fresh directory, not started.
    pub fn init(name: &str) -> Postgres {
        let bin = bin_dir();
        let dir = PathBuf::from(format!("/tmp/sensor-e2e-pg-{name}"));
        if dir.exists() {
            // A cluster an aborted run left running.
            let _ = as_nobody(&bin.join("pg_ctl"))
                .args([
                    "-D",
                    &dir.join("data").display().to_string(),
                    "-m",
                    "immediate",
                    "stop",
                ])
                .output();
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), PASSWORD).unwrap();
        chown_nobody(&dir);
        chown_nobody(&dir.join("pw"));
        let out = as_nobody(&bin.join("initdb"))
            .args(["-D", &dir.join("data").display().to_string()])
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "--no-locale",
                "-E",
                "UTF8",
            ])
            .arg(format!("--pwfile={}", dir.join("pw").display()))
            .output()
            .unwrap();
        assert_ok("initdb", &out);
        Postgres {
            bin,
            dir,
            port: free_port(),
        }
    }

    /// Starts the cluster and waits until it accepts connections.
    pub fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let out = as_nobody(&self.bin.join("pg_ctl"))
            .args([
                "-D",
                &self.data(),
                "-l",
                &self.dir.join("log").display().to_string(),
            ])
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert_ok("pg_ctl start", &out);
    }

    /// Stops the cluster (fast: connections are cut, as in a restart).
    pub fn stop(&self) {
        let out = as_nobody(&self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "fast", "-w", "stop"])
            .output()
            .unwrap();
        assert_ok("pg_ctl stop", &out);
    }

    /// The URL of `database`, password included.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Runs `sql` in `database` with psql; returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .arg(self.url(database))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert_ok("psql", &out);
        String::from_utf8(out.stdout).unwrap()
    }

    /// Waits until `pred` holds for the output of `sql`.
    pub fn wait_for(&self, database: &str, sql: &str, secs: u64, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let out = self.psql(database, sql);
            if pred(&out) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out; {sql} gives:\n{out}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_nobody(&self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's binaries (`cargo xtask setup` installs
/// Debian's `postgresql`).
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run `cargo xtask setup`")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("no /usr/lib/postgresql/*/bin/initdb: run `cargo xtask setup`")
        .1
}

fn as_nobody(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid",
            &NOBODY.to_string(),
            "--regid",
            &NOBODY.to_string(),
        ])
        .args(["--clear-groups", "--"])
        .arg(program)
        // Its home (/nonexistent) is no place for anything.
        .env("HOME", "/tmp")
        .current_dir("/tmp");
    command
}

fn chown_nobody(path: &Path) {
    let c = std::ffi::CString::new(path.display().to_string()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::chown(c.as_ptr(), NOBODY, NOBODY) };
    assert_eq!(rc, 0, "chown {}", path.display());
}

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
