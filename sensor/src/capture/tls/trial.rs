//! For `sensor doctor`: the system's TLS libraries, the hooked functions
//! each defines, and whether the kernel accepts the probes on them (each
//! attached, then detached at once); and the same for the running
//! programs that carry their own TLS (Go's crypto/tls, rustls, or an OpenSSL-style
//! library linked in statically), found as discovery finds them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use aya::Ebpf;

use super::attach::{self, AttachError};
use super::candidates::{self, Candidate};
use super::config::TlsConfig;
use super::go::{self, GoExamined};
use super::multi::MultiPrograms;
use super::proc_maps::FileId;
use super::rustls::{self, RustlsExamined, RustlsProbes};
use super::symbols;

/// Running programs shown one by one; more are summed up.
pub const MAX_PROGRAMS: usize = 24;

/// One library as the trial found it.
pub struct LibraryTrial {
    pub path: PathBuf,
    /// The hooked functions it defines, or why they could not be read.
    pub functions: Result<Vec<&'static str>, String>,
    /// The probes attached and detached, or the kernel's refusal. None:
    /// not tried (the eBPF programs did not load).
    pub attach: Option<Result<(), AttachError>>,
}

/// A running program with TLS of its own.
pub struct ProgramTrial {
    pub path: PathBuf,
    /// A process running it.
    pub pid: u32,
    /// What its TLS is and where the probes go (`Go go1.19.8, register
    /// ABI, ...` or the statically linked functions), or why it cannot be
    /// probed.
    pub found: Result<String, String>,
    /// `[capture.tls] exclude` matches it (then nothing is tried).
    pub excluded: bool,
    /// As for a library. None: not tried.
    pub attach: Option<Result<(), AttachError>>,
}

/// What the TLS trial found.
pub struct TlsTrial {
    pub libraries: Vec<LibraryTrial>,
    pub programs: Vec<ProgramTrial>,
    /// Programs with TLS of their own beyond `MAX_PROGRAMS`, not shown.
    pub programs_not_shown: usize,
    /// Processes whose memory maps this process may not read (they are
    /// not looked at).
    pub processes_unreadable: usize,
}

/// The TLS probes' programs loaded in `ebpf`, and their uprobe_multi
/// copies when `uprobe_multi`.
struct Loaded<'a> {
    ebpf: &'a mut Ebpf,
    multi: Option<MultiPrograms>,
    go: bool,
    rustls: bool,
}

/// Every TLS library in the system directories that defines a hooked
/// function, and every running program with TLS of its own (each file
/// once, whatever its names); with `ebpf`, each one's probes are tried
/// (through uprobe_multi links first when `config.uprobe_multi`). Files
/// that are not ELF (static archives) or define none of the functions are
/// left out.
pub fn run(ebpf: Option<&mut Ebpf>, config: &TlsConfig) -> TlsTrial {
    let mut loaded = ebpf.and_then(|ebpf| load(ebpf, config));
    let libraries = libraries(loaded.as_mut());
    let seen: HashSet<FileId> = candidates::system_libraries()
        .iter()
        .map(|c| c.id)
        .collect();
    let looked = programs(loaded.as_mut(), config, seen);
    TlsTrial {
        libraries,
        programs: looked.programs,
        programs_not_shown: looked.not_shown,
        processes_unreadable: looked.unreadable,
    }
}

fn load<'a>(ebpf: &'a mut Ebpf, config: &TlsConfig) -> Option<Loaded<'a>> {
    if let Err(err) = attach::load(ebpf) {
        tracing::debug!("TLS programs did not load: {err}");
        return None;
    }
    let go = config.go
        && attach::load_go(ebpf)
            .map_err(|err| tracing::debug!("Go TLS programs did not load: {err}"))
            .is_ok();
    let rustls = attach::load_rustls(ebpf)
        .map_err(|err| tracing::debug!("rustls programs did not load: {err}"))
        .is_ok();
    let multi = if config.uprobe_multi {
        attach::load_multi(ebpf, crate::capture::live::EBPF_OBJECT, go, rustls)
            .map(|(programs, _)| programs)
            .map_err(|err| tracing::debug!("no uprobe_multi links: {err}"))
            .ok()
    } else {
        None
    };
    Some(Loaded {
        ebpf,
        multi,
        go,
        rustls,
    })
}

fn libraries(mut loaded: Option<&mut Loaded<'_>>) -> Vec<LibraryTrial> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut files = candidates::system_libraries();
    // The versioned name (libssl.so.3) before the development symlink.
    files.sort_by_key(|c| std::cmp::Reverse(c.path.as_os_str().len()));
    for candidate in files {
        if !seen.insert(candidate.id) {
            continue;
        }
        let path = candidate.open_path;
        let hooks = match symbols::find_hooks(&path) {
            Ok(hooks) if hooks.iter().any(|h| h.hook.moves_data()) => hooks,
            Ok(_) | Err(symbols::SymbolError::Parse { .. }) => continue,
            Err(err) => {
                out.push(LibraryTrial {
                    path,
                    functions: Err(err.to_string()),
                    attach: None,
                });
                continue;
            }
        };
        let functions = hooks.iter().map(|h| h.hook.symbol).collect();
        // Dropping the links detaches the probes.
        let attach = loaded
            .as_deref_mut()
            .map(|l| attach::attach_file(l.ebpf, l.multi.as_ref(), &path, &hooks).map(drop));
        out.push(LibraryTrial {
            path,
            functions: Ok(functions),
            attach,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

struct Programs {
    programs: Vec<ProgramTrial>,
    not_shown: usize,
    unreadable: usize,
}

/// The running programs with TLS of their own, each file once (`seen`:
/// the files already shown), at most `MAX_PROGRAMS` of them tried; how
/// many more there are; how many processes could not be looked at.
fn programs(
    mut loaded: Option<&mut Loaded<'_>>,
    config: &TlsConfig,
    mut seen: HashSet<FileId>,
) -> Programs {
    let proc_root = Path::new("/proc");
    let mut out = Vec::new();
    let mut not_shown = 0;
    let mut unreadable = 0;
    for pid in candidates::pids(proc_root) {
        let files = candidates::process_files(proc_root, pid);
        if files.is_empty() {
            let maps = std::fs::read(proc_root.join(pid.to_string()).join("maps"));
            if maps.is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied) {
                unreadable += 1;
            }
        }
        for candidate in files {
            if !seen.insert(candidate.id) {
                continue;
            }
            let Some(found) = examine(&candidate, config) else {
                continue;
            };
            if out.len() >= MAX_PROGRAMS {
                not_shown += 1;
                continue;
            }
            out.push(try_program(
                loaded.as_deref_mut(),
                config,
                pid,
                candidate,
                found,
            ));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Programs {
        programs: out,
        not_shown,
        unreadable,
    }
}

/// What a running program's own TLS is, as discovery judges it; None for
/// a file without.
enum Examined {
    Static(Vec<symbols::FoundHook>),
    Go(go::GoProbes),
    GoNotCovered(String),
    Rustls(RustlsProbes),
    RustlsNotCovered(String),
}

fn examine(candidate: &Candidate, config: &TlsConfig) -> Option<Examined> {
    match symbols::find_hooks(&candidate.open_path) {
        Ok(hooks) if hooks.iter().any(|h| h.hook.moves_data()) => Some(Examined::Static(hooks)),
        Ok(_) if config.go => match go::examine(&candidate.open_path) {
            Ok(GoExamined::Probes(probes)) => Some(Examined::Go(probes)),
            Ok(GoExamined::Unsupported(why)) => Some(Examined::GoNotCovered(why)),
            Ok(GoExamined::NotGoTls) | Err(_) => examine_rustls(candidate),
        },
        Ok(_) => examine_rustls(candidate),
        _ => None,
    }
}

fn examine_rustls(candidate: &Candidate) -> Option<Examined> {
    match rustls::examine(&candidate.open_path) {
        Ok(RustlsExamined::Probes(probes)) => Some(Examined::Rustls(probes)),
        Ok(RustlsExamined::Unsupported(why)) => Some(Examined::RustlsNotCovered(why)),
        Ok(RustlsExamined::NotRustls) | Err(_) => None,
    }
}

fn try_program(
    loaded: Option<&mut Loaded<'_>>,
    config: &TlsConfig,
    pid: u32,
    candidate: Candidate,
    examined: Examined,
) -> ProgramTrial {
    let path = candidate.path;
    let excluded = config.excludes(&path) || config.excludes(&candidate.open_path);
    let open = candidate.open_path;
    let (found, attach) = match examined {
        Examined::GoNotCovered(why) => (Err(format!("it is {why}")), None),
        Examined::Go(probes) => {
            let found = format!(
                "Go's crypto/tls, {}, {}: Write, Read and {}, found in its {}",
                probes.version,
                probes.abi.describe(),
                probes.read_capture.describe(),
                probes.found_in
            );
            let attach = loaded
                .filter(|l| l.go && !excluded)
                .map(|l| attach::attach_go(l.ebpf, l.multi.as_ref(), &open, &probes).map(drop));
            (Ok(found), attach)
        }
        Examined::RustlsNotCovered(why) => (Err(format!("it is {why}")), None),
        Examined::Rustls(probes) => {
            let found = format!(
                "rustls: Writer::write and Reader::read ({} and {} copies; write_vectored: {}; into_first_chunk with consume: {})",
                probes.writes.len(),
                probes.reads.len(),
                probes.vectored_writes.len(),
                probes.chunks.len().min(probes.consumes.len())
            );
            let attach = loaded
                .filter(|l| l.rustls && !excluded)
                .map(|l| attach::attach_rustls(l.ebpf, l.multi.as_ref(), &open, &probes).map(drop));
            (Ok(found), attach)
        }
        Examined::Static(hooks) => {
            let names: Vec<&str> = hooks.iter().map(|h| h.hook.symbol).collect();
            let found = format!("linked in statically: {}", names.join(", "));
            let attach = loaded
                .filter(|_| !excluded)
                .map(|l| attach::attach_file(l.ebpf, l.multi.as_ref(), &open, &hooks).map(drop));
            (Ok(found), attach)
        }
    };
    ProgramTrial {
        path,
        pid,
        found,
        excluded,
        attach,
    }
}
