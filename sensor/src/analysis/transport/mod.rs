//! `transport.cleartext_sensitive`: credentials (Authorization, session
//! cookies, API keys, passwords in bodies, tokens handed out) or sensitive
//! findings carried over plaintext HTTP between two hosts. Reported once
//! per endpoint and direction (request or response) while the sensor
//! runs; loopback traffic and the networks listed in
//! `[transport] trusted_networks` are exempt. HTTPS the TLS probes
//! captured is not plaintext on the wire (`tls` is set) and is never
//! reported.

pub mod config;

use std::net::IpAddr;

use crate::analysis::behaviour::bounded::BoundedMap;
use crate::analysis::behaviour::client::Keys;
use crate::analysis::credentials::{self, CredentialsConfig, TokenFields};
use crate::analysis::detect::FingerprintKey;
use crate::endpoint::EndpointKey;
use crate::exchange::{HttpExchange, HttpRequest, Role};
use crate::finding::{Category, Finding, Location, Message, Part, RuleInfo, Severity};

use config::Network;
pub use config::TransportConfig;

pub const CLEARTEXT_SENSITIVE: RuleInfo = RuleInfo {
    id: "transport.cleartext_sensitive",
    category: Category::Transport,
    severity: Severity::High,
    description: "Credentials or sensitive data over plaintext HTTP between non-loopback addresses outside [transport] trusted_networks.",
};

pub const RULES: &[RuleInfo] = &[CLEARTEXT_SENSITIVE];

/// (endpoint, direction) pairs remembered as reported, at most.
const MAX_REPORTED: usize = 20_000;

/// Body fields (lowercase) that carry a password.
const PASSWORD_FIELDS: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"pwd",
    b"pass",
    b"client_secret",
    b"new_password",
    b"current_password",
];

pub struct CleartextDetector {
    networks: Vec<Network>,
    key: FingerprintKey,
    keys: Keys,
    reported: BoundedMap<()>,
}

impl CleartextDetector {
    pub fn new(config: &TransportConfig, key: FingerprintKey) -> Self {
        Self {
            networks: config.networks(),
            keys: Keys::derive(&key),
            key,
            reported: BoundedMap::new(MAX_REPORTED),
        }
    }

    /// The findings of one exchange: at most one per direction, the first
    /// time that endpoint and direction carry something sensitive.
    /// `findings` are the content detectors'.
    pub fn observe(
        &mut self,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        findings: &[Finding],
        credentials: &CredentialsConfig,
        token_fields: &TokenFields,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let conn = &exchange.connection;
        let Some(remote) = conn.remote else {
            return out;
        };
        if conn.tls || self.exempt(remote.ip()) || conn.local.is_some_and(|l| is_loopback(l.ip())) {
            return out;
        }
        for message in [Message::Request, Message::Response] {
            let what = carried(exchange, message, findings, credentials, token_fields);
            if what.is_empty() {
                continue;
            }
            let key = self.keys.hash(&(endpoint, message == Message::Request));
            if self.reported.get_mut(key).is_some() {
                continue;
            }
            self.reported.get_or_insert_with(key, || ());
            out.push(self.finding(exchange, endpoint, message, &what));
        }
        out
    }

    fn exempt(&self, ip: IpAddr) -> bool {
        is_loopback(ip) || self.networks.iter().any(|n| n.contains(ip))
    }

    fn finding(
        &self,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        message: Message,
        what: &[String],
    ) -> Finding {
        let conn = &exchange.connection;
        let (client, server) = match conn.role {
            Role::Server => (conn.remote, conn.local),
            Role::Client => (conn.local, conn.remote),
        };
        let show = |a: Option<std::net::SocketAddr>| a.map_or("?".to_owned(), |a| a.to_string());
        let direction = match message {
            Message::Request => "request",
            Message::Response => "response",
        };
        let listed = what.join(", ");
        let identity = format!("{}\0{endpoint}\0{direction}", CLEARTEXT_SENSITIVE.id);
        Finding {
            rule: CLEARTEXT_SENSITIVE.id.to_owned(),
            category: CLEARTEXT_SENSITIVE.category,
            severity: CLEARTEXT_SENSITIVE.severity,
            location: Location {
                message,
                part: Part::Header,
                name: None,
            },
            summary: format!(
                "Sensitive {direction} over plaintext HTTP: {endpoint} between {} (client) and {} (server) carried {listed}; expected TLS between hosts, or the network listed in [transport] trusted_networks.",
                show(client),
                show(server)
            ),
            evidence: format!("cleartext {direction}: {listed}"),
            fingerprint: self.key.fingerprint(identity.as_bytes()),
            count: 1,
            folded: false,
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// What sensitive the message carries, named without values.
fn carried(
    exchange: &HttpExchange,
    message: Message,
    findings: &[Finding],
    config: &CredentialsConfig,
    token_fields: &TokenFields,
) -> Vec<String> {
    let mut what = Vec::new();
    match message {
        Message::Request => {
            if credentials::carries_credentials(exchange, config) {
                what.push("credentials in its headers".to_owned());
            }
            if let Some(field) = password_field(&exchange.request) {
                what.push(format!("a {field} field in its body"));
            }
        }
        Message::Response => {
            if credentials::hands_out_credentials(exchange, config, token_fields) {
                what.push("a token or session handed out".to_owned());
            }
        }
    }
    let mut rules: Vec<&str> = findings
        .iter()
        .filter(|f| {
            f.location.message == message
                && matches!(f.category, Category::SensitiveData | Category::Secret)
        })
        .map(|f| f.rule.as_str())
        .collect();
    rules.sort_unstable();
    rules.dedup();
    if !rules.is_empty() {
        what.push(format!("findings {}", rules.join(", ")));
    }
    what
}

/// The name of a password field in a form or JSON request body.
fn password_field(request: &HttpRequest) -> Option<String> {
    let body = request.body.content();
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    PASSWORD_FIELDS.iter().find_map(|name| {
        let form = lower.split(|&b| b == b'&').any(|pair| {
            pair.strip_prefix(*name)
                .is_some_and(|rest| rest.first() == Some(&b'=') && rest.len() > 1)
        });
        let mut quoted = Vec::with_capacity(name.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(name);
        quoted.push(b'"');
        let json = lower
            .windows(quoted.len())
            .position(|w| w == quoted.as_slice())
            .is_some_and(|at| {
                let rest = lower[at + quoted.len()..].trim_ascii_start();
                rest.strip_prefix(b":").is_some_and(|v| {
                    v.trim_ascii_start().first() == Some(&b'"')
                        && !v.trim_ascii_start().starts_with(b"\"\"")
                })
            });
        (form || json).then(|| String::from_utf8_lossy(name).into_owned())
    })
}

#[cfg(test)]
mod tests;
