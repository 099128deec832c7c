//! The library functions the probes hook, and what the kernel side needs
//! to know about each (passed as the attachment's cookie).

use sensor_common::tls::{
    cookie, OP_HANDSHAKE, OP_READ, OP_WRITE, RET_EX, RET_INT, RET_SSIZE, TYPED_READ,
};

/// One hooked function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hook {
    pub symbol: &'static str,
    /// `sensor_common::tls::OP_*`.
    pub op: u8,
    /// `sensor_common::tls::RET_*`.
    pub ret: u8,
    /// `sensor_common::tls::TYPED_READ` or 0.
    pub flags: u64,
}

impl Hook {
    pub fn cookie(&self) -> u64 {
        cookie(self.op, self.ret) | self.flags
    }

    /// True for the functions that move plaintext (not the handshake).
    pub fn moves_data(&self) -> bool {
        self.op != OP_HANDSHAKE
    }
}

const fn hook(symbol: &'static str, op: u8, ret: u8) -> Hook {
    Hook {
        symbol,
        op,
        ret,
        flags: 0,
    }
}

/// OpenSSL 1.1 and 3 (BoringSSL exports the same names), then GnuTLS.
/// The handshake functions carry no data; their syscalls show the session's
/// socket before the first read, which the library may then serve from
/// its buffer without a syscall. `gnutls_record_send` jumps to
/// `gnutls_record_send2`; programs may call either, and the kernel side
/// reports a call nested in another hooked call once.
pub const HOOKS: &[Hook] = &[
    hook("SSL_read", OP_READ, RET_INT),
    hook("SSL_write", OP_WRITE, RET_INT),
    hook("SSL_read_ex", OP_READ, RET_EX),
    hook("SSL_write_ex", OP_WRITE, RET_EX),
    hook("SSL_do_handshake", OP_HANDSHAKE, RET_INT),
    hook("gnutls_record_recv", OP_READ, RET_SSIZE),
    hook("gnutls_record_send", OP_WRITE, RET_SSIZE),
    hook("gnutls_record_send2", OP_WRITE, RET_SSIZE),
    hook("gnutls_handshake", OP_HANDSHAKE, RET_INT),
];

/// OpenSSL 3's internal functions behind `SSL_read`/`SSL_read_ex` and
/// `SSL_write`/`SSL_write_ex` (and the SSL BIO), with `SSL_read_ex`'s
/// arguments and result. Not exported: `placement` finds them as the
/// callee of `SSL_read_ex` and `SSL_write_ex`, and probes them where the
/// kernel emulates their first instruction.
pub const OPENSSL_READ_INTERNAL: Hook = hook("ssl_read_internal", OP_READ, RET_EX);
pub const OPENSSL_WRITE_INTERNAL: Hook = hook("ssl_write_internal", OP_WRITE, RET_EX);

/// GnuTLS's internal function behind `gnutls_record_recv` (a tail call,
/// with the record type `GNUTLS_APPLICATION_DATA` added as its second
/// argument), which reads every record type: `_gnutls_recv_int(session,
/// type, data, size, seq, ms)`, returning what `gnutls_record_recv`
/// returns. Found as `placement` says.
pub const GNUTLS_RECV_INTERNAL: Hook = Hook {
    flags: TYPED_READ,
    ..hook("_gnutls_recv_int", OP_READ, RET_SSIZE)
};

/// Hooked functions that call another one of the same library, which is
/// then hooked too: (caller, callee). `gnutls_record_send` jumps to
/// `gnutls_record_send2`.
const CALLERS: [(&str, &str); 1] = [("gnutls_record_send", "gnutls_record_send2")];

/// True when `hook`'s plaintext may be captured at its entry, with no
/// return probe: it writes, and no hooked function runs inside it, so
/// that only one probe reports its bytes. Among the hooks of one file
/// (`file`), a caller of another keeps its return (the callee, captured at
/// entry, sees the caller in flight and leaves the bytes to its return);
/// the functions of a file that `wraps` another TLS library (imports a
/// hooked function, as GnuTLS's OpenSSL layer does) all keep theirs.
pub fn at_entry(hook: &Hook, file: &[&Hook], wraps: bool) -> bool {
    hook.op == OP_WRITE
        && !wraps
        && !CALLERS.iter().any(|(caller, callee)| {
            hook.symbol == *caller && file.iter().any(|h| h.symbol == *callee)
        })
}

/// The hook named `symbol`, if it is one.
pub fn by_symbol(symbol: &[u8]) -> Option<&'static Hook> {
    HOOKS.iter().find(|h| h.symbol.as_bytes() == symbol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_data_hook_has_a_known_return_kind_and_a_unique_name() {
        for (i, h) in HOOKS.iter().enumerate() {
            assert!([RET_INT, RET_SSIZE, RET_EX].contains(&h.ret), "{h:?}");
            assert!(HOOKS[i + 1..].iter().all(|o| o.symbol != h.symbol), "{h:?}");
            let c = h.cookie();
            assert_eq!(
                (sensor_common::tls::op(c), sensor_common::tls::ret(c)),
                (h.op, h.ret)
            );
        }
        assert_eq!(by_symbol(b"SSL_read_ex").unwrap().ret, RET_EX);
        assert!(by_symbol(b"SSL_readx").is_none());
    }

    #[test]
    fn only_writes_that_call_no_other_hook_are_captured_at_entry() {
        let h = |s: &str| by_symbol(s.as_bytes()).unwrap();
        let openssl = [h("SSL_read"), h("SSL_write"), h("SSL_do_handshake")];
        let gnutls = [h("gnutls_record_send"), h("gnutls_record_send2")];
        let cases: [(&Hook, &[&Hook], bool, bool); 9] = [
            (h("SSL_write"), &openssl, false, true),
            (h("SSL_write_ex"), &openssl, false, true),
            (&OPENSSL_WRITE_INTERNAL, &openssl, false, true),
            (h("SSL_read"), &openssl, false, false),
            (h("SSL_do_handshake"), &openssl, false, false),
            (h("gnutls_record_send2"), &gnutls, false, true),
            (h("gnutls_record_send"), &gnutls, false, false),
            (h("gnutls_record_send"), &gnutls[..1], false, true),
            (h("SSL_write"), &openssl, true, false),
        ];
        for (hook, file, wraps, want) in cases {
            assert_eq!(at_entry(hook, file, wraps), want, "{hook:?} wraps={wraps}");
        }
    }
}
