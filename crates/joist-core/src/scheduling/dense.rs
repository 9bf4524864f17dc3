//! Dense resource vectors: the solver's hot-path representation of [`ResourceList`]s.
//!
//! A per-solve [`ResourceIndex`] maps every resource name that appears anywhere in the snapshot
//! (pod and DaemonSet requests, instance-type capacity, node allocatable, NodePool limits) to a
//! slot. A [`Dense`] vector then holds exact nano-unit amounts (`i128`, the same precision as
//! [`Quantity`]) in slot order, so fit checks and sums are a few integer operations instead of
//! string-keyed map walks. A missing entry is zero, which is exactly how Kubernetes and Karpenter
//! read an absent resource.

use std::collections::BTreeMap;

use crate::resources::{Quantity, QuantityFormat, ResourceList};

/// Resource name → slot, fixed for one solve. Slots are assigned in name order so that every
/// derived order (printing, "first insufficient resource") matches the sorted `ResourceList`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceIndex {
    /// Slot → name.
    names: Vec<String>,
    /// Name → slot.
    slots: BTreeMap<String, usize>,
}

/// Exact amounts per slot of a [`ResourceIndex`].
pub(crate) type Dense = Box<[i128]>;

impl ResourceIndex {
    /// Builds the index over `names` (duplicates allowed).
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let slots: BTreeMap<String, usize> =
            names.into_iter().map(|n| (n.to_owned(), 0)).collect();
        let mut index = Self {
            names: slots.keys().cloned().collect(),
            slots,
        };
        for (slot, value) in index.slots.values_mut().enumerate() {
            *value = slot;
        }
        index
    }

    /// Number of slots.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The slot of `name`, if the solve knows it.
    pub(crate) fn slot(&self, name: &str) -> Option<usize> {
        self.slots.get(name).copied()
    }

    /// A vector of zeros.
    pub(crate) fn zero(&self) -> Dense {
        vec![0; self.names.len()].into_boxed_slice()
    }

    /// `list` as a dense vector. Names unknown to the index are dropped; the index is built from
    /// every list the solve converts, so that never happens for lists of the snapshot.
    pub(crate) fn dense(&self, list: &ResourceList) -> Dense {
        let mut out = self.zero();
        for (name, quantity) in list.iter() {
            if let Some(slot) = self.slot(name) {
                out[slot] = quantity.nanos();
            }
        }
        out
    }

    /// A dense vector back as a [`ResourceList`] of its non-zero entries.
    pub(crate) fn list(&self, dense: &[i128]) -> ResourceList {
        let mut out = ResourceList::new();
        for (slot, &nanos) in dense.iter().enumerate() {
            if nanos != 0 {
                out.insert(self.names[slot].clone(), quantity(&self.names[slot], nanos));
            }
        }
        out
    }

}

/// A quantity of `nanos` printed the way Kubernetes prints that resource: memory-like resources
/// in binary SI, everything else in decimal SI.
fn quantity(name: &str, nanos: i128) -> Quantity {
    let binary = name == crate::resources::names::MEMORY
        || name == crate::resources::names::EPHEMERAL_STORAGE
        || name.starts_with(crate::resources::names::HUGEPAGES_PREFIX);
    let format = if binary {
        QuantityFormat::BinarySi
    } else {
        QuantityFormat::DecimalSi
    };
    Quantity::from_nanos(nanos, format)
}

/// Karpenter's `resources.Fits` on dense vectors: every request ≤ available, and nothing fits if
/// any available amount is negative.
pub(crate) fn fits(requests: &[i128], available: &[i128]) -> bool {
    requests
        .iter()
        .zip(available)
        .all(|(&r, &a)| a >= 0 && r <= a)
}

/// `target += other`.
pub(crate) fn add(target: &mut [i128], other: &[i128]) {
    for (t, o) in target.iter_mut().zip(other) {
        *t += o;
    }
}

/// `target -= other`.
pub(crate) fn sub(target: &mut [i128], other: &[i128]) {
    for (t, o) in target.iter_mut().zip(other) {
        *t -= o;
    }
}

/// `target = max(target, other)` per slot.
pub(crate) fn max_into(target: &mut [i128], other: &[i128]) {
    for (t, &o) in target.iter_mut().zip(other) {
        *t = (*t).max(o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries
            .iter()
            .map(|(k, v)| (*k, Quantity::parse(v).unwrap()))
            .collect()
    }

    #[test]
    fn dense_round_trip_keeps_amounts_and_drops_zeros() {
        let a = list(&[("cpu", "1500m"), ("memory", "1Gi"), ("pods", "0")]);
        let index = ResourceIndex::new(["pods", "memory", "cpu", "nvidia.com/gpu"]);
        assert_eq!(index.len(), 4);
        let d = index.dense(&a);
        let back = index.list(&d);
        assert_eq!(back.get("cpu"), Some(Quantity::parse("1.5").unwrap()));
        assert_eq!(back.get("memory").map(|q| q.to_string()), Some("1Gi".into()));
        assert!(!back.contains("pods"));
    }

    #[test]
    fn fits_matches_karpenter() {
        let index = ResourceIndex::new(["cpu", "memory", "example.com/x"]);
        let avail = index.dense(&list(&[("cpu", "2"), ("memory", "1Gi")]));
        let small = index.dense(&list(&[("cpu", "1"), ("example.com/x", "0")]));
        let gpu = index.dense(&list(&[("example.com/x", "1")]));
        assert!(fits(&small, &avail));
        assert!(!fits(&gpu, &avail), "a resource the node lacks never fits");
        let mut negative = avail;
        negative[1] = -1;
        assert!(!fits(&index.zero(), &negative), "negative available fits nothing");
    }

    #[test]
    fn arithmetic_is_per_slot() {
        let mut a: Dense = vec![1, 5, -2].into_boxed_slice();
        add(&mut a, &[1, 1, 1]);
        assert_eq!(&*a, &[2, 6, -1]);
        sub(&mut a, &[2, 0, 0]);
        assert_eq!(&*a, &[0, 6, -1]);
        max_into(&mut a, &[3, 3, 3]);
        assert_eq!(&*a, &[3, 6, 3]);
    }
}
