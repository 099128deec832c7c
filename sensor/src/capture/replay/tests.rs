//! Replay from hand-built packets: decoding, flows and the pipeline's
//! exchanges, plus the capture file readers.

use std::io::Cursor;

use super::build::*;
use super::*;
use crate::capture::{CaptureEvent, Direction};
use crate::config::{CaptureConfig, LimitsConfig};
use crate::exchange::{HttpExchange, Role};
use crate::pipeline::Pipeline;

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:8080";
const C_ISN: u32 = 100;
const S_ISN: u32 = 5000;
const ETHERNET: u32 = 1;

const REQUEST: &[u8] = b"GET /users/7 HTTP/1.1\r\nHost: api\r\n\r\n";
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n0123456789abcdefghijABCDEFGHIJ";

fn limits(max_flows: usize) -> FlowLimits {
    FlowLimits {
        max_flows,
        max_held_per_direction: 1 << 20,
        max_held_total: 4 << 20,
        idle_timeout_ns: 300_000_000_000,
    }
}

/// Client to server at offset `at` of the client's stream.
fn c2s(at: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
    ip_tcp(CLIENT, SERVER, C_ISN + 1 + at, S_ISN + 1, flags, payload)
}

fn s2c(at: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
    ip_tcp(SERVER, CLIENT, S_ISN + 1 + at, C_ISN + 1, flags, payload)
}

fn handshake() -> Vec<Vec<u8>> {
    vec![
        ip_tcp(CLIENT, SERVER, C_ISN, 0, "S", b""),
        ip_tcp(SERVER, CLIENT, S_ISN, C_ISN + 1, "SA", b""),
        c2s(0, "A", b""),
    ]
}

struct Replayed {
    events: Vec<CaptureEvent>,
    exchanges: Vec<HttpExchange>,
    counters: ReplayCounters,
    pipeline: Pipeline,
}

/// IP packets through a link layer, the flow table and the pipeline, as
/// `sensor replay` does.
fn replay(link_type: u32, frame: fn(&[u8]) -> Vec<u8>, packets: &[Vec<u8>]) -> Replayed {
    replay_with(link_type, frame, packets, limits(64))
}

fn replay_with(
    link_type: u32,
    frame: fn(&[u8]) -> Vec<u8>,
    packets: &[Vec<u8>],
    limits: FlowLimits,
) -> Replayed {
    let addresses = FlowAddresses::default();
    let mut flows = FlowTable::new(limits, "test.pcap".into(), addresses.clone());
    let mut pipeline = Pipeline::new(&CaptureConfig::default(), &LimitsConfig::default(), 0)
        .with_resolver(addresses.resolver("test.pcap".into()));
    let mut events = Vec::new();
    let mut exchanges = Vec::new();
    let mut all = Vec::new();
    for (i, ip) in packets.iter().enumerate() {
        let bytes = frame(ip);
        let segment = decode(link_type, &bytes).expect("test packets decode");
        flows.push(&segment, 1_000_000 * (i as u64 + 1), &mut events);
        for e in events.drain(..) {
            all.push(e.clone());
            pipeline.handle(e, &mut exchanges);
        }
    }
    flows.finish(1_000_000_000, &mut events);
    for e in events.drain(..) {
        all.push(e.clone());
        pipeline.handle(e, &mut exchanges);
    }
    pipeline.finish(1_000_000_000, &mut exchanges);
    assert!(addresses.is_empty(), "closed flows keep no addresses");
    Replayed {
        events: all,
        exchanges,
        counters: flows.counters.clone(),
        pipeline,
    }
}

fn full_connection() -> Vec<Vec<u8>> {
    let mut packets = handshake();
    packets.push(c2s(0, "A", REQUEST));
    packets.push(s2c(0, "A", RESPONSE));
    packets.push(c2s(REQUEST.len() as u32, "FA", b""));
    packets.push(s2c(RESPONSE.len() as u32, "FA", b""));
    packets
}

#[test]
fn a_connection_becomes_open_data_close_seen_from_the_server() {
    let r = replay(ETHERNET, ethernet, &full_connection());
    let kinds: Vec<String> = r
        .events
        .iter()
        .map(|e| match e {
            CaptureEvent::Open { role, remote, .. } => format!("open {role:?} {remote:?}"),
            CaptureEvent::Data {
                direction,
                stream_offset,
                data,
                ..
            } => format!("{direction:?} {stream_offset} {}", data.len()),
            CaptureEvent::Close { .. } => "close".into(),
            CaptureEvent::ProcessExit { .. } => "exit".into(),
            CaptureEvent::Exec { .. } => "exec".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "open Some(Server) Some(10.0.0.1:40000)".to_string(),
            format!("Ingress 0 {}", REQUEST.len()),
            format!("Egress 0 {}", RESPONSE.len()),
            "close".into(),
        ]
    );
    assert_eq!(r.exchanges.len(), 1);
    let x = &r.exchanges[0];
    assert_eq!(x.request.target, "/users/7");
    assert_eq!(x.response.body.wire_len, 30);
    assert!(!x.truncated());
    let conn = &x.connection;
    assert_eq!(
        (conn.pid, conn.comm.as_str(), conn.role),
        (0, "test.pcap", Role::Server)
    );
    assert_eq!(conn.local, Some(SERVER.parse().unwrap()));
    assert_eq!(conn.remote, Some(CLIENT.parse().unwrap()));
}

#[test]
fn out_of_order_and_retransmitted_segments_reassemble_exactly() {
    let (a, rest) = RESPONSE.split_at(20);
    let (b, c) = rest.split_at(25);
    let (la, lb) = (a.len() as u32, b.len() as u32);
    let mut packets = handshake();
    packets.push(c2s(0, "A", REQUEST));
    packets.push(s2c(la + lb, "A", c));
    packets.push(s2c(0, "A", a));
    packets.push(s2c(0, "A", a));
    // A retransmission that overlaps what came before and fills the hole.
    packets.push(s2c(la - 5, "A", &RESPONSE[15..(la + lb) as usize]));
    packets.push(s2c(RESPONSE.len() as u32, "FA", b""));
    packets.push(c2s(REQUEST.len() as u32, "FA", b""));
    let r = replay(ETHERNET, ethernet, &packets);
    assert_eq!(r.exchanges.len(), 1);
    let body = &r.exchanges[0].response.body;
    assert_eq!(&body.raw[..], b"0123456789abcdefghijABCDEFGHIJ");
    assert!(!body.truncated);
    assert_eq!(r.counters.out_of_order_segments, 1);
    assert_eq!(r.counters.retransmitted_segments, 1);
    assert_eq!(r.counters.overlap_bytes, 5);
    assert_eq!(
        (r.counters.holes, r.pipeline.reassembly_counters.gaps),
        (0, 0)
    );
}

#[test]
fn bytes_missing_from_the_capture_become_a_gap_not_closed_up() {
    let mut packets = handshake();
    packets.push(c2s(0, "A", REQUEST));
    let head = RESPONSE.len() - 30;
    packets.push(s2c(0, "A", &RESPONSE[..head + 10]));
    // Body bytes 10..20 never captured.
    packets.push(s2c(head as u32 + 20, "A", &RESPONSE[head + 20..]));
    packets.push(s2c(RESPONSE.len() as u32, "FA", b""));
    packets.push(c2s(REQUEST.len() as u32, "FA", b""));
    let r = replay(ETHERNET, ethernet, &packets);
    assert_eq!((r.counters.holes, r.counters.hole_bytes), (1, 10));
    assert_eq!(r.pipeline.reassembly_counters.gap_bytes, 10);
    assert_eq!(r.exchanges.len(), 1);
    let body = &r.exchanges[0].response.body;
    assert_eq!(body.wire_len, 30, "the body keeps its real length");
    assert!(body.truncated);
    // The hole reaches the pipeline in its place, between the bytes around it.
    let egress: Vec<(u64, u32, usize)> = r
        .events
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Data {
                direction: Direction::Egress,
                stream_offset,
                syscall_len,
                data,
                ..
            } => Some((*stream_offset, *syscall_len, data.len())),
            _ => None,
        })
        .collect();
    let head = head as u64;
    assert_eq!(
        egress,
        [
            (0, head as u32 + 10, head as usize + 10),
            (head + 10, 10, 0),
            (head + 20, 10, 10)
        ]
    );
}

#[test]
fn missing_tail_before_fin_is_a_gap_so_the_body_completes() {
    let mut packets = handshake();
    packets.push(c2s(0, "A", REQUEST));
    packets.push(s2c(0, "A", &RESPONSE[..RESPONSE.len() - 5]));
    packets.push(s2c(RESPONSE.len() as u32, "FA", b""));
    packets.push(c2s(REQUEST.len() as u32, "FA", b""));
    let r = replay(ETHERNET, ethernet, &packets);
    assert_eq!(r.counters.hole_bytes, 5);
    assert_eq!(r.exchanges.len(), 1);
    assert_eq!(r.exchanges[0].response.body.wire_len, 30);
    assert!(r.exchanges[0].response.body.truncated);
}

#[test]
fn ipv6_over_linux_cooked_capture() {
    let client = "[fd00::1]:40000";
    let server = "[::1]:8080";
    let packets = vec![
        ip_tcp(client, server, C_ISN, 0, "S", b""),
        ip_tcp(server, client, S_ISN, C_ISN + 1, "SA", b""),
        ip_tcp(client, server, C_ISN + 1, S_ISN + 1, "A", REQUEST),
        ip_tcp(
            server,
            client,
            S_ISN + 1,
            C_ISN + 1 + REQUEST.len() as u32,
            "A",
            RESPONSE,
        ),
        ip_tcp(
            client,
            server,
            C_ISN + 1 + REQUEST.len() as u32,
            0,
            "R",
            b"",
        ),
    ];
    for (link_type, frame) in [
        (113, sll as fn(&[u8]) -> Vec<u8>),
        (276, sll2),
        (0, null),
        (101, |ip: &[u8]| ip.to_vec()),
    ] {
        let r = replay(link_type, frame, &packets);
        assert_eq!(r.exchanges.len(), 1, "link type {link_type}");
        let conn = &r.exchanges[0].connection;
        assert_eq!(conn.local.unwrap().to_string(), "[::1]:8080");
        assert_eq!(conn.remote.unwrap().to_string(), "[fd00::1]:40000");
        assert!(
            matches!(r.events.last(), Some(CaptureEvent::Close { .. })),
            "RST closes"
        );
    }
}

#[test]
fn flows_joined_mid_stream_pick_the_server_from_the_bytes() {
    // Only the response was captured: its sender is the server even with
    // the higher port.
    let r = replay(
        ETHERNET,
        ethernet,
        &[ip_tcp("10.0.0.2:50000", "10.0.0.1:80", 7, 9, "A", RESPONSE)],
    );
    let Some(CaptureEvent::Open { role, remote, .. }) = r.events.first() else {
        panic!("no open: {:?}", r.events);
    };
    assert_eq!(
        (*role, *remote),
        (None, Some("10.0.0.1:80".parse().unwrap()))
    );
    for (src, dst, payload, server) in [
        ("10.0.0.1:40000", "10.0.0.2:9000", REQUEST, "10.0.0.2:9000"),
        (
            "10.0.0.2:9000",
            "10.0.0.1:40000",
            b"\x16\x03\x01".as_ref(),
            "10.0.0.2:9000",
        ),
        (
            "10.0.0.1:40000",
            "10.0.0.2:9000",
            b"\x16\x03\x01".as_ref(),
            "10.0.0.2:9000",
        ),
        // Requests from the lower port: the bytes win over the ports,
        // HTTP/2's preface as well as an HTTP/1 request line.
        ("10.0.0.2:9000", "10.0.0.1:40000", REQUEST, "10.0.0.1:40000"),
        (
            "10.0.0.2:9000",
            "10.0.0.1:40000",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".as_ref(),
            "10.0.0.1:40000",
        ),
        // A server's first SETTINGS frame, from the higher port.
        (
            "10.0.0.1:40000",
            "10.0.0.2:9000",
            b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64".as_ref(),
            "10.0.0.1:40000",
        ),
    ] {
        let r = replay(ETHERNET, ethernet, &[ip_tcp(src, dst, 1, 1, "A", payload)]);
        let Some(CaptureEvent::Open { remote, .. }) = r.events.first() else {
            panic!("no open");
        };
        let client = if src == server { dst } else { src };
        assert_eq!(*remote, Some(client.parse().unwrap()), "{src} -> {dst}");
    }
}

#[test]
fn a_new_syn_on_the_same_ports_is_a_new_connection() {
    let mut packets = full_connection();
    packets.truncate(5);
    packets.push(ip_tcp(CLIENT, SERVER, 90_000, 0, "S", b""));
    let r = replay(ETHERNET, ethernet, &packets);
    let opens = r
        .events
        .iter()
        .filter(|e| matches!(e, CaptureEvent::Open { .. }))
        .count();
    assert_eq!((opens, r.counters.flows), (2, 2));
    assert_eq!(r.exchanges.len(), 1);
}

#[test]
fn flows_beyond_the_limit_evict_the_oldest_and_are_counted() {
    let packets: Vec<Vec<u8>> = (0..5)
        .map(|i| {
            ip_tcp(
                &format!("10.0.0.1:{}", 40000 + i),
                SERVER,
                1,
                1,
                "A",
                REQUEST,
            )
        })
        .collect();
    let r = replay_with(ETHERNET, ethernet, &packets, limits(2));
    assert_eq!((r.counters.flows, r.counters.flows_evicted_limit), (5, 3));
}

#[test]
fn held_bytes_are_bounded_per_direction() {
    let mut packets = handshake();
    // Segments far past a hole that never fills.
    for i in 0..8u32 {
        packets.push(c2s(1000 + i * 100, "A", &[b'x'; 100]));
    }
    let mut l = limits(4);
    l.max_held_per_direction = 250;
    let r = replay_with(ETHERNET, ethernet, &packets, l);
    // Three held, then the bound gives the hole up and the rest follow on.
    assert_eq!(r.counters.out_of_order_segments, 3);
    assert_eq!(
        r.counters.hole_bytes, 1000,
        "one hole, given up once the bound was hit"
    );
    let ingress: u64 = r
        .events
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Data {
                direction: Direction::Ingress,
                data,
                ..
            } => Some(data.len() as u64),
            _ => None,
        })
        .sum();
    assert_eq!(ingress, 800, "every captured byte still goes out");
}

#[test]
fn decoding_skips_what_is_not_a_tcp_segment() {
    let tcp = c2s(0, "A", b"hi");
    let mut udp = tcp.clone();
    udp[9] = 17;
    let mut fragment = tcp.clone();
    fragment[6] = 0x20;
    let mut arp = ethernet(&tcp);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let mut bad_header_len = tcp.clone();
    bad_header_len[0] = 0x44;
    for (name, link_type, frame, expected) in [
        ("udp", 1, ethernet(&udp), Err(Skip::NotTcp)),
        ("fragment", 1, ethernet(&fragment), Err(Skip::Fragment)),
        ("arp", 1, arp, Err(Skip::NotIp)),
        ("unknown link", 105, tcp.clone(), Err(Skip::UnknownLink)),
        (
            "bad IPv4 header length",
            101,
            bad_header_len,
            Err(Skip::Malformed("bad IPv4 header length")),
        ),
        ("vlan", 1, vlan_ethernet(&tcp), Ok(2)),
        (
            "padding is not payload",
            1,
            ethernet(&c2s(0, "A", b"")),
            Ok(0),
        ),
    ] {
        let got = decode(link_type, &frame).map(|s| s.payload.len());
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn a_frame_cut_by_the_snapshot_length_keeps_its_payload_length() {
    let frame = ethernet(&c2s(0, "A", &[b'z'; 500]));
    let seg = decode(1, &frame[..200]).unwrap();
    assert_eq!(
        (seg.payload.len(), seg.payload_len),
        (200 - 14 - 20 - 24, 500)
    );
}

#[test]
fn no_prefix_of_a_frame_panics() {
    let v4 = ethernet(&c2s(0, "A", b"payload"));
    let v6 = sll2(&ip_tcp("[::1]:1", "[::2]:2", 1, 1, "A", b"payload"));
    for (link_type, frame) in [(1, v4), (276, v6)] {
        for len in 0..frame.len() {
            let _ = decode(link_type, &frame[..len]);
        }
    }
}

fn read_all(bytes: &[u8]) -> Result<Vec<(u64, u64, u32, usize)>, ReadError> {
    let mut reader = CaptureReader::new(Cursor::new(bytes))?;
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet()? {
        out.push((p.number, p.ts_ns, p.link_type, p.data.len()));
    }
    Ok(out)
}

#[test]
fn pcap_and_pcapng_files_read_alike() {
    let frames = vec![
        (1_700_000_000_123_456_000, ethernet(&c2s(0, "A", REQUEST))),
        (1_700_000_001_000_001_000, ethernet(&s2c(0, "A", RESPONSE))),
    ];
    let expected = vec![
        (1, 1_700_000_000_123_456_000, 1, frames[0].1.len()),
        (2, 1_700_000_001_000_001_000, 1, frames[1].1.len()),
    ];
    assert_eq!(read_all(&pcap(1, &frames)).unwrap(), expected);
    assert_eq!(read_all(&pcapng(1, &frames)).unwrap(), expected);
}

#[test]
fn damaged_files_are_errors_that_say_where() {
    let frames = vec![(1_000, ethernet(&c2s(0, "A", REQUEST))); 3];
    for (name, file) in [("pcap", pcap(1, &frames)), ("pcapng", pcapng(1, &frames))] {
        // Every cut either ends cleanly between packets or says which
        // packet it cut; none panics.
        for len in 0..file.len() {
            match read_all(&file[..len]) {
                Ok(packets) => assert!(packets.len() <= 3),
                Err(ReadError::Truncated { packet }) => {
                    assert!((1..=3).contains(&packet), "{name} {len}")
                }
                Err(ReadError::NotACapture(_)) | Err(ReadError::Corrupt { packet: 0 | 1, .. }) => {
                    assert!(len < 40, "{name} cut at {len}")
                }
                Err(other) => panic!("{name} cut at {len}: {other}"),
            }
        }
    }
    assert!(matches!(
        read_all(b"GET / HTTP/1.1\r\n"),
        Err(ReadError::NotACapture(_))
    ));
    assert!(matches!(
        read_all(&pcap(105, &frames)),
        Err(ReadError::UnsupportedLink(105))
    ));
    let mut huge = pcap(1, &frames);
    let second_record = 24 + 16 + frames[0].1.len();
    huge[second_record + 8..second_record + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = read_all(&huge).unwrap_err();
    assert!(matches!(err, ReadError::Corrupt { packet: 2, .. }), "{err}");
    let mut bad_block = pcapng(1, &frames);
    let last = bad_block.len() - 4;
    bad_block[last] ^= 0xff;
    let err = read_all(&bad_block).unwrap_err();
    assert!(matches!(err, ReadError::Corrupt { packet: 3, .. }), "{err}");
}
