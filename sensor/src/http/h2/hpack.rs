//! HPACK (RFC 7541): one decoder per direction, fed every header block of
//! that direction in order, since each block may change the dynamic table
//! the next one refers to.
//!
//! Decoding allocates only what it keeps: a field sent by reference to a
//! table entry (most fields, once a connection is warm) shares the entry's
//! bytes, a static entry's are static, Huffman strings are decoded into
//! buffers the direction reuses, and a block is read where it lies.
//! (`httlib-hpack`, used before, copied every name and value twice and
//! shifted the rest of the block after every field: two thirds of the
//! allocations of an HTTP/2 exchange.)
//!
//! Once a block is lost (capture gap, block over the size limit, a decode
//! error), the table can no longer be trusted: every later block of the
//! direction is reported `Undecodable`, never guessed.

mod huffman;
mod table;

use bytes::Bytes;

use crate::exchange::{Header, HeaderName};
use table::{DynamicTable, Entry};

/// Largest dynamic table a peer may ask for; a bigger size update breaks
/// the direction (memory stays bounded).
const MAX_TABLE_SIZE: usize = 64 * 1024;
/// The table every HTTP/2 connection starts with (RFC 7540, 6.5.2).
const INITIAL_TABLE_SIZE: usize = 4096;
/// Scratch kept between blocks: larger buffers (a block of thousands of
/// tiny fields, a long Huffman string) are released after use.
const FIELDS_KEPT: usize = 64;
const STRING_KEPT: usize = 4096;

/// A decoded header block: pseudo-headers split from the fields.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Block {
    pub method: Option<String>,
    /// `:authority` as sent (the request's `Host` when it has none).
    pub authority: Option<Bytes>,
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
    table: DynamicTable,
    broken: bool,
    /// Decoded bytes (names and values) kept per block.
    max_decoded: usize,
    /// Huffman-decoded name and value of the field being read.
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
    /// The block's fields, moved into an exactly sized list at its end.
    fields: Vec<Header>,
}

impl std::fmt::Debug for HpackDirection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpackDirection")
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

/// A field's name: a table entry's (shared) or read from the block
/// (borrowed until kept).
enum Name<'a> {
    Table(HeaderName),
    Read(&'a [u8]),
}

impl Name<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Name::Table(n) => n.as_bytes(),
            Name::Read(b) => b,
        }
    }

    fn kept(self) -> HeaderName {
        match self {
            Name::Table(n) => n,
            Name::Read(b) => name_of(b),
        }
    }
}

/// A field's value, likewise.
enum Value<'a> {
    Table(Bytes),
    Read(&'a [u8]),
}

impl Value<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Value::Table(v) => v,
            Value::Read(b) => b,
        }
    }

    fn kept(self) -> Bytes {
        match self {
            Value::Table(v) => v,
            Value::Read(b) => Bytes::copy_from_slice(b),
        }
    }
}

/// A name read from the wire: a common one static, else copied (as text:
/// bytes that are not UTF-8 replaced).
fn name_of(b: &[u8]) -> HeaderName {
    HeaderName::shared(&Bytes::new(), &String::from_utf8_lossy(b))
}

impl HpackDirection {
    pub fn new(max_decoded: usize) -> Self {
        Self {
            table: DynamicTable::new(INITIAL_TABLE_SIZE),
            broken: false,
            max_decoded,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
            fields: Vec::new(),
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
        let mut out = Block::default();
        let mut fields = std::mem::take(&mut self.fields);
        let decoded = self.fields_of(block, &mut out, &mut fields);
        // One exactly sized list (and room for the `Host` a request may
        // get from `:authority`).
        if !fields.is_empty() {
            out.fields = Vec::with_capacity(fields.len() + 1);
            out.fields.append(&mut fields);
        }
        if fields.capacity() <= FIELDS_KEPT {
            self.fields = fields;
        }
        for buf in [&mut self.name_buf, &mut self.value_buf] {
            if buf.capacity() > STRING_KEPT {
                *buf = Vec::new();
            }
        }
        if decoded.is_none() {
            self.broken = true;
            return Decoded::Undecodable;
        }
        Decoded::Block(out)
    }

    /// Reads every representation of `block` (RFC 7541 §6), updating the
    /// table; `None` at the first that does not decode.
    fn fields_of(&mut self, block: &[u8], out: &mut Block, fields: &mut Vec<Header>) -> Option<()> {
        let mut at = 0;
        let mut kept = 0usize;
        while at < block.len() {
            let first = block[at];
            let (name, value, len) = if first & 0x80 != 0 {
                // Indexed field.
                let entry = self.table.get(integer(block, &mut at, 7)? as usize)?;
                let len = entry.field_len();
                (Name::Table(entry.name), Value::Table(entry.value), len)
            } else if first & 0xe0 == 0x20 {
                // Dynamic table size update.
                let size = integer(block, &mut at, 5)? as usize;
                if size > MAX_TABLE_SIZE {
                    return None;
                }
                self.table.resize(size);
                continue;
            } else {
                // Literal: with incremental indexing (6-bit index),
                // without or never indexed (4-bit).
                let indexing = first & 0x40 != 0;
                let index = integer(block, &mut at, if indexing { 6 } else { 4 })? as usize;
                let (name, name_len) = if index == 0 {
                    let name = string(block, &mut at, &mut self.name_buf)?;
                    (Name::Read(name), name.len())
                } else {
                    let entry = self.table.get(index)?;
                    (Name::Table(entry.name), entry.name_len)
                };
                let value = string(block, &mut at, &mut self.value_buf)?;
                let len = name_len + value.len();
                if indexing {
                    let entry = new_entry(name, name_len, value);
                    let (name, value) = (entry.name.clone(), entry.value.clone());
                    self.table.insert(entry);
                    (Name::Table(name), Value::Table(value), len)
                } else {
                    (name, Value::Read(value), len)
                }
            };
            // Indexed fields can expand a small block into a large header
            // list: only `max_decoded` bytes are kept.
            if kept.saturating_add(len) > self.max_decoded {
                out.capped = true;
                continue;
            }
            kept += len;
            add(out, fields, name, value);
        }
        Some(())
    }
}

/// A table entry for a field read from the block. A new name and its
/// value share one allocation.
fn new_entry(name: Name<'_>, name_len: usize, value: &[u8]) -> Entry {
    match name {
        Name::Table(name) => Entry {
            name,
            value: Bytes::copy_from_slice(value),
            name_len,
        },
        Name::Read(read) => {
            let mut joined = Vec::with_capacity(read.len() + value.len());
            joined.extend_from_slice(read);
            joined.extend_from_slice(value);
            let joined = Bytes::from(joined);
            let name = match std::str::from_utf8(&joined[..read.len()]) {
                Ok(text) => HeaderName::shared(&joined, text),
                Err(_) => name_of(read),
            };
            Entry {
                name,
                value: joined.slice(read.len()..),
                name_len,
            }
        }
    }
}

/// A string literal at `at` (§5.2): its bytes in the block, or decoded
/// into `buf` when Huffman-coded. `None` when it is cut or badly coded.
fn string<'a>(block: &'a [u8], at: &mut usize, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    let huffman = *block.get(*at)? & 0x80 != 0;
    let len = integer(block, at, 7)? as usize;
    let raw = block.get(*at..at.checked_add(len)?)?;
    *at += len;
    if !huffman {
        return Some(raw);
    }
    buf.clear();
    huffman::decode(raw, buf).then_some(&buf[..])
}

/// An integer with a `prefix`-bit prefix at `at` (§5.1), of at most four
/// bytes (no index, length or table size in a header block needs more);
/// `at` moves past it.
fn integer(block: &[u8], at: &mut usize, prefix: u8) -> Option<u32> {
    const MAX_BYTES: usize = 4;
    let mask = (1u32 << prefix) - 1;
    let mut value = u32::from(*block.get(*at)?) & mask;
    if value < mask {
        *at += 1;
        return Some(value);
    }
    for (i, &byte) in block.get(*at + 1..)?.iter().take(MAX_BYTES - 1).enumerate() {
        value += u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *at += 2 + i;
            return Some(value);
        }
    }
    None
}

fn add(out: &mut Block, fields: &mut Vec<Header>, name: Name<'_>, value: Value<'_>) {
    let text = |v: &Value<'_>| String::from_utf8_lossy(v.bytes()).into_owned();
    match name.bytes() {
        b":method" => out.method = Some(text(&value)),
        // Nothing reads the scheme.
        b":scheme" => {}
        b":authority" => out.authority = Some(value.kept()),
        b":path" => out.path = Some(text(&value)),
        b":status" => {
            out.status = std::str::from_utf8(value.bytes())
                .ok()
                .and_then(|s| s.parse().ok())
        }
        // Unknown pseudo-headers (`:protocol` of extended CONNECT) are kept
        // as fields: they are what the peer sent.
        _ => fields.push(Header {
            name: name.kept(),
            value: value.kept(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(b: &Block) -> Vec<(String, Vec<u8>)> {
        let f = b.fields.iter();
        f.map(|h| (h.name.to_string(), h.value.to_vec())).collect()
    }

    #[test]
    fn cut_oversized_or_unknown_representations_break_the_direction() {
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
            (&[0x80][..], false),                         // index 0
            (&[0xbe][..], false),                         // index 62: empty dynamic table
            (&[0x3f, 0xe2, 0xff, 0x03][..], false),       // size update past the limit
            (&[0x40, 0x81, 0x00, 0x01, b'y'][..], false), // Huffman name with zero padding
        ] {
            let mut d = HpackDirection::new(1 << 16);
            assert_eq!(
                matches!(d.decode(block), Decoded::Block(_)),
                whole,
                "{block:02x?}"
            );
            // After a failure, even a good block is not trusted.
            assert_eq!(matches!(d.decode(&[0x82]), Decoded::Block(_)), whole);
        }
    }

    #[test]
    fn rfc_7541_request_examples_with_huffman_and_the_dynamic_table() {
        // C.4.1 to C.4.3: three requests, each referring to entries the
        // earlier ones added.
        let blocks: [&[u8]; 3] = [
            &[
                0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
                0x90, 0xf4, 0xff,
            ],
            &[
                0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
            ],
            &[
                0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f,
                0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
            ],
        ];
        let mut d = HpackDirection::new(1 << 16);
        let mut got = Vec::new();
        for block in blocks {
            let Decoded::Block(b) = d.decode(block) else {
                panic!("{block:02x?} did not decode");
            };
            assert_eq!(b.method.as_deref(), Some("GET"));
            assert_eq!(b.authority.as_deref(), Some(&b"www.example.com"[..]));
            got.push((b.path.clone(), fields(&b)));
        }
        let field = |n: &str, v: &str| (n.to_owned(), v.as_bytes().to_vec());
        assert_eq!(
            got,
            [
                (Some("/".to_owned()), vec![]),
                (
                    Some("/".to_owned()),
                    vec![field("cache-control", "no-cache")]
                ),
                (
                    Some("/index.html".to_owned()),
                    vec![field("custom-key", "custom-value")]
                ),
            ]
        );
    }

    #[test]
    fn table_entries_are_evicted_by_size_and_size_updates() {
        let mut d = HpackDirection::new(1 << 16);
        // Size update to 50 bytes: room for one 2+2 byte entry (36).
        let mut block = vec![0x3f, 0x13];
        block.extend([0x40, 0x02, b'a', b'0', 0x02, b'b', b'0']);
        block.extend([0x40, 0x02, b'a', b'1', 0x02, b'b', b'1']);
        block.push(0xbe); // index 62: the newest, a1
        let Decoded::Block(b) = d.decode(&block) else {
            panic!("did not decode");
        };
        assert_eq!(fields(&b)[2], ("a1".to_owned(), b"b1".to_vec()));
        // a0 was evicted: index 63 is out of the table.
        assert_eq!(d.decode(&[0xbf]), Decoded::Undecodable);
    }

    #[test]
    fn decoded_bytes_past_the_limit_are_dropped_table_kept() {
        let mut d = HpackDirection::new(10);
        // user-agent (10 + 2 bytes) is over the limit alone but enters the
        // table; the next block refers to it.
        let block = [0x7a, 0x02, b'u', b'a', 0x82];
        let Decoded::Block(b) = d.decode(&block) else {
            panic!("did not decode");
        };
        assert!(b.capped);
        assert!(b.fields.is_empty());
        assert_eq!(b.method.as_deref(), Some("GET"));
        let mut d2 = HpackDirection::new(1 << 16);
        d2.decode(&block);
        let Decoded::Block(b) = d2.decode(&[0xbe]) else {
            panic!("did not decode");
        };
        assert_eq!(fields(&b), [("user-agent".to_owned(), b"ua".to_vec())]);
    }
}
