//! Loads the two TLS programs and attaches them to the functions of one
//! file: the entry program at each function's start, the return program
//! at its return, each attachment carrying the function's cookie. The
//! kernel places the probes on the file's inode, so every process mapping
//! it, now or later, is covered.
//!
//! Through uprobe_multi links (`multi`) when the kernel takes them: they
//! need CAP_BPF and CAP_PERFMON only, and one link covers every function
//! of a file. Otherwise through aya's uprobes (`perf_event_open`), which
//! since Linux 6.16 need CAP_SYS_ADMIN.
//!
//! Where the kernel takes uprobe sessions (Linux 6.13), the writes that
//! `symbols` marks as capturable at their entry get the write program
//! through a session link instead: it captures at the entry and skips the
//! return, or keeps it when the entry cannot (`sensor-ebpf`, `tls::write`).
//! The reads get the read program through one: it keeps the return only
//! for a socket whose plaintext is captured or not judged yet
//! (`tls::read`). The handshakes keep the entry and return programs.

use std::path::Path;

use aya::programs::uprobe::{UProbeAttachLocation, UProbeAttachPoint, UProbeLink, UProbeScope};
use aya::programs::{ProgramError, UProbe};
use aya::Ebpf;
use sensor_common::tls::OP_READ;

use super::go::{GoAbi, GoProbes, ReadCapture};
use super::multi::{LinkKind, MultiError, MultiLink, MultiPrograms};
use super::rustls::RustlsProbes;
use super::symbols::FoundHook;

/// The uprobe at a function's start: records the call.
pub const ENTRY_PROGRAM: &str = "tls_enter";
/// The uretprobe at its return: captures the plaintext.
pub const RETURN_PROGRAM: &str = "tls_return";
/// The write functions' session program: captures at the entry, or at
/// the return when the entry cannot.
pub const WRITE_PROGRAM: &str = "tls_write";
/// The read functions' session program: keeps the return only for a
/// socket that is captured or not judged yet.
pub const READ_PROGRAM: &str = "tls_read";
/// Go's `(*tls.Conn).Write`, at its entry.
pub const GO_WRITE_PROGRAM: &str = "go_tls_write";
/// Go's `(*tls.Conn).Read`, at its entry.
pub const GO_READ_PROGRAM: &str = "go_tls_read";
/// Go's `(*tls.Conn).Read`, at each of its `RET` instructions.
pub const GO_READ_RETURN_PROGRAM: &str = "go_tls_read_return";
/// Go's `(*tls.Conn).Read`, at its call of `runtime.memmove`.
pub const GO_READ_COPY_PROGRAM: &str = "go_tls_read_copy";
/// The same four for programs built before Go 1.17 (the stack ABI).
pub const GO_STACK_WRITE_PROGRAM: &str = "go_tls_write_stack";
pub const GO_STACK_READ_PROGRAM: &str = "go_tls_read_stack";
pub const GO_STACK_READ_RETURN_PROGRAM: &str = "go_tls_read_return_stack";
pub const GO_STACK_READ_COPY_PROGRAM: &str = "go_tls_read_copy_stack";
/// rustls's `Writer::write` and `write_vectored`, at their entry.
pub const RUSTLS_WRITE_PROGRAM: &str = "rustls_write";
pub const RUSTLS_WRITE_VECTORED_PROGRAM: &str = "rustls_write_vectored";
/// Their return: the bytes rustls took.
pub const RUSTLS_WRITE_RETURN_PROGRAM: &str = "rustls_write_return";
/// rustls's `Reader::read`, at its entry and at its return.
pub const RUSTLS_READ_PROGRAM: &str = "rustls_read";
pub const RUSTLS_READ_RETURN_PROGRAM: &str = "rustls_read_return";
/// tokio-rustls's reads: `Reader::into_first_chunk`'s return, and
/// `<Reader as BufRead>::consume`'s entry.
pub const RUSTLS_CHUNK_RETURN_PROGRAM: &str = "rustls_chunk_return";
pub const RUSTLS_CONSUME_PROGRAM: &str = "rustls_consume";
const RUSTLS_PROGRAMS: [&str; 7] = [
    RUSTLS_CHUNK_RETURN_PROGRAM,
    RUSTLS_CONSUME_PROGRAM,
    RUSTLS_WRITE_PROGRAM,
    RUSTLS_WRITE_VECTORED_PROGRAM,
    RUSTLS_WRITE_RETURN_PROGRAM,
    RUSTLS_READ_PROGRAM,
    RUSTLS_READ_RETURN_PROGRAM,
];
const GO_PROGRAMS: [&str; 8] = [
    GO_WRITE_PROGRAM,
    GO_READ_PROGRAM,
    GO_READ_RETURN_PROGRAM,
    GO_READ_COPY_PROGRAM,
    GO_STACK_WRITE_PROGRAM,
    GO_STACK_READ_PROGRAM,
    GO_STACK_READ_RETURN_PROGRAM,
    GO_STACK_READ_COPY_PROGRAM,
];

/// One attachment: dropping it detaches its probes.
#[allow(dead_code, reason = "held for its lifetime: dropping detaches")]
pub enum TlsLink {
    /// A uprobe_multi link: one program at every point of one file.
    Multi(MultiLink),
    /// One aya uprobe at one point.
    Perf(UProbeLink),
}

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
    #[error(transparent)]
    Multi(#[from] MultiError),
    #[error("starting the thread that finds TLS libraries: {0}")]
    Thread(std::io::Error),
}

impl AttachError {
    /// The kernel refused the uprobe for want of privilege (EACCES or
    /// EPERM from `perf_event_open`): since Linux 6.16 a uprobe needs
    /// CAP_SYS_ADMIN, CAP_PERFMON no longer suffices.
    pub fn is_permission_denied(&self) -> bool {
        match self {
            Self::Multi(err) => err.is_permission_denied(),
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

/// Loads copies of the programs for uprobe_multi links (once), from
/// `object`, the bytes `ebpf` was loaded from; `go` with the Go ones;
/// the write and read programs for session links when the kernel takes
/// them (the second value says why not). An error means the kernel does not take
/// such links (before 6.6) or the programs for them: the uprobes then go
/// through aya.
pub fn load_multi(
    ebpf: &Ebpf,
    object: &[u8],
    go: bool,
    rustls: bool,
) -> Result<(MultiPrograms, Option<MultiError>), MultiError> {
    let mut names = vec![ENTRY_PROGRAM, RETURN_PROGRAM];
    if go {
        names.extend(GO_PROGRAMS);
    }
    if rustls {
        names.extend(RUSTLS_PROGRAMS);
    }
    MultiPrograms::load(ebpf, object, &names, &[WRITE_PROGRAM, READ_PROGRAM])
}

/// Loads the Go programs (once, before any Go attachment). Apart from the
/// library programs: a kernel that refuses these still gets the others.
pub fn load_go(ebpf: &mut Ebpf) -> Result<(), AttachError> {
    load_each(ebpf, &GO_PROGRAMS)
}

/// Loads the rustls programs (once, before any rustls attachment), apart
/// from the others as the Go ones are.
pub fn load_rustls(ebpf: &mut Ebpf) -> Result<(), AttachError> {
    load_each(ebpf, &RUSTLS_PROGRAMS)
}

fn load_each(ebpf: &mut Ebpf, programs: &[&'static str]) -> Result<(), AttachError> {
    for &program in programs {
        uprobe(ebpf, program)?
            .load()
            .map_err(|source| AttachError::Program { program, source })?;
    }
    Ok(())
}

/// Attaches the rustls programs to a program linking rustls: every copy
/// of `Writer::write`, `write_vectored` and `Reader::read` at its entry
/// and its return, of `Reader::into_first_chunk` at its return and of
/// `<Reader as BufRead>::consume` at its entry. All or nothing, as
/// `attach_file`.
pub fn attach_rustls(
    ebpf: &mut Ebpf,
    multi: Option<&MultiPrograms>,
    path: &Path,
    rustls: &RustlsProbes,
) -> Result<Vec<TlsLink>, AttachError> {
    let group = |program, symbol, offsets: &[u64], kind| Group {
        program,
        symbols: vec![symbol; offsets.len()],
        offsets: offsets.to_vec(),
        cookies: vec![0; offsets.len()],
        kind,
    };
    let mut groups = vec![
        group(
            RUSTLS_WRITE_PROGRAM,
            "<rustls::conn::Writer as std::io::Write>::write",
            &rustls.writes,
            LinkKind::Entry,
        ),
        group(
            RUSTLS_READ_PROGRAM,
            "<rustls::conn::Reader as std::io::Read>::read",
            &rustls.reads,
            LinkKind::Entry,
        ),
        group(
            RUSTLS_READ_RETURN_PROGRAM,
            "<rustls::conn::Reader as std::io::Read>::read (return)",
            &rustls.reads,
            LinkKind::Return,
        ),
    ];
    groups.push(group(
        RUSTLS_WRITE_RETURN_PROGRAM,
        "<rustls::conn::Writer as std::io::Write>::write (return)",
        &rustls.writes,
        LinkKind::Return,
    ));
    if !rustls.chunks.is_empty() && !rustls.consumes.is_empty() {
        groups.push(group(
            RUSTLS_CHUNK_RETURN_PROGRAM,
            "rustls::conn::Reader::into_first_chunk (return)",
            &rustls.chunks,
            LinkKind::Return,
        ));
        groups.push(group(
            RUSTLS_CONSUME_PROGRAM,
            "<rustls::conn::Reader as std::io::BufRead>::consume",
            &rustls.consumes,
            LinkKind::Entry,
        ));
    }
    groups.retain(|g| !g.offsets.is_empty());
    if !rustls.vectored_writes.is_empty() {
        groups.push(group(
            RUSTLS_WRITE_VECTORED_PROGRAM,
            "<rustls::conn::Writer as std::io::Write>::write_vectored",
            &rustls.vectored_writes,
            LinkKind::Entry,
        ));
        groups.push(group(
            RUSTLS_WRITE_RETURN_PROGRAM,
            "<rustls::conn::Writer as std::io::Write>::write_vectored (return)",
            &rustls.vectored_writes,
            LinkKind::Return,
        ));
    }
    attach_groups(ebpf, multi, path, &groups)
}

/// Attaches the Go programs to a Go program's file: Write's entry, Read's
/// entry and Read's copy to its caller (or every `RET` of Read), each
/// carrying its distance to the `*net.TCPConn` interface table. All or
/// nothing, as `attach_file`.
pub fn attach_go(
    ebpf: &mut Ebpf,
    multi: Option<&MultiPrograms>,
    path: &Path,
    go: &GoProbes,
) -> Result<Vec<TlsLink>, AttachError> {
    let (write, read, read_return, read_copy) = match go.abi {
        GoAbi::Registers => (
            GO_WRITE_PROGRAM,
            GO_READ_PROGRAM,
            GO_READ_RETURN_PROGRAM,
            GO_READ_COPY_PROGRAM,
        ),
        GoAbi::Stack => (
            GO_STACK_WRITE_PROGRAM,
            GO_STACK_READ_PROGRAM,
            GO_STACK_READ_RETURN_PROGRAM,
            GO_STACK_READ_COPY_PROGRAM,
        ),
    };
    let (capture, capture_symbol, points) = match &go.read_capture {
        ReadCapture::Copy(copy) => (
            read_copy,
            "crypto/tls.(*Conn).Read (memmove)",
            std::slice::from_ref(copy),
        ),
        ReadCapture::Returns(returns) => {
            (read_return, "crypto/tls.(*Conn).Read (RET)", &returns[..])
        }
    };
    let groups: [(&'static str, &'static str, Vec<u64>, Vec<u64>); 3] = [
        (
            write,
            "crypto/tls.(*Conn).Write",
            vec![go.write.offset],
            vec![go.write.cookie],
        ),
        (
            read,
            "crypto/tls.(*Conn).Read",
            vec![go.read.offset],
            vec![go.read.cookie],
        ),
        (
            capture,
            capture_symbol,
            points.iter().map(|p| p.offset).collect(),
            points.iter().map(|p| p.cookie).collect(),
        ),
    ];
    // Go's returns are probed at their RET instructions, never with
    // return probes.
    let groups = groups.map(|(program, symbol, offsets, cookies)| Group {
        program,
        symbols: vec![symbol; offsets.len()],
        offsets,
        cookies,
        kind: LinkKind::Entry,
    });
    attach_groups(ebpf, multi, path, &groups)
}

/// Attaches the programs to every function in `hooks` of the file at
/// `path`, and returns the links: dropping one detaches it. All or
/// nothing: on a failure what was attached is detached again, so no call
/// is seen entering without being seen returning.
pub fn attach_file(
    ebpf: &mut Ebpf,
    multi: Option<&MultiPrograms>,
    path: &Path,
    hooks: &[FoundHook],
) -> Result<Vec<TlsLink>, AttachError> {
    if let Some(sessions) = multi {
        let groups = session_groups(
            hooks,
            sessions.has_session(WRITE_PROGRAM),
            sessions.has_session(READ_PROGRAM),
        );
        if groups.iter().any(|g| g.kind == LinkKind::Session) {
            match attach_multi(sessions, path, &groups) {
                Ok(links) => return Ok(links),
                Err(err) if err.is_permission_denied() => return Err(err.into()),
                Err(err) => tracing::debug!("{err}: capturing at the returns instead"),
            }
        }
    }
    attach_groups(ebpf, multi, path, &entry_and_return(hooks))
}

/// `hooks` where the kernel took the write (`writes`) and the read
/// (`reads`) session programs: the writes capturable at their entry to
/// the write program, the reads to the read program, the rest
/// (handshakes, writes kept for their return) to the entry and return
/// programs.
fn session_groups(hooks: &[FoundHook], writes: bool, reads: bool) -> Vec<Group> {
    let (mut write, mut read, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for h in hooks {
        if writes && h.at_entry {
            write.push(*h);
        } else if reads && h.hook.op == OP_READ {
            read.push(*h);
        } else {
            rest.push(*h);
        }
    }
    let mut groups = entry_and_return(&rest);
    if !write.is_empty() {
        groups.push(group(WRITE_PROGRAM, &write, LinkKind::Session));
    }
    if !read.is_empty() {
        groups.push(group(READ_PROGRAM, &read, LinkKind::Session));
    }
    groups
}

/// The entry and the return program on `hooks` (none when empty).
fn entry_and_return(hooks: &[FoundHook]) -> Vec<Group> {
    if hooks.is_empty() {
        return Vec::new();
    }
    vec![
        group(ENTRY_PROGRAM, hooks, LinkKind::Entry),
        group(RETURN_PROGRAM, hooks, LinkKind::Return),
    ]
}

/// `program` on `hooks`, each with its cookie; the write session's carry
/// `tls::AT_ENTRY`.
fn group(program: &'static str, hooks: &[FoundHook], kind: LinkKind) -> Group {
    let at_entry = if program == WRITE_PROGRAM {
        sensor_common::tls::AT_ENTRY
    } else {
        0
    };
    Group {
        program,
        symbols: hooks.iter().map(|h| h.hook.symbol).collect(),
        offsets: hooks.iter().map(|h| h.offset).collect(),
        cookies: hooks.iter().map(|h| h.hook.cookie() | at_entry).collect(),
        kind,
    }
}

/// One program at some points of a file.
struct Group {
    program: &'static str,
    /// The function at each offset, named in errors.
    symbols: Vec<&'static str>,
    offsets: Vec<u64>,
    cookies: Vec<u64>,
    kind: LinkKind,
}

/// Every group through uprobe_multi links; all or nothing.
fn attach_multi(
    multi: &MultiPrograms,
    path: &Path,
    groups: &[Group],
) -> Result<Vec<TlsLink>, MultiError> {
    groups
        .iter()
        .map(|g| {
            multi
                .attach(g.program, path, &g.offsets, &g.cookies, g.kind)
                .map(TlsLink::Multi)
        })
        .collect()
}

/// Every group through uprobe_multi links when `multi` is there and the
/// kernel takes them, else through aya (entries and returns only); all or
/// nothing.
fn attach_groups(
    ebpf: &mut Ebpf,
    multi: Option<&MultiPrograms>,
    path: &Path,
    groups: &[Group],
) -> Result<Vec<TlsLink>, AttachError> {
    if let Some(multi) = multi {
        match attach_multi(multi, path, groups) {
            Ok(links) => return Ok(links),
            // aya's uprobes need more privilege than these links.
            Err(err) if err.is_permission_denied() => return Err(err.into()),
            Err(err) => tracing::debug!("{err}: attaching through perf_event_open instead"),
        }
    }
    let mut links = Vec::new();
    for group in groups {
        let points = group.offsets.iter().zip(&group.cookies).zip(&group.symbols);
        for ((&offset, &cookie), &symbol) in points {
            let point = UProbeAttachPoint {
                location: UProbeAttachLocation::AbsoluteOffset(offset),
                cookie: Some(cookie),
            };
            let attach_error = |source| AttachError::Attach {
                program: group.program,
                symbol,
                source,
            };
            let probe = uprobe(ebpf, group.program)?;
            let id = probe
                .attach(point, path, UProbeScope::AllProcesses)
                .map_err(attach_error)?;
            links.push(TlsLink::Perf(probe.take_link(id).map_err(attach_error)?));
        }
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::tls::hooks;
    use sensor_common::tls::{at_entry, op, AT_ENTRY, OP_WRITE};

    fn found(symbol: &str, offset: u64) -> FoundHook {
        let hook = hooks::by_symbol(symbol.as_bytes()).unwrap();
        FoundHook {
            hook,
            offset,
            emulated: true,
            at_entry: hook.op == OP_WRITE,
        }
    }

    #[test]
    fn only_session_links_carry_the_entry_capture_bit() {
        let hooks = [found("SSL_read", 0x10), found("SSL_write", 0x20)];
        let groups = entry_and_return(&hooks);
        assert_eq!(
            groups
                .iter()
                .map(|g| (g.program, g.kind))
                .collect::<Vec<_>>(),
            [
                (ENTRY_PROGRAM, LinkKind::Entry),
                (RETURN_PROGRAM, LinkKind::Return)
            ]
        );
        for g in &groups {
            assert_eq!(g.offsets, [0x10, 0x20]);
            assert!(g.cookies.iter().all(|&c| !at_entry(c)));
        }
        let session = group(WRITE_PROGRAM, &hooks[1..], LinkKind::Session);
        assert_eq!(session.offsets, [0x20]);
        assert_eq!(session.symbols, ["SSL_write"]);
        assert_eq!(session.cookies, [hooks[1].hook.cookie() | AT_ENTRY]);
        assert_eq!(op(session.cookies[0]), OP_WRITE);
        assert!(entry_and_return(&[]).is_empty());
    }

    #[test]
    fn reads_go_to_the_read_session_and_handshakes_keep_their_return() {
        let hooks = [
            found("SSL_read", 0x10),
            found("SSL_write", 0x20),
            found("SSL_do_handshake", 0x30),
        ];
        let placed = |writes, reads| -> Vec<(&str, LinkKind, Vec<u64>)> {
            session_groups(&hooks, writes, reads)
                .into_iter()
                .map(|g| (g.program, g.kind, g.offsets))
                .collect()
        };
        let entry = |offsets: &[u64]| (ENTRY_PROGRAM, LinkKind::Entry, offsets.to_vec());
        let ret = |offsets: &[u64]| (RETURN_PROGRAM, LinkKind::Return, offsets.to_vec());
        let write = (WRITE_PROGRAM, LinkKind::Session, vec![0x20]);
        let read = (READ_PROGRAM, LinkKind::Session, vec![0x10]);
        assert_eq!(
            placed(true, true),
            [entry(&[0x30]), ret(&[0x30]), write.clone(), read.clone()]
        );
        assert_eq!(
            placed(true, false),
            [entry(&[0x10, 0x30]), ret(&[0x10, 0x30]), write]
        );
        assert_eq!(
            placed(false, true),
            [entry(&[0x20, 0x30]), ret(&[0x20, 0x30]), read]
        );
        assert_eq!(
            placed(false, false),
            [entry(&[0x10, 0x20, 0x30]), ret(&[0x10, 0x20, 0x30])]
        );
        let read_session = session_groups(&hooks, true, true).pop().unwrap();
        assert!(read_session.cookies.iter().all(|&c| !at_entry(c)));
    }
}
