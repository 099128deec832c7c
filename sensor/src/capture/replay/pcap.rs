//! The classic pcap format: a 24-byte file header, then records of a
//! 16-byte header and the captured bytes.

use std::io::Read;

use super::file::{read_exact, read_full, Endian, ReadError, Record, MAX_RECORD_BYTES};
use super::packet;

pub(super) struct Pcap {
    endian: Endian,
    /// Record timestamps carry nanoseconds rather than microseconds.
    nanos: bool,
    link_type: u32,
}

impl Pcap {
    /// Reads the rest of the file header after its `magic`; `None` when the
    /// magic is not a pcap one.
    pub fn start(magic: [u8; 4], input: &mut impl Read) -> Result<Option<Self>, ReadError> {
        let (big, nanos) = match magic {
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            _ => return Ok(None),
        };
        let endian = Endian { big };
        let mut header = [0u8; 20];
        if read_full(input, &mut header)? < header.len() {
            return Err(ReadError::Corrupt {
                packet: 0,
                reason: "the pcap file header is cut short".into(),
            });
        }
        // The top bits of the link type field carry FCS information.
        let link_type = endian.u32(&header, 16) & 0x0fff_ffff;
        if !packet::link_supported(link_type) {
            return Err(ReadError::UnsupportedLink(link_type));
        }
        Ok(Some(Self {
            endian,
            nanos,
            link_type,
        }))
    }

    pub fn next(
        &mut self,
        input: &mut impl Read,
        buf: &mut Vec<u8>,
        number: u64,
    ) -> Result<Option<Record>, ReadError> {
        let mut header = [0u8; 16];
        match read_full(input, &mut header)? {
            0 => return Ok(None),
            16 => {}
            _ => return Err(ReadError::Truncated { packet: number }),
        }
        let e = self.endian;
        let secs = u64::from(e.u32(&header, 0));
        let frac = u64::from(e.u32(&header, 4));
        let captured = e.u32(&header, 8) as usize;
        let wire_len = e.u32(&header, 12);
        if captured > MAX_RECORD_BYTES {
            return Err(ReadError::Corrupt {
                packet: number,
                reason: format!(
                    "record claims {captured} captured bytes, more than any capture holds"
                ),
            });
        }
        buf.resize(captured, 0);
        read_exact(input, buf, number)?;
        let frac_ns = if self.nanos { frac } else { frac * 1000 };
        Ok(Some(Record {
            ts_ns: secs * 1_000_000_000 + frac_ns,
            link_type: self.link_type,
            data: 0..captured,
            wire_len: wire_len.max(captured as u32),
        }))
    }
}
