//! Building a [`Snapshot`] from the index through `joist-api`'s conversions.
//!
//! Objects that do not convert are left out and reported (one bad pod must not stop
//! provisioning for everyone); the caller logs them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use joist_api::convert::{self, ConvertOptions};
use joist_api::nodeclaim::NodeClaim;
use joist_core::instancetype::InstanceType;
use joist_core::snapshot::{self, Snapshot};
use kube::runtime::reflector::ObjectRef;

use super::{Index, provider_id_of_claim, provider_id_of_node};

/// What a snapshot is built from besides the index.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotInput<'a> {
    /// The time of the snapshot.
    pub now: DateTime<Utc>,
    /// NodeClaims this controller created that the watch has not delivered yet (upstream puts a
    /// created NodeClaim into cluster state at once, so the next round cannot miss it).
    pub created: &'a [NodeClaim],
    /// The instance types every NodePool may use.
    pub instance_types: &'a Arc<[InstanceType]>,
}

impl Index {
    /// The scheduling view of the cluster now, and the objects that could not be converted
    /// (each as its error text).
    pub fn snapshot(&self, input: SnapshotInput<'_>) -> (Snapshot, Vec<String>) {
        let options = ConvertOptions::cluster();
        let mut errors = Vec::new();
        let mut pods = converted(
            self.pods
                .state()
                .iter()
                .map(|pod| convert::pod(pod, &options)),
            &mut errors,
        );
        // The store's order is a hash map's; the solve must not depend on it.
        pods.sort_by(|a, b| a.uid.cmp(&b.uid));
        let nodes = self.snapshot_nodes(input.created, &mut errors);
        let mut nodepools = converted(
            self.nodepools
                .state()
                .iter()
                .map(|pool| convert::nodepool(&pool.0, &options)),
            &mut errors,
        );
        nodepools.sort_by(|a, b| a.name.cmp(&b.name));
        let mut daemonsets = converted(
            self.daemonsets
                .state()
                .iter()
                .map(|ds| convert::daemonset(ds, None, &options)),
            &mut errors,
        );
        daemonsets.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let mut pdbs = converted(
            self.pdbs
                .state()
                .iter()
                .map(|pdb| convert::pdb(pdb, &options)),
            &mut errors,
        );
        pdbs.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let instance_types = nodepools
            .iter()
            .map(|pool| (pool.name.clone(), Arc::clone(input.instance_types)))
            .collect();
        let volumes = self.snapshot_volumes(&options, &mut errors);
        let snapshot = Snapshot {
            now: input.now,
            pods,
            nodes,
            nodepools,
            instance_types,
            daemonsets,
            pdbs,
            volumes,
            ..Snapshot::default()
        };
        (snapshot, errors)
    }

    /// PVCs, PVs and StorageClasses, each sorted by key.
    fn snapshot_volumes(
        &self,
        options: &ConvertOptions,
        errors: &mut Vec<String>,
    ) -> snapshot::Volumes {
        let storage = &self.storage;
        let mut claims = converted(
            storage
                .claims
                .state()
                .iter()
                .map(|claim| convert::persistent_volume_claim(claim, options)),
            errors,
        );
        claims.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let mut volumes = converted(
            storage
                .volumes
                .state()
                .iter()
                .map(|volume| convert::persistent_volume(volume)),
            errors,
        );
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut storage_classes = converted(
            storage
                .classes
                .state()
                .iter()
                .map(|class| convert::storage_class(class, options)),
            errors,
        );
        storage_classes.sort_by(|a, b| a.name.cmp(&b.name));
        snapshot::Volumes {
            claims,
            volumes,
            storage_classes,
        }
    }

    /// Nodes (with the NodeClaim that launched each, matched by providerID) and in-flight
    /// NodeClaims whose Node has not appeared, sorted by name.
    fn snapshot_nodes(
        &self,
        created: &[NodeClaim],
        errors: &mut Vec<String>,
    ) -> Vec<snapshot::Node> {
        let claims = self.nodeclaims.state();
        let by_provider_id: BTreeMap<&str, &NodeClaim> = claims
            .iter()
            .filter_map(|claim| Some((provider_id_of_claim(claim)?, &claim.0)))
            .collect();
        let mut with_node: BTreeSet<&str> = BTreeSet::new();
        let mut out = Vec::new();
        let nodes = self.nodes.state();
        for node in &nodes {
            let claim = provider_id_of_node(node).and_then(|id| by_provider_id.get(id).copied());
            if let Some(claim) = claim {
                with_node.insert(claim.name());
            }
            let mut converted_node = converted(std::iter::once(convert::node(node, claim)), errors);
            // The CSINode named after the node says how many volumes each driver can attach.
            let name = node.metadata.name.as_deref().unwrap_or_default();
            if let (Some(snapshot_node), Some(csinode)) = (
                converted_node.first_mut(),
                self.storage.csinodes.get(&ObjectRef::new(name)),
            ) {
                snapshot_node.csi_volume_limits = convert::csinode_volume_limits(&csinode);
            }
            out.extend(converted_node);
        }
        let known: BTreeSet<&str> = claims.iter().map(|c| c.0.name()).collect();
        let in_flight = claims
            .iter()
            .map(|claim| &claim.0)
            .chain(created.iter().filter(|c| !known.contains(c.name())))
            .filter(|claim| !with_node.contains(claim.name()));
        for claim in in_flight {
            out.extend(converted(
                std::iter::once(convert::nodeclaim(claim)),
                errors,
            ));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// The objects that converted; the errors of the others are appended to `errors`.
fn converted<T>(
    results: impl Iterator<Item = Result<T, convert::ConvertError>>,
    errors: &mut Vec<String>,
) -> Vec<T> {
    results
        .filter_map(|result| result.map_err(|e| errors.push(e.to_string())).ok())
        .collect()
}
