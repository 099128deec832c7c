//! The pcapng format: blocks of a type, a length, a body and the length
//! again. Section headers set the byte order, interface descriptions the
//! link type and timestamp unit; packets come from enhanced, simple and
//! (obsolete) packet blocks. Every other block is skipped.

use std::io::Read;

use super::file::{read_exact, read_full, Endian, ReadError, Record, MAX_RECORD_BYTES};

const SECTION_HEADER: u32 = 0x0A0D_0D0A;
const INTERFACE: u32 = 1;
const OBSOLETE_PACKET: u32 = 2;
const SIMPLE_PACKET: u32 = 3;
const ENHANCED_PACKET: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Option codes in an interface description block.
const OPT_END: u16 = 0;
const OPT_TSRESOL: u16 = 9;
const OPT_TSOFFSET: u16 = 14;

/// Interfaces one section may describe; more is a corrupt file, not a
/// reason to grow without bound.
const MAX_INTERFACES: usize = 1024;

pub(super) fn is_magic(magic: [u8; 4]) -> bool {
    magic == SECTION_HEADER.to_be_bytes()
}

struct Interface {
    link_type: u32,
    snaplen: u32,
    resolution: Resolution,
    offset_secs: i64,
}

/// How long one timestamp unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    /// 10^-n seconds.
    Decimal(u8),
    /// 2^-n seconds.
    Binary(u8),
}

impl Resolution {
    fn to_ns(self, units: u64) -> u64 {
        let ns = match self {
            Resolution::Decimal(n) if n <= 9 => u128::from(units) * 10u128.pow(u32::from(9 - n)),
            Resolution::Decimal(n) => {
                u128::from(units) / 10u128.checked_pow(u32::from(n - 9)).unwrap_or(u128::MAX)
            }
            Resolution::Binary(n) => (u128::from(units) * 1_000_000_000)
                .checked_shr(u32::from(n))
                .unwrap_or(0),
        };
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

pub(super) struct Pcapng {
    endian: Endian,
    interfaces: Vec<Interface>,
}

impl Pcapng {
    /// Reads the first section header, whose block type was the magic.
    pub fn start(input: &mut impl Read, buf: &mut Vec<u8>) -> Result<Self, ReadError> {
        let mut this = Self {
            endian: Endian { big: false },
            interfaces: Vec::new(),
        };
        this.section_header(input, buf, 1)?;
        Ok(this)
    }

    pub fn next(
        &mut self,
        input: &mut impl Read,
        buf: &mut Vec<u8>,
        number: u64,
    ) -> Result<Option<Record>, ReadError> {
        loop {
            let mut kind = [0u8; 4];
            match read_full(input, &mut kind)? {
                0 => return Ok(None),
                4 => {}
                _ => return Err(ReadError::Truncated { packet: number }),
            }
            if is_magic(kind) {
                self.section_header(input, buf, number)?;
                continue;
            }
            let kind = self.endian.u32(&kind, 0);
            self.body(input, buf, number)?;
            let record = match kind {
                INTERFACE => {
                    self.interface(buf, number)?;
                    None
                }
                ENHANCED_PACKET => Some(self.enhanced_packet(buf, number)?),
                SIMPLE_PACKET => Some(self.simple_packet(buf, number)?),
                OBSOLETE_PACKET => Some(self.obsolete_packet(buf, number)?),
                _ => None,
            };
            if record.is_some() {
                return Ok(record);
            }
        }
    }

    /// A new section: its own byte order and interfaces.
    fn section_header(
        &mut self,
        input: &mut impl Read,
        buf: &mut Vec<u8>,
        number: u64,
    ) -> Result<(), ReadError> {
        let mut head = [0u8; 8];
        read_exact(input, &mut head, number)?;
        self.endian = match head[4..8] {
            [0x1A, 0x2B, 0x3C, 0x4D] => Endian { big: true },
            [0x4D, 0x3C, 0x2B, 0x1A] => Endian { big: false },
            _ => {
                return Err(corrupt(
                    number,
                    "section header has no valid byte-order magic".into(),
                ))
            }
        };
        debug_assert_eq!(self.endian.u32(&head, 4), BYTE_ORDER_MAGIC);
        let total = self.block_length(&head[..4], number)?;
        // Type, length and byte-order magic are read; the rest is skipped.
        buf.resize(total - 12, 0);
        read_exact(input, buf, number)?;
        self.interfaces.clear();
        Ok(())
    }

    /// Reads the rest of a block whose type is consumed: its length, body
    /// and trailing length. `buf` ends up holding the body alone.
    fn body(&self, input: &mut impl Read, buf: &mut Vec<u8>, number: u64) -> Result<(), ReadError> {
        let mut len = [0u8; 4];
        read_exact(input, &mut len, number)?;
        let total = self.block_length(&len, number)?;
        buf.resize(total - 8, 0);
        read_exact(input, buf, number)?;
        let trailer = self.endian.u32(buf, total - 12);
        if trailer as usize != total {
            return Err(corrupt(
                number,
                format!("block length {total} does not match its trailer {trailer}"),
            ));
        }
        buf.truncate(total - 12);
        Ok(())
    }

    /// The block's total length field, checked.
    fn block_length(&self, field: &[u8], number: u64) -> Result<usize, ReadError> {
        let total = self.endian.u32(field, 0) as usize;
        if total < 12 || !total.is_multiple_of(4) || total > MAX_RECORD_BYTES + 4096 {
            return Err(corrupt(number, format!("block claims a length of {total}")));
        }
        Ok(total)
    }

    fn interface(&mut self, body: &[u8], number: u64) -> Result<(), ReadError> {
        if body.len() < 8 {
            return Err(corrupt(number, "interface description too short".into()));
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(corrupt(number, "too many interfaces in one section".into()));
        }
        let e = self.endian;
        let mut interface = Interface {
            link_type: u32::from(e.u16(body, 0)),
            snaplen: e.u32(body, 4),
            resolution: Resolution::Decimal(6),
            offset_secs: 0,
        };
        let mut at = 8;
        while at + 4 <= body.len() {
            let code = e.u16(body, at);
            let len = usize::from(e.u16(body, at + 2));
            let value = body.get(at + 4..at + 4 + len).unwrap_or_default();
            match (code, value.len()) {
                (OPT_END, _) => break,
                (OPT_TSRESOL, 1) => {
                    let v = value[0];
                    interface.resolution = if v & 0x80 == 0 {
                        Resolution::Decimal(v)
                    } else {
                        Resolution::Binary(v & 0x7f)
                    };
                }
                (OPT_TSOFFSET, 8) => {
                    let lo = u64::from(e.u32(value, if e.big { 4 } else { 0 }));
                    let hi = u64::from(e.u32(value, if e.big { 0 } else { 4 }));
                    interface.offset_secs = ((hi << 32) | lo) as i64;
                }
                _ => {}
            }
            at += 4 + len.div_ceil(4) * 4;
        }
        self.interfaces.push(interface);
        Ok(())
    }

    fn enhanced_packet(&self, body: &[u8], number: u64) -> Result<Record, ReadError> {
        if body.len() < 20 {
            return Err(corrupt(number, "enhanced packet block too short".into()));
        }
        let e = self.endian;
        let interface = self.interface_of(e.u32(body, 0), number)?;
        let units = (u64::from(e.u32(body, 4)) << 32) | u64::from(e.u32(body, 8));
        let captured = e.u32(body, 12) as usize;
        let wire_len = e.u32(body, 16);
        if 20 + captured > body.len() {
            return Err(corrupt(
                number,
                format!("packet claims {captured} bytes but its block holds fewer"),
            ));
        }
        Ok(Record {
            ts_ns: timestamp(interface, units),
            link_type: interface.link_type,
            data: 20..20 + captured,
            wire_len: wire_len.max(captured as u32),
        })
    }

    /// Simple packet blocks carry no timestamp and belong to interface 0.
    fn simple_packet(&self, body: &[u8], number: u64) -> Result<Record, ReadError> {
        if body.len() < 4 {
            return Err(corrupt(number, "simple packet block too short".into()));
        }
        let interface = self.interface_of(0, number)?;
        let wire_len = self.endian.u32(body, 0);
        let mut captured = (wire_len as usize).min(body.len() - 4);
        if interface.snaplen != 0 {
            captured = captured.min(interface.snaplen as usize);
        }
        Ok(Record {
            ts_ns: 0,
            link_type: interface.link_type,
            data: 4..4 + captured,
            wire_len,
        })
    }

    fn obsolete_packet(&self, body: &[u8], number: u64) -> Result<Record, ReadError> {
        if body.len() < 20 {
            return Err(corrupt(number, "packet block too short".into()));
        }
        let e = self.endian;
        let interface = self.interface_of(u32::from(e.u16(body, 0)), number)?;
        let units = (u64::from(e.u32(body, 4)) << 32) | u64::from(e.u32(body, 8));
        let captured = e.u32(body, 12) as usize;
        if 20 + captured > body.len() {
            return Err(corrupt(
                number,
                format!("packet claims {captured} bytes but its block holds fewer"),
            ));
        }
        Ok(Record {
            ts_ns: timestamp(interface, units),
            link_type: interface.link_type,
            data: 20..20 + captured,
            wire_len: e.u32(body, 16).max(captured as u32),
        })
    }

    fn interface_of(&self, id: u32, number: u64) -> Result<&Interface, ReadError> {
        self.interfaces.get(id as usize).ok_or_else(|| {
            corrupt(
                number,
                format!("packet refers to interface {id}, which the file never described"),
            )
        })
    }
}

fn timestamp(interface: &Interface, units: u64) -> u64 {
    let offset_ns = interface.offset_secs.saturating_mul(1_000_000_000);
    interface
        .resolution
        .to_ns(units)
        .saturating_add_signed(offset_ns)
}

fn corrupt(packet: u64, reason: String) -> ReadError {
    ReadError::Corrupt { packet, reason }
}

#[cfg(test)]
mod tests {
    use super::Resolution;

    #[test]
    fn timestamp_units() {
        for (resolution, units, ns) in [
            (Resolution::Decimal(6), 1_500_000, 1_500_000_000),
            (Resolution::Decimal(9), 7, 7),
            (Resolution::Decimal(3), 2, 2_000_000),
            (Resolution::Decimal(12), 5_000, 5),
            (Resolution::Binary(0), 3, 3_000_000_000),
            (Resolution::Binary(1), 3, 1_500_000_000),
            (Resolution::Decimal(200), 5, 0),
            (Resolution::Binary(127), 5, 0),
        ] {
            assert_eq!(resolution.to_ns(units), ns, "{resolution:?} {units}");
        }
    }
}
