//! The hand-written record against serde_json's: byte for byte, over
//! every optional field's presence and absence, strings that need escapes,
//! IPv4 and IPv6 addresses, and extreme numbers.

use std::borrow::Cow;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use super::RecordHead;
use crate::alert::ProcessRef;
use crate::conntrack::kubernetes::PodMeta;
use crate::origin::Origin;
use crate::sink::ExchangeRecord;
use crate::timestamp::Rfc3339Text;

const STRINGS: [&str; 8] = [
    "",
    "GET",
    "/users/{id}",
    "quote \" and \\ backslash",
    "control \u{1} \n \t \r \u{8} \u{c} \u{1f} end",
    "del \u{7f} and unicode é 🦀 \u{2028}",
    "127.0.0.1:8080",
    "/a%20b?x=1",
];

fn process(i: usize, pod: &PodMeta) -> ProcessRef<'_> {
    ProcessRef {
        pid: [0, 1, 4_294_967_295][i % 3],
        comm: STRINGS[i % STRINGS.len()],
        exe: i
            .is_multiple_of(2)
            .then_some(STRINGS[(i + 3) % STRINGS.len()]),
        uid: (!i.is_multiple_of(3)).then_some([0, 1000, u32::MAX][i % 3]),
        container_id: (i % 4 == 1).then_some(STRINGS[(i + 5) % STRINGS.len()]),
        kubernetes: (i % 5 == 2).then_some(pod),
    }
}

fn address(i: usize) -> Option<SocketAddr> {
    match i % 5 {
        0 => None,
        1 => Some("127.0.0.1:18381".parse().unwrap()),
        2 => Some("0.0.0.0:0".parse().unwrap()),
        3 => Some("255.255.255.255:65535".parse().unwrap()),
        _ => Some(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::new(0xfe80, 0, 0, 0, 1, 2, 3, 4),
            443,
            0,
            (i % 2) as u32,
        ))),
    }
}

#[test]
fn the_same_bytes_as_serde() {
    let pod = PodMeta {
        pod: "web-7d9\"x".into(),
        namespace: "default".into(),
        container: "app\n".into(),
    };
    let durations = [0.0, 3.944, 0.001, 1e-7, 123_456.789, f64::MAX, f64::NAN];
    let numbers = [0, 1, 9, 10, 99, 100, 1_004, u64::MAX];
    let origins = [
        Origin::new("vm".into(), None),
        Origin::new("node \"q\"".into(), Some("node-1")),
    ];
    let mut compared = 0;
    for (o, origin) in origins.iter().enumerate() {
        let head = RecordHead::of(origin);
        for i in 0..400 {
            let s = |k: usize| STRINGS[(i + k) % STRINGS.len()];
            let record = ExchangeRecord {
                schema_version: crate::origin::SCHEMA_VERSION,
                sensor_host: &origin.host,
                sensor: &origin.sensor,
                tags: [vec![], vec!["API8:2023"], vec!["API3:2023", "CWE-200"]][i % 3].clone(),
                ts: Rfc3339Text::of(1_700_000_000_123_456_789 + i as i128 * 7_919_000),
                duration_ms: durations[i % durations.len()],
                method: s(1),
                host: s(2),
                path: if i % 2 == 0 {
                    Cow::Borrowed(s(3))
                } else {
                    Cow::Owned(format!("/{}", s(4)))
                },
                template: s(5),
                status: [0, 200, 404, u16::MAX][i % 4],
                request_bytes: numbers[i % numbers.len()],
                response_bytes: numbers[(i + o) * 3 % numbers.len()],
                truncated: i % 2 == 1,
                partial: i % 3 == 1,
                malformed: (i % 3 == 1).then(|| s(6).to_owned()),
                process: process(i, &pod),
                role: ["server", "client"][i % 2],
                local: address(i),
                remote: address(i / 5 + 1),
                tls: i % 4 == 3,
                http_version: ["1.0", "1.1", "2"][i % 3],
                grpc_status: (i % 7 == 3).then_some([0, 14, u32::MAX][i % 3]),
                peer: (i % 2 == 0).then(|| process(i / 2 + 1, &pod)),
            };
            let mut ours = Vec::new();
            record.write_json(&head, &mut ours).unwrap();
            let serde = serde_json::to_vec(&record).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&serde),
                "record {i} of origin {o}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 800);
}
