//! Configuration and policy (TOML, validated; unknown keys are errors).
//!
//! Every section has defaults, so an empty file is a valid configuration. Unknown
//! keys are rejected everywhere (`deny_unknown_fields`): a typo in a security
//! policy must fail loudly, not silently fall back to a default.
//! `docs/configuration.md` documents every key; [`Config::default_toml`] is the
//! commented default file and a test proves it parses back to [`Config::default`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::detect::Severity;

/// Errors from loading or validating the configuration. Each names the file
/// and, for validation errors, the offending key and value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("invalid config {}: {key} = {value}: {reason}", Located(.file, .line))]
    Invalid {
        /// The file and the 1-based line of the key, when the configuration came from
        /// a file and the key is written in it (a default value has no line).
        file: Option<PathBuf>,
        line: Option<usize>,
        key: String,
        value: String,
        reason: String,
    },
}

/// `FILE:LINE`, `FILE`, or `<defaults>` for a configuration that came from no file.
struct Located<'a>(&'a Option<PathBuf>, &'a Option<usize>);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(p), Some(l)) => write!(f, "{}:{l}", p.display()),
            (Some(p), None) => write!(f, "{}", p.display()),
            (None, _) => f.write_str("<defaults>"),
        }
    }
}

/// Where a configuration was read from, so that a later check can name the line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Source {
    pub path: PathBuf,
    text: String,
}

impl Source {
    /// The 1-based line where `key` is written: `section.key`, `section[i].key` for the
    /// i-th `[[section]]`, `severity."id"`, or a top-level key. For a key that is not
    /// written (a default), the line of its section header, else `None`.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        let (table, leaf) = match key.rsplit_once('.').filter(|_| !key.ends_with('"')) {
            Some((t, l)) => (Some(t), l),
            None => match key.split_once(".\"") {
                Some((t, l)) => (Some(t), l.trim_end_matches('"')),
                None => (None, key),
            },
        };
        // A whole `[[section]]` entry (`allow[1]`): its header line. An element of an
        // array value (`interfaces_include[0]`): the key's line.
        let (table, leaf) = match table {
            None if leaf.ends_with(']') => (Some(leaf), ""),
            t => (t, leaf.split('[').next().unwrap_or(leaf)),
        };
        let (table, index) = match table.and_then(|t| t.strip_suffix(']')) {
            Some(t) => match t.split_once('[') {
                Some((name, i)) => (Some(name), i.parse::<usize>().ok()),
                None => (Some(t), None),
            },
            None => (table, None),
        };
        let mut current: Option<&str> = None;
        let mut seen = 0usize;
        let mut header = None;
        for (n, raw) in self.text.lines().enumerate() {
            let line = raw.trim();
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split(']').next()) {
                current = Some(name.trim());
                if current == table {
                    seen += 1;
                    if index.is_none_or(|i| i + 1 == seen) {
                        header = Some(n + 1);
                    }
                }
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
                current = Some(name.trim());
                if current == table {
                    header = Some(n + 1);
                }
                continue;
            }
            let in_place = current == table && index.is_none_or(|i| i + 1 == seen);
            let name = line
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            if in_place && !leaf.is_empty() && name == leaf && line.contains('=') {
                return Some(n + 1);
            }
        }
        header
    }
}

/// Errors from parsing a CIDR block such as `10.0.0.0/8`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    #[error("missing '/prefix' (write 10.0.0.1/32 for one address)")]
    MissingPrefix,
    #[error("bad address")]
    BadAddress,
    #[error("bad prefix length (max 32 for IPv4, 128 for IPv6)")]
    BadPrefix,
}

/// An IP network (RFC 4632 CIDR notation). Host bits are masked off on parse.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                mask32(u32::from(net), self.prefix) == mask32(u32::from(a), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                mask128(u128::from(net), self.prefix) == mask128(u128::from(a), self.prefix)
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are matched as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn mask32(v: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        v & (u32::MAX << (32 - u32::from(prefix.min(32))))
    }
}

fn mask128(v: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        v & (u128::MAX << (128 - u32::from(prefix.min(128))))
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = s.trim().split_once('/').ok_or(CidrError::MissingPrefix)?;
        let addr: IpAddr = a.parse().map_err(|_| CidrError::BadAddress)?;
        let prefix: u8 = p.parse().map_err(|_| CidrError::BadPrefix)?;
        let addr = match addr {
            IpAddr::V4(v) if prefix <= 32 => IpAddr::V4(mask32(u32::from(v), prefix).into()),
            IpAddr::V6(v) if prefix <= 128 => IpAddr::V6(mask128(u128::from(v), prefix).into()),
            _ => return Err(CidrError::BadPrefix),
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| serde::de::Error::custom(format!("invalid CIDR {s:?}: {e}")))
    }
}

/// Internal networks by default: RFC 1918, RFC 6598 shared space, RFC 4193 ULA,
/// loopback (RFC 1122, RFC 4291) and link-local (RFC 3927, RFC 4291).
pub const DEFAULT_INTERNAL: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "fc00::/7",
    "::1/128",
    "fe80::/10",
];

fn default_internal() -> Vec<Cidr> {
    DEFAULT_INTERNAL
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// `[network]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Networks whose hosts count as internal (both ends internal ⇒ base severity).
    pub internal: Vec<Cidr>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            internal: default_internal(),
        }
    }
}

/// `[mtls] require`: which completed TLS handshakes must carry a client certificate
/// (`tls.mtls.absent` otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MtlsRequire {
    /// Both ends inside `[network] internal`: service-to-service traffic.
    #[default]
    Internal,
    /// Never: the finding is off.
    None,
    /// Every TLS flow, external ones included.
    All,
}

/// `[mtls]`
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MtlsConfig {
    pub require: MtlsRequire,
}

/// One `[[allow]]` entry: what it names is accepted between these ends. It matches a
/// flow when every key it gives matches.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// A protocol name from docs/findings.md (`dns`, `http`, `smtp`, `unknown_text`…).
    /// Without `finding`, the rule accepts that protocol's cleartext findings.
    #[serde(default)]
    pub protocol: Option<String>,
    /// A finding id, or a prefix ending in `*` (`tls.cert.*`): the rule silences those
    /// findings, TLS ones included.
    #[serde(default)]
    pub finding: Option<String>,
    /// Client address range; any when absent.
    #[serde(default)]
    pub source: Option<Cidr>,
    /// Server address range; any when absent.
    #[serde(default)]
    pub destination: Option<Cidr>,
    /// Server port; any when absent.
    #[serde(default)]
    pub port: Option<u16>,
    /// Why this is allowed (kept for reviewers; not used by the agent).
    #[serde(default)]
    pub comment: Option<String>,
}

fn default_allow() -> Vec<AllowRule> {
    vec![AllowRule {
        protocol: Some("dns".into()),
        finding: None,
        source: None,
        destination: None,
        port: None,
        comment: Some("DNS over cleartext TCP is expected inside the cluster".into()),
    }]
}

/// A `[severity]` value: a level, or `"off"` to silence the finding (silenced findings
/// are counted in `plainsight_findings_suppressed_total`, never lost without a trace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeverityOverride {
    Level(Severity),
    Off,
}

impl<'de> Deserialize<'de> for SeverityOverride {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.eq_ignore_ascii_case("off") {
            return Ok(SeverityOverride::Off);
        }
        s.parse::<Severity>()
            .map(SeverityOverride::Level)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "unknown severity {s:?} (expected info, low, medium, high, critical or off)"
                ))
            })
    }
}

/// The part of the configuration the analysers need to turn facts into findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    internal: Vec<Cidr>,
    allow: Vec<AllowRule>,
    severity: BTreeMap<String, SeverityOverride>,
    report_usernames: bool,
    mtls_require: MtlsRequire,
}

/// The ends of a flow, as allow rules see them.
#[derive(Clone, Copy, Debug)]
pub struct Ends {
    pub client: IpAddr,
    pub server: IpAddr,
    pub port: u16,
}

impl Default for Policy {
    fn default() -> Self {
        Config::default().policy()
    }
}

impl Policy {
    pub fn is_internal(&self, ip: IpAddr) -> bool {
        self.internal.iter().any(|n| n.contains(ip))
    }

    /// Whether `[mtls] require` expects a client certificate between these ends.
    pub fn requires_mtls(&self, ends: Ends) -> bool {
        match self.mtls_require {
            MtlsRequire::None => false,
            MtlsRequire::All => true,
            MtlsRequire::Internal => self.is_internal(ends.client) && self.is_internal(ends.server),
        }
    }

    /// Is cleartext `protocol` between these ends accepted by a protocol-only
    /// `[[allow]]` rule (one without `finding`)?
    pub fn allowed(&self, protocol: &str, ends: Ends) -> bool {
        self.allow.iter().any(|r| {
            r.finding.is_none()
                && r.protocol
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(protocol))
                && r.matches_ends(ends)
        })
    }

    /// Does an `[[allow]]` rule with a `finding` key silence finding `id` on a flow of
    /// `protocol` between these ends?
    pub fn allows_finding(&self, id: &str, protocol: &str, ends: Ends) -> bool {
        self.allow.iter().any(|r| {
            r.finding.as_deref().is_some_and(|f| finding_matches(f, id))
                && r.protocol
                    .as_deref()
                    .is_none_or(|p| p.eq_ignore_ascii_case(protocol))
                && r.matches_ends(ends)
        })
    }

    /// The configured severity for finding `id`, or `default` (also when it is `off`:
    /// see [`Policy::silenced`]).
    pub fn severity(&self, id: &str, default: Severity) -> Severity {
        match self.severity.get(id) {
            Some(SeverityOverride::Level(s)) => *s,
            _ => default,
        }
    }

    /// Is finding `id` set to `"off"` in `[severity]`?
    pub fn silenced(&self, id: &str) -> bool {
        self.severity.get(id) == Some(&SeverityOverride::Off)
    }

    /// May user names appear in finding evidence? Off by default: a user name is
    /// half of a credential and personal data.
    pub fn report_usernames(&self) -> bool {
        self.report_usernames
    }

    pub fn with_report_usernames(mut self, on: bool) -> Self {
        self.report_usernames = on;
        self
    }
}

impl AllowRule {
    fn matches_ends(&self, ends: Ends) -> bool {
        self.source.is_none_or(|n| n.contains(ends.client))
            && self.destination.is_none_or(|n| n.contains(ends.server))
            && self.port.is_none_or(|p| p == ends.port)
    }
}

/// `pattern` is a finding id, or a prefix ending in `*`.
fn finding_matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => pattern == id,
    }
}

/// How TC programs are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AttachMode {
    /// tcx where the kernel has it (6.6+; probed, see `capture::live::probe_tcx`),
    /// netlink clsact otherwise.
    #[default]
    Auto,
    Tcx,
    Netlink,
}

/// `[capture]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Interface name glob patterns (`*`, `?`) to attach to.
    pub interfaces_include: Vec<String>,
    /// Patterns excluded even when included.
    pub interfaces_exclude: Vec<String>,
    pub attach: AttachMode,
    /// Payload bytes copied per flow direction. Must hold two full segments so a
    /// post-quantum ClientHello fits (design.md).
    pub budget_bytes: u32,
    /// Payload-carrying segments copied per flow direction; whichever budget runs out
    /// first stops capture.
    pub budget_segments: u32,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces_include: vec!["*".into()],
            interfaces_exclude: vec!["lo".into()],
            attach: AttachMode::Auto,
            budget_bytes: agent_common::CaptureConfig::DEFAULT.byte_budget,
            budget_segments: agent_common::CaptureConfig::DEFAULT.segment_budget,
        }
    }
}

/// `[limits]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Userspace flow table entries; the kernel flow map holds two directions per flow.
    pub max_flows: u32,
    /// Bytes reassembled per direction.
    pub stream_cap_bytes: u32,
    pub tcp_idle_secs: u32,
    pub udp_idle_secs: u32,
    /// Bytes of bounded state: the flow table (entries and stream buffers), the spike
    /// detector's services and the open-valued metric labels.
    pub max_memory_bytes: u64,
    /// Size of the kernel ring buffer (a power of two, at least one page).
    pub ringbuf_bytes: u32,
    /// How often the kernel flow map is walked: idle entries removed, LRU evictions counted.
    pub kernel_scan_secs: u32,
    /// A certificate's metric series go when no handshake showed that certificate for
    /// this long (and the removal is counted).
    pub cert_series_ttl_secs: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_flows: 65536,
            stream_cap_bytes: 8192,
            tcp_idle_secs: 300,
            udp_idle_secs: 60,
            max_memory_bytes: 512 << 20,
            ringbuf_bytes: 1 << 20,
            kernel_scan_secs: 30,
            cert_series_ttl_secs: 86_400,
        }
    }
}

/// Worst-case bytes of one open-valued name with its map entry (spike service or label).
const NAME_BYTES: u64 = crate::detect::spike::MAX_SERVICE_LEN as u64 + 128;

impl LimitsConfig {
    /// Bytes reserved out of `max_memory_bytes` for the spike detector and the label sets,
    /// whose sizes are bounded by count × [`crate::detect::spike::MAX_SERVICE_LEN`].
    pub fn reserved_bytes(&self, spike: &SpikeConfig) -> u64 {
        let services = u64::from(spike.max_services) + 1;
        // Detector entries, the two per-service gauges and the certificate-expiry gauge.
        (3u64.saturating_mul(services) + crate::export::metrics::CERT_EXPIRY_CAP as u64)
            * NAME_BYTES
    }

    /// The flow table's share of `max_memory_bytes`: what the spike detector and the
    /// labels cannot take.
    pub fn table_bytes(&self, spike: &SpikeConfig) -> usize {
        let b = self
            .max_memory_bytes
            .saturating_sub(self.reserved_bytes(spike));
        usize::try_from(b).unwrap_or(usize::MAX)
    }

    /// Kernel flow-map entries: one per direction of each flow.
    pub fn kernel_flow_entries(&self) -> u32 {
        self.max_flows.saturating_mul(2)
    }
}

/// `[http]`: the metrics and status endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mTLS scraping).
    pub client_ca: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9909)),
            tls_cert: None,
            tls_key: None,
            client_ca: None,
        }
    }
}

/// `[events]`: JSON-lines event sink.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// File path, or `-` for standard output.
    pub path: String,
    /// Rotate after this many bytes (0 = never).
    pub rotate_bytes: u64,
    /// Rotated files kept.
    pub keep: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            path: "-".into(),
            rotate_bytes: 100 * 1024 * 1024,
            keep: 5,
        }
    }
}

/// `[spike]`: TLS handshake-failure spike detector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeConfig {
    /// Fire when the failure rate exceeds `threshold` times its moving average.
    pub threshold: f64,
    /// EWMA smoothing factor, in (0, 1].
    pub ewma_alpha: f64,
    /// Ignore windows with fewer failures than this.
    pub min_failures: u32,
    /// Services tracked at once (bounded memory).
    pub max_services: u32,
}

impl Default for SpikeConfig {
    fn default() -> Self {
        SpikeConfig {
            threshold: 3.0,
            ewma_alpha: 0.1,
            min_failures: 10,
            max_services: 1024,
        }
    }
}

/// `[kubernetes]`: workload identity from the API server (`docs/kubernetes.md`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesConfig {
    /// Watch the API server and name flow endpoints by namespace, pod, workload, service.
    pub enabled: bool,
    /// A kubeconfig file; absent: the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// This node's name; absent: `$NODE_NAME` (the DaemonSet sets it from the
    /// downward API).
    pub node_name: Option<String>,
    /// Distinct values each workload metric label may take; later ones are exported as
    /// `other` (counted in `plainsight_dropped_total`).
    pub max_label_values: u32,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        KubernetesConfig {
            enabled: false,
            kubeconfig: None,
            node_name: None,
            max_label_values: crate::export::metrics::DEFAULT_LABEL_VALUES as u32,
        }
    }
}

impl KubernetesConfig {
    /// The node name to watch this node's pods by: the configured one, else `$NODE_NAME`.
    pub fn node_name(&self) -> Option<String> {
        self.node_name
            .clone()
            .or_else(|| std::env::var("NODE_NAME").ok())
            .filter(|n| !n.is_empty())
    }
}

/// `[probe]`: the opt-in active certificate and HSTS check of TLS servers whose
/// certificate travelled encrypted (TLS 1.3). Off by default: it is the one thing the
/// agent does that sends packets. `docs/configuration.md` has the safety rules.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    pub enabled: bool,
    /// At most one connection per endpoint (IP, port, SNI) in this many seconds.
    pub interval_secs: u64,
    /// Only servers inside `[network] internal` (the default); false also allows
    /// external ones that `allow` (or an empty `allow`) admits.
    pub internal_only: bool,
    /// When not empty, only servers in these networks are probed.
    pub allow: Vec<Cidr>,
    /// Never these networks (checked first).
    pub deny: Vec<Cidr>,
    /// When not empty, only these server ports.
    pub allow_ports: Vec<u16>,
    /// Never these server ports (checked first).
    pub deny_ports: Vec<u16>,
    /// Connections open at once.
    pub max_concurrent: u32,
    /// New connections per minute, across all endpoints.
    pub rate_per_minute: u32,
    pub connect_timeout_ms: u64,
    pub handshake_timeout_ms: u64,
    /// For the HSTS `HEAD /` answer.
    pub read_timeout_ms: u64,
    /// Endpoints waiting for a connection; more are dropped (counted).
    pub queue: u32,
    /// Endpoints remembered for `interval_secs`; past it the oldest is forgotten (counted).
    pub max_endpoints: u32,
    /// Send one `HEAD /` when ALPN chose http/1.1 or h2, for `tls.hsts.missing`.
    pub hsts: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            enabled: false,
            interval_secs: 6 * 3600,
            internal_only: true,
            allow: Vec::new(),
            deny: Vec::new(),
            allow_ports: Vec::new(),
            deny_ports: Vec::new(),
            max_concurrent: 4,
            rate_per_minute: 60,
            connect_timeout_ms: 3000,
            handshake_timeout_ms: 5000,
            read_timeout_ms: 5000,
            queue: 256,
            max_endpoints: 4096,
            hsts: true,
        }
    }
}

/// The whole agent configuration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Include user names in credential findings.
    pub report_usernames: bool,
    pub network: NetworkConfig,
    pub allow: Vec<AllowRule>,
    /// Severity overrides by finding id (a level, or `off`).
    pub severity: BTreeMap<String, SeverityOverride>,
    pub capture: CaptureConfig,
    pub limits: LimitsConfig,
    pub http: HttpConfig,
    pub events: EventsConfig,
    pub spike: SpikeConfig,
    pub kubernetes: KubernetesConfig,
    pub probe: ProbeConfig,
    pub mtls: MtlsConfig,
    /// The file this was read from (for error locations); not a configuration key.
    #[serde(skip)]
    pub source: Option<Source>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            report_usernames: false,
            network: NetworkConfig::default(),
            allow: default_allow(),
            severity: BTreeMap::new(),
            capture: CaptureConfig::default(),
            limits: LimitsConfig::default(),
            http: HttpConfig::default(),
            events: EventsConfig::default(),
            spike: SpikeConfig::default(),
            kubernetes: KubernetesConfig::default(),
            probe: ProbeConfig::default(),
            mtls: MtlsConfig::default(),
            source: None,
        }
    }
}

const DEFAULT_TOML: &str = include_str!("config_default.toml");

impl Config {
    /// Read, parse and validate a TOML file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        cfg.source = Some(Source {
            path: path.to_owned(),
            text,
        });
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parse and validate TOML text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<string>"),
            source: Box::new(e),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// An [`ConfigError::Invalid`] for `key`, naming this configuration's file and the
    /// key's line when it came from a file.
    pub fn invalid(
        &self,
        key: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> ConfigError {
        let key = key.into();
        ConfigError::Invalid {
            file: self.source.as_ref().map(|s| s.path.clone()),
            line: self.source.as_ref().and_then(|s| s.line_of(&key)),
            key,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// The documented default configuration file, with comments.
    pub fn default_toml() -> String {
        DEFAULT_TOML.to_owned()
    }

    pub fn policy(&self) -> Policy {
        Policy {
            internal: self.network.internal.clone(),
            allow: self.allow.clone(),
            severity: self.severity.clone(),
            report_usernames: self.report_usernames,
            mtls_require: self.mtls.require,
        }
    }

    /// Checks serde cannot express: known names, non-zero limits, sane ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, r) in self.allow.iter().enumerate() {
            if let Some(p) = &r.protocol {
                if p.parse::<crate::plaintext::Protocol>().is_err() && p != "tls" {
                    return Err(self.invalid(
                        format!("allow[{i}].protocol"),
                        format!("{p:?}"),
                        "unknown protocol (see docs/findings.md for names such as dns, http, smtp, tls)",
                    ));
                }
            }
            match &r.finding {
                Some(f) if !crate::detect::catalogue::all().any(|d| finding_matches(f, d.id)) => {
                    return Err(self.invalid(
                        format!("allow[{i}].finding"),
                        format!("{f:?}"),
                        "matches no finding id (`plainsight explain` lists them; a trailing * matches a prefix)",
                    ));
                }
                None if r.protocol.is_none() => {
                    return Err(self.invalid(
                        format!("allow[{i}]"),
                        "no protocol and no finding",
                        "an allow rule needs a protocol, a finding, or both",
                    ));
                }
                _ => {}
            }
        }
        for id in self.severity.keys() {
            if crate::detect::catalogue::get(id).is_none() {
                return Err(self.invalid(
                    format!("severity.\"{id}\""),
                    format!("{id:?}"),
                    "unknown finding id (see docs/findings.md)",
                ));
            }
        }
        for (key, pats) in [
            (
                "capture.interfaces_include",
                &self.capture.interfaces_include,
            ),
            (
                "capture.interfaces_exclude",
                &self.capture.interfaces_exclude,
            ),
        ] {
            for (i, p) in pats.iter().enumerate() {
                if p.is_empty() || p.len() > 15 || p.chars().any(|c| c.is_whitespace() || c == '/')
                {
                    return Err(self.invalid(
                        format!("{key}[{i}]"),
                        format!("{p:?}"),
                        "not an interface name pattern (1-15 chars, no '/' or spaces; * and ? allowed)",
                    ));
                }
            }
        }
        if self.capture.budget_bytes < 3000 {
            return Err(self.invalid(
                "capture.budget_bytes",
                self.capture.budget_bytes,
                "must be at least 3000 (two full segments, for large ClientHellos)",
            ));
        }
        if !(2..=u32::from(u16::MAX)).contains(&self.capture.budget_segments) {
            return Err(self.invalid(
                "capture.budget_segments",
                self.capture.budget_segments,
                "must be 2 to 65535 (a ClientHello can take two segments)",
            ));
        }
        if !self.limits.ringbuf_bytes.is_power_of_two() || self.limits.ringbuf_bytes < 4096 {
            return Err(self.invalid(
                "limits.ringbuf_bytes",
                self.limits.ringbuf_bytes,
                "must be a power of two, at least 4096 (one page)",
            ));
        }
        let reserved = self.limits.reserved_bytes(&self.spike);
        if self.limits.max_memory_bytes < reserved + (1 << 20) {
            return Err(self.invalid(
                "limits.max_memory_bytes",
                self.limits.max_memory_bytes,
                "must leave at least 1 MiB for the flow table after the spike detector's and \
                 labels' share (about 330 bytes per [spike] max_services, and 500 names)",
            ));
        }
        for (key, v) in [
            ("limits.max_flows", self.limits.max_flows),
            ("limits.stream_cap_bytes", self.limits.stream_cap_bytes),
            ("limits.tcp_idle_secs", self.limits.tcp_idle_secs),
            ("limits.udp_idle_secs", self.limits.udp_idle_secs),
            ("limits.kernel_scan_secs", self.limits.kernel_scan_secs),
            (
                "limits.cert_series_ttl_secs",
                self.limits.cert_series_ttl_secs,
            ),
            ("spike.max_services", self.spike.max_services),
            ("probe.max_concurrent", self.probe.max_concurrent),
            ("probe.rate_per_minute", self.probe.rate_per_minute),
            ("probe.queue", self.probe.queue),
            ("probe.max_endpoints", self.probe.max_endpoints),
        ] {
            if v == 0 {
                return Err(self.invalid(key, v, "must be greater than 0"));
            }
        }
        match (&self.http.tls_cert, &self.http.tls_key) {
            (Some(c), None) => {
                return Err(self.invalid(
                    "http.tls_cert",
                    format!("{:?}", c.display().to_string()),
                    "set http.tls_key too (both or neither)",
                ))
            }
            (None, Some(k)) => {
                return Err(self.invalid(
                    "http.tls_key",
                    format!("{:?}", k.display().to_string()),
                    "set http.tls_cert too (both or neither)",
                ))
            }
            _ => {}
        }
        if self.http.client_ca.is_some() && self.http.tls_cert.is_none() {
            return Err(self.invalid(
                "http.client_ca",
                "set",
                "needs http.tls_cert and http.tls_key",
            ));
        }
        if self.events.path.is_empty() {
            return Err(self.invalid("events.path", "\"\"", "use a file path or \"-\" for stdout"));
        }
        if !(self.spike.ewma_alpha > 0.0 && self.spike.ewma_alpha <= 1.0) {
            return Err(self.invalid(
                "spike.ewma_alpha",
                self.spike.ewma_alpha,
                "must be in (0, 1]",
            ));
        }
        if !(self.spike.threshold.is_finite() && self.spike.threshold > 1.0) {
            return Err(self.invalid(
                "spike.threshold",
                self.spike.threshold,
                "must be a finite number greater than 1",
            ));
        }
        for (key, v) in [
            ("probe.interval_secs", self.probe.interval_secs),
            ("probe.connect_timeout_ms", self.probe.connect_timeout_ms),
            (
                "probe.handshake_timeout_ms",
                self.probe.handshake_timeout_ms,
            ),
            ("probe.read_timeout_ms", self.probe.read_timeout_ms),
        ] {
            if v == 0 {
                return Err(self.invalid(key, v, "must be greater than 0"));
            }
        }
        if let Some(i) = self
            .probe
            .allow_ports
            .iter()
            .chain(&self.probe.deny_ports)
            .position(|&p| p == 0)
        {
            let key = if i < self.probe.allow_ports.len() {
                "probe.allow_ports"
            } else {
                "probe.deny_ports"
            };
            return Err(self.invalid(key, 0, "not a TCP port (1-65535)"));
        }
        if self.kubernetes.max_label_values == 0 {
            return Err(self.invalid(
                "kubernetes.max_label_values",
                0,
                "must be at least 1 (values past it are exported as \"other\")",
            ));
        }
        if let Some(node) = &self.kubernetes.node_name {
            // RFC 1123 subdomain, as Kubernetes requires of node names.
            let ok = !node.is_empty()
                && node.len() <= 253
                && node.split('.').all(|l| {
                    !l.is_empty()
                        && l.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                });
            if !ok {
                return Err(self.invalid(
                    "kubernetes.node_name",
                    format!("{node:?}"),
                    "not a node name (lower-case RFC 1123 subdomain); leave it out to use $NODE_NAME",
                ));
            }
        }
        if self
            .kubernetes
            .kubeconfig
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(self.invalid(
                "kubernetes.kubeconfig",
                "\"\"",
                "a file path; leave it out to use the in-cluster service account",
            ));
        }
        Ok(())
    }
}

/// Does interface `name` match glob `pattern` (`*` any run, `?` one char)?
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| n.get(i..).is_some_and(|t| go(rest, t))),
            Some((b'?', rest)) => n.split_first().is_some_and(|(_, t)| go(rest, t)),
            Some((c, rest)) => n.split_first().is_some_and(|(d, t)| c == d && go(rest, t)),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

impl CaptureConfig {
    /// Should the agent attach to interface `name`?
    pub fn wants(&self, name: &str) -> bool {
        self.interfaces_include.iter().any(|p| glob_match(p, name))
            && !self.interfaces_exclude.iter().any(|p| glob_match(p, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn default_toml_round_trips() {
        let parsed = Config::parse(&Config::default_toml()).expect("default toml parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn probe_section_is_off_by_default_and_validated() {
        let c = Config::default();
        assert!(!c.probe.enabled);
        assert_eq!(c.probe.interval_secs, 21600);
        assert!(c.probe.internal_only);
        let ok = Config::parse(
            "[probe]\nenabled = true\ndeny = [\"10.9.0.0/16\"]\nallow_ports = [443, 8443]\n",
        )
        .expect("valid probe section");
        assert_eq!(ok.probe.allow_ports, vec![443, 8443]);
        for (text, key) in [
            ("[probe]\nmax_concurrent = 0\n", "probe.max_concurrent"),
            ("[probe]\nrate_per_minute = 0\n", "probe.rate_per_minute"),
            (
                "[probe]\nconnect_timeout_ms = 0\n",
                "probe.connect_timeout_ms",
            ),
            ("[probe]\ndeny_ports = [443, 0]\n", "probe.deny_ports"),
        ] {
            let e = Config::parse(text).expect_err(text).to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        assert!(Config::parse("[probe]\ndeny = [\"10.0.0.1\"]\n").is_err());
        assert!(Config::parse("[probe]\nenable = true\n").is_err());
    }

    #[test]
    fn empty_file_is_default() {
        assert_eq!(Config::parse("").expect("empty"), Config::default());
    }

    #[test]
    fn default_internal_ranges() {
        let p = Policy::default();
        for a in [
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "fd00::1",
            "::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(p.is_internal(ip(a)), "{a} should be internal");
        }
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "11.0.0.1",
        ] {
            assert!(!p.is_internal(ip(a)), "{a} should be external");
        }
    }

    #[test]
    fn allow_rules_match_protocol_destination_port() {
        let cfg = Config::parse(
            r#"
            [[allow]]
            protocol = "http"
            destination = "10.0.5.0/24"
            port = 8080
            comment = "kubelet health checks"
            "#,
        )
        .expect("parse");
        let p = cfg.policy();
        let to = |server: &str, port: u16| Ends {
            client: ip("10.9.9.9"),
            server: ip(server),
            port,
        };
        assert!(p.allowed("http", to("10.0.5.7", 8080)));
        assert!(!p.allowed("http", to("10.0.6.7", 8080)));
        assert!(!p.allowed("http", to("10.0.5.7", 80)));
        assert!(!p.allowed("redis", to("10.0.5.7", 8080)));
        // An explicit [[allow]] list replaces the default one.
        assert!(!p.allowed("dns", to("10.0.0.10", 53)));
        assert!(Policy::default().allowed("dns", to("10.0.0.10", 53)));
    }

    #[test]
    fn allow_rules_match_any_finding_by_source_destination_port_protocol() {
        let cfg = Config::parse(
            r#"
            [[allow]]
            finding = "tls.cipher.cbc"
            source = "10.1.0.0/16"
            destination = "10.2.0.0/16"
            port = 8443
            protocol = "tls"

            [[allow]]
            finding = "tls.cert.*"
            destination = "10.3.0.0/16"
            "#,
        )
        .expect("parse");
        let p = cfg.policy();
        let ends = |c: &str, s: &str, port: u16| Ends {
            client: ip(c),
            server: ip(s),
            port,
        };
        let cbc = "tls.cipher.cbc";
        assert!(p.allows_finding(cbc, "tls", ends("10.1.0.5", "10.2.0.5", 8443)));
        assert!(
            !p.allows_finding(cbc, "tls", ends("10.9.0.5", "10.2.0.5", 8443)),
            "source"
        );
        assert!(
            !p.allows_finding(cbc, "tls", ends("10.1.0.5", "10.9.0.5", 8443)),
            "destination"
        );
        assert!(
            !p.allows_finding(cbc, "tls", ends("10.1.0.5", "10.2.0.5", 443)),
            "port"
        );
        assert!(
            !p.allows_finding(cbc, "smtp", ends("10.1.0.5", "10.2.0.5", 8443)),
            "protocol"
        );
        assert!(!p.allows_finding("tls.cipher.weak", "tls", ends("10.1.0.5", "10.2.0.5", 8443)));
        for id in ["tls.cert.expired", "tls.cert.self_signed"] {
            assert!(
                p.allows_finding(id, "tls", ends("1.2.3.4", "10.3.9.9", 443)),
                "{id}"
            );
        }
        // A finding rule is not a protocol rule: it accepts no cleartext protocol.
        assert!(!p.allowed("tls", ends("10.1.0.5", "10.2.0.5", 8443)));
    }

    #[test]
    fn severity_off_silences() {
        let cfg = Config::parse("[severity]\n\"tls.session_ticket\" = \"off\"\n").expect("parse");
        let p = cfg.policy();
        assert!(p.silenced("tls.session_ticket"));
        assert!(!p.silenced("tls.early_data"));
        let e = err("[severity]\n\"tls.session_ticket\" = \"of\"\n");
        assert!(
            e.contains("expected info, low, medium, high, critical or off"),
            "{e}"
        );
    }

    #[test]
    fn severity_overrides() {
        let cfg = Config::parse("[severity]\n\"plaintext.http\" = \"critical\"\n").expect("parse");
        let p = cfg.policy();
        assert_eq!(
            p.severity("plaintext.http", Severity::Low),
            Severity::Critical
        );
        assert_eq!(p.severity("plaintext.ftp", Severity::Low), Severity::Low);
    }

    fn err(text: &str) -> String {
        Config::parse(text).expect_err("should fail").to_string()
    }

    #[test]
    fn mtls_require_scopes_by_internal_networks() {
        let ends = |c: &str, s: &str| Ends {
            client: c.parse().unwrap(),
            server: s.parse().unwrap(),
            port: 443,
        };
        let p = Config::default().policy();
        assert!(p.requires_mtls(ends("10.0.0.1", "10.0.0.2")));
        assert!(!p.requires_mtls(ends("10.0.0.1", "8.8.8.8")));
        let all = Config::parse("[mtls]\nrequire = \"all\"\n")
            .unwrap()
            .policy();
        assert!(all.requires_mtls(ends("10.0.0.1", "8.8.8.8")));
        let none = Config::parse("[mtls]\nrequire = \"none\"\n")
            .unwrap()
            .policy();
        assert!(!none.requires_mtls(ends("10.0.0.1", "10.0.0.2")));
        let e = err("[mtls]\nrequire = \"external\"\n");
        assert!(e.contains("external"), "{e}");
        let e = err("[mtls]\nrequired = \"all\"\n");
        assert!(e.contains("required"), "{e}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err("[network]\ninternals = [\"10.0.0.0/8\"]\n");
        assert!(e.contains("internals"), "{e}");
        let e = err("report_username = true\n");
        assert!(e.contains("report_username"), "{e}");
        let e = err("[[allow]]\nprotocol = \"dns\"\nports = 53\n");
        assert!(e.contains("ports"), "{e}");
        let e = err("[captur]\n");
        assert!(e.contains("captur"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = err("[network]\ninternal = [\"10.0.0/8\"]\n");
        assert!(e.contains("10.0.0/8") && e.contains("CIDR"), "{e}");
        let e = err("[network]\ninternal = [\"10.0.0.0/33\"]\n");
        assert!(e.contains("prefix"), "{e}");
        let e = err("[[allow]]\nprotocol = \"gopher\"\n");
        assert!(
            e.contains("allow[0].protocol") && e.contains("gopher"),
            "{e}"
        );
        let e = err("[severity]\n\"plaintext.nope\" = \"high\"\n");
        assert!(e.contains("plaintext.nope"), "{e}");
        let e = err("[severity]\n\"plaintext.http\" = \"urgent\"\n");
        assert!(e.contains("urgent"), "{e}");
        let e = err("[capture]\nattach = \"xdp\"\n");
        assert!(e.contains("xdp"), "{e}");
        let e = err("[capture]\nbudget_segments = 1\n");
        assert!(e.contains("capture.budget_segments"), "{e}");
        let e = err("[capture]\nbudget_segments = 70000\n");
        assert!(e.contains("capture.budget_segments"), "{e}");
        let e = err("[limits]\nmax_flows = 0\n");
        assert!(e.contains("limits.max_flows"), "{e}");
        let e = err("[spike]\newma_alpha = 1.5\n");
        assert!(e.contains("spike.ewma_alpha"), "{e}");
        let e = err("[http]\nlisten = \"nowhere\"\n");
        assert!(e.contains("listen"), "{e}");
        let e = err("[http]\ntls_cert = \"/c.pem\"\n");
        assert!(e.contains("tls_key"), "{e}");
        let e = err("[kubernetes]\nnode_name = \"Node_1\"\n");
        assert!(
            e.contains("kubernetes.node_name") && e.contains("Node_1"),
            "{e}"
        );
        let e = err("[kubernetes]\nkubeconfig = \"\"\n");
        assert!(e.contains("kubernetes.kubeconfig"), "{e}");
        let e = err("[kubernetes]\nenable = true\n");
        assert!(e.contains("enable"), "{e}");
        let ok = Config::parse("[kubernetes]\nenabled = true\nnode_name = \"node-1.example\"\n")
            .expect("valid kubernetes section");
        assert_eq!(ok.kubernetes.node_name(), Some("node-1.example".into()));
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = err("this is not toml ][");
        assert!(e.starts_with("invalid config"), "{e}");
        let e = err("report_usernames = \"yes\"\n");
        assert!(e.contains("report_usernames") || e.contains("bool"), "{e}");
    }

    #[test]
    fn load_names_the_file() {
        let e = Config::load("/nonexistent/plainsight.toml").expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/plainsight.toml"));
    }

    #[test]
    fn interface_globs() {
        let c = CaptureConfig::default();
        assert!(c.wants("eth0"));
        assert!(!c.wants("lo"));
        assert!(glob_match("veth*", "veth1a2b"));
        assert!(glob_match("eth?", "eth1"));
        assert!(!glob_match("eth?", "eth10"));
    }

    #[test]
    fn cidr_parse_and_contains() {
        let n: Cidr = "192.168.1.77/24".parse().expect("cidr");
        assert_eq!(n.to_string(), "192.168.1.0/24");
        assert!(n.contains(ip("192.168.1.1")));
        assert!(!n.contains(ip("192.168.2.1")));
        assert_eq!("10.0.0.1".parse::<Cidr>(), Err(CidrError::MissingPrefix));
        let all: Cidr = "0.0.0.0/0".parse().expect("cidr");
        assert!(all.contains(ip("1.2.3.4")));
        assert!(!all.contains(ip("::2")));
    }

    /// QUIC over UDP: a client's first flight is two or three datagrams of at least 1,200
    /// bytes (RFC 9000 §14.1), often sent as one GSO super-packet; with post-quantum key
    /// shares the ClientHello alone needs two. The defaults must carry three full-MTU
    /// datagrams (1,472 bytes of UDP payload each) in bytes, segments and the kernel's
    /// largest single copy (tests/tests/quic.rs checks it live).
    #[test]
    fn default_budgets_carry_a_quic_first_flight() {
        let c = Config::default().capture;
        let kernel = agent_common::CaptureConfig::DEFAULT;
        assert!(kernel.flags & agent_common::config_flag::CAPTURE_UDP != 0);
        assert!(c.budget_bytes >= 3 * 1472, "{}", c.budget_bytes);
        assert!(c.budget_segments >= 3, "{}", c.budget_segments);
        let largest_copy = agent_common::MAX_EVENT_PAYLOAD;
        assert!(largest_copy >= 3 * 1200, "{largest_copy}");
    }
}
