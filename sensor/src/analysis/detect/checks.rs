//! `Check` evaluation and value normalisation for fingerprints.

use base64::Engine as _;

use super::provider_formats;
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

/// What a check makes of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not a finding.
    No,
    /// A finding of the rule.
    Finding,
    /// A valid value that is published for testing or documentation (a
    /// test card, a bank's documentation IBAN, a 555-01xx phone number, an
    /// example SSN): the rule's `example` rule reports it at low severity,
    /// unless `report_example_values` makes it an ordinary finding.
    Example,
}

/// `value` is the match (or the whole field value), `segment` the text it
/// came from.
pub fn verdict(check: Check, value: &[u8], segment: &[u8], report_examples: bool) -> Verdict {
    // A valid value: an example (checked only then), or a finding.
    let judge = |valid: bool, is_example: &dyn Fn() -> bool| match valid {
        false => Verdict::No,
        true if !report_examples && is_example() => Verdict::Example,
        true => Verdict::Finding,
    };
    match check {
        Check::Card => judge(
            v::card(value) && !continues_a_number(segment, value),
            &|| v::is_test_card(value),
        ),
        Check::Ssn => judge(v::ssn(value), &|| v::is_example_ssn(value)),
        Check::Phone => judge(v::phone(value), &|| v::is_fictional_phone(value)),
        Check::Iban => judge(v::iban(value), &|| v::is_example_iban(value)),
        _ if passes(check, value, segment, report_examples) => Verdict::Finding,
        _ => Verdict::No,
    }
}

/// Whether a match of a rule without example values (every check but
/// card, SSN, phone and IBAN: `verdict` judges those) is a finding.
fn passes(check: Check, value: &[u8], segment: &[u8], report_examples: bool) -> bool {
    let not_example = |is_example: bool| report_examples || !is_example;
    match check {
        Check::None | Check::Jwt => true,
        Check::Card | Check::Ssn | Check::Phone | Check::Iban => {
            verdict(check, value, segment, report_examples) == Verdict::Finding
        }
        Check::Luhn => {
            let d: Vec<u8> = value
                .iter()
                .filter(|b| b.is_ascii_digit())
                .map(|b| b - b'0')
                .collect();
            d.len() >= 2 && v::luhn(&d)
        }
        Check::NationalPhone => v::national_phone(value),
        // Reserved documentation domains (example.com, .test) are example
        // values too.
        Check::Email => v::email(value) || (report_examples && v::email_shape(value)),
        // Fine-grained tokens carry no checksum: the value must look generated.
        Check::CrcToken if value.starts_with(b"github_pat_") => {
            not_example(v::is_placeholder(value)) && v::high_entropy(value)
        }
        Check::CrcToken => v::crc_token(value),
        Check::PrivateIp => v::private_ipv4(value),
        Check::Secret => not_example(v::is_placeholder(value)) && v::high_entropy(value),
        Check::NotPlaceholder => not_example(v::is_placeholder(value)),
        Check::GoogleApiKey => {
            not_example(v::is_placeholder(value)) && !firebase_web_config(segment)
        }
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
            let jwt =
                value.starts_with(b"eyJ") && value.iter().filter(|&&b| b == b'.').count() == 2;
            let firebase = value.starts_with(b"AIza") && firebase_web_config(segment);
            // Slack's structure is known (`secret.slack_token`): a value
            // with its prefix that lacks it is a stand-in
            // (`xoxp-1234567890`), not a credential of another kind.
            // Other values pass this step.
            let slack_shaped = value.len() <= 5
                || !value.starts_with(b"xox")
                || value[4] != b'-'
                || v::slack_token(value);
            // A value with a provider's prefix is that provider's key, and
            // only in its format (`provider_formats`).
            !jwt && !firebase
                && (report_examples
                    || slack_shaped
                        && !provider_formats::off_format(value)
                        && v::generic_secret(value)
                        && (v::token_alphabet(value) || password_named(segment, value))
                        && !names_a_location(segment, value)
                        && (password_named(segment, value) || !opens_with_padding(segment, value)))
        }
        // Jenkins keeps credentials as `<secret>{AQAAABAAAAAQ...}</secret>`
        // (encrypted with the controller's key, so still a secret to
        // anyone holding the controller's files); other tools put the value
        // after a label inside the element.
        Check::XmlCredential => value
            .split(|b| b.is_ascii_whitespace() || matches!(b, b'{' | b'}'))
            .any(|word| report_examples || v::generic_secret(word) && !v::is_placeholder(word)),
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
        Check::Base64Pem => {
            // 64 characters decode to 48 bytes: the header and key type.
            let head = &value[..value.len().min(64) / 4 * 4];
            base64::engine::general_purpose::STANDARD
                .decode(head)
                .is_ok_and(|pem| memchr::memmem::find(&pem, b"PRIVATE KEY-----").is_some())
        }
        Check::ConfigPassword => {
            let variable = (value.starts_with(b"%") && value.ends_with(b"%"))
                || value.starts_with(b"$(")
                || value.starts_with(b"${");
            // The sample passwords of Microsoft's NuGet.config reference.
            let documented = matches!(value, b"33f!!lloppa" | b"hal+9ooo_da!sY");
            !variable
                && !value.iter().all(|&b| b == value[0])
                && not_example(documented || v::is_placeholder(value))
        }
        Check::CliPassword => {
            let lower = String::from_utf8_lossy(value).to_ascii_lowercase();
            // `$PASS`, `{{ .password }}`, `[PASSWORD]`, `<user:password>`.
            let variable = matches!(value.first(), Some(b'$' | b'%' | b'{' | b'[' | b'<'))
                || value.ends_with(b">");
            let word = value.iter().all(u8::is_ascii_lowercase)
                || value.iter().all(u8::is_ascii_uppercase);
            value.len() >= 8
                && !variable
                && !word
                && !value.iter().all(|&b| b == value[0])
                && !PLACEHOLDER_PASSWORDS.contains(&lower.as_str())
                && not_example(v::is_placeholder(value))
        }
        Check::KubernetesSecretData => {
            kubernetes_secret(segment)
                && value.len().is_multiple_of(4)
                && base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .is_ok_and(|data| data.len() >= 8)
        }
        Check::NonEmpty => {
            let t = value.trim_ascii();
            let lower = String::from_utf8_lossy(t).to_ascii_lowercase();
            !t.is_empty()
                && !EMPTY_VALUES.contains(&lower.as_str())
                && !t
                    .iter()
                    .all(|&b| matches!(b, b'*' | b'x' | b'X' | b'.' | b'#'))
                && !lower.contains("\u{2022}")
                && !pem_without_key(t)
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

/// `segment` is a Firebase web app config (`apiKey` next to `authDomain`
/// and `projectId`): its Google API key is public by design, shipped to
/// every browser, and guarded by Firebase security rules, not secrecy.
fn firebase_web_config(segment: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(segment, needle).is_some();
    has(b"authDomain") && has(b"projectId")
}

/// The name `value` is assigned to: the text before it on its line (at
/// most 64 bytes).
fn assigned_name<'a>(segment: &'a [u8], value: &[u8]) -> &'a [u8] {
    let Some(at) = memchr::memmem::find(segment, value) else {
        return &[];
    };
    let line = &segment[..at];
    let start = line
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |n| n + 1)
        .max(at.saturating_sub(64));
    &line[start..]
}

/// Whether `haystack` holds `needle` (lowercase, not empty), whatever the
/// case of its letters, without a lowercase copy.
pub(crate) fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// PEM armor around too little base64 to be a key
/// (`-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----`):
/// the smallest private key PEM, an Ed25519 PKCS#8 key, holds 64 base64
/// characters, so a shorter body is a template, not a key.
fn pem_without_key(value: &[u8]) -> bool {
    if !value.starts_with(b"-----BEGIN ") {
        return false;
    }
    let Some(body_start) = memchr::memmem::find(&value[11..], b"-----").map(|at| at + 16) else {
        return false;
    };
    let body = &value[body_start..];
    let body = &body[..memchr::memmem::find(body, b"-----END").unwrap_or(body.len())];
    body.iter()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
        .count()
        < 64
}

/// The quoted value starts with `=` (`key = '=0UXRQ2DB...'`; the
/// assignment's own `=` is outside the quotes): `=` is base64's padding,
/// which only ever ends a value, and no token alphabet starts with it, so
/// this is a key with a stray character, not a usable one (a password,
/// typed by a person, may start with anything).
fn opens_with_padding(segment: &[u8], value: &[u8]) -> bool {
    let Some(at) = memchr::memmem::find(segment, value) else {
        return false;
    };
    // The separator the rule skipped may have taken the `=`s, or the
    // value may hold them.
    let before = &segment[..at];
    let skipped = before.iter().rev().take_while(|&&b| b == b'=').count();
    let padding = skipped + value.iter().take_while(|&&b| b == b'=').count();
    padding > 0
        && before[..before.len() - skipped]
            .last()
            .is_some_and(|b| matches!(b, b'\'' | b'"' | b'`'))
}

/// The name says password (`password`, `passwd`, `pwd`, `pass`): a person
/// chose the value, so any printable character may be in it.
fn password_named(segment: &[u8], value: &[u8]) -> bool {
    let name = assigned_name(segment, value);
    contains_ignore_case(name, b"pass") || contains_ignore_case(name, b"pwd")
}

/// The name ends in a word for where something is (`apiVersion`,
/// `api_url`, `DUO_API_HOST`, `auth_endpoint`): `api` or `auth` in it
/// does not make its value a credential.
fn names_a_location(segment: &[u8], value: &[u8]) -> bool {
    let name = assigned_name(segment, value);
    let end = name
        .iter()
        .rposition(u8::is_ascii_alphanumeric)
        .map_or(0, |n| n + 1);
    let name = &name[..end];
    [
        &b"version"[..],
        b"url",
        b"uri",
        b"host",
        b"endpoint",
        b"domain",
        b"path",
        b"server",
    ]
    .iter()
    .any(|w| name.len() >= w.len() && name[name.len() - w.len()..].eq_ignore_ascii_case(w))
}

/// `segment` is a Kubernetes Secret manifest (a `kind: Secret` line; not
/// `SopsSecret` or `ExternalSecret`, whose data is encrypted or a
/// reference).
fn kubernetes_secret(segment: &[u8]) -> bool {
    segment.split(|&b| b == b'\n').any(|line| {
        let line = line.trim_ascii();
        line.len() >= 5
            && line[..5].eq_ignore_ascii_case(b"kind:")
            && line[5..]
                .trim_ascii()
                .trim_ascii_start()
                .iter()
                .filter(|&&b| b != b'\'' && b != b'"')
                .map(u8::to_ascii_lowercase)
                .eq(b"secret".iter().copied())
    })
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
/// is written several ways (cards, phones, SSNs, IBANs), handed to `out`
/// in pieces.
pub fn normalise(check: Check, value: &[u8], out: &mut dyn FnMut(&[u8])) {
    // Pieces through a buffer on the stack: a fingerprint is made for
    // every new finding, and a copy of its value would be thrown away.
    let mapped = |keep: fn(&u8) -> bool, map: fn(u8) -> u8, out: &mut dyn FnMut(&[u8])| {
        let mut buf = [0u8; 64];
        let mut n = 0;
        for &b in value.iter().filter(|b| keep(b)) {
            buf[n] = map(b);
            n += 1;
            if n == buf.len() {
                out(&buf);
                n = 0;
            }
        }
        out(&buf[..n]);
    };
    match check {
        Check::Card
        | Check::Luhn
        | Check::Phone
        | Check::NationalPhone
        | Check::Ssn
        | Check::Iban => mapped(u8::is_ascii_alphanumeric, |b| b.to_ascii_uppercase(), out),
        Check::Email => mapped(|_| true, |b| b.to_ascii_lowercase(), out),
        _ => out(value.trim_ascii()),
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
                verdict(Check::UriPassword, uri.as_bytes(), b"", false) == Verdict::Finding,
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
            (
                "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
                false,
            ),
            ("-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----", false),
            (
                "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIK7vP2xR9sT4uW6yZ8aB1cD3eF5gH7jK9mN2pQ4rS6tU\n-----END PRIVATE KEY-----",
                true,
            ),
        ] {
            assert_eq!(
                verdict(Check::NonEmpty, value.as_bytes(), b"", false) == Verdict::Finding,
                ok,
                "{value}"
            );
        }
    }
}
