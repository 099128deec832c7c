//! HPACK (RFC 7541) glue: one decoder per direction, fed every header
//! block of that direction in order, since each block may change the
//! dynamic table the next one refers to. The decoding itself is the
//! `httlib-hpack` crate's: `loona-hpack`, used before, builds a hash table
//! of the whole Huffman code for every Huffman-coded string it decodes and
//! walks it bit by bit, which made HPACK 60% of the agent's CPU under
//! h2load; this one decodes Huffman codes five bits per table lookup.
//!
//! Once a block is lost (capture gap, block over the size limit, a decode
//! error), the table can no longer be trusted: every later block of the
//! direction is reported `Undecodable`, never guessed.

use bytes::Bytes;

use crate::exchange::Header;

/// Largest dynamic table a peer may ask for; a bigger size update breaks
/// the direction (memory stays bounded).
const MAX_TABLE_SIZE: u32 = 64 * 1024;
/// The table every HTTP/2 connection starts with (RFC 7540, 6.5.2).
const INITIAL_TABLE_SIZE: u32 = 4096;

/// A decoded header block: pseudo-headers split from the fields.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Block {
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub fields: Vec<Header>,
    /// Decoded names and values beyond the limit were dropped.
    pub capped: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Block(Block),
    /// The direction's table is lost: nothing in this block can be read.
    Undecodable,
}

pub struct HpackDirection {
    decoder: httlib_hpack::Decoder<'static>,
    broken: bool,
    /// Decoded bytes (names and values) kept per block.
    max_decoded: usize,
    /// The block being decoded: the crate consumes its input as it goes.
    pending: Vec<u8>,
    /// One decoded field at a time, so that a block of small references to
    /// large table entries never expands in memory past `max_decoded`.
    field: Vec<(Vec<u8>, Vec<u8>, u8)>,
}

impl std::fmt::Debug for HpackDirection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpackDirection")
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl HpackDirection {
    pub fn new(max_decoded: usize) -> Self {
        let mut decoder = httlib_hpack::Decoder::with_dynamic_size(INITIAL_TABLE_SIZE);
        decoder.set_max_dynamic_size(MAX_TABLE_SIZE);
        Self {
            decoder,
            broken: false,
            max_decoded,
            pending: Vec::new(),
            field: Vec::with_capacity(1),
        }
    }

    /// A block of this direction was lost: later ones cannot be decoded.
    pub fn lose(&mut self) {
        self.broken = true;
    }

    /// Decodes the next block of the direction.
    pub fn decode(&mut self, block: &[u8]) -> Decoded {
        if self.broken {
            return Decoded::Undecodable;
        }
        if !well_formed(block) {
            self.broken = true;
            return Decoded::Undecodable;
        }
        let mut out = Block::default();
        let mut kept = 0usize;
        self.pending.clear();
        self.pending.extend_from_slice(block);
        while !self.pending.is_empty() {
            let before = self.pending.len();
            self.field.clear();
            // Decodes as many representations as `field` has room for
            // (one): every one updates the table, kept or not.
            let decoded = self
                .decoder
                .decode_exact(&mut self.pending, &mut self.field);
            if decoded.is_err() || self.pending.len() == before {
                self.broken = true;
                return Decoded::Undecodable;
            }
            for (name, value, _) in self.field.drain(..) {
                // Indexed fields can expand a small block into a large
                // header list: only `max_decoded` bytes are copied out.
                let size = name.len() + value.len();
                if kept.saturating_add(size) > self.max_decoded {
                    out.capped = true;
                    continue;
                }
                kept += size;
                add(&mut out, &name, &value);
            }
        }
        Decoded::Block(out)
    }
}

/// Whether every representation in `block` is whole: its integers end
/// within the block in at most four bytes (no index, length or table size
/// in a header block needs more) and its strings fit in it. The decoding
/// crate indexes past the end of a cut integer or string and panics, so
/// it is only given blocks that pass; a block that fails breaks the
/// direction like any other decoding error.
fn well_formed(block: &[u8]) -> bool {
    let mut at = 0;
    while at < block.len() {
        let first = block[at];
        let next = if first & 0x80 != 0 {
            integer(block, at, 7).map(|(_, next)| next)
        } else if first & 0x40 != 0 {
            literal(block, at, 6)
        } else if first & 0x20 != 0 {
            integer(block, at, 5).map(|(_, next)| next)
        } else {
            literal(block, at, 4)
        };
        match next {
            Some(next) => at = next,
            None => return false,
        }
    }
    true
}

/// A literal field at `at`: an indexed name or a name string, then a
/// value string. The index just past it.
fn literal(block: &[u8], at: usize, prefix: u8) -> Option<usize> {
    let (index, next) = integer(block, at, prefix)?;
    let next = if index == 0 {
        string(block, next)?
    } else {
        next
    };
    string(block, next)
}

/// A string at `at`: its length (7-bit prefix) and that many bytes.
fn string(block: &[u8], at: usize) -> Option<usize> {
    let (len, next) = integer(block, at, 7)?;
    let end = next.checked_add(len as usize)?;
    (end <= block.len()).then_some(end)
}

/// An integer with a `prefix`-bit prefix at `at` (RFC 7541, 5.1), of at
/// most four bytes: its value and the index just past it.
fn integer(block: &[u8], at: usize, prefix: u8) -> Option<(u32, usize)> {
    const MAX_BYTES: usize = 4;
    let mask = (1u32 << prefix) - 1;
    let mut value = u32::from(*block.get(at)?) & mask;
    if value < mask {
        return Some((value, at + 1));
    }
    for (i, &byte) in block.get(at + 1..)?.iter().take(MAX_BYTES - 1).enumerate() {
        value += u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, at + 2 + i));
        }
    }
    None
}

fn add(out: &mut Block, name: &[u8], value: &[u8]) {
    let text = || String::from_utf8_lossy(value).into_owned();
    match name {
        b":method" => out.method = Some(text()),
        b":scheme" => out.scheme = Some(text()),
        b":authority" => out.authority = Some(text()),
        b":path" => out.path = Some(text()),
        b":status" => out.status = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()),
        // Unknown pseudo-headers (`:protocol` of extended CONNECT) are kept
        // as fields: they are what the peer sent.
        _ => out.fields.push(Header {
            name: String::from_utf8_lossy(name).into_owned().into(),
            value: Bytes::copy_from_slice(value),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_or_oversized_representations_are_refused_before_decoding() {
        for (block, whole) in [
            (&[][..], true),
            (&[0x82][..], true),                          // :method GET
            (&[0x41, 0x01, b'a'][..], true),              // :authority "a"
            (&[0x40, 0x01, b'x', 0x01, b'y'][..], true),  // new name "x: y"
            (&[0x3f, 0xe1, 0x1f][..], true),              // size update 4096
            (&[0x00][..], false),                         // a literal cut after its first byte
            (&[0x41][..], false),                         // no value string
            (&[0x41, 0x05, b'a'][..], false),             // string longer than the block
            (&[0xff][..], false),                         // integer cut in its continuation
            (&[0xff, 0x80, 0x80, 0x80, 0x01][..], false), // integer of five bytes
        ] {
            assert_eq!(well_formed(block), whole, "{block:02x?}");
            let decoded = HpackDirection::new(1 << 16).decode(block);
            assert_eq!(matches!(decoded, Decoded::Block(_)), whole, "{block:02x?}");
        }
    }
}
