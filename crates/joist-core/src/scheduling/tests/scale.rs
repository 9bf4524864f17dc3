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
        .pods(count, |i| pod().cpu(CPU[picks[i].0]).memory(MEMORY[picks[i].1]))
        .build()
}

#[test]
fn generic_benchmark_pods_all_schedule_deterministically() {
    let s = generic_mix(2000, 42);
    let plan = run(&s);
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable.first());
    assert_eq!(plan.scheduled_count(), 2000);
    assert!(plan.new_nodeclaims.len() < 2000 / 5);
    let again = run(&s);
    assert_eq!(plan, again);
}

