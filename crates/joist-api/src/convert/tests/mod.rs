//! Tests of the conversion layer, from YAML as users write it.

mod expand;
mod objects;
mod pods;

use joist_core::resources::{Quantity, ResourceList};
use serde::de::DeserializeOwned;

/// Parses one YAML object into a k8s_openapi (or joist API) type.
fn parse<T: DeserializeOwned>(yaml: &str) -> T {
    serde_yaml_ng::from_str(yaml).expect("test YAML parses")
}

/// A resource list from `(name, quantity)` pairs.
fn resources(pairs: &[(&str, &str)]) -> ResourceList {
    let mut list = ResourceList::new();
    for (name, quantity) in pairs {
        list.insert(
            *name,
            Quantity::parse(quantity).expect("test quantity parses"),
        );
    }
    list
}
