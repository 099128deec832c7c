//! JSON lines output: one object per line, to a file (created 0600, so
//! what the sensor found is readable only by its owner) or to stdout.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub struct JsonLines {
    out: BufWriter<Box<dyn Write + Send>>,
    path: PathBuf,
    written: u64,
}

impl JsonLines {
    /// Opens `path` for appending (`-` is stdout).
    pub fn open(path: &Path) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(io::stdout())
        } else {
            Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)?,
            )
        };
        Ok(Self {
            out: BufWriter::with_capacity(64 * 1024, out),
            path: path.to_owned(),
            written: 0,
        })
    }

    pub fn write<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.written += 1;
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
}
