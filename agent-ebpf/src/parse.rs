//! Header parsing shared by both hooks: Ethernet → VLAN (≤ 2 tags) → IPv4/IPv6 → TCP/UDP.
//!
//! Headers are read with `bpf_skb_load_bytes` (via `TcContext::load`) rather than direct
//! packet access: it works whether or not the headers sit in the skb's linear area (GRO
//! and some drivers leave them in fragments), and variable offsets (IHL, IPv6 extension
//! headers) need no bounds proofs for the verifier.
//!
//! Errors are counter indices, so the caller can count them without a translation table.

use agent_common::{counter, family, proto, FlowKey};
use core::ffi::c_void;

use aya_ebpf::{helpers::bpf_skb_load_bytes, programs::TcContext};

const ETH_HLEN: usize = 14;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
/// QinQ: one service tag and one customer tag.
const MAX_VLAN_TAGS: usize = 2;

const IPV6_HLEN: usize = 40;
const NEXTHDR_HOP: u8 = 0;
const NEXTHDR_ROUTING: u8 = 43;
const NEXTHDR_FRAGMENT: u8 = 44;
const NEXTHDR_AUTH: u8 = 51;
const NEXTHDR_DEST: u8 = 60;
/// Bound on the extension-header walk, for the verifier and against crafted chains.
const MAX_IPV6_EXT: usize = 6;

/// What the capture path needs from one packet.
pub struct Parsed {
    pub key: FlowKey,
    /// Offset of the transport payload from the start of the frame.
    pub payload_off: u32,
    /// Transport payload length per the headers, capped by what the skb holds.
    pub payload_len: u32,
    pub seq: u32,
    pub ack: u32,
    pub tcp_flags: u8,
}

#[inline(always)]
fn load<T>(ctx: &TcContext, off: usize) -> Result<T, u32> {
    ctx.load::<T>(off).map_err(|_| counter::UNPARSABLE)
}

#[inline(always)]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

#[inline(always)]
fn load_addrs_v6(ctx: &TcContext, off: usize, key: &mut FlowKey) -> Result<(), u32> {
    const _: () = assert!(core::mem::offset_of!(FlowKey, dst_addr) == 16);
    // SAFETY: src_addr and dst_addr are the key's first 32 bytes, contiguous.
    let ret = unsafe {
        bpf_skb_load_bytes(
            ctx.skb.skb.cast::<c_void>(),
            off as u32,
            key.src_addr.as_mut_ptr().cast::<c_void>(),
            32,
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(counter::UNPARSABLE)
    }
}

/// Parses the frame in `ctx`. `Err` carries the counter that explains why not.
#[inline(always)]
pub fn parse(ctx: &TcContext) -> Result<Parsed, u32> {
    let skb_len = ctx.len() as usize;
    let mut off = ETH_HLEN;
    let mut ethertype = be16(load::<[u8; 2]>(ctx, 12)?);
    for _ in 0..MAX_VLAN_TAGS {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            break;
        }
        // TCI (2 bytes) then the inner ethertype.
        ethertype = be16(load::<[u8; 2]>(ctx, off + 2)?);
        off += 4;
    }

    let mut key = FlowKey::default();
    let l4_proto: u8;
    // Bytes after the network header(s) according to the IP length fields, or None
    // when the field is 0 (GSO "BIG TCP" packets), where the skb length is used.
    let ip_rest: Option<usize>;
    match ethertype {
        ETH_P_IPV4 => {
            let ip: [u8; 20] = load(ctx, off)?;
            let ihl = ((ip[0] & 0x0f) as usize) * 4;
            if ip[0] >> 4 != 4 || ihl < 20 {
                return Err(counter::UNPARSABLE);
            }
            let frag = be16([ip[6], ip[7]]) & 0x1fff;
            if frag != 0 {
                return Err(counter::IP_FRAGMENT);
            }
            let tot = be16([ip[2], ip[3]]) as usize;
            ip_rest = if tot == 0 {
                None
            } else if tot < ihl {
                return Err(counter::UNPARSABLE);
            } else {
                Some(tot - ihl)
            };
            l4_proto = ip[9];
            key.family = family::IPV4;
            key.src_addr[..4].copy_from_slice(&ip[12..16]);
            key.dst_addr[..4].copy_from_slice(&ip[16..20]);
            off += ihl;
        }
        ETH_P_IPV6 => {
            let ip: [u8; 8] = load(ctx, off)?;
            if ip[0] >> 4 != 6 {
                return Err(counter::UNPARSABLE);
            }
            let plen = be16([ip[4], ip[5]]) as usize;
            key.family = family::IPV6;
            // Source and destination are adjacent in both the header and the key:
            // one load straight into the key keeps 32 bytes out of registers.
            load_addrs_v6(ctx, off + 8, &mut key)?;
            off += IPV6_HLEN;
            let ext_start = off;
            let mut next = ip[6];
            let mut done = false;
            for _ in 0..MAX_IPV6_EXT {
                match next {
                    NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_DEST => {
                        let h: [u8; 2] = load(ctx, off)?;
                        next = h[0];
                        off += (h[1] as usize + 1) * 8;
                    }
                    NEXTHDR_AUTH => {
                        let h: [u8; 2] = load(ctx, off)?;
                        next = h[0];
                        off += (h[1] as usize + 2) * 4;
                    }
                    NEXTHDR_FRAGMENT => {
                        let h: [u8; 8] = load(ctx, off)?;
                        if be16([h[2], h[3]]) & 0xfff8 != 0 {
                            return Err(counter::IP_FRAGMENT);
                        }
                        next = h[0];
                        off += 8;
                    }
                    _ => {
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                return Err(counter::IPV6_EXT_TOO_DEEP);
            }
            let ext_len = off - ext_start;
            ip_rest = if plen == 0 {
                None
            } else if plen < ext_len {
                return Err(counter::UNPARSABLE);
            } else {
                Some(plen - ext_len)
            };
            l4_proto = next;
        }
        _ => return Err(counter::NON_IP),
    }

    let mut parsed = Parsed {
        key,
        payload_off: 0,
        payload_len: 0,
        seq: 0,
        ack: 0,
        tcp_flags: 0,
    };
    let l4_hlen = match l4_proto {
        proto::TCP => {
            let tcp: [u8; 20] = load(ctx, off)?;
            let doff = ((tcp[12] >> 4) as usize) * 4;
            if doff < 20 {
                return Err(counter::UNPARSABLE);
            }
            parsed.key.src_port = be16([tcp[0], tcp[1]]);
            parsed.key.dst_port = be16([tcp[2], tcp[3]]);
            parsed.seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
            parsed.ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
            parsed.tcp_flags = tcp[13];
            doff
        }
        proto::UDP => {
            let udp: [u8; 8] = load(ctx, off)?;
            parsed.key.src_port = be16([udp[0], udp[1]]);
            parsed.key.dst_port = be16([udp[2], udp[3]]);
            8
        }
        _ => return Err(counter::NON_TCP_UDP),
    };
    parsed.key.protocol = l4_proto;

    // Options or a data offset that runs past the end of the packet: corrupt.
    let payload_off = off + l4_hlen;
    if payload_off > skb_len {
        return Err(counter::UNPARSABLE);
    }
    let in_skb = skb_len - payload_off;
    let by_header = match ip_rest {
        Some(rest) if rest < l4_hlen => return Err(counter::UNPARSABLE),
        Some(rest) => rest - l4_hlen,
        None => in_skb,
    };
    // Ethernet pads short frames, so the IP length wins when it is smaller; a
    // length field larger than the packet is capped to what we can read.
    parsed.payload_off = payload_off as u32;
    parsed.payload_len = if by_header < in_skb {
        by_header
    } else {
        in_skb
    } as u32;
    Ok(parsed)
}
