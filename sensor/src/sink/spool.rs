//! A disk-backed queue of batches for a sink whose receiver may be down:
//! one file per batch, written before the first delivery attempt and
//! removed once the receiver acknowledged it, so neither an outage nor a
//! restart of the sensor loses an alert. Bounded: past `max_bytes` the
//! oldest batches are deleted and counted.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

const SUFFIX: &str = ".batch";

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    next_seq: u64,
    /// (sequence number, size) of each batch, oldest first.
    batches: VecDeque<(u64, u64)>,
    bytes: u64,
    pub dropped_batches: u64,
    pub dropped_bytes: u64,
}

impl Spool {
    /// Opens (or creates, mode 0700) the spool directory and picks up the
    /// batches a previous run left unacknowledged.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mut batches = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // A write the previous run did not finish.
                let _ = fs::remove_file(entry.path());
                continue;
            }
            if let Some(seq) = name.strip_suffix(SUFFIX).and_then(|s| s.parse().ok()) {
                batches.push((seq, entry.metadata()?.len()));
            }
        }
        batches.sort_unstable();
        let next_seq = batches.last().map_or(0, |(seq, _)| seq + 1);
        let bytes = batches.iter().map(|(_, size)| size).sum();
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            next_seq,
            batches: batches.into(),
            bytes,
            dropped_batches: 0,
            dropped_bytes: 0,
        })
    }

    /// Adds a batch after the others, then drops the oldest ones while the
    /// spool is over its size (never the batch just added).
    pub fn push(&mut self, body: &[u8]) -> io::Result<()> {
        let seq = self.next_seq;
        let tmp = self.dir.join(format!("{seq:020}.tmp"));
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(body)?;
        file.sync_data()?;
        fs::rename(&tmp, self.path(seq))?;
        self.next_seq += 1;
        self.batches.push_back((seq, body.len() as u64));
        self.bytes += body.len() as u64;
        while self.bytes > self.max_bytes && self.batches.len() > 1 {
            let (old, size) = self.batches.pop_front().expect("more than one batch");
            fs::remove_file(self.path(old))?;
            self.bytes -= size;
            self.dropped_batches += 1;
            self.dropped_bytes += size;
        }
        Ok(())
    }

    /// The oldest batch, to be sent next.
    pub fn oldest(&self) -> Option<io::Result<Vec<u8>>> {
        let &(seq, _) = self.batches.front()?;
        Some(fs::read(self.path(seq)))
    }

    /// The receiver took the oldest batch.
    pub fn acknowledge_oldest(&mut self) -> io::Result<()> {
        if let Some((seq, size)) = self.batches.pop_front() {
            self.bytes -= size;
            fs::remove_file(self.path(seq))?;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}{SUFFIX}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sensor-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn keeps_order_across_reopen_and_drops_oldest_past_its_size() {
        let dir = scratch("order");
        let mut spool = Spool::open(&dir, 10).unwrap();
        spool.push(b"aaaa").unwrap();
        spool.push(b"bbbb").unwrap();
        assert_eq!(spool.oldest().unwrap().unwrap(), b"aaaa");
        // A restart finds both, in order, and leftovers of a torn write go.
        fs::write(dir.join("00000000000000000009.tmp"), b"torn").unwrap();
        let mut spool = Spool::open(&dir, 10).unwrap();
        assert_eq!((spool.len(), spool.bytes()), (2, 8));
        assert!(!dir.join("00000000000000000009.tmp").exists());
        spool.push(b"cccc").unwrap();
        assert_eq!(
            (spool.len(), spool.dropped_batches, spool.dropped_bytes),
            (2, 1, 4)
        );
        assert_eq!(spool.oldest().unwrap().unwrap(), b"bbbb");
        spool.acknowledge_oldest().unwrap();
        assert_eq!(spool.oldest().unwrap().unwrap(), b"cccc");
        spool.acknowledge_oldest().unwrap();
        assert!(spool.is_empty() && spool.oldest().is_none());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        // One batch larger than the whole spool is still kept.
        spool.push(&[b'x'; 50]).unwrap();
        assert_eq!(spool.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
