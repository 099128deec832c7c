//! GnuTLS's placement on the code of Debian's libgnutls.so.30.34.3
//! (GnuTLS 3.7.9), at its offsets in the file.

use super::tests::{hook, names, Bytes};
use super::*;

/// `gnutls_record_recv`, whole: a kTLS branch calling a stub, then the
/// tail call `jmp _gnutls_recv_int` at +0x46 after `add $8,%rsp`.
const RECV: [u8; 158] = [
    0x48, 0x83, 0xec, 0x08, 0x80, 0xbf, 0xb8, 0x06, 0x00, 0x00, 0x00, 0x48, 0x89, 0xd1, 0x74, 0x40,
    0xf6, 0x87, 0x68, 0x11, 0x00, 0x00, 0x01, 0x74, 0x17, 0x48, 0x89, 0xf2, 0xbe, 0x17, 0x00, 0x00,
    0x00, 0xe8, 0x5a, 0x73, 0x05, 0x00, 0x48, 0x98, 0x48, 0x83, 0xc4, 0x08, 0xc3, 0x0f, 0x1f, 0x00,
    0x44, 0x8b, 0x8f, 0x70, 0x07, 0x00, 0x00, 0x48, 0x89, 0xf2, 0x45, 0x31, 0xc0, 0xbe, 0x17, 0x00,
    0x00, 0x00, 0x48, 0x83, 0xc4, 0x08, 0xe9, 0x25, 0xee, 0xff, 0xff, 0x0f, 0x1f, 0x44, 0x00, 0x00,
    0x8b, 0x87, 0x64, 0x08, 0x00, 0x00, 0x83, 0xf8, 0x03, 0x74, 0xb5, 0x83, 0xf8, 0x06, 0x74, 0xb0,
    0x48, 0x8b, 0x05, 0x89, 0x91, 0x1d, 0x00, 0x83, 0x38, 0x02, 0x7f, 0x09, 0x48, 0xc7, 0xc0, 0x68,
    0xfe, 0xff, 0xff, 0xeb, 0xb3, 0x41, 0xb8, 0x62, 0x09, 0x00, 0x00, 0x48, 0x8d, 0x0d, 0x5e, 0xcc,
    0x12, 0x00, 0x31, 0xc0, 0xbf, 0x03, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x15, 0x94, 0xc6, 0x12, 0x00,
    0x48, 0x8d, 0x35, 0x3b, 0xc5, 0x12, 0x00, 0xe8, 0xc4, 0x86, 0xff, 0xff, 0xeb, 0xce,
];
const RECV_AT: u64 = 0x3fa40;
/// `_gnutls_recv_int`'s start: `push %r15; mov %esi,%r15d; ...`.
const RECV_INT: [u8; 16] = [
    0x41, 0x57, 0x41, 0x89, 0xf7, 0x41, 0x56, 0x4d, 0x89, 0xc6, 0x41, 0x55, 0x49, 0x89, 0xd5, 0x41,
];
const RECV_INT_AT: u64 = 0x3e8b0;
/// The kTLS receive stub `gnutls_record_recv` calls: `mov log_level(%rip),%rax; ...`.
const KTLS_RECV: [u8; 16] = [
    0x48, 0x8b, 0x05, 0x69, 0x1e, 0x18, 0x00, 0x83, 0x38, 0x02, 0x7f, 0x0c, 0xb8, 0x1e, 0xfb, 0xff,
];
const KTLS_RECV_AT: u64 = 0x96dc0;
/// `gnutls_record_send`: `xor %r8d,%r8d; xor %ecx,%ecx; jmp gnutls_record_send2@plt`.
const SEND: [u8; 10] = [0x45, 0x31, 0xc0, 0x31, 0xc9, 0xe9, 0x86, 0x9c, 0xff, 0xff];
const SEND_AT: u64 = 0x3f2d0;
/// `gnutls_record_send2`'s start: `push %r15; push %r14; ...`.
const SEND2: [u8; 8] = [0x41, 0x57, 0x41, 0x56, 0x49, 0x89, 0xce, 0x41];
const SEND2_AT: u64 = 0x3ee70;
/// `gnutls_record_send2@plt`: `jmp *0x1dee62(%rip)` (GOT entry 0x217dc8).
const SEND2_PLT: [u8; 16] = [
    0xff, 0x25, 0x62, 0xee, 0x1d, 0x00, 0x68, 0xf3, 0x01, 0x00, 0x00, 0xe9, 0xb0, 0xe0, 0xff, 0xff,
];
const SEND2_PLT_AT: u64 = 0x38f60;
const SEND2_GOT_ENTRY: u64 = 0x217dc8;
/// `gnutls_handshake`'s start: `push %r15; ...`.
const HANDSHAKE: [u8; 4] = [0x41, 0x57, 0x41, 0x56];
const HANDSHAKE_AT: u64 = 0x4de40;

fn debian_gnutls() -> Bytes {
    Bytes::of_size(0x98000)
        .put(RECV_AT, &RECV)
        .put(RECV_INT_AT, &RECV_INT)
        .put(KTLS_RECV_AT, &KTLS_RECV)
        .put(SEND_AT, &SEND)
        .put(SEND2_AT, &SEND2)
        .put(SEND2_PLT_AT, &SEND2_PLT)
        .put(HANDSHAKE_AT, &HANDSHAKE)
}

fn debian_layout() -> Layout {
    Layout {
        text: vec![Segment {
            file: 0x37000..0x16b589,
            address: 0x37000,
        }],
        slots: vec![(SEND2_GOT_ENTRY, "gnutls_record_send2")],
    }
}

fn gnutls_hooks() -> Vec<FoundHook> {
    vec![
        hook("gnutls_handshake", HANDSHAKE_AT),
        hook("gnutls_record_recv", RECV_AT),
        hook("gnutls_record_send", SEND_AT),
        hook("gnutls_record_send2", SEND2_AT),
    ]
}

const PLACED: [(&str, u64, bool); 3] = [
    ("_gnutls_recv_int", RECV_INT_AT, true),
    ("gnutls_handshake", HANDSHAKE_AT, true),
    ("gnutls_record_send2", SEND2_AT, true),
];

#[test]
fn debian_gnutls_is_probed_at_emulated_instructions_only() {
    let placed = place(&debian_gnutls(), &debian_layout(), gnutls_hooks());
    assert_eq!(names(&placed), PLACED);
    let recv = placed.iter().find(|f| f.hook.symbol == "_gnutls_recv_int");
    let cookie = recv.unwrap().hook.cookie();
    assert!(sensor_common::tls::typed_read(cookie));
    assert_eq!(sensor_common::tls::op(cookie), sensor_common::tls::OP_READ);
    assert_eq!(
        sensor_common::tls::ret(cookie),
        sensor_common::tls::RET_SSIZE
    );
}

#[test]
fn a_send_jumping_straight_to_send2_goes_too() {
    let mut send = SEND;
    let rel = (SEND2_AT as i64 - (SEND_AT as i64 + 10)) as i32;
    send[6..].copy_from_slice(&rel.to_le_bytes());
    let code = debian_gnutls().put(SEND_AT, &send);
    assert_eq!(
        names(&place(&code, &debian_layout(), gnutls_hooks())),
        PLACED
    );
}

/// `hooks` placed on Debian's code with `patch` applied, as `(symbol,
/// offset)` only for GnuTLS's send and recv.
fn send_and_recv(code: Bytes, layout: &Layout) -> Vec<(&'static str, u64, bool)> {
    let mut placed = names(&place(&code, layout, gnutls_hooks()));
    placed.retain(|(s, _, _)| *s != "gnutls_handshake" && *s != "gnutls_record_send2");
    placed
}

#[test]
fn send_stays_probed_unless_it_is_exactly_a_jump_to_send2() {
    let kept = ("gnutls_record_send", SEND_AT, false);
    let recv_int = ("_gnutls_recv_int", RECV_INT_AT, true);
    // The PLT stub's GOT entry is another function's.
    let mut layout = debian_layout();
    layout.slots = vec![(SEND2_GOT_ENTRY, "gnutls_record_recv")];
    assert_eq!(send_and_recv(debian_gnutls(), &layout), [recv_int, kept]);
    // It changes the buffer's register (`xor %esi,%esi` for `xor %ecx,%ecx`).
    let code = debian_gnutls().put(SEND_AT + 3, &[0x31, 0xf6]);
    assert_eq!(send_and_recv(code, &debian_layout()), [recv_int, kept]);
    // It calls rather than jumps: the return would come back to it.
    let code = debian_gnutls().put(SEND_AT + 5, &[0xe8]);
    assert_eq!(send_and_recv(code, &debian_layout()), [recv_int, kept]);
    // The jump leaves the segment.
    let mut layout = debian_layout();
    layout.text[0].file = 0x3f000..0x16b589;
    assert_eq!(
        send_and_recv(debian_gnutls(), &layout),
        [("gnutls_record_recv", RECV_AT, false), kept]
    );
}

#[test]
fn recv_stays_probed_unless_its_tail_call_passes_what_recv_int_needs() {
    let kept = [("gnutls_record_recv", RECV_AT, false)];
    let tail = RECV_AT + 0x30;
    for (at, patch) in [
        // Another record type: `mov $0x16,%esi`.
        (tail + 13, &[0xbe, 0x16, 0x00, 0x00, 0x00][..]),
        // Not the caller's buffer: `mov %rdi,%rdx` for `mov %rsi,%rdx`.
        (tail + 7, &[0x48, 0x89, 0xfa]),
        // The stack frame is still there: `add $8,%rsp` made `nop`s.
        (tail + 18, &[0x90; 4]),
        // A call, not a jump: `call` for `jmp`.
        (tail + 22, &[0xe8]),
        // Not the caller's size: `mov %rsi,%rcx` for `mov %rdx,%rcx`.
        (RECV_AT + 11, &[0x48, 0x89, 0xf1]),
    ] {
        let code = debian_gnutls().put(at, patch);
        let mut placed = send_and_recv(code, &debian_layout());
        placed.retain(|(s, _, _)| *s != "gnutls_record_send");
        assert_eq!(placed, kept, "patch at {at:#x}: {patch:02x?}");
    }
    // `_gnutls_recv_int` begins with an instruction the kernel single-steps.
    let code = debian_gnutls().put(RECV_INT_AT, &[0x48, 0x83, 0xec, 0x08]);
    assert_eq!(send_and_recv(code, &debian_layout()), kept);
}
