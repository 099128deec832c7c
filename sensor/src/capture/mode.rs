//! Which kernel hooks capture the bytes: the socket-layer tracepoints
//! (`socket`, Linux 6.3 and later: only socket I/O runs a program) or the
//! syscall tracepoints (`syscalls`, any kernel with BTF and ring buffers,
//! but once a syscall tracepoint is on, every syscall on the host takes
//! the kernel's slow path). `auto` picks socket mode when the kernel has it.

use serde::Serialize;

pub use super::config::CaptureMode;

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
