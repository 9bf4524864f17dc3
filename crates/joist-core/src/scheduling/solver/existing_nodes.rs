//! Placing a pod on an existing or in-flight node (spec core §2.5).

use super::Solver;
use crate::labels::WellKnownLabels;
use crate::requirements::Requirements;
use crate::scheduling::existing::ExistingNode;
use crate::scheduling::hooks::TopologyHook;
use crate::snapshot::{Pod, PodConstraints};

impl Solver<'_> {
    /// The first existing node (initialized first, then by name) that takes the pod.
    pub(super) fn add_to_existing(
        &mut self,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
    ) -> bool {
        let state = &self.pods[position];
        let pod = &self.snapshot.pods[state.index];
        let pod_class = self.classes.get(class);
        let Ok(pod_requirements) = &pod_class.requirements else {
            return false;
        };
        let constrained = self.topology.constrains(pod, constraints);
        let volumes = state.volumes.as_ref();
        for node in self.existing.iter_mut() {
            let Some(merged) = node.admits(
                pod,
                &constraints.tolerations,
                &state.requests,
                pod_requirements,
                volumes,
            ) else {
                continue;
            };
            let attempt = |requirements: Requirements| {
                if !constrained {
                    return Some(requirements);
                }
                narrow_by_topology(
                    &*self.topology,
                    &pod_class.strict,
                    pod,
                    constraints,
                    node,
                    requirements,
                )
            };
            let placed = match volumes.filter(|v| !v.alternatives.is_empty()) {
                None => attempt(merged),
                Some(v) => v.alternatives.iter().find_map(|alternative| {
                    merged
                        .is_compatible(alternative, &WellKnownLabels::empty())
                        .then(|| attempt(merged.intersection(alternative)))
                        .flatten()
                }),
            };
            let Some(requirements) = placed else {
                continue;
            };
            self.topology
                .record(pod, constraints, &requirements, node.taint_slice(), None);
            node.add(state.index, pod, &state.requests, requirements, volumes);
            return true;
        }
        false
    }
}

/// Narrows an existing node's merged requirements by the pod's topology (undefined keys not
/// allowed on existing nodes), or `None` when topology refuses the node.
fn narrow_by_topology(
    topology: &dyn TopologyHook,
    strict: &Requirements,
    pod: &Pod,
    constraints: &PodConstraints,
    node: &ExistingNode<'_>,
    mut requirements: Requirements,
) -> Option<Requirements> {
    let narrowed = topology
        .add_requirements(
            pod,
            constraints,
            strict,
            &requirements,
            node.taint_slice(),
            None,
        )
        .ok()?;
    if !requirements.is_compatible(&narrowed, &WellKnownLabels::empty()) {
        return None;
    }
    requirements.add_all(&narrowed);
    Some(requirements)
}
