//! Every Prometheus metric Plainsight exports, defined in this one module.
//!
//! Label values come from closed sets (`&'static str`), so cardinality is bounded by
//! construction. The open-valued families (certificate expiry by server name, the
//! handshake-failure gauges by service) hold peer-chosen strings: each value is cut to
//! [`MAX_LABEL_LEN`] bytes and each family keeps at most `cap` series, evicting the least
//! recently set one and counting it as a drop. Names are stable: dashboards and alert rules depend on them,
//! and a test checks that every name they use exists here.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::config::Policy;
use crate::engine::FlowRecord;
use crate::flow::Direction;
use crate::identity::FlowIdentity;

/// `# TYPE` of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// Labels of a family beyond its static ones: [`NoLabels`], or a flow's [`Workloads`].
/// Empty values are left out of the exposition, which Prometheus reads the same as an
/// absent label.
pub trait ExtraLabels: Clone + Default + Ord {
    /// The label names.
    const NAMES: &'static [&'static str];
    /// The values, in the order of [`ExtraLabels::NAMES`].
    fn values(&self) -> &[Arc<str>];
}

/// No labels beyond the static ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct NoLabels;

impl ExtraLabels for NoLabels {
    const NAMES: &'static [&'static str] = &[];
    fn values(&self) -> &[Arc<str>] {
        &[]
    }
}

/// A metric family whose label values are static strings, plus `X`'s labels.
#[derive(Clone, Debug)]
pub struct Family<const N: usize, X: ExtraLabels = NoLabels> {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: [&'static str; N],
    series: BTreeMap<([&'static str; N], X), f64>,
}

impl<const N: usize, X: ExtraLabels> Family<N, X> {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: [&'static str; N],
    ) -> Self {
        Family {
            name,
            help,
            kind,
            labels,
            series: BTreeMap::new(),
        }
    }

    pub fn inc(&mut self, values: [&'static str; N]) {
        self.add(values, 1.0);
    }

    pub fn add(&mut self, values: [&'static str; N], v: f64) {
        self.add_with(values, &X::default(), v);
    }

    /// Adds to the series of `values` and `extra`.
    pub fn add_with(&mut self, values: [&'static str; N], extra: &X, v: f64) {
        match self.series.get_mut(&(values, extra.clone())) {
            Some(s) => *s += v,
            None => {
                self.series.insert((values, extra.clone()), v);
            }
        }
    }

    pub fn set(&mut self, values: [&'static str; N], v: f64) {
        self.series.insert((values, X::default()), v);
    }

    /// The sum over every series with these static label values.
    pub fn get(&self, values: [&'static str; N]) -> f64 {
        self.series
            .iter()
            .filter(|((v, _), _)| *v == values)
            .map(|(_, n)| n)
            .sum()
    }

    /// The one series of `values` and `extra`.
    pub fn get_with(&self, values: [&'static str; N], extra: &X) -> f64 {
        self.series
            .get(&(values, extra.clone()))
            .copied()
            .unwrap_or(0.0)
    }

    /// Series exported.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, self.kind);
        for ((values, extra), v) in &self.series {
            let statics = self.labels.iter().zip(values.iter()).map(|(k, v)| (*k, *v));
            let extras = X::NAMES
                .iter()
                .zip(extra.values())
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, &**v));
            sample(out, self.name, statics.chain(extras), *v);
        }
    }
}

/// The workload labels of a flow, as exported: `""` where unknown, `"other"` past the
/// budget ([`LabelBudget`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Workloads(pub [Arc<str>; 5]);

/// The names of [`Workloads`]' labels, in order.
pub const WORKLOAD_LABELS: [&str; 5] = [
    "src_namespace",
    "src_workload",
    "dst_namespace",
    "dst_workload",
    "dst_service",
];

impl ExtraLabels for Workloads {
    const NAMES: &'static [&'static str] = &WORKLOAD_LABELS;
    fn values(&self) -> &[Arc<str>] {
        &self.0
    }
}

impl Workloads {
    /// Labels from strings (tests and queries).
    pub fn of(values: [&str; 5]) -> Self {
        Workloads(values.map(Arc::from))
    }
}

/// The value a workload label takes past its budget.
pub const OTHER: &str = "other";

/// A cap on the distinct values each workload label may take (`[kubernetes]
/// max_label_values`): the first `cap` values seen are exported as they are, later ones
/// as `"other"`, so that a cluster's size cannot grow the series without bound. Values
/// stay admitted for the life of the process (a counter's series cannot be withdrawn).
#[derive(Clone, Debug)]
pub struct LabelBudget {
    cap: usize,
    admitted: [HashSet<Arc<str>>; 5],
    other: Arc<str>,
    /// Flows exported with at least one label coarsened to `"other"`.
    pub overflow: u64,
}

/// Default of `[kubernetes] max_label_values`.
pub const DEFAULT_LABEL_VALUES: usize = 500;

impl Default for LabelBudget {
    fn default() -> Self {
        LabelBudget::new(DEFAULT_LABEL_VALUES)
    }
}

impl LabelBudget {
    pub fn new(cap: usize) -> Self {
        LabelBudget {
            cap,
            admitted: Default::default(),
            other: Arc::from(OTHER),
            overflow: 0,
        }
    }

    /// The exported labels of a flow's identities.
    pub fn labels(&mut self, k8s: &FlowIdentity) -> Workloads {
        if k8s.is_empty() {
            return Workloads::default();
        }
        let empty = || Arc::<str>::from("");
        let (sns, swl) = k8s.src.as_ref().map_or_else(
            || (empty(), empty()),
            |i| (Arc::from(i.namespace_label()), i.workload_label()),
        );
        let (dns, dwl, dsvc) = k8s.dst.as_ref().map_or_else(
            || (empty(), empty(), empty()),
            |i| {
                (
                    Arc::from(i.namespace_label()),
                    i.workload_label(),
                    i.service.clone().unwrap_or_else(empty),
                )
            },
        );
        let mut coarsened = false;
        let mut out = [sns, swl, dns, dwl, dsvc];
        for (value, seen) in out.iter_mut().zip(self.admitted.iter_mut()) {
            if value.is_empty() || seen.contains(value) {
                continue;
            }
            if seen.len() < self.cap {
                seen.insert(Arc::clone(value));
            } else {
                *value = Arc::clone(&self.other);
                coarsened = true;
            }
        }
        if coarsened {
            self.overflow += 1;
        }
        Workloads(out)
    }

    /// Heap bytes of the admitted values.
    pub fn bytes(&self) -> usize {
        let entry = size_of::<Arc<str>>() + 2 * size_of::<usize>();
        self.admitted
            .iter()
            .flat_map(|s| s.iter())
            .map(|v| v.len() + entry)
            .sum()
    }
}

/// The seconds-left family, derived from `plainsight_tls_cert_not_after_timestamp_seconds`.
pub const CERT_EXPIRY_NAME: &str = "plainsight_tls_cert_expiry_seconds";

/// Longest value of an open-valued label, in bytes (a DNS name is at most 253,
/// RFC 1035 §2.3.4; an SNI can claim 65535).
pub const MAX_LABEL_LEN: usize = crate::detect::spike::MAX_SERVICE_LEN;

/// A gauge family keyed by one open-valued label, capped at `cap` series: a new key past
/// the cap evicts the least recently set one.
#[derive(Clone, Debug)]
pub struct CappedGauge {
    pub name: &'static str,
    pub help: &'static str,
    pub label: &'static str,
    cap: usize,
    /// Value and the `clock` of its last set.
    series: BTreeMap<String, (f64, u64)>,
    clock: u64,
    /// Series evicted because the cap was reached; exported as a drop.
    pub overflow: u64,
}

impl CappedGauge {
    pub fn new(name: &'static str, help: &'static str, label: &'static str, cap: usize) -> Self {
        CappedGauge {
            name,
            help,
            label,
            cap,
            series: BTreeMap::new(),
            clock: 0,
            overflow: 0,
        }
    }

    /// Sets `value` for `key` (cut to [`MAX_LABEL_LEN`]); at the cap, the least recently
    /// set series makes room (counted). Returns false when that happened.
    pub fn set(&mut self, key: &str, value: f64) -> bool {
        let key = crate::detect::spike::bounded_name(key);
        self.clock += 1;
        if let Some(v) = self.series.get_mut(key) {
            *v = (value, self.clock);
            return true;
        }
        let mut room = true;
        while self.series.len() >= self.cap.max(1) {
            let oldest = self
                .series
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            self.series.remove(&k);
            self.overflow += 1;
            room = false;
        }
        self.series.insert(key.to_owned(), (value, self.clock));
        room
    }

    pub fn get(&self, key: &str) -> Option<f64> {
        self.series.get(key).map(|(v, _)| *v)
    }

    pub fn remove(&mut self, key: &str) {
        self.series.remove(key);
    }

    /// Forgets every series (a family rebuilt from its source on each refresh).
    pub fn clear(&mut self) {
        self.series.clear();
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Heap bytes held by the label values and entries.
    pub fn bytes(&self) -> usize {
        let entry = size_of::<(String, (f64, u64))>() + 2 * size_of::<usize>();
        self.series.keys().map(|k| k.capacity() + entry).sum()
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, Kind::Gauge);
        for (k, (v, _)) in &self.series {
            sample(out, self.name, [(self.label, k.as_str())], *v);
        }
    }

    /// Another gauge family with the same label values, each value mapped by `f`.
    fn render_mapped(&self, out: &mut String, name: &str, help: &str, f: impl Fn(f64) -> f64) {
        header(out, name, help, Kind::Gauge);
        for (k, (v, _)) in &self.series {
            sample(out, name, [(self.label, k.as_str())], f(*v));
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: Kind) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
}

fn sample<'a>(
    out: &mut String,
    name: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    v: f64,
) {
    out.push_str(name);
    let mut first = true;
    for (k, val) in labels {
        out.push(if first { '{' } else { ',' });
        first = false;
        let _ = write!(out, "{k}=\"");
        escape_label(out, val);
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = writeln!(out, " {}", v as i64);
    } else {
        let _ = writeln!(out, " {v}");
    }
}

/// Label escaping per the text exposition format: backslash, double quote, newline.
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The registry: one field per exported family.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub flows: Family<4, Workloads>,
    pub flow_bytes: Family<4, Workloads>,
    pub tls_handshakes: Family<6>,
    pub handshake_failures: Family<1>,
    pub findings: Family<2, Workloads>,
    pub findings_suppressed: Family<1>,
    /// Each certificate's notAfter (Unix seconds), by server name; the seconds left
    /// (`plainsight_tls_cert_expiry_seconds`) are derived from it at every scrape.
    pub cert_not_after: CappedGauge,
    /// When each server name's certificate was last seen (Unix seconds).
    cert_seen: BTreeMap<String, u64>,
    /// Certificate series removed because their certificate was not seen for the TTL.
    pub cert_series_expired: Family<0>,
    pub dropped: Family<2>,
    pub parse_errors: Family<1>,
    pub events_read: Family<1>,
    pub flows_tracked: Family<0>,
    pub kernel_flows: Family<0>,
    pub handshake_failure_rate: CappedGauge,
    pub failure_spike_active: CappedGauge,
    /// Bytes of bounded state, by part (flow table, spike detector, label sets).
    pub state_bytes: Family<1>,
    /// Kernel program run time and runs (`bpf_stats`; they grow only while
    /// `kernel.bpf_stats_enabled=1`): their rates' ratio is the cost per packet.
    pub kernel_run_seconds: Family<1>,
    pub kernel_runs: Family<1>,
    pub resident_memory: Family<0>,
    pub attached_interfaces: Family<0>,
    pub attach_failures: Family<1>,
    /// Per watch of the API server: up (1/0) and failed calls (`[kubernetes]` only).
    pub kubernetes_watch_up: Family<1>,
    pub kubernetes_watch_errors: Family<1>,
    /// What the identity index holds, by kind.
    pub kubernetes_objects: Family<1>,
    /// `[probe]` connections by outcome, and endpoints its policy refused by reason.
    pub probe_attempts: Family<1>,
    pub probe_skipped: Family<1>,
    /// The per-label cap of the workload labels.
    pub workload_budget: LabelBudget,
    pub build_info: Family<1>,
}

/// How many distinct server names the certificate-expiry gauge keeps.
pub const CERT_EXPIRY_CAP: usize = 500;
/// Series kept per handshake-failure gauge: the spike detector's default `max_services`
/// (1024) plus `other`; [`Metrics::with_service_cap`] sets it from the configuration.
pub const SERVICE_GAUGE_CAP: usize = 1025;

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        use Kind::{Counter, Gauge};
        let mut m = Metrics {
            flows: Family::new(
                "plainsight_flows_total",
                "Flows seen, by application protocol, whether encrypted, network scope and transport, and with [kubernetes] on by the ends' namespaces and workloads and the destination service.",
                Counter,
                ["protocol", "encrypted", "scope", "transport"],
            ),
            flow_bytes: Family::new(
                "plainsight_flow_bytes_total",
                "Bytes seen in finished flows, by protocol, encryption, scope and direction.",
                Counter,
                ["protocol", "encrypted", "scope", "direction"],
            ),
            tls_handshakes: Family::new(
                "plainsight_tls_handshakes_total",
                "Completed TLS handshakes by negotiated version, cipher class, key-exchange group class, the client's first ALPN offer and the server's ALPN (unknown under TLS 1.3: encrypted) and mTLS client_auth (none, requested, presented, unknown). Failures count in plainsight_tls_handshake_failures_total only.",
                Counter,
                [
                    "tls_version",
                    "cipher_class",
                    "group_class",
                    "alpn_offered",
                    "alpn_negotiated",
                    "client_auth",
                ],
            ),
            handshake_failures: Family::new(
                "plainsight_tls_handshake_failures_total",
                "TLS handshakes that failed, by reason (alert name, reset, close).",
                Counter,
                ["reason"],
            ),
            findings: Family::new(
                "plainsight_findings_total",
                "Findings raised, by finding id and severity, and with [kubernetes] on by the flow's workloads.",
                Counter,
                ["id", "severity"],
            ),
            findings_suppressed: Family::new(
                "plainsight_findings_suppressed_total",
                "Findings the policy silenced (severity \"off\" or an [[allow]] rule with a finding), by finding id.",
                Counter,
                ["id"],
            ),
            cert_not_after: CappedGauge::new(
                "plainsight_tls_cert_not_after_timestamp_seconds",
                "The server certificate's notAfter as a Unix time, by server name (capped; alert on `... - time()`).",
                "server_name",
                CERT_EXPIRY_CAP,
            ),
            cert_seen: BTreeMap::new(),
            probe_attempts: Family::new(
                "plainsight_probe_attempts_total",
                "[probe] connections to TLS servers whose certificate was not readable passively, by outcome.",
                Counter,
                ["outcome"],
            ),
            probe_skipped: Family::new(
                "plainsight_probe_skipped_total",
                "TLS server endpoints [probe] did not connect to because its safety policy refused them, by reason (once per endpoint and interval).",
                Counter,
                ["reason"],
            ),
            cert_series_expired: Family::new(
                "plainsight_tls_cert_series_expired_total",
                "Certificate series removed because no handshake showed that server's certificate for [limits] cert_series_ttl_secs.",
                Counter,
                [],
            ),
            dropped: Family::new(
                "plainsight_dropped_total",
                "Items dropped by a bounded stage, by stage and reason. Nothing is lost silently.",
                Counter,
                ["stage", "reason"],
            ),
            parse_errors: Family::new(
                "plainsight_parse_errors_total",
                "Inputs that could not be parsed, by parser.",
                Counter,
                ["parser"],
            ),
            events_read: Family::new(
                "plainsight_events_read_total",
                "Capture events read, by source.",
                Counter,
                ["source"],
            ),
            flows_tracked: Family::new(
                "plainsight_flows_tracked",
                "Flows currently held in the userspace flow table.",
                Gauge,
                [],
            ),
            kernel_flows: Family::new(
                "plainsight_kernel_flows",
                "Flow directions held in the kernel flow map at its last walk (capacity: twice limits.max_flows).",
                Gauge,
                [],
            ),
            handshake_failure_rate: CappedGauge::new(
                "plainsight_tls_handshake_failure_ratio",
                "Recent handshake-failure ratio per destination service bucket, for alerting.",
                "service",
                SERVICE_GAUGE_CAP,
            ),
            failure_spike_active: CappedGauge::new(
                "plainsight_tls_handshake_failure_spike",
                "1 while a handshake-failure spike is active for the service, else 0.",
                "service",
                SERVICE_GAUGE_CAP,
            ),
            state_bytes: Family::new(
                "plainsight_state_bytes",
                "Bytes held by bounded state, by part (flow_table, spike_detector, labels); capped by [limits] max_memory_bytes.",
                Gauge,
                ["part"],
            ),
            kernel_run_seconds: Family::new(
                "plainsight_kernel_program_run_seconds_total",
                "Time the kernel spent in each TC program (bpf_stats run_time; grows only while kernel.bpf_stats_enabled=1).",
                Counter,
                ["program"],
            ),
            kernel_runs: Family::new(
                "plainsight_kernel_program_runs_total",
                "Runs of each TC program, one per packet (bpf_stats run_cnt; grows only while kernel.bpf_stats_enabled=1).",
                Counter,
                ["program"],
            ),
            resident_memory: Family::new(
                "plainsight_resident_memory_bytes",
                "Resident memory of the agent process.",
                Gauge,
                [],
            ),
            attached_interfaces: Family::new(
                "plainsight_attached_interfaces",
                "Interfaces the TC programs are attached to right now.",
                Gauge,
                [],
            ),
            attach_failures: Family::new(
                "plainsight_attach_failures_total",
                "Failed attempts to attach to an interface, by reason (interface_gone, already_attached, qdisc, program, other).",
                Counter,
                ["reason"],
            ),
            kubernetes_watch_up: Family::new(
                "plainsight_kubernetes_watch_up",
                "1 while the watch's last call to the Kubernetes API server succeeded, else 0 (identities then come from the last state).",
                Gauge,
                ["watch"],
            ),
            kubernetes_watch_errors: Family::new(
                "plainsight_kubernetes_watch_errors_total",
                "Failed list or watch calls to the Kubernetes API server, by watch (each is retried with backoff).",
                Counter,
                ["watch"],
            ),
            kubernetes_objects: Family::new(
                "plainsight_kubernetes_objects",
                "What the workload-identity index holds, by kind (pods, pod_ips, services, node_ips, replicasets, jobs).",
                Gauge,
                ["kind"],
            ),
            workload_budget: LabelBudget::default(),
            build_info: Family::new(
                "plainsight_build_info",
                "Always 1; the version label says which build is running.",
                Gauge,
                ["version"],
            ),
        };
        m.build_info.set([env!("CARGO_PKG_VERSION")], 1.0);
        m
    }

    /// Workload labels capped at `max_values` distinct values per label.
    pub fn with_label_budget(mut self, max_values: usize) -> Self {
        self.workload_budget = LabelBudget::new(max_values);
        self
    }

    /// The handshake-failure gauges sized for `max_services` services plus `other`.
    pub fn with_service_cap(mut self, max_services: usize) -> Self {
        let cap = max_services.saturating_add(1);
        for g in [
            &mut self.handshake_failure_rate,
            &mut self.failure_spike_active,
        ] {
            *g = CappedGauge::new(g.name, g.help, g.label, cap);
        }
        self
    }

    /// Removes the certificate series of server names not seen since `now - ttl_secs`
    /// (and those the cap evicted), counting the removals. Returns how many went.
    pub fn expire_certs(&mut self, now: u64, ttl_secs: u64) -> usize {
        let gauge = &mut self.cert_not_after;
        let before = self.cert_seen.len();
        self.cert_seen.retain(|name, seen| {
            let keep = now.saturating_sub(*seen) < ttl_secs && gauge.get(name).is_some();
            if !keep {
                gauge.remove(name);
            }
            keep
        });
        let gone = before - self.cert_seen.len();
        self.cert_series_expired.add([], gone as f64);
        gone
    }

    /// Exports at 0 every counter series whose labels are known before anything happens,
    /// so that `increase()` and `rate()` see a finding's first occurrence (a series that
    /// appears already at 1 has no earlier sample to rise from): every finding id at each
    /// severity it can have under `policy` (the override, else the default, the level
    /// external traffic raises plaintext findings to, and the levels its rule names),
    /// every handshake-failure reason and every drop stage and reason. Called at start
    /// and when the policy is reloaded.
    pub fn zero_known(&mut self, policy: &Policy) {
        for d in crate::detect::catalogue::all() {
            self.findings_suppressed.add([d.id], 0.0);
            if policy.silenced(d.id) {
                continue;
            }
            let fixed = policy.severity(d.id, d.severity);
            let mut levels = vec![fixed];
            if fixed == d.severity {
                if d.id.starts_with("plaintext.") {
                    levels.push(crate::plaintext::escalate(d.severity, false));
                }
                levels.extend(
                    crate::detect::Severity::ALL
                        .into_iter()
                        .filter(|l| d.severity_note.contains(l.as_str())),
                );
            }
            for l in levels {
                self.findings.add([d.id, l.as_str()], 0.0);
            }
        }
        for r in FAILURE_REASONS.iter().chain(["other"].iter()) {
            self.handshake_failures.add([r], 0.0);
        }
        for (stage, reason) in DROPS {
            self.dropped.add([stage, reason], 0.0);
        }
    }

    /// Exports every probe outcome and skip reason at 0 (`[probe]` on only: an agent
    /// that never probes has no such series).
    pub fn zero_probe(&mut self) {
        for o in crate::probe::Outcome::ALL {
            self.probe_attempts.add([o.as_str()], 0.0);
        }
        for s in crate::probe::Skip::ALL {
            self.probe_skipped.add([s.as_str()], 0.0);
        }
    }

    /// The record of a `[probe]` connection: its findings and its certificate's expiry,
    /// like a captured flow's, but no flow, byte or handshake counts (the probe is not
    /// the workload's traffic).
    pub fn observe_probe(&mut self, r: &FlowRecord, now_unix: i64) {
        let w = self.workload_budget.labels(&r.k8s);
        for f in &r.findings {
            self.findings.add_with([f.id, f.severity.as_str()], &w, 1.0);
        }
        for id in &r.suppressed {
            self.findings_suppressed.inc([*id]);
        }
        self.note_cert(r, now_unix);
    }

    fn note_cert(&mut self, r: &FlowRecord, now_unix: i64) {
        if let Some(c) = &r.cert_expiry {
            self.cert_not_after
                .set(&c.server_name, c.not_after_unix as f64);
            let key = crate::detect::spike::bounded_name(&c.server_name);
            match self.cert_seen.get_mut(key) {
                Some(t) => *t = now_unix.max(0) as u64,
                None => {
                    self.cert_seen
                        .insert(key.to_owned(), now_unix.max(0) as u64);
                }
            }
        }
    }

    /// Heap bytes of the open-valued label sets.
    pub fn label_bytes(&self) -> usize {
        self.cert_not_after.bytes()
            + self
                .cert_seen
                .keys()
                .map(|k| k.capacity() + 48)
                .sum::<usize>()
            + self.handshake_failure_rate.bytes()
            + self.failure_spike_active.bytes()
            + self.workload_budget.bytes()
    }

    /// Names of every family, for the dashboards/alerts consistency test.
    pub fn names(&self) -> Vec<&'static str> {
        vec![
            self.flows.name,
            self.flow_bytes.name,
            self.tls_handshakes.name,
            self.handshake_failures.name,
            self.findings.name,
            self.findings_suppressed.name,
            CERT_EXPIRY_NAME,
            self.cert_not_after.name,
            self.cert_series_expired.name,
            self.probe_attempts.name,
            self.probe_skipped.name,
            self.dropped.name,
            self.parse_errors.name,
            self.events_read.name,
            self.flows_tracked.name,
            self.kernel_flows.name,
            self.handshake_failure_rate.name,
            self.failure_spike_active.name,
            self.state_bytes.name,
            self.kernel_run_seconds.name,
            self.kernel_runs.name,
            self.resident_memory.name,
            self.attached_interfaces.name,
            self.attach_failures.name,
            self.kubernetes_watch_up.name,
            self.kubernetes_watch_errors.name,
            self.kubernetes_objects.name,
            self.build_info.name,
        ]
    }

    /// The text exposition format (version 0.0.4), deterministic order; the seconds
    /// left on each certificate are computed now, at the scrape.
    pub fn render(&mut self) -> String {
        self.render_at(crate::time::Timestamp::now().secs().max(0) as u64)
    }

    /// [`Metrics::render`] at Unix time `now`.
    pub fn render_at(&mut self, now: u64) -> String {
        // The capped gauge's overflow is a drop like any other.
        if self.cert_not_after.overflow > 0 {
            let n = self.cert_not_after.overflow as f64;
            self.dropped.set(["metrics", "cert_expiry_cap"], n);
        }
        if self.workload_budget.overflow > 0 {
            let n = self.workload_budget.overflow as f64;
            self.dropped.set(["metrics", "workload_label_budget"], n);
        }
        let mut out = String::with_capacity(4096);
        self.flows.render(&mut out);
        self.flow_bytes.render(&mut out);
        self.tls_handshakes.render(&mut out);
        self.handshake_failures.render(&mut out);
        self.findings.render(&mut out);
        self.findings_suppressed.render(&mut out);
        self.cert_not_after.render(&mut out);
        self.cert_not_after.render_mapped(
            &mut out,
            CERT_EXPIRY_NAME,
            "Seconds until the server certificate's notAfter, by server name, computed at the scrape (capped).",
            |not_after| not_after - now as f64,
        );
        self.cert_series_expired.render(&mut out);
        self.probe_attempts.render(&mut out);
        self.probe_skipped.render(&mut out);
        self.dropped.render(&mut out);
        self.parse_errors.render(&mut out);
        self.events_read.render(&mut out);
        self.flows_tracked.render(&mut out);
        self.kernel_flows.render(&mut out);
        self.handshake_failure_rate.render(&mut out);
        self.failure_spike_active.render(&mut out);
        self.state_bytes.render(&mut out);
        self.kernel_run_seconds.render(&mut out);
        self.kernel_runs.render(&mut out);
        self.resident_memory.render(&mut out);
        self.attached_interfaces.render(&mut out);
        self.attach_failures.render(&mut out);
        self.kubernetes_watch_up.render(&mut out);
        self.kubernetes_watch_errors.render(&mut out);
        self.kubernetes_objects.render(&mut out);
        self.build_info.render(&mut out);
        out
    }
}

/// Handshake-failure reasons with a series of their own; anything else is `other`.
const FAILURE_REASONS: &[&str] = &[
    "close_notify",
    "unexpected_message",
    "bad_record_mac",
    "decryption_failed",
    "record_overflow",
    "decompression_failure",
    "handshake_failure",
    "no_certificate",
    "bad_certificate",
    "unsupported_certificate",
    "certificate_revoked",
    "certificate_expired",
    "certificate_unknown",
    "illegal_parameter",
    "unknown_ca",
    "access_denied",
    "decode_error",
    "decrypt_error",
    "export_restriction",
    "protocol_version",
    "insufficient_security",
    "internal_error",
    "inappropriate_fallback",
    "user_canceled",
    "no_renegotiation",
    "missing_extension",
    "unsupported_extension",
    "unrecognized_name",
    "certificate_required",
    "no_application_protocol",
    "ech_required",
    "reset after ClientHello",
    "closed after ClientHello",
];

/// Every `plainsight_dropped_total{stage,reason}` the agent can raise (a test checks the
/// code raises no other), exported at 0 from the start by [`Metrics::zero_known`].
pub const DROPS: &[(&str, &str)] = &[
    ("events", "write_failed"),
    ("kernel_done_map", "update_failed"),
    ("kernel_done_map", "remove_failed"),
    ("flow_table", "full"),
    ("flow_table", "evicted_closed"),
    ("flow_table", "evicted_payloadless"),
    ("flow_table", "evicted_one_way"),
    ("flow_table", "evicted_unclassified"),
    ("flow_table", "evicted_classified"),
    ("ringbuf", "bad_record"),
    ("tls", "handshake_buffer_cap"),
    ("dtls", "message_cap"),
    ("hpack", "block_cap"),
    ("stream", "out_of_order_full"),
    ("spike", "overflow"),
    ("spike", "evicted"),
    ("metrics", "failure_ratio_cap"),
    ("metrics", "failure_spike_cap"),
    ("metrics", "cert_expiry_cap"),
    ("metrics", "workload_label_budget"),
    ("kubernetes", "object_skipped"),
    ("http", "connection_limit"),
    ("http", "timeout"),
    ("probe", "queue_full"),
    ("probe", "endpoints_evicted"),
    ("kernel", "ringbuf_full"),
    ("kernel", "flow_map_update_failed"),
    ("kernel", "copy_truncated"),
    ("kernel", "load_bytes_failed"),
    ("kernel", "unparsable"),
    ("kernel", "ipv6_ext_too_deep"),
    ("kernel", "ip_fragment"),
    ("kernel", "flow_map_lru_evicted"),
];

fn failure_reason(reason: &str) -> &'static str {
    FAILURE_REASONS
        .iter()
        .find(|r| **r == reason)
        .copied()
        .unwrap_or("other")
}

fn flag(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

impl Metrics {
    /// Counts one finished flow. `now_unix` is the clock certificate expiry is measured on.
    pub fn observe(&mut self, r: &FlowRecord, policy: &Policy, now_unix: i64) {
        let internal =
            policy.is_internal(r.key.client.ip()) && policy.is_internal(r.key.server.ip());
        let scope = if internal { "internal" } else { "external" };
        let enc = flag(r.encrypted);
        let w = self.workload_budget.labels(&r.k8s);
        self.flows
            .add_with([r.protocol, enc, scope, r.key.transport.as_str()], &w, 1.0);
        for dir in [Direction::ToServer, Direction::ToClient] {
            let bytes = r.bytes[dir.index()] as f64;
            self.flow_bytes
                .add_with([r.protocol, enc, scope, dir.as_str()], &w, bytes);
        }
        if let Some(l) = r.tls_labels.filter(|l| l.completed) {
            self.tls_handshakes.inc([
                l.version,
                l.cipher_class,
                l.group_class,
                l.alpn_offered,
                l.alpn_negotiated,
                l.client_auth,
            ]);
        }
        for id in &r.suppressed {
            self.findings_suppressed.inc([*id]);
        }
        for f in &r.findings {
            self.findings.add_with([f.id, f.severity.as_str()], &w, 1.0);
            if f.id == "tls.handshake.failure" {
                let reason = f
                    .evidence
                    .get("reason")
                    .and_then(crate::detect::Evidence::as_str)
                    .map_or("other", failure_reason);
                self.handshake_failures.inc([reason]);
            }
        }
        self.note_cert(r, now_unix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(
        ns: &str,
        workload: &str,
        kind: crate::identity::WorkloadKind,
    ) -> crate::identity::Identity {
        crate::identity::Identity {
            namespace: (!ns.is_empty()).then(|| Arc::from(ns)),
            pod: None,
            workload: Arc::from(workload),
            workload_kind: kind,
            service: None,
        }
    }

    #[test]
    fn workload_labels_are_exported_and_capped_per_label() {
        use crate::identity::WorkloadKind::{Deployment, Node, StatefulSet};
        let mut m = Metrics::new().with_label_budget(2);
        let policy = Policy::default();
        let mut r = FlowRecord::for_test("postgres", 5432);
        r.k8s.src = Some(named("shop", "web", Deployment));
        r.k8s.dst = Some(crate::identity::Identity {
            service: Some(Arc::from("db")),
            ..named("shop", "db", StatefulSet)
        });
        m.observe(&r, &policy, 0);
        let out = m.render_at(0);
        assert!(
            out.contains("plainsight_flows_total{protocol=\"postgres\",encrypted=\"false\",scope=\"internal\",transport=\"tcp\",src_namespace=\"shop\",src_workload=\"web\",dst_namespace=\"shop\",dst_workload=\"db\",dst_service=\"db\"} 1\n"),
            "{out}"
        );
        // A node address: no namespace, the workload says node; no service, no label.
        r.k8s.src = Some(named("", "worker-1", Node));
        m.observe(&r, &policy, 0);
        let w = Workloads::of(["", "node/worker-1", "shop", "db", "db"]);
        assert_eq!(
            m.flows
                .get_with(["postgres", "false", "internal", "tcp"], &w),
            1.0
        );
        // A third source workload is past the cap of two: "other", counted as a drop.
        r.k8s.src = Some(named("shop", "cart", Deployment));
        m.observe(&r, &policy, 0);
        let w = Workloads::of(["shop", OTHER, "shop", "db", "db"]);
        assert_eq!(
            m.flows
                .get_with(["postgres", "false", "internal", "tcp"], &w),
            1.0
        );
        assert_eq!(m.workload_budget.overflow, 1);
        let out = m.render_at(0);
        assert!(
            out.contains(
                "plainsight_dropped_total{stage=\"metrics\",reason=\"workload_label_budget\"} 1\n"
            ),
            "{out}"
        );
        // Without identities the series carry none of the five labels.
        let mut m = Metrics::new();
        m.observe(&FlowRecord::for_test("http", 80), &policy, 0);
        let out = m.render_at(0);
        assert!(
            out.contains("plainsight_flows_total{protocol=\"http\",encrypted=\"false\",scope=\"internal\",transport=\"tcp\"} 1\n"),
            "{out}"
        );
        assert!(!out.contains("src_namespace"), "{out}");
    }

    #[test]
    fn labels_are_escaped_and_sorted() {
        let mut f = Family::<1>::new("x_total", "h", Kind::Counter, ["a"]);
        f.inc(["z"]);
        f.add(["b\"q"], 2.0);
        let mut out = String::new();
        f.render(&mut out);
        assert_eq!(
            out,
            "# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"b\\\"q\"} 2\nx_total{a=\"z\"} 1\n"
        );
    }

    #[test]
    fn capped_gauge_evicts_the_oldest_and_counts_it_as_a_drop() {
        let mut m = Metrics::new();
        m.cert_not_after = CappedGauge::new(
            "plainsight_tls_cert_not_after_timestamp_seconds",
            "h",
            "server_name",
            2,
        );
        assert!(m.cert_not_after.set("a.example", 10.0));
        assert!(m.cert_not_after.set("b.example", 7.0));
        assert!(m.cert_not_after.set("a.example", 5.0));
        // New name at the cap: b (least recently set) goes, c is shown.
        assert!(!m.cert_not_after.set("c.example", 10.0));
        let text = m.render_at(0);
        assert!(text.contains("plainsight_tls_cert_expiry_seconds{server_name=\"a.example\"} 5\n"));
        assert!(text.contains("plainsight_tls_cert_expiry_seconds{server_name=\"c.example\"} 10\n"));
        assert!(!text.contains("b.example"));
        assert!(text.contains(
            "plainsight_dropped_total{stage=\"metrics\",reason=\"cert_expiry_cap\"} 1\n"
        ));
    }

    #[test]
    fn ten_thousand_random_server_names_keep_the_gauge_bounded() {
        let mut m = Metrics::new();
        let long = "n".repeat(60_000);
        for i in 0..10_000 {
            m.cert_not_after.set(&format!("{i}.{long}"), 1.0);
        }
        assert_eq!(m.cert_not_after.len(), CERT_EXPIRY_CAP);
        assert_eq!(m.cert_not_after.overflow, 10_000 - CERT_EXPIRY_CAP as u64);
        let text = m.render();
        let longest = text.lines().map(str::len).max().unwrap_or(0);
        assert!(longest < MAX_LABEL_LEN + 100, "a line of {longest} bytes");
        assert!(m.label_bytes() < CERT_EXPIRY_CAP * (MAX_LABEL_LEN + 128));
    }

    #[test]
    fn every_name_has_the_prefix_and_a_unit_suffix_where_counted() {
        let mut m = Metrics::new();
        for name in m.names() {
            assert!(name.starts_with("plainsight_"), "{name}");
        }
        let text = m.render();
        for line in text
            .lines()
            .filter(|l| l.starts_with("# TYPE") && l.ends_with("counter"))
        {
            assert!(
                line.split(' ')
                    .nth(2)
                    .is_some_and(|n| n.ends_with("_total")),
                "{line}"
            );
        }
    }

    fn record_with_cert(name: &str, not_after: i64) -> FlowRecord {
        FlowRecord {
            encrypted: true,
            cert_expiry: Some(crate::engine::CertExpiry {
                server_name: name.to_owned(),
                not_after_unix: not_after,
            }),
            ..FlowRecord::for_test("tls", 443)
        }
    }

    #[test]
    fn certificate_expiry_moves_with_time_and_stale_series_go() {
        let mut m = Metrics::new();
        let day = 86_400;
        let policy = Policy::default();
        m.observe(
            &record_with_cert("db.internal", 1_000 * day),
            &policy,
            960 * day,
        );
        // The notAfter is exported as is; the seconds left follow the clock of the scrape.
        let at_seen = m.render_at(960 * day as u64);
        assert!(at_seen.contains(&format!(
            "plainsight_tls_cert_not_after_timestamp_seconds{{server_name=\"db.internal\"}} {}\n",
            1_000 * day
        )));
        assert!(at_seen.contains(&format!(
            "plainsight_tls_cert_expiry_seconds{{server_name=\"db.internal\"}} {}\n",
            40 * day
        )));
        let later = m.render_at(980 * day as u64);
        assert!(later.contains(&format!(
            "plainsight_tls_cert_expiry_seconds{{server_name=\"db.internal\"}} {}\n",
            20 * day
        )));
        // Not seen for the TTL: both series go, and the removal is counted.
        assert_eq!(m.expire_certs(960 * day as u64 + 3_600, day as u64), 0);
        assert_eq!(m.expire_certs(961 * day as u64, day as u64), 1);
        let gone = m.render_at(961 * day as u64);
        assert!(!gone.contains("db.internal"), "{gone}");
        assert!(gone.contains("plainsight_tls_cert_series_expired_total 1\n"));
    }
}
