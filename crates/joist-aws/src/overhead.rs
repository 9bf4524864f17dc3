//! Instance-type overhead (spec aws §3.3): kube-reserved, system-reserved and the eviction
//! threshold that Karpenter subtracts from capacity to get allocatable.
//!
//! [`default_overhead`] gives the computed defaults as exact integers (what the oracle test and
//! the worked examples check); [`overhead`] applies the user's `kubeReserved`, `systemReserved`
//! and `evictionHard` on top and returns the provider-neutral [`Overhead`].

use crate::capacity::{self, Capacity};
use crate::catalog::InstanceTypeRecord;
use crate::settings::{CapacitySettings, GIB, MIB};

/// `evictionHard` signal that overrides the memory eviction threshold.
pub const MEMORY_AVAILABLE: &str = "memory.available";
/// `evictionHard` signal that overrides the ephemeral-storage eviction threshold.
pub const NODEFS_AVAILABLE: &str = "nodefs.available";

/// Default kube-reserved ephemeral storage.
pub const KUBE_RESERVED_EPHEMERAL_STORAGE_BYTES: u64 = GIB;
/// Default memory eviction threshold (kubelet's `memory.available<100Mi`).
pub const EVICTION_MEMORY_BYTES: u64 = 100 * MIB;

/// The computed (not user-overridden) overhead of a type, in exact integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DefaultOverhead {
    /// kube-reserved cpu in millicores (graduated).
    pub kube_reserved_cpu_millis: u64,
    /// kube-reserved memory in bytes (11 MiB × P + 255 MiB).
    pub kube_reserved_memory_bytes: u64,
    /// kube-reserved ephemeral storage in bytes (1Gi).
    pub kube_reserved_ephemeral_storage_bytes: u64,
    /// Memory eviction threshold in bytes (100Mi).
    pub eviction_memory_bytes: u64,
    /// Ephemeral-storage eviction threshold in bytes (ceil(10% of capacity)).
    pub eviction_ephemeral_storage_bytes: u64,
}

/// Graduated kube-reserved CPU: 6% of the first core, 1% of the second, 0.5% of the next two and
/// 0.25% of everything above four; each band's contribution truncated to whole millicores.
pub fn kube_reserved_cpu_millis(cpu_millis: u64) -> u64 {
    const BANDS: [(u64, u64, f64); 4] = [
        (0, 1_000, 0.06),
        (1_000, 2_000, 0.01),
        (2_000, 4_000, 0.005),
        (4_000, 1 << 31, 0.0025),
    ];
    BANDS
        .iter()
        .filter(|(start, _, _)| cpu_millis >= *start)
        .map(|(start, end, fraction)| {
            let span = cpu_millis.min(*end) - start;
            // Truncation per band, as Karpenter's int64(r × percentage).
            (span as f64 * fraction) as u64
        })
        .sum()
}

/// kube-reserved memory for `pods`: 11 MiB per pod + 255 MiB, in bytes.
pub fn kube_reserved_memory_bytes(pods: u64) -> u64 {
    (11 * pods + 255) * MIB
}

/// The pod count P behind kube-reserved memory: for AL2/AL2023/Custom the ENI-limited count with
/// 0 reserved ENIs (efa-only NICs on card 0 still count), whatever maxPods says; for Bottlerocket
/// and Windows the `pods` capacity.
pub fn kube_reserved_pods(record: &InstanceTypeRecord, settings: &CapacitySettings) -> u64 {
    let family = settings.node_class.ami_family;
    if family.uses_eni_limited_memory_overhead() {
        let efa_only = settings.node_class.efa_only_interfaces_on_card0();
        if let Some(pods) = capacity::eni_limited_pods(record, 0, efa_only) {
            return pods;
        }
    }
    capacity::pods(record, settings)
}

/// Default ephemeral-storage eviction threshold: ceil(storage / 100 × 10), computed in float64 as
/// Karpenter does so large or odd sizes round identically.
pub fn default_eviction_storage_bytes(storage_bytes: u64) -> u64 {
    float_to_bytes((storage_bytes as f64 / 100.0 * 10.0).ceil())
}

/// The computed defaults for `record` whose capacity is `capacity`.
pub fn default_overhead(record: &InstanceTypeRecord, capacity: &Capacity, settings: &CapacitySettings) -> DefaultOverhead {
    DefaultOverhead {
        kube_reserved_cpu_millis: kube_reserved_cpu_millis(capacity.cpu_millis),
        kube_reserved_memory_bytes: kube_reserved_memory_bytes(kube_reserved_pods(record, settings)),
        kube_reserved_ephemeral_storage_bytes: KUBE_RESERVED_EPHEMERAL_STORAGE_BYTES,
        eviction_memory_bytes: EVICTION_MEMORY_BYTES,
        eviction_ephemeral_storage_bytes: default_eviction_storage_bytes(capacity.ephemeral_storage_bytes),
    }
}

fn float_to_bytes(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 { value as u64 } else { 0 }
}

/// Byte and millicore amounts of real instance types are far below `i64::MAX`; saturate rather
/// than wrap if a hand-built record ever exceeds it.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::capacity;
    use crate::catalog::Catalog;
    use crate::settings::AmiFamily;

    fn record(name: &str) -> &'static InstanceTypeRecord {
        Catalog::embedded().expect("catalog").get(name).unwrap_or_else(|| panic!("{name} in catalog"))
    }

    #[test]
    fn graduated_kube_reserved_cpu() {
        assert_eq!(kube_reserved_cpu_millis(1_000), 60);
        assert_eq!(kube_reserved_cpu_millis(2_000), 70);
        assert_eq!(kube_reserved_cpu_millis(4_000), 80);
        assert_eq!(kube_reserved_cpu_millis(8_000), 90);
        assert_eq!(kube_reserved_cpu_millis(96_000), 310);
        assert_eq!(kube_reserved_cpu_millis(500), 30);
    }

    #[test]
    fn m5_xlarge_default_kube_reserved() {
        let settings = CapacitySettings::for_family(AmiFamily::Al2023);
        let m5 = record("m5.xlarge");
        let defaults = default_overhead(m5, &capacity(m5, &settings), &settings);
        assert_eq!(defaults.kube_reserved_cpu_millis, 80);
        assert_eq!(defaults.kube_reserved_memory_bytes, 893 * MIB);
        assert_eq!(defaults.kube_reserved_ephemeral_storage_bytes, GIB);
    }

    #[test]
    fn default_eviction_threshold_is_100mi_and_ten_percent_of_storage() {
        let settings = CapacitySettings::for_family(AmiFamily::Al2023);
        let m5 = record("m5.large");
        let defaults = default_overhead(m5, &capacity(m5, &settings), &settings);
        assert_eq!(defaults.eviction_memory_bytes, 100 * MIB);
        assert_eq!(defaults.eviction_ephemeral_storage_bytes, 2 * GIB);
        assert_eq!(default_eviction_storage_bytes(1_000_000_001), 100_000_001, "rounds up");
    }

    #[test]
    fn max_pods_kube_reserved_memory_depends_on_the_family() {
        let t3 = record("t3.large");
        for (family, mib) in [
            (AmiFamily::Al2, 640),
            (AmiFamily::Al2023, 640),
            (AmiFamily::Custom, 640),
            (AmiFamily::Bottlerocket, 365),
            (AmiFamily::Windows2019, 365),
            (AmiFamily::Windows2022, 365),
        ] {
            let mut settings = CapacitySettings::for_family(family);
            settings.kubelet.max_pods = Some(10);
            let defaults = default_overhead(t3, &capacity(t3, &settings), &settings);
            assert_eq!(defaults.kube_reserved_memory_bytes, mib * MIB, "{family:?}");
        }
    }

    #[test]
    fn reserved_enis_do_not_change_eni_limited_memory_overhead() {
        let t3 = record("t3.large");
        let mut settings = CapacitySettings::for_family(AmiFamily::Al2023);
        settings.provider.reserved_enis = 1;
        assert_eq!(kube_reserved_pods(t3, &settings), 35);
        assert_eq!(capacity::pods(t3, &settings), 24);
    }
}
