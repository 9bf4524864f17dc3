//! NodeClaim templates (spec core §2.3 steps 1–3, 8, 9): one per usable NodePool, in weight
//! order, with the NodePool's instance types pre-filtered and grouped by the DaemonSets that would
//! run on them.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::dense::{self, Dense, ResourceIndex};
use super::settings::{MinValuesPolicy, SchedulingSettings};
use crate::instancetype::InstanceType;
use crate::labels::{
    CAPACITY_TYPE_RESERVED, HOSTNAME, INITIALIZED, NODECLAIM_MIN_VALUES_RELAXED, NODEPOOL,
    NODEPOOL_HASH, NODEPOOL_HASH_VERSION, NODEPOOL_HASH_VERSION_VALUE, REGISTERED,
};
use crate::requirements::{Requirement, Requirements};
use crate::resources::ResourceList;
use crate::snapshot::{HostPort, NodePool, Pod, PodConstraints, Snapshot};
use crate::taints::{Effect, Taints, Toleration};

/// A NodePool the solver could not use this round, and why (for logs and events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedNodePool {
    /// The NodePool.
    pub nodepool: String,
    /// Upstream's log message (`ignoring nodepool, not ready`, `skipping, nodepool requirements
    /// filtered out all instance types` ...).
    pub reason: String,
    /// Whether upstream emits the `NoCompatibleInstanceTypes` warning event.
    pub no_compatible_instance_types: bool,
    /// Whether the instance types were filtered out by minValues (changes the event message).
    pub min_values_incompatible: bool,
}

/// The reason of upstream's Warning event on a NodePool whose requirements leave no instance
/// type (spec core §6.2; deduplicated per NodePool for 1 minute by the driver).
pub const NO_COMPATIBLE_INSTANCE_TYPES: &str = "NoCompatibleInstanceTypes";

/// A Warning event the driver should emit on a NodePool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePoolEvent {
    /// The event reason.
    pub reason: &'static str,
    /// The event message, upstream's text.
    pub message: &'static str,
}

impl SkippedNodePool {
    /// The Warning event upstream emits for this skip, if any: `NoCompatibleInstanceTypes`,
    /// "NodePool requirements filtered out all compatible available instance types[ due to
    /// minValues incompatibility]".
    pub fn event(&self) -> Option<NodePoolEvent> {
        self.no_compatible_instance_types.then_some(NodePoolEvent {
            reason: NO_COMPATIBLE_INSTANCE_TYPES,
            message: if self.min_values_incompatible {
                "NodePool requirements filtered out all compatible available instance types due to minValues incompatibility"
            } else {
                "NodePool requirements filtered out all compatible available instance types"
            },
        })
    }
}

/// One instance type a template may launch, with its dense resources.
#[derive(Debug)]
pub(crate) struct TemplateOption<'s> {
    /// The instance type.
    pub(crate) it: &'s InstanceType,
    /// Capacity (NodePool limits count capacity).
    pub(crate) capacity: Dense,
    /// Allocatable minus the overhead of the option's DaemonSet group: what pods may request.
    pub(crate) headroom: Dense,
    /// Whether no allocatable amount is negative (a negative one means nothing fits).
    pub(crate) allocatable_ok: bool,
    /// Index of the option's DaemonSet overhead group.
    pub(crate) group: usize,
    /// The instance type's name, shared (NodeClaim requirements list it).
    pub(crate) name: Arc<str>,
}

/// The DaemonSet pods compatible with a set of instance types of a template (upstream
/// `DaemonOverheadGroup`).
#[derive(Debug)]
pub(crate) struct DaemonGroup {
    /// Sum of the DaemonSet pods' requests.
    pub(crate) overhead: Dense,
    /// Which slots some DaemonSet pod requests (upstream keeps absent keys out of `MinResources`).
    pub(crate) present: Vec<bool>,
    /// The same sum as a resource list, keeping the requests' formats for messages.
    pub(crate) overhead_list: ResourceList,
    /// Whether any DaemonSet pod is in the group.
    pub(crate) has_daemons: bool,
    /// Host ports of the DaemonSet pods.
    pub(crate) host_ports: Vec<HostPort>,
}

/// A NodeClaim template (upstream `NodeClaimTemplate`).
#[derive(Debug)]
pub(crate) struct Template<'s> {
    /// The NodePool.
    pub(crate) nodepool: &'s NodePool,
    /// Labels for NodeClaims: template labels, `karpenter.sh/nodepool`, the node class label.
    pub(crate) labels: BTreeMap<String, String>,
    /// Annotations: template annotations plus the NodePool hash and hash version.
    pub(crate) annotations: BTreeMap<String, String>,
    /// Template requirements ∩ labels as `In` ∩ `registered In [true]` ∩ `initialized In [true]`.
    pub(crate) requirements: Requirements,
    /// `spec.taints` (pods must tolerate them).
    pub(crate) taints: Taints,
    /// Instance types that survived the pre-filter, in provider order.
    pub(crate) options: Vec<TemplateOption<'s>>,
    /// DaemonSet overhead groups, referenced by [`TemplateOption::group`].
    pub(crate) groups: Vec<DaemonGroup>,
    /// Whether some option has an available reserved offering (reservations are only tracked
    /// for such templates).
    pub(crate) has_reserved: bool,
    /// Option indices in alphabetical order of name (NodeClaim requirements list names sorted).
    pub(crate) alphabetical: Vec<u32>,
    /// Whether some instance type constrains `kubernetes.io/hostname` (never in practice; it
    /// disables the requirement-verdict cache, which leaves the hostname out).
    pub(crate) hostname_sensitive: bool,
}

/// Builds the templates of every usable NodePool, ordered by weight (descending) then name
/// (descending), and reports the NodePools it skipped. `daemons` are the DaemonSet scheduling pods
/// with their dense requests.
pub(crate) fn build_templates<'s>(
    snapshot: &'s Snapshot,
    settings: &SchedulingSettings,
    index: &ResourceIndex,
    daemons: &[(Pod, Dense)],
    skipped: &mut Vec<SkippedNodePool>,
) -> Vec<Template<'s>> {
    let mut nodepools: Vec<&NodePool> = snapshot
        .nodepools
        .iter()
        .filter(|np| usable(np, skipped))
        .collect();
    nodepools.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| b.name.cmp(&a.name)));
    let mut templates = Vec::with_capacity(nodepools.len());
    for nodepool in nodepools {
        let Some(its) = snapshot
            .instance_types
            .get(&nodepool.name)
            .filter(|t| !t.is_empty())
        else {
            skipped.push(SkippedNodePool {
                nodepool: nodepool.name.clone(),
                reason: "skipping, no resolved instance types found".into(),
                no_compatible_instance_types: false,
                min_values_incompatible: false,
            });
            continue;
        };
        match template(nodepool, its, settings, index, daemons) {
            Ok(t) => templates.push(t),
            Err(min_values) => skipped.push(SkippedNodePool {
                nodepool: nodepool.name.clone(),
                reason: if min_values {
                    "skipping, nodepool requirements filtered out all instance types (minValues incompatible)".into()
                } else {
                    "skipping, nodepool requirements filtered out all instance types".into()
                },
                no_compatible_instance_types: true,
                min_values_incompatible: min_values,
            }),
        }
    }
    templates
}

/// Static, not-ready and deleting NodePools are skipped (spec core §2.3 step 1).
fn usable(nodepool: &NodePool, skipped: &mut Vec<SkippedNodePool>) -> bool {
    let reason = if nodepool.is_static() {
        Some("ignoring nodepool, static")
    } else if nodepool.deleting {
        Some("ignoring nodepool, deleting")
    } else if !nodepool.ready {
        Some("ignoring nodepool, not ready")
    } else {
        None
    };
    if let Some(reason) = reason {
        skipped.push(SkippedNodePool {
            nodepool: nodepool.name.clone(),
            reason: reason.into(),
            no_compatible_instance_types: false,
            min_values_incompatible: false,
        });
    }
    reason.is_none()
}

/// Builds one template; `Err(min_values_incompatible)` when no instance type survives.
fn template<'s>(
    nodepool: &'s NodePool,
    its: &'s [InstanceType],
    settings: &SchedulingSettings,
    index: &ResourceIndex,
    daemons: &[(Pod, Dense)],
) -> Result<Template<'s>, bool> {
    let mut labels = nodepool.labels.clone();
    labels.insert(NODEPOOL.into(), nodepool.name.clone());
    let (class_key, class_value) = nodepool.node_class_ref.label();
    labels.insert(class_key, class_value);
    let mut annotations = nodepool.annotations.clone();
    annotations.insert(NODEPOOL_HASH.into(), nodepool.hash.clone());
    annotations.insert(
        NODEPOOL_HASH_VERSION.into(),
        NODEPOOL_HASH_VERSION_VALUE.into(),
    );
    annotations.remove(NODECLAIM_MIN_VALUES_RELAXED);
    let mut requirements = nodepool.requirements.clone();
    requirements.add_all(&Requirements::from_labels(&labels, &settings.label_aliases));
    requirements.add(Requirement::in_values(REGISTERED, ["true"]));
    requirements.add(Requirement::in_values(INITIALIZED, ["true"]));
    // Types with offering overrides take part as one variant per allocatable group.
    let survivors: Vec<&InstanceType> = its
        .iter()
        .flat_map(InstanceType::scheduling_variants)
        .filter(|it| prefilter(it, &requirements, settings, index))
        .collect();
    if survivors.is_empty() {
        return Err(false);
    }
    if settings.min_values_policy == MinValuesPolicy::Strict
        && super::minvalues::check(survivors.iter().copied(), &requirements).is_err()
    {
        return Err(true);
    }
    let taints: Taints = nodepool.taints.clone().into();
    let (groups, group_of) =
        daemon_groups(&survivors, &requirements, &taints, settings, index, daemons);
    let hostname_sensitive = survivors.iter().any(|it| it.requirements.has(HOSTNAME));
    let has_reserved = survivors.iter().any(|it| {
        it.offerings
            .iter()
            .any(|o| o.available && o.capacity_type() == Some(CAPACITY_TYPE_RESERVED))
    });
    let options: Vec<TemplateOption<'s>> = survivors
        .into_iter()
        .zip(group_of)
        .map(|(it, group)| option(it, group, &groups[group], index))
        .collect();
    let mut alphabetical: Vec<u32> = (0..options.len() as u32).collect();
    alphabetical.sort_by(|&a, &b| options[a as usize].name.cmp(&options[b as usize].name));
    Ok(Template {
        nodepool,
        labels,
        annotations,
        requirements,
        taints,
        options,
        groups,
        has_reserved,
        alphabetical,
        hostname_sensitive,
    })
}

/// Upstream's template pre-filter: the instance type's requirements intersect the template's,
/// it has an available offering compatible with them, and an empty pod fits its allocatable.
fn prefilter(
    it: &InstanceType,
    requirements: &Requirements,
    settings: &SchedulingSettings,
    index: &ResourceIndex,
) -> bool {
    it.requirements.can_intersect(requirements)
        && has_compatible_offering(it, requirements, settings)
        && dense::fits(&index.zero(), &index.dense(it.allocatable()))
}

/// Whether an available offering of `it` is compatible with `requirements` (offering keys are
/// allowed to be undefined when well known).
pub(crate) fn has_compatible_offering(
    it: &InstanceType,
    requirements: &Requirements,
    settings: &SchedulingSettings,
) -> bool {
    it.offerings.iter().any(|o| {
        o.available && requirements.is_compatible(&o.requirements, &settings.well_known_labels)
    })
}

fn option<'s>(
    it: &'s InstanceType,
    group: usize,
    daemons: &DaemonGroup,
    index: &ResourceIndex,
) -> TemplateOption<'s> {
    let allocatable = index.dense(it.allocatable());
    let mut headroom = allocatable.clone();
    dense::sub(&mut headroom, &daemons.overhead);
    TemplateOption {
        name: Arc::from(it.name.as_str()),
        it,
        allocatable_ok: allocatable.iter().all(|&a| a >= 0),
        capacity: index.dense(it.capacity()),
        headroom,
        group,
    }
}

/// Groups the template's instance types by the exact set of compatible DaemonSet pods
/// (spec core §2.3 step 9). Returns the groups and each instance type's group.
fn daemon_groups(
    survivors: &[&InstanceType],
    requirements: &Requirements,
    taints: &Taints,
    settings: &SchedulingSettings,
    index: &ResourceIndex,
    daemons: &[(Pod, Dense)],
) -> (Vec<DaemonGroup>, Vec<usize>) {
    let alternatives: Vec<Option<Vec<Requirements>>> = daemons
        .iter()
        .map(|(pod, _)| daemon_alternatives(pod, requirements, taints, settings))
        .collect();
    let mut keys: BTreeMap<Vec<bool>, usize> = BTreeMap::new();
    let mut groups = Vec::new();
    let mut group_of = Vec::with_capacity(survivors.len());
    for it in survivors {
        let key: Vec<bool> = alternatives
            .iter()
            .map(|alts| {
                alts.as_ref()
                    .is_some_and(|alts| alts.iter().any(|r| it.requirements.can_intersect(r)))
            })
            .collect();
        let next = groups.len();
        let group = *keys.entry(key.clone()).or_insert(next);
        if group == next {
            groups.push(daemon_group(&key, daemons, index));
        }
        group_of.push(group);
    }
    (groups, group_of)
}

/// The strict requirements a DaemonSet pod may run with on this template, one per remaining
/// required node-affinity term (upstream retries after dropping the first of several terms), or
/// `None` when it cannot run on the template at all. PreferNoSchedule taints are always
/// tolerated: a DaemonSet pod does not honour preferences.
fn daemon_alternatives(
    pod: &Pod,
    requirements: &Requirements,
    taints: &Taints,
    settings: &SchedulingSettings,
) -> Option<Vec<Requirements>> {
    let mut tolerations = pod.constraints.tolerations.clone();
    tolerations.push(Toleration::exists("", Some(Effect::PreferNoSchedule)));
    if !taints.is_tolerated_by(&tolerations) {
        return None;
    }
    let mut constraints: PodConstraints = pod.constraints.clone();
    let mut alternatives = Vec::new();
    loop {
        if let Ok(strict) = constraints.strict_requirements(&settings.label_aliases)
            && requirements.is_compatible(&strict, &settings.well_known_labels)
        {
            alternatives.push(strict);
        }
        if constraints.node_affinity.required.len() <= 1 {
            break;
        }
        constraints.node_affinity.required.remove(0);
    }
    (!alternatives.is_empty()).then_some(alternatives)
}

fn daemon_group(key: &[bool], daemons: &[(Pod, Dense)], index: &ResourceIndex) -> DaemonGroup {
    let mut overhead = index.zero();
    let mut present = vec![false; index.len()];
    let mut host_ports = Vec::new();
    let mut overhead_list = ResourceList::new();
    for ((pod, requests), _) in daemons.iter().zip(key).filter(|(_, in_group)| **in_group) {
        dense::add(&mut overhead, requests);
        overhead_list.add(&pod.requests);
        for (name, _) in pod.requests.iter() {
            if let Some(slot) = index.slot(name) {
                present[slot] = true;
            }
        }
        host_ports.extend(pod.host_ports.iter().cloned());
    }
    DaemonGroup {
        overhead,
        present,
        overhead_list,
        has_daemons: key.iter().any(|&k| k),
        host_ports,
    }
}
