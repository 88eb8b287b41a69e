//! Header parsing shared by both hooks: Ethernet → VLAN (≤ 2 tags) → IPv4/IPv6 → TCP/UDP.
//!
//! Headers are read with direct packet access when they sit in the skb's linear area,
//! and with `bpf_skb_load_bytes` (via `TcContext::load`) when they do not (GRO and some
//! drivers leave them in fragments): the helper is the slow path, not the only path.
//!
//! Errors are counter indices, so the caller can count them without a translation table.

use core::mem::MaybeUninit;

use agent_common::{counter, family, proto, FlowKey};
use aya_ebpf::programs::TcContext;

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

/// Reads a header at `off`: straight from the linear packet data when it is there
/// (the common case, and several times cheaper than a helper call), else through
/// `bpf_skb_load_bytes`, which also reaches paged fragments.
#[inline(always)]
fn load<T: Copy>(ctx: &TcContext, off: usize) -> Result<T, u32> {
    let start = ctx.data();
    let end = ctx.data_end();
    let at = start + off;
    if at + size_of::<T>() <= end {
        // SAFETY: [at, at + size_of::<T>()) lies inside the linear packet data (checked
        // just above, in a form the verifier tracks); read_unaligned needs no alignment.
        return Ok(unsafe { core::ptr::read_unaligned(at as *const T) });
    }
    ctx.load::<T>(off).map_err(|_| counter::UNPARSABLE)
}

/// Reads `T`, made of 16-bit words, at an even offset, with 16-bit loads.
///
/// Why not [`load`]: the BPF backend splits every `read_unaligned` of two or more bytes
/// into byte loads, shifts and ors, which made header parsing half the cost of an
/// established packet. Packet data starts 2-byte aligned (drivers and the stack
/// reserve headroom in aligned steps; the kernel's own header code relies on it), and
/// every multi-byte field read here sits at an even offset: VLAN tags are 4 bytes, IP
/// and TCP headers multiples of 4, IPv6 extension headers multiples of 8. So these are
/// aligned 16-bit loads.
#[inline(always)]
fn load_words<T: Copy>(ctx: &TcContext, off: usize) -> Result<T, u32> {
    const { assert!(align_of::<T>() <= 2 && size_of::<T>() % 2 == 0) };
    let start = ctx.data();
    let end = ctx.data_end();
    let at = start + off;
    if at + size_of::<T>() <= end {
        // SAFETY: inside the linear packet data (checked above), 2-byte aligned (see
        // the doc comment), and T is plain words with no invalid bit patterns.
        return Ok(unsafe { core::ptr::read(at as *const T) });
    }
    ctx.load::<T>(off).map_err(|_| counter::UNPARSABLE)
}

/// A big-endian u16 field.
#[inline(always)]
fn be16_at(ctx: &TcContext, off: usize) -> Result<u16, u32> {
    load_words::<u16>(ctx, off).map(u16::from_be)
}

/// Four bytes in wire order (an IPv4 address), as the little-endian word whose memory
/// image they are.
#[inline(always)]
fn raw32_at(ctx: &TcContext, off: usize) -> Result<u32, u32> {
    let [lo, hi] = load_words::<[u16; 2]>(ctx, off)?;
    Ok(u32::from(lo) | (u32::from(hi) << 16))
}

/// A big-endian u32 field.
#[inline(always)]
fn be32_at(ctx: &TcContext, off: usize) -> Result<u32, u32> {
    raw32_at(ctx, off).map(u32::from_be)
}

/// Sixteen bytes in wire order (an IPv6 address), as [`KeyWords`] holds them.
#[inline(always)]
fn addr16_at(ctx: &TcContext, off: usize) -> Result<[u64; 2], u32> {
    let w = load_words::<[u16; 8]>(ctx, off)?;
    let word = |i: usize| {
        u64::from(w[i])
            | (u64::from(w[i + 1]) << 16)
            | (u64::from(w[i + 2]) << 32)
            | (u64::from(w[i + 3]) << 48)
    };
    Ok([word(0), word(4)])
}

/// [`FlowKey`] with the address arrays as words, so that building a key is five stores.
/// Assembled field by field, LLVM split the key into forty single bytes and spilled each.
#[repr(C, align(8))]
#[derive(Default)]
struct KeyWords {
    /// The address bytes in wire order, as the little-endian words whose memory image
    /// they are (BPF here is little-endian: `bpfel`).
    src_addr: [u64; 2],
    dst_addr: [u64; 2],
    src_port: u16,
    dst_port: u16,
    family: u8,
    protocol: u8,
    _pad: [u8; 2],
}

const _: () = assert!(
    size_of::<KeyWords>() == size_of::<FlowKey>()
        && align_of::<KeyWords>() == align_of::<FlowKey>()
        && cfg!(target_endian = "little")
);

impl KeyWords {
    #[inline(always)]
    fn key(self) -> FlowKey {
        // SAFETY: same size, alignment and field offsets (repr(C), asserted above), and
        // every bit pattern is a valid FlowKey (integers and byte arrays only).
        unsafe { core::mem::transmute::<KeyWords, FlowKey>(self) }
    }
}

/// Ethernet + IPv4 without options + TCP without options: the bytes [`fast_ipv4_tcp`]
/// reads under one bounds check.
const FAST_LEN: usize = ETH_HLEN + 20 + 20;

/// The common frame, untagged IPv4 without options carrying TCP, read under a single
/// bounds check: per-field checks and reloads of `data`/`data_end` were a large part of
/// the established-flow cost. Writes `out` and returns true; false (with `out` untouched)
/// hands the frame to the general parser (which also does the counting of anything odd).
#[inline(always)]
fn fast_ipv4_tcp(ctx: &TcContext, out: &mut MaybeUninit<Parsed>) -> bool {
    let start = ctx.data();
    if start + FAST_LEN > ctx.data_end() {
        return false;
    }
    let at = |off: usize| start + off;
    // SAFETY (all reads below): [start, start + FAST_LEN) is linear packet data (checked
    // above) and 2-byte aligned with every multi-byte field at an even offset (see
    // `load_words`); the offsets are constants below FAST_LEN.
    let word = |off: usize| unsafe { core::ptr::read(at(off) as *const u16) };
    let byte = |off: usize| unsafe { core::ptr::read(at(off) as *const u8) };
    let ip = ETH_HLEN;
    let tcp = ip + 20;
    if word(12) != ETH_P_IPV4.to_be()
        || byte(ip) != 0x45
        || word(ip + 6) & 0x1fff_u16.to_be() != 0
        || byte(ip + 9) != proto::TCP
    {
        return false;
    }
    let doff = usize::from(byte(tcp + 12) >> 4) * 4;
    let tot = usize::from(u16::from_be(word(ip + 2)));
    if doff < 20 || tot < 20 + doff {
        return false;
    }
    let raw32 = |off: usize| u32::from(word(off)) | (u32::from(word(off + 2)) << 16);
    let key = KeyWords {
        src_addr: [u64::from(raw32(ip + 12)), 0],
        dst_addr: [u64::from(raw32(ip + 16)), 0],
        src_port: u16::from_be(word(tcp)),
        dst_port: u16::from_be(word(tcp + 2)),
        family: family::IPV4,
        protocol: proto::TCP,
        _pad: [0; 2],
    }
    .key();
    let payload_off = tcp + doff;
    let skb_len = ctx.len() as usize;
    if payload_off > skb_len {
        return false;
    }
    // Ethernet pads short frames: the IP length wins when it is smaller.
    let by_header = tot - 20 - doff;
    let in_skb = skb_len - payload_off;
    out.write(Parsed {
        key,
        payload_off: payload_off as u32,
        payload_len: by_header.min(in_skb) as u32,
        seq: u32::from_be(raw32(tcp + 4)),
        ack: u32::from_be(raw32(tcp + 8)),
        tcp_flags: byte(tcp + 13),
    });
    true
}

/// Parses the frame in `ctx`. `Err` carries the counter that explains why not.
#[inline(always)]
///
/// Both parsers write into the caller's one slot, which the map calls then read in place:
/// returned by value, the 40-byte key was copied twice per packet on its way to the
/// lookup (about 60 instructions of the fast path).
pub fn parse<'a>(ctx: &TcContext, out: &'a mut MaybeUninit<Parsed>) -> Result<&'a Parsed, u32> {
    if !fast_ipv4_tcp(ctx, out) {
        parse_any(ctx, out)?;
    }
    // SAFETY: both parsers wrote the whole value when they returned success.
    Ok(unsafe { out.assume_init_ref() })
}

/// Every other frame: VLAN tags, IPv6 and its extension headers, IPv4 options, UDP,
/// headers outside the linear area. A function of its own (a BPF-to-BPF call), so that
/// its registers and stack do not weigh on the fast path.
#[inline(never)]
fn parse_any(ctx: &TcContext, out: &mut MaybeUninit<Parsed>) -> Result<(), u32> {
    let skb_len = ctx.len() as usize;
    let mut off = ETH_HLEN;
    let mut ethertype = be16_at(ctx, 12)?;
    for _ in 0..MAX_VLAN_TAGS {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            break;
        }
        // TCI (2 bytes) then the inner ethertype.
        ethertype = be16_at(ctx, off + 2)?;
        off += 4;
    }

    let mut key = KeyWords::default();
    let l4_proto: u8;
    // Bytes after the network header(s) according to the IP length fields, or None
    // when the field is 0 (GSO "BIG TCP" packets), where the skb length is used.
    let ip_rest: Option<usize>;
    match ethertype {
        ETH_P_IPV4 => {
            // Field-sized loads: each is one instruction on the direct-access path,
            // where whole-header byte arrays cost dozens of byte loads and spills.
            let vihl: u8 = load(ctx, off)?;
            let ihl = ((vihl & 0x0f) as usize) * 4;
            if vihl >> 4 != 4 || ihl < 20 {
                return Err(counter::UNPARSABLE);
            }
            if be16_at(ctx, off + 6)? & 0x1fff != 0 {
                return Err(counter::IP_FRAGMENT);
            }
            let tot = be16_at(ctx, off + 2)? as usize;
            ip_rest = if tot == 0 {
                None
            } else if tot < ihl {
                return Err(counter::UNPARSABLE);
            } else {
                Some(tot - ihl)
            };
            l4_proto = load(ctx, off + 9)?;
            key.family = family::IPV4;
            key.src_addr = [u64::from(raw32_at(ctx, off + 12)?), 0];
            key.dst_addr = [u64::from(raw32_at(ctx, off + 16)?), 0];
            off += ihl;
        }
        ETH_P_IPV6 => {
            let ver: u8 = load(ctx, off)?;
            if ver >> 4 != 6 {
                return Err(counter::UNPARSABLE);
            }
            let plen = be16_at(ctx, off + 4)? as usize;
            let first_next: u8 = load(ctx, off + 6)?;
            key.family = family::IPV6;
            key.src_addr = addr16_at(ctx, off + 8)?;
            key.dst_addr = addr16_at(ctx, off + 24)?;
            off += IPV6_HLEN;
            let ext_start = off;
            let mut next = first_next;
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
                        if be16_at(ctx, off + 2)? & 0xfff8 != 0 {
                            return Err(counter::IP_FRAGMENT);
                        }
                        next = load(ctx, off)?;
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
        key: FlowKey::default(),
        payload_off: 0,
        payload_len: 0,
        seq: 0,
        ack: 0,
        tcp_flags: 0,
    };
    let l4_hlen = match l4_proto {
        proto::TCP => {
            let doff = ((load::<u8>(ctx, off + 12)? >> 4) as usize) * 4;
            if doff < 20 {
                return Err(counter::UNPARSABLE);
            }
            key.src_port = be16_at(ctx, off)?;
            key.dst_port = be16_at(ctx, off + 2)?;
            parsed.seq = be32_at(ctx, off + 4)?;
            parsed.ack = be32_at(ctx, off + 8)?;
            parsed.tcp_flags = load(ctx, off + 13)?;
            doff
        }
        proto::UDP => {
            key.src_port = be16_at(ctx, off)?;
            key.dst_port = be16_at(ctx, off + 2)?;
            8
        }
        _ => return Err(counter::NON_TCP_UDP),
    };
    key.protocol = l4_proto;
    parsed.key = key.key();

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
    out.write(parsed);
    Ok(())
}
