//! The reference spec: an OpenAPI 3.x or Swagger 2.0 document (JSON or
//! YAML) reduced to what shadow and zombie detection asks of it: which hosts
//! it speaks for, which operations it documents under which full paths
//! (server base path included), which it deprecates, and the newest version
//! of each versioned resource.
//!
//! Scope: a spec whose servers name hosts speaks for those hosts only; one
//! without servers, or with relative server URLs, speaks for every host.
//! Server variables take their defaults. Path-level and operation-level
//! `servers` overrides and `$ref` path items are not followed.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::path_match::{segments, SegmentPattern};
use super::versions::{versioned_resource, Version};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read the reference spec {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the reference spec {} is not valid {format}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("the reference spec {} is not an OpenAPI document: {message}", path.display())]
    NotOpenApi { path: PathBuf, message: String },
}

/// What the spec says about one observed operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Documented,
    Deprecated,
    Undocumented,
}

/// Whether the spec speaks for a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One of the spec's servers names this host.
    Listed,
    /// The spec names no host, so it applies wherever its paths are served.
    Everywhere,
    /// The spec names hosts, and this is not one of them.
    Unlisted,
}

#[derive(Debug)]
pub struct ReferenceSpec {
    /// None: the spec applies to every host.
    hosts: Option<BTreeSet<String>>,
    paths: Vec<SpecPath>,
    /// Newest version of each versioned resource (see `versioned_resource`).
    versions: HashMap<String, Version>,
}

#[derive(Debug)]
struct SpecPath {
    segments: Vec<SegmentPattern>,
    /// Literal segments: among several matching paths the one with the most
    /// is the one a router picks (`/users/me` before `/users/{id}`).
    literals: usize,
    /// Uppercase method → deprecated.
    operations: HashMap<String, bool>,
}

impl ReferenceSpec {
    /// Reads and checks the spec: JSON for `.json`, YAML for `.yaml` and
    /// `.yml`, otherwise JSON when it starts with `{`, else YAML.
    pub fn load(path: &Path) -> Result<ReferenceSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let json = match extension.as_deref() {
            Some("json") => true,
            Some("yaml" | "yml") => false,
            _ => text.trim_start().starts_with('{'),
        };
        let syntax = |format, message: String| SpecError::Syntax {
            path: path.to_owned(),
            format,
            message,
        };
        let document: Value = if json {
            serde_json::from_str(&text).map_err(|e| syntax("JSON", e.to_string()))?
        } else {
            serde_norway::from_str(&text).map_err(|e| syntax("YAML", e.to_string()))?
        };
        ReferenceSpec::from_document(&document).map_err(|message| SpecError::NotOpenApi {
            path: path.to_owned(),
            message,
        })
    }

    /// The spec from a parsed document; the error says which key is wrong.
    pub fn from_document(document: &Value) -> Result<ReferenceSpec, String> {
        let root = document
            .as_object()
            .ok_or("the document must be a mapping with `openapi` and `paths`")?;
        let servers = servers(root)?;
        let hosts = if servers.iter().any(|s| s.host.is_none()) {
            None
        } else {
            Some(servers.iter().filter_map(|s| s.host.clone()).collect())
        };
        let mut bases: Vec<String> = servers.into_iter().map(|s| s.base_path).collect();
        bases.sort();
        bases.dedup();

        let mut paths = Vec::new();
        let mut versions: HashMap<String, Version> = HashMap::new();
        let empty = Map::new();
        let path_items = match root.get("paths") {
            Some(Value::Object(items)) => items,
            Some(_) => return Err("`paths` must be a mapping".to_owned()),
            // 3.1 allows a document of webhooks or components only.
            None if root
                .get("openapi")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with("3.1")) =>
            {
                &empty
            }
            None => return Err("`paths` is missing".to_owned()),
        };
        for (template, item) in path_items {
            if !template.starts_with('/') {
                return Err(format!("path `{template}` must start with `/`"));
            }
            let operations = operations(template, item)?;
            for base in &bases {
                let full = format!("{base}{template}");
                if let Some((version, resource)) = versioned_resource(&full) {
                    let newest = versions.entry(resource).or_insert(version);
                    *newest = (*newest).max(version);
                }
                let segments: Vec<SegmentPattern> = segments(&full)
                    .into_iter()
                    .map(SegmentPattern::compile)
                    .collect();
                paths.push(SpecPath {
                    literals: segments.iter().filter(|s| s.is_literal()).count(),
                    segments,
                    operations: operations.clone(),
                });
            }
        }
        // Most specific first, so the first path with the method wins.
        paths.sort_by_key(|p| std::cmp::Reverse(p.literals));
        Ok(ReferenceSpec {
            hosts,
            paths,
            versions,
        })
    }

    pub fn scope(&self, host: &str) -> Scope {
        match &self.hosts {
            None => Scope::Everywhere,
            Some(hosts) if hosts.contains(host) => Scope::Listed,
            Some(_) => Scope::Unlisted,
        }
    }

    /// What the spec says about `method` on an observed path template.
    /// HEAD is answered wherever GET is, and OPTIONS (CORS preflights)
    /// wherever the path exists, by most servers without being documented.
    pub fn lookup(&self, method: &str, template: &str) -> Lookup {
        let observed = segments(template);
        let mut matching = self.paths.iter().filter(|p| {
            p.segments.len() == observed.len()
                && p.segments.iter().zip(&observed).all(|(p, o)| p.matches(o))
        });
        let Some(first) = matching.next() else {
            return Lookup::Undocumented;
        };
        for path in std::iter::once(first).chain(matching) {
            let found = path.operations.get(method).or_else(|| match method {
                "HEAD" => path.operations.get("GET"),
                _ => None,
            });
            match found {
                Some(true) => return Lookup::Deprecated,
                Some(false) => return Lookup::Documented,
                None => {}
            }
        }
        if method == "OPTIONS" {
            Lookup::Documented
        } else {
            Lookup::Undocumented
        }
    }

    /// The newest version of a versioned resource the spec lists.
    pub fn newest_version(&self, resource: &str) -> Option<Version> {
        self.versions.get(resource).copied()
    }
}

struct Server {
    /// Lowercase, without port; None for a relative URL or a templated host.
    host: Option<String>,
    /// `/api/v1` or empty, never ending in `/`.
    base_path: String,
}

fn servers(root: &Map<String, Value>) -> Result<Vec<Server>, String> {
    if let Some(version) = root.get("swagger") {
        if version.as_str() != Some("2.0") {
            return Err(format!("`swagger` must be \"2.0\", found {version}"));
        }
        let host = match root.get("host") {
            Some(Value::String(h)) => Some(host_of(h)),
            Some(_) => return Err("`host` must be a string".to_owned()),
            None => None,
        };
        let base = match root.get("basePath") {
            Some(Value::String(b)) => b.clone(),
            Some(_) => return Err("`basePath` must be a string".to_owned()),
            None => String::new(),
        };
        return Ok(vec![Server {
            host,
            base_path: base_path(&base),
        }]);
    }
    match root.get("openapi") {
        Some(Value::String(v)) if v.starts_with("3.") => {}
        Some(other) => {
            return Err(format!(
                "`openapi` must be a 3.x version string, found {other}"
            ))
        }
        None => return Err("neither `openapi` (3.x) nor `swagger` (2.0) is set".to_owned()),
    }
    let list = match root.get("servers") {
        None => {
            return Ok(vec![Server {
                host: None,
                base_path: String::new(),
            }])
        }
        Some(Value::Array(list)) if list.is_empty() => {
            return Ok(vec![Server {
                host: None,
                base_path: String::new(),
            }])
        }
        Some(Value::Array(list)) => list,
        Some(_) => return Err("`servers` must be a list".to_owned()),
    };
    list.iter()
        .enumerate()
        .map(|(i, server)| {
            let url = server
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("`servers[{i}].url` must be a string"))?;
            let url = substitute_variables(url, server.get("variables"));
            let (host, path) = match url.split_once("://") {
                Some((_, rest)) => split_authority(rest),
                None => match url.strip_prefix("//") {
                    Some(rest) => split_authority(rest),
                    None => (None, url.as_str()),
                },
            };
            Ok(Server {
                host: host.filter(|h| !h.contains('{')).map(host_of),
                base_path: base_path(path),
            })
        })
        .collect()
}

/// `{region}` → the variable's default; unknown variables stay as they are
/// (and make the host a wildcard, the path a parameter).
fn substitute_variables(url: &str, variables: Option<&Value>) -> String {
    let mut out = url.to_owned();
    if let Some(Value::Object(variables)) = variables {
        for (name, variable) in variables {
            if let Some(default) = variable.get("default").and_then(Value::as_str) {
                out = out.replace(&format!("{{{name}}}"), default);
            }
        }
    }
    out
}

fn split_authority(rest: &str) -> (Option<&str>, &str) {
    match rest.find('/') {
        Some(i) => (Some(&rest[..i]), &rest[i..]),
        None => (Some(rest), ""),
    }
}

/// As `EndpointKey` spells hosts.
fn host_of(authority: &str) -> String {
    crate::endpoint::normalise_host(authority)
}

fn base_path(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.trim_end_matches('/');
    if path.is_empty() || path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

fn operations(template: &str, item: &Value) -> Result<HashMap<String, bool>, String> {
    let item = item
        .as_object()
        .ok_or_else(|| format!("`paths.{template}` must be a mapping"))?;
    let mut operations = HashMap::new();
    for method in METHODS {
        let Some(operation) = item.get(*method) else {
            continue;
        };
        let operation = operation
            .as_object()
            .ok_or_else(|| format!("`paths.{template}.{method}` must be a mapping"))?;
        let deprecated = match operation.get("deprecated") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(format!(
                    "`paths.{template}.{method}.deprecated` must be true or false"
                ))
            }
        };
        operations.insert(method.to_ascii_uppercase(), deprecated);
    }
    Ok(operations)
}
