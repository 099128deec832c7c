//! HTTPS plaintext: finds the files that define the TLS library functions
//! (OpenSSL 1.1 and 3, BoringSSL, GnuTLS; shared or linked statically into
//! a binary), Go programs' crypto/tls (`go`) and rustls in Rust programs
//! (`rustls`), and attaches the uprobes
//! of `sensor-ebpf/src/tls` to each file once. Files are found at start-up (every process's mappings, the system
//! library directories, `capture.tls.include`) and after every exec (the
//! new program's mappings, looked at a few times while it loads).
//!
//! Two halves: `discovery` examines files (ELF headers and string tables,
//! each file once, identified by device and inode) on its own thread after
//! start-up; `TlsProbes`, on the capture side, attaches what it hands over,
//! since the loaded programs live there. The channels between them are
//! bounded, and what does not fit is counted.

mod attach;
mod candidates;
pub mod config;
mod discovery;
pub mod fd_layout;
mod go;
mod go_itab;
mod go_layout;
mod go_pclntab;
mod go_stack_check;
mod hooks;
mod multi;
mod placement;
mod proc_maps;
mod rescan;
mod rustls;
mod section_scan;
mod symbols;
pub mod trial;

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aya::programs::TracePoint;
use aya::Ebpf;
use serde::Serialize;

pub use attach::AttachError;
pub use config::TlsConfig;

use discovery::{Discovery, DiscoveryCounters, Found};

/// Exec events waiting for the discovery thread.
const EXEC_QUEUE: usize = 4096;
/// Files found and waiting to be attached.
const FOUND_QUEUE: usize = 64;

/// The exec tracepoint that reports new programs.
const EXEC_TRACEPOINT: (&str, &str) = ("sched", "sched_process_exec");

/// What the TLS probes did, for the stats and metrics.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TlsStats {
    /// Library or binary files the probes are attached to.
    pub files_attached: u64,
    /// Files whose attachment failed (each is logged), all reasons.
    pub attach_failures: u64,
    /// Files not attached, by reason.
    pub files_not_attached: NotAttached,
    /// Files with TLS functions left alone because `capture.tls.exclude`
    /// matches them.
    pub files_excluded: u64,
    /// Files with TLS functions not attached because the limit was reached.
    pub files_over_limit: u64,
    /// Go programs whose crypto/tls the probes are attached to (also
    /// counted in `files_attached`).
    pub go_programs_attached: u64,
    /// Go programs using crypto/tls that cannot be probed: Go before
    /// 1.13, another architecture, a damaged function table (each is
    /// logged).
    pub go_programs_not_covered: u64,
    /// Programs linking rustls whose plaintext functions the probes are
    /// attached to (also counted in `files_attached`).
    pub rustls_programs_attached: u64,
    /// Programs linking rustls that cannot be probed: stripped of their
    /// symbol table, a function inlined, not x86-64 (each is logged).
    pub rustls_programs_not_covered: u64,
    /// Programs started (exec) handed to discovery.
    pub execs_seen: u64,
    /// Execs not looked at because a queue of new processes was full.
    pub execs_dropped: u64,
    /// Library functions probed at an instruction the kernel emulates
    /// (one breakpoint trap per call).
    pub probes_emulated: u64,
    /// Library functions probed at an instruction the kernel single-steps
    /// (a breakpoint and a debug trap per call: about twice the cost).
    pub probes_single_stepped: u64,
}

/// Why files with TLS functions were not attached (metrics
/// `sensor_tls_files_not_attached_<reason>_total`).
#[derive(Debug, Default, Clone, Serialize)]
pub struct NotAttached {
    /// The kernel refused the uprobe for want of privilege: the sensor
    /// lacks CAP_SYS_ADMIN where uprobe_multi links are not used.
    pub permission: u64,
    /// Any other attachment error.
    pub other: u64,
}

pub struct TlsProbes {
    /// Every attachment; dropping them detaches the probes (the kernel
    /// takes about a tenth of a second per probe, one after the other).
    links: Vec<attach::TlsLink>,
    /// The programs for uprobe_multi links, when the kernel takes them.
    multi: Option<multi::MultiPrograms>,
    execs: SyncSender<(u32, Instant)>,
    found: Receiver<Found>,
    counters: Arc<DiscoveryCounters>,
    stats: TlsStats,
    /// The Go programs loaded (a kernel may refuse them and keep the rest).
    go_loaded: bool,
    /// The rustls programs loaded, as the Go ones.
    rustls_loaded: bool,
    /// When the last program started: discovery may still be examining it.
    last_exec: Option<Instant>,
}

/// How long after an exec discovery may still hand back a file to attach.
const DISCOVERY_WINDOW: Duration = Duration::from_secs(1);

impl TlsProbes {
    /// Loads the programs, attaches the exec tracepoint and every TLS
    /// library found now, then leaves discovery to its thread. When this
    /// returns, processes already running are covered.
    pub fn start(ebpf: &mut Ebpf, config: &TlsConfig) -> Result<Self, AttachError> {
        attach::load(ebpf)?;
        let go_loaded = match attach::load_go(ebpf) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!("HTTPS of Go programs will not be captured: {err}");
                false
            }
        };
        let rustls_loaded = match attach::load_rustls(ebpf) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!("HTTPS of programs linking rustls will not be captured: {err}");
                false
            }
        };
        let multi = match config
            .uprobe_multi
            .then(|| attach::load_multi(ebpf, super::live::EBPF_OBJECT, go_loaded, rustls_loaded))
        {
            None => None,
            Some(Ok((programs, sessions_refused))) => {
                if let Some(err) = sessions_refused {
                    tracing::info!(
                        "TLS writes are captured at their return, and every TLS read keeps its return probe: the kernel does not take uprobe sessions (Linux 6.13 and later; {err})"
                    );
                }
                Some(programs)
            }
            Some(Err(err)) => {
                tracing::info!(
                    "TLS probes attach through perf_event_open, which needs CAP_SYS_ADMIN since Linux 6.16: uprobe_multi links are not available ({err})"
                );
                None
            }
        };
        attach_exec_tracepoint(ebpf)?;
        let counters = Arc::new(DiscoveryCounters::default());
        let mut discovery = Discovery::new(config, Arc::clone(&counters));
        let (execs_tx, execs_rx) = mpsc::sync_channel(EXEC_QUEUE);
        let (found_tx, found_rx) = mpsc::sync_channel(FOUND_QUEUE);
        let mut probes = Self {
            links: Vec::new(),
            multi,
            execs: execs_tx,
            found: found_rx,
            counters,
            stats: TlsStats::default(),
            go_loaded,
            rustls_loaded,
            last_exec: None,
        };
        for found in discovery.at_start() {
            probes.attach(ebpf, &found);
        }
        std::thread::Builder::new()
            .name("tls-discovery".to_owned())
            .spawn(move || discovery.run(execs_rx, found_tx))
            .map_err(AttachError::Thread)?;
        tracing::info!(
            "TLS probes attached to {} libraries or binaries",
            probes.stats.files_attached
        );
        Ok(probes)
    }

    /// Process `pid` started a new program (an exec event).
    pub fn process_started(&mut self, pid: u32, now: Instant) {
        self.stats.execs_seen += 1;
        self.last_exec = Some(now);
        match self.execs.try_send((pid, now)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.stats.execs_dropped += 1,
            // Discovery stopped (its thread panicked): nothing new is
            // attached, what is attached keeps working.
            Err(TrySendError::Disconnected(_)) => self.stats.execs_dropped += 1,
        }
    }

    /// True while discovery may still find something in a program started
    /// lately: the agent keeps polling promptly so that it is attached
    /// before the program's first HTTPS call.
    pub fn discovering(&self, now: Instant) -> bool {
        self.last_exec
            .is_some_and(|at| now.saturating_duration_since(at) < DISCOVERY_WINDOW)
    }

    /// Attaches what discovery found since the last call. Never waits.
    pub fn attach_found(&mut self, ebpf: &mut Ebpf) {
        while let Ok(found) = self.found.try_recv() {
            self.attach(ebpf, &found);
        }
    }

    pub fn stats(&self) -> TlsStats {
        let counted = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        TlsStats {
            files_excluded: counted(&self.counters.files_excluded),
            files_over_limit: counted(&self.counters.files_over_limit),
            execs_dropped: self.stats.execs_dropped + counted(&self.counters.rescans_dropped),
            go_programs_not_covered: counted(&self.counters.go_unsupported),
            rustls_programs_not_covered: counted(&self.counters.rustls_unsupported),
            ..self.stats.clone()
        }
    }

    fn attach(&mut self, ebpf: &mut Ebpf, found: &Found) {
        let path = &found.candidate.path;
        if let Some(rustls) = &found.rustls {
            self.attach_rustls(ebpf, found, rustls);
            return;
        }
        let attached = match &found.go {
            Some(_) if !self.go_loaded => {
                // Their load failure was logged once.
                self.stats.files_not_attached.other += 1;
                return;
            }
            Some(go) => {
                attach::attach_go(ebpf, self.multi.as_ref(), &found.candidate.open_path, go)
            }
            None => attach::attach_file(
                ebpf,
                self.multi.as_ref(),
                &found.candidate.open_path,
                &found.hooks,
            ),
        };
        match attached {
            Ok(links) => {
                self.links.extend(links);
                match &found.go {
                    Some(go) => {
                        tracing::info!(
                            "TLS probes attached to the Go program {} ({}, {}: crypto/tls Write, Read and {}, found in its {}; {})",
                            path.display(),
                            go.version,
                            go.abi.describe(),
                            go.read_capture.describe(),
                            go.found_in,
                            go.layout.describe()
                        );
                        self.stats.go_programs_attached += 1;
                    }
                    None => {
                        let names: Vec<&str> = found.hooks.iter().map(|h| h.hook.symbol).collect();
                        let stepped = found.hooks.iter().filter(|h| !h.emulated).count();
                        let at_entry = match &self.multi {
                            Some(m) if m.has_session(attach::WRITE_PROGRAM) => {
                                found.hooks.iter().filter(|h| h.at_entry).count()
                            }
                            _ => 0,
                        };
                        let reads = match &self.multi {
                            Some(m) if m.has_session(attach::READ_PROGRAM) => found
                                .hooks
                                .iter()
                                .filter(|h| h.hook.op == sensor_common::tls::OP_READ)
                                .count(),
                            _ => 0,
                        };
                        tracing::info!(
                            "TLS probes attached to {} ({}; {stepped} of {} at an instruction the kernel single-steps; {at_entry} writing functions captured at their entry; {reads} reading functions probed at their return only on sockets captured or not judged yet)",
                            path.display(),
                            names.join(", "),
                            names.len()
                        );
                        self.stats.probes_single_stepped += stepped as u64;
                        self.stats.probes_emulated += (names.len() - stepped) as u64;
                    }
                }
                self.stats.files_attached += 1;
            }
            Err(err) => self.attach_failed(path, &err),
        }
    }

    fn attach_rustls(&mut self, ebpf: &mut Ebpf, found: &Found, rustls: &rustls::RustlsProbes) {
        let path = &found.candidate.path;
        if !self.rustls_loaded {
            self.stats.files_not_attached.other += 1;
            return;
        }
        match attach::attach_rustls(
            ebpf,
            self.multi.as_ref(),
            &found.candidate.open_path,
            rustls,
        ) {
            Ok(links) => {
                self.links.extend(links);
                tracing::info!(
                    "TLS probes attached to the rustls program {} (Writer::write at {}, Writer::write_vectored at {}, Reader::read at {} and Reader::into_first_chunk with consume at {} places, their plaintext tied to the socket the thread sends or receives on next to them)",
                    path.display(),
                    rustls.writes.len(),
                    rustls.vectored_writes.len(),
                    rustls.reads.len(),
                    rustls.chunks.len().min(rustls.consumes.len())
                );
                self.stats.rustls_programs_attached += 1;
                self.stats.files_attached += 1;
            }
            Err(err) => self.attach_failed(path, &err),
        }
    }

    fn attach_failed(&mut self, path: &std::path::Path, err: &AttachError) {
        match err {
            err if err.is_permission_denied() => {
                tracing::warn!(
                    "HTTPS through {} will not be captured: the kernel refused the uprobe \
                     ({err}, permission denied); without uprobe_multi links (Linux 6.6 and \
                     later, [capture.tls] uprobe_multi) uprobes need CAP_SYS_ADMIN since \
                     Linux 6.16: grant it to capture HTTPS (see README, Deploying it)",
                    path.display()
                );
                self.stats.attach_failures += 1;
                self.stats.files_not_attached.permission += 1;
            }
            err => {
                tracing::warn!(
                    "HTTPS through {} will not be captured: {err}",
                    path.display()
                );
                self.stats.attach_failures += 1;
                self.stats.files_not_attached.other += 1;
            }
        }
    }
}

fn attach_exec_tracepoint(ebpf: &mut Ebpf) -> Result<(), AttachError> {
    let (category, name) = EXEC_TRACEPOINT;
    let program_error = |source| AttachError::Program {
        program: name,
        source,
    };
    let program: &mut TracePoint = ebpf
        .program_mut(name)
        .ok_or(AttachError::Missing(name))?
        .try_into()
        .map_err(program_error)?;
    program.load().map_err(program_error)?;
    program.attach(category, name).map_err(program_error)?;
    Ok(())
}
