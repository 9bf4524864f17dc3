//! [`PdbIndex`]: which PodDisruptionBudgets may select a pod, without testing every PDB against
//! every pod (a 5,000-node cluster has tens of thousands of pods and thousands of PDBs).

use std::collections::BTreeMap;

use crate::snapshot::{Pod, PodDisruptionBudget};

/// PDBs indexed by namespace and the first `matchLabels` entry of their selector; PDBs without
/// `matchLabels` are kept per namespace to be tested against every pod. PDBs with a nil selector
/// select nothing and are left out.
#[derive(Debug, Default)]
pub(crate) struct PdbIndex<'s> {
    /// namespace → label key → label value → PDB positions in the snapshot.
    by_label: BTreeMap<&'s str, BTreeMap<&'s str, BTreeMap<&'s str, Vec<usize>>>>,
    /// namespace → positions of PDBs whose selector has no `matchLabels`.
    scan: BTreeMap<&'s str, Vec<usize>>,
}

impl<'s> PdbIndex<'s> {
    /// Indexes `pdbs`.
    pub(crate) fn new(pdbs: &'s [PodDisruptionBudget]) -> Self {
        let mut index = Self::default();
        for (position, pdb) in pdbs.iter().enumerate() {
            let Some(selector) = &pdb.selector else {
                continue;
            };
            let namespace = pdb.namespace.as_str();
            match selector.match_labels.iter().next() {
                Some((key, value)) => index
                    .by_label
                    .entry(namespace)
                    .or_default()
                    .entry(key.as_str())
                    .or_default()
                    .entry(value.as_str())
                    .or_default()
                    .push(position),
                None => index.scan.entry(namespace).or_default().push(position),
            }
        }
        index
    }

    /// The PDBs selecting `pod`, in snapshot order.
    pub(crate) fn matching(
        &self,
        pdbs: &'s [PodDisruptionBudget],
        pod: &Pod,
    ) -> Vec<&'s PodDisruptionBudget> {
        let namespace = pod.namespace.as_str();
        let mut positions: Vec<usize> = self.scan.get(namespace).cloned().unwrap_or_default();
        if let Some(keys) = self.by_label.get(namespace) {
            for (key, value) in &pod.labels {
                if let Some(found) = keys
                    .get(key.as_str())
                    .and_then(|values| values.get(value.as_str()))
                {
                    positions.extend_from_slice(found);
                }
            }
        }
        // Each PDB sits in exactly one bucket, so sorting restores snapshot order without
        // duplicates.
        positions.sort_unstable();
        positions
            .into_iter()
            .map(|position| &pdbs[position])
            .filter(|pdb| {
                pdb.selector
                    .as_ref()
                    .is_some_and(|selector| selector.matches(&pod.labels))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::LabelSelector;
    use crate::testing::pod;

    fn pdb(name: &str, namespace: &str, selector: Option<LabelSelector>) -> PodDisruptionBudget {
        PodDisruptionBudget {
            namespace: namespace.into(),
            name: name.into(),
            selector,
            min_available: None,
            max_unavailable: None,
        }
    }

    #[test]
    fn finds_the_same_pdbs_as_testing_each_in_snapshot_order() {
        let pdbs = vec![
            pdb("everything", "default", Some(LabelSelector::everything())),
            pdb(
                "web",
                "default",
                Some(LabelSelector::from_labels([("app", "web")])),
            ),
            pdb("nil", "default", None),
            pdb(
                "other-ns",
                "prod",
                Some(LabelSelector::from_labels([("app", "web")])),
            ),
            pdb(
                "web-tier",
                "default",
                Some(LabelSelector::from_labels([
                    ("app", "web"),
                    ("tier", "front"),
                ])),
            ),
        ];
        let index = PdbIndex::new(&pdbs);
        let web = pod()
            .name("w")
            .label("app", "web")
            .label("tier", "front")
            .build();
        let names: Vec<&str> = index
            .matching(&pdbs, &web)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, vec!["everything", "web", "web-tier"]);
        let db = pod().name("d").label("app", "db").build();
        let names: Vec<&str> = index
            .matching(&pdbs, &db)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, vec!["everything"]);
    }
}
