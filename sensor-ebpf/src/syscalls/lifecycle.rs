//! Connection lifecycle: accept/accept4 (server side), connect (client
//! side), close, and process exit.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::tracepoint,
    programs::TracePointContext,
};
use sensor_common::{
    counter, CloseEvent, ConnKey, ConnState, AF_INET, AF_INET6, DIR_INGRESS, EVENT_PROCESS_EXIT,
    ROLE_CLIENT, ROLE_SERVER, ROLE_UNKNOWN, STATE_CAPTURING,
};

use super::{arg, ret};
use crate::conn;
use crate::maps::{self, PendingConn, EVENTS, PENDING_CONN};
use crate::tls;

const EINPROGRESS: i64 = 115;

#[inline(always)]
fn enter(ctx: &TracePointContext, role: u8) {
    let id = bpf_get_current_pid_tgid();
    if !conn::process_wanted(id) {
        return;
    }
    let pending = PendingConn {
        fd: arg(ctx, 0) as i32,
        role,
        _pad: [0; 3],
        addr: arg(ctx, 1),
    };
    if PENDING_CONN.insert(&id, &pending, 0).is_err() {
        maps::count(counter::PENDING_TABLE_FULL, 1);
    }
}

#[inline(always)]
fn exit(ctx: &TracePointContext) {
    let id = bpf_get_current_pid_tgid();
    // SAFETY: copy out of the map value before removing it.
    let Some(pending) = (unsafe { PENDING_CONN.get(&id) }).copied() else {
        return;
    };
    let _ = PENDING_CONN.remove(&id);
    let result = ret(ctx);
    // accept's first argument is the listening socket, connect's the
    // connection's own.
    let (fd, listener_fd) = match pending.role {
        ROLE_SERVER if result >= 0 => (result as i32, pending.fd),
        ROLE_CLIENT if result == 0 || result == -EINPROGRESS => (pending.fd, -1),
        _ => return,
    };
    let (family, port, addr) = peer_address(pending.addr);
    // accept(fd, NULL, NULL) gives no address (family 0): track it anyway,
    // the agent reads it from /proc. Other families (unix) are not TCP.
    if family != 0 && family != AF_INET && family != AF_INET6 {
        return;
    }
    conn::track(
        &ConnKey {
            pid: (id >> 32) as u32,
            fd,
        },
        pending.role,
        family,
        port,
        addr,
        listener_fd,
    );
}

/// Reads a user `sockaddr_in`/`sockaddr_in6`: (family, port, address).
#[inline(always)]
fn peer_address(ptr: u64) -> (u16, u16, [u8; 16]) {
    let mut addr = [0u8; 16];
    if ptr == 0 {
        return (0, 0, addr);
    }
    // SAFETY: user pointers read through the fault-safe helper.
    let Ok(family) = (unsafe { bpf_probe_read_user(ptr as *const u16) }) else {
        return (0, 0, addr);
    };
    let port = unsafe { bpf_probe_read_user((ptr + 2) as *const u16) }.unwrap_or(0);
    match family {
        AF_INET => {
            if let Ok(v4) = unsafe { bpf_probe_read_user((ptr + 4) as *const [u8; 4]) } {
                addr[..4].copy_from_slice(&v4);
            }
        }
        AF_INET6 => {
            if let Ok(v6) = unsafe { bpf_probe_read_user((ptr + 8) as *const [u8; 16]) } {
                addr = v6;
            }
        }
        _ => {}
    }
    (family, u16::from_be(port), addr)
}

#[tracepoint(category = "syscalls", name = "sys_enter_accept")]
pub fn sys_enter_accept(ctx: TracePointContext) {
    enter(&ctx, ROLE_SERVER)
}
#[tracepoint(category = "syscalls", name = "sys_exit_accept")]
pub fn sys_exit_accept(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_accept4")]
pub fn sys_enter_accept4(ctx: TracePointContext) {
    enter(&ctx, ROLE_SERVER)
}
#[tracepoint(category = "syscalls", name = "sys_exit_accept4")]
pub fn sys_exit_accept4(ctx: TracePointContext) {
    exit(&ctx)
}
#[tracepoint(category = "syscalls", name = "sys_enter_connect")]
pub fn sys_enter_connect(ctx: TracePointContext) {
    enter(&ctx, ROLE_CLIENT)
}
#[tracepoint(category = "syscalls", name = "sys_exit_connect")]
pub fn sys_exit_connect(ctx: TracePointContext) {
    exit(&ctx)
}

#[tracepoint(category = "syscalls", name = "sys_enter_close")]
pub fn sys_enter_close(ctx: TracePointContext) {
    let pid = conn::current_pid();
    conn::untrack(&ConnKey {
        pid,
        fd: arg(&ctx, 0) as i32,
    });
}

/// A thread exits. When it is the whole process (its main thread exits
/// last in the common case), the agent closes every connection of that pid.
#[tracepoint(category = "sched", name = "sched_process_exit")]
pub fn sched_process_exit(_ctx: TracePointContext) {
    let id = bpf_get_current_pid_tgid();
    // Fires for every thread: one that dies inside a TLS library call
    // never returns from it.
    tls::calls::forget_thread(id);
    conn::verdict::forget(id & 0xffff_ffff);
    if (id >> 32) as u32 != id as u32 {
        return;
    }
    let state = ConnState::new(0, ROLE_UNKNOWN, STATE_CAPTURING, 0);
    let key = ConnKey {
        pid: (id >> 32) as u32,
        fd: -1,
    };
    let event = CloseEvent {
        header: conn::header(EVENT_PROCESS_EXIT, &key, &state, DIR_INGRESS),
    };
    if EVENTS
        .output::<CloseEvent>(&event, maps::ring_flags())
        .is_err()
    {
        maps::count(counter::RINGBUF_FULL, 1);
    }
}
