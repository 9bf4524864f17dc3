//! `aws-mix` and `aws-mix-cpu`: the AWS pod mix ([`crate::mix::aws`]) on the full embedded EC2
//! catalog in us-east-1.
//!
//! Offerings: on-demand and spot in the three zones `us-east-1a`–`c` (AL2023, default kubelet),
//! priced by the embedded on-demand table and spot snapshot. Two NodePools share the catalog:
//!
//! * `gpu` (weight 10): `karpenter.k8s.aws/instance-category In [g, p]`, capacity type spot or
//!   on-demand, taint `nvidia.com/gpu=true:NoSchedule` (only GPU pods tolerate it);
//! * `general` (weight 0): capacity type spot or on-demand, no other restriction.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::DateTime;
use joist_aws::catalog::Catalog;
use joist_aws::instancetype::{Settings, build_instance_types};
use joist_aws::labels::{
    CAPACITY_RESERVATION_ID, INSTANCE_CATEGORY, label_aliases, well_known_labels,
};
use joist_aws::offerings::Placement;
use joist_core::instancetype::InstanceType;
use joist_core::labels::{CAPACITY_TYPE, CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT};
use joist_core::requirements::{Requirement, Requirements};
use joist_core::resources::names;
use joist_core::rng::SeededRng;
use joist_core::scheduling::SchedulingSettings;
use joist_core::snapshot::{NodeClassRef, NodePool, Snapshot};
use joist_core::taints::{Effect, Taint};

use super::{CaseError, Prepared, convert, pod_count};
use crate::mix::{self, aws};

/// The region of the AWS cases.
pub const REGION: &str = "us-east-1";
/// How many of the region's default zones get offerings.
pub const ZONES: usize = 3;
/// The general-purpose NodePool.
pub const GENERAL_POOL: &str = "general";
/// The GPU NodePool.
pub const GPU_POOL: &str = "gpu";
/// The instance categories of the GPU NodePool.
pub const GPU_CATEGORIES: [&str; 2] = ["g", "p"];

/// Which pods of the mix a case schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pods {
    /// The whole mix (`aws-mix`).
    All,
    /// Without the GPU inference pods (`aws-mix-cpu`).
    CpuOnly,
}

/// The catalog's instance types with offerings in the first [`ZONES`] zones of [`REGION`].
pub fn instance_types() -> Result<Vec<InstanceType>, CaseError> {
    let region = Placement::default_for_region(REGION)?;
    let zones = region.zones().iter().take(ZONES).cloned().collect();
    let settings = Settings {
        placement: Placement::new(REGION, zones)?,
        ..Settings::default()
    };
    Ok(build_instance_types(Catalog::embedded()?, &settings)?)
}

fn requirements(entries: &[(&str, &[&str])]) -> Requirements {
    let mut requirements = Requirements::new();
    for (key, values) in entries {
        requirements.add(Requirement::in_values(*key, values.iter().copied()));
    }
    requirements
}

fn nodepool(name: &str, weight: i32, requirements: Requirements, taints: Vec<Taint>) -> NodePool {
    NodePool {
        name: name.to_string(),
        weight,
        requirements,
        taints,
        node_class_ref: NodeClassRef::new("karpenter.k8s.aws", "EC2NodeClass", "default"),
        ready: true,
        ..NodePool::default()
    }
}

/// The two NodePools (see the module docs).
pub fn nodepools() -> Vec<NodePool> {
    let capacity_types: &[&str] = &[CAPACITY_TYPE_SPOT, CAPACITY_TYPE_ON_DEMAND];
    let gpu_taint = Taint {
        key: names::NVIDIA_GPU.to_string(),
        value: "true".to_string(),
        effect: Effect::NoSchedule,
    };
    vec![
        nodepool(
            GENERAL_POOL,
            0,
            requirements(&[(CAPACITY_TYPE, capacity_types)]),
            Vec::new(),
        ),
        nodepool(
            GPU_POOL,
            10,
            requirements(&[
                (CAPACITY_TYPE, capacity_types),
                (INSTANCE_CATEGORY, &GPU_CATEGORIES),
            ]),
            vec![gpu_taint],
        ),
    ]
}

/// Upstream defaults with AWS's well-known labels and aliases.
pub fn settings() -> SchedulingSettings {
    SchedulingSettings {
        well_known_labels: well_known_labels(),
        label_aliases: label_aliases(),
        reservation_id_label: Some(CAPACITY_RESERVATION_ID.to_string()),
        ..SchedulingSettings::default()
    }
}

/// Builds the case with `variant` pods in the mix (before leaving out GPU pods for
/// [`Pods::CpuOnly`]).
pub fn prepare(variant: &str, which: Pods) -> Result<Prepared, CaseError> {
    let case = match which {
        Pods::All => "aws-mix",
        Pods::CpuOnly => "aws-mix-cpu",
    };
    let count = pod_count(case, variant, "a pod count")?;
    let mut rng = SeededRng::new(aws::SEED);
    let pods = match which {
        Pods::All => aws::aws_pods(count, &mut rng),
        Pods::CpuOnly => aws::aws_cpu_pods(count, &mut rng),
    };
    let demand = mix::total_requests(&pods);
    let shared: Arc<[InstanceType]> = Arc::from(instance_types()?);
    let pools = nodepools();
    let instance_types = pools
        .iter()
        .map(|pool| (pool.name.clone(), Arc::clone(&shared)))
        .collect::<BTreeMap<_, _>>();
    let created = DateTime::UNIX_EPOCH;
    let snapshot = Snapshot {
        now: created,
        pods: pods
            .iter()
            .map(|pod| convert::to_pod(pod, created))
            .collect(),
        nodepools: pools,
        instance_types,
        ..Snapshot::default()
    };
    Ok(Prepared {
        snapshot,
        settings: settings(),
        demand,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower_bound::cheapest_available_price;
    use joist_core::resources::Quantity;

    #[test]
    fn offerings_are_spot_and_on_demand_in_three_zones() {
        let types = instance_types().expect("types");
        assert!(types.len() > 1_000);
        let zones: std::collections::BTreeSet<&str> = types
            .iter()
            .flat_map(|t| t.offerings.iter().filter_map(|o| o.zone()))
            .collect();
        assert_eq!(
            zones,
            ["us-east-1a", "us-east-1b", "us-east-1c"]
                .into_iter()
                .collect()
        );
        assert!(types.iter().all(|t| t.offerings.len() <= 6));
    }

    /// Every GPU shape of the mix fits some g/p type with an available offering, so the case
    /// can place every pod (when the solver can).
    #[test]
    fn every_gpu_shape_fits_an_available_gpu_instance_type() {
        let types = instance_types().expect("types");
        let gpu_types: Vec<&InstanceType> = types
            .iter()
            .filter(|t| {
                let category = t.requirements.get(INSTANCE_CATEGORY);
                GPU_CATEGORIES.iter().any(|c| category.has(c))
                    && cheapest_available_price(t).is_some()
            })
            .collect();
        for (gpus, shapes) in aws::GPU_SHAPES {
            for (cpu_millis, memory_mib) in shapes {
                let request = mix::Requests {
                    cpu_millis,
                    memory_mib,
                    gpus,
                }
                .to_resource_list();
                assert!(
                    gpu_types
                        .iter()
                        .any(|t| request.fits(t.allocatable()).is_ok()),
                    "no GPU type fits {request}"
                );
            }
        }
    }

    #[test]
    fn the_cpu_case_has_no_gpu_demand_and_both_pools() {
        let prepared = prepare("1000", Pods::CpuOnly).expect("prepare");
        assert_eq!(prepared.snapshot.pods.len(), 900);
        assert!(!prepared.demand.contains(names::NVIDIA_GPU));
        assert_eq!(prepared.snapshot.nodepools.len(), 2);
        let all = prepare("1000", Pods::All).expect("prepare");
        assert_eq!(all.snapshot.pods.len(), 1_000);
        assert!(all.demand.get(names::NVIDIA_GPU) > Some(Quantity::from_int(0)));
        assert_eq!(
            all.distinct_instance_types().len(),
            all.snapshot.instance_types[GPU_POOL].len()
        );
    }
}
