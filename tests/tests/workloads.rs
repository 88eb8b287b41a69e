//! The live agent with `[kubernetes] enabled = true` against the lab's real API server:
//! lab flows between network-namespace hosts whose addresses the test gives to pods (it
//! plays the kubelet) must reach `/metrics` and the events named by workload, and stay
//! right through pod churn and an API server restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use plainsight_tests::k8s::{lab as k8s_lab, Cluster};
use plainsight_tests::lab::{
    metric_sum, parse_events, parse_metrics, Hub, Lab, LiveAgent, CLIENT_IP, SERVER_IP,
};

const NODE: &str = "node-a";
/// The node's own address in the pods' status (TEST-NET-1: never routed).
const HOST_IP: &str = "192.0.2.10";
const PORT: u16 = 9925;

/// Polls the agent's `/metrics` until `plainsight_flows_total` with `labels` is at least 1
/// after running `traffic` (flows end and are exported within a couple of seconds).
fn wait_for_flow(agent: &LiveAgent, labels: &[(&str, &str)], traffic: impl Fn(), what: &str) {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        traffic();
        let deadline_round = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline_round {
            let m = parse_metrics(&agent.metrics());
            if metric_sum(&m, "plainsight_flows_total", labels) >= 1.0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no plainsight_flows_total{labels:?} within 45 s; /metrics:\n{}",
            agent
                .metrics()
                .lines()
                .filter(|l| l.starts_with("plainsight_flows_total")
                    || l.starts_with("plainsight_kubernetes"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

fn config(lab: &Lab) -> String {
    let path = lab.path("k8s.toml");
    std::fs::write(
        &path,
        format!(
            "[kubernetes]\nenabled = true\nkubeconfig = \"{}\"\nnode_name = \"{NODE}\"\n",
            k8s_lab().kubeconfig.display()
        ),
    )
    .expect("config");
    path
}

#[tokio::test]
async fn a_flow_from_deployment_web_to_statefulset_db_is_named_by_workload_through_churn() {
    let k8s = k8s_lab();
    let c = Cluster::admin().await;
    c.create(serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "shop" } }))
        .await;
    let web = c.deployment_pod("shop", "web", NODE).await;
    let db = c.statefulset_pod("shop", "db", NODE).await;
    c.service("shop", "db", "db").await;
    c.set_running("shop", &web.pod, CLIENT_IP, HOST_IP).await;
    c.set_running("shop", &db.pod, SERVER_IP, HOST_IP).await;

    let mut lab = Lab::new(&format!("ps-lab-wl{}", std::process::id()), Hub::Netns);
    lab.start_servers();
    let hub = lab.hub_ns.clone().expect("a hub namespace");
    let _api = k8s.forward_into(&hub);
    let cfg = config(&lab);
    // /readyz is 200 only once every watch has listed: the pods are known from here on.
    let agent = LiveAgent::start(&lab, PORT, &["--config", &cfg]);

    let pair = [
        ("src_namespace", "shop"),
        ("src_workload", "web"),
        ("dst_namespace", "shop"),
        ("dst_workload", "db"),
        ("dst_service", "db"),
    ];
    let mut want: Vec<(&str, &str)> = pair.to_vec();
    want.extend([("protocol", "postgres"), ("encrypted", "false")]);
    wait_for_flow(&agent, &want, || lab.psql(), "psql from web to db");
    let m = parse_metrics(&agent.metrics());
    let mut cred = pair.to_vec();
    cred.push(("id", "plaintext.postgres"));
    assert!(
        metric_sum(&m, "plainsight_findings_total", &cred) >= 1.0,
        "plaintext.postgres is not counted for the web → db pair"
    );
    for w in [
        "pods-local",
        "pods-cluster",
        "services",
        "replicasets",
        "jobs",
    ] {
        assert_eq!(
            metric_sum(&m, "plainsight_kubernetes_watch_up", &[("watch", w)]),
            1.0,
            "watch {w} not up"
        );
    }
    assert!(metric_sum(&m, "plainsight_kubernetes_objects", &[("kind", "pods")]) >= 2.0);

    // The event names both ends, and the finding names the pair in its evidence.
    let events = parse_events(&std::fs::read_to_string(&agent.events).unwrap_or_default());
    let ev = events
        .iter()
        .find(|e| e["protocol"] == "postgres" && e["src_k8s"]["workload"] == "web")
        .unwrap_or_else(|| panic!("no postgres event from web in {events:#?}"));
    assert_eq!(ev["src_k8s"]["namespace"], "shop");
    assert_eq!(ev["src_k8s"]["pod"], web.pod.as_str());
    assert_eq!(ev["src_k8s"]["workload_kind"], "Deployment");
    assert_eq!(ev["dst_k8s"]["pod"], db.pod.as_str());
    assert_eq!(ev["dst_k8s"]["workload"], "db");
    assert_eq!(ev["dst_k8s"]["workload_kind"], "StatefulSet");
    assert_eq!(ev["dst_k8s"]["service"], "db");
    let details = ev["finding_details"].as_array().expect("finding_details");
    assert!(!details.is_empty(), "{ev:#}");
    for f in details {
        assert_eq!(f["evidence"]["src_workload"], "shop/web", "{f:#}");
        assert_eq!(f["evidence"]["dst_workload"], "shop/db", "{f:#}");
    }

    // Churn: web's pod goes, a pod of another Deployment takes its address.
    c.delete_pod("shop", &web.pod).await;
    let cart = c.deployment_pod("shop", "cart", NODE).await;
    c.set_running("shop", &cart.pod, CLIENT_IP, HOST_IP).await;
    let mut want = vec![("src_workload", "cart"), ("dst_workload", "db")];
    want.push(("protocol", "http"));
    wait_for_flow(
        &agent,
        &want,
        || lab.plain_http(),
        "the address reused by cart",
    );

    // The API server goes away: flows keep the last identities, the watches say down.
    k8s.stop_apiserver();
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric_sum(
        &parse_metrics(&agent.metrics()),
        "plainsight_kubernetes_watch_up",
        &[("watch", "pods-local")],
    ) != 0.0
    {
        assert!(
            Instant::now() < deadline,
            "watch still up 60 s after the API server died"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let before = metric_sum(
        &parse_metrics(&agent.metrics()),
        "plainsight_flows_total",
        &[("src_workload", "cart"), ("protocol", "http")],
    );
    let mut want = vec![("src_workload", "cart"), ("protocol", "http")];
    let seen = before + 1.0;
    let deadline = Instant::now() + Duration::from_secs(30);
    lab.plain_http();
    while metric_sum(
        &parse_metrics(&agent.metrics()),
        "plainsight_flows_total",
        &want,
    ) < seen
    {
        assert!(
            Instant::now() < deadline,
            "no named flow while the API server was down"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    k8s.start_apiserver();
    // Back: a change made after the restart reaches the agent (the watch relisted).
    c.delete_pod("shop", &cart.pod).await;
    want = vec![("dst_workload", "db"), ("protocol", "http")];
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        lab.plain_http();
        std::thread::sleep(Duration::from_secs(2));
        let m = parse_metrics(&agent.metrics());
        // A flow to db whose source has no workload label any more.
        let unnamed = m.iter().any(|s| {
            s.name == "plainsight_flows_total"
                && want.iter().all(|(k, v)| s.label(k) == Some(*v))
                && s.label("src_workload").is_none()
        });
        if unnamed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deletion after the API server restart never reached the agent"
        );
    }
    drop(agent);
}
