//! Checks that turn a pattern match into a finding: checksums, issuer
//! ranges, reserved number blocks. Each takes the matched bytes and is
//! linear in them.

/// Digits of `s`, ignoring spaces and dashes; `None` if anything else
/// or more than `MAX_DIGITS` (no caller accepts more).
fn digits(s: &[u8]) -> Option<Digits> {
    let mut out = Digits {
        d: [0; MAX_DIGITS],
        n: 0,
    };
    for &b in s {
        match b {
            b'0'..=b'9' => {
                *out.d.get_mut(out.n)? = b - b'0';
                out.n += 1;
            }
            b' ' | b'-' => {}
            _ => return None,
        }
    }
    Some(out)
}

/// The longest number `digits` is asked for: a 19-digit card number.
const MAX_DIGITS: usize = 19;

/// Digit values, on the stack: every candidate card or SSN is read.
struct Digits {
    d: [u8; MAX_DIGITS],
    n: usize,
}

impl std::ops::Deref for Digits {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.d[..self.n]
    }
}

pub fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// A payment card number: issuer prefix, a length that issuer uses, and
/// the Luhn check. Separators must be used consistently (all spaces or
/// all dashes, or none).
pub fn card(s: &[u8]) -> bool {
    let has_space = s.contains(&b' ');
    let has_dash = s.contains(&b'-');
    if has_space && has_dash {
        return false;
    }
    let Some(d) = digits(s) else { return false };
    let n = d.len();
    if !(12..=19).contains(&n) || !luhn(&d) {
        return false;
    }
    // A run of one digit passes Luhn for some lengths and is never a card.
    if d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let prefix = |k: usize| d[..k].iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
    match () {
        // Visa
        _ if p1 == 4 => matches!(n, 13 | 16 | 19),
        // Mastercard, old and 2-series ranges
        _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => n == 16,
        // American Express
        _ if p2 == 34 || p2 == 37 => n == 15,
        // Discover
        _ if p4 == 6011
            || p2 == 65
            || (644..=649).contains(&p3)
            || (622126..=622925).contains(&p6) =>
        {
            (16..=19).contains(&n)
        }
        // JCB
        _ if (3528..=3589).contains(&p4) => (16..=19).contains(&n),
        // Diners Club
        _ if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 || p3 == 309 => {
            (14..=19).contains(&n)
        }
        // UnionPay
        _ if p2 == 62 => (16..=19).contains(&n),
        // Mir
        _ if (2200..=2204).contains(&p4) => (16..=19).contains(&n),
        // Dankort (and Visa/Dankort co-brands start with 4)
        _ if p4 == 5019 => n == 16,
        // UATP (airline cards)
        _ if p1 == 1 => n == 15,
        // Maestro
        _ if matches!(
            p4,
            5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
        ) =>
        {
            (12..=19).contains(&n)
        }
        _ => false,
    }
}

/// Card numbers that payment providers publish for testing.
pub fn is_test_card(s: &[u8]) -> bool {
    const TEST: &[&str] = &[
        "4111111111111111",
        "4242424242424242",
        "4012888888881881",
        "4000056655665556",
        "4222222222222",
        "5555555555554444",
        "5105105105105100",
        "5200828282828210",
        "2223003122003222",
        "378282246310005",
        "371449635398431",
        "378734493671000",
        "6011111111111117",
        "6011000990139424",
        "3530111333300000",
        "3566002020360505",
        "30569309025904",
        "38520000023237",
        "6200000000000005",
    ];
    ascii_digits::<19>(s).is_some_and(|(d, n)| TEST.iter().any(|t| t.as_bytes() == &d[..n]))
}

/// The ASCII digits of `s`, separators left out, on the stack; `None`
/// when there are more than `N` (judged for every valid match: no copy
/// on the heap).
fn ascii_digits<const N: usize>(s: &[u8]) -> Option<([u8; N], usize)> {
    let mut d = [0u8; N];
    let mut n = 0;
    for &b in s.iter().filter(|b| b.is_ascii_digit()) {
        *d.get_mut(n)? = b;
        n += 1;
    }
    Some((d, n))
}

/// A US social security number in `AAA-GG-SSSS` or `AAA GG SSSS` form
/// with the SSA's validity rules (no area 000, 666 or 9xx, no group 00,
/// no serial 0000).
pub fn ssn(s: &[u8]) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 9 {
        return false;
    }
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    let group = u32::from(d[3]) * 10 + u32::from(d[4]);
    let serial = d[5..].iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    !(area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
}

/// The SSNs published as examples: Woolworth's wallet card (078-05-1120),
/// the 1962 SSA pamphlet (219-09-9999), and the number every form example
/// uses (123-45-6789).
pub fn is_example_ssn(s: &[u8]) -> bool {
    ascii_digits::<9>(s).is_some_and(|(d, n)| {
        ["078051120", "219099999", "123456789"]
            .iter()
            .any(|t| t.as_bytes() == &d[..n])
    })
}

/// A phone number: international `+CC ...` with 8 to 15 digits, or a North
/// American number `(NPA) NXX-XXXX` with valid area and exchange codes.
/// (The fictional 555-01xx block is an example value: `is_fictional_phone`.)
pub fn phone(s: &[u8]) -> bool {
    let d: Vec<u8> = s
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect();
    let separators = s
        .iter()
        .filter(|b| matches!(b, b' ' | b'-' | b'.' | b'(' | b')'))
        .count();
    if s.first() == Some(&b'+') {
        if !(8..=15).contains(&d.len()) || d[0] == 0 {
            return false;
        }
        if d[0] == 1 {
            return d.len() == 11 && nanp(&d[1..]);
        }
        return true;
    }
    // Without a country code, formatting is what tells a phone number from
    // an id: at least two separators.
    if separators < 2 {
        return false;
    }
    match d.len() {
        10 => nanp(&d),
        11 if d[0] == 1 => nanp(&d[1..]),
        _ => false,
    }
}

fn nanp(d: &[u8]) -> bool {
    if d.len() != 10 || d[0] < 2 || d[3] < 2 {
        return false;
    }
    // N11 area codes are service codes.
    !(d[1] == 1 && d[2] == 1)
}

/// A North American number in the 555-0100..0199 block, reserved for
/// fiction and documentation (an example value).
pub fn is_fictional_phone(s: &[u8]) -> bool {
    let Some((d, n)) = ascii_digits::<11>(s) else {
        return false;
    };
    let local = match n {
        10 => &d[..10],
        11 if d[0] == b'1' => &d[1..],
        _ => return false,
    };
    &local[3..8] == b"55501"
}

/// A national phone number without a country code, for values a phone
/// keyword (in the field name or the text) vouches for: a trunk-prefixed
/// number (`09-7625400`, `090-1234-5678`, `020 7946 0018`) of 9 to 12
/// digits with a separator, or a Chinese mobile (`13812345678`).
pub fn national_phone(s: &[u8]) -> bool {
    let d: Vec<u8> = s
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect();
    let separated = s.iter().any(|b| matches!(b, b' ' | b'-' | b'.'));
    let trunk = d.first() == Some(&0) && d.get(1) != Some(&0);
    let cn_mobile = d.len() == 11 && d[0] == 1 && (3..=9).contains(&d[1]) && !separated;
    (trunk && separated && (9..=12).contains(&d.len())) || cn_mobile
}

/// IBAN: country code, check digits, a length that country uses, mod 97.
/// Groups may be separated by spaces or dashes. A last group of one to
/// three characters after a separator may be the next word (`... 8741 ALL
/// CAPS`): without it the rest is tried too.
pub fn iban(s: &[u8]) -> bool {
    if iban_compact(s) {
        return true;
    }
    match s.iter().rposition(|&b| b == b' ' || b == b'-') {
        Some(cut) if s.len() - cut <= 4 => iban_compact(&s[..cut]),
        _ => false,
    }
}

fn iban_compact(s: &[u8]) -> bool {
    let compact: Vec<u8> = s
        .iter()
        .copied()
        .filter(|&b| b != b' ' && b != b'-')
        .collect();
    if compact.len() < 15 || compact.len() > 34 {
        return false;
    }
    let country = &compact[..2];
    if let Some(len) = iban_length(country) {
        if compact.len() != len {
            return false;
        }
    } else {
        return false;
    }
    let mut rem = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn iban_length(country: &[u8]) -> Option<usize> {
    // Every country of the SWIFT IBAN registry (release 99, 2025) and its
    // IBAN length.
    const LENGTHS: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HN", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    LENGTHS
        .iter()
        .find(|(c, _)| c[..] == *country)
        .map(|&(_, n)| n)
}

/// IBANs that appear in every banking API's documentation.
pub fn is_example_iban(s: &[u8]) -> bool {
    [
        "GB82WEST12345698765432",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
    ]
    .iter()
    .any(|t| s.iter().copied().filter(|&b| b != b' ').eq(t.bytes()))
}

/// An email address whose domain is not reserved for documentation
/// (RFC 2606/6761) and whose TLD is alphabetic.
pub fn email(s: &[u8]) -> bool {
    email_shape(s) && !is_example_domain(s)
}

/// An email address with an alphabetic (or punycode) TLD that is not a
/// file name such as `logo@2x.png`, whatever its domain.
pub fn email_shape(s: &[u8]) -> bool {
    let Some(at) = s.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let domain = &s[at + 1..];
    let Some(dot) = domain.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let tld = &domain[dot + 1..];
    // Internationalised TLDs travel in punycode (`xn--p1ai`).
    let punycode = tld.len() > 4
        && tld[..4].eq_ignore_ascii_case(b"xn--")
        && tld[4..].iter().all(u8::is_ascii_alphanumeric);
    if tld.len() < 2 || !(punycode || tld.iter().all(u8::is_ascii_alphabetic)) {
        return false;
    }
    // File names such as `logo@2x.png` match the shape.
    ![
        &b"png"[..],
        b"jpg",
        b"jpeg",
        b"gif",
        b"svg",
        b"webp",
        b"js",
        b"css",
    ]
    .iter()
    .any(|ext| tld.eq_ignore_ascii_case(ext))
}

/// The address's domain is reserved for documentation (RFC 2606/6761).
fn is_example_domain(s: &[u8]) -> bool {
    let at = s.iter().rposition(|&b| b == b'@').map_or(0, |at| at + 1);
    let domain = &s[at..];
    let ends_with = |suffix: &[u8]| {
        domain.len() >= suffix.len()
            && domain[domain.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    let reserved = [&b"example.com"[..], b"example.org", b"example.net"];
    reserved.iter().any(|r| {
        ends_with(r) && (domain.len() == r.len() || domain[domain.len() - r.len() - 1] == b'.')
    }) || [&b".example"[..], b".test", b".invalid", b".localhost"]
        .iter()
        .any(|t| ends_with(t))
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// CRC32 of `data` in base62, left-padded to six characters: the checksum
/// GitHub and npm tokens end with.
pub fn base62_crc32(data: &[u8]) -> [u8; 6] {
    let mut n = crc32fast::hash(data);
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) or npm token
/// (`npm_`): 30 random base62 characters then their CRC32 in base62.
pub fn crc_token(s: &[u8]) -> bool {
    let Some(pos) = s.iter().position(|&b| b == b'_') else {
        return false;
    };
    let body = &s[pos + 1..];
    body.len() == 36 && base62_crc32(&body[..30]) == body[30..]
}

/// A private, loopback, link-local or carrier-grade NAT IPv4 address.
pub fn private_ipv4(s: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(s) else {
        return false;
    };
    let Ok(ip) = text.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let o = ip.octets();
    ip.is_private() || ip.is_link_local() || (o[0] == 100 && (64..128).contains(&o[1]))
}

/// Values that stand in for a secret in documentation and templates.
pub fn is_placeholder(s: &[u8]) -> bool {
    if is_placeholder_word(s) {
        return true;
    }
    // Eight or more of one character in a row: 0000..., aaaa....
    let mut run = 1;
    for pair in s.windows(2) {
        run = if pair[0] == pair[1] { run + 1 } else { 1 };
        if run >= 8 {
            return true;
        }
    }
    false
}

/// The documented placeholder shapes: words and template markers that
/// say "put your value here".
pub fn is_placeholder_word(s: &[u8]) -> bool {
    let lower = s.to_ascii_lowercase();
    const WORDS: &[&[u8]] = &[
        b"example",
        b"sample",
        b"dummy",
        b"placeholder",
        b"changeme",
        b"your_",
        b"your-",
        b"xxxxxxxx",
        b"********",
        b"<",
        b"${",
        b"{{",
        b"redacted",
    ];
    WORDS
        .iter()
        .any(|w| memchr::memmem::find(&lower, w).is_some())
}

/// A Slack token with Slack's structure rather than a documentation
/// stand-in (`xoxb-12345-abcd234`, `xoxp-1234567890`): after the prefix,
/// either two or more numeric ids of 8+ digits and a final secret part,
/// a long generated part (configuration tokens), for legacy workspace
/// tokens (`xoxa-`, `xoxr-`) one generated part of letters and digits,
/// for legacy bot tokens (`xoxb-`) one id and 18-26 letters and digits,
/// for legacy user tokens (`xoxo-`, `xoxs-`) three ids and hex.
pub fn slack_token(s: &[u8]) -> bool {
    let Some(rest) = s.get(5..) else {
        return false;
    };
    let parts: Vec<&[u8]> = rest.split(|&b| b == b'-').collect();
    let last = parts.last().copied().unwrap_or_default();
    // The numeric parts are workspace and user ids, not secrets: a run of
    // one digit there is an odd id, not a placeholder token. The secret
    // part, and placeholder words anywhere, decide.
    if is_placeholder_word(s) || is_placeholder(last) {
        return false;
    }
    let numeric_ids = parts[..parts.len() - 1]
        .iter()
        .filter(|p| p.len() >= 8 && p.iter().all(u8::is_ascii_digit))
        .count();
    let generated = |p: &[u8]| p.len() >= 8 && high_entropy(p) && !is_placeholder_word(p);
    let digits = |p: &[u8]| !p.is_empty() && p.iter().all(u8::is_ascii_digit);
    let alnum = |p: &[u8]| p.iter().all(u8::is_ascii_alphanumeric);
    // The secret part is never an id: `xoxp-1-2-3-4` followed by text
    // the pattern stops at (`-####`) is a mask, not a token.
    (numeric_ids >= 2 && last.len() >= 8 && !is_placeholder_word(last) && !digits(last))
        || parts.iter().any(|p| p.len() >= 100 && generated(p))
        || (matches!(&s[..4], b"xoxa" | b"xoxr") && generated(last))
        // Legacy bot tokens: one numeric id of 8-14 digits, then 18-26
        // letters and digits (gitleaks `slack-legacy-bot-token`).
        || (&s[..4] == b"xoxb"
            && parts.len() == 2
            && (8..=14).contains(&parts[0].len())
            && digits(parts[0])
            && (18..=26).contains(&last.len())
            && alnum(last)
            && generated(last))
        // Legacy user tokens: three numeric ids, then hex (gitleaks
        // `slack-legacy-token`).
        || (matches!(&s[..4], b"xoxo" | b"xoxs")
            && parts.len() == 4
            && parts[..3].iter().all(|p| digits(p))
            && last.len() >= 8
            && last.iter().all(u8::is_ascii_hexdigit)
            && generated(last))
}

/// Shannon entropy of `s` in bits per character.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A value assigned to a credential-named variable that looks generated:
/// at least 10 characters, a letter and a digit, 3 bits of entropy per
/// character or more, and not a placeholder shape.
/// Long runs of one character are allowed (Twitter bearer tokens start
/// with 22 `A`s): entropy is the guard. Letters only must be long, mixed
/// case and very random; digits only must be long (ids such as Discord's).
pub fn generic_secret(s: &[u8]) -> bool {
    let digit = s.iter().any(u8::is_ascii_digit);
    let alpha = s.iter().any(u8::is_ascii_alphabetic);
    let mixed_case = s.iter().any(u8::is_ascii_uppercase) && s.iter().any(u8::is_ascii_lowercase);
    let entropy = shannon_entropy(s);
    let shape = match (digit, alpha) {
        (true, true) => s.len() >= 10 && entropy >= 3.0,
        // Random letters put capitals next to each other often; CamelCase
        // words rarely do.
        (false, true) => {
            let upper_pairs = s
                .windows(2)
                .filter(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
                .count();
            s.len() >= 24 && mixed_case && entropy >= 4.0 && upper_pairs >= s.len() / 8
        }
        (true, false) => s.iter().filter(|b| b.is_ascii_digit()).count() >= 16 && entropy >= 2.3,
        (false, false) => false,
    };
    shape
        && !is_placeholder_word(s)
        && !has_replacement_mark(s)
        && !counts_in_pairs(s)
        && !is_reference(s)
}

/// Four or more letter-digit pairs counting up or down together
/// (`a1b2c3d4`, `1a2b3c4d`, `A1B2C3D4`, `d4c3b2a1`): the stand-in people
/// type for a key, never the output of a generator (a random value
/// repeats this by chance about once in 10^11 positions).
fn counts_in_pairs(s: &[u8]) -> bool {
    let lower = s.to_ascii_lowercase();
    // (letter, digit) and (digit, letter) pairs: the next pair's letter
    // and digit are each one more (or each one less; the digit wraps).
    let pair = |w: &[u8], letter_first: bool| -> Option<(u8, u8)> {
        let (l, d) = if letter_first {
            (w[0], w[1])
        } else {
            (w[1], w[0])
        };
        (l.is_ascii_lowercase() && d.is_ascii_digit()).then(|| (l, d - b'0'))
    };
    let next = |(l, d): (u8, u8), up: bool| {
        if up {
            (l.wrapping_add(1), (d + 1) % 10)
        } else {
            (l.wrapping_sub(1), (d + 9) % 10)
        }
    };
    [(true, true), (true, false), (false, true), (false, false)]
        .into_iter()
        .any(|(letter_first, up)| {
            (0..lower.len().saturating_sub(1)).any(|start| {
                let mut prev: Option<(u8, u8)> = None;
                let mut run = 0;
                for w in lower[start..].chunks_exact(2) {
                    let Some(p) = pair(w, letter_first) else {
                        break;
                    };
                    if prev.is_some_and(|q| next(q, up) != p) {
                        break;
                    }
                    prev = Some(p);
                    run += 1;
                    if run >= 4 {
                        return true;
                    }
                }
                false
            })
        })
}

/// A reference to where the value is kept, not the value: a shell or
/// build variable (`$DB_PASSWORD`, `$REACT_APP_BASE_URL/reset`), an
/// environment lookup in code (`process.env.API_KEY`,
/// `os.environ["TOKEN"]`), or a path of lowercase words
/// (`/en/enterprise-server@3.0/auth`; generated values starting with `/`,
/// base64 ones, mix cases).
fn is_reference(s: &[u8]) -> bool {
    let variable = s.first() == Some(&b'$')
        && s[1..]
            .iter()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
            .count()
            >= 3
        && s.get(1)
            .is_some_and(|b| b.is_ascii_uppercase() || *b == b'_');
    let lookup = [
        &b"process.env."[..],
        b"os.environ",
        b"System.getenv",
        b"ENV[",
    ]
    .iter()
    .any(|p| s.starts_with(p));
    let path = s.first() == Some(&b'/')
        && s.iter().filter(|&&b| b == b'/').count() >= 3
        && s.iter().all(|&b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'/' | b'-' | b'_' | b'.' | b'@')
        });
    variable || lookup || path
}

/// Whether `s` is written in the alphabet of generated tokens: letters,
/// digits and the separators token formats use (`+/=` base64, `-_`
/// base64url, `.` segments, `~`, `:` and `|` between an id and its secret,
/// `&` and `=` of query strings such as SAS tokens, `%XX` URL escapes, `\`
/// and `^` that escaped text and some providers' ranges carry). A URL is
/// judged by its own rules. `$`, `#`, `@`, `*`, `!`, `;` or a bare `%`
/// inside a key is a character a person typed: a password, or a key
/// damaged in copying; only a password-named value may have them (the
/// caller decides). Only the text before an escaped line break (`\n`) is
/// the value: what follows is the next line of the file it was quoted from.
pub fn token_alphabet(s: &[u8]) -> bool {
    let end = s
        .windows(2)
        .position(|w| w[0] == b'\\' && matches!(w[1], b'n' | b'r' | b't'))
        .unwrap_or(s.len());
    let s = &s[..end];
    if memchr::memmem::find(s, b"://").is_some() {
        return true;
    }
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' {
            if !(s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~' | b':' | b'|' | b'&' | b'\\' | b'^'
            ))
        {
            return false;
        }
        i += 1;
    }
    true
}

/// A `?` among otherwise token characters (`Kq7vP2?R9sT4...`): the mark
/// encoders print for a character they could not represent, or a masked
/// one. No token alphabet (hex, base32/58/62/64, base64url) contains it,
/// so the value is damaged or masked, not a usable secret. Values with
/// other punctuation (passwords) are left to the other checks.
fn has_replacement_mark(s: &[u8]) -> bool {
    // A value or its host name never starts with `?` (`?ttp://...`,
    // `https://?ww...`): that is the lost character itself.
    if s.first() == Some(&b'?') || memchr::memmem::find(s, b"://?").is_some() {
        return true;
    }
    s.contains(&b'?')
        && s.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'?' | b'-' | b'_' | b'.' | b'+' | b'/' | b'=' | b'~')
        })
}

/// Enough different characters to be a generated secret rather than a word.
pub fn high_entropy(s: &[u8]) -> bool {
    let mut seen = [false; 256];
    let mut distinct = 0;
    for &b in s {
        if !seen[usize::from(b)] {
            seen[usize::from(b)] = true;
            distinct += 1;
        }
    }
    let has_digit = s.iter().any(u8::is_ascii_digit);
    let has_alpha = s.iter().any(u8::is_ascii_alphabetic);
    distinct >= s.len().min(40) / 3 && has_digit && has_alpha
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! table {
        ($name:ident, $f:expr, $( $input:expr => $want:expr ),+ $(,)?) => {
            #[test]
            fn $name() {
                $( assert_eq!($f($input.as_bytes()), $want, "{:?}", $input); )+
            }
        };
    }

    table!(cards, card,
        "4539578763621486" => true,
        "4539 5787 6362 1486" => true,
        "4539-5787-6362-1486" => true,
        "4539-5787 6362-1486" => false,
        "4539578763621487" => false,
        "5425233430109903" => true,
        "2223000048410010" => true,
        "374245455400126" => true,
        "37424545540012" => false,
        "6011000991300009" => true,
        "3566000020000410" => true,
        "1234567812345670" => false,
        "0000000000000000" => false,
        "9999999999999995" => false,
        // UATP, Dankort, Mir
        "122000000000003" => true,
        "5019717010103742" => true,
        "2200000000000004" => true,
        "122000000000004" => false,
        // 19 digits are the most a card has (and `digits` keeps).
        "4539578763621486123" => true,
        "4539 5787 6362 1486 123" => true,
        "45395787636214861230" => false,
    );

    table!(fictional_phones, is_fictional_phone,
        "415-555-0142" => true,
        "+1 415 555 0199" => true,
        "415-555-0200" => false,
        "415-867-2309" => false,
    );

    table!(national_phones, national_phone,
        "09-7625400" => true,
        "090-1234-5678" => true,
        "020 7946 0018" => true,
        "13812345678" => true,
        "0097625400" => false,
        "12345678901" => false,
        "0-12" => false,
    );

    table!(generic_secrets, generic_secret,
        "a3f9c2e7b1d04e6f8a2c" => true,
        "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" => true,
        "034070904539555375" => true,
        "AAAAAAAAAAAAAAAAAAAAAMx7Qp2Lr9Vt4Kw8Zs1Nd6Fh3Jb5Gc0YxRe2Tu7Wi4Op9" => true,
        "changeme" => false,
        "hunter2" => false,
        "your_api_key_here_123" => false,
        "2023-10-16" => false,
        "ThisIsJustAWordInCamelCase" => false,
        "1700000000000000" => false,
        "mHvIoyAsS593j9zKRH?GO81aEMPKgQxmzfWnuD" => false,
        "mHvIoyAsS593j9zKRH!GO81aEMPKgQ?mzfWnuD" => true,
        "?ttp://api.Kq7vP2xR9sT4.com:12345" => false,
        "https://?wwSG7$com.acme.io/x9" => false,
        "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6" => false,
        "sk_A1B2C3D4xR9sT4uW6yZ8" => false,
        "1a2b3C4d-5E6f-7g8H-9i0J-k1l2M3n4o5p6" => false,
        "y8z9a0b1Kq7vP2xR9sT4" => true,
        "d1f2e3c4b5a6Kq7vP2xR9sT4" => true,
        "px-dep-d4c3b2a1-f6e5-h8g7-j1i8-p5o0n5m3l2k1" => false,
        "$REACT_APP_MATRIX_BASE_URL/classroom/#/forgot_password" => false,
        "$2y$10$Kq7vP2xR9sT4uW6yZ8aB1O" => true,
        "process.env.REACT_APP_FIREBASE_DEV_PASSWORD" => false,
        "/en/enterprise-server@3.0/auth" => false,
        "/9j/4AAQSkZJRgABAQ/Kq7vP2xR9sT4" => true,
    );

    table!(token_alphabets, token_alphabet,
        "Kq7vP2xR9sT4uW6yZ8aB1cD3" => true,
        "R2xlVEmqi+OW130dxWIDhfw1K6XKw/gxc5P9te3cwWBtnK2XkZq5k+VUA==" => true,
        "sp=r&st=2025-03-04&sig=WSdF9YeZhvrbs%2B%2B1f8ZdDBzEe7fBJ%3D" => true,
        "49|07KJBwfPzF2ESyNui5yBw9OVB6eWj0iXkssEKC7b" => true,
        "https://hooks.example.net/a@b/c$d" => true,
        "qjxoft0b3p1_wj7s8vvqtz4cqvxgx9vu\\nBACKUP=$x" => true,
        "Qh6DP6Zf7vHtm@DDsbS219qcz4d883Y9" => false,
        "WAgP6m4gYc1qe%HnjWAAF5HBKL%i6kwrsbD" => false,
        "2mm8Rl67MjoMruYfyIBg5#zy2pxcxIQfet" => false,
        "$YenOG.PKHl7LcdVYsjaR4LgQiZ1zw3MAnMyiondXC63" => false,
    );

    table!(ssns, ssn,
        "536-22-8726" => true,
        "536 22 8726" => true,
        "000-22-8726" => false,
        "666-22-8726" => false,
        "912-22-8726" => false,
        "536-00-8726" => false,
        "536-22-0000" => false,
        "078-05-1120" => true,
        "536-22-872" => false,
        "536-22-87260000000000" => false,
    );

    table!(example_ssns, is_example_ssn,
        "078-05-1120" => true,
        "219 09 9999" => true,
        "123-45-6789" => true,
        "536-22-8726" => false,
    );

    table!(phones, phone,
        "+1 415 867 2309" => true,
        "+14158672309" => true,
        "(415) 867-2309" => true,
        "415-867-2309" => true,
        "415.867.2309" => true,
        "4158672309" => false,
        "415-555-0142" => true,
        "+1 115 867 2309" => false,
        "+44 20 7946 0958" => true,
        "+49 30 901820" => true,
        "12-34-567890" => false,
        "+1 23" => false,
    );

    table!(ibans, iban,
        "DE44500105175407324931" => true,
        "DE44 5001 0517 5407 3249 31" => true,
        "DE44500105175407324932" => false,
        "GB33BUKB20201555555555" => true,
        "NL91ABNA0417164300" => true,
        "XX91ABNA0417164300" => false,
        "NL91ABNA041716430" => false,
        // Registry countries beyond the EU, dashes, a trailing word.
        "AL47212110090000000235698741" => true,
        "AL47-2121-1009-0000-0002-3569-8741" => true,
        "AL47 2121 1009 0000 0002 3569 8741 ALL" => true,
        "VG96VPVG0000012345678901" => true,
        "BY13NBRB3600900000002Z00AB00" => true,
        "AL47 2121 1009 0000 0002 3569 8740" => false,
    );

    table!(emails, email,
        "jane.doe@acme-corp.io" => true,
        "j@mail.co.uk" => true,
        "someone@example.com" => false,
        "a@sub.example.org" => false,
        "user@host.test" => false,
        "logo@2x.png" => false,
        "a@b.c1" => false,
        "a@xn--d1acufc.xn--p1ai" => true,
        "a@b.xn--" => false,
        // Case does not matter, and no copy is made to ignore it.
        "Jane@ACME.IO" => true,
        "a@XN--D1ACUFC.XN--P1AI" => true,
        "someone@EXAMPLE.Com" => false,
        "a@Sub.Example.ORG" => false,
        "user@host.TEST" => false,
        "logo@2x.PNG" => false,
        // A reserved name is a domain or its suffix, not any tail.
        "a@myexample.com" => true,
        "a@example.com.evil.io" => true,
        "a@notlocalhost.io" => true,
        "a@my.localhost" => false,
    );

    table!(slack_tokens, slack_token,
        "xoxb-2401839273-4892017354-Qm7Zr2Kx9Lp4Vt8Wn3Yb6Hc1" => true,
        "xoxp-2401839273-4892017354-5920183746-3fa9c2e7b1d04e6f8a2cd5e9b7f1a3c4" => true,
        "xoxa-2-4016327183-5018273645-aZ3kQ9mP7vX2" => true,
        "xoxb-12345-abcd234" => false,
        "xoxp-1234567890" => false,
        "xoxp-1234-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d" => false,
        "xoxp-2401839273-4892017354-5920183746-" => false,
        "xoxp-1-RANDOMSTRINGHERE" => false,
        "xoxa-2-511111111-31111111111-3111111111111-e039d02840a0b9379c" => true,
        "xoxb-2401839273-4892017354-00000000000000000000" => false,
        "xoxp-572370529330-573807301142-572331691188" => false,
        "xoxb-263594206564-FGqddMF8t08v8N7Oq4i57vs1" => true,
        "xoxb-263594206564-FGqddMF8" => false,
        "xoxo-523423-234243-234233-e039d02840a0b9379c" => true,
    );

    table!(private_ips, private_ipv4,
        "10.1.2.3" => true,
        "172.16.0.9" => true,
        "172.32.0.9" => false,
        "192.168.10.1" => true,
        "169.254.169.254" => true,
        "100.64.1.1" => true,
        "8.8.8.8" => false,
        "10.1.2" => false,
        "10.1.2.300" => false,
    );

    table!(placeholders, is_placeholder,
        "AKIAIOSFODNN7EXAMPLE" => true,
        "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx" => true,
        "${DB_PASSWORD}" => true,
        "s3cr3t-Pa55" => false,
    );

    #[test]
    fn crc_tokens() {
        let body = b"abcdefghijABCDEFGHIJ0123456789";
        let token = [&b"ghp_"[..], body, &base62_crc32(body)].concat();
        assert!(crc_token(&token));
        let mut bad = token.clone();
        bad[5] = b'X';
        assert!(!crc_token(&bad));
        assert!(!crc_token(b"ghp_short"));
    }

    #[test]
    fn luhn_table() {
        for (digits, want) in [("79927398713", true), ("79927398710", false), ("0", true)] {
            let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
            assert_eq!(luhn(&d), want, "{digits}");
        }
    }
}
