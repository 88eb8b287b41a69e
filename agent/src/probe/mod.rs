//! `[probe]`: the opt-in active check of TLS servers whose certificate travelled
//! encrypted (TLS 1.3), and of their HSTS header.
//!
//! Two halves, so the capture pipeline never waits for the network:
//! - [`Planner`] (synchronous, owned by the daemon's loop) sees every finished flow,
//!   keeps the TLS 1.3 server endpoints whose certificate it could not read, applies
//!   the safety policy and the per-endpoint interval, and hands what passes to a
//!   bounded queue with `try_send` (a full queue is a counted drop, never a wait);
//! - [`spawn`] runs the worker on the agent's tokio runtime: a semaphore caps the
//!   connections open at once, starts are spaced by the rate limit, and each probe
//!   ([`client::probe`]) sends its [`Probed`] result back to the loop, which turns it
//!   into an event (`"source": "probe"`), certificate findings and the expiry series.
//!
//! `plainsight pcap` never builds either half.

pub mod client;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};

use crate::config::{Cidr, Ends, Policy, ProbeConfig};
use crate::detect::{Finding, FindingDef, Severity};
use crate::engine::{CertExpiry, FlowRecord};
use crate::flow::{FlowKey, Transport};
use crate::time::Timestamp;
use crate::tls::cert::CertInfo;
use crate::tls::TlsInfo;

pub const HSTS_MISSING: &str = "tls.hsts.missing";

/// The probe's own findings (its certificate findings are the TLS ones).
pub static DEFS: &[FindingDef] = &[FindingDef {
    id: HSTS_MISSING,
    severity: Severity::Low,
    severity_note: "",
    title: "HTTPS server sends no Strict-Transport-Security",
    description: "`[probe]` only: the answer to the probe's one `HEAD /` (sent when ALPN chose http/1.1 or h2) has no `Strict-Transport-Security` header, so a client that once reached the site over plain HTTP can be kept there.",
    evidence: "`alpn` (`http/1.1` or `h2`), `source` (`probe`), `sni` when one was sent",
    remediation: "Send `Strict-Transport-Security: max-age=31536000; includeSubDomains` on every HTTPS response (and redirect plain HTTP to HTTPS).",
    references: &["RFC 6797 (HTTP Strict Transport Security)", "OWASP ASVS 4.0 V14.4.5", "CWE-319 (Cleartext transmission of sensitive information)"],
}];

/// A TLS server endpoint as a client saw it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub server: SocketAddr,
    pub sni: Option<String>,
}

/// Why an endpoint is not probed (the `reason` label of `plainsight_probe_skipped_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    External,
    DeniedNetwork,
    NotAllowedNetwork,
    DeniedPort,
    NotAllowedPort,
    OwnNode,
    MetricsPort,
}

impl Skip {
    pub const ALL: [Skip; 7] = [
        Skip::External,
        Skip::DeniedNetwork,
        Skip::NotAllowedNetwork,
        Skip::DeniedPort,
        Skip::NotAllowedPort,
        Skip::OwnNode,
        Skip::MetricsPort,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Skip::External => "external",
            Skip::DeniedNetwork => "denied_network",
            Skip::NotAllowedNetwork => "not_allowed_network",
            Skip::DeniedPort => "denied_port",
            Skip::NotAllowedPort => "not_allowed_port",
            Skip::OwnNode => "own_node",
            Skip::MetricsPort => "metrics_port",
        }
    }
}

/// How one probe connection ended (the `outcome` label of `plainsight_probe_attempts_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    ConnectFailed,
    Timeout,
    HandshakeFailed,
    NoCertificate,
    BadCertificate,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::ConnectFailed,
        Outcome::Timeout,
        Outcome::HandshakeFailed,
        Outcome::NoCertificate,
        Outcome::BadCertificate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ConnectFailed => "connect_failed",
            Outcome::Timeout => "timeout",
            Outcome::HandshakeFailed => "handshake_failed",
            Outcome::NoCertificate => "no_certificate",
            Outcome::BadCertificate => "bad_certificate",
        }
    }
}

/// Drops of the probe stage (`plainsight_dropped_total{stage="probe",reason}`).
pub const DROP_REASONS: [&str; 2] = ["queue_full", "endpoints_evicted"];

/// What one probe learned.
#[derive(Clone, Debug)]
pub struct Probed {
    pub target: Target,
    /// The probe socket's own address (the event's client end).
    pub local: Option<SocketAddr>,
    pub outcome: Outcome,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub cert: Option<CertInfo>,
    /// `Some(present)` when the `HEAD /` was answered.
    pub hsts: Option<bool>,
    pub at: Timestamp,
}

impl Probed {
    fn new(target: Target) -> Self {
        Probed {
            target,
            local: None,
            outcome: Outcome::Ok,
            version: None,
            cipher: None,
            alpn: None,
            cert: None,
            hsts: None,
            at: Timestamp::now(),
        }
    }

    fn with(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// The event of a successful probe: a TLS record with the certificate, its
    /// certificate findings, `tls.hsts.missing`, and `source = "probe"`; the policy's
    /// allow rules and severity overrides apply as to any flow. `None` without a
    /// certificate (the attempt is counted, there is nothing to report).
    pub fn record(&self, policy: &Policy) -> Option<FlowRecord> {
        let cert = self.cert.clone()?;
        let sni = self.target.sni.as_deref();
        let mut findings = Vec::new();
        crate::tls::findings::certificate(&cert, sni, self.at, &mut findings);
        if self.hsts == Some(false) {
            if let Some(def) = DEFS.first() {
                let mut f = Finding::new(def)
                    .with("alpn", self.alpn.clone().unwrap_or_default())
                    .with("source", "probe");
                if let Some(s) = sni {
                    f = f.with("sni", s);
                }
                findings.push(f);
            }
        }
        let server = self.target.server;
        let client = self
            .local
            .unwrap_or_else(|| SocketAddr::new(unspecified(server.ip()), 0));
        let ends = Ends {
            client: client.ip(),
            server: server.ip(),
            port: server.port(),
        };
        let mut kept = Vec::new();
        let mut suppressed = Vec::new();
        for mut f in findings {
            if policy.silenced(f.id) || policy.allows_finding(f.id, "tls", ends) {
                suppressed.push(f.id);
                continue;
            }
            f.severity = policy.severity(f.id, f.severity);
            kept.push(f);
        }
        let server_name = self
            .target
            .sni
            .clone()
            .or_else(|| cert.san.first().cloned())
            .unwrap_or_else(|| cert.subject.clone());
        let not_after_unix = cert.not_after_unix;
        let mut r = FlowRecord::probe(
            FlowKey {
                client,
                server,
                transport: Transport::Tcp,
            },
            self.at,
        );
        r.tls = Some(TlsInfo {
            version: self.version.clone().map(Into::into),
            cipher: self.cipher.clone().map(Into::into),
            sni: self.target.sni.clone(),
            alpn: vec!["h2".into(), "http/1.1".into()],
            alpn_selected: self.alpn.clone(),
            established: true,
            cert: Some(Arc::new(cert)),
            ..TlsInfo::default()
        });
        r.findings = kept;
        r.suppressed = suppressed;
        r.cert_expiry = Some(CertExpiry {
            server_name,
            not_after_unix,
        });
        Some(r)
    }
}

fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// An address of this node: loopback, unspecified, or one a socket can bind to in the
/// agent's network namespace (the kernel's own answer, so new addresses count at once).
pub fn is_own_address(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The safety policy, in order: the node itself and the metrics port first (no list
/// can re-admit them), then the deny lists, the internal-only rule, the allow lists.
pub fn check(
    cfg: &ProbeConfig,
    policy: &Policy,
    metrics_port: u16,
    own: impl Fn(IpAddr) -> bool,
    t: &Target,
) -> Result<(), Skip> {
    let (ip, port) = (t.server.ip(), t.server.port());
    let any = |l: &[Cidr]| l.iter().any(|c| c.contains(ip));
    if own(ip) {
        return Err(Skip::OwnNode);
    }
    if port == metrics_port {
        return Err(Skip::MetricsPort);
    }
    if any(&cfg.deny) {
        return Err(Skip::DeniedNetwork);
    }
    if cfg.deny_ports.contains(&port) {
        return Err(Skip::DeniedPort);
    }
    if cfg.internal_only && !policy.is_internal(ip) {
        return Err(Skip::External);
    }
    if !cfg.allow.is_empty() && !any(&cfg.allow) {
        return Err(Skip::NotAllowedNetwork);
    }
    if !cfg.allow_ports.is_empty() && !cfg.allow_ports.contains(&port) {
        return Err(Skip::NotAllowedPort);
    }
    Ok(())
}

/// The flow's server endpoint when it is worth a probe: TCP, TLS 1.3 negotiated, and
/// no certificate read from the handshake.
pub fn wanted(r: &FlowRecord) -> Option<Target> {
    let tls = r.tls.as_ref()?;
    if r.key.transport != Transport::Tcp
        || r.source.is_some()
        || tls.cert.is_some()
        || tls.version.as_deref() != Some("TLS 1.3")
    {
        return None;
    }
    Some(Target {
        server: r.key.server,
        sni: tls.sni.clone(),
    })
}

/// The synchronous half: decides which endpoints to probe and queues them without
/// ever waiting. Counters are read by the daemon into the metrics.
#[derive(Debug)]
pub struct Planner {
    cfg: ProbeConfig,
    policy: Policy,
    metrics_port: u16,
    /// When each endpoint was last queued or refused: nothing again within the interval.
    seen: HashMap<Target, Instant>,
    tx: mpsc::Sender<Target>,
    pub skipped: [u64; Skip::ALL.len()],
    pub queue_full: u64,
    pub evicted: u64,
    pub queued: u64,
}

impl Planner {
    pub fn new(
        cfg: ProbeConfig,
        policy: Policy,
        metrics_port: u16,
        tx: mpsc::Sender<Target>,
    ) -> Self {
        Planner {
            cfg,
            policy,
            metrics_port,
            seen: HashMap::new(),
            tx,
            skipped: [0; Skip::ALL.len()],
            queue_full: 0,
            evicted: 0,
            queued: 0,
        }
    }

    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// Offers one finished flow at `now`.
    pub fn offer(&mut self, r: &FlowRecord, now: Instant) {
        let Some(t) = wanted(r) else {
            return;
        };
        let interval = Duration::from_secs(self.cfg.interval_secs);
        if self
            .seen
            .get(&t)
            .is_some_and(|at| now.saturating_duration_since(*at) < interval)
        {
            return;
        }
        self.remember(t.clone(), now, interval);
        if let Err(s) = check(
            &self.cfg,
            &self.policy,
            self.metrics_port,
            is_own_address,
            &t,
        ) {
            if let Some(n) = Skip::ALL
                .iter()
                .position(|k| *k == s)
                .and_then(|i| self.skipped.get_mut(i))
            {
                *n += 1;
            }
            return;
        }
        match self.tx.try_send(t) {
            Ok(()) => self.queued += 1,
            Err(mpsc::error::TrySendError::Full(t)) => {
                // Not probed: let its next flow offer it again.
                self.queue_full += 1;
                self.seen.remove(&t);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Records `t`, first forgetting endpoints past the interval, then (still full)
    /// the oldest one, which is counted.
    fn remember(&mut self, t: Target, now: Instant, interval: Duration) {
        let cap = self.cfg.max_endpoints as usize;
        if self.seen.len() >= cap && !self.seen.contains_key(&t) {
            self.seen
                .retain(|_, at| now.saturating_duration_since(*at) < interval);
            while self.seen.len() >= cap {
                let Some(oldest) = self
                    .seen
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                self.seen.remove(&oldest);
                self.evicted += 1;
            }
        }
        self.seen.insert(t, now);
    }

    /// Endpoints remembered (bounded by `max_endpoints`).
    pub fn endpoints(&self) -> usize {
        self.seen.len()
    }
}

/// Starts the worker on the current tokio runtime: it takes queued endpoints, holds
/// at most `max_concurrent` connections open and starts at most `rate_per_minute`
/// per minute, and sends each result to `results` (awaiting room there only inside
/// its own task). Returns the queue's sending side for the [`Planner`].
pub fn spawn(
    cfg: ProbeConfig,
    results: mpsc::Sender<Probed>,
) -> Result<mpsc::Sender<Target>, rustls::Error> {
    let connector = client::connector()?;
    let (tx, mut rx) = mpsc::channel::<Target>(cfg.queue.max(1) as usize);
    let cfg = Arc::new(cfg);
    tokio::spawn(async move {
        let sem = Arc::new(Semaphore::new(cfg.max_concurrent.max(1) as usize));
        let spacing = Duration::from_secs(60) / cfg.rate_per_minute.max(1);
        let mut next_start = tokio::time::Instant::now();
        while let Some(t) = rx.recv().await {
            let Ok(permit) = Arc::clone(&sem).acquire_owned().await else {
                break;
            };
            tokio::time::sleep_until(next_start).await;
            next_start = tokio::time::Instant::now() + spacing;
            let (connector, cfg, results) = (connector.clone(), Arc::clone(&cfg), results.clone());
            tokio::spawn(async move {
                let p = client::probe(&connector, &t, &cfg).await;
                drop(permit);
                let _ = results.send(p).await;
            });
        }
    });
    Ok(tx)
}

#[cfg(test)]
mod tests;
