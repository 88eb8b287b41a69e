//! BPF_PROG_TEST_RUN of the real object with crafted frames: exact map contents,
//! ring-buffer records and counters. Needs root; fails (never skips) without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, Ipv6Addr};

use agent_common::parse::{Event, EventKind, Hook, Protocol};
use agent_common::{capture_state, counter, names, CaptureConfig, FlowKey, FlowStats};
use aya::maps::{HashMap as BpfHashMap, RingBuf};
use aya::programs::{SchedClassifier, TestRun, TestRunOptions};
use aya::Ebpf;
use plainsight::capture::live::{load, read_counters, read_flows, LoadOptions};
use plainsight_tests::frames::{self, L4};
use plainsight_tests::require_root;

/// `TC_ACT_UNSPEC` (-1), which tcx reads as `TCX_NEXT`: the next program runs.
const TC_ACT_UNSPEC: i32 = -1;
/// TCP flag bytes (RFC 9293 §3.1).
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const SYN_ACK: u8 = 0x12;
const FIN_ACK: u8 = 0x11;
const ACK_PSH: u8 = 0x18;

struct Harness {
    ebpf: Ebpf,
    ring: RingBuf<aya::maps::MapData>,
}

impl Harness {
    fn new(opts: LoadOptions) -> Self {
        require_root();
        let mut ebpf = load(&opts).expect("load object");
        let ring =
            RingBuf::try_from(ebpf.take_map(names::EVENTS).expect("EVENTS")).expect("ringbuf");
        Harness { ebpf, ring }
    }

    fn default() -> Self {
        Self::new(LoadOptions::default())
    }

    fn run(&self, prog: &str, frame: &[u8]) {
        let p: &SchedClassifier = self
            .ebpf
            .program(prog)
            .expect("prog")
            .try_into()
            .expect("classifier");
        let res = p
            .test_run(TestRunOptions {
                data_in: Some(frame),
                ..TestRunOptions::default()
            })
            .unwrap_or_else(|e| panic!("test run of {} bytes: {e}", frame.len()));
        assert_eq!(
            res.return_value as i32, TC_ACT_UNSPEC,
            "{prog} must hand every packet on to the next program"
        );
    }

    fn egress(&self, frame: &[u8]) {
        self.run(names::PROG_EGRESS, frame)
    }

    fn records(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(item) = self.ring.next() {
            out.push(item.to_vec());
        }
        out
    }

    /// Counters as (name, value) for every non-zero counter.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = read_counters(&self.ebpf).expect("counters");
        counter::NAMES
            .iter()
            .zip(c)
            .filter(|(_, v)| *v != 0)
            .map(|(n, v)| (*n, v))
            .collect()
    }

    fn flows(&self) -> Vec<(FlowKey, FlowStats)> {
        read_flows(&self.ebpf).expect("flows")
    }

    fn done_map(&mut self) -> BpfHashMap<&mut aya::maps::MapData, FlowKey, u8> {
        BpfHashMap::try_from(self.ebpf.map_mut(names::DONE).expect("DONE")).expect("hash")
    }

    /// What userspace does once a flow is classified: the `DONE` mark of each key.
    fn mark(&mut self, keys: &[FlowKey]) {
        let mut done = self.done_map();
        for k in keys {
            done.insert(k, 1, 0).expect("insert");
        }
    }

    /// What userspace does when it flushes an ended flow.
    fn unmark(&mut self, keys: &[FlowKey]) {
        let mut done = self.done_map();
        for k in keys {
            let _ = done.remove(k);
        }
    }

    fn is_marked(&mut self, key: &FlowKey) -> bool {
        self.done_map().get(key, 0).is_ok()
    }
}

/// Frames of one TCP connection, 10.0.0.1:`client` ⇄ 10.0.0.2:`server`.
struct Conn {
    client: u16,
    server: u16,
}

impl Conn {
    /// Client to server.
    fn up(&self, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let tcp = L4::tcp(self.client, self.server, seq, 1, flags);
        frames::ipv4(&[], v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 0, &tcp, payload)
    }

    /// Server to client.
    fn down(&self, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let tcp = L4::tcp(self.server, self.client, seq, 1, flags);
        frames::ipv4(&[], v4([10, 0, 0, 2]), v4([10, 0, 0, 1]), 0, &tcp, payload)
    }
}

fn v4(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

#[test]
fn ipv4_tcp_with_options_is_captured_exactly() {
    let mut h = Harness::default();
    let mut tcp = L4::tcp(40000, 80, 1000, 2000, ACK_PSH);
    if let L4::Tcp { options, .. } = &mut tcp {
        // NOP NOP timestamp(10) = 12 bytes: data offset 8.
        options.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    }
    let payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let f = frames::ipv4(&[], v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 4, &tcp, payload);
    h.egress(&f);

    let recs = h.records();
    assert_eq!(recs.len(), 1);
    let ev = Event::try_from(&recs[0][..]).expect("event");
    assert_eq!(ev.kind, EventKind::Segment);
    assert_eq!(ev.hook, Hook::Egress);
    assert_eq!(ev.endpoints.src, "10.0.0.1:40000".parse().unwrap());
    assert_eq!(ev.endpoints.dst, "10.0.0.2:80".parse().unwrap());
    assert_eq!(ev.endpoints.protocol, Protocol::Tcp);
    assert_eq!((ev.seq, ev.ack, ev.tcp_flags), (1000, 2000, ACK_PSH));
    assert_eq!(ev.wire_len as usize, f.len());
    assert_eq!(ev.payload_len as usize, payload.len());
    assert_eq!(ev.payload, payload);
    assert_eq!(ev.ifindex, 1, "test-run skbs come from loopback");

    let flows = h.flows();
    assert_eq!(flows.len(), 1);
    let (k, s) = flows[0];
    assert_eq!(k, ev.endpoints.to_key());
    assert_eq!(s.packets, 1);
    assert_eq!(s.bytes as usize, f.len());
    assert_eq!(s.tcp_flags, ACK_PSH);
    assert_eq!(s.captured_segments, 1);
    assert_eq!(s.captured_bytes as usize, payload.len());
    assert_eq!(s.capture_state, capture_state::ACTIVE);
    assert!(s.first_seen_ns > 0 && s.first_seen_ns == s.last_seen_ns);
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 1),
            ("flow_created", 1),
            ("segments_captured", 1)
        ]
    );
}

#[test]
fn ipv6_extension_headers_are_skipped() {
    let mut h = Harness::default();
    let src: Ipv6Addr = "fd00::1".parse().unwrap();
    let dst: Ipv6Addr = "fd00::2".parse().unwrap();
    // Hop-by-hop (8), destination options (16), fragment (first fragment, 8), then UDP.
    let f = frames::ipv6(
        src,
        dst,
        &[(0, 8), (60, 16), (44, 8)],
        &L4::Udp {
            sport: 5353,
            dport: 53,
        },
        b"dnsq",
    );
    h.run(names::PROG_INGRESS, &f);
    let tcp = L4::tcp(1234, 443, 7, 0, SYN);
    // A routing header before TCP; SYN without payload: flow only, no event.
    let f2 = frames::ipv6(src, dst, &[(43, 24)], &tcp, b"");
    h.run(names::PROG_INGRESS, &f2);

    let recs = h.records();
    assert_eq!(recs.len(), 1);
    let ev = Event::try_from(&recs[0][..]).expect("event");
    assert_eq!(ev.hook, Hook::Ingress);
    assert_eq!(ev.endpoints.src, "[fd00::1]:5353".parse().unwrap());
    assert_eq!(ev.endpoints.dst, "[fd00::2]:53".parse().unwrap());
    assert_eq!(ev.endpoints.protocol, Protocol::Udp);
    assert_eq!(ev.payload, b"dnsq");
    assert_eq!(ev.payload_len, 4);

    let mut flows = h.flows();
    flows.sort_by_key(|(k, _)| k.protocol);
    assert_eq!(flows.len(), 2);
    assert_eq!((flows[0].0.protocol, flows[0].0.dst_port), (6, 443));
    assert_eq!(flows[0].1.tcp_flags, SYN);
    assert_eq!(flows[0].1.captured_segments, 0);
    assert_eq!((flows[1].0.protocol, flows[1].0.dst_port), (17, 53));
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 2),
            ("flow_created", 2),
            ("segments_captured", 1)
        ]
    );
}

#[test]
fn ipv6_chain_longer_than_bound_is_counted() {
    let mut h = Harness::default();
    let ext: Vec<(u8, usize)> = (0..7).map(|_| (60u8, 8usize)).collect();
    let f = frames::ipv6(
        "fd00::1".parse().unwrap(),
        "fd00::2".parse().unwrap(),
        &ext,
        &L4::Udp { sport: 1, dport: 2 },
        b"x",
    );
    h.egress(&f);
    assert!(h.records().is_empty());
    assert!(h.flows().is_empty());
    assert_eq!(h.counters(), vec![("packets", 1), ("ipv6_ext_too_deep", 1)]);
}

#[test]
fn qinq_vlan_tags_are_skipped_and_a_third_is_not() {
    let mut h = Harness::default();
    let tcp = L4::tcp(40001, 25, 1, 1, ACK_PSH);
    let f = frames::ipv4(
        &[(0x88A8, 100), (0x8100, 200)],
        v4([10, 1, 0, 1]),
        v4([10, 1, 0, 2]),
        0,
        &tcp,
        b"EHLO x\r\n",
    );
    h.egress(&f);
    let recs = h.records();
    assert_eq!(recs.len(), 1);
    let ev = Event::try_from(&recs[0][..]).expect("event");
    assert_eq!(ev.endpoints.dst, "10.1.0.2:25".parse().unwrap());
    assert_eq!(ev.payload, b"EHLO x\r\n");

    // Three tags: the parser stops after two and sees an 802.1Q ethertype: not IP.
    let f3 = frames::ipv4(
        &[(0x88A8, 1), (0x8100, 2), (0x8100, 3)],
        v4([10, 1, 0, 1]),
        v4([10, 1, 0, 2]),
        0,
        &tcp,
        b"x",
    );
    h.egress(&f3);
    assert!(h.records().is_empty());
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 2),
            ("non_ip", 1),
            ("flow_created", 1),
            ("segments_captured", 1)
        ]
    );
}

#[test]
fn arp_truncated_and_non_tcp_udp_are_counted_not_tracked() {
    let mut h = Harness::default();
    h.egress(&frames::arp());
    // IPv4 claiming TCP, cut in the middle of the TCP header.
    let tcp = L4::tcp(1, 2, 3, 4, ACK_PSH);
    let full = frames::ipv4(&[], v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 0, &tcp, b"");
    h.egress(&full[..14 + 20 + 10]);
    // A bad IHL.
    let mut bad = full.clone();
    bad[14] = 0x43;
    h.egress(&bad);
    // ICMP (protocol 1).
    let mut icmp = full.clone();
    icmp[14 + 9] = 1;
    h.egress(&icmp);
    // A UDP packet whose IP length is shorter than the UDP header.
    let mut short = frames::ipv4(
        &[],
        v4([10, 0, 0, 1]),
        v4([10, 0, 0, 2]),
        0,
        &L4::Udp { sport: 1, dport: 2 },
        b"",
    );
    short[14 + 3] = 24;
    h.egress(&short);
    assert!(h.records().is_empty());
    assert!(h.flows().is_empty());
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 5),
            ("non_ip", 1),
            ("non_tcp_udp", 1),
            ("unparsable", 3)
        ]
    );
}

#[test]
fn ethernet_padding_is_not_payload_and_fin_rst_are_reported() {
    let mut h = Harness::default();
    let a = v4([10, 0, 0, 1]);
    let b = v4([10, 0, 0, 2]);
    // A bare ACK padded to the 60-byte Ethernet minimum: zero payload, no event.
    let mut ack = frames::ipv4(&[], a, b, 0, &L4::tcp(5000, 80, 10, 20, ACK), b"");
    ack.resize(60, 0);
    h.egress(&ack);
    // Two bytes of payload in a padded frame: exactly two bytes captured.
    let mut small = frames::ipv4(&[], a, b, 0, &L4::tcp(5000, 80, 10, 20, ACK_PSH), b"hi");
    small.resize(60, 0);
    h.egress(&small);
    // FIN without payload, then RST on the reverse direction.
    h.egress(&frames::ipv4(
        &[],
        a,
        b,
        0,
        &L4::tcp(5000, 80, 12, 20, FIN_ACK),
        b"",
    ));
    h.run(
        names::PROG_INGRESS,
        &frames::ipv4(&[], b, a, 0, &L4::tcp(80, 5000, 20, 13, 0x04), b""),
    );

    let evs: Vec<_> = h.records();
    let evs: Vec<Event<'_>> = evs
        .iter()
        .map(|r| Event::try_from(&r[..]).expect("event"))
        .collect();
    assert_eq!(evs.len(), 3);
    assert_eq!(
        (evs[0].kind, evs[0].payload, evs[0].payload_len),
        (EventKind::Segment, &b"hi"[..], 2)
    );
    assert_eq!(evs[0].wire_len, 60);
    assert_eq!(
        (evs[1].kind, evs[1].seq, evs[1].payload.len()),
        (EventKind::Fin, 12, 0)
    );
    assert_eq!((evs[2].kind, evs[2].hook), (EventKind::Rst, Hook::Ingress));
    assert_eq!(evs[2].endpoints.src, "10.0.0.2:80".parse().unwrap());
    let flows = h.flows();
    assert_eq!(flows.len(), 2);
    let fwd = flows
        .iter()
        .find(|(k, _)| k.src_port == 5000)
        .expect("forward");
    assert_eq!(fwd.1.packets, 3);
    assert_eq!(fwd.1.bytes, 60 + 60 + 54);
    assert_eq!(fwd.1.tcp_flags, ACK | ACK_PSH | FIN_ACK);
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 4),
            ("flow_created", 2),
            ("segments_captured", 1),
            ("end_events", 2)
        ]
    );
}

#[test]
fn segment_and_byte_budgets_stop_capture() {
    let mut h = Harness::new(LoadOptions {
        config: CaptureConfig {
            byte_budget: 250,
            segment_budget: 4,
            ..CaptureConfig::DEFAULT
        },
        ..LoadOptions::default()
    });
    let a = v4([10, 0, 0, 1]);
    let b = v4([10, 0, 0, 2]);
    let payload = [0x42u8; 100];
    // Byte budget: 100 + 100 + 50 (truncated), then spent.
    for i in 0..4u32 {
        h.egress(&frames::ipv4(
            &[],
            a,
            b,
            0,
            &L4::tcp(6000, 443, 1 + i * 100, 1, ACK_PSH),
            &payload,
        ));
    }
    // Segment budget on another flow: 10-byte segments, 4 captured, then spent.
    for i in 0..6u32 {
        h.egress(&frames::ipv4(
            &[],
            a,
            b,
            0,
            &L4::tcp(6001, 443, 1 + i * 10, 1, ACK_PSH),
            &payload[..10],
        ));
    }
    let recs = h.records();
    let evs: Vec<Event<'_>> = recs
        .iter()
        .map(|r| Event::try_from(&r[..]).expect("event"))
        .collect();
    let lens: Vec<(u16, usize, u32)> = evs
        .iter()
        .map(|e| (e.endpoints.src.port(), e.payload.len(), e.payload_len))
        .collect();
    assert_eq!(
        lens,
        vec![
            (6000, 100, 100),
            (6000, 100, 100),
            (6000, 50, 100),
            (6001, 10, 10),
            (6001, 10, 10),
            (6001, 10, 10),
            (6001, 10, 10)
        ]
    );
    for (k, s) in h.flows() {
        assert_eq!(s.capture_state, capture_state::BUDGET_SPENT, "{k:?}");
    }
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 10),
            ("flow_created", 2),
            ("copy_truncated", 1),
            ("segments_captured", 7),
            ("capture_budget_spent", 2)
        ]
    );
}

#[test]
fn done_map_stops_capture_for_that_direction_only() {
    let mut h = Harness::default();
    let a = v4([10, 0, 0, 1]);
    let b = v4([10, 0, 0, 2]);
    let fwd = frames::ipv4(&[], a, b, 0, &L4::tcp(7000, 5432, 1, 1, ACK_PSH), b"first");
    h.egress(&fwd);
    let key = {
        let recs = h.records();
        Event::try_from(&recs[0][..])
            .expect("event")
            .endpoints
            .to_key()
    };
    h.mark(&[key]);
    h.egress(&frames::ipv4(
        &[],
        a,
        b,
        0,
        &L4::tcp(7000, 5432, 6, 1, ACK_PSH),
        b"second",
    ));
    h.run(
        names::PROG_INGRESS,
        &frames::ipv4(&[], b, a, 0, &L4::tcp(5432, 7000, 1, 11, ACK_PSH), b"reply"),
    );
    let recs = h.records();
    assert_eq!(
        recs.len(),
        1,
        "only the reverse direction is still captured"
    );
    assert_eq!(
        Event::try_from(&recs[0][..]).expect("event").payload,
        b"reply"
    );
    let st = h
        .flows()
        .into_iter()
        .find(|(k, _)| *k == key)
        .expect("flow")
        .1;
    assert_eq!(st.capture_state, capture_state::DONE);
    assert_eq!(st.packets, 2);
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 3),
            ("flow_created", 2),
            ("segments_captured", 2),
            ("capture_done", 1)
        ]
    );
}

#[test]
fn a_syn_reusing_an_ended_tuple_restarts_capture() {
    let mut h = Harness::default();
    let conn = Conn {
        client: 7001,
        server: 443,
    };
    let seg = |seq, flags, payload: &[u8]| conn.up(seq, flags, payload);
    h.egress(&seg(100, SYN, b""));
    h.egress(&seg(101, ACK_PSH, b"first connection"));
    let key = Event::try_from(&h.records()[0][..])
        .expect("event")
        .endpoints
        .to_key();
    h.mark(&[key]);
    h.egress(&seg(117, FIN_ACK, b""));
    assert_eq!(h.records().len(), 1, "the FIN is reported");
    // The same 4-tuple, a new connection: counters restart and capture resumes.
    h.egress(&seg(9000, SYN, b""));
    h.egress(&seg(9001, ACK_PSH, b"second connection"));
    let recs = h.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        Event::try_from(&recs[0][..]).expect("event").payload,
        b"second connection"
    );
    let st = h
        .flows()
        .into_iter()
        .find(|(k, _)| *k == key)
        .expect("flow")
        .1;
    assert_eq!(st.packets, 2);
    assert_eq!(st.capture_state, capture_state::ACTIVE);
    assert!(!h.is_marked(&key), "the old DONE mark is gone");
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 5),
            ("flow_created", 1),
            ("segments_captured", 2),
            ("end_events", 1),
            // No `capture_done`: a FIN has no payload to copy, so it does not look at
            // the DONE mark (only payload does); the new SYN removed the mark.
            ("flow_reused", 1),
        ]
    );
}

/// The client resets the first connection after the server's last data, so the server's
/// direction ends with neither FIN nor RST; its capture was stopped by the `DONE` mark.
/// The next connection on the 4-tuple must still get its ServerHello captured. (Found by
/// tests/tests/agent.rs `a_reused_client_port_starts_a_new_flow`, one run in four.)
#[test]
fn a_synack_restarts_a_server_direction_that_ended_without_fin() {
    let mut h = Harness::default();
    let conn = Conn {
        client: 7004,
        server: 443,
    };
    let (up, down) = (
        |q, f, p: &[u8]| conn.up(q, f, p),
        |q, f, p: &[u8]| conn.down(q, f, p),
    );
    h.egress(&up(100, SYN, b""));
    h.egress(&down(500, SYN_ACK, b""));
    h.egress(&up(101, ACK_PSH, b"hello one"));
    h.egress(&down(501, ACK_PSH, b"server one"));
    let server_key = Event::try_from(&h.records()[1][..])
        .expect("event")
        .endpoints
        .to_key();
    h.mark(&[server_key, server_key.reversed()]);
    // The server's last data meets the mark; the client resets.
    h.egress(&down(511, ACK_PSH, b"bye"));
    h.egress(&up(110, RST, b""));
    h.records();
    // The userspace flushed the first flow and removed its marks; the kernel's capture
    // state stays stopped until a new connection restarts the direction.
    h.unmark(&[server_key, server_key.reversed()]);
    h.egress(&up(9000, SYN, b""));
    h.egress(&down(7000, SYN_ACK, b""));
    h.egress(&up(9001, ACK_PSH, b"hello two"));
    h.egress(&down(7001, ACK_PSH, b"server two"));
    let payloads: Vec<Vec<u8>> = h
        .records()
        .iter()
        .filter_map(|r| Event::try_from(&r[..]).ok().map(|e| e.payload.to_vec()))
        .collect();
    assert_eq!(
        payloads,
        vec![b"hello two".to_vec(), b"server two".to_vec()],
        "both directions of the second connection are captured"
    );
    let st = h
        .flows()
        .into_iter()
        .find(|(k, _)| *k == server_key)
        .expect("server direction")
        .1;
    assert_eq!(st.capture_state, capture_state::ACTIVE);
    assert_eq!(st.first_flags, SYN_ACK);
}

/// Payload-less SYNs raise no event; the flags that opened each direction ride along
/// with its events instead, so userspace knows who connected when the server speaks
/// first on a high port (SMTP on 2525). A mid-stream flow reports the flags it was
/// first seen with.
#[test]
fn events_carry_the_flags_that_opened_the_direction() {
    let mut h = Harness::default();
    let conn = Conn {
        client: 7002,
        server: 2525,
    };
    let (to_server, to_client) = (
        |q, f, p: &[u8]| conn.up(q, f, p),
        |q, f, p: &[u8]| conn.down(q, f, p),
    );
    h.egress(&to_server(100, SYN, b""));
    h.egress(&to_client(500, SYN_ACK, b""));
    h.egress(&to_server(101, ACK, b""));
    h.egress(&to_client(501, ACK_PSH, b"220 lab ESMTP\r\n"));
    h.egress(&to_server(101, ACK_PSH, b"EHLO c\r\n"));
    // A flow already running when capture started.
    let running = Conn {
        client: 7003,
        server: 2525,
    };
    h.egress(&running.up(1, ACK_PSH, b"QUIT\r\n"));
    let got: Vec<(u16, u8, u8)> = h
        .records()
        .iter()
        .map(|r| {
            let ev = Event::try_from(&r[..]).expect("event");
            (ev.endpoints.src.port(), ev.tcp_flags, ev.first_flags)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (2525, ACK_PSH, SYN_ACK),
            (7002, ACK_PSH, SYN),
            (7003, ACK_PSH, ACK_PSH)
        ]
    );
    let mut opened: Vec<(u16, u8)> = h
        .flows()
        .iter()
        .map(|(k, st)| (k.src_port, st.first_flags))
        .collect();
    opened.sort();
    assert_eq!(opened, vec![(2525, SYN_ACK), (7002, SYN), (7003, ACK_PSH)]);
}

/// Test-run frames must fit one page, so the 4096-byte event cap itself is exercised
/// by the veth tests (GSO packets); here: the big and medium slots copy exactly.
#[test]
fn large_payloads_use_the_bigger_slots() {
    let mut h = Harness::default();
    let payload: Vec<u8> = (0..3500u32).map(|i| (i % 251) as u8).collect();
    let a = v4([10, 0, 0, 1]);
    let b = v4([10, 0, 0, 2]);
    h.egress(&frames::ipv4(
        &[],
        a,
        b,
        0,
        &L4::tcp(8000, 443, 1, 1, ACK_PSH),
        &payload,
    ));
    h.egress(&frames::ipv4(
        &[],
        a,
        b,
        0,
        &L4::tcp(8000, 443, 3501, 1, ACK_PSH),
        &payload[..1500],
    ));
    let recs = h.records();
    let evs: Vec<Event<'_>> = recs
        .iter()
        .map(|r| Event::try_from(&r[..]).expect("event"))
        .collect();
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].payload, &payload[..]);
    assert_eq!(evs[1].payload, &payload[..1500]);
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 2),
            ("flow_created", 1),
            ("segments_captured", 2)
        ]
    );
}

#[test]
fn empty_program_passes_everything() {
    let h = Harness::default();
    h.run(names::PROG_EMPTY, &frames::arp());
    h.run(
        names::PROG_EMPTY,
        &frames::ipv4(
            &[],
            v4([1, 1, 1, 1]),
            v4([2, 2, 2, 2]),
            0,
            &L4::tcp(1, 2, 3, 4, 0x18),
            b"x",
        ),
    );
    assert!(h.counters().is_empty(), "the empty program touches no map");
}

/// The object declares a GPL-compatible licence in its `license` section, and the
/// kernel loaded every program as GPL-compatible.
#[test]
fn the_object_declares_a_gpl_compatible_licence() {
    let obj = plainsight::capture::live::EBPF_OBJECT;
    assert!(
        obj.windows(13).any(|w| w == b"Dual MIT/GPL\0"),
        "no `Dual MIT/GPL` licence string in the object"
    );
    let h = Harness::default();
    for name in [names::PROG_INGRESS, names::PROG_EGRESS, names::PROG_EMPTY] {
        let p: &SchedClassifier = h.ebpf.program(name).unwrap().try_into().unwrap();
        assert_eq!(p.info().unwrap().gpl_compatible(), Some(true), "{name}");
    }
}

/// A 4096-byte ring holds exactly 11 small records (8-byte record header + 80-byte
/// event header + 256-byte slot = 344 bytes); every further event is counted lost.
#[test]
fn full_ring_buffer_is_counted_exactly() {
    let mut h = Harness::new(LoadOptions {
        ringbuf_bytes: Some(4096),
        ..LoadOptions::default()
    });
    for port in 0..20u16 {
        h.egress(&frames::ipv4(
            &[],
            v4([10, 0, 0, 1]),
            v4([10, 0, 0, 2]),
            0,
            &L4::tcp(9000 + port, 80, 1, 1, ACK_PSH),
            b"0123456789",
        ));
    }
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 20),
            ("flow_created", 20),
            ("ringbuf_full", 9),
            ("segments_captured", 11)
        ]
    );
    assert_eq!(h.records().len(), 11);
    // A lost event does not use up budget: the next segment of a starved flow is captured.
    let starved = frames::ipv4(
        &[],
        v4([10, 0, 0, 1]),
        v4([10, 0, 0, 2]),
        0,
        &L4::tcp(9019, 80, 11, 1, ACK_PSH),
        b"again",
    );
    h.egress(&starved);
    let recs = h.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(
        Event::try_from(&recs[0][..]).expect("event").payload,
        b"again"
    );
}

/// Pins the test to one CPU: the LRU's free lists are per CPU, so the outcome of a
/// tiny map is only exact when every insert runs on the same CPU.
fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity on ourselves.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
}

/// An 8-entry flow map fed 20 new directions on one CPU.
#[test]
fn full_flow_map_evicts_and_counts() {
    pin_to_cpu0();
    let mut h = Harness::new(LoadOptions {
        flow_entries: Some(8),
        ..LoadOptions::default()
    });
    for port in 0..20u16 {
        h.egress(&frames::ipv4(
            &[],
            v4([10, 0, 0, 1]),
            v4([10, 0, 0, 2]),
            0,
            &L4::tcp(10000 + port, 80, 1, 1, ACK_PSH),
            b"x",
        ));
    }
    let flows = h.flows();
    let ports: Vec<u16> = {
        let mut p: Vec<u16> = flows.iter().map(|(k, _)| k.src_port).collect();
        p.sort();
        p
    };
    // The LRU never refuses an insert: it evicted the 12 oldest directions, which
    // userspace derives as flow_created - entries.
    assert_eq!(ports, (10012..10020).collect::<Vec<u16>>());
    assert_eq!(h.records().len(), 20);
    assert_eq!(
        h.counters(),
        vec![
            ("packets", 20),
            ("flow_created", 20),
            ("segments_captured", 20)
        ]
    );
    let evicted = read_counters(&h.ebpf).expect("counters")[counter::FLOW_CREATED as usize]
        - flows.len() as u64;
    assert_eq!(evicted, 12);
}

/// Established packets take `last_seen_ns` from the coarse clock where the kernel has it
/// and from the precise one otherwise (kernels before 5.11); in both modes it follows
/// time and never falls behind the flow's (precise) start.
#[test]
fn last_seen_follows_both_clocks() {
    use plainsight::capture::live::has_coarse_clock;
    require_root();
    assert!(
        has_coarse_clock(),
        "the probe finds bpf_ktime_get_coarse_ns on this kernel (5.11+)"
    );
    for coarse in [true, false] {
        let h = Harness::new(LoadOptions {
            coarse_clock: Some(coarse),
            ..LoadOptions::default()
        });
        let conn = Conn {
            client: 7100,
            server: 443,
        };
        h.egress(&conn.up(1, SYN, b""));
        let start = h.flows()[0].1;
        // Ten ticks at HZ=100, more at higher rates: past any coarse clock's resolution.
        std::thread::sleep(std::time::Duration::from_millis(100));
        h.egress(&conn.up(2, ACK, b""));
        let st = h.flows()[0].1;
        assert_eq!(st.packets, 2, "coarse={coarse}");
        assert_eq!(st.first_seen_ns, start.first_seen_ns, "coarse={coarse}");
        let moved = st.last_seen_ns - st.first_seen_ns;
        assert!(
            (80_000_000..1_000_000_000).contains(&moved),
            "coarse={coarse}: last_seen moved {moved} ns over a 100 ms sleep"
        );
    }
}
