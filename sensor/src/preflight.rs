//! What `sensor run` needs from this host, checked before anything starts,
//! so that `check-config` refuses exactly what `run` would: the
//! fingerprint key file, the state directory, the output directories and
//! the metrics port. Each error names the config key, the path or address,
//! and the OS error once.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError, InvalidKey};

/// Every host check, first failure first.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    each(config).into_iter().try_for_each(|(_, result)| result)
}

/// Every host check with what it checks (as `sensor doctor` shows them),
/// in the order `check` runs them.
pub fn each(config: &Config) -> Vec<(&'static str, Result<(), ConfigError>)> {
    let mut out = vec![
        (
            "state directory",
            writable_dir("output.state_dir", &config.output.state_dir),
        ),
        ("fingerprint key", key_file(config)),
        (
            "alerts output",
            output_file("output.alerts", &config.output.alerts),
        ),
    ];
    if let Some(exchanges) = &config.output.exchanges {
        out.push((
            "exchanges output",
            output_file("output.exchanges", exchanges),
        ));
    }
    if config.metrics.enabled {
        out.push(("metrics port", metrics_port(config)));
    }
    out
}

fn metrics_port(config: &Config) -> Result<(), ConfigError> {
    // Bound and let go at once: `run` binds it again moments later.
    if let Err(err) = std::net::TcpListener::bind(config.metrics.listen.as_str()) {
        return invalid(
            "metrics.listen",
            format!("cannot listen on {}: {err}", config.metrics.listen),
        );
    }
    Ok(())
}

fn invalid(key: &'static str, message: String) -> Result<(), ConfigError> {
    Err(InvalidKey::new(key, message).into())
}

/// A configured key file must exist (it is never created: a typo would
/// otherwise silently start a new key and break every fingerprint); the
/// default one in `state_dir` is created on first start, so only an
/// existing one is checked.
fn key_file(config: &Config) -> Result<(), ConfigError> {
    let (key, path, configured) = match &config.detect.fingerprint_key_file {
        Some(path) => ("detect.fingerprint_key_file", path.clone(), true),
        None => (
            "output.state_dir",
            config.detect.key_path(&config.output.state_dir),
            false,
        ),
    };
    let shown = path.display();
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => invalid(key, format!("{shown} is a directory, not a key file")),
        Ok(meta) if meta.len() < 32 => invalid(
            key,
            format!(
                "{shown} holds {} bytes; a fingerprint key needs at least 32 (e.g. `head -c 32 /dev/urandom > {shown}`)",
                meta.len()
            ),
        ),
        Ok(_) => match std::fs::File::open(&path) {
            Ok(_) => Ok(()),
            Err(err) => invalid(key, format!("{shown}: {err}")),
        },
        Err(err) if err.kind() == ErrorKind::NotFound && !configured => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => invalid(
            key,
            format!(
                "{shown} does not exist; it is never created for you: create it (e.g. `head -c 32 /dev/urandom > {shown}`) or unset the key"
            ),
        ),
        Err(err) => invalid(key, format!("{shown}: {err}")),
    }
}

/// A directory that exists and can be written, or can be created under
/// its nearest existing ancestor.
fn writable_dir(key: &'static str, dir: &Path) -> Result<(), ConfigError> {
    let shown = dir.display();
    let existing = nearest_existing(dir);
    let Some(existing) = existing else {
        return invalid(key, format!("{shown}: no part of the path exists"));
    };
    let meta = match std::fs::metadata(&existing) {
        Ok(meta) => meta,
        Err(err) => return invalid(key, format!("{}: {err}", existing.display())),
    };
    if !meta.is_dir() {
        return invalid(
            key,
            if existing == dir {
                format!("{shown} is not a directory")
            } else {
                format!(
                    "{shown} is under {}, which is not a directory",
                    existing.display()
                )
            },
        );
    }
    if let Err(err) = access_write(&existing) {
        return invalid(
            key,
            format!("{} is not writable: {err}", existing.display()),
        );
    }
    Ok(())
}

/// An output file: `-` (stdout), or a file in an existing directory.
fn output_file(key: &'static str, file: &Path) -> Result<(), ConfigError> {
    if file.as_os_str() == "-" {
        return Ok(());
    }
    let shown = file.display();
    if file.is_dir() {
        return invalid(key, format!("{shown} is a directory"));
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&parent) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => invalid(key, format!("{} is not a directory", parent.display())),
        Err(err) => invalid(key, format!("directory {}: {err}", parent.display())),
    }
}

fn nearest_existing(dir: &Path) -> Option<PathBuf> {
    let mut at = Some(dir);
    while let Some(p) = at {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        if std::fs::symlink_metadata(p).is_ok() {
            return Some(p.to_owned());
        }
        at = p.parent();
    }
    None
}

/// access(2) with W_OK: permission bits, ACLs and read-only mounts (EROFS).
fn access_write(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
    // SAFETY: a NUL-terminated path we own; access only reads it.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path) -> Config {
        let mut c = Config::default();
        c.output.state_dir = dir.join("state");
        c.output.alerts = dir.join("alerts.jsonl");
        c.metrics.enabled = false;
        c
    }

    #[test]
    fn host_checks_table() {
        let dir = std::env::temp_dir().join(format!("sensor-preflight-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("file"), b"x").unwrap();
        std::fs::write(dir.join("short.key"), b"0123").unwrap();
        std::fs::write(dir.join("good.key"), [7u8; 32]).unwrap();
        std::fs::create_dir_all(dir.join("keydir")).unwrap();
        type Edit = fn(&mut Config, &Path);
        let cases: &[(&str, Edit, Option<&str>)] = &[
            ("defaults in a fresh dir", |_, _| {}, None),
            (
                "missing key file",
                |c, _| c.detect.fingerprint_key_file = Some("/nonexistent/key".into()),
                Some("detect.fingerprint_key_file"),
            ),
            (
                "key file is a directory",
                |c, d| c.detect.fingerprint_key_file = Some(d.join("keydir")),
                Some("is a directory"),
            ),
            (
                "key file too short",
                |c, d| c.detect.fingerprint_key_file = Some(d.join("short.key")),
                Some("holds 4 bytes"),
            ),
            (
                "good key file",
                |c, d| c.detect.fingerprint_key_file = Some(d.join("good.key")),
                None,
            ),
            (
                "state_dir under a regular file",
                |c, d| c.output.state_dir = d.join("file/state"),
                Some("output.state_dir"),
            ),
            (
                "alerts directory missing",
                |c, d| c.output.alerts = d.join("missing/alerts.jsonl"),
                Some("output.alerts"),
            ),
            (
                "alerts on stdout",
                |c, _| c.output.alerts = "-".into(),
                None,
            ),
        ];
        for (name, edit, want) in cases {
            let mut c = config_in(&dir);
            edit(&mut c, &dir);
            let got = check(&c).map_err(|e| e.to_string());
            match (want, &got) {
                (None, Ok(())) => {}
                (Some(w), Err(e)) if e.contains(w) => {
                    assert_eq!(
                        e.matches("os error").count().min(1),
                        e.matches("os error").count(),
                        "{e}"
                    );
                }
                _ => panic!("{name}: {got:?}, wanted {want:?}"),
            }
        }
        // The metrics port in use.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = config_in(&dir);
        c.metrics.enabled = true;
        c.metrics.listen = taken.local_addr().unwrap().to_string();
        let err = check(&c).unwrap_err().to_string();
        assert!(
            err.contains("metrics.listen") && err.contains("in use"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
