//! `cargo xtask`: set-up, build, run, test and bench, so that a fresh
//! machine needs only the README's commands.

mod bench;
mod dist;
mod fuzz;
mod layers;
mod quality;
mod setup;
mod soak;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install the toolchain pieces and system packages the build, tests,
    /// bench and packages use (idempotent).
    Setup,
    /// Install the build tools (nightly, bpf-linker), then build the
    /// release binary (eBPF included).
    Build,
    /// Install the build tools only (nightly, bpf-linker: no test or
    /// bench tools), build, and run the sensor live with its defaults (root).
    Run {
        /// Arguments passed to `sensor run`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up, build, check formatting, clippy and import layers, then run
    /// every test, end-to-end ones included (root).
    Test {
        /// Only run tests whose name contains this.
        filter: Option<String>,
    },
    /// Measure the sensor under load: nginx + wrk with and without it.
    Bench(bench::BenchArgs),
    /// Check that no import in sensor/src runs back up the pipeline.
    Layers,
    /// Run a fuzz target from fuzz/ (installs cargo-fuzz when missing).
    Fuzz(fuzz::FuzzArgs),
    /// Set up, build, and run the sensor for minutes under normal traffic
    /// mixed with every hostile shape: peak RSS, CPU, completeness (root).
    Soak(soak::SoakArgs),
    /// Recall and precision of the content detectors on public secret and
    /// PII test suites (fetched beforehand), next to detect-secrets; long,
    /// not part of CI.
    Quality(quality::QualityArgs),
    /// Set up, build, and package: a .deb and a tarball in target/dist/
    /// (installs cargo-deb when missing).
    Dist,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Task::Setup => setup::setup(),
        Task::Build => {
            setup::build_tools()?;
            build()
        }
        Task::Run { args } => {
            setup::build_tools()?;
            build()?;
            let status = Command::new(sensor_binary())
                .arg("run")
                .args(args)
                .status()
                .context("starting target/release/sensor")?;
            if !status.success() {
                bail!("sensor exited with {status}");
            }
            Ok(())
        }
        Task::Test { filter } => {
            setup::setup()?;
            build()?;
            test(filter.as_deref())
        }
        Task::Layers => layers::layers(),
        Task::Fuzz(args) => {
            setup::build_tools()?;
            fuzz::fuzz(&args)
        }
        Task::Bench(args) => {
            setup::setup()?;
            build()?;
            bench::bench(&args)
        }
        Task::Soak(args) => {
            setup::setup()?;
            build()?;
            soak::soak(&args)
        }
        Task::Quality(args) => {
            if !args.no_build {
                setup::setup()?;
                build()?;
            }
            quality::quality(&args)
        }
        Task::Dist => {
            setup::build_tools()?;
            setup::static_target()?;
            build()?;
            dist::dist().map(|_| ())
        }
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to
/// the workspace root, where every cargo command here runs), else target/.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}

pub fn sensor_binary() -> PathBuf {
    target_dir().join("release/sensor")
}

/// Runs a command in the workspace root, failing with its name.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .current_dir(root())
        .status()
        .with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.env("PATH", setup::path_with_cargo_bin());
    cmd
}

fn build() -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "sensor"]))
}

fn test(filter: Option<&str>) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "the end-to-end tests load eBPF programs and must run as root (or with CAP_BPF, \
             CAP_PERFMON, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH); re-run `cargo xtask test` as root"
        );
    }
    lint()?;
    let mut unit = cargo();
    unit.args([
        "test",
        "--workspace",
        "--exclude",
        "sensor-ebpf",
        "--exclude",
        "sensor-e2e",
    ]);
    if let Some(f) = filter {
        unit.args(["--", f]);
    }
    // Unit tests never load the programs: skip building them a second time
    // for the debug profile.
    unit.env("AYA_BUILD_SKIP", "1");
    run_with_deadline(&mut unit, Duration::from_secs(15 * 60))?;
    let mut e2e = cargo();
    e2e.args(["test", "-p", "sensor-e2e", "--", "--test-threads=1"]);
    if let Some(f) = filter {
        e2e.arg(f);
    }
    e2e.env("SENSOR_BIN", sensor_binary());
    // The packages, for tests/e2e/dist.rs (whose tests are all `dist_*`):
    // a filtered run that cannot select them does not build them.
    if filter.is_none_or(|f| f.contains("dist")) {
        let packages = dist::dist()?;
        e2e.env("SENSOR_DEB", &packages.deb);
        e2e.env("SENSOR_TARBALL", &packages.tarball);
    }
    run_with_deadline(&mut e2e, Duration::from_secs(20 * 60))?;
    // The run above captures in the kernel's best mode (socket-layer
    // tracepoints where the kernel has them); the capture suites run
    // again on the syscall tracepoints, the fallback for older kernels.
    let mut fallback = cargo();
    fallback.args([
        "test",
        "-p",
        "sensor-e2e",
        "--test",
        "capture",
        "--test",
        "capture_edges",
        "--",
        "--test-threads=1",
    ]);
    if let Some(f) = filter {
        fallback.arg(f);
    }
    fallback.env("SENSOR_BIN", sensor_binary());
    fallback.env("SENSOR_E2E_CAPTURE_MODE", "syscalls");
    run_with_deadline(&mut fallback, Duration::from_secs(10 * 60))
}

/// The checks that need no kernel, first: formatting, clippy (every
/// warning an error, the workspace lints included) and the import layers.
fn lint() -> anyhow::Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))
        .context("formatting differs: run `cargo fmt --all`")?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--exclude",
        "sensor-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    // Clippy never loads the programs; the release build has them.
    clippy.env("AYA_BUILD_SKIP", "1");
    run(&mut clippy)?;
    layers::layers()
}

/// Like `run`, but kills the command and everything it started once the
/// deadline passes, so a hung test fails CI with a message instead of
/// eating its whole time budget.
fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .current_dir(root())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {shown}"))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("{shown} failed with {status}");
            }
            return Ok(());
        }
        if started.elapsed() > deadline {
            // SAFETY: signals the process group we created for the child.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            bail!("{shown} was still running after {deadline:?} and was killed: a test hangs");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
