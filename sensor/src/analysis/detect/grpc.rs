//! gRPC bodies: length-prefixed messages (1 byte compressed flag, 4 bytes
//! big-endian length, the message), decompressed when `grpc-encoding` is
//! gzip or deflate, then walked as protobuf (`protobuf::walk_typed`, with
//! the message type when a descriptor set knows the method).
//!
//! Bounded: decompressed output stops at the decode cap; a body cut short
//! (kept prefix, capture gap) yields the messages it holds whole and the
//! walkable start of the last one.

use std::io::Read;

use prost_reflect::MessageDescriptor;

use crate::exchange::{header, Header};

use super::protobuf::{self, FieldPath};

/// Prefix of every gRPC message.
const PREFIX: usize = 5;

/// True for `content-type: application/grpc`, `+proto`, `+json`...
pub fn is_grpc(headers: &[Header]) -> bool {
    header(headers, "content-type").is_some_and(|ct| {
        ct.len() >= 16
            && ct[..16].eq_ignore_ascii_case(b"application/grpc")
            && !ct[16..].starts_with(b"-web")
    })
}

/// Calls `on(path, text)` for every string of every message in `body`,
/// read as `schema` (the messages' type) when given. `cap` bounds the
/// output of decompression per message.
pub fn strings(
    headers: &[Header],
    body: &[u8],
    cap: usize,
    schema: Option<&MessageDescriptor>,
    on: &mut dyn FnMut(&FieldPath, &[u8]),
) {
    let encoding = header(headers, "grpc-encoding").map(<[u8]>::trim_ascii);
    let mut at = 0;
    while at + PREFIX <= body.len() {
        let compressed = body[at] & 1 == 1;
        let len = u32::from_be_bytes([body[at + 1], body[at + 2], body[at + 3], body[at + 4]]);
        let start = at + PREFIX;
        let end = start.saturating_add(len as usize).min(body.len());
        let message = &body[start..end];
        at = start.saturating_add(len as usize);
        if !compressed {
            protobuf::walk_typed(message, schema, on);
            continue;
        }
        let decoded = match encoding {
            Some(e) if e.eq_ignore_ascii_case(b"gzip") => {
                capped(flate2::read::MultiGzDecoder::new(message), cap)
            }
            Some(e) if e.eq_ignore_ascii_case(b"deflate") => {
                capped(flate2::read::ZlibDecoder::new(message), cap)
            }
            // identity with the flag set, snappy, zstd...: not readable.
            _ => continue,
        };
        protobuf::walk_typed(&decoded, schema, on);
    }
}

/// Reads at most `cap` bytes; what decoded before an error is kept.
fn capped(mut r: impl Read, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() < cap {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n.min(cap - out.len())]),
        }
    }
    out
}

/// `grpc-message` is percent-encoded (gRPC over HTTP/2, "Responses").
pub fn decode_message(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (value[i], value.get(i + 1), value.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn frame(flag: u8, msg: &[u8]) -> Vec<u8> {
        let mut f = vec![flag];
        f.extend((msg.len() as u32).to_be_bytes());
        f.extend_from_slice(msg);
        f
    }

    fn hs(list: &[(&str, &str)]) -> Vec<Header> {
        list.iter()
            .map(|(n, v)| Header {
                name: (*n).into(),
                value: bytes::Bytes::copy_from_slice(v.as_bytes()),
            })
            .collect()
    }

    fn collect(headers: &[Header], body: &[u8]) -> Vec<(String, String)> {
        let mut got = Vec::new();
        strings(headers, body, 1 << 20, None, &mut |p, t| {
            got.push((p.render(), String::from_utf8_lossy(t).into_owned()))
        });
        got
    }

    #[test]
    fn plain_and_gzip_messages() {
        // {2: {1: "078-05-1120"}}
        let msg = b"\x12\x0d\x0a\x0b078-05-1120";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(msg).unwrap();
        let gz = gz.finish().unwrap();
        let mut body = frame(0, msg);
        body.extend(frame(1, &gz));
        let want = ("$.2.1".to_owned(), "078-05-1120".to_owned());
        let ct = ("content-type", "application/grpc");
        assert_eq!(
            collect(&hs(&[ct, ("grpc-encoding", "gzip")]), &body),
            vec![want.clone(), want.clone()]
        );
        // Compressed with an encoding we do not read: only the plain one.
        assert_eq!(
            collect(&hs(&[ct, ("grpc-encoding", "snappy")]), &body),
            vec![want.clone()]
        );
        // Cut inside the nested message: nothing whole to report.
        assert_eq!(
            collect(&hs(&[ct]), &body[..5 + 4 + 5]),
            vec![] as Vec<(String, String)>
        );
        assert_eq!(
            collect(&hs(&[ct]), &body[..body.len() - gz.len() - 5]),
            vec![want]
        );
    }

    #[test]
    fn content_types_and_messages() {
        assert!(is_grpc(&hs(&[("Content-Type", "application/grpc+proto")])));
        assert!(is_grpc(&hs(&[("content-type", "application/grpc")])));
        assert!(!is_grpc(&hs(&[("content-type", "application/grpc-web")])));
        assert!(!is_grpc(&hs(&[("content-type", "application/json")])));
        assert_eq!(decode_message(b"a%20b%zz%4"), b"a b%zz%4");
    }
}
