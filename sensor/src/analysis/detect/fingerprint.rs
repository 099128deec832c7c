//! Fingerprints: a keyed hash of a matched value, so alerts about the same
//! value can be correlated without the value. The key never leaves the
//! process; without it a fingerprint cannot be tested against guesses.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The HMAC key. Its `Debug` never prints the bytes.
#[derive(Clone)]
pub struct FingerprintKey([u8; 32]);

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("fingerprint key {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("fingerprint key {path}: must hold at least 32 bytes, found {len}")]
    TooShort {
        path: std::path::PathBuf,
        len: usize,
    },
}

/// A fingerprint in lowercase hex, on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hex([u8; 32]);

impl Hex {
    pub fn as_str(&self) -> &str {
        // Built from ASCII hex digits only.
        std::str::from_utf8(&self.0).expect("hex digits")
    }
}

impl FingerprintKey {
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// A fresh key from the kernel's random source.
    pub fn random() -> std::io::Result<Self> {
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        Ok(Self(key))
    }

    /// Reads the key at `path`, which must exist.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        if bytes.len() < 32 {
            return Err(KeyError::TooShort {
                path: path.to_owned(),
                len: bytes.len(),
            });
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[..32]);
        Ok(Self(key))
    }

    /// Reads the key at `path`, or creates it (32 random bytes, mode 0600,
    /// parent directories as needed) when there is none, so fingerprints
    /// stay comparable across restarts.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                if bytes.len() < 32 {
                    return Err(KeyError::TooShort {
                        path: path.to_owned(),
                        len: bytes.len(),
                    });
                }
                let mut key = [0u8; 32];
                key.copy_from_slice(&bytes[..32]);
                return Ok(Self(key));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io(err)),
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let key = Self::random().map_err(io)?;
        // create_new: two sensors starting together must not each write
        // their own key; the loser reads the winner's.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut file) => {
                file.write_all(&key.0).map_err(io)?;
                file.sync_all().map_err(io)?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
                Ok(key)
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load_or_create(path)
            }
            Err(err) => Err(io(err)),
        }
    }

    /// HMAC-SHA256 of `value`, first 128 bits, lowercase hex.
    pub fn fingerprint(&self, value: &[u8]) -> String {
        self.fingerprint_of(|update| update(value))
            .as_str()
            .to_owned()
    }

    /// `fingerprint` of the bytes `feed` hands on, in as many pieces as
    /// it likes, kept on the stack: a finding that folds into an open
    /// window is told by it without an allocation.
    pub fn fingerprint_of(&self, feed: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Hex {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        feed(&mut |piece| mac.update(piece));
        let digest = mac.finalize().into_bytes();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (i, b) in digest[..16].iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        Hex(out)
    }

    /// A 256-bit key for another purpose (the alert log's hash chain),
    /// derived so the install keeps one secret and the purposes never
    /// share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"sensor derived key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_stable_and_private() {
        let a = FingerprintKey::from_bytes([1; 32]);
        let b = FingerprintKey::from_bytes([2; 32]);
        assert_eq!(a.fingerprint(b"x"), a.fingerprint(b"x"));
        assert_ne!(a.fingerprint(b"x"), b.fingerprint(b"x"));
        assert_eq!(a.fingerprint(b"x").len(), 32);
        // HMAC-SHA256 known answer (Python's hmac module), so the format
        // stays what alerts already carry.
        assert_eq!(a.fingerprint(b"x"), "9a6525695460ebcfaee4b950ffa6c3c7");
        assert_eq!(format!("{a:?}"), "FingerprintKey(..)");
    }

    #[test]
    fn created_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("sensor-fpkey-{}", std::process::id()));
        let path = dir.join("state/fingerprint.key");
        let _ = std::fs::remove_dir_all(&dir);
        let first = FingerprintKey::load_or_create(&path).unwrap();
        let second = FingerprintKey::load_or_create(&path).unwrap();
        assert_eq!(first.fingerprint(b"v"), second.fingerprint(b"v"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            FingerprintKey::load_or_create(&path),
            Err(KeyError::TooShort { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
