//! `cargo xtask quality`: recall and precision of the content detectors on
//! an evaluation corpus nobody here wrote, next to detect-secrets on the
//! same secret samples.
//!
//! The corpus is built at run time from public test suites the user has
//! fetched (gitleaks' rule `tps`/`fps`, noseyparker's rule `examples` and
//! `negative_examples`, Presidio's recogniser tests; see
//! `xtask/quality/extract.py` for what is read and the stated exclusion
//! rules); nothing fetched is stored in this repository. Each sample becomes
//! two HTTP JSON responses, one under a neutral field (`{"data": ...}`) and
//! one under a field named for its type, written to a pcap and run through
//! `sensor replay` as a user would. A secret exchange with any `secret`
//! alert counts as detected, a PII one with any `sensitive_data` alert.
//! Not part of CI: it needs the sources and takes minutes.

mod pcap;
mod score;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};
use serde_json::Value;

use crate::{root, run, sensor_binary, target_dir};

/// The public suites, by the repository name their directory contains.
/// The last, trufflehog's detector tests, is optional and scored on its
/// own (`secret (trufflehog)`): most of its ~900 detectors are providers
/// with no format of their own (a keyword near 32 hex digits).
const SOURCES: &[(&str, &str)] = &[
    ("gitleaks+gitleaks", "https://github.com/gitleaks/gitleaks"),
    (
        "microsoft+presidio",
        "https://github.com/microsoft/presidio",
    ),
    (
        "praetorian-inc+noseyparker",
        "https://github.com/praetorian-inc/noseyparker",
    ),
    (
        "trufflesecurity+trufflehog",
        "https://github.com/trufflesecurity/trufflehog",
    ),
];
/// Sources from this index on may be missing.
const REQUIRED: usize = 3;
const DETECT_SECRETS: &str = "detect-secrets==1.5.0";

#[derive(clap::Args)]
pub struct QualityArgs {
    /// Directory holding the fetched repositories, each in a directory
    /// whose name contains `owner+name` (a bare git directory, or one with
    /// `repo/` or `.git/` inside): gitleaks, Presidio and noseyparker, and
    /// trufflehog if present.
    #[arg(long, default_value = "/work/.mirror")]
    sources: PathBuf,
    /// Use target/release/sensor as it is (no `cargo build` first).
    #[arg(long)]
    pub no_build: bool,
    /// Run with `[detect] report_example_values = true`: published test
    /// cards, documentation IBANs and the like are reported too.
    #[arg(long)]
    pub report_examples: bool,
    /// Also write the table as Markdown here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also write every exchange's outcome here, one JSON object a line
    /// (case number, kind, type, label, field, sample, the sensor's rules
    /// and whether detect-secrets reported it): what a false alarm or a
    /// miss was, to read or to count with `jq`.
    #[arg(long)]
    per_sample: Option<PathBuf>,
}

/// One evaluation sample as extract.py writes it.
pub struct Case {
    pub kind: String,
    pub kind_type: String,
    pub positive: bool,
    pub sample: String,
    pub field: String,
}

pub fn quality(args: &QualityArgs) -> anyhow::Result<()> {
    let dirs = find_sources(&args.sources)?;
    let work = target_dir().join("quality");
    std::fs::create_dir_all(&work)?;
    let detect_secrets = install_detect_secrets(&work)?;

    let (cases, exclusions) = extract(&detect_secrets, &dirs)?;
    println!(
        "corpus: {} samples ({} secret, {} PII); excluded by rule: {exclusions}",
        cases.len(),
        cases.iter().filter(|c| c.kind == "secret").count(),
        cases.iter().filter(|c| c.kind == "pii").count()
    );
    // Two exchanges per case: neutral field, then telling field.
    let bodies: Vec<Vec<u8>> = cases
        .iter()
        .flat_map(|c| {
            [
                serde_json::json!({ "data": c.sample }),
                serde_json::json!({ c.field.clone(): c.sample }),
            ]
        })
        .map(|v| serde_json::to_vec(&v).expect("JSON values serialise"))
        .collect();

    let ours = run_sensor(&work, &cases, &bodies, args.report_examples)?;
    let theirs = run_detect_secrets(&work, &detect_secrets, &cases, &bodies)?;
    let commits: Vec<(String, String)> = SOURCES
        .iter()
        .zip(&dirs)
        .map(|((name, _), dir)| Ok((name.to_string(), git(dir, &["rev-parse", "HEAD"])?)))
        .collect::<anyhow::Result<_>>()?;
    let report = score::Report::new(&cases, &ours, &theirs);
    let mut text = report.render(&commits, &exclusions);
    if args.report_examples {
        text.insert_str(0, "(with `report_example_values = true`)\n\n");
    }
    println!("{text}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.per_sample {
        write_per_sample(path, &cases, &ours, &theirs)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One line per exchange: the case, which framing it was sent in, and what
/// each scanner said.
fn write_per_sample(
    path: &Path,
    cases: &[Case],
    ours: &[Vec<String>],
    theirs: &BTreeMap<usize, bool>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (n, rules) in ours.iter().enumerate() {
        let case = &cases[n / 2];
        let line = serde_json::json!({
            "exchange": n,
            "kind": case.kind,
            "type": case.kind_type,
            "label": if case.positive { "pos" } else { "neg" },
            "framing": if n % 2 == 0 { "neutral" } else { "telling" },
            "field": if n % 2 == 0 { "data" } else { case.field.as_str() },
            "sample": case.sample,
            "sensor": rules,
            "detect_secrets": theirs.get(&n),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// The git directory of each source, or what to run to get them.
fn find_sources(base: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for (name, url) in SOURCES {
        let hit = std::fs::read_dir(base).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().contains(name))
                })
                .flat_map(|p| [p.clone(), p.join("repo"), p.join(".git")])
                .find(|p| git(p, &["rev-parse", "HEAD"]).is_ok())
        });
        match hit {
            Some(dir) => found.push(dir),
            None if found.len() + missing.len() >= REQUIRED => break,
            None => missing.push(format!(
                "  git clone --bare {url} {}/{name}/repo",
                base.display()
            )),
        }
    }
    if !missing.is_empty() {
        bail!(
            "the evaluation corpus is built from public test suites that are not in {}; \
             fetch them (or pass --sources DIR):\n{}",
            base.display(),
            missing.join("\n")
        );
    }
    Ok(found)
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .output()
        .context("starting git")?;
    if !out.status.success() {
        bail!("git {args:?} in {} failed", dir.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A virtualenv of its own with detect-secrets at the pinned version
/// (installed once; later runs find it).
fn install_detect_secrets(work: &Path) -> anyhow::Result<PathBuf> {
    let venv = work.join("venv");
    let bin = venv.join("bin/detect-secrets");
    let version = DETECT_SECRETS.split("==").nth(1).expect("pinned");
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == version);
    if !installed {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", DETECT_SECRETS]))?;
    }
    Ok(bin)
}

/// Runs extract.py with the virtualenv's Python (detect-secrets brings
/// PyYAML, which reading noseyparker's rules needs).
fn extract(detect_secrets: &Path, dirs: &[PathBuf]) -> anyhow::Result<(Vec<Case>, String)> {
    let python = detect_secrets.with_file_name("python3");
    let out = Command::new(python)
        .arg(root().join("xtask/quality/extract.py"))
        .args(dirs)
        .output()
        .context("starting xtask/quality/extract.py")?;
    if !out.status.success() {
        bail!(
            "extract.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cases = String::from_utf8(out.stdout)?
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)?;
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            Ok(Case {
                kind: s("kind"),
                kind_type: s("type"),
                positive: s("label") == "pos",
                sample: s("sample"),
                field: s("field"),
            })
        })
        .collect::<anyhow::Result<Vec<Case>>>()?;
    Ok((
        cases,
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    ))
}

/// Replays the exchanges; for each, the rules of its alerts in the
/// category its case is scored on: a secret sample on `secret` alerts, a
/// PII sample on `sensitive_data` ones. An email address next to a key is
/// a PII finding, not the key found, nor a false secret.
fn run_sensor(
    work: &Path,
    cases: &[Case],
    bodies: &[Vec<u8>],
    report_examples: bool,
) -> anyhow::Result<Vec<Vec<String>>> {
    let capture = work.join("corpus.pcap");
    let mut writer = pcap::Writer::new(std::io::BufWriter::new(std::fs::File::create(&capture)?))?;
    for (n, body) in bodies.iter().enumerate() {
        writer.exchange(n as u32, &format!("/quality/{n}"), body)?;
    }
    writer.finish()?;
    let state = work.join("state");
    std::fs::create_dir_all(&state)?;
    let config = work.join("quality.toml");
    // Every alert is its own line: no deduplication or rate limit, so one
    // exchange's finding never hides another's.
    std::fs::write(
        &config,
        format!(
            "[output]\nstate_dir = {state:?}\n[alerts]\ndedup_window_secs = 0\n\
             max_per_rule_per_minute = 0\n[metrics]\nenabled = false\n\
             [behaviour]\nenabled = false\n[detect]\nreport_example_values = {report_examples}\n"
        ),
    )?;
    let alerts = work.join("alerts.jsonl");
    let _ = std::fs::remove_file(&alerts);
    let binary = sensor_binary();
    if !binary.exists() {
        bail!(
            "{} is missing: run `cargo xtask build` first",
            binary.display()
        );
    }
    run(Command::new(&binary)
        .arg("replay")
        .arg("--config")
        .arg(&config)
        .arg("--alerts")
        .arg(&alerts)
        .arg(&capture)
        .stdout(std::process::Stdio::null()))?;
    let mut found = vec![Vec::new(); bodies.len()];
    for line in std::fs::read_to_string(&alerts)?.lines() {
        let alert: Value = serde_json::from_str(line)?;
        let category = alert["category"].as_str().unwrap_or_default();
        // Paths are templated in alerts; the client address names the case.
        let n = alert["connection"]["remote"]
            .as_str()
            .and_then(pcap::case_of_client);
        if let Some(n) = n.filter(|&n| n < found.len()) {
            let scored_on = if cases[n / 2].kind == "pii" {
                "sensitive_data"
            } else {
                "secret"
            };
            if category != scored_on {
                continue;
            }
            let rule = alert["rule"].as_str().unwrap_or_default().to_owned();
            let severity = alert["severity"].as_str().unwrap_or_default();
            found[n].push(format!("{rule}:{severity}"));
        }
    }
    Ok(found)
}

/// detect-secrets on each secret exchange's body (one file each, as it
/// would scan them): for each exchange, whether it reported anything.
fn run_detect_secrets(
    work: &Path,
    bin: &Path,
    cases: &[Case],
    bodies: &[Vec<u8>],
) -> anyhow::Result<BTreeMap<usize, bool>> {
    let dir = work.join("detect-secrets");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut scanned = BTreeMap::new();
    for (n, body) in bodies.iter().enumerate() {
        if cases[n / 2].kind.starts_with("secret") {
            std::fs::write(dir.join(format!("{n}.json")), body)?;
            scanned.insert(n, false);
        }
    }
    let out = Command::new(bin)
        .args(["scan", "--all-files", "."])
        .current_dir(&dir)
        .output()
        .context("starting detect-secrets")?;
    if !out.status.success() {
        bail!(
            "detect-secrets failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let result: Value = serde_json::from_slice(&out.stdout)?;
    if let Some(files) = result["results"].as_object() {
        for (file, hits) in files {
            let n = file.trim_end_matches(".json").parse::<usize>();
            if let (Ok(n), Some(hits)) = (n, hits.as_array()) {
                scanned.insert(n, !hits.is_empty());
            }
        }
    }
    Ok(scanned)
}
