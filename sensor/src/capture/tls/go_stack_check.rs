//! Where the entry probes of Go's `(*tls.Conn).Read` and `Write` go: on
//! the conditional jump of the function's stack check, not on its first
//! instruction.
//!
//! A Go function with a frame starts by comparing the stack pointer (or
//! the stack pointer less its frame) with the goroutine's stack guard, and
//! jumps, when the stack is too small or the scheduler has asked the
//! goroutine to stop (the guard is then `stackPreempt`), to a stub that
//! calls `runtime.morestack` and jumps back to the function's first
//! instruction. For a probe that means:
//! - On the first instruction, a `cmp` the kernel does not emulate, every
//!   call is single-stepped: a second exception per call. A conditional
//!   jump is emulated.
//! - A call that goes through the stub runs the prologue twice, so a
//!   probe in the prologue fires twice for one call, and a write captured
//!   at its entry would be captured twice. On the jump, the probe's
//!   program sees the comparison's flags (`jbe` is taken when carry or
//!   zero is set) and ignores the hit whose jump is taken: the call's
//!   restart fires again, and that hit is the one kept.
//!
//! What runs before the jump must leave the stack pointer, and the
//! registers the programs read, as they were at the first instruction. In
//! Go's prologues it only loads the goroutine (stack ABI: `mov
//! %fs:-8,%rcx`, or `mov $-8,%rcx; mov %fs:(%rcx),%rcx` in
//! position-independent code), computes the stack pointer less the frame
//! (`lea`) and compares. A function whose start or stub has another shape is not
//! probed.

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

use super::go::GoAbi;

/// Instructions of a prologue up to and including its stack check's jump
/// (Go 1.15's position-independent code loads the goroutine in two).
const PROLOGUE_INSTRUCTIONS: usize = 5;
/// Bytes decoded for them (the longest is 9 bytes).
pub const PROLOGUE_BYTES: u64 = 48;
/// Instructions of the stub: a spill and a reload per argument register
/// (nine in Go's register ABI), the call, the jump back.
const STUB_INSTRUCTIONS: usize = 24;
/// Bytes decoded for the stub (instructions of up to 8 bytes).
const STUB_BYTES: u64 = 8 * STUB_INSTRUCTIONS as u64;

/// The registers the entry programs read, as the function received them,
/// with their 32-, 16- and 8-bit parts.
fn read_by_probe(abi: GoAbi) -> &'static [Register] {
    use Register::*;
    match abi {
        // The receiver, the slice's pointer and length, the goroutine.
        GoAbi::Registers => &[
            RAX, EAX, AX, AL, AH, RBX, EBX, BX, BL, BH, RCX, ECX, CX, CL, CH, R14, R14D, R14W,
            R14L, RSP, ESP, SP, SPL,
        ],
        // The arguments, read from the stack.
        GoAbi::Stack => &[RSP, ESP, SP, SPL],
    }
}

/// The address of the stack check's `jbe` in the function at `start`,
/// given its first `PROLOGUE_BYTES` (`prologue`) and `code_at(address,
/// len)`, the file's code at an address; or why the shape is not Go's.
pub fn jump_of<'a>(
    abi: GoAbi,
    start: u64,
    prologue: &[u8],
    code_at: impl Fn(u64, u64) -> Option<&'a [u8]>,
) -> Result<u64, String> {
    let mut decoder = Decoder::with_ip(64, prologue, start, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    for _ in 0..PROLOGUE_INSTRUCTIONS {
        if !decoder.can_decode() {
            break;
        }
        decoder.decode_out(&mut instruction);
        match instruction.mnemonic() {
            Mnemonic::Jbe => {
                let stub = instruction.near_branch_target();
                let code = code_at(stub, STUB_BYTES)
                    .ok_or_else(|| format!("its stack check jumps outside the file ({stub:#x})"))?;
                return if restarts(code, stub, start) {
                    Ok(instruction.ip())
                } else {
                    Err(format!(
                        "its stack check's stub at {stub:#x} does not jump back to its start"
                    ))
                };
            }
            Mnemonic::Cmp => {}
            Mnemonic::Lea | Mnemonic::Mov
                if instruction.op0_kind() == OpKind::Register
                    && !read_by_probe(abi).contains(&instruction.op0_register()) => {}
            _ => break,
        }
    }
    Err(format!(
        "it does not start with Go's stack check (at {:#x}: {:?})",
        instruction.ip(),
        instruction.mnemonic()
    ))
}

/// Whether the code at `stub` moves registers to and from the stack
/// around one call (Go 1.15 puts a `nop` after it) and then jumps to
/// `start`.
fn restarts(code: &[u8], stub: u64, start: u64) -> bool {
    let mut decoder = Decoder::with_ip(64, code, stub, DecoderOptions::NONE);
    let mut instruction = Instruction::default();
    let mut calls = 0;
    for _ in 0..STUB_INSTRUCTIONS {
        if !decoder.can_decode() {
            return false;
        }
        decoder.decode_out(&mut instruction);
        match instruction.mnemonic() {
            Mnemonic::Mov | Mnemonic::Nop => {}
            Mnemonic::Call if instruction.op0_kind() == OpKind::NearBranch64 => calls += 1,
            Mnemonic::Jmp => {
                return calls == 1
                    && instruction.op0_kind() == OpKind::NearBranch64
                    && instruction.near_branch_target() == start
            }
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: u64 = 0x1000;
    const STUB: u64 = 0x1400;

    /// Go 1.19's `(*Conn).Read` stub: four spills, the call, four
    /// reloads, the jump back to 0x1000.
    fn register_stub() -> Vec<u8> {
        let mut stub = Vec::new();
        // mov %rax,0x8(%rsp); mov %rbx,0x10(%rsp); mov %rcx,0x18(%rsp);
        // mov %rdi,0x20(%rsp)
        stub.extend([0x48, 0x89, 0x44, 0x24, 0x08]);
        stub.extend([0x48, 0x89, 0x5c, 0x24, 0x10]);
        stub.extend([0x48, 0x89, 0x4c, 0x24, 0x18]);
        stub.extend([0x48, 0x89, 0x7c, 0x24, 0x20]);
        // call (relative, anywhere)
        stub.extend([0xe8, 0x00, 0x10, 0x00, 0x00]);
        // the reloads
        stub.extend([0x48, 0x8b, 0x44, 0x24, 0x08]);
        stub.extend([0x48, 0x8b, 0x5c, 0x24, 0x10]);
        stub.extend([0x48, 0x8b, 0x4c, 0x24, 0x18]);
        stub.extend([0x48, 0x8b, 0x7c, 0x24, 0x20]);
        jump_back(&mut stub, STUB);
        stub
    }

    /// Appends `jmp START` (rel32) to `code`, which starts at `at`.
    fn jump_back(code: &mut Vec<u8>, at: u64) {
        let end = at + code.len() as u64 + 5;
        let rel = (START as i64 - end as i64) as i32;
        code.push(0xe9);
        code.extend(rel.to_le_bytes());
    }

    /// `jbe STUB` (rel32) for an instruction at `at`.
    fn jbe_to_stub(at: u64) -> Vec<u8> {
        let rel = (STUB as i64 - (at as i64 + 6)) as i32;
        let mut jbe = vec![0x0f, 0x86];
        jbe.extend(rel.to_le_bytes());
        jbe
    }

    fn find(abi: GoAbi, prologue: &[u8], stub: &[u8]) -> Result<u64, String> {
        jump_of(abi, START, prologue, |at, _| (at == STUB).then_some(stub))
    }

    #[test]
    fn the_jump_of_each_go_prologue_is_found() {
        // cmp 0x10(%r14),%rsp; jbe
        let mut small = vec![0x49, 0x3b, 0x66, 0x10];
        small.extend(jbe_to_stub(START + 4));
        assert_eq!(
            find(GoAbi::Registers, &small, &register_stub()),
            Ok(START + 4)
        );
        // lea -0x68(%rsp),%r12; cmp 0x10(%r14),%r12; jbe
        let mut large = vec![0x4c, 0x8d, 0x64, 0x24, 0x98, 0x4d, 0x3b, 0x66, 0x10];
        large.extend(jbe_to_stub(START + 9));
        assert_eq!(
            find(GoAbi::Registers, &large, &register_stub()),
            Ok(START + 9)
        );
        // Go 1.15: mov %fs:0xfffffffffffffff8,%rcx; lea -0x50(%rsp),%rax;
        // cmp 0x10(%rcx),%rax; jbe; its stub is a call, `nopl (%rax)` and
        // the jump.
        let mut stack = vec![0x64, 0x48, 0x8b, 0x0c, 0x25, 0xf8, 0xff, 0xff, 0xff];
        stack.extend([0x48, 0x8d, 0x44, 0x24, 0xb0, 0x48, 0x3b, 0x41, 0x10]);
        stack.extend(jbe_to_stub(START + 18));
        let mut stub = vec![0xe8, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x1f, 0x00];
        jump_back(&mut stub, STUB);
        assert_eq!(find(GoAbi::Stack, &stack, &stub), Ok(START + 18));
        // Go 1.15, position-independent: mov $-8,%rcx; mov %fs:(%rcx),%rcx;
        // lea -0x50(%rsp),%rax; cmp 0x10(%rcx),%rax; jbe.
        let mut pie = vec![
            0x48, 0xc7, 0xc1, 0xf8, 0xff, 0xff, 0xff, 0x64, 0x48, 0x8b, 0x09,
        ];
        pie.extend([0x48, 0x8d, 0x44, 0x24, 0xb0, 0x48, 0x3b, 0x41, 0x10]);
        pie.extend(jbe_to_stub(START + 20));
        assert_eq!(find(GoAbi::Stack, &pie, &stub), Ok(START + 20));
    }

    #[test]
    fn a_prologue_that_changes_what_the_probe_reads_is_refused() {
        // Go 1.15's prologue loads the goroutine into RCX, which the
        // register ABI's programs read as the slice's length.
        let mut stack = vec![0x64, 0x48, 0x8b, 0x0c, 0x25, 0xf8, 0xff, 0xff, 0xff];
        stack.extend([0x48, 0x3b, 0x61, 0x10]);
        stack.extend(jbe_to_stub(START + 13));
        assert!(find(GoAbi::Registers, &stack, &register_stub()).is_err());
        // sub $0x68,%rsp before the check moves the stack ABI's arguments.
        let mut moved = vec![0x48, 0x83, 0xec, 0x68, 0x49, 0x3b, 0x66, 0x10];
        moved.extend(jbe_to_stub(START + 8));
        assert!(find(GoAbi::Stack, &moved, &register_stub()).is_err());
        // No check at all: a function that starts with its body.
        assert!(find(
            GoAbi::Registers,
            &[0x48, 0x89, 0xc3, 0xc3],
            &register_stub()
        )
        .is_err());
    }

    #[test]
    fn a_stub_that_does_not_restart_the_function_is_refused() {
        let mut small = vec![0x49, 0x3b, 0x66, 0x10];
        small.extend(jbe_to_stub(START + 4));
        // The call and then a return: the call would not come back through
        // the probe.
        let returning = [0xe8, 0x00, 0x10, 0x00, 0x00, 0xc3];
        assert!(find(GoAbi::Registers, &small, &returning).is_err());
        // A jump elsewhere.
        let mut elsewhere = vec![0xe8, 0x00, 0x10, 0x00, 0x00];
        jump_back(&mut elsewhere, STUB + 0x10);
        assert!(find(GoAbi::Registers, &small, &elsewhere).is_err());
        // No call: not the morestack stub.
        let mut no_call = Vec::new();
        jump_back(&mut no_call, STUB);
        assert!(find(GoAbi::Registers, &small, &no_call).is_err());
        // The stub outside the file.
        assert!(jump_of(GoAbi::Registers, START, &small, |_, _| None).is_err());
    }
}
