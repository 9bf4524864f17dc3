//! The fake cloud provider's instance types (spec core §9 "Fake provider default instance types",
//! §9.3 `fake.InstanceTypes(n)`), and [`InstanceTypeBuilder`] to make variations.

use std::collections::BTreeSet;

use super::quantity;
use crate::instancetype::{InstanceType, Offering, OfferingOverride, Overhead, PriceSource};
use crate::labels::{
    ARCH, ARCH_AMD64, ARCH_ARM64, CAPACITY_TYPE, CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT,
    INSTANCE_TYPE, OS, WellKnownLabels, ZONE,
};
use crate::requirements::{Requirement, Requirements};
use crate::resources::{Quantity, ResourceList, names};
use crate::scheduling::SchedulingSettings;

/// The fake provider's instance-size label (`small` / `large`).
pub const FAKE_SIZE_LABEL: &str = "size";
/// The fake provider's optional label (`optional` on large types, absent otherwise).
pub const FAKE_SPECIAL_LABEL: &str = "special";
/// The fake provider's label holding the CPU count.
pub const FAKE_INTEGER_LABEL: &str = "integer";
/// The fake provider's first GPU resource.
pub const FAKE_GPU_VENDOR_A: &str = "fake.com/vendor-a";
/// The fake provider's second GPU resource.
pub const FAKE_GPU_VENDOR_B: &str = "fake.com/vendor-b";
/// The fake provider's reservation-ID label (upstream's test `LabelReservationID`).
pub const FAKE_RESERVATION_ID_LABEL: &str = "karpenter.test.sh/reservation-id";
/// The fake provider's zones.
pub const FAKE_ZONES: [&str; 3] = ["test-zone-1", "test-zone-2", "test-zone-3"];

/// Well-known labels with the fake provider's keys, as its `init()` registers them.
pub fn fake_well_known_labels() -> WellKnownLabels {
    WellKnownLabels::core().with([
        FAKE_SIZE_LABEL,
        FAKE_SPECIAL_LABEL,
        FAKE_INTEGER_LABEL,
        FAKE_RESERVATION_ID_LABEL,
    ])
}

/// Scheduling settings for the fake provider: upstream defaults plus its well-known labels.
pub fn fake_settings() -> SchedulingSettings {
    SchedulingSettings {
        well_known_labels: fake_well_known_labels(),
        reservation_id_label: Some(FAKE_RESERVATION_ID_LABEL.into()),
        ..SchedulingSettings::default()
    }
}

/// The six default fake instance types, in upstream's order: `default-instance-type` (4 CPU,
/// 4Gi, 5 pods), `small-instance-type` (2 CPU, 2Gi), `gpu-vendor-instance-type` (+2
/// `fake.com/vendor-a`), `gpu-vendor-b-instance-type` (+2 `fake.com/vendor-b`),
/// `arm-instance-type` (arm64, 16 CPU, 128Gi, ios/linux/windows/darwin) and
/// `single-pod-instance-type` (1 pod).
pub fn fake_instance_types() -> Vec<InstanceType> {
    vec![
        instance_type("default-instance-type").build(),
        instance_type("small-instance-type")
            .cpu(2)
            .memory("2Gi")
            .build(),
        instance_type("gpu-vendor-instance-type")
            .resource(FAKE_GPU_VENDOR_A, "2")
            .build(),
        instance_type("gpu-vendor-b-instance-type")
            .resource(FAKE_GPU_VENDOR_B, "2")
            .build(),
        instance_type("arm-instance-type")
            .arch(ARCH_ARM64)
            .os(&["ios", "linux", "windows", "darwin"])
            .cpu(16)
            .memory("128Gi")
            .build(),
        instance_type("single-pod-instance-type").pods(1).build(),
    ]
}

/// `fake.InstanceTypes(n)`: `fake-it-<i>` with `i+1` vCPU, `2(i+1)`Gi and `10(i+1)` pods.
pub fn fake_instance_types_n(n: usize) -> Vec<InstanceType> {
    (0..n)
        .map(|i| {
            let size = i + 1;
            instance_type(&format!("fake-it-{i}"))
                .cpu(size as u32)
                .memory(&format!("{}Gi", size * 2))
                .pods(size as u32 * 10)
                .build()
        })
        .collect()
}

/// Starts a fake instance type named `name` with upstream's fake defaults: 4 CPU, 4Gi, 5 pods,
/// amd64, linux/windows/darwin, overhead 100m CPU and 10Mi memory, and five offerings (spot in
/// test-zone-1/2, on-demand in test-zone-1/2/3) priced 0.1×CPU + 0.1×memory GB (+1 per GPU
/// resource).
pub fn instance_type(name: &str) -> InstanceTypeBuilder {
    InstanceTypeBuilder {
        name: name.into(),
        capacity: ResourceList::new(),
        arch: ARCH_AMD64.into(),
        os: ["linux", "windows", "darwin"].map(String::from).into(),
        offerings: Vec::new(),
        price: None,
        overhead: None,
        extra_requirements: Vec::new(),
        overrides: Vec::new(),
    }
}

/// Builds a fake [`InstanceType`].
#[derive(Debug, Clone)]
pub struct InstanceTypeBuilder {
    /// The name.
    name: String,
    /// Capacity entries set explicitly (defaults are filled in at build).
    capacity: ResourceList,
    /// `kubernetes.io/arch`.
    arch: String,
    /// `kubernetes.io/os` values.
    os: BTreeSet<String>,
    /// Explicit offerings; empty means the five defaults.
    offerings: Vec<Offering>,
    /// Price of the default offerings, overriding the resource-based price.
    price: Option<f64>,
    /// Explicit overhead; `None` means 100m CPU / 10Mi kube-reserved.
    overhead: Option<Overhead>,
    /// Extra requirements added to the type's requirements.
    extra_requirements: Vec<Requirement>,
    /// Offering overrides by explicit offering index.
    overrides: Vec<(usize, OfferingOverride)>,
}

impl InstanceTypeBuilder {
    /// Sets the CPU capacity in cores.
    pub fn cpu(self, cores: u32) -> Self {
        self.resource(names::CPU, &cores.to_string())
    }

    /// Sets the memory capacity.
    pub fn memory(self, amount: &str) -> Self {
        self.resource(names::MEMORY, amount)
    }

    /// Sets the pod capacity.
    pub fn pods(self, count: u32) -> Self {
        self.resource(names::PODS, &count.to_string())
    }

    /// Sets the capacity of any resource.
    pub fn resource(mut self, name: &str, amount: &str) -> Self {
        self.capacity.insert(name, quantity(amount));
        self
    }

    /// Sets the architecture.
    pub fn arch(mut self, arch: &str) -> Self {
        self.arch = arch.into();
        self
    }

    /// Sets the operating systems.
    pub fn os(mut self, os: &[&str]) -> Self {
        self.os = os.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Adds an explicit offering (the defaults are then not used).
    pub fn offering(
        mut self,
        capacity_type: &str,
        zone: &str,
        price: f64,
        available: bool,
    ) -> Self {
        let requirements: Requirements = [
            Requirement::in_values(CAPACITY_TYPE, [capacity_type]),
            Requirement::in_values(ZONE, [zone]),
        ]
        .into_iter()
        .collect();
        self.offerings.push(Offering {
            requirements,
            price,
            available,
            reservation_capacity: None,
            price_source: PriceSource::Exact,
        });
        self
    }

    /// Adds an available reserved offering of reservation `id` holding `capacity` more instances.
    pub fn reserved_offering(mut self, zone: &str, price: f64, id: &str, capacity: u32) -> Self {
        let requirements: Requirements = [
            Requirement::in_values(CAPACITY_TYPE, [crate::labels::CAPACITY_TYPE_RESERVED]),
            Requirement::in_values(ZONE, [zone]),
            Requirement::in_values(FAKE_RESERVATION_ID_LABEL, [id]),
        ]
        .into_iter()
        .collect();
        self.offerings.push(Offering {
            requirements,
            price,
            available: true,
            reservation_capacity: Some(capacity),
            price_source: PriceSource::Exact,
        });
        self
    }

    /// Gives the most recently added explicit offering a capacity override (`(resource,
    /// amount)` entries replacing or extending the type's capacity).
    pub fn capacity_override(mut self, entries: &[(&str, &str)]) -> Self {
        let index = self.offerings.len().saturating_sub(1);
        let capacity = entries
            .iter()
            .map(|(name, amount)| (*name, quantity(amount)))
            .collect();
        self.overrides.push((
            index,
            OfferingOverride {
                capacity,
                overhead: None,
            },
        ));
        self
    }

    /// Sets the price of the default offerings.
    pub fn price(mut self, price: f64) -> Self {
        self.price = Some(price);
        self
    }

    /// Sets the overhead.
    pub fn overhead(mut self, overhead: Overhead) -> Self {
        self.overhead = Some(overhead);
        self
    }

    /// Adds a requirement to the type's requirements (intersected with the defaults).
    pub fn requirement(mut self, requirement: Requirement) -> Self {
        self.extra_requirements.push(requirement);
        self
    }

    /// Finishes the instance type.
    pub fn build(self) -> InstanceType {
        let mut capacity = self.capacity;
        for (name, default) in [
            (names::CPU, "4"),
            (names::MEMORY, "4Gi"),
            (names::PODS, "5"),
        ] {
            if capacity.get(name).is_none_or(Quantity::is_zero) {
                capacity.insert(name, quantity(default));
            }
        }
        let price = self
            .price
            .unwrap_or_else(|| price_from_resources(&capacity));
        let offerings = if self.offerings.is_empty() {
            default_offerings(price)
        } else {
            self.offerings
        };
        let mut requirements =
            requirements(&self.name, &self.arch, &self.os, &capacity, &offerings);
        requirements.extend(self.extra_requirements);
        let overhead = self.overhead.unwrap_or_else(|| Overhead {
            kube_reserved: [
                (names::CPU, quantity("100m")),
                (names::MEMORY, quantity("10Mi")),
            ]
            .into_iter()
            .collect(),
            ..Overhead::default()
        });
        let it = InstanceType::new(self.name, requirements, offerings, capacity, overhead);
        if self.overrides.is_empty() {
            return it;
        }
        match it.with_offering_overrides(self.overrides) {
            Ok(it) => it,
            Err(e) => panic!("bad offering override in test: {e}"),
        }
    }
}

/// Upstream `PriceFromResources`: 0.1 per CPU, 0.1 per 10⁹ bytes of memory, 1 per GPU resource.
fn price_from_resources(capacity: &ResourceList) -> f64 {
    capacity
        .iter()
        .map(|(name, q)| match name {
            names::CPU => 0.1 * q.as_f64(),
            names::MEMORY => 0.1 * q.as_f64() / 1e9,
            FAKE_GPU_VENDOR_A | FAKE_GPU_VENDOR_B => 1.0,
            _ => 0.0,
        })
        .sum()
}

fn default_offerings(price: f64) -> Vec<Offering> {
    let spot = FAKE_ZONES[..2].iter().map(|z| (CAPACITY_TYPE_SPOT, *z));
    let on_demand = FAKE_ZONES.iter().map(|z| (CAPACITY_TYPE_ON_DEMAND, *z));
    spot.chain(on_demand)
        .map(|(ct, zone)| Offering {
            requirements: [
                Requirement::in_values(CAPACITY_TYPE, [ct]),
                Requirement::in_values(ZONE, [zone]),
            ]
            .into_iter()
            .collect(),
            price,
            available: true,
            reservation_capacity: None,
            price_source: PriceSource::Exact,
        })
        .collect()
}

/// The fake type's requirements: name, arch, os, zones and capacity types of available
/// offerings, `size` (`large` when CPU > 4 and memory > 8Gi, else `small`), `special`
/// (`optional` on large types, otherwise DoesNotExist) and `integer` (the CPU count, rounded up).
fn requirements(
    name: &str,
    arch: &str,
    os: &BTreeSet<String>,
    capacity: &ResourceList,
    offerings: &[Offering],
) -> Requirements {
    let available = || offerings.iter().filter(|o| o.available);
    let cpu = capacity.get_or_zero(names::CPU);
    let large = cpu > quantity("4") && capacity.get_or_zero(names::MEMORY) > quantity("8Gi");
    let cpu_value = (cpu.nanos() + 999_999_999) / 1_000_000_000;
    [
        Requirement::in_values(INSTANCE_TYPE, [name]),
        Requirement::in_values(ARCH, [arch]),
        Requirement::in_values(OS, os.iter()),
        Requirement::in_values(ZONE, available().filter_map(Offering::zone)),
        Requirement::in_values(
            CAPACITY_TYPE,
            available().filter_map(Offering::capacity_type),
        ),
        Requirement::in_values(FAKE_SIZE_LABEL, [if large { "large" } else { "small" }]),
        if large {
            Requirement::in_values(FAKE_SPECIAL_LABEL, ["optional"])
        } else {
            Requirement::does_not_exist(FAKE_SPECIAL_LABEL)
        },
        Requirement::in_values(FAKE_INTEGER_LABEL, [cpu_value.to_string()]),
    ]
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_types_match_upstream() {
        let types = fake_instance_types();
        let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "default-instance-type",
                "small-instance-type",
                "gpu-vendor-instance-type",
                "gpu-vendor-b-instance-type",
                "arm-instance-type",
                "single-pod-instance-type"
            ]
        );
        let default = &types[0];
        assert_eq!(default.capacity().get("cpu"), Some(quantity("4")));
        assert_eq!(default.capacity().get("pods"), Some(quantity("5")));
        assert_eq!(default.allocatable().get("cpu"), Some(quantity("3900m")));
        assert_eq!(
            default.allocatable().get("memory"),
            Some(quantity("4086Mi"))
        );
        assert_eq!(default.offerings.len(), 5);
        let expected = 0.1 * 4.0 + 0.1 * 4.0 * 1024.0 * 1024.0 * 1024.0 / 1e9;
        assert!((default.offerings[0].price - expected).abs() < 1e-12);
        assert!((types[2].offerings[0].price - (expected + 1.0)).abs() < 1e-12);
        assert_eq!(
            default.requirements.to_string(),
            "integer In [4], karpenter.sh/capacity-type In [on-demand spot], \
             kubernetes.io/arch In [amd64], kubernetes.io/os In [darwin linux windows], \
             node.kubernetes.io/instance-type In [default-instance-type], size In [small], \
             special DoesNotExist, topology.kubernetes.io/zone In [test-zone-1 test-zone-2 test-zone-3]"
        );
        let arm = &types[4];
        assert_eq!(arm.requirements.get("size").to_string(), "size In [large]");
        assert_eq!(
            arm.requirements.get("special").to_string(),
            "special In [optional]"
        );
        assert_eq!(
            arm.requirements.get("integer").to_string(),
            "integer In [16]"
        );
        assert_eq!(types[5].capacity().get("pods"), Some(quantity("1")));
    }

    #[test]
    fn numbered_types_grow_linearly() {
        let types = fake_instance_types_n(400);
        assert_eq!(types.len(), 400);
        let last = &types[399];
        assert_eq!(last.name, "fake-it-399");
        assert_eq!(last.capacity().get("cpu"), Some(quantity("400")));
        assert_eq!(last.capacity().get("memory"), Some(quantity("800Gi")));
        assert_eq!(last.capacity().get("pods"), Some(quantity("4000")));
    }
}
