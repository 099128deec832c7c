//! The capture mode this kernel offers, and a trial of the eBPF programs
//! and of the HTTPS probes on the system's TLS libraries.

use super::host::{holds, lacking};
use super::Check;
use crate::capture::privileges::SYS_ADMIN;
use crate::capture::tls::trial::{LibraryTrial, ProgramTrial, MAX_PROGRAMS};
use crate::capture::tls::AttachError;
use crate::capture::trial::{self, Trial};
use crate::capture::CaptureMode;
use crate::config::Config;

/// CAP_BPF: loading programs and creating maps.
const BPF: u32 = 39;
/// CAP_PERFMON and CAP_DAC_READ_SEARCH: attaching tracepoints.
const ATTACH: &[u32] = &[38, 2];

const GRANT: &str = "run as root, or grant the capabilities deploy/systemd/sensor.service lists";

pub fn checks(config: &Config, capabilities: Option<u64>) -> Vec<Check> {
    let mut out = vec![capture_mode(config.capture.mode)];
    let trial = trial::run(config.capture.mode, &config.capture.tls);
    out.push(load(&trial, capabilities));
    out.push(attach(&trial, capabilities));
    if !config.capture.tls.enabled {
        out.push(Check::pass(
            "HTTPS",
            "not captured: [capture.tls] enabled = false",
        ));
        return out;
    }
    if trial.tls.libraries.is_empty() {
        out.push(Check::warn(
            "HTTPS libraries",
            "no OpenSSL, BoringSSL or GnuTLS library in the system library directories",
            "nothing to do if none is used; programs that link one statically are found as they start",
        ));
    }
    let required = config.capture.tls.required;
    out.extend(
        trial
            .tls
            .libraries
            .iter()
            .map(|library| tls_library(library, &trial, capabilities, required)),
    );
    out.extend(
        trial
            .tls
            .programs
            .iter()
            .map(|program| tls_program(program, &trial, capabilities, required)),
    );
    out.push(programs_summary(&trial, config.capture.tls.go));
    out
}

/// What the running programs with TLS of their own came to.
fn programs_summary(trial: &Trial, go: bool) -> Check {
    let what = if go {
        "Go's crypto/tls, rustls, or an OpenSSL-style library linked in statically"
    } else {
        "rustls or an OpenSSL-style library linked in statically; Go programs are not looked at ([capture.tls] go = false)"
    };
    let shown = trial.tls.programs.len();
    let not_shown = trial.tls.programs_not_shown;
    let unreadable = trial.tls.processes_unreadable;
    if unreadable > 0 {
        return Check::warn(
            "HTTPS in programs",
            format!(
                "{shown} running programs found with TLS of their own ({what}), but the memory maps of {unreadable} processes cannot be read by this process: they were not looked at"
            ),
            "run as root, or with the unit's CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, as `sensor run` does",
        );
    }
    if not_shown > 0 {
        return Check::warn(
            "HTTPS in programs",
            format!(
                "{} running programs carry TLS of their own ({what}); the first {MAX_PROGRAMS} are above, {not_shown} more were not tried",
                shown + not_shown
            ),
            "the sensor attaches to each as it does to these: its log names each program attached or not covered",
        );
    }
    let detail = match shown {
        0 => format!("no running program carries TLS of its own ({what}); such programs are attached as they start"),
        n => format!("{n} running programs carry TLS of their own ({what}): above"),
    };
    Check::pass("HTTPS in programs", detail)
}

fn capture_mode(wanted: CaptureMode) -> Check {
    let unavailable = trial::socket_mode_unavailable();
    match (wanted, unavailable) {
        (CaptureMode::Syscalls, _) => Check::pass(
            "capture mode",
            "syscalls (configured): the syscall tracepoints",
        ),
        (_, None) => Check::pass(
            "capture mode",
            "socket: the kernel has the sock:sock_send_length/sock_recv_length tracepoints",
        ),
        (CaptureMode::Socket, Some(why)) => Check::fail(
            "capture mode",
            format!("socket (configured) is not available: {why}"),
            "set [capture] mode = \"auto\" to fall back to the syscall tracepoints",
        ),
        (CaptureMode::Auto, Some(why)) => Check::warn(
            "capture mode",
            format!("syscalls (socket mode is not available: {why})"),
            "Linux 6.3 or later gives socket mode, which costs the host far less",
        ),
    }
}

fn load(trial: &Trial, capabilities: Option<u64>) -> Check {
    match &trial.load {
        None => Check::unknown(
            "eBPF programs",
            "this binary carries no eBPF programs (built with AYA_BUILD_SKIP=1): cannot tell",
        ),
        Some(Ok(())) => Check::pass("eBPF programs", "the object loads (maps created)"),
        Some(Err(err)) => {
            let lacks = lacking(capabilities, &[BPF]);
            let detail = if lacks.is_empty() {
                format!("do not load: {err}")
            } else {
                format!(
                    "do not load: this process lacks {} ({err})",
                    lacks.join(", ")
                )
            };
            Check::fail("eBPF programs", detail, GRANT)
        }
    }
}

fn attach(trial: &Trial, capabilities: Option<u64>) -> Check {
    match &trial.mode {
        None => Check::unknown(
            "tracepoints",
            format!(
                "cannot tell without the eBPF programs loaded{}",
                needs(capabilities, &[BPF])
            ),
        ),
        Some(Ok(mode)) => Check::pass(
            "tracepoints",
            format!("{mode} mode's programs load and attach"),
        ),
        Some(Err(err)) => {
            let lacks = lacking(capabilities, ATTACH);
            let detail = if lacks.is_empty() {
                format!("do not attach: {err}")
            } else {
                format!(
                    "do not attach: this process lacks {} ({err})",
                    lacks.join(", ")
                )
            };
            Check::fail("tracepoints", detail, GRANT)
        }
    }
}

fn tls_library(
    library: &LibraryTrial,
    trial: &Trial,
    capabilities: Option<u64>,
    required: bool,
) -> Check {
    let name = https_check_name(&library.path);
    let shown = library.path.display();
    let functions = match &library.functions {
        Ok(functions) => functions.join(", "),
        Err(err) => {
            return Check::fail(
                name,
                format!("{shown}: cannot read its symbols: {err}"),
                "make the library readable by the sensor",
            )
        }
    };
    attach_check(
        name,
        format!("{shown} defines {functions}"),
        format!("{shown}: probes attach to {functions}"),
        library.attach.as_ref(),
        trial,
        capabilities,
        required,
    )
}

fn tls_program(
    program: &ProgramTrial,
    trial: &Trial,
    capabilities: Option<u64>,
    required: bool,
) -> Check {
    let name = https_check_name(&program.path);
    let shown = format!("{} (pid {})", program.path.display(), program.pid);
    let found = match &program.found {
        Ok(found) => found,
        Err(why) => {
            return Check::warn(
                name,
                format!("{shown}: HTTPS through it will not be captured: {why}"),
                "see the README's Go crypto/tls and rustls sections for the programs covered",
            )
        }
    };
    if program.excluded {
        return Check::pass(
            name,
            format!("{shown}: {found}; not attached: [capture.tls] exclude matches it"),
        );
    }
    attach_check(
        name,
        format!("{shown}: {found}"),
        format!("{shown}: probes attach to {found}"),
        program.attach.as_ref(),
        trial,
        capabilities,
        required,
    )
}

/// The check of one file's probe trial: `what` says what the file is,
/// `attached` what a pass says.
fn attach_check(
    name: String,
    what: String,
    attached: String,
    attach: Option<&Result<(), AttachError>>,
    trial: &Trial,
    capabilities: Option<u64>,
    required: bool,
) -> Check {
    match attach {
        None => {
            let why = if trial.load.is_none() {
                " (this binary carries no eBPF programs)".to_owned()
            } else {
                needs(capabilities, &[BPF, SYS_ADMIN])
            };
            Check::unknown(
                name,
                format!("{what}; cannot tell whether the probes attach without the eBPF programs loaded{why}"),
            )
        }
        Some(Ok(())) => Check::pass(name, attached),
        Some(Err(err)) if err.is_permission_denied() => {
            let lacks = if holds(capabilities, SYS_ADMIN) {
                String::new()
            } else {
                " (this process lacks CAP_SYS_ADMIN)".to_owned()
            };
            let detail = format!(
                "{what}: the kernel refuses the uprobes{lacks}: HTTPS through it will not be captured ({err})"
            );
            let fix = "grant CAP_SYS_ADMIN: without uprobe_multi links (Linux 6.6 and later, [capture.tls] uprobe_multi) uprobes need it since Linux 6.16";
            if required {
                Check::fail(name, detail, fix)
            } else {
                Check::warn(name, detail, fix)
            }
        }
        Some(Err(err)) => Check::fail(
            name,
            format!("{what}: the probes do not attach: {err}"),
            "exclude the file ([capture.tls] exclude) if it is not used, or report it",
        ),
    }
}

/// `HTTPS libssl.so.3`: a probed file's check, by its file name.
fn https_check_name(path: &std::path::Path) -> String {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    format!("HTTPS {file}")
}

/// ` (needs CAP_X, CAP_Y)` for the ones this process lacks, or nothing.
fn needs(capabilities: Option<u64>, bits: &[u32]) -> String {
    let lacks = lacking(capabilities, bits);
    if lacks.is_empty() {
        String::new()
    } else {
        format!(" (this process lacks {})", lacks.join(", "))
    }
}
