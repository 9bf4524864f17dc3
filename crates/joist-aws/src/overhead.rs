//! Instance-type overhead (spec aws §3.3): kube-reserved, system-reserved and the eviction
//! threshold that Karpenter subtracts from capacity to get allocatable.
//!
//! [`default_overhead`] gives the computed defaults as exact integers (what the oracle test and
//! the worked examples check); [`overhead`] applies the user's `kubeReserved`, `systemReserved`
//! and `evictionHard` on top and returns the provider-neutral [`Overhead`].

use joist_core::instancetype::Overhead;
use joist_core::resources::{Quantity, QuantityError, ResourceList, names};

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

/// Errors in user-supplied overhead settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverheadError {
    /// A `kubeReserved` or `systemReserved` value is not a valid quantity.
    #[error("kubelet {field}[{resource:?}]: invalid quantity {value:?}: {source}")]
    InvalidReserved {
        /// `kubeReserved` or `systemReserved`.
        field: &'static str,
        /// The resource name.
        resource: String,
        /// The value as written.
        value: String,
        /// Why it does not parse.
        source: QuantityError,
    },
    /// An `evictionHard` value is neither a quantity nor a percentage.
    #[error("kubelet evictionHard[{signal:?}]: invalid value {value:?}: {reason}")]
    InvalidEvictionHard {
        /// The eviction signal.
        signal: String,
        /// The value as written.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
}

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
pub fn default_overhead(
    record: &InstanceTypeRecord,
    capacity: &Capacity,
    settings: &CapacitySettings,
) -> DefaultOverhead {
    DefaultOverhead {
        kube_reserved_cpu_millis: kube_reserved_cpu_millis(capacity.cpu_millis),
        kube_reserved_memory_bytes: kube_reserved_memory_bytes(kube_reserved_pods(
            record, settings,
        )),
        kube_reserved_ephemeral_storage_bytes: KUBE_RESERVED_EPHEMERAL_STORAGE_BYTES,
        eviction_memory_bytes: EVICTION_MEMORY_BYTES,
        eviction_ephemeral_storage_bytes: default_eviction_storage_bytes(
            capacity.ephemeral_storage_bytes,
        ),
    }
}

/// The full overhead of `record`: computed defaults, then `kubeReserved` entries override single
/// keys, `systemReserved` is taken verbatim and `evictionHard` `memory.available` /
/// `nodefs.available` override the eviction threshold (`evictionSoft` never matters).
pub fn overhead(
    record: &InstanceTypeRecord,
    capacity: &Capacity,
    settings: &CapacitySettings,
) -> Result<Overhead, OverheadError> {
    let defaults = default_overhead(record, capacity, settings);
    let mut kube_reserved = ResourceList::new();
    kube_reserved.insert(
        names::CPU,
        Quantity::from_milli(to_i64(defaults.kube_reserved_cpu_millis)),
    );
    kube_reserved.insert(
        names::MEMORY,
        binary_bytes(defaults.kube_reserved_memory_bytes),
    );
    kube_reserved.insert(
        names::EPHEMERAL_STORAGE,
        binary_bytes(defaults.kube_reserved_ephemeral_storage_bytes),
    );
    for (resource, value) in &settings.kubelet.kube_reserved {
        kube_reserved.insert(
            resource.clone(),
            parse_reserved("kubeReserved", resource, value)?,
        );
    }
    let mut system_reserved = ResourceList::new();
    for (resource, value) in &settings.kubelet.system_reserved {
        system_reserved.insert(
            resource.clone(),
            parse_reserved("systemReserved", resource, value)?,
        );
    }
    let mut eviction_threshold = ResourceList::new();
    let hard = &settings.kubelet.eviction_hard;
    let memory = match hard.get(MEMORY_AVAILABLE) {
        Some(value) => eviction_signal(MEMORY_AVAILABLE, value, capacity.memory_bytes)?,
        None => binary_bytes(defaults.eviction_memory_bytes),
    };
    let storage = match hard.get(NODEFS_AVAILABLE) {
        Some(value) => eviction_signal(NODEFS_AVAILABLE, value, capacity.ephemeral_storage_bytes)?,
        None => Quantity::from_int(to_i64(defaults.eviction_ephemeral_storage_bytes)),
    };
    eviction_threshold.insert(names::MEMORY, memory);
    eviction_threshold.insert(names::EPHEMERAL_STORAGE, storage);
    Ok(Overhead {
        kube_reserved,
        system_reserved,
        eviction_threshold,
    })
}

fn parse_reserved(
    field: &'static str,
    resource: &str,
    value: &str,
) -> Result<Quantity, OverheadError> {
    Quantity::parse(value).map_err(|source| OverheadError::InvalidReserved {
        field,
        resource: resource.to_string(),
        value: value.to_string(),
        source,
    })
}

/// An `evictionHard` value: a percentage p gives ceil(capacity / 100 × p) (100% disables the
/// threshold: 0), anything else must be a quantity and is taken literally.
fn eviction_signal(
    signal: &str,
    value: &str,
    capacity_bytes: u64,
) -> Result<Quantity, OverheadError> {
    let invalid = |reason: String| OverheadError::InvalidEvictionHard {
        signal: signal.to_string(),
        value: value.to_string(),
        reason,
    };
    if let Some(number) = value.strip_suffix('%') {
        let percent: f64 = number
            .trim()
            .parse()
            .map_err(|_| invalid("percentage is not a number".to_string()))?;
        if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
            return Err(invalid("percentage must be within 0%..100%".to_string()));
        }
        let percent = if percent == 100.0 { 0.0 } else { percent };
        return Ok(Quantity::from_int(to_i64(float_to_bytes(
            (capacity_bytes as f64 / 100.0 * percent).ceil(),
        ))));
    }
    Quantity::parse(value).map_err(|error| invalid(error.to_string()))
}

fn binary_bytes(bytes: u64) -> Quantity {
    Quantity::from_bytes_binary(to_i64(bytes))
}

fn float_to_bytes(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
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
        Catalog::embedded()
            .expect("catalog")
            .get(name)
            .unwrap_or_else(|| panic!("{name} in catalog"))
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
        assert_eq!(
            default_eviction_storage_bytes(1_000_000_001),
            100_000_001,
            "rounds up"
        );
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

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).expect("quantity")
    }

    fn full(record_name: &str, settings: &CapacitySettings) -> Result<Overhead, OverheadError> {
        let r = record(record_name);
        overhead(r, &capacity(r, settings), settings)
    }

    #[test]
    fn default_overhead_lists() {
        let settings = CapacitySettings::for_family(AmiFamily::Al2023);
        let o = full("m5.xlarge", &settings).expect("overhead");
        assert_eq!(o.kube_reserved.get("cpu"), Some(q("80m")));
        assert_eq!(o.kube_reserved.get("memory"), Some(q("893Mi")));
        assert_eq!(o.kube_reserved.get("ephemeral-storage"), Some(q("1Gi")));
        assert!(
            o.system_reserved.is_empty(),
            "default systemReserved is empty"
        );
        assert_eq!(
            o.eviction_threshold.get("cpu"),
            None,
            "no cpu eviction threshold"
        );
        assert_eq!(o.eviction_threshold.get("memory"), Some(q("100Mi")));
        assert_eq!(
            o.eviction_threshold.get("ephemeral-storage"),
            Some(q("2Gi"))
        );
    }

    #[test]
    fn reserved_overrides_are_taken_verbatim() {
        let mut settings = CapacitySettings::for_family(AmiFamily::Al2023);
        for (name, value) in [
            ("cpu", "2"),
            ("memory", "20Gi"),
            ("ephemeral-storage", "10Gi"),
        ] {
            settings
                .kubelet
                .system_reserved
                .insert(name.to_string(), value.to_string());
            settings
                .kubelet
                .kube_reserved
                .insert(name.to_string(), value.to_string());
        }
        let o = full("m5.xlarge", &settings).expect("overhead");
        for part in [&o.kube_reserved, &o.system_reserved] {
            assert_eq!(part.get("cpu"), Some(q("2")));
            assert_eq!(part.get("memory"), Some(q("20Gi")));
            assert_eq!(part.get("ephemeral-storage"), Some(q("10Gi")));
        }
        let mut one_key = CapacitySettings::for_family(AmiFamily::Al2023);
        one_key
            .kubelet
            .kube_reserved
            .insert("cpu".to_string(), "1".to_string());
        let o = full("m5.xlarge", &one_key).expect("overhead");
        assert_eq!(o.kube_reserved.get("cpu"), Some(q("1")));
        assert_eq!(
            o.kube_reserved.get("memory"),
            Some(q("893Mi")),
            "other keys keep their defaults"
        );
    }

    #[test]
    fn eviction_hard_quantity_percentage_and_disabled() {
        let mut settings = CapacitySettings::for_family(AmiFamily::Al2023);
        settings
            .kubelet
            .eviction_hard
            .insert(MEMORY_AVAILABLE.to_string(), "500Mi".to_string());
        settings
            .kubelet
            .eviction_hard
            .insert(NODEFS_AVAILABLE.to_string(), "15%".to_string());
        let m5 = record("m5.xlarge");
        let cap = capacity(m5, &settings);
        let o = overhead(m5, &cap, &settings).expect("overhead");
        assert_eq!(o.eviction_threshold.get("memory"), Some(q("500Mi")));
        let fifteen_percent = (cap.ephemeral_storage_bytes as f64 / 100.0 * 15.0).ceil() as i64;
        assert_eq!(
            o.eviction_threshold.get("ephemeral-storage"),
            Some(Quantity::from_int(fifteen_percent))
        );
        settings
            .kubelet
            .eviction_hard
            .insert(MEMORY_AVAILABLE.to_string(), "10%".to_string());
        settings
            .kubelet
            .eviction_hard
            .insert(NODEFS_AVAILABLE.to_string(), "100%".to_string());
        let o = overhead(m5, &cap, &settings).expect("overhead");
        let ten_percent = (cap.memory_bytes as f64 / 100.0 * 10.0).ceil() as i64;
        assert_eq!(
            o.eviction_threshold.get("memory"),
            Some(Quantity::from_int(ten_percent))
        );
        assert_eq!(
            o.eviction_threshold.get("ephemeral-storage"),
            Some(Quantity::ZERO),
            "100% disables"
        );
    }

    #[test]
    fn bottlerocket_honours_eviction_hard() {
        let mut settings = CapacitySettings::for_family(AmiFamily::Bottlerocket);
        settings
            .kubelet
            .eviction_hard
            .insert(MEMORY_AVAILABLE.to_string(), "1Gi".to_string());
        let o = full("m5.xlarge", &settings).expect("overhead");
        assert_eq!(o.eviction_threshold.get("memory"), Some(q("1Gi")));
    }

    #[test]
    fn invalid_overrides_are_errors_naming_the_field() {
        let mut settings = CapacitySettings::for_family(AmiFamily::Al2023);
        settings
            .kubelet
            .kube_reserved
            .insert("memory".to_string(), "lots".to_string());
        let error = full("m5.xlarge", &settings).expect_err("bad quantity");
        assert!(
            matches!(&error, OverheadError::InvalidReserved { field: "kubeReserved", resource, .. } if resource == "memory")
        );
        let mut settings = CapacitySettings::for_family(AmiFamily::Al2023);
        settings
            .kubelet
            .eviction_hard
            .insert(MEMORY_AVAILABLE.to_string(), "x%".to_string());
        assert!(matches!(
            full("m5.xlarge", &settings),
            Err(OverheadError::InvalidEvictionHard { .. })
        ));
        settings
            .kubelet
            .eviction_hard
            .insert(MEMORY_AVAILABLE.to_string(), "150%".to_string());
        assert!(matches!(
            full("m5.xlarge", &settings),
            Err(OverheadError::InvalidEvictionHard { .. })
        ));
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
