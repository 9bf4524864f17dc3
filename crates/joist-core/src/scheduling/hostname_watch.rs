//! Skipping in-flight NodeClaims that hostname topology certainly refuses.
//!
//! A pod with hostname anti-affinity (or a hostname spread constraint) can join only NodeClaims
//! that hold few enough pods it selects. Asking the topology engine about every in-flight
//! NodeClaim makes a round of such pods quadratic (the benchmark's anti-affinity fifth opens one
//! NodeClaim per pod). Instead, the solver keeps, per distinct rule "at least `threshold` pods of
//! namespace `ns` with labels ⊇ `labels`", the number of such pods on each NodeClaim; NodeClaims
//! at or over the threshold are skipped without a topology call, and when every NodeClaim is,
//! the in-flight pass is skipped altogether.
//!
//! Only rules whose verdict topology is certain to share are derived (simple `matchLabels`
//! selectors in the pod's own namespace, no node filter for spread); everything else still goes
//! through the topology engine, so this changes cost, never outcomes.

use std::collections::{BTreeMap, HashMap};

use super::settings::PreferencePolicy;
use crate::labels::HOSTNAME;
use crate::snapshot::{
    LabelSelector, NodeInclusionPolicy, Pod, PodAffinityTerm, PodConstraints, WhenUnsatisfiable,
};

/// "A NodeClaim holding at least `threshold` pods of `namespace` whose labels include `labels`
/// refuses the pod."
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Rule {
    /// Namespace of the counted pods.
    namespace: String,
    /// Labels the counted pods must all have.
    labels: Vec<(String, String)>,
    /// Count at which the NodeClaim is refused.
    threshold: u32,
}

/// One rule's counts over the NodeClaims.
#[derive(Debug)]
struct Watch {
    /// The rule.
    rule: Rule,
    /// Matching pods per NodeClaim.
    counts: Vec<u32>,
    /// NodeClaims below the threshold.
    open: usize,
}

/// The watches of a solve.
#[derive(Debug, Default)]
pub(crate) struct HostnameWatches {
    /// Every watch created so far.
    watches: Vec<Watch>,
    /// Rule → watch.
    by_rule: HashMap<Rule, usize>,
}

/// The watches that apply to one pod attempt.
#[derive(Debug, Default)]
pub(crate) struct Applicable(Vec<usize>);

impl HostnameWatches {
    /// The watches for `pod` with `constraints`, creating (and back-filling from `claims`, the
    /// pods on each NodeClaim) any that are new.
    pub(crate) fn applicable<'p>(
        &mut self,
        pod: &Pod,
        constraints: &PodConstraints,
        policy: PreferencePolicy,
        claims: impl Fn() -> Vec<Vec<&'p Pod>>,
    ) -> Applicable {
        let rules = rules(pod, constraints, policy);
        let mut applicable = Vec::with_capacity(rules.len());
        for rule in rules {
            let index = match self.by_rule.get(&rule) {
                Some(&index) => index,
                None => self.create(rule, &claims()),
            };
            applicable.push(index);
        }
        Applicable(applicable)
    }

    fn create(&mut self, rule: Rule, claims: &[Vec<&Pod>]) -> usize {
        let counts: Vec<u32> = claims
            .iter()
            .map(|pods| pods.iter().filter(|p| rule.counts(p)).count() as u32)
            .collect();
        let open = counts.iter().filter(|&&c| c < rule.threshold).count();
        let index = self.watches.len();
        self.by_rule.insert(rule.clone(), index);
        self.watches.push(Watch { rule, counts, open });
        index
    }

    /// Records that NodeClaim `claim` (possibly new) received `pod`.
    pub(crate) fn placed(&mut self, claim: usize, pod: &Pod) {
        for watch in &mut self.watches {
            if watch.counts.len() <= claim {
                watch.counts.resize(claim + 1, 0);
                watch.open += 1;
            }
            if watch.rule.counts(pod) {
                watch.counts[claim] += 1;
                if watch.counts[claim] == watch.rule.threshold {
                    watch.open -= 1;
                }
            }
        }
    }

    /// Whether every NodeClaim is refused by one of `applicable`.
    pub(crate) fn all_refused(&self, applicable: &Applicable) -> bool {
        applicable.0.iter().any(|&w| self.watches[w].open == 0)
    }

    /// Whether `claim` is refused by one of `applicable`.
    pub(crate) fn refused(&self, applicable: &Applicable, claim: usize) -> bool {
        applicable.0.iter().any(|&w| {
            let watch = &self.watches[w];
            watch
                .counts
                .get(claim)
                .is_some_and(|&c| c >= watch.rule.threshold)
        })
    }
}

impl Rule {
    fn counts(&self, pod: &Pod) -> bool {
        pod.namespace == self.namespace
            && self
                .labels
                .iter()
                .all(|(k, v)| pod.labels.get(k) == Some(v))
    }
}

/// The certain rules of a pod's hostname constraints (preferred terms and `ScheduleAnyway` only
/// under `Respect`, where they are enforced until relaxed).
fn rules(pod: &Pod, constraints: &PodConstraints, policy: PreferencePolicy) -> Vec<Rule> {
    let respect = policy == PreferencePolicy::Respect;
    let anti = &constraints.pod_anti_affinity;
    let preferred = anti.preferred.iter().map(|w| &w.term).filter(|_| respect);
    let mut rules: Vec<Rule> = anti
        .required
        .iter()
        .chain(preferred)
        .filter_map(|term| anti_affinity_rule(pod, term))
        .collect();
    let unfiltered =
        constraints.node_selector.is_empty() && constraints.node_affinity.required.is_empty();
    for tsc in &constraints.topology_spread {
        let enforced = tsc.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule || respect;
        let plain = tsc.topology_key == HOSTNAME
            && tsc.match_label_keys.is_empty()
            && tsc.node_taints_policy != Some(NodeInclusionPolicy::Honor)
            && (unfiltered || tsc.node_affinity_policy == Some(NodeInclusionPolicy::Ignore));
        let Some(labels) = tsc.label_selector.as_ref().and_then(simple_labels) else {
            continue;
        };
        if enforced && plain && tsc.max_skew >= 1 {
            let selects_itself = labels.iter().all(|(k, v)| pod.labels.get(k) == Some(v));
            rules.push(Rule {
                namespace: pod.namespace.clone(),
                labels,
                threshold: tsc.max_skew as u32 + 1 - u32::from(selects_itself),
            });
        }
    }
    rules
}

fn anti_affinity_rule(pod: &Pod, term: &PodAffinityTerm) -> Option<Rule> {
    let plain = term.topology_key == HOSTNAME
        && term.namespaces.is_empty()
        && term.namespace_selector.is_none()
        && term.match_label_keys.is_empty()
        && term.mismatch_label_keys.is_empty();
    if !plain {
        return None;
    }
    Some(Rule {
        namespace: pod.namespace.clone(),
        labels: simple_labels(term.label_selector.as_ref()?)?,
        threshold: 1,
    })
}

/// The `matchLabels` of a selector without expressions, sorted.
fn simple_labels(selector: &LabelSelector) -> Option<Vec<(String, String)>> {
    if !selector.match_expressions.is_empty() {
        return None;
    }
    let sorted: BTreeMap<&String, &String> = selector.match_labels.iter().collect();
    Some(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    fn nginx() -> LabelSelector {
        LabelSelector::from_labels([("app", "nginx")])
    }

    #[test]
    fn anti_affinity_blocks_claims_holding_a_selected_pod() {
        let p = pod()
            .label("app", "nginx")
            .anti_affinity(HOSTNAME, nginx())
            .build();
        let other = pod().label("app", "web").build();
        let mut watches = HostnameWatches::default();
        let claims = [vec![&p], vec![&other]];
        let a = watches.applicable(&p, &p.constraints, PreferencePolicy::Respect, || {
            claims.to_vec()
        });
        assert!(watches.refused(&a, 0));
        assert!(!watches.refused(&a, 1));
        assert!(!watches.all_refused(&a));
        watches.placed(1, &p);
        assert!(watches.refused(&a, 1));
        assert!(watches.all_refused(&a));
        watches.placed(2, &other);
        assert!(!watches.all_refused(&a), "a new NodeClaim is open");
    }

    #[test]
    fn only_certain_rules_are_derived() {
        let zone = pod().anti_affinity(crate::labels::ZONE, nginx()).build();
        assert!(rules(&zone, &zone.constraints, PreferencePolicy::Respect).is_empty());
        let preferred = pod().preferred_anti_affinity(1, HOSTNAME, nginx()).build();
        assert_eq!(
            rules(
                &preferred,
                &preferred.constraints,
                PreferencePolicy::Respect
            )
            .len(),
            1
        );
        assert!(rules(&preferred, &preferred.constraints, PreferencePolicy::Ignore).is_empty());
        let spread = pod()
            .label("app", "nginx")
            .spread(HOSTNAME, 2, WhenUnsatisfiable::DoNotSchedule, Some(nginx()))
            .build();
        let r = rules(&spread, &spread.constraints, PreferencePolicy::Respect);
        assert_eq!(
            r[0].threshold, 2,
            "count + 1 > 2 once two selected pods are there"
        );
        let filtered = pod()
            .zone("z")
            .spread(HOSTNAME, 1, WhenUnsatisfiable::DoNotSchedule, Some(nginx()))
            .build();
        assert!(rules(&filtered, &filtered.constraints, PreferencePolicy::Respect).is_empty());
    }
}
