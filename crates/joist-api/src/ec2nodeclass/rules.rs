//! The `x-kubernetes-validations` rules of the EC2NodeClass CRD (upstream v1.14.1), each with
//! its message. The CRD builder emits them and the Rust mirror in `validate` reports their
//! messages, so a rule and its message live in exactly one place.
//!
//! The CEL text is kept byte-for-byte as upstream ships it: the API server's cost estimate (and
//! upstream's tested behaviour, quirks included, such as `!self.all(...)` exclusivity checks
//! that only fail when *every* term breaks them) depend on it.

use serde_json::{Value, json};

/// One CEL validation rule and the message the API server reports when it evaluates to false.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The CEL expression.
    pub rule: &'static str,
    /// The message reported when the expression is false.
    pub message: &'static str,
}

impl Rule {
    /// The rule as an `x-kubernetes-validations` entry.
    pub fn to_json(self) -> Value {
        json!({"message": self.message, "rule": self.rule})
    }
}

const fn rule(rule: &'static str, message: &'static str) -> Rule {
    Rule { rule, message }
}

// === spec ===

pub const ROLE_XOR_INSTANCE_PROFILE: Rule = rule(
    "(has(self.role) && !has(self.instanceProfile)) || (!has(self.role) && has(self.instanceProfile))",
    "must specify exactly one of ['role', 'instanceProfile']",
);
pub const FAMILY_WITH_AL2_ALIAS: Rule = rule(
    "!has(self.amiFamily) || (self.amiSelectorTerms.exists(x, has(x.alias) && x.alias.find('^[^@]+') == 'al2') ? (self.amiFamily == 'Custom' || self.amiFamily == 'AL2') : true)",
    "if set, amiFamily must be 'AL2' or 'Custom' when using an AL2 alias",
);
pub const FAMILY_WITH_AL2023_ALIAS: Rule = rule(
    "!has(self.amiFamily) || (self.amiSelectorTerms.exists(x, has(x.alias) && x.alias.find('^[^@]+') == 'al2023') ? (self.amiFamily == 'Custom' || self.amiFamily == 'AL2023') : true)",
    "if set, amiFamily must be 'AL2023' or 'Custom' when using an AL2023 alias",
);
pub const FAMILY_WITH_BOTTLEROCKET_ALIAS: Rule = rule(
    "!has(self.amiFamily) || (self.amiSelectorTerms.exists(x, has(x.alias) && x.alias.find('^[^@]+') == 'bottlerocket') ? (self.amiFamily == 'Custom' || self.amiFamily == 'Bottlerocket') : true)",
    "if set, amiFamily must be 'Bottlerocket' or 'Custom' when using a Bottlerocket alias",
);
pub const FAMILY_WITH_WINDOWS2019_ALIAS: Rule = rule(
    "!has(self.amiFamily) || (self.amiSelectorTerms.exists(x, has(x.alias) && x.alias.find('^[^@]+') == 'windows2019') ? (self.amiFamily == 'Custom' || self.amiFamily == 'Windows2019') : true)",
    "if set, amiFamily must be 'Windows2019' or 'Custom' when using a Windows2019 alias",
);
pub const FAMILY_WITH_WINDOWS2022_ALIAS: Rule = rule(
    "!has(self.amiFamily) || (self.amiSelectorTerms.exists(x, has(x.alias) && x.alias.find('^[^@]+') == 'windows2022') ? (self.amiFamily == 'Custom' || self.amiFamily == 'Windows2022') : true)",
    "if set, amiFamily must be 'Windows2022' or 'Custom' when using a Windows2022 alias",
);
pub const FAMILY_WITH_WINDOWS2025_ALIAS: Rule = rule(
    "!has(self.amiFamily) || (self.amiSelectorTerms.exists(x, has(x.alias) && x.alias.find('^[^@]+') == 'windows2025') ? (self.amiFamily == 'Custom' || self.amiFamily == 'Windows2025') : true)",
    "if set, amiFamily must be 'Windows2025' or 'Custom' when using a Windows2025 alias",
);
/// The family rules with the alias family each one checks and the `amiFamily` it allows
/// (besides `Custom`), in upstream's order.
pub const FAMILY_WITH_ALIAS: [(&str, &str, Rule); 6] = [
    ("al2", "AL2", FAMILY_WITH_AL2_ALIAS),
    ("al2023", "AL2023", FAMILY_WITH_AL2023_ALIAS),
    (
        "bottlerocket",
        "Bottlerocket",
        FAMILY_WITH_BOTTLEROCKET_ALIAS,
    ),
    ("windows2019", "Windows2019", FAMILY_WITH_WINDOWS2019_ALIAS),
    ("windows2022", "Windows2022", FAMILY_WITH_WINDOWS2022_ALIAS),
    ("windows2025", "Windows2025", FAMILY_WITH_WINDOWS2025_ALIAS),
];
pub const FAMILY_REQUIRED_WITHOUT_ALIAS: Rule = rule(
    "self.amiSelectorTerms.exists(x, has(x.alias)) ? true : has(self.amiFamily)",
    "must specify amiFamily if amiSelectorTerms does not contain an alias",
);
pub const ROLE_NOT_EMPTY: Rule = rule("self != ''", "role cannot be empty");
pub const INSTANCE_PROFILE_NOT_EMPTY: Rule = rule("self != ''", "instanceProfile cannot be empty");

// === spec.tags ===

pub const TAG_KEYS_NOT_EMPTY: Rule =
    rule("self.all(k, k != '')", "empty tag keys aren't supported");
pub const TAG_NOT_EKS_CLUSTER_NAME: Rule = rule(
    "self.all(k, k !='eks:eks-cluster-name')",
    "tag contains a restricted tag matching eks:eks-cluster-name",
);
pub const TAG_NOT_KUBERNETES_CLUSTER: Rule = rule(
    "self.all(k, !k.startsWith('kubernetes.io/cluster') )",
    "tag contains a restricted tag matching kubernetes.io/cluster/",
);
pub const TAG_NOT_NODEPOOL: Rule = rule(
    "self.all(k, k != 'karpenter.sh/nodepool')",
    "tag contains a restricted tag matching karpenter.sh/nodepool",
);
pub const TAG_NOT_NODECLAIM: Rule = rule(
    "self.all(k, k !='karpenter.sh/nodeclaim')",
    "tag contains a restricted tag matching karpenter.sh/nodeclaim",
);
pub const TAG_NOT_EC2NODECLASS: Rule = rule(
    "self.all(k, k !='karpenter.k8s.aws/ec2nodeclass')",
    "tag contains a restricted tag matching karpenter.k8s.aws/ec2nodeclass",
);

// === selector terms ===

/// On the `tags` map of every kind of selector term.
pub const TERM_TAGS_NOT_EMPTY: Rule = rule(
    "self.all(k, k != '' && self[k] != '')",
    "empty tag keys or values aren't supported",
);

pub const SUBNET_TERMS_NOT_EMPTY: Rule =
    rule("self.size() != 0", "subnetSelectorTerms cannot be empty");
pub const SUBNET_TERM_HAS_FIELD: Rule = rule(
    "self.all(x, has(x.tags) || has(x.id))",
    "expected at least one, got none, ['tags', 'id']",
);
pub const SUBNET_ID_EXCLUSIVE: Rule = rule(
    "!self.all(x, has(x.id) && has(x.tags))",
    "'id' is mutually exclusive, cannot be set with a combination of other fields in a subnet selector term",
);

pub const SECURITY_GROUP_TERMS_NOT_EMPTY: Rule = rule(
    "self.size() != 0",
    "securityGroupSelectorTerms cannot be empty",
);
pub const SECURITY_GROUP_TERM_HAS_FIELD: Rule = rule(
    "self.all(x, has(x.tags) || has(x.id) || has(x.name))",
    "expected at least one, got none, ['tags', 'id', 'name']",
);
pub const SECURITY_GROUP_ID_EXCLUSIVE: Rule = rule(
    "!self.all(x, has(x.id) && (has(x.tags) || has(x.name)))",
    "'id' is mutually exclusive, cannot be set with a combination of other fields in a security group selector term",
);
pub const SECURITY_GROUP_NAME_EXCLUSIVE: Rule = rule(
    "!self.all(x, has(x.name) && (has(x.tags) || has(x.id)))",
    "'name' is mutually exclusive, cannot be set with a combination of other fields in a security group selector term",
);

pub const CAPACITY_RESERVATION_TERM_HAS_FIELD: Rule = rule(
    "self.all(x, has(x.tags) || has(x.id) || has(x.instanceMatchCriteria))",
    "expected at least one, got none, ['tags', 'id', 'instanceMatchCriteria']",
);
pub const CAPACITY_RESERVATION_ID_EXCLUSIVE: Rule = rule(
    "!self.all(x, has(x.id) && (has(x.tags) || has(x.ownerID) || has(x.instanceMatchCriteria)))",
    "'id' is mutually exclusive, cannot be set along with other fields in a capacity reservation selector term",
);

pub const AMI_TERM_HAS_FIELD: Rule = rule(
    "self.all(x, has(x.tags) || has(x.id) || has(x.name) || has(x.alias) || has(x.ssmParameter))",
    "expected at least one, got none, ['tags', 'id', 'name', 'alias', 'ssmParameter']",
);
pub const AMI_ID_EXCLUSIVE: Rule = rule(
    "!self.exists(x, has(x.id) && (has(x.alias) || has(x.tags) || has(x.name) || has(x.owner)))",
    "'id' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms",
);
pub const AMI_ALIAS_EXCLUSIVE_FIELDS: Rule = rule(
    "!self.exists(x, has(x.alias) && (has(x.id) || has(x.tags) || has(x.name) || has(x.owner)))",
    "'alias' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms",
);
pub const AMI_ALIAS_ONLY_TERM: Rule = rule(
    "!(self.exists(x, has(x.alias)) && self.size() != 1)",
    "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms",
);

pub const ALIAS_FORMAT: Rule = rule(
    "self.matches('^[a-zA-Z0-9]+@.+$')",
    "'alias' is improperly formatted, must match the format 'family@version'",
);
pub const ALIAS_FAMILY: Rule = rule(
    "self.split('@')[0] in ['al2','al2023','bottlerocket','windows2019','windows2022','windows2025']",
    "family is not supported, must be one of the following: 'al2', 'al2023', 'bottlerocket', 'windows2019', 'windows2022', 'windows2025'",
);
/// Alias families accepted by [`ALIAS_FAMILY`].
pub const ALIAS_FAMILIES: [&str; 6] = [
    "al2",
    "al2023",
    "bottlerocket",
    "windows2019",
    "windows2022",
    "windows2025",
];
pub const ALIAS_WINDOWS_LATEST: Rule = rule(
    "self.split('@')[0] in ['windows2019','windows2022','windows2025'] ? self.split('@')[1] == 'latest' : true",
    "windows families may only specify version 'latest'",
);
/// Alias families for which [`ALIAS_WINDOWS_LATEST`] applies.
pub const WINDOWS_ALIAS_FAMILIES: [&str; 3] = ["windows2019", "windows2022", "windows2025"];

// === block devices ===

pub const ONE_ROOT_VOLUME: Rule = rule(
    "self.filter(x, has(x.rootVolume)?x.rootVolume==true:false).size() <= 1",
    "must have only one blockDeviceMappings with rootVolume",
);
pub const EBS_SNAPSHOT_OR_SIZE: Rule = rule(
    "has(self.snapshotID) || has(self.volumeSize)",
    "snapshotID or volumeSize must be defined",
);
pub const EBS_INITIALIZATION_RATE_NEEDS_SNAPSHOT: Rule = rule(
    "!has(self.volumeInitializationRate) || (has(self.snapshotID) && self.snapshotID != '')",
    "snapshotID must be set when volumeInitializationRate is set",
);

// === kubelet ===

pub const IMAGE_GC_HIGH_ABOVE_LOW: Rule = rule(
    "has(self.imageGCHighThresholdPercent) && has(self.imageGCLowThresholdPercent) ?  self.imageGCHighThresholdPercent > self.imageGCLowThresholdPercent  : true",
    "imageGCHighThresholdPercent must be greater than imageGCLowThresholdPercent",
);
pub const EVICTION_SOFT_HAS_GRACE_PERIOD: Rule = rule(
    "has(self.evictionSoft) ? self.evictionSoft.all(e, (e in self.evictionSoftGracePeriod)):true",
    "evictionSoft OwnerKey does not have a matching evictionSoftGracePeriod",
);
pub const GRACE_PERIOD_HAS_EVICTION_SOFT: Rule = rule(
    "has(self.evictionSoftGracePeriod) ? self.evictionSoftGracePeriod.all(e, (e in self.evictionSoft)):true",
    "evictionSoftGracePeriod OwnerKey does not have a matching evictionSoft",
);
const EVICTION_SIGNAL_RULE: &str = "self.all(x, x in ['memory.available','nodefs.available','nodefs.inodesFree','imagefs.available','imagefs.inodesFree','pid.available'])";
pub const EVICTION_HARD_KEYS: Rule = rule(
    EVICTION_SIGNAL_RULE,
    "valid keys for evictionHard are ['memory.available','nodefs.available','nodefs.inodesFree','imagefs.available','imagefs.inodesFree','pid.available']",
);
pub const EVICTION_SOFT_KEYS: Rule = rule(
    EVICTION_SIGNAL_RULE,
    "valid keys for evictionSoft are ['memory.available','nodefs.available','nodefs.inodesFree','imagefs.available','imagefs.inodesFree','pid.available']",
);
pub const EVICTION_SOFT_GRACE_PERIOD_KEYS: Rule = rule(
    EVICTION_SIGNAL_RULE,
    "valid keys for evictionSoftGracePeriod are ['memory.available','nodefs.available','nodefs.inodesFree','imagefs.available','imagefs.inodesFree','pid.available']",
);
const RESERVED_KEY_RULE: &str =
    "self.all(x, x=='cpu' || x=='memory' || x=='ephemeral-storage' || x=='pid')";
const RESERVED_NOT_NEGATIVE_RULE: &str = "self.all(x, !self[x].startsWith('-'))";
pub const KUBE_RESERVED_KEYS: Rule = rule(
    RESERVED_KEY_RULE,
    "valid keys for kubeReserved are ['cpu','memory','ephemeral-storage','pid']",
);
pub const KUBE_RESERVED_NOT_NEGATIVE: Rule = rule(
    RESERVED_NOT_NEGATIVE_RULE,
    "kubeReserved value cannot be a negative resource quantity",
);
pub const SYSTEM_RESERVED_KEYS: Rule = rule(
    RESERVED_KEY_RULE,
    "valid keys for systemReserved are ['cpu','memory','ephemeral-storage','pid']",
);
pub const SYSTEM_RESERVED_NOT_NEGATIVE: Rule = rule(
    RESERVED_NOT_NEGATIVE_RULE,
    "systemReserved value cannot be a negative resource quantity",
);

// === network, placement ===

pub const PRIMARY_INTERFACE: Rule = rule(
    "self.size() == 0 || self.exists(x, x.deviceIndex == 0 && x.networkCardIndex == 0 && x.interfaceType == 'interface')",
    "networkInterfaces must include a primary interface with interfaceType='interface'",
);
pub const UNIQUE_INTERFACES: Rule = rule(
    "self.all(x, self.filter(y, x.networkCardIndex == y.networkCardIndex && x.deviceIndex == y.deviceIndex).size() == 1 && (x.interfaceType != 'efa-only' || self.filter(y, x.networkCardIndex == y.networkCardIndex && y.interfaceType == 'efa-only').size() == 1))",
    "networkInterfaces must not have duplicate networkCardIndex and deviceIndex pairs, and can have at most one efa device per network card",
);
pub const CONNECTION_TRACKING_HAS_FIELD: Rule = rule(
    "has(self.tcpEstablishedTimeout) || has(self.udpStreamTimeout) || has(self.udpTimeout)",
    "at least one of tcpEstablishedTimeout, udpStreamTimeout, or udpTimeout must be set",
);
pub const PLACEMENT_GROUP_HAS_FIELD: Rule = rule(
    "has(self.name) || has(self.id)",
    "expected at least one, got none, ['name', 'id']",
);
pub const PLACEMENT_GROUP_EXCLUSIVE: Rule = rule(
    "!(has(self.name) && has(self.id))",
    "'name' and 'id' are mutually exclusive",
);
