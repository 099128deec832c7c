//! One alert line as a person reads it, and the filters `sensor tail`
//! applies. Works on the JSON as written, so lines from older or newer
//! sensors (extra or missing fields) still print.

use serde_json::Value;

use super::Alert;
use crate::finding::Severity;

/// Severities in increasing order, as alerts spell them.
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// Categories as alerts spell them (`Category::ALL`, tested).
pub const CATEGORIES: [&str; 6] = [
    "sensitive_data",
    "secret",
    "verbose_error",
    "abnormal_volume",
    "auth",
    "inventory",
];

/// Which alerts to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Lowest severity shown (index into `SEVERITIES`).
    pub min_severity: usize,
    /// Categories shown (empty: all).
    pub categories: Vec<String>,
}

impl Filter {
    pub fn accepts(&self, alert: &Value) -> bool {
        let rank = alert["severity"]
            .as_str()
            .and_then(severity_rank)
            .unwrap_or(0);
        if rank < self.min_severity {
            return false;
        }
        self.categories.is_empty()
            || alert["category"]
                .as_str()
                .is_some_and(|c| self.categories.iter().any(|want| want == c))
    }
}

pub fn severity_rank(name: &str) -> Option<usize> {
    name.parse::<Severity>().ok().map(Severity::rank)
}

/// `time  SEVERITY  rule  METHOD host/path  comm[pid]  summary`, coloured
/// by severity when `color` is set.
pub fn render(alert: &Value, color: bool) -> String {
    fn text(v: &Value) -> &str {
        v.as_str().unwrap_or("-")
    }
    let endpoint = &alert["endpoint"];
    let process = &alert["process"];
    Shown {
        ts: text(&alert["ts"]),
        severity: text(&alert["severity"]),
        rule: text(&alert["rule"]),
        method: text(&endpoint["method"]),
        host: endpoint["host"].as_str().unwrap_or(""),
        path: text(&endpoint["path"]),
        comm: text(&process["comm"]),
        pid: process["pid"].as_u64(),
        summary: text(&alert["summary"]),
        count: alert["count"].as_u64().unwrap_or(1),
    }
    .line(color)
}

/// The same line as `render` gives for the alert's JSON, from the alert
/// itself (a sink that holds the value need not parse what it wrote).
pub fn render_alert(alert: &Alert, color: bool) -> String {
    Shown {
        ts: &alert.ts,
        severity: alert.severity.as_str(),
        rule: &alert.rule,
        method: &alert.endpoint.method,
        host: &alert.endpoint.host,
        path: &alert.endpoint.path,
        comm: &alert.process.comm,
        pid: Some(u64::from(alert.process.pid)),
        summary: &alert.summary,
        count: alert.count,
    }
    .line(color)
}

/// What one line shows, each field as the alert spells it.
struct Shown<'a> {
    ts: &'a str,
    severity: &'a str,
    rule: &'a str,
    method: &'a str,
    host: &'a str,
    path: &'a str,
    comm: &'a str,
    pid: Option<u64>,
    summary: &'a str,
    count: u64,
}

impl Shown<'_> {
    fn line(&self, color: bool) -> String {
        let pid = self
            .pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into());
        let count = if self.count > 1 {
            format!(" (x{})", self.count)
        } else {
            String::new()
        };
        let label = format!("{:<8}", self.severity.to_uppercase());
        let label = if color {
            format!("{}{label}\x1b[0m", severity_color(self.severity))
        } else {
            label
        };
        format!(
            "{}  {label}  {}  {} {}{}  {}[{pid}]  {}{count}",
            self.ts, self.rule, self.method, self.host, self.path, self.comm, self.summary,
        )
    }
}

/// Critical stands out by its background, not only by weight: bold alone
/// is lost on many terminals and colour schemes.
fn severity_color(severity: &str) -> &'static str {
    match severity {
        "critical" => "\x1b[1;97;41m",
        "high" => "\x1b[31m",
        "medium" => "\x1b[33m",
        _ => "\x1b[36m",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert(severity: &str, category: &str) -> Value {
        json!({
            "ts": "2026-11-23T08:00:00Z", "rule": "secret.github_token", "category": category,
            "severity": severity, "summary": "A GitHub token in a response body.",
            "endpoint": {"method": "GET", "host": "api.local", "path": "/v1/users"},
            "process": {"pid": 42, "comm": "python3"}, "count": 3
        })
    }

    #[test]
    fn renders_one_readable_line() {
        assert_eq!(
            render(&alert("high", "secret"), false),
            "2026-11-23T08:00:00Z  HIGH      secret.github_token  GET api.local/v1/users  python3[42]  A GitHub token in a response body. (x3)"
        );
        let colored = render(&alert("critical", "secret"), true);
        assert!(colored.contains("\x1b[1;97;41mCRITICAL"), "{colored}");
        let high = render(&alert("high", "secret"), true);
        assert!(high.contains("\x1b[31mHIGH"), "{high}");
        // Missing fields print as "-", never panic.
        assert_eq!(render(&json!({}), false), "-  -         -  - -  -[-]  -");
    }

    #[test]
    fn an_alert_renders_as_its_json_does() {
        for n in 0..3 {
            let mut alert = crate::alert::tests::sample(n);
            alert.count = n as u64 + 1;
            let json = serde_json::to_value(&alert).unwrap();
            for color in [false, true] {
                assert_eq!(render_alert(&alert, color), render(&json, color), "{n}");
            }
        }
    }

    #[test]
    fn categories_are_every_category() {
        use crate::finding::Category;
        assert_eq!(CATEGORIES, Category::ALL.map(Category::as_str));
    }

    #[test]
    fn filters_by_severity_and_category() {
        let filter = Filter {
            min_severity: severity_rank("medium").unwrap(),
            categories: vec!["secret".into()],
        };
        assert!(filter.accepts(&alert("high", "secret")));
        assert!(filter.accepts(&alert("medium", "secret")));
        assert!(!filter.accepts(&alert("low", "secret")));
        assert!(!filter.accepts(&alert("critical", "verbose_error")));
        assert!(Filter::default().accepts(&alert("low", "anything")));
    }
}
