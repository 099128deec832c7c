//! Decoding one captured frame down to its TCP segment: link layer
//! (Ethernet with VLAN tags, Linux cooked SLL and SLL2, raw IP, BSD
//! loopback), IPv4 or IPv6 (with extension headers), then TCP. Lengths come
//! from the IP header, so Ethernet padding never becomes payload and a frame
//! cut by the snapshot length still tells how many payload bytes it carried.
//! Checksums are not verified: loopback and offloading NICs leave them unset.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const LINKTYPE_NULL: u32 = 0;
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LOOP: u32 = 108;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_IPV4: u32 = 228;
const LINKTYPE_IPV6: u32 = 229;
const LINKTYPE_LINUX_SLL2: u32 = 276;
/// Raw IP under the DLT numbers some systems write instead of 101.
const DLT_RAW_ALIASES: [u32; 2] = [12, 14];

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88A8, 0x9100];

const PROTO_TCP: u8 = 6;

/// True for the link types `decode` understands.
pub fn link_supported(link_type: u32) -> bool {
    matches!(
        link_type,
        LINKTYPE_NULL
            | LINKTYPE_ETHERNET
            | LINKTYPE_RAW
            | LINKTYPE_LOOP
            | LINKTYPE_LINUX_SLL
            | LINKTYPE_IPV4
            | LINKTYPE_IPV6
            | LINKTYPE_LINUX_SLL2
    ) || DLT_RAW_ALIASES.contains(&link_type)
}

/// TCP header flags the flow tracker acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// One TCP segment, its payload borrowed from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The payload bytes captured: all of them unless the snapshot length
    /// cut the frame.
    pub payload: &'a [u8],
    /// Payload bytes the segment carried on the wire.
    pub payload_len: u32,
}

/// Why a frame yields no TCP segment; each is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The interface's link type is not one `decode` knows.
    UnknownLink,
    /// ARP, LLDP and other non-IP frames.
    NotIp,
    /// UDP, ICMP and other IP protocols.
    NotTcp,
    /// An IP fragment: reassembling IP is out of scope (TCP avoids it).
    Fragment,
    /// Headers that contradict themselves or end early.
    Malformed(&'static str),
}

/// Decodes a frame of `link_type` down to its TCP segment.
pub fn decode(link_type: u32, frame: &[u8]) -> Result<TcpSegment<'_>, Skip> {
    let (ethertype, ip) = match link_type {
        LINKTYPE_ETHERNET => ethernet(frame)?,
        LINKTYPE_LINUX_SLL => {
            let header = frame.get(..16).ok_or(Skip::Malformed("short SLL header"))?;
            (be16(header, 14), &frame[16..])
        }
        LINKTYPE_LINUX_SLL2 => {
            let header = frame
                .get(..20)
                .ok_or(Skip::Malformed("short SLL2 header"))?;
            (be16(header, 0), &frame[20..])
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => loopback(link_type, frame)?,
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 => raw(frame)?,
        other if DLT_RAW_ALIASES.contains(&other) => raw(frame)?,
        _ => return Err(Skip::UnknownLink),
    };
    match ethertype {
        ETHERTYPE_IPV4 => ipv4(ip),
        ETHERTYPE_IPV6 => ipv6(ip),
        _ => Err(Skip::NotIp),
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn ethernet(frame: &[u8]) -> Result<(u16, &[u8]), Skip> {
    let mut at = 12;
    // Two tags at most (802.1ad QinQ); more is not a frame anyone sends.
    for _ in 0..3 {
        let ethertype = be16(
            frame
                .get(..at + 2)
                .ok_or(Skip::Malformed("short Ethernet header"))?,
            at,
        );
        if !ETHERTYPE_VLAN.contains(&ethertype) {
            return Ok((ethertype, &frame[at + 2..]));
        }
        at += 4;
    }
    Err(Skip::Malformed("too many VLAN tags"))
}

/// BSD loopback: a 4-byte address family, in the capturing host's byte
/// order for NULL and in network order for LOOP.
fn loopback(link_type: u32, frame: &[u8]) -> Result<(u16, &[u8]), Skip> {
    let header = frame
        .get(..4)
        .ok_or(Skip::Malformed("short loopback header"))?;
    let raw = [header[0], header[1], header[2], header[3]];
    let family = if link_type == LINKTYPE_LOOP {
        u32::from_be_bytes(raw)
    } else {
        // Families are small numbers: whichever order gives one is right.
        let le = u32::from_le_bytes(raw);
        if le <= 0xffff {
            le
        } else {
            u32::from_be_bytes(raw)
        }
    };
    let ethertype = match family {
        2 => ETHERTYPE_IPV4,
        // AF_INET6 on NetBSD/OpenBSD, FreeBSD, and macOS.
        24 | 28 | 30 => ETHERTYPE_IPV6,
        _ => return Err(Skip::NotIp),
    };
    Ok((ethertype, &frame[4..]))
}

fn raw(frame: &[u8]) -> Result<(u16, &[u8]), Skip> {
    match frame.first().map(|b| b >> 4) {
        Some(4) => Ok((ETHERTYPE_IPV4, frame)),
        Some(6) => Ok((ETHERTYPE_IPV6, frame)),
        _ => Err(Skip::NotIp),
    }
}

fn ipv4(packet: &[u8]) -> Result<TcpSegment<'_>, Skip> {
    let header = packet
        .get(..20)
        .ok_or(Skip::Malformed("short IPv4 header"))?;
    if header[0] >> 4 != 4 {
        return Err(Skip::Malformed("IPv4 header with another version"));
    }
    let header_len = usize::from(header[0] & 0x0f) * 4;
    let total_len = usize::from(be16(header, 2));
    if header_len < 20 || packet.len() < header_len {
        return Err(Skip::Malformed("bad IPv4 header length"));
    }
    let fragment = be16(header, 6);
    if fragment & 0x3fff != 0 {
        // More-fragments set or a non-zero offset.
        return Err(Skip::Fragment);
    }
    if header[9] != PROTO_TCP {
        return Err(Skip::NotTcp);
    }
    // Segmentation offload hands tcpdump packets whose total length is 0.
    let ip_len = if total_len == 0 {
        None
    } else if total_len < header_len {
        return Err(Skip::Malformed("IPv4 total length shorter than its header"));
    } else {
        Some(total_len - header_len)
    };
    let src = IpAddr::V4(Ipv4Addr::new(
        header[12], header[13], header[14], header[15],
    ));
    let dst = IpAddr::V4(Ipv4Addr::new(
        header[16], header[17], header[18], header[19],
    ));
    tcp(src, dst, &packet[header_len..], ip_len)
}

/// Extension headers that may come before TCP and that we walk over.
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AUTH: u8 = 51;
const IPV6_DEST_OPTS: u8 = 60;
/// Extension headers walked before giving up on a packet.
const MAX_IPV6_EXTENSIONS: usize = 8;

fn ipv6(packet: &[u8]) -> Result<TcpSegment<'_>, Skip> {
    let header = packet
        .get(..40)
        .ok_or(Skip::Malformed("short IPv6 header"))?;
    if header[0] >> 4 != 6 {
        return Err(Skip::Malformed("IPv6 header with another version"));
    }
    let payload_len = usize::from(be16(header, 4));
    let mut next = header[6];
    let src = IpAddr::V6(Ipv6Addr::from(
        <[u8; 16]>::try_from(&header[8..24]).unwrap_or_default(),
    ));
    let dst = IpAddr::V6(Ipv6Addr::from(
        <[u8; 16]>::try_from(&header[24..40]).unwrap_or_default(),
    ));
    let mut at = 40;
    for _ in 0..MAX_IPV6_EXTENSIONS {
        let ext_len = match next {
            PROTO_TCP => {
                // A payload length of 0 is a jumbogram or offload: trust
                // the captured bytes.
                let ip_len = (payload_len != 0)
                    .then(|| payload_len.checked_sub(at - 40))
                    .map(|len| len.ok_or(Skip::Malformed("IPv6 payload shorter than its headers")))
                    .transpose()?;
                return tcp(src, dst, &packet[at..], ip_len);
            }
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DEST_OPTS | IPV6_FRAGMENT | IPV6_AUTH => {
                let ext = packet
                    .get(at..at + 8)
                    .ok_or(Skip::Malformed("short IPv6 extension header"))?;
                if next == IPV6_FRAGMENT && be16(ext, 2) & 0xfff9 != 0 {
                    // A real fragment (offset or more-fragments), not an
                    // atomic one.
                    return Err(Skip::Fragment);
                }
                let len = match next {
                    IPV6_FRAGMENT => 8,
                    IPV6_AUTH => (usize::from(ext[1]) + 2) * 4,
                    _ => (usize::from(ext[1]) + 1) * 8,
                };
                next = ext[0];
                len
            }
            _ => return Err(Skip::NotTcp),
        };
        at += ext_len;
        if at > packet.len() {
            return Err(Skip::Malformed(
                "IPv6 extension header runs past the packet",
            ));
        }
    }
    Err(Skip::Malformed("too many IPv6 extension headers"))
}

/// `ip_len`: bytes of TCP header and payload the IP header declares, when
/// it declares them.
fn tcp(
    src: IpAddr,
    dst: IpAddr,
    segment: &[u8],
    ip_len: Option<usize>,
) -> Result<TcpSegment<'_>, Skip> {
    let header = segment
        .get(..20)
        .ok_or(Skip::Malformed("short TCP header"))?;
    let header_len = usize::from(header[12] >> 4) * 4;
    if header_len < 20 {
        return Err(Skip::Malformed("bad TCP header length"));
    }
    if segment.len() < header_len {
        return Err(Skip::Malformed("TCP options cut short"));
    }
    let wire_len = match ip_len {
        Some(len) if len < header_len => {
            return Err(Skip::Malformed("IP length shorter than the TCP header"));
        }
        Some(len) => len - header_len,
        None => segment.len() - header_len,
    };
    let available = &segment[header_len..];
    let payload = &available[..available.len().min(wire_len)];
    let flag_bits = header[13];
    Ok(TcpSegment {
        src: SocketAddr::new(src, be16(header, 0)),
        dst: SocketAddr::new(dst, be16(header, 2)),
        seq: be32(header, 4),
        ack: be32(header, 8),
        flags: TcpFlags {
            fin: flag_bits & 0x01 != 0,
            syn: flag_bits & 0x02 != 0,
            rst: flag_bits & 0x04 != 0,
            ack: flag_bits & 0x10 != 0,
        },
        payload,
        payload_len: u32::try_from(wire_len)
            .map_err(|_| Skip::Malformed("TCP payload too long"))?,
    })
}
