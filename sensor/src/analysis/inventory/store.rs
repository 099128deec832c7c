//! The catalogue on disk: `inventory.json` in the state directory, one
//! versioned JSON document.
//!
//! Writes are atomic: the document goes to `inventory.json.tmp` in the same
//! directory (mode 0600), is fsynced, renamed over `inventory.json`, and
//! the directory is fsynced. A crash at any point leaves either the old
//! file or the new one, plus at worst a stale temp file that the next start
//! removes.
//!
//! ```json
//! {"format":"sensor-inventory","version":1,"evicted":0,"endpoints":[
//!   {"host":"api.acme.io","method":"GET","template":"/users/{id}",
//!    "first_seen_unix_ns":1700000000000000000,"last_seen_unix_ns":...,
//!    "requests":12,"tls":false,
//!    "statuses":[{"status":200,"count":11,"content_types":["application/json"]}],
//!    "request_content_types":[],"credentials":[{"kind":"authorization","name":"bearer"}],
//!    "request_data":{},"response_data":{"pii.email":"sensitive_data"},
//!    "header_issues":{"missing_csp":12},
//!    "served_by":[{"comm":"api","exe":"/usr/bin/api"}],"called_by":[],
//!    "reported":["inventory.shadow_api"],"dropped_values":0}]}
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::EndpointRecord;
use crate::endpoint::EndpointKey;

pub const FILE_NAME: &str = "inventory.json";
const FORMAT: &str = "sensor-inventory";
/// Bumped whenever a field changes meaning or an old reader would misread
/// the file; a file of another version is set aside, never misread.
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("inventory file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("inventory file {} is not a sensor inventory: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "inventory file {} has format version {found}; this sensor reads version {VERSION}",
        path.display()
    )]
    OtherVersion { path: PathBuf, found: u32 },
}

impl StoreError {
    /// True when the file is there but unusable (as opposed to unreadable).
    pub fn is_unusable_content(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::OtherVersion { .. }
        )
    }
}

/// The catalogue as read from disk.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub evicted: u64,
    pub endpoints: Vec<(EndpointKey, EndpointRecord)>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u32,
    evicted: u64,
    endpoints: Vec<EndpointOut<'a>>,
}

#[derive(Serialize)]
struct EndpointOut<'a> {
    host: &'a str,
    method: &'a str,
    template: &'a str,
    #[serde(flatten)]
    record: &'a EndpointRecord,
}

/// Only the header, read first so a file of another version is recognised
/// as such instead of failing on some field.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Deserialize)]
struct FileIn {
    evicted: u64,
    endpoints: Vec<EndpointIn>,
}

#[derive(Deserialize)]
struct EndpointIn {
    host: String,
    method: String,
    template: String,
    #[serde(flatten)]
    record: EndpointRecord,
}

/// The document for `endpoints`, as `write_atomic` stores it.
pub fn encode(evicted: u64, endpoints: &[(&EndpointKey, &EndpointRecord)]) -> Vec<u8> {
    let file = FileOut {
        format: FORMAT,
        version: VERSION,
        evicted,
        endpoints: endpoints
            .iter()
            .map(|(key, record)| EndpointOut {
                host: &key.host,
                method: &key.method,
                template: &key.template,
                record,
            })
            .collect(),
    };
    serde_json::to_vec(&file).expect("the inventory always serialises")
}

/// The catalogue at `path`; None when there is no file yet.
pub fn read(path: &Path) -> Result<Option<Snapshot>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let header: Header = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if header.format != FORMAT {
        return Err(corrupt(format!("`format` is {:?}", header.format)));
    }
    if header.version != VERSION {
        return Err(StoreError::OtherVersion {
            path: path.to_owned(),
            found: header.version,
        });
    }
    let file: FileIn = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(Snapshot {
        evicted: file.evicted,
        endpoints: file
            .endpoints
            .into_iter()
            .map(|e| {
                let key = EndpointKey {
                    host: e.host,
                    method: e.method,
                    template: e.template,
                };
                (key, e.record)
            })
            .collect(),
    }))
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new
/// file whole, never a mix. Creates the directory (0700) when missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    let tmp = temp_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    // A temp file left by an older run may have kept a wider mode.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io)?;
    // The rename is durable only once the directory entry is.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

/// Removes a temp file an interrupted write left behind; it was never
/// renamed into place, so it holds nothing the real file does not.
pub fn remove_stale_temp(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(temp_path(path)) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: temp_path(path),
            source,
        }),
    }
}

/// Moves an unusable file to the first free `inventory.json.corrupt`,
/// `.corrupt.1`, ... beside it, so a fresh catalogue can take its place
/// without destroying what it held.
pub fn set_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut name = path.as_os_str().to_owned();
    name.push(".corrupt");
    let base = PathBuf::from(name);
    for n in 0..1000 {
        let candidate = if n == 0 {
            base.clone()
        } else {
            let mut name = base.as_os_str().to_owned();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if !candidate.exists() {
            fs::rename(path, &candidate).map_err(io)?;
            return Ok(candidate);
        }
    }
    Err(io(std::io::Error::other(format!(
        "{} and 999 numbered copies already exist; remove old copies",
        base.display()
    ))))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}
