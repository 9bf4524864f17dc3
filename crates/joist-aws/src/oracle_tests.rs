//! The oracle test: for every catalog type, capacity − overhead under default AL2023 settings must
//! equal the allocatable Karpenter published (`karpenter_al2023_allocatable`).

use crate::capacity::capacity;
use crate::catalog::{Catalog, InstanceTypeRecord, OracleAllocatable};
use crate::overhead::default_overhead;
use crate::settings::{AmiFamily, CapacitySettings, GIB, MIB};

/// Typed allocatable in the oracle's units.
fn computed_allocatable(
    record: &InstanceTypeRecord,
    settings: &CapacitySettings,
) -> OracleAllocatable {
    let cap = capacity(record, settings);
    let over = default_overhead(record, &cap, settings);
    let memory = cap.memory_bytes - over.kube_reserved_memory_bytes - over.eviction_memory_bytes;
    let storage = cap.ephemeral_storage_bytes
        - over.kube_reserved_ephemeral_storage_bytes
        - over.eviction_ephemeral_storage_bytes;
    assert_eq!(memory % MIB, 0, "{}: memory is whole MiB", record.name);
    assert_eq!(storage % GIB, 0, "{}: storage is whole GiB", record.name);
    OracleAllocatable {
        cpu_m: cap.cpu_millis - over.kube_reserved_cpu_millis,
        memory_mib: memory / MIB,
        ephemeral_storage_gib: storage / GIB,
        pods: cap.pods,
        pod_eni: cap.pod_eni,
    }
}

/// A pod-eni difference explained by data vintage: Karpenter generated the oracle (docs of
/// v1.14.0, 2026-07-11) with an older VPC-limits table than the catalog's (2026-08-18), which
/// newly marks some types trunking-compatible. The oracle then shows 0 where the catalog has
/// branch ENIs. See `data/README.md`, "Oracle vintage".
fn is_vpc_limits_vintage_difference(
    record: &InstanceTypeRecord,
    computed: u64,
    oracle: u64,
) -> bool {
    oracle == 0 && computed > 0 && record.trunking_compatible == Some(true)
}

#[test]
fn allocatable_matches_karpenter_for_every_catalog_type() {
    let catalog = Catalog::embedded().expect("catalog");
    let settings = CapacitySettings::for_family(AmiFamily::Al2023);
    let fields = [
        "cpu_m",
        "memory_mib",
        "ephemeral_storage_gib",
        "pods",
        "pod_eni",
    ];
    let mut mismatches: Vec<String> = Vec::new();
    let mut per_field = [0usize; 5];
    let mut vintage = Vec::new();
    for record in catalog.records() {
        let got = computed_allocatable(record, &settings);
        let want = record.karpenter_al2023_allocatable;
        let pairs = [
            (got.cpu_m, want.cpu_m),
            (got.memory_mib, want.memory_mib),
            (got.ephemeral_storage_gib, want.ephemeral_storage_gib),
            (got.pods, want.pods),
            (got.pod_eni, want.pod_eni),
        ];
        for (index, (got_value, want_value)) in pairs.into_iter().enumerate() {
            if got_value == want_value {
                continue;
            }
            if index == 4 && is_vpc_limits_vintage_difference(record, got_value, want_value) {
                vintage.push(record.name.as_str());
                continue;
            }
            per_field[index] += 1;
            mismatches.push(format!(
                "{} {}: computed {got_value}, Karpenter {want_value}",
                record.name, fields[index]
            ));
        }
    }
    println!("oracle: {} types checked", catalog.len());
    for (field, count) in fields.iter().zip(per_field) {
        println!("oracle: {field}: {count} mismatches");
    }
    println!(
        "oracle: pod_eni: {} types where the catalog's newer VPC-limits table adds trunking (oracle 0): {vintage:?}",
        vintage.len()
    );
    for line in &mismatches {
        println!("mismatch: {line}");
    }
    assert_eq!(catalog.len(), 1363);
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first: {:?}",
        mismatches.len(),
        mismatches.first()
    );
}

#[test]
fn the_types_without_vpc_limits_match_through_the_eni_supplement() {
    let catalog = Catalog::embedded().expect("catalog");
    let settings = CapacitySettings::for_family(AmiFamily::Al2023);
    let supplemented: Vec<&InstanceTypeRecord> = catalog
        .records()
        .iter()
        .filter(|r| r.vpc_limits().is_none())
        .collect();
    assert_eq!(supplemented.len(), 8);
    for record in supplemented {
        assert_eq!(
            computed_allocatable(record, &settings),
            record.karpenter_al2023_allocatable,
            "{}",
            record.name
        );
    }
}

#[test]
fn worked_examples_of_spec_aws_3_3() {
    let catalog = Catalog::embedded().expect("catalog");
    let settings = CapacitySettings::for_family(AmiFamily::Al2023);
    let a1 = computed_allocatable(catalog.get("a1.medium").expect("a1.medium"), &settings);
    assert_eq!(
        (a1.cpu_m, a1.memory_mib, a1.pods, a1.ephemeral_storage_gib),
        (940, 1392, 8, 17)
    );
    let m5 = computed_allocatable(catalog.get("m5.large").expect("m5.large"), &settings);
    assert_eq!((m5.cpu_m, m5.memory_mib, m5.pods), (1930, 6903, 29));
    let m5x = computed_allocatable(catalog.get("m5.xlarge").expect("m5.xlarge"), &settings);
    assert_eq!((m5x.cpu_m, m5x.pods), (3920, 58));
}

/// Spec aws §13 item 35 ("allocatable never exceeds what real nodes report"), in the form the
/// catalog can check: allocatable is below the raw hardware for every type. Windows is left out on
/// purpose: with 110 pods its kube-reserved memory (1465Mi) exceeds the memory of the smallest
/// types, so their allocatable is negative and nothing fits, exactly as upstream computes it.
#[test]
fn allocatable_is_positive_and_below_capacity_for_every_type_and_linux_family() {
    let catalog = Catalog::embedded().expect("catalog");
    for family in [
        AmiFamily::Al2,
        AmiFamily::Al2023,
        AmiFamily::Bottlerocket,
        AmiFamily::Custom,
    ] {
        let settings = CapacitySettings::for_family(family);
        for record in catalog.records() {
            let cap = capacity(record, &settings);
            let over = default_overhead(record, &cap, &settings);
            let reserved_memory = over.kube_reserved_memory_bytes + over.eviction_memory_bytes;
            assert!(
                over.kube_reserved_cpu_millis < cap.cpu_millis,
                "{} {family:?}",
                record.name
            );
            assert!(
                reserved_memory < cap.memory_bytes,
                "{} {family:?}",
                record.name
            );
            assert!(
                cap.memory_bytes < record.memory_mib * MIB,
                "{} {family:?}",
                record.name
            );
        }
    }
}
