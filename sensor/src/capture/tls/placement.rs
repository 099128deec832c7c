//! Where on a hooked function its probe goes. An x86-64 uprobe replaces
//! the probed instruction with a breakpoint; on a hit the kernel either
//! emulates the displaced instruction (relative jumps and calls,
//! conditional jumps, `nop`, `push` of a register: `arch/x86/kernel/
//! uprobes.c`, `branch_setup_xol_ops` and `push_setup_xol_ops`) or runs a
//! copy of it out of line and takes a debug trap after it (single-step),
//! a second exception per call. Measured with nginx and wrk over HTTPS on
//! this VM, that single-step was 72% of nginx's samples.
//!
//! OpenSSL 3's `SSL_read`, `SSL_read_ex`, `SSL_write` and `SSL_write_ex`
//! begin with `sub $N,%rsp` (single-stepped) and call one internal
//! function each (`ssl_read_internal(s, buf, num, &readbytes)`,
//! `ssl_write_internal`, which the SSL BIO calls too), and those begin
//! with `push`. So when `SSL_read_ex` is a call to such a function (its
//! arguments passed on untouched) and the function's first instruction is
//! emulated, the internal function is probed instead, with `SSL_read_ex`'s
//! semantics, and replaces `SSL_read_ex`, and `SSL_read` too when it calls
//! the same function. Where that shape is not found (other builds,
//! BoringSSL, OpenSSL 1.1, another compiler's code), the exported
//! functions stay probed as before.
//!
//! GnuTLS 3.7's `gnutls_record_send` and `gnutls_record_recv` are tail
//! calls (`gnutls`): the first into `gnutls_record_send2`, probed too, so
//! its own probe goes; the second into `_gnutls_recv_int`, which begins
//! with `push` and is probed instead, for application data only.
//!
//! A function that starts with `endbr64` (builds with control-flow
//! protection) is probed at the next instruction when that one is
//! emulated: `endbr64` changes no register and no stack, so the entry and
//! return probes see what they would at the first byte.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt as _;

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, Register};

use super::hooks::{self, Hook};
use super::symbols::FoundHook;

/// Bytes of a function's start decoded to find its first call.
const PROLOGUE_BYTES: usize = 96;
/// Instructions looked at before that call.
const PROLOGUE_INSTRUCTIONS: usize = 24;

/// The exported function whose first call is the internal one, the other
/// exported function that calls it too, and the hook put on it.
const INTERNALS: [(&str, &str, &Hook); 2] = [
    ("SSL_read_ex", "SSL_read", &hooks::OPENSSL_READ_INTERNAL),
    ("SSL_write_ex", "SSL_write", &hooks::OPENSSL_WRITE_INTERNAL),
];

/// Reads the code of one file by file offset.
pub trait CodeReader {
    /// Up to `len` bytes at `offset`; fewer at the end of the file.
    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>>;
}

impl CodeReader for File {
    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let n = self.read_at(&mut buf, offset).ok()?;
        buf.truncate(n);
        Some(buf)
    }
}

/// What `place` knows of a file besides its code.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The file's executable segments: a call is followed only within
    /// one of them, where a target computed from file offsets is the
    /// target's file offset.
    pub text: Vec<Segment>,
    /// The address of each GOT entry that the dynamic linker fills with
    /// a hooked function's address, and that function (what a PLT stub
    /// jumping through the entry reaches).
    pub slots: Vec<(u64, &'static str)>,
}

/// One executable segment: its file range, and the address it is loaded at
/// (relative to the file's load base).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub file: Range<u64>,
    pub address: u64,
}

impl Layout {
    fn same_segment(&self, a: u64, b: u64) -> bool {
        self.text
            .iter()
            .any(|s| s.file.contains(&a) && s.file.contains(&b))
    }

    /// The address of the code at file offset `at`.
    fn address(&self, at: u64) -> Option<u64> {
        let s = self.text.iter().find(|s| s.file.contains(&at))?;
        Some(s.address + (at - s.file.start))
    }
}

/// `found`'s hooks placed on the instructions the kernel emulates where
/// the code allows it; x86-64 code only.
pub fn place(code: &dyn CodeReader, layout: &Layout, found: Vec<FoundHook>) -> Vec<FoundHook> {
    let mut placed = gnutls::place(code, layout, found);
    for (exported, also, internal) in INTERNALS {
        let Some(ex) = placed.iter().find(|f| f.hook.symbol == exported).copied() else {
            continue;
        };
        let Some(target) = code
            .read(ex.offset, PROLOGUE_BYTES)
            .and_then(|bytes| call_passing_arguments(&bytes, ex.offset))
            .filter(|&t| layout.same_segment(ex.offset, t))
        else {
            continue;
        };
        let Some(offset) = code
            .read(target, PROLOGUE_BYTES)
            .and_then(|bytes| emulated_entry(&bytes))
            .map(|skip| target + skip)
        else {
            continue;
        };
        placed.retain(|f| {
            f.hook.symbol != exported
                && !(f.hook.symbol == also
                    && code
                        .read(f.offset, PROLOGUE_BYTES)
                        .and_then(|bytes| first_call(&bytes, f.offset))
                        == Some(target))
        });
        placed.push(FoundHook {
            hook: internal,
            offset,
            emulated: true,
            at_entry: false,
        });
    }
    for f in &mut placed {
        if f.emulated {
            continue;
        }
        if let Some(skip) = code.read(f.offset, 16).and_then(|b| emulated_entry(&b)) {
            f.offset += skip;
            f.emulated = true;
        }
    }
    placed
}

/// Where to probe a function starting with `code` so that the kernel
/// emulates the probed instruction: 0, or past a leading `endbr64`;
/// `None` when neither instruction is emulated.
pub fn emulated_entry(code: &[u8]) -> Option<u64> {
    const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
    if is_emulated(code) {
        Some(0)
    } else if code.starts_with(&ENDBR64) && is_emulated(&code[ENDBR64.len()..]) {
        Some(ENDBR64.len() as u64)
    } else {
        None
    }
}

/// True when x86-64 uprobes emulate the instruction `code` starts with
/// (Linux 4.x and later): `push` of a register (REX only 0x41), `nop`
/// (0x90), `jmp`/`call` relative, conditional jumps. Any prefix makes it
/// false: the kernel refuses 0x66 on branches, and other prefixed forms
/// are not worth the doubt.
pub fn is_emulated(code: &[u8]) -> bool {
    matches!(
        code,
        [0x50..=0x57, ..]
            | [0x41, 0x50..=0x57, ..]
            | [0x90, ..]
            | [0xe8 | 0xe9, _, _, _, _, ..]
            | [0xeb | 0x70..=0x7f, _, ..]
            | [0x0f, 0x80..=0x8f, _, _, _, _, ..]
    )
}

/// The target of the first `call rel32` of code at file offset `at`, when
/// every instruction before it leaves the argument registers and the
/// called function's view of them alone: only stack adjustments, `push`,
/// `endbr64` and `nop`s.
pub fn call_passing_arguments(code: &[u8], at: u64) -> Option<u64> {
    let mut decoder = Decoder::with_ip(64, code, at, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    for _ in 0..PROLOGUE_INSTRUCTIONS {
        if !decoder.can_decode() {
            return None;
        }
        decoder.decode_out(&mut instruction);
        match instruction.code() {
            Code::Call_rel32_64 => return Some(instruction.near_branch64()),
            Code::Sub_rm64_imm8 | Code::Sub_rm64_imm32 | Code::Add_rm64_imm8
                if instruction.op0_register() == Register::RSP => {}
            Code::Push_r64 | Code::Endbr64 | Code::Nopd | Code::Nopq | Code::Nopw => {}
            _ => return None,
        }
    }
    None
}

/// The target of the first `call rel32` of code at file offset `at`,
/// before any return, jump or indirect call (conditional jumps to an
/// error path are passed over).
pub fn first_call(code: &[u8], at: u64) -> Option<u64> {
    let mut decoder = Decoder::with_ip(64, code, at, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    for _ in 0..PROLOGUE_INSTRUCTIONS {
        if !decoder.can_decode() {
            return None;
        }
        decoder.decode_out(&mut instruction);
        if instruction.is_invalid() {
            return None;
        }
        if instruction.code() == Code::Call_rel32_64 {
            return Some(instruction.near_branch64());
        }
        if ends_the_path(instruction.mnemonic()) {
            return None;
        }
    }
    None
}

/// Instructions after which the code that follows is not the path a
/// call takes: returns, jumps, calls other than `call rel32`, traps.
fn ends_the_path(mnemonic: Mnemonic) -> bool {
    matches!(
        mnemonic,
        Mnemonic::Ret
            | Mnemonic::Retf
            | Mnemonic::Jmp
            | Mnemonic::Call
            | Mnemonic::Syscall
            | Mnemonic::Int3
            | Mnemonic::Ud2
            | Mnemonic::Hlt
    )
}

mod gnutls;
#[cfg(test)]
mod gnutls_tests;
#[cfg(test)]
mod tests;
