//! A solver [`NewNodeClaim`] as the NodeClaim object to create (spec core §2.16).

use joist_api::common::{
    NodeClassReference, NodeSelectorRequirementWithMinValues, QuantityValue, Taint,
};
use joist_api::nodeclaim::{NodeClaim, NodeClaimSpec, ResourceRequirements};
use joist_core::labels::HOSTNAME;
use joist_core::scheduling::NewNodeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// The NodeClaim object for `planned`: `generateName: <nodepool>-` (the API server appends five
/// random characters), the plan's labels and annotations (the NodePool hash among them), an
/// owner reference to the NodePool (uid `nodepool_uid`), and the spec the solve computed.
pub fn nodeclaim_object(planned: &NewNodeClaim, nodepool_uid: &str) -> NodeClaim {
    let requirements = planned
        .requirements
        .to_node_selector_requirements()
        .into_iter()
        // The hostname placeholder only served topology during the solve.
        .filter(|r| r.key != HOSTNAME)
        .map(|r| NodeSelectorRequirementWithMinValues {
            key: Some(r.key),
            operator: Some(r.operator.as_str().to_owned()),
            values: (!r.values.is_empty()).then_some(r.values),
            min_values: r.min_values.map(i64::from),
            ..NodeSelectorRequirementWithMinValues::default()
        })
        .collect();
    let taints = |list: &[joist_core::taints::Taint]| -> Option<Vec<Taint>> {
        (!list.is_empty()).then(|| {
            list.iter()
                .map(|t| Taint::new(&t.key, &t.value, t.effect.as_str()))
                .collect()
        })
    };
    let requests = planned
        .requests
        .iter()
        .map(|(name, quantity)| (name.to_owned(), QuantityValue::new(quantity.to_string())))
        .collect();
    let class = &planned.node_class_ref;
    let spec = NodeClaimSpec {
        taints: taints(&planned.taints),
        startup_taints: taints(&planned.startup_taints),
        requirements: Some(requirements),
        resources: Some(ResourceRequirements {
            requests: Some(requests),
            ..ResourceRequirements::default()
        }),
        node_class_ref: Some(NodeClassReference::new(
            &class.group,
            &class.kind,
            &class.name,
        )),
        termination_grace_period: planned.termination_grace_period.clone(),
        expire_after: Some(
            planned
                .expire_after
                .clone()
                .unwrap_or_else(|| "Never".to_owned()),
        ),
        ..NodeClaimSpec::default()
    };
    let mut claim = NodeClaim::new("", spec);
    claim.metadata = ObjectMeta {
        generate_name: Some(format!("{}-", planned.nodepool)),
        labels: Some(planned.labels.clone()),
        annotations: (!planned.annotations.is_empty()).then(|| planned.annotations.clone()),
        owner_references: Some(vec![OwnerReference {
            api_version: joist_api::nodepool::API_VERSION.to_owned(),
            kind: joist_api::nodepool::KIND.to_owned(),
            name: planned.nodepool.clone(),
            uid: nodepool_uid.to_owned(),
            block_owner_deletion: Some(true),
            controller: None,
        }]),
        ..ObjectMeta::default()
    };
    claim
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use joist_core::labels::{INSTANCE_TYPE, NODEPOOL, NODEPOOL_HASH};
    use joist_core::requirements::{Requirement, Requirements};
    use joist_core::resources::{Quantity, ResourceList};
    use joist_core::snapshot::NodeClassRef;
    use joist_core::taints::{Effect, Taint as CoreTaint};

    fn planned() -> NewNodeClaim {
        let mut requirements = Requirements::new();
        requirements.add(Requirement::in_values(
            INSTANCE_TYPE,
            ["m5.large", "c5.large"],
        ));
        requirements.add(Requirement::in_values(NODEPOOL, ["default"]));
        requirements.add(Requirement::in_values(
            HOSTNAME,
            ["hostname-placeholder-0001"],
        ));
        let requests: ResourceList = [
            ("cpu", Quantity::parse("1500m").expect("cpu")),
            ("pods", Quantity::parse("3").expect("pods")),
        ]
        .into_iter()
        .collect();
        NewNodeClaim {
            nodepool: "default".to_owned(),
            labels: BTreeMap::from([(NODEPOOL.to_owned(), "default".to_owned())]),
            annotations: BTreeMap::from([(NODEPOOL_HASH.to_owned(), "123".to_owned())]),
            requirements,
            instance_types: Arc::from(vec![Arc::from("c5.large"), Arc::from("m5.large")]),
            requests,
            taints: vec![CoreTaint::new("team", "a", Effect::NoSchedule)],
            startup_taints: Vec::new(),
            node_class_ref: NodeClassRef::new("karpenter.k8s.aws", "EC2NodeClass", "default"),
            expire_after: None,
            termination_grace_period: Some("1h".to_owned()),
            min_values_relaxed: false,
            hostname_placeholder: "hostname-placeholder-0001".to_owned(),
            pods: vec![0, 1, 2],
        }
    }

    #[test]
    fn the_object_carries_the_plan() {
        let claim = nodeclaim_object(&planned(), "uid-1");
        assert_eq!(claim.metadata.generate_name.as_deref(), Some("default-"));
        assert_eq!(
            claim.metadata.annotations.as_ref().expect("annotations")[NODEPOOL_HASH],
            "123"
        );
        let owner = &claim.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("NodePool", "default", "uid-1")
        );
        assert_eq!(owner.block_owner_deletion, Some(true));
        let requirements = claim.spec.requirements.as_ref().expect("requirements");
        assert!(
            requirements
                .iter()
                .all(|r| r.key.as_deref() != Some(HOSTNAME))
        );
        let types = requirements
            .iter()
            .find(|r| r.key.as_deref() == Some(INSTANCE_TYPE))
            .expect("instance types");
        assert_eq!(types.values(), ["c5.large", "m5.large"]);
        let requests = claim
            .spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .expect("requests");
        assert_eq!(requests["cpu"].text().as_deref(), Some("1500m"));
        assert_eq!(claim.spec.expire_after.as_deref(), Some("Never"));
        assert_eq!(claim.spec.termination_grace_period.as_deref(), Some("1h"));
        assert_eq!(
            claim.spec.taints.as_ref().expect("taints")[0]
                .key
                .as_deref(),
            Some("team")
        );
        assert!(claim.spec.startup_taints.is_none());
        // What joist creates, joist's own validation accepts.
        let errors = joist_api::nodeclaim::validate(&{
            let mut named = claim.clone();
            named.metadata.name = Some("default-abcde".to_owned());
            named
        });
        assert!(errors.is_empty(), "{errors:?}");
    }
}
