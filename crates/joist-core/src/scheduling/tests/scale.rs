//! The benchmark's generic pod mix (spec core §9.3) at a size a debug test can afford: every pod
//! must be placed, deterministically.

use super::support::*;
use crate::rng::SeededRng;
use crate::testing::*;

fn generic_mix(count: usize, seed: u64) -> crate::snapshot::Snapshot {
    const CPU: [&str; 5] = ["100m", "250m", "500m", "1000m", "1500m"];
    const MEMORY: [&str; 6] = ["100Mi", "256Mi", "512Mi", "1024Mi", "2048Mi", "4096Mi"];
    let mut rng = SeededRng::new(seed);
    let picks: Vec<(usize, usize)> = (0..count)
        .map(|_| (rng.below(5) as usize, rng.below(6) as usize))
        .collect();
    snapshot()
        .nodepool(
            nodepool("default")
                .limit("cpu", "10000000")
                .limit("memory", "10000000Gi"),
        )
        .instance_types(fake_instance_types_n(400))
        .pods(count, |i| {
            pod().cpu(CPU[picks[i].0]).memory(MEMORY[picks[i].1])
        })
        .build()
}

#[test]
fn generic_benchmark_pods_all_schedule_deterministically() {
    let s = generic_mix(2000, 42);
    let plan = run(&s);
    assert!(
        plan.unschedulable.is_empty(),
        "{:?}",
        plan.unschedulable.first()
    );
    assert_eq!(plan.scheduled_count(), 2000);
    assert!(plan.new_nodeclaims.len() < 2000 / 5);
    let again = run(&s);
    assert_eq!(plan, again);
}

/// The benchmark's `makeDiversePods(n)`: a fifth each of generic pods, zonal spread, hostname
/// spread, zonal self-affinity and hostname anti-affinity among all.
fn diverse_mix(count: usize, seed: u64) -> crate::snapshot::Snapshot {
    use crate::labels::{HOSTNAME, ZONE};
    use crate::snapshot::{LabelSelector, WhenUnsatisfiable};
    const CPU: [&str; 5] = ["100m", "250m", "500m", "1000m", "1500m"];
    const MEMORY: [&str; 6] = ["100Mi", "256Mi", "512Mi", "1024Mi", "2048Mi", "4096Mi"];
    const LETTERS: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];
    let mut rng = SeededRng::new(seed);
    let picks: Vec<(usize, usize, usize)> = (0..count)
        .map(|_| {
            (
                rng.below(5) as usize,
                rng.below(6) as usize,
                rng.below(7) as usize,
            )
        })
        .collect();
    let fifth = count / 5;
    let selector = |key: &str, value: &str| Some(LabelSelector::from_labels([(key, value)]));
    snapshot()
        .nodepool(
            nodepool("default")
                .limit("cpu", "10000000")
                .limit("memory", "10000000Gi"),
        )
        .instance_types(fake_instance_types_n(400))
        .pods(count, |i| {
            let (c, m, l) = picks[i];
            let p = pod().cpu(CPU[c]).memory(MEMORY[m]);
            let letter = LETTERS[l];
            let spread = WhenUnsatisfiable::DoNotSchedule;
            match i / fifth.max(1) {
                1 => p.label("my-label", letter).spread(
                    ZONE,
                    1,
                    spread,
                    selector("my-label", letter),
                ),
                2 => p.label("my-label", letter).spread(
                    HOSTNAME,
                    1,
                    spread,
                    selector("my-label", letter),
                ),
                3 => p
                    .label("my-affinity", letter)
                    .affinity(ZONE, LabelSelector::from_labels([("my-affinity", letter)])),
                4 => p
                    .label("app", "nginx")
                    .anti_affinity(HOSTNAME, LabelSelector::from_labels([("app", "nginx")])),
                _ => p,
            }
        })
        .build()
}

#[test]
fn diverse_benchmark_pods_need_one_node_per_anti_affine_pod() {
    // Upstream's published runs: n pods ⇒ n/5 nodes (the anti-affinity fifth needs one node per
    // pod and everything else fits beside them).
    let s = diverse_mix(500, 42);
    let plan = run(&s);
    assert!(
        plan.unschedulable.is_empty(),
        "{:?}",
        plan.unschedulable.first()
    );
    assert_eq!(plan.scheduled_count(), 500);
    assert_eq!(plan.new_nodeclaims.len(), 100);
}
