//! Unit tests of [`Requirement`] for each rule of spec core §1.5 (the [`Requirements`] rules are
//! tested next to their code in `set.rs` and `compat.rs`).

use super::*;
use crate::labels::{self, LabelAliases};
use crate::rng::SeededRng;

/// `key <op> values` on the key `"key"`.
fn req(op: Operator, values: &[&str]) -> Requirement {
    Requirement::new("key", op, values.iter().copied()).unwrap()
}

fn in_(values: &[&str]) -> Requirement {
    req(Operator::In, values)
}
fn not_in(values: &[&str]) -> Requirement {
    req(Operator::NotIn, values)
}
fn exists() -> Requirement {
    req(Operator::Exists, &[])
}
fn dne() -> Requirement {
    req(Operator::DoesNotExist, &[])
}
fn gt(n: &str) -> Requirement {
    req(Operator::Gt, &[n])
}
fn lt(n: &str) -> Requirement {
    req(Operator::Lt, &[n])
}
fn gte(n: &str) -> Requirement {
    req(Operator::Gte, &[n])
}
fn lte(n: &str) -> Requirement {
    req(Operator::Lte, &[n])
}

// === Construction and derived operator ===

#[test]
fn in_and_not_in_keep_their_values_sorted_and_deduplicated() {
    let r = in_(&["b", "a", "b"]);
    assert_eq!(r.operator(), Operator::In);
    assert_eq!(r.values().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(r.len(), 2);
    assert!(!r.is_complement());
    let n = not_in(&["x"]);
    assert_eq!(n.operator(), Operator::NotIn);
    assert_eq!(n.len(), i64::MAX as u64 - 1);
    assert!(n.is_complement());
}

#[test]
fn exists_and_does_not_exist_ignore_values() {
    let e = req(Operator::Exists, &["ignored"]);
    assert_eq!(e.operator(), Operator::Exists);
    assert_eq!(e.values().count(), 0);
    assert_eq!(e.len(), i64::MAX as u64);
    let d = req(Operator::DoesNotExist, &["ignored"]);
    assert_eq!(d.operator(), Operator::DoesNotExist);
    assert_eq!(d.len(), 0);
    assert!(d.is_empty());
}

#[test]
fn empty_in_is_does_not_exist_and_empty_not_in_is_exists() {
    assert_eq!(in_(&[]).operator(), Operator::DoesNotExist);
    assert_eq!(not_in(&[]).operator(), Operator::Exists);
}

#[test]
fn numeric_operators_become_inclusive_bounds_on_exists() {
    let cases = [
        (gt("5"), Some(6), None),
        (lt("5"), None, Some(4)),
        (gte("5"), Some(5), None),
        (lte("5"), None, Some(5)),
        (gt("-3"), Some(-2), None),
    ];
    for (r, gte, lte) in cases {
        assert_eq!(r.operator(), Operator::Exists, "{r}");
        assert_eq!((r.gte(), r.lte()), (gte, lte), "{r}");
    }
}

#[test]
fn gt_max_and_lt_min_match_nothing() {
    assert_eq!(gt(&i64::MAX.to_string()), dne());
    assert_eq!(lt(&i64::MIN.to_string()), dne());
}

#[test]
fn numeric_operators_reject_bad_values() {
    assert_eq!(
        Requirement::new("k", Operator::Gt, ["abc"]).unwrap_err(),
        RequirementError::NotAnInteger {
            key: "k".into(),
            operator: Operator::Gt,
            value: "abc".into()
        }
    );
    assert_eq!(
        Requirement::new("k", Operator::Lt, ["1.5"])
            .unwrap_err()
            .to_string(),
        "requirement on key \"k\" with operator Lt needs an integer value, got \"1.5\""
    );
    assert_eq!(
        Requirement::new("k", Operator::Gte, Vec::<String>::new()).unwrap_err(),
        RequirementError::WrongValueCount {
            key: "k".into(),
            operator: Operator::Gte,
            count: 0
        }
    );
    assert!(Requirement::new("k", Operator::Lte, ["1", "2"]).is_err());
    assert!(Requirement::new("k", Operator::Gt, ["99999999999999999999"]).is_err());
}

#[test]
fn min_values_and_normalisation_are_explicit() {
    let r =
        Requirement::in_values(labels::FAILURE_DOMAIN_BETA_ZONE, ["a"]).with_min_values(Some(2));
    assert_eq!(r.key(), labels::FAILURE_DOMAIN_BETA_ZONE);
    let n = r.normalized(&LabelAliases::core());
    assert_eq!(n.key(), labels::ZONE);
    assert_eq!(n.min_values(), Some(2));
}

// === Has ===

#[test]
fn has_checks_membership_or_exclusion() {
    assert!(in_(&["a", "b"]).has("a"));
    assert!(!in_(&["a", "b"]).has("c"));
    assert!(!not_in(&["a"]).has("a"));
    assert!(not_in(&["a"]).has("c"));
    assert!(exists().has("anything"));
    assert!(!dne().has("anything"));
}

#[test]
fn has_with_bounds_requires_an_integer_inside() {
    let r = gt("1").intersection(&lt("9"));
    assert!(r.has("2") && r.has("8"));
    assert!(!r.has("1") && !r.has("9"));
    assert!(!r.has("a"), "non-integers are outside any bound");
    assert!(!gte("0").has("x"));
    assert!(gte("0").has("0"));
    assert!(lte("0").has("-5"));
}

// === Intersection ===

#[test]
fn intersection_follows_the_upstream_table() {
    let cases = [
        (exists(), dne(), dne()),
        (exists(), in_(&["A"]), in_(&["A"])),
        (in_(&["A"]), in_(&["B"]), dne()),
        (in_(&["A", "B"]), not_in(&["A"]), in_(&["B"])),
        (in_(&["A"]), not_in(&["1", "2"]), in_(&["A"])),
        (
            not_in(&["A"]),
            not_in(&["1", "2"]),
            not_in(&["1", "2", "A"]),
        ),
        (in_(&["1", "9"]), gt("1"), in_(&["9"])),
        (in_(&["1", "9"]), lt("9"), in_(&["1"])),
        (in_(&["A"]), gt("1"), dne()),
        (not_in(&["A"]), gt("1"), gt("1")),
        (dne(), not_in(&["A"]), dne()),
        (gt("1"), gt("9"), gt("9")),
        (lt("1"), lt("9"), lt("1")),
        (gt("9"), lt("9"), dne()),
    ];
    for (a, b, expected) in cases {
        assert_eq!(a.intersection(&b), expected, "{a} ∩ {b}");
        assert_eq!(b.intersection(&a), expected, "{b} ∩ {a}");
    }
}

#[test]
fn intersection_keeps_excluded_values_inside_bounds_only() {
    let r = not_in(&["1", "2"]).intersection(&gt("1"));
    assert_eq!(r.to_string(), "key NotIn [2] >=2");
    let r = not_in(&["1", "2"]).intersection(&gt("9"));
    assert_eq!(r.to_string(), "key Exists >=10");
    let r = not_in(&["1", "2", "x"]).intersection(&lt("9"));
    assert_eq!(r.to_string(), "key NotIn [1 2] <=8");
}

#[test]
fn disjoint_bounds_give_does_not_exist() {
    assert_eq!(gte("5").intersection(&lte("3")), dne());
    assert_eq!(gt("1").intersection(&lt("2")), dne(), "gte 2 > lte 1");
    let single = gt("1").intersection(&lt("3"));
    assert_eq!((single.gte(), single.lte()), (Some(2), Some(2)));
    assert!(single.has("2"));
}

#[test]
fn concrete_results_drop_bounds() {
    let r = in_(&["3", "x"]).intersection(&gte("2"));
    assert_eq!(r, in_(&["3"]));
    assert_eq!((r.gte(), r.lte()), (None, None));
}

#[test]
fn intersection_takes_the_larger_min_values() {
    let a = in_(&["a", "b", "c"]).with_min_values(Some(2));
    let b = exists().with_min_values(Some(3));
    assert_eq!(a.intersection(&b).min_values(), Some(3));
    assert_eq!(a.intersection(&exists()).min_values(), Some(2));
    assert_eq!(
        gte("5")
            .with_min_values(Some(1))
            .intersection(&lte("1"))
            .min_values(),
        Some(1)
    );
}

#[test]
fn intersection_reuses_value_storage_when_unchanged() {
    let a = in_(&["a", "b"]);
    let r = a.intersection(&exists());
    assert!(std::ptr::eq(
        a.shared_values().as_ptr(),
        r.shared_values().as_ptr()
    ));
}

#[test]
fn has_intersection_agrees_with_intersection() {
    let all = [
        exists(),
        dne(),
        in_(&["A"]),
        in_(&["A", "B"]),
        not_in(&["A"]),
        in_(&["1", "9"]),
        not_in(&["1", "2"]),
        gt("1"),
        gt("9"),
        lt("1"),
        lt("9"),
    ];
    for a in &all {
        for b in &all {
            assert_eq!(
                a.has_intersection(b),
                !a.intersection(b).is_empty(),
                "{a} ∩ {b}"
            );
        }
    }
}

// === Any ===

#[test]
fn any_of_in_is_the_first_value_in_byte_order() {
    let mut rng = SeededRng::new(1);
    assert_eq!(
        in_(&["m5.large", "c5.large"]).any(&mut rng).as_deref(),
        Some("c5.large")
    );
    assert_eq!(dne().any(&mut rng), None);
}

#[test]
fn any_of_bounded_exists_stays_within_bounds_and_is_deterministic() {
    let r = gt("10").intersection(&lt("20"));
    let draw = |seed| {
        let mut rng = SeededRng::new(seed);
        (0..50)
            .map(|_| r.any(&mut rng).unwrap())
            .collect::<Vec<_>>()
    };
    let first = draw(7);
    assert_eq!(first, draw(7));
    for v in &first {
        let n: i64 = v.parse().unwrap();
        assert!((11..=19).contains(&n), "{v}");
    }
    assert!(first.iter().any(|v| v != &first[0]), "values vary");
}

#[test]
fn any_of_not_in_avoids_excluded_values() {
    let r = gte("1")
        .intersection(&lte("3"))
        .intersection(&not_in(&["1", "3"]));
    let mut rng = SeededRng::new(3);
    for _ in 0..20 {
        assert_eq!(r.any(&mut rng).as_deref(), Some("2"));
    }
    let exhausted = r.intersection(&not_in(&["2"]));
    assert_eq!(exhausted.any(&mut rng), None);
}

#[test]
fn any_falls_back_to_negative_values_when_the_default_range_is_excluded() {
    let r = lte("0").intersection(&not_in(&["0"]));
    assert_eq!(r.to_string(), "key NotIn [0] <=0");
    let mut rng = SeededRng::new(0);
    let n: i64 = r.any(&mut rng).unwrap().parse().unwrap();
    assert!(n < 0, "{n}");
}

#[test]
fn any_of_unbounded_exists_is_a_non_negative_integer() {
    let mut rng = SeededRng::new(5);
    for _ in 0..20 {
        let n: i64 = exists().any(&mut rng).unwrap().parse().unwrap();
        assert!(n >= 0);
        let m: i64 = lte("-5").any(&mut rng).unwrap().parse().unwrap();
        assert!(m <= -5);
    }
    assert_eq!(
        gte(&i64::MAX.to_string()).any(&mut rng),
        Some(i64::MAX.to_string())
    );
}

// === String forms ===

#[test]
fn string_forms_match_upstream() {
    assert_eq!(in_(&["b", "a"]).to_string(), "key In [a b]");
    assert_eq!(not_in(&["a"]).to_string(), "key NotIn [a]");
    assert_eq!(exists().to_string(), "key Exists");
    assert_eq!(dne().to_string(), "key DoesNotExist");
    assert_eq!(gt("1").to_string(), "key Exists >=2");
    assert_eq!(lt("9").to_string(), "key Exists <=8");
    assert_eq!(
        gte("1").intersection(&lte("9")).to_string(),
        "key Exists >=1 <=9"
    );
    assert_eq!(
        in_(&["a"]).with_min_values(Some(1)).to_string(),
        "key In [a] minValues 1"
    );
    let many = in_(&["a", "b", "c", "d", "e", "f", "g", "h"]);
    assert_eq!(many.to_string(), "key In [a b c d e and 3 others]");
    assert_eq!(
        in_(&["a", "b", "c", "d", "e"]).to_string(),
        "key In [a b c d e]"
    );
}
