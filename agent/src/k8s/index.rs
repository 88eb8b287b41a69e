//! The IP → identity map the watches keep up to date and the engine reads.
//!
//! Pods are keyed by uid, so a deleted pod's address is released even when a new pod
//! already reuses it, and a resync (the watch listed everything again) removes exactly
//! the pods that vanished while the watch was down. Names that repeat across pods
//! (namespaces, nodes, owners, labels) are interned.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::objects;
use super::owner::{self, Controller, Owners};
use crate::identity::{Identity, WorkloadKind};

/// Which pod watch a pod came from: a resync replaces only that watch's pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// `spec.nodeName` = this node.
    Local,
    /// Every other pod (all pods when the node name is unknown).
    Cluster,
}

/// Which intermediate owners a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerKind {
    ReplicaSet,
    Job,
}

type Labels = Box<[(Arc<str>, Arc<str>)]>;

/// One pod, trimmed to what a lookup returns.
#[derive(Clone, Debug)]
pub struct PodRec {
    uid: Arc<str>,
    namespace: Arc<str>,
    name: Arc<str>,
    controller: Option<Controller>,
    labels: Labels,
    ips: Box<[IpAddr]>,
    node: Option<Arc<str>>,
    host_ip: Option<IpAddr>,
    host_network: bool,
    /// Succeeded or Failed: the kubelet has released the addresses.
    terminal: bool,
    running: bool,
    source: Source,
}

impl PodRec {
    pub fn uid(&self) -> &Arc<str> {
        &self.uid
    }

    /// Addresses the pod claims as its own (not the node's).
    fn own_ips(&self) -> &[IpAddr] {
        if self.host_network || self.terminal {
            &[]
        } else {
            &self.ips
        }
    }

    /// Addresses that belong to the pod's node.
    fn node_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let hn: &[IpAddr] = if self.host_network { &self.ips } else { &[] };
        self.host_ip.into_iter().chain(
            hn.iter()
                .copied()
                .filter(move |ip| Some(*ip) != self.host_ip),
        )
    }
}

#[derive(Clone, Debug)]
pub struct ServiceRec {
    uid: Arc<str>,
    namespace: Arc<str>,
    name: Arc<str>,
    ips: Box<[IpAddr]>,
    selector: Labels,
}

/// Counts of what the index holds, for logs, the debug command and the memory figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub pods: usize,
    pub pod_ips: usize,
    pub services: usize,
    pub node_ips: usize,
    pub replicasets: usize,
    pub jobs: usize,
    pub interned: usize,
}

#[derive(Debug, Default)]
pub struct Index {
    pods: HashMap<Arc<str>, PodRec>,
    /// Pod uids claiming each address, oldest first; usually one.
    by_ip: HashMap<IpAddr, Vec<Arc<str>>>,
    /// Node addresses: the node's name and how many pods report it.
    nodes: HashMap<IpAddr, (Arc<str>, u32)>,
    services: HashMap<Arc<str>, ServiceRec>,
    svc_by_ip: HashMap<IpAddr, Arc<str>>,
    svc_by_ns: HashMap<Arc<str>, Vec<Arc<str>>>,
    replicasets: Owners,
    jobs: Owners,
    names: HashSet<Arc<str>>,
    removals: u32,
}

/// Addresses that do not parse, from API objects: logged and skipped, never fatal.
#[derive(Debug, Default)]
pub struct Rejects {
    pub bad_ips: u64,
    pub missing_uid: u64,
}

fn parse_ips<'a>(texts: impl Iterator<Item = &'a str>, rejects: &mut Rejects) -> Box<[IpAddr]> {
    let mut out: Vec<IpAddr> = Vec::new();
    for t in texts {
        if t.is_empty() || t == "None" {
            continue;
        }
        match t.parse::<IpAddr>() {
            Ok(ip) if !out.contains(&ip) => out.push(ip),
            Ok(_) => {}
            Err(_) => {
                rejects.bad_ips += 1;
                tracing::warn!(
                    address = t,
                    "kubernetes: skipping an address that does not parse"
                );
            }
        }
    }
    out.into_boxed_slice()
}

impl Index {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.names.insert(a.clone());
        a
    }

    fn labels(&mut self, m: Option<&std::collections::BTreeMap<String, String>>) -> Labels {
        m.into_iter()
            .flatten()
            .map(|(k, v)| (self.intern(k), self.intern(v)))
            .collect()
    }

    /// Trims a watched pod to a record; `None` (counted in `rejects`) without a uid.
    pub fn pod_record(
        &mut self,
        p: objects::Pod,
        source: Source,
        rejects: &mut Rejects,
    ) -> Option<PodRec> {
        let ObjectMeta {
            name,
            namespace,
            uid,
            labels,
            owner_references,
            ..
        } = p.metadata;
        let Some(uid) = uid else {
            rejects.missing_uid += 1;
            return None;
        };
        let st = p.status;
        let ips = parse_ips(
            st.pod_ips
                .iter()
                .filter_map(|i| i.ip.as_deref())
                .chain(st.pod_ip.as_deref()),
            rejects,
        );
        let host_ip = parse_ips(st.host_ip.as_deref().into_iter(), rejects)
            .first()
            .copied();
        let mut intern = |s: &str| self.intern(s);
        let controller = owner::controller_of(owner_references.as_deref(), &mut intern);
        let phase = st.phase.as_deref();
        Some(PodRec {
            uid: Arc::from(uid),
            namespace: self.intern(namespace.as_deref().unwrap_or_default()),
            name: Arc::from(name.unwrap_or_default()),
            controller,
            labels: self.labels(labels.as_ref()),
            ips,
            node: p.spec.node_name.as_deref().map(|n| self.intern(n)),
            host_ip,
            host_network: p.spec.host_network == Some(true),
            terminal: matches!(phase, Some("Succeeded" | "Failed")),
            running: phase == Some("Running"),
            source,
        })
    }

    pub fn service_record(
        &mut self,
        s: objects::Service,
        rejects: &mut Rejects,
    ) -> Option<ServiceRec> {
        let Some(uid) = s.metadata.uid else {
            rejects.missing_uid += 1;
            return None;
        };
        let ips = parse_ips(
            s.spec
                .cluster_ips
                .iter()
                .map(String::as_str)
                .chain(s.spec.cluster_ip.as_deref()),
            rejects,
        );
        Some(ServiceRec {
            uid: Arc::from(uid),
            namespace: self.intern(s.metadata.namespace.as_deref().unwrap_or_default()),
            name: self.intern(s.metadata.name.as_deref().unwrap_or_default()),
            ips,
            selector: self.labels(s.spec.selector.as_ref()),
        })
    }

    /// An owner's uid and its own controller, from its metadata.
    pub fn owner_record(&mut self, m: ObjectMeta) -> Option<(Arc<str>, Option<Controller>)> {
        let uid = self.intern(m.uid.as_deref()?);
        let mut intern = |s: &str| self.intern(s);
        let ctrl = owner::controller_of(m.owner_references.as_deref(), &mut intern);
        Some((uid, ctrl))
    }

    pub fn apply_pod(&mut self, rec: PodRec) {
        self.remove_pod(&rec.uid.clone());
        for ip in rec.own_ips() {
            self.by_ip.entry(*ip).or_default().push(rec.uid.clone());
        }
        let node = rec.node.clone().unwrap_or_else(|| Arc::from(""));
        for ip in rec.node_ips() {
            let e = self.nodes.entry(ip).or_insert_with(|| (node.clone(), 0));
            e.0 = node.clone();
            e.1 += 1;
        }
        self.pods.insert(rec.uid.clone(), rec);
    }

    /// A pod deleted as `source` saw it. A pod scheduled onto this node leaves the
    /// cluster watch (a deletion there) and joins the local one, in either order: the
    /// deletion must not remove the record the other watch already holds.
    pub fn delete_pod(&mut self, source: Source, uid: &str) {
        if self.pods.get(uid).is_some_and(|p| p.source == source) {
            self.remove_pod(uid);
        }
    }

    pub fn remove_pod(&mut self, uid: &str) {
        let Some(rec) = self.pods.remove(uid) else {
            return;
        };
        for ip in rec.own_ips() {
            if let Some(v) = self.by_ip.get_mut(ip) {
                v.retain(|u| **u != *uid);
                if v.is_empty() {
                    self.by_ip.remove(ip);
                }
            }
        }
        for ip in rec.node_ips() {
            if let Some(e) = self.nodes.get_mut(&ip) {
                e.1 = e.1.saturating_sub(1);
                if e.1 == 0 {
                    self.nodes.remove(&ip);
                }
            }
        }
        self.note_removal();
    }

    /// After a (re)list of one pod watch: its pods are exactly `recs`.
    pub fn replace_pods(&mut self, source: Source, recs: Vec<PodRec>) {
        let keep: HashSet<&str> = recs.iter().map(|r| &*r.uid).collect();
        let gone: Vec<Arc<str>> = self
            .pods
            .values()
            .filter(|p| p.source == source && !keep.contains(&*p.uid))
            .map(|p| p.uid.clone())
            .collect();
        for uid in gone {
            self.remove_pod(&uid);
        }
        for r in recs {
            self.apply_pod(r);
        }
        self.gc();
    }

    pub fn apply_service(&mut self, rec: ServiceRec) {
        self.remove_service(&rec.uid.clone());
        for ip in rec.ips.iter() {
            self.svc_by_ip.insert(*ip, rec.uid.clone());
        }
        let ns = self.svc_by_ns.entry(rec.namespace.clone()).or_default();
        ns.push(rec.uid.clone());
        self.services.insert(rec.uid.clone(), rec);
    }

    pub fn remove_service(&mut self, uid: &str) {
        let Some(rec) = self.services.remove(uid) else {
            return;
        };
        for ip in rec.ips.iter() {
            if self.svc_by_ip.get(ip).is_some_and(|u| **u == *uid) {
                self.svc_by_ip.remove(ip);
            }
        }
        if let Some(v) = self.svc_by_ns.get_mut(&rec.namespace) {
            v.retain(|u| **u != *uid);
            if v.is_empty() {
                self.svc_by_ns.remove(&rec.namespace);
            }
        }
        self.note_removal();
    }

    pub fn replace_services(&mut self, recs: Vec<ServiceRec>) {
        self.services.clear();
        self.svc_by_ip.clear();
        self.svc_by_ns.clear();
        for r in recs {
            self.apply_service(r);
        }
        self.gc();
    }

    fn owners_mut(&mut self, kind: OwnerKind) -> &mut Owners {
        match kind {
            OwnerKind::ReplicaSet => &mut self.replicasets,
            OwnerKind::Job => &mut self.jobs,
        }
    }

    pub fn apply_owner(&mut self, kind: OwnerKind, uid: Arc<str>, ctrl: Option<Controller>) {
        self.owners_mut(kind).insert(uid, ctrl);
    }

    pub fn remove_owner(&mut self, kind: OwnerKind, uid: &str) {
        self.owners_mut(kind).remove(uid);
        self.note_removal();
    }

    pub fn replace_owners(&mut self, kind: OwnerKind, recs: Vec<(Arc<str>, Option<Controller>)>) {
        let m = self.owners_mut(kind);
        m.clear();
        m.extend(recs);
        self.gc();
    }

    fn note_removal(&mut self) {
        self.removals += 1;
        if self.removals >= 4096 {
            self.gc();
        }
    }

    /// Drops interned names no record uses any more (pod churn would grow them forever).
    fn gc(&mut self) {
        self.removals = 0;
        self.names.retain(|s| Arc::strong_count(s) > 1);
    }

    /// The identity of `ip`: a pod's own address, then a service's ClusterIP, then a
    /// node's address (host-network pods included).
    pub fn lookup(&self, ip: IpAddr) -> Option<Identity> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if let Some(pod) = self.pod_at(ip) {
            let owners = match pod.controller.as_ref().map(|c| &c.kind) {
                Some(WorkloadKind::Job) => &self.jobs,
                _ => &self.replicasets,
            };
            let (workload_kind, workload) =
                owner::workload(&pod.name, pod.controller.as_ref(), owners);
            return Some(Identity {
                namespace: Some(pod.namespace.clone()),
                pod: Some(pod.name.clone()),
                workload,
                workload_kind,
                service: self.service_selecting(pod),
            });
        }
        if let Some(svc) = self.svc_by_ip.get(&ip).and_then(|u| self.services.get(u)) {
            return Some(Identity {
                namespace: Some(svc.namespace.clone()),
                pod: None,
                workload: svc.name.clone(),
                workload_kind: WorkloadKind::Service,
                service: Some(svc.name.clone()),
            });
        }
        self.nodes.get(&ip).map(|(node, _)| Identity {
            namespace: None,
            pod: None,
            workload: node.clone(),
            workload_kind: WorkloadKind::Node,
            service: None,
        })
    }

    /// The pod owning `ip`: the newest running claimant, else the newest claimant (a
    /// pod whose address is assigned but not yet reported running).
    fn pod_at(&self, ip: IpAddr) -> Option<&PodRec> {
        let claims = self.by_ip.get(&ip)?;
        let pods = || claims.iter().rev().filter_map(|u| self.pods.get(u));
        pods().find(|p| p.running).or_else(|| pods().next())
    }

    /// The first service (by name) in the pod's namespace whose selector matches its labels.
    fn service_selecting(&self, pod: &PodRec) -> Option<Arc<str>> {
        self.svc_by_ns
            .get(&pod.namespace)?
            .iter()
            .filter_map(|u| self.services.get(u))
            .filter(|s| {
                !s.selector.is_empty()
                    && s.selector
                        .iter()
                        .all(|(k, v)| pod.labels.iter().any(|(pk, pv)| pk == k && pv == v))
            })
            .map(|s| s.name.clone())
            .min()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            pods: self.pods.len(),
            pod_ips: self.by_ip.len(),
            services: self.services.len(),
            node_ips: self.nodes.len(),
            replicasets: self.replicasets.len(),
            jobs: self.jobs.len(),
            interned: self.names.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(
        uid: &str,
        name: &str,
        phase: &str,
        ip: &str,
        host_ip: &str,
        host_network: bool,
    ) -> objects::Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "namespace": "ns", "uid": uid, "labels": { "app": name } },
            "spec": { "nodeName": "n1", "hostNetwork": host_network },
            "status": { "phase": phase, "podIP": ip, "podIPs": [{ "ip": ip }], "hostIP": host_ip },
        }))
        .expect("pod JSON")
    }

    fn add(idx: &mut Index, p: objects::Pod, source: Source) {
        let rec = idx
            .pod_record(p, source, &mut Rejects::default())
            .expect("record");
        idx.apply_pod(rec);
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn name(idx: &Index, a: &str) -> Option<String> {
        idx.lookup(ip(a))
            .map(|i| format!("{}/{}", i.workload_kind, i.workload))
    }

    #[test]
    fn host_network_pods_are_their_node_and_terminal_pods_hold_no_address() {
        let mut idx = Index::default();
        add(
            &mut idx,
            pod("u1", "agent", "Running", "192.0.2.1", "192.0.2.1", true),
            Source::Local,
        );
        add(
            &mut idx,
            pod("u2", "done", "Succeeded", "10.0.0.2", "192.0.2.1", false),
            Source::Local,
        );
        assert_eq!(name(&idx, "192.0.2.1").as_deref(), Some("Node/n1"));
        assert_eq!(name(&idx, "::ffff:192.0.2.1").as_deref(), Some("Node/n1"));
        assert_eq!(name(&idx, "10.0.0.2"), None);
        idx.remove_pod("u1");
        assert_eq!(
            name(&idx, "192.0.2.1").as_deref(),
            Some("Node/n1"),
            "u2 still reports the node"
        );
        idx.remove_pod("u2");
        assert_eq!(name(&idx, "192.0.2.1"), None);
        assert_eq!(idx.stats().node_ips, 0);
    }

    #[test]
    fn the_running_claimant_wins_and_deleting_the_old_one_keeps_the_new() {
        let mut idx = Index::default();
        add(
            &mut idx,
            pod("old", "old", "Running", "10.0.0.5", "192.0.2.1", false),
            Source::Cluster,
        );
        add(
            &mut idx,
            pod("new", "new", "Pending", "10.0.0.5", "192.0.2.1", false),
            Source::Cluster,
        );
        assert_eq!(name(&idx, "10.0.0.5").as_deref(), Some("Pod/old"));
        add(
            &mut idx,
            pod("new", "new", "Running", "10.0.0.5", "192.0.2.1", false),
            Source::Cluster,
        );
        assert_eq!(name(&idx, "10.0.0.5").as_deref(), Some("Pod/new"));
        idx.remove_pod("old");
        assert_eq!(name(&idx, "10.0.0.5").as_deref(), Some("Pod/new"));
    }

    #[test]
    fn a_resync_removes_only_its_own_watchs_missing_pods() {
        let mut idx = Index::default();
        add(
            &mut idx,
            pod("a", "a", "Running", "10.0.0.1", "192.0.2.1", false),
            Source::Local,
        );
        add(
            &mut idx,
            pod("b", "b", "Running", "10.0.0.2", "192.0.2.2", false),
            Source::Cluster,
        );
        let c = idx
            .pod_record(
                pod("c", "c", "Running", "10.0.0.3", "192.0.2.2", false),
                Source::Cluster,
                &mut Rejects::default(),
            )
            .expect("record");
        idx.replace_pods(Source::Cluster, vec![c]);
        assert_eq!(name(&idx, "10.0.0.1").as_deref(), Some("Pod/a"));
        assert_eq!(name(&idx, "10.0.0.2"), None);
        assert_eq!(name(&idx, "10.0.0.3").as_deref(), Some("Pod/c"));
        assert_eq!(idx.stats().pods, 2);
    }

    #[test]
    fn a_pod_moving_between_watches_survives_either_order() {
        let mut idx = Index::default();
        add(
            &mut idx,
            pod("u", "p", "Pending", "", "", false),
            Source::Cluster,
        );
        add(
            &mut idx,
            pod("u", "p", "Running", "10.0.0.7", "192.0.2.1", false),
            Source::Local,
        );
        idx.delete_pod(Source::Cluster, "u");
        assert_eq!(name(&idx, "10.0.0.7").as_deref(), Some("Pod/p"));
        idx.delete_pod(Source::Local, "u");
        assert_eq!(name(&idx, "10.0.0.7"), None);
    }

    #[test]
    fn bad_addresses_are_counted_not_fatal() {
        let mut idx = Index::default();
        let mut r = Rejects::default();
        let rec = idx
            .pod_record(
                pod("u", "p", "Running", "10.0.0.300", "192.0.2.1", false),
                Source::Local,
                &mut r,
            )
            .expect("record without the bad address");
        assert_eq!(r.bad_ips, 2, "podIP and podIPs both carry it");
        idx.apply_pod(rec);
        assert_eq!(idx.stats().pod_ips, 0);
    }
}
