//! The in-memory cloud provider: turns a solver NodeClaim into an instance by choosing one
//! offering, as a real `Create` call would.
//!
//! Choice (upstream AWS's convention for `CreateFleet`): a reserved offering if the NodeClaim
//! allows one, else spot, else on-demand; within the chosen capacity class the cheapest
//! available offering of any of the NodeClaim's instance types compatible with its requirements
//! (ties: the solver's instance-type order, then zone name). Capacity never runs out here:
//! insufficient-capacity errors, spot interruptions and reservation counts are not simulated.

use std::collections::BTreeMap;
use std::sync::Arc;

use joist_core::instancetype::{InstanceType, Offering};
use joist_core::labels::{CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_RESERVED, CAPACITY_TYPE_SPOT};
use joist_core::requirements::Requirements;
use joist_core::scheduling::NewNodeClaim;

/// The instance picked for a NodeClaim.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch<'a> {
    /// The instance type.
    pub instance_type: &'a InstanceType,
    /// The chosen offering (zone, capacity type, price).
    pub offering: &'a Offering,
}

/// Instance types by name, shared by every NodePool of the simulation (cheap to clone).
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

    /// The offering a launch of `nodeclaim` gets, or `None` when no listed type has an available
    /// offering compatible with its requirements.
    pub fn launch(&self, nodeclaim: &NewNodeClaim) -> Option<Launch<'_>> {
        self.choose(&nodeclaim.instance_types, &nodeclaim.requirements)
    }

    fn choose(&self, names: &[Arc<str>], requirements: &Requirements) -> Option<Launch<'_>> {
        let mut best: Option<((u8, f64, usize), Launch<'_>)> = None;
        for (order, name) in names.iter().enumerate() {
            let Some(instance_type) = self.instance_type(name) else {
                continue;
            };
            let mut offerings: Vec<&Offering> = instance_type
                .offerings
                .iter()
                .filter(|o| o.is_available_for(requirements))
                .collect();
            offerings.sort_by(|a, b| a.zone().cmp(&b.zone()));
            for offering in offerings {
                let key = (
                    capacity_rank(offering.capacity_type()),
                    offering.price,
                    order,
                );
                let better = best.as_ref().is_none_or(|(current, _)| {
                    (key.0, key.1) < (current.0, current.1)
                        || (key.0 == current.0 && key.1 == current.1 && key.2 < current.2)
                });
                if better {
                    best = Some((
                        key,
                        Launch {
                            instance_type,
                            offering,
                        },
                    ));
                }
            }
        }
        best.map(|(_, launch)| launch)
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
        let launch = provider.choose(&names, &requirements).expect("launch");
        assert_eq!(launch.instance_type.name, "b");
        assert_eq!(launch.offering.zone(), Some("z2"));
        assert_eq!(launch.offering.capacity_type(), Some("spot"));
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
        let launch = provider.choose(&names, &on_demand).expect("launch");
        assert_eq!(launch.offering.capacity_type(), Some("on-demand"));
        let mut nowhere = Requirements::new();
        nowhere.add(Requirement::in_values(ZONE, ["z9"]));
        assert!(provider.choose(&names, &nowhere).is_none());
    }
}
