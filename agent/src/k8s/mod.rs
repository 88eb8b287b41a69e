//! Kubernetes workload identity: which namespace, pod, workload and service an IP
//! address belongs to, from watches of the API server (kube-rs).
//!
//! The watches ([`watch`]) run as tokio tasks and write an [`index::Index`]; the
//! engine reads it with [`K8sIdentity::lookup`], a synchronous read under a lock held
//! for a few hash lookups. `docs/kubernetes.md` describes the design and the lab the
//! tests run against; `deploy/base/rbac.yaml` is exactly the access the watches use.

pub mod command;
pub mod identity;
pub mod index;
pub mod objects;
pub mod owner;
pub mod watch;

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};

pub use identity::{Identity, WorkloadKind};
pub use index::Stats;
pub use watch::{WatchOptions, WatchStatus};

use crate::config::KubernetesConfig;

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
