//! The table of CEL cases of `tests/crds.rs`: at least one object per CEL message of spec core
//! §1.1 (NodePool, NodeClaim; the transition rules are exercised as updates in `crds.rs`) and of
//! spec aws §1.1 (restricted tags, AMI alias rules, selector-term exclusions), with valid
//! neighbours that must pass. Each case is a JSON merge patch on a valid base object.

use serde_json::{Value, json};

/// One object of the table and the message the server must refuse it with ([`VALID`]: none).
#[derive(Debug)]
pub struct Case {
    /// The object sent to joist and to the server.
    pub object: Value,
    /// A message the server's errors must end with, or [`VALID`].
    pub expect: &'static str,
}

/// The mark of an object both sides must accept.
pub const VALID: &str = "";

const GT_LT: &str =
    "requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must have a single positive integer value";
const IN_VALUES: &str = "requirements with operator 'In' must have a value defined";
const KARPENTER_SH: &str = r#"label domain "karpenter.sh" is restricted"#;
const AWS_DOMAIN: &str = r#"label domain "karpenter.k8s.aws" is restricted"#;
const HOSTNAME: &str = r#"label "kubernetes.io/hostname" is restricted"#;
const NODEPOOL_LABEL: &str = r#"label "karpenter.sh/nodepool" is restricted"#;
const ROLE: &str = "must specify exactly one of ['role', 'instanceProfile']";

/// Rows of `(object name, JSON merge patch on the base object, expected message)`.
type Table = &'static [(&'static str, &'static str, &'static str)];

/// `(name, patch, expect)` on [`nodepool`]. A `disruption` block carries its own
/// `consolidateAfter`: the default applies only to a missing block.
const NODEPOOL_CASES: Table = &[
    (
        "static-limits",
        r#"{"spec":{"replicas":1,"limits":{"cpu":"4"}}}"#,
        "only 'limits.nodes' is supported on static NodePools",
    ),
    (
        "static-weight",
        r#"{"spec":{"replicas":1,"weight":5}}"#,
        "'weight' is not supported on static NodePools",
    ),
    (
        "static-nodes-limit",
        r#"{"spec":{"replicas":1,"limits":{"nodes":"3"}}}"#,
        VALID,
    ),
    (
        "schedule-no-duration",
        r#"{"spec":{"disruption":{"consolidateAfter":"0s","budgets":[{"nodes":"1","schedule":"@daily"}]}}}"#,
        "'schedule' must be set with 'duration'",
    ),
    (
        "duration-no-schedule",
        r#"{"spec":{"disruption":{"consolidateAfter":"0s","budgets":[{"nodes":"1","duration":"1h"}]}}}"#,
        "'schedule' must be set with 'duration'",
    ),
    (
        "label-karpenter-sh",
        r#"{"spec":{"template":{"metadata":{"labels":{"karpenter.sh/team":"a"}}}}}"#,
        KARPENTER_SH,
    ),
    (
        "label-sub-karpenter-sh",
        r#"{"spec":{"template":{"metadata":{"labels":{"x.karpenter.sh/team":"a"}}}}}"#,
        KARPENTER_SH,
    ),
    // Upstream's endsWith quirk (spec core §1.1): rejected at admission.
    (
        "label-endswith-quirk",
        r#"{"spec":{"template":{"metadata":{"labels":{"notkarpenter.sh/team":"a"}}}}}"#,
        KARPENTER_SH,
    ),
    (
        "label-nodepool",
        r#"{"spec":{"template":{"metadata":{"labels":{"karpenter.sh/nodepool":"a"}}}}}"#,
        NODEPOOL_LABEL,
    ),
    (
        "label-hostname",
        r#"{"spec":{"template":{"metadata":{"labels":{"kubernetes.io/hostname":"a"}}}}}"#,
        HOSTNAME,
    ),
    (
        "label-capacity-type",
        r#"{"spec":{"template":{"metadata":{"labels":{"karpenter.sh/capacity-type":"spot"}}}}}"#,
        VALID,
    ),
    (
        "label-aws-domain",
        r#"{"spec":{"template":{"metadata":{"labels":{"karpenter.k8s.aws/team":"a"}}}}}"#,
        AWS_DOMAIN,
    ),
    (
        "label-aws-tenancy",
        r#"{"spec":{"template":{"metadata":{"labels":{"karpenter.k8s.aws/instance-tenancy":"default"}}}}}"#,
        VALID,
    ),
    (
        "req-karpenter-sh",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"karpenter.sh/team","operator":"Exists"}]}}}}"#,
        KARPENTER_SH,
    ),
    (
        "req-nodepool",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"karpenter.sh/nodepool","operator":"In","values":["a"]}]}}}}"#,
        NODEPOOL_LABEL,
    ),
    (
        "req-hostname",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"kubernetes.io/hostname","operator":"In","values":["a"]}]}}}}"#,
        HOSTNAME,
    ),
    (
        "req-aws-domain",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"karpenter.k8s.aws/team","operator":"Exists"}]}}}}"#,
        AWS_DOMAIN,
    ),
    (
        "req-aws-family",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"karpenter.k8s.aws/instance-family","operator":"In","values":["m5"]}]}}}}"#,
        VALID,
    ),
    (
        "req-in-empty",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"example.com/a","operator":"In","values":[]}]}}}}"#,
        IN_VALUES,
    ),
    (
        "req-in-no-values",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"example.com/a","operator":"In"}]}}}}"#,
        IN_VALUES,
    ),
    (
        "req-gt-word",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"example.com/a","operator":"Gt","values":["a"]}]}}}}"#,
        GT_LT,
    ),
    (
        "req-lt-two",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"example.com/a","operator":"Lt","values":["1","2"]}]}}}}"#,
        GT_LT,
    ),
    (
        "req-gte-negative",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"example.com/a","operator":"Gte","values":["-1"]}]}}}}"#,
        GT_LT,
    ),
    (
        "req-lte-none",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"example.com/a","operator":"Lte","values":[]}]}}}}"#,
        GT_LT,
    ),
    (
        "req-min-values",
        r#"{"spec":{"template":{"spec":{"requirements":[{"key":"example.com/a","operator":"In","values":["a"],"minValues":2}]}}}}"#,
        "requirements with 'minValues' must have at least that many values specified in the 'values' field",
    ),
    (
        "ref-empty",
        r#"{"spec":{"template":{"spec":{"nodeClassRef":{"group":"","kind":"","name":""}}}}}"#,
        "group may not be empty",
    ),
];

/// `(name, patch, expect)` on [`nodeclaim`].
const NODECLAIM_CASES: Table = &[
    (
        "claim-hostname",
        r#"{"spec":{"requirements":[{"key":"kubernetes.io/hostname","operator":"In","values":["a"]}]}}"#,
        HOSTNAME,
    ),
    // NodeClaims may name their NodePool.
    (
        "claim-nodepool",
        r#"{"spec":{"requirements":[{"key":"karpenter.sh/nodepool","operator":"In","values":["a"]}]}}"#,
        VALID,
    ),
    (
        "claim-in-empty",
        r#"{"spec":{"requirements":[{"key":"example.com/a","operator":"In","values":[]}]}}"#,
        IN_VALUES,
    ),
    (
        "claim-ref-empty",
        r#"{"spec":{"nodeClassRef":{"group":"","kind":"","name":""}}}"#,
        "kind may not be empty",
    ),
];

/// `(name, patch, expect)` on [`ec2nodeclass`].
const EC2NODECLASS_CASES: Table = &[
    (
        "tag-eks-cluster-name",
        r#"{"spec":{"tags":{"eks:eks-cluster-name":"x"}}}"#,
        "tag contains a restricted tag matching eks:eks-cluster-name",
    ),
    (
        "tag-kubernetes-cluster",
        r#"{"spec":{"tags":{"kubernetes.io/cluster/my-cluster":"x"}}}"#,
        "tag contains a restricted tag matching kubernetes.io/cluster/",
    ),
    (
        "tag-nodepool",
        r#"{"spec":{"tags":{"karpenter.sh/nodepool":"x"}}}"#,
        "tag contains a restricted tag matching karpenter.sh/nodepool",
    ),
    (
        "tag-nodeclaim",
        r#"{"spec":{"tags":{"karpenter.sh/nodeclaim":"x"}}}"#,
        "tag contains a restricted tag matching karpenter.sh/nodeclaim",
    ),
    (
        "tag-ec2nodeclass",
        r#"{"spec":{"tags":{"karpenter.k8s.aws/ec2nodeclass":"x"}}}"#,
        "tag contains a restricted tag matching karpenter.k8s.aws/ec2nodeclass",
    ),
    (
        "tag-empty-key",
        r#"{"spec":{"tags":{"":"x"}}}"#,
        "empty tag keys aren't supported",
    ),
    ("tag-allowed", r#"{"spec":{"tags":{"team":"x"}}}"#, VALID),
    (
        "alias-and-other-term",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"al2023@latest"},{"id":"ami-123"}]}}"#,
        "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms",
    ),
    (
        "alias-and-tags",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"al2023@latest","tags":{"a":"b"}}]}}"#,
        "'alias' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms",
    ),
    (
        "alias-no-version",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"al2023"}]}}"#,
        "'alias' is improperly formatted, must match the format 'family@version'",
    ),
    (
        "alias-unknown-family",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"ubuntu@latest"}]}}"#,
        "family is not supported, must be one of the following: 'al2', 'al2023', 'bottlerocket', 'windows2019', 'windows2022', 'windows2025'",
    ),
    (
        "alias-windows-version",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"windows2022@v1"}]}}"#,
        "windows families may only specify version 'latest'",
    ),
    (
        "alias-al2023-family-al2",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"al2023@latest"}],"amiFamily":"AL2"}}"#,
        "if set, amiFamily must be 'AL2023' or 'Custom' when using an AL2023 alias",
    ),
    (
        "alias-al2-family-al2023",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"al2@latest"}],"amiFamily":"AL2023"}}"#,
        "if set, amiFamily must be 'AL2' or 'Custom' when using an AL2 alias",
    ),
    (
        "alias-bottlerocket-family",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"bottlerocket@latest"}],"amiFamily":"AL2023"}}"#,
        "if set, amiFamily must be 'Bottlerocket' or 'Custom' when using a Bottlerocket alias",
    ),
    (
        "alias-windows2019-family",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"windows2019@latest"}],"amiFamily":"AL2"}}"#,
        "if set, amiFamily must be 'Windows2019' or 'Custom' when using a Windows2019 alias",
    ),
    (
        "alias-windows2022-family",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"windows2022@latest"}],"amiFamily":"AL2"}}"#,
        "if set, amiFamily must be 'Windows2022' or 'Custom' when using a Windows2022 alias",
    ),
    (
        "alias-windows2025-family",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"windows2025@latest"}],"amiFamily":"AL2"}}"#,
        "if set, amiFamily must be 'Windows2025' or 'Custom' when using a Windows2025 alias",
    ),
    (
        "alias-custom-family",
        r#"{"spec":{"amiSelectorTerms":[{"alias":"al2023@latest"}],"amiFamily":"Custom"}}"#,
        VALID,
    ),
    (
        "no-alias-no-family",
        r#"{"spec":{"amiSelectorTerms":[{"id":"ami-123"}]}}"#,
        "must specify amiFamily if amiSelectorTerms does not contain an alias",
    ),
    (
        "ami-id-and-name",
        r#"{"spec":{"amiSelectorTerms":[{"id":"ami-123","name":"x"}],"amiFamily":"AL2023"}}"#,
        "'id' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms",
    ),
    (
        "ami-empty-term",
        r#"{"spec":{"amiSelectorTerms":[{}],"amiFamily":"AL2023"}}"#,
        "expected at least one, got none, ['tags', 'id', 'name', 'alias', 'ssmParameter']",
    ),
    (
        "role-and-profile",
        r#"{"spec":{"instanceProfile":"profile"}}"#,
        ROLE,
    ),
    ("no-role-no-profile", r#"{"spec":{"role":null}}"#, ROLE),
    (
        "subnet-id-and-tags",
        r#"{"spec":{"subnetSelectorTerms":[{"id":"subnet-1","tags":{"a":"b"}}]}}"#,
        "'id' is mutually exclusive, cannot be set with a combination of other fields in a subnet selector term",
    ),
    (
        "sg-name-and-id",
        r#"{"spec":{"securityGroupSelectorTerms":[{"id":"sg-1","name":"x"}]}}"#,
        "'name' is mutually exclusive, cannot be set with a combination of other fields in a security group selector term",
    ),
];

/// Every case of the table, NodePools first.
pub fn cases() -> Vec<Case> {
    let tables: [(fn() -> Value, Table); 3] = [
        (nodepool, NODEPOOL_CASES),
        (nodeclaim, NODECLAIM_CASES),
        (ec2nodeclass, EC2NODECLASS_CASES),
    ];
    tables
        .into_iter()
        .flat_map(|(base, table)| {
            table.iter().map(move |&(name, patch, expect)| {
                let patch: Value =
                    serde_json::from_str(patch).unwrap_or_else(|err| panic!("case {name}: {err}"));
                Case {
                    object: named(base(), name, &patch),
                    expect,
                }
            })
        })
        .collect()
}

/// Applies an RFC 7386 merge patch: objects merge, `null` removes, anything else replaces.
pub fn patched(mut base: Value, patch: &Value) -> Value {
    merge(&mut base, patch);
    base
}

fn merge(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Some(target) = target.as_object_mut() else {
        unreachable!("made an object above");
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// `base` named `name`, with `patch` applied.
pub fn named(base: Value, name: &str, patch: &Value) -> Value {
    patched(patched(base, &json!({"metadata": {"name": name}})), patch)
}

fn node_class_ref() -> Value {
    json!({"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"})
}

/// A valid dynamic NodePool.
pub fn nodepool() -> Value {
    json!({
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "base"},
        "spec": {"template": {"spec": {"requirements": [], "nodeClassRef": node_class_ref()}}}
    })
}

/// A valid NodeClaim.
fn nodeclaim() -> Value {
    json!({
        "apiVersion": "karpenter.sh/v1", "kind": "NodeClaim", "metadata": {"name": "base"},
        "spec": {"requirements": [], "nodeClassRef": node_class_ref()}
    })
}

/// A valid EC2NodeClass: a role, the AL2023 alias, selector terms by tag.
fn ec2nodeclass() -> Value {
    let discovery = json!([{"tags": {"karpenter.sh/discovery": "my-cluster"}}]);
    json!({
        "apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": "base"},
        "spec": {
            "role": "KarpenterNodeRole-my-cluster",
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "subnetSelectorTerms": discovery, "securityGroupSelectorTerms": discovery
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_merge_objects_replace_arrays_and_remove_nulls() {
        let base = json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        let patch = json!({"a": {"c": [3], "e": true}, "d": null});
        assert_eq!(
            patched(base, &patch),
            json!({"a": {"b": 1, "c": [3], "e": true}})
        );
    }

    #[test]
    fn every_case_has_a_unique_name() {
        let cases = cases();
        let mut names: Vec<&str> = cases
            .iter()
            .map(|case| case.object["metadata"]["name"].as_str().unwrap_or(""))
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cases.len());
    }
}
