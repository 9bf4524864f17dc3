//! Status conditions as upstream's operatorpkg keeps them: setting a condition to the status it
//! already has keeps its `lastTransitionTime`; the root `Ready` is the conjunction of the
//! object's dependent conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// `True`.
pub const TRUE: &str = "True";
/// `False`.
pub const FALSE: &str = "False";
/// `Unknown`.
pub const UNKNOWN: &str = "Unknown";

/// An object's conditions, edited in memory and written back once.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    list: Vec<Condition>,
    generation: Option<i64>,
}

impl Conditions {
    /// The conditions of an object at `generation`.
    pub fn new(list: Option<&[Condition]>, generation: Option<i64>) -> Self {
        Self {
            list: list.map(<[Condition]>::to_vec).unwrap_or_default(),
            generation,
        }
    }

    /// The condition of `type_`, if set.
    pub fn get(&self, type_: &str) -> Option<&Condition> {
        self.list.iter().find(|c| c.type_ == type_)
    }

    /// Whether `type_` is `True`.
    pub fn is_true(&self, type_: &str) -> bool {
        self.get(type_).is_some_and(|c| c.status == TRUE)
    }

    /// Sets `type_`; the transition time moves only when the status changes.
    pub fn set(&mut self, type_: &str, status: &str, reason: &str, message: &str, now: Timestamp) {
        let condition = Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            observed_generation: self.generation,
            last_transition_time: Time(now),
        };
        match self.list.iter_mut().find(|c| c.type_ == type_) {
            Some(existing) => {
                let transition = if existing.status == status {
                    existing.last_transition_time.clone()
                } else {
                    condition.last_transition_time.clone()
                };
                *existing = Condition {
                    last_transition_time: transition,
                    ..condition
                };
            }
            None => self.list.push(condition),
        }
    }

    /// Sets `type_` to `True` with the type as reason (operatorpkg's convention).
    pub fn set_true(&mut self, type_: &str, now: Timestamp) {
        self.set(type_, TRUE, type_, "", now);
    }

    /// Sets the root `Ready` from `dependents`: True when all are, else the first that is not
    /// (Unknown or False), with its reason.
    pub fn set_root(&mut self, dependents: &[&str], now: Timestamp) {
        let blocking = dependents
            .iter()
            .find(|type_| !self.is_true(type_))
            .map(|type_| {
                self.get(type_).map_or(
                    (UNKNOWN.to_owned(), "AwaitingReconciliation".to_owned()),
                    |c| {
                        (
                            if c.status == FALSE { FALSE } else { UNKNOWN }.to_owned(),
                            format!(
                                "{}{}",
                                c.type_,
                                c.reason.trim_start_matches(&c.type_ as &str)
                            ),
                        )
                    },
                )
            });
        match blocking {
            None => self.set_true("Ready", now),
            Some((status, reason)) => {
                self.set("Ready", &status, "UnhealthyDependents", &reason, now)
            }
        }
    }

    /// The list, to write back.
    pub fn into_list(self) -> Vec<Condition> {
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + second).expect("valid")
    }

    #[test]
    fn the_transition_time_moves_only_on_status_changes() {
        let mut conditions = Conditions::new(None, Some(1));
        conditions.set(
            "Registered",
            UNKNOWN,
            "NodeNotFound",
            "Node not registered with cluster",
            at(0),
        );
        conditions.set(
            "Registered",
            UNKNOWN,
            "NodeNotFound",
            "Node not registered with cluster",
            at(5),
        );
        assert_eq!(
            conditions
                .get("Registered")
                .expect("set")
                .last_transition_time,
            Time(at(0))
        );
        conditions.set_true("Registered", at(9));
        let registered = conditions.get("Registered").expect("set");
        assert_eq!(
            (
                registered.status.as_str(),
                registered.last_transition_time.clone()
            ),
            (TRUE, Time(at(9)))
        );
        assert_eq!(registered.observed_generation, Some(1));
    }

    #[test]
    fn ready_follows_the_dependents() {
        let mut conditions = Conditions::new(None, None);
        conditions.set_true("Launched", at(0));
        conditions.set_root(&["Launched", "Registered"], at(1));
        assert_eq!(conditions.get("Ready").expect("ready").status, UNKNOWN);
        conditions.set_true("Registered", at(2));
        conditions.set_root(&["Launched", "Registered"], at(3));
        assert!(conditions.is_true("Ready"));
    }
}
