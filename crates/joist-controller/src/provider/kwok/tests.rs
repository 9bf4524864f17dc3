use super::*;
use joist_api::common::NodeSelectorRequirementWithMinValues as Wire;
use joist_api::nodeclaim::NodeClaimSpec;
use joist_core::labels::{CAPACITY_TYPE, NODEPOOL, ZONE};

fn provider() -> KwokProvider {
    // A client is needed to build the provider; these tests never send a request.
    let config = kube::Config::new("http://127.0.0.1:9".parse().expect("uri"));
    let client = Client::try_from(config).expect("client");
    KwokProvider::with_aws_catalog(client, "us-east-1").expect("catalog")
}

fn claim(requirements: Vec<Wire>) -> NodeClaim {
    let mut claim = NodeClaim::new(
        "default-abcde",
        NodeClaimSpec {
            requirements: Some(requirements),
            ..NodeClaimSpec::default()
        },
    );
    claim.metadata.labels = Some(BTreeMap::from([(
        NODEPOOL.to_owned(),
        "default".to_owned(),
    )]));
    claim
}

// The kube client needs a runtime to exist, though no request is sent.
#[tokio::test]
async fn the_cheapest_compatible_offering_wins() {
    let provider = provider();
    let claim = claim(vec![
        Wire::new(INSTANCE_TYPE, "In", &["m5.xlarge", "m5.large", "c5.large"]),
        Wire::new(CAPACITY_TYPE, "In", &["on-demand"]),
    ]);
    let requirements = claim.requirements(&provider.aliases).expect("requirements");
    let choice = provider.choose(&requirements).expect("a launch");
    // c5.large (2 vCPU, 4 GiB) is cheaper on demand than m5.large and m5.xlarge.
    assert_eq!(choice.instance_type.name, "c5.large");
    assert_eq!(choice.offering.capacity_type(), Some("on-demand"));
    let cheapest_listed = ["m5.xlarge", "m5.large", "c5.large"]
        .iter()
        .map(|name| {
            provider.types[provider.by_name[*name]].cheapest_compatible_price(&requirements)
        })
        .fold(f64::INFINITY, f64::min);
    assert_eq!(choice.offering.price, cheapest_listed);
}

// The kube client needs a runtime to exist, though no request is sent.
#[tokio::test]
async fn no_compatible_offering_means_no_launch() {
    let provider = provider();
    let claim = claim(vec![
        Wire::new(INSTANCE_TYPE, "In", &["m5.large"]),
        Wire::new(ZONE, "In", &["eu-west-1a"]),
    ]);
    let requirements = claim.requirements(&provider.aliases).expect("requirements");
    assert!(provider.choose(&requirements).is_none());
}

// The kube client needs a runtime to exist, though no request is sent.
#[tokio::test]
async fn the_node_is_one_kwok_manages_and_karpenter_must_register() {
    let provider = provider();
    let claim = claim(vec![
        Wire::new(INSTANCE_TYPE, "In", &["m5.large"]),
        Wire::new(CAPACITY_TYPE, "In", &["spot"]),
    ]);
    let requirements = claim.requirements(&provider.aliases).expect("requirements");
    let choice = provider.choose(&requirements).expect("a launch");
    let node = KwokProvider::node_for(&claim, &requirements, choice, "default-abcde");
    let labels = node.metadata.labels.as_ref().expect("labels");
    assert_eq!(labels[KWOK_NODE.0], "fake");
    assert_eq!(labels[INSTANCE_TYPE], "m5.large");
    assert_eq!(labels[CAPACITY_TYPE], "spot");
    assert_eq!(labels[NODEPOOL], "default");
    assert_eq!(labels[HOSTNAME], "default-abcde");
    assert!(labels[ZONE].starts_with("us-east-1"), "{labels:?}");
    assert_eq!(
        node.metadata.annotations.as_ref().expect("annotations")[KWOK_NODE.0],
        "fake"
    );
    let spec = node.spec.as_ref().expect("spec");
    assert_eq!(spec.provider_id.as_deref(), Some("kwok://default-abcde"));
    let taints = spec.taints.as_ref().expect("taints");
    assert!(
        taints
            .iter()
            .any(|t| t.key == "karpenter.sh/unregistered" && t.effect == "NoExecute")
    );
    let status = node.status.as_ref().expect("status");
    assert_eq!(
        status.capacity.as_ref().expect("capacity")["cpu"],
        Quantity("2".to_owned())
    );
    let allocatable = status.allocatable.as_ref().expect("allocatable");
    assert!(allocatable.contains_key("memory") && allocatable.contains_key("pods"));
}

#[test]
fn provider_ids_name_the_node() {
    assert_eq!(node_name("kwok://default-abcde"), Some("default-abcde"));
    assert_eq!(node_name("kwok://"), None);
    assert_eq!(node_name("aws:///us-east-1a/i-0"), None);
}
