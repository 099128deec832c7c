//! Builds the eBPF programs (sensor-ebpf) with the nightly toolchain and
//! bpf-linker, and leaves the object in OUT_DIR for the agent to embed.

use std::{env, fs, path::PathBuf};

use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?);
    let object = out_dir.join("sensor");
    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip {
        // Lets the pure userspace stages build and test without the eBPF
        // toolchain; `sensor run` reports that this binary cannot capture.
        if !object.exists() {
            fs::write(&object, []).context("writing empty eBPF object")?;
        }
        println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
        return Ok(());
    }
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = root.join("../sensor-ebpf");
    let ebpf_dir = ebpf_dir.to_str().context("eBPF crate path is not UTF-8")?;
    println!("cargo:rerun-if-changed=../sensor-common/src");
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "sensor-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
