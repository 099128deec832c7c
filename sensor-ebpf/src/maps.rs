//! Every map the programs share with each other and with the agent.

use crate::conn::verdict as conn_verdict;
use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use sensor_common::{
    counter, ConnKey, ConnState, DataEvent, PendingIo, Settings, SockState, DEFAULT_RING_BYTES,
    MAX_TRACKED_FDS,
};

/// Events to the agent. The agent may resize it at load time.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(DEFAULT_RING_BYTES, 0);

/// Per-(pid, fd) capture state. LRU so that fds whose close we never saw
/// (process exit) age out instead of filling the table.
#[map]
pub static CONNS: LruHashMap<ConnKey, ConnState> = LruHashMap::with_max_entries(MAX_TRACKED_FDS, 0);

/// Socket mode: per-socket state, keyed by socket cookie. LRU, though
/// every TCP socket's close removes its entry.
#[map]
pub static SOCKS: LruHashMap<u64, SockState> = LruHashMap::with_max_entries(MAX_TRACKED_FDS, 0);

/// Socket mode: captured sockets that just closed, by cookie. A socket
/// reset while its owner is in a send sees its close before that send's
/// tracepoint fires: the send's bytes still belong to the connection.
/// LRU: entries no late send claims age out.
#[map]
pub static CLOSED: LruHashMap<u64, SockState> = LruHashMap::with_max_entries(4096, 0);

/// Socket mode: the role of TCP sockets seen opening (`ROLE_*`), by cookie,
/// until their first send or receive moves it into `SOCKS`.
#[map]
pub static ROLES: LruHashMap<u64, u8> = LruHashMap::with_max_entries(MAX_TRACKED_FDS, 0);

/// Socket mode: local or remote ports to capture when
/// `Settings::port_filter` is set.
#[map]
pub static PORT_FILTER: HashMap<u16, u8> = HashMap::with_max_entries(1024, 0);

/// Arguments of an I/O syscall in flight, keyed by pid_tgid, kept from
/// sys_enter to sys_exit (the data is only there at exit for reads).
#[map]
pub static PENDING_IO: HashMap<u64, PendingIo> = HashMap::with_max_entries(16384, 0);

/// Arguments of accept/connect in flight, keyed by pid_tgid.
#[map]
pub static PENDING_CONN: HashMap<u64, PendingConn> = HashMap::with_max_entries(16384, 0);

/// One event-sized scratch buffer per CPU: too big for the 512-byte stack.
#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// The event being filled, with half a chunk of room past its payload:
/// the capture walk appends an iovec at a verifier-bounded offset below
/// `APPEND_BELOW` with a length of at most `CHUNK_SIZE`, and only ever
/// sends the first `CHUNK_SIZE` bytes. (A per-CPU value is at most 32 KiB,
/// so the room cannot be a whole chunk.)
#[repr(C)]
pub struct Scratch {
    pub event: DataEvent,
    _spare: [u8; APPEND_BELOW],
}

/// Payload bytes past which the walk sends the event before appending.
pub const APPEND_BELOW: usize = sensor_common::CHUNK_SIZE / 2;

/// Per-CPU progress of the capture walk (see `capture::step`).
#[map]
pub static WALK: PerCpuArray<crate::capture::Walk> = PerCpuArray::with_max_entries(1, 0);

/// Drop and activity counters, summed over CPUs by the agent.
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// Written by the agent before it attaches the programs.
#[map]
pub static SETTINGS: Array<Settings> = Array::with_max_entries(1, 0);

/// Each thread's process-filter verdict, direct-mapped by thread id (see
/// `conn::process_wanted`): with filters set, most socket I/O on a host
/// belongs to processes left out, and an array slot is read without a
/// helper call or a hash, where the filters themselves cost a copy of the
/// thread's name and a hash lookup on every send and receive.
#[map]
pub static VERDICTS: Array<u64> = Array::with_max_entries(conn_verdict::SLOTS, 0);

/// Pids to capture when `Settings::pid_filter` is set.
#[map]
pub static PID_FILTER: HashMap<u32, u8> = HashMap::with_max_entries(1024, 0);

/// Process names to capture when `Settings::comm_filter` is set.
#[map]
pub static COMM_FILTER: HashMap<[u8; 16], u8> = HashMap::with_max_entries(256, 0);

/// TLS library calls in flight, keyed by pid_tgid, kept from the function's
/// entry to its return (a read's plaintext only exists at return), then
/// marked done in place for the thread's next call. The syscalls the call
/// makes on this thread record its socket here. LRU: the slot of a thread
/// gone quiet (or that died in a call) ages out.
#[map]
pub static TLS_CALLS: LruHashMap<u64, TlsCall> = LruHashMap::with_max_entries(16384, 0);

/// How many threads may be in a TLS library call, per slot of thread ids
/// (see `tls::in_flight`).
#[map]
pub static TLS_IN_FLIGHT: Array<u64> = Array::with_max_entries(crate::tls::in_flight::SLOTS, 0);

/// The socket under each TLS session, as last seen: a read the library
/// serves from its own buffer makes no syscall.
#[map]
pub static TLS_SESSIONS: LruHashMap<TlsSessionKey, TlsSocket> =
    LruHashMap::with_max_entries(MAX_TRACKED_FDS, 0);

/// The socket a TLS session uses: its fd, and in socket mode its cookie.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TlsSocket {
    pub fd: i32,
    pub _pad: u32,
    /// Socket cookie (socket mode), 0 otherwise.
    pub sock: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PendingConn {
    pub fd: i32,
    pub role: u8,
    pub _pad: [u8; 3],
    /// User pointer to the sockaddr (may be null for accept).
    pub addr: u64,
}

/// A TLS library call in flight (see `tls::calls`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TlsCall {
    /// The library's session object (`SSL *`, `gnutls_session_t`).
    pub session: u64,
    /// The caller's plaintext buffer.
    pub buf: u64,
    /// The `size_t *` the `_ex` functions write the byte count through.
    pub out_len: u64,
    /// Stack pointer at entry: tells the return of this call from the
    /// returns of hooked functions it calls itself.
    pub sp: u64,
    /// Socket cookie of the last send or receive inside the call (socket
    /// mode); 0 before one.
    pub sock: u64,
    /// Socket fd of the last syscall made inside the call; -1 before one.
    pub fd: i32,
    /// `sensor_common::tls::OP_*` and `RET_*`.
    pub op: u8,
    pub ret_kind: u8,
    pub _pad: u16,
}

/// A TLS session of one process.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TlsSessionKey {
    pub pid: u32,
    pub _pad: u32,
    pub session: u64,
}

#[inline(always)]
pub fn count(index: u32, by: u64) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no other writer on this CPU while we run.
        unsafe { *slot += by };
    }
}

/// Submit flags for the ring buffer. Waking the agent for every record
/// costs the traced process a wake-up per syscall and the agent a context
/// switch per record; the agent polls on a short timer, so it is only woken
/// once enough is queued that waiting for the timer could risk the ring.
#[inline(always)]
pub fn ring_flags() -> u64 {
    let threshold = settings().map(|s| s.wakeup_bytes).unwrap_or(0);
    if EVENTS.query(u64::from(BPF_RB_AVAIL_DATA)) >= u64::from(threshold) {
        u64::from(BPF_RB_FORCE_WAKEUP)
    } else {
        u64::from(BPF_RB_NO_WAKEUP)
    }
}

/// True when the agent has fallen behind: a quarter of the ring unread
/// (twice the wake-up mark, an eighth).
#[inline(always)]
pub fn ring_under_pressure() -> bool {
    let wakeup = settings().map(|s| s.wakeup_bytes).unwrap_or(0);
    wakeup != 0 && EVENTS.query(u64::from(BPF_RB_AVAIL_DATA)) >= 2 * u64::from(wakeup)
}

#[inline(always)]
pub fn settings() -> Option<&'static Settings> {
    SETTINGS.get(0)
}
