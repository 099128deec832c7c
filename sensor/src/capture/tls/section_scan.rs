//! A file section searched a piece at a time: a program's string tables
//! and `.rodata` can be tens of megabytes, which the sensor would
//! otherwise hold at start-up to look for a few bytes.

use std::fs::File;
use std::io::{Read, Seek as _, SeekFrom};
use std::path::Path;

/// Bytes read at a time.
pub(super) const PIECE: usize = 1 << 20;

/// True when `found` holds in the `size` bytes at `offset` of the file at
/// `path` (see `stream_any`); false when the file cannot be read.
pub(super) fn section_any(
    path: &Path,
    (offset, size): (u64, u64),
    overlap: usize,
    found: impl Fn(&[u8]) -> bool,
) -> bool {
    File::open(path)
        .and_then(|mut file| {
            file.seek(SeekFrom::Start(offset))?;
            stream_any(file.take(size), overlap, found)
        })
        .unwrap_or(false)
}

/// True when `found` holds in a piece of `bytes`. Each piece starts with
/// the previous one's last `overlap` bytes, so a match no longer than
/// `overlap` across two pieces is found too.
pub(super) fn stream_any(
    mut bytes: impl Read,
    overlap: usize,
    found: impl Fn(&[u8]) -> bool,
) -> std::io::Result<bool> {
    let mut buf = vec![0u8; PIECE + overlap];
    let mut kept = 0;
    loop {
        let n = bytes.read(&mut buf[kept..kept + PIECE])?;
        if n == 0 {
            return Ok(false);
        }
        let end = kept + n;
        if found(&buf[..end]) {
            return Ok(true);
        }
        let keep = overlap.min(end);
        buf.copy_within(end - keep..end, 0);
        kept = keep;
    }
}
