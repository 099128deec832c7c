//! The interface table (itab) of `*net.TCPConn` as a `net.Conn` in a Go
//! program without a symbol table: the kernel side compares a
//! `*tls.Conn`'s connection type word against its address.
//!
//! Every itab a program uses is listed in its `.itablink` section
//! (`.data.rel.ro.itablink` in PIE builds; Go's linker writes the
//! addresses into the file too, not only as relocations). An itab is the
//! interface type, the concrete type, a hash, then one code pointer per
//! interface method, sorted by name; the linker points the methods
//! nothing calls at `runtime.unreachableMethod` (zero before Go 1.17). The one wanted is the itab of an 8-method
//! interface whose pointers are `*net.TCPConn`'s Close, LocalAddr, Read,
//! RemoteAddr, SetDeadline, SetReadDeadline, SetWriteDeadline and Write
//! (`net.Conn`'s methods), with Read and Write present (crypto/tls calls
//! them). Anything else, or more than one such itab, finds nothing.

use object::read::ReadRef;
use object::{Object as _, ObjectSection as _};

use super::go::read_virtual;
use super::go_pclntab::{FuncTable, PclntabError};

/// `net.Conn`'s methods as `*net.TCPConn` implements them, in the itab's
/// (name) order.
const METHODS: [&[u8]; 8] = [
    b"net.(*TCPConn).Close",
    b"net.(*TCPConn).LocalAddr",
    b"net.(*TCPConn).Read",
    b"net.(*TCPConn).RemoteAddr",
    b"net.(*TCPConn).SetDeadline",
    b"net.(*TCPConn).SetReadDeadline",
    b"net.(*TCPConn).SetWriteDeadline",
    b"net.(*TCPConn).Write",
];
const READ: usize = 2;
const WRITE: usize = 7;
/// What the itab holds for a method nothing calls (Go 1.17 and later).
const UNREACHABLE: &[u8] = b"runtime.unreachableMethod";
/// Offset of the code pointers in an itab.
const ITAB_FUNCTIONS: u64 = 24;
/// Offset of the method count in an interface type: after the 48-byte
/// type header, the package path, and the method slice's pointer (the
/// same from Go 1.16 to today).
const INTERFACE_METHOD_COUNT: u64 = 64;

/// The address of the `*net.TCPConn`/`net.Conn` itab, or why none.
pub fn tcp_conn_itab<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    functions: &FuncTable<'_>,
) -> Result<u64, String> {
    let mut wanted = METHODS.to_vec();
    wanted.push(UNREACHABLE);
    let found = functions
        .find(&wanted)
        .map_err(|err: PclntabError| err.to_string())?;
    let addresses: Vec<u64> = found
        .iter()
        .map(|f| f.as_ref().map_or(0, |r| r.start))
        .collect();
    let (methods, unreachable) = addresses.split_at(METHODS.len());
    if methods[READ] == 0 || methods[WRITE] == 0 {
        return Err("it has no (*net.TCPConn).Read or Write".to_owned());
    }
    let links = [".itablink", ".data.rel.ro.itablink"]
        .into_iter()
        .find_map(|name| elf.section_by_name(name))
        .and_then(|s| s.data().ok())
        .ok_or("it has no .itablink section")?;
    let mut matches = links
        .chunks_exact(8)
        .map(|link| u64::from_le_bytes(link.try_into().expect("8 bytes")))
        .filter(|&itab| is_tcp_conn_itab(elf, itab, methods, unreachable[0]));
    match (matches.next(), matches.next()) {
        (Some(itab), None) => Ok(itab),
        (None, _) => Err("no *net.TCPConn interface table as a net.Conn is listed".to_owned()),
        (Some(_), Some(_)) => {
            Err("more than one interface table looks like *net.TCPConn's net.Conn".to_owned())
        }
    }
}

fn is_tcp_conn_itab<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
    itab: u64,
    methods: &[u64],
    unreachable: u64,
) -> bool {
    let word = |at: u64| {
        read_virtual(elf, at, 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let Some(interface) = word(itab) else {
        return false;
    };
    if word(interface + INTERFACE_METHOD_COUNT) != Some(METHODS.len() as u64) {
        return false;
    }
    methods.iter().enumerate().all(|(i, &expected)| {
        let at = word(itab + ITAB_FUNCTIONS + 8 * i as u64);
        let pruned = at == Some(0) || (unreachable != 0 && at == Some(unreachable));
        at == Some(expected) || (pruned && i != READ && i != WRITE)
    })
}
