//! JSON lines output: one object per line, to a file (created 0600, so
//! what the sensor found is readable only by its owner) or to stdout.
//! Files can rotate by size: `alerts.jsonl` becomes `alerts.jsonl.1`, the
//! older ones shift up, and the oldest past the number kept is deleted;
//! rotated files older than `keep_days` are deleted too. The alerts file
//! is also chained (`chain.rs`): each line sealed, a checkpoint when a
//! file opens, rotates and closes.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::chain::{self, Chain, ChainKey, Head};

/// How often rotated files are checked against `keep_days` between
/// rotations.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub struct JsonLines {
    out: BufWriter<Box<dyn Write + Send>>,
    path: PathBuf,
    written: u64,
    /// Bytes in the current file (appended to, so it may start non-zero).
    size: u64,
    rotation: Option<Rotation>,
    /// One serialised line, reused so rotation can see its length first.
    line: Vec<u8>,
    /// Seals each line into the hash chain (the alerts file).
    chain: Option<Chain>,
    /// Scratch for a sealed line.
    sealed: Vec<u8>,
    /// Rotated files older than this are deleted.
    max_age: Option<Duration>,
    last_prune: Option<SystemTime>,
}

#[derive(Debug, Clone, Copy)]
struct Rotation {
    max_bytes: u64,
    keep: usize,
}

impl JsonLines {
    /// Opens `path` for appending (`-` is stdout).
    pub fn open(path: &Path) -> io::Result<Self> {
        let (out, size): (Box<dyn Write + Send>, u64) = if is_stdout(path) {
            (Box::new(io::stdout()), 0)
        } else {
            let file = open_private(path)?;
            let size = file.metadata()?.len();
            (Box::new(file), size)
        };
        Ok(Self {
            out: BufWriter::with_capacity(64 * 1024, out),
            path: path.to_owned(),
            written: 0,
            size,
            rotation: None,
            line: Vec::with_capacity(1024),
            chain: None,
            sealed: Vec::with_capacity(1024),
            max_age: None,
            last_prune: None,
        })
    }

    /// Seals every line into a hash chain under `key`, continuing the
    /// chain the file ends with; a file that is empty, or whose last line
    /// is not sealed, starts with an `open` checkpoint. No effect on
    /// stdout.
    pub fn chained(mut self, key: ChainKey) -> io::Result<Self> {
        if is_stdout(&self.path) {
            return Ok(self);
        }
        let tail = read_tail(&self.path, 64 * 1024)?;
        if !tail.is_empty() && !tail.ends_with(b"\n") {
            // A line cut by a crash: end it, so the next one stands alone
            // (`sensor verify` reports the cut line).
            self.out.write_all(b"\n")?;
            self.size += 1;
        }
        let mut chain = match chain::head_of(&tail) {
            Some(head) => Chain::new(key, head),
            None => Chain::new(key, Head::genesis()),
        };
        if chain.head().seq == 0 {
            self.sealed.clear();
            chain.checkpoint("open", crate::timestamp::now_unix_ns(), &mut self.sealed);
            self.out.write_all(&self.sealed)?;
            self.size += self.sealed.len() as u64;
        }
        self.chain = Some(chain);
        Ok(self)
    }

    /// Deletes rotated files older than `days` (0: kept by count only), now
    /// and after every rotation, and at least hourly on `flush`.
    pub fn keep_days(mut self, days: u64) -> Self {
        if days > 0 && !is_stdout(&self.path) {
            self.max_age = Some(Duration::from_secs(days.saturating_mul(86_400)));
            self.prune_old();
        }
        self
    }

    /// Writes the `shutdown` checkpoint (chained files) and flushes: the
    /// end of a run.
    pub fn close(&mut self) -> io::Result<()> {
        if let Some(chain) = &mut self.chain {
            self.sealed.clear();
            chain.checkpoint(
                "shutdown",
                crate::timestamp::now_unix_ns(),
                &mut self.sealed,
            );
            self.out.write_all(&self.sealed)?;
            self.size += self.sealed.len() as u64;
        }
        self.flush()
    }

    /// Rotates the file once it would grow past `max_bytes`, keeping `keep`
    /// rotated files. No effect on stdout.
    pub fn rotate_at(mut self, max_bytes: u64, keep: usize) -> Self {
        if !is_stdout(&self.path) && max_bytes > 0 {
            self.rotation = Some(Rotation { max_bytes, keep });
        }
        self
    }

    pub fn write<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.write_line()
    }

    /// Writes one line that `fill` writes as JSON (a value with a writer
    /// of its own, such as an exchange record).
    pub fn write_with(
        &mut self,
        fill: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> io::Result<()> {
        self.line.clear();
        fill(&mut self.line).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.write_line()
    }

    /// Writes `self.line`, rotating first when it would not fit.
    fn write_line(&mut self) -> io::Result<()> {
        if let Some(rotation) = self.rotation {
            let seal = if self.chain.is_some() {
                chain::SEAL_OVERHEAD
            } else {
                0
            };
            let len = self.line.len() as u64 + seal;
            if self.size > 0 && self.size + len > rotation.max_bytes {
                self.rotate(rotation)?;
            }
        }
        if let Some(chain) = &mut self.chain {
            self.sealed.clear();
            let json = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            chain.seal(json, &mut self.sealed);
            std::mem::swap(&mut self.line, &mut self.sealed);
        }
        self.out.write_all(&self.line)?;
        self.size += self.line.len() as u64;
        self.written += 1;
        Ok(())
    }

    /// Writes one line that is already JSON (an alert serialised once and
    /// shared with the remote sinks).
    pub fn write_raw(&mut self, json: &[u8]) -> io::Result<()> {
        self.line.clear();
        self.line.extend_from_slice(json);
        self.line.push(b'\n');
        self.write_line()
    }

    fn rotate(&mut self, rotation: Rotation) -> io::Result<()> {
        if let Some(chain) = &mut self.chain {
            self.sealed.clear();
            chain.checkpoint(
                "rotation",
                crate::timestamp::now_unix_ns(),
                &mut self.sealed,
            );
            self.out.write_all(&self.sealed)?;
        }
        self.out.flush()?;
        let numbered = |n: usize| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if rotation.keep == 0 {
            ignore_missing(std::fs::remove_file(&self.path))?;
        } else {
            for n in (1..rotation.keep).rev() {
                ignore_missing(std::fs::rename(numbered(n), numbered(n + 1)))?;
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.out = BufWriter::with_capacity(64 * 1024, Box::new(open_private(&self.path)?));
        self.size = 0;
        if let Some(chain) = &mut self.chain {
            self.sealed.clear();
            chain.checkpoint("open", crate::timestamp::now_unix_ns(), &mut self.sealed);
            self.out.write_all(&self.sealed)?;
            self.size += self.sealed.len() as u64;
        }
        self.prune_old();
        Ok(())
    }

    /// Makes everything written so far visible to readers (`tail -f`).
    pub fn flush(&mut self) -> io::Result<()> {
        let due = self.max_age.is_some()
            && self
                .last_prune
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|e| e >= PRUNE_EVERY);
        if due {
            self.prune_old();
        }
        self.out.flush()
    }

    /// Deletes rotated files (`PATH.N`) last written more than `max_age`
    /// ago. Best effort: a file that cannot be read or removed stays, and
    /// the next pass tries again.
    fn prune_old(&mut self) {
        let Some(max_age) = self.max_age else {
            return;
        };
        self.last_prune = Some(SystemTime::now());
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let prefix = format!("{}.", name.to_string_lossy());
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            let numbered = file_name
                .strip_prefix(&prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > max_age);
            if numbered && old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn written(&self) -> u64 {
        self.written
    }
}

fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn open_private(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// The last `max` bytes of `path` (empty when it does not exist).
fn read_tail(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    Ok(tail)
}

fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_lines_to_a_private_file() {
        let dir = std::env::temp_dir().join(format!("sensor-jsonl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut out = JsonLines::open(&path).unwrap();
        out.write(&serde_json::json!({"a": 1})).unwrap();
        out.write(&serde_json::json!({"b": "x\ny"})).unwrap();
        out.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":\"x\\ny\"}\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotates_by_size_and_keeps_the_newest_files() {
        let dir = std::env::temp_dir().join(format!("sensor-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("alerts.jsonl");
        // Each line is `{"n":N}\n`: 8 bytes for N < 10, 9 bytes after.
        let mut out = JsonLines::open(&path).unwrap().rotate_at(20, 2);
        for n in 0..12 {
            out.write(&serde_json::json!({ "n": n })).unwrap();
        }
        out.flush().unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert_eq!(read("alerts.jsonl"), "{\"n\":10}\n{\"n\":11}\n");
        assert_eq!(read("alerts.jsonl.1"), "{\"n\":8}\n{\"n\":9}\n");
        assert_eq!(read("alerts.jsonl.2"), "{\"n\":6}\n{\"n\":7}\n");
        assert!(!dir.join("alerts.jsonl.3").exists());
        for name in ["alerts.jsonl", "alerts.jsonl.1", "alerts.jsonl.2"] {
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        // Reopening continues the current file and counts what it holds.
        let mut again = JsonLines::open(&path).unwrap().rotate_at(20, 2);
        again.write(&serde_json::json!({ "n": 12 })).unwrap();
        again.flush().unwrap();
        assert_eq!(read("alerts.jsonl"), "{\"n\":12}\n");
        assert_eq!(read("alerts.jsonl.1"), "{\"n\":10}\n{\"n\":11}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
