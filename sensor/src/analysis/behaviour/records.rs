//! Records in a JSON response: the length of a top-level array, or of the
//! longest array directly inside a top-level object (`{"data": [...]}`).
//! No parsing into values, no allocation; on a truncated body it counts
//! what is there (a lower bound).
//!
//! Every JSON response is counted, so the count reads 64 bytes at a time:
//! bit masks of the quotes, the brackets (`[ ] { }`) and the commas, with
//! SSE2 on x86_64, a prefix XOR of the quotes for which bytes are inside
//! strings, and then only the brackets outside strings one by one (two per
//! record of a typical API answer, where reading byte by byte looked at
//! all forty): the depth only changes at a bracket, so the commas between
//! two brackets are counted at once (a popcount). A block holding a
//! backslash (an escape, rare in API data) is read byte by byte, as is one
//! that starts right after one, so escaped quotes never need the masks.

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
    let mut count = Count::new(element_depth);
    let mut blocks = body.chunks_exact(BLOCK);
    for block in &mut blocks {
        count.block(block.try_into().expect("chunks_exact gives whole blocks"));
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padded with spaces, which change nothing inside or outside a
        // string.
        let mut last = [b' '; BLOCK];
        last[..rest.len()].copy_from_slice(rest);
        count.block(&last);
    }
    Some(count.finish())
}

const BLOCK: usize = 64;

/// Where the reading stands, carried from block to block.
struct Count {
    element_depth: u32,
    depth: u32,
    /// Inside an array whose elements are counted.
    counting: bool,
    commas: u64,
    /// The counted array has an element (so `[]` is 0 and `[1]` is 1).
    has_element: bool,
    best: u64,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escaped: bool,
}

impl Count {
    fn new(element_depth: u32) -> Self {
        Self {
            element_depth,
            depth: 0,
            counting: false,
            commas: 0,
            has_element: false,
            best: 0,
            in_string: false,
            escaped: false,
        }
    }

    fn finish(mut self) -> u64 {
        if self.counting {
            // Truncated inside the array: the elements seen so far.
            self.close_count();
        }
        self.best
    }

    /// Whether a byte of an element would now be the counted array's first.
    fn wants_element(&self) -> bool {
        self.counting && self.depth == self.element_depth && !self.has_element
    }

    fn close_count(&mut self) {
        self.best = self.best.max(self.commas + u64::from(self.has_element));
        self.counting = false;
    }

    /// One structural byte outside strings: `[`, `{`, `]`, `}` or `,`.
    #[inline]
    fn structural(&mut self, b: u8) {
        match b {
            b'[' | b'{' => {
                self.depth += 1;
                if b == b'[' && self.depth == self.element_depth {
                    self.counting = true;
                    self.commas = 0;
                    self.has_element = false;
                }
            }
            b']' | b'}' => {
                if self.counting && self.depth == self.element_depth {
                    self.close_count();
                }
                self.depth = self.depth.saturating_sub(1);
            }
            _ => {
                if self.counting && self.depth == self.element_depth {
                    self.commas += 1;
                }
            }
        }
    }

    fn block(&mut self, block: &[u8; BLOCK]) {
        let masks = Masks::of(block);
        if masks.backslash != 0 || self.escaped {
            return self.bytes(block);
        }
        // Bit i: byte i is inside a string or opens one (a closing quote
        // is outside).
        let inside = prefix_xor(masks.quote) ^ if self.in_string { !0 } else { 0 };
        self.in_string = inside >> (BLOCK - 1) == 1;
        let commas = masks.commas & !inside;
        let mut brackets = masks.brackets & !inside;
        // Only a bracket changes the state: between two, the commas are
        // counted at once, and whether a byte is the counted array's first
        // element is decided once per stretch (an element only needs to be
        // seen, not placed).
        let mut from = 0;
        loop {
            let end = if brackets == 0 {
                BLOCK
            } else {
                brackets.trailing_zeros() as usize + 1
            };
            if self.counting && self.depth == self.element_depth {
                self.commas += u64::from((commas & span(from, end)).count_ones());
                if !self.has_element {
                    self.has_element = element_byte_in(&block[from..end], inside >> from);
                }
            }
            if brackets == 0 {
                break;
            }
            brackets &= brackets - 1;
            self.structural(block[end - 1]);
            from = end;
            if from == BLOCK {
                break;
            }
        }
    }

    /// The block byte by byte, escapes included.
    fn bytes(&mut self, block: &[u8; BLOCK]) {
        for &b in block {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    // A backslash escapes the next byte, whatever it is.
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            if b.is_ascii_whitespace() {
                continue;
            }
            if self.wants_element() && b != b']' && b != b',' {
                self.has_element = true;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' | b']' | b'}' | b',' => self.structural(b),
                _ => {}
            }
        }
    }
}

/// Whether `bytes` (bit i of `inside` for byte i, as in `Count::block`)
/// hold a byte that makes an element: not whitespace, not `]` or `,`, and
/// outside strings or an opening quote.
fn element_byte_in(bytes: &[u8], inside: u64) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| {
        let in_string = (inside >> i) & 1 == 1;
        !b.is_ascii_whitespace() && b != b']' && b != b',' && in_string == (b == b'"')
    })
}

/// Bit i set where the bit at i or below is set an odd number of times.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Bits `from..end` of a block's mask (`end` at most `BLOCK`).
fn span(from: usize, end: usize) -> u64 {
    let below_end = if end >= BLOCK { !0 } else { (1u64 << end) - 1 };
    below_end & (!0u64 << from)
}

/// Which bytes of a block are quotes, backslashes, brackets and commas
/// (bit i for byte i).
#[derive(Debug, PartialEq)]
struct Masks {
    quote: u64,
    backslash: u64,
    brackets: u64,
    commas: u64,
}

impl Masks {
    /// 16 bytes per step with SSE2, which every x86_64 has.
    #[cfg(target_arch = "x86_64")]
    fn of(block: &[u8; BLOCK]) -> Self {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let mut masks = Self {
            quote: 0,
            backslash: 0,
            brackets: 0,
            commas: 0,
        };
        for (i, chunk) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is part of the x86_64 baseline; the unaligned
            // load reads exactly the 16 bytes of `chunk`.
            let (quote, backslash, brackets, commas) = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
                let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
                let brackets = _mm_or_si128(
                    _mm_or_si128(eq(b'['), eq(b']')),
                    _mm_or_si128(eq(b'{'), eq(b'}')),
                );
                (
                    _mm_movemask_epi8(eq(b'"')),
                    _mm_movemask_epi8(eq(b'\\')),
                    _mm_movemask_epi8(brackets),
                    _mm_movemask_epi8(eq(b',')),
                )
            };
            let shift = 16 * i;
            masks.quote |= u64::from(quote as u16) << shift;
            masks.backslash |= u64::from(backslash as u16) << shift;
            masks.brackets |= u64::from(brackets as u16) << shift;
            masks.commas |= u64::from(commas as u16) << shift;
        }
        masks
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn of(block: &[u8; BLOCK]) -> Self {
        Self::bytewise(block)
    }

    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    fn bytewise(block: &[u8; BLOCK]) -> Self {
        let mut masks = Self {
            quote: 0,
            backslash: 0,
            brackets: 0,
            commas: 0,
        };
        for (i, &b) in block.iter().enumerate() {
            masks.quote |= u64::from(b == b'"') << i;
            masks.backslash |= u64::from(b == b'\\') << i;
            masks.brackets |= u64::from(matches!(b, b'[' | b']' | b'{' | b'}')) << i;
            masks.commas |= u64::from(b == b',') << i;
        }
        masks
    }
}

#[cfg(test)]
mod tests {
    use super::{json_records, Masks, BLOCK};

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
            (r#"[ , ]"#, Some(1)),
            ("[\x0c]", Some(0)),
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

    /// The reading this one replaced, byte by byte: the reference the
    /// block reading must agree with on any input.
    fn reference(body: &[u8]) -> Option<u64> {
        let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
        let body = &body[start..];
        let element_depth = match body.first()? {
            b'[' => 1,
            b'{' => 2,
            _ => return None,
        };
        let (mut depth, mut counting, mut commas, mut has_element, mut best) =
            (0u32, false, 0u64, false, 0u64);
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
                b'"' => {
                    while i < body.len() && body[i] != b'"' {
                        i += if body[i] == b'\\' { 2 } else { 1 };
                    }
                    i = (i + 1).min(body.len() + 1);
                }
                b'[' | b'{' => {
                    depth += 1;
                    if b == b'[' && depth == element_depth {
                        (counting, commas, has_element) = (true, 0, false);
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
            best = best.max(commas + u64::from(has_element));
        }
        Some(best)
    }

    /// Bodies built from the bytes that matter (brackets, quotes,
    /// backslashes, commas, whitespace, other), of every length up to a few
    /// blocks, so strings, escapes and arrays cross block boundaries.
    #[test]
    fn agrees_with_the_bytewise_reading() {
        const ALPHABET: &[u8] = b"[[]]{{}},,,\"\"\"\\  \n\t\x0cab1:";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let len = (next() % 300) as usize;
            let mut body: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            if let Some(first) = body.first_mut() {
                *first = if round % 2 == 0 { b'[' } else { b'{' };
            }
            assert_eq!(
                json_records(&body),
                reference(&body),
                "{:?}",
                String::from_utf8_lossy(&body)
            );
        }
        // Real-looking documents, with and without escapes.
        for n in 0..200 {
            let items: Vec<String> = (0..n)
                .map(|i| format!(r#"{{"id":{i},"name":"item-{i}","note":"a \"q\" [x]"}}"#))
                .collect();
            for body in [
                format!(r#"{{"items":[{}],"total":{n}}}"#, items.join(",")),
                format!("[{}]", items.join(", ")),
            ] {
                assert_eq!(json_records(body.as_bytes()), reference(body.as_bytes()));
                let cut = &body.as_bytes()[..body.len() * 2 / 3];
                assert_eq!(json_records(cut), reference(cut));
            }
        }
    }

    #[test]
    fn masks_match_the_bytewise_ones() {
        let mut block = [0u8; BLOCK];
        for (i, b) in block.iter_mut().enumerate() {
            *b = b"[]{},\"\\ ax"[i % 10];
        }
        assert_eq!(Masks::of(&block), Masks::bytewise(&block));
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(BLOCK) {
            let block: [u8; BLOCK] = chunk.try_into().unwrap();
            assert_eq!(Masks::of(&block), Masks::bytewise(&block));
        }
    }
}
