//! Seeded pod mixes as plain data.
//!
//! The generators describe pods with just what the benchmarks vary (labels, requests, one
//! placement constraint, a GPU toleration); [`crate::cases`] turns them into scheduler input.
//! Keeping the mixes apart from the model makes them easy to test for their proportions and
//! reproducibility, and keeps the random draws in one place: every draw comes from a
//! [`SeededRng`](joist_core::rng::SeededRng) created from the benchmark's seed.

pub mod aws;
pub mod upstream;

use joist_core::resources::{Quantity, ResourceList, names};

/// A topology key the mixes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopologyKey {
    /// `topology.kubernetes.io/zone`.
    Zone,
    /// `kubernetes.io/hostname`.
    Hostname,
}

/// The one placement constraint a benchmark pod carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Constraint {
    /// No constraint beyond resources.
    Generic,
    /// A topology spread constraint: maxSkew 1, `DoNotSchedule`, selecting pods whose
    /// [`upstream::MY_LABEL`] equals `selector_value` (drawn independently of the pod's own label,
    /// as upstream does).
    Spread {
        /// The spread domain.
        key: TopologyKey,
        /// The `my-label` value the selector matches.
        selector_value: &'static str,
    },
    /// Required pod affinity to pods with the pod's own [`upstream::MY_AFFINITY`] label value.
    SelfAffinity {
        /// The co-location domain.
        key: TopologyKey,
    },
    /// Required pod anti-affinity to every `app=nginx` pod (the pod carries that label).
    AntiAffinity {
        /// The exclusion domain.
        key: TopologyKey,
    },
    /// Upstream's preference pods: a satisfiable zone node preference (weight 1), an
    /// unsatisfiable zonal anti-affinity preference (weight 10) and a satisfiable hostname
    /// anti-affinity preference (weight 1), all among `app=nginx` pods.
    Preferences {
        /// The zone the node preference asks for.
        preferred_zone: &'static str,
    },
}

/// Resource requests of a benchmark pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Requests {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in MiB.
    pub memory_mib: i64,
    /// `nvidia.com/gpu` count (0 for none).
    pub gpus: i64,
}

impl Requests {
    /// The requests as a resource list, including the `pods: 1` every pod consumes (the
    /// scheduler's `pod_requests` adds it too).
    pub fn to_resource_list(self) -> ResourceList {
        let mut list = ResourceList::new();
        list.insert(names::CPU, Quantity::from_milli(self.cpu_millis));
        list.insert(names::MEMORY, Quantity::from_mebibytes(self.memory_mib));
        if self.gpus > 0 {
            list.insert(names::NVIDIA_GPU, Quantity::from_int(self.gpus));
        }
        list.insert(names::PODS, Quantity::from_int(1));
        list
    }
}

/// One pod of a mix, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BenchPod {
    /// Pod name, unique within the mix (also used as its UID).
    pub name: String,
    /// Pod labels (keys are always constants of the mix).
    pub labels: Vec<(&'static str, String)>,
    /// Container requests.
    pub requests: Requests,
    /// Its placement constraint.
    pub constraint: Constraint,
    /// Whether it tolerates the `nvidia.com/gpu` `NoSchedule` taint (operator `Exists`).
    pub tolerates_gpu_taint: bool,
}

/// Sums the requests (with `pods: 1` each) of `pods`: the demand side of the lower-bound LP.
pub fn total_requests(pods: &[BenchPod]) -> ResourceList {
    let mut total = ResourceList::new();
    for pod in pods {
        total.add(&pod.requests.to_resource_list());
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_include_one_pod_and_gpus_only_when_asked() {
        let plain = Requests {
            cpu_millis: 250,
            memory_mib: 512,
            gpus: 0,
        }
        .to_resource_list();
        assert_eq!(plain.get(names::CPU), Some(Quantity::from_milli(250)));
        assert_eq!(
            plain.get(names::MEMORY),
            Some(Quantity::from_mebibytes(512))
        );
        assert_eq!(plain.get(names::PODS), Some(Quantity::from_int(1)));
        assert!(!plain.contains(names::NVIDIA_GPU));
        let gpu = Requests {
            cpu_millis: 4000,
            memory_mib: 16384,
            gpus: 4,
        }
        .to_resource_list();
        assert_eq!(gpu.get(names::NVIDIA_GPU), Some(Quantity::from_int(4)));
    }

    #[test]
    fn total_requests_adds_every_pod() {
        let pod = |cpu, gpus| BenchPod {
            name: "p".into(),
            labels: vec![],
            requests: Requests {
                cpu_millis: cpu,
                memory_mib: 100,
                gpus,
            },
            constraint: Constraint::Generic,
            tolerates_gpu_taint: gpus > 0,
        };
        let total = total_requests(&[pod(100, 0), pod(250, 1), pod(1500, 2)]);
        assert_eq!(total.get(names::CPU), Some(Quantity::from_milli(1850)));
        assert_eq!(
            total.get(names::MEMORY),
            Some(Quantity::from_mebibytes(300))
        );
        assert_eq!(total.get(names::PODS), Some(Quantity::from_int(3)));
        assert_eq!(total.get(names::NVIDIA_GPU), Some(Quantity::from_int(3)));
    }
}
