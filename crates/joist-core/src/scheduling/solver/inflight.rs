//! Placing a pod on a NodeClaim opened earlier in the round (spec core §2.4, §2.6).

use std::borrow::Cow;

use super::Solver;
use crate::requirements::{Requirement, Requirements};
use crate::scheduling::claims::{self, Fit, Narrowing};
use crate::scheduling::classes::TemplateFit;
use crate::scheduling::filter::Known;
use crate::scheduling::hooks::TopologyError;
use crate::scheduling::topology;
use crate::snapshot::PodConstraints;

impl Solver<'_> {
    /// The first in-flight NodeClaim, least loaded first, that takes the pod.
    pub(super) fn add_to_inflight(
        &mut self,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
    ) -> bool {
        if self.claims.is_empty() {
            return false;
        }
        let pod = &self.snapshot.pods[self.pods[position].index];
        let (snapshot, claims) = (self.snapshot, &self.claims);
        let applicable =
            self.watches
                .applicable(pod, constraints, self.settings.preference_policy, || {
                    claims
                        .iter()
                        .map(|c| c.pods.iter().map(|&p| &snapshot.pods[p]).collect())
                        .collect()
                });
        if self.watches.all_refused(&applicable) {
            return false;
        }
        let mut refusals = Refusals {
            constrained: self.topology.constrains(pod, constraints),
            refused: Vec::new(),
        };
        for k in 0..self.claim_order.len() {
            let c = self.claim_order[k];
            if self.watches.refused(&applicable, c) {
                continue;
            }
            if let Some(fit) = self.inflight_fit(c, position, class, constraints, &mut refusals) {
                self.commit_inflight(c, k, position, fit, constraints);
                return true;
            }
        }
        false
    }

    fn inflight_fit(
        &mut self,
        c: usize,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
        refusals: &mut Refusals,
    ) -> Option<Fit> {
        let claim = &self.claims[c];
        let state = &self.pods[position];
        if claim.cannot_hold(&state.requests) {
            return None;
        }
        let template = &self.templates[claim.template];
        let fit = self
            .classes
            .template_fit(class, claim.template, template, self.settings);
        if !matches!(*fit, TemplateFit::Compatible { .. }) {
            return None;
        }
        let pod_requirements = self.classes.get(class).requirements.as_ref().ok()?;
        let wk = &self.settings.well_known_labels;
        let mut requirements = Cow::Borrowed(&claim.requirements);
        if !pod_requirements.is_empty() {
            if !claim.requirements.is_compatible(pod_requirements, wk) {
                return None;
            }
            requirements = Cow::Owned(claim.requirements.intersection(pod_requirements));
        }
        let alternatives = state
            .volumes
            .as_ref()
            .map_or(&[][..], |v| v.alternatives.as_slice());
        if alternatives.is_empty() {
            let requirements = match requirements {
                Cow::Borrowed(_) => None,
                Cow::Owned(r) => Some(r),
            };
            return self.inflight_attempt(c, position, class, constraints, requirements, refusals);
        }
        // Volume topology narrows the NodeClaim only, never the pod's affinity (spec core §2.3).
        let candidates: Vec<Requirements> = alternatives
            .iter()
            .filter(|alternative| requirements.is_compatible(alternative, wk))
            .map(|alternative| requirements.intersection(alternative))
            .collect();
        candidates.into_iter().find_map(|requirements| {
            self.inflight_attempt(
                c,
                position,
                class,
                constraints,
                Some(requirements),
                refusals,
            )
        })
    }

    /// Topology, instance-type narrowing and reservations for a pod on in-flight NodeClaim `c`
    /// with the NodeClaim's and pod's (and a volume alternative's) `requirements` merged.
    fn inflight_attempt(
        &mut self,
        c: usize,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
        requirements: Option<Requirements>,
        refusals: &mut Refusals,
    ) -> Option<Fit> {
        let claim = &self.claims[c];
        let state = &self.pods[position];
        let template = &self.templates[claim.template];
        let pod = &self.snapshot.pods[state.index];
        let wk = &self.settings.well_known_labels;
        let mut requirements = requirements;
        if refusals.constrained {
            let base = requirements.as_ref().unwrap_or(&claim.requirements);
            if refusals.refuses(base) {
                return None;
            }
            let strict = &self.classes.get(class).strict;
            let taints = template.taints.as_slice();
            let narrowed = self
                .topology
                .add_requirements(pod, constraints, strict, base, taints, Some(wk))
                .map_err(|error| refusals.learn(&error))
                .ok()?;
            if !base.is_compatible(&narrowed, wk) {
                return None;
            }
            let mut merged = requirements.unwrap_or_else(|| claim.requirements.clone());
            merged.add_all(&narrowed);
            requirements = Some(merged);
        }
        let requirements = match requirements {
            Some(r) if r != claim.requirements => Cow::Owned(r),
            _ => Cow::Borrowed(&claim.requirements),
        };
        let mask = match &requirements {
            Cow::Borrowed(_) => None,
            Cow::Owned(r) => self.masks.mask(claim.template, template, r, self.settings),
        };
        let known = match (&mask, &requirements) {
            (_, Cow::Borrowed(_)) => Known::AllOk,
            (Some(mask), Cow::Owned(_)) => Known::Mask(mask),
            (None, Cow::Owned(_)) => Known::Unknown,
        };
        let narrowing = Narrowing {
            options: &claim.options,
            requirements,
            known,
            claim_requests: &claim.requests,
            pod_requests: &state.requests,
            pod_ports: &pod.host_ports,
            claim_ports: &claim.host_ports,
        };
        let mut fit = claims::narrow(template, narrowing, self.settings).ok()?;
        let final_requirements = fit.requirements.as_ref().unwrap_or(&claim.requirements);
        fit.reservations = self
            .reservations
            .to_hold(
                &claim.hostname,
                &claim.reservations,
                template,
                &fit.options,
                final_requirements,
                self.settings,
            )
            .ok()?;
        Some(fit)
    }

    fn commit_inflight(
        &mut self,
        c: usize,
        k: usize,
        position: usize,
        fit: Fit,
        constraints: &PodConstraints,
    ) {
        let state = &self.pods[position];
        let pod = &self.snapshot.pods[state.index];
        let claim = &mut self.claims[c];
        let template = &self.templates[claim.template];
        self.reservations.hold(&claim.hostname, &fit.reservations);
        claim.add(template, fit, state.index, &state.requests, &pod.host_ports);
        let wk = &self.settings.well_known_labels;
        self.topology.record(
            pod,
            constraints,
            &claim.requirements,
            template.taints.as_slice(),
            Some(wk),
        );
        let count = claim.pods.len();
        self.watches.placed(c, pod);
        self.claim_order.remove(k);
        let claims = &self.claims;
        let at = self
            .claim_order
            .partition_point(|&other| claims[other].pods.len() < count);
        self.claim_order.insert(at, c);
    }
}

/// Topology refusals learnt during one pass of a pod over the in-flight NodeClaims.
///
/// Topology's verdict on a constraint depends only on its group's counts, the pod's strict
/// requirements and the candidate's requirement on the constraint's key. Within one pass none of
/// those change except the candidate, so a NodeClaim whose requirement on a refused key equals the
/// refused one is refused again: it is skipped without asking topology (the benchmark's zonal
/// affinity pods otherwise re-evaluate every NodeClaim pinned to another zone). This changes cost,
/// never outcomes: a skipped NodeClaim is one topology would have refused.
#[derive(Debug)]
pub(super) struct Refusals {
    /// Whether topology constrains the pod at all (asked once per pass: it looks the pod up).
    constrained: bool,
    /// (topology key, the candidate's requirement on it — `None`: unconstrained) pairs refused.
    refused: Vec<(std::sync::Arc<str>, Option<Requirement>)>,
}

impl Refusals {
    /// Whether `requirements` repeat a refused requirement on its key.
    fn refuses(&self, requirements: &Requirements) -> bool {
        self.refused
            .iter()
            .any(|(key, domains)| requirements.find(key) == domains.as_ref())
    }

    /// Remembers why topology refused a candidate.
    fn learn(&mut self, error: &TopologyError) {
        let TopologyError::Unsatisfiable(topology::TopologyError::Unsatisfiable(details)) = error
        else {
            return;
        };
        let entry = (
            std::sync::Arc::clone(&details.key),
            details.node_domains.clone(),
        );
        if !self.refused.contains(&entry) {
            self.refused.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::labels::ZONE;
    use crate::scheduling::topology::{GroupRef, TopologyKind, Unsatisfiable};

    fn refusal(node_domains: Option<Requirement>) -> TopologyError {
        TopologyError::Unsatisfiable(topology::TopologyError::Unsatisfiable(Box::new(
            Unsatisfiable {
                kind: TopologyKind::PodAffinity,
                key: Arc::from(ZONE),
                group: GroupRef::Own(0),
                pod_domains: None,
                node_domains,
            },
        )))
    }

    fn zone(values: &[&str]) -> Requirements {
        std::iter::once(Requirement::in_values(ZONE, values.iter().copied())).collect()
    }

    #[test]
    fn refusals_skip_only_candidates_repeating_a_refused_requirement() {
        let mut refusals = Refusals {
            constrained: true,
            refused: Vec::new(),
        };
        assert!(!refusals.refuses(&zone(&["z2"])));
        refusals.learn(&refusal(Some(Requirement::in_values(ZONE, ["z2"]))));
        refusals.learn(&refusal(Some(Requirement::in_values(ZONE, ["z2"]))));
        assert_eq!(refusals.refused.len(), 1, "a repeated refusal is kept once");
        assert!(refusals.refuses(&zone(&["z2"])));
        assert!(!refusals.refuses(&zone(&["z1"])));
        assert!(!refusals.refuses(&zone(&["z1", "z2"])));
        assert!(!refusals.refuses(&Requirements::new()));
        refusals.learn(&refusal(None));
        assert!(
            refusals.refuses(&Requirements::new()),
            "unconstrained key refused"
        );
        refusals.learn(&TopologyError::Unavailable);
        assert_eq!(
            refusals.refused.len(),
            2,
            "only Unsatisfiable refusals are learnt"
        );
    }
}
