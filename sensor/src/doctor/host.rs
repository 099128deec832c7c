//! The host's kernel, BTF, tracefs and this process's capabilities.

use std::io::ErrorKind;

use super::Check;
use crate::capture::privileges;
use crate::config::Config;

/// Ring buffers (5.8) are the oldest feature every mode needs.
const OLDEST_KERNEL: (u32, u32) = (5, 8);

const GRANT: &str = "run as root, or grant the capabilities deploy/systemd/sensor.service lists \
                     (AmbientCapabilities=; the DaemonSet's securityContext)";

/// This process's effective capabilities, if readable.
pub fn capabilities() -> Option<u64> {
    privileges::effective()
}

/// True when `bit` is in `capabilities` (unknown counts as held: nothing
/// is claimed missing that was not seen missing).
pub fn holds(capabilities: Option<u64>, bit: u32) -> bool {
    capabilities.is_none_or(|bits| bits & (1 << bit) != 0)
}

/// The named capabilities of `bits` missing from `capabilities`.
pub fn lacking(capabilities: Option<u64>, bits: &[u32]) -> Vec<&'static str> {
    privileges::ALL
        .iter()
        .filter(|(bit, _, _)| bits.contains(bit) && !holds(capabilities, *bit))
        .map(|(_, name, _)| *name)
        .collect()
}

/// The first kernel with uprobe_multi links.
const UPROBE_MULTI: (u32, u32) = (6, 6);

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn running_kernel() -> Option<(u32, u32)> {
    version(&release())
}

pub fn kernel() -> Check {
    let release = release();
    match version(&release) {
        Some(v) if v >= OLDEST_KERNEL => Check::pass("kernel", format!("Linux {release}")),
        Some(_) => Check::fail(
            "kernel",
            format!("Linux {release}: the sensor needs 5.8 or later (BPF ring buffers)"),
            "upgrade the kernel",
        ),
        None => Check::unknown("kernel", format!("cannot read the release ({release:?})")),
    }
}

/// `6.18.0-1-amd64` -> (6, 18).
fn version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

pub fn btf() -> Check {
    let path = crate::capture::socket::VMLINUX_BTF;
    match std::fs::metadata(path) {
        Ok(meta) => Check::pass(
            "BTF",
            format!("{path} ({} KiB)", meta.len() / 1024),
        ),
        Err(err) if err.kind() == ErrorKind::NotFound => Check::fail(
            "BTF",
            format!("{path} does not exist: the kernel was built without BTF"),
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution's since 2021)",
        ),
        Err(err) => Check::fail(
            "BTF",
            format!("{path}: {err}"),
            "make /sys/kernel/btf readable (a container needs /sys from the host)",
        ),
    }
}

pub fn tracefs(capabilities: Option<u64>) -> Check {
    for dir in [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ] {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {
                return Check::pass("tracefs", format!("{dir} readable"));
            }
            Err(err) if err.kind() == ErrorKind::PermissionDenied => {
                let lacks = lacking(capabilities, &[2]);
                let why = if lacks.is_empty() {
                    "this user may not read it".to_owned()
                } else {
                    format!("this process lacks {}", lacks.join(", "))
                };
                return Check::fail(
                    "tracefs",
                    format!("{dir} is mounted but not readable: {why}"),
                    GRANT,
                );
            }
            _ => {}
        }
    }
    if holds(capabilities, privileges::SYS_ADMIN) {
        Check::warn(
            "tracefs",
            "not mounted; `sensor run` mounts it at /sys/kernel/tracing (it holds CAP_SYS_ADMIN)",
            "or mount it first: `mount -t tracefs nodev /sys/kernel/tracing`",
        )
    } else {
        Check::fail(
            "tracefs",
            "not mounted, and this process may not mount it (no CAP_SYS_ADMIN)",
            "mount it: `mount -t tracefs nodev /sys/kernel/tracing` (systemd: sys-kernel-tracing.mount)",
        )
    }
}

/// One line per capability the sensor uses. Missing CAP_SYS_ADMIN only
/// loses HTTPS: a warning, or a failure when `[capture.tls] required`.
pub fn capability_checks(capabilities: Option<u64>, config: &Config) -> Vec<Check> {
    let Some(bits) = capabilities else {
        return vec![Check::unknown(
            "capabilities",
            "cannot read CapEff in /proc/self/status",
        )];
    };
    let https_wanted = config.capture.tls.enabled;
    privileges::ALL
        .iter()
        .map(|&(bit, name, why)| {
            if bits & (1 << bit) != 0 {
                return Check::pass(name, format!("held: {why}"));
            }
            if bit != privileges::SYS_ADMIN {
                return Check::fail(name, format!("missing: needed to {why}"), GRANT);
            }
            if config.capture.tls.uprobe_multi && running_kernel().is_some_and(|v| v >= UPROBE_MULTI)
            {
                return Check::pass(
                    name,
                    "not held; not needed: uprobe_multi links (Linux 6.6 and later) attach the HTTPS probes with CAP_BPF and CAP_PERFMON",
                );
            }
            let detail = format!("missing: needed to {why}; HTTPS will not be captured");
            match (https_wanted, config.capture.tls.required) {
                (false, _) => {
                    Check::pass(name, "not held; not needed: [capture.tls] enabled = false")
                }
                (true, true) => Check::fail(
                    name,
                    detail,
                    format!("{GRANT}; [capture.tls] required = true"),
                ),
                (true, false) => Check::warn(name, detail, GRANT),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases_parse() {
        assert_eq!(version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(version("5.8.0"), Some((5, 8)));
        assert_eq!(version("4.19.0+"), Some((4, 19)));
        assert_eq!(version("garbage"), None);
    }

    #[test]
    fn capabilities_are_named_by_what_they_are_for() {
        let config = Config::default();
        let all = capability_checks(Some(u64::MAX), &config);
        assert!(all.iter().all(|c| c.status == super::super::Status::Pass));
        // With uprobe_multi links (Linux 6.6 and later) HTTPS needs no
        // CAP_SYS_ADMIN.
        let none = capability_checks(Some(0), &config);
        let status = |name: &str| none.iter().find(|c| c.name == name).unwrap().status;
        assert_eq!(status("CAP_BPF"), super::super::Status::Fail);
        let expected = if running_kernel().is_some_and(|v| v >= UPROBE_MULTI) {
            super::super::Status::Pass
        } else {
            super::super::Status::Warn
        };
        assert_eq!(status("CAP_SYS_ADMIN"), expected);
        let mut perf = Config::default();
        perf.capture.tls.uprobe_multi = false;
        let none = capability_checks(Some(0), &perf);
        let status = |name: &str| none.iter().find(|c| c.name == name).unwrap().status;
        assert_eq!(status("CAP_SYS_ADMIN"), super::super::Status::Warn);
        let mut required = perf.clone();
        required.capture.tls.required = true;
        let none = capability_checks(Some(0), &required);
        assert_eq!(
            none.iter()
                .find(|c| c.name == "CAP_SYS_ADMIN")
                .unwrap()
                .status,
            super::super::Status::Fail
        );
        assert_eq!(
            lacking(Some(0), &[2, 39]),
            vec!["CAP_BPF", "CAP_DAC_READ_SEARCH"]
        );
        assert!(lacking(None, &[2]).is_empty());
    }
}
