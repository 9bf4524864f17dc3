//! [`Interner`]: shares equal keys, values and whole requirements between requirement sets that
//! were built separately.
//!
//! A provider's catalog builds a thousand or more instance types, each with a few dozen
//! requirements, and a dozen offerings per type with a few requirements each. Built one by one,
//! every one of them owns its key and value strings, although almost all of them repeat (the
//! same keys everywhere, `kubernetes.io/arch In [amd64]` on hundreds of types, the same 12 zone ×
//! capacity-type offerings on every type). Passing them through one interner makes equal ones
//! share their `Arc`s, which is most of the catalog's memory. Interning changes no value: an
//! interned requirement is equal to the original.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Requirement, Requirements};

/// A pool of shared strings and requirements. Only looked up, never iterated, so the hash order
/// cannot leak into any decision.
#[derive(Debug, Default)]
pub struct Interner {
    /// Every key and value seen, one `Arc` each.
    strings: HashSet<Arc<str>>,
    /// Every distinct requirement seen, built from the shared strings.
    requirements: HashSet<Requirement>,
}

impl Interner {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared copy of `value`.
    pub fn string(&mut self, value: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(value) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(value);
        self.strings.insert(Arc::clone(&shared));
        shared
    }

    /// A requirement equal to `requirement` that shares its key, values and value list with
    /// every equal requirement interned before.
    pub fn requirement(&mut self, requirement: &Requirement) -> Requirement {
        if let Some(shared) = self.requirements.get(requirement) {
            return shared.clone();
        }
        let key = self.string(requirement.key());
        let values: Vec<Arc<str>> = requirement
            .values()
            .map(|value| self.string(value))
            .collect();
        let shared = requirement.with_shared_parts(key, Arc::from(values));
        self.requirements.insert(shared.clone());
        shared
    }

    /// Requirements equal to `requirements`, each interned (see [`Self::requirement`]), stored
    /// without spare capacity.
    pub fn requirements(&mut self, requirements: &Requirements) -> Requirements {
        let items: Vec<Requirement> = requirements
            .iter()
            .map(|requirement| self.requirement(requirement))
            .collect();
        Requirements::from_sorted_unique(items)
    }

    /// How many distinct requirements the pool holds.
    pub fn len(&self) -> usize {
        self.requirements.len()
    }

    /// Whether the pool holds no requirement yet.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::Operator;

    fn type_requirements(name: &str) -> Requirements {
        let mut requirements = Requirements::new();
        requirements.add(Requirement::in_values(
            "node.kubernetes.io/instance-type",
            [name],
        ));
        requirements.add(Requirement::in_values("kubernetes.io/arch", ["amd64"]));
        requirements.add(Requirement::does_not_exist(
            "karpenter.k8s.aws/instance-gpu-name",
        ));
        requirements
            .add(Requirement::not_in("example.com/team", ["a", "b"]).with_min_values(Some(2)));
        requirements.add(Requirement::greater_than("example.com/size", 3));
        requirements
    }

    #[test]
    fn interned_requirements_equal_the_originals() {
        let mut interner = Interner::new();
        let original = type_requirements("m5.large");
        let interned = interner.requirements(&original);
        assert_eq!(interned, original);
        let bounded = interned.find("example.com/size").expect("bounded key");
        assert_eq!(bounded.operator(), Operator::Exists);
        assert!(bounded.has("4") && !bounded.has("3"));
        assert_eq!(
            interned
                .find("example.com/team")
                .and_then(Requirement::min_values),
            Some(2)
        );
    }

    #[test]
    fn equal_requirements_share_their_storage() {
        let mut interner = Interner::new();
        let a = interner.requirements(&type_requirements("m5.large"));
        let b = interner.requirements(&type_requirements("c5.large"));
        let arch = |r: &Requirements| r.find("kubernetes.io/arch").expect("arch").clone();
        assert!(Arc::ptr_eq(arch(&a).shared_key(), arch(&b).shared_key()));
        assert!(std::ptr::eq(
            arch(&a).shared_values().as_ptr(),
            arch(&b).shared_values().as_ptr()
        ));
        let name = |r: &Requirements| {
            r.find("node.kubernetes.io/instance-type")
                .expect("name")
                .clone()
        };
        assert!(Arc::ptr_eq(name(&a).shared_key(), name(&b).shared_key()));
        assert_ne!(name(&a), name(&b));
        // Five distinct requirements for the first type, one more (its name) for the second.
        assert_eq!(interner.len(), 6);
    }

    #[test]
    fn strings_are_shared_across_keys_and_values() {
        let mut interner = Interner::new();
        let first = interner.string("us-east-1a");
        let requirement = interner.requirement(&Requirement::in_values(
            "topology.kubernetes.io/zone",
            ["us-east-1a"],
        ));
        assert!(Arc::ptr_eq(&first, &requirement.shared_values()[0]));
        assert!(interner.len() == 1 && !interner.is_empty());
    }
}
