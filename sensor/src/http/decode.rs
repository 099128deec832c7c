//! Content decoding of a completed body: gzip, deflate (zlib-wrapped or
//! raw) and brotli. Decoding streams into a buffer that stops at a hard cap,
//! so a decompression bomb costs at most the cap in memory and the work to
//! produce it. A truncated body yields whatever decodes.

use std::io::Read;

use bytes::Bytes;

use super::HttpCounters;
use crate::exchange::{header, Body, Header};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
    Brotli,
}

/// The single supported coding named by Content-Encoding, if any. Stacked
/// codings are rare enough that we leave them raw rather than guess.
fn coding(headers: &[Header]) -> Option<Coding> {
    let value = header(headers, "content-encoding")?;
    let mut codings = value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case(b"identity"));
    let first = codings.next()?;
    if codings.next().is_some() {
        return None;
    }
    match first.to_ascii_lowercase().as_slice() {
        b"gzip" | b"x-gzip" => Some(Coding::Gzip),
        b"deflate" => Some(Coding::Deflate),
        b"br" => Some(Coding::Brotli),
        _ => None,
    }
}

/// Fills `body.decoded` when the headers declare a coding we decode.
pub(crate) fn decode_body(
    headers: &[Header],
    body: &mut Body,
    cap: usize,
    counters: &mut HttpCounters,
) {
    let Some(coding) = coding(headers) else {
        return;
    };
    if body.raw.is_empty() {
        return;
    }
    let raw: &[u8] = &body.raw;
    let out = match coding {
        Coding::Gzip => read_capped(flate2::read::MultiGzDecoder::new(raw), cap),
        Coding::Deflate if is_zlib(raw) => read_capped(flate2::read::ZlibDecoder::new(raw), cap),
        Coding::Deflate => read_capped(flate2::read::DeflateDecoder::new(raw), cap),
        Coding::Brotli => read_capped(brotli_decompressor::Decompressor::new(raw, 4096), cap),
    };
    if out.capped {
        counters.decode_capped += 1;
    }
    if out.failed && out.data.is_empty() {
        counters.decode_errors += 1;
        return;
    }
    if out.failed && !body.truncated {
        // Partial output of a complete body: still useful, but the body
        // did not decode cleanly.
        counters.decode_errors += 1;
    }
    body.decoded = Some(Bytes::from(out.data));
}

/// zlib streams start with a CMF/FLG pair whose 16-bit value is a multiple
/// of 31 and whose method is 8 (RFC 1950); servers send both this and raw
/// deflate under the name "deflate".
fn is_zlib(b: &[u8]) -> bool {
    match b {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

struct Decoded {
    data: Vec<u8>,
    /// Output reached the cap with more to come.
    capped: bool,
    /// The decoder reported an error (corrupt or truncated input).
    failed: bool,
}

fn read_capped(mut r: impl Read, cap: usize) -> Decoded {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        // Ask for one byte past the cap, to tell "exactly cap" from "more".
        let want = (cap + 1 - data.len()).min(buf.len());
        match r.read(&mut buf[..want]) {
            Ok(0) => {
                return Decoded {
                    data,
                    capped: false,
                    failed: false,
                }
            }
            Ok(n) => {
                let n = n.min(want);
                if data.len() + n > cap {
                    data.extend_from_slice(&buf[..cap - data.len()]);
                    return Decoded {
                        data,
                        capped: true,
                        failed: false,
                    };
                }
                data.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                return Decoded {
                    data,
                    capped: false,
                    failed: true,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in-memory write");
        e.finish().expect("in-memory write")
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in-memory write");
        e.finish().expect("in-memory write")
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in-memory write");
        e.finish().expect("in-memory write")
    }

    /// "hello" compressed with `brotli -q 11`.
    const BR_HELLO: &[u8] = &[0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];

    fn run(
        encoding: &str,
        raw: Vec<u8>,
        truncated: bool,
        cap: usize,
    ) -> (Option<Vec<u8>>, HttpCounters) {
        let headers = vec![Header {
            name: "Content-Encoding".into(),
            value: Bytes::copy_from_slice(encoding.as_bytes()),
        }];
        let mut body = Body {
            raw: Bytes::from(raw),
            truncated,
            ..Body::default()
        };
        let mut c = HttpCounters::default();
        decode_body(&headers, &mut body, cap, &mut c);
        (body.decoded.map(|d| d.to_vec()), c)
    }

    #[test]
    fn decode_table() {
        let text = b"hello hello hello".to_vec();
        let gz = gzip(&text);
        // (encoding, raw, truncated, cap, decoded, decode_errors, decode_capped)
        type Case<'a> = (&'a str, Vec<u8>, bool, usize, Option<&'a [u8]>, u64, u64);
        let cases: Vec<Case> = vec![
            ("gzip", gz.clone(), false, 100, Some(&text), 0, 0),
            ("x-gzip", gz.clone(), false, 100, Some(&text), 0, 0),
            ("GZIP ", gz.clone(), false, 100, Some(&text), 0, 0),
            ("identity, gzip", gz.clone(), false, 100, Some(&text), 0, 0),
            ("deflate", zlib(&text), false, 100, Some(&text), 0, 0),
            ("deflate", raw_deflate(&text), false, 100, Some(&text), 0, 0),
            ("br", BR_HELLO.to_vec(), false, 100, Some(b"hello"), 0, 0),
            ("gzip", gz.clone(), false, 5, Some(b"hello"), 0, 1),
            ("gzip", gz.clone(), false, text.len(), Some(&text), 0, 0),
            ("gzip", b"not gzip".to_vec(), false, 100, None, 1, 0),
            ("br", b"\xff\xff\xff\xff".to_vec(), false, 100, None, 1, 0),
            ("gzip, br", gz.clone(), false, 100, None, 0, 0),
            ("compress", gz.clone(), false, 100, None, 0, 0),
            ("gzip", Vec::new(), false, 100, None, 0, 0),
        ];
        for (i, (enc, raw, truncated, cap, want, errors, capped)) in cases.into_iter().enumerate() {
            let (got, c) = run(enc, raw, truncated, cap);
            assert_eq!(got.as_deref(), want, "case {i} ({enc})");
            assert_eq!(
                (c.decode_errors, c.decode_capped),
                (errors, capped),
                "case {i} ({enc})"
            );
        }
    }

    #[test]
    fn truncated_body_gives_partial_output() {
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let gz = gzip(&text);
        let (got, c) = run("gzip", gz[..gz.len() / 2].to_vec(), true, 1 << 20);
        let got = got.expect("a prefix decodes");
        assert!(!got.is_empty() && got.len() < text.len());
        assert_eq!(got[..], text[..got.len()]);
        assert_eq!(c.decode_errors, 0);
    }

    #[test]
    fn bomb_stops_at_cap() {
        let gz = gzip(&vec![0u8; 50 << 20]);
        assert!(gz.len() < 100 << 10);
        let (got, c) = run("gzip", gz, false, 1 << 20);
        assert_eq!(got.map(|d| d.len()), Some(1 << 20));
        assert_eq!(c.decode_capped, 1);
    }
}
