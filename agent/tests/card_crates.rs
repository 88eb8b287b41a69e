//! Evidence for docs/dependencies.md: the design card's crates run on the corpus next to the
//! hand-written code they would replace. Each test asserts the facts the document states,
//! so the document cannot drift from the code; `--nocapture` prints the tallies.
//!
//! - etherparse (`SlicedPacket`, `LaxSlicedPacket`) against `capture::decode` on every frame
//!   of every corpus capture whose link type etherparse can take;
//! - tls-parser's cipher-suite table against `tls::suites`;
//! - tls-parser's handshake parsers against `tls::handshake` on every ClientHello,
//!   ServerHello and Certificate message that starts a TCP stream of the corpus.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;

use etherparse::{LaxNetSlice, LaxSlicedPacket, NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};
use plainsight::capture::decode::{decode, linktype};
use plainsight::capture::pcap::PcapSource;
use plainsight::flow::table::{Flow, Limits, Table};
use plainsight::flow::{Direction, Transport};
use plainsight::time::Timestamp;
use plainsight::tls::{handshake, suites};
use tls_parser::{TlsCipherSuite, TlsMessage, TlsMessageHandshake};

#[path = "common/corpus.rs"]
mod corpus_path;

/// Every capture of INDEX.tsv.
fn captures() -> Vec<String> {
    let index = std::fs::read_to_string(corpus_path::corpus_file("INDEX.tsv")).unwrap();
    index
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every frame of a capture with its link type; gzip is left out (four captures).
fn frames(path: &Path) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(file) = File::open(path) else {
        return out;
    };
    let Ok(mut reader) = pcap_parser::create_reader(1 << 20, file) else {
        return out;
    };
    let mut legacy = 0u32;
    let mut ifaces = Vec::new();
    loop {
        match reader.next() {
            Ok((len, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy = (h.network.0 as u32) & 0xffff,
                    PcapBlockOwned::Legacy(b) => {
                        let cap = (b.caplen as usize).min(b.data.len());
                        out.push((legacy, b.data[..cap].to_vec()))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(i)) => {
                        ifaces.push(i.linktype.0 as u32)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(e)) => {
                        if let Some(lt) = ifaces.get(e.if_id as usize) {
                            let cap = (e.caplen as usize).min(e.data.len());
                            out.push((*lt, e.data[..cap].to_vec()))
                        }
                    }
                    _ => {}
                }
                reader.consume(len);
            }
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    out
}

type Facts = (IpAddr, IpAddr, u16, u16, usize);

fn ports(t: &TransportSlice<'_>) -> Option<(u16, u16, usize)> {
    match t {
        TransportSlice::Tcp(t) => Some((t.source_port(), t.destination_port(), t.payload().len())),
        TransportSlice::Udp(u) => Some((u.source_port(), u.destination_port(), u.payload().len())),
        _ => None,
    }
}

fn sliced(lt: u32, f: &[u8]) -> Option<Facts> {
    let p = match lt {
        linktype::ETHERNET => SlicedPacket::from_ethernet(f),
        linktype::LINUX_SLL => SlicedPacket::from_linux_sll(f),
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => SlicedPacket::from_ip(f),
        _ => return None,
    }
    .ok()?;
    let (s, d) = match p.net.as_ref()? {
        NetSlice::Ipv4(s) => (
            IpAddr::V4(s.header().source_addr()),
            IpAddr::V4(s.header().destination_addr()),
        ),
        NetSlice::Ipv6(s) => (
            IpAddr::V6(s.header().source_addr()),
            IpAddr::V6(s.header().destination_addr()),
        ),
        NetSlice::Arp(_) => return None,
    };
    let (sp, dp, n) = ports(p.transport.as_ref()?)?;
    Some((s, d, sp, dp, n))
}

fn lax(lt: u32, f: &[u8]) -> Option<Facts> {
    let p = match lt {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(f).ok()?,
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => LaxSlicedPacket::from_ip(f).ok()?,
        _ => return None,
    };
    let (s, d) = match p.net.as_ref()? {
        LaxNetSlice::Ipv4(s) => (
            IpAddr::V4(s.header().source_addr()),
            IpAddr::V4(s.header().destination_addr()),
        ),
        LaxNetSlice::Ipv6(s) => (
            IpAddr::V6(s.header().source_addr()),
            IpAddr::V6(s.header().destination_addr()),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    let (sp, dp, n) = ports(p.transport.as_ref()?)?;
    Some((s, d, sp, dp, n))
}

fn ours(lt: u32, f: &[u8]) -> Option<Facts> {
    let s = decode(lt, Timestamp(0), f, f.len() as u32).ok()?;
    Some((s.src_ip, s.dst_ip, s.src_port, s.dst_port, s.payload.len()))
}

/// How two decoders compare on one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Same,
    OnlyOurs,
    OnlyTheirs,
    Different,
    Neither,
}

fn compare(a: Option<Facts>, b: Option<Facts>) -> Outcome {
    match (a, b) {
        (Some(x), Some(y)) if x == y => Outcome::Same,
        (Some(_), Some(_)) => Outcome::Different,
        (Some(_), None) => Outcome::OnlyOurs,
        (None, Some(_)) => Outcome::OnlyTheirs,
        (None, None) => Outcome::Neither,
    }
}

#[test]
fn etherparse_against_decode_rs_on_the_corpus() {
    let mut strict: BTreeMap<Outcome, u64> = BTreeMap::new();
    let mut loose: BTreeMap<Outcome, u64> = BTreeMap::new();
    let mut by_linktype: BTreeMap<u32, u64> = BTreeMap::new();
    let mut samples: BTreeMap<Outcome, Vec<String>> = BTreeMap::new();
    let mut only_theirs: BTreeMap<String, u64> = BTreeMap::new();
    let mut different: BTreeMap<u16, u64> = BTreeMap::new();
    for rel in captures() {
        for (lt, f) in frames(&corpus_path::corpus_file(&rel)) {
            let mine = ours(lt, &f);
            let s = compare(mine, sliced(lt, &f));
            *strict.entry(s).or_default() += 1;
            *loose.entry(compare(mine, lax(lt, &f))).or_default() += 1;
            if !matches!(
                lt,
                linktype::ETHERNET
                    | linktype::LINUX_SLL
                    | linktype::RAW
                    | linktype::IPV4
                    | linktype::IPV6
            ) && mine.is_some()
            {
                *by_linktype.entry(lt).or_default() += 1;
            }
            if s == Outcome::OnlyTheirs {
                let why = decode(lt, Timestamp(0), &f, 0).err();
                *only_theirs.entry(format!("{why:?}")).or_default() += 1;
            }
            if s == Outcome::Different {
                // The frames both read differently: decode.rs gives the inner flow of a
                // tunnel, etherparse the outer UDP datagram; tally etherparse's ports.
                let (_, _, sp, dp, _) = sliced(lt, &f).unwrap();
                *different.entry(sp.min(dp)).or_default() += 1;
            }
            let v = samples.entry(s).or_default();
            if s != Outcome::Same && s != Outcome::Neither && v.len() < 3 {
                v.push(format!("{rel} ({lt}, {} bytes)", f.len()));
            }
        }
    }
    eprintln!("SlicedPacket vs decode.rs, frames: {strict:?}");
    eprintln!("LaxSlicedPacket vs decode.rs, frames: {loose:?}");
    eprintln!("frames decode.rs reads on link types etherparse has no entry for: {by_linktype:?}");
    eprintln!("examples: {samples:#?}");
    eprintln!("etherparse only, decode.rs's reason: {only_theirs:?}");
    eprintln!("different, by etherparse's lower port: {different:?}");
    let get = |m: &BTreeMap<Outcome, u64>, o| m.get(&o).copied().unwrap_or(0);
    // What docs/dependencies.md states: both agree on the bulk of the frames, etherparse
    // reads no frame that decode.rs does not, and decode.rs reads frames etherparse cannot
    // (tunnels, PPPoE, MPLS, NULL, PPP, SLL2 and the other link types).
    assert!(get(&strict, Outcome::Same) > 20_000, "{strict:?}");
    assert!(get(&strict, Outcome::OnlyOurs) > 1_000, "{strict:?}");
    assert!(get(&loose, Outcome::OnlyOurs) > 1_000, "{loose:?}");
    // etherparse reads more only where a tunnel carries something other than TCP/UDP
    // (decode.rs counts the inner packet as other_l4), and reads differently only tunnels
    // (the outer UDP datagram on a tunnel port).
    assert!(
        only_theirs.keys().all(|k| k == "Some(OtherL4)"),
        "{only_theirs:?}"
    );
    assert!(
        different.keys().all(|p| [2152, 4789, 5247].contains(p)),
        "{different:?}"
    );
    assert!(by_linktype.contains_key(&linktype::NULL) && by_linktype.contains_key(&linktype::PPP));
}

#[test]
fn tls_parser_suite_table_against_suites_rs() {
    let mut missing = Vec::new();
    let mut renamed = Vec::new();
    // Since tls-parser's table became the source, `missing` are the suites suites.rs adds.
    for s in suites::table() {
        match TlsCipherSuite::from_id(s.code) {
            None => missing.push(format!("0x{:04X} {}", s.code, s.name)),
            Some(t) if t.name != s.name => renamed.push(format!(
                "0x{:04X} ours {} / tls-parser {}",
                s.code, s.name, t.name
            )),
            Some(_) => {}
        }
    }
    let extra: Vec<String> = (0..=u16::MAX)
        .filter_map(|c| TlsCipherSuite::from_id(c).map(|t| (c, t.name)))
        .filter(|(c, _)| {
            suites::lookup(*c)
                .is_none_or(|s| s.name != TlsCipherSuite::from_id(*c).map_or("", |t| t.name))
        })
        .map(|(c, n)| format!("0x{c:04X} {n}"))
        .collect();
    eprintln!(
        "suites.rs: {} suites; tls-parser lacks {}: {missing:#?}",
        suites::table().len(),
        missing.len()
    );
    eprintln!("named differently ({}): {renamed:#?}", renamed.len());
    eprintln!("tls-parser only ({}): {extra:#?}", extra.len());
    // docs/dependencies.md: tls-parser names every suite as IANA does and lacks the 7 GOST
    // suites (RFC 9189, RFC 9367).
    assert!(
        renamed.is_empty() && extra.is_empty(),
        "{renamed:?} {extra:?}"
    );
    assert_eq!(missing.len(), 7, "{missing:?}");
    assert!(missing.iter().all(|m| m.contains("GOSTR3411")));
    // The table also carries what tls-parser has no field for: export grade and the
    // SSL 2.0 cipher specs.
    assert!(!suites::SSL2_SPECS.is_empty());
}

/// The handshake messages at the start of a stream: TLS records of type 22 in a row,
/// their bodies joined, split into (type, whole message) pairs.
fn messages(stream: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut hs = Vec::new();
    let mut at = 0;
    while let Some(h) = stream.get(at..at + 5) {
        if h[0] != 22 || h[1] != 3 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        let Some(body) = stream.get(at + 5..at + 5 + len) else {
            break;
        };
        hs.extend_from_slice(body);
        at += 5 + len;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(h) = hs.get(i..i + 4) {
        let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
        let Some(m) = hs.get(i..i + 4 + len) else {
            break;
        };
        out.push((h[0], m.to_vec()));
        i += 4 + len;
        // After a ServerHelloDone or a TLS 1.3 ServerHello the rest is encrypted or absent.
        if h[0] == 14 {
            break;
        }
    }
    out
}

fn flows(path: &Path) -> Vec<Flow<()>> {
    let mut table: Table<()> = Table::new(Limits {
        stream_cap: 64 * 1024,
        ..Limits::default()
    });
    let Ok(mut src) = PcapSource::open(path) else {
        return Vec::new();
    };
    let mut ended = Vec::new();
    let _ = src.for_each_segment(|seg| {
        let _ = table.packet(seg, |_| ());
        ended.extend(table.expire(seg.ts));
    });
    ended.extend(table.drain_all());
    ended
}

#[derive(Default, Debug)]
struct Tally {
    seen: u64,
    /// Both parse and agree on what is compared.
    agree: u64,
    /// tls-parser fails where handshake.rs parses.
    theirs_fail: Vec<String>,
    /// handshake.rs fails where tls-parser parses.
    ours_fail: Vec<String>,
    /// Both parse, different facts.
    differ: Vec<String>,
}

impl Tally {
    fn note(&mut self, rel: &str, ours: Result<String, String>, theirs: Result<String, String>) {
        self.seen += 1;
        match (ours, theirs) {
            (Ok(a), Ok(b)) if a == b => self.agree += 1,
            (Ok(a), Ok(b)) => self
                .differ
                .push(format!("{rel}: ours {a} / tls-parser {b}")),
            (Ok(_), Err(e)) => self.theirs_fail.push(format!("{rel}: {e}")),
            (Err(e), Ok(_)) => self.ours_fail.push(format!("{rel}: {e}")),
            (Err(_), Err(_)) => self.agree += 1,
        }
    }
}

fn ext_types(v: &[tls_parser::TlsExtension<'_>]) -> Vec<u16> {
    v.iter()
        .map(|e| match e {
            // tls-parser reports every GREASE value as 0xFAFA; the value is inside.
            tls_parser::TlsExtension::Grease(t, _) => *t,
            e => tls_parser::TlsExtensionType::from(e).0,
        })
        .collect()
}

fn tp_handshake(m: &[u8]) -> Result<TlsMessageHandshake<'_>, String> {
    match tls_parser::parse_tls_message_handshake(m) {
        Ok((_, TlsMessage::Handshake(h))) => Ok(h),
        Ok((_, other)) => Err(format!("not a handshake: {other:?}")),
        Err(e) => Err(format!("{e:?}").chars().take(120).collect()),
    }
}

#[test]
fn tls_parser_handshake_parsers_against_handshake_rs() {
    let (mut ch, mut sh, mut cert) = (Tally::default(), Tally::default(), Tally::default());
    for rel in captures() {
        for flow in flows(&corpus_path::corpus_file(&rel)) {
            if flow.key.transport != Transport::Tcp {
                continue;
            }
            for dir in [Direction::ToServer, Direction::ToClient] {
                for (typ, m) in messages(flow.stream(dir).contiguous()) {
                    let body = &m[4..];
                    match typ {
                        1 => {
                            let ours = handshake::parse_client_hello(body)
                                .map(|c| {
                                    let ext: Vec<u16> =
                                        c.extensions.iter().map(|e| e.typ).collect();
                                    format!("{:04x} {:?} ext {ext:?}", c.version, c.ciphers)
                                })
                                .map_err(|e| e.to_string());
                            let theirs = tp_handshake(&m).and_then(|h| match h {
                                TlsMessageHandshake::ClientHello(c) => {
                                    let ext = match c.ext {
                                        Some(e) => tls_parser::parse_tls_client_hello_extensions(e)
                                            .map(|(_, v)| ext_types(&v))
                                            .map_err(|e| format!("extensions: {e:?}"))?,
                                        None => Vec::new(),
                                    };
                                    let ciphers: Vec<u16> = c.ciphers.iter().map(|x| x.0).collect();
                                    Ok(format!("{:04x} {ciphers:?} ext {ext:?}", c.version.0))
                                }
                                other => Err(format!("{other:?}").chars().take(80).collect()),
                            });
                            ch.note(&rel, ours, theirs);
                        }
                        2 => {
                            let ours = handshake::parse_server_hello(body)
                                .map(|s| {
                                    let ext: Vec<u16> =
                                        s.extensions.iter().map(|e| e.typ).collect();
                                    format!("{:04x} {:04x} ext {ext:?}", s.version, s.cipher)
                                })
                                .map_err(|e| e.to_string());
                            let theirs = tp_handshake(&m).and_then(|h| match h {
                                TlsMessageHandshake::ServerHello(s) => {
                                    let ext = match s.ext {
                                        Some(e) => tls_parser::parse_tls_server_hello_extensions(e)
                                            .map(|(_, v)| ext_types(&v))
                                            .map_err(|e| format!("extensions: {e:?}"))?,
                                        None => Vec::new(),
                                    };
                                    Ok(format!(
                                        "{:04x} {:04x} ext {ext:?}",
                                        s.version.0, s.cipher.0
                                    ))
                                }
                                other => Err(format!("{other:?}").chars().take(80).collect()),
                            });
                            sh.note(&rel, ours, theirs);
                        }
                        11 => {
                            let n = handshake::parse_certificate_list(body).len();
                            // An empty list is legal: a client without a certificate.
                            let ours = Ok(format!("{n} certificates"));
                            let theirs = tp_handshake(&m).and_then(|h| match h {
                                TlsMessageHandshake::Certificate(c) => {
                                    Ok(format!("{} certificates", c.cert_chain.len()))
                                }
                                other => Err(format!("{other:?}").chars().take(80).collect()),
                            });
                            cert.note(&rel, ours, theirs);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    for (name, t) in [
        ("ClientHello", &ch),
        ("ServerHello", &sh),
        ("Certificate", &cert),
    ] {
        eprintln!(
            "{name}: {} seen, {} agree, tls-parser fails {}, handshake.rs fails {}, differ {}",
            t.seen,
            t.agree,
            t.theirs_fail.len(),
            t.ours_fail.len(),
            t.differ.len()
        );
        for l in t
            .theirs_fail
            .iter()
            .chain(&t.ours_fail)
            .chain(&t.differ)
            .take(12)
        {
            eprintln!("  {l}");
        }
    }
    assert!(
        ch.seen > 500 && sh.seen > 300 && cert.seen > 100,
        "{} {} {}",
        ch.seen,
        sh.seen,
        cert.seen
    );
    // docs/dependencies.md: where tls-parser is wrong and handshake.rs is not.
    // TLS 1.3 draft ServerHellos (0x7f0e, 0x7f10, 0x7f13) fail or take another shape.
    assert!(sh.theirs_fail.len() >= 6, "{:?}", sh.theirs_fail);
    // An unknown-to-it extension ends its list silently: NPN (0x3374) in ServerHellos,
    // ESNI (0xffce) and record_size_limit after it in a ClientHello.
    assert!(
        sh.differ.iter().any(|d| d.contains("13172] / tls-parser")),
        "{:?}",
        sh.differ
    );
    assert!(
        ch.differ
            .iter()
            .any(|d| d.contains("65486, 28] / tls-parser")),
        "{:?}",
        ch.differ
    );
    // A Certificate message cut by the capture: no certificate at all from tls-parser.
    assert!(
        cert.theirs_fail.iter().any(|d| d.contains("Incomplete")),
        "{:?}",
        cert.theirs_fail
    );
}

/// The same series through `export::metrics` and the two Prometheus crates: what the
/// metrics golden test (tests/tests/metrics_golden.rs) would see change.
#[test]
fn prometheus_crates_cannot_reproduce_the_exposition() {
    use plainsight::export::metrics::{Metrics, Workloads};
    let mut m = Metrics::new();
    let w = Workloads::of(["shop", "web", "", "", ""]);
    m.flows
        .add_with(["http", "false", "internal", "tcp"], &w, 2.0);
    let ours: String = m
        .render_at(1_800_000_000)
        .lines()
        .filter(|l| l.starts_with("plainsight_flows_total"))
        .collect::<Vec<_>>()
        .join("\n");

    let names = [
        "protocol",
        "encrypted",
        "scope",
        "transport",
        "src_namespace",
        "src_workload",
        "dst_namespace",
        "dst_workload",
        "dst_service",
    ];
    let values = [
        "http", "false", "internal", "tcp", "shop", "web", "", "", "",
    ];
    let reg = prometheus::Registry::new();
    let v = prometheus::IntCounterVec::new(
        prometheus::Opts::new("plainsight_flows_total", "Flows seen."),
        &names,
    )
    .unwrap();
    reg.register(Box::new(v.clone())).unwrap();
    v.with_label_values(&values).inc_by(2);
    let tikv = prometheus::TextEncoder::new()
        .encode_to_string(&reg.gather())
        .unwrap();

    let mut creg = prometheus_client::registry::Registry::default();
    let fam = prometheus_client::metrics::family::Family::<
        Vec<(String, String)>,
        prometheus_client::metrics::counter::Counter,
    >::default();
    creg.register("plainsight_flows", "Flows seen.", fam.clone());
    let labels: Vec<(String, String)> = names
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
        .collect();
    fam.get_or_create(&labels).inc_by(2);
    let mut client = String::new();
    prometheus_client::encoding::text::encode(&mut client, &creg).unwrap();
    eprintln!("ours:\n{ours}\nprometheus:\n{tikv}\nprometheus-client:\n{client}");
    assert_eq!(
        ours,
        "plainsight_flows_total{protocol=\"http\",encrypted=\"false\",scope=\"internal\",transport=\"tcp\",src_namespace=\"shop\",src_workload=\"web\"} 2"
    );
    // prometheus: label pairs sorted by name, empty values written out.
    assert!(
        tikv.contains("plainsight_flows_total{dst_namespace=\"\",dst_service=\"\""),
        "{tikv}"
    );
    // prometheus-client: OpenMetrics text (`# EOF`), not the 0.0.4 format the golden holds;
    // HELP and TYPE name the family without `_total`, and the help text gains a period.
    assert!(client.ends_with("# EOF\n"), "{client}");
    assert!(
        client.contains("# HELP plainsight_flows Flows seen..\n"),
        "{client}"
    );
}
