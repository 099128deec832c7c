//! Joins TLS plaintext to its socket's entry in the connection table.

use aya_ebpf::helpers::bpf_ktime_get_ns;
use sensor_common::{counter, ConnKey, ConnState, FLAG_TLS, STATE_CAPTURING, STATE_IGNORED};

use crate::conn::{self, Sniff};
use crate::maps::{self, CONNS};

/// The state to capture the plaintext of `key` with, or None to drop it.
/// The first plaintext turns the socket's entry into a TLS stream: from
/// then on the syscall hooks skip its ciphertext.
#[inline(always)]
pub fn plaintext_state(
    key: &ConnKey,
    direction: u8,
    first: &[u8; 8],
    len: u64,
) -> Option<*mut ConnState> {
    let Some(ptr) = CONNS.get_ptr_mut(key) else {
        // Never seen opened: a connection older than the sensor.
        return conn::discover(key, direction, first, len, FLAG_TLS);
    };
    // SAFETY: pointer into the map value, valid for this program run.
    let s = unsafe { &mut *ptr };
    if s.flags & FLAG_TLS != 0 {
        return if s.state == STATE_CAPTURING {
            Some(ptr)
        } else {
            None
        };
    }
    // Until now the socket was followed as plaintext: sniffing, ignored
    // because its first bytes were the handshake, or even capturing (HTTP
    // before a CONNECT tunnel). Its HTTP now comes from the library, as a
    // new stream (new generation, offsets from zero) with the role that
    // accept or connect gave it.
    s.flags |= FLAG_TLS;
    // SAFETY: no preconditions.
    s.generation = unsafe { bpf_ktime_get_ns() };
    s.offsets = [0, 0];
    s.run = sensor_common::DirectionRun::default();
    if conn::sniff(first, len) == Sniff::Other {
        // HTTP/2 or another protocol inside TLS.
        s.state = STATE_IGNORED;
        maps::count(counter::NOT_HTTP, 1);
        return None;
    }
    s.state = STATE_CAPTURING;
    conn::emit_open(key, s, direction);
    Some(ptr)
}
