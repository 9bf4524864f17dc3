use super::*;
use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

fn pending(reason: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".to_owned()),
            uid: Some("u1".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec::default()),
        status: Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".to_owned(),
                status: "False".to_owned(),
                reason: Some(reason.to_owned()),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        }),
    }
}

#[test]
fn only_unschedulable_unbound_pods_are_provisionable() {
    assert!(is_provisionable(&pending("Unschedulable")));
    assert!(!is_provisionable(&pending("SchedulerError")));
    let mut bound = pending("Unschedulable");
    bound.spec.as_mut().expect("spec").node_name = Some("n1".to_owned());
    assert!(!is_provisionable(&bound));
    let mut preempting = pending("Unschedulable");
    preempting
        .status
        .as_mut()
        .expect("status")
        .nominated_node_name = Some("n1".to_owned());
    assert!(!is_provisionable(&preempting));
    let mut daemon = pending("Unschedulable");
    daemon.metadata.owner_references = Some(vec![OwnerReference {
        kind: "DaemonSet".to_owned(),
        ..OwnerReference::default()
    }]);
    assert!(!is_provisionable(&daemon));
}

#[test]
fn long_lists_are_abbreviated_as_upstream() {
    assert_eq!(first_five(&["a", "b"]), "a, b");
    let names: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    assert_eq!(first_five(&names), "p0, p1, p2, p3, p4 and 3 other(s)");
}

// === restart: nominations keep just-initialized nodes from emptiness ===

mod restart {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::Instant;

    use chrono::Utc;
    use joist_aws::catalog::Catalog;
    use joist_aws::instancetype::{Settings, build_instance_types};
    use joist_aws::offerings::Placement;
    use joist_core::disruption::empty_command;
    use joist_core::instancetype::InstanceType;
    use joist_core::rng::SeededRng;
    use joist_core::scheduling::solve;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use kube::Resource;
    use kube::runtime::reflector::{Store, store::Writer};
    use kube::runtime::watcher::Event;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::super::nominations::Nominations;
    use super::super::{nominated_nodes, scheduling_settings};
    use crate::disruption::{Facts, PodEvents};
    use crate::index::{Index, SnapshotInput, StorageStores};
    use crate::objects::{NodeClaimObject, NodePoolObject};

    /// A listed store holding `objects` (as a watch's initial list leaves it).
    fn store<K>(objects: Vec<Value>) -> Store<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned,
    {
        let mut writer = Writer::<K>::default();
        writer.apply_watcher_event(&Event::Init);
        for object in objects {
            let object: K = serde_json::from_value(object).expect("a valid object");
            writer.apply_watcher_event(&Event::InitApply(object));
        }
        writer.apply_watcher_event(&Event::InitDone);
        writer.as_reader()
    }

    const NODE: &str = "default-abcde";
    const LONG_AGO: &str = "2026-01-01T00:00:00Z";

    fn allocatable() -> Value {
        json!({"cpu": "3920m", "memory": "14162Mi", "pods": "58"})
    }

    fn condition(kind: &str) -> Value {
        json!({"type": kind, "status": "True", "reason": kind, "message": "",
               "lastTransitionTime": LONG_AGO})
    }

    /// What a restarted replica lists while kube-scheduler has not yet bound the pods: a Node
    /// the previous replica launched, registered and initialized, still empty, and pods that
    /// are pending for it (`PodScheduled=False/Unschedulable` from before the node was ready).
    fn index_after_restart(pending: usize) -> Index {
        let provider_id = format!("kwok://{NODE}");
        let labels = json!({"karpenter.sh/nodepool": "default", "karpenter.sh/registered": "true",
                            "karpenter.sh/initialized": "true", "kubernetes.io/hostname": NODE,
                            "node.kubernetes.io/instance-type": "m5a.xlarge"});
        let node = json!({
            "metadata": {"name": NODE, "labels": labels, "creationTimestamp": LONG_AGO},
            "spec": {"providerID": provider_id},
            "status": {"capacity": allocatable(), "allocatable": allocatable(),
                       "conditions": [{"type": "Ready", "status": "True"}]},
        });
        let claim = json!({
            "apiVersion": "karpenter.sh/v1", "kind": "NodeClaim",
            "metadata": {"name": NODE, "uid": "claim-uid", "creationTimestamp": LONG_AGO,
                         "labels": {"karpenter.sh/nodepool": "default"}},
            "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                     "requirements": []},
            "status": {"providerID": provider_id, "nodeName": NODE, "capacity": allocatable(),
                       "allocatable": allocatable(),
                       "conditions": [condition("Launched"), condition("Registered"),
                                      condition("Initialized"), condition("Ready")]},
        });
        let pool = json!({
            "apiVersion": "karpenter.sh/v1", "kind": "NodePool",
            "metadata": {"name": "default", "uid": "pool-uid"},
            "spec": {
                "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized",
                               "consolidateAfter": "0s", "budgets": [{"nodes": "100%"}]},
                "template": {"spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                    "requirements": []}},
            },
            "status": {"conditions": [condition("Ready")]},
        });
        let pods = (0..pending)
            .map(|i| {
                json!({
                    "metadata": {"name": format!("web-{i}"), "namespace": "e2e", "uid": format!("pod-{i}"),
                                 "creationTimestamp": LONG_AGO},
                    "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]},
                    "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                               "reason": "Unschedulable"}]},
                })
            })
            .collect();
        Index {
            pods: store::<Pod>(pods),
            nodes: store::<Node>(vec![node]),
            nodepools: store::<NodePoolObject>(vec![pool]),
            nodeclaims: store::<NodeClaimObject>(vec![claim]),
            daemonsets: store(Vec::new()),
            pdbs: store(Vec::new()),
            nodeclasses: store(Vec::new()),
            storage: StorageStores {
                claims: store(Vec::new()),
                volumes: store(Vec::new()),
                classes: store(Vec::new()),
                csinodes: store(Vec::new()),
            },
        }
    }

    /// The embedded AWS catalog's instance types in us-east-1 (what the kwok provider offers).
    fn aws_instance_types() -> Arc<[InstanceType]> {
        let settings = Settings {
            placement: Placement::default_for_region("us-east-1").expect("a known region"),
            ..Settings::default()
        };
        let catalog = Catalog::embedded().expect("the embedded catalog");
        Arc::from(build_instance_types(catalog, &settings).expect("instance types"))
    }

    /// The nodes a provisioning round over `index` nominates (what `Provisioner::round` does
    /// between the snapshot and the creations).
    fn round_nominations(index: &Index, instance_types: &Arc<[InstanceType]>) -> BTreeSet<String> {
        let (snapshot, errors) = index.snapshot(SnapshotInput {
            now: Utc::now(),
            created: &[],
            instance_types,
        });
        assert!(errors.is_empty(), "objects convert: {errors:?}");
        let plan = solve(&snapshot, &scheduling_settings(), &mut SeededRng::new(1));
        assert!(
            plan.new_nodeclaims.is_empty(),
            "the node has room: {plan:?}"
        );
        nominated_nodes(&plan)
    }

    /// Whether the Empty method would delete the node, given the nominations disruption reads.
    fn emptiness_takes_the_node(
        index: &Index,
        types: &Arc<[InstanceType]>,
        nominated: &BTreeSet<String>,
    ) -> bool {
        let facts = Facts::build(index, types, &PodEvents::default(), nominated, Utc::now());
        empty_command(&facts.input())
            .command
            .is_some_and(|c| c.candidates.iter().any(|n| n.node == NODE))
    }

    #[test]
    fn pending_pods_nominate_the_just_initialized_node_so_emptiness_leaves_it() {
        let index = index_after_restart(5);
        let types = aws_instance_types();
        // Without the provisioner's nominations (before the fix) the empty node is deleted
        // although the five pending pods are about to be bound to it.
        assert!(emptiness_takes_the_node(&index, &types, &BTreeSet::new()));

        let shared = Nominations::default();
        let seen_by_disruption = shared.clone();
        shared.nominate(round_nominations(&index, &types), Instant::now());
        let nominated: BTreeSet<String> = seen_by_disruption
            .active(Instant::now())
            .into_iter()
            .collect();
        assert_eq!(nominated, BTreeSet::from([NODE.to_owned()]));
        assert!(!emptiness_takes_the_node(&index, &types, &nominated));
    }
}
