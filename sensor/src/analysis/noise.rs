//! What the analysis keeps quiet about: a version banner already reported
//! for its host (one finding per host and banner, not one per endpoint),
//! and the sensor's own deliveries (its webhook and syslog destinations),
//! which would otherwise alert on the alerts they carry. Both counted.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::endpoint::{normalise_host, EndpointKey};
use crate::exchange::{HttpExchange, Role};
use crate::finding::Finding;

const VERSION_BANNER: &str = "error.version_banner";
/// (host, banner) pairs remembered; past it the set starts over (a banner
/// may then be reported once more).
const MAX_BANNERS: usize = 10_000;

/// What was kept quiet, for `--stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NoiseCounters {
    /// Version banner findings dropped: already reported for their host.
    pub banner_repeats: u64,
    /// Exchanges with the sensor's own sinks, not analysed.
    pub own_sink_exchanges: u64,
}

/// Where the sensor delivers alerts.
#[derive(Debug, Clone, Default)]
struct Destinations {
    /// IP literals and ports.
    addresses: Vec<SocketAddr>,
    /// Host names as endpoints spell them (`hooks.acme.io`, `10.0.0.5:9000`).
    hosts: Vec<String>,
}

pub struct Noise {
    /// Banners reported, by host: their fingerprints (already keyed), so
    /// a repeat is a lookup, with no hashing or allocation.
    banners: HashMap<String, HashSet<String>>,
    /// Entries in `banners`.
    banners_kept: usize,
    sinks: Destinations,
    counters: NoiseCounters,
}

impl Noise {
    /// `webhooks` are the webhook sinks' URLs, `syslogs` the `host:port`
    /// of the syslog sinks over the network.
    pub fn new(webhooks: &[&str], syslogs: &[&str]) -> Self {
        let mut d = Destinations::default();
        for url in webhooks {
            let (default_port, rest) = match url.split_once("://") {
                Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (443, rest),
                Some((_, rest)) => (80, rest),
                None => (80, *url),
            };
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            d.add(authority, default_port);
        }
        for address in syslogs {
            d.add(address, 514);
        }
        Self {
            banners: HashMap::new(),
            banners_kept: 0,
            sinks: d,
            counters: NoiseCounters::default(),
        }
    }

    pub fn counters(&self) -> NoiseCounters {
        self.counters.clone()
    }

    /// True (and counted) when the exchange went to one of the sensor's
    /// own sinks.
    pub fn is_own_delivery(&mut self, exchange: &HttpExchange, endpoint: &EndpointKey) -> bool {
        let conn = &exchange.connection;
        let server = match conn.role {
            Role::Server => conn.local,
            Role::Client => conn.remote,
        };
        let by_address = server.is_some_and(|s| {
            self.sinks.addresses.iter().any(|a| {
                a.port() == s.port()
                    && (a.ip() == s.ip() || (a.ip().is_loopback() && s.ip().is_loopback()))
            })
        });
        let own = by_address || self.sinks.hosts.contains(&endpoint.host);
        if own {
            self.counters.own_sink_exchanges += 1;
        }
        own
    }

    /// True (and counted) when the version banner with `fingerprint` was
    /// reported for `host` already.
    pub fn is_repeated_banner(&mut self, host: &str, fingerprint: &str) -> bool {
        let repeated = self
            .banners
            .get(host)
            .is_some_and(|seen| seen.contains(fingerprint));
        if repeated {
            self.counters.banner_repeats += 1;
        }
        repeated
    }

    /// Drops version banner findings already reported for this host.
    pub fn drop_repeated_banners(&mut self, host: &str, findings: &mut Vec<Finding>) {
        findings.retain(|f| {
            if f.rule != VERSION_BANNER {
                return true;
            }
            if self.is_repeated_banner(host, &f.fingerprint) {
                return false;
            }
            if self.banners_kept >= MAX_BANNERS {
                self.banners.clear();
                self.banners_kept = 0;
            }
            self.banners
                .entry(host.to_owned())
                .or_default()
                .insert(f.fingerprint.clone());
            self.banners_kept += 1;
            true
        });
    }
}

impl Destinations {
    fn add(&mut self, authority: &str, default_port: u16) {
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        if authority.is_empty() {
            return;
        }
        let (host, port) = split_port(authority, default_port);
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            self.addresses.push(SocketAddr::new(ip, port));
        } else if host.eq_ignore_ascii_case("localhost") {
            self.addresses
                .push(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
        }
        let spelled = if port == default_port {
            host.to_owned()
        } else {
            format!("{host}:{port}")
        };
        self.hosts.push(normalise_host(&spelled));
    }
}

/// (`host`, port) of `host[:port]` or `[v6][:port]`.
fn split_port(authority: &str, default_port: u16) -> (&str, u16) {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host, port.unwrap_or(default_port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().unwrap_or(default_port)),
        _ => (authority, default_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::detect::tests::exchange;
    use crate::analysis::detect::{Category, Location, Message, Part, Severity};
    use std::sync::Arc;

    fn to(server: &str, host: &str, role: Role) -> HttpExchange {
        let mut x = exchange("POST", "/hook", &[("Host", host)], "[]", &[], "");
        let server: SocketAddr = server.parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let (local, remote) = match role {
            Role::Server => (server, peer),
            Role::Client => (peer, server),
        };
        x.connection = Arc::new(crate::exchange::ConnectionInfo {
            local: Some(local),
            remote: Some(remote),
            role,
            ..(*x.connection).clone()
        });
        x
    }

    #[test]
    fn deliveries_to_own_sinks_are_recognised_from_either_side() {
        let mut n = Noise::new(
            &["http://127.0.0.1:9000/hook", "https://hooks.acme.io/x"],
            &["10.0.0.5:6514"],
        );
        for (server, host, role, want) in [
            ("127.0.0.1:9000", "127.0.0.1:9000", Role::Server, true),
            ("127.0.0.1:9000", "localhost:9000", Role::Client, true),
            ("93.184.216.34:443", "hooks.acme.io", Role::Client, true),
            ("10.0.0.5:6514", "10.0.0.5:6514", Role::Client, true),
            ("127.0.0.1:9001", "127.0.0.1:9001", Role::Server, false),
            ("93.184.216.34:443", "api.acme.io", Role::Client, false),
        ] {
            let x = to(server, host, role);
            assert_eq!(
                n.is_own_delivery(&x, &EndpointKey::of(&x)),
                want,
                "{server} {host}"
            );
        }
        assert_eq!(n.counters().own_sink_exchanges, 4);
    }

    #[test]
    fn a_banner_is_one_finding_per_host_and_banner() {
        let mut n = Noise::new(&[], &[]);
        let banner = |fingerprint: &str| Finding {
            rule: VERSION_BANNER.into(),
            category: Category::VerboseError,
            severity: Severity::Low,
            location: Location {
                message: Message::Response,
                part: Part::Header,
                name: Some("Server".into()),
            },
            evidence: "nginx/1.18.0".into(),
            fingerprint: fingerprint.into(),
            count: 1,
            folded: false,
            summary: String::new(),
        };
        let mut kept = 0;
        for i in 0..12 {
            // Twelve endpoints (404s included) of one host, one banner.
            let mut findings = vec![banner("aa")];
            n.drop_repeated_banners("api.acme.io", &mut findings);
            kept += findings.len();
            let _ = i;
        }
        assert_eq!(kept, 1);
        let mut other = vec![banner("bb")];
        n.drop_repeated_banners("api.acme.io", &mut other);
        let mut elsewhere = vec![banner("aa")];
        n.drop_repeated_banners("shop.acme.io", &mut elsewhere);
        assert_eq!((other.len(), elsewhere.len()), (1, 1));
        assert_eq!(n.counters().banner_repeats, 11);
    }
}
