//! [`DomainIndex`]: the domain names of one topology key, interned to dense ids.
//!
//! Every group of a key stores its counts in a vector indexed by these ids, so recording a
//! placement or checking a candidate node is one hash lookup of the domain name plus an index per
//! group, never a scan (hostname topologies grow one domain per new NodeClaim).

use std::collections::HashMap;
use std::sync::Arc;

use crate::requirements::Requirement;

/// Dense id of a domain within its key's [`DomainIndex`].
pub(crate) type DomainId = u32;

/// The interned domains of one topology key.
#[derive(Debug, Clone)]
pub(crate) struct DomainIndex {
    /// The topology key.
    key: Arc<str>,
    /// Domain names by id.
    names: Vec<Arc<str>>,
    /// Name → id (lookups only; never iterated, so hash order cannot leak into decisions).
    ids: HashMap<Arc<str>, DomainId>,
    /// `key In [name]` by id: handed out as a group's answer without allocating.
    singletons: Vec<Requirement>,
}

impl DomainIndex {
    /// An empty index for `key`.
    pub(crate) fn new(key: Arc<str>) -> Self {
        Self {
            key,
            names: Vec::new(),
            ids: HashMap::new(),
            singletons: Vec::new(),
        }
    }

    /// The topology key.
    pub(crate) fn key(&self) -> &Arc<str> {
        &self.key
    }

    /// The id of `name`, interning it if new.
    pub(crate) fn intern(&mut self, name: &str) -> DomainId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = DomainId::try_from(self.names.len()).unwrap_or(DomainId::MAX);
        let name: Arc<str> = Arc::from(name);
        self.singletons.push(Requirement::in_values(
            Arc::clone(&self.key),
            [Arc::clone(&name)],
        ));
        self.ids.insert(Arc::clone(&name), id);
        self.names.push(name);
        id
    }

    /// The id of `name`, if interned.
    pub(crate) fn id(&self, name: &str) -> Option<DomainId> {
        self.ids.get(name).copied()
    }

    /// The name of `id`.
    pub(crate) fn name(&self, id: DomainId) -> &str {
        &self.names[id as usize]
    }

    /// `key In [name of id]`.
    pub(crate) fn singleton(&self, id: DomainId) -> &Requirement {
        &self.singletons[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_singletons_name_the_domain() {
        let mut index = DomainIndex::new(Arc::from("zone"));
        let a = index.intern("z1");
        let b = index.intern("z2");
        assert_eq!(index.intern("z1"), a);
        assert_ne!(a, b);
        assert_eq!(index.id("z2"), Some(b));
        assert_eq!(index.id("z3"), None);
        assert_eq!(index.name(b), "z2");
        assert_eq!(index.singleton(a).to_string(), "zone In [z1]");
    }
}
