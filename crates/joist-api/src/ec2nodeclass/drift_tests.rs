//! AWS provider drift tests (spec aws §13 items 101, 102, 103, 105, 106).

use k8s_openapi::api::core::v1::NodeSelectorRequirement as WireRequirement;

use super::*;
use crate::ec2nodeclass::hash::{
    EC2NODECLASS_HASH, EC2NODECLASS_HASH_VERSION, EC2NODECLASS_HASH_VERSION_KEY,
};
use crate::ec2nodeclass::{
    CapacityReservation, EC2NodeClassSpec, EC2NodeClassStatus, SecurityGroup, Subnet,
};
use joist_core::labels::ARCH;
use joist_core::requirements::Requirement;

fn ami(id: &str, arch: &str) -> Ami {
    Ami {
        id: id.into(),
        requirements: vec![WireRequirement {
            key: ARCH.into(),
            operator: "In".into(),
            values: Some(vec![arch.into()]),
        }],
        ..Ami::default()
    }
}

/// A class resolved to AMIs (amd64 `ami-new`, arm64 `ami-arm`), subnets a/b, groups 1/2 and
/// reservation `cr-1`, stamped with hash `h`.
fn class() -> EC2NodeClass {
    let mut class = EC2NodeClass::new("default", EC2NodeClassSpec::default());
    class.metadata.annotations = Some(stamp("h"));
    class.status = Some(EC2NodeClassStatus {
        amis: Some(vec![ami("ami-new", "amd64"), ami("ami-arm", "arm64")]),
        subnets: Some(
            ["subnet-a", "subnet-b"]
                .map(|id| Subnet {
                    id: id.into(),
                    ..Subnet::default()
                })
                .to_vec(),
        ),
        security_groups: Some(
            ["sg-1", "sg-2"]
                .map(|id| SecurityGroup {
                    id: id.into(),
                    ..SecurityGroup::default()
                })
                .to_vec(),
        ),
        capacity_reservations: Some(vec![CapacityReservation {
            id: "cr-1".into(),
            ..CapacityReservation::default()
        }]),
        ..EC2NodeClassStatus::default()
    });
    class
}

fn stamp(hash: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (EC2NODECLASS_HASH.to_owned(), hash.to_owned()),
        (
            EC2NODECLASS_HASH_VERSION_KEY.to_owned(),
            EC2NODECLASS_HASH_VERSION.to_owned(),
        ),
    ])
}

fn amd64() -> Requirements {
    [Requirement::in_values(ARCH, ["amd64"])]
        .into_iter()
        .collect()
}

/// Evaluates a NodeClaim on `ami-new`, stamped `h`, against an instance in subnet-a with
/// groups 1/2 and `reservation`.
fn reason(
    class: &EC2NodeClass,
    image: &str,
    groups: &[&str],
    subnet: &str,
    reservation: Option<&str>,
) -> Result<Option<&'static str>, AwsDriftError> {
    let annotations = stamp("h");
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let nodeclaim = AwsNodeClaim {
        name: "nc",
        annotations: &annotations,
        image_id: Some(image),
        has_instance_type_label: true,
        placement_group_id: None,
    };
    aws_drift_reason(class, nodeclaim, &amd64(), None, || AwsInstance {
        security_group_ids: &groups,
        subnet_id: subnet,
        capacity_reservation_id: reservation,
    })
}

const GROUPS: [&str; 2] = ["sg-1", "sg-2"];

#[test]
fn item_101_nothing_changed_is_not_drifted() {
    assert_eq!(
        reason(&class(), "ami-new", &GROUPS, "subnet-a", None),
        Ok(None)
    );
}

#[test]
fn item_106_hash_mismatch_is_nodeclass_drift_first() {
    let mut changed = class();
    changed.metadata.annotations = Some(stamp("other"));
    assert_eq!(
        reason(&changed, "ami-old", &["sg-9"], "subnet-z", None),
        Ok(Some(NODECLASS_DRIFT))
    );
}

#[test]
fn item_101_ami_subnet_and_security_group_changes_each_drift() {
    assert_eq!(
        reason(&class(), "ami-old", &GROUPS, "subnet-a", None),
        Ok(Some(AMI_DRIFT))
    );
    assert_eq!(
        reason(&class(), "ami-new", &GROUPS, "subnet-z", None),
        Ok(Some(SUBNET_DRIFT))
    );
    assert_eq!(
        reason(&class(), "ami-new", &["sg-1", "sg-3"], "subnet-a", None),
        Ok(Some(SECURITY_GROUP_DRIFT))
    );
}

#[test]
fn item_102_more_or_fewer_security_groups_than_discovered_drift() {
    assert_eq!(
        reason(
            &class(),
            "ami-new",
            &["sg-1", "sg-2", "sg-3"],
            "subnet-a",
            None
        ),
        Ok(Some(SECURITY_GROUP_DRIFT))
    );
    assert_eq!(
        reason(&class(), "ami-new", &["sg-1"], "subnet-a", None),
        Ok(Some(SECURITY_GROUP_DRIFT))
    );
}

#[test]
fn item_103_changed_reservation_drifts_but_demotion_does_not() {
    assert_eq!(
        reason(&class(), "ami-new", &GROUPS, "subnet-a", Some("cr-1")),
        Ok(None)
    );
    assert_eq!(
        reason(&class(), "ami-new", &GROUPS, "subnet-a", Some("cr-2")),
        Ok(Some(CAPACITY_RESERVATION_DRIFT))
    );
    assert_eq!(
        reason(&class(), "ami-new", &GROUPS, "subnet-a", None),
        Ok(None)
    );
}

#[test]
fn item_105_an_ami_that_no_longer_matches_the_instance_type_drifts() {
    let mut arm_only = class();
    arm_only.status.as_mut().unwrap().amis = Some(vec![ami("ami-arm", "arm64")]);
    assert_eq!(
        reason(&arm_only, "ami-new", &GROUPS, "subnet-a", None),
        Ok(Some(AMI_DRIFT))
    );
}

#[test]
fn item_101_empty_status_subnets_or_groups_are_errors() {
    let mut no_subnets = class();
    no_subnets.status.as_mut().unwrap().subnets = Some(Vec::new());
    assert_eq!(
        reason(&no_subnets, "ami-new", &GROUPS, "subnet-a", None),
        Err(AwsDriftError::NoSubnets)
    );
    let mut no_groups = class();
    no_groups.status.as_mut().unwrap().security_groups = None;
    assert_eq!(
        reason(&no_groups, "ami-new", &GROUPS, "subnet-a", None),
        Err(AwsDriftError::NoSecurityGroups)
    );
    let mut no_amis = class();
    no_amis.status.as_mut().unwrap().amis = None;
    assert_eq!(
        reason(&no_amis, "ami-new", &GROUPS, "subnet-a", None),
        Err(AwsDriftError::NoAmis)
    );
    assert_eq!(
        reason(&class(), "", &GROUPS, "subnet-a", None),
        Err(AwsDriftError::NoImageId {
            nodeclaim: "nc".into()
        })
    );
}

#[test]
fn placement_group_change_drifts() {
    let annotations = stamp("h");
    let groups: Vec<String> = GROUPS.iter().map(|g| (*g).to_owned()).collect();
    let nodeclaim = AwsNodeClaim {
        name: "nc",
        annotations: &annotations,
        image_id: Some("ami-new"),
        has_instance_type_label: true,
        placement_group_id: Some("pg-1"),
    };
    let instance = || AwsInstance {
        security_group_ids: &groups,
        subnet_id: "subnet-a",
        capacity_reservation_id: None,
    };
    assert_eq!(
        aws_drift_reason(&class(), nodeclaim, &amd64(), Some("pg-1"), instance),
        Ok(None)
    );
    assert_eq!(
        aws_drift_reason(&class(), nodeclaim, &amd64(), Some("pg-2"), instance),
        Ok(Some(PLACEMENT_GROUP_DRIFT))
    );
}
