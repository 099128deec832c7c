//! Which of the capabilities live capture needs this process lacks, so a
//! refusal names the missing capability instead of its symptom.

/// The capabilities live capture needs (as deploy/systemd/sensor.service
/// grants them), with their bit numbers in /proc/self/status.
const NEEDED: &[(u32, &str)] = &[
    (39, "CAP_BPF"),
    (38, "CAP_PERFMON"),
    (19, "CAP_SYS_PTRACE"),
    (2, "CAP_DAC_READ_SEARCH"),
];

/// Every capability the sensor uses, with why (as `sensor doctor` shows
/// them): the four live capture needs, then the one HTTPS capture needs
/// on kernels without uprobe_multi links.
pub const ALL: &[(u32, &str, &str)] = &[
    (
        39,
        "CAP_BPF",
        "load the eBPF programs and create their maps",
    ),
    (
        38,
        "CAP_PERFMON",
        "attach the tracing programs to tracepoints",
    ),
    (
        19,
        "CAP_SYS_PTRACE",
        "read other processes' sockets (pidfd_getfd) and their syscall state",
    ),
    (
        2,
        "CAP_DAC_READ_SEARCH",
        "read tracepoint ids under /sys/kernel/tracing",
    ),
    (
        21,
        "CAP_SYS_ADMIN",
        "attach the HTTPS uprobes where uprobe_multi links are not used (before Linux 6.6, or [capture.tls] uprobe_multi = false): perf_event_open refuses uprobes without it since Linux 6.16",
    ),
];

/// The bit of CAP_SYS_ADMIN: without it only the HTTPS probes are lost.
pub const SYS_ADMIN: u32 = 21;

/// This process's effective capability set, if /proc says.
pub fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

/// The needed capabilities missing from the effective set; empty when all
/// are there or the set cannot be read (then nothing is claimed).
pub fn missing() -> Vec<&'static str> {
    match effective() {
        Some(bits) => missing_from(bits),
        None => Vec::new(),
    }
}

fn missing_from(effective: u64) -> Vec<&'static str> {
    NEEDED
        .iter()
        .filter(|(bit, _)| effective & (1 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_the_effective_set_lacks() {
        assert!(missing_from(u64::MAX).is_empty());
        assert_eq!(missing_from(0).len(), NEEDED.len());
        let all_but_dac = (1 << 39) | (1 << 38) | (1 << 19);
        assert_eq!(missing_from(all_but_dac), vec!["CAP_DAC_READ_SEARCH"]);
    }
}
