//! TLS plaintext: uprobes on the read and write functions of OpenSSL
//! (and BoringSSL) and GnuTLS see the bytes before encryption and after
//! decryption. The syscalls a library call makes on its thread tell which
//! socket the session uses, so the plaintext joins that (pid, fd)'s
//! connection, marked TLS, and the socket's own ciphertext is skipped.
//! Writes are captured at their entry where the kernel takes uprobe
//! sessions (`write`), reads at their return (`calls`), which a read on
//! a socket that is not captured skips (`read`).
//! `exec` tells the agent about new processes, whose libraries it attaches.
//! Go programs link their own TLS: `go` hooks `crypto/tls` in them; Rust
//! programs link rustls: `rustls` hooks its plaintext reader and writer.

pub mod calls;
mod exec;
#[cfg(bpf_target_arch = "x86_64")]
mod go;
pub mod in_flight;
mod read;
pub mod rustls;
mod session;
mod stream;
pub mod write;
