//! `sensor tail`: follows an alerts file like `tail -F`, through rotation
//! (the file renamed and a new one created) and truncation, and prints one
//! readable line per alert.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

pub use crate::alert::render::{render, severity_rank, Filter, CATEGORIES, SEVERITIES};

/// How often the file is checked for new lines and rotation.
const POLL: Duration = Duration::from_millis(200);

/// Longest line kept; a longer one is cut (alerts are far shorter).
const MAX_LINE: usize = 1 << 20;

pub struct TailOptions {
    pub path: PathBuf,
    pub filter: Filter,
    /// Pass lines through unchanged instead of rendering them.
    pub json: bool,
    pub color: bool,
    /// Lines already in the file shown before following, counted after
    /// the filter (the last `last` alerts that pass it).
    pub last: usize,
    /// Stop at the end of the file instead of following.
    pub once: bool,
}

/// Runs until the output closes (a pipe's reader went away) or, with
/// `once`, the end of the file.
pub fn tail(options: &TailOptions, out: &mut impl Write) -> anyhow::Result<()> {
    let mut current = wait_for_file(&options.path, options.once)?;
    let mut printer = Printer { options, out };
    let backlog: Vec<String> = current
        .read_lines()?
        .iter()
        .filter_map(|line| printer.shown(line))
        .collect();
    let skip = backlog.len().saturating_sub(options.last);
    for text in &backlog[skip..] {
        if !printer.write(text)? {
            return Ok(());
        }
    }
    loop {
        for line in current.read_lines()? {
            if !printer.print(&line)? {
                return Ok(());
            }
        }
        if options.once {
            return Ok(());
        }
        std::thread::sleep(POLL);
        match current.changed(&options.path)? {
            Change::None => {}
            Change::Truncated => current.rewind()?,
            Change::Replaced => {
                // The old file may have gained lines after our last read.
                for line in current.read_lines()? {
                    if !printer.print(&line)? {
                        return Ok(());
                    }
                }
                current = Followed::open(&options.path)?;
            }
        }
    }
}

struct Printer<'a, W: Write> {
    options: &'a TailOptions,
    out: &'a mut W,
}

impl<W: Write> Printer<'_, W> {
    /// Prints one line if the filter passes it; false when the output is gone.
    fn print(&mut self, line: &str) -> anyhow::Result<bool> {
        match self.shown(line) {
            Some(text) => self.write(&text),
            None => Ok(true),
        }
    }

    /// What one line prints as, or None when the filter drops it.
    fn shown(&self, line: &str) -> Option<String> {
        Some(match serde_json::from_str::<serde_json::Value>(line) {
            // The chain's checkpoints (file opened, rotated, sensor
            // stopped): one quiet line for people, nothing for machines
            // that expect alerts, nothing when filtering.
            Ok(point) if point.get("checkpoint").is_some() => {
                let filtered = self.options.filter.min_severity > 0
                    || !self.options.filter.categories.is_empty();
                if self.options.json || filtered {
                    return None;
                }
                render_checkpoint(&point)
            }
            Ok(alert) if self.options.filter.accepts(&alert) => {
                if self.options.json {
                    line.to_owned()
                } else {
                    render(&alert, self.options.color)
                }
            }
            Ok(_) => return None,
            // Not an alert (a partial write from a crashed writer, or the
            // wrong file): show it rather than hide it.
            Err(_) if self.options.json => line.to_owned(),
            Err(_) => format!("(not an alert) {line}"),
        })
    }

    /// False when the output is gone.
    fn write(&mut self, text: &str) -> anyhow::Result<bool> {
        match writeln!(self.out, "{text}").and_then(|()| self.out.flush()) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(err) => Err(err.into()),
        }
    }
}

/// `time  ·  checkpoint shutdown (seq 42)`.
fn render_checkpoint(point: &serde_json::Value) -> String {
    format!(
        "{}  ·         checkpoint {} (seq {})",
        point["ts"].as_str().unwrap_or("-"),
        point["checkpoint"].as_str().unwrap_or("-"),
        point["seq"]
            .as_u64()
            .map_or("-".to_owned(), |n| n.to_string()),
    )
}

enum Change {
    None,
    Truncated,
    Replaced,
}

struct Followed {
    reader: BufReader<File>,
    inode: (u64, u64),
    position: u64,
    /// Bytes of a line whose newline has not been written yet.
    partial: Vec<u8>,
}

impl Followed {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let meta = file.metadata()?;
        Ok(Self {
            reader: BufReader::new(file),
            inode: (meta.dev(), meta.ino()),
            position: 0,
            partial: Vec::new(),
        })
    }

    /// Complete lines written since the last call.
    fn read_lines(&mut self) -> anyhow::Result<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let mut chunk = Vec::new();
            let n = std::io::Read::take(&mut self.reader, MAX_LINE as u64)
                .read_until(b'\n', &mut chunk)?;
            if n == 0 {
                return Ok(lines);
            }
            self.position += n as u64;
            self.partial.extend_from_slice(&chunk);
            if self.partial.ends_with(b"\n") || self.partial.len() >= MAX_LINE {
                let line = String::from_utf8_lossy(&self.partial)
                    .trim_end_matches(['\n', '\r'])
                    .to_owned();
                self.partial.clear();
                if !line.is_empty() {
                    lines.push(line);
                }
            }
        }
    }

    fn changed(&self, path: &Path) -> anyhow::Result<Change> {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            // Between a rotation's rename and the new file: keep waiting.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Change::None),
            Err(err) => return Err(err.into()),
        };
        if (meta.dev(), meta.ino()) != self.inode {
            Ok(Change::Replaced)
        } else if meta.len() < self.position {
            Ok(Change::Truncated)
        } else {
            Ok(Change::None)
        }
    }

    fn rewind(&mut self) -> anyhow::Result<()> {
        self.reader.seek(SeekFrom::Start(0))?;
        self.position = 0;
        self.partial.clear();
        Ok(())
    }
}

/// Opens the file, waiting for it to appear unless `once`.
fn wait_for_file(path: &Path, once: bool) -> anyhow::Result<Followed> {
    let mut warned = false;
    loop {
        match Followed::open(path) {
            Ok(followed) => return Ok(followed),
            Err(err) if once => return Err(err),
            Err(_) => {
                if !warned {
                    eprintln!("waiting for {} to appear", path.display());
                    warned = true;
                }
                std::thread::sleep(POLL);
            }
        }
    }
}
