//! Protobuf wire format walked so that every string in a message reaches
//! the content rules with the field path it sits at: `$.3.1` (field 1 of
//! the message in field 3) without a schema, `$.owner.identity.ssn` when
//! the message's type is known from a descriptor set (`grpc_schema`).
//!
//! Without a schema a length-delimited field is a string, a nested
//! message, or bytes; the wire format does not say which. It is read as a
//! nested message when it parses as one completely and either is not
//! printable text or starts with a tag below 0x20 (fields 1 to 3, which
//! text rarely starts with); otherwise as a string when it is UTF-8 text;
//! otherwise skipped. With a schema a field the type declares is read as
//! declared (a message, a string, bytes read as above); a field it does
//! not declare, and everything below it, is walked without a schema and
//! named by number. Depth, fields visited and path length are bounded the
//! same way in both cases; a malformed tail ends the walk of its message
//! (what came before is still reported).

use prost_reflect::{Kind, MessageDescriptor};

/// Nesting followed at most.
pub const MAX_DEPTH: usize = 16;
/// Fields visited per walk at most (a bound on work for any input).
const MAX_FIELDS: usize = 100_000;

/// A field path: the field numbers from the outer message in, rendered
/// with the declared names where a schema gave them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldPath {
    numbers: Vec<u32>,
    /// `.owner.identity.3`: one segment per number.
    text: String,
    /// Where each segment of `text` starts.
    starts: Vec<usize>,
}

impl FieldPath {
    /// `$.3.1`, `$.owner.identity.ssn`.
    pub fn render(&self) -> String {
        format!("${}", self.text)
    }

    pub fn last(&self) -> Option<u32> {
        self.numbers.last().copied()
    }

    fn depth(&self) -> usize {
        self.numbers.len()
    }

    fn push(&mut self, number: u32, name: Option<&str>) {
        use std::fmt::Write;
        self.numbers.push(number);
        self.starts.push(self.text.len());
        self.text.push('.');
        match name {
            Some(name) => self.text.push_str(name),
            None => {
                let _ = write!(self.text, "{number}");
            }
        }
    }

    fn pop(&mut self) {
        self.numbers.pop();
        if let Some(start) = self.starts.pop() {
            self.text.truncate(start);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    Varint,
    Fixed,
    Bytes(&'a [u8]),
}

/// One field: number and value, and the bytes it took.
fn field(b: &[u8]) -> Option<(u32, Value<'_>, usize)> {
    let (tag, n) = varint(b)?;
    let number = u32::try_from(tag >> 3)
        .ok()
        .filter(|f| (1..1 << 29).contains(f))?;
    let rest = &b[n..];
    match tag & 7 {
        0 => varint(rest).map(|(_, m)| (number, Value::Varint, n + m)),
        1 => (rest.len() >= 8).then_some((number, Value::Fixed, n + 8)),
        5 => (rest.len() >= 4).then_some((number, Value::Fixed, n + 4)),
        2 => {
            let (len, m) = varint(rest)?;
            let len = usize::try_from(len).ok()?;
            let value = rest.get(m..m.checked_add(len)?)?;
            Some((number, Value::Bytes(value), n + m + len))
        }
        // Groups (3, 4) are deprecated; anything else is not protobuf.
        _ => None,
    }
}

fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// True when `b` is a complete, well-formed message of at least one field.
fn is_message(b: &[u8]) -> bool {
    let mut at = 0;
    while at < b.len() {
        match field(&b[at..]) {
            Some((_, _, n)) => at += n,
            None => return false,
        }
    }
    at > 0
}

fn is_text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
    })
}

/// Calls `on(path, text)` for every string in `msg`, depth first,
/// without a schema.
pub fn walk(msg: &[u8], on: &mut dyn FnMut(&FieldPath, &[u8])) {
    walk_typed(msg, None, on);
}

/// Like `walk`, naming and reading fields as `schema` (the message's
/// type) declares them; `None`: no schema.
pub fn walk_typed(
    msg: &[u8],
    schema: Option<&MessageDescriptor>,
    on: &mut dyn FnMut(&FieldPath, &[u8]),
) {
    let mut path = FieldPath::default();
    let mut budget = MAX_FIELDS;
    walk_at(msg, schema, &mut path, &mut budget, on);
}

fn walk_at(
    msg: &[u8],
    schema: Option<&MessageDescriptor>,
    path: &mut FieldPath,
    budget: &mut usize,
    on: &mut dyn FnMut(&FieldPath, &[u8]),
) {
    let mut at = 0;
    while at < msg.len() && *budget > 0 {
        *budget -= 1;
        let Some((number, value, n)) = field(&msg[at..]) else {
            return;
        };
        at += n;
        let Value::Bytes(b) = value else {
            continue;
        };
        if b.is_empty() {
            continue;
        }
        let declared = schema.and_then(|s| s.get_field(number));
        path.push(number, declared.as_ref().map(|f| f.name()));
        match declared.map(|f| f.kind()) {
            Some(Kind::Message(inner)) => {
                if path.depth() < MAX_DEPTH {
                    walk_at(b, Some(&inner), path, budget, on);
                }
            }
            Some(Kind::String) => {
                if std::str::from_utf8(b).is_ok() {
                    on(path, b);
                }
            }
            // Bytes may hold text or a message of their own.
            Some(Kind::Bytes) | None => untyped(b, path, budget, on),
            // Packed numbers, enums, bools: no text.
            Some(_) => {}
        }
        path.pop();
    }
}

/// A length-delimited value whose type is unknown: a nested message, a
/// string or neither (see the module docs).
fn untyped(
    b: &[u8],
    path: &mut FieldPath,
    budget: &mut usize,
    on: &mut dyn FnMut(&FieldPath, &[u8]),
) {
    let text = is_text(b);
    let nested = path.depth() < MAX_DEPTH && (!text || b[0] < 0x20) && is_message(b);
    if nested {
        walk_at(b, None, path, budget, on);
    } else if text {
        on(path, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn tag(number: u32, wire: u8) -> Vec<u8> {
        varint_bytes(u64::from(number) << 3 | u64::from(wire))
    }

    fn bytes_field(number: u32, value: &[u8]) -> Vec<u8> {
        [
            tag(number, 2),
            varint_bytes(value.len() as u64),
            value.to_vec(),
        ]
        .concat()
    }

    fn strings(msg: &[u8]) -> Vec<(String, String)> {
        let mut got = Vec::new();
        walk(msg, &mut |path, text| {
            got.push((path.render(), String::from_utf8_lossy(text).into_owned()))
        });
        got
    }

    #[test]
    fn nested_strings_with_paths() {
        let account = [
            bytes_field(1, b"078-05-1120"),
            tag(2, 0),
            vec![42],
            bytes_field(3, b"AKIAIOSFODNN7EXAMPLE"),
        ]
        .concat();
        let customer = [
            bytes_field(1, b"alice"),
            bytes_field(3, &account),
            tag(4, 5),
            vec![1, 2, 3, 4],
        ]
        .concat();
        let long = "x".repeat(300);
        let msg = [
            bytes_field(2, &customer),
            bytes_field(5, long.as_bytes()),
            bytes_field(6, &[0xff, 0x00, 0x01]),
        ]
        .concat();
        assert_eq!(
            strings(&msg),
            vec![
                ("$.2.1".into(), "alice".into()),
                ("$.2.3.1".into(), "078-05-1120".into()),
                ("$.2.3.3".into(), "AKIAIOSFODNN7EXAMPLE".into()),
                ("$.5".into(), long),
            ]
        );
    }

    fn typed(msg: &[u8], method: &str, response: bool) -> Vec<(String, String)> {
        let schema = super::super::grpc_schema::GrpcSchema::from_pool(
            &super::super::grpc_schema::test_pool(),
        );
        let mut got = Vec::new();
        walk_typed(
            msg,
            schema.message_type(method, response),
            &mut |path, text| got.push((path.render(), String::from_utf8_lossy(text).into_owned())),
        );
        got
    }

    /// `Account { id, owner: Customer { name, birth_year, identity:
    /// Identity { ssn }, 4: undeclared { 1: key }, blob: bytes } }`.
    fn account() -> Vec<u8> {
        let identity = bytes_field(1, b"078-05-1120");
        let undeclared = bytes_field(1, b"AKIAIOSFODNN7EXAMPLE");
        let customer = [
            bytes_field(1, b"Alice"),
            tag(2, 0),
            vec![42],
            bytes_field(3, &identity),
            bytes_field(4, &undeclared),
            bytes_field(5, b"token=abc"),
        ]
        .concat();
        [bytes_field(1, b"acct-1"), bytes_field(2, &customer)].concat()
    }

    #[test]
    fn a_schema_names_the_fields_it_declares() {
        let method = "/leak.v1.Accounts/GetAccount";
        assert_eq!(
            typed(&account(), method, true),
            vec![
                ("$.id".into(), "acct-1".into()),
                ("$.owner.name".into(), "Alice".into()),
                ("$.owner.identity.ssn".into(), "078-05-1120".into()),
                // Not in the schema: numbered, walked without it.
                ("$.owner.4.1".into(), "AKIAIOSFODNN7EXAMPLE".into()),
                // Declared bytes: read as text when it is text.
                ("$.owner.blob".into(), "token=abc".into()),
            ]
        );
        // Unknown method: numbers, as without a schema.
        assert_eq!(
            typed(&account(), "/leak.v1.Accounts/Other", true),
            strings(&account())
        );
        // The request's type, not the response's.
        assert_eq!(
            typed(&bytes_field(1, b"acct-9"), method, false),
            vec![("$.id".into(), "acct-9".into())]
        );
    }

    #[test]
    fn a_schema_reads_fields_as_declared() {
        // A declared string that would parse as a message is a string;
        // a declared message that looks like text is a message.
        let looks_nested = bytes_field(1, b"abc");
        let msg = [
            bytes_field(1, &looks_nested),
            bytes_field(2, &bytes_field(1, b"Bob")),
        ]
        .concat();
        assert_eq!(
            typed(&msg, "/leak.v1.Accounts/GetAccount", true),
            vec![
                (
                    "$.id".into(),
                    String::from_utf8_lossy(&looks_nested).into_owned()
                ),
                ("$.owner.name".into(), "Bob".into()),
            ]
        );
        // A declared message that does not parse reports what came before.
        let broken = [bytes_field(1, b"Eve"), vec![0x1a, 0x7f]].concat();
        assert_eq!(
            typed(
                &bytes_field(2, &broken),
                "/leak.v1.Accounts/GetAccount",
                true
            ),
            vec![("$.owner.name".into(), "Eve".into())]
        );
        // Depth is bounded with a schema too: Customer.identity nests no
        // further, so build depth from undeclared fields below it.
        let mut deep = bytes_field(1, b"deep secret");
        for _ in 0..40 {
            deep = bytes_field(4, &deep);
        }
        let got = typed(&bytes_field(2, &deep), "/leak.v1.Accounts/GetAccount", true);
        assert!(got.iter().all(|(p, _)| p.matches('.').count() <= MAX_DEPTH));
    }

    #[test]
    fn any_bytes_terminate_with_a_schema() {
        let mut x = 11u32;
        for len in 0..2000 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            typed(&buf, "/leak.v1.Accounts/GetAccount", true);
        }
    }

    #[test]
    fn a_truncated_message_reports_what_came_before() {
        let msg = [bytes_field(1, b"first"), bytes_field(2, b"second")].concat();
        assert_eq!(
            strings(&msg[..msg.len() - 2]),
            vec![("$.1".into(), "first".into())]
        );
    }

    #[test]
    fn text_or_message() {
        // Printable, but starts with field 1's tag and parses: a message.
        let inner = bytes_field(1, "y".repeat(32).as_bytes());
        assert_eq!(
            strings(&bytes_field(1, &inner)),
            vec![("$.1.1".into(), "y".repeat(32))]
        );
        // 'B' reads as a tag, but the rest is no message: text.
        assert_eq!(
            strings(&bytes_field(1, b"Bob Smith")),
            vec![("$.1".into(), "Bob Smith".into())]
        );
    }

    #[test]
    fn depth_is_bounded() {
        let mut msg = bytes_field(1, b"deep secret");
        for _ in 0..40 {
            msg = bytes_field(1, &msg);
        }
        let got = strings(&msg);
        // Below the depth limit the remaining bytes are not text: nothing.
        assert!(got.iter().all(|(p, _)| p.matches('.').count() <= MAX_DEPTH));
    }

    #[test]
    fn any_bytes_terminate() {
        let mut x = 7u32;
        for len in 0..2000 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            walk(&buf, &mut |_, _| {});
        }
    }
}
