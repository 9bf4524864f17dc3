//! Compatibility between two [`Requirements`] (upstream `Intersects` and `Compatible`), with
//! allocation-free boolean forms for the scheduler's inner loops.

use std::fmt::{self, Write as _};

use super::{Operator, Requirement, Requirements};
use crate::labels::WellKnownLabels;

/// Why one set of requirements cannot be met by another. `Display` gives upstream's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncompatibleError {
    /// The incoming requirements constrain a custom key the existing ones do not define
    /// (`label "k" does not have known values`, plus a typo hint when a similar key exists).
    #[error("label {} does not have known values{}", go_quote(key), TypoHint(typo_of.as_deref()))]
    UndefinedLabel {
        /// The undefined key.
        key: String,
        /// The well-known or defined key it may be a typo of.
        typo_of: Option<String>,
    },
    /// Keys defined on both sides whose values do not overlap; upstream joins them with `"; "`.
    #[error("{}", JoinConflicts(.0))]
    Conflicts(Vec<KeyConflict>),
}

/// One key whose incoming and existing requirements do not overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConflict {
    /// The label key.
    pub key: String,
    /// The requirement that was checked (the argument side).
    pub incoming: Requirement,
    /// The requirement it was checked against (the receiver side).
    pub existing: Requirement,
}

impl fmt::Display for KeyConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key {}, {} not in {}",
            self.key, self.incoming, self.existing
        )
    }
}

/// Formats the optional ` (typo of "k"?)` suffix.
struct TypoHint<'a>(Option<&'a str>);

impl fmt::Display for TypoHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(key) => write!(f, " (typo of {}?)", go_quote(key)),
            None => Ok(()),
        }
    }
}

/// Formats conflicts as upstream's `multierr` does: messages joined by `"; "`.
struct JoinConflicts<'a>(&'a [KeyConflict]);

impl fmt::Display for JoinConflicts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, conflict) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{conflict}")?;
        }
        Ok(())
    }
}

// === impl Requirements: compatibility ===

impl Requirements {
    /// Upstream `Intersects`: every key defined on both sides must have overlapping values, except
    /// that two requirements that are both `NotIn`/`DoesNotExist` never conflict. Keys defined on
    /// one side only are fine. Collects every conflict, in key order.
    pub fn intersects(&self, incoming: &Requirements) -> Result<(), IncompatibleError> {
        let mut conflicts = Vec::new();
        self.for_each_conflict(incoming, |existing, incoming| {
            conflicts.push(KeyConflict {
                key: existing.key().to_owned(),
                incoming: incoming.clone(),
                existing: existing.clone(),
            });
            true
        });
        if conflicts.is_empty() {
            Ok(())
        } else {
            Err(IncompatibleError::Conflicts(conflicts))
        }
    }

    /// [`intersects`](Self::intersects) as a boolean; allocation-free and stops at the first
    /// conflict.
    pub fn can_intersect(&self, incoming: &Requirements) -> bool {
        let mut ok = true;
        self.for_each_conflict(incoming, |_, _| {
            ok = false;
            false
        });
        ok
    }

    /// Upstream `Compatible`: every key of `incoming` must be defined here unless it is in
    /// `allow_undefined` or its operator is `NotIn`/`DoesNotExist` (only the first such key is
    /// reported, with a typo hint); then [`intersects`](Self::intersects) must hold.
    ///
    /// Pass the provider's well-known labels as `allow_undefined` when checking pods against
    /// NodePools and offerings (upstream `AllowUndefinedWellKnownLabels`), an empty set otherwise.
    pub fn compatible(
        &self,
        incoming: &Requirements,
        allow_undefined: &WellKnownLabels,
    ) -> Result<(), IncompatibleError> {
        if let Some(key) = self.first_undefined(incoming, allow_undefined) {
            return Err(IncompatibleError::UndefinedLabel {
                key: key.to_owned(),
                typo_of: self.typo_hint(key, allow_undefined).map(str::to_owned),
            });
        }
        self.intersects(incoming)
    }

    /// [`compatible`](Self::compatible) as a boolean; allocation-free.
    pub fn is_compatible(
        &self,
        incoming: &Requirements,
        allow_undefined: &WellKnownLabels,
    ) -> bool {
        self.first_undefined(incoming, allow_undefined).is_none() && self.can_intersect(incoming)
    }

    /// The first key of `incoming` (in key order) that must be defined here but is not.
    fn first_undefined<'a>(
        &self,
        incoming: &'a Requirements,
        allow_undefined: &WellKnownLabels,
    ) -> Option<&'a str> {
        incoming
            .iter()
            .find(|r| {
                !allow_undefined.contains(r.key())
                    && !matches!(r.operator(), Operator::NotIn | Operator::DoesNotExist)
                    && !self.has(r.key())
            })
            .map(Requirement::key)
    }

    /// Calls `on_conflict(existing, incoming)` for each key defined on both sides whose
    /// requirements conflict, in key order, until it returns `false`.
    fn for_each_conflict<'a>(
        &'a self,
        incoming: &'a Requirements,
        mut on_conflict: impl FnMut(&'a Requirement, &'a Requirement) -> bool,
    ) {
        let negative =
            |r: &Requirement| matches!(r.operator(), Operator::NotIn | Operator::DoesNotExist);
        // Probe the smaller side's keys in the larger: pods have few keys, instance types many.
        let (probe, target, probe_is_incoming) = if incoming.len() <= self.len() {
            (incoming, self, true)
        } else {
            (self, incoming, false)
        };
        for candidate in probe {
            let Some(other) = target.find(candidate.key()) else {
                continue;
            };
            let (existing, incoming) = if probe_is_incoming {
                (other, candidate)
            } else {
                (candidate, other)
            };
            if existing.has_intersection(incoming) || (negative(incoming) && negative(existing)) {
                continue;
            }
            if !on_conflict(existing, incoming) {
                return;
            }
        }
    }

    /// Upstream `labelHint`: the first well-known key (sorted) and then the first defined key
    /// (sorted) that contains `key` or ends with its name part (the text after the first `/`).
    fn typo_hint<'a>(&'a self, key: &str, allow_undefined: &'a WellKnownLabels) -> Option<&'a str> {
        let name = key.split_once('/').map_or(key, |(_, name)| name);
        let similar = |candidate: &&str| candidate.contains(key) || candidate.ends_with(name);
        allow_undefined
            .iter()
            .find(similar)
            .or_else(|| self.keys().find(similar))
    }
}

/// Go's `%q` for strings: double quotes, with `"` and `\` escaped and control characters written
/// as Go escapes (`\n`, `\t`, `\x1b`, `\u0085`, ...).
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{self, WellKnownLabels};
    use crate::requirements::{Operator, Requirement, Requirements};

    fn reqs(items: impl IntoIterator<Item = Requirement>) -> Requirements {
        items.into_iter().collect()
    }

    fn keyed(key: &str, op: Operator, values: &[&str]) -> Requirement {
        Requirement::new(key, op, values.iter().copied()).unwrap()
    }

    #[test]
    fn intersects_reports_every_conflicting_key_in_order() {
        let existing = reqs([
            keyed("a", Operator::In, &["1"]),
            keyed("b", Operator::In, &["x"]),
        ]);
        let incoming = reqs([
            keyed("a", Operator::In, &["2"]),
            keyed("b", Operator::In, &["y"]),
            keyed("c", Operator::In, &["z"]),
        ]);
        let err = existing.intersects(&incoming).unwrap_err();
        assert_eq!(
            err.to_string(),
            "key a, a In [2] not in a In [1]; key b, b In [y] not in b In [x]"
        );
        assert!(!existing.can_intersect(&incoming));
        assert!(
            existing
                .intersects(&reqs([keyed("c", Operator::In, &["z"])]))
                .is_ok()
        );
    }

    #[test]
    fn intersects_allows_two_negative_requirements() {
        let existing = reqs([keyed("k", Operator::DoesNotExist, &[])]);
        for op in [Operator::NotIn, Operator::DoesNotExist] {
            let incoming = reqs([keyed("k", op, &["a"])]);
            assert!(existing.intersects(&incoming).is_ok(), "{op}");
            assert!(existing.can_intersect(&incoming));
        }
        let incoming = reqs([keyed("k", Operator::In, &["a"])]);
        assert!(existing.intersects(&incoming).is_err());
        let reverse = reqs([keyed("k", Operator::In, &["a"])]);
        assert!(
            reverse.intersects(&existing).is_err(),
            "In vs DoesNotExist conflicts both ways"
        );
    }

    #[test]
    fn compatible_requires_custom_keys_to_be_defined() {
        let nodepool = reqs([keyed("team", Operator::In, &["a"])]);
        let pod = reqs([keyed("deployment", Operator::Exists, &[])]);
        let err = nodepool
            .compatible(&pod, &WellKnownLabels::empty())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "label \"deployment\" does not have known values"
        );
        assert!(!nodepool.is_compatible(&pod, &WellKnownLabels::empty()));
        let negative = reqs([keyed("deployment", Operator::NotIn, &["x"])]);
        assert!(
            nodepool
                .compatible(&negative, &WellKnownLabels::empty())
                .is_ok()
        );
    }

    #[test]
    fn compatible_allows_undefined_well_known_keys_but_still_intersects_defined_ones() {
        let nodepool = reqs([keyed(labels::ARCH, Operator::In, &["amd64"])]);
        let wk = WellKnownLabels::core();
        let pod = reqs([keyed(labels::ZONE, Operator::In, &["us-east-1a"])]);
        assert!(nodepool.compatible(&pod, &wk).is_ok());
        assert!(
            nodepool
                .compatible(&pod, &WellKnownLabels::empty())
                .is_err()
        );
        let arm = reqs([keyed(labels::ARCH, Operator::In, &["arm64"])]);
        assert_eq!(
            nodepool.compatible(&arm, &wk).unwrap_err().to_string(),
            "key kubernetes.io/arch, kubernetes.io/arch In [arm64] not in kubernetes.io/arch In [amd64]"
        );
        assert!(!nodepool.is_compatible(&arm, &wk));
    }

    #[test]
    fn compatible_reports_only_the_first_undefined_key() {
        let pod = reqs([
            keyed("b-key", Operator::Exists, &[]),
            keyed("a-key", Operator::Exists, &[]),
        ]);
        let err = Requirements::new()
            .compatible(&pod, &WellKnownLabels::empty())
            .unwrap_err();
        assert_eq!(
            err,
            IncompatibleError::UndefinedLabel {
                key: "a-key".into(),
                typo_of: None
            }
        );
    }

    #[test]
    fn typo_hints_match_upstream() {
        let cases = [
            ("zone", labels::ZONE),
            ("region", labels::REGION),
            ("nodepool", labels::NODEPOOL),
            ("instance-type", labels::INSTANCE_TYPE),
            ("arch", labels::ARCH),
            ("capacity-type", labels::CAPACITY_TYPE),
            ("topology.kubernetesio/zone", labels::ZONE),
            ("node.io/zone", labels::ZONE),
            ("topology.kubernetes.io/regio", labels::REGION),
            ("node.kubernetes.io/region", labels::REGION),
            ("karpenter/nodepool", labels::NODEPOOL),
        ];
        for (bad, hint) in cases {
            let pod = reqs([keyed(bad, Operator::Exists, &[])]);
            let err = Requirements::new()
                .compatible(&pod, &WellKnownLabels::core())
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("label \"{bad}\" does not have known values (typo of \"{hint}\"?)")
            );
        }
    }

    #[test]
    fn typo_hints_fall_back_to_defined_keys() {
        let nodepool = reqs([keyed("example.com/team", Operator::In, &["a"])]);
        let pod = reqs([keyed("team", Operator::In, &["a"])]);
        let err = nodepool
            .compatible(&pod, &WellKnownLabels::core())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "label \"team\" does not have known values (typo of \"example.com/team\"?)"
        );
    }

    #[test]
    fn undefined_label_quotes_like_go() {
        let pod = reqs([keyed("we\"ird\n", Operator::Exists, &[])]);
        let err = Requirements::new()
            .compatible(&pod, &WellKnownLabels::empty())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"label "we\"ird\n" does not have known values"#
        );
    }
}
