//! The capture mode this kernel offers, and a trial of the eBPF programs
//! and of the HTTPS probes on the system's TLS libraries.

use super::host::{holds, lacking};
use super::Check;
use crate::capture::privileges::SYS_ADMIN;
use crate::capture::tls::trial::LibraryTrial;
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
    let trial = trial::run(config.capture.mode, config.capture.tls.uprobe_multi);
    out.push(load(&trial, capabilities));
    out.push(attach(&trial, capabilities));
    if !config.capture.tls.enabled {
        out.push(Check::pass(
            "HTTPS",
            "not captured: [capture.tls] enabled = false",
        ));
        return out;
    }
    if trial.libraries.is_empty() {
        out.push(Check::warn(
            "HTTPS libraries",
            "no OpenSSL, BoringSSL or GnuTLS library in the system library directories",
            "nothing to do if none is used; programs that link one statically are found as they start",
        ));
    }
    let required = config.capture.tls.required;
    out.extend(
        trial
            .libraries
            .iter()
            .map(|library| tls_library(library, &trial, capabilities, required)),
    );
    out
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
    let file = library.path.file_name().map_or_else(
        || library.path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let name = format!("HTTPS {file}");
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
    match &library.attach {
        None => {
            let why = if trial.load.is_none() {
                " (this binary carries no eBPF programs)".to_owned()
            } else {
                needs(capabilities, &[BPF, SYS_ADMIN])
            };
            Check::unknown(
                name,
                format!("{shown} defines {functions}; cannot tell whether the probes attach without the eBPF programs loaded{why}"),
            )
        }
        Some(Ok(())) => Check::pass(name, format!("{shown}: probes attach to {functions}")),
        Some(Err(err)) if err.is_permission_denied() => {
            let lacks = if holds(capabilities, SYS_ADMIN) {
                String::new()
            } else {
                " (this process lacks CAP_SYS_ADMIN)".to_owned()
            };
            let detail = format!(
                "{shown}: the kernel refuses the uprobes{lacks}: HTTPS through it will not be captured ({err})"
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
            format!("{shown}: the probes do not attach: {err}"),
            "exclude the file ([capture.tls] exclude) if it is not used, or report it",
        ),
    }
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
