//! HTTP/2 framing and the gRPC/protobuf walk on arbitrary bytes.
//!
//! The input is split into a client and a server direction (each starting
//! with what makes the connection HTTP/2), cut into pieces at positions the
//! input chooses, with capture gaps among them; whatever comes out is then
//! run through the gRPC de-framing and the protobuf walk. Checks that
//! nothing panics, memory held stays bounded, and every exchange is
//! HTTP/2 with a body no larger than its counted size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::analysis::detect::grpc;
use sensor::http::{ConnectionParser, HttpCounters, HttpLimits};
use sensor::reassembly::Segment;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (usize::from(split) * rest.len() / 255).min(rest.len());
    let (client, server) = rest.split_at(at);
    let limits = HttpLimits {
        max_header_bytes: 4096,
        max_body_kept: 8192,
        max_decoded_bytes: 16384,
        max_pending_requests: 8,
        max_buffered_bytes: 16384,
    };
    let mut parser = ConnectionParser::new(limits, 16);
    let mut counters = HttpCounters::default();
    let mut out = Vec::new();
    let mut client_stream = PREFACE.to_vec();
    client_stream.extend_from_slice(client);
    let pieces = |s: &[u8]| -> Vec<(usize, usize)> {
        let mut cuts = Vec::new();
        let mut i = 0;
        while i < s.len() {
            let n = 1 + usize::from(s[i] % 64);
            cuts.push((i, (i + n).min(s.len())));
            i += n;
        }
        cuts
    };
    let (cp, sp) = (pieces(&client_stream), pieces(server));
    for k in 0..cp.len().max(sp.len()) {
        if let Some(&(a, b)) = cp.get(k) {
            parser.request_segment(1, Segment::Data(&client_stream[a..b]), &mut counters, &mut out);
        }
        if let Some(&(a, b)) = sp.get(k) {
            if server[a] == 0xff {
                parser.response_segment(2, Segment::Gap(u64::from(server[b - 1])), &mut counters, &mut out);
            } else {
                parser.response_segment(2, Segment::Data(&server[a..b]), &mut counters, &mut out);
            }
        }
        assert!(parser.buffered_bytes() < 16 * (8192 + 4096) + 3 * 16384 + 65536);
    }
    parser.close(3, &mut counters, &mut out);
    for pair in &out {
        assert_eq!(pair.request.version, 2);
        for body in [&pair.request.body, &pair.response.body] {
            assert!(body.raw.len() as u64 <= body.wire_len);
        }
        for (headers, body) in [
            (&pair.request.headers, &pair.request.body),
            (&pair.response.headers, &pair.response.body),
        ] {
            grpc::strings(headers, &body.raw, 16384, &mut |path, text| {
                assert!(!path.render().is_empty());
                assert!(std::str::from_utf8(text).is_ok());
            });
        }
    }
    // The protobuf walk on the raw input as one gRPC message stream.
    let headers = [sensor::exchange::Header {
        name: "content-type".into(),
        value: bytes::Bytes::from_static(b"application/grpc"),
    }];
    grpc::strings(&headers, rest, 16384, &mut |_, text| {
        assert!(std::str::from_utf8(text).is_ok());
    });
});
