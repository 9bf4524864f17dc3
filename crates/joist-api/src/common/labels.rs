//! Which label keys users may put on NodePool templates and in requirements (spec core §1.4).
//!
//! Two upstream checks exist and they disagree at the edges:
//! * the CRD's CEL rules (admission) take the text before the first `/` — or the whole key when
//!   there is no `/` — and reject it when it merely *ends with* a restricted domain, so
//!   `notkarpenter.sh/x` and even the slash-less `foo.karpenter.sh` are rejected;
//! * the runtime check (NodePool `ValidationSucceeded`) rejects only the domain itself and its
//!   subdomains (`karpenter.sh`, `*.karpenter.sh`).
//!
//! The CEL set is a superset of the runtime set, and admission is what decides whether Karpenter
//! accepts a manifest at all, so joist reports the CEL verdict (with the CEL message). Both checks
//! live in joist-core ([`RestrictedLabels`]); this module writes the policy into the CRD's rules.

use joist_core::labels::{CAPACITY_TYPE, GROUP, HOSTNAME, NODEPOOL, RestrictedLabels};

use super::schema::CelRule;

/// A label domain users may not use, except for the listed well-known keys.
///
/// The exceptions are two lists because upstream's AWS distribution writes two different CEL
/// rules for its domain: the one on NodePool template labels lets more keys through (tenancy,
/// capacity reservation, capability-flex) than the one on requirement keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictedDomain {
    /// The domain, e.g. `karpenter.sh` or `karpenter.k8s.aws`.
    pub domain: String,
    /// Keys in the domain that remain allowed as NodePool template labels, in the order the CEL
    /// rule lists them.
    pub allowed_keys: Vec<String>,
    /// Keys in the domain that remain allowed as requirement keys (NodePool template and
    /// NodeClaim), in the order the CEL rule lists them.
    pub allowed_requirement_keys: Vec<String>,
}

/// The restricted label domains in force: Karpenter's plus whatever the provider adds.
///
/// It is a value rather than a constant because the set depends on the cloud provider (the AWS
/// provider restricts `karpenter.k8s.aws` except its well-known instance labels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelPolicy {
    /// Restricted domains, Karpenter's first.
    pub domains: Vec<RestrictedDomain>,
}

impl Default for LabelPolicy {
    fn default() -> Self {
        Self::karpenter()
    }
}

impl LabelPolicy {
    /// Core Karpenter's policy: `karpenter.sh` is restricted except capacity-type and nodepool.
    pub fn karpenter() -> Self {
        Self {
            domains: vec![RestrictedDomain {
                domain: GROUP.to_owned(),
                allowed_keys: vec![CAPACITY_TYPE.to_owned(), NODEPOOL.to_owned()],
                allowed_requirement_keys: vec![CAPACITY_TYPE.to_owned(), NODEPOOL.to_owned()],
            }],
        }
    }

    /// This policy plus a provider domain whose `allowed_keys` stay usable, both as template
    /// labels and as requirement keys.
    pub fn with_domain(self, domain: &str, allowed_keys: &[&str]) -> Self {
        self.with_domain_lists(domain, allowed_keys, allowed_keys)
    }

    /// This policy plus a provider domain with separate exceptions for template labels
    /// (`allowed_label_keys`) and requirement keys (`allowed_requirement_keys`).
    pub fn with_domain_lists(
        mut self,
        domain: &str,
        allowed_label_keys: &[&str],
        allowed_requirement_keys: &[&str],
    ) -> Self {
        let owned = |keys: &[&str]| keys.iter().map(|k| (*k).to_owned()).collect();
        self.domains.push(RestrictedDomain {
            domain: domain.to_owned(),
            allowed_keys: owned(allowed_label_keys),
            allowed_requirement_keys: owned(allowed_requirement_keys),
        });
        self
    }

    /// The CEL rules on a NodePool's `template.metadata.labels` map, in upstream's order.
    pub fn map_rules(&self) -> Vec<CelRule> {
        self.rules(
            true,
            |d| &d.allowed_keys,
            |cond| format!("self.all(x, {})", cond.replace("KEY", "x")),
        )
    }

    /// The CEL rules on a requirement `key`; NodeClaims may carry `karpenter.sh/nodepool`.
    pub fn key_rules(&self, forbid_nodepool_label: bool) -> Vec<CelRule> {
        self.rules(
            forbid_nodepool_label,
            |d| &d.allowed_requirement_keys,
            |cond| cond.replace("KEY", "self"),
        )
    }

    fn rules(
        &self,
        forbid_nodepool_label: bool,
        exceptions: impl Fn(&RestrictedDomain) -> &Vec<String>,
        wrap: impl Fn(&str) -> String,
    ) -> Vec<CelRule> {
        let domain_rule = |d: &RestrictedDomain| {
            let allowed: Vec<String> = exceptions(d).iter().map(|k| format!("{k:?}")).collect();
            let cond = format!(
                "KEY in [{}] || !KEY.find(\"^([^/]+)\").endsWith({:?})",
                allowed.join(", "),
                d.domain
            );
            CelRule::new(
                wrap(&cond),
                format!("label domain {:?} is restricted", d.domain),
            )
        };
        let mut rules = Vec::new();
        let mut domains = self.domains.iter();
        if let Some(first) = domains.next() {
            rules.push(domain_rule(first));
        }
        if forbid_nodepool_label {
            rules.push(CelRule::new(
                wrap(&format!("KEY != {NODEPOOL:?}")),
                format!("label {NODEPOOL:?} is restricted"),
            ));
        }
        rules.push(CelRule::new(
            wrap(&format!("KEY != {HOSTNAME:?}")),
            format!("label {HOSTNAME:?} is restricted"),
        ));
        rules.extend(domains.map(domain_rule));
        rules
    }

    /// The policy for template labels as joist-core's [`RestrictedLabels`], which holds the Rust
    /// mirror of the CEL rules ([`RestrictedLabels::admission_errors`]) and of the runtime check
    /// ([`RestrictedLabels::runtime_check`]).
    pub fn restricted_labels(&self) -> RestrictedLabels {
        self.restricted(|d| &d.allowed_keys)
    }

    /// The policy for requirement keys as joist-core's [`RestrictedLabels`] (the runtime check
    /// is the same for both; the CEL exceptions may differ).
    pub fn restricted_requirement_keys(&self) -> RestrictedLabels {
        self.restricted(|d| &d.allowed_requirement_keys)
    }

    fn restricted(
        &self,
        exceptions: impl Fn(&RestrictedDomain) -> &Vec<String>,
    ) -> RestrictedLabels {
        let mut core = RestrictedLabels::core();
        for d in &self.domains {
            core = core.with_domain(d.domain.as_str(), exceptions(d).iter().map(String::as_str));
        }
        core
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cel_rules_read_like_upstream() {
        let rules = LabelPolicy::karpenter().map_rules();
        assert_eq!(
            rules[0].rule,
            r#"self.all(x, x in ["karpenter.sh/capacity-type", "karpenter.sh/nodepool"] || !x.find("^([^/]+)").endsWith("karpenter.sh"))"#
        );
        assert_eq!(
            rules[0].message,
            r#"label domain "karpenter.sh" is restricted"#
        );
        assert_eq!(
            rules[1].rule,
            r#"self.all(x, x != "karpenter.sh/nodepool")"#
        );
        assert_eq!(
            rules[2].message,
            r#"label "kubernetes.io/hostname" is restricted"#
        );
        let key_rules = LabelPolicy::karpenter().key_rules(false);
        assert_eq!(key_rules.len(), 2);
        assert_eq!(key_rules[1].rule, r#"self != "kubernetes.io/hostname""#);
    }

    #[test]
    fn converts_to_the_core_policy_with_the_cel_quirk() {
        use joist_core::labels::LabelContext;
        let policy = LabelPolicy::karpenter().restricted_labels();
        let domain = vec![r#"label domain "karpenter.sh" is restricted"#.to_owned()];
        assert_eq!(
            policy.admission_errors("notkarpenter.sh/x", LabelContext::NodePoolTemplate),
            domain
        );
        assert!(
            policy
                .admission_errors("karpenter.sh/capacity-type", LabelContext::NodePoolTemplate)
                .is_empty()
        );
        assert!(
            policy
                .admission_errors(NODEPOOL, LabelContext::NodeClaim)
                .is_empty()
        );
    }

    #[test]
    fn provider_domains_come_after_the_core_rules() {
        let policy = LabelPolicy::karpenter()
            .with_domain("karpenter.k8s.aws", &["karpenter.k8s.aws/instance-family"]);
        let rules = policy.map_rules();
        assert_eq!(rules.len(), 4);
        assert_eq!(
            rules[3].message,
            r#"label domain "karpenter.k8s.aws" is restricted"#
        );
        let core = policy.restricted_labels();
        let ctx = joist_core::labels::LabelContext::NodePoolTemplate;
        assert!(
            core.admission_errors("karpenter.k8s.aws/instance-family", ctx)
                .is_empty()
        );
        assert_eq!(core.admission_errors("karpenter.k8s.aws/foo", ctx).len(), 1);
    }

    #[test]
    fn template_labels_and_requirement_keys_may_have_different_exceptions() {
        let tenancy = "karpenter.k8s.aws/instance-tenancy";
        let family = "karpenter.k8s.aws/instance-family";
        let policy = LabelPolicy::karpenter().with_domain_lists(
            "karpenter.k8s.aws",
            &[tenancy, family],
            &[family],
        );
        let ctx = joist_core::labels::LabelContext::NodePoolTemplate;
        assert!(
            policy
                .restricted_labels()
                .admission_errors(tenancy, ctx)
                .is_empty()
        );
        assert_eq!(
            policy
                .restricted_requirement_keys()
                .admission_errors(tenancy, ctx),
            [r#"label domain "karpenter.k8s.aws" is restricted"#]
        );
        assert!(policy.map_rules()[3].rule.contains(tenancy));
        assert!(!policy.key_rules(true)[3].rule.contains(tenancy));
        assert!(policy.key_rules(true)[3].rule.contains(family));
    }
}
