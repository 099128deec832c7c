//! `--flamegraph FILE`: where the sensor's CPU goes in one measured run.
//! perf samples the sensor's threads with DWARF call graphs (release
//! builds keep no frame pointers), and inferno folds the stacks and draws
//! them as an SVG.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context as _};
use inferno::collapse::Collapse as _;

/// Sampling rate: enough stacks in a 10 s run without burying the sensor
/// under perf's own work.
const HZ: &str = "199";

pub struct Recording {
    child: Child,
    data: PathBuf,
}

impl Recording {
    /// Starts sampling process `pid` into `dir/perf.data`.
    pub fn start(pid: u32, dir: &Path) -> anyhow::Result<Self> {
        let data = dir.join("perf.data");
        let child = Command::new("perf")
            .args(["record", "-q", "-F", HZ, "--call-graph", "dwarf,16384"])
            .arg("-p")
            .arg(pid.to_string())
            .arg("-o")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting perf (cargo xtask setup installs linux-perf)")?;
        Ok(Self { child, data })
    }

    /// Stops sampling and writes the flame graph to `svg`.
    pub fn finish(mut self, svg: &Path, title: &str) -> anyhow::Result<()> {
        // SAFETY: signalling a child we own; perf writes its file on SIGINT.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait()?;
        if !status.success() && !self.data.exists() {
            bail!("perf record exited with {status}");
        }
        let script = Command::new("perf")
            .args(["script", "-i"])
            .arg(&self.data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("running perf script")?;
        let mut folded = Vec::new();
        let stdout = script.stdout.context("perf script's output")?;
        inferno::collapse::perf::Folder::default()
            .collapse(BufReader::new(stdout), &mut folded)
            .context("folding perf's stacks")?;
        if folded.is_empty() {
            bail!("perf recorded no samples of the sensor");
        }
        let mut options = inferno::flamegraph::Options::default();
        options.title = title.to_owned();
        if let Some(parent) = svg.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let out =
            std::fs::File::create(svg).with_context(|| format!("creating {}", svg.display()))?;
        inferno::flamegraph::from_reader(&mut options, folded.as_slice(), out)
            .context("drawing the flame graph")?;
        println!("  flame graph: {}", svg.display());
        Ok(())
    }
}
