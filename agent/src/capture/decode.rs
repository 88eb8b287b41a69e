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
    /// PPP (RFC 1661), with or without the RFC 1662 address/control bytes.
    pub const PPP: u32 = 9;
    /// PPP in HDLC-like framing (RFC 1662), libpcap's DLT_PPP_SERIAL.
    pub const PPP_HDLC: u32 = 50;
    /// PPPoE: the session header (RFC 2516 §4) without the Ethernet header.
    pub const PPP_ETHER: u32 = 51;
    /// Raw IEEE 802.11 frames.
    pub const IEEE802_11: u32 = 105;
    /// OpenBSD loopback: like [`NULL`] but the address family is always big-endian.
    pub const LOOP: u32 = 108;
    /// IEEE 802.11 behind a radiotap header (<https://www.radiotap.org>).
    pub const IEEE802_11_RADIOTAP: u32 = 127;
    /// Linux netfilter log messages (iptables/nftables `NFLOG`/`log group`).
    pub const NFLOG: u32 = 239;

    /// Every link type [`super::decode`] reads, for messages and docs.
    pub const SUPPORTED: [u32; 16] = [
        NULL,
        ETHERNET,
        PPP,
        DLT_RAW_12,
        DLT_RAW_14,
        PPP_HDLC,
        PPP_ETHER,
        RAW,
        IEEE802_11,
        LOOP,
        LINUX_SLL,
        IEEE802_11_RADIOTAP,
        IPV4,
        IPV6,
        NFLOG,
        LINUX_SLL2,
    ];

    /// Whether [`super::decode`] reads this link type.
    pub fn supported(linktype: u32) -> bool {
        SUPPORTED.contains(&linktype)
    }

    /// The registry name of a link type (without the `LINKTYPE_` prefix), so an error can
    /// name what it refuses. Names of the common values only; the rest are "unknown".
    pub fn name(linktype: u32) -> &'static str {
        const USER: [&str; 16] = [
            "USER0", "USER1", "USER2", "USER3", "USER4", "USER5", "USER6", "USER7", "USER8",
            "USER9", "USER10", "USER11", "USER12", "USER13", "USER14", "USER15",
        ];
        match linktype {
            0 => "NULL",
            1 => "ETHERNET",
            3 => "AX25",
            6 => "IEEE802_5",
            7 => "ARCNET_BSD",
            8 => "SLIP",
            9 => "PPP",
            10 => "FDDI",
            12 | 14 | 101 => "RAW",
            50 => "PPP_HDLC",
            51 => "PPP_ETHER",
            100 => "ATM_RFC1483",
            104 => "C_HDLC",
            105 => "IEEE802_11",
            107 => "FRELAY",
            108 => "LOOP",
            113 => "LINUX_SLL",
            114 => "LTALK",
            117 => "PFLOG",
            119 => "IEEE802_11_PRISM",
            122 => "IP_OVER_FC",
            123 => "SUNATM",
            127 => "IEEE802_11_RADIOTAP",
            129 => "ARCNET_LINUX",
            138 => "APPLE_IP_OVER_IEEE1394",
            143 => "DOCSIS",
            144 => "LINUX_IRDA",
            147..=162 => USER
                .get(usize::try_from(linktype - 147).unwrap_or(usize::MAX))
                .copied()
                .unwrap_or("USER"),
            163 => "IEEE802_11_AVS",
            166 => "PPP_PPPD",
            169 => "GPRS_LLC",
            177 => "LINUX_LAPD",
            187 => "BLUETOOTH_HCI_H4",
            189 => "USB_LINUX",
            192 => "PPI",
            195 => "IEEE802_15_4_WITHFCS",
            201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
            204 => "PPP_WITH_DIR",
            209 => "IPMB_LINUX",
            220 => "USB_LINUX_MMAPPED",
            227 => "CAN_SOCKETCAN",
            228 => "IPV4",
            229 => "IPV6",
            230 => "IEEE802_15_4_NOFCS",
            231 => "DBUS",
            239 => "NFLOG",
            240 => "NETANALYZER",
            241 => "NETANALYZER_TRANSPARENT",
            242 => "IPOIB",
            243 => "MPEG_2_TS",
            247 => "INFINIBAND",
            248 => "SCTP",
            249 => "USBPCAP",
            251 => "BLUETOOTH_LE_LL",
            252 => "WIRESHARK_UPPER_PDU",
            253 => "NETLINK",
            254 => "BLUETOOTH_LINUX_MONITOR",
            256 => "BLUETOOTH_LE_LL_WITH_PHDR",
            258 => "PKTAP",
            263 => "WATTSTOPPER_DLM",
            271 => "VSOCK",
            272 => "NORDIC_BLE",
            274 => "ETHERNET_MPACKET",
            276 => "LINUX_SLL2",
            281 => "DSA_TAG_BRCM",
            283 => "IEEE802_15_4_TAP",
            _ => "unknown",
        }
    }
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
    /// An IEEE 802.11 frame with the Protected bit set: WEP/WPA-encrypted, nothing readable.
    Protected,
}

impl Skip {
    /// Every reason, in a stable order (for metrics and reports).
    pub const ALL: [Skip; 8] = [
        Skip::NonIp,
        Skip::Truncated,
        Skip::Fragment,
        Skip::UnsupportedLinktype,
        Skip::OtherL4,
        Skip::Malformed,
        Skip::UnknownInterface,
        Skip::Protected,
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
            Skip::Protected => "protected",
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
            Skip::Protected => 7,
        }
    }
}

/// Counts of skipped packets, one per [`Skip`] reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkipCounts([u64; 8]);

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
        linktype::LOOP => loopback(frame)?,
        linktype::PPP | linktype::PPP_HDLC => ppp_frame(frame)?,
        linktype::PPP_ETHER => pppoe(frame)?,
        linktype::NFLOG => nflog(frame)?,
        linktype::IEEE802_11 => ieee80211(frame, false, false)?,
        linktype::IEEE802_11_RADIOTAP => {
            let (body, datapad) = radiotap(frame)?;
            ieee80211(body, false, datapad)?
        }
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

/// An unprotected IEEE 802.11 data frame inside CAPWAP, or `None` (the outer flow stays).
fn ieee80211_data(f: &[u8]) -> Option<L3<'_>> {
    ieee80211(f, true, false).ok()
}

/// An unprotected IEEE 802.11 data frame (IEEE 802.11-2020 §9.2.4, §9.3.2.1) with an
/// LLC/SNAP header (RFC 1042) before the EtherType. Some access points (Cisco) send the
/// frame control field byte-swapped inside CAPWAP, flags first; with `swapped_ok` the
/// version bits (always 0) tell which. Management and control frames, and data frames
/// without a body (Null, QoS Null), are not IP; protected frames are counted apart because
/// their payload is encrypted, not absent. `datapad`: the header is padded to 4 bytes
/// (radiotap's DATAPAD flag).
fn ieee80211(f: &[u8], swapped_ok: bool, datapad: bool) -> Result<L3<'_>, Skip> {
    const TO_DS: u8 = 0x01;
    const FROM_DS: u8 = 0x02;
    const PROTECTED: u8 = 0x40;
    const ORDER: u8 = 0x80;
    /// Subtype bit 2 of a data frame: "no data" (Null, CF-Ack/Poll without data, QoS Null).
    const NO_DATA: u8 = 0x40;
    /// Subtype bit 3 of a data frame: QoS data, with a 2-byte QoS control field.
    const QOS: u8 = 0x80;
    /// QoS control bit 7: the body is an A-MSDU (several subframes), not one MSDU.
    const AMSDU: u8 = 0x80;
    let (b0, b1) = (
        *f.first().ok_or(Skip::Truncated)?,
        *f.get(1).ok_or(Skip::Truncated)?,
    );
    let is_data = |t: u8| t & 0x03 == 0 && (t >> 2) & 0x03 == 2;
    let (typ, flags) = if is_data(b0) {
        (b0, b1)
    } else if swapped_ok && is_data(b1) {
        (b1, b0)
    } else if b0 & 0x03 != 0 {
        return Err(Skip::Malformed);
    } else {
        return Err(Skip::NonIp);
    };
    if typ & NO_DATA != 0 {
        return Err(Skip::NonIp);
    }
    if flags & PROTECTED != 0 {
        return Err(Skip::Protected);
    }
    let mut len = 24;
    if flags & TO_DS != 0 && flags & FROM_DS != 0 {
        len += 6; // address 4
    }
    if typ & QOS != 0 {
        if f.get(len).ok_or(Skip::Truncated)? & AMSDU != 0 {
            return Err(Skip::NonIp);
        }
        len += 2;
        if flags & ORDER != 0 {
            len += 4; // HT control
        }
    }
    if datapad {
        len = len.next_multiple_of(4);
    }
    let llc = f.get(len..).ok_or(Skip::Truncated)?;
    const SNAP: [u8; 6] = [0xaa, 0xaa, 0x03, 0, 0, 0];
    if llc.get(..6).ok_or(Skip::Truncated)? != SNAP {
        return Err(Skip::NonIp);
    }
    by_ethertype(
        be16(llc, 6).ok_or(Skip::Truncated)?,
        llc.get(8..).ok_or(Skip::Truncated)?,
    )
}

/// Radiotap (<https://www.radiotap.org/>): version(1) = 0, pad(1), length(2, little-endian,
/// the whole header), then present bitmaps. The 802.11 frame starts `length` bytes in, unless
/// the Flags field (present bit 1, after the 8-byte TSFT of bit 0) has DATAPAD (0x20): then
/// the 802.11 header is padded to a multiple of 4 bytes (some drivers do), returned as the
/// second value. The trailing FCS (flag 0x10) needs nothing: the IP length
/// ends the packet before it.
fn radiotap(f: &[u8]) -> Result<(&[u8], bool), Skip> {
    const DATAPAD: u8 = 0x20;
    if *f.first().ok_or(Skip::Truncated)? != 0 {
        return Err(Skip::Malformed);
    }
    let hlen = usize::from(u16::from_le_bytes([
        *f.get(2).ok_or(Skip::Truncated)?,
        *f.get(3).ok_or(Skip::Truncated)?,
    ]));
    if hlen < 8 {
        return Err(Skip::Malformed);
    }
    let body = f.get(hlen..).ok_or(Skip::Truncated)?;
    let header = f.get(..hlen).ok_or(Skip::Truncated)?;
    // Walk the present words (bit 31 chains another) to where the fields start.
    let mut at = 4;
    let first = le32(header, 4).ok_or(Skip::Truncated)?;
    let mut word = first;
    for _ in 0..16 {
        at += 4;
        if word & 0x8000_0000 == 0 {
            break;
        }
        word = le32(header, at).ok_or(Skip::Truncated)?;
    }
    if first & 0b10 == 0 {
        return Ok((body, false));
    }
    if first & 0b1 != 0 {
        at = at.next_multiple_of(8) + 8; // TSFT: u64, 8-aligned
    }
    let flags = *header.get(at).ok_or(Skip::Truncated)?;
    Ok((body, flags & DATAPAD != 0))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let a: [u8; 4] = s.try_into().ok()?;
    Some(u32::from_le_bytes(a))
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

/// PPPoE session header (RFC 2516 §4): ver/type(1) = 0x11, code(1) = 0 for session data,
/// session(2), length(2), then a PPP protocol field and its packet.
fn pppoe(p: &[u8]) -> Result<L3<'_>, Skip> {
    let vt = *p.first().ok_or(Skip::Truncated)?;
    let code = *p.get(1).ok_or(Skip::Truncated)?;
    if vt != 0x11 {
        return Err(Skip::Malformed);
    }
    if code != 0 {
        return Err(Skip::NonIp);
    }
    ppp(p.get(6..).ok_or(Skip::Truncated)?)
}

/// A PPP packet from its protocol field (RFC 1661 §2): two bytes, or one when the peers
/// negotiated protocol-field compression (the low bit of the first byte is then set, §6.5).
/// IPv4 0x0021 (RFC 1332), IPv6 0x0057 (RFC 5072), MPLS unicast 0x0281 (RFC 3032 §4.3);
/// LCP, IPCP, CCP and compressed (Van Jacobson) TCP are not IP packets we can read.
fn ppp(p: &[u8]) -> Result<L3<'_>, Skip> {
    let first = *p.first().ok_or(Skip::Truncated)?;
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), p.get(1..).ok_or(Skip::Truncated)?)
    } else {
        (
            be16(p, 0).ok_or(Skip::Truncated)?,
            p.get(2..).ok_or(Skip::Truncated)?,
        )
    };
    match proto {
        0x0021 => Ok(L3::V4(rest)),
        0x0057 => Ok(L3::V6(rest)),
        0x0281 => mpls(rest),
        _ => Err(Skip::NonIp),
    }
}

/// LINKTYPE_PPP and LINKTYPE_PPP_HDLC (<https://www.tcpdump.org/linktypes/LINKTYPE_PPP.html>):
/// the RFC 1662 address and control bytes (0xff 0x03) when present, then the PPP header;
/// peers may drop them (address-and-control-field compression, RFC 1661 §6.6).
fn ppp_frame(f: &[u8]) -> Result<L3<'_>, Skip> {
    match f {
        [0xff, 0x03, rest @ ..] => ppp(rest),
        _ => ppp(f),
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

/// OpenBSD loopback (<https://www.tcpdump.org/linktypes/LINKTYPE_LOOP.html>): as NULL, but
/// the address family is always in network byte order.
fn loopback(f: &[u8]) -> Result<L3<'_>, Skip> {
    let family = be32(f, 0).ok_or(Skip::Truncated)?;
    let rest = f.get(4..).ok_or(Skip::Truncated)?;
    match family {
        2 => Ok(L3::V4(rest)),
        10 | 24 | 28 | 30 => Ok(L3::V6(rest)),
        _ => Err(Skip::NonIp),
    }
}

/// NFLOG (<https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html>): family(1) version(1)
/// resource id(2), then TLVs of length(2) type(2) value, padded to 4 bytes, whose length and
/// type are in the capturing host's byte order. The packet is the NFULA_PAYLOAD (type 9)
/// value, starting at the IP header. A rule logging 0 bytes (`--nflog-size 0`) leaves no
/// payload: that message counts as truncated.
fn nflog(f: &[u8]) -> Result<L3<'_>, Skip> {
    const NFULA_PAYLOAD: u16 = 9;
    /// The highest NFULA_* type Linux defines is 20 (NFULA_VLAN/L2HDR): anything larger
    /// read little-endian means the writer was big-endian.
    const MAX_TYPE: u16 = 0xff;
    let family = *f.first().ok_or(Skip::Truncated)?;
    if *f.get(1).ok_or(Skip::Truncated)? != 0 {
        return Err(Skip::Malformed); // only version 0 exists
    }
    let mut rest = f.get(4..).ok_or(Skip::Truncated)?;
    let mut little = None;
    for _ in 0..64 {
        let raw: [u8; 4] = rest
            .get(..4)
            .ok_or(Skip::Truncated)?
            .try_into()
            .map_err(|_| Skip::Truncated)?;
        let le = |a: u8, b: u8| u16::from_le_bytes([a, b]);
        let be = |a: u8, b: u8| u16::from_be_bytes([a, b]);
        let is_le = *little.get_or_insert_with(|| {
            let (len, typ) = (le(raw[0], raw[1]), le(raw[2], raw[3]));
            len >= 4 && typ <= MAX_TYPE
        });
        let (len, typ) = if is_le {
            (le(raw[0], raw[1]), le(raw[2], raw[3]))
        } else {
            (be(raw[0], raw[1]), be(raw[2], raw[3]))
        };
        let len = usize::from(len);
        if len < 4 {
            return Err(Skip::Malformed);
        }
        // The type's top bits are netlink flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
        if typ & 0x3fff == NFULA_PAYLOAD {
            // A snap length may have cut the value: the IP decoder judges what is left.
            let value = rest.get(4..).ok_or(Skip::Truncated)?;
            let payload = value.get(..len - 4).unwrap_or(value);
            return match family {
                2 => Ok(L3::V4(payload)),
                10 => Ok(L3::V6(payload)),
                _ => by_version(payload),
            };
        }
        rest = rest.get(len.next_multiple_of(4)..).ok_or(Skip::Truncated)?;
        if rest.is_empty() {
            return Err(Skip::Truncated);
        }
    }
    Err(Skip::Malformed)
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

    /// Hand-written frames for decoder edge cases that no recorded capture has (the captures
    /// themselves are tested in `agent/tests/linktypes.rs`).
    #[test]
    fn loop_ppp_and_pppoe_headers() {
        let ip = ipv4_tcp(b"p", 0, &[]);
        let with = |head: &[u8]| {
            let mut f = head.to_vec();
            f.extend_from_slice(&ip);
            f
        };
        let ok = |lt: u32, f: &[u8]| decode(lt, Timestamp(0), f, 0).map(|s| s.payload.to_vec());
        // LOOP: big-endian family whatever the writer's byte order; little-endian is not IP.
        assert_eq!(ok(linktype::LOOP, &with(&[0, 0, 0, 2])), Ok(b"p".to_vec()));
        assert_eq!(ok(linktype::LOOP, &with(&[2, 0, 0, 0])), Err(Skip::NonIp));
        // PPP with and without address/control, with a compressed 1-byte protocol field.
        assert_eq!(
            ok(linktype::PPP, &with(&[0xff, 0x03, 0x00, 0x21])),
            Ok(b"p".to_vec())
        );
        assert_eq!(ok(linktype::PPP, &with(&[0x00, 0x21])), Ok(b"p".to_vec()));
        assert_eq!(
            ok(linktype::PPP_HDLC, &with(&[0xff, 0x03, 0x21])),
            Ok(b"p".to_vec())
        );
        // LCP is PPP's own control traffic.
        assert_eq!(
            ok(linktype::PPP, &with(&[0xff, 0x03, 0xc0, 0x21])),
            Err(Skip::NonIp)
        );
        // PPPoE session data, then a discovery-stage code on the session type.
        let sess = [0x11, 0x00, 0x00, 0x01, 0x00, 0x2a, 0x00, 0x21];
        assert_eq!(ok(linktype::PPP_ETHER, &with(&sess)), Ok(b"p".to_vec()));
        let mut padt = sess;
        padt[1] = 0xa7;
        assert_eq!(ok(linktype::PPP_ETHER, &with(&padt)), Err(Skip::NonIp));
        let e = eth(0x8864, &[0x8100], &with(&sess));
        assert_eq!(ok(linktype::ETHERNET, &e), Ok(b"p".to_vec()));
    }

    #[test]
    fn nflog_in_either_byte_order() {
        let ip = ipv4_tcp(b"nf", 0, &[]);
        let tlv = |le: bool, typ: u16, v: &[u8]| {
            let len = (4 + v.len()) as u16;
            let mut t = if le {
                [len.to_le_bytes(), typ.to_le_bytes()].concat()
            } else {
                [len.to_be_bytes(), typ.to_be_bytes()].concat()
            };
            t.extend_from_slice(v);
            while t.len() % 4 != 0 {
                t.push(0);
            }
            t
        };
        for le in [true, false] {
            let mut f = vec![2, 0, 0, 5];
            f.extend(tlv(le, 1, &[0x08, 0x00, 3, 0])); // NFULA_PACKET_HDR
            f.extend(tlv(le, 10, b"lk-pre\0")); // NFULA_PREFIX
            f.extend(tlv(le, 9, &ip)); // NFULA_PAYLOAD
            let s = decode(linktype::NFLOG, Timestamp(0), &f, 0).expect("nflog");
            assert_eq!(s.payload, b"nf", "le={le}");
            // Without the payload TLV the message logged no packet bytes.
            let cut = f.get(..f.len() - tlv(le, 9, &ip).len()).expect("len");
            assert_eq!(
                decode(linktype::NFLOG, Timestamp(0), cut, 0).err(),
                Some(Skip::Truncated)
            );
        }
    }

    #[test]
    fn radiotap_80211_data_qos_four_address_and_skips() {
        let ip = ipv4_tcp(b"w", 0, &[]);
        let snap = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
        // 802.11 header: frame control, duration, addresses, sequence control.
        let dot11 = |fc0: u8, fc1: u8, four: bool, qos: bool, pad: usize| {
            let mut f = vec![fc0, fc1, 0, 0];
            f.extend_from_slice(&[0u8; 18]);
            f.extend_from_slice(&[0, 0]);
            if four {
                f.extend_from_slice(&[0u8; 6]);
            }
            if qos {
                f.extend_from_slice(&[0, 0]);
            }
            f.extend(std::iter::repeat_n(0u8, pad));
            f.extend_from_slice(&snap);
            f.extend_from_slice(&ip);
            f
        };
        // Radiotap with TSFT and Flags present; `flags` is the Flags field.
        let rt = |flags: u8, body: &[u8]| {
            let mut f = vec![0, 0, 18, 0, 0b11, 0, 0, 0];
            f.extend_from_slice(&[0u8; 8]); // TSFT (already 8-aligned at 8)
            f.push(flags);
            f.push(0); // pad to 18
            f.extend_from_slice(body);
            f
        };
        let dec = |f: &[u8]| {
            decode(linktype::IEEE802_11_RADIOTAP, Timestamp(0), f, 0).map(|s| s.payload.to_vec())
        };
        // Plain data frame (type 2, subtype 0), from the AP.
        assert_eq!(
            dec(&rt(0, &dot11(0x08, 0x02, false, false, 0))),
            Ok(b"w".to_vec())
        );
        // QoS data, 4-address (WDS): 30-byte header + 2 of QoS control = 32.
        assert_eq!(
            dec(&rt(0, &dot11(0x88, 0x03, true, true, 0))),
            Ok(b"w".to_vec())
        );
        // QoS data with DATAPAD: the 26-byte header padded to 28.
        assert_eq!(
            dec(&rt(0x20, &dot11(0x88, 0x01, false, true, 2))),
            Ok(b"w".to_vec())
        );
        // With an FCS at the end (flag 0x10): the IP length ends the packet before it.
        let mut fcs = rt(0x10, &dot11(0x08, 0x02, false, false, 0));
        fcs.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(dec(&fcs), Ok(b"w".to_vec()));
        // Protected, beacon (management), QoS Null.
        assert_eq!(
            dec(&rt(0, &dot11(0x08, 0x42, false, false, 0))),
            Err(Skip::Protected)
        );
        assert_eq!(
            dec(&rt(0, &dot11(0x80, 0x00, false, false, 0))),
            Err(Skip::NonIp)
        );
        assert_eq!(
            dec(&rt(0, &dot11(0xc8, 0x01, false, true, 0))),
            Err(Skip::NonIp)
        );
        // Raw 802.11 without radiotap.
        let raw = dot11(0x08, 0x01, false, false, 0);
        assert!(decode(linktype::IEEE802_11, Timestamp(0), &raw, 0).is_ok());
        // A radiotap length past the frame.
        assert_eq!(dec(&[0, 0, 200, 0, 0, 0, 0, 0]), Err(Skip::Truncated));
    }

    #[test]
    fn link_type_names() {
        assert_eq!(linktype::name(147), "USER0");
        assert_eq!(linktype::name(162), "USER15");
        assert_eq!(linktype::name(239), "NFLOG");
        assert_eq!(linktype::name(65000), "unknown");
        for lt in linktype::SUPPORTED {
            assert_ne!(linktype::name(lt), "unknown", "{lt}");
            // A supported type never comes back as unsupported.
            assert_ne!(
                decode(lt, Timestamp(0), &[], 0).err(),
                Some(Skip::UnsupportedLinktype),
                "{lt}"
            );
        }
        assert!(!linktype::supported(147));
    }
}
