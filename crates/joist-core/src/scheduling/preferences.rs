//! Preference relaxation (spec core §2.10; upstream `Preferences`).
//!
//! When a pod fails to schedule, the solver relaxes its constraints one step at a time and tries
//! again. [`Preferences::relax`] applies exactly one step per call, the first that applies in
//! upstream's order, to the pod's [`PodConstraints`] (a copy: the pod itself is never changed),
//! and returns it as a [`RelaxationStep`] whose [`reason`](RelaxationStep::reason) is upstream's
//! log text. `None` means nothing is left to relax: the failure is final for this attempt.
//!
//! Under [`PreferencePolicy::Ignore`] preferences are not constraints at all: [`apply_policy`]
//! drops them before the first attempt, so relaxation never spends a retry on them.

use std::fmt;
use std::fmt::Write as _;

use crate::requirements::NodeSelectorRequirement;
use crate::scheduling::PreferencePolicy;
use crate::scheduling::hooks::PreferencesHook;
use crate::snapshot::{
    LabelSelector, NodeInclusionPolicy, NodePool, NodeSelectorTerm, PodAffinityTerm,
    PodConstraints, PreferredSchedulingTerm, TopologySpreadConstraint, WeightedPodAffinityTerm,
    WhenUnsatisfiable,
};
use crate::taints::{Effect, Toleration, TolerationOperator};

#[cfg(test)]
mod tests;

/// The relaxation policy of a solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Preferences {
    /// Whether the last step, tolerating `PreferNoSchedule` taints, is available: it only helps
    /// when some NodePool has such a taint, so upstream adds it only then.
    tolerate_prefer_no_schedule: bool,
    /// Under `Ignore`, preferences are dropped before any step so none is spent on them.
    policy: PreferencePolicy,
}

/// One relaxation, carrying what was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelaxationStep {
    /// The first required node-affinity term was removed (only while more than one remains).
    RequiredNodeAffinityTerm(NodeSelectorTerm),
    /// The heaviest preferred pod-affinity term was removed.
    PreferredPodAffinityTerm(WeightedPodAffinityTerm),
    /// The heaviest preferred pod anti-affinity term was removed.
    PreferredPodAntiAffinityTerm(WeightedPodAffinityTerm),
    /// The heaviest preferred node-affinity term was removed (the next heaviest becomes the
    /// requirement tried).
    PreferredNodeAffinityTerm(PreferredSchedulingTerm),
    /// A `ScheduleAnyway` topology spread constraint was removed.
    ScheduleAnywaySpread(TopologySpreadConstraint),
    /// A toleration `Exists` for effect `PreferNoSchedule` was added.
    ToleratePreferNoSchedule,
}

// === impl Preferences ===

impl Preferences {
    /// A policy that may (or may not) add the `PreferNoSchedule` toleration.
    pub fn new(tolerate_prefer_no_schedule: bool) -> Self {
        Self {
            tolerate_prefer_no_schedule,
            policy: PreferencePolicy::Respect,
        }
    }

    /// Returns the policy applying `policy` first: under `Ignore`, [`relax`](Self::relax) drops
    /// the preferences (see [`apply_policy`]) before choosing a step.
    #[must_use]
    pub fn with_policy(mut self, policy: PreferencePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The policy for a solve over `nodepools`: the toleration step is offered iff some NodePool
    /// template has a `PreferNoSchedule` taint.
    pub fn for_nodepools<'a>(nodepools: impl IntoIterator<Item = &'a NodePool>) -> Self {
        Self::new(nodepools.into_iter().any(|np| {
            np.taints
                .iter()
                .any(|t| t.effect == Effect::PreferNoSchedule)
        }))
    }

    /// Applies the first relaxation that changes something, in upstream's order:
    /// 1. remove the first required node-affinity term, if more than one remains;
    /// 2. remove the heaviest preferred pod-affinity term;
    /// 3. remove the heaviest preferred pod anti-affinity term;
    /// 4. remove the heaviest preferred node-affinity term;
    /// 5. remove the first `ScheduleAnyway` spread constraint;
    /// 6. tolerate `PreferNoSchedule` taints (only if enabled and not tolerated yet).
    ///
    /// "Heaviest" sorts the terms by weight, descending and stable, then removes the first, so
    /// the remaining terms stay in that order as upstream leaves them. Removing a spread
    /// constraint moves the last one into its place (upstream's swap-remove).
    pub fn relax(&self, constraints: &mut PodConstraints) -> Option<RelaxationStep> {
        apply_policy(constraints, self.policy);
        let node = &mut constraints.node_affinity;
        if node.required.len() > 1 {
            return Some(RelaxationStep::RequiredNodeAffinityTerm(
                node.required.remove(0),
            ));
        }
        if let Some(term) = remove_heaviest(&mut constraints.pod_affinity.preferred, |t| t.weight) {
            return Some(RelaxationStep::PreferredPodAffinityTerm(term));
        }
        let anti = &mut constraints.pod_anti_affinity.preferred;
        if let Some(term) = remove_heaviest(anti, |t| t.weight) {
            return Some(RelaxationStep::PreferredPodAntiAffinityTerm(term));
        }
        let preferred = &mut constraints.node_affinity.preferred;
        if let Some(term) = remove_heaviest(preferred, |t| t.weight) {
            return Some(RelaxationStep::PreferredNodeAffinityTerm(term));
        }
        let spread = &mut constraints.topology_spread;
        if let Some(i) = spread
            .iter()
            .position(|t| t.when_unsatisfiable == WhenUnsatisfiable::ScheduleAnyway)
        {
            return Some(RelaxationStep::ScheduleAnywaySpread(spread.swap_remove(i)));
        }
        if self.tolerate_prefer_no_schedule {
            let toleration = prefer_no_schedule_toleration();
            if !constraints
                .tolerations
                .iter()
                .any(|t| same_toleration(t, &toleration))
            {
                constraints.tolerations.push(toleration);
                return Some(RelaxationStep::ToleratePreferNoSchedule);
            }
        }
        None
    }
}

impl PreferencesHook for Preferences {
    fn relax(&self, constraints: &mut PodConstraints) -> Option<String> {
        Preferences::relax(self, constraints).map(|step| step.reason())
    }
}

/// Drops what `policy` says is not a constraint: under `Ignore`, preferred node affinity,
/// preferred pod (anti-)affinity and `ScheduleAnyway` spread constraints; nothing under
/// `Respect`.
pub fn apply_policy(constraints: &mut PodConstraints, policy: PreferencePolicy) {
    if policy == PreferencePolicy::Ignore {
        constraints.node_affinity.preferred.clear();
        constraints.pod_affinity.preferred.clear();
        constraints.pod_anti_affinity.preferred.clear();
        constraints
            .topology_spread
            .retain(|t| t.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule);
    }
}

/// Stable-sorts `terms` by weight, heaviest first, and removes the first.
fn remove_heaviest<T>(terms: &mut Vec<T>, weight: impl Fn(&T) -> i32) -> Option<T> {
    if terms.is_empty() {
        return None;
    }
    terms.sort_by_key(|t| std::cmp::Reverse(weight(t)));
    Some(terms.remove(0))
}

/// `{operator: Exists, effect: PreferNoSchedule}`: tolerates every `PreferNoSchedule` taint.
fn prefer_no_schedule_toleration() -> Toleration {
    Toleration {
        operator: TolerationOperator::Exists,
        effect: Some(Effect::PreferNoSchedule),
        ..Toleration::default()
    }
}

/// Kubernetes `MatchToleration`: same key, effect, operator and value.
fn same_toleration(a: &Toleration, b: &Toleration) -> bool {
    a.key == b.key && a.effect == b.effect && a.operator == b.operator && a.value == b.value
}

// === impl RelaxationStep ===

impl RelaxationStep {
    /// Upstream's `reason` for the step, e.g.
    /// `removing: spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]={"weight":1,...}`
    /// (the removed term in Go's `encoding/json` form).
    pub fn reason(&self) -> String {
        let mut json = String::new();
        let path = match self {
            RelaxationStep::RequiredNodeAffinityTerm(term) => {
                node_selector_term(&mut json, term);
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]="
            }
            RelaxationStep::PreferredPodAffinityTerm(term) => {
                weighted_pod_affinity_term(&mut json, term);
                "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]="
            }
            RelaxationStep::PreferredPodAntiAffinityTerm(term) => {
                weighted_pod_affinity_term(&mut json, term);
                "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]="
            }
            RelaxationStep::PreferredNodeAffinityTerm(term) => {
                preferred_scheduling_term(&mut json, term);
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]="
            }
            RelaxationStep::ScheduleAnywaySpread(tsc) => {
                spread_constraint(&mut json, tsc);
                "spec.topologySpreadConstraints = "
            }
            RelaxationStep::ToleratePreferNoSchedule => {
                return "adding: toleration for PreferNoSchedule taints".to_owned();
            }
        };
        format!("removing: {path}{json}")
    }
}

impl fmt::Display for RelaxationStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

// === Go encoding/json rendering (field order and omitempty of k8s.io/api/core/v1) ===

/// Writes `s` as a JSON string the way Go does (HTML-safe: `<`, `>`, `&` escaped).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An object writer that adds commas between fields.
struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        Object { out, empty: true }
    }

    fn field(&mut self, name: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        string(self.out, name);
        self.out.push(':');
        self.out
    }

    fn strings(&mut self, name: &str, values: &[String]) {
        if !values.is_empty() {
            let out = self.field(name);
            array(out, values, |out, v| string(out, v));
        }
    }

    fn close(self) {
        self.out.push('}');
    }
}

fn array<T>(out: &mut String, items: &[T], mut item: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, value) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(out, value);
    }
    out.push(']');
}

fn node_selector_requirement(out: &mut String, r: &NodeSelectorRequirement) {
    let mut o = Object::open(out);
    string(o.field("key"), &r.key);
    string(o.field("operator"), r.operator.as_str());
    o.strings("values", &r.values);
    o.close();
}

fn node_selector_term(out: &mut String, term: &NodeSelectorTerm) {
    let mut o = Object::open(out);
    for (name, list) in [
        ("matchExpressions", &term.match_expressions),
        ("matchFields", &term.match_fields),
    ] {
        if !list.is_empty() {
            array(o.field(name), list, node_selector_requirement);
        }
    }
    o.close();
}

fn preferred_scheduling_term(out: &mut String, term: &PreferredSchedulingTerm) {
    let mut o = Object::open(out);
    let _ = write!(o.field("weight"), "{}", term.weight);
    node_selector_term(o.field("preference"), &term.preference);
    o.close();
}

fn label_selector(out: &mut String, selector: &LabelSelector) {
    let mut o = Object::open(out);
    if !selector.match_labels.is_empty() {
        let mut labels = Object::open(o.field("matchLabels"));
        for (key, value) in &selector.match_labels {
            string(labels.field(key), value);
        }
        labels.close();
    }
    if !selector.match_expressions.is_empty() {
        array(
            o.field("matchExpressions"),
            &selector.match_expressions,
            |out, e| {
                let mut x = Object::open(out);
                string(x.field("key"), &e.key);
                string(x.field("operator"), e.operator.as_str());
                x.strings("values", &e.values);
                x.close();
            },
        );
    }
    o.close();
}

fn pod_affinity_term(out: &mut String, term: &PodAffinityTerm) {
    let mut o = Object::open(out);
    if let Some(selector) = &term.label_selector {
        label_selector(o.field("labelSelector"), selector);
    }
    o.strings("namespaces", &term.namespaces);
    string(o.field("topologyKey"), &term.topology_key);
    if let Some(selector) = &term.namespace_selector {
        label_selector(o.field("namespaceSelector"), selector);
    }
    o.strings("matchLabelKeys", &term.match_label_keys);
    o.strings("mismatchLabelKeys", &term.mismatch_label_keys);
    o.close();
}

fn weighted_pod_affinity_term(out: &mut String, term: &WeightedPodAffinityTerm) {
    let mut o = Object::open(out);
    let _ = write!(o.field("weight"), "{}", term.weight);
    pod_affinity_term(o.field("podAffinityTerm"), &term.term);
    o.close();
}

fn spread_constraint(out: &mut String, tsc: &TopologySpreadConstraint) {
    let policy = |p: NodeInclusionPolicy| match p {
        NodeInclusionPolicy::Honor => "Honor",
        NodeInclusionPolicy::Ignore => "Ignore",
    };
    let mut o = Object::open(out);
    let _ = write!(o.field("maxSkew"), "{}", tsc.max_skew);
    string(o.field("topologyKey"), &tsc.topology_key);
    let when = match tsc.when_unsatisfiable {
        WhenUnsatisfiable::DoNotSchedule => "DoNotSchedule",
        WhenUnsatisfiable::ScheduleAnyway => "ScheduleAnyway",
    };
    string(o.field("whenUnsatisfiable"), when);
    if let Some(selector) = &tsc.label_selector {
        label_selector(o.field("labelSelector"), selector);
    }
    if let Some(min_domains) = tsc.min_domains {
        let _ = write!(o.field("minDomains"), "{min_domains}");
    }
    if let Some(p) = tsc.node_affinity_policy {
        string(o.field("nodeAffinityPolicy"), policy(p));
    }
    if let Some(p) = tsc.node_taints_policy {
        string(o.field("nodeTaintsPolicy"), policy(p));
    }
    o.strings("matchLabelKeys", &tsc.match_label_keys);
    o.close();
}
