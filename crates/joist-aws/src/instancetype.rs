//! The AWS instance types: catalog records turned into provider-neutral
//! [`InstanceType`]s (labels, capacity, overhead, offerings) as Karpenter's AWS provider builds them.

use joist_core::instancetype::InstanceType;
use joist_core::labels::CAPACITY_TYPE_RESERVED;
use joist_core::requirements::Interner;

use crate::capacity::capacity;
use crate::catalog::{Catalog, InstanceTypeRecord};
use crate::labels::{OfferingScope, instance_type_requirements};
use crate::offerings::{
    BASE_CAPACITY_TYPES, CapacityReservation, Placement, base_offerings, reserved_offerings,
};
use crate::overhead::{OverheadError, overhead};
use crate::pricing::{PricingError, SpotPolicy, SpotPricing, SpotSnapshot};
use crate::settings::CapacitySettings;

/// Everything that shapes the instance types of one NodeClass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// AMI family, BDMs, kubelet and controller options.
    pub capacity: CapacitySettings,
    /// Region and zones (default: us-east-1 with its documented zone IDs).
    pub placement: Placement,
    /// What to do for spot offerings without an observed price.
    pub spot_policy: SpotPolicy,
    /// Capacity reservations selected by the NodeClass (its status).
    pub reservations: Vec<CapacityReservation>,
}

/// Errors building instance types.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// The kubelet settings do not give a valid overhead (reported for the first type, as they
    /// are the same for all; upstream fails the whole list too).
    #[error("instance type {instance_type}: {source}")]
    Overhead {
        /// The type being built when the error was found.
        instance_type: String,
        /// The overhead error.
        source: OverheadError,
    },
    /// The embedded spot snapshot does not load.
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// Every catalog type as an [`InstanceType`], in catalog (name) order, priced with the embedded
/// spot snapshot. The types share their equal requirement keys, values and requirements (see
/// [`Interner`]): built one by one they would take about four times the memory.
pub fn build_instance_types(
    catalog: &Catalog,
    settings: &Settings,
) -> Result<Vec<InstanceType>, BuildError> {
    build_instance_types_with(catalog, SpotSnapshot::embedded()?, settings)
}

/// [`build_instance_types`] with an explicit spot snapshot.
pub fn build_instance_types_with(
    catalog: &Catalog,
    snapshot: &SpotSnapshot,
    settings: &Settings,
) -> Result<Vec<InstanceType>, BuildError> {
    let spot = SpotPricing::new(
        catalog,
        snapshot,
        settings.placement.region(),
        settings.spot_policy,
    );
    let mut interner = Interner::new();
    catalog
        .records()
        .iter()
        .map(|record| {
            build_instance_type(record, &spot, settings)
                .map(|instance_type| shared(instance_type, &mut interner))
        })
        .collect()
}

/// `instance_type` with its requirements and its offerings' requirements taken from `interner`,
/// so that they share storage with every other type's.
fn shared(mut instance_type: InstanceType, interner: &mut Interner) -> InstanceType {
    instance_type.requirements = interner.requirements(&instance_type.requirements);
    for offering in &mut instance_type.offerings {
        offering.requirements = interner.requirements(&offering.requirements);
    }
    instance_type.offerings.shrink_to_fit();
    instance_type
}

/// One catalog type as an [`InstanceType`].
pub fn build_instance_type(
    record: &InstanceTypeRecord,
    spot: &SpotPricing<'_>,
    settings: &Settings,
) -> Result<InstanceType, BuildError> {
    let family = settings.capacity.node_class.ami_family;
    let placement = &settings.placement;
    let mut offerings = base_offerings(record, placement, spot, family);
    let reserved = reserved_offerings(record, placement, &settings.reservations, family);
    let mut capacity_types: Vec<&str> = BASE_CAPACITY_TYPES.to_vec();
    if !reserved.is_empty() {
        capacity_types.push(CAPACITY_TYPE_RESERVED);
    }
    offerings.extend(reserved);
    let scope = OfferingScope {
        region: placement.region(),
        zones: placement.zones(),
        capacity_types: &capacity_types,
    };
    let requirements = instance_type_requirements(record, family, &scope);
    let capacity = capacity(record, &settings.capacity);
    let overhead =
        overhead(record, &capacity, &settings.capacity).map_err(|source| BuildError::Overhead {
            instance_type: record.name.clone(),
            source,
        })?;
    Ok(InstanceType::new(
        record.name.clone(),
        requirements,
        offerings,
        capacity.to_resource_list(),
        overhead,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{AmiFamily, GIB, MIB};
    use joist_core::requirements::{Requirement, Requirements};
    use joist_core::resources::Quantity;

    fn catalog() -> &'static Catalog {
        Catalog::embedded().expect("catalog")
    }

    #[test]
    fn builds_every_catalog_type_in_name_order() {
        let types = build_instance_types(catalog(), &Settings::default()).expect("build");
        assert_eq!(types.len(), 1363);
        assert!(types.windows(2).all(|w| w[0].name < w[1].name));
        assert!(
            types.iter().all(|t| t.offerings.len() == 12),
            "6 zones × on-demand/spot"
        );
        let priced = types
            .iter()
            .filter(|t| t.offerings.iter().any(|o| o.available))
            .count();
        assert_eq!(
            priced,
            1363 - 18 - 6,
            "18 types lack a price; AL2023 cannot run the 6 a1 types"
        );
    }

    #[test]
    fn building_twice_gives_identical_results() {
        let first = build_instance_types(catalog(), &Settings::default()).expect("build");
        let second = build_instance_types(catalog(), &Settings::default()).expect("build");
        assert_eq!(first, second);
    }

    #[test]
    fn built_types_equal_unshared_builds_and_share_equal_requirements() {
        let settings = Settings::default();
        let types = build_instance_types(catalog(), &settings).expect("build");
        let spot = SpotPricing::new(
            catalog(),
            SpotSnapshot::embedded().expect("snapshot"),
            settings.placement.region(),
            settings.spot_policy,
        );
        for (shared, record) in types.iter().zip(catalog().records()).step_by(50) {
            let alone = build_instance_type(record, &spot, &settings).expect("build");
            assert_eq!(*shared, alone, "{}", record.name);
        }
        let find = |name: &str| types.iter().find(|t| t.name == name).expect("type");
        let (m5, c5) = (find("m5.large"), find("c5.large"));
        let arch = |t: &InstanceType| {
            t.requirements
                .find(joist_core::labels::ARCH)
                .expect("arch")
                .clone()
        };
        assert!(std::ptr::eq(
            arch(m5).shared_values().as_ptr(),
            arch(c5).shared_values().as_ptr()
        ));
        let zone = |o: &joist_core::instancetype::Offering| {
            o.requirements
                .find(joist_core::labels::ZONE)
                .expect("zone")
                .clone()
        };
        assert_eq!(m5.offerings[0].zone(), c5.offerings[0].zone());
        assert!(std::sync::Arc::ptr_eq(
            &zone(&m5.offerings[0]).shared_values()[0],
            &zone(&c5.offerings[0]).shared_values()[0]
        ));
    }

    #[test]
    fn allocatable_of_every_type_matches_the_oracle_through_the_resource_lists() {
        let types = build_instance_types(catalog(), &Settings::default()).expect("build");
        for (it, record) in types.iter().zip(catalog().records()) {
            let oracle = record.karpenter_al2023_allocatable;
            let allocatable = it.allocatable();
            let get = |name: &str| {
                allocatable
                    .get(name)
                    .unwrap_or_else(|| panic!("{} lacks {name}", it.name))
            };
            assert_eq!(
                get("cpu"),
                Quantity::from_milli(oracle.cpu_m as i64),
                "{}",
                it.name
            );
            assert_eq!(
                get("memory").value(),
                i128::from(oracle.memory_mib) * i128::from(MIB),
                "{}",
                it.name
            );
            assert_eq!(
                get("ephemeral-storage").value(),
                i128::from(oracle.ephemeral_storage_gib) * i128::from(GIB)
            );
            assert_eq!(
                get("pods"),
                Quantity::from_int(oracle.pods as i64),
                "{}",
                it.name
            );
        }
    }

    #[test]
    fn order_by_price_puts_cheap_types_first() {
        let types = build_instance_types(catalog(), &Settings::default()).expect("build");
        let mut on_demand = Requirements::new();
        on_demand.add(Requirement::in_values(
            joist_core::labels::CAPACITY_TYPE,
            ["on-demand"],
        ));
        let price = |name: &str| {
            types
                .iter()
                .find(|t| t.name == name)
                .expect("type")
                .cheapest_compatible_price(&on_demand)
        };
        assert_eq!(price("m5.large"), 0.096);
        assert!(price("t3.nano") < price("m5.large"));
        assert_eq!(price("trn2.48xlarge"), f64::MAX, "no price: sorts last");
    }

    #[test]
    fn reservations_add_reserved_offerings_and_the_reserved_capacity_type() {
        let settings = Settings {
            reservations: vec![CapacityReservation {
                id: "cr-0123456789abcdef0".to_string(),
                instance_type: "m5.large".to_string(),
                zone: "us-east-1a".to_string(),
                available_count: 2,
                reservation_type: crate::offerings::ReservationType::Default,
                state: crate::offerings::ReservationState::Active,
                interruptible: false,
            }],
            ..Settings::default()
        };
        let spot = SpotPricing::new(
            catalog(),
            SpotSnapshot::embedded().expect("snapshot"),
            "us-east-1",
            SpotPolicy::default(),
        );
        let m5 = build_instance_type(catalog().get("m5.large").expect("m5"), &spot, &settings)
            .expect("build");
        assert_eq!(m5.offerings.len(), 13);
        let capacity_types: Vec<&str> = m5
            .requirements
            .find(joist_core::labels::CAPACITY_TYPE)
            .expect("ct")
            .values()
            .collect();
        assert_eq!(capacity_types, ["on-demand", "reserved", "spot"]);
        let mut reserved = Requirements::new();
        reserved.add(Requirement::in_values(
            joist_core::labels::CAPACITY_TYPE,
            ["reserved"],
        ));
        assert_eq!(
            m5.cheapest_compatible_price(&reserved),
            0.096 / 10_000_000.0
        );
    }

    #[test]
    fn invalid_kubelet_settings_fail_the_build() {
        let mut settings = Settings::default();
        settings
            .capacity
            .kubelet
            .system_reserved
            .insert("cpu".to_string(), "a lot".to_string());
        let error = build_instance_types(catalog(), &settings).expect_err("bad quantity");
        assert!(matches!(error, BuildError::Overhead { .. }), "{error}");
    }

    #[test]
    fn windows_types_get_110_pods_and_private_ipv4() {
        let settings = Settings {
            capacity: CapacitySettings::for_family(AmiFamily::Windows2022),
            ..Settings::default()
        };
        let types = build_instance_types(catalog(), &settings).expect("build");
        let m5 = types.iter().find(|t| t.name == "m5.large").expect("m5");
        assert_eq!(m5.capacity().get("pods"), Some(Quantity::from_int(110)));
        assert_eq!(
            m5.capacity().get("vpc.amazonaws.com/PrivateIPv4Address"),
            Some(Quantity::from_int(9))
        );
    }
}
