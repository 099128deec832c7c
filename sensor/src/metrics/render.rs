//! Prometheus text exposition of the sensor's counters.
//!
//! Every numeric field of `Stats` becomes a metric, named after where it
//! sits (`kernel.ringbuf_full_events` becomes
//! `sensor_kernel_ringbuf_full_events_total`), so a counter added to the
//! stats is exported without a second list to keep in sync. Maps of
//! counters keyed by a label (alerts by rule and severity, sink queues)
//! are written by `Labelled`.

use std::fmt::Write as _;

use serde_json::Value;

/// A family of metrics that share a name and differ by labels.
#[derive(Debug, Clone, Default)]
pub struct Labelled {
    pub name: String,
    pub help: String,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    pub samples: Vec<(Vec<(String, String)>, f64)>,
}

/// Renders `stats` (any JSON object of numbers and nested objects) and the
/// labelled families.
pub fn render(stats: &Value, gauges: &[(&str, &str, f64)], labelled: &[Labelled]) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let mut flat = Vec::new();
    flatten("sensor", "", stats, &mut flat);
    for (name, path, value) in flat {
        let _ = writeln!(out, "# HELP {name}_total {}", counter_help(&path));
        let _ = writeln!(out, "# TYPE {name}_total counter");
        let _ = writeln!(out, "{name}_total {value}");
    }
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP sensor_{name} {help}");
        let _ = writeln!(out, "# TYPE sensor_{name} gauge");
        let _ = writeln!(out, "sensor_{name} {value}");
    }
    for family in labelled {
        let _ = writeln!(out, "# HELP sensor_{} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE sensor_{} {}", family.name, family.kind);
        for (labels, value) in &family.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = writeln!(
                out,
                "sensor_{}{{{}}} {value}",
                family.name,
                labels.join(",")
            );
        }
    }
    out
}

/// HELP for a counter derived from where it sits in the stats, so it
/// cannot drift from them: `kernel.ringbuf_full_events` reads "kernel:
/// ringbuf full events since the sensor started (`kernel.ringbuf_full_events`
/// in --stats)". The README's metrics section says what each group means.
fn counter_help(path: &str) -> String {
    let (group, field) = path.rsplit_once('.').unwrap_or(("sensor", path));
    format!(
        "{}: {} since the sensor started (`{path}` in --stats).",
        group.replace('.', " "),
        field.replace('_', " ")
    )
}

/// `sensor_build_info{version="..."} 1`: which build answers, as
/// Prometheus exporters conventionally say it.
pub fn build_info(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP sensor_build_info The sensor's version; the value is always 1."
    );
    let _ = writeln!(out, "# TYPE sensor_build_info gauge");
    let _ = writeln!(
        out,
        "sensor_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
}

/// (metric name, dotted stats path, value) for every number in `value`.
fn flatten(prefix: &str, path: &str, value: &Value, out: &mut Vec<(String, String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let name = format!("{prefix}_{}", sanitize(key));
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(&name, &path, inner, out);
            }
        }
        Value::Number(n) => out.push((prefix.to_owned(), path.to_owned(), n.to_string())),
        // Strings, booleans and arrays are not counters.
        _ => {}
    }
}

/// Metric names allow `[a-zA-Z0-9_:]`.
fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stats_become_counters_and_families_keep_labels() {
        let stats = json!({
            "kernel": {"ringbuf_full_events": 3, "events_sent": 10},
            "pipeline": {"exchanges": 7},
            "note": "ignored",
        });
        let families = [Labelled {
            name: "alerts_total".into(),
            help: "Alerts written, by rule and severity.".into(),
            kind: "counter",
            samples: vec![(
                vec![
                    ("rule".into(), "secret.\"x\"".into()),
                    ("severity".into(), "high".into()),
                ],
                2.0,
            )],
        }];
        let text = render(
            &stats,
            &[("connections_tracked", "Connections tracked now.", 4.0)],
            &families,
        );
        for line in [
            "sensor_kernel_ringbuf_full_events_total 3",
            "sensor_kernel_events_sent_total 10",
            "sensor_pipeline_exchanges_total 7",
            "# TYPE sensor_connections_tracked gauge",
            "sensor_connections_tracked 4",
            "sensor_alerts_total{rule=\"secret.\\\"x\\\"\",severity=\"high\"} 2",
            "# HELP sensor_kernel_ringbuf_full_events_total kernel: ringbuf full events since the sensor started (`kernel.ringbuf_full_events` in --stats).",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("note"));
    }
}
