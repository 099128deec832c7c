//! `cargo xtask fuzz TARGET`: runs one of the libFuzzer targets in `fuzz/`
//! with cargo-fuzz on the nightly toolchain, installing cargo-fuzz first
//! when it is missing.

use std::process::Command;

use anyhow::Context as _;

use crate::{root, run, setup};

const CARGO_FUZZ_VERSION: &str = "0.13.1";

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Target name, a file in fuzz/fuzz_targets without `.rs`.
    target: String,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u32,
    /// Largest input tried, in bytes (1 MiB: bodies past the kept prefix,
    /// heads past the head limit, chunked bodies across many chunks).
    #[arg(long, default_value_t = 1 << 20)]
    max_len: u32,
}

pub fn fuzz(args: &FuzzArgs) -> anyhow::Result<()> {
    let installed = Command::new("cargo")
        .env("PATH", setup::path_with_cargo_bin())
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !installed {
        run(Command::new("cargo")
            .env("PATH", setup::path_with_cargo_bin())
            .args([
                "install",
                "cargo-fuzz",
                "--version",
                CARGO_FUZZ_VERSION,
                "--locked",
            ]))
        .context("installing cargo-fuzz")?;
    }
    run(Command::new("cargo")
        .current_dir(root().join("fuzz"))
        .env("PATH", setup::path_with_cargo_bin())
        // The targets exercise userspace code only.
        .env("AYA_BUILD_SKIP", "1")
        .args(["+nightly", "fuzz", "run", &args.target, "--"])
        .arg(format!("-max_total_time={}", args.seconds))
        .arg(format!("-max_len={}", args.max_len))
        // Long inputs from the start, not grown slowly from a few bytes.
        .arg("-len_control=0"))
}
