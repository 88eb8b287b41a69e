//! Trimmed API types for the watches: only the fields identity needs are decoded, so
//! a cluster-wide pod watch does not build (and throw away) whole pod specs.
//! Unknown fields are ignored by serde, which also keeps old servers (1.20) decodable.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::NamespaceResourceScope;
use kube::Resource;
use serde::Deserialize;

/// A core/v1 pod: metadata, where it runs and its addresses.
#[derive(Clone, Debug, Deserialize)]
pub struct Pod {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default)]
    pub status: PodStatus,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub node_name: Option<String>,
    /// Host-network pods use the node's address: they are labelled as the node.
    pub host_network: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Option<String>,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(rename = "podIPs", default)]
    pub pod_ips: Vec<PodIp>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodIp {
    pub ip: Option<String>,
}

/// A core/v1 service: its virtual addresses and selector.
#[derive(Clone, Debug, Deserialize)]
pub struct Service {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ServiceSpec,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    #[serde(rename = "clusterIPs", default)]
    pub cluster_ips: Vec<String>,
    pub selector: Option<std::collections::BTreeMap<String, String>>,
}

macro_rules! core_v1 {
    ($ty:ty, $kind:literal, $plural:literal) => {
        impl Resource for $ty {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;
            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed("")
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed("v1")
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

core_v1!(Pod, "Pod", "pods");
core_v1!(Service, "Service", "services");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_1_20_pod_decodes_to_the_trimmed_fields() {
        let json = r#"{"kind":"Pod","apiVersion":"v1",
            "metadata":{"name":"web-1","namespace":"shop","uid":"u1",
                "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d","uid":"u0","controller":true}]},
            "spec":{"nodeName":"n1","containers":[{"name":"c","image":"nginx"}]},
            "status":{"phase":"Running","hostIP":"192.0.2.1","podIP":"10.244.1.5","podIPs":[{"ip":"10.244.1.5"}]}}"#;
        let p: Pod = serde_json::from_str(json).expect("pod");
        assert_eq!(p.spec.node_name.as_deref(), Some("n1"));
        assert_eq!(p.status.pod_ips.len(), 1);
        assert_eq!(p.status.host_ip.as_deref(), Some("192.0.2.1"));
        let s: Service = serde_json::from_str(
            r#"{"metadata":{"name":"web","namespace":"shop"},"spec":{"clusterIP":"10.96.0.10","selector":{"app":"web"},"ports":[{"port":80}]}}"#,
        )
        .expect("service");
        assert_eq!(s.spec.cluster_ip.as_deref(), Some("10.96.0.10"));
    }
}
