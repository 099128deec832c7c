//! Per-(pid, fd) state: which fds are sockets worth capturing, and the
//! stream offsets of each direction. An fd becomes `CAPTURING` when its
//! first bytes look like HTTP/1.x; anything else costs one map lookup.

use aya_ebpf::bindings::BPF_RB_FORCE_WAKEUP;
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use sensor_common::{
    counter, CloseEvent, ConnKey, ConnState, EventHeader, OpenEvent, DIR_EGRESS, DIR_INGRESS,
    EVENT_CLOSE, EVENT_OPEN, FLAG_DISCOVERED, ROLE_CLIENT, ROLE_SERVER, STATE_CAPTURING,
    STATE_IGNORED, STATE_SNIFFING,
};

use crate::maps::{self, COMM_FILTER, CONNS, EVENTS, PID_FILTER};

/// True when the current process is one the agent wants captured.
#[inline(always)]
pub fn process_wanted(pid: u32) -> bool {
    let Some(settings) = maps::settings() else {
        return false;
    };
    if pid == settings.self_pid {
        return false;
    }
    // SAFETY: map values are plain bytes; we only test presence.
    if settings.pid_filter != 0 && unsafe { PID_FILTER.get(&pid) }.is_none() {
        return false;
    }
    if settings.comm_filter != 0 {
        let comm = bpf_get_current_comm().unwrap_or([0; 16]);
        // SAFETY: as above.
        if unsafe { COMM_FILTER.get(&comm) }.is_none() {
            return false;
        }
    }
    true
}

#[inline(always)]
pub fn current_pid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

#[inline(always)]
pub fn header(kind: u8, key: &ConnKey, state: &ConnState, direction: u8) -> EventHeader {
    EventHeader {
        kind,
        direction,
        role: state.role,
        flags: state.flags,
        pid: key.pid,
        fd: key.fd,
        _pad: 0,
        ts_ns: unsafe { bpf_ktime_get_ns() },
        generation: state.generation,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    }
}

/// What the first bytes of a stream say.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    Request,
    Response,
    Other,
}

/// Classifies the first bytes of a stream: an HTTP/1.x method followed by a
/// space, `HTTP/1.`, the HTTP/2 client preface (`PRI *`), or the SETTINGS
/// frame an HTTP/2 server sends first (often before the client's preface
/// is read: nghttp and h2load read it first, nghttpd writes it first).
#[inline(always)]
pub fn sniff(b: &[u8; 8], len: u64) -> Sniff {
    if len < 4 {
        return Sniff::Other;
    }
    // SETTINGS: 24-bit length (a few 6-byte settings), type 4, no flags,
    // stream 0. The server's side of the connection, like a response.
    if len >= 9
        && b[0] == 0
        && b[1] == 0
        && b[2] % 6 == 0
        && b[2] <= 60
        && b[3] == 4
        && b[4] == 0
        && b[5] == 0
        && b[6] == 0
        && b[7] == 0
    {
        return Sniff::Response;
    }
    let head = [b[0], b[1], b[2], b[3]];
    let next = b[4];
    let request = match &head {
        b"GET " | b"PUT " => true,
        b"POST" | b"HEAD" => next == b' ',
        b"DELE" => next == b'T' && b[5] == b'E' && b[6] == b' ',
        b"PATC" => next == b'H',
        b"OPTI" => next == b'O',
        b"TRAC" => next == b'E',
        b"CONN" => next == b'E',
        b"PRI " => next == b'*', // the HTTP/2 client preface
        b"HTTP" => {
            return if next == b'/' && b[5] == b'1' && b[6] == b'.' {
                Sniff::Response
            } else {
                Sniff::Other
            };
        }
        _ => false,
    };
    if request {
        Sniff::Request
    } else {
        Sniff::Other
    }
}

/// Looks at the state of `key` and, for fds not yet capturing, at the first
/// bytes moved, and returns the state to capture with (or None to ignore).
#[inline(always)]
pub fn capturing_state(
    key: &ConnKey,
    direction: u8,
    first: &[u8; 8],
    len: u64,
) -> Option<*mut ConnState> {
    if let Some(state) = CONNS.get_ptr_mut(key) {
        // SAFETY: pointer into the map value, valid for this program run.
        let s = unsafe { &mut *state };
        match s.state {
            STATE_CAPTURING => return Some(state),
            STATE_IGNORED => return None,
            _ => {}
        }
        // STATE_SNIFFING: opened by accept/connect, first bytes decide.
        if sniff(first, len) == Sniff::Other {
            s.state = STATE_IGNORED;
            maps::count(counter::NOT_HTTP, 1);
            return None;
        }
        s.state = STATE_CAPTURING;
        emit_open(key, s, direction);
        return Some(state);
    }
    discover(key, direction, first, len, 0)
}

/// Starts capturing an fd never seen opened: a connection that predates
/// us, or not a socket at all. Only HTTP-looking bytes earn it an entry;
/// the agent checks /proc. `flags` are added to `FLAG_DISCOVERED`.
#[inline(always)]
pub fn discover(
    key: &ConnKey,
    direction: u8,
    first: &[u8; 8],
    len: u64,
    flags: u8,
) -> Option<*mut ConnState> {
    let role = match (sniff(first, len), direction) {
        (Sniff::Other, _) => return None,
        (Sniff::Request, DIR_INGRESS) | (Sniff::Response, DIR_EGRESS) => ROLE_SERVER,
        _ => ROLE_CLIENT,
    };
    let state = ConnState {
        generation: unsafe { bpf_ktime_get_ns() },
        offsets: [0, 0],
        role,
        state: STATE_CAPTURING,
        flags: FLAG_DISCOVERED | flags,
        _pad: 0,
        family: 0,
        port: 0,
        addr: [0; 16],
    };
    if CONNS.insert(key, &state, 0).is_err() {
        maps::count(counter::CONN_TABLE_FULL, 1);
        return None;
    }
    let ptr = CONNS.get_ptr_mut(key)?;
    emit_open(key, &state, direction);
    Some(ptr)
}

/// Starts tracking a socket seen at accept (server) or connect (client).
#[inline(always)]
pub fn track(key: &ConnKey, role: u8, family: u16, port: u16, addr: [u8; 16]) {
    let state = ConnState {
        generation: unsafe { bpf_ktime_get_ns() },
        offsets: [0, 0],
        role,
        state: STATE_SNIFFING,
        flags: 0,
        _pad: 0,
        family,
        port,
        addr,
    };
    if CONNS.insert(key, &state, 0).is_err() {
        maps::count(counter::CONN_TABLE_FULL, 1);
    }
}

/// Forgets `key`; tells the agent when it was being captured.
#[inline(always)]
pub fn untrack(key: &ConnKey) {
    // SAFETY: read-only copy of the value before removal.
    let Some(state) = (unsafe { CONNS.get(key) }).copied() else {
        return;
    };
    let _ = CONNS.remove(key);
    if state.state == STATE_CAPTURING {
        let event = CloseEvent {
            header: header(EVENT_CLOSE, key, &state, DIR_INGRESS),
        };
        if EVENTS
            .output::<CloseEvent>(&event, maps::ring_flags())
            .is_err()
        {
            maps::count(counter::RINGBUF_FULL, 1);
        }
    }
}

#[inline(always)]
pub fn emit_open(key: &ConnKey, state: &ConnState, direction: u8) {
    let event = OpenEvent {
        header: header(EVENT_OPEN, key, state, direction),
        family: state.family,
        port: state.port,
        _pad: 0,
        addr: state.addr,
    };
    // Always wake the agent: it reads the socket's addresses through the
    // process's fd table, which only works while the connection is open.
    let wake = u64::from(BPF_RB_FORCE_WAKEUP);
    if EVENTS.output::<OpenEvent>(&event, wake).is_err() {
        maps::count(counter::RINGBUF_FULL, 1);
    }
}
