//! Shadow and zombie APIs: where the traffic has drifted from the
//! reference spec.
//!
//! - Shadow: the spec does not document the operation.
//! - Zombie: the spec marks the operation `deprecated`, or the path is an
//!   older version (`/v1/...`) of a resource the spec or the traffic also
//!   shows under a newer one. A zombie is not also reported as a shadow:
//!   "an old version still answering" says more than "not documented".
//!
//! Which exchanges are judged: a spec that names hosts judges every
//! exchange to those hosts, whichever side was observed; a spec that names
//! none (and the traffic-only version check) judges only exchanges the
//! observed process served, so a local client calling someone else's API
//! is not reported as a shadow of ours.

use crate::analysis::detect::{
    Category, Finding, FingerprintKey, Location, Message, Part, RuleInfo, Severity,
};
use crate::endpoint::EndpointKey;
use crate::exchange::Role;

use super::spec::{Lookup, ReferenceSpec, Scope};
use super::versions::{versioned_resource, Version, VersionIndex};

pub const SHADOW_API: &str = "inventory.shadow_api";
pub const ZOMBIE_API: &str = "inventory.zombie_api";

/// The inventory's rules as `sensor rules` lists them; a zombie is high
/// whatever its reason, a shadow medium (see `finding`).
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: SHADOW_API,
        category: Category::Inventory,
        severity: Severity::Medium,
        description: "An endpoint in the traffic that the reference spec (inventory.spec) does not document.",
    },
    RuleInfo {
        id: ZOMBIE_API,
        category: Category::Inventory,
        severity: Severity::High,
        description: "An endpoint still in use although the reference spec deprecates it or a newer version of it exists.",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drift {
    Shadow,
    Zombie(ZombieReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZombieReason {
    Deprecated,
    Superseded { newer: Version, in_spec: bool },
}

impl Drift {
    pub fn rule(self) -> &'static str {
        match self {
            Drift::Shadow => SHADOW_API,
            Drift::Zombie(_) => ZOMBIE_API,
        }
    }
}

/// Judges one endpoint. `cached` keeps the spec's answer for the endpoint
/// between calls (the spec is fixed while the sensor runs).
pub fn classify(
    spec: Option<&ReferenceSpec>,
    observed: &VersionIndex,
    fleet: Option<&VersionIndex>,
    key: &EndpointKey,
    role: Role,
    cached: &mut Option<Lookup>,
) -> Option<Drift> {
    let served = role == Role::Server;
    let scope = spec.map(|s| s.scope(&key.host));
    let spec = spec.filter(|_| match scope {
        Some(Scope::Listed) => true,
        Some(Scope::Everywhere) => served,
        Some(Scope::Unlisted) | None => false,
    });
    let lookup = spec.map(|s| *cached.get_or_insert_with(|| s.lookup(&key.method, &key.template)));
    if lookup == Some(Lookup::Deprecated) {
        return Some(Drift::Zombie(ZombieReason::Deprecated));
    }
    if served || scope == Some(Scope::Listed) {
        if let Some((version, resource)) = versioned_resource(&key.template) {
            let in_spec = spec.and_then(|s| s.newest_version(&resource));
            // This host's traffic, or any host's in the fleet inventory.
            let in_traffic = observed
                .newest(&key.host, &resource)
                .max(fleet.and_then(|f| f.newest(&key.host, &resource)));
            if let Some(newer) = in_spec.filter(|v| *v > version) {
                return Some(Drift::Zombie(ZombieReason::Superseded {
                    newer,
                    in_spec: true,
                }));
            }
            if let Some(newer) = in_traffic.filter(|v| *v > version) {
                return Some(Drift::Zombie(ZombieReason::Superseded {
                    newer,
                    in_spec: false,
                }));
            }
        }
    }
    (lookup == Some(Lookup::Undocumented)).then_some(Drift::Shadow)
}

/// The finding for a drifted endpoint, shaped like a content detector's:
/// the evidence is the endpoint (a template, never a raw path), the
/// fingerprint a keyed hash of it.
pub fn finding(drift: Drift, key: &EndpointKey, fingerprint_key: &FingerprintKey) -> Finding {
    let endpoint = key.to_string();
    let (severity, summary) = match drift {
        // Undocumented: nobody reviews or tests it, but it may be benign.
        Drift::Shadow => (
            Severity::Medium,
            format!("Shadow API: {endpoint} is not in the reference spec."),
        ),
        // Old versions tend to miss the fixes and controls of new ones.
        Drift::Zombie(ZombieReason::Deprecated) => (
            Severity::High,
            format!("Zombie API: {endpoint} is deprecated in the reference spec but still in use."),
        ),
        Drift::Zombie(ZombieReason::Superseded { newer, in_spec }) => (
            Severity::High,
            format!(
                "Zombie API: {endpoint} still answers although {newer} of it exists in {}.",
                if in_spec {
                    "the reference spec"
                } else {
                    "the traffic"
                }
            ),
        ),
    };
    Finding {
        rule: drift.rule().to_owned(),
        category: Category::Inventory,
        severity,
        location: Location {
            message: Message::Request,
            part: Part::RequestLine,
            name: None,
        },
        fingerprint: fingerprint_key.fingerprint(endpoint.as_bytes()),
        evidence: endpoint,
        count: 1,
        folded: false,
        summary,
    }
}
