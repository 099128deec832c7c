//! eBPF programs of the sensor: socket-layer tracepoints that follow TCP
//! sockets and copy the bytes of HTTP connections into a ring buffer
//! (`socket`), the syscall tracepoints that do the same on kernels without
//! them (`syscalls`, per-fd state in `conn`), and uprobes on TLS libraries
//! that copy the plaintext of HTTPS (`tls`). Each hook is thin; the payload
//! copy is shared (`capture`), and so is the HTTP sniffing
//! (`sensor_common::sniff`).
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// `tls::in_flight` needs an atomic add, which `core`'s atomic types do not
// offer on BPF.
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics))]
#![cfg_attr(target_arch = "bpf", allow(internal_features))]

#[cfg(target_arch = "bpf")]
mod capture;
#[cfg(target_arch = "bpf")]
mod conn;
#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod sniff;
#[cfg(target_arch = "bpf")]
mod socket;
#[cfg(target_arch = "bpf")]
mod syscalls;
#[cfg(target_arch = "bpf")]
mod tls;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // SAFETY: eBPF programs cannot unwind; the verifier rejects any path
    // that reaches here, so it is never executed.
    unsafe { core::hint::unreachable_unchecked() }
}

/// Lets `cargo check --workspace` build this crate on the host.
#[cfg(not(target_arch = "bpf"))]
fn main() {}

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
