//! `plainsight run`: the node agent. Kernel capture feeds the same engine as pcap mode;
//! finished flows go to the events file, the metrics and the spike detector.
//!
//! One task owns the engine and the capture (no locks on the packet path); the HTTP
//! endpoint reads a metrics snapshot behind a mutex.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_common::parse::{Endpoints, Protocol};
use agent_common::{counter, FlowStats};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::capture::live::{self, AttachMode, LiveCapture, LiveError, LoadOptions};
use crate::config::{self, Config, ConfigError};
use crate::engine::{Engine, FlowRecord};
use crate::export::events::{EventWriter, EventsError};
use crate::export::http::{self, Endpoint, HttpError, Shared, TlsFiles};
use crate::export::metrics::Metrics;
use crate::flow::table::Worth;
use crate::flow::{FlowKey, Transport};
use crate::time::Timestamp;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Configuration file (TOML); see `plainsight config print-default`.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Interface to watch (repeatable); overrides `[capture] interfaces_include`.
    #[arg(long = "iface")]
    pub ifaces: Vec<String>,
    /// tcx links or netlink clsact filters; overrides `[capture] attach`.
    #[arg(long, value_enum)]
    pub attach: Option<AttachMode>,
    /// Address of the /metrics, /healthz and /readyz endpoint; overrides `[http] listen`.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Events file, or `-` for standard output; overrides `[events] path`.
    #[arg(long)]
    pub events: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Events(#[from] EventsError),
    #[error("[http] needs both tls_cert and tls_key, or neither")]
    HalfTls,
    #[error("signal handling: {0}")]
    Signal(io::Error),
    #[cfg(feature = "kubernetes")]
    #[error("kubernetes: {0}")]
    Kubernetes(#[from] crate::k8s::K8sError),
    #[error("[kubernetes] enabled = true, but this build has no Kubernetes support (cargo feature `kubernetes`)")]
    NoKubernetes,
    #[error("[probe]: cannot build the TLS client: {0}")]
    Probe(rustls::Error),
}

impl RunError {
    /// Configuration problems are usage errors (exit 2): nothing was attached. A
    /// kubeconfig that cannot be read, or no service account in the pod, is one too.
    pub fn is_usage(&self) -> bool {
        #[cfg(feature = "kubernetes")]
        if matches!(self, RunError::Kubernetes(_)) {
            return true;
        }
        matches!(
            self,
            RunError::Config(_) | RunError::HalfTls | RunError::NoKubernetes
        )
    }
}

/// How often expiry, counters and gauges are refreshed.
const TICK: Duration = Duration::from_secs(1);

pub async fn run(args: RunArgs) -> Result<(), RunError> {
    // Everything that can be wrong with the configuration fails before attaching.
    let mut config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        config.http.listen = l;
    }
    if let Some(e) = &args.events {
        config.events.path = e.clone();
    }
    preflight(&config)?;
    let tls = match (&config.http.tls_cert, &config.http.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: config.http.client_ca.clone(),
        }),
        (None, None) => None,
        _ => return Err(RunError::HalfTls),
    };
    let mut sigint = signal(SignalKind::interrupt()).map_err(RunError::Signal)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(RunError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(RunError::Signal)?;

    let endpoint = Endpoint::bind(config.http.listen, tls.as_ref()).await?;
    let mut events = match config.events.path.as_str() {
        "-" => EventWriter::stdout(),
        path => EventWriter::file(
            path.as_ref(),
            config.events.rotate_bytes,
            config.events.keep,
        )?,
    };
    let shared = Arc::new(Shared::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    tracing::info!(listen = %endpoint.local_addr().map_or_else(|e| e.to_string(), |a| a.to_string()), "metrics endpoint");
    let server = tokio::spawn(endpoint.serve(Arc::clone(&shared), stop_rx));

    let mode = attach_mode(args.attach, config.capture.attach, live::probe_tcx);
    let mut cap = LiveCapture::load(&LoadOptions {
        config: agent_common::CaptureConfig {
            byte_budget: config.capture.budget_bytes,
            segment_budget: config.capture.budget_segments,
            ..agent_common::CaptureConfig::DEFAULT
        },
        // The kernel maps follow [limits]: two directions per flow in FLOWS and in DONE.
        flow_entries: Some(config.limits.kernel_flow_entries()),
        done_entries: Some(config.limits.kernel_flow_entries()),
        ringbuf_bytes: Some(config.limits.ringbuf_bytes),
        wakeup_bytes: None,
        coarse_clock: None,
    })?;
    // Workload identity: watches that run beside the capture (not on its path).
    let k8s = kubernetes(&config).await?;
    let mut metrics = Metrics::new()
        .with_service_cap(config.spike.max_services as usize)
        .with_label_budget(config.kubernetes.max_label_values as usize);
    metrics.zero_known(&config.policy());
    for reason in live::ATTACH_FAILURE_REASONS {
        metrics.attach_failures.set([reason], 0.0);
    }
    // Subscribe before the first listing, so no change between the two is missed.
    let links = LinkEvents::open();
    let mut watcher = Interfaces::new(args.ifaces.clone(), mode);
    watcher.sync(&mut cap, &config, &mut metrics)?;
    if watcher.attached.is_empty() {
        // Nothing at all could be attached: the configuration (or --iface) names no
        // usable interface. Report the first reason instead of idling unready.
        return Err(watcher
            .first_error
            .take()
            .unwrap_or(LiveError::NoInterfaces)
            .into());
    }
    tracing::info!(interfaces = ?cap.attached_interfaces(), ?mode, "attached");
    let mut reader = cap.events()?;
    let clock = cap.clock();
    http::set_ready(&shared, watcher.complete() && k8s.synced());

    // [probe]: the worker on this runtime, fed through a bounded queue by the planner
    // in flush_records; results come back through `probe_rx`.
    let (mut probe_rx, planner) = if config.probe.enabled {
        let (res_tx, res_rx) = tokio::sync::mpsc::channel(config.probe.queue.max(1) as usize);
        let tx = crate::probe::spawn(config.probe.clone(), res_tx).map_err(RunError::Probe)?;
        metrics.zero_probe();
        let planner = crate::probe::Planner::new(
            config.probe.clone(),
            config.policy(),
            config.http.listen.port(),
            tx,
        );
        tracing::info!("probe enabled");
        (Some(res_rx), Some(planner))
    } else {
        (None, None)
    };
    let mut agent = Agent {
        engine: Engine::new(&config).live(),
        policy: config.policy(),
        metrics,
        records: Vec::new(),
        events_written: 0,
        event_errors: 0,
        kernel_removed: 0,
        kernel_evicted: 0,
        k8s,
        planner,
    };
    // When the interface list must be compared with the system again: set by link
    // notifications (after a short settling delay) and while some wanted interface is
    // not attached (retry). A deadline, not a sleep inside the select arm, so that no
    // other arm firing can cancel a pending change.
    let mut sync_at: Option<Instant> = watcher.retry_at();
    let mut batch = Vec::new();
    let mut tick = tokio::time::interval(TICK);
    let mut evict = tokio::time::interval(Duration::from_secs(u64::from(
        config.limits.kernel_scan_secs,
    )));
    let idle = Duration::from_secs(u64::from(config.limits.tcp_idle_secs));
    let cert_ttl = u64::from(config.limits.cert_series_ttl_secs);

    let result: Result<(), RunError> = async {
        loop {
            tokio::select! {
                // At most DRAIN_BATCH records per turn: under a flood the other branches
                // (tick, eviction, signals) still get theirs.
                r = reader.next_batch(&mut batch, live::DRAIN_BATCH) => {
                    r?;
                    agent.metrics.events_read.add(["ringbuf"], batch.len() as f64);
                    for seg in batch.drain(..) {
                        agent.engine.process(&seg.as_segment(), &mut agent.records);
                    }
                    for (key, last_seen) in agent.engine.take_done() {
                        let ep = endpoints(&key);
                        // The tuple may have been reused by a new connection since: its
                        // kernel entry then started after our flow's last segment.
                        let restarted = cap
                            .flow_stats(&ep)
                            .ok()
                            .flatten()
                            .is_some_and(|st| st.first_seen_ns > clock.mono(last_seen));
                        if !restarted && cap.mark_done(&ep).is_err() {
                            agent.metrics.dropped.inc(["kernel_done_map", "update_failed"]);
                        }
                    }
                    agent.flush_records(&mut cap, &mut events);
                }
                _ = tick.tick() => {
                    agent.engine.advance(Timestamp::now(), &mut agent.records);
                    agent.flush_records(&mut cap, &mut events);
                    agent.refresh(&cap, reader.bad_records);
                    agent
                        .metrics
                        .expire_certs(Timestamp::now().secs().max(0) as u64, cert_ttl);
                    http::set_ready(&shared, watcher.complete() && agent.k8s.synced());
                    if let Ok(mut m) = shared.metrics.lock() {
                        agent.publish(&mut m);
                    }
                }
                _ = evict.tick() => {
                    // Read before the walk: flows created while it runs would otherwise
                    // count as evicted (63 of them at 1,546 new connections a second).
                    let created = cap
                        .counters()
                        .ok()
                        .and_then(|c| c.get(counter::FLOW_CREATED as usize).copied());
                    match cap.evict_idle_counted(idle) {
                        Ok((gone, entries)) => {
                            agent.kernel_removed += gone.len() as u64;
                            agent.count_kernel_lru(created, entries);
                        }
                        Err(e) => tracing::warn!(error = %e, "kernel flow eviction failed"),
                    }
                }
                changed = links.changed() => {
                    if changed {
                        let due = Instant::now() + LINK_SETTLE;
                        // Keep an earlier deadline: a steady stream of changes must not
                        // postpone the sync forever.
                        sync_at = Some(sync_at.map_or(due, |t| t.min(due)));
                    }
                }
                _ = sleep_until_opt(sync_at) => {
                    if let Err(e) = watcher.sync(&mut cap, &config, &mut agent.metrics) {
                        tracing::warn!(error = %e, "cannot list interfaces");
                    }
                    http::set_ready(&shared, watcher.complete() && agent.k8s.synced());
                    sync_at = watcher.retry_at();
                }
                Some(p) = recv_opt(&mut probe_rx) => {
                    agent.probed(&p, &mut events);
                }
                _ = sighup.recv() => {
                    match args.config.as_ref().map(Config::load) {
                        Some(Ok(new)) => {
                            agent.policy = new.policy();
                            agent.engine.set_policy(new.policy());
                            if let Some(pl) = agent.planner.as_mut() {
                                pl.set_policy(new.policy());
                            }
                            agent.metrics.zero_known(&agent.policy);
                            tracing::info!("policy reloaded");
                        }
                        Some(Err(e)) => tracing::error!(error = %e, "reload failed; keeping the running policy"),
                        None => tracing::info!("SIGHUP without --config: nothing to reload"),
                    }
                }
                _ = sigint.recv() => break,
                _ = sigterm.recv() => break,
            }
        }
        Ok(())
    }
    .await;

    // Shut down in order: stop capture, take what the kernel still holds, end every
    // open flow, then the endpoint.
    http::set_ready(&shared, false);
    let detached = cap.detach();
    reader.drain(&mut batch);
    for seg in batch.drain(..) {
        agent.engine.process(&seg.as_segment(), &mut agent.records);
    }
    agent.engine.finish(&mut agent.records);
    agent.flush_records(&mut cap, &mut events);
    events.flush()?;
    let _ = stop_tx.send(true);
    let _ = server.await;
    tracing::info!(events = agent.events_written, "stopped");
    result?;
    detached?;
    Ok(())
}

/// The workload-identity stage: the Kubernetes watches when `[kubernetes]` is on.
#[derive(Debug)]
struct IdentityStage(#[cfg(feature = "kubernetes")] Option<crate::k8s::K8sIdentity>);

impl IdentityStage {
    /// Every watch has listed once (or Kubernetes is off): until then flows would go out
    /// unnamed, so `/readyz` waits for it.
    fn synced(&self) -> bool {
        #[cfg(feature = "kubernetes")]
        if let Some(k) = &self.0 {
            return k.synced();
        }
        true
    }

    fn enrich(&self, _r: &mut FlowRecord) {
        #[cfg(feature = "kubernetes")]
        if let Some(k) = &self.0 {
            k.enrich(_r);
        }
    }

    fn export(&self, _m: &mut Metrics) {
        #[cfg(feature = "kubernetes")]
        if let Some(k) = &self.0 {
            k.export(_m);
        }
    }
}

/// Connects to the API server and starts the watches, when configured.
async fn kubernetes(config: &Config) -> Result<IdentityStage, RunError> {
    if !config.kubernetes.enabled {
        #[cfg(feature = "kubernetes")]
        return Ok(IdentityStage(None));
        #[cfg(not(feature = "kubernetes"))]
        return Ok(IdentityStage());
    }
    #[cfg(feature = "kubernetes")]
    {
        let k = crate::k8s::K8sIdentity::start(&config.kubernetes).await?;
        tracing::info!(node = ?config.kubernetes.node_name(), "kubernetes: watching the API server");
        Ok(IdentityStage(Some(k)))
    }
    #[cfg(not(feature = "kubernetes"))]
    Err(RunError::NoKubernetes)
}

/// Every check `run` makes before it starts, on the configuration alone: what `plainsight
/// config check` runs too, so that it accepts exactly what `run` accepts. Each error names
/// the file, the key and its line.
pub fn preflight(config: &Config) -> Result<(), ConfigError> {
    if let (Some(cert), Some(key)) = (&config.http.tls_cert, &config.http.tls_key) {
        let files = TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: config.http.client_ca.clone(),
        };
        if let Err(e) = http::check_tls(&files) {
            // The files are read in this order: certificate, key, client CA.
            let at = match &e {
                HttpError::Empty { what, .. } if what.contains("key") => "http.tls_key",
                HttpError::Read { path, .. } | HttpError::Empty { path, .. } => {
                    if path == cert {
                        "http.tls_cert"
                    } else if path == key {
                        "http.tls_key"
                    } else {
                        "http.client_ca"
                    }
                }
                HttpError::ClientCa(_) => "http.client_ca",
                // rustls refused the pair (a key that does not match the certificate).
                _ => "http.tls_key",
            };
            let value = match at {
                "http.tls_key" => key.display().to_string(),
                "http.client_ca" => config
                    .http
                    .client_ca
                    .as_ref()
                    .map_or_else(String::new, |p| p.display().to_string()),
                _ => cert.display().to_string(),
            };
            return Err(config.invalid(at, format!("{value:?}"), e.to_string()));
        }
    }
    if config.events.path != "-" {
        let path = std::path::Path::new(&config.events.path);
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        let value = format!("{:?}", config.events.path);
        if !dir.is_dir() {
            return Err(config.invalid(
                "events.path",
                value,
                format!("directory {} does not exist", dir.display()),
            ));
        }
        if path.is_dir() {
            return Err(config.invalid("events.path", value, "is a directory, not a file"));
        }
        let target = if path.exists() { path } else { dir };
        if !writable(target) {
            return Err(config.invalid(
                "events.path",
                value,
                format!("{} is not writable by this user", target.display()),
            ));
        }
    }
    Ok(())
}

/// access(2) with W_OK: the kernel's own answer for this process's credentials.
fn writable(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// The attach mode: the command line's, else the configuration's; `auto` asks the
/// kernel through `probe` (see [`live::probe_tcx`]).
pub fn attach_mode(
    cli: Option<AttachMode>,
    cfg: config::AttachMode,
    probe: impl FnOnce() -> Result<(), LiveError>,
) -> AttachMode {
    cli.unwrap_or_else(|| match cfg {
        config::AttachMode::Netlink => AttachMode::Netlink,
        config::AttachMode::Tcx => AttachMode::Tcx,
        config::AttachMode::Auto => live::resolve_auto(probe),
    })
}

/// The agent's state outside the capture.
struct Agent {
    engine: Engine,
    policy: config::Policy,
    metrics: Metrics,
    records: Vec<FlowRecord>,
    events_written: u64,
    event_errors: u64,
    /// Kernel flow-map entries the agent removed (idle, or closed), for the LRU eviction
    /// count.
    kernel_removed: u64,
    /// The LRU evictions counted so far (see [`Agent::count_kernel_lru`]).
    kernel_evicted: u64,
    k8s: IdentityStage,
    /// `[probe]` on: picks the endpoints to probe from the finished flows.
    planner: Option<crate::probe::Planner>,
}

/// The next value of an optional receiver; pending forever when there is none.
async fn recv_opt<T>(rx: &mut Option<tokio::sync::mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Agent {
    /// One probe's result: counted, and when it read a certificate, exported like a flow
    /// (event with `source: probe`, findings, certificate expiry).
    fn probed(&mut self, p: &crate::probe::Probed, events: &mut EventWriter) {
        self.metrics.probe_attempts.inc([p.outcome.as_str()]);
        let Some(mut r) = p.record(&self.policy) else {
            return;
        };
        self.k8s.enrich(&mut r);
        self.metrics.observe_probe(&r, Timestamp::now().secs());
        match events.write(&r) {
            Ok(()) => self.events_written += 1,
            Err(e) => {
                self.event_errors += 1;
                self.metrics.dropped.inc(["events", "write_failed"]);
                tracing::warn!(error = %e, "event not written");
            }
        }
        if let Err(e) = events.flush() {
            tracing::warn!(error = %e, "event flush failed");
        }
    }

    /// Completes finished flows (kernel counters, spikes) and hands them to the sinks.
    fn flush_records(&mut self, cap: &mut LiveCapture, events: &mut EventWriter) {
        let now = Timestamp::now();
        let clock = cap.clock();
        for mut r in std::mem::take(&mut self.records) {
            let ep = endpoints(&r.key);
            let kernel = kernel_counters(cap, &ep, &mut r);
            self.k8s.enrich(&mut r);
            if cap.unmark_done(&ep).is_err() {
                self.metrics
                    .dropped
                    .inc(["kernel_done_map", "remove_failed"]);
            }
            match cap.forget_closed(&ep, kernel, clock.mono(r.last_seen)) {
                Ok(n) => self.kernel_removed += n as u64,
                Err(e) => tracing::warn!(error = %e, "closed flow not removed from the kernel map"),
            }
            self.metrics.observe(&r, &self.policy, now.secs());
            if let Some(p) = self.planner.as_mut() {
                p.offer(&r, std::time::Instant::now());
            }
            match events.write(&r) {
                Ok(()) => self.events_written += 1,
                Err(e) => {
                    self.event_errors += 1;
                    self.metrics.dropped.inc(["events", "write_failed"]);
                    tracing::warn!(error = %e, "event not written");
                }
            }
        }
        if let Err(e) = events.flush() {
            tracing::warn!(error = %e, "event flush failed");
        }
    }

    /// Counts the kernel flow-map entries its LRU evicted to make room (a flood of new
    /// tuples): every entry created is still there, was removed by us, or was evicted.
    /// With `created` read before the walk that found `entries`, the difference is a lower
    /// bound of the evictions so far (flows created during the walk only lower it), so the
    /// counter keeps the highest bound seen and never moves backwards.
    fn count_kernel_lru(&mut self, created: Option<u64>, entries: usize) {
        let Some(created) = created else {
            return;
        };
        let bound = created
            .saturating_sub(entries as u64)
            .saturating_sub(self.kernel_removed);
        self.kernel_evicted = self.kernel_evicted.max(bound);
        self.metrics.dropped.set(
            ["kernel", "flow_map_lru_evicted"],
            self.kernel_evicted as f64,
        );
        self.metrics.kernel_flows.set([], entries as f64);
    }

    /// Refreshes gauges and copies the kernel's counters into the drop metrics.
    fn refresh(&mut self, cap: &LiveCapture, bad_records: u64) {
        self.k8s.export(&mut self.metrics);
        let m = &mut self.metrics;
        m.flows_tracked.set([], self.engine.flows_tracked() as f64);
        let stats = self.engine.stats();
        m.dropped
            .set(["flow_table", "full"], stats.dropped_table_full as f64);
        for (worth, n) in [
            Worth::Closed,
            Worth::Payloadless,
            Worth::OneWay,
            Worth::Unclassified,
            Worth::Classified,
        ]
        .into_iter()
        .zip(stats.evicted)
        {
            let reason = match worth {
                Worth::Closed => "evicted_closed",
                Worth::Payloadless => "evicted_payloadless",
                Worth::OneWay => "evicted_one_way",
                Worth::Unclassified => "evicted_unclassified",
                Worth::Classified => "evicted_classified",
            };
            m.dropped.set(["flow_table", reason], n as f64);
        }
        m.dropped.set(["ringbuf", "bad_record"], bad_records as f64);
        m.parse_errors.set(["ringbuf_event"], bad_records as f64);
        m.parse_errors.set(["tls"], stats.tls_parse_errors as f64);
        m.parse_errors.set(["hpack"], stats.hpack_errors as f64);
        for (stage, reason, n) in [
            ("tls", "handshake_buffer_cap", stats.tls_buffer_cap),
            ("dtls", "message_cap", stats.dtls_message_cap),
            ("quic", "crypto_cap", stats.quic_crypto_cap),
            ("hpack", "block_cap", stats.hpack_capped),
            ("stream", "out_of_order_full", stats.stream_ooo_dropped),
            ("spike", "overflow", self.engine.spikes().overflow),
            ("spike", "evicted", self.engine.spikes().evicted),
        ] {
            m.dropped.set([stage, reason], n as f64);
        }
        for (gauge, reason) in [
            (&m.handshake_failure_rate, "failure_ratio_cap"),
            (&m.failure_spike_active, "failure_spike_cap"),
        ] {
            let n = gauge.overflow as f64;
            m.dropped.set(["metrics", reason], n);
        }
        m.state_bytes
            .set(["flow_table"], self.engine.table_bytes() as f64);
        m.state_bytes
            .set(["spike_detector"], self.engine.spikes().bytes() as f64);
        m.state_bytes.set(["labels"], m.label_bytes() as f64);
        if let Some(p) = &self.planner {
            for (s, n) in crate::probe::Skip::ALL.iter().zip(p.skipped) {
                m.probe_skipped.set([s.as_str()], n as f64);
            }
            m.dropped.set(["probe", "queue_full"], p.queue_full as f64);
            m.dropped
                .set(["probe", "endpoints_evicted"], p.evicted as f64);
        }
        if let Ok(c) = cap.counters() {
            for (idx, stage, reason) in KERNEL_DROPS {
                let v = c.get(*idx as usize).copied().unwrap_or(0);
                m.dropped.set([stage, reason], v as f64);
            }
            let packets = c.get(counter::PACKETS as usize).copied().unwrap_or(0);
            m.events_read.set(["kernel_packets"], packets as f64);
            // The same packets again on their next hop through this node: not counted
            // twice, not a loss (see docs/architecture.md, "One flow, one count").
            let other = c.get(counter::OTHER_HOP as usize).copied().unwrap_or(0);
            m.events_read.set(["kernel_other_hop"], other as f64);
            // What the kernel put in the ring: with `ringbuf` (what we took out) and
            // `ringbuf_full` (what did not fit), every event is accounted for.
            let submitted = [counter::SEGMENTS_CAPTURED, counter::END_EVENTS]
                .iter()
                .map(|i| c.get(*i as usize).copied().unwrap_or(0))
                .sum::<u64>();
            m.events_read.set(["kernel_submitted"], submitted as f64);
        }
        for (name, label) in [
            (agent_common::names::PROG_INGRESS, "ingress"),
            (agent_common::names::PROG_EGRESS, "egress"),
        ] {
            // run_time/run_count stay 0 unless kernel.bpf_stats_enabled=1.
            if let Ok(info) = cap.program_info(name) {
                m.kernel_runs.set([label], info.run_count() as f64);
                m.kernel_run_seconds
                    .set([label], info.run_time().as_secs_f64());
            }
        }
        if let Some(rss) = resident_bytes() {
            m.resident_memory.set([], rss as f64);
        }
        // Rebuilt from the detector each time: a service it evicted leaves the gauges too.
        m.handshake_failure_rate.clear();
        m.failure_spike_active.clear();
        for (service, ratio, active) in self.engine.spikes().series() {
            m.handshake_failure_rate.set(service, ratio);
            m.failure_spike_active
                .set(service, if active { 1.0 } else { 0.0 });
        }
    }

    /// Copies the metrics into the snapshot the endpoint serves.
    fn publish(&self, out: &mut Metrics) {
        out.clone_from(&self.metrics);
    }
}

/// Kernel counters that are drops, as `(index, stage, reason)` metric labels.
const KERNEL_DROPS: &[(u32, &str, &str)] = &[
    (counter::RINGBUF_FULL, "kernel", "ringbuf_full"),
    (
        counter::FLOW_UPDATE_FAILED,
        "kernel",
        "flow_map_update_failed",
    ),
    (counter::COPY_TRUNCATED, "kernel", "copy_truncated"),
    (counter::LOAD_BYTES_FAILED, "kernel", "load_bytes_failed"),
    (counter::UNPARSABLE, "kernel", "unparsable"),
    (counter::IPV6_EXT_TOO_DEEP, "kernel", "ipv6_ext_too_deep"),
    (counter::IP_FRAGMENT, "kernel", "ip_fragment"),
];

/// The kernel's view of a flow key (client → server direction).
fn endpoints(key: &FlowKey) -> Endpoints {
    Endpoints {
        src: key.client,
        dst: key.server,
        protocol: match key.transport {
            Transport::Tcp => Protocol::Tcp,
            Transport::Udp => Protocol::Udp,
        },
    }
}

/// Replaces the engine's per-direction counts (captured segments only, in live mode)
/// with the kernel's, which saw every packet. Returns the kernel entries of `ep` (client
/// to server) and of its reverse, as read.
fn kernel_counters(
    cap: &LiveCapture,
    ep: &Endpoints,
    r: &mut FlowRecord,
) -> [Option<FlowStats>; 2] {
    let reverse = Endpoints {
        src: ep.dst,
        dst: ep.src,
        protocol: ep.protocol,
    };
    let seen = [ep, &reverse].map(|e| cap.flow_stats(e).ok().flatten());
    for (i, s) in seen.iter().enumerate() {
        if let Some(s) = s {
            r.packets[i] = r.packets[i].max(s.packets);
            r.bytes[i] = r.bytes[i].max(s.bytes);
        }
    }
    seen
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Which interfaces to attach to, and the attachments to keep in step with the system.
///
/// Each interface is attached on its own: a failure (most often a pod's veth removed
/// before it could be attached) affects only that interface, is counted in
/// `plainsight_attach_failures_total{reason}` and retried while the interface is still
/// wanted. An interface is known by name and index, so one deleted and recreated under
/// the same name between two syncs is attached again.
struct Interfaces {
    /// `--iface` names; empty: follow every interface `[capture]` wants.
    explicit: Vec<String>,
    mode: AttachMode,
    /// Attached interfaces and their index at attach time.
    attached: BTreeMap<String, u32>,
    /// Wanted interfaces not attached after the last sync (failed, or absent while
    /// named by `--iface`).
    missing: BTreeSet<String>,
    /// The first failure of the first sync, for the startup error.
    first_error: Option<LiveError>,
}

/// How long link notifications settle before the interfaces are listed again (a pod's
/// veth pair arrives as several messages).
const LINK_SETTLE: Duration = Duration::from_millis(200);
/// How often a wanted interface that could not be attached is tried again.
const ATTACH_RETRY: Duration = Duration::from_secs(2);

impl Interfaces {
    fn new(explicit: Vec<String>, mode: AttachMode) -> Self {
        Interfaces {
            explicit,
            mode,
            attached: BTreeMap::new(),
            missing: BTreeSet::new(),
            first_error: None,
        }
    }

    /// Ready means watching everything asked for: at least one interface, and every
    /// wanted one attached.
    fn complete(&self) -> bool {
        !self.attached.is_empty() && self.missing.is_empty()
    }

    /// When to sync again regardless of link notifications.
    fn retry_at(&self) -> Option<Instant> {
        (!self.missing.is_empty()).then(|| Instant::now() + ATTACH_RETRY)
    }

    /// Brings the attachments in line with the interfaces present now: forgets the
    /// ones that vanished or changed index, attaches the wanted ones not attached yet.
    /// Errors only when the interfaces cannot be listed at all.
    fn sync(
        &mut self,
        cap: &mut LiveCapture,
        config: &Config,
        metrics: &mut Metrics,
    ) -> Result<(), LiveError> {
        let present: BTreeMap<String, u32> = live::interfaces()?.into_iter().collect();
        let wanted: BTreeSet<String> = if self.explicit.is_empty() {
            present
                .keys()
                .filter(|n| config.capture.wants(n))
                .cloned()
                .collect()
        } else {
            self.explicit.iter().cloned().collect()
        };
        let stale: Vec<String> = self
            .attached
            .iter()
            .filter(|(name, idx)| present.get(*name) != Some(*idx) || !wanted.contains(*name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            tracing::info!(iface = %name, "interface gone");
            cap.forget_interface(&name);
            self.attached.remove(&name);
        }
        let failing_before = std::mem::take(&mut self.missing);
        let todo: Vec<&String> = wanted
            .iter()
            .filter(|n| !self.attached.contains_key(*n))
            .collect();
        for name in todo {
            if !present.contains_key(name) {
                // Named by --iface but not there (yet): not watched, so not ready.
                self.first_error
                    .get_or_insert_with(|| LiveError::NoSuchInterface(name.clone()));
                self.missing.insert(name.clone());
                continue;
            }
            match cap.attach_one(name, self.mode, &live::HOOKS) {
                Ok(idx) => {
                    tracing::info!(iface = %name, "attached");
                    self.attached.insert(name.clone(), idx);
                }
                Err(e) => {
                    let reason = e.attach_reason();
                    metrics.attach_failures.inc([reason]);
                    if failing_before.contains(name) {
                        tracing::debug!(iface = %name, reason, error = %e, "still cannot attach");
                    } else {
                        tracing::warn!(iface = %name, reason, error = %e, "cannot attach");
                    }
                    // A veth removed before it was attached is gone now: nothing to retry.
                    let still_there = live::interfaces()
                        .map(|l| {
                            l.iter()
                                .any(|(n, i)| n == name && Some(i) == present.get(name))
                        })
                        .unwrap_or(true);
                    if still_there || !self.explicit.is_empty() {
                        self.missing.insert(name.clone());
                    }
                    self.first_error.get_or_insert(e);
                }
            }
        }
        metrics
            .attached_interfaces
            .set([], self.attached.len() as f64);
        Ok(())
    }
}

/// Sleeps until `at`, or forever when there is no deadline.
async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Wakes the agent when links appear or disappear: an rtnetlink socket subscribed to
/// RTMGRP_LINK (rtnetlink(7)). The messages only say "something changed"; the agent
/// then re-lists interfaces.
struct LinkEvents {
    fd: Option<AsyncFd<OwnedFd>>,
}

impl LinkEvents {
    fn open() -> Self {
        let fd = Self::socket()
            .map_err(|e| tracing::warn!(error = %e, "no link notifications; new interfaces are not followed"))
            .ok();
        LinkEvents { fd }
    }

    fn socket() -> io::Result<AsyncFd<OwnedFd>> {
        const RTMGRP_LINK: u32 = 1;
        // SAFETY: plain socket/bind syscalls on a descriptor we own.
        unsafe {
            let raw = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            );
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(raw);
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as u16;
            addr.nl_groups = RTMGRP_LINK;
            let rc = libc::bind(
                fd.as_raw_fd(),
                std::ptr::addr_of!(addr).cast(),
                size_of::<libc::sockaddr_nl>() as u32,
            );
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            // We own the descriptor and it stays open as long as the AsyncFd.
            AsyncFd::register(fd).map_err(io::Error::from)
        }
    }

    /// Resolves after link messages arrived (true), or never when unavailable.
    async fn changed(&self) -> bool {
        let Some(fd) = &self.fd else {
            std::future::pending::<()>().await;
            return false;
        };
        let Ok(mut guard) = fd.readable().await else {
            return false;
        };
        let mut buf = [0u8; 8192];
        loop {
            // SAFETY: recv into a buffer we own, non-blocking.
            let n = unsafe {
                libc::recv(
                    fd.get_ref().as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                break;
            }
        }
        guard.clear_ready();
        // No await after the messages are consumed: cancelling this future (another
        // select arm fired) either leaves them unread or has already returned true.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_drop_counter_is_exported() {
        // Counters that count work done or traffic out of scope, not something given up.
        const NOT_DROPS: &[u32] = &[
            counter::PACKETS,
            counter::NON_IP,
            counter::NON_TCP_UDP,
            counter::FLOW_CREATED,
            counter::SEGMENTS_CAPTURED,
            counter::END_EVENTS,
            counter::CAPTURE_DONE,
            counter::CAPTURE_BUDGET_SPENT,
            counter::FLOW_REUSED,
            // The same packet again on another interface: counted once, not lost.
            counter::OTHER_HOP,
        ];
        for idx in 0..counter::COUNT {
            let exported = KERNEL_DROPS.iter().any(|(i, _, _)| *i == idx);
            assert!(
                exported ^ NOT_DROPS.contains(&idx),
                "kernel counter {} must be exactly one of: a drop in KERNEL_DROPS, or not a drop",
                counter::NAMES[idx as usize]
            );
        }
    }
}
