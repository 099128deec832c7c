//! `[alerts]`: how repeated findings fold into one alert, how many alerts a
//! rule may raise, and the lowest severity the alerts file keeps.

use serde::Deserialize;

use crate::config::InvalidKey;
use crate::finding::Severity;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Repeats of one rule on one endpoint with one fingerprint within this
    /// many seconds of the first become one alert with a count (0: every
    /// repeat is its own alert).
    pub dedup_window_secs: u64,
    /// New alerts one rule may raise per minute (0: no limit); the rest are
    /// dropped and counted.
    pub max_per_rule_per_minute: u32,
    /// Lowest severity written to the alerts file: low, medium, high or
    /// critical. Sinks have their own `min_severity`.
    pub min_severity: Severity,
    /// Distinct alerts remembered for deduplication; past it the oldest is
    /// summarised early and forgotten (counted).
    pub max_tracked: usize,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            dedup_window_secs: 300,
            max_per_rule_per_minute: 120,
            min_severity: Severity::Low,
            max_tracked: 20_000,
        }
    }
}

impl AlertsConfig {
    /// `min_severity` is checked as it is read (a `Severity`).
    pub fn validate(&self) -> Result<(), InvalidKey> {
        if self.max_tracked == 0 {
            return Err(InvalidKey::new(
                "alerts.max_tracked",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}
