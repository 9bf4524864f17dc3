//! [`DaemonSet`]: the pods every new node will also have to run (spec core §2.3 step 7).

use super::pod::Pod;

/// A DaemonSet: its pod template, and the newest live pod if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSet {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// The pod template as a pod (drivers copy container limits into missing requests, as the API
    /// server's defaulting would).
    pub template: Pod,
    /// The newest live pod of the DaemonSet from cluster state, if any: its spec is preferred over
    /// the template because admission webhooks may have changed it.
    pub live_pod: Option<Pod>,
}

impl DaemonSet {
    /// The pod the scheduler reasons about: the live pod if there is one, else the template; in
    /// either case with the template's required node affinity, since the DaemonSet controller
    /// replaces it with a per-node hostname affinity that must not count.
    pub fn scheduling_pod(&self) -> Pod {
        let Some(live) = &self.live_pod else {
            return self.template.clone();
        };
        let mut pod = live.clone();
        pod.constraints.node_affinity.required =
            self.template.constraints.node_affinity.required.clone();
        pod
    }
}
