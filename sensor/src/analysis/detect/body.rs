//! How a body is read: JSON walked by field, forms by parameter, text as
//! text, binary skipped.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
    Text,
    Binary,
}

/// From the declared content type, else from the first bytes.
pub fn body_kind(content_type: Option<&[u8]>, content: &[u8]) -> BodyKind {
    if let Some(ct) = content_type {
        let ct = String::from_utf8_lossy(ct);
        // Lowercase already in nearly every exchange: copied only when not.
        let ct = if ct.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(ct.to_ascii_lowercase())
        } else {
            ct
        };
        let mime = ct.split(';').next().unwrap_or("").trim();
        if mime == "application/json"
            || mime.ends_with("+json")
            || mime == "text/json"
            || mime.ends_with("/x-ndjson")
        {
            return BodyKind::Json;
        }
        if mime == "application/x-www-form-urlencoded" {
            return BodyKind::Form;
        }
        if mime.starts_with("text/")
            || mime.ends_with("+xml")
            || matches!(
                mime,
                "application/xml"
                    | "application/javascript"
                    | "application/x-yaml"
                    | "application/yaml"
                    | "application/graphql"
                    | "multipart/form-data"
            )
        {
            return sniff_json(content).unwrap_or(BodyKind::Text);
        }
        let binary_family = ["image/", "audio/", "video/", "font/", "model/"];
        let binary_types = [
            "application/octet-stream",
            "application/pdf",
            "application/zip",
            "application/gzip",
            "application/x-protobuf",
            "application/protobuf",
            "application/grpc",
            "application/wasm",
            "application/vnd.ms-excel",
            "application/msword",
            "application/x-tar",
            "application/x-7z-compressed",
        ];
        if binary_family.iter().any(|f| mime.starts_with(f))
            || binary_types.iter().any(|t| mime.starts_with(t))
        {
            return BodyKind::Binary;
        }
    }
    if let Some(kind) = sniff_json(content) {
        return kind;
    }
    // Undeclared or unknown: text when it reads as text.
    let sample = &content[..content.len().min(512)];
    let binary = sample
        .iter()
        .filter(|&&b| b < 0x09 || (0x0e..0x20).contains(&b))
        .count();
    if binary * 20 > sample.len() {
        BodyKind::Binary
    } else {
        BodyKind::Text
    }
}

fn sniff_json(content: &[u8]) -> Option<BodyKind> {
    match content.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => Some(BodyKind::Json),
        _ => None,
    }
}

/// `a=1&b=x%20y` as decoded pairs; a bare `a` is a pair with an empty value.
pub fn form_pairs(text: &[u8]) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> {
    text.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            (percent_decode(k), percent_decode(v))
        })
}

fn percent_decode(s: &[u8]) -> Cow<'_, [u8]> {
    if !s.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() && hex(s[i + 1]).is_some() && hex(s[i + 2]).is_some() => {
                out.push(hex(s[i + 1]).unwrap_or(0) * 16 + hex(s[i + 2]).unwrap_or(0));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        for (ct, body, want) in [
            (
                Some("application/json; charset=utf-8"),
                "{}",
                BodyKind::Json,
            ),
            (Some("application/problem+json"), "{}", BodyKind::Json),
            (
                Some("application/x-www-form-urlencoded"),
                "a=1",
                BodyKind::Form,
            ),
            (Some("text/html"), "<html>", BodyKind::Text),
            (Some("text/plain"), "{\"a\":1}", BodyKind::Json),
            (Some("image/png"), "\u{89}PNG", BodyKind::Binary),
            (None, "[1]", BodyKind::Json),
            (None, "hello", BodyKind::Text),
            (None, "\u{0}\u{1}\u{2}\u{3}", BodyKind::Binary),
        ] {
            assert_eq!(
                body_kind(ct.map(str::as_bytes), body.as_bytes()),
                want,
                "{ct:?}"
            );
        }
    }

    #[test]
    fn forms() {
        let pairs: Vec<(String, String)> = form_pairs(b"a=1&b=x%20y+z&c&&d=%zz%4")
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into(),
                    String::from_utf8_lossy(&v).into(),
                )
            })
            .collect();
        let want = [("a", "1"), ("b", "x y z"), ("c", ""), ("d", "%zz%4")];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(pairs, want);
    }
}
