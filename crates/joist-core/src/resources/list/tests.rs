use super::*;
use crate::resources::names::{CPU, MEMORY, NVIDIA_GPU, PODS};

/// `list(&[("cpu", "1"), ("memory", "1Gi")])`.
fn list(entries: &[(&str, &str)]) -> ResourceList {
    entries
        .iter()
        .map(|(name, text)| match Quantity::parse(text) {
            Ok(quantity) => (*name, quantity),
            Err(error) => panic!("{text:?}: {error}"),
        })
        .collect()
}

#[test]
fn add_and_sub_treat_missing_keys_as_zero() {
    let mut total = list(&[(CPU, "1"), (MEMORY, "1Mi")]);
    total.add(&list(&[(CPU, "500m"), (PODS, "1")]));
    assert_eq!(total, list(&[(CPU, "1500m"), (MEMORY, "1Mi"), (PODS, "1")]));
    assert_eq!(
        total.to_string(),
        r#"{"cpu":"1500m","memory":"1Mi","pods":"1"}"#
    );

    total.sub(&list(&[(CPU, "2"), (NVIDIA_GPU, "1")]));
    assert_eq!(total.get(CPU), Some(Quantity::from_milli(-500)));
    assert_eq!(total.get(NVIDIA_GPU), Some(Quantity::from_int(-1)));
    assert_eq!(total.get_or_zero("example.com/absent"), Quantity::ZERO);
}

#[test]
fn plus_and_minus_leave_the_operands_alone() {
    let base = list(&[(CPU, "2")]);
    let other = list(&[(CPU, "1"), (MEMORY, "1Gi")]);
    assert_eq!(base.plus(&other), list(&[(CPU, "3"), (MEMORY, "1Gi")]));
    assert_eq!(base.minus(&other), list(&[(CPU, "1"), (MEMORY, "-1Gi")]));
    assert_eq!(base, list(&[(CPU, "2")]));
}

#[test]
fn max_per_key_takes_the_larger_amount_of_each_resource() {
    let mut peak = list(&[(CPU, "2"), (MEMORY, "1Gi")]);
    peak.max_per_key(&list(&[(CPU, "1"), (MEMORY, "2Gi"), (NVIDIA_GPU, "1")]));
    assert_eq!(
        peak,
        list(&[(CPU, "2"), (MEMORY, "2Gi"), (NVIDIA_GPU, "1")])
    );
}

#[test]
fn is_zero_means_every_amount_is_zero() {
    assert!(ResourceList::new().is_zero());
    assert!(list(&[(CPU, "0"), (MEMORY, "0Gi")]).is_zero());
    assert!(!list(&[(CPU, "0"), (MEMORY, "1")]).is_zero());
}

#[test]
fn fits_when_every_request_is_within_the_available_amount() {
    let available = list(&[(CPU, "4"), (MEMORY, "8Gi"), (PODS, "110")]);
    assert_eq!(
        fits(
            &list(&[(CPU, "4"), (MEMORY, "1Gi"), (PODS, "1")]),
            &available
        ),
        Ok(())
    );
    assert_eq!(fits(&ResourceList::new(), &available), Ok(()));
    let requests = list(&[(CPU, "4001m")]);
    let error = fits(&requests, &available).unwrap_err();
    assert_eq!(
        error,
        InsufficientResource {
            resource: CPU,
            requested: Quantity::from_milli(4001),
            available: Quantity::from_int(4)
        }
    );
    assert_eq!(
        error.to_string(),
        "insufficient cpu: requested 4001m, available 4"
    );
}

#[test]
fn a_resource_the_node_lacks_fits_only_when_requested_at_zero() {
    let available = list(&[(CPU, "4"), (MEMORY, "8Gi")]);
    assert_eq!(
        list(&[(CPU, "1"), (NVIDIA_GPU, "0")]).fits(&available),
        Ok(())
    );
    let requests = list(&[(CPU, "1"), (NVIDIA_GPU, "1")]);
    let error = requests.fits(&available).unwrap_err();
    assert_eq!(error.resource, NVIDIA_GPU);
    assert_eq!(error.available, Quantity::ZERO);
    assert_eq!(
        error.to_string(),
        "insufficient nvidia.com/gpu: requested 1, available 0"
    );
}

#[test]
fn nothing_fits_a_node_with_a_negative_remaining_amount() {
    // Keys before, equal to and after the requested ones are all checked.
    for negative in ["a.example/first", CPU, "z.example/last"] {
        let mut available = list(&[(CPU, "4"), (MEMORY, "8Gi")]);
        available.insert(negative, Quantity::from_milli(-1));
        let requests = list(&[(CPU, "1")]);
        let error = fits(&requests, &available).unwrap_err();
        assert_eq!(error.resource, negative);
        assert_eq!(error.available, Quantity::from_milli(-1));
        assert!(fits(&ResourceList::new(), &available).is_err());
    }
}

#[test]
fn serializes_as_a_plain_map() {
    let resources = list(&[(MEMORY, "1.5Gi"), (CPU, "0.5")]);
    let json = serde_json::to_string(&resources).unwrap();
    assert_eq!(json, r#"{"cpu":"500m","memory":"1536Mi"}"#);
    let back: ResourceList =
        serde_json::from_str(r#"{"cpu": 2, "memory": "1Gi", "pods": "110"}"#).unwrap();
    assert_eq!(back, list(&[(CPU, "2"), (MEMORY, "1Gi"), (PODS, "110")]));
    assert_eq!(
        back.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        [CPU, MEMORY, PODS]
    );
}
