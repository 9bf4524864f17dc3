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
    ARCH, CAPACITY_TYPE, INSTANCE_TYPE, LabelAliases, OS, OS_LINUX, OS_WINDOWS, REGION,
    WINDOWS_BUILD, WellKnownLabels, ZONE,
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
pub const INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ: &str =
    "karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz";
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
pub const INSTANCE_ACCELERATOR_MANUFACTURER: &str =
    "karpenter.k8s.aws/instance-accelerator-manufacturer";
/// Accelerator count.
pub const INSTANCE_ACCELERATOR_COUNT: &str = "karpenter.k8s.aws/instance-accelerator-count";
/// Hypervisor (`nitro`, `xen`; empty for bare metal).
pub const INSTANCE_HYPERVISOR: &str = "karpenter.k8s.aws/instance-hypervisor";
/// Whether in-transit encryption is supported (`true`/`false`).
pub const INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED: &str =
    "karpenter.k8s.aws/instance-encryption-in-transit-supported";
/// Tenancy (`default`, `dedicated`).
pub const INSTANCE_TENANCY: &str = "karpenter.k8s.aws/instance-tenancy";
/// Whether Nitro Enclaves are supported (`true`/`false`).
pub const NITRO_SANDBOX: &str = "karpenter.k8s.aws/nitro-sandbox";
/// Capacity reservation ID of a reserved offering (core's reservation-ID label).
pub const CAPACITY_RESERVATION_ID: &str = "karpenter.k8s.aws/capacity-reservation-id";
/// Capacity reservation type (`default`, `capacity-block`).
pub const CAPACITY_RESERVATION_TYPE: &str = "karpenter.k8s.aws/capacity-reservation-type";
/// Whether the capacity reservation is interruptible (`true`/`false`).
pub const CAPACITY_RESERVATION_INTERRUPTIBLE: &str =
    "karpenter.k8s.aws/capacity-reservation-interruptible";
/// Name of the EC2NodeClass of a node.
pub const EC2NODECLASS: &str = "karpenter.k8s.aws/ec2nodeclass";

/// [`INSTANCE_TENANCY`] values every type offers.
pub const TENANCIES: [&str; 2] = ["default", "dedicated"];

/// EKS Auto Mode's instance label keys (EKS user guide, "EKS Auto Mode Supported Labels").
pub mod auto_mode {
    /// Auto Mode twin of [`super::INSTANCE_HYPERVISOR`].
    pub const INSTANCE_HYPERVISOR: &str = "eks.amazonaws.com/instance-hypervisor";
    /// Auto Mode twin of [`super::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED`].
    pub const INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED: &str =
        "eks.amazonaws.com/instance-encryption-in-transit-supported";
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
    (
        INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
        auto_mode::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
    ),
    (INSTANCE_CATEGORY, auto_mode::INSTANCE_CATEGORY),
    (INSTANCE_GENERATION, auto_mode::INSTANCE_GENERATION),
    (INSTANCE_FAMILY, auto_mode::INSTANCE_FAMILY),
    (INSTANCE_SIZE, auto_mode::INSTANCE_SIZE),
    (INSTANCE_CPU, auto_mode::INSTANCE_CPU),
    (
        INSTANCE_CPU_MANUFACTURER,
        auto_mode::INSTANCE_CPU_MANUFACTURER,
    ),
    (INSTANCE_MEMORY, auto_mode::INSTANCE_MEMORY),
    (INSTANCE_EBS_BANDWIDTH, auto_mode::INSTANCE_EBS_BANDWIDTH),
    (
        INSTANCE_NETWORK_BANDWIDTH,
        auto_mode::INSTANCE_NETWORK_BANDWIDTH,
    ),
    (INSTANCE_GPU_NAME, auto_mode::INSTANCE_GPU_NAME),
    (
        INSTANCE_GPU_MANUFACTURER,
        auto_mode::INSTANCE_GPU_MANUFACTURER,
    ),
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
        .with([
            ZONE_ID,
            CAPACITY_RESERVATION_ID,
            CAPACITY_RESERVATION_TYPE,
            CAPACITY_RESERVATION_INTERRUPTIBLE,
        ])
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
pub fn instance_type_requirements(
    record: &InstanceTypeRecord,
    family: AmiFamily,
    scope: &OfferingScope<'_>,
) -> Requirements {
    let mut requirements = Requirements::new();
    add_kubernetes_labels(&mut requirements, record, family, scope);
    add_instance_labels(&mut requirements, record);
    requirements
}

fn add_kubernetes_labels(
    requirements: &mut Requirements,
    record: &InstanceTypeRecord,
    family: AmiFamily,
    scope: &OfferingScope<'_>,
) {
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
    requirements.add(Requirement::in_values(
        ZONE,
        scope.zones.iter().map(|zone| zone.name.as_str()),
    ));
    requirements.add(Requirement::in_values(REGION, [scope.region]));
    requirements.add(Requirement::in_values(
        CAPACITY_TYPE,
        scope.capacity_types.iter().copied(),
    ));
    // Only when some zone ID is known, as upstream (older NodeClass statuses lack them).
    let zone_ids: Vec<&str> = scope
        .zones
        .iter()
        .map(|zone| zone.id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
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

/// Adds every instance key of `record`, and its Auto Mode twin with the same requirement.
fn add_instance_labels(requirements: &mut Requirements, record: &InstanceTypeRecord) {
    for (key, value) in instance_label_values(record) {
        let twin = AUTO_MODE_TWINS
            .iter()
            .find(|(karpenter_key, _)| *karpenter_key == key)
            .map(|(_, twin)| *twin);
        for key in std::iter::once(key).chain(twin) {
            requirements.add(match &value {
                LabelValue::One(value) => Requirement::in_values(key, [value]),
                LabelValue::Many(values) => Requirement::in_values(key, values.iter().copied()),
                LabelValue::Absent => Requirement::does_not_exist(key),
            });
        }
    }
}

/// The value of each `karpenter.k8s.aws` instance key for `record`.
fn instance_label_values(record: &InstanceTypeRecord) -> [(&'static str, LabelValue); 23] {
    use LabelValue::{Absent, Many, One};
    let optional = |value: Option<String>| value.map_or(Absent, One);
    [
        (INSTANCE_CATEGORY, One(record.category.clone())),
        (INSTANCE_FAMILY, One(record.family.clone())),
        (INSTANCE_GENERATION, One(record.generation.to_string())),
        (INSTANCE_SIZE, One(record.size.clone())),
        (
            INSTANCE_CAPABILITY_FLEX,
            One(record.capability_flex.to_string()),
        ),
        (INSTANCE_CPU, One(record.vcpu.to_string())),
        (
            INSTANCE_CPU_MANUFACTURER,
            One(record.cpu_manufacturer.clone()),
        ),
        (
            INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ,
            One(record.cpu_sustained_clock_speed_mhz.to_string()),
        ),
        (INSTANCE_MEMORY, One(record.memory_mib.to_string())),
        (
            INSTANCE_EBS_BANDWIDTH,
            optional(record.ebs_bandwidth_mbps.map(|v| v.to_string())),
        ),
        (
            INSTANCE_NETWORK_BANDWIDTH,
            optional(record.network_bandwidth_mbps.map(|v| v.to_string())),
        ),
        (
            INSTANCE_LOCAL_NVME,
            optional(record.local_nvme_gb.map(|v| v.to_string())),
        ),
        (INSTANCE_GPU_NAME, optional(record.gpu_name.clone())),
        (
            INSTANCE_GPU_MANUFACTURER,
            optional(record.gpu_manufacturer.clone()),
        ),
        (
            INSTANCE_GPU_COUNT,
            optional(record.gpu_count.map(|v| v.to_string())),
        ),
        (
            INSTANCE_GPU_MEMORY,
            optional(record.gpu_memory_mib.map(|v| v.to_string())),
        ),
        (
            INSTANCE_ACCELERATOR_NAME,
            optional(record.accelerator_name.clone()),
        ),
        (
            INSTANCE_ACCELERATOR_MANUFACTURER,
            optional(record.accelerator_manufacturer.clone()),
        ),
        (
            INSTANCE_ACCELERATOR_COUNT,
            optional(record.accelerator_count.map(|v| v.to_string())),
        ),
        // Bare metal has no hypervisor: Karpenter's value is the empty string, not DoesNotExist.
        (
            INSTANCE_HYPERVISOR,
            One(record.hypervisor.clone().unwrap_or_default()),
        ),
        (
            INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
            One(record.encryption_in_transit_supported.to_string()),
        ),
        (INSTANCE_TENANCY, Many(&TENANCIES)),
        (NITRO_SANDBOX, Absent),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::offerings::Placement;
    use joist_core::requirements::Operator;

    fn record(name: &str) -> &'static InstanceTypeRecord {
        Catalog::embedded()
            .expect("catalog")
            .get(name)
            .unwrap_or_else(|| panic!("{name} in catalog"))
    }

    fn requirements_for(name: &str, family: AmiFamily) -> Requirements {
        let placement = Placement::default();
        let scope = OfferingScope {
            region: "us-east-1",
            zones: placement.zones(),
            capacity_types: &["on-demand", "spot"],
        };
        instance_type_requirements(record(name), family, &scope)
    }

    fn values<'a>(requirements: &'a Requirements, key: &str) -> Vec<&'a str> {
        requirements
            .find(key)
            .unwrap_or_else(|| panic!("{key} is defined"))
            .values()
            .collect()
    }

    fn assert_does_not_exist(requirements: &Requirements, key: &str) {
        let requirement = requirements
            .find(key)
            .unwrap_or_else(|| panic!("{key} is defined"));
        assert_eq!(requirement.operator(), Operator::DoesNotExist, "{key}");
    }

    #[test]
    fn g4dn_8xlarge_has_every_well_known_label_with_real_values() {
        let r = requirements_for("g4dn.8xlarge", AmiFamily::Al2023);
        let expected = [
            (INSTANCE_TYPE, "g4dn.8xlarge"),
            (ARCH, "amd64"),
            (OS, "linux"),
            (REGION, "us-east-1"),
            (INSTANCE_CATEGORY, "g"),
            (INSTANCE_FAMILY, "g4dn"),
            (INSTANCE_GENERATION, "4"),
            (INSTANCE_SIZE, "8xlarge"),
            (INSTANCE_CAPABILITY_FLEX, "false"),
            (INSTANCE_CPU, "32"),
            (INSTANCE_CPU_MANUFACTURER, "intel"),
            (INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ, "2500"),
            (INSTANCE_MEMORY, "131072"),
            (INSTANCE_GPU_NAME, "t4"),
            (INSTANCE_GPU_MANUFACTURER, "nvidia"),
            (INSTANCE_GPU_COUNT, "1"),
            (INSTANCE_GPU_MEMORY, "16384"),
            (INSTANCE_LOCAL_NVME, "900"),
            (INSTANCE_EBS_BANDWIDTH, "9500"),
            (INSTANCE_NETWORK_BANDWIDTH, "50000"),
            (INSTANCE_HYPERVISOR, "nitro"),
            (INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED, "true"),
        ];
        for (key, value) in expected {
            assert_eq!(values(&r, key), [value], "{key}");
        }
        assert_eq!(
            values(&r, ZONE_ID),
            [
                "use1-az1", "use1-az2", "use1-az3", "use1-az4", "use1-az5", "use1-az6"
            ]
        );
        assert_eq!(values(&r, ZONE).len(), 6);
        assert_eq!(values(&r, CAPACITY_TYPE), ["on-demand", "spot"]);
        assert_eq!(values(&r, INSTANCE_TENANCY), ["dedicated", "default"]);
        for key in [
            WINDOWS_BUILD,
            INSTANCE_ACCELERATOR_NAME,
            INSTANCE_ACCELERATOR_MANUFACTURER,
            INSTANCE_ACCELERATOR_COUNT,
            NITRO_SANDBOX,
        ] {
            assert_does_not_exist(&r, key);
        }
    }

    #[test]
    fn inf2_xlarge_has_accelerator_labels_and_no_gpu_labels() {
        let r = requirements_for("inf2.xlarge", AmiFamily::Al2023);
        assert_eq!(values(&r, INSTANCE_ACCELERATOR_NAME), ["inferentia2"]);
        assert_eq!(values(&r, INSTANCE_ACCELERATOR_MANUFACTURER), ["aws"]);
        assert_eq!(values(&r, INSTANCE_ACCELERATOR_COUNT), ["1"]);
        assert_eq!(values(&r, INSTANCE_NETWORK_BANDWIDTH), ["2083"]);
        for key in [
            INSTANCE_GPU_NAME,
            INSTANCE_GPU_MANUFACTURER,
            INSTANCE_GPU_COUNT,
            INSTANCE_GPU_MEMORY,
        ] {
            assert_does_not_exist(&r, key);
        }
    }

    #[test]
    fn flex_types_are_excluded_by_capability_flex_false() {
        let mut no_flex = Requirements::new();
        no_flex.add(Requirement::in_values(INSTANCE_CAPABILITY_FLEX, ["false"]));
        let flex = requirements_for("c7i-flex.large", AmiFamily::Al2023);
        assert_eq!(values(&flex, INSTANCE_CAPABILITY_FLEX), ["true"]);
        assert!(!flex.can_intersect(&no_flex));
        assert!(requirements_for("c7i.large", AmiFamily::Al2023).can_intersect(&no_flex));
    }

    #[test]
    fn absent_values_are_does_not_exist_so_selecting_them_excludes_the_type() {
        let m5 = requirements_for("m5.large", AmiFamily::Al2023);
        let mut wants_gpu = Requirements::new();
        wants_gpu.add(Requirement::in_values(INSTANCE_GPU_NAME, ["t4"]));
        assert!(!m5.can_intersect(&wants_gpu));
        assert_does_not_exist(&m5, INSTANCE_LOCAL_NVME);
    }

    #[test]
    fn bare_metal_hypervisor_is_the_empty_string() {
        let metal = requirements_for("m5.metal", AmiFamily::Al2023);
        assert_eq!(values(&metal, INSTANCE_HYPERVISOR), [""]);
    }

    #[test]
    fn windows_families_set_os_and_build_and_arm64_gets_no_os() {
        let windows = requirements_for("m5.large", AmiFamily::Windows2022);
        assert_eq!(values(&windows, OS), ["windows"]);
        assert_eq!(values(&windows, WINDOWS_BUILD), ["10.0.20348"]);
        assert_eq!(
            values(
                &requirements_for("m5.large", AmiFamily::Windows2019),
                WINDOWS_BUILD
            ),
            ["10.0.17763"]
        );
        assert_eq!(
            values(
                &requirements_for("m5.large", AmiFamily::Windows2025),
                WINDOWS_BUILD
            ),
            ["10.0.26100"]
        );
        let arm = requirements_for("m6g.large", AmiFamily::Windows2022);
        assert_does_not_exist(&arm, OS);
        let linux = requirements_for("m6g.large", AmiFamily::Bottlerocket);
        assert_eq!(values(&linux, OS), ["linux"]);
        assert_does_not_exist(&linux, WINDOWS_BUILD);
    }

    #[test]
    fn auto_mode_keys_carry_the_same_requirement_as_their_twins() {
        for name in ["g4dn.8xlarge", "inf2.xlarge", "m5.metal", "c7i-flex.large"] {
            let r = requirements_for(name, AmiFamily::Al2023);
            for (key, twin) in AUTO_MODE_TWINS {
                let (karpenter, auto) = (r.find(key).expect("key"), r.find(twin).expect("twin"));
                assert_eq!(karpenter.operator(), auto.operator(), "{name} {twin}");
                assert_eq!(
                    karpenter.values().collect::<Vec<_>>(),
                    auto.values().collect::<Vec<_>>(),
                    "{name} {twin}"
                );
            }
        }
        let mut auto_mode_pool = Requirements::new();
        auto_mode_pool.add(Requirement::in_values(
            auto_mode::INSTANCE_FAMILY,
            ["g4dn", "g5"],
        ));
        auto_mode_pool.add(Requirement::in_values(
            auto_mode::INSTANCE_GPU_MANUFACTURER,
            ["nvidia"],
        ));
        assert!(requirements_for("g4dn.8xlarge", AmiFamily::Al2023).can_intersect(&auto_mode_pool));
        assert!(!requirements_for("inf2.xlarge", AmiFamily::Al2023).can_intersect(&auto_mode_pool));
    }

    #[test]
    fn zone_id_is_omitted_when_no_zone_id_is_known() {
        let zones = [Zone::new("us-east-1a", "")];
        let scope = OfferingScope {
            region: "us-east-1",
            zones: &zones,
            capacity_types: &["on-demand"],
        };
        let r = instance_type_requirements(record("m5.large"), AmiFamily::Al2023, &scope);
        assert!(r.find(ZONE_ID).is_none());
        assert_eq!(values(&r, ZONE), ["us-east-1a"]);
    }

    #[test]
    fn well_known_labels_cover_every_key_types_define() {
        let well_known = well_known_labels();
        let r = requirements_for("g4dn.8xlarge", AmiFamily::Al2023);
        for key in r.keys() {
            assert!(well_known.contains(key), "{key} is well known");
        }
        for key in [
            CAPACITY_RESERVATION_ID,
            CAPACITY_RESERVATION_TYPE,
            CAPACITY_RESERVATION_INTERRUPTIBLE,
            "karpenter.sh/nodepool",
        ] {
            assert!(well_known.contains(key), "{key}");
        }
        assert!(!well_known.contains(EC2NODECLASS));
    }

    #[test]
    fn ebs_csi_zone_is_an_alias_of_the_zone_label() {
        let aliases = label_aliases();
        assert_eq!(aliases.normalize(EBS_CSI_ZONE), ZONE);
        assert_eq!(
            aliases.normalize("failure-domain.beta.kubernetes.io/zone"),
            ZONE
        );
        assert_eq!(aliases.normalize(ZONE_ID), ZONE_ID);
    }
}
