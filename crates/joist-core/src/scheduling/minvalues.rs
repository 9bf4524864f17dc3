//! `minValues` (spec core §2.14): a set of instance types satisfies a requirement's `minValues`
//! when it exposes at least that many distinct values of the key.

use std::collections::{BTreeMap, BTreeSet};

use crate::instancetype::InstanceType;
use crate::requirements::Requirements;

/// Keys whose `minValues` are not met, with the number of distinct values that were reached.
pub(crate) type Unmet = BTreeMap<String, u32>;

/// Upstream `InstanceTypes.SatisfiesMinValues`: walks `its` in order and returns how many of them
/// were needed to satisfy every `minValues`, or the unmet keys with the counts reached over all of
/// them. Requirements without `minValues` are satisfied by zero instance types.
pub(crate) fn check<'a>(
    its: impl IntoIterator<Item = &'a InstanceType>,
    requirements: &Requirements,
) -> Result<usize, Unmet> {
    let keyed: Vec<(&str, u32)> = requirements
        .iter()
        .filter_map(|r| r.min_values().map(|m| (r.key(), m)))
        .collect();
    if keyed.is_empty() {
        return Ok(0);
    }
    let mut seen: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); keyed.len()];
    let mut count = 0;
    for it in its {
        count += 1;
        for ((key, _), values) in keyed.iter().zip(seen.iter_mut()) {
            if let Some(r) = it.requirements.find(key) {
                values.extend(r.values());
            }
        }
        if keyed
            .iter()
            .zip(&seen)
            .all(|((_, min), values)| values.len() >= *min as usize)
        {
            return Ok(count);
        }
    }
    Err(keyed
        .iter()
        .zip(&seen)
        .filter(|((_, min), values)| values.len() < *min as usize)
        .map(|((key, _), values)| ((*key).to_owned(), values.len() as u32))
        .collect())
}

/// Upstream's error text for unmet keys: `minValues requirement is not met for label(s)
/// (label(s)=[a b])`.
pub(crate) fn unmet_message(unmet: &Unmet) -> String {
    let keys: Vec<&str> = unmet.keys().map(String::as_str).collect();
    format!(
        "minValues requirement is not met for label(s) (label(s)=[{}])",
        keys.join(" ")
    )
}

/// Lowers each unmet key's `minValues` to the count reached (BestEffort).
pub(crate) fn relax(requirements: &mut Requirements, unmet: &Unmet) {
    for (key, reached) in unmet {
        if let Some(r) = requirements.remove(key) {
            requirements.add(r.with_min_values(Some(*reached)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::INSTANCE_TYPE;
    use crate::requirements::{Operator, Requirement};
    use crate::testing::instance_type;

    fn family(name: &str, family: &str) -> InstanceType {
        instance_type(name)
            .requirement(Requirement::in_values("family", [family]))
            .build()
    }

    #[test]
    fn counts_distinct_values_in_order() {
        let its = [family("c4.large", "c4"), family("c4.xlarge", "c4"), family("c5.large", "c5")];
        let reqs: Requirements = [
            Requirement::new("family", Operator::Exists, Vec::<String>::new())
                .unwrap()
                .with_min_values(Some(2)),
            Requirement::new(INSTANCE_TYPE, Operator::Exists, Vec::<String>::new())
                .unwrap()
                .with_min_values(Some(2)),
        ]
        .into_iter()
        .collect();
        assert_eq!(check(&its, &reqs), Ok(3));
        let unmet = check(&its[..2], &reqs).unwrap_err();
        assert_eq!(check(&its, &Requirements::new()), Ok(0));
        assert_eq!(unmet, Unmet::from([("family".to_owned(), 1)]));
        assert_eq!(
            unmet_message(&unmet),
            "minValues requirement is not met for label(s) (label(s)=[family])"
        );
        let mut relaxed = reqs;
        relax(&mut relaxed, &unmet);
        assert_eq!(relaxed.get("family").min_values(), Some(1));
        assert_eq!(check(&its[..2], &relaxed), Ok(2));
    }
}
