//! Crafted Ethernet frames for BPF_PROG_TEST_RUN, and a small dissector for pcaps.
//!
//! Checksums are left zero: the programs never look at them, and test-run does not
//! validate them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::PcapSegment;

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

/// What goes above IP.
#[derive(Debug, Clone)]
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        /// TCP options, padded by the caller to a multiple of 4.
        options: Vec<u8>,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
}

impl L4 {
    pub fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8) -> Self {
        L4::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            options: Vec::new(),
        }
    }

    fn proto(&self) -> u8 {
        match self {
            L4::Tcp { .. } => 6,
            L4::Udp { .. } => 17,
        }
    }

    fn bytes(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            L4::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                options,
            } => {
                assert_eq!(options.len() % 4, 0);
                v.extend_from_slice(&sport.to_be_bytes());
                v.extend_from_slice(&dport.to_be_bytes());
                v.extend_from_slice(&seq.to_be_bytes());
                v.extend_from_slice(&ack.to_be_bytes());
                let doff = ((20 + options.len()) / 4) as u8;
                v.push(doff << 4);
                v.push(*flags);
                v.extend_from_slice(&64240u16.to_be_bytes());
                v.extend_from_slice(&[0, 0, 0, 0]);
                v.extend_from_slice(options);
            }
            L4::Udp { sport, dport } => {
                v.extend_from_slice(&sport.to_be_bytes());
                v.extend_from_slice(&dport.to_be_bytes());
                v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
                v.extend_from_slice(&[0, 0]);
            }
        }
        v.extend_from_slice(payload);
        v
    }
}

/// Ethernet header with optional VLAN tags `(tpid, vid)`.
pub fn eth(vlans: &[(u16, u16)], ethertype: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    for (tpid, vid) in vlans {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&vid.to_be_bytes());
    }
    v.extend_from_slice(&ethertype.to_be_bytes());
    v
}

/// An IPv4 frame; `ihl_options` extra option bytes (multiple of 4) go in the header.
pub fn ipv4(
    vlans: &[(u16, u16)],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ihl_options: usize,
    l4: &L4,
    payload: &[u8],
) -> Vec<u8> {
    let l4b = l4.bytes(payload);
    let ihl = 20 + ihl_options;
    let mut v = eth(vlans, 0x0800);
    v.push(0x40 | (ihl / 4) as u8);
    v.push(0);
    v.extend_from_slice(&((ihl + l4b.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 1, 0x40, 0]); // id 1, DF
    v.push(64);
    v.push(l4.proto());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    // Options: NOPs (type 1).
    v.extend(std::iter::repeat_n(1u8, ihl_options));
    v.extend_from_slice(&l4b);
    v
}

/// An IPv6 frame with the given extension headers `(type, total_len)` before L4.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, ext: &[(u8, usize)], l4: &L4, payload: &[u8]) -> Vec<u8> {
    let l4b = l4.bytes(payload);
    let mut exts = Vec::new();
    for (i, (_, len)) in ext.iter().enumerate() {
        let next = ext.get(i + 1).map(|e| e.0).unwrap_or(l4.proto());
        let mut h = vec![0u8; *len];
        h[0] = next;
        if ext[i].0 == 44 {
            // Fragment header: offset 0, M=1 (a first fragment).
            h[3] = 1;
        } else {
            h[1] = (len / 8 - 1) as u8;
        }
        exts.extend_from_slice(&h);
    }
    let first = ext.first().map(|e| e.0).unwrap_or(l4.proto());
    let mut v = eth(&[], 0x86DD);
    v.extend_from_slice(&[0x60, 0, 0, 0]);
    v.extend_from_slice(&((exts.len() + l4b.len()) as u16).to_be_bytes());
    v.push(first);
    v.push(64);
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(&exts);
    v.extend_from_slice(&l4b);
    v
}

/// An ARP request frame.
pub fn arp() -> Vec<u8> {
    let mut v = eth(&[], 0x0806);
    v.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&[10, 0, 0, 1]);
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&[10, 0, 0, 2]);
    v
}

/// Extracts addresses, ports, seq, flags and payload from an Ethernet frame.
pub fn dissect(frame: &[u8]) -> Option<PcapSegment> {
    let mut off = 14;
    let mut et = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    while et == 0x8100 || et == 0x88A8 {
        et = u16::from_be_bytes([*frame.get(off + 2)?, *frame.get(off + 3)?]);
        off += 4;
    }
    let (src, dst, proto, l4_off, l4_end) = match et {
        0x0800 => {
            let ip = frame.get(off..off + 20)?;
            let ihl = usize::from(ip[0] & 0xf) * 4;
            let tot = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            (
                IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
                IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
                ip[9],
                off + ihl,
                off + tot,
            )
        }
        0x86DD => {
            let ip = frame.get(off..off + 40)?;
            let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            let s: [u8; 16] = ip[8..24].try_into().ok()?;
            let d: [u8; 16] = ip[24..40].try_into().ok()?;
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                ip[6],
                off + 40,
                off + 40 + plen,
            )
        }
        _ => return None,
    };
    let l4 = frame.get(l4_off..l4_end.min(frame.len()))?;
    match proto {
        6 => {
            let doff = usize::from(l4.get(12)? >> 4) * 4;
            Some(PcapSegment {
                src: SocketAddr::new(src, u16::from_be_bytes([l4[0], l4[1]])),
                dst: SocketAddr::new(dst, u16::from_be_bytes([l4[2], l4[3]])),
                seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                flags: l4[13],
                payload: l4.get(doff..)?.to_vec(),
            })
        }
        17 => Some(PcapSegment {
            src: SocketAddr::new(src, u16::from_be_bytes([*l4.first()?, *l4.get(1)?])),
            dst: SocketAddr::new(dst, u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?])),
            seq: 0,
            flags: 0,
            payload: l4.get(8..)?.to_vec(),
        }),
        _ => None,
    }
}
