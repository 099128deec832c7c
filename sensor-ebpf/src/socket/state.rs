//! Per-socket state, keyed by the socket cookie: the stream offsets, the
//! first bytes kept while they are judged, the addresses read from the
//! socket, and whether it is captured. A socket judged not HTTP is never
//! looked at again (one map lookup per send or receive) until it closes.

use core::ffi::c_void;

use aya_ebpf::bindings::BPF_RB_FORCE_WAKEUP;
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_ktime_get_ns};
use sensor_common::sniff::Verdict;
use sensor_common::{
    counter, CloseEvent, EventHeader, OpenEvent, SniffStart, SockLayout, SockState, AF_INET,
    AF_INET6, DIR_EGRESS, DIR_INGRESS, EVENT_CLOSE, EVENT_DATA, EVENT_OPEN, FLAG_DISCOVERED,
    FLAG_TLS, ROLE_CLIENT, ROLE_SERVER, ROLE_UNKNOWN, STATE_CAPTURING, STATE_IGNORED,
    STATE_SNIFFING, TLS_GENERATION_BIT,
};

use super::kernel_read;
use crate::capture::{self, Source};
use crate::maps::{self, CLOSED, EVENTS, PORT_FILTER, ROLES, SOCKS};
use crate::sniff::Outcome;

/// Kernel-only flag: the port filter left this socket out, so a TLS
/// library's plaintext does not revive it either.
pub const FLAG_PORT_FILTERED: u8 = 0x80;

/// Sniffs that may say "not HTTP" on a socket found mid-stream (opened
/// before the sensor) before it is ignored: its first bytes seen are not
/// the start of a message, the next send may be.
const MAX_ATTEMPTS: u8 = 8;

const IPPROTO_TCP: u16 = 6;
const SOCK_STREAM: u16 = 1;

/// The address family of `sk` when it is IPv4 or IPv6.
#[inline(always)]
pub fn inet_family(sk: *const c_void, layout: &SockLayout) -> Option<u16> {
    let family: u16 = kernel_read(sk, layout.family)?;
    (family == AF_INET || family == AF_INET6).then_some(family)
}

/// Starts following a socket first seen moving bytes: TCP only, its
/// addresses and its role (when its opening was seen), the port filter.
/// None when it is not a TCP socket (nothing is stored: the check is one
/// read) or the table refused it.
#[inline(always)]
pub fn create(
    sk: *const c_void,
    cookie: u64,
    family: u16,
    pid: u32,
    fd: i32,
    layout: &SockLayout,
) -> Option<*mut SockState> {
    let protocol: u16 = kernel_read(sk, layout.protocol)?;
    let sock_type: u16 = kernel_read(sk, layout.sock_type)?;
    if protocol != IPPROTO_TCP || sock_type != SOCK_STREAM {
        return None;
    }
    let mut state = SockState {
        generation: cookie,
        offsets: [0, 0],
        pid,
        fd,
        role: ROLE_UNKNOWN,
        state: STATE_SNIFFING,
        flags: 0,
        _pad: 0,
        family,
        local_port: kernel_read(sk, layout.num).unwrap_or(0),
        remote_port: u16::from_be(kernel_read(sk, layout.dport).unwrap_or(0)),
        tls_write: 0,
        sniff: SniffStart::default(),
        local_addr: [0; 16],
        remote_addr: [0; 16],
        run: sensor_common::DirectionRun::default(),
    };
    if family == AF_INET {
        let local: [u8; 4] = kernel_read(sk, layout.rcv_saddr).unwrap_or([0; 4]);
        let remote: [u8; 4] = kernel_read(sk, layout.daddr).unwrap_or([0; 4]);
        state.local_addr[..4].copy_from_slice(&local);
        state.remote_addr[..4].copy_from_slice(&remote);
    } else {
        state.local_addr = kernel_read(sk, layout.v6_rcv_saddr).unwrap_or([0; 16]);
        state.remote_addr = kernel_read(sk, layout.v6_daddr).unwrap_or([0; 16]);
    }
    // SAFETY: plain bytes; only presence matters.
    if let Some(role) = unsafe { ROLES.get(&cookie) } {
        state.role = *role;
        let _ = ROLES.remove(&cookie);
    }
    if maps::settings().is_some_and(|s| s.port_filter != 0)
        // SAFETY: as above.
        && unsafe { PORT_FILTER.get(&state.local_port) }.is_none()
        && unsafe { PORT_FILTER.get(&state.remote_port) }.is_none()
    {
        state.state = STATE_IGNORED;
        state.flags = FLAG_PORT_FILTERED;
        maps::count(counter::FILTERED_PORT_CONNECTIONS, 1);
    }
    if SOCKS.insert(&cookie, &state, 0).is_err() {
        maps::count(counter::CONN_TABLE_FULL, 1);
        return None;
    }
    SOCKS.get_ptr_mut(&cookie)
}

#[inline(always)]
pub fn header(kind: u8, state: &SockState, direction: u8) -> EventHeader {
    EventHeader {
        kind,
        direction,
        role: state.role,
        flags: state.flags & !(FLAG_PORT_FILTERED | crate::conn::FLAG_TLS_RECORDS),
        pid: state.pid,
        fd: state.fd,
        _pad: 0,
        // SAFETY: no preconditions.
        ts_ns: unsafe { bpf_ktime_get_ns() },
        generation: state.generation,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    }
}

/// Handles `moved` bytes in `direction` on a socket that is sniffing or
/// capturing: copies them, or judges the start of the stream.
#[inline(always)]
pub fn step(state: *mut SockState, direction: u8, source: Source, moved: u64) {
    // SAFETY: pointer into the SOCKS map value, valid for this run.
    let s = unsafe { &mut *state };
    match s.state {
        STATE_CAPTURING => {
            let header = header(EVENT_DATA, s, direction);
            capture::capture(header, &mut s.offsets, &mut s.run, direction, source, moved);
        }
        STATE_SNIFFING => sniff_step(s, direction, source, moved),
        _ => {}
    }
}

/// Judges the start of the stream with this send (see `crate::sniff`);
/// once it is HTTP, sends the bytes kept so far and this send's.
#[inline(always)]
fn sniff_step(s: &mut SockState, direction: u8, source: Source, moved: u64) {
    let dir = (direction & 1) as usize;
    match crate::sniff::step(&mut s.sniff, direction, source, moved) {
        Outcome::Undecided => s.offsets[dir] += moved,
        Outcome::NotHttp => {
            not_http(s);
            s.offsets[dir] += moved;
        }
        Outcome::Http { verdict, kept } => {
            if s.role == ROLE_UNKNOWN {
                s.flags |= FLAG_DISCOVERED;
                s.role = match (verdict, direction) {
                    (Verdict::Request, DIR_INGRESS) | (Verdict::Response, DIR_EGRESS) => {
                        ROLE_SERVER
                    }
                    _ => ROLE_CLIENT,
                };
            }
            s.state = STATE_CAPTURING;
            emit_open(s, direction);
            if kept > 0 {
                let at = s.offsets[dir] - kept;
                let header = header(EVENT_DATA, s, direction);
                capture::send_kept(header, direction, &s.sniff.bytes, kept, at);
            }
            s.sniff.len = 0;
            let header = header(EVENT_DATA, s, direction);
            capture::capture(header, &mut s.offsets, &mut s.run, direction, source, moved);
        }
    }
}

/// The bytes judged were not HTTP. A socket found mid-stream gets a few
/// more tries at later sends; any other is ignored for good.
#[inline(always)]
fn not_http(s: &mut SockState) {
    s.sniff.len = 0;
    if s.role == ROLE_UNKNOWN && s.sniff.attempts < MAX_ATTEMPTS {
        s.sniff.attempts += 1;
        return;
    }
    s.state = STATE_IGNORED;
    if crate::conn::tls_records(&s.sniff.bytes) {
        s.flags |= crate::conn::FLAG_TLS_RECORDS;
    }
    maps::count(counter::NOT_HTTP, 1);
}

/// Bytes of the send or receive during which the socket closed (see
/// `maps::CLOSED`): captured with the state it had, then forgotten. True
/// when `cookie` was such a socket.
#[inline(always)]
pub fn late(cookie: u64, direction: u8, source: Source, moved: u64) -> bool {
    let Some(ptr) = CLOSED.get_ptr_mut(&cookie) else {
        return false;
    };
    // SAFETY: pointer into the map value, valid for this run.
    if unsafe { (*ptr).flags } & FLAG_TLS == 0 {
        step(ptr, direction, source, moved);
    }
    let _ = CLOSED.remove(&cookie);
    true
}

/// The plaintext a TLS library moved on the socket `cookie`: the state to
/// capture it with, or None. The first plaintext restarts the socket's
/// stream as TLS (a new generation, offsets from zero); from then on the
/// socket's own bytes, ciphertext, are skipped.
#[inline(always)]
pub fn plaintext_state(cookie: u64) -> Option<*mut SockState> {
    let ptr = SOCKS.get_ptr_mut(&cookie)?;
    // SAFETY: pointer into the map value, valid for this program run.
    let s = unsafe { &mut *ptr };
    if s.flags & FLAG_PORT_FILTERED != 0 {
        return None;
    }
    if s.flags & FLAG_TLS == 0 {
        s.flags |= FLAG_TLS;
        s.generation |= TLS_GENERATION_BIT;
        s.offsets = [0, 0];
        s.run = sensor_common::DirectionRun::default();
        s.state = STATE_SNIFFING;
        s.sniff = SniffStart::default();
    }
    Some(ptr)
}

/// Tells the agent a connection is captured from now on, with both of
/// its addresses as the socket has them.
#[inline(always)]
fn emit_open(s: &SockState, direction: u8) {
    let event = OpenEvent {
        header: header(EVENT_OPEN, s, direction),
        family: s.family,
        port: s.remote_port,
        local_port: s.local_port,
        local_known: 1,
        _pad: 0,
        addr: s.remote_addr,
        local_addr: s.local_addr,
        listener_fd: -1,
        _pad2: 0,
    };
    // Opens are rare and start a connection the agent must set up: wake it.
    if EVENTS
        .output::<OpenEvent>(&event, u64::from(BPF_RB_FORCE_WAKEUP))
        .is_err()
    {
        maps::count(counter::RINGBUF_FULL, 1);
    }
}

/// The socket closed: forget it, and tell the agent when it was captured.
#[inline(always)]
pub fn closed(cookie: u64) {
    let _ = ROLES.remove(&cookie);
    // SAFETY: copy of the value before removal.
    let Some(state) = (unsafe { SOCKS.get(&cookie) }).copied() else {
        return;
    };
    let _ = SOCKS.remove(&cookie);
    if state.state == STATE_CAPTURING {
        let _ = CLOSED.insert(&cookie, &state, 0);
        let event = CloseEvent {
            header: header(EVENT_CLOSE, &state, DIR_INGRESS),
        };
        if EVENTS
            .output::<CloseEvent>(&event, maps::ring_flags())
            .is_err()
        {
            maps::count(counter::RINGBUF_FULL, 1);
        }
    }
}
