//! All CRD manifests joist installs, and their multi-document YAML form (`joist crds`, the Helm
//! chart's `crds/`).

use serde_json::Value;

use crate::common::LabelPolicy;

/// The `karpenter.sh` CRDs under core Karpenter's label policy: NodePool, NodeClaim.
pub fn karpenter() -> Vec<Value> {
    karpenter_with(&LabelPolicy::karpenter())
}

/// The `karpenter.sh` CRDs under a provider's label policy (restricted domains become CEL rules).
pub fn karpenter_with(policy: &LabelPolicy) -> Vec<Value> {
    vec![
        crate::nodepool::crd_with(policy),
        crate::nodeclaim::crd_with(policy),
    ]
}

/// Every CRD joist installs, in install order: NodePool, NodeClaim, then the provider's NodeClass;
/// the `karpenter.sh` ones under core Karpenter's label policy.
pub fn all() -> Vec<Value> {
    all_with(&LabelPolicy::karpenter())
}

/// [`all`] with the `karpenter.sh` CRDs under a provider's label policy.
pub fn all_with(policy: &LabelPolicy) -> Vec<Value> {
    let mut crds = karpenter_with(policy);
    crds.extend(provider());
    crds
}

/// The provider's NodeClass CRDs: EC2NodeClass.
pub fn provider() -> Vec<Value> {
    vec![crate::ec2nodeclass::crd()]
}

/// The CRDs as a multi-document YAML stream, each document introduced by `---`.
pub fn to_yaml(crds: &[Value]) -> String {
    let mut out = String::new();
    for crd in crds {
        out.push_str("---\n");
        // A `serde_json::Value` always serialises to YAML (string keys, finite numbers), so the
        // fallback below is unreachable in practice; it keeps the stream well-formed regardless.
        match serde_yaml_ng::to_string(crd) {
            Ok(doc) => out.push_str(&doc),
            Err(e) => out.push_str(&format!("# cannot render CRD: {e}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_stream_round_trips_every_crd() {
        let crds = all();
        let yaml = to_yaml(&crds);
        assert_eq!(yaml.matches("---\n").count(), crds.len());
        let parsed: Vec<Value> = yaml
            .split("---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_yaml_ng::from_str(d).unwrap())
            .collect();
        assert_eq!(parsed, crds);
        let names: Vec<&str> = parsed
            .iter()
            .map(|c| c["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "nodepools.karpenter.sh",
                "nodeclaims.karpenter.sh",
                "ec2nodeclasses.karpenter.k8s.aws"
            ]
        );
    }
}
