//! Which files get the probes: examines the files processes map (and the
//! system libraries, and `capture.tls.include`), each once, and hands the
//! ones defining TLS functions to the capture side, which attaches them.
//! After start-up this runs on its own thread: reading symbol tables is
//! file I/O, and the capture loop must never wait on it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::candidates::{self, Candidate};
use super::config::TlsConfig;
use super::go::{self, GoExamined, GoProbes};
use super::proc_maps::FileId;
use super::rescan::RescanQueue;
use super::rustls::{self, RustlsExamined, RustlsProbes};
use super::symbols::{self, FoundHook};

/// Files handed over for attachment at most: each costs two kernel probes
/// per function.
const MAX_ATTACHED_FILES: usize = 512;
/// Files remembered as examined and not attached; past it the memory is
/// cleared (re-examining a file costs time, never a second attachment).
const MAX_REMEMBERED_FILES: usize = 65_536;
/// New processes waiting for a look at their mappings.
const RESCAN_QUEUE: usize = 4096;
/// How long the thread sleeps when no scan is queued.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// A file to attach and the functions it defines: a TLS library's
/// (`hooks`), or a Go program's crypto/tls (`go`).
#[derive(Debug)]
pub struct Found {
    pub candidate: Candidate,
    pub hooks: Vec<FoundHook>,
    pub go: Option<GoProbes>,
    /// A program linking rustls: its plaintext functions.
    pub rustls: Option<RustlsProbes>,
}

/// What discovery counted, read by the capture side for the stats.
#[derive(Debug, Default)]
pub struct DiscoveryCounters {
    pub files_excluded: AtomicU64,
    pub files_over_limit: AtomicU64,
    pub rescans_dropped: AtomicU64,
    /// Go programs using crypto/tls that cannot be probed (Go before 1.13,
    /// a thread-local layout other than Go's own, not x86-64).
    pub go_unsupported: AtomicU64,
    /// Programs linking rustls that cannot be probed (stripped, a function
    /// inlined, not x86-64).
    pub rustls_unsupported: AtomicU64,
}

pub struct Discovery {
    config: TlsConfig,
    proc_root: PathBuf,
    /// Handed over for attachment.
    handed_over: HashSet<FileId>,
    /// Examined and not handed over (no TLS functions, excluded, unreadable).
    passed_over: HashSet<FileId>,
    rescans: RescanQueue,
    counters: Arc<DiscoveryCounters>,
}

impl Discovery {
    pub fn new(config: &TlsConfig, counters: Arc<DiscoveryCounters>) -> Self {
        Self {
            config: config.clone(),
            proc_root: PathBuf::from("/proc"),
            handed_over: HashSet::new(),
            passed_over: HashSet::new(),
            rescans: RescanQueue::new(RESCAN_QUEUE),
            counters,
        }
    }

    /// Everything to attach at start-up: the configured files, the system
    /// TLS libraries, and what every running process maps.
    pub fn at_start(&mut self) -> Vec<Found> {
        let mut found = Vec::new();
        for path in self.config.include.clone() {
            let configured = candidates::configured(&path);
            let id = configured.as_ref().map(|c| c.id);
            found.extend(configured.and_then(|c| self.consider(c)));
            if !id.is_some_and(|id| self.handed_over.contains(&id)) {
                tracing::warn!(
                    "capture.tls.include: {} is not attached: it cannot be read, defines none of the hooked TLS functions, or capture.tls.exclude matches it",
                    path.display()
                );
            }
        }
        let mut files = candidates::system_libraries();
        for pid in candidates::pids(&self.proc_root) {
            files.extend(candidates::process_files(&self.proc_root, pid));
        }
        found.extend(files.into_iter().filter_map(|c| self.consider(c)));
        found
    }

    /// The thread's loop: takes exec'd pids, looks at each process when its
    /// scans are due, hands over what it finds. Returns when either side
    /// of the capture is gone.
    pub fn run(mut self, execs: Receiver<(u32, Instant)>, found: SyncSender<Found>) {
        lowest_priority();
        loop {
            let wait = self.rescans.next_due().map_or(IDLE_WAIT, |due| {
                due.saturating_duration_since(Instant::now())
            });
            match execs.recv_timeout(wait) {
                Ok((pid, at)) => self.exec(pid, at),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok((pid, at)) = execs.try_recv() {
                self.exec(pid, at);
            }
            for pid in self.rescans.due(Instant::now(), usize::MAX) {
                for candidate in candidates::process_files(&self.proc_root, pid) {
                    let Some(file) = self.consider(candidate) else {
                        continue;
                    };
                    if found.send(file).is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn exec(&mut self, pid: u32, at: Instant) {
        if !self.rescans.exec(pid, at) {
            self.counters
                .rescans_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Examines a file not seen before; `Some` when it is to be attached.
    fn consider(&mut self, candidate: Candidate) -> Option<Found> {
        if self.handed_over.contains(&candidate.id) || self.passed_over.contains(&candidate.id) {
            return None;
        }
        let started = Instant::now();
        let examined = symbols::find_hooks(&candidate.open_path);
        tracing::trace!(
            "examined {} in {:?}",
            candidate.open_path.display(),
            started.elapsed()
        );
        let (hooks, go, rustls) = match examined {
            Ok(hooks) if hooks.iter().any(|h| h.hook.moves_data()) => (hooks, None, None),
            Ok(_) if !self.config.go => match self.rustls(&candidate) {
                Some(probes) => (Vec::new(), None, Some(probes)),
                None => return self.pass_over(candidate.id),
            },
            Ok(_) => match go::examine(&candidate.open_path) {
                Ok(GoExamined::Probes(probes)) => (Vec::new(), Some(probes), None),
                Ok(GoExamined::NotGoTls) | Err(_) => match self.rustls(&candidate) {
                    Some(probes) => (Vec::new(), None, Some(probes)),
                    None => return self.pass_over(candidate.id),
                },
                Ok(GoExamined::Unsupported(why)) => {
                    tracing::info!(
                        "HTTPS of {} will not be captured: it is {why}",
                        candidate.path.display()
                    );
                    self.counters.go_unsupported.fetch_add(1, Ordering::Relaxed);
                    return self.pass_over(candidate.id);
                }
            },
            Err(err) => {
                tracing::debug!("not a TLS library: {err}");
                return self.pass_over(candidate.id);
            }
        };
        if self.config.excludes(&candidate.path) || self.config.excludes(&candidate.open_path) {
            tracing::info!(
                "not attaching TLS probes to {}: capture.tls.exclude matches it",
                candidate.path.display()
            );
            self.counters.files_excluded.fetch_add(1, Ordering::Relaxed);
            return self.pass_over(candidate.id);
        }
        if self.handed_over.len() >= MAX_ATTACHED_FILES {
            if self
                .counters
                .files_over_limit
                .fetch_add(1, Ordering::Relaxed)
                == 0
            {
                tracing::warn!(
                    "TLS probes are attached to {MAX_ATTACHED_FILES} files already; {} and later ones are not captured",
                    candidate.path.display()
                );
            }
            return self.pass_over(candidate.id);
        }
        self.handed_over.insert(candidate.id);
        Some(Found {
            candidate,
            hooks,
            go,
            rustls,
        })
    }

    /// The rustls functions of a program that is neither a TLS library
    /// nor a Go program, if it links rustls and can be probed (else why
    /// not is logged and counted).
    fn rustls(&self, candidate: &Candidate) -> Option<RustlsProbes> {
        match rustls::examine(&candidate.open_path) {
            Ok(RustlsExamined::Probes(probes)) => Some(probes),
            Ok(RustlsExamined::NotRustls) => None,
            Ok(RustlsExamined::Unsupported(why)) => {
                tracing::info!(
                    "HTTPS of {} will not be captured: it is {why}",
                    candidate.path.display()
                );
                self.counters
                    .rustls_unsupported
                    .fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(err) => {
                tracing::debug!("not a program linking rustls: {err}");
                None
            }
        }
    }

    /// Remembers a file as examined and not attached.
    fn pass_over(&mut self, id: FileId) -> Option<Found> {
        if self.passed_over.len() >= MAX_REMEMBERED_FILES {
            self.passed_over.clear();
        }
        self.passed_over.insert(id);
        None
    }
}

/// Discovery is background work: on a busy host it must not take CPU from
/// the applications the sensor watches, nor from the capture loop.
fn lowest_priority() {
    // SAFETY: setpriority on the calling thread (who = 0); no pointers.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    if rc != 0 {
        tracing::debug!(
            "TLS discovery keeps its priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_libssl() -> Candidate {
        candidates::system_libraries()
            .into_iter()
            .find(|c| c.path.to_string_lossy().contains("libssl.so"))
            .expect("OpenSSL's libssl in the system directories (cargo xtask setup installs it)")
    }

    #[test]
    fn a_library_is_handed_over_once_and_other_files_never() {
        let counters = Arc::new(DiscoveryCounters::default());
        let mut discovery = Discovery::new(&TlsConfig::default(), Arc::clone(&counters));
        let found = discovery
            .consider(system_libssl())
            .expect("libssl defines SSL_read");
        let symbols: Vec<&str> = found.hooks.iter().map(|h| h.hook.symbol).collect();
        // Debian's OpenSSL 3: read and write through their internal
        // functions (see `placement`).
        assert!(
            symbols.contains(&"ssl_read_internal") && symbols.contains(&"ssl_write_internal"),
            "{symbols:?}"
        );
        assert!(
            discovery.consider(system_libssl()).is_none(),
            "attached once"
        );
        // A program with no TLS of its own (this test binary links rustls,
        // through the sinks, and would be handed over as such).
        let shell = candidates::configured(std::path::Path::new("/bin/sh")).unwrap();
        assert!(discovery.consider(shell).is_none());
        let own = candidates::configured(&std::env::current_exe().unwrap()).unwrap();
        let probed = matches!(
            rustls::examine(&own.open_path),
            Ok(RustlsExamined::Probes(_))
        );
        match discovery.consider(own) {
            Some(found) => assert!(probed && found.rustls.is_some() && found.hooks.is_empty()),
            None => assert!(!probed),
        }
        assert_eq!(counters.files_excluded.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn excluded_libraries_are_counted_not_handed_over() {
        let config = TlsConfig {
            exclude: vec!["*/libssl.so*".to_owned()],
            ..TlsConfig::default()
        };
        let counters = Arc::new(DiscoveryCounters::default());
        let mut discovery = Discovery::new(&config, Arc::clone(&counters));
        assert!(discovery.consider(system_libssl()).is_none());
        assert!(discovery.consider(system_libssl()).is_none());
        assert_eq!(counters.files_excluded.load(Ordering::Relaxed), 1);
    }
}
