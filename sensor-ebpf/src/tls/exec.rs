//! New programs: the agent attaches the TLS libraries a process maps when
//! it has not seen those files before (a library already attached is
//! covered in every process that maps it).

use aya_ebpf::{
    bindings::BPF_RB_FORCE_WAKEUP, helpers::bpf_get_current_pid_tgid, macros::tracepoint,
    programs::TracePointContext,
};
use sensor_common::{counter, ConnKey, ConnState, ExecEvent, DIR_INGRESS, EVENT_EXEC};

use crate::conn;
use crate::maps::{self, EVENTS};

#[tracepoint(category = "sched", name = "sched_process_exec")]
pub fn sched_process_exec(_ctx: TracePointContext) {
    let id = bpf_get_current_pid_tgid();
    let pid = (id >> 32) as u32;
    if !conn::process_wanted(id) {
        return;
    }
    let state = ConnState {
        generation: 0,
        offsets: [0, 0],
        role: 0,
        state: 0,
        flags: 0,
        _pad: 0,
        family: 0,
        port: 0,
        addr: [0; 16],
        sniff: sensor_common::SniffStart::default(),
        tls_write: 0,
        run: sensor_common::DirectionRun::default(),
    };
    let event = ExecEvent {
        header: conn::header(EVENT_EXEC, &ConnKey { pid, fd: -1 }, &state, DIR_INGRESS),
    };
    // Woken at once: the agent polls slowly while idle, and a new
    // program's TLS libraries must be attached before its first call.
    if EVENTS
        .output::<ExecEvent>(&event, u64::from(BPF_RB_FORCE_WAKEUP))
        .is_err()
    {
        maps::count(counter::RINGBUF_FULL, 1);
    }
}
