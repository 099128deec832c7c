//! `sensor verify`: checks the hash chain of an alerts file, or of a
//! rotated set (`alerts.jsonl.3` ... `alerts.jsonl`, put in order however
//! they are given), and names the first line that was changed, removed or
//! inserted, or a tail that was cut.
//!
//! How each break is told apart, at the first line whose chain does not
//! follow: a `seq` that jumps means lines were removed before it; a `seq`
//! that does not move on means a line was inserted; a line whose
//! successor still follows its predecessor was inserted; otherwise the
//! line itself was changed. A log must end with a `shutdown` (or, for a
//! rotated file on its own, `rotation`) checkpoint: one that ends without
//! was cut, or is still being written.

use std::fmt;
use std::path::{Path, PathBuf};

use super::chain::{ChainKey, Head, Sealed};

/// Where the verification stopped, or what it found intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every line follows; the log ends with a checkpoint.
    Intact {
        lines: u64,
        first_seq: u64,
        last_seq: u64,
    },
    /// The first problem: the file, its line (from 1), and what is wrong.
    Broken {
        file: PathBuf,
        line: u64,
        problem: Problem,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The line's content does not match its chain.
    Changed,
    /// Lines before this one are missing (`seq` jumps).
    Removed { missing: u64 },
    /// This line was not written by the sensor.
    Inserted,
    /// The line carries no chain (written before chaining, or damaged).
    NotSealed,
    /// The line has no newline: the file was cut in the middle of it.
    Incomplete,
    /// The set does not start with an `open` checkpoint: lines were
    /// removed from its start.
    NoOpening,
    /// The log ends without a closing checkpoint after this line.
    NoClosing,
    /// No line at all.
    Empty,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Intact {
                lines,
                first_seq,
                last_seq,
            } => write!(
                f,
                "intact: {lines} lines (seq {first_seq} to {last_seq}), closed by a checkpoint"
            ),
            Verdict::Broken {
                file,
                line,
                problem,
            } => {
                let file = file.display();
                match problem {
                    Problem::Changed => write!(f, "{file} line {line}: changed (its content does not match its chain)"),
                    Problem::Removed { missing } => write!(f, "{file} line {line}: {missing} line(s) removed before it (its seq skips them)"),
                    Problem::Inserted => write!(f, "{file} line {line}: inserted (not written by the sensor: the next line follows the one before it)"),
                    Problem::NotSealed => write!(f, "{file} line {line}: carries no chain (written before chaining, or damaged)"),
                    Problem::Incomplete => write!(f, "{file} line {line}: cut in the middle (no newline): the file was truncated"),
                    Problem::NoOpening => write!(f, "{file} line {line}: not the opening checkpoint a log starts with: lines were removed before it"),
                    Problem::NoClosing => write!(f, "{file} line {line}: the log ends here without a shutdown or rotation checkpoint: its tail was cut, or the sensor is still writing to it"),
                    Problem::Empty => write!(f, "{file}: empty, nothing to verify"),
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("reading {}: {source}", path.display())]
pub struct VerifyError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// `files` in log order: `NAME.N` (highest N first), then files without a
/// number, each group in the order given.
pub fn log_order(files: &[PathBuf]) -> Vec<PathBuf> {
    let number = |p: &Path| -> Option<u64> {
        p.extension()
            .and_then(|e| e.to_str())
            .and_then(|e| e.parse().ok())
    };
    let mut sorted = files.to_vec();
    sorted.sort_by_key(|p| std::cmp::Reverse(number(p).map_or(0, |n| n + 1)));
    sorted
}

/// Verifies `files` as one log, in log order.
pub fn verify(key: &ChainKey, files: &[PathBuf]) -> Result<Verdict, VerifyError> {
    let mut lines: Vec<(usize, u64, Vec<u8>, bool)> = Vec::new();
    let files = log_order(files);
    for (index, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path).map_err(|source| VerifyError {
            path: path.clone(),
            source,
        })?;
        let complete = bytes.ends_with(b"\n");
        let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        if complete || bytes.is_empty() {
            pieces.pop();
        }
        let last = pieces.len();
        for (n, piece) in pieces.into_iter().enumerate() {
            let whole = complete || n + 1 < last;
            lines.push((index, n as u64 + 1, piece.to_vec(), whole));
        }
    }
    let broken = |index: usize, line: u64, problem| Verdict::Broken {
        file: files.get(index).cloned().unwrap_or_default(),
        line,
        problem,
    };
    if lines.is_empty() {
        return Ok(broken(0, 0, Problem::Empty));
    }
    let mut head: Option<Head> = None;
    let mut first_seq = 0;
    for (i, (index, line, text, whole)) in lines.iter().enumerate() {
        if !whole {
            return Ok(broken(*index, *line, Problem::Incomplete));
        }
        let Some(sealed) = Sealed::parse(text) else {
            return Ok(broken(*index, *line, Problem::NotSealed));
        };
        let prev = match &head {
            Some(head) => head.clone(),
            None => {
                // The first line of the set names the chain it continues.
                let Some(prev) = sealed
                    .prev()
                    .filter(|_| sealed.checkpoint() == Some("open"))
                else {
                    return Ok(broken(*index, *line, Problem::NoOpening));
                };
                first_seq = sealed.seq;
                Head {
                    chain: prev.to_owned(),
                    seq: sealed.seq - 1,
                }
            }
        };
        if sealed.seq == prev.seq + 1 && key.link(&prev.chain, sealed.content) == sealed.chain {
            head = Some(Head {
                chain: sealed.chain.to_owned(),
                seq: sealed.seq,
            });
            continue;
        }
        let problem = if sealed.seq > prev.seq + 1 {
            Problem::Removed {
                missing: sealed.seq - prev.seq - 1,
            }
        } else if sealed.seq <= prev.seq || follows(key, &prev, lines.get(i + 1)) {
            Problem::Inserted
        } else {
            Problem::Changed
        };
        return Ok(broken(*index, *line, problem));
    }
    let (index, line, text, _) = lines.last().expect("not empty");
    let closed = Sealed::parse(text)
        .and_then(|s| s.checkpoint())
        .is_some_and(|c| c == "shutdown" || c == "rotation");
    if !closed {
        return Ok(broken(*index, *line, Problem::NoClosing));
    }
    Ok(Verdict::Intact {
        lines: lines.len() as u64,
        first_seq,
        last_seq: head.map_or(0, |h| h.seq),
    })
}

/// Whether `next` follows `prev` directly (so the line between them was
/// inserted).
fn follows(key: &ChainKey, prev: &Head, next: Option<&(usize, u64, Vec<u8>, bool)>) -> bool {
    next.and_then(|(_, _, text, _)| Sealed::parse(text))
        .is_some_and(|s| s.seq == prev.seq + 1 && key.link(&prev.chain, s.content) == s.chain)
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
