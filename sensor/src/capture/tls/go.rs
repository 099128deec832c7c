//! Go programs: they link their own TLS (`crypto/tls`), so the library
//! probes never see their HTTPS. A Go program is an ELF executable with a
//! `.go.buildinfo` section, which also names the Go version that built it.
//! The probes go on `crypto/tls.(*Conn).Write` (entry) and
//! `crypto/tls.(*Conn).Read` (entry, and each `RET` instruction found by
//! decoding the function: no uretprobes on Go, whose stacks move); an
//! entry probe goes on the jump of the function's stack check
//! (`go_stack_check`), not on its first byte. The functions are found
//! in the symbol table or, in a stripped build (`-ldflags=-s`), in Go's
//! own function table (`go_pclntab`); the kernel side checks each
//! connection's type against the `*net.TCPConn` interface table, found in
//! the symbol table or through `.itablink` (`go_itab`).
//!
//! Each probe carries, as its cookie, the distance from the probed
//! instruction to that interface table: the kernel side adds it to the
//! instruction pointer, so the check holds wherever the program is loaded
//! (position-independent builds included).
//!
//! The struct offsets from a `*tls.Conn` to its fd are checked against the
//! program's DWARF when it has any (`go_layout`).
//!
//! Covered: x86-64, executables and PIE builds, with or without a symbol
//! table; Go 1.17 and later (the register ABI) and, through their own
//! programs, Go 1.13–1.16 (the stack ABI; 1.13 is the first to name its
//! version in `.go.buildinfo`), where the running goroutine is in
//! thread-local storage: such a program is covered when Go's `g` is its
//! only thread-local variable (8 bytes below the thread pointer), as in
//! every build Go links itself. Not covered, each logged once per file:
//! older Go, other thread-local layouts, and other architectures.

use std::ops::Range;
use std::path::Path;

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind};
use object::read::ReadRef;
use object::{
    Architecture, Object as _, ObjectKind, ObjectSection as _, ObjectSymbol as _, SectionFlags,
};

use super::go_itab;
use super::go_layout::{self, Layout};
use super::go_pclntab::FuncTable;
use super::go_stack_check;
use super::symbols::{self, SymbolError};

const WRITE: &[u8] = b"crypto/tls.(*Conn).Write";
const READ: &[u8] = b"crypto/tls.(*Conn).Read";
/// What `copy` compiles to: `(*Conn).Read` calls it once, to copy the
/// plaintext out to its caller.
const MEMMOVE: &[u8] = b"runtime.memmove";
/// The interface table of `*net.TCPConn` as a `net.Conn` (Go 1.20 and
/// later name it `go:itab.`, earlier ones `go.itab.`).
const TCP_CONN_TYPES: [&[u8]; 2] = [
    b"go:itab.*net.TCPConn,net.Conn",
    b"go.itab.*net.TCPConn,net.Conn",
];
/// Go's function table; PIE builds put it among the relocated data.
const PCLNTAB: [&str; 2] = [".gopclntab", ".data.rel.ro.gopclntab"];
/// The first Go with the register ABI on x86-64.
const REGISTER_ABI: (u32, u32) = (1, 17);
/// The first Go whose `.go.buildinfo` names its version.
const OLDEST: (u32, u32) = (1, 13);
/// ELF's flag of a thread-local section.
const SHF_TLS: u64 = 0x400;
/// `.go.buildinfo` starts with this magic.
const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";

/// Where one probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbePoint {
    /// The instruction's offset in the file (uprobes are placed by it).
    pub offset: u64,
    /// The `*net.TCPConn` interface table's address minus the
    /// instruction's (wrapping).
    pub cookie: u64,
}

/// How a Go program passes arguments and results, which decides the
/// programs its probes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoAbi {
    /// Go 1.17 and later: in registers, the goroutine in R14.
    Registers,
    /// Before: on the stack, the goroutine in thread-local storage.
    Stack,
}

impl GoAbi {
    pub fn describe(self) -> &'static str {
        match self {
            GoAbi::Registers => "register ABI",
            GoAbi::Stack => "stack ABI",
        }
    }
}

/// Where the probes of one Go program go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoProbes {
    /// `go1.19.8`.
    pub version: String,
    pub abi: GoAbi,
    /// Where the functions were found: "symbol table" or ".gopclntab".
    pub found_in: &'static str,
    /// Whether the struct offsets the probes follow were checked.
    pub layout: Layout,
    pub write: ProbePoint,
    pub read: ProbePoint,
    pub read_capture: ReadCapture,
}

/// Where `(*Conn).Read`'s plaintext is captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadCapture {
    /// Its one call of `runtime.memmove`, which copies the plaintext out
    /// to the caller (emulated by the kernel).
    Copy(ProbePoint),
    /// Every `RET` instruction (each single-stepped), where Read does not
    /// have that one call.
    Returns(Vec<ProbePoint>),
}

impl ReadCapture {
    /// "its copy to the caller", "its 7 returns".
    pub fn describe(&self) -> String {
        match self {
            ReadCapture::Copy(_) => "its copy to the caller".to_owned(),
            ReadCapture::Returns(returns) => format!("its {} returns", returns.len()),
        }
    }
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

/// The virtual addresses the probes need.
struct Functions {
    write: u64,
    read: Range<u64>,
    /// `runtime.memmove`, when the program has it under that name.
    memmove: Option<u64>,
    tcp_conn_type: u64,
}

/// Examines `path`: cheap for files that are not Go programs (the section
/// headers only).
pub fn examine(path: &Path) -> Result<GoExamined, SymbolError> {
    let cache = symbols::open_elf(path)?;
    let elf = symbols::parse_elf(&cache, path)?;
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
    let symbols_name_tls = elf
        .section_by_name(".strtab")
        .and_then(|s| s.data().ok())
        .is_some_and(|strings| memchr::memmem::find(strings, READ).is_some());
    // Without a symbol table (a stripped build) the function names are
    // still in .gopclntab, which tells whether it uses crypto/tls.
    let pclntab = PCLNTAB
        .into_iter()
        .find_map(|name| elf.section_by_name(name))
        .and_then(|s| s.data().ok())
        .filter(|table| memchr::memmem::find(table, READ).is_some());
    if !symbols_name_tls && pclntab.is_none() {
        return GoExamined::NotGoTls;
    }
    if elf.architecture() != Architecture::X86_64 {
        return GoExamined::Unsupported(format!(
            "a Go program for {:?}: only x86-64 is covered",
            elf.architecture()
        ));
    }
    let abi = match go_version(&version) {
        Some(v) if v >= REGISTER_ABI => GoAbi::Registers,
        Some(v) if v >= OLDEST => match goroutine_in_tls(elf) {
            Ok(()) => GoAbi::Stack,
            Err(why) => {
                return GoExamined::Unsupported(format!(
                    "built by {version}, which keeps the goroutine in thread-local storage: {why}"
                ))
            }
        },
        Some(_) => {
            return GoExamined::Unsupported(format!(
                "built by {version}: Go 1.13 or later is covered"
            ))
        }
        None => {
            return GoExamined::Unsupported(format!(
                "its Go version cannot be read ({version:?}): Go 1.13 or later is covered"
            ))
        }
    };
    if !matches!(elf.kind(), ObjectKind::Executable | ObjectKind::Dynamic) {
        return GoExamined::Unsupported(format!(
            "a Go object file ({version}) that no process runs"
        ));
    }
    let (found_in, functions) = match pclntab {
        _ if symbols_name_tls => ("symbol table", from_symbols(elf)),
        Some(table) => (".gopclntab", from_pclntab(elf, table)),
        None => unreachable!("one of the two names crypto/tls"),
    };
    let layout = match go_layout::check(elf) {
        Ok(layout) => layout,
        Err(why) => return GoExamined::Unsupported(format!("a Go program ({version}): {why}")),
    };
    match functions.and_then(|functions| locate(elf, &functions, abi)) {
        Ok((write, read, read_capture)) => GoExamined::Probes(GoProbes {
            version,
            abi,
            found_in,
            layout,
            write,
            read,
            read_capture,
        }),
        Err(why) => GoExamined::Unsupported(format!(
            "a Go program ({version}, functions read from its {found_in}): {why}"
        )),
    }
}

/// Whether Go's `g` is the program's only thread-local variable, so that
/// it is 8 bytes below the thread pointer: the program's thread-local
/// sections hold 8 bytes in all (`runtime.tlsg`). A program linked with
/// C code that has thread-local variables of its own places `g` elsewhere.
fn goroutine_in_tls<'data, R: ReadRef<'data>>(elf: &object::File<'data, R>) -> Result<(), String> {
    let size: u64 = elf
        .sections()
        .filter(|s| matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & SHF_TLS != 0))
        .map(|s| s.size())
        .sum();
    match size {
        8 => Ok(()),
        0 => Err("it has no thread-local section".to_owned()),
        size => Err(format!(
            "its thread-local sections hold {size} bytes, not only Go's 8"
        )),
    }
}

/// The functions and the interface table from the ELF symbol table.
fn from_symbols<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
) -> Result<Functions, String> {
    let (mut write, mut read, mut memmove, mut tcp_conn_type) = (None, None, None, None);
    for symbol in elf.symbols() {
        let Ok(name) = symbol.name_bytes() else {
            continue;
        };
        if name == WRITE {
            write = Some(symbol);
        } else if name == READ {
            read = Some(symbol);
        } else if name == MEMMOVE {
            memmove = Some(symbol.address());
        } else if TCP_CONN_TYPES.contains(&name) {
            tcp_conn_type = Some(symbol.address());
        }
    }
    let (Some(write), Some(read), Some(tcp_conn_type)) = (write, read, tcp_conn_type) else {
        return Err(
            "(*tls.Conn).Write, (*tls.Conn).Read or the *net.TCPConn interface table is not in its symbol table".to_owned(),
        );
    };
    // Go's linker records each function's size; should one be missing,
    // the next function's start bounds it.
    let read_size = match read.size() {
        0 => next_symbol_after(elf, read.address()).map_or(0, |next| next - read.address()),
        size => size,
    };
    Ok(Functions {
        write: write.address(),
        read: read.address()..read.address() + read_size,
        memmove,
        tcp_conn_type,
    })
}

/// The functions from Go's function table, the interface table through
/// `.itablink`.
fn from_pclntab<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    table: &[u8],
) -> Result<Functions, String> {
    let table = FuncTable::parse(table).map_err(|err| err.to_string())?;
    let found = table
        .find(&[WRITE, READ, MEMMOVE])
        .map_err(|err| err.to_string())?;
    let (Some(write), Some(read)) = (&found[0], &found[1]) else {
        return Err("(*tls.Conn).Write or (*tls.Conn).Read is not in its .gopclntab".to_owned());
    };
    Ok(Functions {
        write: write.start,
        read: read.clone(),
        memmove: found[2].as_ref().map(|memmove| memmove.start),
        tcp_conn_type: go_itab::tcp_conn_itab(elf, &table)?,
    })
}

/// The lowest symbol address above `at`.
fn next_symbol_after<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    at: u64,
) -> Option<u64> {
    elf.symbols().map(|s| s.address()).filter(|&a| a > at).min()
}

/// The probe points of Write and Read (their stack checks' jumps, see
/// `go_stack_check`) and where Read's plaintext is captured.
fn locate<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    functions: &Functions,
    abi: GoAbi,
) -> Result<(ProbePoint, ProbePoint, ReadCapture), String> {
    let point = |at: u64| -> Result<ProbePoint, String> {
        Ok(ProbePoint {
            offset: file_offset(elf, at)?,
            cookie: functions.tcp_conn_type.wrapping_sub(at),
        })
    };
    let code_at = |at: u64, len: u64| read_virtual_up_to(elf, at, len);
    let entry = |name: &str, start: u64| -> Result<u64, String> {
        let prologue = code_at(start, go_stack_check::PROLOGUE_BYTES)
            .ok_or_else(|| format!("{name} is outside the file's sections"))?;
        go_stack_check::jump_of(abi, start, prologue, code_at)
            .map_err(|why| format!("{name} is not probed: {why}"))
    };
    let write = entry("(*tls.Conn).Write", functions.write)?;
    let read_entry = entry("(*tls.Conn).Read", functions.read.start)?;
    let read = &functions.read;
    let code = code(elf, read.start, read.end - read.start)?;
    let exits = exits(code, read.start, functions.memmove)
        .map_err(|at| format!("(*tls.Conn).Read does not decode at {at:#x}"))?;
    let capture = match exits.copies[..] {
        [copy] => ReadCapture::Copy(point(copy)?),
        _ if exits.returns.is_empty() => {
            return Err("(*tls.Conn).Read has no RET instruction".to_owned())
        }
        _ => ReadCapture::Returns(
            exits
                .returns
                .into_iter()
                .map(point)
                .collect::<Result<Vec<ProbePoint>, String>>()?,
        ),
    };
    Ok((point(write)?, point(read_entry)?, capture))
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

/// The `len` bytes at virtual address `at`, from the section holding them.
pub(super) fn read_virtual<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    at: u64,
    len: u64,
) -> Option<&'data [u8]> {
    read_virtual_up_to(elf, at, len).filter(|bytes| bytes.len() as u64 == len)
}

/// Up to `len` bytes at virtual address `at`, fewer where its section
/// ends.
fn read_virtual_up_to<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    at: u64,
    len: u64,
) -> Option<&'data [u8]> {
    let section = elf
        .sections()
        .find(|s| s.address() <= at && at < s.address() + s.size())?;
    let data = section.data().ok()?;
    let start = usize::try_from(at - section.address()).ok()?;
    let len = usize::try_from(len.min(section.address() + section.size() - at)).ok()?;
    data.get(start..start.checked_add(len)?)
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

/// Where a function's plaintext can be taken on its way out.
#[derive(Debug, Default, PartialEq, Eq)]
struct Exits {
    /// The addresses of its `RET` instructions.
    returns: Vec<u64>,
    /// The addresses of its calls of `runtime.memmove`.
    copies: Vec<u64>,
}

/// The exits of the x86-64 code `code`, which starts at address `at`;
/// `memmove` is `runtime.memmove`'s address. Err(address) of an
/// undecodable byte.
fn exits(code: &[u8], at: u64, memmove: Option<u64>) -> Result<Exits, u64> {
    let mut decoder = Decoder::with_ip(64, code, at, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    let mut out = Exits::default();
    while decoder.can_decode() {
        decoder.decode_out(&mut instruction);
        if instruction.is_invalid() {
            return Err(instruction.ip());
        }
        match instruction.mnemonic() {
            Mnemonic::Ret => out.returns.push(instruction.ip()),
            Mnemonic::Call
                if instruction.op0_kind() == OpKind::NearBranch64
                    && Some(instruction.near_branch_target()) == memmove =>
            {
                out.copies.push(instruction.ip())
            }
            _ => {}
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
        let found = exits(&code, 0x1000, None).unwrap();
        assert_eq!(found.returns, vec![0x1005, 0x100a]);
        // A truncated instruction is an error, not a guess.
        assert_eq!(exits(&[0x48, 0x83], 0x2000, None), Err(0x2000));
    }

    #[test]
    fn copies_are_the_calls_of_memmove_only() {
        // call 0x2000 (rel32 from 0x1005); call 0x3000 (from 0x100a);
        // call *%rax; mov $0x2000,%eax; ret.
        let mut code = vec![0xe8];
        code.extend((0x2000i32 - 0x1005).to_le_bytes());
        code.push(0xe8);
        code.extend((0x3000i32 - 0x100a).to_le_bytes());
        code.extend([0xff, 0xd0, 0xb8, 0x00, 0x20, 0x00, 0x00, 0xc3]);
        let found = exits(&code, 0x1000, Some(0x2000)).unwrap();
        assert_eq!(found.copies, vec![0x1000]);
        assert_eq!(found.returns, vec![0x1011]);
        assert_eq!(
            exits(&code, 0x1000, Some(0x3000)).unwrap().copies,
            vec![0x1005]
        );
        // Without memmove's address no call is a copy.
        assert!(exits(&code, 0x1000, None).unwrap().copies.is_empty());
    }

    /// Go 1.15 (cargo xtask setup installs Debian 11's package).
    const OLD_GO: &str = "/usr/lib/go-1.15/bin/go";

    /// The machine's Go (cargo xtask setup installs Debian's golang-go),
    /// then Go 1.15, with the ABI each program's probes use.
    const TOOLCHAINS: [(&str, GoAbi); 2] = [("go", GoAbi::Registers), (OLD_GO, GoAbi::Stack)];

    /// tests/servers/go/client.go built by `go` into `dir` with `flags`.
    fn built_go_client(go: &str, dir: &Path, name: &str, flags: &[&str]) -> std::path::PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let out = dir.join(name);
        let cache = if go == OLD_GO {
            "target/go-1.15-cache"
        } else {
            "target/go-cache"
        };
        let status = std::process::Command::new(go)
            .arg("build")
            .arg("-o")
            .arg(&out)
            .args(flags)
            .arg(root.join("tests/servers/go/client.go"))
            .env("GOCACHE", root.join(cache))
            .env("GOPATH", dir.join("gopath"))
            .env("GOPROXY", "off")
            .env("GO111MODULE", "off")
            .status()
            .unwrap_or_else(|err| panic!("{go} runs (cargo xtask setup installs it): {err}"));
        assert!(status.success());
        out
    }

    fn probes_of(path: &Path) -> GoProbes {
        match examine(path).unwrap() {
            GoExamined::Probes(probes) => probes,
            other => panic!("{}: {other:?}", path.display()),
        }
    }

    /// Each probe point is an instruction of the file: a `jbe` for the
    /// entries, a relative call for Read's copy (as Go 1.15 and 1.19
    /// compile it).
    fn assert_points_in(path: &Path, probes: &GoProbes) {
        let bytes = std::fs::read(path).unwrap();
        assert!(probes.version.starts_with("go1."), "{probes:?}");
        let ReadCapture::Copy(copy) = probes.read_capture else {
            panic!("{probes:?}");
        };
        assert_eq!(bytes[copy.offset as usize], 0xe8, "{copy:?}");
        // The entries are the stack checks' jumps: `jbe` rel32 or rel8.
        for entry in [probes.write, probes.read] {
            let at = entry.offset as usize;
            assert!(
                matches!(bytes[at..at + 2], [0x0f, 0x86] | [0x76, _]),
                "{entry:?}"
            );
        }
        // Each cookie is the distance to the same interface table.
        assert_ne!(probes.write.cookie, probes.read.cookie);
    }

    #[test]
    fn go_programs_get_write_read_and_each_ret_of_read_stripped_or_not_pie_or_not() {
        let dir = std::env::temp_dir().join(format!("sensor-go-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let builds = [
            (&[][..], &["-ldflags=-s -w"][..]),
            (
                &["-buildmode=pie"][..],
                &["-buildmode=pie", "-ldflags=-s -w"][..],
            ),
        ];
        for ((go, abi), (plain, stripped)) in TOOLCHAINS
            .into_iter()
            .flat_map(|toolchain| builds.map(|build| (toolchain, build)))
        {
            let with_symbols = built_go_client(go, &dir, "client", plain);
            let without = built_go_client(go, &dir, "client-stripped", stripped);
            let expected = probes_of(&with_symbols);
            assert_eq!(expected.abi, abi, "{go}");
            assert_eq!(expected.found_in, "symbol table");
            assert_points_in(&with_symbols, &expected);
            // Stripping drops sections after the code and data only: the
            // same probes, found through .gopclntab and .itablink.
            let found = probes_of(&without);
            assert_eq!(found.found_in, ".gopclntab");
            // Go's DWARF confirms the struct offsets; `-w` drops it.
            assert_eq!(expected.layout, Layout::Checked);
            assert_eq!(found.layout, Layout::Assumed);
            assert_eq!(
                GoProbes {
                    found_in: expected.found_in,
                    layout: expected.layout,
                    ..found
                },
                expected,
                "{go} {plain:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The whole function table of a program built here agrees with its
    /// symbol table, function by function.
    #[test]
    fn the_function_table_agrees_with_the_symbol_table() {
        for (go, _) in TOOLCHAINS {
            function_table_agrees_with_symbol_table(go);
        }
    }

    fn function_table_agrees_with_symbol_table(go: &str) {
        let dir = std::env::temp_dir().join(format!("sensor-pclntab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = built_go_client(go, &dir, "client", &[]);
        let data = std::fs::read(&path).unwrap();
        let elf = object::File::parse(&*data).unwrap();
        let symbols: std::collections::HashSet<(Vec<u8>, u64)> = elf
            .symbols()
            .filter_map(|s| Some((s.name_bytes().ok()?.to_vec(), s.address())))
            .collect();
        let table =
            FuncTable::parse(elf.section_by_name(".gopclntab").unwrap().data().unwrap()).unwrap();
        assert!(table.len() > 1000, "{}", table.len());
        let mut previous_end = 0;
        for i in 0..table.len() {
            let function = table.function(i).unwrap();
            // The symbol table spells the runtime's `·` as `.` and
            // assembly functions as `name.abi0`; the runtime shortens
            // array types to `[...]`.
            let name = String::from_utf8_lossy(function.name).replace('·', ".");
            let named = |name: Vec<u8>| symbols.contains(&(name, function.entry));
            assert!(
                named(name.clone().into_bytes())
                    || named(format!("{name}.abi0").into_bytes())
                    || name.contains("[...]"),
                "{name} at {:#x}",
                function.entry
            );
            assert!(
                function.entry >= previous_end && function.end > function.entry,
                "{name}"
            );
            previous_end = function.end;
        }
        let itab = elf
            .symbols()
            .find(|s| s.name_bytes().is_ok_and(|n| TCP_CONN_TYPES.contains(&n)))
            .unwrap()
            .address();
        assert_eq!(go_itab::tcp_conn_itab(&elf, &table), Ok(itab));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_is_not_a_go_program_is_not_one() {
        let exe = std::env::current_exe().unwrap();
        assert!(matches!(examine(&exe).unwrap(), GoExamined::NotGoTls));
    }
}
