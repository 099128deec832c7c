//! One metrics page, filled in by each component: the pipeline, the
//! analysis, the outputs and the capture source each add their own
//! counters, gauges and labelled families (as Vector's components emit
//! their own internal events), so a new counter touches one file.

use serde_json::{Map, Value};

use super::{render, Labelled};

#[derive(Debug, Default)]
pub struct Page {
    /// Nested objects of numbers: `{"pipeline": {"exchanges": 3}}` becomes
    /// `sensor_pipeline_exchanges_total 3`.
    counters: Map<String, Value>,
    gauges: Vec<(&'static str, &'static str, f64)>,
    families: Vec<Labelled>,
}

impl Page {
    /// Adds counters under `group`, merged into what is already there.
    pub fn counters(&mut self, group: &str, value: Value) {
        match (self.counters.get_mut(group), value) {
            (Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
            (_, value) => {
                self.counters.insert(group.to_owned(), value);
            }
        }
    }

    /// Adds every field of `object` as its own group.
    pub fn counter_groups(&mut self, object: Value) {
        if let Value::Object(map) = object {
            for (group, value) in map {
                self.counters(&group, value);
            }
        }
    }

    pub fn gauge(&mut self, name: &'static str, help: &'static str, value: f64) {
        self.gauges.push((name, help, value));
    }

    pub fn family(&mut self, family: Labelled) {
        self.families.push(family);
    }

    /// The page, `sensor_build_info` first.
    pub fn render(&self) -> String {
        let mut out = String::new();
        super::render::build_info(&mut out);
        out.push_str(&render(
            &Value::Object(self.counters.clone()),
            &self.gauges,
            &self.families,
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn groups_merge_and_render_in_one_page() {
        let mut page = Page::default();
        page.counter_groups(json!({"pipeline": {"exchanges": 2}, "note": "x"}));
        page.counters("alerts", json!({"folded": 1}));
        page.counters("alerts", json!({"below_min_severity": 4}));
        page.gauge("connections_tracked", "Connections tracked now.", 3.0);
        let text = page.render();
        for line in [
            "sensor_pipeline_exchanges_total 2",
            "sensor_alerts_folded_total 1",
            "sensor_alerts_below_min_severity_total 4",
            "sensor_connections_tracked 3",
            concat!(
                "sensor_build_info{version=\"",
                env!("CARGO_PKG_VERSION"),
                "\"} 1"
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
