//! The sensor under load: started on its defaults with every exchange
//! written, its CPU time and peak memory read from /proc.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::sensor_binary;

pub struct Running {
    child: Child,
}

impl Running {
    /// Starts `sensor run` with `capture` as its `[capture]` section and
    /// waits for its `ready` line.
    pub fn start(
        dir: &Path,
        exchanges: &Path,
        stats: &Path,
        capture: &str,
    ) -> anyhow::Result<Self> {
        Self::start_binary(&sensor_binary(), dir, exchanges, stats, capture)
    }

    /// Like `start`, running the sensor binary `bin`.
    pub fn start_binary(
        bin: &Path,
        dir: &Path,
        exchanges: &Path,
        stats: &Path,
        capture: &str,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(dir.join("sensor.log"))?;
        // One exchanges file however long the run (completeness is counted
        // from it), and the sensor's state kept with the bench's files.
        let config = dir.join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "[capture]\n{capture}\n[output]\nrotate_bytes = 0\nstate_dir = {:?}\n",
                dir.join("state").display().to_string()
            ),
        )?;
        let mut child = Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--alerts")
            .arg(dir.join("alerts.jsonl"))
            .arg("--exchanges")
            .arg(exchanges)
            .arg("--stats")
            .arg(stats)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting the sensor")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let log = std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default();
            if log.contains("ready") {
                return Ok(Self { child });
            }
            if let Some(status) = child.try_wait()? {
                bail!("sensor exited with {status} before it was ready:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        bail!(
            "sensor not ready after 30 s; see {}",
            dir.join("sensor.log").display()
        )
    }

    pub fn stop(&mut self) -> anyhow::Result<()> {
        // SAFETY: signalling a child we own.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait()?;
        if !status.success() {
            bail!("sensor exited with {status}");
        }
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User plus system CPU seconds so far.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds_of(self.child.id())
    }

    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmHWM in /proc/pid/status")
    }
}

impl Drop for Running {
    /// A bench that failed midway leaves no sensor behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system CPU seconds process `pid` has used so far.
pub fn cpu_seconds_of(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("parsing /proc/pid/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks as f64 / hz)
}
