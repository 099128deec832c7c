//! Socket mode, the agent's side (the programs are in
//! sensor-ebpf/src/socket): whether the kernel has the socket-layer
//! tracepoints, where the fields the programs read sit in this kernel's
//! structs, and which programs to attach.

pub mod btf;
pub mod close_hold;

use sensor_common::SockLayout;

pub use btf::BtfError;

/// Where the kernel exports its own type information.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The typed tracepoints socket mode attaches, as (program, tracepoint).
pub const PROGRAMS: &[(&str, &str)] = &[
    ("inet_sock_set_state", "inet_sock_set_state"),
    ("sock_send_length", "sock_send_length"),
    ("sock_recv_length", "sock_recv_length"),
];

/// The offsets of the fields the programs read, from the kernel's BTF.
pub fn layout(btf: &btf::Btf) -> Result<SockLayout, BtfError> {
    // `struct sock` starts with its `sock_common`; the check keeps that
    // assumption honest.
    let common = btf.field_offset("sock", "__sk_common")?;
    let in_common = |field| btf.field_offset("sock_common", field).map(|o| o + common);
    Ok(SockLayout {
        ready: 1,
        family: in_common("skc_family")?,
        daddr: in_common("skc_daddr")?,
        rcv_saddr: in_common("skc_rcv_saddr")?,
        dport: in_common("skc_dport")?,
        num: in_common("skc_num")?,
        v6_daddr: in_common("skc_v6_daddr")?,
        v6_rcv_saddr: in_common("skc_v6_rcv_saddr")?,
        protocol: btf.field_offset("sock", "sk_protocol")?,
        sock_type: btf.field_offset("sock", "sk_type")?,
        task_flags: btf.field_offset("task_struct", "flags")?,
    })
}

/// Why socket mode cannot run here, or None when it can: the tracepoints
/// exist (Linux 6.3 and later) and the layout is readable.
pub fn unavailable(btf: &aya::Btf) -> Option<String> {
    if !cfg!(target_arch = "x86_64") {
        return Some(
            "socket mode reads x86-64 syscall registers; this is another architecture".into(),
        );
    }
    for (_, tracepoint) in PROGRAMS {
        let name = format!("btf_trace_{tracepoint}");
        if btf
            .id_by_type_name_kind(&name, aya_obj::btf::BtfKind::Typedef)
            .is_err()
        {
            return Some(format!(
                "the kernel has no `sock:{tracepoint}` tracepoint (it needs Linux 6.3 or later)"
            ));
        }
    }
    None
}
