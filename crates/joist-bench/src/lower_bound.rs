//! The cost lower bound every benchmark reports next to the scheduler's cost.
//!
//! No packing, however clever, can cost less than the cheapest *fractional* mix of instance
//! types whose summed allocatable covers the summed requests of every resource:
//!
//! ```text
//! minimise   Σ_t p_t · x_t
//! subject to Σ_t alloc_{t,r} · x_t ≥ demand_r   for every requested resource r
//!            x_t ≥ 0
//! ```
//!
//! where `p_t` is type `t`'s cheapest *available* offering (any zone, any capacity type) and
//! `alloc_{t,r}` its allocatable. Every real plan is one integral point of this region (its nodes
//! cover their pods' requests, and each node costs at least `p_t`), so the optimum is a lower
//! bound. It ignores integrality, per-node fit, pools, taints and topology, which is exactly
//! what `cost / lower bound` then measures. Solved exactly by [`crate::lp::minimize_cover`].

use joist_core::instancetype::InstanceType;
use joist_core::resources::ResourceList;
use thiserror::Error;

use crate::lp::{LpError, minimize_cover};

/// Errors computing a lower bound.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LowerBoundError {
    /// No instance type with an available offering has any allocatable of a requested resource.
    #[error("no available instance type provides {resource}")]
    NoCapacity {
        /// The resource nobody provides.
        resource: String,
    },
    /// The LP solver failed for another reason (bad numbers, iteration guard).
    #[error("lower-bound LP: {0}")]
    Lp(LpError),
}

/// The optimal fractional mix.
#[derive(Debug, Clone, PartialEq)]
pub struct LowerBound {
    /// The LP optimum: a lower bound on the hourly cost of any plan for the demand.
    pub cost_per_hour: f64,
    /// The instance types of the optimal mix with their fractional counts, largest first.
    pub mix: Vec<(String, f64)>,
    /// Per requested resource, its shadow price (cost per hour of one more unit; 0 when the
    /// resource does not bind).
    pub shadow_prices: Vec<(String, f64)>,
}

/// The cheapest available offering's price, if the type has an available offering.
pub fn cheapest_available_price(instance_type: &InstanceType) -> Option<f64> {
    instance_type
        .offerings
        .iter()
        .filter(|offering| offering.available)
        .map(|offering| offering.price)
        .min_by(f64::total_cmp)
}

/// Solves the covering LP of `demand` over `instance_types` (see the module docs).
///
/// Resources with a zero or negative demand are left out (they bind nothing); types without an
/// available offering are left out (they cannot be launched).
pub fn lower_bound<'a>(
    instance_types: impl IntoIterator<Item = &'a InstanceType>,
    demand: &ResourceList,
) -> Result<LowerBound, LowerBoundError> {
    let resources: Vec<(&str, f64)> = demand
        .iter()
        .map(|(name, quantity)| (name, quantity.as_f64()))
        .filter(|(_, amount)| *amount > 0.0)
        .collect();
    let priced: Vec<(&InstanceType, f64)> = instance_types
        .into_iter()
        .filter_map(|t| cheapest_available_price(t).map(|price| (t, price)))
        .collect();
    let costs: Vec<f64> = priced.iter().map(|(_, price)| *price).collect();
    let rows: Vec<Vec<f64>> = resources
        .iter()
        .map(|(name, _)| {
            priced
                .iter()
                .map(|(t, _)| t.allocatable().get_or_zero(name).as_f64().max(0.0))
                .collect()
        })
        .collect();
    let amounts: Vec<f64> = resources.iter().map(|(_, amount)| *amount).collect();
    let solution = minimize_cover(&costs, &rows, &amounts).map_err(|error| match error {
        LpError::Infeasible { row } => LowerBoundError::NoCapacity {
            resource: resources[row].0.to_string(),
        },
        other => LowerBoundError::Lp(other),
    })?;
    let mut mix: Vec<(String, f64)> = priced
        .iter()
        .zip(&solution.x)
        .filter(|(_, count)| **count > 0.0)
        .map(|((t, _), count)| (t.name.clone(), *count))
        .collect();
    mix.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let shadow_prices = resources
        .iter()
        .zip(&solution.duals)
        .map(|((name, _), dual)| (name.to_string(), *dual))
        .collect();
    Ok(LowerBound {
        cost_per_hour: solution.objective,
        mix,
        shadow_prices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use joist_core::instancetype::{Offering, Overhead, PriceSource};
    use joist_core::labels::{CAPACITY_TYPE, ZONE};
    use joist_core::requirements::{Requirement, Requirements};
    use joist_core::resources::{Quantity, names};

    fn offering(price: f64, available: bool) -> Offering {
        let mut requirements = Requirements::new();
        requirements.add(Requirement::in_values(CAPACITY_TYPE, ["on-demand"]));
        requirements.add(Requirement::in_values(ZONE, ["zone-1"]));
        Offering {
            requirements,
            price,
            available,
            reservation_capacity: None,
            price_source: PriceSource::Exact,
        }
    }

    fn instance_type(
        name: &str,
        cpu: i64,
        memory_gib: i64,
        offerings: Vec<Offering>,
    ) -> InstanceType {
        let mut capacity = ResourceList::new();
        capacity.insert(names::CPU, Quantity::from_int(cpu));
        capacity.insert(names::MEMORY, Quantity::from_mebibytes(memory_gib * 1024));
        capacity.insert(names::PODS, Quantity::from_int(110));
        InstanceType::new(
            name,
            Requirements::new(),
            offerings,
            capacity,
            Overhead::default(),
        )
    }

    fn demand(cpu: i64, memory_gib: i64, pods: i64) -> ResourceList {
        let mut list = ResourceList::new();
        list.insert(names::CPU, Quantity::from_int(cpu));
        list.insert(names::MEMORY, Quantity::from_mebibytes(memory_gib * 1024));
        list.insert(names::PODS, Quantity::from_int(pods));
        list
    }

    #[test]
    fn mixes_a_compute_and_a_memory_type_at_their_cheapest_available_offering() {
        // c: 4 cpu / 8 GiB for $1 (a $0.5 offering is unavailable); r: 2 cpu / 16 GiB for $1.
        // Same LP as the solver's hand-solved case: 5/3 of each, $10/3.
        let types = vec![
            instance_type("c", 4, 8, vec![offering(0.5, false), offering(1.0, true)]),
            instance_type("r", 2, 16, vec![offering(1.0, true), offering(1.2, true)]),
        ];
        let bound = lower_bound(&types, &demand(10, 40, 20)).expect("bound");
        assert!((bound.cost_per_hour - 10.0 / 3.0).abs() < 1e-9);
        assert_eq!(bound.mix.len(), 2);
        assert!(bound.mix.iter().all(|(_, n)| (n - 5.0 / 3.0).abs() < 1e-9));
        let pods = bound
            .shadow_prices
            .iter()
            .find(|(r, _)| r == "pods")
            .expect("pods");
        assert_eq!(pods.1, 0.0, "110 pods per node never bind here");
        let cpu = bound
            .shadow_prices
            .iter()
            .find(|(r, _)| r == "cpu")
            .expect("cpu");
        assert!((cpu.1 - 1.0 / 6.0).abs() < 1e-9, "{cpu:?}");
        let gib = 1024.0 * 1024.0 * 1024.0;
        let memory = bound
            .shadow_prices
            .iter()
            .find(|(r, _)| r == "memory")
            .expect("memory");
        assert!((memory.1 * gib - 1.0 / 24.0).abs() < 1e-9, "{memory:?}");
    }

    #[test]
    fn types_without_an_available_offering_are_ignored() {
        let types = vec![
            instance_type("cheap-but-gone", 64, 256, vec![offering(0.01, false)]),
            instance_type("small", 2, 4, vec![offering(0.1, true)]),
        ];
        let bound = lower_bound(&types, &demand(4, 4, 2)).expect("bound");
        assert!((bound.cost_per_hour - 0.2).abs() < 1e-12);
        assert_eq!(bound.mix, vec![("small".to_string(), 2.0)]);
    }

    #[test]
    fn a_resource_nobody_offers_is_named() {
        let types = vec![instance_type("small", 2, 4, vec![offering(0.1, true)])];
        let mut wants_gpu = demand(1, 1, 1);
        wants_gpu.insert(names::NVIDIA_GPU, Quantity::from_int(1));
        assert_eq!(
            lower_bound(&types, &wants_gpu),
            Err(LowerBoundError::NoCapacity {
                resource: names::NVIDIA_GPU.to_string()
            })
        );
    }

    #[test]
    fn no_demand_costs_nothing() {
        let types = vec![instance_type("small", 2, 4, vec![offering(0.1, true)])];
        let bound = lower_bound(&types, &ResourceList::new()).expect("bound");
        assert_eq!(bound.cost_per_hour, 0.0);
        assert!(bound.mix.is_empty());
    }
}
