//! Plaintext protocol recognition from the first bytes of each direction, STARTTLS
//! tracking and cleartext-credential detection (secrets redacted at the source).
//!
//! Owner: the plaintext work (issue 4). The engine uses only the API of [`Session`].
//!
//! How it works:
//! - Until a protocol is known, each `feed` runs every recogniser's `sniff` on the
//!   first bytes of that direction. Recognition never depends on the port: the
//!   server port only breaks ties between weak matches (a bare `220 ` banner is
//!   SMTP or FTP).
//! - Once known, a per-protocol [`Analyzer`] parses complete messages incrementally.
//!   It keeps offsets and small facts, never the stream: `feed` hands the whole
//!   prefix again each time, so nothing needs buffering, and no password byte is
//!   ever copied into a struct.
//! - Both directions are parsed independently and correlated by order (reply N
//!   answers command N) or by tag, so the result does not depend on how the
//!   engine interleaves the two directions.
//! - [`Session::findings`] turns the facts into findings under a [`Policy`].
//! - When only generic patterns match (`220 ready`, `USER x`, `+OK`), the
//!   candidates of both directions are intersected, then the port breaks ties;
//!   an undecided flow reports its best guess from [`Session::protocol`].
//! - [`Session::done`] means the verdict will not change (TLS seen, upgrade
//!   accepted, authentication over, or enough messages): the engine may stop
//!   capturing the flow.
//! - Limits: an analyzer starts when one direction is recognised and reads the
//!   other direction from its next `feed` (which carries the whole prefix again);
//!   Telnet prompts and PostgreSQL single-byte answers are matched in feed order.

pub mod findings;

mod amqp;
mod dns;
mod ftp;
pub(crate) mod hpack;
mod http;
mod http2;
mod imap;
mod kafka;
mod ldap;
mod memcached;
mod midstream;
mod mongodb;
mod mqtt;
mod mysql;
mod pop3;
mod postgres;
mod redis;
mod smtp;
mod ssh;
mod telnet;
mod textproto;
mod tunnel;
mod wire;

#[cfg(test)]
mod tests;

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::config::Policy;
use crate::detect::{Finding, FindingDef, Severity};
use crate::flow::{Direction, FlowKey};

/// Every protocol the recognisers can name. `as_str` is the stable name used in
/// events, metrics labels and `[[allow]] protocol = ...` in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Http,
    Http2,
    Postgres,
    Mysql,
    Redis,
    Mongodb,
    Kafka,
    Amqp,
    Mqtt,
    Ldap,
    Smtp,
    Imap,
    Pop3,
    Ftp,
    Telnet,
    Memcached,
    Dns,
    Ssh,
    UnknownText,
    UnknownBinary,
}

impl Protocol {
    pub const ALL: [Protocol; 20] = [
        Protocol::Http,
        Protocol::Http2,
        Protocol::Postgres,
        Protocol::Mysql,
        Protocol::Redis,
        Protocol::Mongodb,
        Protocol::Kafka,
        Protocol::Amqp,
        Protocol::Mqtt,
        Protocol::Ldap,
        Protocol::Smtp,
        Protocol::Imap,
        Protocol::Pop3,
        Protocol::Ftp,
        Protocol::Telnet,
        Protocol::Memcached,
        Protocol::Dns,
        Protocol::Ssh,
        Protocol::UnknownText,
        Protocol::UnknownBinary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Postgres => "postgres",
            Protocol::Mysql => "mysql",
            Protocol::Redis => "redis",
            Protocol::Mongodb => "mongodb",
            Protocol::Kafka => "kafka",
            Protocol::Amqp => "amqp",
            Protocol::Mqtt => "mqtt",
            Protocol::Ldap => "ldap",
            Protocol::Smtp => "smtp",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Ftp => "ftp",
            Protocol::Telnet => "telnet",
            Protocol::Memcached => "memcached",
            Protocol::Dns => "dns",
            Protocol::Ssh => "ssh",
            Protocol::UnknownText => "unknown_text",
            Protocol::UnknownBinary => "unknown_binary",
        }
    }

    /// The `plaintext.<protocol>` finding id, or `None` when this class is never a
    /// plaintext finding (SSH is encrypted; unknown binary may well be encrypted).
    pub fn finding_id(self) -> Option<&'static str> {
        Some(match self {
            Protocol::Ssh | Protocol::UnknownBinary => return None,
            Protocol::UnknownText => "plaintext.unknown",
            Protocol::Http => "plaintext.http",
            Protocol::Http2 => "plaintext.http2",
            Protocol::Postgres => "plaintext.postgres",
            Protocol::Mysql => "plaintext.mysql",
            Protocol::Redis => "plaintext.redis",
            Protocol::Mongodb => "plaintext.mongodb",
            Protocol::Kafka => "plaintext.kafka",
            Protocol::Amqp => "plaintext.amqp",
            Protocol::Mqtt => "plaintext.mqtt",
            Protocol::Ldap => "plaintext.ldap",
            Protocol::Smtp => "plaintext.smtp",
            Protocol::Imap => "plaintext.imap",
            Protocol::Pop3 => "plaintext.pop3",
            Protocol::Ftp => "plaintext.ftp",
            Protocol::Telnet => "plaintext.telnet",
            Protocol::Memcached => "plaintext.memcached",
            Protocol::Dns => "plaintext.dns",
        })
    }

    /// Well-known server ports: used only to break ties between weak matches.
    fn default_ports(self) -> &'static [u16] {
        match self {
            Protocol::Http => &[80, 8000, 8008, 8080, 3128],
            Protocol::Postgres => &[5432],
            Protocol::Mysql => &[3306],
            Protocol::Redis => &[6379],
            Protocol::Mongodb => &[27017],
            Protocol::Kafka => &[9092],
            Protocol::Amqp => &[5672],
            Protocol::Mqtt => &[1883],
            Protocol::Ldap => &[389, 3268],
            Protocol::Smtp => &[25, 587, 2525],
            Protocol::Imap => &[143],
            Protocol::Pop3 => &[110],
            Protocol::Ftp => &[21, 2121],
            Protocol::Telnet => &[23],
            Protocol::Memcached => &[11211],
            Protocol::Dns => &[53],
            Protocol::Ssh => &[22],
            Protocol::Http2 | Protocol::UnknownText | Protocol::UnknownBinary => &[],
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown protocol {0:?}")]
pub struct UnknownProtocol(String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProtocol(s.to_owned()))
    }
}

/// STARTTLS-style upgrade state (SMTP/IMAP/POP3/FTP/LDAP STARTTLS, PostgreSQL
/// SSLRequest, MySQL SSL request): what the server offered and what happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StartTlsInfo {
    /// `Some(false)`: the server listed its capabilities without the upgrade.
    /// `None`: no capability listing was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered: Option<bool>,
    /// A capability that looks like a STARTTLS keyword overwritten in transit
    /// (e.g. `XXXXXXXA`), the signature of a stripping middlebox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mangled: Option<String>,
    pub requested: bool,
    /// The server's reply to the upgrade request (status code or keyword).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,
    /// Whether the bytes after the go-ahead were a TLS record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_followed: Option<bool>,
    /// The client kept talking in the clear although the upgrade was offered.
    pub cleartext_after_offer: bool,
}

/// The `plaintext` object of a JSON event. Holds no secret and no user name.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PlaintextInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
    /// The session is encrypted by the protocol itself (SSH, GSSAPI encryption,
    /// AMQP-over-TLS header): no plaintext finding.
    pub encrypted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Command verbs / methods / API names seen, in order, de-duplicated and capped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verbs: Vec<String>,
    /// Non-secret protocol facts (host, database, client id, mechanisms offered…).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<StartTlsInfo>,
    /// Mechanisms of cleartext credentials seen (`basic`, `pass`, `simple`…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_offsets: Option<[usize; 2]>,
}

/// A user name. Reported only when the policy says so; `Debug` never shows it,
/// so that a stray `{:?}` in a log cannot leak it either.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct UserName(pub(crate) String);

impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserName(<redacted>)")
    }
}

/// One cleartext credential exchange. The secret itself is never kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cred {
    pub mechanism: &'static str,
    pub user: Option<UserName>,
}

impl Cred {
    pub(crate) fn new(mechanism: &'static str, user: Option<String>) -> Self {
        Cred {
            mechanism,
            user: user.filter(|u| !u.is_empty()).map(UserName),
        }
    }
}

/// A protocol-specific finding raised by an analyzer (e.g. `postgres.ssl_refused`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Extra {
    pub id: &'static str,
    pub evidence: Vec<(&'static str, crate::detect::Evidence)>,
}

/// Everything an analyzer concluded so far. Rebuilt after every `feed`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    pub protocol: Option<Protocol>,
    pub version: Option<String>,
    pub verbs: Vec<String>,
    pub attrs: BTreeMap<&'static str, String>,
    pub encrypted: bool,
    pub starttls: Option<StartTlsInfo>,
    pub creds: Vec<Cred>,
    pub tls_offsets: Option<[usize; 2]>,
    pub extras: Vec<Extra>,
    pub done: bool,
}

/// Maximum verbs kept per session: enough to characterise it, bounded for events.
const MAX_VERBS: usize = 16;
/// Maximum credential records per session.
const MAX_CREDS: usize = 8;

impl Facts {
    pub(crate) fn starttls(&mut self) -> &mut StartTlsInfo {
        self.starttls.get_or_insert_with(StartTlsInfo::default)
    }

    fn info(&self) -> PlaintextInfo {
        let mut mechs: Vec<&'static str> = Vec::new();
        for c in &self.creds {
            if !mechs.contains(&c.mechanism) {
                mechs.push(c.mechanism);
            }
        }
        PlaintextInfo {
            protocol: self.protocol.map(Protocol::as_str),
            encrypted: self.encrypted,
            version: self.version.clone(),
            verbs: self.verbs.clone(),
            attrs: self.attrs.clone(),
            starttls: self.starttls.clone(),
            credentials: mechs,
            tls_offsets: self.tls_offsets,
        }
    }
}

/// Append a verb if new and if there is room.
pub(crate) fn push_verb(verbs: &mut Vec<String>, v: Option<String>) {
    if let Some(v) = v {
        if verbs.len() < MAX_VERBS && !verbs.contains(&v) {
            verbs.push(v);
        }
    }
}

/// Append a credential record if there is room.
pub(crate) fn push_cred(creds: &mut Vec<Cred>, c: Cred) {
    if creds.len() < MAX_CREDS {
        creds.push(c);
    }
}

/// A per-protocol incremental parser. `data` is the whole contiguous prefix of
/// `dir`; implementations keep their own offsets and never store payload bytes.
pub(crate) trait Analyzer: fmt::Debug + Send {
    fn feed(&mut self, dir: Direction, data: &[u8]);
    /// Write what is known into `facts` (already holding the sniffed protocol).
    fn facts(&self, facts: &mut Facts);
    /// Parse failures and caps met so far, for the agent's counters.
    fn trouble(&self) -> Trouble {
        Trouble::default()
    }
}

/// What an analyzer could not parse or would not hold, counted by the agent
/// (`plainsight_parse_errors_total`, `plainsight_dropped_total`). No payload in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trouble {
    /// HPACK header blocks that failed to decode (RFC 7541 errors).
    pub hpack_errors: u32,
    /// HPACK header blocks given up at one of the decoder's caps (block size, string
    /// length, field count).
    pub hpack_capped: u32,
}

/// A recogniser's verdict on the first bytes of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Cannot be this protocol.
    No,
    /// A prefix of a possible match: wait for more bytes.
    Maybe,
    /// A generic pattern shared with other protocols (port breaks the tie).
    Weak,
    /// A distinctive signature.
    Yes,
}

/// HAProxy PROXY protocol v2 signature ("The PROXY protocol", §2.2).
const PROXY_V2_SIG: &[u8] = b"\r\n\r\n\x00\r\nQUIT\n";
/// Longest v1 header line, CRLF included (§2.1).
const PROXY_V1_MAX: usize = 107;

/// Length and version of a PROXY protocol header that a load balancer put in
/// front of the client's bytes. `Err(())`: too few bytes to tell yet.
fn proxy_header(data: &[u8]) -> Result<Option<(usize, &'static str)>, ()> {
    let n = data.len().min(PROXY_V2_SIG.len());
    if PROXY_V2_SIG.get(..n) == data.get(..n) {
        let mut r = wire::Reader::new(data);
        let (Some(_), Some(_), Some(len)) = (r.skip(12), r.u16_be(), r.u16_be()) else {
            return Err(());
        };
        return Ok(Some((16 + usize::from(len), "v2")));
    }
    let n = data.len().min(6);
    if b"PROXY ".get(..n) == data.get(..n) {
        return match data.iter().take(PROXY_V1_MAX).position(|&b| b == b'\n') {
            Some(i) => Ok(Some((i + 1, "v1"))),
            None if data.len() < PROXY_V1_MAX => Err(()),
            None => Ok(None),
        };
    }
    Ok(None)
}

/// Bytes in one direction after which an unrecognised stream is called unknown.
const UNKNOWN_MIN: usize = 16;
/// After this many bytes a `Maybe` is no longer worth waiting for.
const SNIFF_MAX: usize = 512;
/// Minimum text ratio for `unknown_text`.
const TEXT_RATIO: f64 = 0.9;

#[derive(Debug)]
enum Stage {
    Sniffing,
    /// The first bytes were a TLS record: the TLS module owns this flow.
    Tls,
    Unknown,
    Active(Box<dyn Analyzer>),
}

/// Where a flow stands with a proxy preamble ([`tunnel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tunnel {
    /// The client's first bytes may still be a preamble.
    Undecided,
    /// The client's preamble is complete (this long): waiting for the proxy's answer.
    Asked(tunnel::Kind, usize),
    /// The proxy granted the tunnel: recognition starts at these offsets (client, server).
    Open(tunnel::Kind, [usize; 2]),
    Off,
}

/// Per-flow plaintext state, fed by the engine with each direction's prefix.
///
/// `Debug` is written by hand and shows only the verdict, never analyzer
/// internals: those hold user names, which go out only under the policy.
pub struct Session {
    server_port: u16,
    /// UDP: each `feed` is one datagram, not a stream prefix.
    datagram: bool,
    stage: Stage,
    first_dir: Option<Direction>,
    seen: [usize; 2],
    /// Text ratio of the first bytes per direction, for `unknown_*`.
    unknown_text: [Option<bool>; 2],
    /// PROXY protocol header in front of the client's bytes: `None` until known,
    /// then its length (0 when absent) and version.
    proxy: Option<(usize, &'static str)>,
    /// Weak candidates per direction while undecided.
    weak: [Vec<Protocol>; 2],
    /// The flow was first seen mid-stream (no SYN): the mid-stream recognisers also run.
    midstream: bool,
    /// The protocol was recognised by a mid-stream recogniser.
    mid_found: bool,
    /// A mid-stream recogniser waits for more bytes: the verdict is not final.
    mid_wait: bool,
    /// A SOCKS or HTTP CONNECT preamble in front of the tunnelled protocol.
    tunnel: Tunnel,
    /// Credentials the preamble carried (CONNECT `Proxy-Authorization`, SOCKS 5 password).
    tunnel_cred: Option<Cred>,
    facts: Facts,
    /// The event's view of `facts`, built on first use: `refresh` runs after every
    /// segment, and copying the facts' strings each time was 2% of the handshake mix
    /// while only the flow's end reads it. Empty means "derive it from `facts`".
    info: OnceCell<PlaintextInfo>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            Stage::Sniffing => "sniffing",
            Stage::Tls => "tls",
            Stage::Unknown => "unknown",
            Stage::Active(_) => "active",
        };
        f.debug_struct("Session")
            .field("server_port", &self.server_port)
            .field("datagram", &self.datagram)
            .field("stage", &stage)
            .field("protocol", &self.protocol())
            .field("seen", &self.seen)
            .field("tls_offsets", &self.facts.tls_offsets)
            .field("done", &self.done())
            .finish_non_exhaustive()
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new(0)
    }
}

/// Run every recogniser on the first bytes of one direction.
/// What the sniffers concluded about one direction's first bytes.
#[derive(Debug, PartialEq, Eq)]
enum Sniffed {
    Decided(Protocol),
    /// Only generic patterns matched: these candidates, pending the other
    /// direction (a `220` greeting is settled by the client's `USER` or `EHLO`).
    Ambiguous(Vec<Protocol>),
    Maybe,
    No,
}

/// Pick among weak candidates: those the other direction also allows, then the
/// port hint, then a lone candidate.
fn pick(weak: &[Protocol], other: &[Protocol], port: u16) -> Option<Protocol> {
    let on_port = |p: &&Protocol| p.default_ports().contains(&port);
    let both: Vec<Protocol> = weak.iter().copied().filter(|p| other.contains(p)).collect();
    both.iter()
        .find(on_port)
        .or(both.first())
        .or_else(|| weak.iter().find(on_port))
        .or_else(|| (weak.len() == 1).then(|| weak.first()).flatten())
        .copied()
}

type Sniffer = fn(Direction, &[u8], bool) -> Verdict;
// Order matters only among `Yes` answers, which are designed to be disjoint.
const SNIFFERS: &[(Protocol, Sniffer)] = &[
    (Protocol::Ssh, ssh::sniff),
    (Protocol::Http2, http2::sniff),
    (Protocol::Http, http::sniff),
    (Protocol::Amqp, amqp::sniff),
    (Protocol::Postgres, postgres::sniff),
    (Protocol::Mysql, mysql::sniff),
    (Protocol::Mongodb, mongodb::sniff),
    (Protocol::Mqtt, mqtt::sniff),
    (Protocol::Ldap, ldap::sniff),
    (Protocol::Kafka, kafka::sniff),
    (Protocol::Telnet, telnet::sniff),
    (Protocol::Imap, imap::sniff),
    (Protocol::Pop3, pop3::sniff),
    (Protocol::Smtp, smtp::sniff),
    (Protocol::Ftp, ftp::sniff),
    (Protocol::Redis, redis::sniff),
    (Protocol::Memcached, memcached::sniff),
    (Protocol::Dns, dns::sniff),
];

fn sniff(dir: Direction, data: &[u8], first: bool, port: u16, other: &[Protocol]) -> Sniffed {
    let mut weak: Vec<Protocol> = Vec::new();
    let mut maybe = false;
    for (proto, f) in SNIFFERS {
        match f(dir, data, first) {
            Verdict::Yes => return Sniffed::Decided(*proto),
            Verdict::Weak => weak.push(*proto),
            Verdict::Maybe => maybe = true,
            Verdict::No => {}
        }
    }
    if !weak.is_empty() {
        // A weak match waits for a possibly stronger one while the prefix is
        // short; a complete line is enough to settle it.
        let settled = !(maybe && data.len() < UNKNOWN_MIN && !data.ends_with(b"\n"));
        if settled {
            if let Some(p) = pick(&weak, other, port) {
                return Sniffed::Decided(p);
            }
        }
        if data.len() >= SNIFF_MAX {
            if let Some(p) = weak.first() {
                return Sniffed::Decided(*p);
            }
        }
        return Sniffed::Ambiguous(weak);
    }
    if maybe && data.len() < SNIFF_MAX {
        Sniffed::Maybe
    } else {
        Sniffed::No
    }
}

fn new_analyzer(p: Protocol, datagram: bool) -> Box<dyn Analyzer> {
    match p {
        Protocol::Http => Box::<http::Http>::default(),
        Protocol::Http2 => Box::<http2::Http2>::default(),
        Protocol::Postgres => Box::<postgres::Postgres>::default(),
        Protocol::Mysql => Box::<mysql::Mysql>::default(),
        Protocol::Redis => Box::<redis::Redis>::default(),
        Protocol::Mongodb => Box::<mongodb::Mongodb>::default(),
        Protocol::Kafka => Box::<kafka::Kafka>::default(),
        Protocol::Amqp => Box::<amqp::Amqp>::default(),
        Protocol::Mqtt => Box::<mqtt::Mqtt>::default(),
        Protocol::Ldap => Box::<ldap::Ldap>::default(),
        Protocol::Smtp => Box::<smtp::Smtp>::default(),
        Protocol::Imap => Box::<imap::Imap>::default(),
        Protocol::Pop3 => Box::<pop3::Pop3>::default(),
        Protocol::Ftp => Box::<ftp::Ftp>::default(),
        Protocol::Telnet => Box::<telnet::Telnet>::default(),
        Protocol::Memcached => Box::<memcached::Memcached>::default(),
        Protocol::Dns => Box::new(dns::Dns::new(datagram)),
        Protocol::Ssh | Protocol::UnknownText | Protocol::UnknownBinary => {
            Box::<ssh::Ssh>::default()
        }
    }
}

/// The mid-stream recognisers of one direction: the first-message ones with the direction
/// reversed (the orientation of a flow seen mid-stream is a guess), then the chains of
/// [`midstream::sniff`]. Only distinctive (`Yes`) first-message matches count.
fn sniff_midstream(dir: Direction, data: &[u8]) -> midstream::Mid {
    let reversed = SNIFFERS
        .iter()
        .find(|(_, f)| f(dir.reverse(), data, false) == Verdict::Yes);
    if let Some((p, _)) = reversed {
        return midstream::Mid::Found(*p);
    }
    midstream::sniff(data)
}

/// The analyzer of a protocol recognised mid-stream: the message parsers expect the
/// conversation's start, so only the protocol is reported (its `plaintext.<protocol>`
/// finding fires; credentials, sent at the start, are not seen).
#[derive(Debug)]
struct Midstream;

impl Analyzer for Midstream {
    fn feed(&mut self, _dir: Direction, _data: &[u8]) {}
    fn facts(&self, facts: &mut Facts) {
        facts.done = true;
    }
}

impl Session {
    pub fn new(server_port: u16) -> Self {
        Session {
            server_port,
            datagram: false,
            stage: Stage::Sniffing,
            first_dir: None,
            seen: [0; 2],
            unknown_text: [None; 2],
            weak: [Vec::new(), Vec::new()],
            proxy: None,
            midstream: false,
            mid_found: false,
            mid_wait: false,
            tunnel: Tunnel::Undecided,
            tunnel_cred: None,
            facts: Facts::default(),
            info: OnceCell::from(PlaintextInfo::default()),
        }
    }

    /// The flow was first seen mid-stream (no SYN before its first payload): when the
    /// first-message recognisers find nothing, the mid-stream ones ([`midstream`]) run too.
    pub fn set_midstream(&mut self) {
        self.midstream = true;
    }

    /// The proxy preamble the protocol was found behind (`socks5`, `http_connect`…).
    pub fn proxy(&self) -> Option<&'static str> {
        match self.tunnel {
            Tunnel::Open(k, _) => Some(k.as_str()),
            _ => None,
        }
    }

    /// The part of `data` after a proxy preamble ([`tunnel`]), or `None` while the preamble
    /// or the proxy's answer is incomplete (the next `feed` carries the whole prefix again).
    /// A refused or absent preamble leaves the bytes as they are.
    fn tunnel_view<'a>(&mut self, dir: Direction, data: &'a [u8]) -> Option<&'a [u8]> {
        if self.datagram {
            return Some(data);
        }
        let to_server = dir == Direction::ToServer;
        match self.tunnel {
            Tunnel::Off => Some(data),
            Tunnel::Open(kind, mut skip) => {
                let i = dir.index();
                let at = skip.get(i).copied().unwrap_or(0);
                let start = tunnel::tunnel_start(kind, data, at);
                if start != at {
                    if let Some(s) = skip.get_mut(i) {
                        *s = start;
                    }
                    self.tunnel = Tunnel::Open(kind, skip);
                }
                data.get(start..).filter(|d| !d.is_empty())
            }
            Tunnel::Undecided if to_server => match tunnel::client(data) {
                tunnel::Client::None => {
                    self.tunnel = Tunnel::Off;
                    Some(data)
                }
                tunnel::Client::Pending => None,
                tunnel::Client::Found(k, n) => {
                    self.tunnel = Tunnel::Asked(k, n);
                    self.tunnel_cred = tunnel::credentials(k, data);
                    None
                }
            },
            // The server answers a preamble still being sent (SOCKS 5 method selection).
            Tunnel::Undecided if self.seen[0] > 0 => None,
            Tunnel::Undecided => {
                self.tunnel = Tunnel::Off;
                Some(data)
            }
            Tunnel::Asked(..) if to_server => None,
            Tunnel::Asked(k, n) => match tunnel::server(k, data) {
                tunnel::Server::Pending => None,
                tunnel::Server::No => {
                    self.tunnel = Tunnel::Off;
                    Some(data)
                }
                tunnel::Server::Granted(s) => {
                    let s = tunnel::tunnel_start(k, data, s);
                    self.tunnel = Tunnel::Open(k, [n, s]);
                    data.get(s..).filter(|d| !d.is_empty())
                }
            },
        }
    }

    /// The protocol came from a mid-stream recogniser (the event's `midstream`).
    pub fn recognised_midstream(&self) -> bool {
        self.mid_found
    }

    /// A session whose recogniser already chose `protocol`: `feed` goes straight to that
    /// protocol's analyser. For fuzzing and tests that drive one analyser on any bytes.
    pub fn with_protocol(protocol: Protocol, server_port: u16, datagram: bool) -> Self {
        let mut s = Session {
            datagram,
            ..Session::new(server_port)
        };
        s.facts.protocol = Some(protocol);
        s.stage = Stage::Active(new_analyzer(protocol, datagram));
        s
    }

    /// For a UDP flow: `feed` then takes whole datagrams.
    pub fn new_datagram(server_port: u16) -> Self {
        Session {
            datagram: true,
            ..Session::new(server_port)
        }
    }

    /// `data` is the whole contiguous prefix of `dir` so far (TCP), or one datagram.
    pub fn feed(&mut self, dir: Direction, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let i = dir.index();
        if let Some(s) = self.seen.get_mut(i) {
            *s = (*s).max(data.len());
        }
        if self.first_dir.is_none() {
            self.first_dir = Some(dir);
        }
        let first = self.first_dir == Some(dir);
        let data = if dir == Direction::ToServer {
            if self.proxy.is_none() {
                match proxy_header(data) {
                    Err(()) => return,
                    Ok(h) => self.proxy = Some(h.unwrap_or((0, ""))),
                }
            }
            let skip = self.proxy.map_or(0, |(n, _)| n);
            match data.get(skip..) {
                Some(rest) if !rest.is_empty() => rest,
                _ => return,
            }
        } else {
            data
        };
        let Some(data) = self.tunnel_view(dir, data) else {
            return;
        };
        match &mut self.stage {
            Stage::Tls => return,
            Stage::Active(a) => a.feed(dir, data),
            Stage::Sniffing | Stage::Unknown => {
                if matches!(self.stage, Stage::Sniffing) && wire::starts_tls(data) == Some(true) {
                    self.stage = Stage::Tls;
                    self.facts = Facts::default();
                    // Set here once (no `refresh` follows in this stage).
                    let mut info = PlaintextInfo::default();
                    // Behind a PROXY header the TLS module needs to know where
                    // the ClientHello starts.
                    if let Some((skip, version)) = self.proxy.filter(|(n, _)| *n > 0) {
                        self.facts.tls_offsets = Some([skip, 0]);
                        info.tls_offsets = Some([skip, 0]);
                        info.attrs.insert("proxy_protocol", version.into());
                    }
                    // Behind a SOCKS or CONNECT preamble: TLS starts after it, both ways.
                    // A CONNECT is HTTP to this module, as before tunnels were looked into
                    // (the engine names such a flow `tls`).
                    if let Tunnel::Open(kind, [c, s]) = self.tunnel {
                        let c = c + self.proxy.map_or(0, |(n, _)| n);
                        self.facts.tls_offsets = Some([c, s]);
                        info.tls_offsets = Some([c, s]);
                        if kind == tunnel::Kind::HttpConnect {
                            self.facts.protocol = Some(Protocol::Http);
                            info.protocol = Some(Protocol::Http.as_str());
                        }
                    }
                    self.info = OnceCell::from(info);
                    return;
                }
                let other = self
                    .weak
                    .get(dir.reverse().index())
                    .cloned()
                    .unwrap_or_default();
                let sniffed = if self.datagram && dns::sniff_datagram(dir, data) {
                    Sniffed::Decided(Protocol::Dns)
                } else {
                    sniff(dir, data, first, self.server_port, &other)
                };
                if self.midstream && matches!(sniffed, Sniffed::No | Sniffed::Maybe) {
                    self.mid_wait = false;
                    match sniff_midstream(dir, data) {
                        midstream::Mid::Found(p) => {
                            self.facts.protocol = Some(p);
                            self.stage = Stage::Active(Box::new(Midstream));
                            self.mid_found = true;
                            self.refresh();
                            return;
                        }
                        // Called unknown meanwhile (as without the mid-stream
                        // recognisers), but not done: more bytes may settle it.
                        midstream::Mid::Wait => self.mid_wait = true,
                        midstream::Mid::No => {}
                    }
                }
                match sniffed {
                    Sniffed::Ambiguous(w) => {
                        if let Some(slot) = self.weak.get_mut(i) {
                            *slot = w;
                        }
                    }
                    Sniffed::Decided(p) => {
                        let mut a = new_analyzer(p, self.datagram);
                        a.feed(dir, data);
                        self.facts.protocol = Some(p);
                        self.stage = Stage::Active(a);
                    }
                    Sniffed::Maybe => {}
                    Sniffed::No => {
                        if data.len() >= UNKNOWN_MIN {
                            let head = data.get(..256).unwrap_or(data);
                            if let Some(t) = self.unknown_text.get_mut(i) {
                                *t = Some(wire::text_ratio(head) >= TEXT_RATIO);
                            }
                            self.stage = Stage::Unknown;
                        }
                    }
                }
            }
        }
        self.refresh();
    }

    fn refresh(&mut self) {
        let mut facts = Facts {
            protocol: self.facts.protocol,
            ..Facts::default()
        };
        match &self.stage {
            Stage::Active(a) => a.facts(&mut facts),
            Stage::Unknown => {
                let text = self.unknown_text.contains(&Some(true));
                facts.protocol = Some(if text {
                    Protocol::UnknownText
                } else {
                    Protocol::UnknownBinary
                });
                facts.done = (self.seen.iter().all(|&n| n >= UNKNOWN_MIN)
                    || self.seen.iter().any(|&n| n >= SNIFF_MAX))
                    && !self.mid_wait;
            }
            Stage::Sniffing | Stage::Tls => {}
        }
        // Offsets are relative to the bytes after a proxy preamble, then a PROXY header.
        if let (Tunnel::Open(_, [c, s]), Some(o)) = (self.tunnel, facts.tls_offsets.as_mut()) {
            o[0] += c;
            o[1] += s;
        }
        if let Some((skip, version)) = self.proxy.filter(|(n, _)| *n > 0) {
            if let Some(o) = facts.tls_offsets.as_mut() {
                o[0] += skip;
            }
            facts.attrs.insert("proxy_protocol", version.into());
        }
        // Nothing recognised behind an HTTP CONNECT yet: the flow is the CONNECT's HTTP, as
        // it was before the tunnel was looked into.
        if facts.protocol.is_none()
            && matches!(self.tunnel, Tunnel::Open(tunnel::Kind::HttpConnect, _))
        {
            facts.protocol = Some(Protocol::Http);
        }
        // Undecided but with generic matches: report the best guess so a flow
        // that ends here is not lost (its analyzer never ran, so no findings
        // beyond plaintext.<protocol>).
        if matches!(self.stage, Stage::Sniffing | Stage::Unknown) {
            let [a, b] = &self.weak;
            let guess = pick(a, b, self.server_port)
                .or_else(|| pick(b, a, self.server_port))
                .or_else(|| a.first().or(b.first()).copied());
            if guess.is_some() {
                facts.protocol = guess;
            }
        }
        self.facts = facts;
        self.info = OnceCell::new();
    }

    /// The event's view of the current facts, with the preamble's credentials first.
    fn derive_info(&self) -> PlaintextInfo {
        let mut info = self.facts.info();
        if let Some(c) = &self.tunnel_cred {
            if !info.credentials.contains(&c.mechanism) {
                info.credentials.insert(0, c.mechanism);
            }
        }
        info
    }

    /// Protocol name once recognised (`http`, `postgres`, `ssh`, `unknown_text`…).
    pub fn protocol(&self) -> Option<&'static str> {
        self.facts.protocol.map(Protocol::as_str)
    }

    /// After a STARTTLS go-ahead: the byte offsets, per direction (to_server, to_client),
    /// where TLS begins.
    pub fn tls_offsets(&self) -> Option<[usize; 2]> {
        self.facts.tls_offsets
    }

    /// A STARTTLS-style go-ahead was given and it is not known yet whether TLS followed.
    pub fn upgrade_pending(&self) -> bool {
        self.facts
            .starttls
            .as_ref()
            .is_some_and(|s| s.accepted == Some(true) && s.tls_followed.is_none())
    }

    /// After the go-ahead, something other than TLS followed (`starttls.failed`).
    pub fn upgrade_failed(&self) -> bool {
        self.facts
            .starttls
            .as_ref()
            .is_some_and(|s| s.accepted == Some(true) && s.tls_followed == Some(false))
    }

    /// Nothing more worth reading for this module: the verdict will not change.
    /// After an upgrade (`tls_offsets`), the TLS module still wants the bytes
    /// that follow the offsets.
    pub fn done(&self) -> bool {
        match self.stage {
            Stage::Tls => true,
            _ => self.facts.done,
        }
    }

    pub fn info(&self) -> &PlaintextInfo {
        self.info.get_or_init(|| self.derive_info())
    }

    /// Moves the facts out (the flow is ending); what is left behind reads as empty.
    pub fn take_info(&mut self) -> PlaintextInfo {
        let info = self.info.take().unwrap_or_else(|| self.derive_info());
        self.info = OnceCell::from(PlaintextInfo::default());
        info
    }

    /// Parse failures and caps met by the active analyzer.
    pub fn trouble(&self) -> Trouble {
        match &self.stage {
            Stage::Active(a) => a.trouble(),
            _ => Trouble::default(),
        }
    }

    /// Findings for this flow under `policy`. Credentials are always reported
    /// (allow rules accept a plaintext protocol, never a leaked password); user
    /// names appear only with `report_usernames`.
    pub fn findings(&self, key: &FlowKey, policy: &Policy) -> Vec<Finding> {
        let f = &self.facts;
        // TLS behind an HTTP CONNECT: the credentials of the CONNECT are still reported.
        let connect = matches!(self.tunnel, Tunnel::Open(tunnel::Kind::HttpConnect, _))
            .then_some(Protocol::Http);
        let Some(proto) = f
            .protocol
            .or(connect.filter(|_| self.tunnel_cred.is_some()))
        else {
            return Vec::new();
        };
        if f.encrypted {
            return Vec::new();
        }
        let internal = policy.is_internal(key.client_ip()) && policy.is_internal(key.server_ip());
        let ends = crate::config::Ends {
            client: key.client_ip(),
            server: key.server_ip(),
            port: key.server.port(),
        };
        let allowed = policy.allowed(proto.as_str(), ends);
        let locality = if internal { "internal" } else { "external" };
        let mut out: Vec<Finding> = Vec::new();
        let st = f.starttls.as_ref();
        let upgraded = f.tls_offsets.is_some() && st.is_none_or(|s| s.tls_followed != Some(false));

        if !allowed {
            if let Some(def) = proto.finding_id().and_then(findings::def) {
                if !upgraded {
                    let mut fi = Finding::new(def)
                        .with("protocol", proto.as_str())
                        .with("locality", locality)
                        .with_severity(escalate(def.severity, internal));
                    // A plain-HTTP server that only sends clients to HTTPS is doing what
                    // RFC 6797 §7.2 asks: low, wherever the client is.
                    if proto == Protocol::Http
                        && f.attrs.get("redirect").is_some_and(|r| r == "https")
                    {
                        fi = fi.with("redirect", "https").with_severity(Severity::Low);
                    }
                    if let Some(v) = &f.version {
                        fi = fi.with("version", v.clone());
                    }
                    if let Some(first) = f.verbs.first() {
                        fi = fi.with("verb", first.clone());
                    }
                    out.push(fi);
                }
            }
            if let Some(s) = st {
                starttls_findings(proto, s, &mut out);
            }
            for e in &f.extras {
                if let Some(def) = findings::def(e.id) {
                    let mut fi = Finding::new(def).with("protocol", proto.as_str());
                    for (k, v) in &e.evidence {
                        fi = fi.with(k, v.clone());
                    }
                    out.push(fi);
                }
            }
        }

        let mut mechs: BTreeSet<&'static str> = BTreeSet::new();
        // The preamble's credentials crossed the wire whether or not the proxy granted the
        // tunnel (a refused CONNECT's own analyser reports the same mechanism once).
        for c in self.tunnel_cred.iter().chain(&f.creds) {
            if !mechs.insert(c.mechanism) {
                continue;
            }
            let Some(def) = findings::def(findings::CREDENTIALS) else {
                continue;
            };
            let mut fi = Finding::new(def)
                .with("protocol", proto.as_str())
                .with("mechanism", c.mechanism)
                .with("locality", locality)
                .with_severity(escalate(def.severity, internal));
            if policy.report_usernames() {
                if let Some(u) = &c.user {
                    fi = fi.with("user", u.0.clone());
                }
            }
            out.push(fi);
        }
        for fi in &mut out {
            fi.severity = policy.severity(fi.id, fi.severity);
        }
        out
    }
}

/// Traffic leaving the internal networks is one severity level worse.
pub(crate) fn escalate(sev: Severity, internal: bool) -> Severity {
    if internal {
        return sev;
    }
    match sev {
        Severity::Info => Severity::Low,
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        Severity::High | Severity::Critical => Severity::Critical,
    }
}

fn starttls_findings(proto: Protocol, s: &StartTlsInfo, out: &mut Vec<Finding>) {
    let mk = |id: &str| findings::def(id).map(|d| Finding::new(d).with("protocol", proto.as_str()));
    if let Some(token) = &s.mangled {
        if let Some(fi) = mk(findings::STARTTLS_STRIPPED) {
            out.push(fi.with("capability", token.clone()));
        }
    } else if s.requested && s.accepted == Some(false) {
        if let Some(fi) = mk(findings::STARTTLS_STRIPPED) {
            out.push(fi.with("reply", s.reply.clone().unwrap_or_default()));
        }
    }
    if s.requested && s.accepted == Some(true) && s.tls_followed == Some(false) {
        if let Some(fi) = mk(findings::STARTTLS_FAILED) {
            out.push(fi.with("reply", s.reply.clone().unwrap_or_default()));
        }
    }
    if s.offered == Some(true) && !s.requested && s.cleartext_after_offer {
        if let Some(fi) = mk(findings::STARTTLS_NOT_USED) {
            out.push(fi);
        }
    }
    if s.offered == Some(false) && s.mangled.is_none() && !s.requested {
        if let Some(fi) = mk(findings::STARTTLS_NOT_OFFERED) {
            out.push(fi);
        }
    }
}

/// The catalogue entry for a finding id (helper for the engine and docs tests).
pub fn def(id: &str) -> Option<&'static FindingDef> {
    findings::def(id)
}
