//! `[kubernetes]` in `sensor.toml`: whether to ask the API server for the
//! pods on this node, and where it and the credentials are. Every key has
//! a default that works in a pod of the shipped DaemonSet.

use std::path::PathBuf;

use serde::Deserialize;

/// Where a pod's service account credentials are mounted.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct KubernetesConfig {
    /// `auto`: on when the sensor runs in a pod (`KUBERNETES_SERVICE_HOST`
    /// is set, or `api_server` is) and the token file exists; `on`: the
    /// same, but a missing piece is logged as a warning; `off`: never.
    pub enabled: KubernetesMode,
    /// API server base URL (`https://host:port`). Unset: built from
    /// `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`.
    pub api_server: Option<String>,
    /// Bearer token file, read again on every refresh (the kubelet rotates
    /// projected tokens).
    pub token_file: PathBuf,
    /// PEM file of the CA that signed the API server's certificate; only
    /// this CA is trusted.
    pub ca_file: PathBuf,
    /// This node's name, to list only its pods. Unset: the `NODE_NAME`
    /// environment variable (the DaemonSet sets it from `spec.nodeName`).
    pub node_name: Option<String>,
    /// Seconds between two listings of the node's pods.
    pub refresh_secs: u64,
    /// Least seconds between two listings triggered by an unknown
    /// container id (a pod started since the last listing).
    pub miss_refresh_secs: u64,
    /// Pods kept from one listing; the rest are counted, not indexed.
    pub max_pods: usize,
    /// Seconds one listing may take, connection included.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KubernetesMode {
    #[default]
    Auto,
    On,
    Off,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            enabled: KubernetesMode::Auto,
            api_server: None,
            token_file: PathBuf::from(SERVICE_ACCOUNT_DIR).join("token"),
            ca_file: PathBuf::from(SERVICE_ACCOUNT_DIR).join("ca.crt"),
            node_name: None,
            refresh_secs: 30,
            miss_refresh_secs: 5,
            // A kubelet runs 110 pods by default and rarely more than 250.
            max_pods: 1000,
            timeout_secs: 10,
        }
    }
}

/// A `[kubernetes]` value that cannot work, by its full key name.
pub type InvalidKubernetesConfig = crate::config::InvalidKey;

impl KubernetesConfig {
    pub fn validate(&self) -> Result<(), InvalidKubernetesConfig> {
        let invalid = |key: &str, message: &str| Err(InvalidKubernetesConfig::new(key, message));
        if let Some(url) = &self.api_server {
            if !url.starts_with("https://") {
                return invalid(
                    "kubernetes.api_server",
                    "must be an https:// URL: the token is only ever sent over TLS",
                );
            }
        }
        if self.refresh_secs == 0 {
            return invalid("kubernetes.refresh_secs", "must be at least 1");
        }
        if self.miss_refresh_secs == 0 {
            return invalid("kubernetes.miss_refresh_secs", "must be at least 1");
        }
        if self.max_pods == 0 {
            return invalid("kubernetes.max_pods", "must be at least 1");
        }
        if self.timeout_secs == 0 {
            return invalid("kubernetes.timeout_secs", "must be at least 1");
        }
        Ok(())
    }
}
