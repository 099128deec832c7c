//! Parses `/proc/PID/maps`: the files a process maps executable, with the
//! device and inode that identify them whatever path they are reached by.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;

/// A file, as the kernel identifies it: uprobes belong to the inode, so one
/// attachment covers every process mapping it under any path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub major: u32,
    pub minor: u32,
    pub inode: u64,
}

impl FileId {
    pub fn of(metadata: &std::fs::Metadata) -> Self {
        let dev = metadata.dev();
        Self {
            major: libc::major(dev),
            minor: libc::minor(dev),
            inode: metadata.ino(),
        }
    }
}

/// A file a process maps with execute permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedFile {
    pub id: FileId,
    /// The path as the process sees it (in its own mount namespace).
    pub path: PathBuf,
}

/// Every distinct file mapped executable in `maps`, in order of first
/// mapping (the program itself comes first). Deleted files are skipped:
/// nothing can open them to read their symbols.
pub fn executable_files(maps: &[u8]) -> Vec<MappedFile> {
    let mut out: Vec<MappedFile> = Vec::new();
    for line in maps.split(|&b| b == b'\n') {
        let Some(file) = parse_line(line) else {
            continue;
        };
        if !out.iter().any(|f| f.id == file.id) {
            out.push(file);
        }
    }
    out
}

/// `start-end perms offset major:minor inode path`, the path possibly
/// containing spaces.
fn parse_line(line: &[u8]) -> Option<MappedFile> {
    let mut rest = line;
    let mut fields = [&b""[..]; 5];
    for field in &mut fields {
        rest = rest.trim_ascii_start();
        let end = rest.iter().position(u8::is_ascii_whitespace)?;
        *field = &rest[..end];
        rest = &rest[end..];
    }
    let [_, perms, _, dev, inode] = fields;
    let path = rest.trim_ascii();
    if perms.get(2) != Some(&b'x') || !path.starts_with(b"/") || path.ends_with(b" (deleted)") {
        return None;
    }
    let (major, minor) = std::str::from_utf8(dev).ok()?.split_once(':')?;
    let inode: u64 = std::str::from_utf8(inode).ok()?.parse().ok()?;
    if inode == 0 {
        return None;
    }
    Some(MappedFile {
        id: FileId {
            major: u32::from_str_radix(major, 16).ok()?,
            minor: u32::from_str_radix(minor, 16).ok()?,
            inode,
        },
        path: PathBuf::from(OsStr::from_bytes(path)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_file_mappings_are_listed_once() {
        let maps = b"\
55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1311 /usr/bin/curl
55d0c0a02000-55d0c0a10000 r-xp 00002000 fd:01 1311 /usr/bin/curl
7f1a2b000000-7f1a2b020000 r--p 00000000 fd:01 2207 /usr/lib/x86_64-linux-gnu/libssl.so.3
7f1a2b020000-7f1a2b080000 r-xp 00020000 fd:01 2207 /usr/lib/x86_64-linux-gnu/libssl.so.3
7f1a2c000000-7f1a2c010000 r-xp 00000000 103:02 99 /opt/my app/lib tls.so
7f1a2d000000-7f1a2d010000 r-xp 00000000 fd:01 77 /tmp/old.so (deleted)
7f1a2e000000-7f1a2e021000 rw-p 00000000 00:00 0 
7ffd1c1f0000-7ffd1c1f2000 r-xp 00000000 00:00 0                          [vdso]
garbage
";
        let files = executable_files(maps);
        let shown: Vec<(FileId, &str)> = files
            .iter()
            .map(|f| (f.id, f.path.to_str().unwrap()))
            .collect();
        let id = |major, minor, inode| FileId {
            major,
            minor,
            inode,
        };
        assert_eq!(
            shown,
            vec![
                (id(0xfd, 1, 1311), "/usr/bin/curl"),
                (id(0xfd, 1, 2207), "/usr/lib/x86_64-linux-gnu/libssl.so.3"),
                (id(0x103, 2, 99), "/opt/my app/lib tls.so"),
            ]
        );
    }

    #[test]
    fn this_process_maps_its_own_executable_first() {
        let maps = std::fs::read("/proc/self/maps").unwrap();
        let files = executable_files(&maps);
        let exe = std::fs::metadata(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(files[0].id, FileId::of(&exe));
    }
}
