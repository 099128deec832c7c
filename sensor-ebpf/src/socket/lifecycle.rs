//! `sock:inet_sock_set_state`: which side opened a TCP connection (the
//! server's socket is born in SYN_RECV, the client's enters SYN_SENT at
//! connect), and its close. Runs for TCP state changes only, often in
//! softirq context: no process is known here, so nothing is filtered.

use core::ffi::c_void;

use aya_ebpf::{
    helpers::generated::bpf_get_socket_cookie, macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use sensor_common::{ROLE_CLIENT, ROLE_SERVER};

use super::{kernel_read, layout, state};
use crate::maps::ROLES;

const TCP_SYN_SENT: i32 = 2;
const TCP_SYN_RECV: i32 = 3;
const TCP_CLOSE: i32 = 7;
const IPPROTO_TCP: u16 = 6;

#[btf_tracepoint(function = "inet_sock_set_state")]
pub fn inet_sock_set_state(ctx: BtfTracePointContext) -> i32 {
    let new_state: i32 = ctx.arg(2);
    let role = match new_state {
        TCP_SYN_SENT => ROLE_CLIENT,
        TCP_SYN_RECV => ROLE_SERVER,
        TCP_CLOSE => 0,
        _ => return 0,
    };
    let layout = layout();
    if layout.ready == 0 {
        return 0;
    }
    let sk: *mut c_void = ctx.arg(0);
    if kernel_read::<u16>(sk, layout.protocol) != Some(IPPROTO_TCP) {
        return 0;
    }
    // SAFETY: `sk` is the tracepoint's `struct sock *`.
    let cookie = unsafe { bpf_get_socket_cookie(sk) };
    if new_state == TCP_CLOSE {
        state::closed(cookie);
    } else {
        // LRU: a socket whose close was missed ages out.
        let _ = ROLES.insert(&cookie, &role, 0);
    }
    0
}
