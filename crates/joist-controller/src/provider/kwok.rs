//! The kwok cloud provider (spec core §8): an "instance" is a Node object that kwok plays the
//! kubelet of. The instance types are the AWS ones from joist-aws's embedded catalog, so kwok
//! clusters exercise the same decisions a real EKS cluster would.
//!
//! Differences from upstream's kwok provider, on purpose: the catalog is AWS's (not the 144
//! synthetic `c-1x-amd64-linux` types); the Node is named after its NodeClaim and created
//! synchronously (no `nodeRegistrationDelay`); capacity and allocatable are the instance type's
//! (upstream copies the NodeClaim's requests into capacity); among equally cheap offerings the
//! first zone in name order wins instead of a random one, so launches are reproducible.

use std::collections::BTreeMap;
use std::sync::Arc;

use joist_api::nodeclaim::NodeClaim;
use joist_aws::catalog::Catalog;
use joist_aws::instancetype::{Settings, build_instance_types_with};
use joist_aws::labels::label_aliases;
use joist_aws::offerings::Placement;
use joist_aws::pricing::SpotSnapshot;
use joist_core::instancetype::{InstanceType, Offering};
use joist_core::labels::{HOSTNAME, INSTANCE_TYPE, LabelAliases};
use joist_core::requirements::{Operator, Requirements};
use joist_core::resources::ResourceList;
use joist_core::taints::Taint;
use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus, Taint as KubeTaint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

use super::{CloudProvider, Deletion, Instance, Launched, ProviderError};

/// The label and annotation kwok looks for on the nodes it manages.
pub const KWOK_NODE: (&str, &str) = ("kwok.x-k8s.io/node", "fake");
/// Upstream kwok's partition label.
pub const KWOK_PARTITION: (&str, &str) = ("kwok-partition", "a");
/// The label eks-node-viewer reads a node's price from (upstream kwok sets it).
pub const INSTANCE_PRICE_LABEL: &str = "eks-node-viewer/instance-price";
/// Prefix of kwok provider IDs: `kwok://<node name>`.
pub const PROVIDER_ID_PREFIX: &str = "kwok://";

/// The kwok provider over a fixed list of instance types.
#[derive(Clone)]
pub struct KwokProvider {
    client: Client,
    types: Arc<[InstanceType]>,
    by_name: Arc<BTreeMap<String, usize>>,
    aliases: LabelAliases,
}

impl std::fmt::Debug for KwokProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KwokProvider")
            .field("instance_types", &self.types.len())
            .finish_non_exhaustive()
    }
}

/// The instance type and offering a launch gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice<'a> {
    /// The instance type.
    pub instance_type: &'a InstanceType,
    /// Its cheapest compatible offering.
    pub offering: &'a Offering,
}

// === impl KwokProvider ===

impl KwokProvider {
    /// A provider selling `types`.
    pub fn new(client: Client, types: Arc<[InstanceType]>) -> Self {
        let by_name = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Self {
            client,
            types,
            by_name: Arc::new(by_name),
            aliases: label_aliases(),
        }
    }

    /// A provider selling every type of the embedded AWS catalog in `region`'s default zones.
    pub fn with_aws_catalog(client: Client, region: &str) -> Result<Self, ProviderError> {
        let failed = |message: String| ProviderError::Create {
            reason: "InstanceTypesUnavailable".to_owned(),
            message,
        };
        let placement = Placement::default_for_region(region).map_err(|e| failed(e.to_string()))?;
        // Parsed for this build only, not the process-wide cached copies: the records and spot
        // prices are dropped as soon as the types exist (a few MB the controller never reads).
        let catalog = Catalog::parse_embedded().map_err(|e| failed(e.to_string()))?;
        let spot = SpotSnapshot::parse_embedded().map_err(|e| failed(e.to_string()))?;
        let settings = Settings {
            placement,
            ..Settings::default()
        };
        let types = build_instance_types_with(&catalog, &spot, &settings)
            .map_err(|e| failed(e.to_string()))?;
        Ok(Self::new(client, Arc::from(types)))
    }

    /// Upstream kwok's choice: over the listed types in name order, the type whose cheapest
    /// available offering compatible with `requirements` is strictly cheapest (the first wins
    /// ties); within it the first such offering in zone order.
    pub fn choose<'a>(&'a self, requirements: &Requirements) -> Option<Choice<'a>> {
        let listed = requirements.find(INSTANCE_TYPE)?;
        if listed.operator() != Operator::In {
            return None;
        }
        let mut names: Vec<&str> = listed.values().collect();
        names.sort_unstable();
        let mut best: Option<Choice<'a>> = None;
        for name in names {
            let Some(&index) = self.by_name.get(name) else {
                continue;
            };
            let instance_type = &self.types[index];
            let mut offerings: Vec<&Offering> = instance_type
                .offerings
                .iter()
                .filter(|o| o.is_available_for(requirements))
                .collect();
            offerings.sort_by(|a, b| a.price.total_cmp(&b.price).then(a.zone().cmp(&b.zone())));
            let Some(offering) = offerings.first().copied() else {
                continue;
            };
            if best.is_none_or(|b| offering.price < b.offering.price) {
                best = Some(Choice {
                    instance_type,
                    offering,
                });
            }
        }
        best
    }

    /// The Node that plays the instance of `claim` (named `name`) launched as `choice`.
    pub fn node_for(
        claim: &NodeClaim,
        requirements: &Requirements,
        choice: Choice<'_>,
        name: &str,
    ) -> Node {
        let labels = launch_labels(claim, requirements, choice, name);
        let mut taints = vec![Taint::unregistered_no_execute()];
        // kwok starts the node with the NodeClaim's taints; registration adds the rest.
        taints.extend(claim.taints().unwrap_or_default());
        Node {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                labels: Some(labels),
                annotations: Some(BTreeMap::from([(
                    KWOK_NODE.0.to_owned(),
                    KWOK_NODE.1.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                provider_id: Some(format!("{PROVIDER_ID_PREFIX}{name}")),
                taints: Some(taints.iter().map(kube_taint).collect()),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                capacity: Some(kube_resources(choice.instance_type.capacity())),
                allocatable: Some(kube_resources(choice.instance_type.allocatable())),
                phase: Some("Pending".to_owned()),
                ..NodeStatus::default()
            }),
        }
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// The Node for `claim`: created, or the one a previous launch already created.
    async fn create_node(&self, node: &Node, name: &str) -> Result<Node, ProviderError> {
        match self.nodes().create(&PostParams::default(), node).await {
            Ok(created) => Ok(created),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // A launch whose status patch was lost: the instance exists, reuse it.
                Ok(self.nodes().get(name).await?)
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// Labels of a launched node: the NodeClaim's, every single-valued `In` requirement of the
/// NodeClaim, of the instance type and of the offering, the hostname, kwok's markers and the
/// price.
fn launch_labels(
    claim: &NodeClaim,
    requirements: &Requirements,
    choice: Choice<'_>,
    name: &str,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for source in [
        requirements,
        &choice.instance_type.requirements,
        &choice.offering.requirements,
    ] {
        for requirement in source.iter() {
            if requirement.operator() == Operator::In
                && let [value] = requirement.shared_values()
            {
                labels.insert(requirement.key().to_owned(), value.to_string());
            }
        }
    }
    // The instance type's name is decided now, even though the NodeClaim listed several.
    labels.insert(INSTANCE_TYPE.to_owned(), choice.instance_type.name.clone());
    labels.extend(claim.metadata.labels.clone().unwrap_or_default());
    labels.insert(HOSTNAME.to_owned(), name.to_owned());
    labels.insert(KWOK_NODE.0.to_owned(), KWOK_NODE.1.to_owned());
    labels.insert(KWOK_PARTITION.0.to_owned(), KWOK_PARTITION.1.to_owned());
    labels.insert(
        INSTANCE_PRICE_LABEL.to_owned(),
        format!("{:.6}", choice.offering.price),
    );
    labels
}

/// A core taint in the API's form.
pub fn kube_taint(taint: &Taint) -> KubeTaint {
    KubeTaint {
        key: taint.key.clone(),
        value: (!taint.value.is_empty()).then(|| taint.value.clone()),
        effect: taint.effect.as_str().to_owned(),
        time_added: None,
    }
}

/// A core resource list in the API's form.
pub fn kube_resources(list: &ResourceList) -> BTreeMap<String, Quantity> {
    list.iter()
        .map(|(name, quantity)| (name.to_owned(), Quantity(quantity.to_string())))
        .collect()
}

/// The node name in a kwok provider ID.
fn node_name(provider_id: &str) -> Option<&str> {
    provider_id
        .strip_prefix(PROVIDER_ID_PREFIX)
        .filter(|name| !name.is_empty())
}

fn not_found(provider_id: &str) -> ProviderError {
    ProviderError::NotFound {
        provider_id: provider_id.to_owned(),
    }
}

impl CloudProvider for KwokProvider {
    fn name(&self) -> &'static str {
        "kwok"
    }

    fn instance_types(&self) -> &Arc<[InstanceType]> {
        &self.types
    }

    async fn create(&self, claim: &NodeClaim) -> Result<Launched, ProviderError> {
        let requirements =
            claim
                .requirements(&self.aliases)
                .map_err(|e| ProviderError::Create {
                    reason: "InvalidRequirements".to_owned(),
                    message: e.to_string(),
                })?;
        let choice = self
            .choose(&requirements)
            .ok_or_else(|| ProviderError::InsufficientCapacity {
                reason: format!(
                    "no instance type of NodeClaim {} has an available offering compatible with its requirements",
                    claim.name()
                ),
            })?;
        let name = claim.name();
        let node = Self::node_for(claim, &requirements, choice, name);
        let created = self.create_node(&node, name).await?;
        let labels = created.metadata.labels.unwrap_or_default();
        Ok(Launched {
            provider_id: format!("{PROVIDER_ID_PREFIX}{name}"),
            instance_type: choice.instance_type.name.clone(),
            zone: choice.offering.zone().unwrap_or_default().to_owned(),
            capacity_type: choice
                .offering
                .capacity_type()
                .unwrap_or_default()
                .to_owned(),
            price: choice.offering.price,
            labels,
            capacity: choice.instance_type.capacity().clone(),
            allocatable: choice.instance_type.allocatable().clone(),
        })
    }

    async fn delete(&self, claim: &NodeClaim) -> Result<Deletion, ProviderError> {
        let provider_id = claim
            .status
            .as_ref()
            .and_then(|s| s.provider_id.as_deref())
            .unwrap_or_default();
        let name = node_name(provider_id).ok_or_else(|| not_found(provider_id))?;
        match self.nodes().delete(name, &DeleteParams::default()).await {
            // kwok instances terminate at once (upstream's Delete always ends in NotFound).
            Ok(_) => Ok(Deletion::Gone),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Deletion::Gone),
            Err(error) => Err(error.into()),
        }
    }

    async fn get(&self, provider_id: &str) -> Result<Instance, ProviderError> {
        let name = node_name(provider_id).ok_or_else(|| not_found(provider_id))?;
        match self.nodes().get_opt(name).await? {
            Some(node) if node.metadata.deletion_timestamp.is_none() => {
                Ok(instance_of(&node).unwrap_or_else(|| Instance::new(provider_id)))
            }
            _ => Err(not_found(provider_id)),
        }
    }

    async fn list(&self) -> Result<Vec<Instance>, ProviderError> {
        let nodes = self.nodes().list(&ListParams::default()).await?;
        Ok(nodes.items.iter().filter_map(instance_of).collect())
    }
}

/// The instance a kwok Node stands for: the Node is the instance, named after its NodeClaim and
/// launched when it was created. `None` for Nodes this provider did not launch.
fn instance_of(node: &Node) -> Option<Instance> {
    let provider_id = node.spec.as_ref()?.provider_id.clone()?;
    if !provider_id.starts_with(PROVIDER_ID_PREFIX) {
        return None;
    }
    let name = node.metadata.name.clone();
    Some(Instance {
        provider_id,
        launched: node
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(crate::node_termination::to_chrono),
        nodeclaim: name.clone(),
        node: name,
    })
}

#[cfg(test)]
mod tests;
