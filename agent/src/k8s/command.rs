//! `plainsight k8s-identity`: connect, wait for the watches' first lists, print what
//! the given addresses resolve to. A debugging aid, and how docs/kubernetes.md
//! measures the index's memory.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::{K8sIdentity, WatchOptions};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct IdentityArgs {
    /// Addresses to resolve, one JSON line each.
    pub ips: Vec<IpAddr>,
    /// Configuration file: its `[kubernetes]` section (enabled or not) is used.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Kubeconfig file; overrides the configuration's, default in-cluster.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// This node's name; overrides the configuration's, default $NODE_NAME.
    #[arg(long)]
    pub node_name: Option<String>,
    /// Give up when the watches have not listed everything after this long.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// Also print the index's size, the watches' health and the process's RSS
    /// before connecting and after the first lists.
    #[arg(long)]
    pub stats: bool,
}

/// Resident set size of this process, KiB (`VmRSS` in proc(5)).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub async fn run(args: IdentityArgs) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?.kubernetes,
        None => Default::default(),
    };
    if args.kubeconfig.is_some() {
        cfg.kubeconfig = args.kubeconfig.clone();
    }
    if args.node_name.is_some() {
        cfg.node_name = args.node_name.clone();
    }
    let rss_before = rss_kib();
    let client = super::client(cfg.kubeconfig.as_deref()).await?;
    let started = Instant::now();
    let id = K8sIdentity::with_client(
        client,
        &WatchOptions {
            node_name: cfg.node_name(),
            watch_timeout_secs: None,
        },
    );
    while !id.synced() {
        if started.elapsed() > Duration::from_secs(args.timeout_secs) {
            anyhow::bail!(
                "the watches did not list everything within {} s: {}",
                args.timeout_secs,
                serde_json::to_string(&id.status())?
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let synced_ms = started.elapsed().as_millis();
    for ip in &args.ips {
        let line = serde_json::json!({ "ip": ip, "identity": id.lookup(*ip) });
        println!("{line}");
    }
    if args.stats {
        let line = serde_json::json!({
            "stats": id.stats(),
            "watches": id.status(),
            "synced_ms": synced_ms,
            "rss_kib_before": rss_before,
            "rss_kib_after": rss_kib(),
        });
        println!("{line}");
    }
    Ok(())
}
