//! API versions in paths (`/v1/users`, `/api/v2beta1/orders/{id}`): which
//! resource a versioned path is, and the newest version of each resource
//! seen in traffic, so an old version still answering next to a newer one
//! can be called a zombie.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A path version segment: `v2`, `v2beta1`, `v3alpha`, `v1rc2`. Ordered so
/// that pre-releases come before the release: v1 < v2alpha1 < v2beta1 < v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    major: u32,
    stage: Stage,
    minor: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Stage {
    Alpha,
    Beta,
    Rc,
    Release,
}

impl Version {
    /// `v` or `V`, 1 to 3 digits, optionally `alpha`, `beta` or `rc` and
    /// 1 to 2 more digits. Anything else is not a version.
    pub fn parse(segment: &str) -> Option<Version> {
        let rest = segment.strip_prefix(['v', 'V'])?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=3).contains(&digits) {
            return None;
        }
        let major = rest[..digits].parse().ok()?;
        let rest = &rest[digits..];
        let (stage, rest) = [
            ("alpha", Stage::Alpha),
            ("beta", Stage::Beta),
            ("rc", Stage::Rc),
        ]
        .into_iter()
        .find_map(|(word, stage)| rest.strip_prefix(word).map(|r| (stage, r)))
        .unwrap_or((Stage::Release, rest));
        let minor = match rest.len() {
            0 => None,
            1 | 2 if stage != Stage::Release && rest.bytes().all(|b| b.is_ascii_digit()) => {
                rest.parse().ok()
            }
            _ => return None,
        };
        Some(Version {
            major,
            stage,
            minor,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.major)?;
        match self.stage {
            Stage::Alpha => f.write_str("alpha")?,
            Stage::Beta => f.write_str("beta")?,
            Stage::Rc => f.write_str("rc")?,
            Stage::Release => {}
        }
        if let Some(minor) = self.minor {
            write!(f, "{minor}")?;
        }
        Ok(())
    }
}

/// The first version segment of a path template, and the resource it
/// versions: the path with that segment as `{v}` and every parameter as
/// `{}`, so `/v1/users/{id}` and `/v2/users/{userId}` are one resource.
/// Allocates only for versioned paths: it runs on every exchange.
pub fn versioned_resource(template: &str) -> Option<(Version, String)> {
    let segments = || template.trim_matches('/').split('/');
    let (at, version) = segments()
        .enumerate()
        .find_map(|(i, s)| Version::parse(s).map(|v| (i, v)))?;
    let mut resource = String::with_capacity(template.len());
    for (i, segment) in segments().enumerate() {
        resource.push('/');
        if i == at {
            resource.push_str("{v}");
        } else {
            push_with_anonymous_params(&mut resource, segment);
        }
    }
    Some((version, resource))
}

/// `{userId}.json` → `{}.json`: parameter names differ between the spec and
/// the traffic's templates, their places do not.
fn push_with_anonymous_params(out: &mut String, segment: &str) {
    let mut rest = segment;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str("{}");
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
}

/// How many tracked endpoints of each host and resource carry each
/// version; kept in step with the catalogue (endpoints in, evicted out).
#[derive(Debug, Default)]
pub struct VersionIndex {
    /// Host → resource → version → endpoints.
    by_host: HashMap<String, HashMap<String, BTreeMap<Version, u32>>>,
}

impl VersionIndex {
    pub fn insert(&mut self, host: &str, template: &str) {
        if let Some((version, resource)) = versioned_resource(template) {
            *self
                .by_host
                .entry(host.to_owned())
                .or_default()
                .entry(resource)
                .or_default()
                .entry(version)
                .or_default() += 1;
        }
    }

    pub fn remove(&mut self, host: &str, template: &str) {
        let Some((version, resource)) = versioned_resource(template) else {
            return;
        };
        let Some(resources) = self.by_host.get_mut(host) else {
            return;
        };
        let Some(versions) = resources.get_mut(&resource) else {
            return;
        };
        if let Some(count) = versions.get_mut(&version) {
            *count -= 1;
            if *count == 0 {
                versions.remove(&version);
            }
        }
        if versions.is_empty() {
            resources.remove(&resource);
        }
        if resources.is_empty() {
            self.by_host.remove(host);
        }
    }

    /// The newest version of `resource` on `host` among tracked endpoints.
    pub fn newest(&self, host: &str, resource: &str) -> Option<Version> {
        self.by_host
            .get(host)?
            .get(resource)
            .and_then(|versions| versions.keys().next_back().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        let v = |s| Version::parse(s).unwrap_or_else(|| panic!("{s} is a version"));
        for s in ["v1", "V2", "v2beta1", "v3alpha", "v1rc2", "v10"] {
            assert_eq!(v(s).to_string(), s.to_ascii_lowercase());
        }
        for s in [
            "v",
            "version",
            "v1.2",
            "vx",
            "v1234",
            "v2beta123",
            "v2gamma1",
            "1",
            "v1x",
        ] {
            assert_eq!(Version::parse(s), None, "{s}");
        }
        assert!(v("v1") < v("v2alpha1"));
        assert!(v("v2alpha1") < v("v2beta1"));
        assert!(v("v2beta1") < v("v2beta2"));
        assert!(v("v2beta2") < v("v2rc1"));
        assert!(v("v2rc1") < v("v2"));
        assert!(v("v2") < v("v10"));
    }

    #[test]
    fn resources_ignore_version_and_parameter_names() {
        let (version, resource) = versioned_resource("/api/v1/users/{id}/avatar/{id}.png").unwrap();
        assert_eq!(version.to_string(), "v1");
        assert_eq!(resource, "/api/{v}/users/{}/avatar/{}.png");
        assert_eq!(
            versioned_resource("/api/v2/users/{userId}/avatar/{file}.png")
                .unwrap()
                .1,
            resource
        );
        assert_eq!(versioned_resource("/users/{id}"), None);
    }

    #[test]
    fn index_follows_inserts_and_removals() {
        let mut index = VersionIndex::default();
        index.insert("api", "/v1/users/{id}");
        index.insert("api", "/v2/users/{uuid}");
        index.insert("api", "/v2/users/{id}");
        index.insert("other", "/v3/users/{id}");
        let resource = "/{v}/users/{}";
        assert_eq!(index.newest("api", resource).unwrap().to_string(), "v2");
        index.remove("api", "/v2/users/{uuid}");
        assert_eq!(index.newest("api", resource).unwrap().to_string(), "v2");
        index.remove("api", "/v2/users/{id}");
        assert_eq!(index.newest("api", resource).unwrap().to_string(), "v1");
        index.remove("api", "/v1/users/{id}");
        assert_eq!(index.newest("api", resource), None);
        assert!(
            !index.by_host.contains_key("api"),
            "emptied entries are dropped"
        );
    }
}
