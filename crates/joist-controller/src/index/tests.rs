use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher::Event;

use super::*;

/// A pod as the API server sends it after `kubectl apply`: managed fields from two managers and
/// the last-applied copy next to an annotation joist reads.
fn applied_pod(name: &str) -> Pod {
    let manager = |name: &str| ManagedFieldsEntry {
        manager: Some(name.to_owned()),
        operation: Some("Update".to_owned()),
        ..ManagedFieldsEntry::default()
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("default".to_owned()),
            managed_fields: Some(vec![manager("kubectl"), manager("kube-scheduler")]),
            annotations: Some(BTreeMap::from([
                (
                    LAST_APPLIED_ANNOTATION.to_owned(),
                    "{\"kind\":\"Pod\"}".to_owned(),
                ),
                ("karpenter.sh/do-not-disrupt".to_owned(), "true".to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        ..Pod::default()
    }
}

fn assert_stripped(pod: &Pod) {
    assert_eq!(pod.metadata.managed_fields, None);
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations,
        BTreeMap::from([("karpenter.sh/do-not-disrupt".to_owned(), "true".to_owned())]),
        "only the last-applied copy goes"
    );
}

#[test]
fn strip_unused_drops_managed_fields_and_the_last_applied_copy_only() {
    let mut pod = applied_pod("a");
    let before = pod.clone();
    strip_unused(&mut pod);
    assert_stripped(&pod);
    assert_eq!(pod.metadata.name, before.metadata.name);
    assert_eq!(pod.spec, before.spec);
}

#[tokio::test]
async fn stores_and_hooks_never_see_managed_fields() {
    let (reader, writer) = reflector::store::<Pod>();
    let events = futures::stream::iter(vec![
        Ok(Event::Init),
        Ok(Event::InitApply(applied_pod("listed"))),
        Ok(Event::InitDone),
        Ok(Event::Apply(applied_pod("watched"))),
    ]);
    let touched: Vec<Pod> = cached(writer, events)
        .touched_objects()
        .filter_map(|item| async move { item.ok() })
        .collect()
        .await;

    assert_eq!(touched.len(), 2, "the listed and the watched pod");
    touched.iter().for_each(assert_stripped);
    assert_eq!(reader.len(), 2);
    for name in ["listed", "watched"] {
        let stored = reader
            .get(&ObjectRef::new(name).within("default"))
            .unwrap_or_else(|| panic!("{name} is in the store"));
        assert_stripped(&stored);
    }
}
