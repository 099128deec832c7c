//! The struct layout the kernel side's Go probes follow from a `*tls.Conn`
//! to its socket's fd: `tls.Conn.conn` (a `net.Conn` interface) at 0, the
//! `*net.TCPConn` it holds starting with `net.conn`, whose `fd` (a
//! `*net.netFD`) is at 0, the `netFD`'s `pfd` (`poll.FD`) at 0, and its
//! `Sysfd` after a 16-byte mutex. These have not moved since Go 1.9, but
//! nothing promises they never will: when the program carries DWARF (Go
//! builds do unless linked with `-w`), the offsets are read from it and a
//! program whose layout differs is not probed, rather than misread.

use std::borrow::Cow;

use gimli::{AttributeValue, EndianSlice, LittleEndian, SectionId};
use object::read::ReadRef;
use object::{Object as _, ObjectSection as _};

/// (struct, member, offset the kernel side assumes).
pub const ASSUMED: [(&str, &str, u64); 5] = [
    ("crypto/tls.Conn", "conn", 0),
    ("net.TCPConn", "conn", 0),
    ("net.conn", "fd", 0),
    ("net.netFD", "pfd", 0),
    ("internal/poll.FD", "Sysfd", 16),
];

/// What the program's DWARF said about the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Every offset read from DWARF and as assumed.
    Checked,
    /// No DWARF (a `-w` build): the offsets are assumed.
    Assumed,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Checked => "struct offsets checked against its DWARF",
            Layout::Assumed => "no DWARF, struct offsets assumed",
        }
    }
}

/// Checks the layout against the program's DWARF; Err names the first
/// member that differs or is missing.
pub fn check<'data, R: ReadRef<'data>>(elf: &object::File<'data, R>) -> Result<Layout, String> {
    if elf.section_by_name(".debug_info").is_none() {
        return Ok(Layout::Assumed);
    }
    let found = offsets(elf).map_err(|err| format!("its DWARF cannot be read: {err}"))?;
    compare(&found)?;
    Ok(Layout::Checked)
}

/// Compares what DWARF gave (`ASSUMED`'s order, None when not found).
fn compare(found: &[Option<u64>; ASSUMED.len()]) -> Result<(), String> {
    for ((structure, member, assumed), found) in ASSUMED.iter().zip(found) {
        match found {
            Some(at) if at == assumed => {}
            Some(at) => {
                return Err(format!(
                    "{structure}.{member} is at offset {at} in its DWARF, not {assumed}"
                ))
            }
            None => return Err(format!("its DWARF does not describe {structure}.{member}")),
        }
    }
    Ok(())
}

/// The offsets of `ASSUMED`'s members, as the DWARF describes them.
fn offsets<'data, R: ReadRef<'data>>(
    elf: &object::File<'data, R>,
) -> Result<[Option<u64>; ASSUMED.len()], gimli::Error> {
    let load = |id: SectionId| -> Result<Cow<'data, [u8]>, gimli::Error> {
        Ok(elf
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[])))
    };
    let sections = gimli::DwarfSections::load(load)?;
    let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
    let mut found = [None; ASSUMED.len()];
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        let mut entries = unit.entries();
        // The structure being read (its index in ASSUMED's names) and its
        // depth: its members are its children.
        let mut within: Option<(&str, isize)> = None;
        let mut depth = 0isize;
        while let Some((delta, entry)) = entries.next_dfs()? {
            depth += delta;
            if within.is_some_and(|(_, at)| depth <= at) {
                within = None;
            }
            match entry.tag() {
                gimli::DW_TAG_structure_type => {
                    let name = name_of(&dwarf, &unit, entry)?;
                    within = ASSUMED
                        .iter()
                        .find(|(s, ..)| Some(*s) == name.as_deref())
                        .map(|(s, ..)| (*s, depth));
                }
                gimli::DW_TAG_member => {
                    let Some((structure, at)) = within else {
                        continue;
                    };
                    if depth != at + 1 {
                        continue;
                    }
                    let name = name_of(&dwarf, &unit, entry)?;
                    let Some(i) = ASSUMED
                        .iter()
                        .position(|(s, m, _)| *s == structure && Some(*m) == name.as_deref())
                    else {
                        continue;
                    };
                    if let Some(AttributeValue::Udata(offset)) =
                        entry.attr_value(gimli::DW_AT_data_member_location)?
                    {
                        found[i].get_or_insert(offset);
                    }
                }
                _ => {}
            }
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    Ok(found)
}

type Reader<'a> = EndianSlice<'a, LittleEndian>;

fn name_of(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    entry: &gimli::DebuggingInformationEntry<'_, '_, Reader<'_>>,
) -> Result<Option<String>, gimli::Error> {
    let Some(value) = entry.attr_value(gimli::DW_AT_name)? else {
        return Ok(None);
    };
    let name = dwarf.attr_string(unit, value)?;
    Ok(Some(String::from_utf8_lossy(name.slice()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_is_accepted_only_when_every_offset_is_as_assumed() {
        let assumed = ASSUMED.map(|(.., at)| Some(at));
        assert_eq!(compare(&assumed), Ok(()));
        let mut moved = assumed;
        moved[4] = Some(24);
        assert_eq!(
            compare(&moved),
            Err("internal/poll.FD.Sysfd is at offset 24 in its DWARF, not 16".to_owned())
        );
        let mut missing = assumed;
        missing[0] = None;
        assert_eq!(
            compare(&missing),
            Err("its DWARF does not describe crypto/tls.Conn.conn".to_owned())
        );
    }
}
