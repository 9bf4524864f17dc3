//! The in-memory cloud provider's offering choice: which offerings a `Create` call for a solver
//! NodeClaim tries, in order, as upstream AWS's `CreateFleet` request would.
//!
//! A fleet request takes one market type (spec aws §4.4): reserved if the NodeClaim allows an
//! available reserved offering, else spot, else on-demand. Within that capacity type the
//! offerings of every listed instance type compatible with the NodeClaim's requirements are
//! tried cheapest first (ties: the solver's instance-type order, then zone name); the caller
//! skips offerings that hit insufficient capacity.

use std::collections::BTreeMap;
use std::sync::Arc;

use joist_core::instancetype::{InstanceType, Offering};
use joist_core::labels::{CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_RESERVED, CAPACITY_TYPE_SPOT};
use joist_core::requirements::Requirements;

/// One offering a launch may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch<'a> {
    /// The instance type.
    pub instance_type: &'a InstanceType,
    /// The offering (zone, capacity type, price).
    pub offering: &'a Offering,
}

/// Instance types by name (cheap to clone).
#[derive(Debug, Clone)]
pub struct Provider {
    types: Arc<[InstanceType]>,
    by_name: Arc<BTreeMap<String, usize>>,
}

/// Rank of a capacity type in the launch preference (lower first); unknown types last.
fn capacity_rank(capacity_type: Option<&str>) -> u8 {
    match capacity_type {
        Some(CAPACITY_TYPE_RESERVED) => 0,
        Some(CAPACITY_TYPE_SPOT) => 1,
        Some(CAPACITY_TYPE_ON_DEMAND) => 2,
        _ => 3,
    }
}

impl Provider {
    /// A provider selling `types`.
    pub fn new(types: Arc<[InstanceType]>) -> Self {
        let by_name: BTreeMap<String, usize> = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Self {
            types,
            by_name: Arc::new(by_name),
        }
    }

    /// The instance types, for the solver's snapshot.
    pub fn instance_types(&self) -> &Arc<[InstanceType]> {
        &self.types
    }

    /// The instance type called `name`.
    pub fn instance_type(&self, name: &str) -> Option<&InstanceType> {
        self.by_name.get(name).map(|&i| &self.types[i])
    }

    /// The offerings a launch of the listed types under `requirements` tries, in order: only the
    /// preferred capacity type's, cheapest first. Empty when nothing is available.
    pub fn choose(&self, names: &[Arc<str>], requirements: &Requirements) -> Vec<Launch<'_>> {
        let mut all: Vec<((u8, f64, usize), Launch<'_>)> = Vec::new();
        for (order, name) in names.iter().enumerate() {
            let Some(instance_type) = self.instance_type(name) else {
                continue;
            };
            for offering in instance_type
                .offerings
                .iter()
                .filter(|o| o.is_available_for(requirements))
            {
                let key = (
                    capacity_rank(offering.capacity_type()),
                    offering.price,
                    order,
                );
                all.push((
                    key,
                    Launch {
                        instance_type,
                        offering,
                    },
                ));
            }
        }
        all.sort_by(|(a, la), (b, lb)| {
            a.0.cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .then_with(|| la.offering.zone().cmp(&lb.offering.zone()))
        });
        let best = all.first().map(|(key, _)| key.0);
        all.into_iter()
            .filter(|(key, _)| Some(key.0) == best)
            .map(|(_, launch)| launch)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joist_core::labels::{CAPACITY_TYPE, ZONE};
    use joist_core::requirements::Requirement;
    use joist_core::resources::ResourceList;

    fn offering(zone: &str, capacity_type: &str, price: f64) -> Offering {
        let mut requirements = Requirements::new();
        requirements.add(Requirement::in_values(ZONE, [zone]));
        requirements.add(Requirement::in_values(CAPACITY_TYPE, [capacity_type]));
        Offering {
            requirements,
            price,
            available: true,
            reservation_capacity: None,
            price_source: Default::default(),
        }
    }

    fn instance_type(name: &str, offerings: Vec<Offering>) -> InstanceType {
        InstanceType::new(
            name,
            Requirements::new(),
            offerings,
            ResourceList::new(),
            Default::default(),
        )
    }

    fn claim(names: &[&str], requirements: Requirements) -> (Vec<Arc<str>>, Requirements) {
        (names.iter().map(|n| Arc::from(*n)).collect(), requirements)
    }

    #[test]
    fn spot_wins_over_cheaper_on_demand_and_the_cheapest_spot_is_taken() {
        let provider = Provider::new(Arc::from(vec![
            instance_type(
                "a",
                vec![
                    offering("z1", "on-demand", 0.01),
                    offering("z2", "spot", 0.05),
                ],
            ),
            instance_type(
                "b",
                vec![offering("z1", "spot", 0.04), offering("z2", "spot", 0.03)],
            ),
        ]));
        let (names, requirements) = claim(&["a", "b"], Requirements::new());
        let launches = provider.choose(&names, &requirements);
        let launch = &launches[0];
        assert_eq!(launch.instance_type.name, "b");
        assert_eq!(launch.offering.zone(), Some("z2"));
        assert_eq!(launch.offering.capacity_type(), Some("spot"));
        // Only spot is tried (one market type per fleet request), cheapest first.
        let prices: Vec<f64> = launches.iter().map(|l| l.offering.price).collect();
        assert_eq!(prices, vec![0.03, 0.04, 0.05]);
    }

    #[test]
    fn requirements_restrict_the_offerings() {
        let provider = Provider::new(Arc::from(vec![instance_type(
            "a",
            vec![
                offering("z1", "on-demand", 0.10),
                offering("z2", "spot", 0.05),
            ],
        )]));
        let mut on_demand = Requirements::new();
        on_demand.add(Requirement::in_values(CAPACITY_TYPE, ["on-demand"]));
        let (names, _) = claim(&["a"], Requirements::new());
        let launches = provider.choose(&names, &on_demand);
        assert_eq!(launches.len(), 1);
        assert_eq!(launches[0].offering.capacity_type(), Some("on-demand"));
        let mut nowhere = Requirements::new();
        nowhere.add(Requirement::in_values(ZONE, ["z9"]));
        assert!(provider.choose(&names, &nowhere).is_empty());
    }
}
