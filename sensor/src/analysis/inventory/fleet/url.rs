//! `[inventory] store`: the PostgreSQL connection string, kept whole for
//! the driver and shown only with its password replaced by `***` (in logs,
//! errors, `Debug` and `check-config`).

use std::fmt;
use std::str::FromStr as _;

use serde::{Deserialize, Deserializer};

/// A `postgres://user:password@host:port/database?...` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// Checks the URL as the driver reads it; the error names the URL
    /// without its password.
    pub fn parse(url: &str) -> Result<StoreUrl, String> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(format!(
                "{:?} is not a PostgreSQL URL: write postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                redact(url)
            ));
        }
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|err| format!("{}: {err}", redact(url)))?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(format!(
                "{}: sslmode=require is not supported yet (the sensor speaks to PostgreSQL \
                 without TLS): use sslmode=disable or prefer on a trusted network, or a local \
                 TLS tunnel",
                redact(url)
            ));
        }
        Ok(StoreUrl(url.to_owned()))
    }

    /// The whole URL, password included: for the driver only.
    pub(super) fn secret(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({:?})", self.redacted())
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        StoreUrl::parse(&url).map_err(serde::de::Error::custom)
    }
}

/// `text` (a parse error that quotes the config line, say) with every
/// PostgreSQL URL in it redacted.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["postgres://", "postgresql://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&rest[..start]);
        let token = &rest[start..];
        let end = token
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
            .unwrap_or(token.len());
        out.push_str(&redact(&token[..end]));
        rest = &token[end..];
    }
    out.push_str(rest);
    out
}

/// `url` with the password of its user part and any `password=` query
/// parameter replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (user_info, hosts) = authority.split_at(at);
            match user_info.split_once(':') {
                Some((user, _)) => format!("{user}:***{hosts}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_wherever_they_sit() {
        for (url, shown) in [
            (
                "postgres://sensor:s3cret@db:5432/fleet",
                "postgres://sensor:***@db:5432/fleet",
            ),
            (
                "postgresql://sensor:p%40ss@db/fleet?sslmode=disable",
                "postgresql://sensor:***@db/fleet?sslmode=disable",
            ),
            (
                "postgres://sensor@db/fleet?password=s3cret&application_name=x",
                "postgres://sensor@db/fleet?password=***&application_name=x",
            ),
            ("postgres://db/fleet", "postgres://db/fleet"),
            ("postgres://u:pw@db", "postgres://u:***@db"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn urls_in_a_message_are_redacted() {
        let message = "1 | store = \"postgres://u:pw1@db/x\"\n  |  postgresql://v:pw2@db2 bad";
        assert_eq!(
            redact_urls_in(message),
            "1 | store = \"postgres://u:***@db/x\"\n  |  postgresql://v:***@db2 bad"
        );
    }

    #[test]
    fn debug_display_and_errors_never_show_the_password() {
        let url = StoreUrl::parse("postgres://sensor:s3cret@127.0.0.1:5432/fleet").unwrap();
        assert!(!format!("{url:?} {url}").contains("s3cret"));
        assert_eq!(
            url.secret(),
            "postgres://sensor:s3cret@127.0.0.1:5432/fleet"
        );
        for bad in [
            "mysql://sensor:s3cret@db/fleet",
            "postgres://sensor:s3cret@db:notaport/fleet",
            "postgres://sensor:s3cret@db/fleet?sslmode=require",
        ] {
            let err = StoreUrl::parse(bad).unwrap_err();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("sensor:***@db"), "{err}");
        }
    }
}
