//! Who a captured process is, beyond its pid and name: the executable, the
//! user it runs as, and the container it runs in (from its cgroup), read
//! once per process from /proc and kept until the process exits or starts
//! a new program. A short-lived process (a curl) may be gone from /proc
//! before its first connection is looked up: then the program path and
//! user the kernel reported at its exec stand in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Path of the executable (`/proc/PID/exe`).
    pub exe: Option<String>,
    /// Real user id.
    pub uid: Option<u32>,
    /// Container id (64 hex digits) when the process runs in a container
    /// managed by Docker, containerd, CRI-O or Podman.
    pub container_id: Option<String>,
    /// The Kubernetes pod of that container, when the API server knows it.
    /// Looked up per connection, not cached with the rest: a new pod's
    /// first connections may come before the sensor's next pod listing.
    pub pod: Option<super::kubernetes::PodMeta>,
}

impl ProcessInfo {
    pub fn read(proc_root: &Path, pid: u32) -> Self {
        let dir = proc_root.join(pid.to_string());
        let exe = std::fs::read_link(dir.join("exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let uid = std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|status| real_uid(&status));
        let container_id = std::fs::read_to_string(dir.join("cgroup"))
            .ok()
            .and_then(|cgroup| container_id(&cgroup));
        Self {
            exe,
            uid,
            container_id,
            pod: None,
        }
    }
}

/// The real uid from the `Uid:` line of /proc/PID/status.
pub fn real_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The container id in a /proc/PID/cgroup file: the innermost path
/// segment that is, or ends in, 64 hex digits (`docker-<id>.scope`,
/// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `libpod-<id>.scope`,
/// `/docker/<id>`, `/kubepods/.../<id>`).
pub fn container_id(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        path.rsplit('/').find_map(|segment| {
            let segment = segment.strip_suffix(".scope").unwrap_or(segment);
            let id = segment.rsplit(['-', ':']).next()?;
            (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| id.to_ascii_lowercase())
        })
    })
}

/// Process facts by pid, read on first use. Bounded: past `capacity` the
/// whole cache is dropped and refilled (processes are few next to
/// connections; eviction is counted).
#[derive(Debug)]
pub struct ProcessCache {
    proc_root: PathBuf,
    entries: HashMap<u32, ProcessInfo>,
    /// What the kernel said at each process's last exec: path and uid.
    execs: HashMap<u32, (Option<String>, u32)>,
    capacity: usize,
    pub evictions: u64,
}

impl ProcessCache {
    pub fn new(proc_root: impl Into<PathBuf>, capacity: usize) -> Self {
        Self {
            proc_root: proc_root.into(),
            entries: HashMap::new(),
            execs: HashMap::new(),
            capacity: capacity.max(1),
            evictions: 0,
        }
    }

    pub fn get(&mut self, pid: u32) -> ProcessInfo {
        if let Some(info) = self.entries.get(&pid) {
            return info.clone();
        }
        if self.entries.len() >= self.capacity {
            self.evictions += self.entries.len() as u64;
            self.entries.clear();
        }
        let mut info = ProcessInfo::read(&self.proc_root, pid);
        if let Some((exe, uid)) = self.execs.get(&pid) {
            // /proc's link is the resolved path, so it wins when there.
            info.exe = info.exe.or_else(|| exe.clone());
            info.uid = info.uid.or(Some(*uid));
        }
        self.entries.insert(pid, info.clone());
        info
    }

    /// The process started a new program: read it again, and remember
    /// what the kernel saw in case the process is gone by then.
    pub fn program_started(&mut self, pid: u32, exe: Option<String>, uid: u32) {
        self.entries.remove(&pid);
        if self.execs.len() >= self.capacity && !self.execs.contains_key(&pid) {
            self.evictions += self.execs.len() as u64;
            self.execs.clear();
        }
        self.execs.insert(pid, (exe, uid));
    }

    /// The pid may be reused by another process from now on.
    pub fn forget(&mut self, pid: u32) {
        self.entries.remove(&pid);
        self.execs.remove(&pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e0a2b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

    #[test]
    fn container_ids_from_cgroup_files() {
        let cases: &[(&str, Option<&str>)] = &[
            (&format!("0::/system.slice/docker-{ID}.scope\n"), Some(ID)),
            (
                &format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c.slice/cri-containerd-{ID}.scope\n"),
                Some(ID),
            ),
            (&format!("0::/machine.slice/libpod-{ID}.scope/container\n"), Some(ID)),
            (&format!("0::/kubepods.slice/crio-{ID}.scope\n"), Some(ID)),
            (&format!("12:memory:/docker/{ID}\n11:cpu:/docker/{ID}\n"), Some(ID)),
            (&format!("0::/kubepods/besteffort/pod6e1b/{ID}\n"), Some(ID)),
            ("0::/user.slice/user-0.slice/session-3.scope\n", None),
            ("0::/init.scope\n", None),
            (&format!("0::/system.slice/docker-{}.scope\n", &ID[..63]), None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(container_id(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn uid_from_status() {
        assert_eq!(
            real_uid("Name:\tx\nUid:\t1000\t1000\t1000\t1000\n"),
            Some(1000)
        );
        assert_eq!(real_uid("Name:\tx\n"), None);
    }

    #[test]
    fn reads_this_process_and_caches_it() {
        let mut cache = ProcessCache::new("/proc", 2);
        let me = cache.get(std::process::id());
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me.exe.as_deref(), exe.to_str());
        // SAFETY: getuid has no preconditions.
        assert_eq!(me.uid, Some(unsafe { libc::getuid() }));
        assert_eq!(cache.get(std::process::id()), me);
        cache.get(1);
        cache.get(u32::MAX);
        assert_eq!(cache.evictions, 2);
        assert_eq!(cache.get(u32::MAX - 1), ProcessInfo::default());
    }

    #[test]
    fn a_process_gone_from_proc_is_named_by_its_exec() {
        let gone = u32::MAX - 2;
        let mut cache = ProcessCache::new("/proc", 8);
        cache.program_started(gone, Some("/usr/bin/curl".into()), 1000);
        let info = cache.get(gone);
        assert_eq!(info.exe.as_deref(), Some("/usr/bin/curl"));
        assert_eq!(info.uid, Some(1000));
        // A process still in /proc is named by /proc (the resolved path).
        let me = std::process::id();
        cache.program_started(me, Some("./relative".into()), 4242);
        let exe = std::env::current_exe().unwrap();
        assert_eq!(cache.get(me).exe.as_deref(), exe.to_str());
        // An exec makes what was read stale; an exit forgets the pid.
        cache.program_started(gone, Some("/usr/bin/wget".into()), 1000);
        assert_eq!(cache.get(gone).exe.as_deref(), Some("/usr/bin/wget"));
        cache.forget(gone);
        assert_eq!(cache.get(gone), ProcessInfo::default());
    }
}
