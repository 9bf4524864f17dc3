//! Restricted label keys and domains, with upstream's two checks: the runtime Go check and the
//! CRD's CEL admission rules (which differ in a documented way).

use std::collections::BTreeSet;

use super::{CAPACITY_TYPE, GROUP, HOSTNAME, NODEPOOL, WellKnownLabels};

/// Which API field a label key comes from; the CEL rules differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelContext {
    /// A NodePool's `spec.template.metadata.labels` key or `spec.template.spec.requirements[].key`:
    /// `karpenter.sh/nodepool` is rejected (Karpenter sets it itself).
    NodePoolTemplate,
    /// A NodeClaim's `spec.requirements[].key`: `karpenter.sh/nodepool` is allowed, because the
    /// scheduler writes it there.
    NodeClaim,
}

/// A restricted label domain and the keys inside it that admission still accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RestrictedDomain {
    /// The domain, e.g. `karpenter.sh`.
    domain: String,
    /// Keys in the domain the CEL rule lets through (`x in [...] || !domain.endsWith(...)`).
    admission_exceptions: BTreeSet<String>,
}

/// Label domains and keys users may not set (upstream `RestrictedLabelDomains` and
/// `RestrictedLabels` plus the CRD's CEL rules).
///
/// A value, because providers add domains (AWS: `karpenter.k8s.aws`, kwok: `karpenter.kwok.sh`)
/// and the set must reach validation explicitly rather than through a mutated global.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictedLabels {
    /// Restricted domains in the order their CEL rules appear (core first, then providers').
    domains: Vec<RestrictedDomain>,
    /// Individually restricted keys (`kubernetes.io/hostname`).
    labels: BTreeSet<String>,
}

impl RestrictedLabels {
    /// The core set: domain `karpenter.sh` (admission lets `karpenter.sh/capacity-type` and
    /// `karpenter.sh/nodepool` through its domain rule) and the key `kubernetes.io/hostname`.
    pub fn core() -> Self {
        Self {
            domains: Vec::new(),
            labels: BTreeSet::new(),
        }
        .with_domain(GROUP, [CAPACITY_TYPE, NODEPOOL])
        .with_label(HOSTNAME)
    }

    /// Returns the set with one more restricted `domain`; `admission_exceptions` are the keys in
    /// that domain the CEL rule accepts (for AWS: its well-known instance-type labels). Adding a
    /// domain again merges the exceptions.
    #[must_use]
    pub fn with_domain<I, S>(mut self, domain: impl Into<String>, admission_exceptions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let domain = domain.into();
        let exceptions = admission_exceptions.into_iter().map(Into::into);
        match self.domains.iter_mut().find(|d| d.domain == domain) {
            Some(existing) => existing.admission_exceptions.extend(exceptions),
            None => self.domains.push(RestrictedDomain {
                domain,
                admission_exceptions: exceptions.collect(),
            }),
        }
        self
    }

    /// Returns the set with one more individually restricted key.
    #[must_use]
    pub fn with_label(mut self, key: impl Into<String>) -> Self {
        self.labels.insert(key.into());
        self
    }

    /// The restricted domains, in rule order.
    pub fn domains(&self) -> impl ExactSizeIterator<Item = &str> {
        self.domains.iter().map(|d| d.domain.as_str())
    }

    /// The individually restricted keys, sorted.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &str> {
        self.labels.iter().map(String::as_str)
    }

    /// Whether `key` is one of the individually restricted keys (e.g. `kubernetes.io/hostname`).
    pub fn is_restricted_label(&self, key: &str) -> bool {
        self.labels.contains(key)
    }

    /// Whether `domain` is a restricted domain or a subdomain of one (runtime semantics: equal, or
    /// ending in `.` + domain).
    pub fn is_restricted_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| {
            domain == d.domain
                || domain
                    .strip_suffix(d.domain.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }

    /// The runtime check (upstream `IsRestrictedLabel`, used by NodePool `RuntimeValidate` and
    /// requirement validation).
    ///
    /// Well-known keys always pass (so `karpenter.sh/nodepool` passes here; templates reject it
    /// through a separate rule). Otherwise a key whose domain is a restricted domain or one of its
    /// subdomains (`karpenter.sh`, `*.karpenter.sh`, but not `notkarpenter.sh`) or an individually
    /// restricted key fails with upstream's message, which lists the well-known labels and the
    /// restricted domains, each sorted.
    pub fn runtime_check(&self, key: &str, well_known: &WellKnownLabels) -> Result<(), String> {
        if well_known.contains(key) {
            return Ok(());
        }
        if self.is_restricted_domain(super::label_domain(key)) || self.is_restricted_label(key) {
            let mut domains: Vec<&str> = self.domains().collect();
            domains.sort_unstable();
            return Err(format!(
                "using label {key} is not allowed as it might interfere with the internal \
                 provisioning logic; specify a well known label: [{}], or a custom label that \
                 does not use a restricted domain: [{}]",
                well_known.iter().collect::<Vec<_>>().join(" "),
                domains.join(" "),
            ));
        }
        Ok(())
    }

    /// The CRD's CEL admission rules for a label key, returning the message of every failing rule
    /// in rule order (empty when admitted).
    ///
    /// Reproduces the CEL quirk: the domain part is everything before the first `/` (the whole key
    /// if there is none) and a domain rule fails when that text merely *ends with* the restricted
    /// domain, so `notkarpenter.sh/x` is rejected here although [`runtime_check`](Self::runtime_check)
    /// accepts it. Messages: `label domain "karpenter.sh" is restricted`,
    /// `label "karpenter.sh/nodepool" is restricted` (templates only),
    /// `label "kubernetes.io/hostname" is restricted`.
    pub fn admission_errors(&self, key: &str, context: LabelContext) -> Vec<String> {
        let domain_part = key.split('/').next().unwrap_or_default();
        let mut errors = Vec::new();
        for restricted in &self.domains {
            if domain_part.ends_with(restricted.domain.as_str())
                && !restricted.admission_exceptions.contains(key)
            {
                errors.push(format!(
                    "label domain \"{}\" is restricted",
                    restricted.domain
                ));
            }
        }
        if context == LabelContext::NodePoolTemplate && key == NODEPOOL {
            errors.push(format!("label \"{NODEPOOL}\" is restricted"));
        }
        if self.labels.contains(key) {
            errors.push(format!("label \"{key}\" is restricted"));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(key: &str) -> Result<(), String> {
        RestrictedLabels::core().runtime_check(key, &WellKnownLabels::core())
    }

    fn admission(key: &str) -> Vec<String> {
        RestrictedLabels::core().admission_errors(key, LabelContext::NodePoolTemplate)
    }

    #[test]
    fn runtime_rejects_karpenter_domain_and_subdomains_with_upstream_message() {
        let err = runtime("karpenter.sh/custom").unwrap_err();
        assert_eq!(
            err,
            "using label karpenter.sh/custom is not allowed as it might interfere with the \
             internal provisioning logic; specify a well known label: [karpenter.sh/capacity-type \
             karpenter.sh/nodepool kubernetes.io/arch kubernetes.io/os \
             node.kubernetes.io/instance-type node.kubernetes.io/windows-build \
             topology.kubernetes.io/region topology.kubernetes.io/zone], or a custom label that \
             does not use a restricted domain: [karpenter.sh]"
        );
        assert!(runtime("sub.karpenter.sh/x").is_err());
        assert!(runtime("kubernetes.io/hostname").is_err());
    }

    #[test]
    fn runtime_allows_well_known_lookalike_and_kubernetes_domains() {
        assert_eq!(runtime(CAPACITY_TYPE), Ok(()));
        assert_eq!(
            runtime(NODEPOOL),
            Ok(()),
            "well known; templates reject it separately"
        );
        assert_eq!(runtime("notkarpenter.sh/x"), Ok(()));
        assert_eq!(runtime("node.kubernetes.io/custom"), Ok(()));
        assert_eq!(runtime("k8s.io/anything"), Ok(()));
        assert_eq!(runtime("example.com/team"), Ok(()));
        assert_eq!(
            runtime("karpenter.sh"),
            Ok(()),
            "no slash means no domain at runtime"
        );
    }

    #[test]
    fn admission_uses_ends_with_on_the_domain_part() {
        assert_eq!(
            admission("notkarpenter.sh/x"),
            ["label domain \"karpenter.sh\" is restricted"]
        );
        assert_eq!(
            admission("karpenter.sh/custom"),
            ["label domain \"karpenter.sh\" is restricted"]
        );
        assert_eq!(
            admission("karpenter.sh"),
            ["label domain \"karpenter.sh\" is restricted"]
        );
        assert!(admission(CAPACITY_TYPE).is_empty());
        assert!(admission("example.com/team").is_empty());
    }

    #[test]
    fn admission_rejects_nodepool_on_templates_only_and_hostname_everywhere() {
        assert_eq!(
            admission(NODEPOOL),
            ["label \"karpenter.sh/nodepool\" is restricted"]
        );
        let core = RestrictedLabels::core();
        assert!(
            core.admission_errors(NODEPOOL, LabelContext::NodeClaim)
                .is_empty()
        );
        assert_eq!(
            admission(HOSTNAME),
            ["label \"kubernetes.io/hostname\" is restricted"]
        );
        assert_eq!(
            core.admission_errors(HOSTNAME, LabelContext::NodeClaim),
            ["label \"kubernetes.io/hostname\" is restricted"]
        );
    }

    #[test]
    fn provider_domains_are_added_with_their_exceptions() {
        let aws = RestrictedLabels::core()
            .with_domain("karpenter.k8s.aws", ["karpenter.k8s.aws/instance-family"]);
        let wk = WellKnownLabels::core().with(["karpenter.k8s.aws/instance-family"]);
        assert_eq!(
            aws.domains().collect::<Vec<_>>(),
            ["karpenter.sh", "karpenter.k8s.aws"]
        );
        assert!(
            aws.admission_errors(
                "karpenter.k8s.aws/instance-family",
                LabelContext::NodePoolTemplate
            )
            .is_empty()
        );
        assert_eq!(
            aws.admission_errors("karpenter.k8s.aws/other", LabelContext::NodePoolTemplate),
            ["label domain \"karpenter.k8s.aws\" is restricted"]
        );
        assert_eq!(
            aws.runtime_check("karpenter.k8s.aws/instance-family", &wk),
            Ok(())
        );
        let err = aws
            .runtime_check("karpenter.k8s.aws/other", &wk)
            .unwrap_err();
        assert!(
            err.ends_with("restricted domain: [karpenter.k8s.aws karpenter.sh]"),
            "{err}"
        );
    }
}
