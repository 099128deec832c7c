//! Recall and precision per category and per type, ours next to
//! detect-secrets, rendered as Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Case;

/// The summary row over every secret sample (gitleaks, noseyparker and
/// trufflehog).
const ALL_SECRETS: &str = "secret, all sources";

/// Counts over exchanges: true positives, positives, false positives,
/// negatives.
#[derive(Default, Clone, Copy)]
struct Tally {
    found: u32,
    positives: u32,
    false_alarms: u32,
    negatives: u32,
}

impl Tally {
    fn add(&mut self, positive: bool, flagged: bool) {
        if positive {
            self.positives += 1;
            self.found += u32::from(flagged);
        } else {
            self.negatives += 1;
            self.false_alarms += u32::from(flagged);
        }
    }

    fn recall(&self) -> f64 {
        f64::from(self.found) / f64::from(self.positives.max(1))
    }

    fn precision(&self) -> f64 {
        let flagged = self.found + self.false_alarms;
        if flagged == 0 {
            return 1.0;
        }
        f64::from(self.found) / f64::from(flagged)
    }
}

/// One type's counts: ours, detect-secrets', and the rules that fired on
/// its positives.
type TypeRow = (Tally, Option<Tally>, BTreeMap<String, u32>);

pub struct Report {
    /// (kind, variant) -> ours, detect-secrets.
    summary: BTreeMap<(String, &'static str), (Tally, Option<Tally>)>,
    /// (kind, type) -> ours, detect-secrets, rules that fired on positives.
    types: BTreeMap<(String, String), TypeRow>,
    /// Rules that fired on negatives, with counts.
    false_alarm_rules: BTreeMap<String, u32>,
}

impl Report {
    pub fn new(cases: &[Case], ours: &[Vec<String>], theirs: &BTreeMap<usize, bool>) -> Report {
        let mut report = Report {
            summary: BTreeMap::new(),
            types: BTreeMap::new(),
            false_alarm_rules: BTreeMap::new(),
        };
        for (n, rules) in ours.iter().enumerate() {
            let case = &cases[n / 2];
            let variant = if n % 2 == 0 {
                "neutral field"
            } else {
                "telling field"
            };
            let flagged = !rules.is_empty();
            let ds = theirs.get(&n).copied();
            // Every secret source together is what the target is
            // measured on.
            let all_secrets = case
                .kind
                .starts_with("secret")
                .then(|| (ALL_SECRETS.to_owned(), "both"));
            for key in [(case.kind.clone(), variant), (case.kind.clone(), "both")]
                .into_iter()
                .chain(all_secrets)
            {
                let entry = report.summary.entry(key).or_default();
                entry.0.add(case.positive, flagged);
                if let Some(ds) = ds {
                    entry
                        .1
                        .get_or_insert_with(Tally::default)
                        .add(case.positive, ds);
                }
            }
            let entry = report
                .types
                .entry((case.kind.clone(), case.kind_type.clone()))
                .or_default();
            entry.0.add(case.positive, flagged);
            if let Some(ds) = ds {
                entry
                    .1
                    .get_or_insert_with(Tally::default)
                    .add(case.positive, ds);
            }
            for rule in rules {
                let fired = if case.positive {
                    &mut entry.2
                } else {
                    &mut report.false_alarm_rules
                };
                *fired.entry(rule.clone()).or_default() += 1;
            }
        }
        report
    }

    pub fn render(&self, commits: &[(String, String)], exclusions: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Detection quality on public test suites\n");
        for (repo, commit) in commits {
            let _ = writeln!(out, "- {repo} at {commit}");
        }
        let _ = writeln!(out, "- excluded by rule: {exclusions}\n");
        let _ = writeln!(
            out,
            "| category | exchanges | positives | sensor recall | sensor precision | detect-secrets recall | detect-secrets precision |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for ((kind, variant), (ours, ds)) in &self.summary {
            let (dr, dp) = ds.map_or(("-".into(), "-".into()), |d| {
                (
                    format!("{:.3}", d.recall()),
                    format!("{:.3}", d.precision()),
                )
            });
            let _ = writeln!(
                out,
                "| {kind} ({variant}) | {} | {} | {:.3} ({}/{}) | {:.3} ({} false) | {dr} | {dp} |",
                ours.positives + ours.negatives,
                ours.positives,
                ours.recall(),
                ours.found,
                ours.positives,
                ours.precision(),
                ours.false_alarms,
            );
        }
        let _ = writeln!(out, "\n### Per type (sensor found/positives, false alarms/negatives; detect-secrets the same)\n");
        let _ = writeln!(out, "| type | sensor | sensor false | detect-secrets | detect-secrets false | sensor rules on positives |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for ((kind, ty), (ours, ds, rules)) in &self.types {
            let ds = ds.map_or("-".into(), |d| format!("{}/{}", d.found, d.positives));
            let ds_false = self.types[&(kind.clone(), ty.clone())]
                .1
                .map_or("-".into(), |d| {
                    format!("{}/{}", d.false_alarms, d.negatives)
                });
            let mut top: Vec<_> = rules.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1));
            let top: Vec<String> = top
                .iter()
                .take(3)
                .map(|(r, c)| format!("{r} ×{c}"))
                .collect();
            let _ = writeln!(
                out,
                "| {kind}/{ty} | {}/{} | {}/{} | {ds} | {ds_false} | {} |",
                ours.found,
                ours.positives,
                ours.false_alarms,
                ours.negatives,
                top.join(", ")
            );
        }
        let _ = writeln!(out, "\n### Rules that fired on negatives\n");
        for (rule, count) in &self.false_alarm_rules {
            let _ = writeln!(out, "- {rule}: {count}");
        }
        out
    }
}
