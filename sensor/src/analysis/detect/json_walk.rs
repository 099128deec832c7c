//! A tolerant, allocation-light JSON walker: yields every string and number
//! value with its path. Bodies are often cut at a size limit or mangled, so
//! it never fails: bytes it cannot place are skipped, a truncated document
//! yields what it has. One pass, linear in the input, depth bounded.

/// Frames deeper than this are walked but not recorded in paths.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy)]
enum Frame {
    /// `key`: byte range of the current key in the body (escapes intact).
    Object {
        key: Option<(usize, usize)>,
    },
    Array {
        index: usize,
    },
}

/// The position of a value: the frames from the root down.
pub struct JsonPath<'a> {
    body: &'a [u8],
    frames: &'a [Frame],
}

impl JsonPath<'_> {
    /// The name of the field holding the value (escapes intact), if the
    /// value sits directly in an object.
    pub fn key(&self) -> Option<&[u8]> {
        match self.frames.last()? {
            Frame::Object { key: Some((s, e)) } => Some(&self.body[*s..*e]),
            _ => None,
        }
    }

    /// Byte range of the key in the body, if the value has one.
    pub fn key_span(&self) -> Option<(usize, usize)> {
        match self.frames.last()? {
            Frame::Object { key: Some(span) } => Some(*span),
            _ => None,
        }
    }

    /// `$.users[3].ssn`; with `wildcard`, indices become `[*]` so the
    /// same field of every element renders alike.
    #[cfg(test)]
    pub fn render(&self, wildcard: bool) -> String {
        let mut out = String::new();
        self.render_into(wildcard, &mut out);
        out
    }

    /// `render`, appended to `out` (the merge index renders into one
    /// buffer per exchange, not a new string per value).
    pub fn render_into(&self, wildcard: bool, out: &mut String) {
        out.push('$');
        for frame in self.frames {
            match frame {
                Frame::Object { key: Some((s, e)) } => {
                    let key = &self.body[*s..*e];
                    let plain = !key.is_empty()
                        && key
                            .iter()
                            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
                    if plain {
                        out.push('.');
                        // Plain keys are ASCII.
                        out.extend(key.iter().map(|&c| char::from(c)));
                    } else {
                        out.push_str("[\"");
                        out.push_str(&String::from_utf8_lossy(key).replace('"', "\\\""));
                        out.push_str("\"]");
                    }
                }
                Frame::Object { key: None } => out.push_str(".?"),
                Frame::Array { .. } if wildcard => out.push_str("[*]"),
                Frame::Array { index } => {
                    use std::fmt::Write as _;
                    let _ = write!(out, "[{index}]");
                }
            }
        }
    }

    /// Whether an array index is on the path (`render(true)` and
    /// `render(false)` then differ).
    pub fn has_index(&self) -> bool {
        self.frames.iter().any(|f| matches!(f, Frame::Array { .. }))
    }
}

/// Calls `f(path, value, span)` for each string (unescaped) and number,
/// until it returns false; `span` is the value's raw byte range in `body`.
/// Generic, not `dyn`, so that the caller's per-value step is inlined
/// into the walk instead of being an indirect call per value.
pub fn walk<F>(body: &[u8], f: &mut F)
where
    F: FnMut(&JsonPath<'_>, &[u8], (usize, usize)) -> bool,
{
    let mut frames: Vec<Frame> = Vec::with_capacity(16);
    let mut overflow = 0usize;
    let mut scratch = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        match b {
            b'{' | b'[' => {
                if frames.len() < MAX_DEPTH {
                    frames.push(if b == b'{' {
                        Frame::Object { key: None }
                    } else {
                        Frame::Array { index: 0 }
                    });
                } else {
                    overflow += 1;
                }
                i += 1;
            }
            b'}' | b']' => {
                if overflow > 0 {
                    overflow -= 1;
                } else {
                    frames.pop();
                    value_done(&mut frames);
                }
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let (end, escaped) = string_end(body, start);
                i = (end + 1).min(body.len());
                let is_key = matches!(frames.last(), Some(Frame::Object { key: None }))
                    && overflow == 0
                    && next_non_ws(body, i) == Some(b':');
                if is_key {
                    if let Some(Frame::Object { key }) = frames.last_mut() {
                        *key = Some((start, end));
                    }
                    continue;
                }
                let raw = &body[start..end];
                let value = if escaped {
                    unescape(raw, &mut scratch);
                    &scratch[..]
                } else {
                    raw
                };
                let depth = frames.len();
                let go_on = f(
                    &JsonPath {
                        body,
                        frames: &frames[..depth],
                    },
                    value,
                    (start, end),
                );
                if !go_on {
                    return;
                }
                if overflow == 0 {
                    value_done(&mut frames);
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < body.len()
                    && matches!(body[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let go_on = f(
                    &JsonPath {
                        body,
                        frames: &frames,
                    },
                    &body[start..i],
                    (start, i),
                );
                if !go_on {
                    return;
                }
                if overflow == 0 {
                    value_done(&mut frames);
                }
            }
            b'a'..=b'z' => {
                while i < body.len() && body[i].is_ascii_lowercase() {
                    i += 1;
                }
                if overflow == 0 {
                    value_done(&mut frames);
                }
            }
            _ => i += 1,
        }
    }
}

fn value_done(frames: &mut [Frame]) {
    match frames.last_mut() {
        Some(Frame::Object { key }) => *key = None,
        Some(Frame::Array { index }) => *index += 1,
        None => {}
    }
}

/// Index of the closing quote (or the body's end) and whether the string
/// holds escapes.
fn string_end(body: &[u8], mut i: usize) -> (usize, bool) {
    // Most strings (keys, ids, statuses) are short: the next 16 bytes are
    // looked at in place before calling out to memchr.
    if let Some(at) = body.get(i..i + 16).and_then(quote_or_escape_in_16) {
        if body[i + at] == b'"' {
            return (i + at, false);
        }
    }
    let mut escaped = false;
    while let Some(off) = memchr::memchr2(b'"', b'\\', &body[i..]) {
        let at = i + off;
        if body[at] == b'"' {
            return (at, escaped);
        }
        escaped = true;
        i = at + 2;
        if i >= body.len() {
            break;
        }
    }
    (body.len(), escaped)
}

/// The first `"` or `\\` among 16 bytes.
#[cfg(target_arch = "x86_64")]
fn quote_or_escape_in_16(bytes: &[u8]) -> Option<usize> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    assert_eq!(bytes.len(), 16);
    // SAFETY: SSE2 is part of the x86_64 baseline; the unaligned load
    // reads exactly the 16 bytes of `bytes`.
    let mask = unsafe {
        let v = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
        let hit = _mm_or_si128(
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
        );
        _mm_movemask_epi8(hit)
    };
    (mask != 0).then(|| mask.trailing_zeros() as usize)
}

#[cfg(not(target_arch = "x86_64"))]
fn quote_or_escape_in_16(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'"' || b == b'\\')
}

fn next_non_ws(body: &[u8], i: usize) -> Option<u8> {
    body[i.min(body.len())..]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

/// JSON string escapes decoded into `out` (lone surrogates become U+FFFD).
pub fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' || i + 1 >= raw.len() {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let c = raw[i + 1];
        i += 2;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'u' => None,
            other => Some(other),
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        let Some(hi) = hex4(raw, i) else {
            out.extend_from_slice(b"\\u");
            continue;
        };
        i += 4;
        let mut code = u32::from(hi);
        if (0xD800..0xDC00).contains(&code) && raw.get(i..i + 2) == Some(b"\\u") {
            if let Some(lo) = hex4(raw, i + 2).filter(|lo| (0xDC00..0xE000).contains(lo)) {
                code = 0x10000 + ((code - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                i += 6;
            }
        }
        let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
}

fn hex4(raw: &[u8], i: usize) -> Option<u16> {
    let digits = raw.get(i..i + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u16::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(body: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        walk(body.as_bytes(), &mut |path, value, _| {
            out.push((
                path.render(false),
                String::from_utf8_lossy(value).into_owned(),
            ));
            true
        });
        out
    }

    #[test]
    fn paths_and_values() {
        let got = collect(
            r#"{"users":[{"id":1,"ssn":"a"},{"id":2,"ssn":"b\n\u00e9"}],"odd key":"x","t":true,"n":null,"z":"q"}"#,
        );
        let want = [
            ("$.users[0].id", "1"),
            ("$.users[0].ssn", "a"),
            ("$.users[1].id", "2"),
            ("$.users[1].ssn", "b\né"),
            ("$[\"odd key\"]", "x"),
            ("$.z", "q"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn truncated_and_garbage_do_not_stop_the_walk() {
        assert_eq!(
            collect(r#"{"a":[1,2,{"b":"c"#),
            [
                ("$.a[0]".to_string(), "1".to_string()),
                ("$.a[1]".into(), "2".into()),
                ("$.a[2].b".into(), "c".into())
            ]
        );
        assert!(collect("]]]}}}\"").len() <= 1);
        let deep = "[".repeat(10_000) + "\"x\"" + &"]".repeat(10_000);
        assert_eq!(collect(&deep).len(), 1);
    }

    #[test]
    fn wildcard_paths() {
        let body = br#"{"a":[{"b":"x"}]}"#;
        let mut paths = Vec::new();
        walk(body, &mut |p, _, _| {
            paths.push((p.render(true), p.key().map(<[u8]>::to_vec)));
            true
        });
        assert_eq!(paths, [("$.a[*].b".to_string(), Some(b"b".to_vec()))]);
    }

    #[test]
    fn stops_when_told() {
        let mut seen = 0;
        walk(br#"[1,2,3,4]"#, &mut |_, _, _| {
            seen += 1;
            seen < 2
        });
        assert_eq!(seen, 2);
    }

    #[test]
    fn surrogates() {
        let mut out = Vec::new();
        unescape(br"\ud83d\ude00 \ud83d", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "😀 \u{FFFD}");
    }
}
