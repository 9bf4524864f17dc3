//! The benchmark cases: which pods, NodePools and instance types each size schedules, and how
//! the resulting plan is costed.

pub mod aws;
pub mod consolidation;
pub mod convert;
pub mod upstream;

use std::collections::BTreeMap;

use joist_core::instancetype::InstanceType;
use joist_core::resources::ResourceList;
use joist_core::scheduling::{Plan, SchedulingSettings};
use joist_core::snapshot::Snapshot;
use thiserror::Error;

use crate::lower_bound::LowerBoundError;

/// A benchmark case, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Case {
    /// Upstream Karpenter's scheduling benchmark (spec core §9.3) on 400 fake instance types.
    UpstreamMix,
    /// 10,000 CPU, memory-heavy and GPU pods on the embedded AWS catalog in us-east-1.
    AwsMix,
    /// The CPU and memory-heavy pods of `aws-mix` alone.
    AwsMixCpu,
}

impl Case {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Case::UpstreamMix => "upstream-mix",
            Case::AwsMix => "aws-mix",
            Case::AwsMixCpu => "aws-mix-cpu",
        }
    }

    /// The sizes measured when none is given.
    pub fn default_variants(self) -> Vec<String> {
        match self {
            Case::UpstreamMix => upstream::DEFAULT_VARIANTS
                .iter()
                .map(ToString::to_string)
                .collect(),
            Case::AwsMix | Case::AwsMixCpu => vec![crate::mix::aws::DEFAULT_PODS.to_string()],
        }
    }
}

/// Errors preparing, checking or costing a case.
#[derive(Debug, Error)]
pub enum CaseError {
    /// The variant is neither a pod count nor a named variant of the case.
    #[error("{case}: unknown size or variant {variant:?} (expected {expected})")]
    UnknownVariant {
        /// The case.
        case: &'static str,
        /// What was asked for.
        variant: String,
        /// What the case accepts.
        expected: &'static str,
    },
    /// The AWS zones could not be set up.
    #[error("AWS placement: {0}")]
    Placement(#[from] joist_aws::offerings::OfferingsError),
    /// The AWS instance types could not be built.
    #[error("AWS instance types: {0}")]
    InstanceTypes(#[from] joist_aws::instancetype::BuildError),
    /// The AWS catalog did not load.
    #[error("AWS catalog: {0}")]
    Catalog(#[from] joist_aws::catalog::CatalogError),
    /// The lower-bound LP failed.
    #[error(transparent)]
    LowerBound(#[from] LowerBoundError),
    /// The solver left pods unplaced: the benchmark fails rather than report partial numbers.
    #[error(
        "{placed} of {pods} pods placed ({unschedulable} unschedulable, {ignored} ignored, \
         {deferred} deferred); first unplaced pod {first}: {reason}"
    )]
    Unplaced {
        /// Pods in the snapshot.
        pods: usize,
        /// Pods on new NodeClaims or nominated.
        placed: usize,
        /// Pods the plan calls unschedulable.
        unschedulable: usize,
        /// Pods the plan ignored as invalid.
        ignored: usize,
        /// Pods deferred for reserved capacity.
        deferred: usize,
        /// `namespace/name` of the first pod not placed.
        first: String,
        /// Why the plan says it was not placed.
        reason: String,
    },
    /// A NodeClaim names an instance type its NodePool was not offered.
    #[error("NodeClaim of NodePool {nodepool} names unknown instance type {instance_type}")]
    UnknownInstanceType {
        /// The NodeClaim's NodePool.
        nodepool: String,
        /// The unknown name.
        instance_type: String,
    },
    /// No instance-type option of a NodeClaim has a compatible available offering.
    #[error("NodeClaim {index} of NodePool {nodepool} has no compatible available offering")]
    NoOffering {
        /// Index of the NodeClaim in the plan.
        index: usize,
        /// Its NodePool.
        nodepool: String,
    },
}

/// A case at one size, ready to be solved.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The scheduler input (pods, NodePools, instance types; no nodes, no DaemonSets).
    pub snapshot: Snapshot,
    /// The solve options.
    pub settings: SchedulingSettings,
    /// Summed requests of every pod (incl. `pods: 1` each): the lower-bound LP's demand.
    pub demand: ResourceList,
}

impl Prepared {
    /// Every distinct instance type offered to some NodePool (by name, first offer wins): the
    /// lower-bound LP's columns.
    pub fn distinct_instance_types(&self) -> Vec<&InstanceType> {
        let mut by_name: BTreeMap<&str, &InstanceType> = BTreeMap::new();
        for types in self.snapshot.instance_types.values() {
            for instance_type in types.iter() {
                by_name.entry(&instance_type.name).or_insert(instance_type);
            }
        }
        by_name.into_values().collect()
    }

    /// Instance types offered, summed over NodePools.
    pub fn offered_instance_types(&self) -> usize {
        self.snapshot.instance_types.values().map(|t| t.len()).sum()
    }
}

/// Builds `case` at `variant` (a pod count, or a named variant).
pub fn prepare(case: Case, variant: &str) -> Result<Prepared, CaseError> {
    match case {
        Case::UpstreamMix => upstream::prepare(variant),
        Case::AwsMix => aws::prepare(variant, aws::Pods::All),
        Case::AwsMixCpu => aws::prepare(variant, aws::Pods::CpuOnly),
    }
}

/// Parses a pod-count variant.
pub(crate) fn pod_count(
    case: &'static str,
    variant: &str,
    expected: &'static str,
) -> Result<usize, CaseError> {
    variant
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| CaseError::UnknownVariant {
            case,
            variant: variant.to_string(),
            expected,
        })
}

/// Fails unless every pod of the snapshot is on a new NodeClaim or nominated.
pub fn check_all_placed(snapshot: &Snapshot, plan: &Plan) -> Result<(), CaseError> {
    let pods = snapshot.pods.len();
    let placed = plan.scheduled_count();
    if placed == pods && plan.unschedulable.is_empty() && plan.ignored.is_empty() {
        return Ok(());
    }
    let key = |index: usize| {
        snapshot
            .pods
            .get(index)
            .map_or_else(|| format!("#{index}"), |pod| pod.key())
    };
    let (first, reason) = if let Some(u) = plan.unschedulable.first() {
        let mut reason = u.explanation.message.clone();
        for note in &u.explanation.notes {
            reason.push_str("; ");
            reason.push_str(note);
        }
        (key(u.pod), reason)
    } else if let Some(i) = plan.ignored.first() {
        (key(i.pod), i.message.clone())
    } else if let Some(d) = plan.deferred.first() {
        (key(*d), "deferred for reserved capacity".to_string())
    } else {
        (
            "-".to_string(),
            "the plan accounts for fewer pods than exist".to_string(),
        )
    };
    Err(CaseError::Unplaced {
        pods,
        placed,
        unschedulable: plan.unschedulable.len(),
        ignored: plan.ignored.len(),
        deferred: plan.deferred.len(),
        first,
        reason,
    })
}

/// The plan's hourly cost: for every new NodeClaim, the cheapest available offering compatible
/// with the NodeClaim's requirements (zone, capacity type ...) over all its instance-type
/// options. The plan lists options cheapest first, so this is the first option's price; taking
/// the minimum keeps the figure right whatever the order.
pub fn plan_cost(snapshot: &Snapshot, plan: &Plan) -> Result<f64, CaseError> {
    let mut by_pool: BTreeMap<&str, BTreeMap<&str, &InstanceType>> = BTreeMap::new();
    for (pool, types) in &snapshot.instance_types {
        let names = types.iter().map(|t| (t.name.as_str(), t)).collect();
        by_pool.insert(pool.as_str(), names);
    }
    let mut total = 0.0;
    for (index, nodeclaim) in plan.new_nodeclaims.iter().enumerate() {
        let mut cheapest = f64::MAX;
        for name in nodeclaim.instance_types.iter() {
            let instance_type = by_pool
                .get(nodeclaim.nodepool.as_str())
                .and_then(|types| types.get(&**name))
                .ok_or_else(|| CaseError::UnknownInstanceType {
                    nodepool: nodeclaim.nodepool.clone(),
                    instance_type: name.to_string(),
                })?;
            cheapest =
                cheapest.min(instance_type.cheapest_compatible_price(&nodeclaim.requirements));
        }
        if cheapest == f64::MAX {
            return Err(CaseError::NoOffering {
                index,
                nodepool: nodeclaim.nodepool.clone(),
            });
        }
        total += cheapest;
    }
    Ok(total)
}
