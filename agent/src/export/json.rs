//! The JSON event line, written by hand into one reused buffer.
//!
//! Why: on the recorded handshake mix (20,008 events of about 1.4 KB) writing events through
//! `serde_json::to_vec(&Event)` cost 27,000 instructions per event, 18% of the whole run:
//! the output `Vec` regrown from empty for every line (`realloc` and `memcpy`), every string
//! escaped byte by byte (`format_escaped_str`, 7.4% self), each address through
//! `Ipv4Addr`'s `Display` and a `String`. Here the buffer keeps its capacity between lines,
//! strings are checked for escapes in one branch-free pass and copied whole, and addresses,
//! integers (`itoa`) and floats (`ryu`, as serde_json itself) go straight into the buffer.
//!
//! The output is byte-identical to serde_json's for [`Event`](super::events::Event), which
//! stays the reference (`docs/event.schema.json`); the unit tests and the fuzz target
//! compare the two. Rare nested objects (Kubernetes identities, `plaintext`, `quic`) still
//! go through serde, into the same buffer.

use std::io::Write as _;
use std::net::IpAddr;

use serde::Serialize;

use crate::detect::{Evidence, Finding};
use crate::engine::FlowRecord;
use crate::export::events::SCHEMA_VERSION;
use crate::tls::cert::{CertInfo, ClientCertInfo};
use crate::tls::TlsInfo;

/// Appends `record`'s event (no newline) to `out`.
pub fn event(out: &mut Vec<u8>, r: &FlowRecord) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"schema_version\":");
    uint(out, u64::from(SCHEMA_VERSION));
    out.extend_from_slice(b",\"ts\":");
    float(out, (r.first_seen.0 / 1_000) as f64 / 1e6);
    out.extend_from_slice(b",\"src_ip\":");
    ip(out, r.key.client.ip());
    out.extend_from_slice(b",\"src_port\":");
    uint(out, u64::from(r.key.client.port()));
    out.extend_from_slice(b",\"dst_ip\":");
    ip(out, r.key.server.ip());
    out.extend_from_slice(b",\"dst_port\":");
    uint(out, u64::from(r.key.server.port()));
    out.extend_from_slice(b",\"transport\":");
    string(out, r.key.transport.as_str());
    if let Some(source) = r.source {
        out.extend_from_slice(b",\"source\":");
        string(out, source);
    }
    out.extend_from_slice(b",\"protocol\":");
    string(out, r.protocol);
    out.extend_from_slice(b",\"encrypted\":");
    boolean(out, r.encrypted);
    if let Some(id) = &r.k8s.src {
        out.extend_from_slice(b",\"src_k8s\":");
        serde(out, id)?;
    }
    if let Some(id) = &r.k8s.dst {
        out.extend_from_slice(b",\"dst_k8s\":");
        serde(out, id)?;
    }
    out.extend_from_slice(b",\"tls\":");
    match &r.tls {
        Some(t) => tls(out, t),
        None => null(out),
    }
    if let Some(q) = &r.quic {
        out.extend_from_slice(b",\"quic\":");
        serde(out, q)?;
    }
    out.extend_from_slice(b",\"plaintext\":");
    match &r.plaintext {
        Some(p) => serde(out, p)?,
        None => null(out),
    }
    if r.midstream {
        out.extend_from_slice(b",\"midstream\":true");
    }
    if let Some(proxy) = r.proxy {
        out.extend_from_slice(b",\"proxy\":");
        string(out, proxy);
    }
    out.extend_from_slice(b",\"findings\":");
    list(out, r.findings.iter().map(|f| f.id));
    out.extend_from_slice(b",\"finding_details\":[");
    for (i, f) in r.findings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        finding(out, f)?;
    }
    out.extend_from_slice(b"],\"flow\":{\"duration\":");
    float(out, r.last_seen.saturating_sub(r.first_seen) as f64 / 1e9);
    out.extend_from_slice(b",\"packets_to_server\":");
    uint(out, r.packets[0]);
    out.extend_from_slice(b",\"packets_to_client\":");
    uint(out, r.packets[1]);
    out.extend_from_slice(b",\"bytes_to_server\":");
    uint(out, r.bytes[0]);
    out.extend_from_slice(b",\"bytes_to_client\":");
    uint(out, r.bytes[1]);
    out.extend_from_slice(b",\"gap\":");
    boolean(out, r.gap);
    out.extend_from_slice(b"}}");
    Ok(())
}

fn finding(out: &mut Vec<u8>, f: &Finding) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"id\":");
    string(out, f.id);
    out.extend_from_slice(b",\"severity\":");
    string(out, f.severity.as_str());
    out.extend_from_slice(b",\"title\":");
    string(out, f.title);
    out.extend_from_slice(b",\"remediation\":");
    string(out, f.remediation);
    out.extend_from_slice(b",\"evidence\":{");
    for (i, (k, v)) in f.evidence.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, k);
        out.push(b':');
        match v {
            Evidence::Text(s) => string(out, s),
            Evidence::Number(n) => serde(out, n)?,
            Evidence::Bool(b) => boolean(out, *b),
            Evidence::List(l) => list(out, l.iter().map(String::as_str)),
        }
    }
    out.extend_from_slice(b"}}");
    Ok(())
}

fn tls(out: &mut Vec<u8>, t: &TlsInfo) {
    out.extend_from_slice(b"{\"version\":");
    opt_string(out, t.version.as_deref());
    out.extend_from_slice(b",\"client_versions\":");
    list(out, t.client_versions.iter().map(|v| &**v));
    out.extend_from_slice(b",\"cipher\":");
    opt_string(out, t.cipher.as_deref());
    out.extend_from_slice(b",\"sni\":");
    opt_string(out, t.sni.as_deref());
    out.extend_from_slice(b",\"alpn\":");
    list(out, t.alpn.iter().map(String::as_str));
    out.extend_from_slice(b",\"alpn_selected\":");
    opt_string(out, t.alpn_selected.as_deref());
    out.extend_from_slice(b",\"groups\":");
    list(out, t.groups.iter().map(|g| &**g));
    out.extend_from_slice(b",\"group_selected\":");
    opt_string(out, t.group_selected.as_deref());
    out.extend_from_slice(b",\"ja3\":");
    opt_string(out, t.ja3.as_deref());
    out.extend_from_slice(b",\"ja3s\":");
    opt_string(out, t.ja3s.as_deref());
    out.extend_from_slice(b",\"ja4\":");
    opt_string(out, t.ja4.as_deref());
    out.extend_from_slice(b",\"fallback_scsv\":");
    boolean(out, t.fallback_scsv);
    out.extend_from_slice(b",\"established\":");
    boolean(out, t.established);
    out.extend_from_slice(b",\"resumed\":");
    boolean(out, t.resumed);
    out.extend_from_slice(b",\"alert\":");
    opt_string(out, t.alert.as_deref());
    out.extend_from_slice(b",\"cert\":");
    match &t.cert {
        Some(c) => cert(out, c),
        None => null(out),
    }
    out.extend_from_slice(b",\"client_auth\":");
    string(out, t.client_auth.as_str());
    out.extend_from_slice(b",\"client_auth_source\":");
    string(out, t.client_auth_source.as_str());
    out.extend_from_slice(b",\"client_cert\":");
    match &t.client_cert {
        Some(c) => client_cert(out, c),
        None => null(out),
    }
    if t.midstream {
        out.extend_from_slice(b",\"midstream\":true");
    }
    out.push(b'}');
}

fn cert(out: &mut Vec<u8>, c: &CertInfo) {
    out.extend_from_slice(b"{\"subject\":");
    string(out, &c.subject);
    out.extend_from_slice(b",\"issuer\":");
    string(out, &c.issuer);
    out.extend_from_slice(b",\"serial\":");
    string(out, &c.serial);
    out.extend_from_slice(b",\"not_before\":");
    string(out, &c.not_before);
    out.extend_from_slice(b",\"not_after\":");
    string(out, &c.not_after);
    out.extend_from_slice(b",\"key_type\":");
    string(out, &c.key_type);
    out.extend_from_slice(b",\"key_bits\":");
    match c.key_bits {
        Some(b) => uint(out, u64::from(b)),
        None => null(out),
    }
    out.extend_from_slice(b",\"sig_alg\":");
    string(out, &c.sig_alg);
    out.extend_from_slice(b",\"san\":");
    list(out, c.san.iter().map(String::as_str));
    out.extend_from_slice(b",\"self_signed\":");
    boolean(out, c.self_signed);
    out.push(b'}');
}

fn client_cert(out: &mut Vec<u8>, c: &ClientCertInfo) {
    out.extend_from_slice(b"{\"subject\":");
    string(out, &c.subject);
    out.extend_from_slice(b",\"san\":");
    list(out, c.san.iter().map(String::as_str));
    out.push(b'}');
}

/// A nested value through serde_json, into the same buffer (objects rare in events).
fn serde<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), serde_json::Error> {
    serde_json::to_writer(out, v)
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// As serde_json writes an `f64`: shortest round-trip digits (ryu), `null` if not finite.
fn float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        null(out);
    }
}

/// An address as `IpAddr`'s `Display` writes it; IPv4 by hand (the common case).
fn ip(out: &mut Vec<u8>, addr: IpAddr) {
    out.push(b'"');
    match addr {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(itoa::Buffer::new().format(octet).as_bytes());
            }
        }
        // Writing to a Vec cannot fail.
        IpAddr::V6(v6) => drop(write!(out, "{v6}")),
    }
    out.push(b'"');
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => null(out),
    }
}

fn list<'s>(out: &mut Vec<u8>, items: impl Iterator<Item = &'s str>) {
    out.push(b'[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, s);
    }
    out.push(b']');
}

/// Whether serde_json escapes byte `b`: controls, `"` and `\` (not `/`, not DEL, not
/// non-ASCII).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any byte of `bytes` needs an escape, eight bytes at a time (a byte-wise scan
/// cost about 3 instructions per byte of output).
fn any_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Exact tests for "some byte is zero" and "some byte is below n" (n <= 128).
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let has_less = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH != 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        let v = u64::from_ne_bytes(word);
        if has_less(v, 0x20)
            || has_zero(v ^ (ONES * u64::from(b'"')))
            || has_zero(v ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| needs_escape(b))
}

/// A JSON string, escaped exactly as serde_json does. Titles, remediations and most values
/// need no escape: [`any_escape`] says so and the bytes are copied whole.
fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if any_escape(bytes) {
        escaped(out, bytes);
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'"');
}

fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::sync::Arc;

    use super::*;
    use crate::detect::Severity;
    use crate::export::events::Event;
    use crate::identity::{Identity, WorkloadKind};
    use crate::plaintext::PlaintextInfo;
    use crate::quic::QuicInfo;
    use crate::time::Timestamp;
    use crate::tls::{ClientAuth, ClientAuthSource};

    fn same_as_serde(r: &FlowRecord) {
        let mut mine = Vec::new();
        event(&mut mine, r).expect("event");
        let reference = serde_json::to_vec(&Event::from_record(r)).expect("serde");
        assert_eq!(
            String::from_utf8_lossy(&mine),
            String::from_utf8_lossy(&reference)
        );
    }

    #[test]
    fn plain_record_matches_serde() {
        same_as_serde(&FlowRecord::for_test("http", 80));
    }

    #[test]
    fn every_optional_field_matches_serde() {
        let mut r = FlowRecord::for_test("tls", 443);
        r.key.client = SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 40000));
        r.key.server = "[::ffff:10.0.0.2]:443".parse().expect("addr");
        r.first_seen = Timestamp(1_796_420_274_278_522_999);
        r.last_seen = Timestamp(1_796_420_275_000_000_001);
        r.source = Some("probe");
        r.midstream = true;
        r.proxy = Some("socks5");
        r.gap = true;
        r.packets = [u64::MAX, 0];
        r.k8s.src = Some(Identity {
            namespace: None,
            pod: None,
            workload: Arc::from("node-1"),
            workload_kind: WorkloadKind::Node,
            service: None,
        });
        r.tls = Some(TlsInfo {
            version: Some("TLS 1.2".into()),
            client_versions: vec!["TLS 1.2".into(), "TLS 1.1".into()],
            cipher: Some("TLS_RSA_WITH_AES_128_CBC_SHA".into()),
            sni: Some("we\"ird\\host\u{1}\u{7f}é\n".into()),
            alpn: vec!["h2".into(), "\u{fffd}x".into()],
            groups: vec![],
            ja3: Some("abc".into()),
            fallback_scsv: true,
            established: true,
            alert: Some("handshake_failure".into()),
            cert: Some(Arc::new(CertInfo {
                subject: "CN=a, O=b\tc".into(),
                key_bits: Some(2048),
                san: vec!["a.test".into()],
                self_signed: true,
                ..CertInfo::default()
            })),
            client_auth: ClientAuth::Presented,
            client_auth_source: ClientAuthSource::Handshake,
            client_cert: Some(ClientCertInfo {
                subject: "CN=client".into(),
                san: vec!["spiffe://x/y".into()],
            }),
            midstream: true,
            ..TlsInfo::default()
        });
        r.quic = Some(QuicInfo {
            version: "1".into(),
            sni: Some("q.test".into()),
            user_agent: None,
        });
        r.plaintext = Some(PlaintextInfo {
            protocol: Some("http"),
            verbs: vec!["GET".into()],
            attrs: BTreeMap::from([("host", "x\u{0}y".to_owned())]),
            ..PlaintextInfo::default()
        });
        r.findings = vec![
            Finding {
                id: "a.b",
                severity: Severity::Critical,
                title: "T \"quoted\"",
                remediation: "R",
                evidence: crate::detect::EvidenceMap::new(),
            }
            .with("text", "v")
            .with("count", 3u64)
            .with("ratio", 0.333_f64)
            .with("neg", -5i64)
            .with("flag", false)
            .with("list", vec!["x".to_owned(), "y\u{1f}".to_owned()]),
            Finding {
                id: "c.d",
                severity: Severity::Info,
                title: "",
                remediation: "",
                evidence: crate::detect::EvidenceMap::new(),
            },
        ];
        same_as_serde(&r);
        r.tls = None;
        r.k8s.src = None;
        r.quic = None;
        r.first_seen = Timestamp(0);
        r.last_seen = Timestamp(0);
        same_as_serde(&r);
    }

    #[test]
    fn escape_check_finds_every_escaped_byte_at_every_offset() {
        for b in 0u8..0x80 {
            for at in 0..17 {
                let mut s = vec![b'a'; 17];
                s[at] = b;
                assert_eq!(any_escape(&s), needs_escape(b), "byte {b:#x} at {at}");
            }
        }
        // Bytes just above the limits, and non-ASCII, need none.
        assert!(!any_escape(
            "   !#[]^é€𝄞 plain text, long enough".as_bytes()
        ));
    }

    #[test]
    fn every_control_byte_is_escaped_as_serde_does() {
        let all: String = (0u8..0x80).map(char::from).collect();
        let mut mine = Vec::new();
        string(&mut mine, &all);
        assert_eq!(mine, serde_json::to_vec(&all).expect("serde"));
    }
}
