//! Nodes, NodeClaims, NodePools and CSINodes → [`snapshot::Node`] / [`snapshot::NodePool`].
//!
//! A node entry follows upstream's `StateNode`: until the node is registered its labels and
//! taints come from the NodeClaim, and until it is initialized its capacity and allocatable do
//! too (the kubelet may not have reported extended resources yet).

use std::collections::BTreeMap;

use joist_core::labels::{INITIALIZED, NODEPOOL, REGISTERED};
use joist_core::resources::{Quantity, ResourceList};
use joist_core::snapshot::{self, NodeClassRef};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::storage::v1::CSINode;

use super::meta::{condition_true, resource_list};
use super::scheduling::taints;
use super::{At, ConvertError, ConvertOptions};
use crate::common::ResourceList as WireResourceList;
use crate::nodeclaim::NodeClaim;
use crate::nodepool::NodePool;

/// The NodeClaim conditions that mirror the `karpenter.sh/registered` / `initialized` labels.
const CONDITION_REGISTERED: &str = "Registered";
const CONDITION_INITIALIZED: &str = "Initialized";

/// The cluster-state entry of a registered `node`, with the NodeClaim that launched it if any.
pub fn node(
    node: &core::Node,
    nodeclaim: Option<&NodeClaim>,
) -> Result<snapshot::Node, ConvertError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let at = At { object: &name };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let nodepool = labels
        .get(NODEPOOL)
        .or_else(|| nodeclaim.and_then(|c| c.metadata.labels.as_ref()?.get(NODEPOOL)))
        .cloned();
    let managed = nodepool.is_some();
    let claim_conditions = nodeclaim.and_then(|c| c.status.as_ref()?.conditions.as_deref());
    let registered = !managed
        || labels.get(REGISTERED).is_some_and(|v| v == "true")
        || condition_true(claim_conditions, CONDITION_REGISTERED);
    let initialized = !managed
        || labels.get(INITIALIZED).is_some_and(|v| v == "true")
        || condition_true(claim_conditions, CONDITION_INITIALIZED);
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    let mut out = snapshot::Node {
        name: name.clone(),
        nodeclaim: nodeclaim.map(|c| c.name().to_owned()),
        provider_id: spec
            .and_then(|s| s.provider_id.clone())
            .or_else(|| nodeclaim.and_then(|c| c.status.as_ref()?.provider_id.clone())),
        labels,
        taints: taints(spec.and_then(|s| s.taints.as_deref()), at, "spec.taints")?,
        startup_taints: Vec::new(),
        capacity: resource_list(
            status.and_then(|s| s.capacity.as_ref()),
            at,
            "status.capacity",
        )?,
        allocatable: resource_list(
            status.and_then(|s| s.allocatable.as_ref()),
            at,
            "status.allocatable",
        )?,
        nodepool,
        initialized,
        registered,
        marked_for_deletion: node.metadata.deletion_timestamp.is_some(),
        nominated: false,
        csi_volume_limits: BTreeMap::new(),
    };
    if let Some(claim) = nodeclaim {
        let from_claim = nodeclaim_entry(claim)?;
        out.startup_taints = from_claim.startup_taints;
        out.marked_for_deletion |= from_claim.marked_for_deletion;
        if !registered {
            out.labels = from_claim.labels;
            out.taints = from_claim.taints;
        }
        if !initialized {
            out.capacity = from_claim.capacity;
            out.allocatable = from_claim.allocatable;
        }
    }
    Ok(out)
}

/// The cluster-state entry of a launched NodeClaim whose node has not registered yet.
pub fn nodeclaim(nodeclaim: &NodeClaim) -> Result<snapshot::Node, ConvertError> {
    nodeclaim_entry(nodeclaim)
}

fn nodeclaim_entry(claim: &NodeClaim) -> Result<snapshot::Node, ConvertError> {
    let status = claim.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_deref());
    let labels = claim.metadata.labels.clone().unwrap_or_default();
    let object = format!("NodeClaim {}", claim.name());
    let at = At { object: &object };
    Ok(snapshot::Node {
        name: status
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| claim.name().to_owned()),
        nodeclaim: Some(claim.name().to_owned()),
        provider_id: status.and_then(|s| s.provider_id.clone()),
        nodepool: labels.get(NODEPOOL).cloned(),
        labels,
        taints: claim.taints()?,
        startup_taints: claim.startup_taints()?,
        capacity: wire_resources(
            status.and_then(|s| s.capacity.as_ref()),
            at,
            "status.capacity",
        )?,
        allocatable: wire_resources(
            status.and_then(|s| s.allocatable.as_ref()),
            at,
            "status.allocatable",
        )?,
        initialized: condition_true(conditions, CONDITION_INITIALIZED),
        registered: condition_true(conditions, CONDITION_REGISTERED),
        marked_for_deletion: claim.metadata.deletion_timestamp.is_some(),
        nominated: false,
        csi_volume_limits: BTreeMap::new(),
    })
}

/// A resource list of joist's API types (quantities kept as written) in core form.
fn wire_resources(
    list: Option<&WireResourceList>,
    at: At<'_>,
    path: &str,
) -> Result<ResourceList, ConvertError> {
    let mut out = ResourceList::new();
    for (name, value) in list.into_iter().flatten() {
        let field = format!("{path}.{name}");
        let text = value
            .text()
            .ok_or_else(|| at.invalid(&field, "quantity must be a string or an integer"))?;
        let quantity = Quantity::parse(&text).map_err(|source| at.quantity(&field, source))?;
        out.insert(name.clone(), quantity);
    }
    Ok(out)
}

/// The scheduling view of a NodePool. With [`ConvertOptions::fill_missing_status`] a NodePool
/// without conditions counts as `Ready` (nothing in a simulation would set it).
pub fn nodepool(
    nodepool: &NodePool,
    options: &ConvertOptions,
) -> Result<snapshot::NodePool, ConvertError> {
    let object = format!("NodePool {}", nodepool.name());
    let at = At { object: &object };
    let template = nodepool.spec.template.as_ref();
    let metadata = template.and_then(|t| t.metadata.as_ref());
    let spec = nodepool.template_spec();
    let class = spec
        .and_then(|s| s.node_class_ref.as_ref())
        .ok_or_else(|| at.missing("spec.template.spec.nodeClassRef"))?;
    let class_field = |value: &Option<String>, field: &str| {
        value
            .clone()
            .ok_or_else(|| at.missing(format!("spec.template.spec.nodeClassRef.{field}")))
    };
    let conditions = nodepool
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref());
    let ready = condition_true(conditions, "Ready")
        || (options.fill_missing_status && conditions.is_none_or(<[_]>::is_empty));
    let weight = nodepool.spec.weight.unwrap_or(0);
    Ok(snapshot::NodePool {
        name: nodepool.name().to_owned(),
        weight: i32::try_from(weight)
            .map_err(|_| at.invalid("spec.weight", format!("{weight} is out of range")))?,
        labels: metadata.and_then(|m| m.labels.clone()).unwrap_or_default(),
        annotations: metadata
            .and_then(|m| m.annotations.clone())
            .unwrap_or_default(),
        requirements: nodepool.requirements(&options.aliases)?,
        taints: nodepool.taints()?,
        startup_taints: nodepool.startup_taints()?,
        node_class_ref: NodeClassRef::new(
            class_field(&class.group, "group")?,
            class_field(&class.kind, "kind")?,
            class_field(&class.name, "name")?,
        ),
        limits: wire_resources(nodepool.spec.limits.as_ref(), at, "spec.limits")?,
        replicas: nodepool.spec.replicas,
        ready,
        deleting: nodepool.metadata.deletion_timestamp.is_some(),
        expire_after: match spec.and_then(|s| s.expire_after.as_deref()) {
            Some("Never") => None,
            Some(text) => Some(text.to_owned()),
            None => Some(crate::nodepool::DEFAULT_EXPIRE_AFTER.to_owned()),
        },
        termination_grace_period: spec.and_then(|s| s.termination_grace_period.clone()),
        // Computed, not read from the NodePool's annotation: right after a migration that
        // annotation still holds upstream's hash, which must not be stamped next to joist's
        // hash version (every new NodeClaim would look drifted).
        hash: nodepool.hash(),
    })
}

/// Volume limits per CSI driver of a CSINode (`spec.drivers[].allocatable.count`); drivers
/// without a count have no limit and are left out.
pub fn csinode_volume_limits(csinode: &CSINode) -> BTreeMap<String, u32> {
    csinode
        .spec
        .drivers
        .iter()
        .filter_map(|d| {
            let count = d.allocatable.as_ref()?.count?;
            // A negative count is invalid in the API; read it as no room at all.
            Some((d.name.clone(), u32::try_from(count).unwrap_or(0)))
        })
        .collect()
}
