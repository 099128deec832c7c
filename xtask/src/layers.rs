//! `cargo xtask layers`: the import-layer check. Data flows one way
//! through the sensor, and so must its imports: a module may use what an
//! earlier stage defines, never what a later one does. This reads every
//! `crate::...` (and `super::...` that leaves its top-level module) path
//! in sensor/src and fails on any that runs back up the pipeline.
//!
//! Test code is not checked: `tests.rs`, `*_tests.rs`, files under a
//! `tests/` folder, and everything after the first `#[cfg(test)]` of a
//! file (inline test modules sit at the end). A golden or pipeline test
//! may wire any stages together.

use std::fmt;
use std::path::{Path, PathBuf};

/// The pipeline, earliest first. A module may import its own layer and
/// the layers before it. The first layer is the vocabulary every stage
/// shares; the last is the code that wires a session together.
pub const LAYERS: &[(&str, &[&str])] = &[
    // What every stage may speak: findings and severities, the config
    // schema (each stage's own section lives in its `config` module), the
    // metrics page every component renders into, glob patterns, the
    // host and sensor every record names, the OWASP and CWE tags of rules.
    (
        "vocabulary",
        &[
            "finding",
            "config",
            "metrics",
            "glob",
            "timestamp",
            "origin",
            "tags",
        ],
    ),
    ("capture", &["capture"]),
    ("conntrack", &["conntrack"]),
    ("reassembly", &["reassembly"]),
    // `HttpExchange` (exchange.rs) is what http builds; its header names
    // and start-line texts (wire_str.rs) share the head's bytes.
    ("http", &["http", "exchange", "wire_str"]),
    // The pipeline that turns capture events into exchanges, the pairing
    // that keeps one view of an exchange between two local processes, and
    // the endpoint every later stage names an exchange by.
    ("exchange", &["pipeline", "pairing", "endpoint"]),
    // The value analysis emits and every sink sends.
    ("alert", &["alert"]),
    // Detectors, behaviour, inventory, then dedupe and rate limit.
    ("analysis", &["analysis"]),
    // Delivery only.
    ("sink", &["sink"]),
    // One run of the sensor and the commands around it.
    (
        "session",
        &[
            "session",
            "stats",
            "allocations",
            "clock",
            "run",
            "replay",
            "tail",
            "main",
            "preflight",
            "doctor",
        ],
    ),
];

/// Imports the order alone would allow but the design does not: a sink
/// knows no detector (it is handed finished alerts).
pub const FORBIDDEN: &[(&str, &str)] = &[("sink", "analysis")];

/// Known back-imports, each with its reason; keep this list short (it is
/// empty: the replay flow table orients a flow with the kernel side's
/// `sensor_common::sniff`, not with `http`). A file here may import that
/// module only.
pub const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// One import that runs back up the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub file: PathBuf,
    pub line: usize,
    pub path: String,
    pub from: &'static str,
    pub to: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: `{}` ({} imports {}, which comes later in the pipeline)",
            self.file.display(),
            self.line,
            self.path,
            self.from,
            self.to
        )
    }
}

fn layer_index(name: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&name))
}

/// The layer of a module path (`["analysis", "detect"]` is in analysis).
fn layer_of(module: &[String]) -> Option<usize> {
    match module.first() {
        // The crate root only declares modules.
        None => layer_index("main"),
        Some(first) => layer_index(first),
    }
}

/// Whether `from` may import `target`.
fn allowed(from: &[String], target: &[String]) -> Result<(), (&'static str, &'static str)> {
    let Some(f) = layer_of(from) else {
        // A file missing from LAYERS is reported by `check` itself.
        return Ok(());
    };
    let Some(t) = layer_of(target) else {
        // A path through a re-export at the root, or a typo: either way
        // its layer is unknown.
        return Err((LAYERS[f].0, "no layer"));
    };
    let names = (LAYERS[f].0, LAYERS[t].0);
    // The config schema gathers each stage's own `config` section.
    if from.first().is_some_and(|m| m == "config") && target.iter().any(|s| s == "config") {
        return Ok(());
    }
    if t > f || FORBIDDEN.contains(&names) {
        return Err(names);
    }
    Ok(())
}

/// The module path of a file under `src` (`analysis/detect/mod.rs` is
/// `analysis::detect`; `lib.rs` and `main.rs` are the root).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "lib" | "main") {
            parts.push(stem.to_owned());
        }
    }
    parts
}

fn is_test_file(rel: &Path) -> bool {
    let name = rel.file_name().unwrap_or_default().to_string_lossy();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || rel.iter().any(|p| p == "tests")
        || name.starts_with("fake_")
}

/// The non-test code of a file, comments blanked (line numbers kept).
fn code_of(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_end(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

/// The paths named right after `prefix::`: `a::b` or each item of a
/// group `{a::b, c}`, as segments.
fn paths_after(rest: &str) -> Vec<Vec<String>> {
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0usize;
        let mut items = Vec::new();
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&group[start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&group[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return items
            .into_iter()
            .flat_map(|item| paths_after(item.trim()))
            .collect();
    }
    let mut segments = Vec::new();
    let mut s = rest;
    loop {
        let end = ident_end(s);
        if end == 0 {
            break;
        }
        segments.push(s[..end].to_owned());
        match s[end..].strip_prefix("::") {
            // `a::{b, c}`: the layer is decided by `a`.
            Some(next) if !next.starts_with('{') => s = next,
            _ => break,
        }
    }
    if segments.is_empty() {
        Vec::new()
    } else {
        vec![segments]
    }
}

/// Every crate path one file's code names, with its line: `crate::...`,
/// and `super::...` resolved against the file's module.
fn imports(module: &[String], code: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (prefix, is_super) in [("crate::", false), ("super::", true)] {
        let mut from = 0;
        while let Some(i) = code[from..].find(prefix) {
            let at = from + i;
            from = at + prefix.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            if is_super && code[..at].ends_with("super::") {
                continue;
            }
            let line = code[..at].matches('\n').count() + 1;
            let mut rest = &code[at + prefix.len()..];
            let mut base: Vec<String> = Vec::new();
            if is_super {
                // `super` of `a::b` (a/b.rs, or a/b/mod.rs) is `a`.
                base = module.to_vec();
                let mut ups = 1;
                while let Some(more) = rest.strip_prefix("super::") {
                    ups += 1;
                    rest = more;
                }
                base.truncate(base.len().saturating_sub(ups));
                // Only paths that leave the top-level module matter.
                if !base.is_empty() {
                    continue;
                }
            }
            for path in paths_after(rest) {
                let mut full = base.clone();
                full.extend(path);
                found.push((line, full));
            }
        }
    }
    found
}

/// Checks every `.rs` file under `src`; the violations, and an error for
/// a top-level module that no layer names.
pub fn check(src: &Path) -> anyhow::Result<Vec<Violation>> {
    let mut files = Vec::new();
    collect(src, &mut files)?;
    files.sort();
    let mut violations = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src)?.to_owned();
        if is_test_file(&rel) {
            continue;
        }
        let module = module_of(&rel);
        if layer_of(&module).is_none() {
            anyhow::bail!(
                "{}: module `{}` is in no layer of xtask/src/layers.rs; add it to LAYERS",
                file.display(),
                module.join("::")
            );
        }
        let text = std::fs::read_to_string(&file)?;
        for (line, target) in imports(&module, &code_of(&text)) {
            let excepted = EXCEPTIONS.iter().any(|(file, module, _)| {
                rel == Path::new(file) && target.first().is_some_and(|t| t == module)
            });
            if excepted {
                continue;
            }
            if let Err((from, to)) = allowed(&module, &target) {
                violations.push(Violation {
                    file: file.clone(),
                    line,
                    path: format!("crate::{}", target.join("::")),
                    from,
                    to,
                });
            }
        }
    }
    Ok(violations)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `cargo xtask layers`.
pub fn layers() -> anyhow::Result<()> {
    let src = crate::root().join("sensor/src");
    let violations = check(&src)?;
    if violations.is_empty() {
        let order: Vec<&str> = LAYERS.iter().map(|(name, _)| *name).collect();
        println!(
            "layers: no import runs back up the pipeline ({})",
            order.join(" → ")
        );
        return Ok(());
    }
    for v in &violations {
        eprintln!("{v}");
    }
    anyhow::bail!(
        "{} imports run back up the pipeline (order in xtask/src/layers.rs)",
        violations.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "xtask-layers-{}-{}",
            std::process::id(),
            files.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn segs(path: &str) -> Vec<String> {
        path.split("::").map(str::to_owned).collect()
    }

    #[test]
    fn forward_imports_pass_and_planted_back_imports_fail() {
        let dir = tree(&[
            ("lib.rs", "pub mod http;\npub mod sink;\n"),
            ("http/mod.rs", "use crate::reassembly::Chunk;\nuse crate::finding::Severity;\n"),
            // Planted: a detector reaching into a sink, a grouped import
            // of a later stage, and a sink that knows a detector.
            (
                "analysis/detect/scan.rs",
                "use crate::exchange::HttpExchange;\nfn f() { crate::sink::exchange_record::path_of(\"/\"); }\n",
            ),
            ("capture/event.rs", "use crate::{finding::Category, exchange::Role};\n"),
            ("sink/outputs.rs", "use crate::alert::Alert;\nuse crate::analysis::Analysis;\n"),
            // Test code may wire anything together.
            ("sink/outputs_tests.rs", "use crate::analysis::Analysis;\n"),
            (
                "alert/mod.rs",
                "// crate::sink::x in a comment\nuse crate::finding::Finding;\n#[cfg(test)]\nmod tests { use crate::session::Session; }\n",
            ),
        ]);
        let found: Vec<(String, String)> = check(&dir)
            .unwrap()
            .into_iter()
            .map(|v| {
                let file = v.file.strip_prefix(&dir).unwrap().display().to_string();
                (file, v.path)
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    "analysis/detect/scan.rs".into(),
                    "crate::sink::exchange_record::path_of".into()
                ),
                ("capture/event.rs".into(), "crate::exchange::Role".into()),
                ("sink/outputs.rs".into(), "crate::analysis::Analysis".into()),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn super_paths_that_leave_their_module_are_checked() {
        // reassembly/mod.rs: `super::http` is crate::http, a later stage.
        let code = "use super::http::Parser;\nuse super::x;";
        let found = imports(&segs("reassembly"), code);
        assert!(
            found.iter().any(|(_, p)| p == &segs("http::Parser")),
            "{found:?}"
        );
        // http/parser.rs: `super::x` stays inside http.
        assert!(imports(&segs("http::parser"), "use super::x;").is_empty());
    }

    #[test]
    fn config_gathers_the_stages_config_sections() {
        assert!(allowed(
            &segs("config"),
            &segs("analysis::detect::config::DetectConfig")
        )
        .is_ok());
        assert!(allowed(&segs("config"), &segs("analysis::detect::FingerprintKey")).is_err());
        assert!(allowed(&segs("pipeline"), &segs("config::LimitsConfig")).is_ok());
        assert!(allowed(&segs("session"), &segs("sink::Outputs")).is_ok());
        assert!(allowed(&segs("analysis"), &segs("alert::Alert")).is_ok());
        assert!(allowed(&segs("alert"), &segs("analysis::Aggregator")).is_err());
        assert!(allowed(&segs("sink"), &segs("detect::Finding")).is_err());
    }

    #[test]
    fn modules_outside_every_layer_are_an_error() {
        let dir = tree(&[("wherever.rs", "")]);
        assert!(check(&dir).unwrap_err().to_string().contains("wherever"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
