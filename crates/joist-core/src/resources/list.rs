//! [`ResourceList`]: resource name → quantity, with the per-key arithmetic and the fit check that
//! Karpenter's `pkg/utils/resources` provides.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::{self, Display, Formatter};

use serde::{Deserialize, Serialize};

use super::Quantity;

/// A set of resource amounts keyed by resource name (`cpu`, `memory`, `nvidia.com/gpu` ...), like
/// Kubernetes' `v1.ResourceList`. Serialises as a plain map. Keys are kept sorted so iteration,
/// printing and every decision built on it are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceList(BTreeMap<String, Quantity>);

/// A request that does not fit the available resources; names the first resource (in name order)
/// found short. Borrows the name so that failed fit checks, which are common, do not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("insufficient {resource}: requested {requested}, available {available}")]
pub struct InsufficientResource<'a> {
    /// The resource that is short.
    pub resource: &'a str,
    /// How much of it was requested (zero when nothing was requested but the available amount is
    /// negative, which Karpenter treats as "nothing fits").
    pub requested: Quantity,
    /// How much of it is available (zero when the resource is absent).
    pub available: Quantity,
}

// === impl ResourceList ===

impl ResourceList {
    /// An empty list.
    pub fn new() -> ResourceList {
        ResourceList(BTreeMap::new())
    }

    /// The amount of `name`, if present.
    pub fn get(&self, name: &str) -> Option<Quantity> {
        self.0.get(name).copied()
    }

    /// The amount of `name`, zero when absent (Kubernetes reads a missing entry as zero).
    pub fn get_or_zero(&self, name: &str) -> Quantity {
        self.get(name).unwrap_or(Quantity::ZERO)
    }

    /// Whether `name` has an entry (even a zero one).
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Sets `name` to `quantity`, returning the previous amount.
    pub fn insert(&mut self, name: impl Into<String>, quantity: Quantity) -> Option<Quantity> {
        self.0.insert(name.into(), quantity)
    }

    /// Removes `name`, returning its amount.
    pub fn remove(&mut self, name: &str) -> Option<Quantity> {
        self.0.remove(name)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, Quantity)> + '_ {
        self.0
            .iter()
            .map(|(name, quantity)| (name.as_str(), *quantity))
    }

    /// The underlying map.
    pub fn as_map(&self) -> &BTreeMap<String, Quantity> {
        &self.0
    }

    /// Whether every amount is zero (true for an empty list), like Karpenter's `resources.IsZero`
    /// over a list.
    pub fn is_zero(&self) -> bool {
        self.0.values().all(|quantity| quantity.is_zero())
    }

    /// Adds `other` key by key (a missing key counts as zero), like Karpenter's `MergeInto`.
    pub fn add(&mut self, other: &ResourceList) {
        for (name, &quantity) in &other.0 {
            self.update(name, quantity, |current, added| current + added);
        }
    }

    /// Subtracts `other` key by key (a missing key counts as zero, so it becomes negative), like
    /// Karpenter's `SubtractFrom`.
    pub fn sub(&mut self, other: &ResourceList) {
        for (name, &quantity) in &other.0 {
            self.update(name, quantity, |current, removed| current - removed);
        }
    }

    /// Raises each key to `other`'s amount where that is larger (a missing key takes `other`'s),
    /// like Karpenter's `MaxResources`.
    pub fn max_per_key(&mut self, other: &ResourceList) {
        for (name, &quantity) in &other.0 {
            match self.0.get_mut(name.as_str()) {
                Some(current) if quantity > *current => *current = quantity,
                Some(_) => {}
                None => {
                    self.0.insert(name.clone(), quantity);
                }
            }
        }
    }

    /// `self` plus `other`, key by key.
    #[must_use]
    pub fn plus(&self, other: &ResourceList) -> ResourceList {
        let mut sum = self.clone();
        sum.add(other);
        sum
    }

    /// `self` minus `other`, key by key.
    #[must_use]
    pub fn minus(&self, other: &ResourceList) -> ResourceList {
        let mut difference = self.clone();
        difference.sub(other);
        difference
    }

    /// Whether these requests fit `available`; see [`fits`].
    pub fn fits<'a>(&'a self, available: &'a ResourceList) -> Result<(), InsufficientResource<'a>> {
        fits(self, available)
    }

    /// Combines the existing amount of `name` (zero if absent) with `quantity`; only allocates
    /// the key when it is new.
    fn update(
        &mut self,
        name: &str,
        quantity: Quantity,
        combine: fn(Quantity, Quantity) -> Quantity,
    ) {
        match self.0.get_mut(name) {
            Some(current) => *current = combine(*current, quantity),
            None => {
                self.0
                    .insert(name.to_owned(), combine(Quantity::ZERO, quantity));
            }
        }
    }
}

/// Whether `requests` fit in `available`, with Karpenter's `resources.Fits` semantics:
/// * every requested amount must be ≤ the available amount, a missing available entry being zero,
///   so a non-zero request for a resource the node does not have never fits while a zero request
///   for an unknown resource does;
/// * if any available amount is negative (the node is overcommitted), nothing fits.
///
/// One merged walk over both sorted lists; allocation-free, as this is the scheduler's hot path.
pub fn fits<'a>(
    requests: &'a ResourceList,
    available: &'a ResourceList,
) -> Result<(), InsufficientResource<'a>> {
    let mut available_entries = available.0.iter();
    let mut next_available = available_entries.next();
    for (name, &requested) in &requests.0 {
        let mut matched = Quantity::ZERO;
        while let Some((available_name, &amount)) = next_available {
            let order = available_name.as_str().cmp(name.as_str());
            if order == Ordering::Greater {
                break;
            }
            let requested_here = if order == Ordering::Equal {
                requested
            } else {
                Quantity::ZERO
            };
            check_not_negative(available_name, requested_here, amount)?;
            next_available = available_entries.next();
            if order == Ordering::Equal {
                matched = amount;
                break;
            }
        }
        if requested > matched {
            return Err(InsufficientResource {
                resource: name,
                requested,
                available: matched,
            });
        }
    }
    for (name, &amount) in next_available.into_iter().chain(available_entries) {
        check_not_negative(name, Quantity::ZERO, amount)?;
    }
    Ok(())
}

fn check_not_negative<'a>(
    name: &'a str,
    requested: Quantity,
    available: Quantity,
) -> Result<(), InsufficientResource<'a>> {
    if available.is_negative() {
        return Err(InsufficientResource {
            resource: name,
            requested,
            available,
        });
    }
    Ok(())
}

/// Prints `{"cpu":"1","memory":"1Mi"}`: the compact JSON Karpenter logs resource lists as.
impl Display for ResourceList {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, (name, quantity)) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "\"{}\":\"{quantity}\"", name.escape_default())?;
        }
        f.write_str("}")
    }
}

impl<K: Into<String>> FromIterator<(K, Quantity)> for ResourceList {
    fn from_iter<I: IntoIterator<Item = (K, Quantity)>>(entries: I) -> ResourceList {
        ResourceList(
            entries
                .into_iter()
                .map(|(name, quantity)| (name.into(), quantity))
                .collect(),
        )
    }
}

impl<K: Into<String>> Extend<(K, Quantity)> for ResourceList {
    fn extend<I: IntoIterator<Item = (K, Quantity)>>(&mut self, entries: I) {
        self.0.extend(
            entries
                .into_iter()
                .map(|(name, quantity)| (name.into(), quantity)),
        );
    }
}

impl From<BTreeMap<String, Quantity>> for ResourceList {
    fn from(map: BTreeMap<String, Quantity>) -> ResourceList {
        ResourceList(map)
    }
}

impl From<ResourceList> for BTreeMap<String, Quantity> {
    fn from(list: ResourceList) -> BTreeMap<String, Quantity> {
        list.0
    }
}

impl<'a> IntoIterator for &'a ResourceList {
    type Item = (&'a String, &'a Quantity);
    type IntoIter = std::collections::btree_map::Iter<'a, String, Quantity>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for ResourceList {
    type Item = (String, Quantity);
    type IntoIter = std::collections::btree_map::IntoIter<String, Quantity>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests;
