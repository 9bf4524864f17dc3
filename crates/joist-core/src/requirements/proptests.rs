//! Property tests of the requirement algebra laws.

use proptest::prelude::*;

use super::*;
use crate::labels::{LabelAliases, WellKnownLabels};
use crate::rng::SeededRng;

/// A small universe so generated requirements overlap often: words, canonical and non-canonical
/// integers, negatives.
const VALUES: [&str; 10] = ["a", "b", "c", "0", "1", "2", "3", "5", "-1", "007"];

/// Values to probe `has` with: the universe plus integers around the generated bounds and junk.
fn probes() -> Vec<String> {
    let mut out: Vec<String> = VALUES.iter().map(|v| (*v).to_owned()).collect();
    out.extend((-6..=10).map(|n: i64| n.to_string()));
    out.extend(["x".to_owned(), String::new(), "+3".to_owned()]);
    out
}

/// One requirement built straight from an operator, on `key`.
fn base_requirement(key: &'static str) -> impl Strategy<Value = Requirement> {
    let values = prop::collection::vec(prop::sample::select(VALUES.to_vec()), 0..4);
    (
        0..Operator::ALL.len(),
        values,
        -4i64..=8,
        prop::option::of(1u32..4),
    )
        .prop_map(move |(op, values, bound, min_values)| {
            let operator = Operator::ALL[op];
            let built = if operator.is_numeric() {
                Requirement::new(key, operator, [bound.to_string()])
            } else {
                Requirement::new(key, operator, values)
            };
            // Numeric operators get exactly one integer, so construction cannot fail here.
            built
                .expect("generated requirement is valid")
                .with_min_values(min_values)
        })
}

/// A requirement that may itself be an intersection, reaching bounded `NotIn`s and the like.
fn requirement(key: &'static str) -> impl Strategy<Value = Requirement> {
    prop_oneof![
        base_requirement(key),
        (base_requirement(key), base_requirement(key)).prop_map(|(a, b)| a.intersection(&b)),
    ]
}

/// Requirements over a few keys.
fn requirements() -> impl Strategy<Value = Requirements> {
    let key = prop::sample::select(vec!["k1", "k2", "k3"]);
    prop::collection::vec(key.prop_flat_map(requirement), 0..4)
        .prop_map(|items| items.into_iter().collect())
}

proptest! {
    #[test]
    fn intersection_is_commutative(a in requirement("k"), b in requirement("k")) {
        prop_assert_eq!(a.intersection(&b), b.intersection(&a));
    }

    #[test]
    fn intersection_is_idempotent(a in requirement("k")) {
        prop_assert_eq!(a.intersection(&a), a);
    }

    #[test]
    fn intersection_is_associative(a in requirement("k"), b in requirement("k"), c in requirement("k")) {
        prop_assert_eq!(a.intersection(&b).intersection(&c), a.intersection(&b.intersection(&c)));
    }

    #[test]
    fn has_of_intersection_is_conjunction(a in requirement("k"), b in requirement("k")) {
        let both = a.intersection(&b);
        for v in probes() {
            prop_assert_eq!(both.has(&v), a.has(&v) && b.has(&v), "value {:?}: {} ∩ {} = {}", v, a, b, both);
        }
    }

    #[test]
    fn has_intersection_matches_intersection_length(a in requirement("k"), b in requirement("k")) {
        prop_assert_eq!(a.has_intersection(&b), !a.intersection(&b).is_empty());
    }

    #[test]
    fn node_selector_round_trip_preserves_the_requirement(a in requirement("k")) {
        let wire = a.to_node_selector_requirements();
        let back = Requirements::from_node_selector_requirements(&wire, &LabelAliases::empty())
            .expect("serialised requirements parse");
        let rebuilt = back.get("k");
        for v in probes() {
            prop_assert_eq!(rebuilt.has(&v), a.has(&v), "value {:?}: {} -> {:?}", v, a, wire);
        }
        prop_assert_eq!(rebuilt.min_values(), a.min_values());
        prop_assert_eq!(rebuilt.as_ref(), &a);
    }

    #[test]
    fn any_value_satisfies_the_requirement(a in requirement("k"), seed in any::<u64>()) {
        let mut rng = SeededRng::new(seed);
        match a.any(&mut rng) {
            Some(v) => prop_assert!(a.has(&v), "{} picked {:?}", a, v),
            None => prop_assert!(probes().iter().all(|v| !a.has(v)) || a.operator() == Operator::DoesNotExist,
                "{} returned None although values are allowed", a),
        }
        let again = a.any(&mut SeededRng::new(seed));
        prop_assert_eq!(again, a.any(&mut SeededRng::new(seed)));
    }

    #[test]
    fn add_is_intersection(a in requirement("k"), b in requirement("k")) {
        let mut set = Requirements::new();
        set.add(a.clone());
        set.add(b.clone());
        prop_assert_eq!(set.len(), 1);
        prop_assert_eq!(set.get("k").into_owned(), a.intersection(&b));
    }

    #[test]
    fn requirements_intersection_is_add_all(a in requirements(), b in requirements()) {
        let mut added = a.clone();
        added.add_all(&b);
        prop_assert_eq!(a.intersection(&b), added);
    }

    #[test]
    fn boolean_checks_agree_with_their_error_forms(a in requirements(), b in requirements()) {
        prop_assert_eq!(a.can_intersect(&b), a.intersects(&b).is_ok());
        for allow in [WellKnownLabels::empty(), WellKnownLabels::empty().with(["k2"])] {
            prop_assert_eq!(a.is_compatible(&b, &allow), a.compatible(&b, &allow).is_ok());
        }
    }

    #[test]
    fn intersects_holds_when_every_shared_key_overlaps(a in requirements(), b in requirements()) {
        let overlapping = a.keys().filter(|k| b.has(k)).all(|k| a.get(k).has_intersection(&b.get(k)));
        if overlapping {
            prop_assert!(a.intersects(&b).is_ok());
        }
    }
}
