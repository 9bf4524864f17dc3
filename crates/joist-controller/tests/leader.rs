//! Leader election against a real API server: one leader among two electors, takeover after
//! the leader stops renewing (within lease duration + retry period of its last renewal),
//! immediate takeover after a clean release, and a leader that sees another holder stops.

use std::time::{Duration, Instant};

use joist_controller::leader::{LeaderElectionConfig, LeaderElector, LeaderError, LeaderHandle};
use joist_testenv::{ControlPlane, ControlPlaneOptions, eventually};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::PostParams;

const LEASE: &str = "karpenter-leader-election";
const NAMESPACE: &str = "kube-system";
const LEASE_DURATION: Duration = Duration::from_secs(3);
const RETRY: Duration = Duration::from_millis(500);
/// API latency on a small, busy machine.
const SLACK: Duration = Duration::from_millis(1500);
const WAIT: Duration = Duration::from_secs(60);

fn config(identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig {
        identity: identity.to_owned(),
        lease_duration: LEASE_DURATION,
        renew_deadline: Duration::from_secs(2),
        retry_period: RETRY,
        ..LeaderElectionConfig::new(LEASE, NAMESPACE)
    }
}

fn elect(client: &kube::Client, identity: &str) -> LeaderHandle {
    LeaderElector::new(client.clone(), config(identity))
        .expect("valid timing")
        .spawn()
}

async fn lease(api: &Api<Lease>) -> Lease {
    api.get(LEASE).await.expect("lease")
}

fn holder(lease: &Lease) -> String {
    lease
        .spec
        .as_ref()
        .and_then(|spec| spec.holder_identity.clone())
        .unwrap_or_default()
}

async fn wait_leader(handle: &LeaderHandle, what: &str) {
    let receiver = handle.is_leader();
    eventually(what, WAIT, || {
        let leads = *receiver.borrow();
        async move { leads.then_some(()) }
    })
    .await
    .expect(what);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_takeover_on_expiry_and_on_release() {
    let started = Instant::now();
    let options = ControlPlaneOptions {
        kwok: false,
        ..ControlPlaneOptions::default()
    };
    let control_plane = ControlPlane::start_with(options)
        .await
        .expect("control plane");
    let client = control_plane.client();
    let api: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    eprintln!("control plane up after {:?}", started.elapsed());

    // Two electors: exactly one leads, and the Lease names it.
    let a = elect(&client, "a");
    let b = elect(&client, "b");
    let (a_leads, b_leads) = (a.is_leader(), b.is_leader());
    eventually("a leader", WAIT, || {
        let any = *a_leads.borrow() || *b_leads.borrow();
        async move { any.then_some(()) }
    })
    .await
    .expect("a leader");
    for _ in 0..8 {
        assert!(!(*a_leads.borrow() && *b_leads.borrow()), "both lead");
        tokio::time::sleep(RETRY / 2).await;
    }
    let (leader, follower, follower_name) = if *a_leads.borrow() {
        (a, b, "b")
    } else {
        (b, a, "a")
    };
    let leader_name = if follower_name == "a" { "b" } else { "a" };
    assert!(!*follower.is_leader().borrow());
    assert_eq!(holder(&lease(&api).await), leader_name);

    // The leader stops renewing (a crash): the follower takes over once the record has not
    // changed for a lease duration, and no earlier.
    leader.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let last = lease(&api).await;
    let last_renew = last
        .spec
        .as_ref()
        .and_then(|spec| spec.renew_time.clone())
        .expect("renewTime")
        .0;
    let transitions = last
        .spec
        .as_ref()
        .and_then(|spec| spec.lease_transitions)
        .unwrap_or_default();
    let aborted = Instant::now();
    wait_leader(&follower, "takeover after expiry").await;
    eprintln!("takeover {:?} after abort", aborted.elapsed());
    let taken = lease(&api).await;
    let spec = taken.spec.clone().expect("spec");
    assert_eq!(holder(&taken), follower_name);
    assert_eq!(spec.lease_transitions, Some(transitions + 1));
    let gap = Duration::try_from(
        spec.acquire_time
            .expect("acquireTime")
            .0
            .duration_since(last_renew),
    )
    .expect("after");
    assert!(
        gap >= LEASE_DURATION,
        "taken over {gap:?} after the last renewal"
    );
    assert!(
        gap <= LEASE_DURATION + RETRY + SLACK,
        "taken over {gap:?} after the last renewal"
    );

    // A clean release hands over at once, well before the lease would expire.
    let third = elect(&client, "c");
    tokio::time::sleep(RETRY * 2).await;
    assert!(
        !*third.is_leader().borrow(),
        "c leads while the lease is held"
    );
    let follower_leads = follower.is_leader();
    let released = Instant::now();
    follower.release().await.expect("release");
    assert!(
        !*follower_leads.borrow(),
        "released elector still says it leads"
    );
    wait_leader(&third, "takeover after release").await;
    let handover = released.elapsed();
    eprintln!("takeover {handover:?} after release");
    assert!(
        handover < LEASE_DURATION,
        "release took {handover:?} to hand over"
    );
    assert_eq!(holder(&lease(&api).await), "c");

    // Someone else writes the Lease: the leader notices on its next renewal and stops.
    let mut stolen = lease(&api).await;
    if let Some(spec) = stolen.spec.as_mut() {
        spec.holder_identity = Some("intruder".to_owned());
    }
    api.replace(LEASE, &PostParams::default(), &stolen)
        .await
        .expect("steal");
    let third_leads = third.is_leader();
    eventually("c stops leading", WAIT, || {
        let leads = *third_leads.borrow();
        async move { (!leads).then_some(()) }
    })
    .await
    .expect("c stops leading");
    assert!(matches!(
        third.release().await,
        Err(LeaderError::Lost { .. })
    ));
    eprintln!("leader test took {:?}", started.elapsed());
}
