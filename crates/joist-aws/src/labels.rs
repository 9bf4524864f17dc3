//! AWS well-known labels (spec aws §2) and the label requirements of each instance type.
//!
//! Every instance type defines every instance-level key: a key whose value the type lacks is a
//! `DoesNotExist` requirement, as upstream, so a pod selecting e.g. a GPU name never lands on a
//! type without one.
//!
//! **EKS Auto Mode.** Auto Mode NodePools select instances with `eks.amazonaws.com/instance-*`
//! keys (EKS user guide, "EKS Auto Mode Supported Labels") instead of the `karpenter.k8s.aws/`
//! ones. joist defines each Auto Mode key on every type with exactly the value (or
//! `DoesNotExist`) of its `karpenter.k8s.aws/` twin ([`AUTO_MODE_TWINS`]) and lists both in
//! [`well_known_labels`], so a NodePool written for Auto Mode selects the same types it would
//! select with the Karpenter keys. Auto Mode has no twin for the accelerator, clock-speed,
//! capability-flex, tenancy or nitro-sandbox keys, and joist does not invent one.
//! (`eks.amazonaws.com/compute-type` marks Auto Mode managed nodes, not a property of an instance
//! type, and is not defined.)
//!
//! **Not in the catalog**: NitroEnclavesSupport, so `karpenter.k8s.aws/nitro-sandbox` is
//! `DoesNotExist` on every type; and SupportedUsageClasses, so callers pass the capacity types.

use joist_core::labels::{
    LabelAliases, WellKnownLabels, ARCH, CAPACITY_TYPE, INSTANCE_TYPE, OS, OS_LINUX, OS_WINDOWS, REGION,
    WINDOWS_BUILD, ZONE,
};
use joist_core::requirements::{Requirement, Requirements};

use crate::catalog::{Arch, InstanceTypeRecord};
use crate::offerings::Zone;
use crate::settings::AmiFamily;

/// The AWS provider's restricted label domain: users cannot set these labels on NodePool templates.
pub const LABEL_DOMAIN: &str = "karpenter.k8s.aws";

/// Zone ID (e.g. `use1-az1`) of the node's availability zone.
pub const ZONE_ID: &str = "topology.k8s.aws/zone-id";
/// Zone label of the EBS CSI driver; a normalised alias of `topology.kubernetes.io/zone`.
pub const EBS_CSI_ZONE: &str = "topology.ebs.csi.aws.com/zone";

/// Leading letters of the type name (`m`, `inf`, `u`).
pub const INSTANCE_CATEGORY: &str = "karpenter.k8s.aws/instance-category";
/// Text before the dot (`m7i-flex`).
pub const INSTANCE_FAMILY: &str = "karpenter.k8s.aws/instance-family";
/// Generation digits (`7`).
pub const INSTANCE_GENERATION: &str = "karpenter.k8s.aws/instance-generation";
/// Text after the dot (`metal-24xl`).
pub const INSTANCE_SIZE: &str = "karpenter.k8s.aws/instance-size";
/// `true` for `-flex` families.
pub const INSTANCE_CAPABILITY_FLEX: &str = "karpenter.k8s.aws/instance-capability-flex";
/// Default vCPUs.
pub const INSTANCE_CPU: &str = "karpenter.k8s.aws/instance-cpu";
/// CPU manufacturer (`intel`, `amd`, `aws`, `apple`).
pub const INSTANCE_CPU_MANUFACTURER: &str = "karpenter.k8s.aws/instance-cpu-manufacturer";
/// Sustained clock speed in MHz.
pub const INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ: &str = "karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz";
/// Memory in MiB, before any overhead.
pub const INSTANCE_MEMORY: &str = "karpenter.k8s.aws/instance-memory";
/// Maximum EBS bandwidth in Mbps (only when EBS optimisation is on by default).
pub const INSTANCE_EBS_BANDWIDTH: &str = "karpenter.k8s.aws/instance-ebs-bandwidth";
/// Baseline network bandwidth in Mbps.
pub const INSTANCE_NETWORK_BANDWIDTH: &str = "karpenter.k8s.aws/instance-network-bandwidth";
/// Local NVMe storage in GB.
pub const INSTANCE_LOCAL_NVME: &str = "karpenter.k8s.aws/instance-local-nvme";
/// GPU name (`t4`, `a100`), when the type has exactly one GPU kind.
pub const INSTANCE_GPU_NAME: &str = "karpenter.k8s.aws/instance-gpu-name";
/// GPU manufacturer (`nvidia`, `amd`, `habana`).
pub const INSTANCE_GPU_MANUFACTURER: &str = "karpenter.k8s.aws/instance-gpu-manufacturer";
/// GPU count.
pub const INSTANCE_GPU_COUNT: &str = "karpenter.k8s.aws/instance-gpu-count";
/// Memory per GPU in MiB.
pub const INSTANCE_GPU_MEMORY: &str = "karpenter.k8s.aws/instance-gpu-memory";
/// Accelerator name (`inferentia2`, `trainium`, `qualcomm-ai100`).
pub const INSTANCE_ACCELERATOR_NAME: &str = "karpenter.k8s.aws/instance-accelerator-name";
/// Accelerator manufacturer.
pub const INSTANCE_ACCELERATOR_MANUFACTURER: &str = "karpenter.k8s.aws/instance-accelerator-manufacturer";
/// Accelerator count.
pub const INSTANCE_ACCELERATOR_COUNT: &str = "karpenter.k8s.aws/instance-accelerator-count";
/// Hypervisor (`nitro`, `xen`; empty for bare metal).
pub const INSTANCE_HYPERVISOR: &str = "karpenter.k8s.aws/instance-hypervisor";
/// Whether in-transit encryption is supported (`true`/`false`).
pub const INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED: &str = "karpenter.k8s.aws/instance-encryption-in-transit-supported";
/// Tenancy (`default`, `dedicated`).
pub const INSTANCE_TENANCY: &str = "karpenter.k8s.aws/instance-tenancy";
/// Whether Nitro Enclaves are supported (`true`/`false`).
pub const NITRO_SANDBOX: &str = "karpenter.k8s.aws/nitro-sandbox";
/// Capacity reservation ID of a reserved offering (core's reservation-ID label).
pub const CAPACITY_RESERVATION_ID: &str = "karpenter.k8s.aws/capacity-reservation-id";
/// Capacity reservation type (`default`, `capacity-block`).
pub const CAPACITY_RESERVATION_TYPE: &str = "karpenter.k8s.aws/capacity-reservation-type";
/// Whether the capacity reservation is interruptible (`true`/`false`).
pub const CAPACITY_RESERVATION_INTERRUPTIBLE: &str = "karpenter.k8s.aws/capacity-reservation-interruptible";
/// Name of the EC2NodeClass of a node.
pub const EC2NODECLASS: &str = "karpenter.k8s.aws/ec2nodeclass";

/// [`INSTANCE_TENANCY`] values every type offers.
pub const TENANCIES: [&str; 2] = ["default", "dedicated"];

/// EKS Auto Mode's instance label keys (EKS user guide, "EKS Auto Mode Supported Labels").
pub mod auto_mode {
    /// Auto Mode twin of [`super::INSTANCE_HYPERVISOR`].
    pub const INSTANCE_HYPERVISOR: &str = "eks.amazonaws.com/instance-hypervisor";
    /// Auto Mode twin of [`super::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED`].
    pub const INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED: &str = "eks.amazonaws.com/instance-encryption-in-transit-supported";
    /// Auto Mode twin of [`super::INSTANCE_CATEGORY`].
    pub const INSTANCE_CATEGORY: &str = "eks.amazonaws.com/instance-category";
    /// Auto Mode twin of [`super::INSTANCE_GENERATION`].
    pub const INSTANCE_GENERATION: &str = "eks.amazonaws.com/instance-generation";
    /// Auto Mode twin of [`super::INSTANCE_FAMILY`].
    pub const INSTANCE_FAMILY: &str = "eks.amazonaws.com/instance-family";
    /// Auto Mode twin of [`super::INSTANCE_SIZE`].
    pub const INSTANCE_SIZE: &str = "eks.amazonaws.com/instance-size";
    /// Auto Mode twin of [`super::INSTANCE_CPU`].
    pub const INSTANCE_CPU: &str = "eks.amazonaws.com/instance-cpu";
    /// Auto Mode twin of [`super::INSTANCE_CPU_MANUFACTURER`].
    pub const INSTANCE_CPU_MANUFACTURER: &str = "eks.amazonaws.com/instance-cpu-manufacturer";
    /// Auto Mode twin of [`super::INSTANCE_MEMORY`].
    pub const INSTANCE_MEMORY: &str = "eks.amazonaws.com/instance-memory";
    /// Auto Mode twin of [`super::INSTANCE_EBS_BANDWIDTH`].
    pub const INSTANCE_EBS_BANDWIDTH: &str = "eks.amazonaws.com/instance-ebs-bandwidth";
    /// Auto Mode twin of [`super::INSTANCE_NETWORK_BANDWIDTH`].
    pub const INSTANCE_NETWORK_BANDWIDTH: &str = "eks.amazonaws.com/instance-network-bandwidth";
    /// Auto Mode twin of [`super::INSTANCE_GPU_NAME`].
    pub const INSTANCE_GPU_NAME: &str = "eks.amazonaws.com/instance-gpu-name";
    /// Auto Mode twin of [`super::INSTANCE_GPU_MANUFACTURER`].
    pub const INSTANCE_GPU_MANUFACTURER: &str = "eks.amazonaws.com/instance-gpu-manufacturer";
    /// Auto Mode twin of [`super::INSTANCE_GPU_COUNT`].
    pub const INSTANCE_GPU_COUNT: &str = "eks.amazonaws.com/instance-gpu-count";
    /// Auto Mode twin of [`super::INSTANCE_GPU_MEMORY`].
    pub const INSTANCE_GPU_MEMORY: &str = "eks.amazonaws.com/instance-gpu-memory";
    /// Auto Mode twin of [`super::INSTANCE_LOCAL_NVME`].
    pub const INSTANCE_LOCAL_NVME: &str = "eks.amazonaws.com/instance-local-nvme";
}

/// (`karpenter.k8s.aws` key, its EKS Auto Mode twin): each pair carries identical requirements.
pub const AUTO_MODE_TWINS: [(&str, &str); 16] = [
    (INSTANCE_HYPERVISOR, auto_mode::INSTANCE_HYPERVISOR),
    (INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED, auto_mode::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED),
    (INSTANCE_CATEGORY, auto_mode::INSTANCE_CATEGORY),
    (INSTANCE_GENERATION, auto_mode::INSTANCE_GENERATION),
    (INSTANCE_FAMILY, auto_mode::INSTANCE_FAMILY),
    (INSTANCE_SIZE, auto_mode::INSTANCE_SIZE),
    (INSTANCE_CPU, auto_mode::INSTANCE_CPU),
    (INSTANCE_CPU_MANUFACTURER, auto_mode::INSTANCE_CPU_MANUFACTURER),
    (INSTANCE_MEMORY, auto_mode::INSTANCE_MEMORY),
    (INSTANCE_EBS_BANDWIDTH, auto_mode::INSTANCE_EBS_BANDWIDTH),
    (INSTANCE_NETWORK_BANDWIDTH, auto_mode::INSTANCE_NETWORK_BANDWIDTH),
    (INSTANCE_GPU_NAME, auto_mode::INSTANCE_GPU_NAME),
    (INSTANCE_GPU_MANUFACTURER, auto_mode::INSTANCE_GPU_MANUFACTURER),
    (INSTANCE_GPU_COUNT, auto_mode::INSTANCE_GPU_COUNT),
    (INSTANCE_GPU_MEMORY, auto_mode::INSTANCE_GPU_MEMORY),
    (INSTANCE_LOCAL_NVME, auto_mode::INSTANCE_LOCAL_NVME),
];

/// The `karpenter.k8s.aws` instance keys derived from the catalog record alone.
const INSTANCE_KEYS: [&str; 23] = [
    INSTANCE_CATEGORY,
    INSTANCE_FAMILY,
    INSTANCE_GENERATION,
    INSTANCE_SIZE,
    INSTANCE_CAPABILITY_FLEX,
    INSTANCE_CPU,
    INSTANCE_CPU_MANUFACTURER,
    INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ,
    INSTANCE_MEMORY,
    INSTANCE_EBS_BANDWIDTH,
    INSTANCE_NETWORK_BANDWIDTH,
    INSTANCE_LOCAL_NVME,
    INSTANCE_GPU_NAME,
    INSTANCE_GPU_MANUFACTURER,
    INSTANCE_GPU_COUNT,
    INSTANCE_GPU_MEMORY,
    INSTANCE_ACCELERATOR_NAME,
    INSTANCE_ACCELERATOR_MANUFACTURER,
    INSTANCE_ACCELERATOR_COUNT,
    INSTANCE_HYPERVISOR,
    INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
    INSTANCE_TENANCY,
    NITRO_SANDBOX,
];

/// The AWS `WellKnownLabels`: the core set plus zone ID, every instance key, their Auto Mode
/// twins and the capacity-reservation keys (which offerings define).
pub fn well_known_labels() -> WellKnownLabels {
    WellKnownLabels::core()
        .with([ZONE_ID, CAPACITY_RESERVATION_ID, CAPACITY_RESERVATION_TYPE, CAPACITY_RESERVATION_INTERRUPTIBLE])
        .with(INSTANCE_KEYS)
        .with(AUTO_MODE_TWINS.map(|(_, twin)| twin))
}

/// The AWS `LabelAliases`: the core aliases plus `topology.ebs.csi.aws.com/zone` →
/// `topology.kubernetes.io/zone`.
pub fn label_aliases() -> LabelAliases {
    LabelAliases::core().with(EBS_CSI_ZONE, ZONE)
}

/// Where and how a type is offered, as far as its label requirements are concerned.
#[derive(Debug, Clone, Copy)]
pub struct OfferingScope<'a> {
    /// The region.
    pub region: &'a str,
    /// Zones the type is offered in (name and, when known, AZ ID).
    pub zones: &'a [Zone],
    /// Capacity types the type is offered as (`on-demand`, `spot`, `reserved`).
    pub capacity_types: &'a [&'a str],
}

/// The label requirements of `record` for AMI family `family` offered in `scope`.
pub fn instance_type_requirements(record: &InstanceTypeRecord, family: AmiFamily, scope: &OfferingScope<'_>) -> Requirements {
    let mut requirements = Requirements::new();
    add_kubernetes_labels(&mut requirements, record, family, scope);
    add_instance_labels(&mut requirements, record);
    requirements
}

fn add_kubernetes_labels(requirements: &mut Requirements, record: &InstanceTypeRecord, family: AmiFamily, scope: &OfferingScope<'_>) {
    requirements.add(Requirement::in_values(INSTANCE_TYPE, [&record.name]));
    requirements.add(Requirement::in_values(ARCH, [record.arch.as_str()]));
    // Windows AMIs only run on amd64; an arm64 type gets no OS value (In [] = DoesNotExist).
    let os: &[&str] = match (family.is_windows(), record.arch) {
        (false, _) => &[OS_LINUX],
        (true, Arch::Amd64) => &[OS_WINDOWS],
        (true, Arch::Arm64) => &[],
    };
    requirements.add(Requirement::in_values(OS, os.iter().copied()));
    requirements.add(match family.windows_build() {
        Some(build) => Requirement::in_values(WINDOWS_BUILD, [build]),
        None => Requirement::does_not_exist(WINDOWS_BUILD),
    });
    requirements.add(Requirement::in_values(ZONE, scope.zones.iter().map(|zone| zone.name.as_str())));
    requirements.add(Requirement::in_values(REGION, [scope.region]));
    requirements.add(Requirement::in_values(CAPACITY_TYPE, scope.capacity_types.iter().copied()));
    // Only when some zone ID is known, as upstream (older NodeClass statuses lack them).
    let zone_ids: Vec<&str> = scope.zones.iter().map(|zone| zone.id.as_str()).filter(|id| !id.is_empty()).collect();
    if !zone_ids.is_empty() {
        requirements.add(Requirement::in_values(ZONE_ID, zone_ids));
    }
}

/// The value of an instance key on one type.
enum LabelValue {
    /// `In [value]`.
    One(String),
    /// `In [values...]`.
    Many(&'static [&'static str]),
    /// `DoesNotExist`: the type has no value for the key.
    Absent,
}

fn add_instance_labels(requirements: &mut Requirements, record: &InstanceTypeRecord) {
    use LabelValue::{Absent, Many, One};
    let optional = |value: Option<String>| value.map_or(Absent, One);
    let values: [(&str, LabelValue); 23] = [
        (INSTANCE_CATEGORY, One(record.category.clone())),
        (INSTANCE_FAMILY, One(record.family.clone())),
        (INSTANCE_GENERATION, One(record.generation.to_string())),
        (INSTANCE_SIZE, One(record.size.clone())),
        (INSTANCE_CAPABILITY_FLEX, One(record.capability_flex.to_string())),
        (INSTANCE_CPU, One(record.vcpu.to_string())),
        (INSTANCE_CPU_MANUFACTURER, One(record.cpu_manufacturer.clone())),
        (INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ, One(record.cpu_sustained_clock_speed_mhz.to_string())),
        (INSTANCE_MEMORY, One(record.memory_mib.to_string())),
        (INSTANCE_EBS_BANDWIDTH, optional(record.ebs_bandwidth_mbps.map(|v| v.to_string()))),
        (INSTANCE_NETWORK_BANDWIDTH, optional(record.network_bandwidth_mbps.map(|v| v.to_string()))),
        (INSTANCE_LOCAL_NVME, optional(record.local_nvme_gb.map(|v| v.to_string()))),
        (INSTANCE_GPU_NAME, optional(record.gpu_name.clone())),
        (INSTANCE_GPU_MANUFACTURER, optional(record.gpu_manufacturer.clone())),
        (INSTANCE_GPU_COUNT, optional(record.gpu_count.map(|v| v.to_string()))),
        (INSTANCE_GPU_MEMORY, optional(record.gpu_memory_mib.map(|v| v.to_string()))),
        (INSTANCE_ACCELERATOR_NAME, optional(record.accelerator_name.clone())),
        (INSTANCE_ACCELERATOR_MANUFACTURER, optional(record.accelerator_manufacturer.clone())),
        (INSTANCE_ACCELERATOR_COUNT, optional(record.accelerator_count.map(|v| v.to_string()))),
        // Bare metal has no hypervisor: Karpenter's value is the empty string, not DoesNotExist.
        (INSTANCE_HYPERVISOR, One(record.hypervisor.clone().unwrap_or_default())),
        (INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED, One(record.encryption_in_transit_supported.to_string())),
        (INSTANCE_TENANCY, Many(&TENANCIES)),
        (NITRO_SANDBOX, Absent),
    ];
    for (key, value) in values {
        let twin = AUTO_MODE_TWINS.iter().find(|(karpenter_key, _)| *karpenter_key == key).map(|(_, twin)| *twin);
        for key in std::iter::once(key).chain(twin) {
            requirements.add(match &value {
                One(value) => Requirement::in_values(key, [value]),
                Many(values) => Requirement::in_values(key, values.iter().copied()),
                Absent => Requirement::does_not_exist(key),
            });
        }
    }
}
