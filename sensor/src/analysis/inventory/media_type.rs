//! Content types as the inventory keeps them: the media type only
//! (`application/json`, parameters such as `charset` or a multipart
//! `boundary` dropped), lowercase, and only when it has the shape of one.

use std::borrow::Cow;

use crate::exchange::{header, Header};

/// What a malformed Content-Type is recorded as, so it is still visible.
pub const INVALID: &str = "invalid";

/// The message's media type; None when it has no Content-Type header.
/// Borrowed from the header when it is already in the kept form (the
/// common case: nothing allocated per exchange).
pub fn media_type(headers: &[Header]) -> Option<Cow<'_, str>> {
    let value = header(headers, "content-type")?;
    Some(match String::from_utf8_lossy(value) {
        Cow::Borrowed(text) => match essence(text) {
            Some(e) if e.bytes().any(|b| b.is_ascii_uppercase()) => {
                Cow::Owned(e.to_ascii_lowercase())
            }
            Some(e) => Cow::Borrowed(e),
            None => Cow::Borrowed(INVALID),
        },
        Cow::Owned(text) => {
            Cow::Owned(essence(&text).map_or_else(|| INVALID.to_owned(), str::to_ascii_lowercase))
        }
    })
}

/// The media type of a Content-Type value as sent, when it has the shape
/// of one.
fn essence(value: &str) -> Option<&str> {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let valid = essence
        .split_once('/')
        .is_some_and(|(kind, subtype)| is_token(kind) && is_token(subtype) && essence.len() <= 100);
    valid.then_some(essence)
}

/// RFC 9110 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::tests::exchange;

    #[test]
    fn table_of_content_types() {
        for (value, want) in [
            ("application/json", Some("application/json")),
            ("Application/JSON; charset=UTF-8", Some("application/json")),
            (
                "multipart/form-data; boundary=----x",
                Some("multipart/form-data"),
            ),
            ("application/vnd.api+json", Some("application/vnd.api+json")),
            ("json", Some(INVALID)),
            ("text/html <script>", Some(INVALID)),
            ("", Some(INVALID)),
        ] {
            let x = exchange("GET", "/", &[], "", &[("Content-Type", value)], "");
            assert_eq!(media_type(&x.response.headers).as_deref(), want, "{value}");
        }
        let x = exchange("GET", "/", &[], "", &[], "");
        assert_eq!(media_type(&x.response.headers), None);
    }
}
