//! New programs: the agent attaches the TLS libraries a process maps when
//! it has not seen those files before (a library already attached is
//! covered in every process that maps it).

use aya_ebpf::{
    bindings::BPF_RB_FORCE_WAKEUP,
    helpers::{bpf_get_current_pid_tgid, bpf_get_current_uid_gid, bpf_probe_read_kernel_str_bytes},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext as _,
};
use sensor_common::{
    counter, ConnKey, ConnState, ExecEvent, DIR_INGRESS, EVENT_EXEC, EXEC_FILENAME_MAX,
};

use crate::conn;
use crate::maps::{self, EVENTS};

/// Where `sched_process_exec`'s `filename` field (a `__data_loc`) sits.
const FILENAME_LOC_OFFSET: usize = 8;

#[tracepoint(category = "sched", name = "sched_process_exec")]
pub fn sched_process_exec(ctx: TracePointContext) {
    let id = bpf_get_current_pid_tgid();
    let pid = (id >> 32) as u32;
    if !conn::process_wanted(id) {
        return;
    }
    let state = ConnState::new(0, 0, 0, 0);
    let mut event = ExecEvent {
        header: conn::header(EVENT_EXEC, &ConnKey { pid, fd: -1 }, &state, DIR_INGRESS),
        uid: bpf_get_current_uid_gid() as u32,
        filename_len: 0,
        filename: [0; EXEC_FILENAME_MAX],
    };
    // The program's path: `__data_loc char[] filename` at offset 8 of the
    // tracepoint's record (its format file), low 16 bits the offset of
    // the string in the record.
    // SAFETY: reads inside the tracepoint's record.
    if let Ok(loc) = unsafe { ctx.read_at::<u32>(FILENAME_LOC_OFFSET) } {
        let at = (loc & 0xffff) as usize;
        // SAFETY: a kernel string read, bounded by the buffer.
        let src = unsafe { (ctx.as_ptr() as *const u8).add(at) };
        if let Ok(path) = unsafe { bpf_probe_read_kernel_str_bytes(src, &mut event.filename) } {
            event.filename_len = path.len() as u32;
        }
    }
    // Woken at once: the agent polls slowly while idle, and a new
    // program's TLS libraries must be attached before its first call.
    if EVENTS
        .output::<ExecEvent>(&event, u64::from(BPF_RB_FORCE_WAKEUP))
        .is_err()
    {
        maps::count(counter::RINGBUF_FULL, 1);
    }
}
