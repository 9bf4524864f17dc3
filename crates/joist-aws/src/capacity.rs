//! Instance-type capacity (spec aws §3.2): what a node of a type reports before any reservation.
//!
//! Pure functions over a catalog record and explicit [`CapacitySettings`]; all amounts are exact
//! integers (millicores, bytes, counts) so the figures can be compared bit for bit with Karpenter's.

use joist_core::resources::{Quantity, QuantityFormat, ResourceList, names};

use crate::catalog::InstanceTypeRecord;
use crate::settings::{AmiFamily, CapacitySettings, InstanceStorePolicy, MIB, NodeClassSettings};

/// Max pods for families without ENI-limited density (Windows).
pub const DEFAULT_MAX_PODS: u64 = 110;

/// Graviton (arm64) types keep 64 MiB of contiguous memory (CMA) that pods cannot use.
const ARM64_CMA_MIB: u64 = 64;

/// The capacity of one instance type under given settings. Every well-known extended resource is
/// present (zero when the type has none), as in Karpenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capacity {
    /// `cpu` in millicores.
    pub cpu_millis: u64,
    /// `memory` in bytes (after the arm64 CMA and VM-overhead deductions).
    pub memory_bytes: u64,
    /// `ephemeral-storage` in bytes.
    pub ephemeral_storage_bytes: u64,
    /// `pods`.
    pub pods: u64,
    /// `vpc.amazonaws.com/pod-eni`.
    pub pod_eni: u64,
    /// `nvidia.com/gpu`.
    pub nvidia_gpu: u64,
    /// `amd.com/gpu`.
    pub amd_gpu: u64,
    /// `aws.amazon.com/neuron`.
    pub neuron: u64,
    /// `aws.amazon.com/neuroncore`.
    pub neuron_core: u64,
    /// `habana.ai/gaudi`.
    pub habana_gaudi: u64,
    /// `vpc.amazonaws.com/efa`.
    pub efa: u64,
    /// `vpc.amazonaws.com/PrivateIPv4Address`, only for Windows families on amd64 types.
    pub private_ipv4_address: Option<u64>,
}

// === impl Capacity ===

impl Capacity {
    /// The capacity as a resource list, printed as Karpenter prints it (cpu and counts as
    /// integers, memory and EBS-backed storage in binary units, RAID0 storage in decimal units).
    pub fn to_resource_list(&self) -> ResourceList {
        let mut list = ResourceList::new();
        list.insert(
            names::CPU,
            Quantity::from_milli(saturating_i64(self.cpu_millis)),
        );
        list.insert(
            names::MEMORY,
            Quantity::from_bytes_binary(saturating_i64(self.memory_bytes)),
        );
        let storage_format = if self.ephemeral_storage_bytes.is_multiple_of(MIB) {
            QuantityFormat::BinarySi
        } else {
            QuantityFormat::DecimalSi
        };
        list.insert(
            names::EPHEMERAL_STORAGE,
            Quantity::from_int(saturating_i64(self.ephemeral_storage_bytes))
                .with_format(storage_format),
        );
        let counts = [
            (names::PODS, self.pods),
            (names::AWS_POD_ENI, self.pod_eni),
            (names::NVIDIA_GPU, self.nvidia_gpu),
            (names::AMD_GPU, self.amd_gpu),
            (names::AWS_NEURON, self.neuron),
            (names::AWS_NEURON_CORE, self.neuron_core),
            (names::HABANA_GAUDI, self.habana_gaudi),
            (names::AWS_EFA, self.efa),
        ];
        for (name, count) in counts {
            list.insert(name, Quantity::from_int(saturating_i64(count)));
        }
        if let Some(addresses) = self.private_ipv4_address {
            list.insert(
                names::AWS_PRIVATE_IPV4_ADDRESS,
                Quantity::from_int(saturating_i64(addresses)),
            );
        }
        list
    }
}

/// Real amounts are far below `i64::MAX`; saturate rather than wrap for hand-built records.
fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Computes the capacity of `record` under `settings`.
pub fn capacity(record: &InstanceTypeRecord, settings: &CapacitySettings) -> Capacity {
    let family = settings.node_class.ami_family;
    Capacity {
        cpu_millis: u64::from(record.vcpu) * 1000,
        memory_bytes: memory_bytes(record, settings.provider.vm_memory_overhead_percent),
        ephemeral_storage_bytes: ephemeral_storage_bytes(record, &settings.node_class),
        pods: pods(record, settings),
        pod_eni: pod_eni(record),
        nvidia_gpu: u64::from(record.nvidia_gpu),
        amd_gpu: u64::from(record.amd_gpu),
        neuron: u64::from(record.neuron_devices),
        neuron_core: u64::from(record.neuron_cores),
        habana_gaudi: u64::from(record.habana_gaudi),
        efa: efa(record, &settings.node_class),
        private_ipv4_address: (family.is_windows() && record.arch == crate::catalog::Arch::Amd64)
            .then(|| private_ipv4_address(record)),
    }
}

/// Memory capacity in bytes: MemoryInfo.SizeInMiB, minus 64 MiB CMA on arm64, minus
/// ceil(remaining MiB × `vm_memory_overhead_percent`) MiB.
pub fn memory_bytes(record: &InstanceTypeRecord, vm_memory_overhead_percent: f64) -> u64 {
    let mut mib = record.memory_mib;
    if record.arch == crate::catalog::Arch::Arm64 {
        mib = mib.saturating_sub(ARM64_CMA_MIB);
    }
    // Karpenter computes the overhead as ceil(bytes × percent / 1024 / 1024) in float64; scaling by
    // a power of two is exact in binary floating point, so working in MiB gives the same value.
    let overhead_mib = (mib as f64 * vm_memory_overhead_percent).ceil();
    let overhead_mib = if overhead_mib.is_finite() && overhead_mib > 0.0 {
        overhead_mib as u64
    } else {
        0
    };
    mib.saturating_sub(overhead_mib) * MIB
}

/// Ephemeral-storage capacity in bytes, per the precedence of spec aws §3.2.
pub fn ephemeral_storage_bytes(record: &InstanceTypeRecord, node_class: &NodeClassSettings) -> u64 {
    if node_class.instance_store_policy == Some(InstanceStorePolicy::Raid0)
        && let Some(gb) = record.local_nvme_gb
    {
        // EC2 reports instance storage in decimal GB; Karpenter keeps it as `<n>G`.
        return gb.saturating_mul(1_000_000_000);
    }
    let family = node_class.ami_family;
    let mappings = &node_class.block_device_mappings;
    if !mappings.is_empty() {
        if let Some(size) = mappings
            .iter()
            .find(|bdm| bdm.root_volume)
            .and_then(|bdm| bdm.volume_size_bytes)
        {
            return size;
        }
        match family.ephemeral_block_device() {
            // Custom AMIs: Karpenter cannot know the layout and takes the last mapping.
            None => {
                let last = mappings.last().and_then(|bdm| bdm.volume_size_bytes);
                return last.unwrap_or(AmiFamily::Custom.default_ephemeral_storage_bytes());
            }
            Some(device) => {
                let matching = mappings
                    .iter()
                    .find(|bdm| bdm.device_name.as_deref() == Some(device));
                if let Some(size) = matching.and_then(|bdm| bdm.volume_size_bytes) {
                    return size;
                }
            }
        }
    }
    family.default_ephemeral_storage_bytes()
}

/// ENI-limited max pods: usable = max(default-card ENIs − `reserved_enis` − `efa_only_on_card0`, 0);
/// 0 when nothing is usable, else usable × (IPv4 per ENI − 1) + 2 (the EKS `eni-max-pods` formula).
/// Returns `None` only for a record built outside a catalog without ENI data.
pub fn eni_limited_pods(
    record: &InstanceTypeRecord,
    reserved_enis: u32,
    efa_only_on_card0: u32,
) -> Option<u64> {
    let network = record.pod_network()?;
    let usable = u64::from(network.default_card_max_enis)
        .saturating_sub(u64::from(reserved_enis))
        .saturating_sub(u64::from(efa_only_on_card0));
    if usable == 0 {
        return Some(0);
    }
    Some(usable * (u64::from(network.ipv4_per_eni).saturating_sub(1)) + 2)
}

/// The `pods` capacity: maxPods if set; else ENI-limited (non-Windows) or 110 (Windows); then
/// capped at podsPerCore × vCPUs when podsPerCore > 0 and the family honours it.
pub fn pods(record: &InstanceTypeRecord, settings: &CapacitySettings) -> u64 {
    let family = settings.node_class.ami_family;
    let base = match settings.kubelet.max_pods {
        Some(max_pods) => u64::from(max_pods),
        None if family.supports_eni_limited_pod_density() => eni_limited_pods(
            record,
            settings.provider.reserved_enis,
            settings.node_class.efa_only_interfaces_on_card0(),
        )
        .unwrap_or(DEFAULT_MAX_PODS),
        None => DEFAULT_MAX_PODS,
    };
    match settings.kubelet.pods_per_core {
        Some(per_core) if per_core > 0 && family.pods_per_core_enabled() => {
            base.min(u64::from(per_core) * u64::from(record.vcpu))
        }
        _ => base,
    }
}

/// `vpc.amazonaws.com/pod-eni`: branch ENIs when the VPC-limits table marks the type
/// trunking-compatible, else 0 (also 0 for types the table does not list).
pub fn pod_eni(record: &InstanceTypeRecord) -> u64 {
    match record.vpc_limits() {
        Some(limits) if limits.trunking_compatible => u64::from(limits.branch_enis),
        _ => 0,
    }
}

/// `vpc.amazonaws.com/efa`: the number of `efa-only` NICs when `networkInterfaces` is set, else
/// the type's MaximumEfaInterfaces.
pub fn efa(record: &InstanceTypeRecord, node_class: &NodeClassSettings) -> u64 {
    match node_class.efa_only_interfaces_total() {
        Some(count) => u64::from(count),
        None => u64::from(record.efa_max),
    }
}

/// `vpc.amazonaws.com/PrivateIPv4Address` (Windows): IPv4 per ENI − 1 from the VPC-limits table,
/// 0 for types it does not list (the VPC resource controller does not serve them).
pub fn private_ipv4_address(record: &InstanceTypeRecord) -> u64 {
    record
        .vpc_limits()
        .map_or(0, |limits| u64::from(limits.ipv4_per_eni).saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::settings::{BlockDeviceMapping, GIB, NetworkInterface, NetworkInterfaceType};

    fn record(name: &str) -> &'static InstanceTypeRecord {
        Catalog::embedded()
            .expect("catalog")
            .get(name)
            .unwrap_or_else(|| panic!("{name} in catalog"))
    }

    fn settings(family: AmiFamily) -> CapacitySettings {
        CapacitySettings::for_family(family)
    }

    #[test]
    fn worked_examples_cpu_memory_pods() {
        let al2023 = settings(AmiFamily::Al2023);
        let a1 = capacity(record("a1.medium"), &al2023);
        // 2048 − 64 CMA = 1984; ceil(1984 × 0.075) = 149 → 1835 MiB.
        assert_eq!(
            (a1.cpu_millis, a1.memory_bytes / MIB, a1.pods),
            (1000, 1835, 8)
        );
        let m5 = capacity(record("m5.large"), &al2023);
        assert_eq!(
            (m5.cpu_millis, m5.memory_bytes / MIB, m5.pods, m5.pod_eni),
            (2000, 7577, 29, 9)
        );
    }

    #[test]
    fn eni_limited_pods_follow_the_default_card_and_reserved_enis() {
        let t3 = record("t3.large");
        assert_eq!(eni_limited_pods(t3, 0, 0), Some(35));
        assert_eq!(eni_limited_pods(t3, 1, 0), Some(24));
        assert_eq!(eni_limited_pods(t3, 1000, 0), Some(0));
        // m6idn.32xlarge has 2 cards; only the default card's 8 ENIs × 50 IPs count.
        let m6idn = record("m6idn.32xlarge");
        assert!(m6idn.max_enis > m6idn.default_card_max_enis);
        assert_eq!(eni_limited_pods(m6idn, 0, 0), Some(394));
    }

    #[test]
    fn reserved_enis_change_pods_but_windows_stays_at_110() {
        let mut al2023 = settings(AmiFamily::Al2023);
        al2023.provider.reserved_enis = 1;
        assert_eq!(pods(record("t3.large"), &al2023), 24);
        let mut windows = settings(AmiFamily::Windows2022);
        windows.provider.reserved_enis = 1;
        assert_eq!(pods(record("t3.large"), &windows), 110);
        al2023.provider.reserved_enis = 1_000;
        assert_eq!(pods(record("t3.large"), &al2023), 0);
    }

    #[test]
    fn eni_density_is_not_110_on_linux_families_but_is_on_windows() {
        for family in [
            AmiFamily::Al2,
            AmiFamily::Al2023,
            AmiFamily::Bottlerocket,
            AmiFamily::Custom,
        ] {
            assert_eq!(
                pods(record("m5.xlarge"), &settings(family)),
                58,
                "{family:?}"
            );
        }
        for family in [
            AmiFamily::Windows2019,
            AmiFamily::Windows2022,
            AmiFamily::Windows2025,
        ] {
            assert_eq!(
                pods(record("m5.xlarge"), &settings(family)),
                110,
                "{family:?}"
            );
        }
    }

    #[test]
    fn max_pods_and_pods_per_core_combine_as_a_minimum() {
        let mut s = settings(AmiFamily::Al2023);
        s.kubelet.max_pods = Some(10);
        assert_eq!(pods(record("t3.large"), &s), 10);
        s.kubelet.max_pods = None;
        s.kubelet.pods_per_core = Some(1);
        assert_eq!(
            pods(record("m5.xlarge"), &s),
            4,
            "podsPerCore=1 gives pods = vCPUs"
        );
        s.kubelet.max_pods = Some(3);
        assert_eq!(
            pods(record("m5.xlarge"), &s),
            3,
            "min(podsPerCore × vCPU, maxPods)"
        );
        s.kubelet.max_pods = Some(30);
        s.kubelet.pods_per_core = Some(2);
        assert_eq!(pods(record("m5.xlarge"), &s), 8);
        s.kubelet.pods_per_core = Some(0);
        assert_eq!(
            pods(record("m5.xlarge"), &s),
            30,
            "podsPerCore=0 means no limit"
        );
    }

    #[test]
    fn bottlerocket_ignores_pods_per_core() {
        let mut s = settings(AmiFamily::Bottlerocket);
        s.kubelet.pods_per_core = Some(1);
        assert_eq!(pods(record("m5.xlarge"), &s), 58);
    }

    #[test]
    fn efa_only_nics_on_card0_reduce_pods_and_set_efa_capacity() {
        let mut s = settings(AmiFamily::Al2023);
        let nic = |card, kind| NetworkInterface {
            network_card_index: card,
            device_index: 0,
            interface_type: kind,
        };
        s.node_class.network_interfaces = Some(vec![
            nic(0, NetworkInterfaceType::Interface),
            nic(0, NetworkInterfaceType::EfaOnly),
            nic(1, NetworkInterfaceType::EfaOnly),
        ]);
        let p5 = record("p5.48xlarge");
        let network = p5.pod_network().expect("ENI data");
        let expected = (u64::from(network.default_card_max_enis) - 1)
            * (u64::from(network.ipv4_per_eni) - 1)
            + 2;
        let cap = capacity(p5, &s);
        assert_eq!(cap.pods, expected);
        assert_eq!(
            cap.efa, 2,
            "networkInterfaces set: count of efa-only entries"
        );
        assert_eq!(
            capacity(p5, &settings(AmiFamily::Al2023)).efa,
            u64::from(p5.efa_max)
        );
    }

    #[test]
    fn accelerators_and_gpus_are_reported() {
        let al2023 = settings(AmiFamily::Al2023);
        let g4dn = capacity(record("g4dn.8xlarge"), &al2023);
        assert_eq!((g4dn.nvidia_gpu, g4dn.amd_gpu, g4dn.efa), (1, 0, 1));
        let inf2 = capacity(record("inf2.xlarge"), &al2023);
        assert_eq!((inf2.neuron, inf2.neuron_core, inf2.nvidia_gpu), (1, 2, 0));
        // No Gaudi type is in the us-east-1/2 / us-west-2 listing; check the field with a built record.
        let gaudi_json =
            crate::catalog::tests::record_json(&[("habana_gaudi", serde_json::json!(8))]);
        let gaudi: InstanceTypeRecord = serde_json::from_value(gaudi_json).expect("record");
        assert_eq!(
            capacity(&gaudi.with_pod_network(3, 10), &al2023).habana_gaudi,
            8
        );
        let g4ad = capacity(record("g4ad.xlarge"), &al2023);
        assert_eq!(g4ad.amd_gpu, 1);
    }

    #[test]
    fn pod_eni_is_never_offered_on_t3_but_is_on_trunking_types() {
        let al2023 = settings(AmiFamily::Al2023);
        assert_eq!(capacity(record("t3.large"), &al2023).pod_eni, 0);
        assert_eq!(capacity(record("m5.xlarge"), &al2023).pod_eni, 18);
    }

    #[test]
    fn ephemeral_storage_precedence() {
        let mut nc = NodeClassSettings::default();
        let r = record("m6id.large");
        assert_eq!(ephemeral_storage_bytes(r, &nc), 20 * GIB, "AL2023 default");
        nc.instance_store_policy = Some(InstanceStorePolicy::Raid0);
        assert_eq!(
            ephemeral_storage_bytes(r, &nc),
            r.local_nvme_gb.expect("nvme") * 1_000_000_000
        );
        assert_eq!(
            ephemeral_storage_bytes(record("m5.large"), &nc),
            20 * GIB,
            "RAID0 without instance store"
        );
        nc.instance_store_policy = None;
        let bdm = |device: &str, root, gib: u64| BlockDeviceMapping {
            device_name: Some(device.to_string()),
            root_volume: root,
            volume_size_bytes: Some(gib * GIB),
        };
        nc.block_device_mappings = vec![bdm("/dev/xvda", false, 100), bdm("/dev/xvdz", true, 200)];
        assert_eq!(
            ephemeral_storage_bytes(r, &nc),
            200 * GIB,
            "rootVolume wins"
        );
        nc.block_device_mappings = vec![bdm("/dev/xvdz", false, 300), bdm("/dev/xvda", false, 100)];
        assert_eq!(ephemeral_storage_bytes(r, &nc), 100 * GIB, "family device");
        nc.ami_family = AmiFamily::Custom;
        nc.block_device_mappings = vec![bdm("/dev/xvda", false, 100), bdm("/dev/xvdz", false, 300)];
        assert_eq!(
            ephemeral_storage_bytes(r, &nc),
            300 * GIB,
            "Custom: last mapping"
        );
        nc.block_device_mappings.clear();
        assert_eq!(
            ephemeral_storage_bytes(r, &nc),
            20 * GIB,
            "Custom without mappings"
        );
        nc.ami_family = AmiFamily::Bottlerocket;
        nc.block_device_mappings = vec![bdm("/dev/xvda", false, 4), bdm("/dev/xvdb", false, 60)];
        assert_eq!(
            ephemeral_storage_bytes(r, &nc),
            60 * GIB,
            "Bottlerocket data volume"
        );
        nc.ami_family = AmiFamily::Windows2022;
        nc.block_device_mappings.clear();
        assert_eq!(ephemeral_storage_bytes(r, &nc), 50 * GIB, "Windows default");
    }

    #[test]
    fn resource_list_has_every_well_known_resource() {
        let list =
            capacity(record("g4dn.8xlarge"), &settings(AmiFamily::Al2023)).to_resource_list();
        let q = |text: &str| Quantity::parse(text).expect("quantity");
        assert_eq!(list.get("cpu"), Some(q("32")));
        assert_eq!(list.get("memory"), Some(Quantity::from_mebibytes(121241)));
        assert_eq!(list.get("ephemeral-storage"), Some(q("20Gi")));
        assert_eq!(list.get("pods"), Some(q("58")));
        assert_eq!(list.get("nvidia.com/gpu"), Some(q("1")));
        assert_eq!(list.get("vpc.amazonaws.com/efa"), Some(q("1")));
        assert_eq!(list.get("vpc.amazonaws.com/pod-eni"), Some(q("58")));
        assert_eq!(
            list.get("amd.com/gpu"),
            Some(Quantity::ZERO),
            "absent devices are listed as zero"
        );
        assert!(!list.contains("vpc.amazonaws.com/PrivateIPv4Address"));
        assert_eq!(list.len(), 11);
    }

    #[test]
    fn windows_amd64_types_get_private_ipv4_addresses() {
        let windows = settings(AmiFamily::Windows2022);
        assert_eq!(
            capacity(record("m5.large"), &windows).private_ipv4_address,
            Some(9)
        );
        assert_eq!(
            capacity(record("m5.large"), &settings(AmiFamily::Al2023)).private_ipv4_address,
            None
        );
        assert_eq!(
            capacity(record("m6g.large"), &windows).private_ipv4_address,
            None,
            "arm64 has no Windows OS"
        );
        assert_eq!(
            capacity(record("hpc7a.12xlarge"), &windows).private_ipv4_address,
            Some(0),
            "not in VPC limits"
        );
    }
}
