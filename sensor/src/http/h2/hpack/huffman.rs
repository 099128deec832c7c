//! HPACK's Huffman code (RFC 7541 §5.2), decoded. The code is the RFC's
//! Appendix B table (taken from `httlib-huffman`, which carries it); the
//! decoding is ours: the code is canonical, so the codes of each length
//! form one range, and a symbol is found by comparing the next bits with
//! at most one range per length (most symbols are 5 to 8 bits long), on a
//! 64-bit window refilled a byte at a time, writing into the caller's
//! buffer (no allocation of its own).

use std::sync::OnceLock;

use httlib_huffman::encoder::table::ENCODE_TABLE;

const SYMBOLS: usize = 257;
/// End of string: never valid inside one (§5.2).
const EOS: u16 = 256;
const MIN_LEN: usize = 5;
const MAX_LEN: usize = 30;

/// The code by length: the codes of length `l` are `first[l]..end[l]`,
/// their symbols `symbols[offset[l]..]` in code order.
struct Canonical {
    first: [u32; MAX_LEN + 1],
    end: [u32; MAX_LEN + 1],
    offset: [u16; MAX_LEN + 1],
    symbols: [u16; SYMBOLS],
}

fn canonical() -> &'static Canonical {
    static CODE: OnceLock<Canonical> = OnceLock::new();
    CODE.get_or_init(|| {
        let mut order: Vec<u16> = (0..SYMBOLS as u16).collect();
        order.sort_by_key(|&s| {
            let (len, code) = ENCODE_TABLE[usize::from(s)];
            (len, code)
        });
        let mut c = Canonical {
            first: [0; MAX_LEN + 1],
            end: [0; MAX_LEN + 1],
            offset: [0; MAX_LEN + 1],
            symbols: [0; SYMBOLS],
        };
        for (i, &s) in order.iter().enumerate() {
            let (len, code) = ENCODE_TABLE[usize::from(s)];
            let len = usize::from(len);
            if c.end[len] == 0 {
                c.first[len] = code;
                c.offset[len] = i as u16;
            }
            c.end[len] = code + 1;
            c.symbols[i] = s;
        }
        c
    })
}

/// Appends the decoding of `src` to `dst`. False when `src` is not a
/// valid encoding: EOS inside it, or padding longer than 7 bits or not
/// all ones (§5.2).
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> bool {
    let c = canonical();
    // Bits not yet decoded, left-aligned.
    let mut window: u64 = 0;
    let mut bits = 0usize;
    let mut next = src.iter();
    dst.reserve(src.len() * 8 / MIN_LEN);
    loop {
        while bits <= 56 {
            match next.next() {
                Some(&b) => {
                    window |= u64::from(b) << (56 - bits);
                    bits += 8;
                }
                None => break,
            }
        }
        if bits == 0 {
            return true;
        }
        let symbol = (MIN_LEN..=MAX_LEN.min(bits)).find_map(|len| {
            let code = (window >> (64 - len)) as u32;
            (code >= c.first[len] && code < c.end[len]).then(|| {
                (
                    c.symbols[usize::from(c.offset[len]) + (code - c.first[len]) as usize],
                    len,
                )
            })
        });
        match symbol {
            Some((EOS, _)) => return false,
            Some((s, len)) => {
                dst.push(s as u8);
                window <<= len;
                bits -= len;
            }
            // Only the end of the input can be short of a whole code (the
            // window holds more than the longest code otherwise): padding.
            None => return bits < 8 && window >> (64 - bits) == (1 << bits) - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        httlib_huffman::encode(s, &mut out).unwrap();
        out
    }

    #[test]
    fn the_code_is_canonical_one_range_per_length() {
        let c = canonical();
        for (i, &s) in c.symbols.iter().enumerate() {
            let (len, code) = ENCODE_TABLE[usize::from(s)];
            let len = usize::from(len);
            assert!((MIN_LEN..=MAX_LEN).contains(&len));
            assert_eq!(code, c.first[len] + (i - usize::from(c.offset[len])) as u32);
        }
    }

    #[test]
    fn every_byte_and_mixed_strings_round_trip() {
        let mut all: Vec<u8> = (0..=255).collect();
        all.extend(b"www.example.com/custom-key: custom-value; no-cache");
        for s in [
            &all[..],
            b"",
            b"a",
            b"\xff\xfe\x00",
            b"application/grpc+proto",
        ] {
            let mut out = b"kept".to_vec();
            assert!(decode(&encode(s), &mut out), "{s:02x?}");
            assert_eq!(&out[4..], s);
        }
        for b in 0..=255u8 {
            let mut out = Vec::new();
            assert!(decode(&encode(&[b, b, b]), &mut out));
            assert_eq!(out, [b, b, b]);
        }
    }

    #[test]
    fn rfc_7541_example_decodes() {
        // C.4.1: "www.example.com".
        let src = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        let mut out = Vec::new();
        assert!(decode(&src, &mut out));
        assert_eq!(out, b"www.example.com");
    }

    #[test]
    fn bad_padding_and_eos_are_refused() {
        for src in [
            &[0x00][..],                   // "0" then padding of zeros
            &[0x1f, 0xff][..],             // "a" then 11 bits of ones (too long)
            &[0xff, 0xff, 0xff, 0xfc][..], // EOS (30 ones) then padding
            &[0xfe][..],                   // 7 ones and a zero: not a code
        ] {
            assert!(!decode(src, &mut Vec::new()), "{src:02x?}");
        }
    }
}
