//! The identity index's memory at scale (docs/kubernetes.md): starts the lab API
//! server, runs `plainsight k8s-identity --stats` on the empty cluster, creates N pods
//! (default 10 000: Deployment → ReplicaSet → Pod, spread over 100 nodes, each
//! Running with its own address), and runs it again. The RSS difference between the
//! two runs, both after their watches' first lists, is what N pods cost.
//!
//! `cargo build -p plainsight --release --bin plainsight && PLAINSIGHT_BIN=target/release/plainsight cargo run --release -p plainsight-tests --bin k8s-scale -- 10000`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Instant;

use futures_util::StreamExt;
use plainsight_tests::k8s::{lab, Cluster};
use serde_json::json;

const PER_DEPLOYMENT: usize = 100;

fn identity_stats(bin: &str, probe: &[String]) -> serde_json::Value {
    let out = Command::new(bin)
        .args([
            "k8s-identity",
            "--stats",
            "--node-name",
            "node-0",
            "--kubeconfig",
        ])
        .arg(&lab().kubeconfig)
        .args(probe)
        .output()
        .expect("run plainsight k8s-identity");
    assert!(
        out.status.success(),
        "k8s-identity failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        println!("  {line}");
    }
    serde_json::from_str(text.lines().last().expect("a stats line")).expect("stats JSON")
}

fn pod_ip(i: usize) -> String {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 128, 0, 1)) + i as u32).to_string()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |a| a.parse().expect("pod count"));
    let bin = std::env::var("PLAINSIGHT_BIN").expect("PLAINSIGHT_BIN: the plainsight binary");
    lab();
    println!("empty cluster:");
    let empty = identity_stats(&bin, &[]);

    let c = Cluster::admin().await;
    let ns = c.namespace("scale").await;
    let t = Instant::now();
    let deployments = n.div_ceil(PER_DEPLOYMENT);
    let mut replicasets = Vec::new();
    for d in 0..deployments {
        let app = format!("app-{d}");
        let spec = json!({ "replicas": PER_DEPLOYMENT, "selector": { "matchLabels": { "app": app } },
            "template": { "metadata": { "labels": { "app": app } },
                          "spec": { "containers": [{ "name": "app", "image": "registry.invalid/app:1" }] } } });
        let uid = c
            .create(json!({ "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": { "name": app, "namespace": ns }, "spec": spec }))
            .await;
        let rs = format!("{app}-5d9c7b");
        let rs_uid = c
            .create(json!({ "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": { "name": rs, "namespace": ns, "ownerReferences": [{ "apiVersion": "apps/v1",
                    "kind": "Deployment", "name": app, "uid": uid, "controller": true }] },
                "spec": spec }))
            .await;
        replicasets.push((app, rs, rs_uid));
    }
    let jobs = (0..n).map(|i| {
        let c = c.clone();
        let ns = ns.clone();
        let (app, rs, rs_uid) = replicasets[i / PER_DEPLOYMENT].clone();
        async move {
            let name = format!("{rs}-{i}");
            let node = format!("node-{}", i % 100);
            c.create(json!({ "apiVersion": "v1", "kind": "Pod",
                "metadata": { "name": name, "namespace": ns,
                    "labels": { "app": app, "pod-template-hash": "5d9c7b" },
                    "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": rs, "uid": rs_uid, "controller": true }] },
                "spec": { "nodeName": node, "containers": [{ "name": "app", "image": "registry.invalid/app:1" }] } }))
                .await;
            let host = format!("192.0.2.{}", i % 100 + 1);
            c.set_running(&ns, &name, &pod_ip(i), &host).await;
        }
    });
    futures_util::stream::iter(jobs)
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    println!(
        "created {n} running pods in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    println!("{n} pods:");
    let probe = [pod_ip(0), pod_ip(n - 1)];
    let full = identity_stats(&bin, &probe);
    assert_eq!(full["stats"]["pods"], json!(n), "the index holds every pod");
    let kib = |v: &serde_json::Value| v["rss_kib_after"].as_u64().expect("rss");
    let growth = kib(&full).saturating_sub(kib(&empty));
    println!(
        "RSS after the first lists: {} KiB empty, {} KiB with {n} pods: +{growth} KiB ({} bytes per pod)",
        kib(&empty),
        kib(&full),
        growth * 1024 / n as u64
    );
}
