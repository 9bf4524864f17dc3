//! Opening a new NodeClaim from the first NodePool, by weight, that takes the pod (spec core
//! §2.4, §2.6, §2.11, §2.15).

use std::borrow::Cow;

use super::Solver;
use crate::explain::{NodePoolRejection, RejectReason};
use crate::labels::HOSTNAME;
use crate::requirements::{Requirement, Requirements};
use crate::scheduling::claims::{self, Claim, Fit, Narrowing};
use crate::scheduling::classes::TemplateFit;
use crate::scheduling::failure::Failure;
use crate::scheduling::filter::Known;
use crate::scheduling::limits;
use crate::scheduling::template::Template;
use crate::snapshot::{Pod, PodConstraints};

impl Solver<'_> {
    /// A new NodeClaim from the first template, in weight order, that can take the pod.
    pub(super) fn add_to_new_claim(
        &mut self,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
    ) -> Result<(), Failure> {
        let mut rejections = Vec::new();
        for t in 0..self.templates.len() {
            match self.new_claim_fit(t, position, class, constraints) {
                Ok((fit, hostname)) => {
                    self.open_claim(t, position, fit, hostname, constraints);
                    return Ok(());
                }
                Err(rejection) => {
                    // A pod that could use reserved capacity must not fall back to a lower-weight
                    // NodePool this round (spec core §2.15): it waits for the next one.
                    let reserved = rejection.reason == RejectReason::ReservedCapacity;
                    rejections.push(rejection);
                    if reserved {
                        break;
                    }
                }
            }
        }
        Err(Failure::NodePools(rejections))
    }

    fn new_claim_fit(
        &mut self,
        t: usize,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
    ) -> Result<(Fit, String), NodePoolRejection> {
        let template = &self.templates[t];
        let name = template.nodepool.name.as_str();
        let allowed = self.allowed_options(t)?;
        let fit = self.classes.template_fit(class, t, template, self.settings);
        let (base, options_ok) = match &*fit {
            TemplateFit::Taints(m) => return Err(rejection(name, RejectReason::Taints, m.clone())),
            TemplateFit::Requirements(m) => {
                return Err(rejection(name, RejectReason::Requirements, m.clone()));
            }
            TemplateFit::Compatible {
                requirements,
                options_ok,
            } => (requirements, options_ok),
        };
        let hostname = format!("hostname-placeholder-{:04}", self.claims.len() + 1);
        let mut requirements = base.clone();
        requirements.add(Requirement::in_values(HOSTNAME, [hostname.as_str()]));
        let new = NewClaim {
            t,
            allowed: &allowed,
            options_ok,
            hostname: &hostname,
        };
        let state = &self.pods[position];
        let alternatives = state
            .volumes
            .as_ref()
            .map_or(&[][..], |v| v.alternatives.as_slice());
        if alternatives.is_empty() {
            let fit =
                self.new_claim_attempt(&new, position, class, constraints, requirements, false)?;
            return Ok((fit, hostname));
        }
        // Volume topology narrows the NodeClaim only, never the pod's affinity (spec core §2.3).
        let wk = &self.settings.well_known_labels;
        let candidates: Vec<Result<Requirements, String>> = alternatives
            .iter()
            .map(
                |alternative| match requirements.compatible(alternative, wk) {
                    Ok(()) => Ok(requirements.intersection(alternative)),
                    Err(e) => Err(format!("incompatible volume requirements, {e}")),
                },
            )
            .collect();
        let mut last = rejection(name, RejectReason::Volumes, String::new());
        for candidate in candidates {
            let attempt = candidate.map_err(|m| rejection(name, RejectReason::Volumes, m));
            match attempt.and_then(|narrowed| {
                self.new_claim_attempt(&new, position, class, constraints, narrowed, true)
            }) {
                Ok(fit) => return Ok((fit, hostname)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The template options NodePool limits allow (spec core §2.11).
    fn allowed_options(&self, t: usize) -> Result<Vec<u32>, NodePoolRejection> {
        let template = &self.templates[t];
        let Some(remaining) = &self.limits[t] else {
            return Ok((0..template.options.len() as u32).collect());
        };
        let name = template.nodepool.name.as_str();
        remaining.allowed_options(template).map_err(|e| {
            let reason = match e {
                limits::LimitError::NodesExhausted => RejectReason::NodeLimit,
                limits::LimitError::AllExceed => RejectReason::Limits,
            };
            rejection(name, reason, e.message(name))
        })
    }

    /// Topology, instance-type narrowing and reservations for a pod on a new NodeClaim of
    /// `new.t` with `requirements` (template ∩ pod ∩ hostname, and a volume alternative when
    /// `narrowed`).
    fn new_claim_attempt(
        &mut self,
        new: &NewClaim<'_>,
        position: usize,
        class: usize,
        constraints: &PodConstraints,
        mut requirements: Requirements,
        mut narrowed: bool,
    ) -> Result<Fit, NodePoolRejection> {
        let template = &self.templates[new.t];
        let name = template.nodepool.name.as_str();
        let state = &self.pods[position];
        let pod = &self.snapshot.pods[state.index];
        if self.topology.constrains(pod, constraints) {
            let topology = self.topology_for_new(pod, class, constraints, &requirements, template);
            let topology = topology.map_err(|m| rejection(name, RejectReason::Topology, m))?;
            requirements.add_all(&topology);
            narrowed = true;
        }
        let mask = narrowed
            .then(|| {
                self.masks
                    .mask(new.t, template, &requirements, self.settings)
            })
            .flatten();
        let known = match (&mask, narrowed) {
            (_, false) => Known::Mask(new.options_ok),
            (Some(mask), true) => Known::Mask(mask),
            (None, true) => Known::Unknown,
        };
        let zero = vec![0; state.requests.len()];
        let narrowing = Narrowing {
            options: new.allowed,
            requirements: Cow::Borrowed(&requirements),
            known,
            claim_requests: &zero,
            pod_requests: &state.requests,
            pod_ports: &pod.host_ports,
            claim_ports: &[],
        };
        let mut fit = claims::narrow(template, narrowing, self.settings)
            .map_err(|e| filter_rejection(name, &e, &requirements, pod))?;
        let requirements = fit.requirements.get_or_insert(requirements);
        let none = std::collections::BTreeSet::new();
        fit.reservations = self
            .reservations
            .to_hold(
                new.hostname,
                &none,
                template,
                &fit.options,
                requirements,
                self.settings,
            )
            .map_err(|m| rejection(name, RejectReason::ReservedCapacity, m.to_owned()))?;
        Ok(fit)
    }

    fn topology_for_new(
        &self,
        pod: &Pod,
        class: usize,
        constraints: &PodConstraints,
        requirements: &Requirements,
        template: &Template<'_>,
    ) -> Result<Requirements, String> {
        let wk = &self.settings.well_known_labels;
        let narrowed = self
            .topology
            .add_requirements(
                pod,
                constraints,
                &self.classes.get(class).strict,
                requirements,
                template.taints.as_slice(),
                Some(wk),
            )
            .map_err(|e| self.topology.explain(&e))?;
        requirements
            .compatible(&narrowed, wk)
            .map_err(|e| e.to_string())?;
        Ok(narrowed)
    }

    fn open_claim(
        &mut self,
        t: usize,
        position: usize,
        fit: Fit,
        hostname: String,
        constraints: &PodConstraints,
    ) {
        let state = &self.pods[position];
        let pod = &self.snapshot.pods[state.index];
        let template = &self.templates[t];
        self.reservations.hold(&hostname, &fit.reservations);
        let claim = Claim::open(
            t,
            template,
            hostname,
            fit,
            state.index,
            &state.requests,
            &pod.host_ports,
        );
        self.topology.register(HOSTNAME, &claim.hostname);
        let wk = &self.settings.well_known_labels;
        self.topology.record(
            pod,
            constraints,
            &claim.requirements,
            template.taints.as_slice(),
            Some(wk),
        );
        if let Some(remaining) = &mut self.limits[t] {
            remaining.subtract_max(template, &claim.options);
        }
        let c = self.claims.len();
        self.watches.placed(c, pod);
        self.claims.push(claim);
        let claims = &self.claims;
        let at = self
            .claim_order
            .partition_point(|&other| claims[other].pods.len() <= 1);
        self.claim_order.insert(at, c);
    }
}

/// What a new-NodeClaim attempt shares across volume alternatives.
struct NewClaim<'a> {
    /// The template.
    t: usize,
    /// Options the NodePool's limits allow.
    allowed: &'a [u32],
    /// The pod class's verdicts on the template's options (without topology or volumes).
    options_ok: &'a [bool],
    /// The NodeClaim's hostname placeholder.
    hostname: &'a str,
}

/// A NodePool's refusal after instance-type filtering, with the per-criterion counts.
fn filter_rejection(
    nodepool: &str,
    rejection_: &claims::FilterRejection,
    requirements: &Requirements,
    pod: &Pod,
) -> NodePoolRejection {
    let message = rejection_.message(requirements, &pod.requests);
    let (reason, counts) = match rejection_ {
        claims::FilterRejection::InstanceTypes(f) => (RejectReason::InstanceTypes, Some(f.counts)),
        claims::FilterRejection::MinValues(..) => (RejectReason::MinValues, None),
    };
    NodePoolRejection {
        instance_types: counts,
        ..rejection(nodepool, reason, message)
    }
}

/// A NodePool's refusal.
fn rejection(nodepool: &str, reason: RejectReason, message: String) -> NodePoolRejection {
    NodePoolRejection {
        nodepool: nodepool.to_owned(),
        reason,
        message,
        instance_types: None,
    }
}
