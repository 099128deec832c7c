//! Which kernel hooks capture the bytes: the socket-layer tracepoints
//! (`socket`, Linux 6.3 and later: only socket I/O runs a program) or the
//! syscall tracepoints (`syscalls`, any kernel with BTF and ring buffers,
//! but once a syscall tracepoint is on, every syscall on the host takes
//! the kernel's slow path). `auto` picks socket mode when the kernel has it.

use serde::{Deserialize, Serialize};

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

/// The mode a running capture is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Socket,
    Syscalls,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Socket => "socket",
            Mode::Syscalls => "syscalls",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
