//! The embedded EC2 instance-type catalog (`data/ec2-instance-types.json`), typed and validated.
//!
//! Every field of the JSON records is documented (with its provenance) in `data/README.md`; the
//! struct below mirrors it one to one and refuses unknown fields, so a data refresh that adds or
//! renames a field fails loudly instead of being silently ignored.
//!
//! **Cost**: the embedded file is ~1.4 MB of JSON (1363 records). [`Catalog::embedded`] parses it
//! on first use and keeps the result for the life of the process; later calls are a pointer read.
//! Parsing and validating took about 30 ms in a debug build here (dependencies at opt-level 1);
//! an optimised build is faster. Building all 1363 [`joist_core::instancetype::InstanceType`]s
//! from it ([`crate::instancetype::build_instance_types`]) took about 200 ms in the same debug
//! build: do it once per NodeClass and settings change, not per scheduling decision.
//!
//! **ENI data for pod density.** Karpenter computes ENI-limited max pods from the live
//! `DescribeInstanceTypes` answer (`NetworkInfo.NetworkCards[DefaultNetworkCardIndex]
//! .MaximumNetworkInterfaces` and `Ipv4AddressesPerInterface`), not from its vendored VPC-limits
//! table. The catalog's ENI fields come from that table, which agrees with the API for every type
//! it lists, but 8 types are absent from it. For those, `data/eni-supplement.json` supplies the two
//! API values (see its section in `data/README.md`); [`InstanceTypeRecord::pod_network`] exposes
//! the resolved pair with its [`PodNetworkSource`]. The VPC-limits-only fields (`pod-eni`
//! branch interfaces, Windows IPv4 addresses) stay absent for those 8 types, exactly as in Karpenter,
//! whose lookups in that table fall back to 0 for unknown types.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The embedded instance-type catalog text.
const EMBEDDED_CATALOG_JSON: &str = include_str!("../../data/ec2-instance-types.json");
/// The embedded ENI supplement for the types missing from Karpenter's VPC-limits table.
const EMBEDDED_ENI_SUPPLEMENT_JSON: &str = include_str!("../../data/eni-supplement.json");

/// Errors raised while loading or validating a catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The JSON text could not be parsed into records (syntax error, wrong type, unknown or
    /// missing field). `path` is the JSON path of the offending value.
    #[error("catalog {source_name}: cannot parse at {path}: {message}")]
    Parse {
        /// Which document failed (`ec2-instance-types.json`, `eni-supplement.json`, ...).
        source_name: &'static str,
        /// JSON path of the value that failed, e.g. `[12].vcpu`.
        path: String,
        /// The parser's description of the problem.
        message: String,
    },
    /// Two records share a name; lookups by name would be ambiguous.
    #[error("catalog: duplicate instance type {name:?}")]
    DuplicateName {
        /// The repeated instance-type name.
        name: String,
    },
    /// A record parsed but holds a value that breaks an invariant the model relies on.
    #[error("catalog: instance type {name:?}: field {field}: {reason}")]
    InvalidRecord {
        /// The instance-type name of the record.
        name: String,
        /// The offending field.
        field: &'static str,
        /// Why the value is refused.
        reason: String,
    },
}

/// CPU architecture as Kubernetes names it (`kubernetes.io/arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// x86_64.
    Amd64,
    /// 64-bit ARM (Graviton).
    Arm64,
}

impl Arch {
    /// The `kubernetes.io/arch` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// Allocatable resources Karpenter published for this type (AL2023, default 20Gi root volume,
/// `vmMemoryOverheadPercent=0.075`, `reservedENIs=0`, no kubelet overrides). Kept as a test oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleAllocatable {
    /// Allocatable CPU in millicores.
    pub cpu_m: u64,
    /// Allocatable memory in MiB.
    pub memory_mib: u64,
    /// Allocatable ephemeral storage in GiB.
    pub ephemeral_storage_gib: u64,
    /// Max pods.
    pub pods: u64,
    /// `vpc.amazonaws.com/pod-eni` capacity.
    pub pod_eni: u64,
}

/// One EC2 instance type as recorded in the embedded catalog. Field meanings and sources are in
/// `data/README.md`; `None` means the source has no value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceTypeRecord {
    /// Instance type name, e.g. `m5.large`.
    pub name: String,
    /// Text before the dot, e.g. `m7i-flex`.
    pub family: String,
    /// Leading letters of the name (Karpenter's parse), e.g. `m`, `inf`.
    pub category: String,
    /// Generation digits (Karpenter's parse).
    pub generation: u32,
    /// Text after the dot, e.g. `metal-24xl`.
    pub size: String,
    /// CPU architecture.
    pub arch: Arch,
    /// Default vCPUs.
    pub vcpu: u32,
    /// Memory in MiB, before any overhead.
    pub memory_mib: u64,
    /// CPU manufacturer label value (`intel`, `amd`, `aws`, `apple`).
    pub cpu_manufacturer: String,
    /// Sustained clock speed in MHz.
    pub cpu_sustained_clock_speed_mhz: u32,
    /// Whether the family is a `-flex` family.
    pub capability_flex: bool,
    /// GPU count, only when the type has exactly one GPU kind.
    pub gpu_count: Option<u32>,
    /// GPU name label value, only with exactly one GPU kind.
    pub gpu_name: Option<String>,
    /// GPU manufacturer label value, only with exactly one GPU kind.
    pub gpu_manufacturer: Option<String>,
    /// Memory per GPU in MiB, only with exactly one GPU kind.
    pub gpu_memory_mib: Option<u64>,
    /// `nvidia.com/gpu` count.
    pub nvidia_gpu: u32,
    /// `amd.com/gpu` count.
    pub amd_gpu: u32,
    /// `habana.ai/gaudi` count.
    pub habana_gaudi: u32,
    /// Accelerator name label value (Neuron device or inference accelerator).
    pub accelerator_name: Option<String>,
    /// Accelerator manufacturer label value.
    pub accelerator_manufacturer: Option<String>,
    /// Accelerator count label value.
    pub accelerator_count: Option<u32>,
    /// `aws.amazon.com/neuron` device count.
    pub neuron_devices: u32,
    /// `aws.amazon.com/neuroncore` count.
    pub neuron_cores: u32,
    /// MaximumEfaInterfaces (`vpc.amazonaws.com/efa`).
    pub efa_max: u32,
    /// VPC limits: total ENIs across all network cards.
    pub max_enis: Option<u32>,
    /// VPC limits: max ENIs of the default network card (what max pods uses).
    pub default_card_max_enis: Option<u32>,
    /// VPC limits: number of network cards.
    pub network_cards: Option<u32>,
    /// VPC limits: IPv4 addresses per ENI.
    pub ipv4_per_eni: Option<u32>,
    /// VPC limits: whether ENI trunking (security groups for pods) is supported.
    pub trunking_compatible: Option<bool>,
    /// VPC limits: branch ENIs (`vpc.amazonaws.com/pod-eni` when trunking is compatible).
    pub branch_enis: Option<u32>,
    /// Baseline network bandwidth in Mbps; `None` for vague ratings.
    pub network_bandwidth_mbps: Option<u64>,
    /// Max EBS bandwidth in Mbps, only when EBS optimisation is on by default.
    pub ebs_bandwidth_mbps: Option<u64>,
    /// Local instance storage in GB (decimal), when present and NVMe-capable.
    pub local_nvme_gb: Option<u64>,
    /// `nitro` / `xen`; `None` for bare metal (label value is the empty string).
    pub hypervisor: Option<String>,
    /// Whether in-transit encryption is supported.
    pub encryption_in_transit_supported: bool,
    /// Whether the type is bare metal.
    pub bare_metal: bool,
    /// EC2's CurrentGeneration flag; `None` everywhere (no source records it).
    pub current_generation: Option<bool>,
    /// us-east-1 on-demand Linux price (USD/h).
    pub on_demand_price_usd_per_hour: Option<f64>,
    /// On-demand price (USD/h) per region, only regions with a price.
    pub on_demand_prices_usd_per_hour: BTreeMap<String, f64>,
    /// cn-north-1 on-demand price in CNY/h.
    pub on_demand_price_cny_per_hour_cn_north_1: Option<f64>,
    /// Karpenter's published allocatable for AL2023 defaults (test oracle).
    pub karpenter_al2023_allocatable: OracleAllocatable,
    /// Resolved ENI inputs of the ENI-limited max-pods formula (filled at load, not in the JSON).
    #[serde(skip)]
    pod_network: Option<PodNetwork>,
}

/// Where the ENI inputs of the max-pods formula came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PodNetworkSource {
    /// The catalog's VPC-limits fields (equal to the EC2 API for every type the table lists).
    VpcLimits,
    /// `data/eni-supplement.json`, for types missing from the VPC-limits table.
    Supplement,
}

/// The two EC2 `NetworkInfo` values Karpenter's ENI-limited max-pods formula uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PodNetwork {
    /// MaximumNetworkInterfaces of the default network card.
    pub default_card_max_enis: u32,
    /// Ipv4AddressesPerInterface.
    pub ipv4_per_eni: u32,
    /// Provenance of the two values.
    pub source: PodNetworkSource,
}

/// The VPC-limits view of a record (Karpenter's vendored `zz_generated.vpclimits.go`), present only
/// when the type is in that table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VpcLimits {
    /// Total ENIs across all cards.
    pub max_enis: u32,
    /// ENIs of the default network card.
    pub default_card_max_enis: u32,
    /// Number of network cards.
    pub network_cards: u32,
    /// IPv4 addresses per ENI.
    pub ipv4_per_eni: u32,
    /// ENI trunking support.
    pub trunking_compatible: bool,
    /// Branch ENIs.
    pub branch_enis: u32,
}

// === impl InstanceTypeRecord ===

impl InstanceTypeRecord {
    /// The VPC-limits entry of this type, or `None` when the table does not list it.
    pub fn vpc_limits(&self) -> Option<VpcLimits> {
        Some(VpcLimits {
            max_enis: self.max_enis?,
            default_card_max_enis: self.default_card_max_enis?,
            network_cards: self.network_cards?,
            ipv4_per_eni: self.ipv4_per_eni?,
            trunking_compatible: self.trunking_compatible?,
            branch_enis: self.branch_enis?,
        })
    }

    /// The ENI inputs of the max-pods formula. Always `Some` for records of a loaded [`Catalog`]
    /// (loading fails otherwise); `None` only for a record built outside a catalog.
    pub fn pod_network(&self) -> Option<PodNetwork> {
        self.pod_network
    }

    /// Sets the ENI inputs of the max-pods formula (for records built by hand, e.g. in tests).
    pub fn with_pod_network(mut self, default_card_max_enis: u32, ipv4_per_eni: u32) -> Self {
        self.pod_network = Some(PodNetwork {
            default_card_max_enis,
            ipv4_per_eni,
            source: PodNetworkSource::Supplement,
        });
        self
    }

    /// On-demand price (USD/h) in `region`, if the catalog prices it there.
    pub fn on_demand_price(&self, region: &str) -> Option<f64> {
        self.on_demand_prices_usd_per_hour.get(region).copied()
    }

    fn invalid(&self, field: &'static str, reason: impl Into<String>) -> CatalogError {
        CatalogError::InvalidRecord {
            name: self.name.clone(),
            field,
            reason: reason.into(),
        }
    }

    /// Checks the invariants the capacity, label and pricing code rely on.
    fn validate(&self) -> Result<(), CatalogError> {
        let Some((family, size)) = self.name.split_once('.') else {
            return Err(self.invalid("name", "expected <family>.<size>"));
        };
        if family != self.family {
            return Err(self.invalid(
                "family",
                format!("{:?} is not the text before the dot", self.family),
            ));
        }
        if size != self.size {
            return Err(self.invalid(
                "size",
                format!("{:?} is not the text after the dot", self.size),
            ));
        }
        if self.vcpu == 0 {
            return Err(self.invalid("vcpu", "must be positive"));
        }
        // arm64 capacity subtracts 64 MiB of CMA; anything at or below that cannot be a real type.
        if self.memory_mib <= 64 {
            return Err(self.invalid("memory_mib", "must exceed 64 MiB"));
        }
        self.validate_eni_fields()?;
        self.validate_prices()
    }

    fn validate_eni_fields(&self) -> Result<(), CatalogError> {
        let present = [
            self.max_enis.is_some(),
            self.default_card_max_enis.is_some(),
            self.network_cards.is_some(),
            self.ipv4_per_eni.is_some(),
            self.trunking_compatible.is_some(),
            self.branch_enis.is_some(),
        ];
        if present.iter().any(|p| *p) && !present.iter().all(|p| *p) {
            return Err(self.invalid(
                "max_enis",
                "VPC-limits fields must be all present or all null",
            ));
        }
        if self.ipv4_per_eni == Some(0) {
            return Err(self.invalid("ipv4_per_eni", "must be positive"));
        }
        Ok(())
    }

    fn validate_prices(&self) -> Result<(), CatalogError> {
        let all = self
            .on_demand_prices_usd_per_hour
            .values()
            .chain(self.on_demand_price_usd_per_hour.iter())
            .chain(self.on_demand_price_cny_per_hour_cn_north_1.iter());
        for price in all {
            if !price.is_finite() || *price < 0.0 {
                return Err(self.invalid(
                    "on_demand_prices_usd_per_hour",
                    format!("bad price {price}"),
                ));
            }
        }
        if self.on_demand_price_usd_per_hour != self.on_demand_price("us-east-1") {
            return Err(self.invalid(
                "on_demand_price_usd_per_hour",
                "differs from on_demand_prices_usd_per_hour[\"us-east-1\"]",
            ));
        }
        Ok(())
    }

    /// Resolves [`Self::pod_network`] from the VPC-limits fields or the supplement.
    fn resolve_pod_network(&mut self, supplement: &EniSupplement) -> Result<(), CatalogError> {
        let from_supplement = supplement.types.get(&self.name);
        self.pod_network = match (self.vpc_limits(), from_supplement) {
            (Some(limits), None) => Some(PodNetwork {
                default_card_max_enis: limits.default_card_max_enis,
                ipv4_per_eni: limits.ipv4_per_eni,
                source: PodNetworkSource::VpcLimits,
            }),
            (None, Some(entry)) => Some(PodNetwork {
                default_card_max_enis: entry.default_card_max_enis,
                ipv4_per_eni: entry.ipv4_per_eni,
                source: PodNetworkSource::Supplement,
            }),
            (Some(_), Some(_)) => {
                return Err(self.invalid(
                    "default_card_max_enis",
                    "listed in VPC limits and in the ENI supplement",
                ));
            }
            (None, None) => {
                return Err(self.invalid(
                    "default_card_max_enis",
                    "no VPC-limits entry and no ENI supplement entry",
                ));
            }
        };
        Ok(())
    }
}

/// `data/eni-supplement.json`: EC2 API ENI values for types missing from the VPC-limits table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EniSupplement {
    /// Human-readable provenance (kept in the file; the README documents it in full).
    #[allow(dead_code)]
    source: String,
    types: BTreeMap<String, EniSupplementEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EniSupplementEntry {
    default_card_max_enis: u32,
    ipv4_per_eni: u32,
    /// How the pair was obtained (documentation only).
    #[allow(dead_code)]
    derivation: String,
}

/// A validated, name-sorted set of instance-type records.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// Records sorted by name (unique), so lookups are binary searches and iteration is ordered.
    records: Vec<InstanceTypeRecord>,
}

static EMBEDDED: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();

// === impl Catalog ===

impl Catalog {
    /// The catalog embedded in the binary, parsed and validated on first use (see the module docs
    /// for the cost) and shared afterwards.
    pub fn embedded() -> Result<&'static Catalog, CatalogError> {
        EMBEDDED
            .get_or_init(|| Catalog::from_json(EMBEDDED_CATALOG_JSON, EMBEDDED_ENI_SUPPLEMENT_JSON))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The embedded catalog parsed anew, owned by the caller and not cached: for a process that
    /// builds its instance types once and has no further use for the records (about 3 MB).
    pub fn parse_embedded() -> Result<Catalog, CatalogError> {
        Catalog::from_json(EMBEDDED_CATALOG_JSON, EMBEDDED_ENI_SUPPLEMENT_JSON)
    }

    /// Parses and validates a catalog from the JSON texts of the record array and the ENI supplement.
    pub fn from_json(
        records_json: &str,
        eni_supplement_json: &str,
    ) -> Result<Catalog, CatalogError> {
        let records: Vec<InstanceTypeRecord> = parse_json("ec2-instance-types.json", records_json)?;
        let supplement: EniSupplement = parse_json("eni-supplement.json", eni_supplement_json)?;
        Catalog::from_records(records, &supplement)
    }

    fn from_records(
        mut records: Vec<InstanceTypeRecord>,
        supplement: &EniSupplement,
    ) -> Result<Catalog, CatalogError> {
        records.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(pair) = records.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(CatalogError::DuplicateName {
                name: pair[0].name.clone(),
            });
        }
        for record in &mut records {
            record.validate()?;
            record.resolve_pod_network(supplement)?;
        }
        if let Some(unknown) = supplement
            .types
            .keys()
            .find(|name| !records.iter().any(|r| &&r.name == name))
        {
            return Err(CatalogError::InvalidRecord {
                name: unknown.clone(),
                field: "name",
                reason: "ENI supplement entry for a type that is not in the catalog".to_string(),
            });
        }
        Ok(Catalog { records })
    }

    /// All records, sorted by name.
    pub fn records(&self) -> &[InstanceTypeRecord] {
        &self.records
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the catalog holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&InstanceTypeRecord> {
        self.records
            .binary_search_by(|record| record.name.as_str().cmp(name))
            .ok()
            .map(|index| &self.records[index])
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(
    source_name: &'static str,
    text: &str,
) -> Result<T, CatalogError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| CatalogError::Parse {
        source_name,
        path: error.path().to_string(),
        message: error.inner().to_string(),
    })
}

#[cfg(test)]
pub(crate) mod tests;
