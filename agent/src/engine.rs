//! The one pipeline: segments in, finished flow records out.
//!
//! Live and pcap modes both drive [`Engine`]; everything here is synchronous and owns its
//! state, and time comes only from the segments (or an explicit `advance`), so a capture
//! replayed through it always yields the same records.

use crate::capture::{Segment, TcpMeta};
use crate::config::{Config, Ends, Policy};
use crate::detect::spike::{self, Detector};
use crate::detect::{Finding, Severity};
use crate::flow::table::{Flow, Limits, Table};
use crate::flow::{Direction, FlowKey, Transport};
use crate::plaintext::findings::CREDENTIALS;
use crate::plaintext::{self, PlaintextInfo};
use crate::quic::{self, QuicInfo};
use crate::time::Timestamp;
use crate::tls::handshake::KeyExchangeParams;
use crate::tls::{self, Close, TlsInfo};

/// What the engine concluded about one flow, written when the flow ends.
#[derive(Clone, Debug)]
pub struct FlowRecord {
    pub key: FlowKey,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// `tls`, `quic`, a plaintext protocol name, `ssh`, `unknown_text`, `unknown_binary` or
    /// `none`.
    pub protocol: &'static str,
    /// True when the payload is protected by TLS (directly or after STARTTLS) or SSH.
    pub encrypted: bool,
    /// Indexed by [`Direction::index`].
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub tls: Option<TlsInfo>,
    /// QUIC facts beyond the TLS handshake (its version), for `protocol: quic`.
    pub quic: Option<QuicInfo>,
    pub plaintext: Option<PlaintextInfo>,
    pub findings: Vec<Finding>,
    /// Ids of the findings the policy silenced (`"off"` or an allow rule with `finding`).
    pub suppressed: Vec<&'static str>,
    /// Capture of the first bytes missed data (a hole the reassembler could not fill).
    pub gap: bool,
    /// Bounded metric labels for the handshake, when a ClientHello was seen.
    pub tls_labels: Option<TlsLabels>,
    /// Seconds from the flow's last packet to the server certificate's notAfter.
    pub cert_expiry: Option<CertExpiry>,
    /// The ends' Kubernetes identities: empty here, set by the daemon's enrichment
    /// stage when `[kubernetes]` is on.
    pub k8s: crate::identity::FlowIdentity,
    /// `Some("probe")` for the record of an active `[probe]` connection; `None` for
    /// every flow the capture saw.
    pub source: Option<&'static str>,
    /// First seen mid-stream (no SYN) and recognised from mid-conversation messages: TLS
    /// application-data records or a plaintext protocol's messages.
    pub midstream: bool,
    /// The proxy preamble (SOCKS, HTTP CONNECT) the protocol was found behind.
    pub proxy: Option<&'static str>,
}

impl FlowRecord {
    /// The bare record of a `[probe]` connection made at `at` (the probe fills in
    /// its TLS facts and findings).
    pub fn probe(key: FlowKey, at: Timestamp) -> Self {
        FlowRecord {
            key,
            first_seen: at,
            last_seen: at,
            protocol: "tls",
            encrypted: true,
            packets: [0, 0],
            bytes: [0, 0],
            tls: None,
            quic: None,
            plaintext: None,
            findings: Vec::new(),
            suppressed: Vec::new(),
            gap: false,
            tls_labels: None,
            cert_expiry: None,
            k8s: crate::identity::FlowIdentity::default(),
            source: Some("probe"),
            midstream: false,
            proxy: None,
        }
    }
}

#[cfg(test)]
impl FlowRecord {
    /// A finished TCP flow 10.0.0.1:40000 → 10.0.0.2:`port` of `protocol`, one packet and
    /// 100 bytes each way, nothing else: the base the unit tests of the sinks edit.
    pub(crate) fn for_test(protocol: &'static str, port: u16) -> Self {
        let key = FlowKey {
            client: std::net::SocketAddr::from(([10, 0, 0, 1], 40000)),
            server: std::net::SocketAddr::from(([10, 0, 0, 2], port)),
            transport: Transport::Tcp,
        };
        FlowRecord {
            last_seen: Timestamp(2),
            protocol,
            encrypted: false,
            packets: [1, 1],
            bytes: [100, 100],
            source: None,
            ..FlowRecord::probe(key, Timestamp(1))
        }
    }
}

/// Metric labels of one handshake; every value comes from a closed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsLabels {
    pub version: &'static str,
    pub cipher_class: &'static str,
    pub group_class: &'static str,
    /// The client's first ALPN offer.
    pub alpn_offered: &'static str,
    /// The server's choice when it travels in the clear (ServerHello, TLS ≤ 1.2);
    /// `unknown` under TLS 1.3, where it is in the encrypted EncryptedExtensions.
    pub alpn_negotiated: &'static str,
    /// The handshake completed: only these count as handshakes; the others are failures.
    pub completed: bool,
    /// `none`, `requested`, `presented` or `unknown` (see [`tls::ClientAuth`]).
    pub client_auth: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertExpiry {
    /// The name clients use: SNI, else the first SAN, else the subject.
    pub server_name: String,
    pub not_after_unix: i64,
}

/// Per-flow application state.
#[derive(Debug)]
pub struct App {
    plain: plaintext::Session,
    /// Boxed: the session is most of a flow's size, and flows are moved in and out of
    /// the table and sorted when they end.
    tls: Option<Box<tls::Session>>,
    /// DTLS framing state when `tls` runs over UDP datagrams.
    dtls: Option<tls::dtls::Dtls>,
    /// QUIC state when `tls` is carried in QUIC Initial packets. Boxed: its keys' AES
    /// schedules would otherwise make every flow, TCP included, larger.
    quic: Option<Box<quic::Quic>>,
    /// UDP flow still inside its DTLS look-out window ([`DTLS_MAX_DATAGRAMS`]).
    udp_watch: bool,
    /// OpenVPN over TCP: the TLS stream is the control channel's payload, per direction.
    openvpn: Option<[tls::openvpn::Deframer; 2]>,
    /// Where TLS starts in each direction's stream: 0 for TLS from the first byte,
    /// later after STARTTLS or a proxy/tunnel header; `None` while not yet found.
    tls_start: [Option<usize>; 2],
    /// How far each direction was scanned for an embedded TLS hello.
    scanned: [usize; 2],
    /// Set once the engine told the capture layer it has seen enough.
    done_reported: bool,
    /// TLS was started by a plaintext go-ahead (STARTTLS, SSLRequest…): the plaintext
    /// module still reads on until it has seen whether TLS followed.
    upgraded: bool,
    /// No TLS followed the go-ahead: the session stayed in the clear.
    upgrade_failed: bool,
    /// A SYN (or SYN-ACK) was seen before the first payload, by the engine or, live, by the
    /// kernel (`TcpMeta::first_flags`).
    syn_seen: bool,
    /// Decided at the first payload: the flow was first seen mid-stream (no SYN before it).
    midstream: Option<bool>,
    /// Mid-stream: TLS application-data records were found ([`tls::record::app_data_chain`]).
    mid_tls: bool,
    /// Mid-stream: a direction that is not a record run (stop looking at it).
    mid_tls_no: [bool; 2],
}

impl App {
    fn new(server_port: u16, transport: Transport) -> Self {
        App {
            plain: match transport {
                Transport::Tcp => plaintext::Session::new(server_port),
                Transport::Udp => plaintext::Session::new_datagram(server_port),
            },
            tls: None,
            dtls: None,
            quic: None,
            udp_watch: transport == Transport::Udp,
            openvpn: None,
            tls_start: [None; 2],
            scanned: [0; 2],
            done_reported: false,
            upgraded: false,
            upgrade_failed: false,
            syn_seen: false,
            midstream: None,
            mid_tls: false,
            mid_tls_no: [false; 2],
        }
    }

    /// Mid-stream flows: looks for TLS application-data records in `data` until a direction
    /// shows them or neither can. Returns true once the flow is known to be TLS.
    fn midstream_tls(&mut self, dir: Direction, data: &[u8]) -> bool {
        let i = dir.index();
        let plain_known = self
            .plain
            .protocol()
            .is_some_and(|p| !p.starts_with("unknown"));
        if !self.mid_tls && !plain_known && self.tls.is_none() && !self.mid_tls_no[i] {
            match tls::record::app_data_chain(data) {
                tls::record::Chain::Yes => self.mid_tls = true,
                tls::record::Chain::No => self.mid_tls_no[i] = true,
                tls::record::Chain::Wait => {}
            }
        }
        self.mid_tls
    }

    /// Routes a direction's contiguous prefix to TLS or to plaintext recognition.
    fn on_data(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        if self.tls.is_none()
            && dir == Direction::ToServer
            && self.plain.protocol().is_none()
            && tls::openvpn::probe(data)
        {
            self.openvpn = Some(Default::default());
            self.tls = Some(Box::default());
        }
        if let (Some(ovpn), Some(tls)) = (self.openvpn.as_mut(), self.tls.as_mut()) {
            let [c, s] = ovpn;
            let deframer = if i == 0 { c } else { s };
            let stream = deframer.update(data);
            if !stream.is_empty() {
                tls.feed(dir, stream);
            }
            return;
        }
        if self.upgraded && self.tls.is_some() && self.plain.upgrade_pending() {
            self.plain.feed(dir, data);
            if self.plain.upgrade_failed() {
                self.tls = None;
                self.upgrade_failed = true;
                return;
            }
        }
        if self.midstream == Some(true) && self.midstream_tls(dir, data) {
            return;
        }
        if self.tls.is_none() {
            if self.plain.protocol().is_none() && tls::probe(data) == tls::Probe::Yes {
                self.start_tls([Some(0), Some(0)]);
            } else {
                self.plain.feed(dir, data);
                let offsets = self.plain.tls_offsets().filter(|_| !self.upgrade_failed);
                if let Some([c, s]) = offsets {
                    self.start_tls([Some(c), Some(s)]);
                    self.upgraded = true;
                } else if dir == Direction::ToServer {
                    // TLS behind a proxy or tunnel header (HTTP CONNECT, SOCKS, XMPP or
                    // IRC STARTTLS…): a ClientHello record later in the client stream.
                    let from = self.scanned[i];
                    self.scanned[i] = data.len().saturating_sub(HELLO_SIG_LEN);
                    if let Some(at) = find_hello(data, from, HS_CLIENT_HELLO) {
                        self.start_tls([Some(at), None]);
                    }
                }
            }
        }
        let Some(tls) = self.tls.as_mut() else {
            return;
        };
        if self.tls_start[i].is_none() {
            let from = self.scanned[i];
            self.scanned[i] = data.len().saturating_sub(HELLO_SIG_LEN);
            self.tls_start[i] = find_hello(data, from, HS_SERVER_HELLO);
        }
        if let Some(rest) = self.tls_start[i].and_then(|start| data.get(start..)) {
            if !rest.is_empty() {
                tls.feed(dir, rest);
            }
        }
    }

    /// One UDP datagram, the `nth` of its direction. The first datagram of each direction
    /// feeds plaintext recognition, as datagrams are self-contained; the first
    /// [`DTLS_MAX_DATAGRAMS`] of each direction are also looked at for a QUIC client Initial
    /// or a DTLS hello, and once one is found each of them is fed to the TLS session, packet
    /// by packet or record by record. STUN may come first on the same 5-tuple (WebRTC, RFC
    /// 7983 §7), which is why it is not only the first.
    fn on_datagram(&mut self, dir: Direction, nth: u64, data: &[u8]) {
        if nth > DTLS_MAX_DATAGRAMS {
            self.udp_watch = false;
            return;
        }
        if self.tls.is_none() && self.quic.is_none() {
            if let Some(q) = quic::Quic::start(dir, data) {
                if q.readable() {
                    self.tls = Some(Box::default());
                }
                self.quic = Some(Box::new(q));
            } else if let Some(hs_type) = tls::dtls::probe(data) {
                let client = if hs_type == tls::handshake::HS_CLIENT_HELLO {
                    dir
                } else {
                    dir.reverse()
                };
                self.tls = Some(Box::default());
                self.dtls = Some(tls::dtls::Dtls::new(client));
            } else if nth == 1 {
                self.plain.feed(dir, data);
            }
        }
        if let (Some(q), Some(t)) = (self.quic.as_mut(), self.tls.as_mut()) {
            q.feed(t, dir, data);
        }
        if let (Some(d), Some(t)) = (self.dtls.as_mut(), self.tls.as_mut()) {
            d.feed(t, dir, data);
        }
    }

    fn start_tls(&mut self, starts: [Option<usize>; 2]) {
        self.tls = Some(Box::default());
        self.tls_start = starts;
        self.scanned = [0; 2];
    }

    /// Whether the protocol was recognised (the flow is evicted last under pressure).
    fn classified(&self) -> bool {
        self.tls.is_some()
            || self.quic.is_some()
            || self.mid_tls
            || self
                .plain
                .protocol()
                .is_some_and(|p| !p.starts_with("unknown"))
    }

    fn done(&self) -> bool {
        if self.quic.as_ref().is_some_and(|q| !q.readable()) {
            return true; // QUIC whose Initial packets cannot be read: nothing more to learn
        }
        if self.mid_tls {
            return true;
        }
        // Mid-stream and nothing recognised yet: a direction may still turn out to carry
        // TLS records.
        let plain_known = self
            .plain
            .protocol()
            .is_some_and(|p| !p.starts_with("unknown"));
        if self.midstream == Some(true)
            && self.tls.is_none()
            && !plain_known
            && self.mid_tls_no != [true; 2]
        {
            return false;
        }
        match &self.tls {
            Some(t) => t.done(),
            None => self.plain.done() && !self.udp_watch,
        }
    }
}

/// Datagrams per direction of a UDP flow looked at for DTLS: a handshake with a cookie
/// exchange, retransmissions and interleaved STUN fits in well under this.
const DTLS_MAX_DATAGRAMS: u64 = 8;

/// Handshake types searched for by [`find_hello`] (RFC 8446 §4).
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
/// Bytes of the signature [`find_hello`] matches.
const HELLO_SIG_LEN: usize = 11;

/// Finds a TLS record that starts a ClientHello or ServerHello at or after `from`:
/// `16 03 0x LL LL <type> 00 LL LL 03 0x` (record header, handshake header, hello
/// version). Eleven fixed-shape bytes make a false match in cleartext very unlikely.
fn find_hello(data: &[u8], from: usize, hs_type: u8) -> Option<usize> {
    let end = data.len().checked_sub(HELLO_SIG_LEN)?;
    (from..=end).find(|&i| {
        let Some(w) = data.get(i..i + HELLO_SIG_LEN) else {
            return false;
        };
        let rec_len = usize::from(u16::from_be_bytes([w[3], w[4]]));
        w[0] == 0x16
            && w[1] == 3
            && w[2] <= 4
            && (4..=18_432).contains(&rec_len)
            && w[5] == hs_type
            && w[6] == 0
            && w[9] == 3
            && w[10] <= 4
    })
}

/// Counters of the engine's own work, exported as metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineStats {
    pub segments: u64,
    /// Segments of flows the table had no room for.
    pub dropped_table_full: u64,
    pub records: u64,
    /// Flows evicted from the table under pressure, by [`Worth`](crate::flow::table::Worth) index.
    pub evicted: [u64; 5],
    /// Flow directions whose TLS records could not be parsed (the direction stopped).
    pub tls_parse_errors: u64,
    /// TLS handshake messages larger than the reassembly cap (the direction stopped).
    pub tls_buffer_cap: u64,
    /// DTLS handshake messages refused for claiming more than the cap.
    pub dtls_message_cap: u64,
    /// HPACK header blocks that failed to decode, and blocks given up at a cap.
    pub hpack_errors: u64,
    pub hpack_capped: u64,
    /// Out-of-order TCP segments (parts) dropped because the pending buffer was full.
    pub stream_ooo_dropped: u64,
    /// QUIC CRYPTO frames refused at the reassembly cap.
    pub quic_crypto_cap: u64,
}

#[derive(Debug)]
pub struct Engine {
    table: Table<App>,
    policy: Policy,
    stats: EngineStats,
    /// Flows whose capture can stop (live mode tells the kernel).
    done: Vec<(FlowKey, Timestamp)>,
    /// Handshake-failure spikes per service.
    spike: Detector,
    /// Free a flow's stream buffers once it is done (live mode, see [`Engine::live`]).
    free_when_done: bool,
    /// Flows the table handed back, kept empty between calls to reuse its capacity.
    ended: Vec<Flow<App>>,
}

impl Engine {
    pub fn new(config: &Config) -> Self {
        Engine {
            table: Table::new(limits(config)),
            policy: config.policy(),
            stats: EngineStats::default(),
            done: Vec::new(),
            spike: Detector::new(spike_params(config)),
            free_when_done: false,
            ended: Vec::new(),
        }
    }

    /// Live mode: the kernel stops capturing a flow once it is done ([`Engine::take_done`]),
    /// so its stream buffers are freed at that point rather than when the flow ends. Pcap
    /// mode keeps reading after `done` (a ServerHello after the client's FIN, TLS found
    /// later behind an unrecognised preamble), so it keeps them.
    pub fn live(mut self) -> Self {
        self.free_when_done = true;
        self
    }

    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            evicted: self.table.counters().evicted,
            ..self.stats
        }
    }

    /// Bytes held by the flow table (entries and stream buffers), against its cap.
    pub fn table_bytes(&self) -> usize {
        self.table.bytes()
    }

    /// Flows currently held.
    pub fn flows_tracked(&self) -> usize {
        self.table.len()
    }

    /// Feeds one segment; finished flows (closed or idle) are appended to `out`.
    pub fn process(&mut self, seg: &Segment<'_>, out: &mut Vec<FlowRecord>) {
        self.stats.segments += 1;
        let outcome = match self
            .table
            .packet(seg, |key| App::new(key.server.port(), key.transport))
        {
            Ok(o) => o,
            Err(_) => {
                self.stats.dropped_table_full += 1;
                return;
            }
        };
        let flow = outcome.flow;
        let dir = outcome.direction;
        // Whether the application state may have changed (else its classification stands:
        // a bulk segment past the stream cap costs no re-check).
        let mut fed = outcome.created;
        match seg.transport {
            Transport::Tcp => {
                // Mid-stream is decided once, at the first payload.
                if flow.app.midstream.is_none() {
                    if let Some(t) = seg.tcp {
                        flow.app.syn_seen |=
                            t.has(TcpMeta::SYN) || t.first_flags & TcpMeta::SYN != 0;
                    }
                    if !seg.payload.is_empty() {
                        let mid = !flow.app.syn_seen;
                        flow.app.midstream = Some(mid);
                        if mid {
                            flow.app.plain.set_midstream();
                        }
                        fed = true;
                    }
                }
                if outcome.grew {
                    let data = flow.streams[dir.index()].contiguous();
                    flow.app.on_data(dir, data);
                    fed = true;
                }
                if let (Some(tcp), Some(tls)) = (seg.tcp, flow.app.tls.as_mut()) {
                    if tcp.has(TcpMeta::RST) {
                        tls.on_close(Close::Rst(dir));
                    } else if tcp.has(TcpMeta::FIN) {
                        tls.on_close(Close::Fin(dir));
                    }
                }
            }
            Transport::Udp => {
                let nth = flow.packets.get(dir.index()).copied().unwrap_or(0);
                if !seg.payload.is_empty() {
                    flow.app.on_datagram(dir, nth, seg.payload);
                    fed = true;
                }
            }
        }
        if fed {
            flow.classified = flow.app.classified();
        }
        if !flow.app.done_reported && flow.app.done() {
            flow.app.done_reported = true;
            let key = flow.key;
            self.done.push((key, flow.last_seen));
            if self.free_when_done {
                self.table.stop_streams(&key);
            }
        }
        self.advance(seg.ts, out);
    }

    /// Expires idle and closed flows as of `now`.
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<FlowRecord>) {
        self.spike.advance(now);
        if !self.table.expiry_due(now) {
            return;
        }
        let mut ended = std::mem::take(&mut self.ended);
        self.table.expire_into(now, &mut ended);
        for flow in ended.drain(..) {
            out.push(self.finish_flow(flow));
        }
        self.ended = ended;
    }

    /// Ends every flow (end of capture, or shutdown).
    pub fn finish(&mut self, out: &mut Vec<FlowRecord>) {
        for flow in self.table.drain_all() {
            out.push(self.finish_flow(flow));
        }
    }

    /// Keys of flows that need no more payload since the last call.
    /// With each key, the time of the flow's last segment: the capture layer must not
    /// stop a newer connection that reused the tuple since.
    pub fn take_done(&mut self) -> Vec<(FlowKey, Timestamp)> {
        std::mem::take(&mut self.done)
    }

    /// Feeds a handshake's outcome to the spike detector, on packet time so that live and
    /// pcap runs over the same traffic agree.
    fn observe_handshake(
        &mut self,
        sni: Option<&str>,
        findings: &[Finding],
        at: Timestamp,
    ) -> Option<Finding> {
        let failed = findings.iter().any(|f| f.id == "tls.handshake.failure");
        let s = self.spike.observe(at, sni.unwrap_or("unnamed"), failed)?;
        Some(
            Finding::new(&spike::FAILURE_SPIKE)
                .with("service", s.service)
                .with("failures_in_window", s.failures)
                .with("baseline", s.baseline),
        )
    }

    /// The spike detector's state, for the metrics.
    pub fn spikes(&self) -> &Detector {
        &self.spike
    }

    /// Counts what the flow's parsers failed on or refused to hold.
    fn count_trouble(&mut self, flow: &Flow<App>) {
        let st = &mut self.stats;
        if let Some(tls) = &flow.app.tls {
            for stop in tls.handshake().stopped.iter().flatten() {
                match stop {
                    tls::Stop::Garbage(tls::TlsError::TooLarge) => st.tls_buffer_cap += 1,
                    tls::Stop::Garbage(_) => st.tls_parse_errors += 1,
                    _ => {}
                }
            }
        }
        if let Some(d) = &flow.app.dtls {
            st.dtls_message_cap += d.refused;
        }
        if let Some(q) = &flow.app.quic {
            st.quic_crypto_cap += q.refused();
        }
        let t = flow.app.plain.trouble();
        st.hpack_errors += u64::from(t.hpack_errors);
        st.hpack_capped += u64::from(t.hpack_capped);
        st.stream_ooo_dropped += flow
            .streams
            .iter()
            .map(|s| s.counters().ooo_dropped_segments)
            .sum::<u64>();
    }

    fn finish_flow(&mut self, mut flow: Flow<App>) -> FlowRecord {
        self.stats.records += 1;
        self.count_trouble(&flow);
        let now = flow.last_seen;
        let gap = flow.streams.iter().any(|s| s.has_gap());
        if let Some(tls) = flow.app.tls.as_mut() {
            tls.on_close(Close::Timeout);
        }
        let mut findings = Vec::new();
        if let Some(tls) = &flow.app.tls {
            findings.extend(tls.findings(now));
            findings.extend(mtls_absent(&self.policy, &flow.key, tls));
        }
        let plain = flow.app.plain.findings(&flow.key, &self.policy);
        // A cleartext preamble before TLS (STARTTLS, proxy CONNECT, SOCKS) is not a
        // cleartext session; credentials sent in it still are reported.
        let tunnelled = flow.app.tls.is_some();
        findings.extend(plain.into_iter().filter(|f| {
            !tunnelled || !f.id.starts_with("plaintext.") || f.id == "plaintext.credentials"
        }));
        let protocol = protocol_name(&flow.app);
        let tls_labels = flow.app.tls.as_deref().and_then(tls_labels);
        if tls_labels.is_some() {
            let sni = flow.app.tls.as_ref().and_then(|t| t.info().sni.as_deref());
            findings.extend(self.observe_handshake(sni, &findings, flow.last_seen));
        }
        let (findings, suppressed) = apply_policy(&self.policy, &flow.key, protocol, findings);
        // Encrypted once a TLS handshake completed (directly, after STARTTLS or a proxy
        // preamble), or SSH. A failed handshake protected nothing: the flow counts as
        // unencrypted, and the failure in plainsight_tls_handshake_failures_total. QUIC
        // has no cleartext mode: whatever it carried past its Initial packets is encrypted.
        let encrypted = flow.app.tls.as_ref().is_some_and(|t| t.info().established)
            || flow.app.mid_tls
            || protocol == "ssh"
            || protocol == "quic";
        let cert_expiry = flow.app.tls.as_ref().and_then(|t| {
            let info = t.info();
            let cert = info.cert.as_ref()?;
            let server_name = info
                .sni
                .clone()
                .or_else(|| cert.san.first().cloned())
                .unwrap_or_else(|| cert.subject.clone());
            Some(CertExpiry {
                server_name,
                not_after_unix: cert.not_after_unix,
            })
        });
        // The flow ends here: its facts move into the record rather than being copied.
        let tls = match flow.app.tls.as_mut() {
            Some(t) => Some(t.take_info()),
            None if flow.app.mid_tls => Some(TlsInfo {
                midstream: true,
                ..TlsInfo::default()
            }),
            None => None,
        };
        let midstream = flow.app.mid_tls || flow.app.plain.recognised_midstream();
        let proxy = flow.app.plain.proxy();
        let plaintext = match flow.app.plain.protocol() {
            Some(_) if !flow.app.mid_tls => Some(flow.app.plain.take_info()),
            _ => None,
        };
        FlowRecord {
            key: flow.key,
            first_seen: flow.first_seen,
            last_seen: flow.last_seen,
            protocol,
            encrypted,
            packets: flow.packets,
            bytes: flow.bytes,
            tls,
            quic: flow.app.quic.as_deref().map(quic::Quic::info),
            plaintext,
            findings,
            suppressed,
            gap,
            tls_labels,
            cert_expiry,
            k8s: crate::identity::FlowIdentity::default(),
            source: None,
            midstream,
            proxy,
        }
    }
}

/// `quic` for a QUIC flow; the plaintext protocol when one was recognised (TLS after
/// STARTTLS keeps it, e.g. `smtp`), else `tls` when a handshake was seen, else the
/// unknown-payload class.
fn protocol_name(app: &App) -> &'static str {
    if app.quic.is_some() {
        return "quic";
    }
    match (app.plain.protocol(), &app.tls) {
        (Some(p), _) if app.mid_tls && p.starts_with("unknown") => "tls",
        (None, None) if app.mid_tls => "tls",
        (Some(p), Some(_)) if p.starts_with("unknown") => "tls",
        // TLS inside an HTTP CONNECT tunnel: the CONNECT was only the way in (Suricata's
        // `app_proto` is `tls` too).
        (Some("http"), Some(_)) if app.plain.proxy() == Some("http_connect") => "tls",
        (Some(p), _) => p,
        (None, Some(_)) => "tls",
        (None, None) => "none",
    }
}

/// Applies the policy: protocol allow rules (cleartext findings, never credentials),
/// finding allow rules, `"off"` overrides and severity overrides. Returns the findings
/// kept and the ids of those silenced, which are counted, not lost.
fn apply_policy(
    policy: &Policy,
    key: &FlowKey,
    protocol: &'static str,
    findings: Vec<Finding>,
) -> (Vec<Finding>, Vec<&'static str>) {
    let ends = Ends {
        client: key.client.ip(),
        server: key.server.ip(),
        port: key.server.port(),
    };
    let allowed = policy.allowed(protocol, ends);
    let internal = policy.is_internal(ends.client) && policy.is_internal(ends.server);
    let mut suppressed = Vec::new();
    let mut kept = Vec::with_capacity(findings.len());
    for mut f in findings {
        let accepted = allowed && f.id.starts_with("plaintext.") && f.id != CREDENTIALS;
        if accepted {
            continue;
        }
        if policy.silenced(f.id) || policy.allows_finding(f.id, protocol, ends) {
            suppressed.push(f.id);
            continue;
        }
        // RFC 6066 §3 allows no IP literal in SNI: a client that connects by address
        // sends none, by design, and internal services are often reached so.
        if f.id == tls::findings::SNI_MISSING.id && !internal {
            f.severity = f.severity.max(Severity::Low);
        }
        f.severity = policy.severity(f.id, f.severity);
        kept.push(f);
    }
    (kept, suppressed)
}

/// `tls.mtls.absent`: a completed handshake in the `[mtls] require` scope whose client
/// presented no certificate. Raised before the policy, so allow rules and severity
/// overrides apply to it like to any finding; never on `unknown`, and never when a TLS 1.3
/// server refused the client's empty Certificate (that connection carried nothing).
fn mtls_absent(policy: &Policy, key: &FlowKey, tls: &tls::Session) -> Option<Finding> {
    let info = tls.info();
    let absent = matches!(
        info.client_auth,
        tls::ClientAuth::None | tls::ClientAuth::Requested
    );
    let refused = tls.handshake().client_auth_refused == Some(true);
    let ends = Ends {
        client: key.client.ip(),
        server: key.server.ip(),
        port: key.server.port(),
    };
    if !info.established || !absent || refused || !policy.requires_mtls(ends) {
        return None;
    }
    let internal = policy.is_internal(ends.client) && policy.is_internal(ends.server);
    let source = match info.client_auth_source {
        tls::ClientAuthSource::Handshake => "handshake",
        tls::ClientAuthSource::Inferred => "inferred",
    };
    Some(
        Finding::new(&tls::findings::MTLS_ABSENT)
            .with("client_auth", info.client_auth.as_str())
            .with("client_auth_source", source)
            .with("scope", if internal { "internal" } else { "external" }),
    )
}

/// Spike detector settings from the `[spike]` section.
fn spike_params(config: &Config) -> spike::Params {
    spike::Params {
        alpha: config.spike.ewma_alpha,
        threshold: config.spike.threshold,
        min_failures: config.spike.min_failures,
        max_services: config.spike.max_services as usize,
        ..spike::Params::default()
    }
}

/// Table limits from the `[limits]` section.
fn limits(config: &Config) -> Limits {
    const NS: u64 = Timestamp::NANOS_PER_SEC;
    let l = &config.limits;
    Limits {
        max_flows: l.max_flows as usize,
        tcp_idle: u64::from(l.tcp_idle_secs) * NS,
        udp_idle: u64::from(l.udp_idle_secs) * NS,
        stream_cap: l.stream_cap_bytes as usize,
        max_bytes: l.table_bytes(&config.spike),
        ..Limits::default()
    }
}

/// Labels for `plainsight_tls_handshakes_total`; `None` when no ClientHello was seen.
fn tls_labels(session: &tls::Session) -> Option<TlsLabels> {
    let hs = session.handshake();
    let ch = hs.client_hello.as_ref()?;
    let sh = hs.server_hello.as_ref();
    let version = sh
        .and_then(|sh| tls::names::version_name(sh.negotiated()))
        .or_else(|| hs.ssl2_server_hello.as_ref().map(|_| "SSL 2.0"))
        .unwrap_or("none");
    let cipher_class = sh
        .and_then(|sh| tls::suites::lookup(sh.cipher))
        .map(|s| s.cipher.class())
        .unwrap_or("none");
    let group = sh
        .and_then(|sh| sh.key_share_group)
        .or(match hs.key_exchange {
            Some(KeyExchangeParams::NamedCurve(g)) => Some(g),
            _ => None,
        });
    let group_class = match (group, hs.key_exchange) {
        (Some(g), _) if tls::names::group_is_post_quantum(g) => "post_quantum",
        (Some(_), _) | (None, Some(_)) => "classical",
        (None, None) => "none",
    };
    let alpn_negotiated = match sh.and_then(|sh| sh.alpn.as_deref()) {
        Some(a) => alpn_bucket(Some(a)),
        None if version == "TLS 1.3" => "unknown",
        None => "none",
    };
    Some(TlsLabels {
        version,
        cipher_class,
        group_class,
        alpn_offered: alpn_bucket(ch.alpn.first().map(Vec::as_slice)),
        alpn_negotiated,
        completed: session.info().established,
        client_auth: session.info().client_auth.as_str(),
    })
}

/// ALPN ids worth a series of their own (IANA registry); the rest are `other`.
fn alpn_bucket(alpn: Option<&[u8]>) -> &'static str {
    match alpn {
        None => "none",
        Some(b"h2") => "h2",
        Some(b"http/1.1") => "http/1.1",
        Some(b"http/1.0") => "http/1.0",
        Some(b"h3") => "h3",
        Some(b"spdy/3.1") => "spdy/3.1",
        Some(b"acme-tls/1") => "acme-tls/1",
        Some(b"dot") => "dot",
        Some(b"imap") => "imap",
        Some(b"pop3") => "pop3",
        Some(b"smtp") => "smtp",
        Some(b"postgresql") => "postgresql",
        Some(b"mqtt") => "mqtt",
        Some(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 11 bytes of a real ClientHello record (TLS 1.0 record, TLS 1.2 hello).
    const CH: [u8; 11] = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];

    #[test]
    fn finds_a_client_hello_behind_a_proxy_header() {
        let mut data =
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_vec();
        let at = data.len();
        data.extend_from_slice(&CH);
        assert_eq!(find_hello(&data, 0, HS_CLIENT_HELLO), Some(at));
        assert_eq!(find_hello(&data, 0, HS_SERVER_HELLO), None);
        // Not found before `from`, and not found when cut short.
        assert_eq!(find_hello(&data, at + 1, HS_CLIENT_HELLO), None);
        assert_eq!(
            find_hello(&data[..data.len() - 1], 0, HS_CLIENT_HELLO),
            None
        );
    }

    #[test]
    fn cleartext_that_starts_like_a_record_is_not_a_hello() {
        let mut fake = CH;
        fake[9] = b'G'; // the hello version must be 3.x
        assert_eq!(find_hello(&fake, 0, HS_CLIENT_HELLO), None);
        let mut huge = CH;
        huge[3] = 0xff; // a record longer than TLS allows
        assert_eq!(find_hello(&huge, 0, HS_CLIENT_HELLO), None);
    }

    /// Feeds one TCP exchange through the engine, in order, and ends the capture.
    fn exchange(turns: &[(bool, &[u8])]) -> Vec<FlowRecord> {
        let mut engine = Engine::new(&Config::default());
        let mut out = Vec::new();
        feed(&mut engine, turns, &mut out);
        engine.finish(&mut out);
        out
    }

    #[test]
    fn live_mode_frees_stream_buffers_once_a_flow_is_done() {
        // Before: nothing called Stream::stop, so classified flows kept their buffers.
        let turns: &[(bool, &[u8])] = &[
            (false, b"220 mx ESMTP\r\n"),
            (true, b"EHLO c\r\n"),
            (false, b"250 mx\r\n"),
            (true, b"MAIL FROM:<a@b>\r\n"),
            (false, b"250 ok\r\n"),
        ];
        let payload: usize = turns.iter().map(|(_, p)| p.len()).sum();
        let mut out = Vec::new();
        let mut live = Engine::new(&Config::default()).live();
        feed(&mut live, turns, &mut out);
        assert_eq!(
            live.take_done().len(),
            1,
            "SMTP without STARTTLS is settled"
        );
        let mut offline = Engine::new(&Config::default());
        feed(&mut offline, turns, &mut out);
        // Same map, same flow: the difference is the buffers, freed in live mode only.
        assert!(
            live.table_bytes() + payload <= offline.table_bytes(),
            "live {} vs pcap mode {} (which keeps reading)",
            live.table_bytes(),
            offline.table_bytes()
        );
        for e in [&mut live, &mut offline] {
            e.finish(&mut out);
        }
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|r| r.protocol == "smtp"));
    }

    fn feed(engine: &mut Engine, turns: &[(bool, &[u8])], out: &mut Vec<FlowRecord>) {
        use std::net::{IpAddr, Ipv4Addr};
        let (c, s) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let mut seq = [1000u32, 5000u32];
        for (n, (from_client, payload)) in turns.iter().enumerate() {
            let i = usize::from(!from_client);
            let (src_ip, dst_ip, src_port, dst_port) = if *from_client {
                (c, s, 40000, 25)
            } else {
                (s, c, 25, 40000)
            };
            engine.process(
                &Segment {
                    ts: Timestamp(n as u64 + 1),
                    src_ip,
                    dst_ip,
                    src_port,
                    dst_port,
                    transport: Transport::Tcp,
                    tcp: Some(TcpMeta {
                        seq: seq[i],
                        flags: TcpMeta::ACK | TcpMeta::PSH,
                        ..TcpMeta::default()
                    }),
                    payload,
                    wire_len: 54 + payload.len() as u32,
                },
                out,
            );
            seq[i] = seq[i].wrapping_add(payload.len() as u32);
        }
    }

    #[test]
    fn cleartext_after_a_starttls_go_ahead_is_a_failed_upgrade() {
        // The client's next bytes come in a later segment than the go-ahead.
        let out = exchange(&[
            (false, b"220 mx ESMTP\r\n"),
            (true, b"EHLO c\r\n"),
            (false, b"250-mx\r\n250 STARTTLS\r\n"),
            (true, b"STARTTLS\r\n"),
            (false, b"220 go ahead\r\n"),
            (true, b"MAIL FROM:<a@b>\r\n"),
        ]);
        let [r] = &out[..] else {
            panic!("one flow expected: {out:?}")
        };
        let ids: Vec<&str> = r.findings.iter().map(|f| f.id).collect();
        assert!(ids.contains(&"starttls.failed"), "{ids:?}");
        assert!(
            ids.contains(&"plaintext.smtp"),
            "the session stayed in clear: {ids:?}"
        );
        assert!(!r.encrypted);
        assert!(r.tls.is_none());
    }

    /// One UDP datagram 10.0.0.1:50000 → 10.0.0.2:443 (or back) at time `n`.
    fn datagram(engine: &mut Engine, n: u64, to_server: bool, payload: &[u8]) {
        use std::net::{IpAddr, Ipv4Addr};
        let (c, s) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let (src_ip, dst_ip, src_port, dst_port) = if to_server {
            (c, s, 50000, 443)
        } else {
            (s, c, 443, 50000)
        };
        let mut out = Vec::new();
        engine.process(
            &Segment {
                ts: Timestamp(n),
                src_ip,
                dst_ip,
                src_port,
                dst_port,
                transport: Transport::Udp,
                tcp: None,
                payload,
                wire_len: 42 + payload.len() as u32,
            },
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn quic_initial_packets_make_a_quic_flow() {
        let unhex = |s: &str| hex::decode(s.split_whitespace().collect::<String>()).unwrap();
        let client = unhex(include_str!("quic/testdata/rfc9001-client-initial.hex"));
        let server = unhex(include_str!("quic/testdata/rfc9001-server-initial.hex"));
        let mut engine = Engine::new(&Config::default());
        datagram(&mut engine, 1, true, &client);
        datagram(&mut engine, 2, false, &server);
        let mut out = Vec::new();
        engine.finish(&mut out);
        let [r] = &out[..] else {
            panic!("one flow expected: {out:?}")
        };
        assert_eq!(r.protocol, "quic");
        assert!(r.encrypted, "QUIC has no cleartext mode");
        assert_eq!(r.quic.as_ref().map(|q| q.version.as_str()), Some("1"));
        let tls = r.tls.as_ref().unwrap();
        assert_eq!(tls.sni.as_deref(), Some("example.com"));
        assert!(tls.ja4.as_deref().unwrap().starts_with("q13d"));
        // A ClientHello but no completed handshake yet: labels, not counted as completed.
        assert!(r.tls_labels.is_some_and(|l| !l.completed));
        assert!(
            r.plaintext.is_none(),
            "the datagram went to QUIC, not plaintext"
        );
    }

    #[test]
    fn alpn_buckets_are_bounded() {
        assert_eq!(alpn_bucket(Some(b"h2")), "h2");
        assert_eq!(alpn_bucket(Some(b"anything-else")), "other");
        assert_eq!(alpn_bucket(None), "none");
    }
}
