//! The metric families: counters, gauges and histograms with label sets, rendered in the
//! Prometheus text format (labels sorted by name, as client_golang prints them).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};

/// Values of one family, keyed by label values in declaration order.
type Series<T> = Mutex<BTreeMap<Vec<String>, T>>;

fn lock<T>(series: &Series<T>) -> MutexGuard<'_, BTreeMap<Vec<String>, T>> {
    // A panic while holding the lock leaves a valid map (every update is one insert).
    series.lock().unwrap_or_else(|poison| poison.into_inner())
}

fn key(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|value| (*value).to_owned()).collect()
}

/// A family's name, help and label names.
#[derive(Debug)]
pub(super) struct Descriptor {
    pub(super) name: &'static str,
    pub(super) help: &'static str,
    pub(super) labels: &'static [&'static str],
}

impl Descriptor {
    fn header(&self, out: &mut String, kind: &str) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {kind}", self.name);
    }

    /// `{a="x",b="y"}` sorted by label name, with an optional trailing `le`.
    fn label_set(&self, values: &[String], le: Option<f64>) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .labels
            .iter()
            .copied()
            .zip(values.iter().map(String::as_str))
            .collect();
        pairs.sort_unstable_by_key(|(name, _)| *name);
        let mut text = String::new();
        for (name, value) in pairs {
            let _ = write!(
                text,
                "{}{name}=\"{}\"",
                if text.is_empty() { "" } else { "," },
                escape(value)
            );
        }
        if let Some(le) = le {
            let _ = write!(
                text,
                "{}le=\"{}\"",
                if text.is_empty() { "" } else { "," },
                number(le)
            );
        }
        if text.is_empty() {
            text
        } else {
            format!("{{{text}}}")
        }
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value == f64::INFINITY {
        "+Inf".to_owned()
    } else {
        value.to_string()
    }
}

// === impl CounterVec, GaugeVec ===

/// A counter family (only goes up).
#[derive(Debug)]
pub struct CounterVec {
    descriptor: Descriptor,
    series: Series<f64>,
}

impl CounterVec {
    pub(super) fn new(descriptor: Descriptor) -> Self {
        CounterVec {
            descriptor,
            series: Mutex::default(),
        }
    }

    /// Adds one to the series with these label values (in declaration order).
    pub fn inc(&self, labels: &[&str]) {
        self.inc_by(labels, 1.0);
    }

    /// Adds `amount` to the series with these label values (in declaration order).
    pub fn inc_by(&self, labels: &[&str], amount: f64) {
        *lock(&self.series).entry(key(labels)).or_default() += amount;
    }

    /// The current value of a series (0 when never incremented).
    pub fn get(&self, labels: &[&str]) -> f64 {
        lock(&self.series)
            .get(&key(labels))
            .copied()
            .unwrap_or_default()
    }

    pub(super) fn encode(&self, out: &mut String) {
        self.descriptor.header(out, "counter");
        for (labels, value) in lock(&self.series).iter() {
            let _ = writeln!(
                out,
                "{}{} {}",
                self.descriptor.name,
                self.descriptor.label_set(labels, None),
                number(*value)
            );
        }
    }
}

/// A gauge family (set to the latest value).
#[derive(Debug)]
pub struct GaugeVec {
    descriptor: Descriptor,
    series: Series<f64>,
}

impl GaugeVec {
    pub(super) fn new(descriptor: Descriptor) -> Self {
        GaugeVec {
            descriptor,
            series: Mutex::default(),
        }
    }

    /// Sets the series with these label values.
    pub fn set(&self, labels: &[&str], value: f64) {
        lock(&self.series).insert(key(labels), value);
    }

    /// The current value of a series, if set.
    pub fn get(&self, labels: &[&str]) -> Option<f64> {
        lock(&self.series).get(&key(labels)).copied()
    }

    /// Drops every series whose first label value is `first` (e.g. all zones of a controller
    /// before a new round sets them), so stale label sets stop being exported.
    pub fn clear_where_first(&self, first: &str) {
        lock(&self.series).retain(|labels, _| labels.first().is_none_or(|value| value != first));
    }

    pub(super) fn encode(&self, out: &mut String) {
        self.descriptor.header(out, "gauge");
        for (labels, value) in lock(&self.series).iter() {
            let _ = writeln!(
                out,
                "{}{} {}",
                self.descriptor.name,
                self.descriptor.label_set(labels, None),
                number(*value)
            );
        }
    }
}

// === impl HistogramVec ===

/// One histogram series: cumulative bucket counts, sum and count.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

/// A histogram family with fixed buckets.
#[derive(Debug)]
pub struct HistogramVec {
    descriptor: Descriptor,
    bounds: &'static [f64],
    series: Series<Histogram>,
}

impl HistogramVec {
    pub(super) fn new(descriptor: Descriptor, bounds: &'static [f64]) -> Self {
        HistogramVec {
            descriptor,
            bounds,
            series: Mutex::default(),
        }
    }

    /// Records one observation (seconds for durations).
    pub fn observe(&self, labels: &[&str], value: f64) {
        let mut series = lock(&self.series);
        let histogram = series.entry(key(labels)).or_insert_with(|| Histogram {
            buckets: vec![0; self.bounds.len()],
            ..Histogram::default()
        });
        for (bound, count) in self.bounds.iter().zip(histogram.buckets.iter_mut()) {
            if value <= *bound {
                *count += 1;
            }
        }
        histogram.sum += value;
        histogram.count += 1;
    }

    /// How many observations a series holds.
    pub fn count(&self, labels: &[&str]) -> u64 {
        lock(&self.series)
            .get(&key(labels))
            .map_or(0, |histogram| histogram.count)
    }

    pub(super) fn encode(&self, out: &mut String) {
        let name = self.descriptor.name;
        self.descriptor.header(out, "histogram");
        for (labels, histogram) in lock(&self.series).iter() {
            for (bound, count) in self.bounds.iter().zip(&histogram.buckets) {
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {count}",
                    self.descriptor.label_set(labels, Some(*bound))
                );
            }
            let all = self.descriptor.label_set(labels, Some(f64::INFINITY));
            let plain = self.descriptor.label_set(labels, None);
            let _ = writeln!(out, "{name}_bucket{all} {}", histogram.count);
            let _ = writeln!(out, "{name}_sum{plain} {}", number(histogram.sum));
            let _ = writeln!(out, "{name}_count{plain} {}", histogram.count);
        }
    }
}
