//! In-progress NodeClaims (upstream `scheduling.NodeClaim`, spec core §2.6): the requirements,
//! instance-type options (an index list into the template, narrowed in place) and requests of a
//! NodeClaim being filled with pods.

use std::borrow::Cow;

use super::dense::{self, Dense};
use super::filter::{self, FilterFailure, FilterInput, Known};
use super::minvalues;
use super::plan::PodIndex;
use super::settings::{MinValuesPolicy, SchedulingSettings};
use super::template::Template;
use crate::requirements::Requirements;
use crate::snapshot::HostPort;

/// A NodeClaim being built.
#[derive(Debug)]
pub(crate) struct Claim {
    /// Index of its template.
    pub(crate) template: usize,
    /// `hostname-placeholder-NNNN`.
    pub(crate) hostname: String,
    /// Merged requirements (template, pods, topology), including the hostname placeholder.
    pub(crate) requirements: Requirements,
    /// Remaining instance-type options (indices into the template's options, in template order).
    pub(crate) options: Vec<u32>,
    /// Sum of the pods' requests (DaemonSet overhead is added at finalisation).
    pub(crate) requests: Dense,
    /// Per slot, the largest headroom among the options: a pod that does not fit it fits no
    /// option, which rejects most full NodeClaims without scanning their options.
    pub(crate) max_headroom: Dense,
    /// The pods, in placement order.
    pub(crate) pods: Vec<PodIndex>,
    /// Host ports of the pods.
    pub(crate) host_ports: Vec<HostPort>,
    /// Whether BestEffort lowered some minValues (set when the NodeClaim is opened).
    pub(crate) min_values_relaxed: bool,
}

/// A successful fit: the NodeClaim's requirements and options once the pod is added.
#[derive(Debug)]
pub(crate) struct Fit {
    /// The new requirements.
    pub(crate) requirements: Requirements,
    /// The surviving options.
    pub(crate) options: Vec<u32>,
    /// Whether minValues had to be lowered.
    pub(crate) relaxed_min_values: bool,
}

/// Why instance-type filtering failed.
#[derive(Debug)]
pub(crate) enum FilterRejection {
    /// No instance type met every criterion.
    InstanceTypes(FilterFailure),
    /// minValues could not be met (Strict).
    MinValues(minvalues::Unmet),
}

/// The inputs of one instance-type narrowing.
pub(crate) struct Narrowing<'a> {
    /// Candidate options.
    pub(crate) options: &'a [u32],
    /// Requirements with the pod (and topology) added.
    pub(crate) requirements: Cow<'a, Requirements>,
    /// What is known about the candidates under those requirements.
    pub(crate) known: Known<'a>,
    /// Requests of the NodeClaim so far (zero for a new one).
    pub(crate) claim_requests: &'a [i128],
    /// The pod's requests.
    pub(crate) pod_requests: &'a [i128],
    /// The pod's host ports.
    pub(crate) pod_ports: &'a [HostPort],
    /// Host ports of the NodeClaim's pods.
    pub(crate) claim_ports: &'a [HostPort],
}

/// Filters the options for a pod and applies minValues (spec core §2.6 steps 6–7).
pub(crate) fn narrow(
    template: &Template<'_>,
    input: Narrowing<'_>,
    settings: &SchedulingSettings,
) -> Result<Fit, FilterRejection> {
    let mut total: Dense = input.claim_requests.into();
    dense::add(&mut total, input.pod_requests);
    let outcome = filter::filter(
        template,
        &FilterInput {
            options: input.options,
            requirements: &input.requirements,
            total: &total,
            known: input.known,
            pod_ports: input.pod_ports,
            claim_ports: input.claim_ports,
        },
        settings,
    );
    let options = outcome.map_err(FilterRejection::InstanceTypes)?;
    let mut requirements = input.requirements.into_owned();
    let mut relaxed_min_values = false;
    if requirements.has_min_values() {
        let its = options.iter().map(|&o| template.options[o as usize].it);
        if let Err(unmet) = minvalues::check(its, &requirements) {
            if settings.min_values_policy == MinValuesPolicy::Strict {
                return Err(FilterRejection::MinValues(unmet));
            }
            minvalues::relax(&mut requirements, &unmet);
            relaxed_min_values = true;
        }
    }
    Ok(Fit {
        requirements,
        options,
        relaxed_min_values,
    })
}

impl Claim {
    /// Opens a NodeClaim for `template` with its first pod.
    pub(crate) fn open(
        template_index: usize,
        template: &Template<'_>,
        hostname: String,
        fit: Fit,
        pod: PodIndex,
        requests: &[i128],
        ports: &[HostPort],
    ) -> Claim {
        let mut claim = Claim {
            template: template_index,
            hostname,
            requirements: Requirements::new(),
            options: Vec::new(),
            requests: vec![0; requests.len()].into_boxed_slice(),
            max_headroom: vec![0; requests.len()].into_boxed_slice(),
            pods: Vec::new(),
            host_ports: Vec::new(),
            min_values_relaxed: fit.relaxed_min_values,
        };
        claim.add(template, fit, pod, requests, ports);
        claim
    }

    /// Whether the pod's requests on top of the claim's exceed every option (cheap pre-check).
    pub(crate) fn cannot_hold(&self, requests: &[i128]) -> bool {
        !self
            .requests
            .iter()
            .zip(requests)
            .zip(&*self.max_headroom)
            .all(|((&c, &r), &m)| c + r <= m)
    }

    /// Adds a pod with the fit computed for it.
    pub(crate) fn add(
        &mut self,
        template: &Template<'_>,
        fit: Fit,
        pod: PodIndex,
        requests: &[i128],
        ports: &[HostPort],
    ) {
        self.requirements = fit.requirements;
        self.options = fit.options;
        dense::add(&mut self.requests, requests);
        self.pods.push(pod);
        self.host_ports.extend(ports.iter().cloned());
        self.max_headroom.fill(i128::MIN);
        for &o in &self.options {
            dense::max_into(&mut self.max_headroom, &template.options[o as usize].headroom);
        }
    }
}

impl FilterRejection {
    /// Upstream's message.
    pub(crate) fn message(
        &self,
        requirements: &Requirements,
        pod_requests: &crate::resources::ResourceList,
    ) -> String {
        match self {
            FilterRejection::InstanceTypes(failure) => failure.message(requirements, pod_requests),
            FilterRejection::MinValues(unmet) => format!(
                "{}, requirements={requirements}, resources={pod_requests}",
                minvalues::unmet_message(unmet)
            ),
        }
    }
}
