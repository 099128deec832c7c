//! Event structs and constants shared by the eBPF programs and the agent.
//!
//! Every struct here is `#[repr(C)]` and is the one definition both sides
//! compile against, so the kernel and user views of an event cannot drift.
#![cfg_attr(not(test), no_std)]

/// Payload bytes carried by one data event. A syscall larger than this is
/// sent as several events. Power of two: the eBPF side masks lengths with it.
pub const CHUNK_SIZE: usize = 16 * 1024;
/// Default bytes captured per syscall; the rest is reported as missed.
pub const DEFAULT_CAPTURE_LIMIT: u32 = 64 * 1024;
/// Upper bound for the configurable capture limit (bounded loop in eBPF).
pub const MAX_CAPTURE_LIMIT: u32 = 256 * 1024;
/// Steps of one syscall's copy walk: a chunk each, plus for every iovec
/// entry a step to reach it and one for a short chunk of its own.
pub const MAX_LOOP_STEPS: u32 = MAX_CAPTURE_LIMIT / CHUNK_SIZE as u32 + 2 * MAX_IOVECS as u32;
/// iovec entries walked per readv/writev/sendmsg/recvmsg: all of them
/// (the kernel's own limit, UIO_MAXIOV). gRPC clients write one request's
/// frames with about 30 entries; a header block missed there loses the
/// connection's HPACK table.
pub const MAX_IOVECS: usize = 1024;
/// Default ring buffer size in bytes (power of two, multiple of the page size).
pub const DEFAULT_RING_BYTES: u32 = 16 * 1024 * 1024;
/// Connections (pid, fd) the kernel tracks at once (LRU).
pub const MAX_TRACKED_FDS: u32 = 65536;

/// Event kinds (`EventHeader::kind`).
pub const EVENT_DATA: u8 = 1;
pub const EVENT_OPEN: u8 = 2;
pub const EVENT_CLOSE: u8 = 3;
pub const EVENT_PROCESS_EXIT: u8 = 4;
pub const EVENT_EXEC: u8 = 5;

/// Directions (`EventHeader::direction`), from the observed process.
pub const DIR_INGRESS: u8 = 0;
pub const DIR_EGRESS: u8 = 1;

/// Roles (`EventHeader::role`).
pub const ROLE_UNKNOWN: u8 = 0;
pub const ROLE_SERVER: u8 = 1;
pub const ROLE_CLIENT: u8 = 2;

/// `EventHeader::flags`: the connection was not seen being opened (it
/// predates the sensor, or its fd came from elsewhere); the agent resolves
/// it from /proc.
pub const FLAG_DISCOVERED: u8 = 1;
/// `EventHeader::flags`: the connection's bytes are the plaintext a TLS
/// library (OpenSSL, GnuTLS) handled; the socket itself carries ciphertext,
/// which is never captured.
pub const FLAG_TLS: u8 = 2;

/// `EventHeader::generation` bit of a socket-mode stream restarted as a TLS
/// library's plaintext; the rest is the socket cookie.
pub const TLS_GENERATION_BIT: u64 = 1 << 63;

/// Per-connection capture state kept in the kernel (`ConnState::state`,
/// `SockState::state`).
pub const STATE_SNIFFING: u8 = 0;
pub const STATE_CAPTURING: u8 = 1;
pub const STATE_IGNORED: u8 = 2;

/// Address families as the kernel spells them.
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// Indices into the `COUNTERS` per-CPU array.
pub mod counter {
    /// Events the ring buffer had no room for.
    pub const RINGBUF_FULL: u32 = 0;
    /// Bytes lost with those events.
    pub const RINGBUF_FULL_BYTES: u32 = 1;
    /// Syscalls that moved more than the capture limit.
    pub const TRUNCATED_SYSCALLS: u32 = 2;
    /// Bytes beyond the capture limit (or beyond `MAX_IOVECS`) not captured.
    pub const TRUNCATED_BYTES: u32 = 3;
    /// bpf_probe_read_user failures (unmapped or paged-out buffers).
    pub const READ_FAULTS: u32 = 4;
    /// Connections the kernel could not insert into its fd table.
    pub const CONN_TABLE_FULL: u32 = 5;
    /// Syscall entries whose arguments could not be stashed for the exit.
    pub const PENDING_TABLE_FULL: u32 = 6;
    /// Data events sent.
    pub const EVENTS_SENT: u32 = 7;
    /// Payload bytes sent.
    pub const BYTES_SENT: u32 = 8;
    /// Bytes moved by sendfile on captured connections (never captured).
    pub const SENDFILE_BYTES: u32 = 9;
    /// Connections whose first bytes were not HTTP.
    pub const NOT_HTTP: u32 = 10;
    /// TLS library reads and writes that moved plaintext.
    pub const TLS_CALLS: u32 = 11;
    /// Of those, calls whose socket was never seen (no syscall inside the
    /// call and none earlier on the same session): their bytes are lost.
    pub const TLS_CALLS_WITHOUT_FD: u32 = 12;
    /// Plaintext bytes lost with them.
    pub const TLS_BYTES_WITHOUT_FD: u32 = 13;
    /// Socket mode: bytes moved by sends and receives whose data was not
    /// in a user buffer the syscall names (splice, io_uring, kernel
    /// sockets, unknown syscalls) on captured connections: counted as a gap.
    pub const UNCOPYABLE_BYTES: u32 = 14;
    /// Socket mode: connections left alone in the kernel by the port filter.
    pub const FILTERED_PORT_CONNECTIONS: u32 = 15;
    /// Bytes not copied because the ring buffer was filling and they lay
    /// beyond `BULK_RUN_BYTES` of one direction's run (the body of a large
    /// message): bulk is shed before any message start is.
    pub const BULK_SHED_BYTES: u32 = 16;
    /// TLS library writes whose plaintext was captured at the function's
    /// entry, with no return probe (see `tls::AT_ENTRY`).
    pub const TLS_WRITES_AT_ENTRY: u32 = 17;
    /// Of those, retries of a write whose send found the socket's buffer
    /// full: their bytes were captured at the first try, not again.
    pub const TLS_WRITE_RETRIES: u32 = 18;
    /// TLS library reads whose return was not probed: their session's
    /// socket is known and not captured (muted, not HTTP, filtered out).
    pub const TLS_READS_NOT_FOLLOWED: u32 = 19;
    /// Number of counters.
    pub const COUNT: u32 = 20;
    /// Names, in index order, as the agent reports them.
    pub const NAMES: [&str; COUNT as usize] = [
        "ringbuf_full_events",
        "ringbuf_full_bytes",
        "truncated_syscalls",
        "truncated_bytes",
        "read_faults",
        "conn_table_full",
        "pending_table_full",
        "events_sent",
        "bytes_sent",
        "sendfile_bytes",
        "not_http_connections",
        "tls_calls",
        "tls_calls_without_fd",
        "tls_bytes_without_fd",
        "uncopyable_bytes",
        "filtered_port_connections",
        "bulk_shed_bytes",
        "tls_writes_at_entry",
        "tls_write_retries",
        "tls_reads_not_followed",
    ];
}

/// Common prefix of every event in the ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EventHeader {
    pub kind: u8,
    pub direction: u8,
    pub role: u8,
    pub flags: u8,
    /// Process id (thread group id).
    pub pid: u32,
    pub fd: i32,
    pub _pad: u32,
    /// CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
    /// When the kernel started tracking this (pid, fd): tells apart
    /// successive connections that reuse an fd number.
    pub generation: u64,
    pub comm: [u8; 16],
}

/// A chunk of a read or write on a captured connection. Only
/// `DATA_HEADER_LEN + chunk_len` bytes are sent through the ring buffer.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DataEvent {
    pub header: EventHeader,
    /// Offset of `data[0]` in this direction's byte stream.
    pub stream_offset: u64,
    /// Offset of the syscall's first byte in the stream.
    pub syscall_offset: u64,
    /// Bytes the syscall really moved (its return value).
    pub syscall_len: u32,
    /// Bytes of `data` that are valid.
    pub chunk_len: u32,
    pub data: [u8; CHUNK_SIZE],
}

/// Bytes of a `DataEvent` before its payload.
pub const DATA_HEADER_LEN: usize = core::mem::size_of::<DataEvent>() - CHUNK_SIZE;

/// A connection starts being captured: its role and the peer address the
/// kernel saw at accept/connect (family 0 when it saw none). In socket
/// mode both addresses come from the socket itself (`local_known` set).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OpenEvent {
    pub header: EventHeader,
    pub family: u16,
    /// Port in host byte order.
    pub port: u16,
    /// Port in host byte order of the local end, when `local_known`.
    pub local_port: u16,
    /// Non-zero: `local_addr` and `local_port` were read from the socket.
    pub local_known: u8,
    pub _pad: u8,
    /// IPv4 in the first four bytes, or IPv6.
    pub addr: [u8; 16],
    /// The local address, same family and layout as `addr`.
    pub local_addr: [u8; 16],
    /// Syscall mode, a connection seen at accept: the listening socket's
    /// fd, which still tells the local port once the connection's own fd
    /// is closed or reused. -1 otherwise.
    pub listener_fd: i32,
    pub _pad2: u32,
}

/// A captured connection was closed, or (kind `EVENT_PROCESS_EXIT`) a
/// process exited and all its connections with it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CloseEvent {
    pub header: EventHeader,
}

/// Bytes of an exec's program path kept (longer paths are cut).
pub const EXEC_FILENAME_MAX: usize = 128;

/// A process called execve: the agent looks for TLS libraries it maps,
/// and keeps the program's path and user for the process's records (a
/// short-lived client may be gone before the agent can read /proc).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecEvent {
    pub header: EventHeader,
    /// The real uid of the process.
    pub uid: u32,
    /// Bytes of `filename` used (without the NUL); 0 when unreadable.
    pub filename_len: u32,
    /// The program's path as given to execve (`bprm->filename`).
    pub filename: [u8; EXEC_FILENAME_MAX],
}

/// Per-(pid, fd) state in the kernel's connection table.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConnState {
    pub generation: u64,
    /// Next stream offset per direction (ingress, egress).
    pub offsets: [u64; 2],
    pub role: u8,
    pub state: u8,
    pub flags: u8,
    pub _pad: u8,
    pub family: u16,
    pub port: u16,
    pub addr: [u8; 16],
    /// The start of the stream while it is judged.
    pub sniff: SniffStart,
    /// TLS writes captured at entry (see `tls::AT_ENTRY`): the length of
    /// the last one, with `tls::WRITE_BLOCKED` once a send of it found
    /// the socket's buffer full. Kernel only.
    pub tls_write: u32,
    pub run: DirectionRun,
    /// The listening socket's fd of a connection seen at accept (syscall
    /// mode), for the open event; -1 otherwise.
    pub listener_fd: i32,
    pub _pad3: u32,
}

impl ConnState {
    /// A new entry: offsets at zero, nothing sniffed or written yet, no
    /// address (set `family`, `port`, `addr` on the result when known) and
    /// no listening socket.
    #[inline(always)]
    pub fn new(generation: u64, role: u8, state: u8, flags: u8) -> Self {
        Self {
            generation,
            offsets: [0, 0],
            role,
            state,
            flags,
            _pad: 0,
            family: 0,
            port: 0,
            addr: [0; 16],
            sniff: SniffStart::default(),
            tls_write: 0,
            run: DirectionRun::default(),
            listener_fd: -1,
            _pad3: 0,
        }
    }
}

/// Socket mode: per-socket state, keyed by the socket cookie (unique for
/// the socket's life, so a reused fd or a socket passed between processes
/// cannot mix two connections).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SockState {
    /// The socket cookie while sniffing; a fresh value when a TLS
    /// library's plaintext restarts the stream.
    pub generation: u64,
    /// Next stream offset per direction (ingress, egress).
    pub offsets: [u64; 2],
    /// The process and fd that first moved bytes on the socket: how the
    /// agent names the connection.
    pub pid: u32,
    pub fd: i32,
    pub role: u8,
    pub state: u8,
    pub flags: u8,
    pub _pad: u8,
    pub family: u16,
    pub local_port: u16,
    pub remote_port: u16,
    /// As `ConnState::tls_write`.
    pub tls_write: u16,
    /// The start of the stream while it is judged.
    pub sniff: SniffStart,
    pub local_addr: [u8; 16],
    pub remote_addr: [u8; 16],
    pub run: DirectionRun,
}

/// The bytes a connection moved in one direction since it last moved any
/// in the other: in HTTP/1.x a run is about one message (a request, then
/// its response). When the ring buffer fills, a run's bytes beyond
/// `BULK_RUN_BYTES` (a large body) are counted as a gap instead of copied,
/// so that bulk transfers cannot crowd out every other message's start.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectionRun {
    /// The stream offset, in `dir`, where the run began.
    pub start: u64,
    pub dir: u8,
    pub _pad: [u8; 7],
}

/// Bytes of a run always copied, whatever the ring's fill (see
/// `DirectionRun`): more than the agent's largest message head (64 KiB),
/// so shedding never cuts a head, only a body.
pub const BULK_RUN_BYTES: u64 = 256 * 1024;

/// The first bytes of a stream, kept across sends until they say whether
/// it is HTTP (`sniff::judge`): a request may start with `GET` alone.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SniffStart {
    pub bytes: [u8; 8],
    /// Bytes kept, all of the stream since the last judgement.
    pub len: u8,
    /// Their direction.
    pub dir: u8,
    /// Judgements that said "not HTTP" on a connection found mid-stream.
    pub attempts: u8,
    pub _pad: u8,
}

/// Socket mode: where the fields the programs read are in the running
/// kernel's structs, in bytes, worked out by the agent from
/// /sys/kernel/btf/vmlinux and handed over as the global `SOCK_LAYOUT`
/// (Rust eBPF gets no CO-RE relocations). `ready` is zero until set.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockLayout {
    pub ready: u32,
    /// `sock_common.skc_family` (u16).
    pub family: u32,
    /// `sock_common.skc_daddr`, `skc_rcv_saddr` (IPv4, network order).
    pub daddr: u32,
    pub rcv_saddr: u32,
    /// `sock_common.skc_dport` (network order), `skc_num` (host order).
    pub dport: u32,
    pub num: u32,
    /// `sock_common.skc_v6_daddr`, `skc_v6_rcv_saddr`.
    pub v6_daddr: u32,
    pub v6_rcv_saddr: u32,
    /// `sock.sk_protocol`, `sock.sk_type` (u16 each).
    pub protocol: u32,
    pub sock_type: u32,
    /// `task_struct.flags`: kernel threads and io_uring workers have no
    /// syscall of their own to read buffers from.
    pub task_flags: u32,
}

/// Key of the kernel's connection table.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnKey {
    pub pid: u32,
    pub fd: i32,
}

/// Capture settings written by the agent before attaching the programs.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Bytes captured per syscall (at most `MAX_CAPTURE_LIMIT`).
    pub capture_limit: u32,
    /// The agent's own pid: its I/O is never captured.
    pub self_pid: u32,
    /// Bytes queued in the ring buffer before the agent is woken; below it
    /// records wait for the agent's next timed poll.
    pub wakeup_bytes: u32,
    /// Non-zero: only pids in `PID_FILTER` are captured.
    pub pid_filter: u8,
    /// Non-zero: only process names in `COMM_FILTER` are captured.
    pub comm_filter: u8,
    /// Non-zero: TLS library probes are attached, so the syscall hooks
    /// check whether a syscall runs inside a TLS library call.
    pub tls: u8,
    /// Non-zero: only connections with a port in `PORT_FILTER` (socket
    /// mode; the syscall fallback filters ports in the agent).
    pub port_filter: u8,
}

/// What the TLS library probes need to know about the function they are
/// attached to, passed as the attachment's cookie: one entry and one return
/// program serve every hooked function.
pub mod tls {
    /// The function reads plaintext (`SSL_read`, `gnutls_record_recv`):
    /// the same value as the direction its bytes move in.
    pub const OP_READ: u8 = super::DIR_INGRESS;
    /// The function writes plaintext (`SSL_write`, `gnutls_record_send`).
    pub const OP_WRITE: u8 = super::DIR_EGRESS;
    /// The function runs the handshake: no plaintext, but its syscalls show
    /// which socket the session uses before any data moves.
    pub const OP_HANDSHAKE: u8 = 2;

    /// Returns an `int`: the bytes moved, or <= 0 (`SSL_read`).
    pub const RET_INT: u8 = 0;
    /// Returns an `ssize_t`: the bytes moved, or < 0 (`gnutls_record_recv`).
    pub const RET_SSIZE: u8 = 1;
    /// Returns 1 on success and writes the bytes moved through its fourth
    /// argument, a `size_t *` (`SSL_read_ex`).
    pub const RET_EX: u8 = 2;

    /// Cookie bit of a write function whose plaintext may be captured at
    /// its entry, where it already is in the buffer, with no return probe:
    /// the function calls no other hooked function. Set by the agent.
    pub const AT_ENTRY: u64 = 1 << 16;

    /// Cookie bit of a read function called for every TLS record content
    /// type, GnuTLS's `_gnutls_recv_int(session, type, data, size, ...)`
    /// (probed in place of `gnutls_record_recv`): its second argument is
    /// the content type, its third the buffer, and only a call for
    /// application data (`APPLICATION_DATA`) moves plaintext. Set by the
    /// agent.
    pub const TYPED_READ: u64 = 1 << 17;

    /// The TLS record content type of application data.
    pub const APPLICATION_DATA: u32 = 23;

    /// Longest write captured at entry: one TLS record's plaintext. A
    /// longer write may be sent in part (partial-write mode, GnuTLS), so
    /// only its return says how much went out.
    pub const MAX_AT_ENTRY: u64 = 16384;

    /// `tls_write` bit of a socket's state: a send of the write captured
    /// at entry found the buffer full (EAGAIN, EINTR). The library then
    /// returns "want write", and the caller must call it again with the
    /// same arguments: that retry's bytes are not captured again.
    pub const WRITE_BLOCKED: u32 = 0x8000;

    pub const fn cookie(op: u8, ret: u8) -> u64 {
        op as u64 | (ret as u64) << 8
    }

    pub const fn at_entry(cookie: u64) -> bool {
        cookie & AT_ENTRY != 0
    }

    pub const fn typed_read(cookie: u64) -> bool {
        cookie & TYPED_READ != 0
    }

    pub const fn op(cookie: u64) -> u8 {
        cookie as u8
    }

    pub const fn ret(cookie: u64) -> u8 {
        (cookie >> 8) as u8
    }

    /// Socket mode, Go's crypto/tls: the probes know a connection's file
    /// descriptor (from Go's own structs) and need the socket's cookie,
    /// found through the kernel's file table at these offsets (bytes, from
    /// /sys/kernel/btf/vmlinux), handed over as the global `FD_LAYOUT`.
    /// `ready` is zero until set (then Go plaintext in socket mode is
    /// counted as without a socket, never guessed).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct FdLayout {
        pub ready: u32,
        /// `task_struct.files`.
        pub task_files: u32,
        /// `files_struct.fdt`.
        pub files_fdt: u32,
        /// `fdtable.max_fds` (u32) and `fdtable.fd` (the `struct file *` array).
        pub fdt_max_fds: u32,
        pub fdt_fd: u32,
        /// `file.private_data` (a socket's `struct socket *`).
        pub file_private_data: u32,
        /// `socket.sk`.
        pub socket_sk: u32,
        /// `sock_common.skc_cookie` (`struct sock` starts with its `sock_common`).
        pub sk_cookie: u32,
    }

    /// Go before 1.17 (the stack ABI) keeps the running goroutine in
    /// thread-local storage, 8 bytes below the thread pointer (the FS
    /// base), not in a register: the probes find the FS base at this
    /// offset in `task_struct` (`thread.fsbase`, from BTF), handed over
    /// as the global `GO_STACK_LAYOUT`. `ready` is zero until set (then
    /// no stack-ABI Read is followed).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct GoStackLayout {
        pub ready: u32,
        /// `task_struct.thread` + `thread_struct.fsbase`.
        pub task_fsbase: u32,
    }
}

/// How the buffer argument of an I/O syscall is laid out.
pub const BUF_PLAIN: u8 = 0;
pub const BUF_IOVEC: u8 = 1;
pub const BUF_MSGHDR: u8 = 2;
pub const BUF_NONE: u8 = 3;

/// Arguments of an I/O syscall in flight, kept from sys_enter to sys_exit
/// (a read's data only exists at exit). The agent also writes these for
/// syscalls that were already blocked when the programs were attached.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PendingIo {
    pub fd: i32,
    /// One of the `BUF_*` layouts.
    pub layout: u8,
    pub direction: u8,
    pub _pad: u16,
    /// User pointer: the buffer, the iovec array, or the msghdr.
    pub buf: u64,
    /// iovec count for `BUF_IOVEC`.
    pub iovcnt: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data `#[repr(C)]` structs with explicit padding
    // fields; every bit pattern is a valid value.
    unsafe impl aya::Pod for super::ConnState {}
    unsafe impl aya::Pod for super::ConnKey {}
    unsafe impl aya::Pod for super::Settings {}
    unsafe impl aya::Pod for super::PendingIo {}
    unsafe impl aya::Pod for super::SockState {}
    unsafe impl aya::Pod for super::SockLayout {}
    unsafe impl aya::Pod for super::tls::FdLayout {}
    unsafe impl aya::Pod for super::tls::GoStackLayout {}
}

/// Whether the first bytes of a stream are HTTP, shared by every capture
/// path so that they agree. The start may arrive a byte at a time (a
/// client that sends `GET`, pauses, then the rest; a slowloris dribble):
/// `judge` then says `NeedMore` until the bytes so far can only be HTTP
/// or can no longer be.
pub mod sniff {
    /// What the bytes seen so far say.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Verdict {
        /// An HTTP/1.x request line, or the HTTP/2 connection preface.
        Request,
        /// An HTTP/1.x status line.
        Response,
        /// Not HTTP.
        Other,
        /// A prefix of something HTTP: wait for more bytes.
        NeedMore,
    }

    /// Bytes kept per stream while judging: enough for the longest token.
    pub const SNIFF_BYTES: usize = 8;

    /// Stream starts, each decided once all of its bytes are there. The
    /// HTTP/2 preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) is judged on
    /// its first eight bytes. Each is eight bytes as a little-endian word
    /// and its length: a comparison is one masked XOR, which keeps the
    /// eBPF verifier's path count small.
    const PATTERNS: [(u64, usize, Verdict); 11] = [
        (u64::from_le_bytes(*b"GET     "), 4, Verdict::Request),
        (u64::from_le_bytes(*b"PUT     "), 4, Verdict::Request),
        (u64::from_le_bytes(*b"POST    "), 5, Verdict::Request),
        (u64::from_le_bytes(*b"HEAD    "), 5, Verdict::Request),
        (u64::from_le_bytes(*b"PATCH   "), 6, Verdict::Request),
        (u64::from_le_bytes(*b"TRACE   "), 6, Verdict::Request),
        (u64::from_le_bytes(*b"DELETE  "), 7, Verdict::Request),
        (u64::from_le_bytes(*b"OPTIONS "), 8, Verdict::Request),
        (u64::from_le_bytes(*b"CONNECT "), 8, Verdict::Request),
        (u64::from_le_bytes(*b"PRI * HT"), 8, Verdict::Request),
        (u64::from_le_bytes(*b"HTTP/1. "), 7, Verdict::Response),
    ];

    /// An HTTP/2 SETTINGS frame header's first eight bytes, its length byte
    /// (the third) left out of the comparison.
    const SETTINGS: u64 = u64::from_le_bytes([0, 0, 0, 4, 0, 0, 0, 0]);

    /// Judges the first `len` bytes of `bytes` (at most `SNIFF_BYTES`).
    #[inline(always)]
    pub fn judge(bytes: &[u8; SNIFF_BYTES], len: usize) -> Verdict {
        if len == 0 {
            return Verdict::NeedMore;
        }
        let len = if len > SNIFF_BYTES { SNIFF_BYTES } else { len };
        let value = u64::from_le_bytes(*bytes);
        let mut need_more = false;
        // The SETTINGS frame an HTTP/2 server sends first (often before it
        // reads the client's preface): a 24-bit length of a few 6-byte
        // settings, type 4, no flags, stream 0. The server's side, like a
        // response.
        let n = len;
        let mask = if n >= SNIFF_BYTES {
            u64::MAX
        } else {
            (1u64 << (n * 8)) - 1
        };
        let settings_len = bytes[2];
        if (value ^ SETTINGS) & mask & !0x00ff_0000 == 0
            && (n < 3 || (settings_len.is_multiple_of(6) && settings_len <= 60))
        {
            if n >= SNIFF_BYTES {
                return Verdict::Response;
            }
            need_more = true;
        }
        let mut p = 0;
        while p < PATTERNS.len() {
            let (pattern, pattern_len, verdict) = PATTERNS[p];
            let n = if len < pattern_len { len } else { pattern_len };
            let mask = if n >= SNIFF_BYTES {
                u64::MAX
            } else {
                (1u64 << (n * 8)) - 1
            };
            if (value ^ pattern) & mask == 0 {
                if len >= pattern_len {
                    return verdict;
                }
                need_more = true;
            }
            p += 1;
        }
        if need_more {
            Verdict::NeedMore
        } else {
            Verdict::Other
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn of(text: &[u8]) -> Verdict {
            let mut bytes = [0u8; SNIFF_BYTES];
            let n = text.len().min(SNIFF_BYTES);
            bytes[..n].copy_from_slice(&text[..n]);
            judge(&bytes, n)
        }

        #[test]
        fn verdicts() {
            use Verdict::*;
            for (text, want) in [
                (&b"GET / HTTP/1.1"[..], Request),
                (b"GET ", Request),
                (b"GET", NeedMore),
                (b"G", NeedMore),
                (b"", NeedMore),
                (b"POST /x", Request),
                (b"POS", NeedMore),
                (b"P", NeedMore),
                (b"DELETE /a", Request),
                (b"DELET", NeedMore),
                (b"OPTIONS *", Request),
                (b"CONNECT h:443", Request),
                (b"PATCH /", Request),
                (b"HEAD /", Request),
                (b"TRACE /", Request),
                (b"HTTP/1.1 200 OK", Response),
                (b"HTTP/1.0", Response),
                (b"HTTP/2 200", Other),
                (b"HTTP", NeedMore),
                (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Request),
                (b"PRI *", NeedMore),
                (b"GETX", Other),
                (b"\x16\x03\x01\x02\x00", Other),
                (b"SSH-2.0-OpenSSH", Other),
                (b"get / HTTP/1.1", Other),
                (b"\x00\x00\x12\x04\x00\x00\x00\x00\x00", Response),
                (b"\x00\x00\x00\x04\x00\x00\x00\x00", Response),
                (b"\x00\x00\x12", NeedMore),
                (b"\x00\x00\x13\x04", Other),
                (b"\x00\x00\x12\x04\x01\x00\x00\x00", Other),
                (b"\x00\x01binary", Other),
            ] {
                assert_eq!(of(text), want, "{:?}", text);
            }
        }
    }
}
