//! The alerts file's hash chain: every line ends with `"seq"` (its number
//! in the log, across files and restarts) and `"chain"`, a keyed hash
//! (HMAC-SHA256, 128 bits, hex) of the previous line's chain and this
//! line's content. Without the key nobody can edit, remove or insert a
//! line and repair the chain; `sensor verify` (`verify.rs`) finds the first
//! line that breaks it.
//!
//! Checkpoint lines are chained like alerts: `open` starts each file and
//! carries the chain it continues (`prev`), so one file of a rotated set
//! verifies on its own and the set verifies as a whole; `rotation` closes
//! a file before it is renamed and `shutdown` marks a clean stop, so a cut
//! tail shows as a log that ends without one.
//!
//! The key is derived from the install's fingerprint key and never written
//! to the log.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The chain's key. Its `Debug` never prints the bytes.
#[derive(Clone)]
pub struct ChainKey([u8; 32]);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(..)")
    }
}

impl ChainKey {
    /// The purpose the install's fingerprint key is derived for.
    pub const PURPOSE: &'static str = "alert log chain v1";

    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// The chain value of a line: `prev` is the previous line's chain,
    /// `content` the line up to (not including) its `,"chain":` field.
    pub fn link(&self, prev: &str, content: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(prev.as_bytes());
        mac.update(b"\n");
        mac.update(content);
        let digest = mac.finalize().into_bytes();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The `prev` of the very first line of a log.
pub const GENESIS: &str = "00000000000000000000000000000000";

/// What closes a chained line: `,"chain":"` + 32 hex digits + `"}`.
const CHAIN_FIELD: &[u8] = b",\"chain\":\"";
const CHAIN_HEX: usize = 32;

/// Bytes sealing adds to a line, at most (`,"seq":N` and the chain).
pub const SEAL_OVERHEAD: u64 = 64;

/// Where the chain stands: the last line's chain and number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub chain: String,
    pub seq: u64,
}

impl Head {
    pub fn genesis() -> Self {
        Self {
            chain: GENESIS.to_owned(),
            seq: 0,
        }
    }
}

/// A log being written.
#[derive(Debug)]
pub struct Chain {
    key: ChainKey,
    head: Head,
}

impl Chain {
    pub fn new(key: ChainKey, head: Head) -> Self {
        Self { key, head }
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Appends `json` (one JSON object, no newline) to `out`, sealed with
    /// the next `seq` and its `chain`, and a newline.
    pub fn seal(&mut self, json: &[u8], out: &mut Vec<u8>) {
        let body = json.strip_suffix(b"}").unwrap_or(json);
        let start = out.len();
        out.extend_from_slice(body);
        if body.last() != Some(&b'{') {
            out.push(b',');
        }
        let seq = self.head.seq + 1;
        out.extend_from_slice(format!("\"seq\":{seq}").as_bytes());
        let chain = self.key.link(&self.head.chain, &out[start..]);
        out.extend_from_slice(CHAIN_FIELD);
        out.extend_from_slice(chain.as_bytes());
        out.extend_from_slice(b"\"}\n");
        self.head = Head { chain, seq };
    }

    /// Appends a sealed checkpoint line of `kind` (`open`, `rotation`,
    /// `shutdown`) stamped `unix_ns`. `open` carries the chain it
    /// continues.
    pub fn checkpoint(&mut self, kind: &str, unix_ns: i128, out: &mut Vec<u8>) {
        let ts = crate::timestamp::rfc3339(unix_ns);
        let json = if kind == "open" {
            format!(
                "{{\"checkpoint\":\"open\",\"ts\":\"{ts}\",\"prev\":\"{}\"}}",
                self.head.chain
            )
        } else {
            format!("{{\"checkpoint\":\"{kind}\",\"ts\":\"{ts}\"}}")
        };
        self.seal(json.as_bytes(), out);
    }
}

/// A chained line taken apart: the content its chain covers (`seq`
/// included), its number and its chain. None when the line is not sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed<'a> {
    pub content: &'a [u8],
    pub seq: u64,
    pub chain: &'a str,
}

impl<'a> Sealed<'a> {
    pub fn parse(line: &'a [u8]) -> Option<Sealed<'a>> {
        let tail = CHAIN_FIELD.len() + CHAIN_HEX + 2;
        if line.len() < tail || !line.ends_with(b"\"}") {
            return None;
        }
        let at = line.len() - tail;
        if &line[at..at + CHAIN_FIELD.len()] != CHAIN_FIELD {
            return None;
        }
        let chain = std::str::from_utf8(&line[at + CHAIN_FIELD.len()..line.len() - 2]).ok()?;
        if !chain.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let content = &line[..at];
        let seq_at = content.windows(6).rposition(|w| w == b"\"seq\":")?;
        let seq = std::str::from_utf8(&content[seq_at + 6..])
            .ok()?
            .parse()
            .ok()?;
        Some(Sealed {
            content,
            seq,
            chain,
        })
    }

    /// The checkpoint kind, when this is a checkpoint line.
    pub fn checkpoint(&self) -> Option<&'a str> {
        let rest = self.content.strip_prefix(b"{\"checkpoint\":\"")?;
        let end = rest.iter().position(|&b| b == b'"')?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// The `prev` an `open` checkpoint carries.
    pub fn prev(&self) -> Option<&'a str> {
        let at = self.content.windows(8).position(|w| w == b"\"prev\":\"")?;
        let rest = &self.content[at + 8..];
        std::str::from_utf8(rest.get(..CHAIN_HEX)?).ok()
    }
}

/// Where an existing file's chain stands, from its bytes' tail: the head
/// of its last line when that is sealed, None when the file is empty or
/// its last line is not (written before chaining, or cut by a crash).
pub fn head_of(tail: &[u8]) -> Option<Head> {
    let tail = tail.strip_suffix(b"\n")?;
    let line = match tail.iter().rposition(|&b| b == b'\n') {
        Some(i) => &tail[i + 1..],
        None => tail,
    };
    Sealed::parse(line).map(|s| Head {
        chain: s.chain.to_owned(),
        seq: s.seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ChainKey {
        ChainKey::from_bytes([5; 32])
    }

    #[test]
    fn sealed_lines_parse_back_and_link() {
        let mut chain = Chain::new(key(), Head::genesis());
        let mut out = Vec::new();
        chain.checkpoint("open", 0, &mut out);
        chain.seal(br#"{"rule":"pii.ssn","n":1}"#, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let open = Sealed::parse(lines[0].as_bytes()).unwrap();
        assert_eq!(open.checkpoint(), Some("open"));
        assert_eq!(open.prev(), Some(GENESIS));
        assert_eq!(open.seq, 1);
        assert_eq!(open.chain, key().link(GENESIS, open.content));
        let alert = Sealed::parse(lines[1].as_bytes()).unwrap();
        assert!(
            lines[1].starts_with(r#"{"rule":"pii.ssn","n":1,"seq":2,"chain":""#),
            "{}",
            lines[1]
        );
        assert_eq!(alert.checkpoint(), None);
        assert_eq!(alert.chain, key().link(open.chain, alert.content));
        let value: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(value["rule"], "pii.ssn");
        assert_eq!(value["seq"], 2);
        assert_eq!(head_of(&out), Some(chain.head().clone()));
        assert_eq!(head_of(b"{\"a\":1}\n"), None);
        assert_eq!(head_of(b""), None);
        assert_eq!(format!("{:?}", key()), "ChainKey(..)");
    }
}
