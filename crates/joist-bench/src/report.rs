//! What one measured benchmark size reports, as a JSON line or a table row.

use serde::{Deserialize, Serialize};

/// The result of one benchmark size (one line of `--json` output).
///
/// The first seven fields are the stable interface (`docs/benchmarks.md`); the rest are extra.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The case name given on the command line (`upstream-mix`, `aws-mix`, `aws-mix-cpu`).
    pub case: String,
    /// Pods scheduled (all of them: a size that leaves a pod unplaced fails instead).
    pub pods: usize,
    /// New NodeClaims in the plan.
    pub nodes: usize,
    /// Mean wall-clock seconds of one `solve()` call (snapshot built before the timer).
    pub seconds: f64,
    /// `pods / seconds`.
    pub pods_per_sec: f64,
    /// Sum over new NodeClaims of their cheapest compatible available offering (see
    /// `crate::cases::plan_cost`).
    pub cost_per_hour: f64,
    /// Peak resident set of the process that measured this size, in MiB (`VmHWM`); `None` off
    /// Linux.
    pub peak_rss_mb: Option<f64>,
    /// Which size or variant of the case: a pod count or a named variant.
    pub variant: String,
    /// The LP lower bound on the cost of any plan for these pods (`crate::lower_bound`).
    pub lower_bound_cost_per_hour: Option<f64>,
    /// `cost_per_hour / lower_bound_cost_per_hour`.
    pub cost_ratio: Option<f64>,
    /// The lower bound's optimal fractional mix: instance type and count, largest first.
    #[serde(default)]
    pub lower_bound_mix: Vec<(String, f64)>,
    /// How many `solve()` calls the mean is over.
    pub iterations: u32,
    /// Seconds spent building the pods and the snapshot (not part of `seconds`).
    pub setup_seconds: f64,
    /// Instance types offered to the NodePools (summed over pools).
    pub instance_types: usize,
    /// The per-pod fit bound (`crate::fit_bound`): a lower bound that, unlike the LP, knows each
    /// pod must fit on one node. `None` when some pod fits no type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_bound_cost_per_hour: Option<f64>,
    /// `cost_per_hour / fit_bound_cost_per_hour`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_cost_ratio: Option<f64>,
    /// The cost of the same pods under upstream's greedy packing alone
    /// (`PackingPolicy::Upstream`, untimed), to show what joist's re-packing saves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_cost_per_hour: Option<f64>,
}

/// The header of the human-readable table.
pub fn table_header() -> String {
    format!(
        "{:<14} {:<20} {:>7} {:>6} {:>10} {:>10} {:>10} {:>10} {:>6} {:>10} {:>6} {:>10} {:>9}",
        "case",
        "variant",
        "pods",
        "nodes",
        "seconds",
        "pods/s",
        "cost/h",
        "bound/h",
        "ratio",
        "fit/h",
        "ratio",
        "upstream/h",
        "rss MiB"
    )
}

/// One table row.
pub fn table_row(m: &Measurement) -> String {
    let optional = |value: Option<f64>, decimals: usize| {
        value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
    };
    format!(
        "{:<14} {:<20} {:>7} {:>6} {:>10.4} {:>10.0} {:>10.3} {:>10} {:>6} {:>10} {:>6} {:>10} {:>9}",
        m.case,
        m.variant,
        m.pods,
        m.nodes,
        m.seconds,
        m.pods_per_sec,
        m.cost_per_hour,
        optional(m.lower_bound_cost_per_hour, 3),
        optional(m.cost_ratio, 3),
        optional(m.fit_bound_cost_per_hour, 3),
        optional(m.fit_cost_ratio, 3),
        optional(m.upstream_cost_per_hour, 3),
        optional(m.peak_rss_mb, 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Measurement {
        Measurement {
            case: "upstream-mix".into(),
            pods: 1000,
            nodes: 210,
            seconds: 0.05,
            pods_per_sec: 20_000.0,
            cost_per_hour: 123.456,
            peak_rss_mb: Some(42.25),
            variant: "1000".into(),
            lower_bound_cost_per_hour: Some(100.0),
            cost_ratio: Some(1.23456),
            lower_bound_mix: vec![("fake-it-3".into(), 12.5)],
            iterations: 20,
            setup_seconds: 0.01,
            instance_types: 400,
            fit_bound_cost_per_hour: Some(110.0),
            fit_cost_ratio: Some(1.1223),
            upstream_cost_per_hour: Some(130.0),
        }
    }

    #[test]
    fn json_line_has_the_stable_fields_first_and_round_trips() {
        let line = serde_json::to_string(&sample()).expect("json");
        assert!(
            line.starts_with(
                r#"{"case":"upstream-mix","pods":1000,"nodes":210,"seconds":0.05,"pods_per_sec":20000.0,"cost_per_hour":123.456,"peak_rss_mb":42.25,"#
            ),
            "{line}"
        );
        assert!(!line.contains('\n'));
        let back: Measurement = serde_json::from_str(&line).expect("parse");
        assert_eq!(back, sample());
    }

    #[test]
    fn table_row_aligns_with_the_header_and_shows_missing_values_as_dashes() {
        let mut m = sample();
        assert_eq!(table_row(&m).len(), table_header().len());
        assert!(table_row(&m).contains("1.235"));
        m.lower_bound_cost_per_hour = None;
        m.cost_ratio = None;
        m.peak_rss_mb = None;
        m.fit_bound_cost_per_hour = None;
        m.fit_cost_ratio = None;
        m.upstream_cost_per_hour = None;
        let row = table_row(&m);
        assert_eq!(row.matches(" -").count(), 6, "{row}");
    }
}
