//! Protobuf wire format walked without a schema, so that every string in a
//! message reaches the content rules with the field path it sits at
//! (`$.3.1`: field 1 of the message in field 3).
//!
//! A length-delimited field is a string, a nested message, or bytes; the
//! wire format does not say which. It is read as a nested message when it
//! parses as one completely and either is not printable text or starts
//! with a tag below 0x20 (fields 1 to 3, which text rarely starts with);
//! otherwise as a string when it is UTF-8 text; otherwise skipped. Depth,
//! fields visited and path length are bounded; a malformed tail ends the
//! walk of its message (what came before is still reported).

/// Nesting followed at most.
pub const MAX_DEPTH: usize = 16;
/// Fields visited per walk at most (a bound on work for any input).
const MAX_FIELDS: usize = 100_000;

/// A field path: the field numbers from the outer message in.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldPath(Vec<u32>);

impl FieldPath {
    /// `$.3.1`.
    pub fn render(&self) -> String {
        let mut s = String::from("$");
        for n in &self.0 {
            s.push('.');
            s.push_str(&n.to_string());
        }
        s
    }

    pub fn last(&self) -> Option<u32> {
        self.0.last().copied()
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

/// Calls `on(path, text)` for every string in `msg`, depth first.
pub fn walk(msg: &[u8], on: &mut dyn FnMut(&FieldPath, &[u8])) {
    let mut path = FieldPath::default();
    let mut budget = MAX_FIELDS;
    walk_at(msg, &mut path, &mut budget, on);
}

fn walk_at(
    msg: &[u8],
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
        path.0.push(number);
        let text = is_text(b);
        let nested = path.0.len() < MAX_DEPTH && (!text || b[0] < 0x20) && is_message(b);
        if nested {
            walk_at(b, path, budget, on);
        } else if text {
            on(path, b);
        }
        path.0.pop();
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
