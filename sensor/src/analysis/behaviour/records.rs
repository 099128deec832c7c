//! Records in a JSON response: the length of a top-level array, or of the
//! longest array directly inside a top-level object (`{"data": [...]}`).
//! One pass over the bytes, no parsing into values, no allocation; on a
//! truncated body it counts what is there (a lower bound).

/// Records in `body`, or None when it is not a JSON array or object.
pub(crate) fn json_records(body: &[u8]) -> Option<u64> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let body = &body[start..];
    // The depth at which the counted arrays' elements sit: 1 for a
    // top-level array, 2 for arrays that are values of a top-level object.
    let element_depth = match body.first()? {
        b'[' => 1,
        b'{' => 2,
        _ => return None,
    };
    let mut depth = 0u32;
    let mut counting = false;
    let mut commas = 0u64;
    let mut has_element = false;
    let mut best = 0u64;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        i += 1;
        if b.is_ascii_whitespace() {
            continue;
        }
        if counting && depth == element_depth && b != b']' && b != b',' {
            has_element = true;
        }
        match b {
            b'"' => i = string_end(body, i),
            b'[' | b'{' => {
                depth += 1;
                if b == b'[' && depth == element_depth {
                    counting = true;
                    commas = 0;
                    has_element = false;
                }
            }
            b']' | b'}' => {
                if counting && depth == element_depth {
                    best = best.max(commas + u64::from(has_element));
                    counting = false;
                }
                depth = depth.saturating_sub(1);
            }
            b',' if counting && depth == element_depth => commas += 1,
            _ => {}
        }
    }
    if counting {
        // Truncated inside the array: the elements seen so far.
        best = best.max(commas + u64::from(has_element));
    }
    Some(best)
}

/// The index just past the closing quote of the string whose contents
/// start at `from` (the body's end when it is cut inside the string).
/// Most JSON strings are short keys and values, read byte by byte; past
/// that the scan jumps between quotes and backslashes with `memchr`.
fn string_end(body: &[u8], from: usize) -> usize {
    const SHORT: usize = 32;
    let mut at = from;
    while at < body.len() && at < from + SHORT {
        match body[at] {
            b'"' => return at + 1,
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    let mut at = at.min(body.len());
    while let Some(found) = memchr::memchr2(b'"', b'\\', &body[at..]) {
        let special = at + found;
        if body[special] == b'"' {
            return special + 1;
        }
        // A backslash escapes the next byte, whatever it is.
        at = (special + 2).min(body.len());
    }
    body.len()
}

#[cfg(test)]
mod tests {
    use super::json_records;

    #[test]
    fn table() {
        for (body, want) in [
            (r#"[]"#, Some(0)),
            (r#" [1, 2, 3] "#, Some(3)),
            (r#"[{"a":[1,2,3,4]},{"b":"x,y,z"}]"#, Some(2)),
            (r#"[["a","b"],["c"]]"#, Some(2)),
            (
                r#"{"data":[{"id":1},{"id":2},{"id":3}],"total":3}"#,
                Some(3),
            ),
            (r#"{"meta":{"tags":[1,2,3,4,5]},"items":[1,2]}"#, Some(2)),
            (r#"{"a":[1],"b":[1,2,3,4],"c":[]}"#, Some(4)),
            (r#"{"name":"x"}"#, Some(0)),
            (r#"{"s":"[1,2,3]","quote":"\"],[\""}"#, Some(0)),
            (r#"["a\\",["b"],"c\\\"]"]"#, Some(3)),
            (r#"["cut in a string \"#, Some(1)),
            (
                r#"["a long string that goes well past thirty-two bytes \" ] , [","b"]"#,
                Some(2),
            ),
            (r#"[{"id":1},{"id":2},{"id":"#, Some(3)),
            (r#"{"data":[1,2,3,4"#, Some(4)),
            ("<html></html>", None),
            ("", None),
            ("42", None),
        ] {
            assert_eq!(json_records(body.as_bytes()), want, "{body}");
        }
    }

    #[test]
    fn large_array() {
        let body = format!("[{}]", vec![r#"{"id":1,"name":"a"}"#; 10_000].join(","));
        assert_eq!(json_records(body.as_bytes()), Some(10_000));
    }
}
