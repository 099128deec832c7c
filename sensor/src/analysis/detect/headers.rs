//! Header rules that need the header's meaning rather than a pattern:
//! Basic credentials sent where they can be read, and version banners.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::redact::Mask;
use super::rules::{Check, Scope, Spec};
use super::types::{Category, Severity::*};

pub const BASIC_AUTH: &str = "secret.basic_auth";
pub const VERSION_BANNER: &str = "error.version_banner";

pub const SPECS: &[Spec] = &[
    Spec {
        id: BASIC_AUTH,
        description:
            "HTTP Basic credentials (Authorization or Proxy-Authorization) sent over plaintext HTTP",
        scope: Scope::Special,
        check: Check::None,
        mask: Mask::Prefix(6),
        ..Spec::BASE
    },
    Spec {
        id: VERSION_BANNER,
        category: Category::VerboseError,
        severity: Low,
        description:
            "Software version in Server, X-Powered-By, X-AspNet-Version or similar response headers",
        scope: Scope::Special,
        check: Check::None,
        mask: Mask::Verbatim,
        ..Spec::BASE
    },
];

/// Response headers that announce software.
const BANNERS: &[&str] = &[
    "server",
    "x-powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-generator",
    "x-runtime-version",
    "x-powered-cms",
    "x-drupal-version",
    "x-php-version",
    "x-version",
    "x-server-version",
    "x-envoy-version",
];

/// True for the headers that carry credentials (Authorization,
/// Proxy-Authorization).
pub fn names_credentials(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("proxy-authorization")
}

/// True for the response headers that announce software.
pub fn names_software(name: &str) -> bool {
    BANNERS.iter().any(|b| name.eq_ignore_ascii_case(b))
}

/// True when a request header carries Basic credentials with a password.
pub fn basic_credentials(name: &str, value: &[u8]) -> bool {
    if !names_credentials(name) {
        return false;
    }
    let value = value.trim_ascii();
    let Some(scheme) = value.get(..6) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(value[6..].trim_ascii()) else {
        return false;
    };
    matches!(decoded.iter().position(|&b| b == b':'), Some(i) if i + 1 < decoded.len())
}

/// True when a response header announces a software version.
pub fn version_banner(name: &str, value: &[u8]) -> bool {
    names_software(name)
        && value
            .windows(3)
            .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic() {
        for (name, value, want) in [
            ("Authorization", "Basic YWxpY2U6czNjcjN0", true),
            ("proxy-authorization", "basic YWxpY2U6czNjcjN0", true),
            ("Authorization", "Basic YWxpY2U6", false),
            ("Authorization", "Bearer abc", false),
            ("Authorization", "Basic !!!", false),
            ("X-Other", "Basic YWxpY2U6czNjcjN0", false),
        ] {
            assert_eq!(
                basic_credentials(name, value.as_bytes()),
                want,
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn banners() {
        for (name, value, want) in [
            ("Server", "nginx/1.18.0 (Ubuntu)", true),
            ("Server", "nginx", false),
            ("X-Powered-By", "PHP/7.4.3", true),
            ("X-Powered-By", "Express", false),
            ("X-AspNet-Version", "4.0.30319", true),
            ("Content-Type", "text/html; version=1.0", false),
        ] {
            assert_eq!(
                version_banner(name, value.as_bytes()),
                want,
                "{name}: {value}"
            );
        }
    }
}
