//! Loads the two TLS programs and attaches them to the functions of one
//! file: the entry program at each function's start, the return program
//! at its return, each attachment carrying the function's cookie. The
//! kernel places the probes on the file's inode, so every process mapping
//! it, now or later, is covered.

use std::path::Path;

use aya::programs::uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeLink, UProbeScope};
use aya::programs::{ProgramError, UProbe};
use aya::Ebpf;

use super::go::GoProbes;
use super::symbols::FoundHook;

/// The uprobe at a function's start: records the call.
pub const ENTRY_PROGRAM: &str = "tls_enter";
/// The uretprobe at its return: captures the plaintext.
pub const RETURN_PROGRAM: &str = "tls_return";
/// Go's `(*tls.Conn).Write`, at its entry.
pub const GO_WRITE_PROGRAM: &str = "go_tls_write";
/// Go's `(*tls.Conn).Read`, at its entry.
pub const GO_READ_PROGRAM: &str = "go_tls_read";
/// Go's `(*tls.Conn).Read`, at each of its `RET` instructions.
pub const GO_READ_RETURN_PROGRAM: &str = "go_tls_read_return";
const GO_PROGRAMS: [&str; 3] = [GO_WRITE_PROGRAM, GO_READ_PROGRAM, GO_READ_RETURN_PROGRAM];

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("eBPF program `{0}` is missing from the object")]
    Missing(&'static str),
    #[error("eBPF program `{program}`: {source}")]
    Program {
        program: &'static str,
        source: ProgramError,
    },
    #[error("attaching `{program}` to {symbol}: {source}")]
    Attach {
        program: &'static str,
        symbol: &'static str,
        source: ProgramError,
    },
    #[error("starting the thread that finds TLS libraries: {0}")]
    Thread(std::io::Error),
}

impl AttachError {
    /// The kernel refused the uprobe for want of privilege (EACCES or
    /// EPERM from `perf_event_open`): since Linux 6.16 a uprobe needs
    /// CAP_SYS_ADMIN, CAP_PERFMON no longer suffices.
    pub fn is_permission_denied(&self) -> bool {
        match self {
            Self::Attach {
                source: ProgramError::SyscallError(error),
                ..
            } => matches!(
                error.io_error.raw_os_error(),
                Some(libc::EACCES | libc::EPERM)
            ),
            _ => false,
        }
    }
}

fn uprobe<'a>(ebpf: &'a mut Ebpf, program: &'static str) -> Result<&'a mut UProbe, AttachError> {
    ebpf.program_mut(program)
        .ok_or(AttachError::Missing(program))?
        .try_into()
        .map_err(|source| AttachError::Program { program, source })
}

/// Loads the programs into the kernel (once, before any attachment).
pub fn load(ebpf: &mut Ebpf) -> Result<(), AttachError> {
    for program in [ENTRY_PROGRAM, RETURN_PROGRAM] {
        uprobe(ebpf, program)?
            .load()
            .map_err(|source| AttachError::Program { program, source })?;
    }
    Ok(())
}

/// Loads the Go programs (once, before any Go attachment). Apart from the
/// library programs: a kernel that refuses these still gets the others.
pub fn load_go(ebpf: &mut Ebpf) -> Result<(), AttachError> {
    for program in GO_PROGRAMS {
        uprobe(ebpf, program)?
            .load()
            .map_err(|source| AttachError::Program { program, source })?;
    }
    Ok(())
}

/// Attaches the Go programs to a Go program's file: Write's entry, Read's
/// entry and every `RET` of Read, each carrying the address of the
/// `*net.TCPConn` interface table. All or nothing, as `attach_file`.
pub fn attach_go(
    ebpf: &mut Ebpf,
    path: &Path,
    go: &GoProbes,
) -> Result<Vec<UProbeLink>, AttachError> {
    let points = [
        (GO_WRITE_PROGRAM, "crypto/tls.(*Conn).Write", go.write),
        (GO_READ_PROGRAM, "crypto/tls.(*Conn).Read", go.read),
    ]
    .into_iter()
    .chain(
        go.read_returns
            .iter()
            .map(|&at| (GO_READ_RETURN_PROGRAM, "crypto/tls.(*Conn).Read (RET)", at)),
    );
    let mut links = Vec::with_capacity(go.read_returns.len() + 2);
    for (program, symbol, offset) in points {
        let point = UProbeAttachPoint {
            location: UProbeAttachLocation::AbsoluteOffset(offset),
            cookie: Some(go.tcp_conn_type),
        };
        let attach_error = |source| AttachError::Attach {
            program,
            symbol,
            source,
        };
        let probe = uprobe(ebpf, program)?;
        let id = probe
            .attach(point, path, UProbeScope::AllProcesses)
            .map_err(attach_error)?;
        links.push(probe.take_link(id).map_err(attach_error)?);
    }
    Ok(links)
}

/// Attaches both programs to every function in `hooks` of the file at
/// `path`, and returns the links: dropping one detaches it. All or
/// nothing: on a failure what was attached is detached again, so no call
/// is seen entering without being seen returning.
pub fn attach_file(
    ebpf: &mut Ebpf,
    path: &Path,
    hooks: &[FoundHook],
) -> Result<Vec<UProbeLink>, AttachError> {
    let mut links = Vec::with_capacity(hooks.len() * 2);
    for found in hooks {
        for program in [ENTRY_PROGRAM, RETURN_PROGRAM] {
            let point = UProbeAttachPoint {
                location: UProbeAttachLocation::AbsoluteOffset(found.offset),
                cookie: Some(found.hook.cookie()),
            };
            let attach_error = |source| AttachError::Attach {
                program,
                symbol: found.hook.symbol,
                source,
            };
            let probe = uprobe(ebpf, program)?;
            let id = probe
                .attach(point, path, UProbeScope::AllProcesses)
                .map_err(attach_error)?;
            links.push(probe.take_link(id).map_err(attach_error)?);
        }
    }
    Ok(links)
}
