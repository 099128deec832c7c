//! Content types as the inventory keeps them: the media type only
//! (`application/json`, parameters such as `charset` or a multipart
//! `boundary` dropped), lowercase, and only when it has the shape of one.

use crate::exchange::{header, Header};

/// What a malformed Content-Type is recorded as, so it is still visible.
pub const INVALID: &str = "invalid";

/// The message's media type; None when it has no Content-Type header.
pub fn media_type(headers: &[Header]) -> Option<String> {
    let value = header(headers, "content-type")?;
    let value = String::from_utf8_lossy(value);
    let essence = value.split(';').next().unwrap_or_default().trim();
    let valid = essence
        .split_once('/')
        .is_some_and(|(kind, subtype)| is_token(kind) && is_token(subtype) && essence.len() <= 100);
    Some(if valid {
        essence.to_ascii_lowercase()
    } else {
        INVALID.to_owned()
    })
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
