//! Fails early, with the fix, when bpf-linker is missing.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("bpf") {
        if let Err(err) = which::which("bpf-linker") {
            panic!("bpf-linker not found ({err}); run `cargo xtask setup`");
        }
    }
}
