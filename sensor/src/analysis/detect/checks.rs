//! `Check` evaluation and value normalisation for fingerprints.

use super::rules::Check;
use super::validators as v;

/// Passwords that only stand in for one in documentation and templates.
const PLACEHOLDER_PASSWORDS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "pwd",
    "secret",
    "changeme",
    "mypassword",
    "yourpassword",
    "pa55word",
    "p@ssw0rd",
    "admin",
    "root",
    "test",
    "user",
];

/// Values that say a field is empty or already masked.
const EMPTY_VALUES: &[&str] = &[
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "0",
    "redacted",
    "[redacted]",
    "[filtered]",
    "filtered",
    "hidden",
    "[hidden]",
    "n/a",
    "-",
];

/// `value` is the match (or the whole field value), `segment` the text it
/// came from.
pub fn passes(check: Check, value: &[u8], segment: &[u8], report_examples: bool) -> bool {
    let not_example = |is_example: bool| report_examples || !is_example;
    match check {
        Check::None | Check::Jwt => true,
        Check::Card => {
            v::card(value)
                && not_example(v::is_test_card(value))
                && !continues_a_number(segment, value)
        }
        Check::Luhn => {
            let d: Vec<u8> = value
                .iter()
                .filter(|b| b.is_ascii_digit())
                .map(|b| b - b'0')
                .collect();
            d.len() >= 2 && v::luhn(&d)
        }
        Check::Ssn => v::ssn(value),
        Check::Phone => v::phone(value) && not_example(v::is_fictional_phone(value)),
        Check::NationalPhone => v::national_phone(value),
        Check::Iban => v::iban(value) && not_example(v::is_example_iban(value)),
        Check::Email => v::email(value),
        // Fine-grained tokens carry no checksum: the value must look generated.
        Check::CrcToken if value.starts_with(b"github_pat_") => {
            not_example(v::is_placeholder(value)) && v::high_entropy(value)
        }
        Check::CrcToken => v::crc_token(value),
        Check::PrivateIp => v::private_ipv4(value),
        Check::Secret => not_example(v::is_placeholder(value)) && v::high_entropy(value),
        Check::NotPlaceholder => not_example(v::is_placeholder(value)),
        Check::Slack => {
            if value.starts_with(b"xapp-") {
                not_example(v::is_placeholder(value))
            } else {
                report_examples || v::slack_token(value)
            }
        }
        // A JWT is the JWT rules' to judge (the jwt.io example is not a
        // finding).
        Check::GenericSecret => {
            !(value.starts_with(b"eyJ") && value.iter().filter(|&&b| b == b'.').count() == 2)
                && (report_examples || v::generic_secret(value))
        }
        Check::Stripe => {
            value[8..].iter().any(u8::is_ascii_uppercase) && not_example(v::is_placeholder(value))
        }
        Check::UriPassword => uri_password(value).is_some_and(|p| {
            let lower = String::from_utf8_lossy(p).to_ascii_lowercase();
            !p.is_empty()
                && !matches!(p[0], b'$' | b'%' | b'{' | b'<' | b'*' | b':')
                && !PLACEHOLDER_PASSWORDS.contains(&lower.as_str())
                && not_example(v::is_placeholder(p))
        }),
        Check::NonEmpty => {
            let t = value.trim_ascii();
            let lower = String::from_utf8_lossy(t).to_ascii_lowercase();
            !t.is_empty()
                && !EMPTY_VALUES.contains(&lower.as_str())
                && !t
                    .iter()
                    .all(|&b| matches!(b, b'*' | b'x' | b'X' | b'.' | b'#'))
                && !lower.contains("\u{2022}")
        }
        Check::Date => value.iter().filter(|b| b.is_ascii_digit()).count() >= 4,
        Check::GovId => {
            let alnum = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
            alnum >= 5 && value.iter().any(u8::is_ascii_digit) && !v::is_placeholder(value)
        }
        Check::FsPath => value.iter().filter(|&&b| b == b'/' || b == b'\\').count() >= 3,
        Check::JavaTrace => {
            let has = |needle: &[u8]| memchr::memmem::find(segment, needle).is_some();
            has(b"\tat ") || has(b"Exception") || has(b"\n\tat")
        }
    }
}

/// The digits of `value` follow, after spaces, a group ending in a digit
/// (`AL47 2121 1009 ...`): they are the middle of a longer number such as
/// an IBAN, not a card of their own.
fn continues_a_number(segment: &[u8], value: &[u8]) -> bool {
    let Some(at) = memchr::memmem::find(segment, value) else {
        return false;
    };
    let before = &segment[..at];
    let trimmed = before.trim_ascii_end();
    trimmed.len() < before.len() && trimmed.last().is_some_and(u8::is_ascii_digit)
}

/// The password of `scheme://user:password@host`.
pub fn uri_password(uri: &[u8]) -> Option<&[u8]> {
    let start = memchr::memmem::find(uri, b"://")? + 3;
    let rest = &uri[start..];
    let at = rest.iter().rposition(|&b| b == b'@')?;
    let userinfo = &rest[..at];
    let colon = userinfo.iter().position(|&b| b == b':')?;
    Some(&userinfo[colon + 1..])
}

/// What is hashed for the fingerprint: formatting removed where a value
/// is written several ways (cards, phones, SSNs, IBANs).
pub fn normalise(check: Check, value: &[u8]) -> Vec<u8> {
    match check {
        Check::Card
        | Check::Luhn
        | Check::Phone
        | Check::NationalPhone
        | Check::Ssn
        | Check::Iban => value
            .iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_uppercase)
            .collect(),
        Check::Email => value.to_ascii_lowercase(),
        _ => value.trim_ascii().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_passwords() {
        for (uri, ok) in [
            ("postgres://app:Zq8-vT3x@db:5432", true),
            ("postgres://app:password@db", false),
            ("mysql://root:${DB_PASS}@db", false),
            ("redis://:s3cretR3dis@cache:6379", true),
            ("amqp://guest:@mq", false),
        ] {
            assert_eq!(
                passes(Check::UriPassword, uri.as_bytes(), b"", false),
                ok,
                "{uri}"
            );
        }
    }

    #[test]
    fn non_empty() {
        for (value, ok) in [
            ("hunter2", true),
            ("", false),
            ("********", false),
            ("null", false),
            ("[REDACTED]", false),
        ] {
            assert_eq!(
                passes(Check::NonEmpty, value.as_bytes(), b"", false),
                ok,
                "{value}"
            );
        }
    }
}
