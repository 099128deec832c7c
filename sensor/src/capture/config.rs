//! `[capture]` keys of the capture stage itself (the config schema names
//! them; the stage defines them).

use serde::Deserialize;

/// `[capture] mode`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CaptureMode {
    /// Socket mode when the kernel has its tracepoints, else syscalls.
    #[default]
    Auto,
    /// Socket mode, or fail to start.
    Socket,
    /// The syscall tracepoints, even where socket mode would work.
    Syscalls,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        mode: CaptureMode,
    }

    #[test]
    fn parses_the_three_modes_and_rejects_others() {
        for (text, want) in [
            ("auto", CaptureMode::Auto),
            ("socket", CaptureMode::Socket),
            ("syscalls", CaptureMode::Syscalls),
        ] {
            let h: Holder = toml::from_str(&format!("mode = {text:?}")).unwrap();
            assert_eq!(h.mode, want);
        }
        assert!(toml::from_str::<Holder>("mode = \"kprobes\"").is_err());
    }
}
