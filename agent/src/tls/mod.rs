//! TLS handshake analysis: records, handshake messages, certificates, fingerprints, findings.
//!
//! Owner: the TLS work (issue 3). The engine uses only [`probe`], [`Session`], [`Close`] and
//! [`TlsInfo`].
//!
//! Only what travels in the clear is read: the hellos, the TLS 1.2-and-below Certificate and
//! ServerKeyExchange, plaintext alerts and heartbeats, and the bare headers of the first
//! encrypted records (to know that the handshake finished). Nothing is decrypted.
//!
//! Each direction is parsed record by record from an offset into the growing prefix the
//! engine passes in, so a record split over segments is simply waited for, and a handshake
//! message split over records is reassembled in a small bounded buffer.

pub mod cert;
pub mod dtls;
pub mod findings;
pub mod fingerprint;
pub mod handshake;
pub mod names;
pub mod openvpn;
pub mod record;
pub mod suites;

use std::borrow::Cow;

use serde::Serialize;

use crate::detect::Finding;
use crate::flow::Direction;
use crate::time::Timestamp;

use cert::{CertInfo, ClientCertInfo};
use handshake::{ClientHello, ServerHello, Ssl2ServerHello};
use record::{Next, Record};

/// Errors of the TLS parsers. They never escape [`Session`]: a parse error ends the analysis
/// of that direction and is remembered as the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("not a TLS record header")]
    BadRecordHeader,
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("unexpected {0}")]
    Unexpected(&'static str),
    #[error("handshake message larger than the reassembly cap")]
    TooLarge,
    #[error("certificate is not valid DER X.509")]
    Certificate,
}

/// Handshake reassembly cap per direction. A certificate chain is a few KiB; anything past
/// this is not worth holding for a monitor.
const MAX_HANDSHAKE_BUFFER: usize = 64 * 1024;

/// How many encrypted record headers to look at per direction before stopping: enough to see
/// the Finished (and TLS 1.3 early data) without following the application stream.
const MAX_ENCRYPTED_RECORDS: u32 = 4;
/// Largest TLS 1.3 encrypted alert record body: the 2-byte alert, the inner content
/// type and a 16-byte AEAD tag (RFC 8446 §5.2), unpadded.
const ENCRYPTED_ALERT_MAX: usize = 2 + 1 + 16;
/// Encrypted records the TLS 1.3 server may send before the client's flight: its flight is
/// EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify and Finished, one
/// record each in OpenSSL; the cap only bounds a server that never stops.
const MAX_TLS13_SERVER_RECORDS: u32 = 12;
/// Smallest client Certificate a TLS 1.3 client's first encrypted record can carry beyond
/// an empty one: a DER certificate is well over 100 bytes (an Ed25519 self-signed one with
/// a one-letter name is about 130).
const MIN_CLIENT_CERT_DER: usize = 100;

/// Whether a direction's first bytes look like TLS (or SSLv2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Yes,
    No,
    NeedMore,
}

/// Classify the first bytes of a direction: a TLS handshake or alert record (RFC 8446 §5.1),
/// or an SSL 2.0 CLIENT-HELLO / SERVER-HELLO record.
pub fn probe(data: &[u8]) -> Probe {
    let Some(&b0) = data.first() else {
        return Probe::NeedMore;
    };
    if b0 == record::CT_HANDSHAKE || b0 == record::CT_ALERT {
        match record::plausible_header(data) {
            Some(false) => return Probe::No,
            None => {
                // Check what is there so far: major version 3, minor ≤ 4.
                let ok = data.get(1).is_none_or(|m| *m == 3) && data.get(2).is_none_or(|m| *m <= 4);
                return if ok { Probe::NeedMore } else { Probe::No };
            }
            Some(true) => {}
        }
        if b0 == record::CT_ALERT {
            return if data.get(3..5) == Some(&[0, 2][..]) {
                Probe::Yes
            } else {
                Probe::No
            };
        }
        return match data.get(5) {
            None => Probe::NeedMore,
            Some(&t) if t == handshake::HS_CLIENT_HELLO || t == handshake::HS_SERVER_HELLO => {
                Probe::Yes
            }
            Some(_) => Probe::No,
        };
    }
    if b0 & 0x80 != 0 {
        return match (data.get(2), data.get(3)) {
            (None, _) | (Some(1), None) => Probe::NeedMore,
            (Some(1), Some(&major)) if major == 0 || major == 3 => Probe::Yes,
            (Some(4), _) => Probe::Yes,
            _ => Probe::No,
        };
    }
    Probe::No
}

/// How a flow ended, for handshake-failure detection. The direction is the one the segment
/// carrying the FIN or RST travelled in (`ToServer`: the client closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    Fin(Direction),
    Rst(Direction),
    /// Idle timeout or end of capture.
    Timeout,
}

/// The `tls` object of a JSON event. Field names are a public contract (docs/findings.md).
/// Absent values serialise as `null` and empty lists as `[]`, so consumers see a fixed shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    /// Negotiated version (`SSL 2.0` … `TLS 1.3`), `null` until a ServerHello says it.
    pub version: Option<Cow<'static, str>>,
    /// Versions the client offered: `supported_versions` (GREASE removed) when present,
    /// else its single legacy maximum.
    pub client_versions: Vec<Cow<'static, str>>,
    /// IANA name of the negotiated suite (or SSLv2 cipher kind).
    pub cipher: Option<Cow<'static, str>>,
    pub sni: Option<String>,
    /// The client's ALPN list (non-UTF-8 bytes shown lossily).
    pub alpn: Vec<String>,
    pub alpn_selected: Option<String>,
    /// The client's supported groups, GREASE removed.
    pub groups: Vec<Cow<'static, str>>,
    /// From the ServerHello key_share (TLS 1.3) or the ServerKeyExchange curve (TLS ≤ 1.2).
    pub group_selected: Option<Cow<'static, str>>,
    pub ja3: Option<String>,
    pub ja3s: Option<String>,
    pub ja4: Option<String>,
    pub fallback_scsv: bool,
    pub established: bool,
    pub resumed: bool,
    /// Description of the last plaintext alert, e.g. `handshake_failure`.
    pub alert: Option<String>,
    /// Shared with the certificate cache ([`cert::parse_cached`]): real traffic repeats one
    /// chain over many connections, and a copy of its strings per flow was measurable.
    pub cert: Option<std::sync::Arc<CertInfo>>,
    /// Mutual TLS: whether the client presented a certificate (see [`ClientAuth`]).
    pub client_auth: ClientAuth,
    pub client_auth_source: ClientAuthSource,
    /// The client certificate's names (TLS ≤ 1.2 only: encrypted in TLS 1.3).
    pub client_cert: Option<ClientCertInfo>,
    /// The flow was first seen mid-stream and its records are application data: TLS, with
    /// no handshake fields. Absent (not `false`) otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub midstream: bool,
}

/// Whether the client authenticated with a certificate (mutual TLS): `tls.client_auth`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// The server asked for no certificate.
    None,
    /// The server sent a CertificateRequest; the client answered with an empty Certificate
    /// (or none).
    Requested,
    /// The client sent a certificate.
    Presented,
    /// Not visible: the handshake was cut short, resumed (the authentication belongs to the
    /// original handshake), or the TLS 1.3 record sizes fit no rule.
    #[default]
    Unknown,
}

impl ClientAuth {
    /// The metric label and JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Requested => "requested",
            ClientAuth::Presented => "presented",
            ClientAuth::Unknown => "unknown",
        }
    }
}

/// Where `tls.client_auth` comes from: `tls.client_auth_source`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthSource {
    /// The CertificateRequest and client Certificate messages, in the clear (TLS ≤ 1.2).
    #[default]
    Handshake,
    /// The size of the TLS 1.3 client's first encrypted record (its messages are encrypted).
    Inferred,
}

impl ClientAuthSource {
    /// The JSON value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthSource::Handshake => "handshake",
            ClientAuthSource::Inferred => "inferred",
        }
    }
}

/// One plaintext alert (RFC 5246 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertEvent {
    pub dir: Direction,
    pub level: u8,
    pub description: u8,
    /// Sent before the handshake was known to be complete.
    pub during_handshake: bool,
}

/// Minimum heartbeat padding (RFC 6520 §4).
const HEARTBEAT_MIN_PADDING: usize = 16;

/// One plaintext heartbeat message (RFC 6520 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatEvent {
    pub dir: Direction,
    /// 1 = request, 2 = response.
    pub kind: u8,
    pub payload_length: u16,
    pub record_length: usize,
}

impl HeartbeatEvent {
    /// The Heartbleed pattern (CVE-2014-0160): a request whose payload_length does not fit in
    /// its record together with the type, the length and the mandatory 16 bytes of padding
    /// (RFC 6520 §4: such a message must be discarded). A vulnerable peer instead answers
    /// with payload_length bytes of its own memory.
    pub fn overlong(&self) -> bool {
        self.kind == 1
            && usize::from(self.payload_length) + 3 + HEARTBEAT_MIN_PADDING > self.record_length
    }
}

/// Everything kept from the handshake beyond [`TlsInfo`], for findings and the golden harness.
#[derive(Clone, Debug, Default)]
pub struct Handshake {
    /// The first ClientHello (fingerprints and offers come from it).
    pub client_hello: Option<ClientHello>,
    /// A second ClientHello, sent after a HelloRetryRequest.
    pub client_hello_retry: Option<ClientHello>,
    pub server_hello: Option<ServerHello>,
    pub hello_retry_request: Option<ServerHello>,
    pub ssl2_server_hello: Option<Ssl2ServerHello>,
    /// SSLv2 CLIENT-MASTER-KEY cipher kind.
    pub ssl2_cipher: Option<u32>,
    /// Certificates in the server's chain (complete ones only).
    pub cert_chain_len: usize,
    /// The leaf certificate was complete but x509-parser rejected it.
    pub cert_unparsable: bool,
    /// The server sent a Certificate message (TLS ≤ 1.2), parsable or not.
    pub certificate_seen: bool,
    pub key_exchange: Option<handshake::KeyExchangeParams>,
    pub server_hello_done: bool,
    pub client_key_exchange: bool,
    pub new_session_ticket: bool,
    /// The server sent a CertificateRequest in the clear (TLS ≤ 1.2).
    pub certificate_request: bool,
    /// Certificates in the client's Certificate message (TLS ≤ 1.2); `Some(0)`: empty.
    pub client_cert_chain_len: Option<usize>,
    /// TLS 1.3: length of the client's first encrypted record after the ServerHello (its
    /// Finished, or Certificate first when the server asked for one), read from the header.
    pub client_flight_len: Option<usize>,
    /// TLS 1.3, the client answered a CertificateRequest with an empty Certificate: whether
    /// the server's next record was alert-sized (it refused the handshake).
    pub client_auth_refused: Option<bool>,
    pub alerts: Vec<AlertEvent>,
    /// Alert records seen after encryption started (their content is unreadable).
    pub encrypted_alerts: [u32; 2],
    pub heartbeats: Vec<HeartbeatEvent>,
    /// ChangeCipherSpec seen, per direction (index = `Direction::index`).
    pub ccs: [bool; 2],
    /// Encrypted records seen after encryption started, per direction.
    pub encrypted_records: [u32; 2],
    /// Application-data records seen, per direction.
    pub app_data: [u32; 2],
    /// The TLS 1.3 client's first encrypted record is alert-sized: it refused the handshake.
    pub client_short_encrypted: bool,
    /// Why each direction stopped being parsed, if it did.
    pub stopped: [Option<Stop>; 2],
    pub close: Option<Close>,
}

/// Why parsing of a direction stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Encryption started and the interesting headers were seen.
    Encrypted,
    /// A fatal alert was sent.
    FatalAlert,
    /// Bytes that are not TLS.
    Garbage(TlsError),
}

/// What [`Session::try_ssl2`] did with the bytes at the current offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ssl2Step {
    /// Consumed an SSLv2 record of this many bytes.
    Consumed(usize),
    /// Not SSLv2: parse as TLS records.
    NotSsl2,
    /// An SSLv2 record has started but is incomplete.
    Wait,
    /// The direction stopped (encrypted or garbage).
    Stopped,
}

#[derive(Default)]
struct DirState {
    off: usize,
    hs: Vec<u8>,
    encrypted: bool,
    /// A ChangeCipherSpec came before the ServerHello told us whether it is the TLS 1.3
    /// middlebox-compatibility one (RFC 8446 appendix D.4) or a real one.
    ambiguous_ccs: bool,
    sslv2: bool,
    /// Bytes of an oversized handshake message still to discard.
    skip: usize,
}

impl std::fmt::Debug for DirState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirState")
            .field("off", &self.off)
            .field("hs", &crate::redact::Len(&self.hs))
            .field("encrypted", &self.encrypted)
            .field("ambiguous_ccs", &self.ambiguous_ccs)
            .field("sslv2", &self.sslv2)
            .field("skip", &self.skip)
            .finish()
    }
}

/// Per-connection TLS state.
#[derive(Debug, Default)]
pub struct Session {
    info: TlsInfo,
    hs: Handshake,
    dirs: [DirState; 2],
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Session {
    pub fn new() -> Self {
        Session::default()
    }

    /// Details beyond the JSON contract: every offer, alert and record seen.
    pub fn handshake(&self) -> &Handshake {
        &self.hs
    }

    /// `data` is the whole contiguous prefix of `dir` so far; the session remembers what it parsed.
    pub fn feed(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        if self.hs.stopped.get(i).copied().flatten().is_some() {
            return;
        }
        loop {
            let Some(st) = self.dirs.get(i) else { return };
            let Some(rest) = data.get(st.off..) else {
                return;
            };
            if rest.is_empty() {
                return;
            }
            if st.off == 0 || st.sslv2 {
                match self.try_ssl2(dir, rest) {
                    Ssl2Step::Consumed(used) => {
                        self.advance(i, used);
                        continue;
                    }
                    Ssl2Step::NotSsl2 => {}
                    Ssl2Step::Wait | Ssl2Step::Stopped => return,
                }
            }
            match record::next_record(rest) {
                Ok(Next::Incomplete) => {
                    self.peek_certificate(dir, rest);
                    self.peek_heartbeat(dir, rest);
                    self.peek_client_flight(dir, rest);
                    self.update_client_auth();
                    return;
                }
                Ok(Next::Record(rec, used)) => {
                    self.advance(i, used);
                    self.on_record(dir, rec);
                }
                Err(e) => {
                    self.stop(dir, Stop::Garbage(e));
                }
            }
            if self.hs.stopped.get(i).copied().flatten().is_some() {
                return;
            }
        }
    }

    /// A Heartbleed request is one huge record (up to 16 KiB), past the capture budget.
    /// Its header and the heartbeat header (type, payload_length: the first 8 bytes)
    /// already tell the whole story (RFC 6520 §4), so read them from the incomplete record.
    fn peek_heartbeat(&mut self, dir: Direction, rest: &[u8]) {
        let (Some(&ct), Some(len), Some(&kind), Some(plen)) =
            (rest.first(), rest.get(3..5), rest.get(5), rest.get(6..8))
        else {
            return;
        };
        if ct != record::CT_HEARTBEAT || self.dir(dir).encrypted {
            return;
        }
        self.push_heartbeat(HeartbeatEvent {
            dir,
            kind,
            payload_length: u16::from_be_bytes([plen[0], plen[1]]),
            record_length: usize::from(u16::from_be_bytes([len[0], len[1]])),
        });
    }

    /// Records a heartbeat once, whether it was peeked at or read whole (or both).
    fn push_heartbeat(&mut self, ev: HeartbeatEvent) {
        if self.hs.heartbeats.last() != Some(&ev) {
            self.hs.heartbeats.push(ev);
        }
    }

    /// The capture budget often ends inside the record that carries the Certificate. Look
    /// into the incomplete record (without consuming it) for a complete leaf certificate.
    fn peek_certificate(&mut self, dir: Direction, rest: &[u8]) {
        let wanted = match dir {
            Direction::ToClient => self.info.cert.is_none() && !self.hs.cert_unparsable,
            Direction::ToServer => self.hs.client_cert_chain_len.is_none(),
        };
        if !wanted || self.is_tls13() || rest.first() != Some(&record::CT_HANDSHAKE) {
            return;
        }
        let avail = rest.get(record::HEADER_LEN..).unwrap_or_default();
        let st = self.dir(dir);
        if st.encrypted || st.ambiguous_ccs || st.skip > 0 {
            return;
        }
        let joined;
        let buf: &[u8] = if st.hs.is_empty() {
            avail
        } else {
            joined = [st.hs.as_slice(), avail].concat();
            &joined
        };
        // Skip whole messages (a ServerHello often shares the record) up to the Certificate.
        let mut r = handshake::Reader::new(buf, "handshake header");
        let body = loop {
            let (Ok(typ), Ok(len)) = (r.u8(), r.u24()) else {
                return;
            };
            if typ == handshake::HS_CERTIFICATE {
                // Never read past the message's own length, even if the record holds more.
                let rest = r.rest();
                break rest.get(..len).unwrap_or(rest);
            }
            if r.bytes(len).is_err() {
                return;
            }
        };
        let chain = handshake::parse_certificate_list(body);
        if let Some(leaf) = chain.first() {
            self.on_leaf(dir, leaf, chain.len());
        }
    }

    /// A leaf certificate (possibly from an incomplete chain) of `dir`'s sender.
    fn on_leaf(&mut self, dir: Direction, der: &[u8], chain_len: usize) {
        match dir {
            Direction::ToClient => {
                self.info.cert = cert::parse_cached(der).ok();
                self.hs.cert_unparsable = self.info.cert.is_none();
                self.hs.cert_chain_len = chain_len;
            }
            Direction::ToServer => {
                self.info.client_cert = cert::parse_client(der).ok();
                self.hs.client_cert_chain_len = Some(chain_len);
            }
        }
    }

    /// TLS 1.3: the client's first encrypted record after the ServerHello is often larger
    /// than what is left of the capture budget when it carries a certificate chain; its
    /// header alone gives the length the inference needs.
    fn peek_client_flight(&mut self, dir: Direction, rest: &[u8]) {
        // Not only under TLS 1.3: fed the client's bytes before the server's, the session
        // learns the version later; the length is read only if TLS 1.3 was negotiated.
        if dir != Direction::ToServer
            || self.hs.client_flight_len.is_some()
            || rest.first() != Some(&record::CT_APPLICATION_DATA)
        {
            return;
        }
        if let Some([hi, lo]) = rest.get(3..5) {
            self.hs.client_flight_len = Some(usize::from(u16::from_be_bytes([*hi, *lo])));
        }
    }

    /// Recomputes `client_auth` from what was seen so far.
    fn update_client_auth(&mut self) {
        let (auth, source) = self.client_auth();
        self.info.client_auth = auth;
        self.info.client_auth_source = source;
    }

    /// Mutual TLS, from the handshake (TLS ≤ 1.2) or inferred (TLS 1.3).
    ///
    /// TLS 1.3 rule: a client sends a Certificate only when asked, and must send one, empty
    /// or not, when asked (RFC 8446 §4.4.2); it is the first message of its encrypted flight.
    /// So the first encrypted record after the ServerHello is exactly a Finished
    /// (4 + hash length, + 1 inner type + AEAD tag) without a request, an empty Certificate
    /// (8 + 1 + tag, or 8 more than a Finished when both share the record) when the client
    /// had none, and much larger when it presented one. Other sizes (record padding) and
    /// PSK resumption (no Certificate messages at all) are `unknown`.
    fn client_auth(&self) -> (ClientAuth, ClientAuthSource) {
        let Some(sh) = &self.hs.server_hello else {
            return (ClientAuth::Unknown, ClientAuthSource::Handshake);
        };
        if names::is_tls13_family(sh.negotiated()) {
            let source = ClientAuthSource::Inferred;
            // A client that offered 0-RTT sends early data before the ServerHello: its first
            // encrypted record is not the flight the rule reads (and it offered a PSK).
            let early = self.hs.client_hello.as_ref().is_some_and(|c| c.early_data);
            let (Some(len), Some((hash, tag)), false, false) = (
                self.hs.client_flight_len,
                tls13_hash_and_tag(sh.cipher),
                sh.psk,
                early,
            ) else {
                return (ClientAuth::Unknown, source);
            };
            let finished = 4 + hash + 1 + tag;
            let empty_cert = 8 + 1 + tag;
            let auth = if len == finished {
                ClientAuth::None
            } else if len == empty_cert || len == finished + 8 {
                ClientAuth::Requested
            } else if len >= empty_cert + MIN_CLIENT_CERT_DER {
                ClientAuth::Presented
            } else {
                ClientAuth::Unknown
            };
            return (auth, source);
        }
        let source = ClientAuthSource::Handshake;
        let hs = &self.hs;
        let client_flight = hs.client_key_exchange || hs.ccs.first() == Some(&true);
        let auth = match hs.client_cert_chain_len {
            Some(n) if n > 0 => ClientAuth::Presented,
            Some(_) => ClientAuth::Requested,
            None if hs.certificate_request && client_flight => ClientAuth::Requested,
            None if hs.certificate_request => ClientAuth::Unknown,
            // A full handshake's server flight ended without a request.
            None if hs.server_hello_done => ClientAuth::None,
            // Abbreviated handshake (resumption): the authentication, if any, was the
            // original handshake's.
            None => ClientAuth::Unknown,
        };
        (auth, source)
    }

    fn advance(&mut self, i: usize, used: usize) {
        if let Some(st) = self.dirs.get_mut(i) {
            st.off = st.off.saturating_add(used);
        }
    }

    fn stop(&mut self, dir: Direction, why: Stop) {
        if let Some(s) = self.hs.stopped.get_mut(dir.index()) {
            s.get_or_insert(why);
        }
    }

    fn dir(&mut self, dir: Direction) -> &mut DirState {
        // Destructuring instead of indexing: no bounds check can fail.
        let [a, b] = &mut self.dirs;
        if dir.index() == 0 {
            a
        } else {
            b
        }
    }

    /// SSL 2.0 records: the client's CLIENT-HELLO and CLIENT-MASTER-KEY, the server's
    /// SERVER-HELLO.
    fn try_ssl2(&mut self, dir: Direction, rest: &[u8]) -> Ssl2Step {
        let msg_type = match (dir, self.dir(dir).sslv2) {
            (Direction::ToServer, false) => 1,
            (Direction::ToServer, true) => 2,
            (Direction::ToClient, _) => 4,
        };
        if rest.first().is_some_and(|b| b & 0x80 != 0) && rest.len() < 3 {
            return Ssl2Step::Wait; // too short to tell an SSLv2 header from anything else
        }
        if !record::looks_ssl2(rest, msg_type) {
            if msg_type == 2 && rest.first().is_some_and(|b| b & 0x80 != 0) {
                // Some other SSLv2 record after the hello: the client went encrypted.
                self.stop(dir, Stop::Encrypted);
                return Ssl2Step::Stopped;
            }
            return Ssl2Step::NotSsl2;
        }
        let (rec, used) = match record::next_ssl2_record(rest) {
            Ok(Some(x)) => x,
            Ok(None) => return Ssl2Step::Wait,
            Err(e) => {
                self.stop(dir, Stop::Garbage(e));
                return Ssl2Step::Stopped;
            }
        };
        match msg_type {
            1 => match handshake::parse_ssl2_client_hello(rec.payload) {
                Ok(ch) => {
                    self.dir(dir).sslv2 = true;
                    self.on_client_hello(ch);
                }
                Err(e) => {
                    self.stop(dir, Stop::Garbage(e));
                    return Ssl2Step::Stopped;
                }
            },
            2 => {
                // CLIENT-MASTER-KEY: msg type then the cipher kind chosen, in the clear.
                if let Some([a, b, c]) = rec.payload.get(1..4) {
                    let kind = (u32::from(*a) << 16) | (u32::from(*b) << 8) | u32::from(*c);
                    self.hs.ssl2_cipher = Some(kind);
                    self.info.cipher = suites::ssl2_lookup(kind).map(|s| Cow::Borrowed(s.name));
                }
                self.stop(dir, Stop::Encrypted);
                self.update_established();
            }
            _ => match handshake::parse_ssl2_server_hello(rec.payload) {
                Ok(sh) => {
                    self.info.version = names::version_name(names::SSL2).map(Cow::Borrowed);
                    if !sh.certificate.is_empty() {
                        self.hs.cert_chain_len = 1;
                        self.info.cert = cert::parse_cached(&sh.certificate).ok();
                    }
                    self.hs.ssl2_server_hello = Some(sh);
                    // Everything the server sends next (SERVER-VERIFY…) is encrypted.
                    self.stop(dir, Stop::Encrypted);
                    self.update_established();
                }
                Err(e) => {
                    self.stop(dir, Stop::Garbage(e));
                    return Ssl2Step::Stopped;
                }
            },
        }
        Ssl2Step::Consumed(used)
    }

    fn negotiated(&self) -> Option<u16> {
        self.hs.server_hello.as_ref().map(ServerHello::negotiated)
    }

    fn is_tls13(&self) -> bool {
        self.negotiated().is_some_and(names::is_tls13_family)
    }

    fn on_record(&mut self, dir: Direction, rec: Record<'_>) {
        self.on_record_inner(dir, rec);
        self.update_client_auth();
    }

    fn on_record_inner(&mut self, dir: Direction, rec: Record<'_>) {
        let i = dir.index();
        if self.dir(dir).encrypted {
            self.on_encrypted_record(dir, rec);
            return;
        }
        match rec.content_type {
            record::CT_HANDSHAKE => {
                if self.dir(dir).ambiguous_ccs && !self.plaintext_after_ccs(rec.payload) {
                    self.dir(dir).encrypted = true;
                    self.on_encrypted_record(dir, rec);
                    return;
                }
                let st = self.dir(dir);
                // Drop what remains of a message too large to hold (see drain_handshake).
                let n = st.skip.min(rec.payload.len());
                st.skip -= n;
                let payload = rec.payload.get(n..).unwrap_or_default();
                if st.hs.len().saturating_add(payload.len()) > 2 * MAX_HANDSHAKE_BUFFER {
                    self.stop(dir, Stop::Garbage(TlsError::TooLarge));
                    return;
                }
                st.hs.extend_from_slice(payload);
                self.drain_handshake(dir);
            }
            record::CT_CHANGE_CIPHER_SPEC => {
                if let Some(c) = self.hs.ccs.get_mut(i) {
                    *c = true;
                }
                if self.is_tls13() || self.hs.hello_retry_request.is_some() {
                    // Middlebox-compatibility CCS (RFC 8446 appendix D.4): not an encryption
                    // switch. A HelloRetryRequest already implies TLS 1.3.
                } else if self.hs.server_hello.is_none()
                    && self
                        .hs
                        .client_hello
                        .as_ref()
                        .is_some_and(|c| c.max_version() == names::TLS13)
                {
                    self.dir(dir).ambiguous_ccs = true;
                } else {
                    self.dir(dir).encrypted = true;
                }
                self.update_established();
            }
            record::CT_ALERT => self.on_plain_alerts(dir, rec.payload),
            record::CT_HEARTBEAT => {
                let mut r = handshake::Reader::new(rec.payload, "heartbeat");
                if let (Ok(kind), Ok(len)) = (r.u8(), r.u16()) {
                    self.push_heartbeat(HeartbeatEvent {
                        dir,
                        kind,
                        payload_length: len,
                        record_length: rec.payload.len(),
                    });
                }
            }
            _ => {
                // Application data: in TLS 1.3 the first encrypted record; before a
                // ServerHello from the server, or before CCS in TLS ≤ 1.2, it means the
                // handshake is hidden from us (e.g. a mid-stream start).
                self.dir(dir).encrypted = true;
                self.on_encrypted_record(dir, rec);
            }
        }
    }

    /// After an ambiguous CCS, a handshake record is plaintext only if it parses as a whole
    /// hello (the ClientHello retry after a HelloRetryRequest, or the ServerHello after it);
    /// an encrypted Finished will not.
    fn plaintext_after_ccs(&self, payload: &[u8]) -> bool {
        let mut r = handshake::Reader::new(payload, "handshake");
        match (r.u8(), r.vec24()) {
            (Ok(handshake::HS_CLIENT_HELLO), Ok(body)) => {
                handshake::parse_client_hello(body).is_ok()
            }
            (Ok(handshake::HS_SERVER_HELLO), Ok(body)) => {
                handshake::parse_server_hello(body).is_ok()
            }
            _ => false,
        }
    }

    fn on_encrypted_record(&mut self, dir: Direction, rec: Record<'_>) {
        let i = dir.index();
        let n = match self.hs.encrypted_records.get_mut(i) {
            Some(n) => {
                *n = n.saturating_add(1);
                *n
            }
            None => return,
        };
        match rec.content_type {
            record::CT_APPLICATION_DATA => {
                if let Some(a) = self.hs.app_data.get_mut(i) {
                    *a = a.saturating_add(1);
                }
                // The client's first encrypted record is its Finished (at least 32 + 4
                // bytes, plus the content type and a tag), the empty Certificate a server
                // asked for (8 + 1 + tag = 25), or an alert refusing the handshake.
                let first = self.hs.app_data.first() == Some(&1);
                if dir == Direction::ToServer && rec.payload.len() <= ENCRYPTED_ALERT_MAX && first {
                    self.hs.client_short_encrypted = true;
                }
                if dir == Direction::ToServer && first {
                    self.hs.client_flight_len.get_or_insert(rec.payload.len());
                }
                if dir == Direction::ToClient && self.awaiting_auth_verdict() {
                    // Processed in arrival order: this server record came after the
                    // client's empty Certificate. An alert refuses it (certificate_required).
                    self.hs.client_auth_refused = Some(rec.payload.len() <= ENCRYPTED_ALERT_MAX);
                }
            }
            record::CT_ALERT => {
                if let Some(a) = self.hs.encrypted_alerts.get_mut(i) {
                    *a = a.saturating_add(1);
                }
            }
            _ => {}
        }
        self.update_established();
        // The TLS 1.3 server's records are read through its whole flight and, after a
        // client's empty Certificate, up to the one that accepts or refuses it.
        let (cap, waiting) = if dir == Direction::ToClient && self.is_tls13() {
            let before_client = self.hs.client_flight_len.is_none();
            let waiting = before_client || self.awaiting_auth_verdict();
            (MAX_TLS13_SERVER_RECORDS, waiting)
        } else {
            (MAX_ENCRYPTED_RECORDS, false)
        };
        if n >= cap || (self.info.established && !waiting) {
            self.stop(dir, Stop::Encrypted);
        }
    }

    /// TLS 1.3, the client sent an empty Certificate and the server's answer (an alert, or
    /// anything else) has not been seen yet.
    fn awaiting_auth_verdict(&self) -> bool {
        self.is_tls13()
            && self.info.client_auth == ClientAuth::Requested
            && self.hs.client_auth_refused.is_none()
    }

    fn on_plain_alerts(&mut self, dir: Direction, payload: &[u8]) {
        // A plaintext alert is exactly level + description (RFC 5246 §7.2) with level 1 or 2.
        // Anything else is an encrypted alert from a handshake we did not see (a capture that
        // starts mid-stream): count it, never decode it.
        let plausible = payload.len() == 2
            && payload
                .first()
                .is_some_and(|l| *l == names::ALERT_WARNING || *l == names::ALERT_FATAL);
        if !plausible {
            if let Some(a) = self.hs.encrypted_alerts.get_mut(dir.index()) {
                *a = a.saturating_add(1);
            }
            self.dir(dir).encrypted = true;
            return;
        }
        for pair in payload.chunks_exact(2) {
            let (level, description) = match pair {
                [l, d] => (*l, *d),
                _ => continue,
            };
            self.hs.alerts.push(AlertEvent {
                dir,
                level,
                description,
                during_handshake: !self.info.established,
            });
            self.info.alert = Some(names::alert_name(description));
            if level == names::ALERT_FATAL {
                self.stop(dir, Stop::FatalAlert);
            }
        }
    }

    fn drain_handshake(&mut self, dir: Direction) {
        loop {
            let want_leaf = !self.is_tls13()
                && match dir {
                    Direction::ToClient => self.info.cert.is_none() && !self.hs.cert_unparsable,
                    Direction::ToServer => self.hs.client_cert_chain_len.is_none(),
                };
            let st = self.dir(dir);
            let mut r = handshake::Reader::new(&st.hs, "handshake header");
            let (Ok(typ), Ok(len)) = (r.u8(), r.u24()) else {
                return;
            };
            let end = len.saturating_add(4);
            let Some(body) = st.hs.get(4..end).map(<[u8]>::to_vec) else {
                // Incomplete. The leaf certificate is useful on its own: the capture budget
                // may end before the rest of the chain arrives.
                let leaf = if want_leaf && typ == handshake::HS_CERTIFICATE {
                    st.hs.get(4..).and_then(|p| {
                        let chain = handshake::parse_certificate_list(p);
                        chain.first().map(|c| (c.to_vec(), chain.len()))
                    })
                } else {
                    None
                };
                if st.hs.len() >= MAX_HANDSHAKE_BUFFER && len > MAX_HANDSHAKE_BUFFER {
                    // Never held whole: keep what was used, skip the rest on the wire.
                    st.skip = end.saturating_sub(st.hs.len());
                    st.hs.clear();
                }
                if typ == handshake::HS_CERTIFICATE && dir == Direction::ToClient {
                    self.hs.certificate_seen = true;
                }
                if let Some((der, n)) = leaf {
                    self.on_leaf(dir, &der, n);
                }
                return;
            };
            st.hs.drain(..end.min(st.hs.len()));
            self.on_handshake_message(dir, typ, &body);
            let stopped = self.hs.stopped.get(dir.index()).copied().flatten();
            if self.dir(dir).encrypted || stopped.is_some() {
                return;
            }
        }
    }

    fn on_handshake_message(&mut self, dir: Direction, typ: u8, body: &[u8]) {
        self.on_handshake_message_inner(dir, typ, body);
        self.update_client_auth();
    }

    fn on_handshake_message_inner(&mut self, dir: Direction, typ: u8, body: &[u8]) {
        match (dir, typ) {
            (Direction::ToServer, handshake::HS_CLIENT_HELLO) => {
                match handshake::parse_client_hello(body) {
                    Ok(ch) => self.on_client_hello(ch),
                    Err(e) => self.stop(dir, Stop::Garbage(e)),
                }
            }
            (Direction::ToClient, handshake::HS_SERVER_HELLO) => {
                match handshake::parse_server_hello(body) {
                    Ok(sh) => self.on_server_hello(sh),
                    Err(e) => self.stop(dir, Stop::Garbage(e)),
                }
            }
            (Direction::ToClient, handshake::HS_CERTIFICATE) if !self.is_tls13() => {
                self.hs.certificate_seen = true;
                let chain = handshake::parse_certificate_list(body);
                self.hs.cert_chain_len = chain.len();
                if let Some(leaf) = chain.first() {
                    self.info.cert = cert::parse_cached(leaf).ok();
                    self.hs.cert_unparsable = self.info.cert.is_none();
                }
            }
            (Direction::ToClient, handshake::HS_SERVER_KEY_EXCHANGE) => {
                let kx = self
                    .hs
                    .server_hello
                    .as_ref()
                    .and_then(|sh| suites::lookup(sh.cipher))
                    .map(|s| s.kx);
                let params = match kx {
                    Some(suites::Kx::Ecdhe | suites::Kx::EcdhAnon) => {
                        handshake::parse_server_key_exchange(body, true)
                    }
                    Some(suites::Kx::Dhe | suites::Kx::DhAnon) => {
                        handshake::parse_server_key_exchange(body, false)
                    }
                    _ => None,
                };
                if let Some(handshake::KeyExchangeParams::NamedCurve(g)) = params {
                    self.info.group_selected = Some(names::group_name(g));
                }
                self.hs.key_exchange = params;
            }
            (Direction::ToClient, handshake::HS_SERVER_HELLO_DONE) => {
                self.hs.server_hello_done = true;
            }
            (Direction::ToClient, handshake::HS_CERTIFICATE_REQUEST) if !self.is_tls13() => {
                self.hs.certificate_request = true;
            }
            (Direction::ToServer, handshake::HS_CERTIFICATE) if !self.is_tls13() => {
                let chain = handshake::parse_certificate_list(body);
                match chain.first() {
                    Some(leaf) => self.on_leaf(dir, leaf, chain.len()),
                    None => self.hs.client_cert_chain_len = Some(0),
                }
            }
            (Direction::ToClient, handshake::HS_NEW_SESSION_TICKET) => {
                self.hs.new_session_ticket = true;
            }
            (Direction::ToServer, handshake::HS_CLIENT_KEY_EXCHANGE) => {
                self.hs.client_key_exchange = true;
            }
            _ => {}
        }
    }

    fn on_client_hello(&mut self, ch: ClientHello) {
        if self.hs.client_hello.is_some() {
            if self.hs.client_hello_retry.is_none() {
                self.hs.client_hello_retry = Some(ch);
            }
            return;
        }
        let info = &mut self.info;
        info.client_versions = if ch.supported_versions.is_empty() {
            vec![names::version_label(ch.version)]
        } else {
            ch.supported_versions
                .iter()
                .filter(|v| !handshake::is_grease(**v))
                .map(|v| names::version_label(*v))
                .collect()
        };
        info.sni.clone_from(&ch.sni);
        info.alpn = ch.alpn.iter().map(|a| lossy(a)).collect();
        info.groups = ch
            .groups
            .iter()
            .filter(|g| !handshake::is_grease(**g))
            .map(|g| names::group_name(*g))
            .collect();
        info.fallback_scsv = ch.offers_cipher(handshake::SCSV_FALLBACK);
        if !ch.sslv2_record {
            let (ja3, ja4) = fingerprint::client(&ch);
            info.ja3 = Some(ja3);
            info.ja4 = Some(ja4);
        }
        self.hs.client_hello = Some(ch);
    }

    fn on_server_hello(&mut self, sh: ServerHello) {
        // JA3S fingerprints the first ServerHello-format message, a HelloRetryRequest
        // included, as tshark and Suricata do (zeek/Traces/tls/hrr.pcap).
        if self.info.ja3s.is_none() {
            self.info.ja3s = Some(fingerprint::server(&sh));
        }
        if sh.hello_retry {
            self.hs.hello_retry_request = Some(sh);
            return;
        }
        if self.hs.server_hello.is_some() {
            return;
        }
        let v = sh.negotiated();
        let info = &mut self.info;
        info.version = names::version_name(v)
            .or_else(|| names::is_tls13_draft(v).then_some("TLS 1.3"))
            .map(Cow::Borrowed);
        info.cipher = Some(suites::label(sh.cipher));
        info.alpn_selected = sh.alpn.as_deref().map(lossy);
        if let Some(g) = sh.key_share_group {
            info.group_selected = Some(names::group_name(g));
        }
        let tls13 = names::is_tls13_family(v);
        if tls13 {
            info.resumed = sh.psk;
        } else if let Some(ch) = &self.hs.client_hello {
            // Session-ID resumption (RFC 5246 §7.4.1.3); ticket resumption is caught at CCS.
            info.resumed = !sh.session_id.is_empty() && sh.session_id == ch.session_id;
        }
        self.hs.server_hello = Some(sh);
        if tls13 {
            // Everything the server sends after its ServerHello is encrypted (RFC 8446 §2).
            self.dir(Direction::ToClient).encrypted = true;
        }
        // A client CCS seen before we knew the version can now be resolved.
        let client = self.dir(Direction::ToServer);
        if client.ambiguous_ccs && !tls13 {
            client.encrypted = true;
        }
        client.ambiguous_ccs = false;
        self.update_established();
    }

    fn update_established(&mut self) {
        if self.info.established {
            return;
        }
        let hs = &self.hs;
        let established = if hs.ssl2_server_hello.is_some() {
            // SSLv2: the client chose a cipher and went on encrypted.
            hs.ssl2_cipher.is_some()
        } else if let Some(sh) = &hs.server_hello {
            if names::is_tls13_family(sh.negotiated()) {
                // The client's first encrypted record is its Finished (or, with accepted
                // 0-RTT, early data first), unless it is an encrypted alert.
                let early = hs
                    .client_hello
                    .as_ref()
                    .is_some_and(|c| c.early_data && sh.psk);
                let need = 1 + u32::from(early);
                hs.app_data.first().is_some_and(|n| *n >= need) && !hs.client_short_encrypted
            } else {
                // Both ChangeCipherSpecs, each followed by an encrypted Finished.
                hs.ccs == [true, true] && hs.encrypted_records.iter().all(|n| *n >= 1)
            }
        } else {
            false
        };
        if established {
            self.info.established = true;
            if let Some(sh) = &self.hs.server_hello {
                if !names::is_tls13_family(sh.negotiated())
                    && self.info.cert.is_none()
                    && !self.hs.certificate_seen
                    && !self.hs.server_hello_done
                    && self.hs.key_exchange.is_none()
                {
                    // Abbreviated handshake (RFC 5246 §7.3): straight from ServerHello to CCS.
                    self.info.resumed = true;
                }
            }
        }
    }

    /// QUIC (`crate::quic`): a handshake message from an Initial CRYPTO stream, where TLS
    /// over TCP has records. The JA4 of a ClientHello takes QUIC's `q` prefix, and the
    /// version is TLS 1.3 from the ClientHello on: QUIC runs TLS 1.3 only (RFC 9001 §4.2),
    /// so a client offering it can end with nothing else.
    pub(crate) fn on_quic_message(&mut self, dir: Direction, typ: u8, body: &[u8]) {
        self.on_handshake_message(dir, typ, body);
        if typ != handshake::HS_CLIENT_HELLO {
            return;
        }
        if let Some(ja4) = self.info.ja4.as_mut() {
            *ja4 = fingerprint::with_transport(ja4, fingerprint::JA4_QUIC);
        }
        let tls13 = self
            .hs
            .client_hello
            .as_ref()
            .is_some_and(|c| c.supported_versions.contains(&names::TLS13));
        if self.info.version.is_none() && tls13 {
            self.info.version = Some(Cow::Borrowed("TLS 1.3"));
        }
    }

    /// QUIC: after the ServerHello the client sent a Handshake packet big enough for its
    /// Finished, or a 1-RTT packet. That is as far as an observer can see the handshake
    /// complete (the TLS 1.3 rule over TCP is the client's first encrypted record).
    pub(crate) fn on_quic_went_on(&mut self) {
        if self.hs.server_hello.is_some() && self.hs.client_hello.is_some() {
            self.info.established = true;
        }
    }

    /// QUIC: a CONNECTION_CLOSE in an Initial packet. Codes 0x0100-0x01ff carry a TLS alert
    /// (RFC 9001 §4.8) and count as a fatal alert, as over TCP.
    pub(crate) fn on_quic_close(&mut self, dir: Direction, code: u64) {
        if let Some(alert) = code.checked_sub(0x100).and_then(|a| u8::try_from(a).ok()) {
            self.on_plain_alerts(dir, &[names::ALERT_FATAL, alert]);
        }
    }

    pub fn on_close(&mut self, close: Close) {
        if self.hs.close.is_none() {
            self.hs.close = Some(close);
        }
    }

    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// Moves the facts out (the flow is ending): the record takes them without a copy of
    /// every string.
    pub fn take_info(&mut self) -> TlsInfo {
        std::mem::take(&mut self.info)
    }

    /// True once nothing more in the clear is expected (handshake encrypted or failed).
    pub fn done(&self) -> bool {
        let both_stopped = self.hs.stopped.iter().all(Option::is_some);
        let fatal = self.hs.stopped.contains(&Some(Stop::FatalAlert));
        let settled = self.info.established && !self.awaiting_auth_verdict();
        settled || both_stopped || fatal || self.hs.close.is_some()
    }

    /// Findings for this connection, with `now` the packet (or wall) clock.
    pub fn findings(&self, now: Timestamp) -> Vec<Finding> {
        findings::evaluate(&self.info, &self.hs, now)
    }
}

/// Hash length of the TLS 1.3 suite's PRF and the AEAD tag length (RFC 8446 §B.4,
/// RFC 8998 for SM4), for the size of an encrypted Finished.
fn tls13_hash_and_tag(suite: u16) -> Option<(usize, usize)> {
    match suite {
        0x1301 | 0x1303 | 0x1304 | 0x00c6 | 0x00c7 => Some((32, 16)),
        0x1302 => Some((48, 16)),
        0x1305 => Some((32, 8)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
