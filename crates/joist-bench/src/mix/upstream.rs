//! Upstream Karpenter's scheduling-benchmark pods (spec core §9.3, `makeDiversePods` and
//! `makePreferencePods`), rebuilt from their description.
//!
//! Same structure, value menus, draw order and seed (42) as upstream; the draws themselves come
//! from joist's SplitMix64 rather than Go's `math/rand`, so individual pods differ from upstream's
//! while the distribution is the same.

use joist_core::rng::SeededRng;

use super::{BenchPod, Constraint, Requests, TopologyKey};

/// The seed upstream's benchmark seeds its RNG with.
pub const SEED: u64 = 42;
/// Label of generic and spread pods (and the key their spread selectors match).
pub const MY_LABEL: &str = "my-label";
/// Label of self-affinity pods, with upstream's spelling.
pub const MY_AFFINITY: &str = "my-affininity";
/// Values of [`MY_LABEL`] and [`MY_AFFINITY`], uniformly drawn.
pub const LABEL_VALUES: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];
/// CPU requests in millicores, uniformly drawn.
pub const CPU_MILLIS: [i64; 5] = [100, 250, 500, 1000, 1500];
/// Memory requests in MiB, uniformly drawn.
pub const MEMORY_MIB: [i64; 6] = [100, 256, 512, 1024, 2048, 4096];
/// The label every anti-affinity and preference pod carries and selects.
pub const APP_NGINX: (&str, &str) = ("app", "nginx");
/// Number of pods in upstream's `RespectPreferences` / `IgnorePreferences` benchmarks.
pub const PREFERENCE_PODS: usize = 4_000;

/// The labels of anti-affinity and preference pods.
fn nginx_labels() -> Vec<(&'static str, String)> {
    vec![(APP_NGINX.0, APP_NGINX.1.to_string())]
}

/// Uniform pick from a menu.
fn pick<T: Copy>(rng: &mut SeededRng, menu: &[T]) -> T {
    // Menus are short, non-empty constants, so the index is in range and fits u64.
    menu[rng.below(menu.len() as u64) as usize]
}

/// Draws CPU then memory, upstream's order.
fn random_requests(rng: &mut SeededRng) -> Requests {
    let cpu_millis = pick(rng, &CPU_MILLIS);
    let memory_mib = pick(rng, &MEMORY_MIB);
    Requests {
        cpu_millis,
        memory_mib,
        gpus: 0,
    }
}

/// `<kind>-<index>`, the index counting over the whole mix.
fn next_name(kind: &str, pods: &[BenchPod]) -> String {
    format!("{kind}-{}", pods.len())
}

fn pod(
    name: String,
    labels: Vec<(&'static str, String)>,
    requests: Requests,
    constraint: Constraint,
) -> BenchPod {
    BenchPod {
        name,
        labels,
        requests,
        constraint,
        tolerates_gpu_taint: false,
    }
}

/// Appends a generic pod: `my-label`, then CPU and memory.
fn push_generic(rng: &mut SeededRng, pods: &mut Vec<BenchPod>) {
    let labels = vec![(MY_LABEL, pick(rng, &LABEL_VALUES).to_string())];
    let requests = random_requests(rng);
    let name = next_name("generic", pods);
    pods.push(pod(name, labels, requests, Constraint::Generic));
}

/// Appends a spread pod: its own `my-label`, the selector's value, then CPU and memory.
fn push_spread(key: TopologyKey, rng: &mut SeededRng, pods: &mut Vec<BenchPod>) {
    let labels = vec![(MY_LABEL, pick(rng, &LABEL_VALUES).to_string())];
    let selector_value = pick(rng, &LABEL_VALUES);
    let requests = random_requests(rng);
    let kind = match key {
        TopologyKey::Zone => "spread-zone",
        TopologyKey::Hostname => "spread-host",
    };
    let constraint = Constraint::Spread {
        key,
        selector_value,
    };
    let name = next_name(kind, pods);
    pods.push(pod(name, labels, requests, constraint));
}

/// Appends a zonal self-affinity pod: `my-affininity`, then CPU and memory.
fn push_self_affinity(rng: &mut SeededRng, pods: &mut Vec<BenchPod>) {
    let labels = vec![(MY_AFFINITY, pick(rng, &LABEL_VALUES).to_string())];
    let requests = random_requests(rng);
    let constraint = Constraint::SelfAffinity {
        key: TopologyKey::Zone,
    };
    let name = next_name("affinity-zone", pods);
    pods.push(pod(name, labels, requests, constraint));
}

/// Appends a hostname anti-affinity pod: CPU and memory only (its label is fixed).
fn push_anti_affinity(rng: &mut SeededRng, pods: &mut Vec<BenchPod>) {
    let requests = random_requests(rng);
    let constraint = Constraint::AntiAffinity {
        key: TopologyKey::Hostname,
    };
    let name = next_name("anti-host", pods);
    pods.push(pod(name, nginx_labels(), requests, constraint));
}

/// `makeDiversePods(count)`: `count/5` each of generic pods, zonal spread, hostname spread,
/// zonal self-affinity and hostname anti-affinity pods (in that order), then generic pods for the
/// remainder. Pods are named `<kind>-<index>` with a mix-wide index.
pub fn diverse_pods(count: usize, rng: &mut SeededRng) -> Vec<BenchPod> {
    let fifth = count / 5;
    let mut pods = Vec::with_capacity(count);
    for _ in 0..fifth {
        push_generic(rng, &mut pods);
    }
    for key in [TopologyKey::Zone, TopologyKey::Hostname] {
        for _ in 0..fifth {
            push_spread(key, rng, &mut pods);
        }
    }
    for _ in 0..fifth {
        push_self_affinity(rng, &mut pods);
    }
    for _ in 0..fifth {
        push_anti_affinity(rng, &mut pods);
    }
    while pods.len() < count {
        push_generic(rng, &mut pods);
    }
    pods
}

/// `makePreferencePods(count)`: `count` identical `app=nginx` pods with the three preferences of
/// [`Constraint::Preferences`]. Upstream builds the pod options once, so CPU and memory are drawn
/// once and shared by every pod.
pub fn preference_pods(
    count: usize,
    preferred_zone: &'static str,
    rng: &mut SeededRng,
) -> Vec<BenchPod> {
    let requests = random_requests(rng);
    (0..count)
        .map(|index| {
            pod(
                format!("preference-{index}"),
                nginx_labels(),
                requests,
                Constraint::Preferences { preferred_zone },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn count(pods: &[BenchPod], wanted: fn(&Constraint) -> bool) -> usize {
        pods.iter().filter(|p| wanted(&p.constraint)).count()
    }

    #[test]
    fn diverse_pods_split_into_fifths_with_generic_remainder() {
        let pods = diverse_pods(1_003, &mut SeededRng::new(SEED));
        assert_eq!(pods.len(), 1_003);
        assert_eq!(count(&pods, |c| *c == Constraint::Generic), 200 + 3);
        let zonal_spread = |c: &Constraint| {
            matches!(
                c,
                Constraint::Spread {
                    key: TopologyKey::Zone,
                    ..
                }
            )
        };
        assert_eq!(count(&pods, zonal_spread), 200);
        let host_spread = |c: &Constraint| {
            matches!(
                c,
                Constraint::Spread {
                    key: TopologyKey::Hostname,
                    ..
                }
            )
        };
        assert_eq!(count(&pods, host_spread), 200);
        let affinity = |c: &Constraint| {
            *c == Constraint::SelfAffinity {
                key: TopologyKey::Zone,
            }
        };
        assert_eq!(count(&pods, affinity), 200);
        let anti = |c: &Constraint| {
            *c == Constraint::AntiAffinity {
                key: TopologyKey::Hostname,
            }
        };
        assert_eq!(count(&pods, anti), 200);
        assert!(
            pods[1_000..]
                .iter()
                .all(|p| p.constraint == Constraint::Generic)
        );
    }

    #[test]
    fn names_are_unique_and_labels_follow_the_kind() {
        let pods = diverse_pods(500, &mut SeededRng::new(SEED));
        let names: BTreeSet<&str> = pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), 500);
        for pod in &pods {
            let key = pod.labels[0].0;
            match pod.constraint {
                Constraint::Generic | Constraint::Spread { .. } => assert_eq!(key, MY_LABEL),
                Constraint::SelfAffinity { .. } => assert_eq!(key, MY_AFFINITY),
                Constraint::AntiAffinity { .. } => assert_eq!(pod.labels, nginx_labels()),
                Constraint::Preferences { .. } => panic!("no preference pods in the diverse mix"),
            }
        }
    }

    #[test]
    fn draws_come_from_upstream_menus_and_cover_them() {
        let pods = diverse_pods(5_000, &mut SeededRng::new(SEED));
        let cpus: BTreeSet<i64> = pods.iter().map(|p| p.requests.cpu_millis).collect();
        let memories: BTreeSet<i64> = pods.iter().map(|p| p.requests.memory_mib).collect();
        assert_eq!(cpus, CPU_MILLIS.into_iter().collect());
        assert_eq!(memories, MEMORY_MIB.into_iter().collect());
        let selectors: BTreeSet<&str> = pods
            .iter()
            .filter_map(|p| match p.constraint {
                Constraint::Spread { selector_value, .. } => Some(selector_value),
                _ => None,
            })
            .collect();
        assert_eq!(selectors, LABEL_VALUES.into_iter().collect());
        assert!(
            pods.iter()
                .all(|p| p.requests.gpus == 0 && !p.tolerates_gpu_taint)
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_mix_and_another_seed_does_not() {
        let a = diverse_pods(300, &mut SeededRng::new(SEED));
        let b = diverse_pods(300, &mut SeededRng::new(SEED));
        let c = diverse_pods(300, &mut SeededRng::new(SEED + 1));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn preference_pods_share_one_draw_of_requests() {
        let pods = preference_pods(PREFERENCE_PODS, "test-zone-1", &mut SeededRng::new(SEED));
        assert_eq!(pods.len(), PREFERENCE_PODS);
        assert!(pods.iter().all(|p| p.requests == pods[0].requests));
        assert!(pods.iter().all(|p| p.labels == nginx_labels()));
        assert!(pods.iter().all(|p| p.constraint
            == Constraint::Preferences {
                preferred_zone: "test-zone-1"
            }));
        assert!(CPU_MILLIS.contains(&pods[0].requests.cpu_millis));
        assert!(MEMORY_MIB.contains(&pods[0].requests.memory_mib));
    }
}
