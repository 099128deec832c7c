//! Where TLS libraries are looked for: the files running processes map,
//! and the system library directories, so that a library no process had
//! mapped at start-up is already attached when the first one loads it.

use std::fs;
use std::path::{Path, PathBuf};

use super::proc_maps::{self, FileId};

/// A file to examine, with the path the agent opens it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: FileId,
    /// The path the process maps it from (what `exclude` matches and logs show).
    pub path: PathBuf,
    /// A path that reaches the same file from the agent's mount namespace.
    pub open_path: PathBuf,
}

/// Names of the TLS libraries in the system directories.
const LIBRARY_PREFIXES: &[&str] = &["libssl.so", "libgnutls.so", "libboringssl"];

/// System library directories, the multiarch ones included.
pub fn standard_library_dirs() -> Vec<PathBuf> {
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    let mut dirs: Vec<PathBuf> = ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"]
        .into_iter()
        .map(PathBuf::from)
        .collect();
    dirs.push(Path::new("/lib").join(&multiarch));
    dirs.push(Path::new("/usr/lib").join(&multiarch));
    dirs
}

/// TLS libraries installed in the system directories.
pub fn system_libraries() -> Vec<Candidate> {
    let mut out = Vec::new();
    for dir in standard_library_dirs() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !LIBRARY_PREFIXES.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let path = entry.path();
            // Symlinks (libssl.so -> libssl.so.3) lead to the same inode.
            if let Ok(metadata) = fs::metadata(&path) {
                if metadata.is_file() {
                    out.push(Candidate {
                        id: FileId::of(&metadata),
                        open_path: path.clone(),
                        path,
                    });
                }
            }
        }
    }
    out
}

/// A file named in the config.
pub fn configured(path: &Path) -> Option<Candidate> {
    let metadata = fs::metadata(path).ok()?;
    Some(Candidate {
        id: FileId::of(&metadata),
        path: path.to_owned(),
        open_path: path.to_owned(),
    })
}

/// Every process id under `proc_root`.
pub fn pids(proc_root: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The files process `pid` maps executable. A process that is gone, or
/// whose maps cannot be read, has none.
pub fn process_files(proc_root: &Path, pid: u32) -> Vec<Candidate> {
    let process = proc_root.join(pid.to_string());
    let Ok(maps) = fs::read(process.join("maps")) else {
        return Vec::new();
    };
    proc_maps::executable_files(&maps)
        .into_iter()
        .filter_map(|file| {
            let open_path = reachable_path(&process, &file.path, file.id)?;
            Some(Candidate {
                id: file.id,
                path: file.path,
                open_path,
            })
        })
        .collect()
}

/// The process's path when it names the same file here; else the same
/// path through the process's root (a container's own filesystem).
fn reachable_path(process: &Path, path: &Path, id: FileId) -> Option<PathBuf> {
    if fs::metadata(path).is_ok_and(|m| FileId::of(&m) == id) {
        return Some(path.to_owned());
    }
    let through_root = process.join("root").join(path.strip_prefix("/").ok()?);
    fs::metadata(&through_root).is_ok().then_some(through_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_with_its_executable() {
        let files = process_files(Path::new("/proc"), std::process::id());
        let exe = std::env::current_exe().unwrap();
        assert_eq!(files[0].open_path, exe);
        assert!(pids(Path::new("/proc")).contains(&std::process::id()));
        assert!(process_files(Path::new("/proc"), u32::MAX).is_empty());
    }

    #[test]
    fn system_libraries_are_tls_libraries_with_their_inode() {
        for candidate in system_libraries() {
            let name = candidate.path.file_name().unwrap().to_string_lossy();
            assert!(LIBRARY_PREFIXES.iter().any(|p| name.starts_with(p)));
            let metadata = fs::metadata(&candidate.open_path).unwrap();
            assert_eq!(FileId::of(&metadata), candidate.id);
        }
    }
}
