//! rustls, the Rust TLS library, linked into the program that uses it:
//! uprobes on `<rustls::conn::Writer as std::io::Write>::write` and
//! `write_vectored`, and `<rustls::conn::Reader as std::io::Read>::read`:
//! each entry notes the buffers, a return probe captures what the call
//! moved (Rust stacks never move, so uretprobes are safe). A write is
//! captured at its return too, though its plaintext is in the buffers at
//! the entry: rustls takes only what fits under its outgoing buffer's
//! limit (64 KiB by default), so a write longer than that, or any write
//! while the peer is slow, is accepted in part or not at all, and the
//! caller writes the rest again; only the return says how much was taken. The agent finds them by name in the
//! program's symbol table (`capture::tls::rustls`).
//!
//! rustls is sans-IO: `Writer::write` only encrypts into the connection's
//! buffer, and the ciphertext leaves through `write_tls` on a socket,
//! normally on the same thread right after; a read is `read_tls` (a
//! receive) then `Reader::read`. So the plaintext is tied to a socket
//! through the thread's own socket I/O on sockets that carry TLS records
//! (`conn::FLAG_TLS_RECORDS`, set when their first bytes are a TLS record
//! header): a read to the socket the thread received from last, when it
//! did so since its previous read; a write to the socket of the thread's
//! next send or receive. Each tie is remembered per session (the object
//! the `Writer` or `Reader` borrows, which lives as long as the
//! connection), so that later calls are captured at once: a write at its
//! return, a read from the buffer without a receive since.
//!
//! The Rust ABI (x86-64): `&mut self` in RDI, the slice's pointer and
//! length in RSI and RDX; `io::Result<usize>` comes back in RAX (0 for
//! `Ok`) and RDX (the count). Both structs start with the pointer the
//! session is keyed by: the `Writer`'s `&mut dyn PlaintextSink` (the
//! connection), the `Reader`'s `&mut ChunkVecBuffer` (its received
//! plaintext).

use aya_ebpf::{
    bindings::pt_regs,
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::{map, uprobe, uretprobe},
    maps::LruHashMap,
    programs::{ProbeContext, RetProbeContext},
};
use sensor_common::{
    counter,
    tls::{OP_READ, OP_WRITE},
    DIR_INGRESS,
};

use super::calls;
use crate::capture::Source;
use crate::conn;
use crate::maps::{self, TlsSessionKey, TlsSocket, TLS_SESSIONS};

/// The socket a thread last received from on a TLS socket outside a
/// library call, and the write waiting for the thread's next send or
/// receive on one.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RustlsThread {
    /// Socket cookie (socket mode), 0 otherwise.
    pub sock: u64,
    pub fd: i32,
    /// No read has used the receive since it happened.
    pub received: u8,
    pub _pad: [u8; 3],
    /// The write waiting to be tied (`write_len` 0: none): its session,
    /// and the caller's buffer (or iovec array, of `write_iovecs`), which
    /// outlives the write's sends.
    pub write_session: u64,
    pub write_buf: u64,
    pub write_iovecs: u64,
    pub write_len: u64,
}

/// A call in flight, from its entry to its return.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RustlsCall {
    pub session: u64,
    /// The buffer, or the iovec array of a vectored write.
    pub buf: u64,
    /// The iovecs of a vectored write, 0 otherwise.
    pub iovecs: u64,
}

/// By pid_tgid. LRU: threads that exited age out.
#[map]
static RUSTLS_THREADS: LruHashMap<u64, RustlsThread> = LruHashMap::with_max_entries(16384, 0);

/// Reads in flight, by pid_tgid. LRU: a return never reported (the
/// thread died) ages out.
#[map]
static RUSTLS_READS: LruHashMap<u64, RustlsCall> = LruHashMap::with_max_entries(16384, 0);

/// The chunk each thread's `into_first_chunk` last returned (`buf`, and
/// its length in `iovecs`), until its `consume`.
#[map]
static RUSTLS_CHUNKS: LruHashMap<u64, RustlsCall> = LruHashMap::with_max_entries(16384, 0);

/// Writes in flight, as the reads.
#[map]
static RUSTLS_WRITES: LruHashMap<u64, RustlsCall> = LruHashMap::with_max_entries(16384, 0);

#[cfg(bpf_target_arch = "x86_64")]
#[uprobe]
pub fn rustls_write(ctx: ProbeContext) {
    enter(&ctx, &RUSTLS_WRITES, 0);
}

#[cfg(bpf_target_arch = "x86_64")]
#[uprobe]
pub fn rustls_write_vectored(ctx: ProbeContext) {
    let iovecs: u64 = ctx.arg(2).unwrap_or(0);
    if iovecs != 0 {
        enter(&ctx, &RUSTLS_WRITES, iovecs);
    }
}

/// Attached at the return of both write functions: the bytes rustls took.
#[cfg(bpf_target_arch = "x86_64")]
#[uretprobe]
pub fn rustls_write_return(ctx: RetProbeContext) {
    let id = bpf_get_current_pid_tgid();
    let Some((call, taken)) = returned(&ctx, &RUSTLS_WRITES, id) else {
        return;
    };
    write(id, call.session, call.buf, call.iovecs, taken);
}

/// A call's entry: kept for its return, in a followed process.
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn enter(ctx: &ProbeContext, calls: &LruHashMap<u64, RustlsCall>, iovecs: u64) {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return;
    }
    let (Some(session), Some(buf)) = (session_of(ctx), ctx.arg::<u64>(1)) else {
        return;
    };
    let call = RustlsCall {
        session,
        buf,
        iovecs,
    };
    let _ = calls.insert(&id, &call, 0);
}

/// A call's return: the call kept at its entry, and the count it
/// returned, when it moved bytes (`Ok(n)`, n > 0).
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn returned(
    ctx: &RetProbeContext,
    calls: &LruHashMap<u64, RustlsCall>,
    id: u64,
) -> Option<(RustlsCall, u64)> {
    // SAFETY: copy out of the map value before removing it.
    let call = (unsafe { calls.get(&id) }).copied()?;
    let _ = calls.remove(&id);
    let regs: *const pt_regs = ctx.regs;
    // SAFETY: `regs` is the program's context, readable for its whole run.
    let (tag, count) = unsafe { ((*regs).rax, (*regs).rdx) };
    // The tag is a byte: the register's upper bits are not part of it.
    // An error (WouldBlock), end of stream or nothing taken: no bytes.
    (tag & 0xff == 0 && count != 0).then_some((call, count))
}

/// A write that rustls took `len` bytes of, at `buf` (an iovec array of
/// `iovecs` when not 0), at its return: captured now when its session is
/// tied, else when the thread next sends or receives on a TLS socket
/// (the caller's buffers outlive the sends that follow the write).
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn write(id: u64, session: u64, buf: u64, iovecs: u64, len: u64) {
    if len == 0 {
        return;
    }
    let pid = (id >> 32) as u32;
    // SAFETY: copy of the map value.
    if let Some(socket) = unsafe { TLS_SESSIONS.get(&key(pid, session)) }.copied() {
        if calls::capture_on(pid, socket, OP_WRITE, source(buf, iovecs), len) {
            return;
        }
    }
    // Not tied yet (the session's first write), or its socket is gone:
    // the thread's next send or receive on a TLS socket ties it.
    match RUSTLS_THREADS.get_ptr_mut(&id) {
        Some(t) => {
            // SAFETY: pointer into the map value, valid for this run.
            let t = unsafe { &mut *t };
            if t.write_len != 0 {
                // Two writes before any I/O: the first is not tied.
                lost(t.write_len);
            }
            t.write_session = session;
            t.write_buf = buf;
            t.write_iovecs = iovecs;
            t.write_len = len;
        }
        None => {
            let waiting = RustlsThread {
                sock: 0,
                fd: -1,
                received: 0,
                _pad: [0; 3],
                write_session: session,
                write_buf: buf,
                write_iovecs: iovecs,
                write_len: len,
            };
            let _ = RUSTLS_THREADS.insert(&id, &waiting, 0);
        }
    }
}

/// Where a write's bytes are: one buffer, or `iovecs` iovecs at `buf`.
#[inline(always)]
pub fn source(buf: u64, iovecs: u64) -> Source {
    if iovecs == 0 {
        Source::Buffer(buf)
    } else {
        Source::Iovec(buf, iovecs)
    }
}

#[cfg(bpf_target_arch = "x86_64")]
#[uprobe]
pub fn rustls_read(ctx: ProbeContext) {
    enter(&ctx, &RUSTLS_READS, 0);
}

#[cfg(bpf_target_arch = "x86_64")]
#[uretprobe]
pub fn rustls_read_return(ctx: RetProbeContext) {
    let id = bpf_get_current_pid_tgid();
    let Some((read, count)) = returned(&ctx, &RUSTLS_READS, id) else {
        return;
    };
    plaintext_read(id, read.session, read.buf, count);
}

/// Attached at the return of `Reader::into_first_chunk`, which
/// tokio-rustls (0.26) reads through: the chunk of plaintext it hands
/// back (written through the return slot RAX points at: the slice's
/// pointer and length), kept for the thread's `consume`.
#[cfg(bpf_target_arch = "x86_64")]
#[uretprobe]
pub fn rustls_chunk_return(ctx: RetProbeContext) {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return;
    }
    let regs: *const pt_regs = ctx.regs;
    // SAFETY: `regs` is the program's context, readable for its whole run.
    let slot = unsafe { (*regs).rax };
    // SAFETY: user pointer read through the fault-safe helper.
    let Ok([ptr, len]) = (unsafe { bpf_probe_read_user(slot as *const [u64; 2]) }) else {
        return;
    };
    // An error, or no plaintext (a dangling pointer with length 0).
    if ptr <= 1 || len == 0 {
        return;
    }
    let chunk = RustlsCall {
        session: 0,
        buf: ptr,
        iovecs: len,
    };
    let _ = RUSTLS_CHUNKS.insert(&id, &chunk, 0);
}

/// `<Reader as BufRead>::consume`'s entry: the caller took `amt` bytes
/// from the front of the chunk the thread's `into_first_chunk` returned.
#[cfg(bpf_target_arch = "x86_64")]
#[uprobe]
pub fn rustls_consume(ctx: ProbeContext) {
    let id = bpf_get_current_pid_tgid();
    // SAFETY: copy out of the map value before removing it.
    let Some(chunk) = (unsafe { RUSTLS_CHUNKS.get(&id) }).copied() else {
        return;
    };
    let _ = RUSTLS_CHUNKS.remove(&id);
    let amount: u64 = ctx.arg(1).unwrap_or(0);
    let Some(session) = session_of(&ctx) else {
        return;
    };
    let count = amount.min(chunk.iovecs);
    if count > 0 {
        plaintext_read(id, session, chunk.buf, count);
    }
}

/// `count` bytes of plaintext read at `buf` from `session`: tied to the
/// socket the thread received from since its last read, else to the
/// session's.
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn plaintext_read(id: u64, session: u64, buf: u64, count: u64) {
    let pid = (id >> 32) as u32;
    let session = key(pid, session);
    let received = match RUSTLS_THREADS.get_ptr_mut(&id) {
        // SAFETY: pointer into the map value, valid for this run.
        Some(t) if unsafe { (*t).received } != 0 => {
            // SAFETY: as above.
            let t = unsafe { &mut *t };
            t.received = 0;
            Some(TlsSocket {
                fd: t.fd,
                _pad: 0,
                sock: t.sock,
            })
        }
        _ => None,
    };
    let socket = match received {
        Some(socket) => {
            let _ = TLS_SESSIONS.insert(&session, &socket, 0);
            socket
        }
        // No receive since the last read: plaintext rustls already held.
        // SAFETY: copy of the map value.
        None => match unsafe { TLS_SESSIONS.get(&session) }.copied() {
            Some(socket) => socket,
            None => {
                maps::count(counter::TLS_CALLS, 1);
                lost(count);
                return;
            }
        },
    };
    calls::capture_on(pid, socket, OP_READ, Source::Buffer(buf), count);
}

/// Called by the socket (or syscall) hooks for a send or receive, in
/// `direction`, on a socket that carries TLS records, outside any library
/// call: remembers a receive as the thread's last, and hands back the
/// write that was waiting for the thread's next I/O (where its bytes are,
/// and how many), now tied to this socket. Threads are kept from their first
/// such receive (a read's receive comes before the thread's first probe)
/// or their first untied write.
#[inline(always)]
pub fn socket_io(id: u64, direction: u8, fd: i32, sock: u64) -> Option<(Source, u64)> {
    let received = u8::from(direction == DIR_INGRESS);
    let Some(t) = RUSTLS_THREADS.get_ptr_mut(&id) else {
        if received != 0 {
            let fresh = RustlsThread {
                sock,
                fd,
                received,
                _pad: [0; 3],
                write_session: 0,
                write_buf: 0,
                write_iovecs: 0,
                write_len: 0,
            };
            let _ = RUSTLS_THREADS.insert(&id, &fresh, 0);
        }
        return None;
    };
    // SAFETY: pointer into the map value, valid for this run.
    let t = unsafe { &mut *t };
    if received != 0 {
        // Sends leave it: a server sends its session tickets between the
        // receive that completes the handshake (often with the request's
        // first record) and the first read.
        t.sock = sock;
        t.fd = fd;
        t.received = received;
    }
    if t.write_len == 0 {
        return None;
    }
    let write = (source(t.write_buf, t.write_iovecs), t.write_len);
    t.write_len = 0;
    let socket = TlsSocket { fd, _pad: 0, sock };
    let session = key((id >> 32) as u32, t.write_session);
    let _ = TLS_SESSIONS.insert(&session, &socket, 0);
    Some(write)
}

/// The pointer the session is keyed by: the first word of the `Writer`
/// or `Reader` the first argument points at.
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn session_of(ctx: &ProbeContext) -> Option<u64> {
    let this: u64 = ctx.arg(0)?;
    // SAFETY: user pointer read through the fault-safe helper.
    let session = unsafe { bpf_probe_read_user(this as *const u64) }.ok()?;
    (session != 0).then_some(session)
}

#[inline(always)]
fn key(pid: u32, session: u64) -> TlsSessionKey {
    TlsSessionKey {
        pid,
        _pad: 0,
        session,
    }
}

/// Plaintext that could not be tied to a socket.
#[inline(always)]
fn lost(len: u64) {
    maps::count(counter::TLS_CALLS_WITHOUT_FD, 1);
    maps::count(counter::TLS_BYTES_WITHOUT_FD, len);
}
