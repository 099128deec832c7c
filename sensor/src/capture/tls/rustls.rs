//! rustls, the Rust TLS library, is linked into each program that uses it
//! (Rust services on tokio-rustls, hyper-rustls, reqwest with rustls,
//! linkerd2-proxy): its plaintext goes in through
//! `<rustls::conn::Writer as std::io::Write>::write` and comes out through
//! `<rustls::conn::Reader as std::io::Read>::read`, and through the
//! writer's `write_vectored` (tokio-rustls under hyper); tokio-rustls 0.26
//! reads through `Reader::into_first_chunk` then `<Reader as
//! BufRead>::consume` instead of `read` (`rustls::conn::connection::…`
//! since rustls 0.23). All are found by name in the program's symbol
//! table, demangled (Rust's legacy and v0 manglings), every copy of each.
//! A program stripped of its symbol table cannot be probed: it is
//! recognised by rustls's source paths in its read-only data (panic
//! locations) and reported as not covered. The kernel side is
//! `sensor-ebpf/src/tls/rustls.rs`.

use std::path::Path;

use object::{Architecture, Object as _, ObjectSection as _, ObjectSymbol as _, SymbolKind};

use super::section_scan;
use super::symbols::{self, SymbolError};

/// What a file is to the rustls probes.
#[derive(Debug)]
pub enum RustlsExamined {
    /// rustls is not in it.
    NotRustls,
    /// rustls is in it and cannot be probed, and why.
    Unsupported(String),
    Probes(RustlsProbes),
}

/// Where the probes go: file offsets of every copy of the two functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustlsProbes {
    pub writes: Vec<u64>,
    /// `Writer::write_vectored` (none when the program never calls it: the
    /// linker leaves it out).
    pub vectored_writes: Vec<u64>,
    pub reads: Vec<u64>,
    /// `Reader::into_first_chunk` and `<Reader as BufRead>::consume`,
    /// which tokio-rustls 0.26 reads through instead of `Reader::read`.
    pub chunks: Vec<u64>,
    pub consumes: Vec<u64>,
}

/// The plaintext functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Write,
    WriteVectored,
    Read,
    FirstChunk,
    Consume,
}

/// The plaintext functions, as their demangled names (without the hash)
/// end, after `<rustls::` and the module path.
const WRITE_SUFFIX: &str = "::Writer as std::io::Write>::write";
const WRITE_VECTORED_SUFFIX: &str = "::Writer as std::io::Write>::write_vectored";
const READ_SUFFIX: &str = "::Reader as std::io::Read>::read";
const CONSUME_SUFFIX: &str = "::Reader as std::io::BufRead>::consume";
/// An inherent method: its demangled name starts `rustls::`.
const FIRST_CHUNK_SUFFIX: &str = "::Reader::into_first_chunk";

/// What the string tables of a program linking rustls hold: its crate
/// name in the mangled symbols (legacy `rustls..conn`, v0 `6rustls`).
const SYMBOL_MARK: &[u8] = b"rustls";
/// What a stripped program linking rustls still holds: the crate's source
/// paths (`.../rustls-0.23.5/src/...`) in its panic locations.
const SOURCE_MARK: &[u8] = b"/rustls-0.";

/// Which of the functions a symbol is, if any.
fn function_of(mangled: &str) -> Option<Function> {
    if !mangled.contains("rustls") {
        return None;
    }
    let demangled = format!("{:#}", rustc_demangle::try_demangle(mangled).ok()?);
    if demangled.starts_with("rustls::") && demangled.ends_with(FIRST_CHUNK_SUFFIX) {
        return Some(Function::FirstChunk);
    }
    if !demangled.starts_with("<rustls::") {
        return None;
    }
    if demangled.ends_with(WRITE_SUFFIX) {
        Some(Function::Write)
    } else if demangled.ends_with(WRITE_VECTORED_SUFFIX) {
        Some(Function::WriteVectored)
    } else if demangled.ends_with(READ_SUFFIX) {
        Some(Function::Read)
    } else if demangled.ends_with(CONSUME_SUFFIX) {
        Some(Function::Consume)
    } else {
        None
    }
}

/// Finds rustls's plaintext functions in the program at `path`.
pub fn examine(path: &Path) -> Result<RustlsExamined, SymbolError> {
    let cache = symbols::open_elf(path)?;
    let elf = symbols::parse_elf(&cache, path)?;
    let strtab = elf.section_by_name(".strtab").and_then(|s| s.file_range());
    let Some((offset, size)) = strtab else {
        return Ok(if stripped_with_rustls(&elf, path) {
            RustlsExamined::Unsupported(
                "a program linking rustls without a symbol table (stripped): its plaintext functions cannot be found"
                    .to_owned(),
            )
        } else {
            RustlsExamined::NotRustls
        });
    };
    if !section_contains(path, offset, size, SYMBOL_MARK) {
        return Ok(RustlsExamined::NotRustls);
    }
    let mut probes = RustlsProbes {
        writes: Vec::new(),
        vectored_writes: Vec::new(),
        reads: Vec::new(),
        chunks: Vec::new(),
        consumes: Vec::new(),
    };
    for symbol in elf.symbols() {
        if !symbol.is_definition() || symbol.kind() != SymbolKind::Text {
            continue;
        }
        let Some(function) = symbol.name().ok().and_then(function_of) else {
            continue;
        };
        let Some(offset) = symbols::file_offset(&elf, &symbol) else {
            continue;
        };
        let list = match function {
            Function::Write => &mut probes.writes,
            Function::WriteVectored => &mut probes.vectored_writes,
            Function::Read => &mut probes.reads,
            Function::FirstChunk => &mut probes.chunks,
            Function::Consume => &mut probes.consumes,
        };
        if !list.contains(&offset) {
            list.push(offset);
        }
    }
    let chunked = !probes.chunks.is_empty() && !probes.consumes.is_empty();
    if probes.writes.is_empty() && probes.reads.is_empty() && !chunked {
        return Ok(RustlsExamined::NotRustls);
    }
    if elf.architecture() != Architecture::X86_64 {
        return Ok(RustlsExamined::Unsupported(
            "a program linking rustls built for another architecture than x86-64".to_owned(),
        ));
    }
    if probes.writes.is_empty() || (probes.reads.is_empty() && !chunked) {
        // One of the two was inlined into its callers (link-time
        // optimisation): half a conversation would mislead.
        return Ok(RustlsExamined::Unsupported(format!(
            "a program linking rustls whose {} was inlined into its callers (link-time optimisation)",
            if probes.writes.is_empty() {
                "Writer::write"
            } else {
                "Reader::read"
            }
        )));
    }
    Ok(RustlsExamined::Probes(probes))
}

/// True when a program without a symbol table (not a shared library) has
/// rustls's source paths in its read-only data.
fn stripped_with_rustls<'data, R: object::ReadRef<'data>>(
    elf: &object::File<'data, R>,
    path: &Path,
) -> bool {
    let library = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains(".so"));
    if library {
        return false;
    }
    elf.section_by_name(".rodata")
        .and_then(|s| s.file_range())
        .is_some_and(|(offset, size)| section_contains(path, offset, size, SOURCE_MARK))
}

/// True when the `size` bytes at `offset` of the file contain `needle`,
/// read a piece at a time (a large program is never read whole).
fn section_contains(path: &Path, offset: u64, size: u64, needle: &[u8]) -> bool {
    section_scan::section_any(path, (offset, size), needle.len(), |piece| {
        contains(piece, needle)
    })
}

fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plaintext_functions_are_found_in_each_mangling_and_module_path() {
        use Function::*;
        let cases: [(&str, Option<Function>); 10] = [
            // tokio-rustls 0.26 reads through these two.
            (
                "_ZN6rustls4conn10connection6Reader16into_first_chunk17h15f927f24848a5d8E",
                Some(FirstChunk),
            ),
            (
                "_ZN69_$LT$rustls..conn..connection..Reader$u20$as$u20$std..io..BufRead$GT$7consume17h0123456789abcdefE",
                Some(Consume),
            ),
            // rustls 0.23, legacy mangling (rustc's default).
            (
                "_ZN67_$LT$rustls..conn..connection..Writer$u20$as$u20$std..io..Write$GT$5write17h5207486757e8f94fE",
                Some(Write),
            ),
            (
                "_ZN66_$LT$rustls..conn..connection..Reader$u20$as$u20$std..io..Read$GT$4read17h9b24dfe9be2505ccE",
                Some(Read),
            ),
            // rustls 0.21 and 0.22: `rustls::conn::Writer`.
            (
                "_ZN55_$LT$rustls..conn..Writer$u20$as$u20$std..io..Write$GT$5write17h0123456789abcdefE",
                Some(Write),
            ),
            // The same function, v0 mangling (`-C symbol-mangling-version=v0`).
            (
                "_RNvXNtNtCsabc_6rustls4conn10connectionNtNtNtCsabc_6rustls4conn10connection6WriterNtNtCsdef_3std2io5Write5write",
                Some(Write),
            ),
            (
                "_ZN67_$LT$rustls..conn..connection..Writer$u20$as$u20$std..io..Write$GT$14write_vectored17h0123456789abcdefE",
                Some(WriteVectored),
            ),
            // Its flush, and a Writer of another crate.
            (
                "_ZN67_$LT$rustls..conn..connection..Writer$u20$as$u20$std..io..Write$GT$5flush17hb175a3768423f0f1E",
                None,
            ),
            (
                "_ZN60_$LT$other..conn..Writer$u20$as$u20$std..io..Write$GT$5write17h0123456789abcdefE",
                None,
            ),
            ("SSL_write", None),
        ];
        for (mangled, want) in cases {
            assert_eq!(function_of(mangled), want, "{mangled}");
        }
    }

    #[test]
    fn a_mark_across_two_pieces_is_found() {
        use section_scan::PIECE;
        let stream_contains = |bytes: &[u8], needle: &[u8]| {
            section_scan::stream_any(bytes, needle.len(), |piece| contains(piece, needle))
        };
        let mut bytes = vec![b'x'; PIECE - 3];
        bytes.extend_from_slice(b"/rustls-0.23.5/src/conn.rs");
        assert!(stream_contains(bytes.as_slice(), SOURCE_MARK).unwrap());
        assert!(!stream_contains(vec![b'x'; 2 * PIECE].as_slice(), SOURCE_MARK).unwrap());
    }

    #[test]
    fn a_program_without_rustls_is_not_rustls() {
        let own = std::env::current_exe().unwrap();
        // The unit test binary links rustls (the sinks' TLS) with its
        // symbols: both functions are found, unless inlined.
        match examine(&own).unwrap() {
            RustlsExamined::Probes(p) => assert!(!p.writes.is_empty() && !p.reads.is_empty()),
            RustlsExamined::Unsupported(why) => assert!(why.contains("inlined"), "{why}"),
            RustlsExamined::NotRustls => {}
        }
        assert!(matches!(
            examine(Path::new("/bin/sh")).unwrap(),
            RustlsExamined::NotRustls
        ));
    }
}
