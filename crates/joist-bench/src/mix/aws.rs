//! The AWS mix: a made-up but plausible production cluster for the full EC2 catalog.
//!
//! Pods come in Deployments (1 to [`MAX_REPLICAS`] identical replicas labelled
//! `app=<deployment>`) of three classes:
//!
//! | class | share | CPU | memory | GPUs |
//! |---|---|---|---|---|
//! | CPU services | 70 % | 100m, 250m, 500m, 1, 2, 4 | 128Mi … 16Gi (powers of two) | – |
//! | memory-heavy | 20 % | 1, 2, 4, 8 | 8, 16, 32, 64 Gi | – |
//! | GPU inference | 10 % | see [`GPU_SHAPES`] (4–32) | 16–256 Gi | 1, 4 or 8 `nvidia.com/gpu` |
//!
//! CPU and memory are drawn independently from their menus; a GPU Deployment draws its GPU count
//! (1 with 70 %, 4 with 20 %, 8 with 10 %) and then a shape for that count, so CPU and memory grow
//! with the GPUs as inference servers do. GPU pods tolerate `nvidia.com/gpu:NoSchedule`.

use joist_core::rng::SeededRng;

use super::{BenchPod, Constraint, Requests};

/// The seed of the AWS mix.
pub const SEED: u64 = 42;
/// Pods in the `aws-mix` case.
pub const DEFAULT_PODS: usize = 10_000;
/// Largest Deployment size; sizes are uniform in `1..=MAX_REPLICAS`.
pub const MAX_REPLICAS: u64 = 20;
/// CPU-service CPU requests in millicores.
pub const SERVICE_CPU_MILLIS: [i64; 6] = [100, 250, 500, 1_000, 2_000, 4_000];
/// CPU-service memory requests in MiB.
pub const SERVICE_MEMORY_MIB: [i64; 8] = [128, 256, 512, 1_024, 2_048, 4_096, 8_192, 16_384];
/// Memory-heavy CPU requests in millicores.
pub const HEAVY_CPU_MILLIS: [i64; 4] = [1_000, 2_000, 4_000, 8_000];
/// Memory-heavy memory requests in MiB.
pub const HEAVY_MEMORY_MIB: [i64; 4] = [8_192, 16_384, 32_768, 65_536];
/// GPU counts, one entry per 10 % of GPU Deployments.
pub const GPU_COUNTS: [i64; 10] = [1, 1, 1, 1, 1, 1, 1, 4, 4, 8];
/// Per GPU count, the (CPU millicores, memory MiB) shapes a GPU Deployment draws from.
pub const GPU_SHAPES: [(i64, [(i64, i64); 2]); 3] = [
    (1, [(4_000, 16_384), (8_000, 32_768)]),
    (4, [(16_000, 65_536), (32_000, 131_072)]),
    (8, [(32_000, 131_072), (32_000, 262_144)]),
];

/// The three pod classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PodClass {
    /// Small and medium CPU-bound services.
    CpuService,
    /// Caches, JVMs, databases: several GiB per CPU.
    MemoryHeavy,
    /// Inference servers needing `nvidia.com/gpu`.
    GpuInference,
}

impl PodClass {
    /// The name prefix of the class's Deployments.
    pub fn prefix(self) -> &'static str {
        match self {
            PodClass::CpuService => "svc",
            PodClass::MemoryHeavy => "mem",
            PodClass::GpuInference => "gpu",
        }
    }

    /// Share of the class in percent of all pods.
    pub fn percent(self) -> usize {
        match self {
            PodClass::CpuService => 70,
            PodClass::MemoryHeavy => 20,
            PodClass::GpuInference => 10,
        }
    }
}

/// Uniform pick from a short non-empty menu.
fn pick<T: Copy>(rng: &mut SeededRng, menu: &[T]) -> T {
    // Menus are non-empty constants, so the index is in range.
    menu[rng.below(menu.len() as u64) as usize]
}

/// One Deployment's replica shape.
fn draw_requests(class: PodClass, rng: &mut SeededRng) -> Requests {
    match class {
        PodClass::CpuService => Requests {
            cpu_millis: pick(rng, &SERVICE_CPU_MILLIS),
            memory_mib: pick(rng, &SERVICE_MEMORY_MIB),
            gpus: 0,
        },
        PodClass::MemoryHeavy => Requests {
            cpu_millis: pick(rng, &HEAVY_CPU_MILLIS),
            memory_mib: pick(rng, &HEAVY_MEMORY_MIB),
            gpus: 0,
        },
        PodClass::GpuInference => {
            let gpus = pick(rng, &GPU_COUNTS);
            let shapes = GPU_SHAPES
                .iter()
                .find(|(count, _)| *count == gpus)
                .map_or(GPU_SHAPES[0].1, |(_, shapes)| *shapes);
            let (cpu_millis, memory_mib) = pick(rng, &shapes);
            Requests {
                cpu_millis,
                memory_mib,
                gpus,
            }
        }
    }
}

/// Appends `quota` pods of `class`, Deployment by Deployment.
fn push_class(class: PodClass, quota: usize, rng: &mut SeededRng, pods: &mut Vec<BenchPod>) {
    let mut placed = 0;
    let mut deployment = 0;
    while placed < quota {
        let replicas = (rng.below(MAX_REPLICAS) + 1) as usize;
        let requests = draw_requests(class, rng);
        let app = format!("{}-{deployment}", class.prefix());
        for _ in 0..replicas.min(quota - placed) {
            pods.push(BenchPod {
                name: format!("{app}-{placed}"),
                labels: vec![("app", app.clone())],
                requests,
                constraint: Constraint::Generic,
                tolerates_gpu_taint: class == PodClass::GpuInference,
            });
            placed += 1;
        }
        deployment += 1;
    }
}

/// The full mix of `count` pods: 70 % CPU services, 20 % memory-heavy, the rest GPU inference
/// (in that order, each class from the same RNG stream).
pub fn aws_pods(count: usize, rng: &mut SeededRng) -> Vec<BenchPod> {
    let services = count * PodClass::CpuService.percent() / 100;
    let heavy = count * PodClass::MemoryHeavy.percent() / 100;
    let gpu = count - services - heavy;
    let mut pods = Vec::with_capacity(count);
    push_class(PodClass::CpuService, services, rng, &mut pods);
    push_class(PodClass::MemoryHeavy, heavy, rng, &mut pods);
    push_class(PodClass::GpuInference, gpu, rng, &mut pods);
    pods
}

/// The `aws-mix-cpu` pods: the same draws as [`aws_pods`] without the GPU inference pods.
pub fn aws_cpu_pods(count: usize, rng: &mut SeededRng) -> Vec<BenchPod> {
    let mut pods = aws_pods(count, rng);
    pods.retain(|pod| pod.requests.gpus == 0);
    pods
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn by_class(pods: &[BenchPod]) -> BTreeMap<&'static str, Vec<&BenchPod>> {
        let mut out: BTreeMap<&'static str, Vec<&BenchPod>> = BTreeMap::new();
        for pod in pods {
            let prefix = &pod.name[..3];
            let class = [
                PodClass::CpuService,
                PodClass::MemoryHeavy,
                PodClass::GpuInference,
            ]
            .into_iter()
            .find(|c| c.prefix() == prefix)
            .expect("known prefix");
            out.entry(class.prefix()).or_default().push(pod);
        }
        out
    }

    #[test]
    fn classes_have_their_shares() {
        let pods = aws_pods(DEFAULT_PODS, &mut SeededRng::new(SEED));
        let classes = by_class(&pods);
        assert_eq!(pods.len(), 10_000);
        assert_eq!(classes["svc"].len(), 7_000);
        assert_eq!(classes["mem"].len(), 2_000);
        assert_eq!(classes["gpu"].len(), 1_000);
        let names: BTreeSet<&str> = pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), pods.len(), "names are unique");
    }

    #[test]
    fn requests_stay_within_each_class_range() {
        let pods = aws_pods(DEFAULT_PODS, &mut SeededRng::new(SEED));
        let classes = by_class(&pods);
        for pod in &classes["svc"] {
            let r = pod.requests;
            assert!((100..=4_000).contains(&r.cpu_millis) && r.gpus == 0);
            assert!((128..=16_384).contains(&r.memory_mib));
            assert!(!pod.tolerates_gpu_taint);
        }
        for pod in &classes["mem"] {
            let r = pod.requests;
            assert!((1_000..=8_000).contains(&r.cpu_millis) && r.gpus == 0);
            assert!((8_192..=65_536).contains(&r.memory_mib));
        }
        let mut gpu_counts = BTreeSet::new();
        for pod in &classes["gpu"] {
            let r = pod.requests;
            assert!((4_000..=32_000).contains(&r.cpu_millis));
            assert!((16_384..=262_144).contains(&r.memory_mib));
            assert!(pod.tolerates_gpu_taint);
            gpu_counts.insert(r.gpus);
        }
        assert_eq!(gpu_counts, BTreeSet::from([1, 4, 8]));
    }

    #[test]
    fn replicas_of_a_deployment_share_their_shape_and_app_label() {
        let pods = aws_pods(2_000, &mut SeededRng::new(SEED));
        let mut shapes: BTreeMap<&str, BTreeSet<(i64, i64, i64)>> = BTreeMap::new();
        for pod in &pods {
            let r = pod.requests;
            shapes.entry(pod.labels[0].1.as_str()).or_default().insert((
                r.cpu_millis,
                r.memory_mib,
                r.gpus,
            ));
        }
        assert!(shapes.values().all(|s| s.len() == 1));
        assert!(shapes.len() > 20, "many deployments: {}", shapes.len());
    }

    #[test]
    fn the_cpu_case_is_the_full_mix_without_gpu_pods() {
        let full = aws_pods(DEFAULT_PODS, &mut SeededRng::new(SEED));
        let cpu = aws_cpu_pods(DEFAULT_PODS, &mut SeededRng::new(SEED));
        assert_eq!(cpu.len(), 9_000);
        let expected: Vec<&BenchPod> = full.iter().filter(|p| p.requests.gpus == 0).collect();
        assert_eq!(cpu.iter().collect::<Vec<_>>(), expected);
    }
}
