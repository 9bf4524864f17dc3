//! Taints and tolerations with Kubernetes' matching rules (k8s.io/api `core/v1/toleration.go`) and
//! Karpenter's helpers over them (`pkg/scheduling/taints.go`): tolerating a set of taints, merging
//! taint lists, and the taints Karpenter itself places or expects to go away.

use std::fmt::{self, Display, Formatter};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// `karpenter.sh/disrupted`: put on a node (NoSchedule) once Karpenter decides to disrupt it.
pub const DISRUPTED_TAINT_KEY: &str = "karpenter.sh/disrupted";
/// `karpenter.sh/unregistered`: put on new nodes (NoExecute) by the provider, removed by Karpenter
/// at registration so nothing runs before Karpenter has synced the node.
pub const UNREGISTERED_TAINT_KEY: &str = "karpenter.sh/unregistered";
/// `node.kubernetes.io/not-ready`: the node controller's taint for a node that is not Ready.
pub const NOT_READY_TAINT_KEY: &str = "node.kubernetes.io/not-ready";
/// `node.kubernetes.io/unreachable`: the node controller's taint for a node it cannot reach.
pub const UNREACHABLE_TAINT_KEY: &str = "node.kubernetes.io/unreachable";
/// `node.cloudprovider.kubernetes.io/uninitialized`: set until the cloud controller manager has
/// initialised the node.
pub const UNINITIALIZED_TAINT_KEY: &str = "node.cloudprovider.kubernetes.io/uninitialized";
/// Key prefix of the Node Readiness Controller's taints (`readiness.k8s.io/<rule>`).
pub const READINESS_TAINT_KEY_PREFIX: &str = "readiness.k8s.io/";

/// What a taint does to pods that do not tolerate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Effect {
    /// New pods are not scheduled onto the node.
    NoSchedule,
    /// The scheduler avoids the node when it can.
    PreferNoSchedule,
    /// New pods are not scheduled and running pods are evicted.
    NoExecute,
}

/// How a toleration compares its value with a taint's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum TolerationOperator {
    /// Any value (and, with an empty key, any key).
    Exists,
    /// The values are equal. The default when the operator is empty.
    #[default]
    Equal,
    /// Both values are integers and the taint's is less than the toleration's.
    Lt,
    /// Both values are integers and the taint's is greater than the toleration's.
    Gt,
}

/// A node taint. Two taints with the same key and effect are the same taint to Kubernetes
/// ([`Taint::matches`]); the value only matters to tolerations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Taint {
    /// The taint key, a qualified name.
    pub key: String,
    /// The taint value; empty when the taint has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// What the taint does.
    pub effect: Effect,
}

/// A pod's toleration of taints. Empty key and operator `Exists` tolerate every taint; no effect
/// matches every effect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// The taint key to match; empty matches every key (only meaningful with `Exists`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// How the value is compared; an empty operator in the input means `Equal`.
    #[serde(
        default,
        deserialize_with = "empty_as_default",
        skip_serializing_if = "is_equal"
    )]
    pub operator: TolerationOperator,
    /// The value to compare with; unused with `Exists`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// The effect to match; `None` (or empty in the input) matches every effect.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub effect: Option<Effect>,
    /// For `NoExecute`, how long the pod stays bound after the taint appears; `None` is forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// A list of taints (a node's, or a NodePool template's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Taints(Vec<Taint>);

/// Why taints were not tolerated or could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaintsError {
    /// Some taints are tolerated by none of the tolerations; lists them in order. The message is
    /// Karpenter's: `did not tolerate taint (taint=k=v:Effect)` per taint, joined by `; `.
    #[error("{}", not_tolerated_message(.taints))]
    NotTolerated {
        /// The taints no toleration tolerates.
        taints: Vec<Taint>,
    },
    /// Text that is not `key[=value]:Effect` (the kubectl spelling of a taint).
    #[error("invalid taint spec: {input}")]
    InvalidTaint {
        /// The text given.
        input: String,
    },
    /// An effect other than NoSchedule, PreferNoSchedule or NoExecute.
    #[error("invalid taint effect: {effect}, unsupported taint effect")]
    InvalidEffect {
        /// The effect given.
        effect: String,
    },
}

fn not_tolerated_message(taints: &[Taint]) -> String {
    let reasons: Vec<String> = taints
        .iter()
        .map(|taint| format!("did not tolerate taint (taint={taint})"))
        .collect();
    reasons.join("; ")
}

// === impl Effect ===

impl Effect {
    /// The API spelling (`NoSchedule` ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Effect::NoSchedule => "NoSchedule",
            Effect::PreferNoSchedule => "PreferNoSchedule",
            Effect::NoExecute => "NoExecute",
        }
    }
}

impl Display for Effect {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Effect {
    type Err = TaintsError;

    fn from_str(text: &str) -> Result<Effect, TaintsError> {
        match text {
            "NoSchedule" => Ok(Effect::NoSchedule),
            "PreferNoSchedule" => Ok(Effect::PreferNoSchedule),
            "NoExecute" => Ok(Effect::NoExecute),
            _ => Err(TaintsError::InvalidEffect {
                effect: text.to_owned(),
            }),
        }
    }
}

// === impl Taint ===

impl Taint {
    /// A taint `key=value:effect` (pass an empty value for `key:effect`).
    pub fn new(key: impl Into<String>, value: impl Into<String>, effect: Effect) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect,
        }
    }

    /// `karpenter.sh/disrupted:NoSchedule`, placed on nodes being disrupted or terminated.
    pub fn disrupted_no_schedule() -> Taint {
        Taint::new(DISRUPTED_TAINT_KEY, "", Effect::NoSchedule)
    }

    /// `karpenter.sh/unregistered:NoExecute`, carried by new nodes until Karpenter registers them.
    pub fn unregistered_no_execute() -> Taint {
        Taint::new(UNREGISTERED_TAINT_KEY, "", Effect::NoExecute)
    }

    /// Whether `other` is the same taint to Kubernetes: same key and effect (`MatchTaint`).
    pub fn matches(&self, other: &Taint) -> bool {
        self.key == other.key && self.effect == other.effect
    }
}

/// Prints `key=value:Effect`, or `key:Effect` when the value is empty (Karpenter's `pretty.Taint`).
impl Display for Taint {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect)
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

/// Reads `key=value:Effect` or `key:Effect`. The effect is required, as in the API; key and value
/// syntax is left to API validation.
impl FromStr for Taint {
    type Err = TaintsError;

    fn from_str(text: &str) -> Result<Taint, TaintsError> {
        let invalid = || TaintsError::InvalidTaint {
            input: text.to_owned(),
        };
        let (key_value, effect) = text.split_once(':').ok_or_else(invalid)?;
        if effect.contains(':') {
            return Err(invalid());
        }
        let effect = effect.parse()?;
        let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
        if key.is_empty() || value.contains('=') {
            return Err(invalid());
        }
        Ok(Taint::new(key, value, effect))
    }
}

/// Whether `taint` is one Karpenter expects to disappear while a node initialises (spec core §1.4):
/// such taints are ignored on uninitialized managed nodes and block initialization. Matched by key
/// and effect, as upstream does, plus any `readiness.k8s.io/` key.
pub fn is_known_ephemeral(taint: &Taint) -> bool {
    const KNOWN: [(&str, Effect); 5] = [
        (NOT_READY_TAINT_KEY, Effect::NoSchedule),
        (NOT_READY_TAINT_KEY, Effect::NoExecute),
        (UNREACHABLE_TAINT_KEY, Effect::NoSchedule),
        (UNINITIALIZED_TAINT_KEY, Effect::NoSchedule),
        (UNREGISTERED_TAINT_KEY, Effect::NoExecute),
    ];
    KNOWN
        .iter()
        .any(|&(key, effect)| taint.key == key && taint.effect == effect)
        || taint.key.starts_with(READINESS_TAINT_KEY_PREFIX)
}

// === impl Toleration ===

impl Toleration {
    /// Tolerates every taint: empty key, `Exists`, any effect.
    pub fn everything() -> Toleration {
        Toleration {
            operator: TolerationOperator::Exists,
            ..Toleration::default()
        }
    }

    /// Tolerates `key` with any value, for `effect` (or every effect when `None`).
    pub fn exists(key: impl Into<String>, effect: Option<Effect>) -> Toleration {
        Toleration {
            key: key.into(),
            operator: TolerationOperator::Exists,
            effect,
            ..Toleration::default()
        }
    }

    /// Tolerates `key=value`, for `effect` (or every effect when `None`).
    pub fn equal(
        key: impl Into<String>,
        value: impl Into<String>,
        effect: Option<Effect>,
    ) -> Toleration {
        Toleration {
            key: key.into(),
            value: value.into(),
            effect,
            ..Toleration::default()
        }
    }

    /// Whether this toleration tolerates `taint` (`ToleratesTaint`, with the `Lt`/`Gt` comparison
    /// operators enabled as Karpenter enables them): the effect must match unless none is given,
    /// the key must match unless empty, then `Equal` compares values, `Exists` accepts any, and
    /// `Lt`/`Gt` compare both values as integers (never tolerating a non-integer).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|effect| effect != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            TolerationOperator::Equal => self.value == taint.value,
            TolerationOperator::Exists => true,
            TolerationOperator::Lt | TolerationOperator::Gt => {
                let (Ok(tolerated), Ok(actual)) =
                    (self.value.parse::<i64>(), taint.value.parse::<i64>())
                else {
                    return false;
                };
                if self.operator == TolerationOperator::Lt {
                    actual < tolerated
                } else {
                    actual > tolerated
                }
            }
        }
    }
}

fn is_equal(operator: &TolerationOperator) -> bool {
    *operator == TolerationOperator::Equal
}

/// Reads an operator where the empty string means the default (`Equal`), as the API allows.
fn empty_as_default<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<TolerationOperator, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    match text.as_deref() {
        None | Some("") => Ok(TolerationOperator::Equal),
        Some("Exists") => Ok(TolerationOperator::Exists),
        Some("Equal") => Ok(TolerationOperator::Equal),
        Some("Lt") => Ok(TolerationOperator::Lt),
        Some("Gt") => Ok(TolerationOperator::Gt),
        Some(other) => Err(serde::de::Error::unknown_variant(
            other,
            &["Exists", "Equal", "Lt", "Gt"],
        )),
    }
}

/// Reads an optional effect where the empty string means "every effect".
fn empty_as_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Effect>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    match text.as_deref() {
        None | Some("") => Ok(None),
        Some(effect) => effect.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

// === impl Taints ===

impl Taints {
    /// The taints, in order.
    pub fn as_slice(&self) -> &[Taint] {
        &self.0
    }

    /// The taints, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Taint> {
        self.0.iter()
    }

    /// The number of taints.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no taints.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether some toleration tolerates every taint, without allocating (Karpenter's
    /// `IsToleratedBy`). All effects count, PreferNoSchedule included.
    pub fn is_tolerated_by(&self, tolerations: &[Toleration]) -> bool {
        self.0.iter().all(|taint| is_tolerated(taint, tolerations))
    }

    /// Like [`Taints::is_tolerated_by`], naming every untolerated taint on failure (Karpenter's
    /// `Tolerates`/`ToleratesPod`).
    pub fn tolerates_all(&self, tolerations: &[Toleration]) -> Result<(), TaintsError> {
        if self.is_tolerated_by(tolerations) {
            return Ok(());
        }
        let taints = self
            .0
            .iter()
            .filter(|taint| !is_tolerated(taint, tolerations))
            .cloned()
            .collect();
        Err(TaintsError::NotTolerated { taints })
    }

    /// These taints followed by those of `with` that match none of them by key and effect
    /// (Karpenter's `Merge`).
    #[must_use]
    pub fn merge(&self, with: &Taints) -> Taints {
        let mut merged = self.0.clone();
        for taint in &with.0 {
            if !merged.iter().any(|existing| taint.matches(existing)) {
                merged.push(taint.clone());
            }
        }
        Taints(merged)
    }
}

fn is_tolerated(taint: &Taint, tolerations: &[Toleration]) -> bool {
    tolerations
        .iter()
        .any(|toleration| toleration.tolerates(taint))
}

impl From<Vec<Taint>> for Taints {
    fn from(taints: Vec<Taint>) -> Taints {
        Taints(taints)
    }
}

impl From<Taints> for Vec<Taint> {
    fn from(taints: Taints) -> Vec<Taint> {
        taints.0
    }
}

impl FromIterator<Taint> for Taints {
    fn from_iter<I: IntoIterator<Item = Taint>>(taints: I) -> Taints {
        Taints(taints.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Taints {
    type Item = &'a Taint;
    type IntoIter = std::slice::Iter<'a, Taint>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests;
