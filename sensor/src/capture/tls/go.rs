//! Go programs: they link their own TLS (`crypto/tls`), so the library
//! probes never see their HTTPS. A Go program is an ELF executable with a
//! `.go.buildinfo` section, which also names the Go version that built it.
//! The probes go on `crypto/tls.(*Conn).Write` (entry) and
//! `crypto/tls.(*Conn).Read` (entry, and each `RET` instruction found by
//! decoding the function: no uretprobes on Go, whose stacks move), found
//! in the symbol table; the kernel side checks each connection's type
//! against the address of the `*net.TCPConn` interface table, found there
//! too.
//!
//! Covered: x86-64, Go 1.17 and later (the register ABI), executables
//! that are not position-independent, with a symbol table. Not covered,
//! each logged once per file: stripped binaries (`-ldflags=-s`; finding
//! the functions through `.gopclntab` is not done), PIE builds, Go before
//! 1.17, and other architectures.

use std::fs::File;
use std::path::Path;

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic};
use object::read::{ReadCache, ReadRef};
use object::{Architecture, Object as _, ObjectKind, ObjectSection as _, ObjectSymbol as _};

use super::symbols::SymbolError;

const WRITE: &[u8] = b"crypto/tls.(*Conn).Write";
const READ: &[u8] = b"crypto/tls.(*Conn).Read";
/// The interface table of `*net.TCPConn` as a `net.Conn` (Go 1.20 and
/// later name it `go:itab.`, earlier ones `go.itab.`).
const TCP_CONN_TYPES: [&[u8]; 2] = [
    b"go:itab.*net.TCPConn,net.Conn",
    b"go.itab.*net.TCPConn,net.Conn",
];
/// The first Go with the register ABI on x86-64.
const REGISTER_ABI: (u32, u32) = (1, 17);
/// `.go.buildinfo` starts with this magic.
const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// Where the probes of one Go program go (file offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoProbes {
    /// `go1.19.8`.
    pub version: String,
    pub write: u64,
    pub read: u64,
    /// Every `RET` instruction of `(*Conn).Read`.
    pub read_returns: Vec<u64>,
    /// Address of the `*net.TCPConn` interface table (the cookie).
    pub tcp_conn_type: u64,
}

/// What examining a file found.
#[derive(Debug)]
pub enum GoExamined {
    /// Not a Go program, or one that does not use crypto/tls.
    NotGoTls,
    /// A Go program using crypto/tls, and why it cannot be probed.
    Unsupported(String),
    Probes(GoProbes),
}

/// Examines `path`: cheap for files that are not Go programs (the section
/// headers only).
pub fn examine(path: &Path) -> Result<GoExamined, SymbolError> {
    let file = File::open(path).map_err(|source| SymbolError::Open {
        path: path.to_owned(),
        source,
    })?;
    let cache = ReadCache::new(file);
    let elf = object::File::parse(&cache).map_err(|source| SymbolError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let Some(buildinfo) = elf.section_by_name(".go.buildinfo") else {
        return Ok(GoExamined::NotGoTls);
    };
    let version = buildinfo
        .data()
        .ok()
        .and_then(|data| build_version(&elf, data))
        .unwrap_or_default();
    Ok(probes(&elf, version))
}

fn probes<'data, R: ReadRef<'data>>(elf: &object::File<'data, R>, version: String) -> GoExamined {
    let names_tls = elf
        .section_by_name(".strtab")
        .and_then(|s| s.data().ok())
        .is_some_and(|strings| memchr::memmem::find(strings, READ).is_some());
    if !names_tls {
        // No symbol table: a stripped build. Its function names are still
        // in .gopclntab, which tells whether it uses crypto/tls.
        let stripped_tls = elf.section_by_name(".symtab").is_none()
            && elf
                .section_by_name(".gopclntab")
                .and_then(|s| s.data().ok())
                .is_some_and(|table| memchr::memmem::find(table, READ).is_some());
        if stripped_tls {
            return GoExamined::Unsupported(format!(
                "a stripped Go program ({version}): without a symbol table its crypto/tls functions are not found (reading their addresses from .gopclntab is not done yet)"
            ));
        }
        return GoExamined::NotGoTls;
    }
    if elf.architecture() != Architecture::X86_64 {
        return GoExamined::Unsupported(format!(
            "a Go program for {:?}: only x86-64 is covered",
            elf.architecture()
        ));
    }
    match go_version(&version) {
        Some(v) if v >= REGISTER_ABI => {}
        Some(_) => {
            return GoExamined::Unsupported(format!(
            "built by {version}, which passes arguments on the stack: Go 1.17 or later is covered"
        ))
        }
        None => {
            return GoExamined::Unsupported(format!(
                "its Go version cannot be read ({version:?}): Go 1.17 or later is covered"
            ))
        }
    }
    if elf.kind() != ObjectKind::Executable {
        return GoExamined::Unsupported(format!(
            "a position-independent Go program ({version}): only non-PIE builds (Go's default) are covered"
        ));
    }
    let (mut write, mut read, mut tcp_conn_type) = (None, None, None);
    for symbol in elf.symbols() {
        let Ok(name) = symbol.name_bytes() else {
            continue;
        };
        if name == WRITE {
            write = Some(symbol);
        } else if name == READ {
            read = Some(symbol);
        } else if TCP_CONN_TYPES.contains(&name) {
            tcp_conn_type = Some(symbol.address());
        }
    }
    let (Some(write), Some(read), Some(tcp_conn_type)) = (write, read, tcp_conn_type) else {
        return GoExamined::Unsupported(format!(
            "a Go program ({version}) without (*tls.Conn).Write, (*tls.Conn).Read or the *net.TCPConn interface table in its symbol table"
        ));
    };
    // Go's linker records each function's size; should one be missing,
    // the next function's start bounds it.
    let read_size = match read.size() {
        0 => next_symbol_after(elf, read.address()).map_or(0, |next| next - read.address()),
        size => size,
    };
    let located = locate(elf, write.address(), (read.address(), read_size));
    match located {
        Ok((write, read, read_returns)) => GoExamined::Probes(GoProbes {
            version,
            write,
            read,
            read_returns,
            tcp_conn_type,
        }),
        Err(why) => GoExamined::Unsupported(format!("a Go program ({version}): {why}")),
    }
}

/// The lowest symbol address above `at`.
fn next_symbol_after<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    at: u64,
) -> Option<u64> {
    elf.symbols().map(|s| s.address()).filter(|&a| a > at).min()
}

/// The file offsets of Write, Read and each of Read's `RET`s.
fn locate<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    write: u64,
    (read, read_size): (u64, u64),
) -> Result<(u64, u64, Vec<u64>), String> {
    let write_at = file_offset(elf, write)?;
    let read_at = file_offset(elf, read)?;
    let code = code(elf, read, read_size)?;
    let returns = returns(code, read)
        .map_err(|at| format!("(*tls.Conn).Read does not decode at {at:#x}"))?
        .into_iter()
        .map(|ip| file_offset(elf, ip))
        .collect::<Result<Vec<u64>, String>>()?;
    if returns.is_empty() {
        return Err("(*tls.Conn).Read has no RET instruction".to_owned());
    }
    Ok((write_at, read_at, returns))
}

/// `runtime.buildVersion` as `.go.buildinfo` holds it: inline (Go 1.18
/// and later, flag bit 2), or through a pointer to a string header.
fn build_version<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    data: &[u8],
) -> Option<String> {
    if !data.starts_with(BUILDINFO_MAGIC) || data.len() < 32 {
        return None;
    }
    let pointer_size = usize::from(data[14]);
    let flags = data[15];
    if flags & 2 != 0 {
        let (len, used) = uvarint(&data[32..])?;
        let start = 32 + used;
        let bytes = data.get(start..start.checked_add(usize::try_from(len).ok()?)?)?;
        return String::from_utf8(bytes.to_vec()).ok();
    }
    // Go 1.17: two pointers to string headers, the version first.
    if pointer_size != 8 || flags & 1 != 0 {
        return None;
    }
    let header_at = u64::from_le_bytes(data.get(16..24)?.try_into().ok()?);
    let header = read_virtual(elf, header_at, 16)?;
    let text_at = u64::from_le_bytes(header[..8].try_into().ok()?);
    let len = u64::from_le_bytes(header[8..16].try_into().ok()?);
    if len > 64 {
        return None;
    }
    let text = read_virtual(elf, text_at, len)?;
    String::from_utf8(text.to_vec()).ok()
}

/// Go's unsigned varint: the value and the bytes it took.
fn uvarint(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in data.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// `go1.19.8`, `go1.21rc2` -> (1, 19), (1, 21).
fn go_version(version: &str) -> Option<(u32, u32)> {
    let rest = version.strip_prefix("go")?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The bytes at virtual address `at`, from the section holding them.
fn read_virtual<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    at: u64,
    len: u64,
) -> Option<&'data [u8]> {
    let section = elf
        .sections()
        .find(|s| s.address() <= at && at < s.address() + s.size())?;
    let data = section.data().ok()?;
    let start = usize::try_from(at - section.address()).ok()?;
    data.get(start..start.checked_add(usize::try_from(len).ok()?)?)
}

fn code<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    at: u64,
    len: u64,
) -> Result<&'data [u8], String> {
    if len == 0 || len > 1 << 20 {
        return Err(format!(
            "(*tls.Conn).Read has an implausible size ({len} bytes)"
        ));
    }
    read_virtual(elf, at, len)
        .ok_or_else(|| "(*tls.Conn).Read is outside the file's sections".to_owned())
}

/// The addresses of the `RET` instructions of the x86-64 code `code`,
/// which starts at address `at`; Err(address) of an undecodable byte.
fn returns(code: &[u8], at: u64) -> Result<Vec<u64>, u64> {
    let mut decoder = Decoder::with_ip(64, code, at, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    let mut out = Vec::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut instruction);
        if instruction.is_invalid() {
            return Err(instruction.ip());
        }
        if instruction.mnemonic() == Mnemonic::Ret {
            out.push(instruction.ip());
        }
    }
    Ok(out)
}

/// A virtual address's offset in the file (uprobes are placed by offset).
fn file_offset<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    at: u64,
) -> Result<u64, String> {
    elf.sections()
        .find(|s| s.address() <= at && at < s.address() + s.size())
        .and_then(|s| {
            let (offset, _) = s.file_range()?;
            Some(offset + (at - s.address()))
        })
        .ok_or_else(|| format!("address {at:#x} is in no section of the file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions_parse() {
        assert_eq!(go_version("go1.19.8"), Some((1, 19)));
        assert_eq!(go_version("go1.21rc2"), Some((1, 21)));
        assert_eq!(go_version("go1.17"), Some((1, 17)));
        assert_eq!(go_version("devel +abc"), None);
        assert_eq!(go_version(""), None);
    }

    #[test]
    fn varints_decode() {
        assert_eq!(uvarint(&[0x08, 0xff]), Some((8, 1)));
        assert_eq!(uvarint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(uvarint(&[0x80]), None);
    }

    #[test]
    fn returns_are_found_at_instruction_boundaries_only() {
        // mov eax, 0xc3c3c3c3 (C3 bytes inside an immediate); ret;
        // add rsp, 0x18; ret 8.
        let code = [
            0xb8, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0x48, 0x83, 0xc4, 0x18, 0xc2, 0x08, 0x00,
        ];
        assert_eq!(returns(&code, 0x1000), Ok(vec![0x1005, 0x100a]));
        // A truncated instruction is an error, not a guess.
        assert_eq!(returns(&[0x48, 0x83], 0x2000), Err(0x2000));
    }

    /// tests/servers/go/client.go built by the machine's Go (cargo xtask
    /// setup installs Debian's golang-go), with or without its symbols.
    fn built_go_client(stripped: bool) -> std::path::PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = std::env::temp_dir().join(format!("sensor-go-{}-{stripped}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("client");
        let mut go = std::process::Command::new("go");
        go.arg("build").arg("-o").arg(&out);
        if stripped {
            go.arg("-ldflags=-s -w");
        }
        let status = go
            .arg(root.join("tests/servers/go/client.go"))
            .env("GOCACHE", root.join("target/go-cache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GOPROXY", "off")
            .env("GO111MODULE", "off")
            .status()
            .expect("`go` runs (cargo xtask setup installs golang-go)");
        assert!(status.success());
        out
    }

    #[test]
    fn a_go_program_gets_write_read_and_each_ret_of_read() {
        let path = built_go_client(false);
        let GoExamined::Probes(probes) = examine(&path).unwrap() else {
            panic!("{} not found to be a Go TLS program", path.display());
        };
        assert!(probes.version.starts_with("go1."), "{probes:?}");
        let bytes = std::fs::read(&path).unwrap();
        // Each probe point is an instruction of the file: a RET byte
        // (C3, or C2 with an immediate) for the returns.
        assert!(!probes.read_returns.is_empty());
        for &at in &probes.read_returns {
            assert!(matches!(bytes[at as usize], 0xc3 | 0xc2), "{at:#x}");
        }
        assert!(probes.write < bytes.len() as u64 && probes.read < bytes.len() as u64);
        assert_ne!(probes.tcp_conn_type, 0);
        let stripped = built_go_client(true);
        match examine(&stripped).unwrap() {
            GoExamined::Unsupported(why) => assert!(why.contains("stripped"), "{why}"),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
        let _ = std::fs::remove_dir_all(stripped.parent().unwrap());
    }

    #[test]
    fn a_file_that_is_not_a_go_program_is_not_one() {
        let exe = std::env::current_exe().unwrap();
        assert!(matches!(examine(&exe).unwrap(), GoExamined::NotGoTls));
    }
}
