//! What an IP address is in the cluster: the shared output type of `k8s`, read by the
//! exporters. A leaf module: no kube types, so the wiring needs nothing else from here.

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
