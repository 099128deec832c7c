//! For `sensor doctor`: the system's TLS libraries, the hooked functions
//! each defines, and whether the kernel accepts the probes on them (each
//! attached, then detached at once).

use std::path::PathBuf;

use aya::Ebpf;

use super::attach::{self, AttachError};
use super::candidates;
use super::symbols;

/// One library as the trial found it.
pub struct LibraryTrial {
    pub path: PathBuf,
    /// The hooked functions it defines, or why they could not be read.
    pub functions: Result<Vec<&'static str>, String>,
    /// The probes attached and detached, or the kernel's refusal. None:
    /// not tried (the eBPF programs did not load).
    pub attach: Option<Result<(), AttachError>>,
}

/// Every TLS library in the system directories that defines a hooked
/// function (each file once, whatever its names); with `ebpf`, each one's
/// probes are tried (through uprobe_multi links first when
/// `uprobe_multi`). Files that are not ELF (static archives) or define
/// none of the functions are left out.
pub fn libraries(mut ebpf: Option<&mut Ebpf>, uprobe_multi: bool) -> Vec<LibraryTrial> {
    let loaded = match ebpf.as_deref_mut().map(attach::load) {
        Some(Ok(())) => true,
        Some(Err(err)) => {
            tracing::debug!("TLS programs did not load: {err}");
            false
        }
        None => false,
    };
    let multi = match ebpf.as_deref() {
        Some(ebpf) if loaded && uprobe_multi => {
            attach::load_multi(ebpf, crate::capture::live::EBPF_OBJECT, false)
                .map(|(programs, _)| programs)
                .map_err(|err| tracing::debug!("no uprobe_multi links: {err}"))
                .ok()
        }
        _ => None,
    };
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
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
        let attach = match ebpf.as_deref_mut() {
            Some(ebpf) if loaded => {
                // Dropping the links detaches the probes.
                Some(attach::attach_file(ebpf, multi.as_ref(), &path, &hooks).map(drop))
            }
            _ => None,
        };
        out.push(LibraryTrial {
            path,
            functions: Ok(functions),
            attach,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
