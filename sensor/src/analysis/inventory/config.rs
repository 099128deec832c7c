//! `[inventory]`: the endpoint catalogue, where it is kept, how big it may
//! grow, and the reference spec shadow and zombie APIs are judged against.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::InvalidKey;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InventoryConfig {
    /// Keep the catalogue of endpoints (`inventory.json` in
    /// `output.state_dir`) and report shadow and zombie APIs.
    pub enabled: bool,
    /// Reference OpenAPI document (3.x or Swagger 2.0, JSON or YAML).
    /// Endpoints it does not list are shadow APIs; operations it marks
    /// `deprecated`, and old versions (`/v1/...`) of resources it or the
    /// traffic also shows under a newer version, are zombie APIs. Unset:
    /// no shadow APIs, and zombies only from versions seen in traffic.
    pub spec: Option<PathBuf>,
    /// Endpoints tracked at once; past it the least recently seen is
    /// forgotten (and counted).
    pub max_endpoints: usize,
    /// The catalogue is written to disk at most this often while it changes
    /// (and always at shutdown).
    pub save_interval_secs: u64,
    /// A shadow or zombie API is reported once; it is reported again only
    /// when it comes back after this many seconds without traffic (0: on
    /// every exchange).
    pub realert_after_secs: u64,
    /// A PostgreSQL database the fleet's sensors share
    /// (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`): every sensor writes
    /// its endpoint records there as well as to `inventory.json`, and
    /// `sensor inventory --store` prints the merged catalogue. Zombie APIs
    /// are then judged on the fleet's view (a newer version any host
    /// serves). The sensor creates and upgrades the tables itself. Unset:
    /// this host only.
    pub store: Option<super::fleet::StoreUrl>,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            spec: None,
            max_endpoints: 10_000,
            save_interval_secs: 30,
            realert_after_secs: 7 * 24 * 3600,
            store: None,
        }
    }
}

/// A config parse error's text with any `store` password hidden: the TOML
/// error quotes the offending line, which may be the `store` line.
pub fn redact_store_passwords(message: &str) -> String {
    super::fleet::redact_urls_in(message)
}

impl InventoryConfig {
    /// The offending key and what is wrong with it, as `check-config`
    /// reports it. Reads and checks the reference spec.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        if self.max_endpoints == 0 {
            return Err(InvalidKey::new(
                "inventory.max_endpoints",
                "must be greater than 0",
            ));
        }
        if self.save_interval_secs == 0 {
            return Err(InvalidKey::new(
                "inventory.save_interval_secs",
                "must be greater than 0",
            ));
        }
        if self.store.is_some() && !self.enabled {
            return Err(InvalidKey::new(
                "inventory.store",
                "needs inventory.enabled = true (the fleet database gets the local catalogue's records)",
            ));
        }
        if let Some(path) = &self.spec {
            super::spec::ReferenceSpec::load(path)
                .map_err(|err| InvalidKey::new("inventory.spec", err.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_gives_defaults_and_unknown_keys_are_named() {
        let config: InventoryConfig = toml::from_str("").unwrap();
        assert_eq!(config, InventoryConfig::default());
        config.validate().unwrap();
        let err = toml::from_str::<InventoryConfig>("max_endpoint = 5\n").unwrap_err();
        assert!(err.to_string().contains("max_endpoint"), "{err}");
    }

    #[test]
    fn a_store_url_is_checked_and_its_password_never_shown() {
        let config: InventoryConfig =
            toml::from_str("store = \"postgres://sensor:s3cret@db.internal:5432/fleet\"\n")
                .unwrap();
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("s3cret"));
        // The parse error quotes the line; Config::load redacts it.
        let err =
            toml::from_str::<InventoryConfig>("store = \"postgres://sensor:s3cret@db:x/f\"\n")
                .unwrap_err()
                .to_string();
        let err = redact_store_passwords(&err);
        assert!(err.contains("store") && !err.contains("s3cret"), "{err}");
        let disabled: InventoryConfig =
            toml::from_str("enabled = false\nstore = \"postgres://sensor@db/fleet\"\n").unwrap();
        assert_eq!(disabled.validate().unwrap_err().key, "inventory.store");
    }

    #[test]
    fn bad_values_and_bad_specs_are_named() {
        let zero = InventoryConfig {
            max_endpoints: 0,
            ..Default::default()
        };
        assert_eq!(zero.validate().unwrap_err().key, "inventory.max_endpoints");

        let missing = InventoryConfig {
            spec: Some("/nonexistent/openapi.json".into()),
            ..Default::default()
        };
        let InvalidKey { key, message, .. } = missing.validate().unwrap_err();
        assert_eq!(key, "inventory.spec");
        assert!(message.contains("/nonexistent/openapi.json"), "{message}");

        let dir = crate::analysis::inventory::tests::temp_dir("config-spec");
        let path = dir.join("openapi.json");
        std::fs::write(&path, r#"{"info": {"title": "not a spec"}}"#).unwrap();
        let not_openapi = InventoryConfig {
            spec: Some(path.clone()),
            ..Default::default()
        };
        let message = not_openapi.validate().unwrap_err().message;
        assert!(message.contains(&*path.to_string_lossy()), "{message}");
        assert!(message.contains("openapi"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
