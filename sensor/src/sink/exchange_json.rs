//! The `--exchanges` record written as JSON by hand: the same bytes as
//! serde_json writes for `ExchangeRecord`'s `Serialize` (a test holds the
//! two together), at a fraction of the cost. One record is written per
//! exchange, and serde's field-by-field map (the flattened process) and
//! byte-by-byte string escaping were a tenth of the agent's CPU at
//! saturation: here the run's constant head is written once and copied,
//! strings that need no escape are copied whole, and IPv4 addresses are
//! formatted without `fmt`. Anything rare (an escape, IPv6, Kubernetes
//! metadata) goes through serde_json itself, so it cannot differ.

use std::net::SocketAddr;

use serde::Serializer as _;

use crate::alert::ProcessRef;
use crate::origin::Origin;
use crate::sink::ExchangeRecord;

/// `{"schema_version":…,"sensor_host":…,"sensor":…` of every record of a
/// run: the same for each, so serialised once.
#[derive(Debug, Clone)]
pub struct RecordHead(Vec<u8>);

impl RecordHead {
    pub fn of(origin: &Origin) -> Self {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"{\"schema_version\":");
        let written = string(&mut out, crate::origin::SCHEMA_VERSION)
            .and_then(|()| {
                out.extend_from_slice(b",\"sensor_host\":");
                serde_json::to_writer(&mut out, &origin.host)
            })
            .and_then(|()| {
                out.extend_from_slice(b",\"sensor\":");
                serde_json::to_writer(&mut out, &origin.sensor)
            });
        written.expect("strings serialise into a Vec");
        Self(out)
    }
}

impl ExchangeRecord<'_> {
    /// Appends the record's JSON to `out`. `head` must be the head of the
    /// origin the record was made with (`Outputs` keeps the two together).
    pub fn write_json(&self, head: &RecordHead, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(&head.0);
        out.extend_from_slice(b",\"tags\":[");
        for (i, tag) in self.tags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, tag)?;
        }
        out.extend_from_slice(b"],\"ts\":");
        string(out, self.ts.as_str())?;
        out.extend_from_slice(b",\"duration_ms\":");
        serializer(out).serialize_f64(self.duration_ms)?;
        out.extend_from_slice(b",\"method\":");
        string(out, self.method)?;
        out.extend_from_slice(b",\"host\":");
        string(out, self.host)?;
        out.extend_from_slice(b",\"path\":");
        string(out, &self.path)?;
        out.extend_from_slice(b",\"template\":");
        string(out, self.template)?;
        out.extend_from_slice(b",\"status\":");
        decimal(out, u64::from(self.status));
        out.extend_from_slice(b",\"request_bytes\":");
        decimal(out, self.request_bytes);
        out.extend_from_slice(b",\"response_bytes\":");
        decimal(out, self.response_bytes);
        out.extend_from_slice(b",\"truncated\":");
        boolean(out, self.truncated);
        out.extend_from_slice(b",\"partial\":");
        boolean(out, self.partial);
        out.extend_from_slice(b",\"malformed\":");
        optional_string(out, self.malformed.as_deref())?;
        out.push(b',');
        process_fields(out, &self.process)?;
        out.extend_from_slice(b",\"role\":");
        string(out, self.role)?;
        out.extend_from_slice(b",\"local\":");
        address(out, self.local)?;
        out.extend_from_slice(b",\"remote\":");
        address(out, self.remote)?;
        out.extend_from_slice(b",\"tls\":");
        boolean(out, self.tls);
        out.extend_from_slice(b",\"http_version\":");
        string(out, self.http_version)?;
        if let Some(status) = self.grpc_status {
            out.extend_from_slice(b",\"grpc_status\":");
            decimal(out, u64::from(status));
        }
        if let Some(peer) = &self.peer {
            out.extend_from_slice(b",\"peer\":{");
            process_fields(out, peer)?;
            out.push(b'}');
        }
        out.push(b'}');
        Ok(())
    }
}

/// `ProcessRef`'s fields, without braces (flattened into the record, or
/// inside `peer`'s).
fn process_fields(out: &mut Vec<u8>, process: &ProcessRef) -> serde_json::Result<()> {
    out.extend_from_slice(b"\"pid\":");
    decimal(out, u64::from(process.pid));
    out.extend_from_slice(b",\"comm\":");
    string(out, process.comm)?;
    out.extend_from_slice(b",\"exe\":");
    optional_string(out, process.exe)?;
    out.extend_from_slice(b",\"uid\":");
    match process.uid {
        Some(uid) => decimal(out, u64::from(uid)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"container_id\":");
    optional_string(out, process.container_id)?;
    out.extend_from_slice(b",\"kubernetes\":");
    serde_json::to_writer(&mut *out, &process.kubernetes)
}

fn serializer(out: &mut Vec<u8>) -> serde_json::Serializer<&mut Vec<u8>> {
    serde_json::Serializer::new(out)
}

/// A JSON string: copied whole when nothing in it needs escaping (the
/// common case), else escaped by serde_json.
fn string(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return serializer(out).serialize_str(s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

fn optional_string(out: &mut Vec<u8>, s: Option<&str>) -> serde_json::Result<()> {
    match s {
        Some(s) => string(out, s),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

fn boolean(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// `n` in decimal, as serde_json (itoa) writes it.
fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// An address as serde writes one (its `Display` as a string); IPv4
/// formatted here, IPv6 by serde.
fn address(out: &mut Vec<u8>, addr: Option<SocketAddr>) -> serde_json::Result<()> {
    match addr {
        None => out.extend_from_slice(b"null"),
        Some(SocketAddr::V4(v4)) => {
            out.push(b'"');
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                decimal(out, u64::from(octet));
            }
            out.push(b':');
            decimal(out, u64::from(v4.port()));
            out.push(b'"');
        }
        Some(v6) => serde::Serialize::serialize(&v6, &mut serializer(out))?,
    }
    Ok(())
}

#[cfg(test)]
#[path = "exchange_json_tests.rs"]
mod tests;
