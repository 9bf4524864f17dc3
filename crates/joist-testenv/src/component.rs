//! The processes a control plane is made of.

use std::fmt;

/// One process of the control plane. Names errors and log files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// etcd, the apiserver's storage.
    Etcd,
    /// kube-apiserver.
    KubeApiserver,
    /// kube-controller-manager (garbage collection, namespaces, service accounts, node
    /// lifecycle taints, ...).
    KubeControllerManager,
    /// kube-scheduler, which binds pods to nodes.
    KubeScheduler,
    /// kwok, which plays the kubelet of nodes labelled `kwok.x-k8s.io/node=fake`.
    Kwok,
}

impl Component {
    /// Every component, in start order.
    pub const ALL: [Component; 5] = [
        Component::Etcd,
        Component::KubeApiserver,
        Component::KubeControllerManager,
        Component::KubeScheduler,
        Component::Kwok,
    ];

    /// The binary's name, as `hack/controlplane/build.sh` knows it; also the stem of the
    /// component's log file.
    pub fn name(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::KubeApiserver => "kube-apiserver",
            Component::KubeControllerManager => "kube-controller-manager",
            Component::KubeScheduler => "kube-scheduler",
            Component::Kwok => "kwok",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
