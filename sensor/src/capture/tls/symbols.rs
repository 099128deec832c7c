//! Finds the hooked functions in an ELF file (its dynamic symbols, and its
//! symbol table when it has one: OpenSSL linked statically) and the file
//! offsets the kernel places uprobes at. Reads only the headers and the
//! string tables, and the symbols only of a table whose strings name a
//! hooked function: most files are libraries with nothing to do with TLS,
//! some with hundreds of thousands of symbols.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use object::read::{ReadCache, ReadRef};
use object::{
    Architecture, Object as _, ObjectKind, ObjectSection as _, ObjectSegment as _,
    ObjectSymbol as _, ObjectSymbolTable as _, RelocationFlags, RelocationTarget, SegmentFlags,
    SymbolKind,
};

use super::hooks::{self, Hook};
use super::placement::{self, Layout, Segment};
use super::section_scan;

/// A hooked function defined in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundHook {
    pub hook: &'static Hook,
    /// Where the probe goes in the file: the function's start, or its
    /// first instruction after an `endbr64` (see `placement`).
    pub offset: u64,
    /// The kernel emulates the probed instruction (no single-step).
    pub emulated: bool,
    /// A write whose plaintext may be captured at its entry, with no
    /// return probe (see `hooks::at_entry`).
    pub at_entry: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SymbolError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an ELF file this sensor reads: {source}")]
    Parse {
        path: PathBuf,
        source: object::Error,
    },
}

/// Hooks found by symbol, and the layout of x86-64 code.
type ExportedHooks = (Vec<FoundHook>, Option<Layout>, bool);

/// `path` opened for reading its ELF structures on demand (a large
/// program is never read whole).
pub(super) fn open_elf(path: &Path) -> Result<ReadCache<File>, SymbolError> {
    let file = File::open(path).map_err(|source| SymbolError::Open {
        path: path.to_owned(),
        source,
    })?;
    Ok(ReadCache::new(file))
}

/// The ELF file behind `cache`, opened from `path`.
pub(super) fn parse_elf<'a>(
    cache: &'a ReadCache<File>,
    path: &Path,
) -> Result<object::File<'a, &'a ReadCache<File>>, SymbolError> {
    object::File::parse(cache).map_err(|source| SymbolError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// The hooked functions `path` defines, each once, each probed where
/// `placement` says.
pub fn find_hooks(path: &Path) -> Result<Vec<FoundHook>, SymbolError> {
    let (found, layout, wraps) = exported_hooks(path)?;
    let mut found = match layout.filter(|_| !found.is_empty()) {
        None => found,
        Some(layout) => {
            let file = File::open(path).map_err(|source| SymbolError::Open {
                path: path.to_owned(),
                source,
            })?;
            let _file = tracing::info_span!("placement", file = %path.display()).entered();
            placement::place(&file, &layout, found)
        }
    };
    let file_hooks: Vec<&'static Hook> = found.iter().map(|f| f.hook).collect();
    for f in &mut found {
        f.at_entry = hooks::at_entry(f.hook, &file_hooks, wraps);
    }
    Ok(found)
}

/// The hooked functions `path` defines, each at its start, its
/// executable segments and GOT entries of hooked functions when it is
/// x86-64 code (the only code `placement` decodes), and whether it imports a hooked function
/// that moves data (it wraps another TLS library).
fn exported_hooks(path: &Path) -> Result<ExportedHooks, SymbolError> {
    let cache = open_elf(path)?;
    let elf = parse_elf(&cache, path)?;
    let mut found: Vec<FoundHook> = Vec::new();
    let mut wraps = false;
    let dynamic = names_a_hook(&elf, path, ".dynstr").then(|| elf.dynamic_symbols());
    let table = names_a_hook(&elf, path, ".strtab").then(|| elf.symbols());
    for symbol in dynamic
        .into_iter()
        .flatten()
        .chain(table.into_iter().flatten())
    {
        let Ok(name) = symbol.name_bytes() else {
            continue;
        };
        let Some(hook) = hooks::by_symbol(unversioned(name)) else {
            continue;
        };
        if symbol.is_undefined() {
            wraps |= hook.moves_data();
            continue;
        }
        if !symbol.is_definition() || symbol.kind() != SymbolKind::Text {
            continue;
        }
        if found.iter().any(|f| f.hook.symbol == hook.symbol) {
            continue;
        }
        if let Some(offset) = file_offset(&elf, &symbol) {
            found.push(FoundHook {
                hook,
                offset,
                emulated: false,
                at_entry: false,
            });
        }
    }
    let layout =
        (elf.architecture() == Architecture::X86_64 && !found.is_empty()).then(|| Layout {
            text: executable_segments(&elf),
            slots: hooked_slots(&elf),
        });
    Ok((found, layout, wraps))
}

fn executable_segments<'data, R: ReadRef<'data>>(elf: &object::File<'data, R>) -> Vec<Segment> {
    elf.segments()
        .filter(|s| matches!(s.flags(), SegmentFlags::Elf { p_flags } if p_flags & object::elf::PF_X != 0))
        .map(|s| {
            let (offset, size) = s.file_range();
            Segment {
                file: offset..offset + size,
                address: s.address(),
            }
        })
        .collect()
}

/// The GOT entries the dynamic linker fills with a hooked function's
/// address (`R_X86_64_JUMP_SLOT`, `R_X86_64_GLOB_DAT`), with its name.
fn hooked_slots<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
) -> Vec<(u64, &'static str)> {
    let (Some(relocations), Some(symbols)) =
        (elf.dynamic_relocations(), elf.dynamic_symbol_table())
    else {
        return Vec::new();
    };
    relocations
        .filter(|(_, r)| {
            matches!(
                r.flags(),
                RelocationFlags::Elf {
                    r_type: object::elf::R_X86_64_JUMP_SLOT | object::elf::R_X86_64_GLOB_DAT
                }
            )
        })
        .filter_map(|(entry, r)| {
            let RelocationTarget::Symbol(index) = r.target() else {
                return None;
            };
            let name = symbols.symbol_by_index(index).ok()?.name_bytes().ok()?;
            Some((entry, hooks::by_symbol(unversioned(name))?.symbol))
        })
        .collect()
}

/// The hooked names as a string table holds them: NUL before, and NUL or
/// a symbol version (`@`) after.
static HOOK_NAMES: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let patterns = hooks::HOOKS
        .iter()
        .flat_map(|h| [format!("\0{}\0", h.symbol), format!("\0{}@", h.symbol)]);
    AhoCorasick::new(patterns).expect("a few literal patterns")
});

/// True when the string table `section` names a hooked function (which
/// may still be an import, not a definition). The table is read from the
/// file a piece at a time: a large program's `.strtab` runs to tens of
/// megabytes, which the sensor would otherwise hold at start-up.
fn names_a_hook<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    path: &Path,
    section: &str,
) -> bool {
    let Some(range) = elf.section_by_name(section).and_then(|s| s.file_range()) else {
        return false;
    };
    section_scan::section_any(path, range, longest_hook_name(), |piece| {
        HOOK_NAMES.is_match(piece)
    })
}

/// The longest hooked name with the NUL that ends it in a string table.
fn longest_hook_name() -> usize {
    hooks::HOOKS
        .iter()
        .map(|h| h.symbol.len() + 1)
        .max()
        .unwrap_or(0)
}

/// Symbol tables of static builds may spell versioned names `name@@VER`.
fn unversioned(name: &[u8]) -> &[u8] {
    name.split(|&b| b == b'@').next().unwrap_or(name)
}

/// A function's offset in the file: uprobes are placed by file offset,
/// symbols give virtual addresses (as aya itself translates them).
pub(super) fn file_offset<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    symbol: &object::Symbol<'data, '_, R>,
) -> Option<u64> {
    if !matches!(elf.kind(), ObjectKind::Dynamic | ObjectKind::Executable) {
        // Relocatable objects are never mapped by a process.
        return None;
    }
    let section = elf.section_by_index(symbol.section_index()?).ok()?;
    let (section_offset, _) = section.file_range()?;
    symbol
        .address()
        .checked_sub(section.address())?
        .checked_add(section_offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_across_two_pieces_is_found() {
        use section_scan::PIECE;
        let stream_names_a_hook = |strings: &[u8]| {
            section_scan::stream_any(strings, longest_hook_name(), |piece| {
                HOOK_NAMES.is_match(piece)
            })
        };
        let mut strings = vec![b'x'; PIECE - 4];
        strings.extend_from_slice(b"\0SSL_write\0");
        assert!(stream_names_a_hook(strings.as_slice()).unwrap());
        let mut strings = vec![b'x'; 3 * PIECE];
        strings.extend_from_slice(b"\0SSL_writev\0");
        assert!(!stream_names_a_hook(strings.as_slice()).unwrap());
    }

    #[test]
    fn versioned_names_are_stripped() {
        assert_eq!(unversioned(b"SSL_read@@OPENSSL_3.0.0"), b"SSL_read");
        assert_eq!(unversioned(b"SSL_read"), b"SSL_read");
    }

    #[test]
    fn string_tables_are_searched_for_whole_hooked_names() {
        for (strings, names_one) in [
            (&b"\0SSL_read\0"[..], true),
            (b"\0SSL_read@@OPENSSL_3.0.0\0", true),
            (b"\0gnutls_record_send2\0", true),
            (b"\0SSL_read_early_data\0", false),
            (b"\0my_SSL_read\0", false),
            (b"\0SSL_readv\0", false),
        ] {
            assert_eq!(
                HOOK_NAMES.is_match(strings),
                names_one,
                "{}",
                String::from_utf8_lossy(strings)
            );
        }
    }

    #[test]
    fn a_file_without_tls_functions_has_no_hooks() {
        // The test binary itself: an ELF file that links no TLS library.
        let exe = std::env::current_exe().unwrap();
        assert_eq!(find_hooks(&exe).unwrap(), Vec::new());
    }

    #[test]
    fn a_non_elf_file_is_an_error_naming_it() {
        let path = std::env::temp_dir().join(format!("sensor-not-elf-{}", std::process::id()));
        std::fs::write(&path, b"#!/bin/sh\necho not an ELF file\n").unwrap();
        let err = find_hooks(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("sensor-not-elf"), "{err}");
    }

    /// Debian's OpenSSL and GnuTLS, when installed: every hook the table
    /// names for them is found at a distinct offset inside the file.
    #[test]
    fn system_tls_libraries_export_the_hooked_functions() {
        for (library, wanted) in [
            (
                "libssl.so.3",
                &["SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"][..],
            ),
            (
                "libgnutls.so.30",
                &["gnutls_record_recv", "gnutls_record_send"][..],
            ),
        ] {
            let Some(path) = super::super::candidates::standard_library_dirs()
                .into_iter()
                .map(|dir| dir.join(library))
                .find(|p| p.exists())
            else {
                continue;
            };
            let (found, _, wraps) = exported_hooks(&path).unwrap();
            assert!(!wraps, "{}", path.display());
            let len = std::fs::metadata(&path).unwrap().len();
            for symbol in wanted {
                let hook = found.iter().find(|f| f.hook.symbol == *symbol);
                assert!(
                    hook.is_some_and(|h| h.offset > 0 && h.offset < len),
                    "{symbol} in {}",
                    path.display()
                );
            }
            let mut offsets: Vec<u64> = found.iter().map(|f| f.offset).collect();
            offsets.sort_unstable();
            offsets.dedup();
            assert_eq!(offsets.len(), found.len());
        }
    }

    #[test]
    fn system_libraries_capture_the_writes_that_call_no_other_hook_at_entry() {
        let find = |library: &str| {
            super::super::candidates::standard_library_dirs()
                .into_iter()
                .map(|dir| dir.join(library))
                .find(|p| p.exists())
        };
        // (library, function, captured at entry) where the library is here.
        for (library, symbol, want) in [
            ("libssl.so.3", "ssl_write_internal", true),
            ("libssl.so.3", "ssl_read_internal", false),
            ("libssl.so.3", "SSL_do_handshake", false),
            ("libgnutls.so.30", "gnutls_record_send2", true),
            ("libgnutls.so.30", "_gnutls_recv_int", false),
            // GnuTLS's OpenSSL layer calls gnutls_record_send.
            ("libgnutls-openssl.so.27", "SSL_write", false),
        ] {
            let Some(path) = find(library) else {
                continue;
            };
            let found = find_hooks(&path).unwrap();
            let Some(hook) = found.iter().find(|f| f.hook.symbol == symbol) else {
                // The internal functions where placement found their shape.
                assert!(
                    symbol.ends_with("_internal") || symbol == "_gnutls_recv_int",
                    "{symbol} in {}",
                    path.display()
                );
                continue;
            };
            assert_eq!(hook.at_entry, want, "{symbol} in {}", path.display());
        }
    }
}
