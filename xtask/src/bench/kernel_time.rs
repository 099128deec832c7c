//! What the sensor costs the host outside its own CPU time (`--kernel-time`):
//! the run time of each of its eBPF programs, which the kernel charges to
//! the traced processes (nginx and wrk), and how often the agent's threads
//! were woken and preempted. The kernel's program statistics cost two clock
//! reads per program run, so they are on only when asked for.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;

use anyhow::Context as _;
use aya::programs::loaded_programs;
use aya::sys::{enable_stats, Stats};

/// Run time and run count of each of the sensor's programs, and its
/// threads' context switches, at one moment.
struct Snapshot {
    programs: BTreeMap<String, (u64, u64)>,
    /// Voluntary (the agent went to sleep: one per wake-up) and
    /// involuntary (preempted while it had work) switches, all threads.
    switches: (u64, u64),
}

/// The kernel's program statistics, on while this is held, and where the
/// sensor `pid` stood when they were turned on.
pub struct Recording {
    _stats: OwnedFd,
    pid: u32,
    start: Snapshot,
}

/// What the sensor's programs and threads did over one run.
pub struct Delta {
    /// (name, run time in ns, runs), costliest first.
    programs: Vec<(String, u64, u64)>,
    wakeups: u64,
    preemptions: u64,
    seconds: f64,
}

impl Recording {
    pub fn start(pid: u32) -> anyhow::Result<Self> {
        let stats = enable_stats(Stats::RunTime)
            .context("enabling the kernel's eBPF run time statistics (run as root)")?;
        Ok(Self {
            _stats: stats,
            pid,
            start: Snapshot::of(pid)?,
        })
    }

    /// Ends the recording, `seconds` after it started.
    pub fn finish(self, seconds: f64) -> anyhow::Result<Delta> {
        let end = Snapshot::of(self.pid)?;
        let mut programs: Vec<(String, u64, u64)> = end
            .programs
            .into_iter()
            .map(|(name, (time, runs))| {
                let (t0, r0) = self.start.programs.get(&name).copied().unwrap_or((0, 0));
                (name, time.saturating_sub(t0), runs.saturating_sub(r0))
            })
            .filter(|&(_, _, runs)| runs > 0)
            .collect();
        programs.sort_by_key(|&(_, time, _)| std::cmp::Reverse(time));
        Ok(Delta {
            programs,
            wakeups: end.switches.0.saturating_sub(self.start.switches.0),
            preemptions: end.switches.1.saturating_sub(self.start.switches.1),
            seconds,
        })
    }
}

impl Snapshot {
    /// The programs whose file descriptors process `pid` holds (the
    /// sensor's, whatever else is loaded on the host), summed by name.
    fn of(pid: u32) -> anyhow::Result<Self> {
        let ids = program_ids(pid)?;
        let mut programs = BTreeMap::new();
        for info in loaded_programs().flatten() {
            if !ids.contains(&info.id()) {
                continue;
            }
            let name = info.name_as_str().unwrap_or("?").to_owned();
            let entry = programs.entry(name).or_insert((0, 0));
            entry.0 += info.run_time().as_nanos() as u64;
            entry.1 += info.run_count();
        }
        Ok(Self {
            programs,
            switches: switches(pid)?,
        })
    }
}

impl Delta {
    /// Prints the run per request (`requests` served in the run).
    pub fn report(&self, requests: u64) {
        let requests = requests.max(1) as f64;
        let total: u64 = self.programs.iter().map(|&(_, time, _)| time).sum();
        println!(
            "  eBPF programs: {:.0} ns per request in all (charged to the traced processes)",
            total as f64 / requests
        );
        for (name, time, runs) in &self.programs {
            println!(
                "    {name:<16} {:>6.0} ns per request  {:>5.2} runs per request  {:>6.0} ns per run",
                *time as f64 / requests,
                *runs as f64 / requests,
                *time as f64 / *runs as f64
            );
        }
        println!(
            "  agent threads: {:.0} wake-ups/s, {:.0} preemptions/s",
            self.wakeups as f64 / self.seconds,
            self.preemptions as f64 / self.seconds
        );
    }
}

/// Ids of the eBPF programs whose file descriptors `pid` holds, from
/// `/proc/PID/fdinfo` (a program's fd info names its id).
fn program_ids(pid: u32) -> anyhow::Result<Vec<u32>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(text) = std::fs::read_to_string(entry?.path()) else {
            continue;
        };
        if let Some(id) = text
            .lines()
            .find_map(|l| l.strip_prefix("prog_id:"))
            .and_then(|v| v.trim().parse().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Context switches of every thread of `pid`, voluntary and involuntary.
fn switches(pid: u32) -> anyhow::Result<(u64, u64)> {
    let dir = format!("/proc/{pid}/task");
    let mut sum = (0, 0);
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(status) = std::fs::read_to_string(entry?.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            let value = |v: &str| v.trim().parse::<u64>().unwrap_or(0);
            if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
                sum.0 += value(v);
            } else if let Some(v) = line.strip_prefix("nonvoluntary_ctxt_switches:") {
                sum.1 += value(v);
            }
        }
    }
    Ok(sum)
}
