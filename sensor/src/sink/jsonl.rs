//! JSON lines output: one object per line, to a file (created 0600, so
//! what the sensor found is readable only by its owner) or to stdout.
//! Files can rotate by size: `alerts.jsonl` becomes `alerts.jsonl.1`, the
//! older ones shift up, and the oldest past the number kept is deleted.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub struct JsonLines {
    out: BufWriter<Box<dyn Write + Send>>,
    path: PathBuf,
    written: u64,
    /// Bytes in the current file (appended to, so it may start non-zero).
    size: u64,
    rotation: Option<Rotation>,
    /// One serialised line, reused so rotation can see its length first.
    line: Vec<u8>,
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
        })
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

    /// Writes `self.line`, rotating first when it would not fit.
    fn write_line(&mut self) -> io::Result<()> {
        if let Some(rotation) = self.rotation {
            let len = self.line.len() as u64;
            if self.size > 0 && self.size + len > rotation.max_bytes {
                self.rotate(rotation)?;
            }
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
        Ok(())
    }

    /// Makes everything written so far visible to readers (`tail -f`).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
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
