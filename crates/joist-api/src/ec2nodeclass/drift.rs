//! The AWS provider's drift check (spec aws §7, upstream `CloudProvider.IsDrifted`) as a pure
//! function of the EC2NodeClass, the NodeClaim and the instance as EC2 describes it. The driver
//! feeds its result to joist-core's drift detection through `ProviderDrift`.
//!
//! Checks, first hit wins: static `NodeClassDrift` (hash annotations), `AMIDrift` (the image is
//! not the AMI the instance type maps to), then `SecurityGroupDrift`, `SubnetDrift`,
//! `CapacityReservationDrift` and `PlacementGroupDrift` from the instance.

use std::collections::{BTreeMap, BTreeSet};

use joist_core::labels::{LabelAliases, WellKnownLabels};
use joist_core::requirements::{NodeSelectorRequirement, Operator, Requirements};

use super::EC2NodeClass;
use super::hash::{NODECLASS_DRIFT, is_static_drifted};
use super::status::Ami;

/// The image changed: the instance runs an AMI its instance type no longer maps to.
pub const AMI_DRIFT: &str = "AMIDrift";
/// The instance's security groups differ from the class's resolved ones.
pub const SECURITY_GROUP_DRIFT: &str = "SecurityGroupDrift";
/// The instance's subnet is not among the class's resolved subnets.
pub const SUBNET_DRIFT: &str = "SubnetDrift";
/// The instance's capacity reservation is no longer selected by the class.
pub const CAPACITY_RESERVATION_DRIFT: &str = "CapacityReservationDrift";
/// The NodeClaim's placement group is not the class's current one.
pub const PLACEMENT_GROUP_DRIFT: &str = "PlacementGroupDrift";

/// Why the drift check could not be evaluated (upstream returns these as errors and retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsDriftError {
    /// The NodeClaim has no `node.kubernetes.io/instance-type` label.
    #[error("label {label:?} not found on nodeclaim {nodeclaim:?}")]
    InstanceTypeLabelMissing {
        /// The label key.
        label: String,
        /// The NodeClaim.
        nodeclaim: String,
    },
    /// The class has no resolved AMIs.
    #[error("no amis exist given constraints")]
    NoAmis,
    /// The NodeClaim has no `status.imageID`.
    #[error("no imageID on nodeclaim {nodeclaim:?}")]
    NoImageId {
        /// The NodeClaim.
        nodeclaim: String,
    },
    /// The class has no resolved subnets.
    #[error("no subnets are discovered")]
    NoSubnets,
    /// The class has no resolved security groups.
    #[error("no security groups are present in the status")]
    NoSecurityGroups,
    /// A status AMI requirement has an operator or values joist cannot read.
    #[error("ami {ami:?} has an invalid requirement: {message}")]
    InvalidAmiRequirement {
        /// The AMI ID.
        ami: String,
        /// What is wrong.
        message: String,
    },
}

/// The NodeClaim facts the AWS check reads.
#[derive(Debug, Clone, Copy)]
pub struct AwsNodeClaim<'a> {
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.annotations` (the EC2NodeClass hash and version it launched with).
    pub annotations: &'a BTreeMap<String, String>,
    /// `status.imageID`.
    pub image_id: Option<&'a str>,
    /// Whether it carries the instance-type label (the type's requirements are passed
    /// separately).
    pub has_instance_type_label: bool,
    /// The value of its `karpenter.k8s.aws/placement-group-id` label, if any.
    pub placement_group_id: Option<&'a str>,
}

/// The instance as EC2 describes it.
#[derive(Debug, Clone, Copy)]
pub struct AwsInstance<'a> {
    /// Security group IDs attached to the instance.
    pub security_group_ids: &'a [String],
    /// The instance's subnet ID.
    pub subnet_id: &'a str,
    /// The capacity reservation the instance runs in, if any (a demoted instance has none).
    pub capacity_reservation_id: Option<&'a str>,
}

/// The provider drift reason of a NodeClaim, or `None` when not drifted. `instance_type` is the
/// requirements of the NodeClaim's instance type; `placement_group_id` the class's current
/// placement group; `instance` is fetched only when the cheaper checks pass, hence a closure.
///
/// # Errors
/// See [`AwsDriftError`]: missing labels, image or resolved status.
pub fn aws_drift_reason<'i>(
    nodeclass: &EC2NodeClass,
    nodeclaim: AwsNodeClaim<'_>,
    instance_type: &Requirements,
    placement_group_id: Option<&str>,
    instance: impl FnOnce() -> AwsInstance<'i>,
) -> Result<Option<&'static str>, AwsDriftError> {
    let class_annotations = nodeclass.metadata.annotations.clone().unwrap_or_default();
    if is_static_drifted(&class_annotations, nodeclaim.annotations) {
        return Ok(Some(NODECLASS_DRIFT));
    }
    if is_ami_drifted(nodeclass, nodeclaim, instance_type)? {
        return Ok(Some(AMI_DRIFT));
    }
    let instance = instance();
    let status = nodeclass.status.clone().unwrap_or_default();
    let status_groups: BTreeSet<&str> = status
        .security_groups
        .iter()
        .flatten()
        .map(|sg| sg.id.as_str())
        .collect();
    if status_groups.is_empty() {
        return Err(AwsDriftError::NoSecurityGroups);
    }
    let instance_groups: BTreeSet<&str> = instance
        .security_group_ids
        .iter()
        .map(String::as_str)
        .collect();
    if instance_groups != status_groups {
        return Ok(Some(SECURITY_GROUP_DRIFT));
    }
    let subnets = status.subnets.unwrap_or_default();
    if subnets.is_empty() {
        return Err(AwsDriftError::NoSubnets);
    }
    if !subnets.iter().any(|s| s.id == instance.subnet_id) {
        return Ok(Some(SUBNET_DRIFT));
    }
    if let Some(reservation) = instance.capacity_reservation_id {
        let selected = status
            .capacity_reservations
            .iter()
            .flatten()
            .any(|cr| cr.id == reservation);
        if !selected {
            return Ok(Some(CAPACITY_RESERVATION_DRIFT));
        }
    }
    if nodeclaim.placement_group_id != placement_group_id {
        return Ok(Some(PLACEMENT_GROUP_DRIFT));
    }
    Ok(None)
}

/// `AMIDrift`: the NodeClaim's image is not the AMI its instance type maps to (the first status
/// AMI whose requirements the instance type meets).
fn is_ami_drifted(
    nodeclass: &EC2NodeClass,
    nodeclaim: AwsNodeClaim<'_>,
    instance_type: &Requirements,
) -> Result<bool, AwsDriftError> {
    if !nodeclaim.has_instance_type_label {
        return Err(AwsDriftError::InstanceTypeLabelMissing {
            label: joist_core::labels::INSTANCE_TYPE.to_owned(),
            nodeclaim: nodeclaim.name.to_owned(),
        });
    }
    let amis = nodeclass
        .status
        .as_ref()
        .and_then(|s| s.amis.as_deref())
        .unwrap_or_default();
    if amis.is_empty() {
        return Err(AwsDriftError::NoAmis);
    }
    let image = nodeclaim
        .image_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| AwsDriftError::NoImageId {
            nodeclaim: nodeclaim.name.to_owned(),
        })?;
    let well_known = WellKnownLabels::core();
    for ami in amis {
        if instance_type.is_compatible(&ami_requirements(ami)?, &well_known) {
            return Ok(ami.id != image);
        }
    }
    // No AMI serves the instance type any more.
    Ok(true)
}

/// A status AMI's requirements in joist-core form.
fn ami_requirements(ami: &Ami) -> Result<Requirements, AwsDriftError> {
    let invalid = |message: String| AwsDriftError::InvalidAmiRequirement {
        ami: ami.id.clone(),
        message,
    };
    let wire: Vec<NodeSelectorRequirement> = ami
        .requirements
        .iter()
        .map(|r| {
            let operator: Operator = r
                .operator
                .parse()
                .map_err(|_| invalid(format!("unknown operator {:?}", r.operator)))?;
            Ok(NodeSelectorRequirement {
                key: r.key.clone(),
                operator,
                values: r.values.clone().unwrap_or_default(),
                min_values: None,
            })
        })
        .collect::<Result<_, AwsDriftError>>()?;
    Requirements::from_node_selector_requirements(&wire, &LabelAliases::core())
        .map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
#[path = "drift_tests.rs"]
mod tests;
