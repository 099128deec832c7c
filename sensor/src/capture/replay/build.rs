//! Hand-built frames and capture files for the replay tests: each layer
//! written field by field from its RFC, independent of the decoder.

use std::net::{IpAddr, SocketAddr};

/// A TCP segment inside its IP header (v4 or v6, from the addresses).
/// `flags` holds any of the letters S, A, F, R.
pub fn ip_tcp(src: &str, dst: &str, seq: u32, ack: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
    let src: SocketAddr = src.parse().unwrap();
    let dst: SocketAddr = dst.parse().unwrap();
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&src.port().to_be_bytes());
    tcp.extend_from_slice(&dst.port().to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    // Data offset 6 words: one 4-byte option (MSS) so options are skipped.
    tcp.push(6 << 4);
    let mut bits = 0u8;
    for (letter, bit) in [('F', 0x01), ('S', 0x02), ('R', 0x04), ('A', 0x10)] {
        if flags.contains(letter) {
            bits |= bit;
        }
    }
    tcp.push(bits);
    tcp.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(&[2, 4, 0x05, 0xb4]);
    tcp.extend_from_slice(payload);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip.extend_from_slice(&tcp);
            ip
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            ip.extend_from_slice(&[6, 64]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip.extend_from_slice(&tcp);
            ip
        }
        _ => panic!("mixed address families"),
    }
}

pub fn ethernet(ip: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 12];
    let ethertype: u16 = if ip[0] >> 4 == 6 { 0x86DD } else { 0x0800 };
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(ip);
    // Ethernet pads short frames to 60 bytes: never payload.
    frame.resize(frame.len().max(60), 0);
    frame
}

pub fn vlan_ethernet(ip: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&[0x81, 0x00, 0x00, 0x2a, 0x08, 0x00]);
    frame.extend_from_slice(ip);
    frame
}

pub fn sll(ip: &[u8]) -> Vec<u8> {
    let mut frame = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
    let ethertype: u16 = if ip[0] >> 4 == 6 { 0x86DD } else { 0x0800 };
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(ip);
    frame
}

pub fn sll2(ip: &[u8]) -> Vec<u8> {
    let ethertype: u16 = if ip[0] >> 4 == 6 { 0x86DD } else { 0x0800 };
    let mut frame = ethertype.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
    frame.truncate(20);
    frame.extend_from_slice(ip);
    frame
}

/// BSD loopback with the family in little-endian host order.
pub fn null(ip: &[u8]) -> Vec<u8> {
    let family: u32 = if ip[0] >> 4 == 6 { 30 } else { 2 };
    let mut frame = family.to_le_bytes().to_vec();
    frame.extend_from_slice(ip);
    frame
}

/// A little-endian microsecond pcap file.
pub fn pcap(link_type: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&link_type.to_le_bytes());
    for (ts_ns, frame) in frames {
        out.extend_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts_ns % 1_000_000_000 / 1000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

/// A big-endian pcapng file: one section, one interface with nanosecond
/// timestamps, a comment block to skip, enhanced packet blocks.
pub fn pcapng(link_type: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + padded - body.len(), 0);
        out.extend_from_slice(&total.to_be_bytes());
    }
    let mut out = Vec::new();
    let mut shb = 0x1A2B_3C4Du32.to_be_bytes().to_vec();
    shb.extend_from_slice(&[0, 1, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_be_bytes());
    block(&mut out, 0x0A0D_0D0A, &shb);
    let mut idb = (link_type as u16).to_be_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&262_144u32.to_be_bytes());
    // if_tsresol = 9 (nanoseconds), then the end of options.
    idb.extend_from_slice(&[0, 9, 0, 1, 9, 0, 0, 0, 0, 0, 0, 0]);
    block(&mut out, 1, &idb);
    block(&mut out, 0x0BAD, b"a custom block the reader skips");
    for (ts_ns, frame) in frames {
        let mut epb = 0u32.to_be_bytes().to_vec();
        epb.extend_from_slice(&((ts_ns >> 32) as u32).to_be_bytes());
        epb.extend_from_slice(&(*ts_ns as u32).to_be_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        epb.extend_from_slice(frame);
        block(&mut out, 6, &epb);
    }
    out
}
