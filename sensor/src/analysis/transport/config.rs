//! `[transport]`: which plaintext traffic is acceptable.

use std::net::IpAddr;

use serde::Deserialize;

use crate::config::InvalidKey;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TransportConfig {
    /// Report credentials and sensitive data over plaintext HTTP between
    /// hosts (`transport.cleartext_sensitive`).
    pub enabled: bool,
    /// Networks (CIDR: `10.0.0.0/8`, `fd00::/8`, or one address) whose
    /// plaintext traffic is accepted, such as a private segment behind a
    /// TLS-terminating proxy. Loopback is always accepted.
    pub trusted_networks: Vec<String>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            trusted_networks: Vec::new(),
        }
    }
}

/// An address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// `10.0.0.0/8`, `fd00::/8`, or one address.
    pub fn parse(text: &str) -> Option<Network> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (
                addr.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u8>().ok()?),
            ),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> u128 {
            match a {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        // IPv4 sits in the top 32 bits, so one mask serves both families.
        let mask = match self.prefix {
            0 => 0,
            prefix => u128::MAX << (128 - u32::from(prefix)),
        };
        bits(self.addr) & mask == bits(ip) & mask
    }
}

impl TransportConfig {
    /// The trusted networks, parsed (the config was validated).
    pub fn networks(&self) -> Vec<Network> {
        self.trusted_networks
            .iter()
            .filter_map(|n| Network::parse(n))
            .collect()
    }

    /// The first bad key and why, in the form `Config::validate` reports.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        for entry in &self.trusted_networks {
            if Network::parse(entry).is_none() {
                return Err(InvalidKey::new(
                    "transport.trusted_networks",
                    format!("{entry:?} is not a network: write an address or address/prefix, such as 10.0.0.0/8"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_and_contain() {
        for (net, ip, want) in [
            ("10.0.0.0/8", "10.1.2.3", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.168.1.7", "192.168.1.7", true),
            ("192.168.1.7", "192.168.1.8", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
            ("10.0.0.0/8", "::ffff:10.0.0.1", true),
            ("10.0.0.0/8", "fd00::1", false),
        ] {
            let network = Network::parse(net).unwrap();
            assert_eq!(network.contains(ip.parse().unwrap()), want, "{net} {ip}");
        }
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8", "::/129"] {
            assert!(Network::parse(bad).is_none(), "{bad}");
        }
        let config = TransportConfig {
            trusted_networks: vec!["10.0.0.0/40".into()],
            ..TransportConfig::default()
        };
        assert_eq!(
            config.validate().unwrap_err().key,
            "transport.trusted_networks"
        );
    }
}
