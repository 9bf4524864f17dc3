//! Stamping the default constraints onto the round's pods, with kube-scheduler's per-pod
//! selector (`helper.DefaultSelector`):
//!
//! 1. the selectors of every Service in the pod's namespace that selects the pod are merged
//!    into `matchLabels` (a Service with no selector selects nothing and adds nothing; an empty
//!    one selects everything but adds nothing);
//! 2. the pod's *controller* owner adds its selector: a ReplicationController's map is merged
//!    into the same labels (its value wins a conflicting key), a ReplicaSet's or StatefulSet's
//!    selector is ANDed on as `matchExpressions` (its labels become `In [value]`, its
//!    expressions are kept), so a conflicting key selects nothing, as upstream;
//! 3. nothing deduced (no label, no expression) leaves the pod alone: an empty selector would
//!    count every pod of the namespace.
//!
//! A ReplicaSet's selector carries `pod-template-hash`, so each Deployment revision spreads on
//! its own; existing pods matching the selector are counted like for any constraint.

use std::collections::BTreeMap;

use super::DefaultTopologySpread;
use crate::scheduling::PodIndex;
use crate::snapshot::{
    LabelSelector, LabelSelectorRequirement, Pod, SelectorOperator, Service, Snapshot, WorkloadKind,
};

/// A copy of `snapshot` in which the `batch` pods without spread constraints of their own carry
/// the defaults, or `None` when no pod changes (nothing configured, or nothing deducible). Only
/// a configured solve pays for the copy.
pub(crate) fn inject(
    snapshot: &Snapshot,
    defaults: &DefaultTopologySpread,
    batch: &[PodIndex],
) -> Option<Snapshot> {
    if defaults.is_empty() {
        return None;
    }
    let mut deducer = SelectorDeducer::new(snapshot);
    let stamped: Vec<(PodIndex, LabelSelector)> = batch
        .iter()
        .filter(|&&i| snapshot.pods[i].constraints.topology_spread.is_empty())
        .filter_map(|&i| deducer.selector(&snapshot.pods[i]).map(|s| (i, s)))
        .collect();
    if stamped.is_empty() {
        return None;
    }
    let mut copy = snapshot.clone();
    for (index, selector) in stamped {
        copy.pods[index].constraints.topology_spread = defaults.stamped(&selector);
    }
    Some(copy)
}

/// What a pod's deduced selector depends on: namespace, controller and labels. Pods of one
/// workload share it, so each workload's selector is deduced once.
type ShapeKey<'s> = (
    &'s str,
    Option<(WorkloadKind, &'s str)>,
    &'s BTreeMap<String, String>,
);

/// Deduces default-spread selectors over one snapshot, with lookups built once.
pub(crate) struct SelectorDeducer<'s> {
    /// Services by namespace.
    services: BTreeMap<&'s str, Vec<&'s Service>>,
    /// Controller selectors by (namespace, kind, name).
    workloads: BTreeMap<(&'s str, WorkloadKind, &'s str), &'s LabelSelector>,
    /// Selectors already deduced, by the pod shape they depend on.
    cache: BTreeMap<ShapeKey<'s>, Option<LabelSelector>>,
}

impl<'s> SelectorDeducer<'s> {
    /// Indexes the snapshot's Services and controller selectors.
    pub(crate) fn new(snapshot: &'s Snapshot) -> Self {
        let mut services: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
        for service in &snapshot.services {
            services
                .entry(service.namespace.as_str())
                .or_default()
                .push(service);
        }
        let workloads = snapshot
            .workload_selectors
            .iter()
            .map(|w| ((w.namespace.as_str(), w.kind, w.name.as_str()), &w.selector))
            .collect();
        Self {
            services,
            workloads,
            cache: BTreeMap::new(),
        }
    }

    /// The selector kube-scheduler would give `pod`'s default constraints, or `None` when
    /// nothing can be deduced.
    pub(crate) fn selector(&mut self, pod: &'s Pod) -> Option<LabelSelector> {
        let controller =
            pod.owner.as_ref().filter(|o| o.controller).and_then(|o| {
                WorkloadKind::from_owner(&o.api_version, &o.kind).map(|k| (k, &*o.name))
            });
        let key = (pod.namespace.as_str(), controller, &pod.labels);
        if let Some(cached) = self.cache.get(&key) {
            return cached.clone();
        }
        let deduced = self.deduce(pod, controller);
        self.cache.insert(key, deduced.clone());
        deduced
    }

    fn deduce(&self, pod: &Pod, controller: Option<(WorkloadKind, &str)>) -> Option<LabelSelector> {
        let mut selector = LabelSelector::default();
        let namespace_services = self.services.get(pod.namespace.as_str());
        for service in namespace_services.into_iter().flatten() {
            let Some(labels) = &service.selector else {
                continue;
            };
            if labels.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
                selector
                    .match_labels
                    .extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let owner = controller.and_then(|(kind, name)| {
            let found = self.workloads.get(&(pod.namespace.as_str(), kind, name))?;
            // An invalid selector fails upstream's conversion and contributes nothing.
            found.validate().is_ok().then_some((kind, *found))
        });
        match owner {
            Some((WorkloadKind::ReplicationController, owner)) => {
                // A ReplicationController's selector is a plain map, merged over the Services'.
                selector.match_labels.extend(
                    owner
                        .match_labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            Some((_, owner)) => {
                selector.match_expressions.extend(
                    owner
                        .match_labels
                        .iter()
                        .map(|(k, v)| LabelSelectorRequirement::new(k, SelectorOperator::In, [v])),
                );
                selector
                    .match_expressions
                    .extend(owner.match_expressions.iter().cloned());
            }
            None => {}
        }
        (!selector.is_empty()).then_some(selector)
    }
}
