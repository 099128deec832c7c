//! GnuTLS 3.7 (Debian's build): its two data functions that begin with an
//! instruction the kernel single-steps are tail calls.
//!
//! `gnutls_record_send` is `xor %r8d,%r8d; xor %ecx,%ecx; jmp
//! gnutls_record_send2@plt`: `gnutls_record_send2(session, data, size, 0,
//! 0)`, which is probed too and begins with `push`. Its calls are then
//! captured by `gnutls_record_send2`'s probe, with the same buffer and the
//! same result, and its own probe is dropped. Only when it is exactly
//! that: argument registers past the third set to constants, then a jump
//! to `gnutls_record_send2`, directly or through a PLT stub whose GOT
//! entry the dynamic linker fills with `gnutls_record_send2`.
//!
//! `gnutls_record_recv(session, data, size)` begins `sub $8,%rsp` and,
//! unless kernel TLS is on for the session, ends in a tail call
//! `_gnutls_recv_int(session, GNUTLS_APPLICATION_DATA, data, size, NULL,
//! timeout)` with its stack frame gone, so the callee returns straight to
//! `gnutls_record_recv`'s caller with its result. `_gnutls_recv_int`
//! begins with `push` and is probed in its place (`hooks::
//! GNUTLS_RECV_INTERNAL`); the handshake and alerts call it too, for
//! other record types, which the kernel side passes over. The tail call
//! is found by following `gnutls_record_recv`'s paths with the values of
//! its argument registers and of the stack pointer: the jump out of the
//! function where the session, the record type 23, the buffer and the
//! size are in the callee's first four argument registers and the stack
//! pointer is back at its entry value (on the return address, where a
//! return probe needs it).
//!
//! Not covered by the new placement: a GnuTLS built with kernel TLS and a
//! session with it on reads through another function (Debian's 3.7 has
//! only a stub for it).

use std::collections::HashSet;

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

use super::{emulated_entry, CodeReader, Layout};
use crate::capture::tls::hooks;
use crate::capture::tls::symbols::FoundHook;

/// Bytes of `gnutls_record_recv` followed (it is 158 bytes long in 3.7.9).
const RECV_BYTES: usize = 256;
/// Instructions decoded along all its paths together.
const RECV_INSTRUCTIONS: usize = 256;

/// `found` with GnuTLS's send and recv placed where the kernel emulates
/// the probed instruction, where their shape is the one above; unchanged
/// otherwise (and logged).
pub fn place(code: &dyn CodeReader, layout: &Layout, found: Vec<FoundHook>) -> Vec<FoundHook> {
    let mut placed = found;
    let at = |placed: &[FoundHook], symbol: &str| {
        placed
            .iter()
            .find(|f| f.hook.symbol == symbol)
            .map(|f| f.offset)
    };
    if let (Some(send), Some(send2)) = (
        at(&placed, "gnutls_record_send"),
        at(&placed, "gnutls_record_send2"),
    ) {
        if tail_call_to_send2(code, layout, send, send2) {
            placed.retain(|f| f.hook.symbol != "gnutls_record_send");
        } else {
            tracing::info!(
                "gnutls_record_send is not a jump to gnutls_record_send2 in this build: both stay probed"
            );
        }
    }
    if let Some(recv) = at(&placed, "gnutls_record_recv") {
        match recv_int(code, layout, recv) {
            Ok(offset) => {
                placed.retain(|f| f.hook.symbol != "gnutls_record_recv");
                placed.push(FoundHook {
                    hook: &hooks::GNUTLS_RECV_INTERNAL,
                    offset,
                    emulated: true,
                    at_entry: false,
                });
            }
            Err(why) => tracing::info!("gnutls_record_recv stays probed at its start: {why}"),
        }
    }
    placed
}

/// True when `gnutls_record_send` at `send` only sets the fourth and
/// fifth argument registers and jumps to `gnutls_record_send2` (at
/// `send2`), directly or through its PLT stub.
fn tail_call_to_send2(code: &dyn CodeReader, layout: &Layout, send: u64, send2: u64) -> bool {
    let Some(bytes) = code.read(send, 32) else {
        return false;
    };
    let mut decoder = Decoder::with_ip(64, &bytes, send, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    for _ in 0..4 {
        if !decoder.can_decode() {
            return false;
        }
        decoder.decode_out(&mut instruction);
        match instruction.code() {
            Code::Endbr64 => {}
            Code::Xor_r32_rm32 | Code::Xor_rm32_r32
                if instruction.op1_kind() == OpKind::Register
                    && instruction.op0_register() == instruction.op1_register()
                    && matches!(gpr(instruction.op0_register()), Some((RCX | R8, _))) => {}
            Code::Jmp_rel32_64 | Code::Jmp_rel8_64 => {
                let target = instruction.near_branch64();
                return layout.same_segment(send, target)
                    && (target == send2
                        || plt_stub_of(code, layout, target, "gnutls_record_send2"));
            }
            _ => return false,
        }
    }
    false
}

/// True when the code at file offset `at` is a PLT stub that jumps
/// through the GOT entry filled with the function `symbol`: an optional
/// `endbr64`, then `jmp *entry(%rip)` (`bnd jmp` in IBT builds).
fn plt_stub_of(code: &dyn CodeReader, layout: &Layout, at: u64, symbol: &str) -> bool {
    let (Some(bytes), Some(address)) = (code.read(at, 16), layout.address(at)) else {
        return false;
    };
    let mut decoder = Decoder::with_ip(64, &bytes, address, DecoderOptions::NONE);
    let mut instruction = decoder.decode();
    if instruction.code() == Code::Endbr64 {
        instruction = decoder.decode();
    }
    instruction.code() == Code::Jmp_rm64
        && instruction.is_ip_rel_memory_operand()
        && layout
            .slots
            .iter()
            .any(|&(entry, s)| entry == instruction.ip_rel_memory_address() && s == symbol)
}

/// What a tracked register holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Value {
    /// The value the register (by number) had at `gnutls_record_recv`'s
    /// entry.
    Entry(u32),
    Constant(u64),
    Unknown,
}

/// General-purpose register numbers, as in the instruction encoding.
const RCX: u32 = 1;
const RDX: u32 = 2;
const RSP: u32 = 4;
const RSI: u32 = 6;
const RDI: u32 = 7;
const R8: u32 = 8;

/// A general-purpose register's number and width in bytes; `None` for
/// any other register.
fn gpr(register: Register) -> Option<(u32, u32)> {
    let r = register as u32;
    let from = |first: Register, count: u32| {
        let first = first as u32;
        (first..first + count).contains(&r).then(|| r - first)
    };
    if let Some(i) = from(Register::AL, 20) {
        // AL, CL, DL, BL, AH, CH, DH, BH, SPL, BPL, SIL, DIL, R8L..R15L.
        return Some((if i < 4 { i } else { i - 4 }, 1));
    }
    [(Register::AX, 2), (Register::EAX, 4), (Register::RAX, 8)]
        .into_iter()
        .find_map(|(first, width)| from(first, 16).map(|number| (number, width)))
}

/// The argument registers the callee needs, and the stack pointer
/// relative to its entry value (`None`: not known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    /// rdi, rsi, rdx, rcx.
    args: [Value; 4],
    rsp: Option<i64>,
}

const ARGS: [u32; 4] = [RDI, RSI, RDX, RCX];

impl State {
    fn at_entry() -> Self {
        Self {
            args: ARGS.map(Value::Entry),
            rsp: Some(0),
        }
    }

    fn get(&self, register: Register) -> Value {
        match gpr(register).and_then(|(n, _)| ARGS.iter().position(|&r| r == n)) {
            Some(i) => self.args[i],
            None => Value::Unknown,
        }
    }

    /// Only what is written to a general-purpose register is followed:
    /// the others hold no argument.
    fn set(&mut self, register: Register, value: Value) {
        let Some((number, _)) = gpr(register) else {
            return;
        };
        if number == RSP {
            self.rsp = None;
        } else if let Some(i) = ARGS.iter().position(|&r| r == number) {
            self.args[i] = value;
        }
    }

    /// The state at `_gnutls_recv_int(session, APPLICATION_DATA, data,
    /// size)` reached by a jump from `gnutls_record_recv(session, data,
    /// size)`'s entry.
    fn is_recv_int_tail_call(&self) -> bool {
        self.rsp == Some(0)
            && self.args
                == [
                    Value::Entry(RDI),
                    Value::Constant(sensor_common::tls::APPLICATION_DATA.into()),
                    Value::Entry(RSI),
                    Value::Entry(RDX),
                ]
    }
}

/// Where `_gnutls_recv_int` is probed: the one function that
/// `gnutls_record_recv` at `recv` tail-calls with its arguments and the
/// application data record type, when its first instruction is emulated.
fn recv_int(code: &dyn CodeReader, layout: &Layout, recv: u64) -> Result<u64, &'static str> {
    let bytes = code
        .read(recv, RECV_BYTES)
        .ok_or("its code is unreadable")?;
    let mut targets: Vec<u64> = tail_calls(&bytes, recv)
        .into_iter()
        .filter(|(_, state)| state.is_recv_int_tail_call())
        .map(|(target, _)| target)
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let [target] = targets[..] else {
        return Err(
            "no single tail call of _gnutls_recv_int(session, application data, data, size) found",
        );
    };
    if !layout.same_segment(recv, target) {
        return Err("the function it jumps to is outside its code segment");
    }
    code.read(target, 16)
        .and_then(|b| emulated_entry(&b))
        .map(|skip| target + skip)
        .ok_or("the function it jumps to begins with an instruction the kernel single-steps")
}

/// Every jump out of the code at file offset `at` (its first `bytes`),
/// along every path from its start that decodes to instructions whose
/// effect on the argument registers and the stack pointer is known,
/// with the state at the jump. A path through anything else is dropped.
fn tail_calls(bytes: &[u8], at: u64) -> Vec<(u64, State)> {
    let inside = |ip: u64| ip >= at && ip < at + bytes.len() as u64;
    let mut exits = Vec::new();
    let mut seen = HashSet::new();
    let mut paths = vec![(at, State::at_entry())];
    let mut budget = RECV_INSTRUCTIONS;
    while let Some((ip, mut state)) = paths.pop() {
        if !seen.insert((ip, state)) {
            continue;
        }
        let mut decoder =
            Decoder::with_ip(64, &bytes[(ip - at) as usize..], ip, DecoderOptions::NONE);
        let mut instruction = Instruction::default();
        loop {
            if budget == 0 || !decoder.can_decode() {
                return exits;
            }
            budget -= 1;
            decoder.decode_out(&mut instruction);
            let mut jump = |target: u64, state: State| {
                if inside(target) {
                    paths.push((target, state));
                } else {
                    exits.push((target, state));
                }
            };
            match instruction.mnemonic() {
                Mnemonic::Ret => break,
                Mnemonic::Jmp if instruction.op0_kind() == OpKind::NearBranch64 => {
                    jump(instruction.near_branch64(), state);
                    break;
                }
                _ if is_jcc(instruction.mnemonic()) => {
                    jump(instruction.near_branch64(), state);
                }
                Mnemonic::Call if instruction.op0_kind() == OpKind::NearBranch64 => {
                    // The callee may change every argument register.
                    state.args = [Value::Unknown; 4];
                }
                _ => {
                    if !step(&instruction, &mut state) {
                        break;
                    }
                }
            }
        }
    }
    exits
}

/// `state` after `instruction`; false for an instruction whose effect is
/// not known here (the path is dropped).
fn step(instruction: &Instruction, state: &mut State) -> bool {
    let register_op = |i: u32| instruction.op_kind(i) == OpKind::Register;
    let dest = instruction.op0_register();
    let width = gpr(dest).map_or(0, |(_, width)| width);
    let to_rsp = gpr(dest).is_some_and(|(n, _)| n == RSP);
    match instruction.mnemonic() {
        Mnemonic::Nop | Mnemonic::Endbr64 | Mnemonic::Cmp | Mnemonic::Test => true,
        Mnemonic::Sub | Mnemonic::Add
            if to_rsp
                && width == 8
                && matches!(
                    instruction.op1_kind(),
                    OpKind::Immediate8to64 | OpKind::Immediate32to64
                ) =>
        {
            let n = instruction.immediate(1) as i64;
            let sign = if instruction.mnemonic() == Mnemonic::Sub {
                -1
            } else {
                1
            };
            state.rsp = state.rsp.map(|rsp| rsp + sign * n);
            true
        }
        Mnemonic::Push if register_op(0) => {
            state.rsp = state.rsp.map(|rsp| rsp - 8);
            true
        }
        Mnemonic::Pop if register_op(0) => {
            state.rsp = state.rsp.map(|rsp| rsp + 8);
            state.set(dest, Value::Unknown);
            true
        }
        // A store leaves the registers alone.
        Mnemonic::Mov if !register_op(0) => true,
        Mnemonic::Mov if register_op(1) && width == 8 && !to_rsp => {
            state.set(dest, state.get(instruction.op1_register()));
            true
        }
        Mnemonic::Mov if instruction.op1_kind() == OpKind::Immediate32 && width == 4 => {
            // A 32-bit write zero-extends into the whole register.
            state.set(dest, Value::Constant(instruction.immediate32().into()));
            true
        }
        Mnemonic::Xor if register_op(1) && dest == instruction.op1_register() && width >= 4 => {
            state.set(dest, Value::Constant(0));
            true
        }
        // Writes their first operand, a register, and nothing else.
        Mnemonic::Mov
        | Mnemonic::Movzx
        | Mnemonic::Movsx
        | Mnemonic::Movsxd
        | Mnemonic::Lea
        | Mnemonic::Add
        | Mnemonic::Sub
        | Mnemonic::And
        | Mnemonic::Or
        | Mnemonic::Xor
        | Mnemonic::Shl
        | Mnemonic::Shr
        | Mnemonic::Sar
            if register_op(0) && !to_rsp =>
        {
            state.set(dest, Value::Unknown);
            true
        }
        // Sign-extend eax into rax: no tracked register.
        Mnemonic::Cdqe => true,
        _ => false,
    }
}

/// Conditional jumps: both ways are followed.
fn is_jcc(mnemonic: Mnemonic) -> bool {
    matches!(
        mnemonic,
        Mnemonic::Ja
            | Mnemonic::Jae
            | Mnemonic::Jb
            | Mnemonic::Jbe
            | Mnemonic::Je
            | Mnemonic::Jg
            | Mnemonic::Jge
            | Mnemonic::Jl
            | Mnemonic::Jle
            | Mnemonic::Jne
            | Mnemonic::Jno
            | Mnemonic::Jnp
            | Mnemonic::Jns
            | Mnemonic::Jo
            | Mnemonic::Jp
            | Mnemonic::Js
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_are_numbered_as_encoded_with_their_width() {
        for (register, want) in [
            (Register::AL, Some((0, 1))),
            (Register::AH, Some((0, 1))),
            (Register::BH, Some((3, 1))),
            (Register::SPL, Some((RSP, 1))),
            (Register::DIL, Some((RDI, 1))),
            (Register::R8L, Some((R8, 1))),
            (Register::R15L, Some((15, 1))),
            (Register::SI, Some((RSI, 2))),
            (Register::ECX, Some((RCX, 4))),
            (Register::R8D, Some((R8, 4))),
            (Register::RDX, Some((RDX, 8))),
            (Register::R15, Some((15, 8))),
            (Register::RIP, None),
            (Register::XMM0, None),
            (Register::None, None),
        ] {
            assert_eq!(gpr(register), want, "{register:?}");
        }
    }
}
