//! A trial of the capture's kernel side, for `sensor doctor`: loads the
//! eBPF object with small tables, attaches the capture mode's programs and
//! the TLS probes to each system TLS library, then drops everything, which
//! detaches it. Nothing is configured and nothing is read: while attached,
//! the programs only fill tables that are thrown away.

use aya::{Ebpf, EbpfLoader};

use super::live::{self, LiveError, EBPF_OBJECT, UNUSED_TABLE_ENTRIES};
use super::mode::{CaptureMode, Mode};
use super::socket;
use super::tls::trial::{self as tls_trial, TlsTrial};
use super::tls::TlsConfig;

/// The ring buffer's size in the trial (nothing is ever written to it
/// for long: nobody reads it).
const TRIAL_RING_BYTES: u32 = 64 * 1024;

/// Tables shrunk for the trial.
const TABLES: &[&str] = &[
    "CONNS",
    "PENDING_IO",
    "PENDING_CONN",
    "SOCKS",
    "ROLES",
    "CLOSED",
    "TLS_CALLS",
    "TLS_SESSIONS",
];

/// The syscall tracepoint syscalls mode is tried with: one stands for the
/// others (they are attached the same way), and keeps the trial's cost on
/// the host's syscalls to one tracepoint for a moment.
const SYSCALLS_TRIAL: &[(&str, &str)] = &[("syscalls", "sys_enter_read")];

/// What the trial found.
pub struct Trial {
    /// The object loaded (maps created), or why not. `None`: this binary
    /// carries no eBPF object.
    pub load: Option<Result<(), String>>,
    /// The mode's programs loaded and attached (None: not tried, the
    /// object did not load).
    pub mode: Option<Result<Mode, String>>,
    /// The system TLS libraries and the running programs with TLS of
    /// their own, each with its attachment result.
    pub tls: TlsTrial,
}

/// Runs the trial. Never fails: each part says what happened. The TLS
/// probes are tried as `tls` makes `sensor run` attach them (uprobe_multi
/// links first, Go programs, excluded files).
pub fn run(wanted: CaptureMode, tls: &TlsConfig) -> Trial {
    if EBPF_OBJECT.is_empty() {
        return Trial {
            load: None,
            mode: None,
            tls: tls_trial::run(None, tls),
        };
    }
    let mut ebpf = match load() {
        Ok(ebpf) => ebpf,
        Err(err) => {
            return Trial {
                load: Some(Err(err.to_string())),
                mode: None,
                tls: tls_trial::run(None, tls),
            }
        }
    };
    let mode = attach_mode(&mut ebpf, wanted).map_err(|err| err.to_string());
    let tls = tls_trial::run(Some(&mut ebpf), tls);
    Trial {
        load: Some(Ok(())),
        mode: Some(mode),
        tls,
    }
}

fn load() -> Result<Ebpf, LiveError> {
    let mut loader = EbpfLoader::new();
    loader.map_max_entries("EVENTS", TRIAL_RING_BYTES);
    for name in TABLES {
        loader.map_max_entries(name, UNUSED_TABLE_ENTRIES);
    }
    Ok(loader.load(EBPF_OBJECT)?)
}

fn attach_mode(ebpf: &mut Ebpf, wanted: CaptureMode) -> Result<Mode, LiveError> {
    let (mode, ..) = live::choose_mode(wanted)?;
    match mode {
        Mode::Socket => live::attach_socket(ebpf)?,
        Mode::Syscalls => live::attach_tracepoints(ebpf, SYSCALLS_TRIAL)?,
    }
    Ok(mode)
}

/// Why socket mode cannot run on this kernel, or None when it can; from
/// the kernel's BTF alone (no privilege needed).
pub fn socket_mode_unavailable() -> Option<String> {
    match aya::Btf::from_sys_fs() {
        Ok(btf) => socket::unavailable(&btf),
        Err(err) => Some(format!("the kernel's BTF is not readable ({err})")),
    }
}
