//! Test vectors of RFC 9001 Appendix A (QUIC v1) and RFC 9369 Appendix A (QUIC v2), and
//! the reassembly and framing rules.
//!
//! `testdata/*.hex` are the protected Initial packets printed in those appendices
//! (A.2 client Initial, 1,200 bytes; A.3 server Initial, 135 bytes), hex, 32 bytes a line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::keys::{self, Keys};
use super::packet::{self, Frame, Parsed};
use super::version::{self, Version};
use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn v1_client() -> Vec<u8> {
    unhex(include_str!("testdata/rfc9001-client-initial.hex"))
}
fn v1_server() -> Vec<u8> {
    unhex(include_str!("testdata/rfc9001-server-initial.hex"))
}
fn v2_client() -> Vec<u8> {
    unhex(include_str!("testdata/rfc9369-client-initial.hex"))
}
fn v2_server() -> Vec<u8> {
    unhex(include_str!("testdata/rfc9369-server-initial.hex"))
}

/// RFC 9001 §A.1 / RFC 9369 §A.1: the client's Destination Connection ID.
const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

fn check_material(v: u32, want: [[&str; 4]; 2]) {
    let version = Version::from_wire(v).unwrap();
    let got = keys::material(&version, &DCID).unwrap();
    for (m, w) in got.iter().zip(want) {
        assert_eq!(hex::encode(&m.secret), w[0]);
        assert_eq!(hex::encode(&m.key), w[1]);
        assert_eq!(hex::encode(&m.iv), w[2]);
        assert_eq!(hex::encode(&m.hp), w[3]);
    }
}

#[test]
fn rfc9001_a1_keys() {
    check_material(
        version::V1,
        [
            [
                "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
                "1f369613dd76d5467730efcbe3b1a22d",
                "fa044b2f42a3fd3b46fb255c",
                "9f50449e04a0e810283a1e9933adedd2",
            ],
            [
                "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
                "cf3a5331653c364c88f0f379b6067e37",
                "0ac1493ca1905853b0bba03e",
                "c206b8d9b9f0f37644430b490eeaa314",
            ],
        ],
    );
}

#[test]
fn rfc9369_a1_keys() {
    check_material(
        version::V2,
        [
            [
                "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
                "8b1a0bc121284290a29e0971b5cd045d",
                "91f73e2351d8fa91660e909f",
                "45b95e15235d6f45a6b19cbcb0294ba9",
            ],
            [
                "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
                "82db637861d55e1d011f19ea71d5d2a7",
                "dd13c276499c0249d3310652",
                "edf6d05c83121201b436e16877593c3a",
            ],
        ],
    );
}

#[test]
fn rfc9001_a2_header_protection_and_client_initial() {
    let v1 = Version::from_wire(version::V1).unwrap();
    let k = Keys::pair(&v1, &DCID).unwrap();
    // §A.2: sample and mask.
    let mask = k[0]
        .mask(&unhex("d1b1c98dd7689fb8ec11d242b123dc9b"))
        .unwrap();
    assert_eq!(hex::encode(mask), "437b9aec36");
    let pkt = v1_client();
    let Parsed::Long(h) = packet::parse(&pkt) else {
        panic!("not a long header")
    };
    assert_eq!(h.dcid, DCID);
    assert_eq!(h.end, 1200);
    let (pn, plain) = packet::open(&k[0], &h, &pkt, None).unwrap();
    assert_eq!(pn, 2);
    // CRYPTO frame at offset 0, 241 bytes: a ClientHello (type 1, 237 bytes), then PADDING.
    assert_eq!(hex::encode(&plain[..8]), "060040f1010000ed");
    let frames = packet::frames(&plain).unwrap();
    assert!(matches!(frames[..], [Frame::Crypto { offset: 0, data }] if data.len() == 241));
    // The server's keys do not open it: AES-GCM authenticates.
    assert!(packet::open(&k[1], &h, &pkt, None).is_none());
}

/// Feeds the appendix's client and server Initial packets through a flow's QUIC state.
fn handshake(client: &[u8], server: &[u8], want_version: &str) {
    let mut q = Quic::start(Direction::ToServer, client).expect("client Initial opens");
    let mut s = tls::Session::default();
    q.feed(&mut s, Direction::ToServer, client);
    q.feed(&mut s, Direction::ToClient, server);
    assert_eq!(q.info().version, want_version);
    let info = s.info();
    assert_eq!(info.sni.as_deref(), Some("example.com"));
    assert_eq!(info.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(info.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(info.group_selected.as_deref(), Some("x25519"));
    let ja4 = info.ja4.as_deref().unwrap();
    assert!(ja4.starts_with("q13d"), "{ja4}");
    // quic_transport_parameters (57) is one of the extensions counted by JA4.
    let ch = s.handshake().client_hello.as_ref().unwrap();
    assert!(ch.has_extension(0x39));
    assert_eq!(q.undecryptable, 0);
    assert!(!info.established, "nothing after the ServerHello yet");
}

#[test]
fn rfc9001_a2_a3_client_and_server_initial() {
    handshake(&v1_client(), &v1_server(), "1");
}

#[test]
fn rfc9369_a2_a3_client_and_server_initial() {
    handshake(&v2_client(), &v2_server(), "2");
}

#[test]
fn v2_packet_types_are_permuted() {
    let v2 = Version::from_wire(version::V2).unwrap();
    let v1 = Version::from_wire(version::V1).unwrap();
    // RFC 9369 §3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00.
    assert_eq!(v2.packet_type(0xd0), PacketType::Initial);
    assert_eq!(v2.packet_type(0xc0), PacketType::Retry);
    assert_eq!(v1.packet_type(0xc0), PacketType::Initial);
    assert_eq!(v1.packet_type(0xe0), PacketType::Handshake);
}

#[test]
fn versions_and_names() {
    let name = |w| Version::from_wire(w).map(|v| v.name());
    assert_eq!(name(0xff00_001d).as_deref(), Some("draft-29"));
    assert_eq!(name(0xff00_0017).as_deref(), Some("draft-23"));
    assert_eq!(name(version::MVFST_27).as_deref(), Some("mvfst-27"));
    assert_eq!(name(0xff00_0016), None, "draft-22 is not supported");
    assert_eq!(name(0x5130_3530), None, "gQUIC Q050");
    assert_eq!(name(0x0a0a_0a0a), None, "greased version");
}

#[test]
fn not_quic_is_refused() {
    let mut pkt = v1_client();
    // One ciphertext bit flipped: the tag check fails, so no QUIC flow starts.
    pkt[600] ^= 1;
    assert!(Quic::start(Direction::ToServer, &pkt).is_none());
    assert!(Quic::start(Direction::ToServer, b"\x16\xfe\xfd\0\0\0\0\0\0\0\0\0\0").is_none());
    assert!(Quic::start(Direction::ToServer, &[0xc3; 1200]).is_none());
    // The server's Initial cannot start a flow: its keys need the client's first DCID.
    assert!(Quic::start(Direction::ToClient, &v1_server()).is_none());
}

#[test]
fn coalesced_packets_and_padding() {
    // The server Initial, then a Handshake packet of the same version, then zero padding.
    let mut dgram = v1_server();
    let mut hs = vec![0xe0, 0, 0, 0, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0x40, 30];
    hs.extend([0x55; 30]);
    dgram.extend(&hs);
    dgram.extend([0; 40]);
    let client = v1_client();
    let mut q = Quic::start(Direction::ToServer, &client).unwrap();
    let mut s = tls::Session::default();
    q.feed(&mut s, Direction::ToServer, &client);
    q.feed(&mut s, Direction::ToClient, &dgram);
    assert!(s.handshake().server_hello.is_some());
    assert_eq!(q.undecryptable, 0);
    // The client's Handshake packet (big enough for a Finished) completes the handshake.
    let mut fin = vec![0xe0, 0, 0, 0, 1, 8];
    fin.extend(DCID);
    fin.extend([0, 0x40, 60]);
    fin.extend([0x55; 60]);
    q.feed(&mut s, Direction::ToServer, &fin);
    assert!(s.info().established);
}

#[test]
fn crypto_frames_out_of_order_across_datagrams() {
    // The appendix ClientHello split into three CRYPTO pieces, delivered last first, with
    // a duplicate, through the reassembly stream.
    let v1 = Version::from_wire(version::V1).unwrap();
    let k = Keys::pair(&v1, &DCID).unwrap();
    let pkt = v1_client();
    let Parsed::Long(h) = packet::parse(&pkt) else {
        panic!()
    };
    let (_, plain) = packet::open(&k[0], &h, &pkt, None).unwrap();
    let Ok(frames) = packet::frames(&plain) else {
        panic!()
    };
    let Frame::Crypto { data, .. } = frames[0] else {
        panic!()
    };
    let mut st = crypto::Stream::default();
    st.add(200, &data[200..]);
    st.add(100, &data[100..200]);
    st.add(100, &data[100..150]);
    assert!(st.contiguous().is_empty());
    st.add(0, &data[..120]);
    assert_eq!(st.contiguous(), data);
    assert_eq!(st.held(), data.len());
    assert_eq!(st.refused, 0);
}

#[test]
fn crypto_reassembly_is_bounded() {
    let mut st = crypto::Stream::default();
    st.add(1 << 40, b"far away");
    st.add(crypto::MAX_HELD as u64 - 2, b"past the cap");
    let chunk = vec![7u8; 4096];
    for i in 1..=4u64 {
        st.add(i * 4096, &chunk);
    }
    assert_eq!(st.refused, 3, "offsets past the cap and the piece over it");
    assert!(st.held() <= crypto::MAX_HELD);
    assert!(st.contiguous().is_empty());
}

#[test]
fn frames_skip_padding_ping_and_ack_and_stop_at_others() {
    // PADDING, PING, ACK(largest 5, delay 0, 1 range, first 0, gap 1, len 1), CRYPTO(0, "ab"),
    // CONNECTION_CLOSE(0x128 = alert 40), then a STREAM frame that has no place here.
    let payload = [
        0x00, 0x01, 0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x01, 0x06, 0x00, 0x02, b'a', b'b', 0x1c,
        0x41, 0x28, 0x00, 0x00, 0x08, 0x00,
    ];
    let partial = packet::frames(&payload).unwrap_err();
    assert_eq!(
        partial,
        vec![
            Frame::Crypto {
                offset: 0,
                data: b"ab"
            },
            Frame::Close { code: 0x128 }
        ]
    );
}

#[test]
fn varints() {
    for (bytes, want) in [
        (&[0x25][..], 37u64),
        (&[0x7b, 0xbd], 15293),
        (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
        (
            &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
            151_288_809_941_952_652,
        ),
    ] {
        let mut at = 0;
        assert_eq!(packet::varint(bytes, &mut at), Some(want));
        assert_eq!(at, bytes.len());
    }
    assert_eq!(packet::varint(&[0x40], &mut 0), None);
}

#[test]
fn unreadable_quic_family_versions_are_quic_without_a_handshake() {
    // A version-negotiation probe (reserved version, RFC 9000 §15), as in nDPI's
    // quic_interop_V.pcapng, and gQUIC Q050: long header, padded to 1,200 bytes.
    for (wire, name) in [(0x0a0a_0a0au32, "0x0a0a0a0a"), (0x5130_3530, "Q050")] {
        let mut d = vec![0xc6];
        d.extend(wire.to_be_bytes());
        d.extend([8, 1, 2, 3, 4, 5, 6, 7, 8, 0]);
        d.resize(1200, 0);
        let q = Quic::start(Direction::ToServer, &d).unwrap();
        assert!(!q.readable());
        assert_eq!(q.info().version, name);
        // One byte short of a client Initial's minimum: not enough to call it QUIC.
        assert!(Quic::start(Direction::ToServer, &d[..1199]).is_none());
    }
    let mut other = vec![0xc6, 0x12, 0x34, 0x56, 0x78];
    other.resize(1200, 0);
    assert!(Quic::start(Direction::ToServer, &other).is_none());
}

#[test]
fn truncated_and_garbled_input_never_panics() {
    let client = v1_client();
    let server = v1_server();
    for cut in 0..client.len() {
        let _ = Quic::start(Direction::ToServer, &client[..cut]);
        let _ = packet::parse(&client[..cut]);
    }
    let mut q = Quic::start(Direction::ToServer, &client).unwrap();
    let mut s = tls::Session::default();
    for cut in 0..server.len() {
        q.feed(&mut s, Direction::ToClient, &server[..cut]);
    }
    // Every byte of the header flipped in turn: never a panic, never a wrong hello.
    for i in 0..40 {
        let mut d = client.clone();
        d[i] ^= 0xff;
        q.feed(&mut s, Direction::ToServer, &d);
        let _ = Quic::start(Direction::ToServer, &d);
    }
    let mut x = 0x1234_5678u32;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let len = (x % 1400) as usize;
        let d: Vec<u8> = (0..len)
            .map(|i| (x.rotate_left(i as u32 % 32) >> 3) as u8)
            .collect();
        q.feed(&mut s, Direction::ToClient, &d);
        let _ = frames_of(&d);
    }
    assert!(
        s.info().sni.is_none(),
        "nothing was fed before the client Initial"
    );
}

fn frames_of(d: &[u8]) -> usize {
    match packet::frames(d) {
        Ok(f) | Err(f) => f.len(),
    }
}

#[test]
fn a_tls_alert_in_connection_close_is_a_handshake_failure() {
    let client = v1_client();
    let mut q = Quic::start(Direction::ToServer, &client).unwrap();
    let mut s = tls::Session::default();
    q.feed(&mut s, Direction::ToServer, &client);
    // What `on_initial` does with a server Initial's CONNECTION_CLOSE(0x0128): alert 40.
    s.on_quic_close(Direction::ToClient, 0x0128);
    assert_eq!(s.info().alert.as_deref(), Some("handshake_failure"));
    let ids: Vec<&str> = s
        .findings(crate::time::Timestamp(0))
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(ids.contains(&"tls.handshake.failure"), "{ids:?}");
    // A transport error code (here NO_ERROR) is not an alert.
    let mut s2 = tls::Session::default();
    s2.on_quic_close(Direction::ToClient, 0);
    assert!(s2.info().alert.is_none());
}

// gQUIC. `testdata/gquic-*.hex` are the UDP payloads of the client's first packet in nDPI's
// corpus captures (`tshark -r FILE -c 1 -T fields -e udp.payload`, tshark 4.0.17):
// q050 from tests/corpus/ndpi/tests/cfgs/default/pcap/quic_q50.pcap, q050-canary from
// gquic.pcap, q046 from quic_q46.pcap. nDPI's results name the same SNI and user agent.

fn q050() -> Vec<u8> {
    unhex(include_str!("testdata/gquic-q050-client-initial.hex"))
}
fn q050_canary() -> Vec<u8> {
    unhex(include_str!(
        "testdata/gquic-q050-canary-client-initial.hex"
    ))
}
fn q046() -> Vec<u8> {
    unhex(include_str!("testdata/gquic-q046-client-initial.hex"))
}

#[test]
fn gquic_chlo_from_corpus_captures_gives_sni_and_user_agent() {
    for (d, version, sni, ua) in [
        (
            q050(),
            "Q050",
            "www.googletagmanager.com",
            "Chrome/83.0.4103.101 Android 8.0.0; LDN-L21",
        ),
        (
            q050_canary(),
            "Q050",
            "www.gstatic.com",
            "canary Chrome/85.0.4169.0 Windows NT 10.0; Win64; x64",
        ),
        (
            q046(),
            "Q046",
            "play.google.com",
            "Chrome/74.0.3729.157 Android 8.0.0; BND-L21",
        ),
    ] {
        let q = Quic::start(Direction::ToServer, &d).unwrap();
        assert!(!q.readable(), "a CHLO is not TLS: no TLS session");
        let info = q.info();
        assert_eq!(info.version, version);
        assert_eq!(info.sni.as_deref(), Some(sni));
        assert_eq!(info.user_agent.as_deref(), Some(ua));
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["sni"], sni);
        assert_eq!(json["user_agent"], ua);
    }
    // IETF QUIC keeps its SNI in `tls`: the `quic` object has no `sni` key.
    let v1 = Quic::start(Direction::ToServer, &v1_client()).unwrap();
    let json = serde_json::to_value(v1.info()).unwrap();
    assert_eq!(json, serde_json::json!({"version": "1"}));
}

#[test]
fn gquic_packets_that_do_not_authenticate_give_no_hello() {
    // Q046: one bit of the CHLO changed breaks the FNV-1a hash; Q050: AES-GCM's tag.
    for (wire, d) in [(gquic::GQUIC_Q046, q046()), (version::GQUIC_Q050, q050())] {
        assert!(gquic::client_hello(wire, &d).is_some());
        for i in [0usize, 7, 40, 100, 600, d.len() - 1] {
            let mut bad = d.clone();
            bad[i] ^= 0x01;
            assert_eq!(gquic::client_hello(wire, &bad), None, "byte {i} flipped");
        }
        // The wrong version's reading of the same bytes.
        let other = if wire == gquic::GQUIC_Q046 {
            version::GQUIC_Q050
        } else {
            gquic::GQUIC_Q046
        };
        assert_eq!(gquic::client_hello(other, &d), None);
        assert_eq!(gquic::client_hello(version::V1, &d), None);
        // Still QUIC by its long header and size, without a hello.
        let mut bad = d.clone();
        bad[600] ^= 0x01;
        let q = Quic::start(Direction::ToServer, &bad).unwrap();
        assert_eq!((q.info().sni, q.info().user_agent), (None, None));
    }
}

#[test]
fn truncated_gquic_packets_never_panic_nor_give_a_hello() {
    for (wire, d) in [
        (gquic::GQUIC_Q046, q046()),
        (version::GQUIC_Q050, q050()),
        (version::GQUIC_Q050, q050_canary()),
    ] {
        for cut in 0..d.len() {
            assert_eq!(gquic::client_hello(wire, &d[..cut]), None, "cut at {cut}");
        }
    }
}

/// A CHLO built from (tag, value) pairs, in the order given.
fn chlo(entries: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut m = b"CHLO".to_vec();
    m.extend((entries.len() as u16).to_le_bytes());
    m.extend([0, 0]);
    let mut end = 0u32;
    for (tag, value) in entries {
        end += value.len() as u32;
        m.extend(*tag);
        m.extend(end.to_le_bytes());
    }
    for (_, value) in entries {
        m.extend(*value);
    }
    m
}

#[test]
fn chlo_parse_checks_count_order_and_offsets() {
    let good = chlo(&[
        (b"PAD\0", b"----"),
        (b"SNI\0", b"example.org"),
        (b"VER\0", b"Q050"),
        (b"UAID", b"curl/8"),
    ]);
    let h = gquic::parse_chlo(&good).unwrap();
    assert_eq!(h.sni.as_deref(), Some("example.org"));
    assert_eq!(h.user_agent.as_deref(), Some("curl/8"));
    // No SNI tag: a hello without a name.
    let h = gquic::parse_chlo(&chlo(&[(b"VER\0", b"Q050")])).unwrap();
    assert_eq!(h, gquic::Hello::default());
    // Tags out of order, or repeated.
    assert_eq!(
        gquic::parse_chlo(&chlo(&[(b"SNI\0", b"a"), (b"PAD\0", b"b")])),
        None
    );
    assert_eq!(
        gquic::parse_chlo(&chlo(&[(b"SNI\0", b"a"), (b"SNI\0", b"b")])),
        None
    );
    // An end offset going back.
    let mut back = good.clone();
    back[8 + 8 + 4] = 0; // SNI's end offset before PAD's
    assert_eq!(gquic::parse_chlo(&back), None);
    // More entries than any client sends, and a count the table does not hold.
    let mut many = good.clone();
    many[4..6].copy_from_slice(&129u16.to_le_bytes());
    assert_eq!(gquic::parse_chlo(&many), None);
    let mut short = chlo(&[(b"SNI\0", b"a")]);
    short.truncate(10);
    assert_eq!(gquic::parse_chlo(&short), None);
    // Not a CHLO (a server's REJ, random bytes).
    let mut rej = good.clone();
    rej[..4].copy_from_slice(b"REJ\0");
    assert_eq!(gquic::parse_chlo(&rej), None);
    assert_eq!(gquic::parse_chlo(b""), None);
}

#[test]
fn chlo_cut_short_keeps_only_whole_values() {
    let good = chlo(&[
        (b"PAD\0", b"----"),
        (b"SNI\0", b"example.org"),
        (b"UAID", b"curl/8"),
    ]);
    let values_at = 8 + 3 * 8;
    for cut in 0..=good.len() {
        let got = gquic::parse_chlo(&good[..cut]);
        if cut < values_at {
            assert_eq!(got, None, "table cut at {cut}");
            continue;
        }
        let got = got.unwrap();
        let sni_whole = cut >= values_at + 4 + 11;
        assert_eq!(got.sni.is_some(), sni_whole, "cut at {cut}");
        if let Some(s) = got.sni {
            assert_eq!(s, "example.org");
        }
        assert_eq!(got.user_agent.is_some(), cut == good.len(), "cut at {cut}");
    }
}

#[test]
fn chlo_strings_are_capped_and_escaped() {
    let long = vec![b'a'; 1000];
    let h = gquic::parse_chlo(&chlo(&[(b"SNI\0", &long), (b"UAID", &long)])).unwrap();
    assert_eq!(h.sni.map(|s| s.len()), Some(255));
    assert_eq!(h.user_agent.map(|s| s.len()), Some(256));
    let h = gquic::parse_chlo(&chlo(&[
        (b"SNI\0", b"evil\n.com\x1b[31m\xff"),
        (b"UAID", b"ua\r\0"),
    ]))
    .unwrap();
    assert_eq!(h.sni.as_deref(), Some("evil\\n.com\\u{1b}[31m\u{fffd}"));
    assert_eq!(h.user_agent.as_deref(), Some("ua\\r\\u{0}"));
    // The cap holds after escaping and replacement: never more than 255 bytes, never a
    // piece of an escape.
    let mut sni = vec![b'a'; 249];
    sni.extend(b"\x1b\x1b");
    let h = gquic::parse_chlo(&chlo(&[(b"SNI\0", &sni)])).unwrap();
    assert_eq!(h.sni, Some(format!("{}\\u{{1b}}", "a".repeat(249))));
    let mut sni = vec![b'a'; 254];
    sni.extend("é".as_bytes());
    let h = gquic::parse_chlo(&chlo(&[(b"SNI\0", &sni)])).unwrap();
    assert_eq!(h.sni, Some("a".repeat(254)));
}

#[test]
fn chlo_and_gquic_frames_survive_garbage() {
    let mut x = 0x9e37_79b9u32;
    let mut seen = 0;
    for _ in 0..3000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let len = (x % 300) as usize;
        let mut d: Vec<u8> = (0..len)
            .map(|i| (x.rotate_left(i as u32 % 32) >> 5) as u8)
            .collect();
        if d.len() >= 8 {
            d[..4].copy_from_slice(b"CHLO");
            d[4] = (x % 8) as u8;
            d[5] = 0;
        }
        if gquic::parse_chlo(&d).is_some() {
            seen += 1;
        }
        let _ = gquic::client_hello(gquic::GQUIC_Q046, &d);
        let _ = gquic::client_hello(version::GQUIC_Q050, &d);
    }
    // Some random tables pass the order checks (count 0 always does): the parser ran.
    assert!(seen > 0);
}
