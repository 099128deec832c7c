//! `[capture.tls]`: which TLS libraries get probes.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::InvalidKey;

/// HTTPS plaintext through uprobes on TLS libraries.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Capture the plaintext of OpenSSL 1.1 and 3 (and BoringSSL) and
    /// GnuTLS in every process that maps them, found at start-up and as
    /// programs start. The library's files are attached once, whatever the
    /// number of processes using them.
    pub enabled: bool,
    /// Libraries or binaries (absolute paths) attached at start-up besides
    /// the ones found: for example a server linking OpenSSL statically
    /// that starts later. Each must exist.
    pub include: Vec<PathBuf>,
    /// Files never attached: globs (`*` matches any characters, `/`
    /// included) against the path a process maps the file from, such as
    /// `*/libgnutls.so*` or `/opt/vendor/*`. Wins over `include`.
    pub exclude: Vec<String>,
    /// Capture the plaintext of Go programs' crypto/tls (Go 1.13 and later,
    /// x86-64; stripped or not, PIE or not), found at start-up and as they
    /// start.
    pub go: bool,
    /// Attach the uprobes through uprobe_multi BPF links when the kernel
    /// has them (Linux 6.6 and later): they need CAP_BPF and CAP_PERFMON
    /// only. false (or an older kernel) attaches them through
    /// perf_event_open, which Linux 6.16 and later (and the stable kernels
    /// with the CVE-2025-38466 fix) refuse without CAP_SYS_ADMIN.
    pub uprobe_multi: bool,
    /// When the kernel refuses the TLS uprobes for want of privilege (the
    /// sensor lacks CAP_SYS_ADMIN where uprobe_multi links are not used),
    /// the sensor captures plain HTTP only and
    /// reports itself degraded: `/readyz` answers 200 `degraded: ...` by
    /// default, or 503 when this is true, for deployments where HTTPS
    /// capture is a must.
    pub required: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            include: Vec::new(),
            exclude: Vec::new(),
            go: true,
            uprobe_multi: true,
            required: false,
        }
    }
}

impl TlsConfig {
    /// Checks the config; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        for path in &self.include {
            if !path.is_absolute() {
                return Err(InvalidKey::new(
                    "capture.tls.include",
                    format!("{} is not an absolute path", path.display()),
                ));
            }
            if let Err(err) = std::fs::File::open(path) {
                return Err(InvalidKey::new(
                    "capture.tls.include",
                    format!("cannot read {}: {err}", path.display()),
                ));
            }
        }
        if self.exclude.iter().any(|p| p.is_empty()) {
            return Err(InvalidKey::new(
                "capture.tls.exclude",
                "patterns must not be empty",
            ));
        }
        Ok(())
    }

    /// True when `path` matches one of the `exclude` patterns.
    pub fn excludes(&self, path: &std::path::Path) -> bool {
        let path = path.as_os_str().as_encoded_bytes();
        self.exclude
            .iter()
            .any(|pattern| crate::glob::matches(pattern.as_bytes(), path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_must_be_an_absolute_readable_file() {
        for (include, key_error) in [
            ("lib/libssl.so.3", "not an absolute path"),
            ("/nonexistent/libssl.so.3", "cannot read"),
        ] {
            let config = TlsConfig {
                include: vec![PathBuf::from(include)],
                ..TlsConfig::default()
            };
            let InvalidKey { key, message, .. } = config.validate().unwrap_err();
            assert_eq!(key, "capture.tls.include");
            assert!(message.contains(key_error), "{message}");
        }
        let config = TlsConfig {
            include: vec![std::env::current_exe().unwrap()],
            ..TlsConfig::default()
        };
        config.validate().unwrap();
    }

    #[test]
    fn empty_exclude_pattern_is_named() {
        let config = TlsConfig {
            exclude: vec![String::new()],
            ..TlsConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().key, "capture.tls.exclude");
    }

    #[test]
    fn exclude_patterns_match_the_whole_path() {
        let config = TlsConfig {
            exclude: vec!["*/libgnutls.so*".to_owned(), "/opt/vendor/*".to_owned()],
            ..TlsConfig::default()
        };
        for (path, excluded) in [
            ("/usr/lib/x86_64-linux-gnu/libgnutls.so.30", true),
            ("/opt/vendor/bin/server", true),
            ("/usr/lib/x86_64-linux-gnu/libssl.so.3", false),
            ("/opt/vendorx/server", false),
        ] {
            assert_eq!(config.excludes(path.as_ref()), excluded, "{path}");
        }
    }
}
