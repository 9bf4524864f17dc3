//! Services and controller selectors, for the core's default topology spread selector
//! deduction (only needed when `--scheduler-config` configures default constraints).

use joist_core::snapshot::{self, LabelSelector, WorkloadKind, WorkloadSelector};
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ReplicationController, Service};

use super::meta::{label_selector, name, namespace, namespaced_key};
use super::{At, ConvertError, ConvertOptions};

/// A Service's namespace, name and `spec.selector` (`None` when it has no selector).
pub fn service(
    service: &Service,
    options: &ConvertOptions,
) -> Result<snapshot::Service, ConvertError> {
    let key = namespaced_key(&service.metadata, options);
    let at = At { object: &key };
    Ok(snapshot::Service {
        namespace: namespace(&service.metadata, options),
        name: name(&service.metadata, at)?,
        selector: service.spec.as_ref().and_then(|s| s.selector.clone()),
    })
}

/// A ReplicaSet's `spec.selector`.
pub fn replica_set_selector(
    replica_set: &ReplicaSet,
    options: &ConvertOptions,
) -> Result<WorkloadSelector, ConvertError> {
    let key = namespaced_key(&replica_set.metadata, options);
    let at = At { object: &key };
    let spec = replica_set
        .spec
        .as_ref()
        .ok_or_else(|| at.missing("spec"))?;
    Ok(WorkloadSelector {
        namespace: namespace(&replica_set.metadata, options),
        kind: WorkloadKind::ReplicaSet,
        name: name(&replica_set.metadata, at)?,
        selector: label_selector(&spec.selector, at, "spec.selector")?,
    })
}

/// A StatefulSet's `spec.selector`.
pub fn stateful_set_selector(
    stateful_set: &StatefulSet,
    options: &ConvertOptions,
) -> Result<WorkloadSelector, ConvertError> {
    let key = namespaced_key(&stateful_set.metadata, options);
    let at = At { object: &key };
    let spec = stateful_set
        .spec
        .as_ref()
        .ok_or_else(|| at.missing("spec"))?;
    Ok(WorkloadSelector {
        namespace: namespace(&stateful_set.metadata, options),
        kind: WorkloadKind::StatefulSet,
        name: name(&stateful_set.metadata, at)?,
        selector: label_selector(&spec.selector, at, "spec.selector")?,
    })
}

/// A ReplicationController's `spec.selector` map, as `matchLabels`.
pub fn replication_controller_selector(
    controller: &ReplicationController,
    options: &ConvertOptions,
) -> Result<WorkloadSelector, ConvertError> {
    let key = namespaced_key(&controller.metadata, options);
    let at = At { object: &key };
    let labels = controller
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    Ok(WorkloadSelector {
        namespace: namespace(&controller.metadata, options),
        kind: WorkloadKind::ReplicationController,
        name: name(&controller.metadata, at)?,
        selector: LabelSelector::from_labels(labels),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
        serde_yaml_ng::from_str(yaml).expect("test YAML parses")
    }

    #[test]
    fn services_keep_a_missing_selector_apart_from_an_empty_one() {
        let options = ConvertOptions::cluster();
        let with = service(
            &parse::<Service>("metadata: {name: web}\nspec: {selector: {app: web}}"),
            &options,
        )
        .unwrap();
        assert_eq!(
            (with.namespace.as_str(), with.selector),
            (
                "default",
                Some([("app".to_owned(), "web".to_owned())].into())
            )
        );
        let headless =
            service(&parse::<Service>("metadata: {name: h}\nspec: {}"), &options).unwrap();
        assert_eq!(headless.selector, None);
    }

    #[test]
    fn controller_selectors_convert_by_kind() {
        let options = ConvertOptions::cluster();
        let rs = replica_set_selector(
            &parse::<ReplicaSet>(
                "metadata: {name: web-1, namespace: shop}\nspec:\n  selector:\n    matchLabels: {app: web}\n    matchExpressions: [{key: tier, operator: Exists}]",
            ),
            &options,
        )
        .unwrap();
        assert_eq!(
            (rs.kind, rs.namespace.as_str()),
            (WorkloadKind::ReplicaSet, "shop")
        );
        assert_eq!(rs.selector.match_expressions.len(), 1);
        let rc = replication_controller_selector(
            &parse::<ReplicationController>(
                "metadata: {name: legacy}\nspec: {selector: {app: legacy}}",
            ),
            &options,
        )
        .unwrap();
        assert_eq!(rc.selector, LabelSelector::from_labels([("app", "legacy")]));
        let missing =
            stateful_set_selector(&parse::<StatefulSet>("metadata: {name: db}"), &options);
        assert!(missing.unwrap_err().to_string().contains("spec"));
    }
}
