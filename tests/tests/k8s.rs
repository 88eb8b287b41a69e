//! Workload identity (agent/src/k8s) against a real kube-apiserver: the lab of
//! `plainsight_tests::k8s` (one etcd and API server for this binary, each test in its
//! own namespace and its own 10.244.N.0/24). No netns and no BPF: no root lock needed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::api::{Api, ListParams};
use plainsight::k8s::{Identity, K8sIdentity, WatchOptions, WorkloadKind};
use plainsight_tests::k8s::{eventually, lab, Cluster};

/// Taken shared by every test, exclusively by the one that restarts the API server.
static SERVER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn identity(
    ns: &str,
    pod: &str,
    kind: WorkloadKind,
    workload: &str,
    service: Option<&str>,
) -> Identity {
    Identity {
        namespace: Some(Arc::from(ns)),
        pod: Some(Arc::from(pod)),
        workload: Arc::from(workload),
        workload_kind: kind,
        service: service.map(Arc::from),
    }
}

fn start(client: kube::Client, node: &str, watch_timeout_secs: Option<u32>) -> K8sIdentity {
    K8sIdentity::with_client(
        client,
        &WatchOptions {
            node_name: Some(node.to_owned()),
            watch_timeout_secs,
        },
    )
}

/// Waits until `ip` resolves to `want` (the watches deliver within milliseconds).
async fn resolves(id: &K8sIdentity, addr: &str, want: Option<Identity>) {
    let a = ip(addr);
    let mut last = None;
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            last = Some(id.lookup(a));
            if last.as_ref() == Some(&want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "{addr}: wanted {want:?}, still {last:?} after 20 s; watches {:?}",
        id.status()
    );
}

#[tokio::test]
async fn pods_resolve_to_workloads_and_cluster_ips_to_services() {
    let _shared = SERVER.read().await;
    lab();
    let c = Cluster::admin().await;
    let ns = c.namespace("shop").await;
    let web = c.deployment_pod(&ns, "web", "node-a").await;
    c.set_running(&ns, &web.pod, "10.244.1.10", "192.0.2.1")
        .await;
    let db = c.statefulset_pod(&ns, "db", "node-b").await;
    c.set_running(&ns, &db.pod, "10.244.1.20", "192.0.2.2")
        .await;
    let web_ip = c.service(&ns, "web", "web").await;
    // A host-network DaemonSet pod shares its node's address.
    let ds = c.daemonset_pod(&ns, "node-exporter", "node-a", true).await;
    c.set_running(&ns, &ds.pod, "192.0.2.1", "192.0.2.1").await;

    let id = start(c.client.clone(), "node-a", None);
    eventually(20, "first lists", || id.synced().then_some(())).await;
    let names: Vec<&str> = id.status().iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "pods-local",
            "pods-cluster",
            "services",
            "replicasets",
            "jobs"
        ]
    );

    resolves(
        &id,
        "10.244.1.10",
        Some(identity(
            &ns,
            &web.pod,
            WorkloadKind::Deployment,
            "web",
            Some("web"),
        )),
    )
    .await;
    resolves(
        &id,
        "10.244.1.20",
        Some(identity(
            &ns,
            &db.pod,
            WorkloadKind::StatefulSet,
            "db",
            None,
        )),
    )
    .await;
    let svc = Identity {
        namespace: Some(Arc::from(ns.as_str())),
        pod: None,
        workload: Arc::from("web"),
        workload_kind: WorkloadKind::Service,
        service: Some(Arc::from("web")),
    };
    resolves(&id, &web_ip.to_string(), Some(svc)).await;
    let node = |n: &str| Identity {
        namespace: None,
        pod: None,
        workload: Arc::from(n),
        workload_kind: WorkloadKind::Node,
        service: None,
    };
    resolves(&id, "192.0.2.1", Some(node("node-a"))).await;
    resolves(&id, "192.0.2.2", Some(node("node-b"))).await;
    resolves(&id, "10.244.1.99", None).await;

    // Objects made after the first list arrive as watch events.
    let job = c.job_pod(&ns, "migrate", "node-b").await;
    c.set_running(&ns, &job.pod, "10.244.1.30", "192.0.2.2")
        .await;
    let cron = c.cronjob_pod(&ns, "backup", "node-a").await;
    c.set_running(&ns, &cron.pod, "10.244.1.31", "192.0.2.1")
        .await;
    let bare = c.bare_pod(&ns, "debug", "node-b").await;
    c.set_running(&ns, &bare.pod, "10.244.1.32", "192.0.2.2")
        .await;
    let ds2 = c.daemonset_pod(&ns, "fluent", "node-a", false).await;
    c.set_running(&ns, &ds2.pod, "10.244.1.33", "192.0.2.1")
        .await;
    resolves(
        &id,
        "10.244.1.30",
        Some(identity(&ns, &job.pod, WorkloadKind::Job, "migrate", None)),
    )
    .await;
    resolves(
        &id,
        "10.244.1.31",
        Some(identity(
            &ns,
            &cron.pod,
            WorkloadKind::CronJob,
            "backup",
            None,
        )),
    )
    .await;
    resolves(
        &id,
        "10.244.1.32",
        Some(identity(&ns, "debug", WorkloadKind::Pod, "debug", None)),
    )
    .await;
    resolves(
        &id,
        "10.244.1.33",
        Some(identity(
            &ns,
            &ds2.pod,
            WorkloadKind::DaemonSet,
            "fluent",
            None,
        )),
    )
    .await;
    for s in id.status() {
        assert!(s.up && s.synced && s.errors == 0 && s.skipped == 0, "{s:?}");
    }
}

#[tokio::test]
async fn deleted_pods_release_their_address_and_reuse_maps_to_the_new_owner() {
    let _shared = SERVER.read().await;
    lab();
    let c = Cluster::admin().await;
    let ns = c.namespace("churn").await;
    let id = start(c.client.clone(), "node-a", None);
    eventually(20, "first lists", || id.synced().then_some(())).await;

    let web = c.deployment_pod(&ns, "web", "node-a").await;
    c.set_running(&ns, &web.pod, "10.244.2.10", "192.0.2.1")
        .await;
    resolves(
        &id,
        "10.244.2.10",
        Some(identity(
            &ns,
            &web.pod,
            WorkloadKind::Deployment,
            "web",
            None,
        )),
    )
    .await;
    c.delete_pod(&ns, &web.pod).await;
    resolves(&id, "10.244.2.10", None).await;

    // The address comes back on another node, for another workload.
    let job = c.job_pod(&ns, "report", "node-b").await;
    c.set_running(&ns, &job.pod, "10.244.2.10", "192.0.2.2")
        .await;
    resolves(
        &id,
        "10.244.2.10",
        Some(identity(&ns, &job.pod, WorkloadKind::Job, "report", None)),
    )
    .await;

    // The job ends (its pod stays, Succeeded): the kubelet has released the address,
    // and a new pod holding it maps to the new owner, even once the old pod is deleted.
    c.set_pod_status(&ns, &job.pod, "Succeeded", "10.244.2.10", "192.0.2.2")
        .await;
    resolves(&id, "10.244.2.10", None).await;
    let db = c.statefulset_pod(&ns, "db", "node-b").await;
    c.set_running(&ns, &db.pod, "10.244.2.10", "192.0.2.2")
        .await;
    resolves(
        &id,
        "10.244.2.10",
        Some(identity(
            &ns,
            &db.pod,
            WorkloadKind::StatefulSet,
            "db",
            None,
        )),
    )
    .await;
    c.delete_pod(&ns, &job.pod).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    resolves(
        &id,
        "10.244.2.10",
        Some(identity(
            &ns,
            &db.pod,
            WorkloadKind::StatefulSet,
            "db",
            None,
        )),
    )
    .await;
}

#[tokio::test]
async fn watch_restarts_and_an_api_server_restart_are_survived() {
    let _exclusive = SERVER.write().await;
    let lab = lab();
    let c = Cluster::admin().await;
    let ns = c.namespace("restart").await;
    let a = c.deployment_pod(&ns, "a", "node-a").await;
    c.set_running(&ns, &a.pod, "10.244.3.10", "192.0.2.1").await;
    // Watch calls the server ends every second: each is a watch restart.
    let id = start(c.client.clone(), "node-a", Some(1));
    resolves(
        &id,
        "10.244.3.10",
        Some(identity(&ns, &a.pod, WorkloadKind::Deployment, "a", None)),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let b = c.statefulset_pod(&ns, "b", "node-b").await;
    c.set_running(&ns, &b.pod, "10.244.3.11", "192.0.2.2").await;
    resolves(
        &id,
        "10.244.3.11",
        Some(identity(&ns, &b.pod, WorkloadKind::StatefulSet, "b", None)),
    )
    .await;
    let lists_before: u64 = id.status().iter().map(|s| s.lists).sum();

    // The API server dies: the watches report it, the last state keeps answering.
    lab.stop_apiserver();
    eventually(30, "the watches to report the outage", || {
        id.status()
            .iter()
            .all(|s| !s.up && s.errors > 0)
            .then_some(())
    })
    .await;
    resolves(
        &id,
        "10.244.3.10",
        Some(identity(&ns, &a.pod, WorkloadKind::Deployment, "a", None)),
    )
    .await;

    // Meanwhile (through a second API server on the same etcd) a is deleted and c made.
    {
        let second = lab.second_apiserver();
        let c2 = Cluster {
            client: second.client().await,
        };
        c2.delete_pod(&ns, &a.pod).await;
        let d = c2.job_pod(&ns, "d", "node-a").await;
        c2.set_running(&ns, &d.pod, "10.244.3.12", "192.0.2.1")
            .await;
        assert_eq!(id.lookup(ip("10.244.3.12")), None, "the watches are down");
        lab.start_apiserver();
        resolves(
            &id,
            "10.244.3.12",
            Some(identity(&ns, &d.pod, WorkloadKind::Job, "d", None)),
        )
        .await;
    }
    resolves(&id, "10.244.3.10", None).await;
    resolves(
        &id,
        "10.244.3.11",
        Some(identity(&ns, &b.pod, WorkloadKind::StatefulSet, "b", None)),
    )
    .await;
    eventually(30, "the watches to be back up", || {
        id.status().iter().all(|s| s.up).then_some(())
    })
    .await;
    let lists_after: u64 = id.status().iter().map(|s| s.lists).sum();
    // The restarted server's watch cache is new: the watches listed everything again
    // (resync), which is how a's deletion, missed while down, was applied.
    assert!(
        lists_after > lists_before,
        "no resync: {lists_before} full lists before, {lists_after} after"
    );
}

#[tokio::test]
async fn the_agents_cluster_role_is_enough_and_no_more() {
    let _shared = SERVER.read().await;
    let lab = lab();
    let rbac = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/base/rbac.yaml");
    lab.kubectl(&["create", "namespace", "plainsight"], None);
    lab.kubectl(&["apply", "-f", rbac], None);
    let token = lab.kubectl(&["create", "token", "plainsight", "-n", "plainsight"], None);
    let kubeconfig = lab.kubeconfig_for_token(token.trim(), "plainsight-sa");
    let agent = plainsight::k8s::client(Some(&kubeconfig))
        .await
        .expect("client with the token");

    let c = Cluster::admin().await;
    let ns = c.namespace("rbac").await;
    let web = c.deployment_pod(&ns, "web", "node-a").await;
    c.set_running(&ns, &web.pod, "10.244.4.10", "192.0.2.1")
        .await;
    let cron = c.cronjob_pod(&ns, "nightly", "node-b").await;
    c.set_running(&ns, &cron.pod, "10.244.4.11", "192.0.2.2")
        .await;
    let svc_ip = c.service(&ns, "web", "web").await;

    let id = start(agent.clone(), "node-a", None);
    eventually(20, "first lists with the agent's token", || {
        id.synced().then_some(())
    })
    .await;
    resolves(
        &id,
        "10.244.4.10",
        Some(identity(
            &ns,
            &web.pod,
            WorkloadKind::Deployment,
            "web",
            Some("web"),
        )),
    )
    .await;
    resolves(
        &id,
        "10.244.4.11",
        Some(identity(
            &ns,
            &cron.pod,
            WorkloadKind::CronJob,
            "nightly",
            None,
        )),
    )
    .await;
    assert_eq!(
        id.lookup(svc_ip).map(|i| i.workload_kind),
        Some(WorkloadKind::Service)
    );
    for s in id.status() {
        assert!(s.up && s.errors == 0, "{s:?}");
    }

    // What the agent does not need, it cannot do.
    let forbidden = |r: Result<_, kube::Error>, what: &str| match r {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 403, "{what}: {e}"),
        Err(e) => panic!("{what}: unexpected error {e}"),
        Ok(_) => panic!("{what}: allowed with the agent's token"),
    };
    forbidden(
        Api::<Secret>::all(agent.clone())
            .list(&ListParams::default())
            .await
            .map(|_| ()),
        "list secrets",
    );
    forbidden(
        Api::<Node>::all(agent.clone())
            .list(&ListParams::default())
            .await
            .map(|_| ()),
        "list nodes",
    );
    forbidden(
        Api::<Pod>::namespaced(agent.clone(), &ns)
            .get(&web.pod)
            .await
            .map(|_| ()),
        "get one pod",
    );
    let can_i = |verb: &str, res: &str| {
        let out =
            std::process::Command::new(plainsight_tests::k8s::lab_dir().join("venv/bin/kubectl"))
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(["auth", "can-i", verb, res, "--all-namespaces"])
                .output()
                .expect("kubectl auth can-i");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(can_i("watch", "pods"), "yes");
    assert_eq!(can_i("delete", "pods"), "no");
    assert_eq!(can_i("list", "configmaps"), "no");
}

#[tokio::test]
async fn the_k8s_identity_command_prints_the_mapping() {
    let _shared = SERVER.read().await;
    let lab = lab();
    let c = Cluster::admin().await;
    let ns = c.namespace("cli").await;
    let web = c.deployment_pod(&ns, "web", "node-a").await;
    c.set_running(&ns, &web.pod, "10.244.5.10", "192.0.2.1")
        .await;
    let svc = c.service(&ns, "web", "web").await;
    let out = std::process::Command::new(plainsight_tests::agent_bin())
        .args(["k8s-identity", "--node-name", "node-a", "--kubeconfig"])
        .arg(&lab.kubeconfig)
        .args(["10.244.5.10", &svc.to_string(), "10.244.5.99", "--stats"])
        .output()
        .expect("run plainsight k8s-identity");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(
        lines[0]["identity"],
        serde_json::json!({ "namespace": ns, "pod": web.pod, "workload": "web",
                            "workload_kind": "Deployment", "service": "web" })
    );
    assert_eq!(lines[1]["identity"]["workload_kind"], "Service");
    assert_eq!(lines[2]["identity"], serde_json::Value::Null);
    assert!(
        lines[3]["stats"]["pods"].as_u64().is_some_and(|n| n >= 1),
        "{}",
        lines[3]
    );
}
