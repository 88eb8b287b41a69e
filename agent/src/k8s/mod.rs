//! Kubernetes workload identity: which namespace, pod, workload and service an IP
//! address belongs to, from watches of the API server (kube-rs).
//!
//! The watches ([`watch`]) run as tokio tasks and write an [`index::Index`]; the
//! engine reads it with [`K8sIdentity::lookup`], a synchronous read under a lock held
//! for a few hash lookups. `docs/kubernetes.md` describes the design and the lab the
//! tests run against; `deploy/base/rbac.yaml` is exactly the access the watches use.

pub mod command;
pub mod index;
pub mod objects;
pub mod owner;
pub mod watch;

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

pub use crate::identity::{Identity, WorkloadKind};
pub use index::Stats;
pub use watch::{WatchOptions, WatchStatus};

use crate::config::KubernetesConfig;
use crate::engine::FlowRecord;
use crate::export::metrics::Metrics;

/// Errors from connecting to the API server at start-up. Later errors are the
/// watches' own: retried with backoff and reported by [`K8sIdentity::status`].
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("not running in a cluster (no service account) and no kubernetes.kubeconfig set: {0}")]
    InCluster(#[source] kube::config::InClusterError),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[source] kube::Error),
}

/// The handle the engine and the exporters hold. Clones share one index; the watch
/// tasks stop when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct K8sIdentity {
    index: Arc<RwLock<index::Index>>,
    health: Arc<[Arc<watch::WatchHealth>]>,
    _tasks: Arc<Tasks>,
}

#[derive(Debug)]
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl K8sIdentity {
    /// Connects as configured and starts the watches on the current tokio runtime.
    pub async fn start(cfg: &KubernetesConfig) -> Result<K8sIdentity, K8sError> {
        let client = client(cfg.kubeconfig.as_deref()).await?;
        let opts = WatchOptions {
            node_name: cfg.node_name(),
            watch_timeout_secs: None,
        };
        if opts.node_name.is_none() {
            tracing::warn!("kubernetes: no node name (kubernetes.node_name or $NODE_NAME): watching all pods as one set");
        }
        Ok(K8sIdentity::with_client(client, &opts))
    }

    /// Starts the watches with a ready client (tests pass their own options).
    pub fn with_client(client: kube::Client, opts: &WatchOptions) -> K8sIdentity {
        let index = Arc::new(RwLock::new(index::Index::default()));
        let (health, tasks) = watch::spawn(client, opts, &index);
        K8sIdentity {
            index,
            health: health.into(),
            _tasks: Arc::new(Tasks(tasks)),
        }
    }

    /// The identity of `ip`, from the last state the watches delivered.
    pub fn lookup(&self, ip: IpAddr) -> Option<Identity> {
        self.index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(ip)
    }

    /// Every watch has applied a full list at least once.
    pub fn synced(&self) -> bool {
        self.health.iter().all(|h| h.status().synced)
    }

    /// Each watch's health: up or down, errors, lists applied, objects skipped.
    pub fn status(&self) -> Vec<WatchStatus> {
        self.health.iter().map(|h| h.status()).collect()
    }

    pub fn stats(&self) -> Stats {
        self.index.read().unwrap_or_else(|e| e.into_inner()).stats()
    }

    /// The enrichment stage (after detection, before export): names the flow's ends
    /// and adds the workload pair to every finding's evidence, so that an event says
    /// which workload talks to which without a second lookup. Identities are those of
    /// the flow's end, when its record is emitted.
    pub fn enrich(&self, r: &mut FlowRecord) {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        r.k8s.src = index.lookup(r.key.client.ip());
        r.k8s.dst = index.lookup(r.key.server.ip());
        drop(index);
        for (key, id) in [("src_workload", &r.k8s.src), ("dst_workload", &r.k8s.dst)] {
            if let Some(id) = id {
                let name = id.qualified();
                for f in &mut r.findings {
                    f.evidence.insert(key, name.clone().into());
                }
            }
        }
    }

    /// Copies the watches' health and the index's size into the metrics.
    pub fn export(&self, m: &mut Metrics) {
        for w in self.status() {
            m.kubernetes_watch_up
                .set([w.name], f64::from(u8::from(w.up)));
            m.kubernetes_watch_errors.set([w.name], w.errors as f64);
        }
        m.dropped
            .set(["kubernetes", "object_skipped"], self.skipped() as f64);
        let s = self.stats();
        for (kind, n) in [
            ("pods", s.pods),
            ("pod_ips", s.pod_ips),
            ("services", s.services),
            ("node_ips", s.node_ips),
            ("replicasets", s.replicasets),
            ("jobs", s.jobs),
        ] {
            m.kubernetes_objects.set([kind], n as f64);
        }
    }

    /// Objects every watch skipped (no uid, or an address that does not parse).
    fn skipped(&self) -> u64 {
        self.health.iter().map(|h| h.status().skipped).sum()
    }
}

/// A client from a kubeconfig file, or the in-cluster service account when `None`.
pub async fn client(kubeconfig: Option<&Path>) -> Result<kube::Client, K8sError> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|source| {
                K8sError::Kubeconfig {
                    path: path.display().to_string(),
                    source,
                }
            })?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|source| K8sError::Kubeconfig {
                    path: path.display().to_string(),
                    source,
                })?
        }
        None => kube::Config::incluster().map_err(K8sError::InCluster)?,
    };
    kube::Client::try_from(config).map_err(K8sError::Client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str, name: &str, ip: &str) -> objects::Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "namespace": "shop", "uid": uid },
            "spec": { "nodeName": "n1" },
            "status": { "phase": "Running", "podIP": ip, "podIPs": [{ "ip": ip }], "hostIP": "192.0.2.9" },
        }))
        .expect("pod JSON")
    }

    #[test]
    fn enrichment_names_both_ends_and_puts_the_pair_in_every_finding() {
        let mut index = index::Index::default();
        for (uid, name, ip) in [("u1", "web", "10.0.0.1"), ("u2", "db", "10.0.0.2")] {
            let rec = index
                .pod_record(
                    pod(uid, name, ip),
                    index::Source::Local,
                    &mut Default::default(),
                )
                .expect("record");
            index.apply_pod(rec);
        }
        let ids = K8sIdentity {
            index: Arc::new(RwLock::new(index)),
            health: Arc::from(Vec::new()),
            _tasks: Arc::new(Tasks(Vec::new())),
        };
        let mut r = FlowRecord::for_test("postgres", 5432);
        let def = crate::detect::catalogue::get("plaintext.postgres").expect("catalogued");
        r.findings.push(crate::detect::Finding::new(def));
        ids.enrich(&mut r);
        assert_eq!(
            r.k8s.src.as_ref().map(|i| i.qualified()),
            Some("shop/web".into())
        );
        assert_eq!(
            r.k8s.dst.as_ref().map(|i| i.qualified()),
            Some("shop/db".into())
        );
        let ev = &r.findings[0].evidence;
        assert_eq!(
            ev.get("src_workload").and_then(|e| e.as_str()),
            Some("shop/web")
        );
        assert_eq!(
            ev.get("dst_workload").and_then(|e| e.as_str()),
            Some("shop/db")
        );
        // An address the cluster does not own stays unnamed.
        let mut r = FlowRecord::for_test("http", 80);
        r.key.server = "198.51.100.7:80".parse().expect("addr");
        ids.enrich(&mut r);
        assert!(r.k8s.dst.is_none());
    }
}
