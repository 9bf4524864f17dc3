//! The event recorder against a real API server: an event is created as core/v1 with
//! component `karpenter`, a duplicate inside its dedupe window is not, one after it is.

use std::time::{Duration, Instant};

use joist_controller::events::{Recorder, failed_draining};
use joist_testenv::{ControlPlane, ControlPlaneOptions};
use k8s_openapi::api::core::v1::{Event, ObjectReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::ListParams;

async fn draining_events(api: &Api<Event>) -> Vec<Event> {
    let params = ListParams::default().fields("involvedObject.name=drain-me");
    api.list(&params).await.expect("list events").items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_created_once_per_dedupe_window() {
    let started = Instant::now();
    let options = ControlPlaneOptions {
        kwok: false,
        ..ControlPlaneOptions::default()
    };
    let control_plane = ControlPlane::start_with(options)
        .await
        .expect("control plane");
    let client = control_plane.client();
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    let recorder = Recorder::new(client, "joist-test");
    let node = ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Node".to_owned()),
        name: Some("drain-me".to_owned()),
        uid: Some("0b6f3d52-0000-4000-8000-000000000001".to_owned()),
        ..ObjectReference::default()
    };
    let now = Timestamp::now();
    let event = failed_draining(&node, "2 pods are waiting to be evicted");
    assert!(recorder.publish_at(&event, now).await.expect("publish"));
    let created = draining_events(&api).await;
    assert_eq!(created.len(), 1);
    let first = &created[0];
    assert_eq!(first.reason.as_deref(), Some("FailedDraining"));
    assert_eq!(first.type_.as_deref(), Some("Warning"));
    assert_eq!(
        first.message.as_deref(),
        Some("Failed to drain node, 2 pods are waiting to be evicted")
    );
    assert_eq!(
        first
            .source
            .as_ref()
            .and_then(|source| source.component.as_deref()),
        Some("karpenter")
    );
    assert_eq!(first.involved_object.kind.as_deref(), Some("Node"));

    // Same key inside the 2-minute default window: suppressed, nothing written.
    let later = now + SignedDuration::from_secs(119);
    assert!(!recorder.publish_at(&event, later).await.expect("publish"));
    assert_eq!(draining_events(&api).await.len(), 1);

    // After the window it is published again.
    let after = now + Duration::from_secs(120);
    assert!(recorder.publish_at(&event, after).await.expect("publish"));
    assert_eq!(draining_events(&api).await.len(), 2);
    eprintln!("events test took {:?}", started.elapsed());
}
