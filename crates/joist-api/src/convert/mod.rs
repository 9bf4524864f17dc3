//! Conversion of Kubernetes objects (`k8s_openapi` v1.34 types) and joist's API types into the
//! scheduling core's [`joist_core::snapshot`] types, plus the workload expansion the simulator
//! needs (Deployments, StatefulSets and Jobs into pods, DaemonSet pods per node).
//!
//! Both drivers share this layer: the controller converts what its watches return, the simulator
//! what a scenario file holds. Objects from a scenario never went through an API server, so the
//! conversion applies the API server's defaulting that scheduling depends on (requests from
//! limits, empty toleration operator as `Equal`, host port protocol `TCP` ...). Defaulting is
//! idempotent, so applying it to objects read from a cluster changes nothing.
//!
//! Bad input never panics: every failure is a [`ConvertError`] naming the object (`ns/name`), the
//! field path and the reason.

mod expand;
mod meta;
mod node;
mod objects;
mod pod;
mod scheduling;
mod volumes;
mod workloads;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use joist_core::labels::LabelAliases;
use joist_core::resources::QuantityError;
use thiserror::Error;

use crate::common::convert::ConversionError;

pub use expand::{
    POD_TEMPLATE_HASH_LABEL, StatefulSetPods, daemonset_pod_for_node, expand_deployment,
    expand_job, expand_statefulset, pod_template_hash,
};
pub use node::{csinode_volume_limits, node, nodeclaim, nodepool};
pub use objects::{daemonset, pdb};
pub use pod::pod;
pub use volumes::{persistent_volume, persistent_volume_claim, storage_class};
pub use workloads::{
    replica_set_selector, replication_controller_selector, service, stateful_set_selector,
};

/// How objects are read: cluster objects as they are, or scenario objects that still need the
/// parts of their state a cluster would have filled in.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Namespace of namespaced objects whose `metadata.namespace` is unset (scenario files often
    /// leave it out; the API server would use the request's namespace).
    pub default_namespace: String,
    /// Creation time of objects without `metadata.creationTimestamp` (scenario objects).
    pub default_creation_timestamp: DateTime<Utc>,
    /// `PriorityClass` values by name, to resolve `spec.priorityClassName` of pods whose
    /// `spec.priority` is unset (the API server's priority admission does this for real pods).
    pub priority_classes: BTreeMap<String, i32>,
    /// The value of the `globalDefault` PriorityClass, if any: the priority of pods without
    /// `priorityClassName` and `priority`.
    pub global_default_priority: Option<i32>,
    /// Whether objects without status are taken as the cluster would report them: a pending pod
    /// with no `PodScheduled` condition as `Unschedulable` (the simulator plays kube-scheduler,
    /// which found no node), and a NodePool without conditions as `Ready`.
    pub fill_missing_status: bool,
    /// Label aliases used to normalise NodePool requirement keys.
    pub aliases: LabelAliases,
}

impl ConvertOptions {
    /// Options for objects read from a cluster: nothing is assumed about missing status.
    pub fn cluster() -> Self {
        Self {
            default_namespace: "default".to_owned(),
            default_creation_timestamp: DateTime::<Utc>::UNIX_EPOCH,
            priority_classes: BTreeMap::new(),
            global_default_priority: None,
            fill_missing_status: false,
            aliases: LabelAliases::core(),
        }
    }

    /// Options for simulated objects (scenario files): missing status is filled in as the
    /// cluster would (see [`ConvertOptions::fill_missing_status`]).
    pub fn simulation() -> Self {
        Self {
            fill_missing_status: true,
            ..Self::cluster()
        }
    }
}

impl Default for ConvertOptions {
    fn default() -> Self {
        Self::cluster()
    }
}

/// Why an object could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConvertError {
    /// A field the conversion needs is absent.
    #[error("{object}: {path}: Required value")]
    Missing {
        /// The object, `ns/name` (or `name` for cluster-scoped objects).
        object: String,
        /// The missing field's path.
        path: String,
    },
    /// A resource quantity does not parse.
    #[error("{object}: {path}: {source}")]
    Quantity {
        /// The object, `ns/name` (or `name`).
        object: String,
        /// The quantity's path, e.g. `spec.containers[0].resources.requests.cpu`.
        path: String,
        /// Why it does not parse.
        source: QuantityError,
    },
    /// A value is not one Kubernetes accepts (unknown operator, effect, phase ...).
    #[error("{object}: {path}: {reason}")]
    Invalid {
        /// The object, `ns/name` (or `name`).
        object: String,
        /// The field's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A NodePool or NodeClaim field could not be converted by its own conversion.
    #[error(transparent)]
    Api(#[from] ConversionError),
}

/// Where in which object a conversion is: builds errors that name both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    /// `ns/name` or `name`.
    pub object: &'a str,
}

impl At<'_> {
    pub(crate) fn missing(self, path: impl Into<String>) -> ConvertError {
        ConvertError::Missing {
            object: self.object.to_owned(),
            path: path.into(),
        }
    }

    pub(crate) fn invalid(
        self,
        path: impl Into<String>,
        reason: impl Into<String>,
    ) -> ConvertError {
        ConvertError::Invalid {
            object: self.object.to_owned(),
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn quantity(self, path: impl Into<String>, source: QuantityError) -> ConvertError {
        ConvertError::Quantity {
            object: self.object.to_owned(),
            path: path.into(),
            source,
        }
    }

    /// `reason` for a value outside `supported`, in the API server's wording.
    pub(crate) fn unsupported(
        self,
        path: impl Into<String>,
        value: &str,
        supported: &[&str],
    ) -> ConvertError {
        let quoted: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        self.invalid(
            path,
            format!(
                "Unsupported value: \"{value}\": supported values: {}",
                quoted.join(", ")
            ),
        )
    }
}
