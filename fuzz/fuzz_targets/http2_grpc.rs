//! HTTP/2 framing and the gRPC/protobuf walk on arbitrary bytes.
//!
//! The input is split into a client and a server direction (each starting
//! with what makes the connection HTTP/2), cut into pieces at positions the
//! input chooses, with capture gaps among them; whatever comes out is then
//! run through the gRPC de-framing and the protobuf walk, without a schema
//! and with a self-recursive one (a descriptor built here). Checks that
//! nothing panics, memory held stays bounded, and every exchange is
//! HTTP/2 with a body no larger than its counted size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost_reflect::prost_types::field_descriptor_proto::{Label, Type};
use prost_reflect::prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    MethodDescriptorProto, ServiceDescriptorProto,
};
use prost_reflect::DescriptorPool;
use sensor::analysis::detect::grpc;
use sensor::analysis::detect::grpc_schema::GrpcSchema;
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
            parser.request_segment(
                1,
                Segment::Data(&client_stream[a..b]),
                &mut counters,
                &mut out,
            );
        }
        if let Some(&(a, b)) = sp.get(k) {
            if server[a] == 0xff {
                parser.response_segment(
                    2,
                    Segment::Gap(u64::from(server[b - 1])),
                    &mut counters,
                    &mut out,
                );
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
            grpc::strings(headers, &body.raw, 16384, None, &mut |path, text| {
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
    grpc::strings(&headers, rest, 16384, None, &mut |_, text| {
        assert!(std::str::from_utf8(text).is_ok());
    });
    // And as `/f.S/M`'s messages, whose type nests itself without end.
    static SCHEMA: std::sync::OnceLock<GrpcSchema> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(schema);
    grpc::strings(
        &headers,
        rest,
        16384,
        schema.message_type("/f.S/M", true),
        &mut |path, text| {
            assert!(
                path.render().matches('.').count() <= sensor::analysis::detect::protobuf::MAX_DEPTH
            );
            assert!(std::str::from_utf8(text).is_ok());
        },
    );
});

/// `service S { rpc M(Node) returns (Node); }` with
/// `Node { string name = 1; Node child = 2; bytes blob = 3; repeated Node kids = 4; int32 n = 5; }`.
fn schema() -> GrpcSchema {
    let field = |name: &str, number: i32, ty: Type, label: Label| FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(label as i32),
        r#type: Some(ty as i32),
        type_name: (ty == Type::Message).then(|| ".f.Node".into()),
        ..Default::default()
    };
    let node = DescriptorProto {
        name: Some("Node".into()),
        field: vec![
            field("name", 1, Type::String, Label::Optional),
            field("child", 2, Type::Message, Label::Optional),
            field("blob", 3, Type::Bytes, Label::Optional),
            field("kids", 4, Type::Message, Label::Repeated),
            field("n", 5, Type::Int32, Label::Optional),
        ],
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("f.proto".into()),
        package: Some("f".into()),
        syntax: Some("proto3".into()),
        message_type: vec![node],
        service: vec![ServiceDescriptorProto {
            name: Some("S".into()),
            method: vec![MethodDescriptorProto {
                name: Some("M".into()),
                input_type: Some(".f.Node".into()),
                output_type: Some(".f.Node".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let pool = DescriptorPool::from_file_descriptor_set(FileDescriptorSet { file: vec![file] })
        .expect("the fuzz schema is valid");
    GrpcSchema::from_pool(&pool)
}
