//! Prices (spec aws §3.7) from the embedded data: on-demand from the catalog's static tables and
//! spot from the embedded `DescribeSpotPriceHistory` snapshot (`data/ec2-spot-prices.json`).
//!
//! **On-demand.** The catalog carries Karpenter's static Linux tables for `us-east-1`,
//! `us-gov-east-1` and `us-gov-west-1` (USD). As upstream, a region without its own table uses
//! the us-east-1 table. (The cn-north-1 table is in CNY and is not used for offerings.)
//!
//! **Spot.** The snapshot has real prices per region, type and **AZ ID** for 17 regions (not the
//! us-gov ones). Upstream Karpenter, once it has spot data, treats a zone without a price as having
//! no offering. The snapshot is partial (one evening of 2022), so joist offers three policies
//! ([`SpotPolicy`]); the default estimates the missing prices and flags them
//! ([`PriceSource::Estimated`]) so reports can tell them apart.
//!
//! **Estimate formula.** For a type T in region R and an AZ without an observed price:
//! `estimate = on_demand(R, T) × ratio`, where `ratio` is the median of `spot(t, az) /
//! on_demand(R', t)` over every (type t, AZ) observation of T's family in the snapshot of R'
//! (R' = R when the snapshot covers R, else us-east-1); when the family has no observation, the
//! median over all observations of R' is used. Only catalog types with an on-demand price
//! contribute. On-demand prices in R' follow the table rule above.
//!
//! **Cost**: the snapshot (~220 KB) is parsed on first use and shared; ratios are computed once per
//! [`SpotPricing`] (one pass over R's observations).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::catalog::{Catalog, InstanceTypeRecord};

pub use joist_core::instancetype::PriceSource;

/// The embedded spot snapshot text.
const EMBEDDED_SPOT_JSON: &str = include_str!("../data/ec2-spot-prices.json");

/// The region whose on-demand table stands in for regions without one, and whose spot snapshot
/// gives the estimate ratios for regions the snapshot does not cover.
pub const FALLBACK_REGION: &str = "us-east-1";

/// Divisor applied to the on-demand price of reserved (ODCR / capacity-block) offerings, which
/// makes reserved capacity effectively free so the cost-driven scheduler always prefers it.
pub const RESERVED_PRICE_DIVISOR: f64 = 10_000_000.0;

/// Errors loading price data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The spot snapshot could not be parsed.
    #[error("spot snapshot: cannot parse at {path}: {message}")]
    Parse {
        /// JSON path of the offending value.
        path: String,
        /// The parser's description.
        message: String,
    },
    /// A spot price in the snapshot is negative or not finite.
    #[error("spot snapshot: {region} {instance_type} {zone_id}: bad price {price}")]
    InvalidPrice {
        /// Region of the observation.
        region: String,
        /// Instance type of the observation.
        instance_type: String,
        /// AZ ID of the observation.
        zone_id: String,
        /// The refused value, as text.
        price: String,
    },
}

/// Spot prices (USD/h) per region → instance type → AZ ID.
pub type SpotPriceTable = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

/// The embedded spot price snapshot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpotSnapshot {
    /// Provenance block of the file (repository, commit, time window); documentation only.
    source: serde_json::Value,
    /// AZ-ID prefixes the extraction could not map to a region (empty in the embedded file).
    unknown_az_prefixes: Vec<String>,
    /// The prices.
    prices_usd_per_hour: SpotPriceTable,
}

static EMBEDDED_SPOT: OnceLock<Result<SpotSnapshot, PricingError>> = OnceLock::new();

// === impl SpotSnapshot ===

impl SpotSnapshot {
    /// The embedded snapshot, parsed on first use and shared.
    pub fn embedded() -> Result<&'static SpotSnapshot, PricingError> {
        EMBEDDED_SPOT
            .get_or_init(|| SpotSnapshot::from_json(EMBEDDED_SPOT_JSON))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The embedded snapshot parsed anew, owned by the caller and not cached (see
    /// [`Catalog::parse_embedded`](crate::catalog::Catalog::parse_embedded)).
    pub fn parse_embedded() -> Result<SpotSnapshot, PricingError> {
        SpotSnapshot::from_json(EMBEDDED_SPOT_JSON)
    }

    /// Parses and validates a snapshot.
    pub fn from_json(text: &str) -> Result<SpotSnapshot, PricingError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let snapshot: SpotSnapshot =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
                PricingError::Parse {
                    path: error.path().to_string(),
                    message: error.inner().to_string(),
                }
            })?;
        for (region, types) in &snapshot.prices_usd_per_hour {
            for (instance_type, zones) in types {
                if let Some((zone_id, price)) =
                    zones.iter().find(|(_, p)| !p.is_finite() || **p < 0.0)
                {
                    return Err(PricingError::InvalidPrice {
                        region: region.clone(),
                        instance_type: instance_type.clone(),
                        zone_id: zone_id.clone(),
                        price: price.to_string(),
                    });
                }
            }
        }
        Ok(snapshot)
    }

    /// A snapshot from a ready table (for tests and callers with their own prices).
    pub fn from_table(prices_usd_per_hour: SpotPriceTable) -> SpotSnapshot {
        SpotSnapshot {
            source: serde_json::Value::Null,
            unknown_az_prefixes: Vec::new(),
            prices_usd_per_hour,
        }
    }

    /// The provenance block of the snapshot file.
    pub fn provenance(&self) -> &serde_json::Value {
        &self.source
    }

    /// AZ-ID prefixes the extraction could not map to a region (their prices are not in the table).
    pub fn unknown_az_prefixes(&self) -> &[String] {
        &self.unknown_az_prefixes
    }

    /// Whether the snapshot has any price for `region`.
    pub fn covers_region(&self, region: &str) -> bool {
        self.prices_usd_per_hour.contains_key(region)
    }

    /// Observed prices of `instance_type` in `region`, by AZ ID.
    pub fn prices(&self, region: &str, instance_type: &str) -> Option<&BTreeMap<String, f64>> {
        self.prices_usd_per_hour.get(region)?.get(instance_type)
    }

    /// The observed price of `instance_type` in the AZ `zone_id` of `region`.
    pub fn price(&self, region: &str, instance_type: &str, zone_id: &str) -> Option<f64> {
        self.prices(region, instance_type)?.get(zone_id).copied()
    }
}

/// On-demand price (USD/h) of `record` in `region`: the region's own table for the regions the
/// catalog prices separately (us-gov), else the us-east-1 table, as Karpenter's static seed does.
pub fn on_demand_price(record: &InstanceTypeRecord, region: &str) -> Option<f64> {
    if region.starts_with("us-gov-") {
        return record.on_demand_price(region);
    }
    record.on_demand_price(FALLBACK_REGION)
}

/// What to do for a spot offering whose AZ has no observed price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpotPolicy {
    /// Use the documented estimate, flagged [`PriceSource::Estimated`] (joist's default).
    #[default]
    EstimateMissing,
    /// No price, so the offering is unavailable: upstream after its first spot refresh.
    UnavailableWhenMissing,
    /// Ignore the snapshot and price spot at the on-demand price in every zone: upstream before
    /// its first spot refresh.
    OnDemandSeed,
}

/// A price and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// USD per hour.
    pub usd_per_hour: f64,
    /// Exact (published or observed) or estimated.
    pub source: PriceSource,
}

/// Spot pricing for one region: observed snapshot prices plus the precomputed estimate ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct SpotPricing<'a> {
    snapshot: &'a SpotSnapshot,
    region: String,
    policy: SpotPolicy,
    /// Median spot/on-demand ratio per instance family, from the ratio region's snapshot.
    family_ratios: BTreeMap<String, f64>,
    /// Median ratio over all observations of the ratio region; `None` when it has none.
    overall_ratio: Option<f64>,
}

// === impl SpotPricing ===

impl<'a> SpotPricing<'a> {
    /// Spot pricing for `region` under `policy`, with ratios computed from `catalog` and `snapshot`.
    pub fn new(
        catalog: &Catalog,
        snapshot: &'a SpotSnapshot,
        region: &str,
        policy: SpotPolicy,
    ) -> Self {
        let ratio_region = if snapshot.covers_region(region) {
            region
        } else {
            FALLBACK_REGION
        };
        let mut by_family: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        if let Some(types) = snapshot.prices_usd_per_hour.get(ratio_region) {
            for (name, zones) in types {
                let Some(record) = catalog.get(name) else {
                    continue;
                };
                let Some(on_demand) = on_demand_price(record, ratio_region).filter(|p| *p > 0.0)
                else {
                    continue;
                };
                let ratios = by_family.entry(record.family.clone()).or_default();
                ratios.extend(zones.values().map(|spot| spot / on_demand));
            }
        }
        let mut all: Vec<f64> = by_family.values().flatten().copied().collect();
        let overall_ratio = median(&mut all);
        let family_ratios = by_family
            .into_iter()
            .filter_map(|(family, mut ratios)| median(&mut ratios).map(|m| (family, m)))
            .collect();
        SpotPricing {
            snapshot,
            region: region.to_string(),
            policy,
            family_ratios,
            overall_ratio,
        }
    }

    /// The region priced.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The estimate ratio used for `family` (family median, else overall median).
    pub fn ratio_for_family(&self, family: &str) -> Option<f64> {
        self.family_ratios
            .get(family)
            .copied()
            .or(self.overall_ratio)
    }

    /// The spot price of `record` in the AZ `zone_id`, or `None` when the offering has no price.
    pub fn price(&self, record: &InstanceTypeRecord, zone_id: &str) -> Option<Price> {
        let on_demand = on_demand_price(record, &self.region);
        match self.policy {
            SpotPolicy::OnDemandSeed => on_demand.map(|usd_per_hour| Price {
                usd_per_hour,
                source: PriceSource::Exact,
            }),
            SpotPolicy::UnavailableWhenMissing => self.observed(record, zone_id),
            SpotPolicy::EstimateMissing => self.observed(record, zone_id).or_else(|| {
                let estimate = on_demand? * self.ratio_for_family(&record.family)?;
                Some(Price {
                    usd_per_hour: estimate,
                    source: PriceSource::Estimated,
                })
            }),
        }
    }

    fn observed(&self, record: &InstanceTypeRecord, zone_id: &str) -> Option<Price> {
        let usd_per_hour = self.snapshot.price(&self.region, &record.name, zone_id)?;
        Some(Price {
            usd_per_hour,
            source: PriceSource::Exact,
        })
    }
}

/// Median of `values` (mean of the two middle values for an even count); sorts in place.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> &'static Catalog {
        Catalog::embedded().expect("catalog")
    }

    fn record(name: &str) -> &'static InstanceTypeRecord {
        catalog()
            .get(name)
            .unwrap_or_else(|| panic!("{name} in catalog"))
    }

    #[test]
    fn embedded_snapshot_parses_and_has_us_east_1_zone_prices() {
        let snapshot = SpotSnapshot::embedded().expect("snapshot parses");
        assert!(snapshot.covers_region("us-east-1"));
        assert!(!snapshot.covers_region("us-gov-west-1"));
        assert_eq!(
            snapshot.price("us-east-1", "m5.large", "use1-az2"),
            Some(0.0424)
        );
        assert_eq!(snapshot.price("us-east-1", "m5.large", "use1-az1"), None);
        assert!(snapshot.provenance().get("repo").is_some());
        let owned = SpotSnapshot::parse_embedded().expect("snapshot parses");
        assert_eq!(&owned, snapshot);
    }

    #[test]
    fn bad_snapshot_is_an_error() {
        let error = SpotSnapshot::from_json(r#"{"source": {}, "unknown_az_prefixes": [], "prices_usd_per_hour": {"r": {"t": {"z": -1.0}}}}"#)
            .expect_err("negative price");
        assert!(
            matches!(error, PricingError::InvalidPrice { .. }),
            "{error}"
        );
        assert!(matches!(
            SpotSnapshot::from_json("{"),
            Err(PricingError::Parse { .. })
        ));
    }

    #[test]
    fn on_demand_uses_the_region_table_for_us_gov_and_us_east_1_elsewhere() {
        let g4dn = record("g4dn.8xlarge");
        assert_eq!(on_demand_price(g4dn, "us-east-1"), Some(2.176));
        assert_eq!(on_demand_price(g4dn, "us-gov-west-1"), Some(2.743));
        assert_eq!(
            on_demand_price(g4dn, "eu-west-1"),
            Some(2.176),
            "unknown regions use the us-east-1 table"
        );
        assert_eq!(on_demand_price(record("trn2.48xlarge"), "us-east-1"), None);
    }

    #[test]
    fn observed_spot_prices_are_exact_and_missing_zones_are_estimated_and_flagged() {
        let snapshot = SpotSnapshot::embedded().expect("snapshot");
        let pricing = SpotPricing::new(
            catalog(),
            snapshot,
            "us-east-1",
            SpotPolicy::EstimateMissing,
        );
        let m5 = record("m5.large");
        assert_eq!(
            pricing.price(m5, "use1-az2"),
            Some(Price {
                usd_per_hour: 0.0424,
                source: PriceSource::Exact
            })
        );
        let estimated = pricing.price(m5, "use1-az1").expect("estimate");
        assert_eq!(estimated.source, PriceSource::Estimated);
        let ratio = pricing.ratio_for_family("m5").expect("m5 has observations");
        assert_eq!(estimated.usd_per_hour, 0.096 * ratio);
        assert!(ratio > 0.0 && ratio < 1.0, "spot is a discount: {ratio}");
    }

    #[test]
    fn family_median_is_computed_over_observations() {
        let table: SpotPriceTable = [(
            "us-east-1".to_string(),
            [
                (
                    "m5.large".to_string(),
                    [
                        ("use1-az1".to_string(), 0.048),
                        ("use1-az2".to_string(), 0.024),
                    ]
                    .into(),
                ),
                (
                    "m5.xlarge".to_string(),
                    [("use1-az1".to_string(), 0.0576)].into(),
                ),
            ]
            .into(),
        )]
        .into();
        let snapshot = SpotSnapshot::from_table(table);
        let pricing = SpotPricing::new(
            catalog(),
            &snapshot,
            "us-east-1",
            SpotPolicy::EstimateMissing,
        );
        // Ratios 0.5, 0.25 (m5.large at 0.096) and 0.3 (m5.xlarge at 0.192): median 0.3.
        let ratio = pricing.ratio_for_family("m5").expect("ratio");
        assert!((ratio - 0.3).abs() < 1e-12, "{ratio}");
        // A family without observations falls back to the overall median.
        assert_eq!(
            pricing.ratio_for_family("c5"),
            pricing.ratio_for_family("m5")
        );
        let c5 = pricing
            .price(record("c5.large"), "use1-az3")
            .expect("estimate");
        assert_eq!(c5.source, PriceSource::Estimated);
    }

    #[test]
    fn us_gov_estimates_use_us_east_1_ratios_and_gov_on_demand() {
        let snapshot = SpotSnapshot::embedded().expect("snapshot");
        let gov = SpotPricing::new(
            catalog(),
            snapshot,
            "us-gov-west-1",
            SpotPolicy::EstimateMissing,
        );
        let east = SpotPricing::new(
            catalog(),
            snapshot,
            "us-east-1",
            SpotPolicy::EstimateMissing,
        );
        let g4dn = record("g4dn.8xlarge");
        let price = gov.price(g4dn, "usgw1-az1").expect("estimate");
        assert_eq!(price.source, PriceSource::Estimated);
        assert_eq!(
            price.usd_per_hour,
            2.743 * east.ratio_for_family("g4dn").expect("ratio")
        );
    }

    #[test]
    fn policies_unavailable_and_on_demand_seed() {
        let snapshot = SpotSnapshot::embedded().expect("snapshot");
        let strict = SpotPricing::new(
            catalog(),
            snapshot,
            "us-east-1",
            SpotPolicy::UnavailableWhenMissing,
        );
        let m5 = record("m5.large");
        assert_eq!(strict.price(m5, "use1-az1"), None);
        assert_eq!(
            strict.price(m5, "use1-az2").map(|p| p.usd_per_hour),
            Some(0.0424)
        );
        let seed = SpotPricing::new(catalog(), snapshot, "us-east-1", SpotPolicy::OnDemandSeed);
        assert_eq!(
            seed.price(m5, "use1-az2"),
            Some(Price {
                usd_per_hour: 0.096,
                source: PriceSource::Exact
            })
        );
        assert_eq!(
            seed.price(record("trn2.48xlarge"), "use1-az2"),
            None,
            "no on-demand price, no spot price"
        );
    }

    #[test]
    fn median_handles_even_odd_and_empty() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
