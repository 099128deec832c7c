//! Findings of header values seen before. What a header yields depends
//! only on its message, its name, its value and whether the connection is
//! TLS (Basic credentials count over plaintext only), so a
//! `Server: nginx/1.25.3` banner is read, fingerprinted and masked once per
//! distinct value instead of once per response. Allowlists depend on the
//! endpoint and are applied after the memo, on every exchange.
//!
//! Headers are known by two independent keyed 64-bit hashes of (message,
//! TLS, name, value), not by their bytes: the memo never keeps a raw
//! value (a Basic credential, a cookie) past its exchange, and two headers
//! are confused only if both hashes collide.
//!
//! Bounded: only values up to `MAX_VALUE` bytes are kept, at most
//! `MAX_ENTRIES` of them; when full the memo starts over. Only headers that
//! yielded something are kept, so clean headers with ever-changing values
//! (dates, request ids) do not churn it.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex};

use super::fingerprint::Hex;
use super::types::Message;

/// Longest header value kept.
const MAX_VALUE: usize = 512;
/// Values kept before the memo starts over.
const MAX_ENTRIES: usize = 1024;

/// One finding of a header, before allowlists.
#[derive(Debug)]
pub struct Found {
    pub rule: usize,
    pub fingerprint: Hex,
    pub evidence: String,
}

/// Which header: the key the memo is looked up by.
#[derive(Clone, Copy)]
pub struct HeaderKey<'a> {
    pub message: Message,
    pub tls: bool,
    pub name: &'a str,
    pub value: &'a [u8],
}

/// A header as the memo knows it: two independent keyed hashes.
type Known = (u64, u64);

#[derive(Default)]
pub struct HeaderMemo {
    hashers: (RandomState, RandomState),
    entries: Mutex<HashMap<Known, Arc<[Found]>>>,
}

impl HeaderMemo {
    fn hash(&self, key: &HeaderKey<'_>) -> Known {
        let parts = (key.message, key.tls, key.name, key.value);
        (
            self.hashers.0.hash_one(parts),
            self.hashers.1.hash_one(parts),
        )
    }

    /// The findings of a header seen before, if it is remembered.
    pub fn get(&self, key: &HeaderKey<'_>) -> Option<Arc<[Found]>> {
        if key.value.len() > MAX_VALUE {
            return None;
        }
        let hash = self.hash(key);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(&hash).map(Arc::clone)
    }

    /// Remembers what a header yielded (when it yielded anything and its
    /// value is short enough).
    pub fn put(&self, key: &HeaderKey<'_>, found: Vec<Found>) -> Arc<[Found]> {
        let found: Arc<[Found]> = found.into();
        if found.is_empty() || key.value.len() > MAX_VALUE {
            return found;
        }
        let hash = self.hash(key);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, Arc::clone(&found));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(message: Message, name: &'a str, value: &'a str) -> HeaderKey<'a> {
        HeaderKey {
            message,
            tls: false,
            name,
            value: value.as_bytes(),
        }
    }

    fn found(rule: usize) -> Vec<Found> {
        vec![Found {
            rule,
            fingerprint: crate::analysis::detect::FingerprintKey::from_bytes([1; 32])
                .fingerprint_of(|f| f(b"f")),
            evidence: "e".into(),
        }]
    }

    #[test]
    fn remembers_by_message_name_and_value() {
        let memo = HeaderMemo::default();
        let k = key(Message::Response, "Server", "nginx/1.25.3");
        assert!(memo.get(&k).is_none());
        memo.put(&k, found(7));
        assert_eq!(memo.get(&k).unwrap()[0].rule, 7);
        for other in [
            key(Message::Request, "Server", "nginx/1.25.3"),
            key(Message::Response, "server", "nginx/1.25.3"),
            key(Message::Response, "Server", "nginx/1.25.4"),
            HeaderKey { tls: true, ..k },
        ] {
            assert!(memo.get(&other).is_none());
        }
    }

    #[test]
    fn bounded() {
        let memo = HeaderMemo::default();
        let long = "x".repeat(MAX_VALUE + 1);
        let k = key(Message::Response, "Server", &long);
        memo.put(&k, found(1));
        assert!(memo.get(&k).is_none(), "long values are not kept");
        let empty = key(Message::Response, "Date", "today");
        memo.put(&empty, Vec::new());
        assert!(memo.get(&empty).is_none(), "clean headers are not kept");
        let values: Vec<String> = (0..MAX_ENTRIES + 10).map(|i| format!("v{i}")).collect();
        for v in &values {
            memo.put(&key(Message::Response, "Server", v), found(1));
        }
        let kept = memo.entries.lock().unwrap().len();
        assert!(kept <= MAX_ENTRIES, "{kept}");
    }
}
