//! Link-layer to transport decoding: one captured frame in, one [`Segment`] or a skip reason out.
//!
//! The decoder is shared by every offline format (and usable by tests and benches on raw frames).
//! It never fails hard: a packet that is not TCP/UDP over IP, or that is cut short, is a
//! [`Skip`] with a reason that the caller counts. A malformed packet inside a valid capture must
//! never stop the capture, because the findings already made and the ones still to come matter
//! more than one bad frame.
//!
//! Decoding stops at the first TCP/UDP header. IP-in-IP (IPv4 or IPv6 inside IPv4 or IPv6)
//! plain GRE (with an IP, Ethernet or ERSPAN type II payload), VXLAN, GTP-U and CAPWAP
//! data channels carrying Ethernet are unwrapped, a few levels deep at most, because the
//! inner flow is the one that carries the handshake; other UDP tunnels (CAPWAP with native
//! 802.11 frames) are seen as their outer UDP flow. Only the first fragment of a fragmented
//! IP datagram carries the transport header, so non-first fragments are skipped and counted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Segment, TcpMeta};
use crate::flow::Transport;
use crate::time::Timestamp;

/// Link types from the tcpdump.org LINKTYPE registry (<https://www.tcpdump.org/linktypes.html>).
pub mod linktype {
    /// BSD loopback: a 4-byte address family in the writer's byte order.
    pub const NULL: u32 = 0;
    /// IEEE 802.3 Ethernet.
    pub const ETHERNET: u32 = 1;
    /// DLT_RAW as most BSDs and Linux number it (raw IPv4/IPv6, version nibble decides).
    pub const DLT_RAW_12: u32 = 12;
    /// DLT_RAW as OpenBSD numbers it.
    pub const DLT_RAW_14: u32 = 14;
    /// LINKTYPE_RAW: raw IPv4 or IPv6.
    pub const RAW: u32 = 101;
    /// Linux "cooked" capture v1 (SLL).
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4 only.
    pub const IPV4: u32 = 228;
    /// Raw IPv6 only.
    pub const IPV6: u32 = 229;
    /// Linux "cooked" capture v2 (SLL2).
    pub const LINUX_SLL2: u32 = 276;
}

/// EtherType values (IEEE 802 numbers registry; IPv4 RFC 894, IPv6 RFC 2464).
mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86DD;
    /// IEEE 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88A8;
    /// Pre-standard QinQ outer tag still emitted by some switches.
    pub const QINQ_OLD: u16 = 0x9100;
    /// PPPoE session stage (RFC 2516 §4).
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// MPLS unicast (RFC 3032 §5).
    pub const MPLS: u16 = 0x8847;
    /// Transparent Ethernet bridging: an Ethernet frame inside GRE (RFC 1701 §3.3 type list).
    pub const TEB: u16 = 0x6558;
    /// ERSPAN type II inside GRE (draft-foschiano-erspan §4.1).
    pub const ERSPAN2: u16 = 0x88BE;
    /// Values up to 1500 are an 802.3 length, not a type (IEEE 802.3 §3.2.6).
    pub const MAX_LENGTH: u16 = 1500;
}

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers"; TCP RFC 9293, UDP RFC 768).
mod ipproto {
    pub const HOPOPTS: u8 = 0;
    /// IPv4 encapsulated in IP (RFC 2003).
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    /// IPv6 encapsulated in IP (RFC 2473, RFC 4213).
    pub const IPV6: u8 = 41;
    /// Generic Routing Encapsulation (RFC 2784, RFC 2890).
    pub const GRE: u8 = 47;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AH: u8 = 51;
    pub const DSTOPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const HIP: u8 = 139;
    pub const SHIM6: u8 = 140;
}

/// UDP ports of tunnels whose inner frames are decoded.
mod udpport {
    /// VXLAN (RFC 7348 §5, IANA-assigned port).
    pub const VXLAN: u16 = 4789;
    /// CAPWAP data channel (RFC 5415 §3.1); the control channel (5246) is DTLS, not a tunnel.
    pub const CAPWAP_DATA: u16 = 5247;
    /// GTP user plane (3GPP TS 29.281 §4.4.2.3).
    pub const GTP_U: u16 = 2152;
}

/// Why a frame did not produce a segment. Counted, never fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// Not IPv4/IPv6 (ARP, LLDP, STP, 802.3 frames...).
    NonIp,
    /// The frame ends inside a header we need.
    Truncated,
    /// A non-first IP fragment: it carries no transport header.
    Fragment,
    /// The capture's link type is not one we decode.
    UnsupportedLinktype,
    /// IP, but neither TCP nor UDP (ICMP, GRE, ESP, SCTP...).
    OtherL4,
    /// A header with impossible values (bad IP version, IHL < 5, TCP data offset < 5...).
    Malformed,
    /// A pcapng packet that names an interface no IDB described.
    UnknownInterface,
}

impl Skip {
    /// Every reason, in a stable order (for metrics and reports).
    pub const ALL: [Skip; 7] = [
        Skip::NonIp,
        Skip::Truncated,
        Skip::Fragment,
        Skip::UnsupportedLinktype,
        Skip::OtherL4,
        Skip::Malformed,
        Skip::UnknownInterface,
    ];

    /// A stable label, usable as a bounded metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NonIp => "non_ip",
            Skip::Truncated => "truncated",
            Skip::Fragment => "fragment",
            Skip::UnsupportedLinktype => "unsupported_linktype",
            Skip::OtherL4 => "other_l4",
            Skip::Malformed => "malformed",
            Skip::UnknownInterface => "unknown_interface",
        }
    }

    fn index(self) -> usize {
        match self {
            Skip::NonIp => 0,
            Skip::Truncated => 1,
            Skip::Fragment => 2,
            Skip::UnsupportedLinktype => 3,
            Skip::OtherL4 => 4,
            Skip::Malformed => 5,
            Skip::UnknownInterface => 6,
        }
    }
}

/// Counts of skipped packets, one per [`Skip`] reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkipCounts([u64; 7]);

impl SkipCounts {
    pub fn add(&mut self, reason: Skip) {
        if let Some(c) = self.0.get_mut(reason.index()) {
            *c += 1;
        }
    }

    /// Adds another set of counts (several inputs in one run).
    pub fn merge(&mut self, other: &SkipCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }

    pub fn get(&self, reason: Skip) -> u64 {
        self.0.get(reason.index()).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `(reason, count)` for every reason, zero counts included, in [`Skip::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Skip, u64)> + '_ {
        Skip::ALL.iter().map(move |r| (*r, self.get(*r)))
    }
}

/// Bounds-checked big-endian reads: input is untrusted, so no panicking indexing.
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let a: [u8; 4] = s.try_into().ok()?;
    Some(u32::from_be_bytes(a))
}

/// Decode one captured frame of the given link type.
///
/// `wire_len` is the original length on the wire (for byte counters); `frame` is what was
/// captured, possibly cut by the snap length.
pub fn decode(
    linktype: u32,
    ts: Timestamp,
    frame: &[u8],
    wire_len: u32,
) -> Result<Segment<'_>, Skip> {
    let l3 = match linktype {
        linktype::ETHERNET => ethernet(frame)?,
        linktype::RAW | linktype::DLT_RAW_12 | linktype::DLT_RAW_14 => by_version(frame)?,
        linktype::IPV4 => L3::V4(frame),
        linktype::IPV6 => L3::V6(frame),
        linktype::LINUX_SLL => sll(frame)?,
        linktype::LINUX_SLL2 => sll2(frame)?,
        linktype::NULL => null(frame)?,
        _ => return Err(Skip::UnsupportedLinktype),
    };
    let l4 = network(l3, 0)?;
    transport(l4, ts, wire_len)
}

/// How many tunnel layers are unwrapped before the packet counts as "other L4".
const MAX_TUNNEL_DEPTH: u8 = 4;

/// IP layer, unwrapping IP-in-IP and GRE tunnels (bounded depth).
fn network(l3: L3<'_>, depth: u8) -> Result<L4<'_>, Skip> {
    let l4 = match l3 {
        L3::V4(p) => ipv4(p)?,
        L3::V6(p) => ipv6(p)?,
    };
    if depth >= MAX_TUNNEL_DEPTH {
        return Ok(l4);
    }
    match l4.proto {
        ipproto::IPIP => network(L3::V4(l4.data), depth + 1),
        ipproto::IPV6 => network(L3::V6(l4.data), depth + 1),
        ipproto::GRE => network(gre(l4.data)?, depth + 1),
        // A UDP tunnel is unwrapped only when the inner frame decodes to IP; otherwise (a
        // different protocol on the port, an 802.11 payload, a fragment) the outer UDP
        // datagram is the flow, as before.
        ipproto::UDP => match udp_tunnel(l4.data).map(|inner| network(inner, depth + 1)) {
            Some(Ok(inner)) => Ok(inner),
            _ => Ok(l4),
        },
        _ => Ok(l4),
    }
}

/// The inner Ethernet frame's IP layer of a VXLAN or CAPWAP data datagram (`u` starts at
/// the UDP header), or `None` when the datagram is not one of them.
fn udp_tunnel(u: &[u8]) -> Option<L3<'_>> {
    let src = be16(u, 0)?;
    let dst = be16(u, 2)?;
    let payload = u.get(8..)?;
    if dst == udpport::VXLAN || src == udpport::VXLAN {
        vxlan(payload)
    } else if dst == udpport::CAPWAP_DATA || src == udpport::CAPWAP_DATA {
        capwap_data(payload)
    } else if dst == udpport::GTP_U && src == udpport::GTP_U {
        gtp_u(payload)
    } else {
        None
    }
}

/// GTP-U version 1 (3GPP TS 29.281 §5.1): flags(1) = version 1, PT 1, then E/S/PN bits;
/// message type(1), 255 = G-PDU carrying a user IP packet; length(2); TEID(4). Any of E/S/PN
/// adds sequence(2), N-PDU(1) and next-extension-type(1); each extension header (§5.2) has its
/// length in 4-octet units first and the next type last.
fn gtp_u(g: &[u8]) -> Option<L3<'_>> {
    const G_PDU: u8 = 0xff;
    let flags = *g.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *g.get(1)? != G_PDU {
        return None;
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        let mut next = *g.get(11)?;
        at = 12;
        for _ in 0..8 {
            if next == 0 {
                break;
            }
            let len = usize::from(*g.get(at)?) * 4;
            if len == 0 {
                return None;
            }
            next = *g.get(at + len - 1)?;
            at += len;
        }
        if next != 0 {
            return None;
        }
    }
    by_version(g.get(at..)?).ok()
}

/// VXLAN (RFC 7348 §5): flags(1) with the I bit (0x08) set for a valid VNI, 3 reserved
/// bytes, VNI(3), reserved(1), then the inner Ethernet frame.
fn vxlan(v: &[u8]) -> Option<L3<'_>> {
    const FLAG_I: u8 = 0x08;
    if v.first()? & FLAG_I == 0 {
        return None;
    }
    ethernet(v.get(8..)?).ok()
}

/// CAPWAP data (RFC 5415 §4.3): preamble version 0 and type 0 (a CAPWAP header, not DTLS),
/// HLEN in 4-byte words, then with the T flag clear an IEEE 802.3 frame, with it set the
/// binding's native format: for WBID 1 (IEEE 802.11, RFC 5416 §3) an 802.11 data frame.
/// Fragments (F flag) carry only part of a frame and are left as the outer flow.
fn capwap_data(c: &[u8]) -> Option<L3<'_>> {
    let word = be32(c, 0)?;
    let preamble = word >> 24;
    let hlen = ((word >> 19) & 0x1f) as usize * 4;
    let wbid = (word >> 9) & 0x1f;
    let t_flag = (word >> 8) & 1;
    let f_flag = (word >> 7) & 1;
    if preamble != 0 || hlen < 8 || f_flag != 0 {
        return None;
    }
    let frame = c.get(hlen..)?;
    match (t_flag, wbid) {
        (0, _) => ethernet(frame).ok(),
        (1, 1) => ieee80211_data(frame),
        _ => None,
    }
}

/// An unprotected IEEE 802.11 data frame (IEEE 802.11-2020 §9.2.4, §9.3.2.1) with an
/// LLC/SNAP header (RFC 1042) before the EtherType. Some access points (Cisco) send the
/// frame control field byte-swapped, flags first; the version bits (always 0) tell which.
fn ieee80211_data(f: &[u8]) -> Option<L3<'_>> {
    const TO_DS: u8 = 0x01;
    const FROM_DS: u8 = 0x02;
    const PROTECTED: u8 = 0x40;
    const ORDER: u8 = 0x80;
    let (b0, b1) = (*f.first()?, *f.get(1)?);
    let is_data = |t: u8| t & 0x03 == 0 && (t >> 2) & 0x03 == 2;
    let (typ, flags) = if is_data(b0) {
        (b0, b1)
    } else if is_data(b1) {
        (b1, b0)
    } else {
        return None;
    };
    if flags & PROTECTED != 0 {
        return None;
    }
    let qos = typ & 0x80 != 0; // subtype bit 3: QoS data
    let mut len = 24;
    if flags & TO_DS != 0 && flags & FROM_DS != 0 {
        len += 6; // address 4
    }
    if qos {
        len += 2;
        if flags & ORDER != 0 {
            len += 4; // HT control
        }
    }
    let llc = f.get(len..)?;
    const SNAP: [u8; 6] = [0xaa, 0xaa, 0x03, 0, 0, 0];
    if llc.get(..6)? != SNAP {
        return None;
    }
    by_ethertype(be16(llc, 6)?, llc.get(8..)?).ok()
}

/// GRE version 0 (RFC 2784 §2.1, optional key and sequence fields RFC 2890 §2).
fn gre(g: &[u8]) -> Result<L3<'_>, Skip> {
    let flags = be16(g, 0).ok_or(Skip::Truncated)?;
    let proto = be16(g, 2).ok_or(Skip::Truncated)?;
    if flags & 0x0007 != 0 {
        // Version 1 is PPTP's enhanced GRE (RFC 2637): PPP inside, not decoded.
        return Err(Skip::OtherL4);
    }
    let mut len = 4;
    for bit in [0x8000u16, 0x2000, 0x1000] {
        // Checksum(+reserved), key, sequence number: 4 bytes each when present.
        if flags & bit != 0 {
            len += 4;
        }
    }
    let rest = g.get(len..).ok_or(Skip::Truncated)?;
    match proto {
        ethertype::TEB => ethernet(rest),
        // ERSPAN II: an 8-byte header, then the mirrored Ethernet frame.
        ethertype::ERSPAN2 => ethernet(rest.get(8..).ok_or(Skip::Truncated)?),
        t => by_ethertype(t, rest).map_err(|e| if e == Skip::NonIp { Skip::OtherL4 } else { e }),
    }
}

enum L3<'a> {
    V4(&'a [u8]),
    V6(&'a [u8]),
}

/// Pick IPv4 or IPv6 from the version nibble (RFC 791 §3.1, RFC 8200 §3).
fn by_version(p: &[u8]) -> Result<L3<'_>, Skip> {
    match p.first().map(|b| b >> 4) {
        Some(4) => Ok(L3::V4(p)),
        Some(6) => Ok(L3::V6(p)),
        Some(_) => Err(Skip::NonIp),
        None => Err(Skip::Truncated),
    }
}

/// Ethernet II with any number of stacked 802.1Q/802.1ad tags, PPPoE sessions and MPLS.
fn ethernet(f: &[u8]) -> Result<L3<'_>, Skip> {
    // dst(6) src(6) ethertype(2).
    let etype = be16(f, 12).ok_or(Skip::Truncated)?;
    let rest = f.get(14..).ok_or(Skip::Truncated)?;
    by_ethertype(etype, rest)
}

/// Follow an EtherType through VLAN tags (each: TCI(2) + inner type(2), IEEE 802.1Q §9.6).
fn by_ethertype(mut etype: u16, mut rest: &[u8]) -> Result<L3<'_>, Skip> {
    // Bounded: a frame full of tags ends when the bytes do, but cap the loop anyway.
    for _ in 0..16 {
        match etype {
            ethertype::IPV4 => return Ok(L3::V4(rest)),
            ethertype::IPV6 => return Ok(L3::V6(rest)),
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
                etype = be16(rest, 2).ok_or(Skip::Truncated)?;
                rest = rest.get(4..).ok_or(Skip::Truncated)?;
            }
            ethertype::PPPOE_SESSION => return pppoe(rest),
            ethertype::MPLS => return mpls(rest),
            t if t <= ethertype::MAX_LENGTH => return Err(Skip::NonIp),
            _ => return Err(Skip::NonIp),
        }
    }
    Err(Skip::Malformed)
}

/// PPPoE session header (RFC 2516 §4): ver/type(1) code(1) session(2) length(2), then the
/// PPP protocol field (RFC 1661 §2; IPv4 0x0021 RFC 1332, IPv6 0x0057 RFC 5072).
fn pppoe(p: &[u8]) -> Result<L3<'_>, Skip> {
    let proto = be16(p, 6).ok_or(Skip::Truncated)?;
    let rest = p.get(8..).ok_or(Skip::Truncated)?;
    match proto {
        0x0021 => Ok(L3::V4(rest)),
        0x0057 => Ok(L3::V6(rest)),
        _ => Err(Skip::NonIp),
    }
}

/// MPLS label stack (RFC 3032 §2.1): 4-byte entries until the bottom-of-stack bit; the
/// payload type is not signalled, so the IP version nibble decides.
fn mpls(mut p: &[u8]) -> Result<L3<'_>, Skip> {
    for _ in 0..16 {
        let entry = be32(p, 0).ok_or(Skip::Truncated)?;
        p = p.get(4..).ok_or(Skip::Truncated)?;
        if entry & 0x100 != 0 {
            return by_version(p);
        }
    }
    Err(Skip::Malformed)
}

/// Linux cooked v1 (<https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>):
/// 16 bytes, protocol (an EtherType for Ethernet-like devices) at offset 14.
fn sll(f: &[u8]) -> Result<L3<'_>, Skip> {
    let proto = be16(f, 14).ok_or(Skip::Truncated)?;
    let rest = f.get(16..).ok_or(Skip::Truncated)?;
    by_ethertype(proto, rest)
}

/// Linux cooked v2 (<https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html>):
/// 20 bytes, protocol at offset 0.
fn sll2(f: &[u8]) -> Result<L3<'_>, Skip> {
    let proto = be16(f, 0).ok_or(Skip::Truncated)?;
    let rest = f.get(20..).ok_or(Skip::Truncated)?;
    by_ethertype(proto, rest)
}

/// BSD loopback (<https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html>): a 4-byte AF_ value in
/// the capturing host's byte order. AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24
/// (NetBSD/OpenBSD), 28 (FreeBSD) or 30 (macOS).
fn null(f: &[u8]) -> Result<L3<'_>, Skip> {
    let raw: [u8; 4] = f
        .get(..4)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    let rest = f.get(4..).ok_or(Skip::Truncated)?;
    let le = u32::from_le_bytes(raw);
    let family = if le <= 0xFFFF {
        le
    } else {
        u32::from_be_bytes(raw)
    };
    match family {
        2 => Ok(L3::V4(rest)),
        10 | 24 | 28 | 30 => Ok(L3::V6(rest)),
        _ => Err(Skip::NonIp),
    }
}

/// An IP packet reduced to what the transport decoder needs.
#[derive(Clone, Copy)]
struct L4<'a> {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    /// Transport header and payload, trimmed to the IP length (drops Ethernet padding).
    data: &'a [u8],
}

/// IPv4 (RFC 791 §3.1): IHL in 32-bit words, options skipped; fragments per §2.3.
fn ipv4(p: &[u8]) -> Result<L4<'_>, Skip> {
    let vihl = *p.first().ok_or(Skip::Truncated)?;
    if vihl >> 4 != 4 {
        return Err(Skip::Malformed);
    }
    let ihl = usize::from(vihl & 0x0F) * 4;
    if ihl < 20 {
        return Err(Skip::Malformed);
    }
    if p.len() < ihl {
        return Err(Skip::Truncated);
    }
    let total = usize::from(be16(p, 2).ok_or(Skip::Truncated)?);
    let frag = be16(p, 6).ok_or(Skip::Truncated)?;
    let proto = *p.get(9).ok_or(Skip::Truncated)?;
    let src: [u8; 4] = p
        .get(12..16)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    let dst: [u8; 4] = p
        .get(16..20)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    // Fragment offset is the low 13 bits, in 8-byte units; only offset 0 has the L4 header.
    if frag & 0x1FFF != 0 {
        return Err(Skip::Fragment);
    }
    // Total length 0 happens with TSO/GSO captures: trust the captured bytes then.
    let end = if total == 0 {
        p.len()
    } else if total < ihl {
        return Err(Skip::Malformed);
    } else {
        total.min(p.len())
    };
    let data = p.get(ihl..end).ok_or(Skip::Truncated)?;
    Ok(L4 {
        src: IpAddr::V4(Ipv4Addr::from(src)),
        dst: IpAddr::V4(Ipv4Addr::from(dst)),
        proto,
        data,
    })
}

/// IPv6 (RFC 8200 §3) and its extension headers (§4). The walk is bounded by the packet's
/// bytes and by a header count.
fn ipv6(p: &[u8]) -> Result<L4<'_>, Skip> {
    let v = *p.first().ok_or(Skip::Truncated)?;
    if v >> 4 != 6 {
        return Err(Skip::Malformed);
    }
    let plen = usize::from(be16(p, 4).ok_or(Skip::Truncated)?);
    let mut next = *p.get(6).ok_or(Skip::Truncated)?;
    let src: [u8; 16] = p
        .get(8..24)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    let dst: [u8; 16] = p
        .get(24..40)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    // Payload length 0 means a jumbogram (RFC 2675) or a TSO capture: use what was captured.
    let end = if plen == 0 {
        p.len()
    } else {
        (40 + plen).min(p.len())
    };
    let mut rest = p.get(40..end).ok_or(Skip::Truncated)?;
    for _ in 0..16 {
        match next {
            ipproto::HOPOPTS
            | ipproto::ROUTING
            | ipproto::DSTOPTS
            | ipproto::MOBILITY
            | ipproto::HIP
            | ipproto::SHIM6 => {
                // next(1) hdr_ext_len(1) in 8-octet units, not counting the first 8 (§4.3).
                let nh = *rest.first().ok_or(Skip::Truncated)?;
                let len = (usize::from(*rest.get(1).ok_or(Skip::Truncated)?) + 1) * 8;
                rest = rest.get(len..).ok_or(Skip::Truncated)?;
                next = nh;
            }
            ipproto::AH => {
                // AH length is in 4-octet units minus 2 (RFC 4302 §2.2).
                let nh = *rest.first().ok_or(Skip::Truncated)?;
                let len = (usize::from(*rest.get(1).ok_or(Skip::Truncated)?) + 2) * 4;
                rest = rest.get(len..).ok_or(Skip::Truncated)?;
                next = nh;
            }
            ipproto::FRAGMENT => {
                // next(1) reserved(1) offset<<3|flags(2) id(4) (§4.5).
                let nh = *rest.first().ok_or(Skip::Truncated)?;
                let off = be16(rest, 2).ok_or(Skip::Truncated)?;
                if off & 0xFFF8 != 0 {
                    return Err(Skip::Fragment);
                }
                rest = rest.get(8..).ok_or(Skip::Truncated)?;
                next = nh;
            }
            proto => {
                return Ok(L4 {
                    src: IpAddr::V6(Ipv6Addr::from(src)),
                    dst: IpAddr::V6(Ipv6Addr::from(dst)),
                    proto,
                    data: rest,
                });
            }
        }
    }
    Err(Skip::Malformed)
}

/// TCP (RFC 9293 §3.1) or UDP (RFC 768).
fn transport(l4: L4<'_>, ts: Timestamp, wire_len: u32) -> Result<Segment<'_>, Skip> {
    let d = l4.data;
    match l4.proto {
        ipproto::TCP => {
            let src_port = be16(d, 0).ok_or(Skip::Truncated)?;
            let dst_port = be16(d, 2).ok_or(Skip::Truncated)?;
            let seq = be32(d, 4).ok_or(Skip::Truncated)?;
            let ack = be32(d, 8).ok_or(Skip::Truncated)?;
            let off = usize::from(*d.get(12).ok_or(Skip::Truncated)? >> 4) * 4;
            let flags = *d.get(13).ok_or(Skip::Truncated)?;
            if off < 20 {
                return Err(Skip::Malformed);
            }
            let payload = d.get(off..).ok_or(Skip::Truncated)?;
            Ok(Segment {
                ts,
                src_ip: l4.src,
                dst_ip: l4.dst,
                src_port,
                dst_port,
                transport: Transport::Tcp,
                tcp: Some(TcpMeta {
                    seq,
                    ack,
                    flags,
                    first_flags: 0,
                }),
                payload,
                wire_len,
            })
        }
        ipproto::UDP => {
            let src_port = be16(d, 0).ok_or(Skip::Truncated)?;
            let dst_port = be16(d, 2).ok_or(Skip::Truncated)?;
            let ulen = usize::from(be16(d, 4).ok_or(Skip::Truncated)?);
            if d.len() < 8 {
                return Err(Skip::Truncated);
            }
            // Length 0 is legal for jumbograms (RFC 2675 §4); otherwise trim to it.
            let end = if ulen == 0 {
                d.len()
            } else if ulen < 8 {
                return Err(Skip::Malformed);
            } else {
                ulen.min(d.len())
            };
            let payload = d.get(8..end).ok_or(Skip::Truncated)?;
            Ok(Segment {
                ts,
                src_ip: l4.src,
                dst_ip: l4.dst,
                src_port,
                dst_port,
                transport: Transport::Udp,
                tcp: None,
                payload,
                wire_len,
            })
        }
        _ => Err(Skip::OtherL4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(payload: &[u8], frag: u16, options: &[u8]) -> Vec<u8> {
        let ihl = 20 + options.len();
        let total = ihl + 20 + payload.len();
        let mut p = vec![0x40 | (ihl / 4) as u8, 0];
        p.extend_from_slice(&(total as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        p.extend_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&[64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(options);
        // TCP: ports 40000 -> 443, seq 1000, ack 0, offset 5, SYN|ACK.
        p.extend_from_slice(&40000u16.to_be_bytes());
        p.extend_from_slice(&443u16.to_be_bytes());
        p.extend_from_slice(&1000u32.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(&[0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn eth(etype: u16, tags: &[u16], l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for t in tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0x00, 0x05]); // TCI
        }
        f.extend_from_slice(&etype.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    #[test]
    fn ethernet_ipv4_tcp_with_options_and_padding() {
        let ip = ipv4_tcp(b"hi", 0, &[1, 1, 1, 0]);
        let mut f = eth(0x0800, &[], &ip);
        f.extend_from_slice(&[0u8; 6]); // Ethernet trailer padding must not reach the payload.
        let s = decode(linktype::ETHERNET, Timestamp(5), &f, 99).expect("decodes");
        assert_eq!(s.payload, b"hi");
        assert_eq!(s.src_port, 40000);
        assert_eq!(s.dst_port, 443);
        assert_eq!(s.transport, Transport::Tcp);
        assert_eq!(
            s.tcp,
            Some(TcpMeta {
                seq: 1000,
                ack: 7,
                flags: 0x12,
                first_flags: 0,
            })
        );
        assert_eq!(s.src_ip, "10.0.0.1".parse::<IpAddr>().expect("ip"));
        assert_eq!(s.wire_len, 99);
    }

    #[test]
    fn stacked_vlan_tags() {
        let ip = ipv4_tcp(b"x", 0, &[]);
        let f = eth(0x0800, &[0x88A8, 0x8100], &ip);
        let s = decode(linktype::ETHERNET, Timestamp(0), &f, 0).expect("decodes");
        assert_eq!(s.payload, b"x");
    }

    #[test]
    fn fragments() {
        // First fragment (MF set, offset 0) still carries TCP.
        let first = ipv4_tcp(b"abc", 0x2000, &[]);
        assert!(decode(linktype::RAW, Timestamp(0), &first, 0).is_ok());
        let later = ipv4_tcp(b"abc", 0x0010, &[]);
        assert_eq!(
            decode(linktype::RAW, Timestamp(0), &later, 0).err(),
            Some(Skip::Fragment)
        );
    }

    #[test]
    fn non_ip_and_truncated_and_unknown_linktype() {
        let arp = eth(0x0806, &[], &[0u8; 28]);
        assert_eq!(decode(1, Timestamp(0), &arp, 0).err(), Some(Skip::NonIp));
        let ip = ipv4_tcp(b"", 0, &[]);
        let cut = eth(0x0800, &[], ip.get(..30).expect("len"));
        assert_eq!(
            decode(1, Timestamp(0), &cut, 0).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            decode(1, Timestamp(0), &[0u8; 5], 0).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            decode(147, Timestamp(0), &ip, 0).err(),
            Some(Skip::UnsupportedLinktype)
        );
    }

    #[test]
    fn ipv6_extension_headers_udp() {
        let mut p = vec![0x60, 0, 0, 0];
        let udp_payload = b"dns?";
        let ext_len = 8 + 8; // hop-by-hop + fragment header (offset 0)
        p.extend_from_slice(&((ext_len + 8 + udp_payload.len()) as u16).to_be_bytes());
        p.push(ipproto::HOPOPTS);
        p.push(64);
        p.extend_from_slice(&[0u8; 15]);
        p.push(1); // src ::1
        p.extend_from_slice(&[0u8; 15]);
        p.push(2); // dst ::2
                   // Hop-by-hop: next = fragment, len 0 (8 bytes), PadN.
        p.extend_from_slice(&[ipproto::FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
        // Fragment: next = UDP, offset 0, M=1.
        p.extend_from_slice(&[ipproto::UDP, 0, 0, 1, 0, 0, 0, 9]);
        p.extend_from_slice(&[0x13, 0x88, 0, 53, 0, 12, 0, 0]);
        p.extend_from_slice(udp_payload);
        let s = decode(linktype::IPV6, Timestamp(0), &p, 0).expect("decodes");
        assert_eq!(s.transport, Transport::Udp);
        assert_eq!(s.dst_port, 53);
        assert_eq!(s.payload, b"dns?");
        // Same with a non-first fragment offset.
        let mut q = p.clone();
        if let Some(b) = q.get_mut(40 + 8 + 3) {
            *b = 0x08; // offset 1 (8 bytes)
        }
        assert_eq!(
            decode(linktype::IPV6, Timestamp(0), &q, 0).err(),
            Some(Skip::Fragment)
        );
    }

    #[test]
    fn cooked_and_null_links() {
        let ip = ipv4_tcp(b"z", 0, &[]);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(&ip);
        assert_eq!(
            decode(linktype::LINUX_SLL, Timestamp(0), &sll, 0)
                .expect("sll")
                .payload,
            b"z"
        );
        let mut sll2 = 0x0800u16.to_be_bytes().to_vec();
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        assert_eq!(
            decode(linktype::LINUX_SLL2, Timestamp(0), &sll2, 0)
                .expect("sll2")
                .payload,
            b"z"
        );
        let mut null_le = 2u32.to_le_bytes().to_vec();
        null_le.extend_from_slice(&ip);
        assert!(decode(linktype::NULL, Timestamp(0), &null_le, 0).is_ok());
        let mut null_be = 2u32.to_be_bytes().to_vec();
        null_be.extend_from_slice(&ip);
        assert!(decode(linktype::NULL, Timestamp(0), &null_be, 0).is_ok());
    }

    #[test]
    fn other_l4_and_bad_headers() {
        let mut icmp = ipv4_tcp(b"", 0, &[]);
        if let Some(b) = icmp.get_mut(9) {
            *b = 1;
        }
        assert_eq!(
            decode(linktype::IPV4, Timestamp(0), &icmp, 0).err(),
            Some(Skip::OtherL4)
        );
        let mut bad = ipv4_tcp(b"", 0, &[]);
        if let Some(b) = bad.get_mut(0) {
            *b = 0x43; // IHL 3 words
        }
        assert_eq!(
            decode(linktype::IPV4, Timestamp(0), &bad, 0).err(),
            Some(Skip::Malformed)
        );
        let mut doff = ipv4_tcp(b"", 0, &[]);
        if let Some(b) = doff.get_mut(20 + 12) {
            *b = 0x20; // TCP data offset 2 words
        }
        assert_eq!(
            decode(linktype::IPV4, Timestamp(0), &doff, 0).err(),
            Some(Skip::Malformed)
        );
    }

    #[test]
    fn ip_in_ip_and_gre_are_unwrapped() {
        let inner = ipv4_tcp(b"in", 0, &[]);
        // Outer IPv4 header, protocol 4 (IP-in-IP).
        let outer = |proto: u8, body: &[u8]| {
            let mut p = vec![0x45, 0];
            p.extend_from_slice(&((20 + body.len()) as u16).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 0, 64, proto, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
            p.extend_from_slice(body);
            p
        };
        let ipip = outer(4, &inner);
        let s = decode(linktype::IPV4, Timestamp(0), &ipip, 0).expect("ipip");
        assert_eq!(s.payload, b"in");
        assert_eq!(s.src_ip, "10.0.0.1".parse::<IpAddr>().expect("ip"));
        // GRE with a key field (K bit), carrying IPv4.
        let mut gre = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 42];
        gre.extend_from_slice(&inner);
        let gre = outer(47, &gre);
        let s = decode(linktype::IPV4, Timestamp(0), &gre, 0).expect("gre");
        assert_eq!(s.payload, b"in");
        // PPTP's GRE version 1 is not decoded.
        let pptp = [0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0];
        assert_eq!(
            decode(linktype::IPV4, Timestamp(0), &outer(47, &pptp), 0).err(),
            Some(Skip::OtherL4)
        );
        // Nesting deeper than the bound stops unwrapping.
        let mut p = inner.clone();
        for _ in 0..6 {
            p = outer(4, &p);
        }
        assert_eq!(
            decode(linktype::IPV4, Timestamp(0), &p, 0).err(),
            Some(Skip::OtherL4)
        );
    }

    /// IPv4 + UDP around `body`, ports `sport` -> `dport`.
    fn ipv4_udp(sport: u16, dport: u16, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&((28 + body.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn udp_tunnels_are_unwrapped_only_when_the_inner_frame_decodes() {
        let inner = ipv4_tcp(b"in", 0, &[]);
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&0x0800u16.to_be_bytes());
        eth.extend_from_slice(&inner);
        // VXLAN: I flag, VNI 42.
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        vx.extend_from_slice(&eth);
        let frame = ipv4_udp(5555, 4789, &vx);
        let seg = decode(linktype::IPV4, Timestamp(0), &frame, 0).expect("vxlan");
        assert_eq!((seg.transport, seg.payload), (Transport::Tcp, &b"in"[..]));
        // Without the I flag it is not VXLAN: the outer datagram is the flow.
        vx[0] = 0;
        let frame = ipv4_udp(5555, 4789, &vx);
        let seg = decode(linktype::IPV4, Timestamp(0), &frame, 0).expect("outer");
        assert_eq!((seg.transport, seg.dst_port), (Transport::Udp, 4789));
        // GTP-U G-PDU (version 1, PT, no optional fields) with the IP packet inside.
        let mut gtp = vec![0x30, 0xff, 0, inner.len() as u8, 0, 0, 0, 1];
        gtp.extend_from_slice(&inner);
        let frame = ipv4_udp(2152, 2152, &gtp);
        let seg = decode(linktype::IPV4, Timestamp(0), &frame, 0).expect("gtp");
        assert_eq!(seg.payload, b"in");
        // CAPWAP data, HLEN 2 words, T clear: an Ethernet frame.
        let mut cw = vec![0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0];
        cw.extend_from_slice(&eth);
        let frame = ipv4_udp(40000, 5247, &cw);
        let seg = decode(linktype::IPV4, Timestamp(0), &frame, 0).expect("capwap");
        assert_eq!(seg.payload, b"in");
        // CAPWAP with a truncated inner frame stays the outer flow.
        let frame = ipv4_udp(40000, 5247, &cw[..20]);
        let seg = decode(linktype::IPV4, Timestamp(0), &frame, 0).expect("outer capwap");
        assert_eq!(seg.dst_port, 5247);
    }
}
