//! Which sensor, on which host, wrote a record: the `schema_version`,
//! `host` and `sensor` fields every alert and exchange record carries, so
//! a SIEM that collects from a fleet can tell the records apart.

use serde::Serialize;

/// The version of the record schema (`schema/*.schema.json`). The minor
/// number goes up when a field or value is added, the major number when
/// one is removed, renamed or changes meaning (see README, "Record schema").
pub const SCHEMA_VERSION: &str = "1.1";

/// The host the sensor runs on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Host {
    /// The kernel's hostname (`/proc/sys/kernel/hostname`).
    pub hostname: String,
    /// The Kubernetes node, when the sensor knows it runs in a cluster
    /// (`kubernetes.node_name`, or `NODE_NAME` from the downward API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// The sensor itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SensorInfo {
    pub version: &'static str,
}

impl Default for SensorInfo {
    fn default() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The host and sensor stamped on every record, worked out once at start.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub host: Host,
    pub sensor: SensorInfo,
}

impl Origin {
    /// This host: its hostname, and the node named by `node` (the
    /// `kubernetes.node_name` setting) or else by `NODE_NAME`.
    pub fn detect(node: Option<&str>) -> Self {
        let env_node = std::env::var("NODE_NAME").ok();
        Self::new(hostname(), node.or(env_node.as_deref()))
    }

    pub fn new(hostname: String, node: Option<&str>) -> Self {
        Self {
            host: Host {
                hostname,
                node: node.filter(|n| !n.is_empty()).map(str::to_owned),
            },
            sensor: SensorInfo::default(),
        }
    }
}

/// The kernel's hostname, `localhost` if it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_only_when_named() {
        let origin = Origin::new("web-1".into(), Some(""));
        assert_eq!(origin.host.node, None);
        let origin = Origin::new("web-1".into(), Some("node-a"));
        let json = serde_json::to_value(&origin.host).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"hostname": "web-1", "node": "node-a"})
        );
        assert_eq!(origin.sensor.version, env!("CARGO_PKG_VERSION"));
        assert!(!hostname().is_empty());
    }
}
