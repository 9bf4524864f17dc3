//! A lower bound that knows each pod must fit on one node: the *per-pod fit bound*.
//!
//! The covering LP of [`crate::lower_bound`] may buy CPU on one type and memory on another, so
//! on the AWS catalog it buys CPU on `t4g.nano` (the cheapest vCPU there is) although no pod of
//! the mix fits on a nano. This bound closes that hole and is still valid for every plan.
//!
//! Pick a positive weight `λ_r` per resource. For a node of type `t` holding pods `P`, the pods'
//! summed requests fit its allocatable, so `Σ_{q∈P} req_q·λ ≤ alloc_t·λ` and
//!
//! ```text
//! price_t  ≥  Σ_{q∈P} (req_q·λ) · price_t / (alloc_t·λ)
//!          ≥  Σ_{q∈P} (req_q·λ) · min_{t' fits q} price_t' / (alloc_t'·λ)
//! ```
//!
//! where `t'` ranges over the types whose allocatable holds `q` alone and `price` is the
//! cheapest available offering. Summing over the plan's nodes, every plan costs at least
//! `Σ_q (req_q·λ) · min_{t fits q} price_t / (alloc_t·λ)` for **every** `λ ≥ 0`; the bound is
//! the best value found by a coordinate search over `λ` (any `λ` is valid, so the search only
//! decides how tight it is). It is a feasible point of the dual of the LP relaxation with per-pod
//! fit constraints, so it never exceeds that relaxation's optimum, and it ignores pools, taints
//! and topology (dropping them can only lower it).

use std::collections::BTreeMap;

use joist_core::instancetype::InstanceType;
use joist_core::resources::{ResourceList, names};
use joist_core::snapshot::Pod;

use crate::lower_bound::cheapest_available_price;

/// Log10 steps of the weight grid, relative to the pivot resource's scale.
const GRID_STEPS: i32 = 121;
/// Lowest log10 multiplier of a weight.
const GRID_LOW: f64 = -3.0;
/// Log10 step between grid points.
const GRID_STEP: f64 = 0.05;
/// Rounds of coordinate search over the non-pivot resources.
const ROUNDS: usize = 3;

/// The fit bound and the weights that achieve it.
#[derive(Debug, Clone, PartialEq)]
pub struct FitBound {
    /// The lower bound on the hourly cost of any plan that places every pod.
    pub cost_per_hour: f64,
    /// The resource weights `λ` (per base unit: cores, bytes, pods ...) of the bound.
    pub weights: Vec<(String, f64)>,
}

/// One instance type reduced to what the bound reads.
struct PricedType {
    /// Cheapest available offering.
    price: f64,
    /// Allocatable per resource, in [`Problem::resources`] order.
    allocatable: Vec<f64>,
}

/// The pods grouped by identical requests, and the types that could hold them.
struct Problem {
    /// Resource names, pivot first.
    resources: Vec<String>,
    /// `(requests per resource, pod count)`.
    shapes: Vec<(Vec<f64>, f64)>,
    /// Types with an available offering.
    types: Vec<PricedType>,
    /// Per shape, indices of the types it fits on alone.
    fits: Vec<Vec<usize>>,
}

/// The per-pod fit bound of placing `pods` on `instance_types` (see the module docs). Returns
/// `None` when some pod fits no type with an available offering (no plan places every pod).
pub fn fit_bound<'a>(
    pods: &[Pod],
    instance_types: impl IntoIterator<Item = &'a InstanceType>,
) -> Option<FitBound> {
    let problem = Problem::new(pods, instance_types)?;
    let scales = problem.scales();
    let mut weights: Vec<f64> = (0..problem.resources.len())
        .map(|r| if r == 0 { 1.0 } else { 0.0 })
        .collect();
    let mut best = problem.value(&weights);
    for _ in 0..ROUNDS {
        for resource in 1..weights.len() {
            let keep = weights[resource];
            let mut best_weight = keep;
            for candidate in grid(scales[resource]) {
                weights[resource] = candidate;
                let value = problem.value(&weights);
                if value > best {
                    best = value;
                    best_weight = candidate;
                }
            }
            weights[resource] = best_weight;
        }
    }
    Some(FitBound {
        cost_per_hour: best,
        weights: problem.resources.iter().cloned().zip(weights).collect(),
    })
}

/// Zero and a log grid around `scale`.
fn grid(scale: f64) -> impl Iterator<Item = f64> {
    std::iter::once(0.0).chain(
        (0..GRID_STEPS).map(move |step| scale * 10f64.powf(GRID_LOW + f64::from(step) * GRID_STEP)),
    )
}

// === impl Problem ===

impl Problem {
    fn new<'a>(
        pods: &[Pod],
        instance_types: impl IntoIterator<Item = &'a InstanceType>,
    ) -> Option<Self> {
        let requests: Vec<ResourceList> = pods.iter().map(with_pod_count).collect();
        let resources = resource_names(&requests);
        let mut counts: BTreeMap<Vec<i128>, f64> = BTreeMap::new();
        for list in &requests {
            let key = resources
                .iter()
                .map(|r| list.get_or_zero(r).nanos())
                .collect();
            *counts.entry(key).or_default() += 1.0;
        }
        let shapes: Vec<(Vec<f64>, f64)> = counts
            .into_iter()
            .map(|(nanos, count)| (nanos.iter().map(|&n| n as f64 / 1e9).collect(), count))
            .collect();
        let types: Vec<PricedType> = instance_types
            .into_iter()
            .filter_map(|t| {
                let price = cheapest_available_price(t)?;
                let allocatable = resources
                    .iter()
                    .map(|r| t.allocatable().get_or_zero(r).as_f64().max(0.0))
                    .collect();
                Some(PricedType { price, allocatable })
            })
            .collect();
        let fits: Vec<Vec<usize>> = shapes
            .iter()
            .map(|(request, _)| {
                (0..types.len())
                    .filter(|&t| {
                        request
                            .iter()
                            .zip(&types[t].allocatable)
                            .all(|(q, a)| q <= a)
                    })
                    .collect()
            })
            .collect();
        if fits.iter().any(Vec::is_empty) {
            return None;
        }
        Some(Self {
            resources,
            shapes,
            types,
            fits,
        })
    }

    /// Per resource, the weight that values its total demand like the pivot's total demand.
    fn scales(&self) -> Vec<f64> {
        let total = |r: usize| -> f64 { self.shapes.iter().map(|(q, n)| q[r] * n).sum() };
        let pivot = total(0);
        (0..self.resources.len())
            .map(|r| {
                let demand = total(r);
                if demand > 0.0 { pivot / demand } else { 0.0 }
            })
            .collect()
    }

    /// The bound at one weight vector.
    fn value(&self, weights: &[f64]) -> f64 {
        let dot = |v: &[f64]| v.iter().zip(weights).map(|(a, w)| a * w).sum::<f64>();
        let unit: Vec<f64> = self
            .types
            .iter()
            .map(|t| {
                let capacity = dot(&t.allocatable);
                if capacity > 0.0 {
                    t.price / capacity
                } else {
                    f64::MAX
                }
            })
            .collect();
        self.shapes
            .iter()
            .zip(&self.fits)
            .map(|((request, count), fits)| {
                let value = dot(request);
                if value <= 0.0 {
                    return 0.0;
                }
                let cheapest = fits.iter().map(|&t| unit[t]).fold(f64::MAX, f64::min);
                count * value * cheapest
            })
            .sum()
    }
}

/// A pod's requests including its one `pods` slot.
fn with_pod_count(pod: &Pod) -> ResourceList {
    let mut list = pod.requests.clone();
    if list.get(names::PODS).is_none() {
        list.insert(names::PODS, joist_core::resources::Quantity::from_int(1));
    }
    list
}

/// Every requested resource, `cpu` first (the pivot whose weight stays 1), then by name.
fn resource_names(requests: &[ResourceList]) -> Vec<String> {
    let mut names: Vec<String> = requests
        .iter()
        .flat_map(|list| list.iter().map(|(name, _)| name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    if let Some(cpu) = names.iter().position(|n| n == names::CPU) {
        let cpu = names.remove(cpu);
        names.insert(0, cpu);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower_bound::lower_bound;
    use joist_core::instancetype::{Offering, Overhead, PriceSource};
    use joist_core::labels::{CAPACITY_TYPE, ZONE};
    use joist_core::requirements::{Requirement, Requirements};
    use joist_core::resources::Quantity;
    use joist_core::testing::pod;

    fn instance_type(name: &str, cpu: i64, memory_gib: i64, price: f64) -> InstanceType {
        let mut requirements = Requirements::new();
        requirements.add(Requirement::in_values(CAPACITY_TYPE, ["on-demand"]));
        requirements.add(Requirement::in_values(ZONE, ["zone-1"]));
        let offering = Offering {
            requirements,
            price,
            available: true,
            reservation_capacity: None,
            price_source: PriceSource::Exact,
        };
        let mut capacity = ResourceList::new();
        capacity.insert(names::CPU, Quantity::from_int(cpu));
        capacity.insert(names::MEMORY, Quantity::from_mebibytes(memory_gib * 1024));
        capacity.insert(names::PODS, Quantity::from_int(110));
        InstanceType::new(
            name,
            Requirements::new(),
            vec![offering],
            capacity,
            Overhead::default(),
        )
    }

    /// A nano sells CPU for almost nothing but holds no 4 GiB pod; the covering LP buys its CPU
    /// anyway, the fit bound does not. Optimum: two `big` nodes with four pods each, $2.
    fn nano_trap() -> (Vec<Pod>, Vec<InstanceType>) {
        let pods = (0..8)
            .map(|i| pod().name(&format!("p{i}")).cpu("1").memory("4Gi").build())
            .collect();
        let types = vec![
            instance_type("nano", 2, 1, 0.01),
            instance_type("big", 4, 16, 1.0),
            instance_type("mem", 2, 16, 0.8),
        ];
        (pods, types)
    }

    #[test]
    fn the_fit_bound_reaches_the_optimum_the_covering_lp_misses() {
        let (pods, types) = nano_trap();
        let fit = fit_bound(&pods, &types).expect("every pod fits somewhere");
        let mut demand = ResourceList::new();
        demand.insert(names::CPU, Quantity::from_int(8));
        demand.insert(names::MEMORY, Quantity::from_mebibytes(32 * 1024));
        let lp = lower_bound(&types, &demand).expect("lp").cost_per_hour;
        assert!(lp < 1.7, "the LP buys its CPU on nanos: {lp}");
        assert!(
            fit.cost_per_hour <= 2.0 + 1e-9,
            "never above the optimum: {fit:?}"
        );
        assert!(fit.cost_per_hour > 1.99, "tight on this case: {fit:?}");
    }

    #[test]
    fn a_pod_that_fits_nowhere_has_no_bound() {
        let pods = vec![pod().name("huge").cpu("64").build()];
        assert_eq!(fit_bound(&pods, &nano_trap().1), None);
    }

    #[test]
    fn no_pods_cost_nothing() {
        let fit = fit_bound(&[], &nano_trap().1).expect("trivially placeable");
        assert_eq!(fit.cost_per_hour, 0.0);
    }
}
