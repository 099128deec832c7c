//! One TCP connection per case in a pcap file (LINKTYPE_RAW: IPv4
//! packets), each carrying one HTTP/1.1 request and its JSON response, so
//! `sensor replay` reads the corpus as it reads a real capture.

use std::io::Write;

const LINKTYPE_RAW: u32 = 101;
const SERVER: [u8; 4] = [10, 11, 0, 1];
const SERVER_PORT: u16 = 8080;

pub struct Writer<W: Write> {
    out: W,
    clock_us: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W) -> std::io::Result<Writer<W>> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&[0; 8])?;
        out.write_all(&262_144u32.to_le_bytes())?;
        out.write_all(&LINKTYPE_RAW.to_le_bytes())?;
        Ok(Writer {
            out,
            clock_us: 1_780_000_000_000_000,
        })
    }

    /// Case `n` (distinct client address and port per case): handshake,
    /// `GET path`, a 200 response with `body`, and both FINs.
    pub fn exchange(&mut self, n: u32, path: &str, body: &[u8]) -> std::io::Result<()> {
        let client = [10, 12, (n >> 8 & 0xff) as u8, (n & 0xff) as u8];
        let client_port = 20_000 + (n >> 16) as u16;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: api.quality.test\r\nAccept: application/json\r\n\r\n"
        );
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(body);
        let (c, s) = ((client, client_port), (SERVER, SERVER_PORT));
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        self.packet(c, s, cseq, 0, 0x02, &[])?;
        self.packet(s, c, sseq, cseq + 1, 0x12, &[])?;
        cseq += 1;
        sseq += 1;
        self.packet(c, s, cseq, sseq, 0x10, &[])?;
        self.packet(c, s, cseq, sseq, 0x18, request.as_bytes())?;
        cseq += request.len() as u32;
        for chunk in response.chunks(60_000) {
            self.packet(s, c, sseq, cseq, 0x18, chunk)?;
            sseq += chunk.len() as u32;
        }
        self.packet(c, s, cseq, sseq, 0x11, &[])?;
        self.packet(s, c, sseq, cseq + 1, 0x11, &[])?;
        self.packet(c, s, cseq + 1, sseq + 1, 0x10, &[])
    }

    fn packet(
        &mut self,
        (src, sport): ([u8; 4], u16),
        (dst, dport): ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let total = 40 + payload.len();
        let mut p = Vec::with_capacity(total);
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&(total as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        let sum = checksum(&p);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ack.to_be_bytes());
        p.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        self.clock_us += 100;
        let (secs, micros) = (self.clock_us / 1_000_000, self.clock_us % 1_000_000);
        self.out.write_all(&(secs as u32).to_le_bytes())?;
        self.out.write_all(&(micros as u32).to_le_bytes())?;
        self.out.write_all(&(p.len() as u32).to_le_bytes())?;
        self.out.write_all(&(p.len() as u32).to_le_bytes())?;
        self.out.write_all(&p)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The case number `exchange` gave the client `10.12.a.b:port`.
pub fn case_of_client(addr: &str) -> Option<usize> {
    let (ip, port) = addr.rsplit_once(':')?;
    let octets: Vec<usize> = ip
        .split('.')
        .map(|o| o.parse().ok())
        .collect::<Option<_>>()?;
    let port: usize = port.parse().ok()?;
    match octets[..] {
        [10, 12, a, b] if port >= 20_000 => Some((port - 20_000) << 16 | a << 8 | b),
        _ => None,
    }
}

fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
