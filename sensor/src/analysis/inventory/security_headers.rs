//! Security headers a response should carry, after the OWASP REST Security
//! Cheat Sheet, which asks the same of API responses as of pages.
//!
//! - HSTS only where the client used HTTPS: the connection was TLS, or a
//!   proxy in front says so with `X-Forwarded-Proto: https`. Browsers
//!   ignore the header over plain HTTP, so its absence there means nothing.
//! - CSP, X-Content-Type-Options and X-Frame-Options only on responses
//!   with a body: an empty 204 or 304 cannot be sniffed or framed.
//!   `frame-ancestors` in the CSP stands in for X-Frame-Options.
//! - `Cache-Control: no-store` on responses that carried sensitive data.
//! - `Access-Control-Allow-Origin: *` with credentials allowed.

use serde::{Deserialize, Serialize};

use crate::exchange::{header, HttpExchange};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderIssue {
    MissingHsts,
    MissingCsp,
    MissingXContentTypeOptions,
    MissingXFrameOptions,
    /// Sensitive data in a response without `Cache-Control: no-store`.
    SensitiveDataCacheable,
    /// `Access-Control-Allow-Origin: *` and
    /// `Access-Control-Allow-Credentials: true`.
    CorsWildcardWithCredentials,
}

impl HeaderIssue {
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderIssue::MissingHsts => "missing_hsts",
            HeaderIssue::MissingCsp => "missing_csp",
            HeaderIssue::MissingXContentTypeOptions => "missing_x_content_type_options",
            HeaderIssue::MissingXFrameOptions => "missing_x_frame_options",
            HeaderIssue::SensitiveDataCacheable => "sensitive_data_cacheable",
            HeaderIssue::CorsWildcardWithCredentials => "cors_wildcard_with_credentials",
        }
    }
}

/// What the response of `exchange` lacks or gets wrong.
/// `sensitive_response`: a detector found sensitive data or a secret in it.
pub fn issues(
    exchange: &HttpExchange,
    sensitive_response: bool,
) -> impl Iterator<Item = HeaderIssue> {
    let response = &exchange.response.headers;
    let text = |name| {
        header(response, name).map(|v| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
    };
    // At most one of each: held on the stack, nothing allocated per
    // exchange.
    let mut found = Found::default();

    let forwarded_https = header(&exchange.request.headers, "x-forwarded-proto")
        .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"https"));
    if (exchange.connection.tls || forwarded_https) && text("strict-transport-security").is_none() {
        found.push(HeaderIssue::MissingHsts);
    }

    let has_body =
        exchange.response.body.wire_len > 0 || header(response, "content-type").is_some();
    if has_body {
        let csp = text("content-security-policy");
        if csp.is_none() {
            found.push(HeaderIssue::MissingCsp);
        }
        if text("x-content-type-options").as_deref() != Some("nosniff") {
            found.push(HeaderIssue::MissingXContentTypeOptions);
        }
        let frame_ancestors = csp
            .as_deref()
            .is_some_and(|c| c.contains("frame-ancestors"));
        if text("x-frame-options").is_none() && !frame_ancestors {
            found.push(HeaderIssue::MissingXFrameOptions);
        }
    }

    if sensitive_response
        && !text("cache-control").is_some_and(|c| c.split(',').any(|d| d.trim() == "no-store"))
    {
        found.push(HeaderIssue::SensitiveDataCacheable);
    }

    if text("access-control-allow-origin").as_deref() == Some("*")
        && text("access-control-allow-credentials").as_deref() == Some("true")
    {
        found.push(HeaderIssue::CorsWildcardWithCredentials);
    }
    found.0.into_iter().flatten()
}

/// The issues found so far, in the order found.
#[derive(Default)]
struct Found([Option<HeaderIssue>; 6]);

impl Found {
    fn push(&mut self, issue: HeaderIssue) {
        if let Some(slot) = self.0.iter_mut().find(|s| s.is_none()) {
            *slot = Some(issue);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::analysis::detect::tests::exchange;
    use HeaderIssue::*;

    const HARDENED: &[(&str, &str)] = &[
        ("Content-Type", "application/json"),
        ("Strict-Transport-Security", "max-age=31536000"),
        (
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "private, no-store"),
    ];

    fn check(
        request: &[(&str, &str)],
        response: &[(&str, &str)],
        body: &str,
        tls: bool,
        sensitive: bool,
    ) -> Vec<HeaderIssue> {
        let mut x = exchange("GET", "/", request, "", response, body);
        let mut conn = (*x.connection).clone();
        conn.tls = tls;
        x.connection = Arc::new(conn);
        issues(&x, sensitive).collect()
    }

    #[test]
    fn table_of_responses() {
        let json = &[("Content-Type", "application/json")][..];
        for (request, response, body, tls, sensitive, want) in [
            // A hardened response over TLS with sensitive data: nothing.
            (&[][..], HARDENED, "{}", true, true, &[][..]),
            // The same bare: everything but CORS.
            (
                &[],
                json,
                "{}",
                true,
                true,
                &[
                    MissingHsts,
                    MissingCsp,
                    MissingXContentTypeOptions,
                    MissingXFrameOptions,
                    SensitiveDataCacheable,
                ][..],
            ),
            // Plain HTTP: HSTS is not asked for...
            (
                &[],
                json,
                "{}",
                false,
                false,
                &[MissingCsp, MissingXContentTypeOptions, MissingXFrameOptions],
            ),
            // ...unless a TLS-terminating proxy forwarded it.
            (
                &[("X-Forwarded-Proto", "https")],
                HARDENED,
                "{}",
                false,
                false,
                &[],
            ),
            (
                &[("X-Forwarded-Proto", "HTTPS")],
                &HARDENED[2..],
                "{}",
                false,
                false,
                &[MissingHsts],
            ),
            // No body: nothing to sniff or frame.
            (&[], &[], "", false, false, &[]),
            // X-Frame-Options stands in for frame-ancestors, and the reverse.
            (
                &[],
                &[
                    ("Content-Type", "text/html"),
                    ("Content-Security-Policy", "default-src 'self'"),
                    ("X-Frame-Options", "DENY"),
                    ("X-Content-Type-Options", "nosniff"),
                ],
                "<p>",
                false,
                false,
                &[],
            ),
            (
                &[],
                &[
                    ("Content-Type", "text/html"),
                    ("Content-Security-Policy", "default-src 'self'"),
                    ("X-Content-Type-Options", "nosniff"),
                ],
                "<p>",
                false,
                false,
                &[MissingXFrameOptions],
            ),
            (
                &[],
                &[
                    ("X-Content-Type-Options", "sniff"),
                    ("Content-Security-Policy", "frame-ancestors 'none'"),
                ],
                "x",
                false,
                false,
                &[MissingXContentTypeOptions],
            ),
            // Cache-Control must say no-store, not just no-cache.
            (
                &[],
                &[("Cache-Control", "no-cache")],
                "",
                false,
                true,
                &[SensitiveDataCacheable],
            ),
            (
                &[],
                &[("Cache-Control", "no-cache, no-store")],
                "",
                false,
                true,
                &[],
            ),
            // CORS: a wildcard with credentials, not either alone.
            (
                &[],
                &[
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Allow-Credentials", "true"),
                ],
                "",
                false,
                false,
                &[CorsWildcardWithCredentials],
            ),
            (
                &[],
                &[("Access-Control-Allow-Origin", "*")],
                "",
                false,
                false,
                &[],
            ),
            (
                &[],
                &[
                    ("Access-Control-Allow-Origin", "https://app.acme.io"),
                    ("Access-Control-Allow-Credentials", "true"),
                ],
                "",
                false,
                false,
                &[],
            ),
        ] {
            assert_eq!(
                check(request, response, body, tls, sensitive),
                want,
                "{request:?} {response:?} tls={tls}"
            );
        }
    }
}
