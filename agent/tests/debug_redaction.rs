//! `Debug` of every type that holds payload shows its length, never its bytes: a
//! credential in a segment must not reach a log line, a panic message or a test failure.

use std::net::IpAddr;

use agent_common::parse::Event;
use agent_common::{event_kind, family, hook, proto, EventHeader, FlowKey};
use plainsight::capture::live::{convert, Clock};
use plainsight::capture::{Segment, TcpMeta};
use plainsight::flow::stream::Stream;
use plainsight::flow::table::{Limits, Table};
use plainsight::flow::Transport;
use plainsight::time::Timestamp;

const SECRET: &[u8] = b"PASS hunter2-secret\r\n";
const SECRET_TEXT: &str = "hunter2";

/// The secret as `Debug` would print it in any of the usual forms.
fn assert_hidden(what: &str, debug: &str) {
    let bytes_form = format!("{:?}", &SECRET[5..12]);
    let hex_form = hex::encode(&SECRET[5..12]);
    for needle in [SECRET_TEXT, bytes_form.trim_matches(['[', ']']), &hex_form] {
        assert!(
            !debug.contains(needle),
            "{what} Debug shows payload: {debug}"
        );
    }
    assert!(
        debug.contains(&format!("<{} bytes>", SECRET.len())),
        "{what} Debug does not give the payload length: {debug}"
    );
}

fn segment() -> Segment<'static> {
    Segment {
        ts: Timestamp(1),
        src_ip: IpAddr::from([10, 0, 0, 1]),
        dst_ip: IpAddr::from([10, 0, 0, 2]),
        src_port: 40000,
        dst_port: 21,
        transport: Transport::Tcp,
        tcp: Some(TcpMeta {
            seq: 1000,
            ack: 1,
            flags: TcpMeta::ACK | TcpMeta::PSH,
            first_flags: TcpMeta::SYN,
        }),
        payload: SECRET,
        wire_len: 100,
    }
}

fn ring_record() -> Vec<u8> {
    let mut key = FlowKey {
        family: family::IPV4,
        protocol: proto::TCP,
        src_port: 40000,
        dst_port: 21,
        ..FlowKey::default()
    };
    key.src_addr[..4].copy_from_slice(&[10, 0, 0, 1]);
    key.dst_addr[..4].copy_from_slice(&[10, 0, 0, 2]);
    let h = EventHeader {
        key,
        payload_len: SECRET.len() as u32,
        copied_len: SECRET.len() as u32,
        kind: event_kind::SEGMENT,
        direction: hook::EGRESS,
        ..EventHeader::default()
    };
    let mut v = vec![0u8; size_of::<EventHeader>()];
    // SAFETY: v is exactly size_of::<EventHeader>() long; the write is unaligned.
    unsafe { std::ptr::write_unaligned(v.as_mut_ptr().cast::<EventHeader>(), h) };
    v.extend_from_slice(SECRET);
    v
}

#[test]
fn segment_debug_hides_payload() {
    assert_hidden("Segment", &format!("{:?}", segment()));
    assert_hidden("Segment", &format!("{:#?}", segment()));
}

#[test]
fn ring_buffer_event_and_owned_segment_debug_hide_payload() {
    let record = ring_record();
    let ev = Event::try_from(&record[..]).unwrap();
    assert_eq!(ev.payload, SECRET);
    assert_hidden("Event", &format!("{ev:?}"));
    let owned = convert(&record, &Clock::new()).unwrap();
    assert_eq!(owned.payload, SECRET);
    assert_hidden("OwnedSegment", &format!("{owned:?}"));
}

#[test]
fn stream_and_flow_debug_hide_payload() {
    let mut s = Stream::new(1024);
    s.push(1000, false, SECRET);
    assert_eq!(s.contiguous(), SECRET);
    assert_hidden("Stream", &format!("{s:?}"));

    let mut table: Table<()> = Table::new(Limits::default());
    let out = table.packet(&segment(), |_| ()).unwrap();
    let flow = format!("{:?}", out.flow);
    assert_eq!(
        out.flow
            .stream(plainsight::flow::Direction::ToServer)
            .contiguous(),
        SECRET
    );
    assert_hidden("Flow", &flow);
}
