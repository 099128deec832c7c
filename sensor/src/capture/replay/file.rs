//! Reading capture files: pcap (microsecond or nanosecond, either byte
//! order) and pcapng (any number of sections and interfaces). Packets come
//! out one at a time from one reused buffer, so memory stays at the largest
//! record the file holds, and no record may claim more than
//! `MAX_RECORD_BYTES`.

use std::io::{self, Read};

use super::{pcap, pcapng};

/// A record claiming more than this is corrupt: real captures cut packets
/// at a snapshot length of 256 KiB at most.
pub const MAX_RECORD_BYTES: usize = 4 << 20;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug)]
pub struct RawPacket<'a> {
    /// 1 for the first packet of the file, as Wireshark numbers them.
    pub number: u64,
    /// Unix time of capture, nanoseconds.
    pub ts_ns: u64,
    /// The LINKTYPE_* value of the interface it was captured on.
    pub link_type: u32,
    /// The captured bytes: possibly a prefix of the frame (snapshot length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The operating system refused the read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Neither pcap nor pcapng magic at the start of the file.
    #[error("not a pcap or pcapng capture (it starts with bytes {0:02x?}); write captures with `tcpdump -w` or `tshark -w`")]
    NotACapture(Vec<u8>),
    /// The file ends inside a header or record: usually a capture still
    /// being written, or one copied before tcpdump flushed it.
    #[error("the file ends in the middle of packet {packet}: it was cut short")]
    Truncated { packet: u64 },
    /// A header or record that cannot be what it claims to be.
    #[error("packet {packet}: {reason}")]
    Corrupt { packet: u64, reason: String },
    /// A pcap file whose only link type the sensor cannot decode.
    #[error("link type {0} is not supported (supported: Ethernet, Linux cooked SLL and SLL2, raw IP, BSD loopback)")]
    UnsupportedLink(u32),
}

impl ReadError {
    /// True when everything before the error was read normally and only the
    /// end of the file is missing.
    pub fn is_truncation(&self) -> bool {
        matches!(self, ReadError::Truncated { .. })
    }
}

enum Format {
    Pcap(pcap::Pcap),
    Pcapng(pcapng::Pcapng),
}

/// Reads the packets of a pcap or pcapng file in order.
pub struct CaptureReader<R> {
    input: R,
    format: Format,
    buf: Vec<u8>,
    packets: u64,
}

impl<R: Read> CaptureReader<R> {
    /// Recognises the format from the first bytes and reads the file header.
    pub fn new(mut input: R) -> Result<Self, ReadError> {
        let mut magic = [0u8; 4];
        let got = read_full(&mut input, &mut magic)?;
        if got < magic.len() {
            return Err(ReadError::NotACapture(magic[..got].to_vec()));
        }
        let mut buf = Vec::new();
        let format = if pcapng::is_magic(magic) {
            Format::Pcapng(pcapng::Pcapng::start(&mut input, &mut buf)?)
        } else if let Some(pcap) = pcap::Pcap::start(magic, &mut input)? {
            Format::Pcap(pcap)
        } else {
            return Err(ReadError::NotACapture(magic.to_vec()));
        };
        Ok(Self {
            input,
            format,
            buf,
            packets: 0,
        })
    }

    /// The next packet, or `None` at the clean end of the file.
    pub fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, ReadError> {
        let number = self.packets + 1;
        let found = match &mut self.format {
            Format::Pcap(p) => p.next(&mut self.input, &mut self.buf, number)?,
            Format::Pcapng(p) => p.next(&mut self.input, &mut self.buf, number)?,
        };
        let Some(record) = found else {
            return Ok(None);
        };
        self.packets = number;
        Ok(Some(RawPacket {
            number,
            ts_ns: record.ts_ns,
            link_type: record.link_type,
            data: &self.buf[record.data.clone()],
            wire_len: record.wire_len,
        }))
    }

    /// Packets returned so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }
}

/// Where a format reader left a packet in the shared buffer.
pub(super) struct Record {
    pub ts_ns: u64,
    pub link_type: u32,
    pub data: std::ops::Range<usize>,
    pub wire_len: u32,
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(super) fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(got)
}

/// Fills `buf` completely; a short read means the file was cut inside the
/// record of `packet`.
pub(super) fn read_exact(
    input: &mut impl Read,
    buf: &mut [u8],
    packet: u64,
) -> Result<(), ReadError> {
    if read_full(input, buf)? < buf.len() {
        return Err(ReadError::Truncated { packet });
    }
    Ok(())
}

/// Integers in the byte order the file was written in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Endian {
    pub big: bool,
}

impl Endian {
    /// Reads a u16 at `at`; the caller checked `b` is long enough.
    pub fn u16(self, b: &[u8], at: usize) -> u16 {
        let raw = [b[at], b[at + 1]];
        if self.big {
            u16::from_be_bytes(raw)
        } else {
            u16::from_le_bytes(raw)
        }
    }

    /// Reads a u32 at `at`; the caller checked `b` is long enough.
    pub fn u32(self, b: &[u8], at: usize) -> u32 {
        let raw = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        }
    }
}
