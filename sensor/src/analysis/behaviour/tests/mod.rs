//! Behaviour of the detectors on replayed traffic: what should alert
//! (once) and what should not. Time is simulated; nothing sleeps.

mod auth;
mod brute_force;
mod bulk;
mod enumeration;
mod errors;
mod identity;
mod memory;
mod rate;

use std::net::SocketAddr;
use std::sync::Arc;

use super::*;
use crate::analysis::detect::tests::exchange;
use crate::analysis::detect::Category;
use crate::exchange::Role;

pub(super) const NS: i128 = 1_000_000_000;
pub(super) const MINUTE: i128 = 60 * NS;
pub(super) const HOUR: i128 = 60 * MINUTE;
pub(super) const DAY: i128 = 24 * HOUR;
/// 2023-11-14T00:00:00Z: midnight, so hours of the day are easy to place.
pub(super) const T0: i128 = 1_699_920_000 * NS;

pub(super) const HOST: &str = "api.acme.io";

pub(super) fn detector() -> BehaviourDetector {
    detector_with(&BehaviourConfig::default())
}

pub(super) fn detector_with(config: &BehaviourConfig) -> BehaviourDetector {
    config.validate().unwrap();
    BehaviourDetector::new(config, FingerprintKey::from_bytes([9; 32]))
}

/// A request from `client` (an IP) to api.acme.io, answered `status`.
pub(super) fn request(method: &str, target: &str, client: &str, status: u16) -> HttpExchange {
    let mut x = exchange(method, target, &[("Host", HOST)], "", &[], "");
    x.response.status = status;
    from(x, client)
}

pub(super) fn get(target: &str, client: &str) -> HttpExchange {
    request("GET", target, client, 200)
}

/// The exchange as seen on a server-side connection from `client`.
pub(super) fn from(mut x: HttpExchange, client: &str) -> HttpExchange {
    let remote: SocketAddr = format!("{client}:50000").parse().unwrap();
    x.connection = Arc::new(crate::exchange::ConnectionInfo {
        remote: Some(remote),
        role: Role::Server,
        ..(*x.connection).clone()
    });
    x
}

/// The `i`th of 2^32 client addresses, 10.x.y.z.
pub(super) fn client_ip(i: u32) -> String {
    let [_, b, c, d] = i.to_be_bytes();
    format!("10.{b}.{c}.{d}")
}

/// Feeds `per_minute` requests per minute, evenly spaced, for `minutes`
/// from `start`; `make(i)` builds the `i`th. Returns every finding.
pub(super) fn replay(
    d: &mut BehaviourDetector,
    start: i128,
    minutes: i128,
    per_minute: impl Fn(i128) -> u32,
    mut make: impl FnMut(u64) -> HttpExchange,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut i = 0u64;
    for minute in 0..minutes {
        let n = per_minute(minute);
        for k in 0..n {
            let now = start + minute * MINUTE + (MINUTE * i128::from(k)) / i128::from(n);
            findings.extend(d.observe(&make(i), &[], now));
            i += 1;
        }
    }
    findings
}

/// A deterministic pseudo-random number in 0..n (SplitMix64 of `seed`).
pub(super) fn jitter(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % n.max(1)
}

pub(super) fn of_rule<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

/// The number written after the first `prefix` in `text` (`1,234.5` → 1234.5).
pub(super) fn number_after(text: &str, prefix: &str) -> f64 {
    let rest = &text[text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in {text}"))
        + prefix.len()..];
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(|c| *c != ',')
        .collect();
    number
        .trim_end_matches('.')
        .parse()
        .unwrap_or_else(|_| panic!("no number after {prefix:?} in {text}"))
}

/// No finding field contains any of `values`.
pub(super) fn assert_never_shown(findings: &[Finding], values: &[String]) {
    for f in findings {
        let text = format!(
            "{} {} {} {:?}",
            f.summary, f.evidence, f.fingerprint, f.location
        );
        for v in values {
            assert!(!text.contains(v.as_str()), "{v} shown in {text}");
        }
    }
}

#[test]
fn categories_serialise_as_they_print() {
    for c in [
        Category::AbnormalVolume,
        Category::Auth,
        Category::Inventory,
        Category::Protocol,
    ] {
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            format!("\"{}\"", c.as_str())
        );
        let back: Category = serde_json::from_str(&format!("\"{}\"", c.as_str())).unwrap();
        assert_eq!(back, c);
    }
}

#[test]
fn rules_have_unique_ids_and_their_categories() {
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), RULES.len());
    for rule in RULES {
        let want = if rule.id.starts_with("auth.") {
            Category::Auth
        } else {
            Category::AbnormalVolume
        };
        assert_eq!(rule.category, want, "{}", rule.id);
    }
}

#[test]
fn config_parses_with_defaults_and_rejects_unknown_and_bad_keys() {
    let config: BehaviourConfig = toml::from_str("").unwrap();
    assert_eq!(config, BehaviourConfig::default());
    let config: BehaviourConfig = toml::from_str(
        "warmup_minutes = 5\n[rate]\nmin_per_minute = 10\n[enumeration]\nwindow_secs = 30\n",
    )
    .unwrap();
    assert_eq!(config.warmup_minutes, 5);
    assert_eq!(config.rate.min_per_minute, 10);
    assert_eq!(config.rate.factor, config::RateConfig::default().factor);
    assert_eq!(config.enumeration.window_secs, 30);
    assert!(toml::from_str::<BehaviourConfig>("[rate]\nminimum = 3\n").is_err());
    assert!(toml::from_str::<BehaviourConfig>("warmup = 3\n").is_err());
    let mut bad = BehaviourConfig::default();
    bad.rate.factor = 0.5;
    assert_eq!(bad.validate().unwrap_err().key, "behaviour.rate.factor");
    let bad = BehaviourConfig {
        max_clients: 0,
        ..BehaviourConfig::default()
    };
    assert_eq!(bad.validate().unwrap_err().key, "behaviour.max_clients");
}

#[test]
fn disabled_detector_learns_and_reports_nothing() {
    let config = BehaviourConfig {
        enabled: false,
        ..BehaviourConfig::default()
    };
    let mut d = detector_with(&config);
    let x = get(
        "/api/data?access_token=9f86d081884c7d659a2feaa0c55ad015",
        "10.0.0.7",
    );
    assert!(d.observe(&x, &[], T0).is_empty());
    assert_eq!(d.counters(), BehaviourCounters::default());
}
