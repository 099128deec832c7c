//! Timestamps as the sensor writes them: RFC 3339 in UTC, from Unix
//! nanoseconds. The one formatter behind alerts, exchange records, the
//! inventory and syslog messages.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Unix nanoseconds as RFC 3339 (empty when out of range).
pub fn rfc3339(unix_ns: i128) -> String {
    Rfc3339Text::of(unix_ns).as_str().to_owned()
}

/// `YYYY-MM-DDTHH:MM:SS`: the part of the text shared by one second.
const PREFIX: usize = 19;

thread_local! {
    /// The last second formatted on this thread, and its prefix.
    static LAST_SECOND: std::cell::Cell<(Option<i128>, [u8; PREFIX])> =
        const { std::cell::Cell::new((None, [0; PREFIX])) };
}

/// Decimal trailing zeros of `n` (not zero).
fn decimal_trailing_zeros(mut n: u32) -> usize {
    let mut zeros = 0;
    while n.is_multiple_of(10) {
        n /= 10;
        zeros += 1;
    }
    zeros
}

/// RFC 3339 text held on the stack: what an exchange record writes for
/// every exchange, formatted without a heap allocation (`rfc3339` is the
/// same text as a `String`).
#[derive(Clone, Copy)]
pub struct Rfc3339Text {
    /// `9999-12-31T23:59:59.999999999Z` is 30 bytes, the longest in range.
    buf: [u8; 32],
    len: u8,
}

impl Rfc3339Text {
    /// Unix nanoseconds as RFC 3339 (empty when out of range).
    pub fn of(unix_ns: i128) -> Self {
        let seconds = unix_ns.div_euclid(1_000_000_000);
        let nanos = unix_ns.rem_euclid(1_000_000_000) as u32;
        // Exchanges come by the thousand per second: the date and time of
        // day are the last one's, and only the fraction is new.
        let hit = LAST_SECOND.with(|last| {
            let (second, prefix) = last.get();
            (second == Some(seconds)).then_some(prefix)
        });
        if let Some(prefix) = hit {
            return Self::with_fraction(&prefix, nanos);
        }
        let text = Self::formatted(unix_ns);
        if let Some(prefix) = text.buf.first_chunk::<PREFIX>() {
            if text.len as usize > PREFIX && matches!(text.buf[PREFIX], b'.' | b'Z') {
                LAST_SECOND.with(|last| last.set((Some(seconds), *prefix)));
            }
        }
        text
    }

    /// `prefix` (`YYYY-MM-DDTHH:MM:SS`) and then the fraction as the time
    /// crate writes it: none when zero, else up to nine digits without
    /// trailing zeros.
    fn with_fraction(prefix: &[u8; PREFIX], nanos: u32) -> Self {
        let mut buf = [0u8; 32];
        buf[..PREFIX].copy_from_slice(prefix);
        let mut len = PREFIX;
        if nanos != 0 {
            buf[len] = b'.';
            len += 1;
            let mut digits = [0u8; 9];
            let mut n = nanos;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
            let kept = 9 - decimal_trailing_zeros(nanos);
            buf[len..len + kept].copy_from_slice(&digits[..kept]);
            len += kept;
        }
        buf[len] = b'Z';
        Self {
            buf,
            len: (len + 1) as u8,
        }
    }

    /// Formatted whole by the time crate.
    fn formatted(unix_ns: i128) -> Self {
        let mut buf = [0u8; 32];
        let mut out = &mut buf[..];
        let written = OffsetDateTime::from_unix_timestamp_nanos(unix_ns)
            .ok()
            .and_then(|t| t.format_into(&mut out, &Rfc3339).ok());
        // What the writer moved past, not the count `format_into` returns:
        // that count leaves out the fraction's digits (time 0.3.55).
        let len = match written {
            Some(_) => 32 - out.len(),
            None => 0,
        };
        Self {
            buf,
            len: len as u8,
        }
    }

    pub fn as_str(&self) -> &str {
        // The formatter writes ASCII only; a failed write leaves `len` 0.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::ops::Deref for Rfc3339Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Rfc3339Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Rfc3339Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl serde::Serialize for Rfc3339Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 time (OCSF's
/// `timestamp_t`); None when it does not parse.
pub fn unix_ms(rfc3339: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Now, on the wall clock.
pub fn now_unix_ns() -> i128 {
    OffsetDateTime::now_utc().unix_timestamp_nanos()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_and_refuses_out_of_range() {
        assert_eq!(rfc3339(1_700_000_000_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_700_000_000_500_000_000), "2023-11-14T22:13:20.5Z");
        assert_eq!(rfc3339(i128::MAX), "");
        assert_eq!(
            super::unix_ms("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(super::unix_ms(""), None);
    }

    #[test]
    fn the_stack_text_is_the_time_crates_rfc3339() {
        use time::format_description::well_known::Rfc3339;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut cases = vec![
            0i128,
            -1,
            253_402_300_799_999_999_999,
            253_402_300_800_000_000_000,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Up to year 9999 and before 1970, with every digit count of
            // the fraction.
            let ns = i128::from(x) * 16 % 253_402_300_800_000_000_000 - 1_000_000_000_000_000_000;
            let digits = 10i128.pow((x % 10) as u32);
            cases.push(ns / digits * digits);
        }
        // Each case then the same second again with other fractions, so
        // the text built from the last second's prefix is checked too.
        let same_second = |ns: i128, x: u64| {
            let second = ns.div_euclid(1_000_000_000) * 1_000_000_000;
            let digits = 10i128.pow((x % 10) as u32);
            [
                second,
                second + 1,
                second + 999_999_999,
                second + i128::from(x % 1_000_000_000) / digits * digits,
            ]
        };
        for (i, ns) in cases.into_iter().enumerate() {
            for ns in std::iter::once(ns).chain(same_second(ns, i as u64 * 7_919)) {
                let want = time::OffsetDateTime::from_unix_timestamp_nanos(ns)
                    .ok()
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_default();
                assert_eq!(super::Rfc3339Text::of(ns).as_str(), want, "{ns}");
                assert_eq!(rfc3339(ns), want, "{ns}");
            }
        }
    }
}
