//! The AWS provider's label policy, as upstream's AWS distribution of Karpenter has it: the
//! `karpenter.k8s.aws` domain is restricted on NodePool and NodeClaim labels and requirement keys
//! except for the provider's well-known instance labels.
//!
//! joist-api knows only core Karpenter's policy (it must not depend on the AWS model), so the
//! binary, which has both, assembles this one for `joist crds` and `joist validate`.
//!
//! Upstream writes the exceptions twice, as two CEL rules patched into the `karpenter.sh` CRDs
//! (aws/karpenter-provider-aws `hack/validation/labels.sh` and `requirements.sh`, message
//! `label domain "karpenter.k8s.aws" is restricted`). Older releases listed fewer keys for
//! requirements than for template labels; v1.14 NodePools may *require* tenancy and
//! capability-flex (spec aws §1.4 and §13 items 21 and 45), so joist admits the same 25 keys in
//! both places rather than reject a NodePool that Karpenter v1.14 accepts. The runtime check
//! (`ValidationSucceeded`) instead lets through upstream's `WellKnownLabels`, which is
//! [`aws::well_known_labels`].

use joist_api::common::{LabelPolicy, ValidationOptions};
use joist_aws::labels as aws;

/// The instance-label keys of the AWS domain (upstream `requirements.sh` order); with the
/// template-only keys around them they form the full exception list.
const REQUIREMENT_KEY_EXCEPTIONS: [&str; 21] = [
    aws::EC2NODECLASS,
    aws::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
    aws::INSTANCE_CATEGORY,
    aws::INSTANCE_HYPERVISOR,
    aws::INSTANCE_FAMILY,
    aws::INSTANCE_GENERATION,
    aws::INSTANCE_LOCAL_NVME,
    aws::INSTANCE_SIZE,
    aws::INSTANCE_CPU,
    aws::INSTANCE_CPU_MANUFACTURER,
    aws::INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ,
    aws::INSTANCE_MEMORY,
    aws::INSTANCE_EBS_BANDWIDTH,
    aws::INSTANCE_NETWORK_BANDWIDTH,
    aws::INSTANCE_GPU_NAME,
    aws::INSTANCE_GPU_MANUFACTURER,
    aws::INSTANCE_GPU_COUNT,
    aws::INSTANCE_GPU_MEMORY,
    aws::INSTANCE_ACCELERATOR_NAME,
    aws::INSTANCE_ACCELERATOR_MANUFACTURER,
    aws::INSTANCE_ACCELERATOR_COUNT,
];

/// Keys only template labels may use, listed before the requirement keys in upstream's
/// `labels.sh` rule.
const TEMPLATE_ONLY_LEADING: [&str; 3] = [
    aws::INSTANCE_TENANCY,
    aws::CAPACITY_RESERVATION_TYPE,
    aws::CAPACITY_RESERVATION_ID,
];

/// Keys only template labels may use, listed after the requirement keys.
const TEMPLATE_ONLY_TRAILING: [&str; 1] = [aws::INSTANCE_CAPABILITY_FLEX];

/// Keys of the AWS domain that NodePool template labels may use, in upstream's `labels.sh` order:
/// the requirement keys with the template-only keys around them.
fn template_label_exceptions() -> Vec<&'static str> {
    TEMPLATE_ONLY_LEADING
        .iter()
        .chain(&REQUIREMENT_KEY_EXCEPTIONS)
        .chain(&TEMPLATE_ONLY_TRAILING)
        .copied()
        .collect()
}

/// Core Karpenter's restricted domains plus `karpenter.k8s.aws` with upstream's exceptions.
pub fn aws_label_policy() -> LabelPolicy {
    let exceptions = template_label_exceptions();
    LabelPolicy::karpenter().with_domain_lists(aws::LABEL_DOMAIN, &exceptions, &exceptions)
}

/// What `joist validate` checks NodePools and NodeClaims with: the AWS label policy, the AWS
/// well-known labels (runtime restricted-label check) and the AWS key aliases.
pub fn aws_validation_options() -> ValidationOptions {
    ValidationOptions {
        labels: aws_label_policy(),
        well_known: aws::well_known_labels(),
        aliases: aws::label_aliases(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exception_is_in_the_aws_domain_and_all_but_the_nodeclass_are_well_known() {
        let well_known = aws::well_known_labels();
        let template = template_label_exceptions();
        assert_eq!(template.len(), 25);
        for key in template.iter().chain(&REQUIREMENT_KEY_EXCEPTIONS) {
            assert!(key.starts_with("karpenter.k8s.aws/"), "{key}");
            // Upstream's WellKnownLabels leave out the NodeClass label: a requirement on it passes
            // the CRD rule but not the runtime check.
            assert_eq!(well_known.contains(key), *key != aws::EC2NODECLASS, "{key}");
        }
    }

    #[test]
    fn the_template_label_rule_lists_upstreams_keys_in_upstreams_order() {
        let rules = aws_label_policy().map_rules();
        let last = rules.last().expect("rules");
        assert!(last.rule.starts_with(
            r#"self.all(x, x in ["karpenter.k8s.aws/instance-tenancy", "karpenter.k8s.aws/capacity-reservation-type", "karpenter.k8s.aws/capacity-reservation-id", "karpenter.k8s.aws/ec2nodeclass","#
        ));
        assert!(last.rule.ends_with(
            r#""karpenter.k8s.aws/instance-accelerator-count", "karpenter.k8s.aws/instance-capability-flex"] || !x.find("^([^/]+)").endsWith("karpenter.k8s.aws"))"#
        ));
    }

    #[test]
    fn the_aws_domain_rule_comes_after_the_core_rules() {
        let rules = aws_label_policy().key_rules(true);
        let last = rules.last().expect("rules");
        assert_eq!(
            last.message,
            r#"label domain "karpenter.k8s.aws" is restricted"#
        );
        assert!(last.rule.starts_with(
            r#"self in ["karpenter.k8s.aws/instance-tenancy", "karpenter.k8s.aws/capacity-reservation-type","#
        ));
        assert!(last.rule.ends_with(
            r#""karpenter.k8s.aws/instance-capability-flex"] || !self.find("^([^/]+)").endsWith("karpenter.k8s.aws")"#
        ));
    }
}
