//! Go's function table, `.gopclntab`: the runtime's own map from code
//! addresses to functions (for stack traces), which `go build -ldflags=-s`
//! keeps when it drops the ELF symbol table. Read here for the name,
//! entry and end of each function, on 64-bit little-endian programs.
//!
//! Layout (the header is the runtime's `pcHeader`): a magic number per
//! format (Go 1.2–1.15, 1.16–1.17, 1.18–1.19, 1.20 and later), then the minimum
//! instruction size, the pointer size, the function count and offsets of
//! the sub-tables from the header. The function table (`functab`) holds
//! `nfunc + 1` pairs sorted by address — entry, then the offset of the
//! function's record (`_func`) from the table's start; the last pair's
//! entry is the end of the last function. A record starts with its entry
//! again, then the offset of its name in the name table (`funcnametab`).
//! From Go 1.18 entries are 32-bit offsets from the header's `textStart`;
//! before, they are addresses. Go 1.2–1.15 tables have no sub-table
//! offsets: the function count follows the magic, the function table
//! follows the count, and records and names are at offsets from the
//! section's start. Every offset is checked against the section: a
//! damaged or unknown table is an error, never a guess.

use std::ops::Range;

/// Go 1.2 to 1.15.
const MAGIC_12: u32 = 0xffff_fffb;
/// Go 1.16 and 1.17.
const MAGIC_116: u32 = 0xffff_fffa;
/// Go 1.18 and 1.19.
const MAGIC_118: u32 = 0xffff_fff0;
/// Go 1.20 and later.
const MAGIC_120: u32 = 0xffff_fff1;
/// Bounds a function count: the largest programs hold a few hundred
/// thousand functions.
const MAX_FUNCTIONS: u64 = 1 << 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PclntabError {
    #[error(".gopclntab is too short for its header")]
    Short,
    #[error(".gopclntab has the magic number {0:#x}, of a Go before 1.2 or unknown")]
    Magic(u32),
    #[error(".gopclntab is for {0}-byte pointers: only 64-bit programs are read")]
    PointerSize(u8),
    #[error(".gopclntab's {0} is outside the table")]
    OutOfBounds(&'static str),
    #[error(".gopclntab's function table is not sorted at entry {0}")]
    Unsorted(u64),
}

/// Which header and entry layout a table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Go 1.2–1.17: 64-bit addresses in the function table.
    Addresses,
    /// Go 1.18 and later: 32-bit offsets from `textStart`.
    TextOffsets { text_start: u64 },
}

/// A parsed `.gopclntab`, borrowing the section's bytes.
#[derive(Debug)]
pub struct FuncTable<'data> {
    data: &'data [u8],
    layout: Layout,
    functions: u64,
    names: usize,
    table: usize,
    /// Where the function table's record offsets count from: the table
    /// itself from Go 1.16, the section's start before.
    records: usize,
}

/// One function of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function<'data> {
    pub name: &'data [u8],
    /// Its first instruction's virtual address.
    pub entry: u64,
    /// The next function's entry (or the end of the code).
    pub end: u64,
}

impl<'data> FuncTable<'data> {
    /// Reads the header of `data`, the section's contents.
    pub fn parse(data: &'data [u8]) -> Result<Self, PclntabError> {
        let magic = u32::from_le_bytes(bytes(data, 0)?);
        let pointer_size = *data.get(7).ok_or(PclntabError::Short)?;
        if !matches!(magic, MAGIC_12 | MAGIC_116 | MAGIC_118 | MAGIC_120) {
            return Err(PclntabError::Magic(magic));
        }
        if pointer_size != 8 {
            return Err(PclntabError::PointerSize(pointer_size));
        }
        let word = |at: usize| bytes(data, at).map(u64::from_le_bytes);
        let functions = word(8)?;
        if functions == 0 || functions > MAX_FUNCTIONS {
            return Err(PclntabError::OutOfBounds("function count"));
        }
        let (layout, names, table) = match magic {
            // The function table right after the count.
            MAGIC_12 => (Layout::Addresses, 0, 16),
            MAGIC_116 => (Layout::Addresses, word(24)?, word(56)?),
            // Go 1.18 inserted textStart after nfiles; the offsets follow.
            _ => (
                Layout::TextOffsets {
                    text_start: word(24)?,
                },
                word(32)?,
                word(64)?,
            ),
        };
        let table = index(table, data, "function table")?;
        let parsed = Self {
            data,
            layout,
            functions,
            names: index(names, data, "name table")?,
            table,
            records: if magic == MAGIC_12 { 0 } else { table },
        };
        // The whole function table, last pair included, is in the section.
        let pairs = (functions + 1) * parsed.pair_size();
        if parsed.table as u64 + pairs > data.len() as u64 {
            return Err(PclntabError::OutOfBounds("function table"));
        }
        Ok(parsed)
    }

    /// The function count.
    pub fn len(&self) -> u64 {
        self.functions
    }

    /// The `i`th function, in address order.
    pub fn function(&self, i: u64) -> Result<Function<'data>, PclntabError> {
        let (entry, record) = self.pair(i)?;
        let (end, _) = self.pair(i + 1)?;
        if end < entry {
            return Err(PclntabError::Unsorted(i));
        }
        let record = self
            .records
            .checked_add(index(record, self.data, "function record")?)
            .ok_or(PclntabError::OutOfBounds("function record"))?;
        let name_at = record + self.entry_size();
        let name_offset = i32::from_le_bytes(bytes(self.data, name_at)?);
        let name_offset =
            u64::try_from(name_offset).map_err(|_| PclntabError::OutOfBounds("name"))?;
        let start = self
            .names
            .checked_add(index(name_offset, self.data, "name")?)
            .filter(|&at| at < self.data.len())
            .ok_or(PclntabError::OutOfBounds("name"))?;
        let rest = &self.data[start..];
        let len = memchr::memchr(0, rest).ok_or(PclntabError::OutOfBounds("name"))?;
        Ok(Function {
            name: &rest[..len],
            entry,
            end,
        })
    }

    /// The functions named in `wanted`, each found once, in `wanted`'s
    /// order (None for a name the table lacks).
    pub fn find(&self, wanted: &[&[u8]]) -> Result<Vec<Option<Range<u64>>>, PclntabError> {
        let mut found = vec![None; wanted.len()];
        for i in 0..self.len() {
            let function = self.function(i)?;
            if let Some(slot) = wanted.iter().position(|&name| name == function.name) {
                found[slot] = Some(function.entry..function.end);
            }
        }
        Ok(found)
    }

    fn pair_size(&self) -> u64 {
        2 * self.entry_size() as u64
    }

    fn entry_size(&self) -> usize {
        match self.layout {
            Layout::Addresses => 8,
            Layout::TextOffsets { .. } => 4,
        }
    }

    /// Pair `i` of the function table: the entry address and the record's
    /// offset.
    fn pair(&self, i: u64) -> Result<(u64, u64), PclntabError> {
        if i > self.functions {
            return Err(PclntabError::OutOfBounds("function index"));
        }
        // In bounds: checked against the section in `parse`.
        let at = self.table + (i * self.pair_size()) as usize;
        Ok(match self.layout {
            Layout::Addresses => (
                u64::from_le_bytes(bytes(self.data, at)?),
                u64::from_le_bytes(bytes(self.data, at + 8)?),
            ),
            Layout::TextOffsets { text_start } => (
                text_start + u64::from(u32::from_le_bytes(bytes(self.data, at)?)),
                u64::from(u32::from_le_bytes(bytes(self.data, at + 4)?)),
            ),
        })
    }
}

/// `N` bytes of `data` at `at`.
fn bytes<const N: usize>(data: &[u8], at: usize) -> Result<[u8; N], PclntabError> {
    data.get(at..at.checked_add(N).ok_or(PclntabError::Short)?)
        .and_then(|b| b.try_into().ok())
        .ok_or(PclntabError::Short)
}

/// An offset into `data`, checked.
fn index(offset: u64, data: &[u8], what: &'static str) -> Result<usize, PclntabError> {
    usize::try_from(offset)
        .ok()
        .filter(|&at| at < data.len())
        .ok_or(PclntabError::OutOfBounds(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of the given layout holding `functions` (name, entry) and
    /// ending at `end`, as Go's linker lays it out.
    fn table(magic: u32, text_start: u64, functions: &[(&str, u64)], end: u64) -> Vec<u8> {
        let wide = magic == MAGIC_116;
        let header_len = if wide { 64 } else { 72 };
        let mut names = Vec::new();
        let mut name_offsets = Vec::new();
        for (name, _) in functions {
            name_offsets.push(names.len() as i32);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let names_at = header_len as u64;
        let table_at = names_at + names.len() as u64;
        let entry_size = if wide { 8 } else { 4 };
        let pairs_len = (functions.len() as u64 + 1) * 2 * entry_size;
        let mut out = Vec::new();
        out.extend_from_slice(&magic.to_le_bytes());
        out.extend_from_slice(&[0, 0, 1, 8]);
        out.extend_from_slice(&(functions.len() as u64).to_le_bytes());
        out.extend_from_slice(&1u64.to_le_bytes()); // nfiles
        if !wide {
            out.extend_from_slice(&text_start.to_le_bytes());
        }
        for offset in [names_at, 0, 0, 0, table_at] {
            out.extend_from_slice(&offset.to_le_bytes());
        }
        assert_eq!(out.len(), header_len);
        out.extend_from_slice(&names);
        let put = |out: &mut Vec<u8>, value: u64| {
            if wide {
                out.extend_from_slice(&value.to_le_bytes());
            } else {
                out.extend_from_slice(&(value as u32).to_le_bytes());
            }
        };
        let entry = |address: u64| if wide { address } else { address - text_start };
        for (i, (_, address)) in functions.iter().enumerate() {
            put(&mut out, entry(*address));
            put(&mut out, pairs_len + i as u64 * 16);
        }
        put(&mut out, entry(end));
        put(&mut out, 0);
        for (i, (_, address)) in functions.iter().enumerate() {
            put(&mut out, entry(*address));
            out.extend_from_slice(&name_offsets[i].to_le_bytes());
            out.resize(out.len() + if wide { 4 } else { 8 }, 0);
        }
        out
    }

    const FUNCTIONS: [(&str, u64); 3] = [
        ("runtime.text", 0x401000),
        ("crypto/tls.(*Conn).Write", 0x401200),
        ("crypto/tls.(*Conn).Read", 0x401800),
    ];

    /// A Go 1.2–1.15 table: the function table after the count, records
    /// and names at offsets from the start.
    fn table_12(functions: &[(&str, u64)], end: u64) -> Vec<u8> {
        let count = functions.len();
        // Header 16 bytes, the pairs and the end entry, then the records
        // (entry and name offset, 16 bytes each), then the names.
        let records_at = 16 + count * 16 + 8;
        let mut names_at = records_at + count * 16;
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC_12.to_le_bytes());
        out.extend_from_slice(&[0, 0, 1, 8]);
        out.extend_from_slice(&(count as u64).to_le_bytes());
        for (i, (_, address)) in functions.iter().enumerate() {
            out.extend_from_slice(&address.to_le_bytes());
            out.extend_from_slice(&((records_at + i * 16) as u64).to_le_bytes());
        }
        out.extend_from_slice(&end.to_le_bytes());
        for (name, address) in functions {
            out.extend_from_slice(&address.to_le_bytes());
            out.extend_from_slice(&(names_at as i32).to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            names_at += name.len() + 1;
        }
        for (name, _) in functions {
            out.extend_from_slice(name.as_bytes());
            out.push(0);
        }
        out
    }

    #[test]
    fn each_layout_gives_names_entries_and_ends() {
        let old = table_12(&FUNCTIONS, 0x402000);
        for (magic, data) in [MAGIC_116, MAGIC_118, MAGIC_120]
            .map(|magic| (magic, table(magic, 0x401000, &FUNCTIONS, 0x402000)))
            .into_iter()
            .chain([(MAGIC_12, old)])
        {
            let parsed = FuncTable::parse(&data).unwrap();
            assert_eq!(parsed.len(), 3);
            assert_eq!(
                parsed.function(1).unwrap(),
                Function {
                    name: b"crypto/tls.(*Conn).Write",
                    entry: 0x401200,
                    end: 0x401800
                },
                "{magic:#x}"
            );
            let found = parsed
                .find(&[b"crypto/tls.(*Conn).Read", b"main.main"])
                .unwrap();
            assert_eq!(found, vec![Some(0x401800..0x402000), None], "{magic:#x}");
        }
    }

    #[test]
    fn damaged_and_unknown_tables_are_errors() {
        let good = table(MAGIC_118, 0x401000, &FUNCTIONS, 0x402000);
        let mut unknown = good.clone();
        unknown[..4].copy_from_slice(&0xffff_fff9u32.to_le_bytes());
        let mut narrow = good.clone();
        narrow[7] = 4;
        let mut too_many = good.clone();
        too_many[8..16].copy_from_slice(&1000u64.to_le_bytes());
        let mut unsorted = good.clone();
        // The end pair's entry (offset 0) before the last function's.
        let table_at = u64::from_le_bytes(good[64..72].try_into().unwrap()) as usize;
        unsorted[table_at + 24..table_at + 28].copy_from_slice(&0u32.to_le_bytes());
        for (data, err) in [
            (&good[..6], PclntabError::Short),
            (&unknown[..], PclntabError::Magic(0xffff_fff9)),
            (&narrow[..], PclntabError::PointerSize(4)),
            (&too_many[..], PclntabError::OutOfBounds("function table")),
        ] {
            assert_eq!(FuncTable::parse(data).unwrap_err(), err);
        }
        let parsed = FuncTable::parse(&unsorted).unwrap();
        assert_eq!(parsed.function(2).unwrap_err(), PclntabError::Unsorted(2));
        assert!(parsed.find(&[b"x"]).is_err());
    }
}
