//! What an IP address is in the cluster: the output type of `k8s` that flow records
//! carry to the exporters. A leaf module with no kube types, so it exists in every build
//! (the fuzz build has no `kubernetes` feature) and the exporters need nothing else.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// The Kubernetes identity of one flow endpoint.
///
/// Strings are `Arc<str>` shared with the index: a lookup clones pointers, not text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The pod's or service's namespace; `None` for a node address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Arc<str>>,
    /// The pod name; `None` for a service ClusterIP or a node address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Arc<str>>,
    /// The workload the pod belongs to (the owner chain's top), the pod itself when it
    /// has no owner, the service name for a ClusterIP, the node name for a node address.
    pub workload: Arc<str>,
    pub workload_kind: WorkloadKind,
    /// A service that selects the pod, or the ClusterIP's own service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<Arc<str>>,
}

/// The kind of [`Identity::workload`], named as Kubernetes names the kinds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Deployment,
    /// A ReplicaSet with no Deployment above it (or whose owner is not known yet).
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    /// A pod without a controller.
    Pod,
    /// A service's ClusterIP.
    Service,
    /// A node's address: the node itself and every host-network pod on it, which share it.
    Node,
    /// Any other controller kind (custom controllers), as its owner reference names it.
    Other(Arc<str>),
}

impl WorkloadKind {
    pub fn as_str(&self) -> &str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Service => "Service",
            WorkloadKind::Node => "Node",
            WorkloadKind::Other(k) => k,
        }
    }

    /// The kind named by an owner reference.
    pub fn from_owner_kind(kind: &str) -> WorkloadKind {
        match kind {
            "Deployment" => WorkloadKind::Deployment,
            "ReplicaSet" => WorkloadKind::ReplicaSet,
            "StatefulSet" => WorkloadKind::StatefulSet,
            "DaemonSet" => WorkloadKind::DaemonSet,
            "Job" => WorkloadKind::Job,
            "CronJob" => WorkloadKind::CronJob,
            other => WorkloadKind::Other(Arc::from(other)),
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WorkloadKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Identity {
    /// The `*_namespace` metric label: the namespace, `""` for a node address.
    pub fn namespace_label(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }

    /// The `*_workload` metric label: the workload's name, or `node/<name>` for a node
    /// address (the node itself and its host-network pods), which no object name can
    /// collide with (`/` is not allowed in names).
    pub fn workload_label(&self) -> Arc<str> {
        match self.workload_kind {
            WorkloadKind::Node => Arc::from(format!("node/{}", self.workload)),
            _ => Arc::clone(&self.workload),
        }
    }

    /// `namespace/workload`, or `node/<name>`: how findings' evidence names an end.
    pub fn qualified(&self) -> String {
        match &self.namespace {
            Some(ns) if self.workload_kind != WorkloadKind::Node => {
                format!("{ns}/{}", self.workload)
            }
            _ => self.workload_label().to_string(),
        }
    }
}

/// What the cluster says about a flow's two ends, when `[kubernetes]` is on: set by the
/// daemon between detection and export. `None` is an address the cluster does not own
/// (or not known yet), or Kubernetes off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowIdentity {
    /// The client (the flow's initiator).
    pub src: Option<Identity>,
    /// The server.
    pub dst: Option<Identity>,
}

impl FlowIdentity {
    pub fn is_empty(&self) -> bool {
        self.src.is_none() && self.dst.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ns: Option<&str>, workload: &str, kind: WorkloadKind) -> Identity {
        Identity {
            namespace: ns.map(Arc::from),
            pod: None,
            workload: Arc::from(workload),
            workload_kind: kind,
            service: None,
        }
    }

    #[test]
    fn labels_name_a_node_address_as_such() {
        let web = id(Some("shop"), "web", WorkloadKind::Deployment);
        assert_eq!(web.namespace_label(), "shop");
        assert_eq!(&*web.workload_label(), "web");
        assert_eq!(web.qualified(), "shop/web");
        let node = id(None, "worker-1", WorkloadKind::Node);
        assert_eq!(node.namespace_label(), "");
        assert_eq!(&*node.workload_label(), "node/worker-1");
        assert_eq!(node.qualified(), "node/worker-1");
    }
}
