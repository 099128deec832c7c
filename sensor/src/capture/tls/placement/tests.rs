use super::*;
use crate::capture::tls::symbols::{self, FoundHook};

/// A file of synthetic code: bytes placed at offsets.
pub(super) struct Bytes(Vec<u8>);

impl Bytes {
    fn new() -> Self {
        Self::of_size(0x1000)
    }

    pub(super) fn of_size(size: usize) -> Self {
        Self(vec![0xcc; size])
    }

    pub(super) fn put(mut self, at: u64, code: &[u8]) -> Self {
        let at = at as usize;
        self.0[at..at + code.len()].copy_from_slice(code);
        self
    }
}

impl CodeReader for Bytes {
    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(offset).ok()?.min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Some(self.0[start..end].to_vec())
    }
}

/// `call target` at `at`.
fn call(at: u64, target: u64) -> Vec<u8> {
    let rel = (target as i64 - (at as i64 + 5)) as i32;
    let mut code = vec![0xe8];
    code.extend_from_slice(&rel.to_le_bytes());
    code
}

const SUB_RSP_8: [u8; 4] = [0x48, 0x83, 0xec, 0x08];
const SUB_RSP_18: [u8; 4] = [0x48, 0x83, 0xec, 0x18];
const PUSH_R13: [u8; 2] = [0x41, 0x55];
const PUSH_RBX: [u8; 1] = [0x53];
const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// `SUB_RSP_8; call target` at `at`: OpenSSL 3's SSL_read_ex.
fn ex_calling(at: u64, target: u64) -> Vec<u8> {
    let mut code = SUB_RSP_8.to_vec();
    code.extend(call(at + 4, target));
    code
}

/// OpenSSL 3's SSL_read at `at`: stack frame, argument conversion (rcx
/// and rdx written), an error branch, then `call target`.
fn plain_calling(at: u64, target: u64) -> Vec<u8> {
    let mut code = SUB_RSP_18.to_vec();
    code.extend([0x85, 0xd2, 0x78, 0x2f]); // test %edx,%edx; js +0x2f
    code.extend([0x48, 0x89, 0xe1, 0x48, 0x63, 0xd2]); // mov %rsp,%rcx; movslq %edx,%rdx
    let at_call = at + code.len() as u64;
    code.extend(call(at_call, target));
    code
}

pub(super) fn hook(symbol: &str, offset: u64) -> FoundHook {
    FoundHook {
        hook: hooks::by_symbol(symbol.as_bytes()).unwrap(),
        offset,
        emulated: false,
        at_entry: false,
    }
}

pub(super) fn names(placed: &[FoundHook]) -> Vec<(&'static str, u64, bool)> {
    let mut out: Vec<_> = placed
        .iter()
        .map(|f| (f.hook.symbol, f.offset, f.emulated))
        .collect();
    out.sort();
    out
}

/// The executable segments of the synthetic file.
fn text(ranges: &[Range<u64>]) -> Layout {
    Layout {
        text: ranges
            .iter()
            .map(|r| Segment {
                file: r.clone(),
                address: r.start,
            })
            .collect(),
        slots: Vec::new(),
    }
}

fn openssl_text() -> Layout {
    text(&[0x100..0x800, 0x900..0xa00])
}

fn openssl_like(internal: &[u8]) -> (Bytes, Vec<FoundHook>) {
    let code = Bytes::new()
        .put(0x100, &ex_calling(0x100, 0x400))
        .put(0x140, &plain_calling(0x140, 0x400))
        .put(0x400, internal)
        .put(0x600, &PUSH_RBX);
    let found = vec![
        hook("SSL_read_ex", 0x100),
        hook("SSL_read", 0x140),
        hook("SSL_do_handshake", 0x600),
    ];
    (code, found)
}

#[test]
fn the_internal_function_replaces_both_exported_ones_when_its_entry_is_emulated() {
    let (code, found) = openssl_like(&PUSH_R13);
    assert_eq!(
        names(&place(&code, &openssl_text(), found)),
        [
            ("SSL_do_handshake", 0x600, true),
            ("ssl_read_internal", 0x400, true)
        ]
    );
}

#[test]
fn an_internal_function_after_endbr64_is_probed_past_it() {
    let (code, found) = openssl_like(&[&ENDBR64[..], &PUSH_R13].concat());
    assert_eq!(
        names(&place(&code, &openssl_text(), found)),
        [
            ("SSL_do_handshake", 0x600, true),
            ("ssl_read_internal", 0x404, true)
        ]
    );
}

#[test]
fn the_exported_functions_stay_where_the_shape_is_not_found() {
    let unchanged = [
        ("SSL_do_handshake", 0x600, true),
        ("SSL_read", 0x140, false),
        ("SSL_read_ex", 0x100, false),
    ];
    // The internal function's entry is single-stepped too.
    let (code, found) = openssl_like(&SUB_RSP_18);
    assert_eq!(names(&place(&code, &openssl_text(), found)), unchanged);
    // SSL_read_ex changes an argument before the call (OpenSSL 1.1's
    // SSL_read_ex is not a plain call either).
    let (code, found) = openssl_like(&PUSH_R13);
    let mut bytes = SUB_RSP_8.to_vec();
    bytes.extend([0x48, 0x63, 0xd2]); // movslq %edx,%rdx
    bytes.extend(call(0x107, 0x400));
    let code = code.put(0x100, &bytes);
    assert_eq!(names(&place(&code, &openssl_text(), found)), unchanged);
    // The callee is outside the executable sections.
    let (code, found) = openssl_like(&PUSH_R13);
    assert_eq!(
        names(&place(&code, &text(&[0x100..0x200, 0x900..0xa00]), found)),
        unchanged
    );
    // SSL_read_ex jumps before any call.
    let (code, found) = openssl_like(&PUSH_R13);
    let code = code.put(0x100, &[0xeb, 0x10]);
    assert_eq!(
        names(&place(&code, &openssl_text(), found)),
        [
            ("SSL_do_handshake", 0x600, true),
            ("SSL_read", 0x140, false),
            ("SSL_read_ex", 0x100, true),
        ]
    );
}

#[test]
fn an_exported_function_calling_something_else_keeps_its_probe() {
    let (code, found) = openssl_like(&PUSH_R13);
    let code = code
        .put(0x140, &plain_calling(0x140, 0x500))
        .put(0x500, &PUSH_R13);
    assert_eq!(
        names(&place(&code, &openssl_text(), found)),
        [
            ("SSL_do_handshake", 0x600, true),
            ("SSL_read", 0x140, false),
            ("ssl_read_internal", 0x400, true),
        ]
    );
}

#[test]
fn emulated_instructions_are_the_kernels() {
    for (code, emulated) in [
        (&PUSH_R13[..], true),
        (&PUSH_RBX, true),
        (&[0x55], true),                    // push %rbp
        (&[0x49, 0x55], false),             // REX other than 0x41
        (&[0x90], true),                    // nop
        (&[0x66, 0x90], false),             // prefixed nop
        (&[0xe8, 0, 0, 0, 0], true),        // call rel32
        (&[0xe9, 0, 0, 0, 0], true),        // jmp rel32
        (&[0xeb, 0], true),                 // jmp rel8
        (&[0x74, 0], true),                 // je rel8
        (&[0x0f, 0x86, 0, 0, 0, 0], true),  // jbe rel32
        (&[0x66, 0xe8, 0, 0], false),       // call with 0x66
        (&SUB_RSP_18, false),               // sub $0x18,%rsp
        (&[0x45, 0x31, 0xc0], false),       // xor %r8d,%r8d
        (&[0x49, 0x3b, 0x66, 0x10], false), // Go: cmp 0x10(%r14),%rsp
        (&[0xc3], false),                   // ret
        (&ENDBR64, false),
        (&[0xe8, 0, 0], false), // truncated
        (&[], false),
    ] {
        assert_eq!(is_emulated(code), emulated, "{code:02x?}");
    }
    assert_eq!(emulated_entry(&[&ENDBR64[..], &PUSH_RBX].concat()), Some(4));
    assert_eq!(emulated_entry(&[&ENDBR64[..], &SUB_RSP_8].concat()), None);
    assert_eq!(emulated_entry(&PUSH_RBX), Some(0));
}

#[test]
fn calls_are_followed_only_when_the_arguments_pass_untouched() {
    assert_eq!(
        call_passing_arguments(&ex_calling(0x354c0, 0x35290), 0x354c0),
        Some(0x35290)
    );
    let plain = plain_calling(0x35430, 0x35290);
    assert_eq!(call_passing_arguments(&plain, 0x35430), None);
    assert_eq!(first_call(&plain, 0x35430), Some(0x35290));
    // A return before the call.
    assert_eq!(
        first_call(
            &[&SUB_RSP_8[..], &[0xc3], &call(0x105, 0x200)].concat(),
            0x100
        ),
        None
    );
    assert_eq!(call_passing_arguments(&[0xcc; 8], 0), None);
}

/// Debian's OpenSSL 3 and GnuTLS, when installed: OpenSSL's read and
/// write are probed at their internal functions, at emulated
/// instructions that the exported functions call; GnuTLS's send goes
/// (its calls are `gnutls_record_send2`'s) and its recv is probed at
/// `_gnutls_recv_int`: no probe of either library is single-stepped.
#[test]
fn system_libraries_get_emulated_probes_where_their_code_allows() {
    let library = |name: &str| {
        crate::capture::tls::candidates::standard_library_dirs()
            .into_iter()
            .map(|dir| dir.join(name))
            .find(|p| p.exists())
    };
    let all_emulated = |placed: &[FoundHook], file: &File| {
        for f in placed {
            assert!(f.emulated, "{f:?}");
            let first = file.read(f.offset, 16).unwrap();
            assert!(is_emulated(&first), "{f:?}: {first:02x?}");
        }
    };
    if let Some(path) = library("libssl.so.3") {
        let placed = symbols::find_hooks(&path).unwrap();
        let found: Vec<&str> = placed.iter().map(|f| f.hook.symbol).collect();
        for exported in ["SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex"] {
            assert!(!found.contains(&exported), "{found:?}");
        }
        for internal in ["ssl_read_internal", "ssl_write_internal"] {
            assert!(found.contains(&internal), "{found:?}");
        }
        all_emulated(&placed, &File::open(&path).unwrap());
    }
    if let Some(path) = library("libgnutls.so.30") {
        let placed = symbols::find_hooks(&path).unwrap();
        let mut found: Vec<&str> = placed.iter().map(|f| f.hook.symbol).collect();
        found.sort_unstable();
        assert_eq!(
            found,
            [
                "_gnutls_recv_int",
                "gnutls_handshake",
                "gnutls_record_send2"
            ]
        );
        all_emulated(&placed, &File::open(&path).unwrap());
    }
}
