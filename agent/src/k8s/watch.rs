//! The watches that feed the index: pods (this node's, and the rest of the cluster),
//! services, and the metadata of ReplicaSets and Jobs for owner chains.
//!
//! Each watch is a kube-runtime watcher with its default backoff: on an error (the API
//! server restarting, a token refused) it retries with growing delays, and the index
//! keeps answering from the last state meanwhile. A relist (`Init` … `InitDone`) is
//! buffered and swapped in at once, which also removes what was deleted while down.

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::index::{Index, OwnerKind, Rejects, Source};
use super::objects;

/// The health of one watch, shared with whoever reports it.
#[derive(Debug)]
pub struct WatchHealth {
    pub name: &'static str,
    up: AtomicBool,
    synced: AtomicBool,
    errors: AtomicU64,
    restarts: AtomicU64,
    skipped: AtomicU64,
}

/// A copy of one watch's health.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WatchStatus {
    pub name: &'static str,
    /// The last call to the API server succeeded.
    pub up: bool,
    /// A full list has been applied at least once.
    pub synced: bool,
    /// Watch or list calls that failed.
    pub errors: u64,
    /// Full lists applied (the first one and every resync).
    pub lists: u64,
    /// Objects skipped: no uid, or an address that does not parse.
    pub skipped: u64,
}

impl WatchHealth {
    fn new(name: &'static str) -> Self {
        WatchHealth {
            name,
            up: AtomicBool::new(false),
            synced: AtomicBool::new(false),
            errors: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    pub fn status(&self) -> WatchStatus {
        WatchStatus {
            name: self.name,
            up: self.up.load(Ordering::Relaxed),
            synced: self.synced.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            lists: self.restarts.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }

    fn ok(&self) {
        if !self.up.swap(true, Ordering::Relaxed) && self.synced.load(Ordering::Relaxed) {
            tracing::info!(watch = self.name, "kubernetes watch is back");
        }
    }

    fn failed(&self, e: &watcher::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.up.swap(false, Ordering::Relaxed) || self.errors.load(Ordering::Relaxed) == 1 {
            tracing::warn!(watch = self.name, error = %e,
                "kubernetes watch is down; identities come from the last state until it reconnects");
        }
    }

    fn rejected(&self, r: &mut Rejects) {
        let n = r.bad_ips + r.missing_uid;
        if n > 0 {
            self.skipped.fetch_add(n, Ordering::Relaxed);
            *r = Rejects::default();
        }
    }
}

/// How to turn one watched type into index updates.
trait Feed: Send + 'static {
    type Obj: Resource + Clone + DeserializeOwned + Debug + Send + 'static;
    type Rec: Send;
    fn record(&self, idx: &mut Index, o: Self::Obj, r: &mut Rejects) -> Option<Self::Rec>;
    fn apply(&self, idx: &mut Index, rec: Self::Rec);
    fn delete(&self, idx: &mut Index, o: &Self::Obj);
    fn replace(&self, idx: &mut Index, recs: Vec<Self::Rec>);
}

struct Pods(Source);

impl Feed for Pods {
    type Obj = objects::Pod;
    type Rec = super::index::PodRec;
    fn record(&self, idx: &mut Index, o: objects::Pod, r: &mut Rejects) -> Option<Self::Rec> {
        idx.pod_record(o, self.0, r)
    }
    fn apply(&self, idx: &mut Index, rec: Self::Rec) {
        idx.apply_pod(rec)
    }
    fn delete(&self, idx: &mut Index, o: &objects::Pod) {
        if let Some(uid) = o.metadata.uid.as_deref() {
            idx.delete_pod(self.0, uid)
        }
    }
    fn replace(&self, idx: &mut Index, recs: Vec<Self::Rec>) {
        idx.replace_pods(self.0, recs)
    }
}

struct Services;

impl Feed for Services {
    type Obj = objects::Service;
    type Rec = super::index::ServiceRec;
    fn record(&self, idx: &mut Index, o: objects::Service, r: &mut Rejects) -> Option<Self::Rec> {
        idx.service_record(o, r)
    }
    fn apply(&self, idx: &mut Index, rec: Self::Rec) {
        idx.apply_service(rec)
    }
    fn delete(&self, idx: &mut Index, o: &objects::Service) {
        if let Some(uid) = o.metadata.uid.as_deref() {
            idx.remove_service(uid)
        }
    }
    fn replace(&self, idx: &mut Index, recs: Vec<Self::Rec>) {
        idx.replace_services(recs)
    }
}

/// Owners need only metadata (their own owner references): a metadata-only watch.
struct Owners<K>(OwnerKind, std::marker::PhantomData<fn() -> K>);

impl<K> Feed for Owners<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    type Obj = PartialObjectMeta<K>;
    type Rec = (Arc<str>, Option<super::owner::Controller>);
    fn record(&self, idx: &mut Index, o: Self::Obj, r: &mut Rejects) -> Option<Self::Rec> {
        let rec = idx.owner_record(o.metadata);
        if rec.is_none() {
            r.missing_uid += 1;
        }
        rec
    }
    fn apply(&self, idx: &mut Index, (uid, ctrl): Self::Rec) {
        idx.apply_owner(self.0, uid, ctrl)
    }
    fn delete(&self, idx: &mut Index, o: &Self::Obj) {
        if let Some(uid) = o.metadata.uid.as_deref() {
            idx.remove_owner(self.0, uid)
        }
    }
    fn replace(&self, idx: &mut Index, recs: Vec<Self::Rec>) {
        idx.replace_owners(self.0, recs)
    }
}

fn write(index: &RwLock<Index>) -> std::sync::RwLockWriteGuard<'_, Index> {
    // A panic while writing cannot leave the maps half-linked in a way lookups trip
    // over (each update is a few inserts); keep serving rather than poison the agent.
    index.write().unwrap_or_else(|e| e.into_inner())
}

async fn drive<F, S>(feed: F, stream: S, index: Arc<RwLock<Index>>, health: Arc<WatchHealth>)
where
    F: Feed,
    S: futures_util::Stream<Item = Result<Event<F::Obj>, watcher::Error>> + Send,
{
    let mut stream = std::pin::pin!(stream);
    let mut buffer: Vec<F::Rec> = Vec::new();
    let mut rejects = Rejects::default();
    while let Some(ev) = stream.next().await {
        match ev {
            Err(e) => {
                health.failed(&e);
                continue;
            }
            Ok(Event::Init) => buffer.clear(),
            Ok(Event::InitApply(o)) => {
                if let Some(r) = feed.record(&mut write(&index), o, &mut rejects) {
                    buffer.push(r);
                }
            }
            Ok(Event::InitDone) => {
                feed.replace(&mut write(&index), std::mem::take(&mut buffer));
                health.restarts.fetch_add(1, Ordering::Relaxed);
                health.synced.store(true, Ordering::Relaxed);
            }
            Ok(Event::Apply(o)) => {
                let mut idx = write(&index);
                if let Some(r) = feed.record(&mut idx, o, &mut rejects) {
                    feed.apply(&mut idx, r);
                }
            }
            Ok(Event::Delete(o)) => feed.delete(&mut write(&index), &o),
        }
        health.ok();
        health.rejected(&mut rejects);
    }
}

/// What to watch.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// This node's name: its pods get their own watch (`spec.nodeName=`), the rest of
    /// the cluster another (`spec.nodeName!=`). Without it, one watch of all pods.
    pub node_name: Option<String>,
    /// Server-side timeout of each watch call, seconds (kube-runtime's default when
    /// `None`). Each expiry is a watch restart from the last resource version.
    pub watch_timeout_secs: Option<u32>,
}

/// Spawns the watches on the current tokio runtime.
pub fn spawn(
    client: Client,
    opts: &WatchOptions,
    index: &Arc<RwLock<Index>>,
) -> (Vec<Arc<WatchHealth>>, Vec<tokio::task::JoinHandle<()>>) {
    let base = || {
        let c = watcher::Config::default();
        match opts.watch_timeout_secs {
            Some(t) => c.timeout(t),
            None => c,
        }
    };
    let mut healths = Vec::new();
    let mut health = |name: &'static str| {
        let h = Arc::new(WatchHealth::new(name));
        healths.push(h.clone());
        h
    };
    let mut tasks = Vec::new();
    let pods: Api<objects::Pod> = Api::all(client.clone());
    let pod_watches: Vec<(&'static str, Source, watcher::Config)> = match &opts.node_name {
        Some(node) => vec![
            (
                "pods-local",
                Source::Local,
                base().fields(&format!("spec.nodeName={node}")),
            ),
            (
                "pods-cluster",
                Source::Cluster,
                base().fields(&format!("spec.nodeName!={node}")),
            ),
        ],
        None => vec![("pods", Source::Cluster, base())],
    };
    for (name, source, cfg) in pod_watches {
        let stream = watcher::watcher(pods.clone(), cfg).default_backoff();
        tasks.push(tokio::spawn(drive(
            Pods(source),
            stream,
            index.clone(),
            health(name),
        )));
    }
    let stream =
        watcher::watcher(Api::<objects::Service>::all(client.clone()), base()).default_backoff();
    tasks.push(tokio::spawn(drive(
        Services,
        stream,
        index.clone(),
        health("services"),
    )));
    let stream = watcher::watcher(
        Api::<PartialObjectMeta<ReplicaSet>>::all(client.clone()),
        base(),
    )
    .default_backoff();
    let feed = Owners::<ReplicaSet>(OwnerKind::ReplicaSet, std::marker::PhantomData);
    tasks.push(tokio::spawn(drive(
        feed,
        stream,
        index.clone(),
        health("replicasets"),
    )));
    let stream =
        watcher::watcher(Api::<PartialObjectMeta<Job>>::all(client), base()).default_backoff();
    let feed = Owners::<Job>(OwnerKind::Job, std::marker::PhantomData);
    tasks.push(tokio::spawn(drive(
        feed,
        stream,
        index.clone(),
        health("jobs"),
    )));
    (healths, tasks)
}
