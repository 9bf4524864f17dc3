//! Explicit inputs of the instance-type model: the EC2NodeClass fields that shape capacity and
//! overhead ([`NodeClassSettings`]), its `spec.kubelet` ([`KubeletSettings`]), Karpenter's
//! controller options ([`ProviderSettings`]) and where offerings live ([`crate::offerings::Placement`]).
//!
//! Nothing here reads the environment: drivers translate an EC2NodeClass and the controller flags
//! into these structs, so the same inputs always give the same instance types.

use std::collections::BTreeMap;

/// AMI family of the NodeClass (its resolved `amiFamily`, or the family of its alias).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum AmiFamily {
    /// Amazon Linux 2.
    Al2,
    /// Amazon Linux 2023 (the default).
    #[default]
    Al2023,
    /// Bottlerocket.
    Bottlerocket,
    /// A custom AMI: Karpenter knows nothing about its bootstrap.
    Custom,
    /// Windows Server 2019.
    Windows2019,
    /// Windows Server 2022.
    Windows2022,
    /// Windows Server 2025.
    Windows2025,
}

// === impl AmiFamily ===

impl AmiFamily {
    /// Whether max pods follow the ENI formula (all but Windows, which uses 110).
    pub fn supports_eni_limited_pod_density(self) -> bool {
        !self.is_windows()
    }

    /// Whether kube-reserved memory uses the ENI-limited pod count whatever maxPods is
    /// (Karpenter's `UsesENILimitedMemoryOverhead`: AL2, AL2023 and Custom).
    pub fn uses_eni_limited_memory_overhead(self) -> bool {
        matches!(self, AmiFamily::Al2 | AmiFamily::Al2023 | AmiFamily::Custom)
    }

    /// Whether `podsPerCore` is honoured (Bottlerocket ignores it).
    pub fn pods_per_core_enabled(self) -> bool {
        self != AmiFamily::Bottlerocket
    }

    /// True for the Windows families.
    pub fn is_windows(self) -> bool {
        self.windows_build().is_some()
    }

    /// `node.kubernetes.io/windows-build` value of the Windows families.
    pub fn windows_build(self) -> Option<&'static str> {
        match self {
            AmiFamily::Windows2019 => Some("10.0.17763"),
            AmiFamily::Windows2022 => Some("10.0.20348"),
            AmiFamily::Windows2025 => Some("10.0.26100"),
            _ => None,
        }
    }

    /// Device whose BDM sizes the node's ephemeral storage; `None` for Custom (which uses its last BDM).
    pub fn ephemeral_block_device(self) -> Option<&'static str> {
        match self {
            AmiFamily::Al2 | AmiFamily::Al2023 => Some("/dev/xvda"),
            AmiFamily::Bottlerocket => Some("/dev/xvdb"),
            AmiFamily::Windows2019 | AmiFamily::Windows2022 | AmiFamily::Windows2025 => {
                Some("/dev/sda1")
            }
            AmiFamily::Custom => None,
        }
    }

    /// Size of the family's default BDM on its ephemeral device, in bytes (AL2/AL2023 20Gi,
    /// Bottlerocket 20Gi on xvdb, Windows 50Gi); Custom has no default BDM and uses the default
    /// EBS size, 20Gi.
    pub fn default_ephemeral_storage_bytes(self) -> u64 {
        if self.is_windows() {
            50 * GIB
        } else {
            20 * GIB
        }
    }
}

/// One GiB in bytes.
pub const GIB: u64 = 1 << 30;
/// One MiB in bytes.
pub const MIB: u64 = 1 << 20;

/// `spec.instanceStorePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceStorePolicy {
    /// Local NVMe disks are striped into one RAID0 volume used for ephemeral storage.
    Raid0,
}

/// One `spec.blockDeviceMappings` entry, reduced to what capacity needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BlockDeviceMapping {
    /// `deviceName`, e.g. `/dev/xvda`.
    pub device_name: Option<String>,
    /// `rootVolume`.
    pub root_volume: bool,
    /// `ebs.volumeSize` in bytes, when set.
    pub volume_size_bytes: Option<u64>,
}

/// `spec.networkInterfaces[].interfaceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkInterfaceType {
    /// A regular ENI.
    Interface,
    /// An ENA + EFA interface.
    Efa,
    /// An EFA-only interface: no IP networking, so it consumes an ENI without adding pod IPs.
    EfaOnly,
}

/// One `spec.networkInterfaces` entry, reduced to what capacity needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkInterface {
    /// `networkCardIndex`.
    pub network_card_index: u32,
    /// `deviceIndex`.
    pub device_index: u32,
    /// `interfaceType`.
    pub interface_type: NetworkInterfaceType,
}

/// EC2NodeClass fields that shape capacity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeClassSettings {
    /// The AMI family.
    pub ami_family: AmiFamily,
    /// `spec.blockDeviceMappings` (empty: the family defaults).
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// `spec.instanceStorePolicy`.
    pub instance_store_policy: Option<InstanceStorePolicy>,
    /// `spec.networkInterfaces`; `None` when unset (EFA then comes from the instance type).
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

impl NodeClassSettings {
    /// Number of `efa-only` interfaces on network card 0 (each one costs an ENI for pod density).
    pub fn efa_only_interfaces_on_card0(&self) -> u32 {
        self.efa_only_interfaces(|nic| nic.network_card_index == 0)
    }

    /// Number of `efa-only` interfaces on any card, or `None` when networkInterfaces is unset.
    pub fn efa_only_interfaces_total(&self) -> Option<u32> {
        self.network_interfaces
            .as_ref()
            .map(|_| self.efa_only_interfaces(|_| true))
    }

    fn efa_only_interfaces(&self, card_filter: impl Fn(&NetworkInterface) -> bool) -> u32 {
        let nics = self.network_interfaces.as_deref().unwrap_or_default();
        let count = nics
            .iter()
            .filter(|nic| nic.interface_type == NetworkInterfaceType::EfaOnly && card_filter(nic))
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

/// `spec.kubelet` fields that shape capacity and overhead. Resource values are kept as the
/// strings the user wrote, like the CRD, and parsed when overhead is computed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KubeletSettings {
    /// `maxPods`.
    pub max_pods: Option<u32>,
    /// `podsPerCore` (0 means no limit).
    pub pods_per_core: Option<u32>,
    /// `kubeReserved`: resource name → quantity; each entry overrides the computed default.
    pub kube_reserved: BTreeMap<String, String>,
    /// `systemReserved`: resource name → quantity, used as-is (empty by default).
    pub system_reserved: BTreeMap<String, String>,
    /// `evictionHard`: signal → quantity or percentage. Only `memory.available` and
    /// `nodefs.available` affect allocatable; `evictionSoft` never does, so it is not modelled.
    pub eviction_hard: BTreeMap<String, String>,
}

/// Karpenter controller options that shape capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProviderSettings {
    /// `--reserved-enis` / `RESERVED_ENIS`: ENIs kept away from pods (default 0).
    pub reserved_enis: u32,
    /// `--vm-memory-overhead-percent` / `VM_MEMORY_OVERHEAD_PERCENT` (default 0.075).
    pub vm_memory_overhead_percent: f64,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            reserved_enis: 0,
            vm_memory_overhead_percent: 0.075,
        }
    }
}

/// Everything that shapes capacity and overhead, bundled so callers pass one value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CapacitySettings {
    /// EC2NodeClass fields.
    pub node_class: NodeClassSettings,
    /// `spec.kubelet`.
    pub kubelet: KubeletSettings,
    /// Controller options.
    pub provider: ProviderSettings,
}

impl CapacitySettings {
    /// Default settings for `family` (no BDMs, no kubelet overrides, default controller options).
    pub fn for_family(ami_family: AmiFamily) -> Self {
        CapacitySettings {
            node_class: NodeClassSettings {
                ami_family,
                ..NodeClassSettings::default()
            },
            ..CapacitySettings::default()
        }
    }
}
