//! Just enough of a BTF reader to find where a field lives in a kernel
//! struct: the programs read `struct sock` and `task_struct` at offsets
//! that change with the kernel's version and configuration, and Rust eBPF
//! gets no CO-RE relocations, so the agent works them out from the running
//! kernel's own type information (/sys/kernel/btf/vmlinux) at start-up.
//! (aya parses BTF too, but keeps struct members private.)

use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtfError {
    #[error("BTF data is truncated or malformed ({0})")]
    Malformed(&'static str),
    #[error("BTF kind {0} is unknown to this reader")]
    UnknownKind(u32),
    #[error("the kernel's BTF has no struct `{0}`")]
    NoStruct(String),
    #[error("struct `{strukt}` has no field `{field}` in the kernel's BTF")]
    NoField { strukt: String, field: String },
    #[error("field `{strukt}.{field}` is a bit field: it cannot be read at a byte offset")]
    BitField { strukt: String, field: String },
}

const MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;

/// One member of a struct or union.
#[derive(Debug, Clone)]
struct Member {
    name: u32,
    type_id: u32,
    /// Bit offset, and bit-field size (0 when not a bit field).
    bit_offset: u32,
    bitfield_size: u32,
}

#[derive(Debug, Clone)]
struct Type {
    name: u32,
    kind: u32,
    /// `size_or_type`: the target of typedefs and qualifiers.
    target: u32,
    members: Vec<Member>,
}

/// The types of one BTF blob, enough to resolve field offsets.
pub struct Btf {
    /// Index = type id (id 0 is void).
    types: Vec<Type>,
    strings: Vec<u8>,
    structs: HashMap<String, u32>,
}

fn u16_at(data: &[u8], at: usize) -> Result<u16, BtfError> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or(BtfError::Malformed("short read"))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, BtfError> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(BtfError::Malformed("short read"))
}

impl Btf {
    /// Parses little-endian BTF (what the kernel exports on x86-64 and
    /// arm64).
    pub fn parse(data: &[u8]) -> Result<Self, BtfError> {
        if u16_at(data, 0)? != MAGIC {
            return Err(BtfError::Malformed("bad magic"));
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types_at = hdr_len + type_off;
        let section = data
            .get(types_at..types_at + type_len)
            .ok_or(BtfError::Malformed("type section out of bounds"))?;
        let strings = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or(BtfError::Malformed("string section out of bounds"))?
            .to_vec();
        let mut types = vec![Type {
            name: 0,
            kind: 0,
            target: 0,
            members: Vec::new(),
        }];
        let mut at = 0;
        while at < section.len() {
            let name = u32_at(section, at)?;
            let info = u32_at(section, at + 4)?;
            let target = u32_at(section, at + 8)?;
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let mut members = Vec::new();
            let extra = match kind {
                1 => 4, // int
                2 | 7..=13 | 16 | 18 => {
                    // ptr, fwd, typedef, volatile, const, restrict, func,
                    // func_proto (params below), float, type_tag
                    if kind == 13 {
                        vlen * 8
                    } else {
                        0
                    }
                }
                3 => 12, // array
                KIND_STRUCT | KIND_UNION => {
                    for m in 0..vlen {
                        let base = at + m * 12;
                        let offset = u32_at(section, base + 8)?;
                        let (bit_offset, bitfield_size) = if kind_flag {
                            (offset & 0x00ff_ffff, offset >> 24)
                        } else {
                            (offset, 0)
                        };
                        members.push(Member {
                            name: u32_at(section, base)?,
                            type_id: u32_at(section, base + 4)?,
                            bit_offset,
                            bitfield_size,
                        });
                    }
                    vlen * 12
                }
                6 => vlen * 8,   // enum
                14 => 4,         // var
                15 => vlen * 12, // datasec
                17 => 4,         // decl_tag
                19 => vlen * 12, // enum64
                other => return Err(BtfError::UnknownKind(other)),
            };
            at += extra;
            types.push(Type {
                name,
                kind,
                target,
                members,
            });
        }
        let mut btf = Btf {
            types,
            strings,
            structs: HashMap::new(),
        };
        let mut structs = HashMap::new();
        for (id, t) in btf.types.iter().enumerate() {
            if t.kind == KIND_STRUCT && t.name != 0 {
                // The first definition wins; forward declarations are FWD.
                structs
                    .entry(btf.name(t.name).to_owned())
                    .or_insert(id as u32);
            }
        }
        btf.structs = structs;
        Ok(btf)
    }

    fn name(&self, offset: u32) -> &str {
        let rest = self.strings.get(offset as usize..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    /// Byte offset of `field` in `struct strukt`, looking through anonymous
    /// structs and unions as C does (`sock_common`'s addresses live in
    /// one).
    pub fn field_offset(&self, strukt: &str, field: &str) -> Result<u32, BtfError> {
        let id = *self
            .structs
            .get(strukt)
            .ok_or_else(|| BtfError::NoStruct(strukt.to_owned()))?;
        match self.find(id, field, 0, 0) {
            Some((bits, 0)) if bits % 8 == 0 => Ok(bits / 8),
            Some(_) => Err(BtfError::BitField {
                strukt: strukt.to_owned(),
                field: field.to_owned(),
            }),
            None => Err(BtfError::NoField {
                strukt: strukt.to_owned(),
                field: field.to_owned(),
            }),
        }
    }

    /// (bit offset, bit-field size) of `field` within type `id`, which sits
    /// at `base` bits.
    fn find(&self, id: u32, field: &str, base: u32, depth: u32) -> Option<(u32, u32)> {
        let t = self.types.get(id as usize)?;
        if depth > 8 {
            return None;
        }
        for m in &t.members {
            let at = base + m.bit_offset;
            if m.name != 0 {
                if self.name(m.name) == field {
                    return Some((at, m.bitfield_size));
                }
                continue;
            }
            // Anonymous: descend into the struct or union it names.
            let inner = self.resolve(m.type_id);
            let kind = self.types.get(inner as usize).map(|t| t.kind);
            if matches!(kind, Some(KIND_STRUCT | KIND_UNION)) {
                if let Some(found) = self.find(inner, field, at, depth + 1) {
                    return Some(found);
                }
            }
        }
        None
    }

    /// Follows typedefs and qualifiers to the type they name.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..16 {
            match self.types.get(id as usize) {
                Some(t) if matches!(t.kind, 8..=11 | 18) => id = t.target,
                _ => break,
            }
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built BTF blob: `struct outer { int a; union { int b; int c; }; }`.
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0outer\0a\0b\0c\0".to_vec();
        let mut types = Vec::new();
        let mut push = |words: &[u32]| {
            for w in words {
                types.extend_from_slice(&w.to_le_bytes());
            }
        };
        // 1: int (name "int" at 1), size 4, encoding word.
        push(&[1, 1 << 24, 4, 32]);
        // 2: anonymous union of b (at 0) and c (at 0), size 4.
        push(&[0, (KIND_UNION << 24) | 2, 4, 13, 1, 0, 15, 1, 0]);
        // 3: struct outer { a at 0; anonymous union at 32 bits }, size 8.
        push(&[5, (KIND_STRUCT << 24) | 2, 8, 11, 1, 0, 0, 2, 32]);
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&types);
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn finds_fields_through_anonymous_unions() {
        let btf = Btf::parse(&blob()).unwrap();
        assert_eq!(btf.field_offset("outer", "a"), Ok(0));
        assert_eq!(btf.field_offset("outer", "c"), Ok(4));
        assert!(matches!(
            btf.field_offset("outer", "zz"),
            Err(BtfError::NoField { .. })
        ));
        assert!(matches!(
            btf.field_offset("inner", "a"),
            Err(BtfError::NoStruct(_))
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Btf::parse(b"").is_err());
        assert!(Btf::parse(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0]).is_err());
        let mut truncated = blob();
        truncated.truncate(40);
        assert!(Btf::parse(&truncated).is_err());
    }

    /// The running kernel's own BTF, when it has one (every kernel the
    /// socket mode runs on does).
    #[test]
    fn running_kernel_sock_layout() {
        let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            return;
        };
        let btf = Btf::parse(&data).unwrap();
        assert_eq!(btf.field_offset("sock_common", "skc_daddr"), Ok(0));
        assert_eq!(btf.field_offset("sock_common", "skc_rcv_saddr"), Ok(4));
        assert!(btf.field_offset("sock", "sk_protocol").is_ok());
        assert!(btf.field_offset("task_struct", "flags").is_ok());
    }
}
