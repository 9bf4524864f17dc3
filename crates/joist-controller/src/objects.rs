//! joist's API types as kube resources.
//!
//! `joist-api` stays free of kube (its types serve the simulator and `joist validate` too), so
//! the controller wraps each in a transparent newtype that implements [`kube::Resource`]: the
//! wire form is exactly the wrapped type's.

use std::borrow::Cow;

use joist_api::ec2nodeclass::EC2NodeClass;
use joist_api::nodeclaim::NodeClaim;
use joist_api::nodepool::NodePool;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::ClusterResourceScope;
use serde::{Deserialize, Serialize};

/// Implements [`kube::Resource`] for a cluster-scoped newtype over a joist API type.
macro_rules! cluster_resource {
    ($wrapper:ident, $inner:ty, $group:expr, $kind:expr, $plural:expr) => {
        impl kube::Resource for $wrapper {
            type DynamicType = ();
            type Scope = ClusterResourceScope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed("v1")
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.0.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.0.metadata
            }
        }

        impl From<$inner> for $wrapper {
            fn from(inner: $inner) -> Self {
                Self(inner)
            }
        }
    };
}

/// A `karpenter.sh/v1` NodePool as a kube resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodePoolObject(pub NodePool);

/// A `karpenter.sh/v1` NodeClaim as a kube resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeClaimObject(pub NodeClaim);

/// A `karpenter.k8s.aws/v1` EC2NodeClass as a kube resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EC2NodeClassObject(pub EC2NodeClass);

cluster_resource!(
    NodePoolObject,
    NodePool,
    "karpenter.sh",
    "NodePool",
    "nodepools"
);
cluster_resource!(
    NodeClaimObject,
    NodeClaim,
    "karpenter.sh",
    "NodeClaim",
    "nodeclaims"
);
cluster_resource!(
    EC2NodeClassObject,
    EC2NodeClass,
    "karpenter.k8s.aws",
    "EC2NodeClass",
    "ec2nodeclasses"
);

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Resource;

    #[test]
    fn api_paths_are_upstreams() {
        assert_eq!(NodeClaimObject::api_version(&()), "karpenter.sh/v1");
        assert_eq!(
            NodeClaimObject::url_path(&(), None),
            "/apis/karpenter.sh/v1/nodeclaims"
        );
        assert_eq!(
            EC2NodeClassObject::url_path(&(), None),
            "/apis/karpenter.k8s.aws/v1/ec2nodeclasses"
        );
    }

    #[test]
    fn the_wire_form_is_the_wrapped_types() {
        let json = serde_json::json!({
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodeClaim",
            "metadata": {"name": "default-abcde"},
            "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}},
        });
        let object: NodeClaimObject = serde_json::from_value(json.clone()).expect("reads");
        assert_eq!(object.meta().name.as_deref(), Some("default-abcde"));
        assert_eq!(serde_json::to_value(&object).expect("writes"), json);
    }
}
