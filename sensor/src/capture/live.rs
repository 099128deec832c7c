//! Live capture: picks the capture mode (socket-layer tracepoints, or the
//! syscall tracepoints where the kernel lacks them), loads the eBPF
//! programs, configures them, attaches that mode's tracepoints and the TLS
//! library probes, and reads the ring buffer without blocking the runtime.

use std::os::fd::AsRawFd;
use std::time::Instant;

use aya::maps::{Array, HashMap as BpfHashMap, Map, MapData, PerCpuArray};
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use sensor_common::tls::{FdLayout, GoStackLayout};
use sensor_common::{
    counter, ConnKey, ConnState, PendingIo, Settings, SockLayout, SockState, MAX_CAPTURE_LIMIT,
    STATE_IGNORED, TLS_GENERATION_BIT,
};
use tokio::io::{unix::AsyncFd, Interest};

use super::event::{decode, exec_pid, CaptureEvent, ConnId};
use super::inflight;
use super::mode::{CaptureMode, Mode};
use super::payloads::Payloads;
use super::ring::{Ring, RingError};
use super::socket;
use super::tls::{TlsConfig, TlsProbes, TlsStats};

/// Most record bytes decoded per batch, whatever the record cap: a batch is
/// copied out of the ring before the pipeline sees it, so this bounds the
/// agent's queue between the two. What stays in the ring waits for the
/// next batch; when the ring fills, the kernel drops and counts.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// The eBPF object built by sensor/build.rs.
pub(super) static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sensor"));

/// Tracepoints attached in both modes: a process's exit (its connections
/// and TLS calls end) and a thread's rename (the process filters judge it
/// again).
const PROCESS_TRACEPOINTS: &[(&str, &str)] =
    &[("sched", "sched_process_exit"), ("task", "task_rename")];

/// Syscall tracepoints attached in syscalls mode, as (category, program
/// and event name).
const SYSCALL_TRACEPOINTS: &[(&str, &str)] = &[
    ("syscalls", "sys_enter_close"),
    ("syscalls", "sys_enter_accept"),
    ("syscalls", "sys_exit_accept"),
    ("syscalls", "sys_enter_accept4"),
    ("syscalls", "sys_exit_accept4"),
    ("syscalls", "sys_enter_connect"),
    ("syscalls", "sys_exit_connect"),
    ("syscalls", "sys_enter_read"),
    ("syscalls", "sys_exit_read"),
    ("syscalls", "sys_enter_write"),
    ("syscalls", "sys_exit_write"),
    ("syscalls", "sys_enter_readv"),
    ("syscalls", "sys_exit_readv"),
    ("syscalls", "sys_enter_writev"),
    ("syscalls", "sys_exit_writev"),
    ("syscalls", "sys_enter_recvfrom"),
    ("syscalls", "sys_exit_recvfrom"),
    ("syscalls", "sys_enter_sendto"),
    ("syscalls", "sys_exit_sendto"),
    ("syscalls", "sys_enter_recvmsg"),
    ("syscalls", "sys_exit_recvmsg"),
    ("syscalls", "sys_enter_sendmsg"),
    ("syscalls", "sys_exit_sendmsg"),
    ("syscalls", "sys_enter_sendfile64"),
    ("syscalls", "sys_exit_sendfile64"),
];

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("this binary was built with AYA_BUILD_SKIP=1 and carries no eBPF programs; rebuild with `cargo xtask build`")]
    NoObject,
    #[error(
        "loading the eBPF programs failed (run as root, or with CAP_BPF and CAP_PERFMON): {0}"
    )]
    Load(#[from] aya::EbpfError),
    #[error("eBPF program or map `{0}` is missing from the object")]
    Missing(&'static str),
    #[error("eBPF program `{name}` could not be loaded or attached: {source}")]
    Program {
        name: &'static str,
        source: aya::programs::ProgramError,
    },
    #[error("eBPF map `{name}`: {source}")]
    Map {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("tracefs is not mounted at /sys/kernel/tracing and mounting it failed ({0}); mount it with `mount -t tracefs nodev /sys/kernel/tracing`")]
    Tracefs(std::io::Error),
    #[error("tracefs at {0} is mounted but this process may not read it: it lacks {1}; run as root or grant the capabilities deploy/systemd/sensor.service lists")]
    TracefsUnreadable(&'static str, String),
    #[error("eBPF map `EVENTS`: {0}")]
    Ring(#[from] RingError),
    #[error("ring buffer polling failed: {0}")]
    Poll(#[from] std::io::Error),
    #[error("TLS library probes: {0}")]
    Tls(#[from] super::tls::AttachError),
    #[error("[capture] mode = \"socket\" cannot run on this kernel: {0}; set mode = \"auto\" or \"syscalls\"")]
    SocketMode(String),
}

/// What the kernel side is told before it starts.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    pub capture_limit: u32,
    pub ring_bytes: u32,
    /// Capture only these pids (empty: all).
    pub pids: Vec<u32>,
    /// Capture only these process names (empty: all).
    pub comms: Vec<String>,
    /// Which TLS libraries get probes.
    pub tls: TlsConfig,
    /// Only connections with one of these local or remote ports (empty:
    /// all). Socket mode filters in the kernel; the agent filters too.
    pub ports: Vec<u16>,
    /// Which hooks capture (`[capture] mode`).
    pub mode: CaptureMode,
}

/// The kernel's per-connection table, by mode: per socket, or per (pid, fd).
enum ConnTable {
    Socket(BpfHashMap<MapData, u64, SockState>),
    Syscalls(BpfHashMap<MapData, ConnKey, ConnState>),
}

pub struct LiveCapture {
    // Dropping the Ebpf detaches every program: keep it for our lifetime.
    // New TLS libraries are attached through it as programs start.
    ebpf: Ebpf,
    tls: Option<TlsProbes>,
    ring: AsyncFd<Ring>,
    /// Where data records' bytes are copied before the record goes back.
    payloads: Payloads,
    counters: PerCpuArray<MapData, u64>,
    conns: ConnTable,
    /// The mode running.
    pub mode: Mode,
    /// Socket mode: closes held back for a late send (`close_hold`).
    closes: Option<socket::close_hold::CloseHold>,
    /// Records that did not decode (never expected; counted, not fatal).
    pub decode_errors: u64,
    /// Socket syscalls already blocked at start whose exit will be captured.
    pub resumed: u64,
}

impl LiveCapture {
    /// Loads, configures and attaches everything. When this returns, capture
    /// is live.
    pub fn start(options: &LiveOptions) -> Result<Self, LiveError> {
        if EBPF_OBJECT.is_empty() {
            return Err(LiveError::NoObject);
        }
        ensure_tracefs()?;
        let (mode, layout, fd_layout, go_stack) = choose_mode(options.mode)?;
        // Go's TLS probes find a socket's cookie through the file table,
        // and a pre-1.17 program's goroutine through the FS base.
        let go = options.tls.enabled && options.tls.go;
        let fd_layout = if go { fd_layout } else { FdLayout::default() };
        let go_stack = match (go, mode) {
            (false, _) => GoStackLayout::default(),
            (true, Mode::Socket) => go_stack,
            (true, Mode::Syscalls) => super::tls::fd_layout::go_stack_of_kernel(),
        };
        // The other mode's tables are never used: keep them tiny.
        let unused: &[&str] = match mode {
            Mode::Socket => &["CONNS", "PENDING_IO", "PENDING_CONN"],
            Mode::Syscalls => &["SOCKS", "ROLES"],
        };
        // The kernel's BTF takes about 10 MiB parsed, and the loader parses
        // its own copy: it is parsed again to attach, so that no two copies
        // are ever held at once (the sensor's peak memory).
        let mut loader = EbpfLoader::new();
        loader
            .map_max_entries("EVENTS", options.ring_bytes)
            .override_global("SOCK_LAYOUT", &layout, true)
            .override_global("FD_LAYOUT", &fd_layout, true)
            .override_global("GO_STACK_LAYOUT", &go_stack, true);
        for name in unused {
            loader.map_max_entries(name, UNUSED_TABLE_ENTRIES);
        }
        let mut ebpf = loader.load(EBPF_OBJECT)?;
        drop(loader);
        configure(&mut ebpf, options, mode)?;
        attach_tracepoints(&mut ebpf, PROCESS_TRACEPOINTS)?;
        match mode {
            Mode::Socket => attach_socket(&mut ebpf)?,
            Mode::Syscalls => attach_tracepoints(&mut ebpf, SYSCALL_TRACEPOINTS)?,
        }
        let tls = if options.tls.enabled {
            Some(TlsProbes::start(&mut ebpf, &options.tls)?)
        } else {
            None
        };
        // Socket mode needs no seeding: its tracepoints fire after the
        // bytes are copied, so a read blocked since before start-up is
        // seen when it returns.
        let resumed = match mode {
            Mode::Syscalls => seed_in_flight(&mut ebpf, options)?,
            Mode::Socket => 0,
        };
        // Every BTF parse is done: give its pages back before the ring
        // buffer's are mapped, or the two add up in the peak.
        super::heap::give_back_freed_memory();
        let ring = match take_map(&mut ebpf, "EVENTS")? {
            Map::RingBuf(data) => Ring::new(data)?,
            _ => return Err(RingError::NotARing.into()),
        };
        let counters =
            PerCpuArray::try_from(take_map(&mut ebpf, "COUNTERS")?).map_err(|source| {
                LiveError::Map {
                    name: "COUNTERS",
                    source,
                }
            })?;
        let conns = match mode {
            Mode::Socket => {
                ConnTable::Socket(BpfHashMap::try_from(take_map(&mut ebpf, "SOCKS")?).map_err(
                    |source| LiveError::Map {
                        name: "SOCKS",
                        source,
                    },
                )?)
            }
            Mode::Syscalls => {
                ConnTable::Syscalls(BpfHashMap::try_from(take_map(&mut ebpf, "CONNS")?).map_err(
                    |source| LiveError::Map {
                        name: "CONNS",
                        source,
                    },
                )?)
            }
        };
        // SAFETY: the AsyncFd owns the ring buffer, so its fd stays open
        // for as long as it is registered.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|err| LiveError::Poll(err.into()))?;
        Ok(Self {
            ebpf,
            tls,
            ring,
            payloads: Payloads::new(),
            counters,
            conns,
            mode,
            closes: (mode == Mode::Socket).then(Default::default),
            decode_errors: 0,
            resumed,
        })
    }

    /// Waits until the ring buffer has records, then decodes up to `max` of
    /// them into `out`.
    pub async fn next_batch(
        &mut self,
        out: &mut Vec<CaptureEvent>,
        max: usize,
    ) -> Result<(), LiveError> {
        let mut guard = self.ring.readable_mut().await?;
        let ring = guard.get_inner_mut();
        let mut drained = 0;
        let mut bytes = 0;
        let now = Instant::now();
        while drained < max && bytes < MAX_BATCH_BYTES {
            let Some(record) = ring.next_record() else {
                break;
            };
            drained += 1;
            bytes += record.len();
            hand_exec_to_tls(&mut self.tls, &record, now);
            match decode(&record, &mut self.payloads) {
                Ok(event) => route(&mut self.closes, event, now, out),
                Err(err) => {
                    self.decode_errors += 1;
                    tracing::debug!("skipping a ring buffer record: {err}");
                }
            }
        }
        if let Some(closes) = &mut self.closes {
            closes.release(Some(now), out);
        }
        if drained < max && bytes < MAX_BATCH_BYTES {
            guard.clear_ready();
        }
        drop(guard);
        self.attach_new_libraries();
        Ok(())
    }

    /// True while something is waiting on time rather than on the kernel:
    /// closes held back for a late send, or a program started lately whose
    /// TLS libraries discovery may still hand back. The agent then polls
    /// at its shortest interval.
    pub fn needs_prompt_polls(&self, now: Instant) -> bool {
        self.closes.as_ref().is_some_and(|c| !c.is_empty())
            || self.tls.as_ref().is_some_and(|t| t.discovering(now))
    }

    /// Attaches the TLS libraries found in processes started lately.
    fn attach_new_libraries(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.attach_found(&mut self.ebpf);
        }
    }

    /// What the TLS library probes did (all zero when they are off).
    pub fn tls_stats(&self) -> TlsStats {
        self.tls.as_ref().map(TlsProbes::stats).unwrap_or_default()
    }

    /// Decodes up to `max` records (and `MAX_BATCH_BYTES`) already in the
    /// ring buffer, without waiting. Bounded like `next_batch`: a producer
    /// faster than the agent must not grow the batch without end. True
    /// when a bound stopped it, so more may be waiting.
    pub fn drain_now(&mut self, out: &mut Vec<CaptureEvent>, max: usize) -> bool {
        let now = Instant::now();
        let ring = self.ring.get_mut();
        let (mut drained, mut bytes) = (0, 0);
        while drained < max && bytes < MAX_BATCH_BYTES {
            let Some(record) = ring.next_record() else {
                break;
            };
            drained += 1;
            bytes += record.len();
            hand_exec_to_tls(&mut self.tls, &record, now);
            match decode(&record, &mut self.payloads) {
                Ok(event) => route(&mut self.closes, event, now, out),
                Err(_) => self.decode_errors += 1,
            }
        }
        if let Some(closes) = &mut self.closes {
            closes.release(Some(now), out);
        }
        self.attach_new_libraries();
        drained >= max || bytes >= MAX_BATCH_BYTES
    }

    /// At shutdown: one bounded batch of what the ring holds, and once it
    /// is empty every close still held. True while more may be waiting.
    pub fn drain_final(&mut self, out: &mut Vec<CaptureEvent>, max: usize) -> bool {
        let more = self.drain_now(out, max);
        if !more {
            if let Some(closes) = &mut self.closes {
                closes.release(None, out);
            }
        }
        more
    }

    /// Kernel counters summed over CPUs, in `counter::NAMES` order.
    pub fn kernel_counters(&self) -> [u64; counter::COUNT as usize] {
        let mut out = [0u64; counter::COUNT as usize];
        for (index, slot) in out.iter_mut().enumerate() {
            if let Ok(values) = self.counters.get(&(index as u32), 0) {
                *slot = values.iter().sum();
            }
        }
        out
    }

    /// Tells the kernel to stop sending a connection (filtered out, or not a
    /// TCP socket after all).
    pub fn ignore(&mut self, conn: ConnId) {
        match &mut self.conns {
            ConnTable::Socket(socks) => {
                let cookie = conn.generation & !TLS_GENERATION_BIT;
                if let Ok(mut state) = socks.get(&cookie, 0) {
                    if state.generation == conn.generation {
                        state.state = STATE_IGNORED;
                        let _ = socks.insert(cookie, state, 0);
                    }
                }
            }
            ConnTable::Syscalls(conns) => {
                let key = ConnKey {
                    pid: conn.pid,
                    fd: conn.fd,
                };
                if let Ok(mut state) = conns.get(&key, 0) {
                    state.state = STATE_IGNORED;
                    let _ = conns.insert(key, state, 0);
                }
            }
        }
    }

    pub fn ring_fd(&self) -> i32 {
        self.ring.get_ref().as_raw_fd()
    }
}

fn route(
    closes: &mut Option<socket::close_hold::CloseHold>,
    event: CaptureEvent,
    now: Instant,
    out: &mut Vec<CaptureEvent>,
) {
    match closes {
        Some(closes) => closes.route(event, now, out),
        None => out.push(event),
    }
}

/// Exec records are for the TLS probes (a new program may map a TLS
/// library not attached yet) and, decoded, for the pipeline (the
/// program's path and user, kept for the process's records).
fn hand_exec_to_tls(tls: &mut Option<TlsProbes>, record: &[u8], now: Instant) {
    if let (Some(pid), Some(tls)) = (exec_pid(record), tls) {
        tls.process_started(pid, now);
    }
}

/// Entries of the tables the running mode does not use.
pub(super) const UNUSED_TABLE_ENTRIES: u32 = 64;

/// The mode to run and the struct layouts handed to the programs (all
/// zero in syscalls mode): the socket programs', and the one Go's TLS
/// probes follow from an fd to its socket (not ready when the kernel lacks
/// a field: Go HTTPS is then counted as without a socket, and a warning
/// says so).
/// The mode that will run and, for socket mode, the kernel offsets its
/// programs and the Go probes use (read from one parse of the BTF).
type Chosen = (Mode, SockLayout, FdLayout, GoStackLayout);

pub(super) fn choose_mode(wanted: CaptureMode) -> Result<Chosen, LiveError> {
    let syscalls = || {
        (
            Mode::Syscalls,
            SockLayout::default(),
            FdLayout::default(),
            GoStackLayout::default(),
        )
    };
    if wanted == CaptureMode::Syscalls {
        return Ok(syscalls());
    }
    let ready = Btf::from_sys_fs()
        .map_err(|err| format!("the kernel's BTF is not readable ({err})"))
        // Each parse is dropped before the next starts (peak memory).
        .and_then(|btf| match socket::unavailable(&btf) {
            Some(why) => Err(why),
            None => Ok(()),
        })
        .and_then(|()| {
            let data = std::fs::read(socket::VMLINUX_BTF)
                .map_err(|err| format!("reading {}: {err}", socket::VMLINUX_BTF))?;
            let types = socket::btf::Btf::parse(&data)
                .map_err(|err| format!("{}: {err}", socket::VMLINUX_BTF))?;
            let layout =
                socket::layout(&types).map_err(|err| format!("{}: {err}", socket::VMLINUX_BTF))?;
            let fd_layout = super::tls::fd_layout::from_btf(&types).unwrap_or_else(|err| {
                tracing::warn!(
                    "HTTPS of Go programs will not be captured in socket mode: {}: {err}",
                    socket::VMLINUX_BTF
                );
                FdLayout::default()
            });
            let go_stack = super::tls::fd_layout::go_stack_from_btf(&types).unwrap_or_else(|err| {
                tracing::warn!(
                    "HTTPS of Go programs built before Go 1.17 will not be captured: {}: {err}",
                    socket::VMLINUX_BTF
                );
                GoStackLayout::default()
            });
            Ok((layout, fd_layout, go_stack))
        });
    match (ready, wanted) {
        (Ok((layout, fd_layout, go_stack)), _) => Ok((Mode::Socket, layout, fd_layout, go_stack)),
        (Err(why), CaptureMode::Socket) => Err(LiveError::SocketMode(why)),
        (Err(why), _) => {
            tracing::info!(
                "capturing through syscall tracepoints (socket mode needs Linux 6.3): {why}"
            );
            Ok(syscalls())
        }
    }
}

pub(super) fn attach_tracepoints(
    ebpf: &mut Ebpf,
    list: &[(&'static str, &'static str)],
) -> Result<(), LiveError> {
    for &(category, name) in list {
        let program: &mut TracePoint = ebpf
            .program_mut(name)
            .ok_or(LiveError::Missing(name))?
            .try_into()
            .map_err(|source| LiveError::Program { name, source })?;
        program
            .load()
            .map_err(|source| LiveError::Program { name, source })?;
        program
            .attach(category, name)
            .map_err(|source| LiveError::Program { name, source })?;
    }
    Ok(())
}

pub(super) fn attach_socket(ebpf: &mut Ebpf) -> Result<(), LiveError> {
    let btf = Btf::from_sys_fs().map_err(|err| {
        LiveError::SocketMode(format!("the kernel's BTF is not readable ({err})"))
    })?;
    let btf = &btf;
    for &(name, tracepoint) in socket::PROGRAMS {
        let program: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .ok_or(LiveError::Missing(name))?
            .try_into()
            .map_err(|source| LiveError::Program { name, source })?;
        program
            .load(tracepoint, btf)
            .map_err(|source| LiveError::Program { name, source })?;
        program
            .attach()
            .map_err(|source| LiveError::Program { name, source })?;
    }
    Ok(())
}

/// Tracepoints are attached through tracefs. Hosts and containers do not
/// always mount it; the sensor runs as root (or with CAP_SYS_ADMIN), so it
/// mounts it where the kernel expects it.
fn ensure_tracefs() -> Result<(), LiveError> {
    for dir in [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ] {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            // Mounted, but 0700 root: not a mount problem, a privilege one.
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                let missing = super::privileges::missing();
                let lacks = if missing.is_empty() {
                    "read access".to_owned()
                } else {
                    missing.join(", ")
                };
                return Err(LiveError::TracefsUnreadable(dir, lacks));
            }
            _ => {}
        }
    }
    // SAFETY: the strings are NUL-terminated literals; no data argument.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(LiveError::Tracefs(std::io::Error::last_os_error()));
    }
    tracing::info!("mounted tracefs at /sys/kernel/tracing");
    Ok(())
}

/// Hands the kernel the arguments of socket syscalls that were blocked
/// before the programs existed (see `inflight`). Runs after attaching, so a
/// syscall that starts now is seen by its own enter.
fn seed_in_flight(ebpf: &mut Ebpf, options: &LiveOptions) -> Result<u64, LiveError> {
    let map = |source| LiveError::Map {
        name: "PENDING_IO",
        source,
    };
    let mut pending: BpfHashMap<_, u64, PendingIo> = BpfHashMap::try_from(
        ebpf.map_mut("PENDING_IO")
            .ok_or(LiveError::Missing("PENDING_IO"))?,
    )
    .map_err(map)?;
    let me = std::process::id();
    let blocked = inflight::scan(std::path::Path::new("/proc"), |pid, comm| {
        pid != me
            && (options.pids.is_empty() || options.pids.contains(&pid))
            && (options.comms.is_empty() || options.comms.iter().any(|c| comm_matches(c, comm)))
    });
    let mut seeded = 0;
    for thread in blocked {
        // BPF_NOEXIST: an entry there already came from a real enter.
        if pending.insert(thread.pid_tgid, thread.pending, 1).is_ok() {
            seeded += 1;
        }
    }
    Ok(seeded)
}

/// The kernel keeps 15 bytes of a process name.
fn comm_matches(configured: &str, comm: &str) -> bool {
    comm_key(configured) == comm_key(comm)
}

/// A process name as the kernel keeps it: 15 bytes and a NUL.
fn comm_key(name: &str) -> [u8; 16] {
    let mut key = [0u8; 16];
    let n = name.len().min(15);
    key[..n].copy_from_slice(&name.as_bytes()[..n]);
    key
}

fn take_map(ebpf: &mut Ebpf, name: &'static str) -> Result<aya::maps::Map, LiveError> {
    ebpf.take_map(name).ok_or(LiveError::Missing(name))
}

fn configure(ebpf: &mut Ebpf, options: &LiveOptions, mode: Mode) -> Result<(), LiveError> {
    let port_filter = mode == Mode::Socket && !options.ports.is_empty();
    let comm_keys: Vec<[u8; 16]> = options.comms.iter().map(|c| comm_key(c)).collect();
    let settings = Settings {
        capture_limit: options.capture_limit.min(MAX_CAPTURE_LIMIT),
        self_pid: std::process::id(),
        // An eighth of the ring: the agent's timed poll empties it long
        // before it fills, and a burst still wakes the agent early.
        wakeup_bytes: options.ring_bytes / 8,
        pid_filter: u8::from(!options.pids.is_empty()),
        comm_filter: u8::from(!comm_keys.is_empty()),
        tls: u8::from(options.tls.enabled),
        port_filter: u8::from(port_filter),
    };
    let map = |source| LiveError::Map {
        name: "SETTINGS",
        source,
    };
    let mut array: Array<_, Settings> = Array::try_from(
        ebpf.map_mut("SETTINGS")
            .ok_or(LiveError::Missing("SETTINGS"))?,
    )
    .map_err(map)?;
    array.set(0, settings, 0).map_err(map)?;
    let map = |source| LiveError::Map {
        name: "PID_FILTER",
        source,
    };
    let mut pids: BpfHashMap<_, u32, u8> = BpfHashMap::try_from(
        ebpf.map_mut("PID_FILTER")
            .ok_or(LiveError::Missing("PID_FILTER"))?,
    )
    .map_err(map)?;
    for pid in &options.pids {
        pids.insert(pid, 1, 0).map_err(map)?;
    }
    let map = |source| LiveError::Map {
        name: "COMM_FILTER",
        source,
    };
    let mut comms: BpfHashMap<_, [u8; 16], u8> = BpfHashMap::try_from(
        ebpf.map_mut("COMM_FILTER")
            .ok_or(LiveError::Missing("COMM_FILTER"))?,
    )
    .map_err(map)?;
    for key in &comm_keys {
        comms.insert(key, 1, 0).map_err(map)?;
    }
    if port_filter {
        let map = |source| LiveError::Map {
            name: "PORT_FILTER",
            source,
        };
        let mut ports: BpfHashMap<_, u16, u8> = BpfHashMap::try_from(
            ebpf.map_mut("PORT_FILTER")
                .ok_or(LiveError::Missing("PORT_FILTER"))?,
        )
        .map_err(map)?;
        for port in &options.ports {
            ports.insert(port, 1, 0).map_err(map)?;
        }
    }
    Ok(())
}
