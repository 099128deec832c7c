//! `sensor doctor`: what this host offers the sensor, checked the way `run`
//! would use it and printed as a table, with a fix for each failure.
//! `check-config` covers what the configuration says; `doctor` adds the
//! host: the kernel and its BTF, the capture mode, tracefs, each
//! capability, a trial of the eBPF programs and of the HTTPS probes on the
//! system's TLS libraries, the outputs and the sinks.
//!
//! It runs with the privileges it is given, which are the ones to test: as
//! root everything is tried; without a capability, what depends on it
//! says "cannot tell" and names it rather than reporting a failure it did
//! not see. The exit status is 1 when any check failed.

mod host;
mod probes;
mod sinks;

use std::io::Write;
use std::path::Path;

use crate::config::Config;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// Works, with a limit the user should know about.
    Warn,
    Fail,
    /// Could not be checked with this process's privileges or build.
    Unknown,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Unknown => "?",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do about a failure or a warning.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Pass, detail, None)
    }

    pub fn unknown(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Unknown, detail, None)
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(name, Status::Fail, detail, Some(fix.into()))
    }

    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(name, Status::Warn, detail, Some(fix.into()))
    }

    fn new(
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Self {
            name: name.into(),
            status,
            detail: detail.into(),
            fix,
        }
    }
}

/// Every check, in the order they are shown.
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.count(Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The table: one line per check, its fix indented under it, then a
    /// summary line.
    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let width = self
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        for check in &self.checks {
            writeln!(
                out,
                "{:<4}  {:<width$}  {}",
                check.status.label(),
                check.name,
                check.detail
            )?;
            if let Some(fix) = &check.fix {
                writeln!(out, "{:<4}  {:<width$}  fix: {fix}", "", "")?;
            }
        }
        writeln!(
            out,
            "{} checks: {} ok, {} warnings, {} failed, {} could not be checked",
            self.checks.len(),
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.failures(),
            self.count(Status::Unknown)
        )
    }
}

/// Runs every check. `config`: the file `run` would be given (its
/// defaults otherwise).
pub fn run(config: Option<&Path>) -> Report {
    let mut checks = Vec::new();
    let config = match config {
        None => {
            checks.push(Check::pass("config", "none given: the defaults"));
            Config::default()
        }
        Some(path) => match Config::load(path) {
            Ok(config) => {
                checks.push(Check::pass("config", format!("{}: valid", path.display())));
                config
            }
            Err(err) => {
                checks.push(Check::fail(
                    "config",
                    format!("{err:#}"),
                    "correct the key named; the host checks below use the defaults",
                ));
                Config::default()
            }
        },
    };
    let capabilities = host::capabilities();
    checks.push(host::kernel());
    checks.push(host::btf());
    checks.push(host::tracefs(capabilities));
    checks.extend(host::capability_checks(capabilities, &config));
    checks.extend(probes::checks(&config, capabilities));
    checks.extend(outputs(&config));
    checks.extend(sinks::checks(&config));
    Report { checks }
}

/// What `run` needs of the outputs (the same checks `check-config` runs).
fn outputs(config: &Config) -> Vec<Check> {
    crate::preflight::each(config)
        .into_iter()
        .map(|(name, result)| match result {
            Ok(()) => Check::pass(name, "usable"),
            Err(err) => Check::fail(
                name,
                err.to_string(),
                "fix the path or address the message names, or change the key",
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_check_its_fix_and_a_summary() {
        let report = Report {
            checks: vec![
                Check::pass("kernel", "Linux 6.18"),
                Check::fail("CAP_BPF", "missing", "grant it"),
                Check::unknown("uprobes", "cannot tell without CAP_BPF"),
            ],
        };
        let mut out = Vec::new();
        report.print(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "ok    kernel   Linux 6.18\n\
             FAIL  CAP_BPF  missing\n\
             \x20              fix: grant it\n\
             ?     uprobes  cannot tell without CAP_BPF\n\
             3 checks: 1 ok, 0 warnings, 1 failed, 1 could not be checked\n"
        );
        assert_eq!(report.failures(), 1);
    }
}
