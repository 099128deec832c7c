//! Fails early, with the fix, when bpf-linker is missing, and declares the
//! `bpf_target_arch` cfg that aya-build passes (the probes read
//! architecture-specific registers).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(bpf_target_arch, values(\"x86_64\", \"aarch64\"))");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("bpf") {
        if let Err(err) = which::which("bpf-linker") {
            panic!("bpf-linker not found ({err}); run `cargo xtask setup`");
        }
    }
}
