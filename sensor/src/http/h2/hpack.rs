//! HPACK (RFC 7541) glue: one decoder per direction, fed every header
//! block of that direction in order, since each block may change the
//! dynamic table the next one refers to. The decoding itself is the
//! `loona-hpack` crate's.
//!
//! Once a block is lost (capture gap, block over the size limit, a decode
//! error), the table can no longer be trusted: every later block of the
//! direction is reported `Undecodable`, never guessed.

use std::borrow::Cow;

use bytes::Bytes;

use crate::exchange::Header;

/// Largest dynamic table a peer may ask for; a bigger size update breaks
/// the direction (memory stays bounded).
const MAX_TABLE_SIZE: usize = 64 * 1024;

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
    decoder: loona_hpack::Decoder<'static>,
    broken: bool,
    /// Decoded bytes (names and values) kept per block.
    max_decoded: usize,
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
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(MAX_TABLE_SIZE);
        Self {
            decoder,
            broken: false,
            max_decoded,
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
        let mut kept = 0usize;
        let max = self.max_decoded;
        let result = self.decoder.decode_with_cb(block, |name, value| {
            // Indexed fields can expand a small block into a large header
            // list: only `max` decoded bytes are copied out; the decoder
            // still sees every field, so the table stays in step.
            let size = name.len() + value.len();
            if kept.saturating_add(size) > max {
                out.capped = true;
                return;
            }
            kept += size;
            add(&mut out, name, value);
        });
        match result {
            Ok(()) => Decoded::Block(out),
            Err(_) => {
                self.broken = true;
                Decoded::Undecodable
            }
        }
    }
}

fn add(out: &mut Block, name: Cow<'_, [u8]>, value: Cow<'_, [u8]>) {
    let text = || String::from_utf8_lossy(&value).into_owned();
    match &*name {
        b":method" => out.method = Some(text()),
        b":scheme" => out.scheme = Some(text()),
        b":authority" => out.authority = Some(text()),
        b":path" => out.path = Some(text()),
        b":status" => {
            out.status = std::str::from_utf8(&value)
                .ok()
                .and_then(|s| s.parse().ok())
        }
        // Unknown pseudo-headers (`:protocol` of extended CONNECT) are kept
        // as fields: they are what the peer sent.
        _ => out.fields.push(Header {
            name: String::from_utf8_lossy(&name).into_owned(),
            value: Bytes::copy_from_slice(&value),
        }),
    }
}
