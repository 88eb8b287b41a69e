//! DTLS tests on real datagrams (UDP payloads) from the corpus captures
//! `zeek/Traces/tls/dtls1_0.pcap` (frames 1, 2, 3, 6, 7, 8), `dtls13-wolfssl.pcap`
//! (frames 1–6) and `webrtc-stun.pcap` (frames 1, 9, 11), extracted with
//! `tshark -T fields -e udp.payload`. Expected values are tshark's and Zeek's for them.

use super::*;
use crate::tls::fingerprint;

fn datagrams(hex_lines: &str) -> Vec<Vec<u8>> {
    hex_lines
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| hex::decode(l.trim()).expect("fixture is hex"))
        .collect()
}

const FIX_DTLS10: &str = include_str!("testdata/dtls1_0.hex");
const FIX_DTLS13: &str = include_str!("testdata/dtls13-wolfssl.hex");
const FIX_WEBRTC: &str = include_str!("testdata/webrtc-stun.hex");

#[test]
fn dtls10_fragmented_client_hello_cookie_and_server_flight() {
    let d = datagrams(FIX_DTLS10);
    assert_eq!(probe(&d[0]), Some(handshake::HS_CLIENT_HELLO));
    // The second fragment does not start at offset 0: it cannot start a flow.
    assert_eq!(probe(&d[1]), None);
    assert_eq!(probe(&d[2]), Some(HS_HELLO_VERIFY_REQUEST));

    let mut s = Session::new();
    let mut dtls = Dtls::new(Direction::ToServer);
    dtls.feed(&mut s, Direction::ToServer, &d[0]);
    assert!(
        s.info().ja3.is_none(),
        "first fragment alone is not a hello"
    );
    dtls.feed(&mut s, Direction::ToServer, &d[1]);
    let ch = s
        .handshake()
        .client_hello
        .clone()
        .expect("reassembled hello");
    assert_eq!(ch.version, DTLS10);
    // tshark 4.0.17 `dtls.handshake.ja3_full` for frame 2.
    let ja3 = "65279,49172-49162-57-56-55-54-136-135-134-133-49167-49157-53-132-49171-49161-51-50-49-48-154-153-152-151-69-68-67-66-49166-49156-47-150-65-7-49170-49160-22-19-16-13-49165-49155-10-21-18-15-12-9-20-17-14-11-8-6-255,11-10-35-15,14-13-25-28-11-12-27-24-9-10-26-22-23-8-6-7-20-21-4-5-18-19-1-2-3-15-16-17,0-1-2";
    assert_eq!(fingerprint::ja3_string(&ch), ja3);
    assert!(s
        .info()
        .ja4
        .as_deref()
        .is_some_and(|j| j.starts_with("dd1i")));
    assert_eq!(s.info().client_versions, vec!["DTLS 1.0".to_owned()]);

    dtls.feed(&mut s, Direction::ToClient, &d[2]); // HelloVerifyRequest: nothing to keep
    assert!(s.handshake().server_hello.is_none());
    dtls.feed(&mut s, Direction::ToClient, &d[3]);
    assert_eq!(s.info().version.as_deref(), Some("DTLS 1.0"));
    assert_eq!(
        s.info().cipher.as_deref(),
        Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")
    );
    // tshark `dtls.handshake.ja3s_full` for frame 6.
    let sh = s.handshake().server_hello.clone().expect("server hello");
    assert_eq!(fingerprint::ja3s_string(&sh), "65279,49172,65281-35-15");
    assert!(s.info().cert.is_some(), "certificate in the server flight");
    assert!(!s.info().established);
    dtls.feed(&mut s, Direction::ToServer, &d[4]); // CKE, CCS, encrypted Finished
    dtls.feed(&mut s, Direction::ToClient, &d[5]); // ticket, CCS, encrypted Finished
    assert!(s.info().established);
    let ids: Vec<&str> = s
        .findings(crate::time::Timestamp::from_secs_nanos(0, 0))
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(ids.contains(&"tls.version.deprecated"), "{ids:?}");
}

#[test]
fn dtls13_hello_retry_then_server_hello() {
    let d = datagrams(FIX_DTLS13);
    let mut s = Session::new();
    let mut dtls = Dtls::new(Direction::ToServer);
    for (i, dir) in [
        Direction::ToServer,
        Direction::ToClient,
        Direction::ToServer,
        Direction::ToClient,
        Direction::ToClient,
        Direction::ToClient,
    ]
    .into_iter()
    .enumerate()
    {
        dtls.feed(&mut s, dir, &d[i]);
    }
    assert!(s.handshake().hello_retry_request.is_some());
    assert!(s.handshake().client_hello_retry.is_some());
    // Zeek ssl.log: DTLSv13, TLS_AES_128_GCM_SHA256.
    assert_eq!(s.info().version.as_deref(), Some("DTLS 1.3"));
    assert_eq!(s.info().cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    // tshark: first ClientHello "65277,…,51-43-13-10-22,25-24-23-21-256,".
    let ch = s.handshake().client_hello.clone().expect("hello");
    assert!(fingerprint::ja3_string(&ch).starts_with("65277,4865-4866-4867-49196-"));
    assert!(fingerprint::ja3_string(&ch).ends_with(",51-43-13-10-22,25-24-23-21-256,"));
    assert!(s
        .info()
        .ja4
        .as_deref()
        .is_some_and(|j| j.starts_with("dd3i")));
    // After the ServerHello the server's records use the unified header (encrypted).
    assert!(s.handshake().encrypted_records[1] >= 1);
}

#[test]
fn webrtc_stun_then_dtls_with_the_responder_as_client() {
    let d = datagrams(FIX_WEBRTC);
    assert!(is_stun(&d[0]));
    assert_eq!(probe(&d[0]), None);
    assert_eq!(probe(&d[1]), Some(handshake::HS_CLIENT_HELLO));
    // The flow's first packet (STUN) came from the DTLS server: the ClientHello travels
    // towards the flow's client.
    let mut s = Session::new();
    let mut dtls = Dtls::new(Direction::ToClient);
    dtls.feed(&mut s, Direction::ToServer, &d[0]);
    dtls.feed(&mut s, Direction::ToClient, &d[1]);
    dtls.feed(&mut s, Direction::ToServer, &d[2]);
    // Zeek: DTLSv10, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA.
    assert_eq!(s.info().version.as_deref(), Some("DTLS 1.0"));
    assert_eq!(
        s.info().cipher.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA")
    );
    let sh = s.handshake().server_hello.clone().expect("server hello");
    assert_eq!(fingerprint::ja3s_string(&sh), "65279,49162,11-14-65281");
}

#[test]
fn cookie_removal_and_bad_input() {
    let mut body = vec![0xfe, 0xfd];
    body.extend([7u8; 32]);
    body.extend([1, 0xaa]); // session id
    body.extend([2, 0xc0, 0xc1]); // cookie
    body.extend([0, 2, 0x13, 0x01, 1, 0]); // ciphers, compression
    let tls = client_hello_without_cookie(&body).expect("well formed");
    let ch = handshake::parse_client_hello(&tls).expect("parses as TLS");
    assert_eq!(ch.session_id, vec![0xaa]);
    assert_eq!(ch.ciphers, vec![0x1301]);
    assert_eq!(client_hello_without_cookie(&body[..35]), None);
    assert_eq!(probe(&[0x16, 0xfe, 0xfd]), None);
    // OpenSSL's pre-RFC DTLS 1.0 (0x0100): tshark "DTLS 1.0 (OpenSSL pre 0.9.8f)".
    assert!(is_dtls_version(0x0100) && !is_dtls_version(0x0303));
    assert_eq!(crate::tls::names::version_name(0x0100), Some("DTLS 1.0"));
    assert_eq!(probe(b"GET / HTTP/1.1\r\n\r\n"), None);
}

#[test]
fn fragments_out_of_order_and_retransmitted() {
    let mut dtls = Dtls::default();
    let msg = |off: usize, bytes: &'static [u8]| Fragment {
        msg_type: 11,
        total: 6,
        seq: 2,
        offset: off,
        bytes,
    };
    assert_eq!(dtls.add_fragment(Direction::ToClient, msg(3, b"def")), None);
    assert_eq!(dtls.add_fragment(Direction::ToClient, msg(3, b"def")), None);
    assert_eq!(
        dtls.add_fragment(Direction::ToClient, msg(0, b"abc")),
        Some((11, b"abcdef".to_vec()))
    );
    // The same message again is a retransmission.
    assert_eq!(dtls.add_fragment(Direction::ToClient, msg(0, b"abc")), None);
    // 0x2c: 16-bit sequence number, length present (0x0002): 1 + 2 + 2 + 2 bytes.
    assert_eq!(
        unified_record_len(&[0x2c, 0x01, 0x00, 0x00, 0x02, 9, 9, 0xff]),
        7
    );
    // 0x3c: with a connection id of unknown length the record fills the datagram.
    assert_eq!(
        unified_record_len(&[0x3c, 0x01, 0x00, 0x00, 0x02, 9, 9, 0xff]),
        8
    );
}

#[test]
fn a_claimed_length_is_never_allocated_before_the_bytes_arrive() {
    // Before: one 1-byte fragment claiming 64 KiB made us allocate 64 KiB per direction.
    let mut dtls = Dtls::default();
    let claim = MAX_MESSAGE;
    let frag = |off: usize, bytes: &'static [u8], total: usize| Fragment {
        msg_type: 11,
        total,
        seq: 0,
        offset: off,
        bytes,
    };
    assert_eq!(
        dtls.add_fragment(Direction::ToClient, frag(claim - 1, b"z", claim)),
        None
    );
    assert_eq!(dtls.held_bytes(), 1, "only the byte that arrived is held");
    // Overlapping re-sends do not grow it either.
    for _ in 0..100 {
        dtls.add_fragment(Direction::ToClient, frag(claim - 1, b"z", claim));
    }
    assert_eq!(dtls.held_bytes(), 1);
    // Past the cap: refused and counted, nothing held for it.
    let mut other = Dtls::default();
    assert_eq!(
        other.add_fragment(Direction::ToServer, frag(0, b"a", claim + 1)),
        None
    );
    assert_eq!((other.refused, other.held_bytes()), (1, 0));
    // Overlapping fragments still assemble, first copy winning.
    let mut d = Dtls::default();
    assert_eq!(
        d.add_fragment(Direction::ToServer, frag(2, b"CDE", 6)),
        None
    );
    assert_eq!(
        d.add_fragment(Direction::ToServer, frag(1, b"bxx", 6)),
        None
    );
    assert_eq!(
        d.add_fragment(Direction::ToServer, frag(0, b"aYYYYf", 6)),
        Some((11, b"abCDEf".to_vec()))
    );
    assert_eq!(d.held_bytes(), 0);
}
