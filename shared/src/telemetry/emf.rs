//! CloudWatch Embedded Metric Format: a metric is a JSON line on standard output that CloudWatch
//! Logs turns into a metric as the log arrives, so the hot path makes no metrics API call and
//! pays nothing but the line.
//!
//! One line per request: `Requests`, `Errors5xx` and `Latency` by `Function` and `Route` (what
//! the per-route alarms read), and the business counters (logins failed, money moved, replays…)
//! by `Function` alone, so each counter is one metric however many routes feed it.

use serde_json::{Map, Value, json};
use std::io::Write;
use std::sync::Mutex;

/// The namespace when `METRICS_NAMESPACE` is unset (the template sets one per stage).
pub const DEFAULT_NAMESPACE: &str = "Chatman";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Sample {
    name: &'static str,
    unit: Unit,
    value: f64,
}

/// The metrics of one request (or one batch), written as one EMF line.
#[derive(Clone, Debug)]
pub struct Metrics {
    function: String,
    route: Option<String>,
    by_route: Vec<Sample>,
    by_function: Vec<Sample>,
}

impl Metrics {
    /// Metrics of `function`; those put with `by_route` also carry the `Route` dimension.
    pub fn new(function: &str, route: Option<&str>) -> Self {
        Self {
            function: function.to_owned(),
            route: route.map(str::to_owned),
            by_route: Vec::new(),
            by_function: Vec::new(),
        }
    }

    /// A metric by function and route (by function alone when there is no route).
    pub fn by_route(&mut self, name: &'static str, unit: Unit, value: f64) {
        match self.route {
            Some(_) => add(&mut self.by_route, name, unit, value),
            None => add(&mut self.by_function, name, unit, value),
        }
    }

    /// A metric by function; the same name twice adds up.
    pub fn by_function(&mut self, name: &'static str, unit: Unit, value: f64) {
        add(&mut self.by_function, name, unit, value);
    }

    /// The EMF document, one line, stamped `timestamp_ms` (Unix epoch milliseconds).
    pub fn line(&self, namespace: &str, timestamp_ms: i64) -> String {
        let mut directives = Vec::new();
        let mut root = Map::new();
        root.insert("Function".into(), json!(self.function));
        if let (Some(route), false) = (&self.route, self.by_route.is_empty()) {
            root.insert("Route".into(), json!(route));
            directives.push(directive(namespace, &["Function", "Route"], &self.by_route));
        }
        if !self.by_function.is_empty() {
            directives.push(directive(namespace, &["Function"], &self.by_function));
        }
        for sample in self.by_route.iter().chain(&self.by_function) {
            root.insert(sample.name.into(), json!(sample.value));
        }
        root.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
        );
        Value::Object(root).to_string()
    }
}

fn add(samples: &mut Vec<Sample>, name: &'static str, unit: Unit, value: f64) {
    match samples.iter_mut().find(|s| s.name == name) {
        Some(sample) => sample.value += value,
        None => samples.push(Sample { name, unit, value }),
    }
}

fn directive(namespace: &str, dimensions: &[&str], samples: &[Sample]) -> Value {
    let metrics: Vec<Value> = samples
        .iter()
        .map(|s| json!({"Name": s.name, "Unit": s.unit.name()}))
        .collect();
    json!({"Namespace": namespace, "Dimensions": [dimensions], "Metrics": metrics})
}

/// Where EMF lines go.
pub trait MetricSink: Send + Sync {
    fn write(&self, metrics: &Metrics);
}

/// Lambda: standard output, where CloudWatch Logs reads EMF.
pub struct Stdout {
    namespace: String,
}

impl Stdout {
    /// The namespace from `METRICS_NAMESPACE`, else [`DEFAULT_NAMESPACE`].
    pub fn from_env() -> Self {
        let namespace = std::env::var("METRICS_NAMESPACE")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        Self { namespace }
    }
}

impl MetricSink for Stdout {
    fn write(&self, metrics: &Metrics) {
        let line = metrics.line(&self.namespace, now_ms());
        // One write of the whole line, so it never interleaves with a log line.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// The local server: no CloudWatch to read them.
pub struct Discard;

impl MetricSink for Discard {
    fn write(&self, _: &Metrics) {}
}

/// Tests: the lines, kept.
#[derive(Default)]
pub struct Captured(Mutex<Vec<String>>);

impl Captured {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl MetricSink for Captured {
    fn write(&self, metrics: &Metrics) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(metrics.line(DEFAULT_NAMESPACE, now_ms()));
        }
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_each_metric_under_its_dimensions() {
        let mut m = Metrics::new("transfer", Some("POST /wallet/transfers"));
        m.by_route("Requests", Unit::Count, 1.0);
        m.by_route("Latency", Unit::Milliseconds, 12.5);
        m.by_function("Transfers", Unit::Count, 1.0);
        m.by_function("TransferredAmount", Unit::Count, 250.0);
        m.by_function("Transfers", Unit::Count, 1.0);
        let v: Value = serde_json::from_str(&m.line("Chatman/dev", 1_700_000_000_000)).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let d = &v["_aws"]["CloudWatchMetrics"];
        assert_eq!(d[0]["Namespace"], "Chatman/dev");
        assert_eq!(d[0]["Dimensions"], json!([["Function", "Route"]]));
        assert_eq!(
            d[0]["Metrics"][1],
            json!({"Name": "Latency", "Unit": "Milliseconds"})
        );
        assert_eq!(d[1]["Dimensions"], json!([["Function"]]));
        assert_eq!(v["Route"], "POST /wallet/transfers");
        assert_eq!(v["Transfers"], 2.0);
        assert_eq!(v["TransferredAmount"], 250.0);
        assert!(!m.line("x", 0).contains('\n'));
    }

    #[test]
    fn without_a_route_every_metric_is_by_function() {
        let mut m = Metrics::new("ws-deliver", None);
        m.by_route("Deliveries", Unit::Count, 3.0);
        let v: Value = serde_json::from_str(&m.line("Chatman", 0)).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(), 1);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
        assert!(v.get("Route").is_none());
    }
}
