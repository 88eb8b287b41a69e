#!/usr/bin/env python3
"""Deterministic benchmark capture for scripts/bench-pcap.sh.

Reads the TLS / plaintext-protocol captures of the test corpus (tests/corpus/) (those whose
INDEX.tsv row has tags, pcap-parser/ format cases excluded), and writes them
again and again, in a fixed order, into one classic pcap (Ethernet, usec) until
the output reaches the target size.

Every (round, capture) pair gets its own addresses so that flows stay distinct:
each distinct IPv4 address seen in a capture is mapped to the next free address
of 10.0.0.0/8 (then 100.64.0.0/10), each IPv6 address to the next of fd00::/8.
Ports, payloads and the order of packets are unchanged. The IPv4 header checksum
and the TCP/UDP/ICMPv6 checksums are patched incrementally (RFC 1624), so a
checksum that was right stays right and one that was wrong stays wrong.
Timestamps are shifted so the output is one time-ordered capture: each capture
starts one second after the previous one ended, and keeps its own spacing
(except that a jump of more than 10 minutes between two packets, forward or
back, is cut to 10 minutes).

Supports pcap (usec/nsec, both byte orders), pcapng (any number of interfaces,
if_tsresol) and gzip of either. Link types: Ethernet (with 802.1Q/QinQ tags),
raw IP, Linux cooked (SLL, SLL2) and BSD loopback; they are turned into Ethernet.
Captures with another link type are skipped (listed on stderr).

No dependencies beyond the Python 3 standard library. Same inputs, same
arguments -> byte-identical output.

Usage: gen-bench-pcap.py --corpus DIR --out FILE [--size-mb N]
"""

import argparse
import gzip
import os
import struct
import sys

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
DLT_RAW_ALT = (12, 14)

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
MAX_GAP_NS = 600 * 1_000_000_000
FAKE_MACS = bytes.fromhex("020000000002" "020000000001")


def eprint(*a):
    print(*a, file=sys.stderr)


# --------------------------------------------------------------------- readers


def open_maybe_gz(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def read_pcap(data):
    """Yields (linktype, ts_ns, frame bytes)."""
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian, nsec = "<", False
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian, nsec = ">", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        endian, nsec = "<", True
    elif magic == b"\xa1\xb2\x3c\x4d":
        endian, nsec = ">", True
    else:
        raise ValueError("not a pcap file")
    (linktype,) = struct.unpack_from(endian + "I", data, 20)
    linktype &= 0x0FFFFFFF
    rec = struct.Struct(endian + "IIII")
    off = 24
    n = len(data)
    while off + 16 <= n:
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        off += 16
        if incl > n - off:
            break  # truncated last record
        ts = sec * 1_000_000_000 + (frac if nsec else frac * 1000)
        yield linktype, ts, data[off : off + incl]
        off += incl


def read_pcapng(data):
    """Yields (linktype, ts_ns, frame bytes)."""
    off = 0
    n = len(data)
    endian = "<"
    ifaces = []  # (linktype, ticks per second)
    while off + 12 <= n:
        btype_raw = data[off : off + 4]
        if btype_raw == b"\x0a\x0d\x0d\x0a":  # SHB: byte order from its magic
            bom = data[off + 8 : off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(endian + "II", data, off)
        if blen < 12 or off + blen > n:
            break
        body = data[off + 8 : off + blen - 4]
        if btype == 1:  # IDB
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            tps = 1_000_000
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, o)
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    v = body[o + 4]
                    tps = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((linktype, tps))
        elif btype in (6, 3):  # EPB, SPB
            if btype == 6:
                iface, tsh, tsl, incl, _orig = struct.unpack_from(endian + "IIIII", body, 0)
                pkt = body[20 : 20 + incl]
                ticks = (tsh << 32) | tsl
            else:
                iface, ticks = 0, 0
                (orig,) = struct.unpack_from(endian + "I", body, 0)
                pkt = body[4 : 4 + orig]
            if iface < len(ifaces):
                linktype, tps = ifaces[iface]
                yield linktype, ticks * 1_000_000_000 // tps, pkt
        off += blen


def read_capture(path):
    data = open_maybe_gz(path)
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return list(read_pcapng(data))
    return list(read_pcap(data))


# ------------------------------------------------------------ to Ethernet


def to_ethernet(linktype, frame):
    """Returns an Ethernet frame, or None if the link type is not supported."""
    if linktype == LINKTYPE_ETHERNET:
        return frame
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6) or linktype in DLT_RAW_ALT:
        if not frame:
            return None
        ver = frame[0] >> 4
        et = ETH_IPV4 if ver == 4 else ETH_IPV6 if ver == 6 else None
        if et is None:
            return None
        return FAKE_MACS + struct.pack(">H", et) + frame
    if linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        return FAKE_MACS + frame[14:16] + frame[16:]
    if linktype == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        return FAKE_MACS + frame[0:2] + frame[20:]
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP) and len(frame) >= 4:
        fam_le = struct.unpack_from("<I", frame, 0)[0]
        fam_be = struct.unpack_from(">I", frame, 0)[0]
        fam = fam_le if fam_le < 256 else fam_be
        et = ETH_IPV4 if fam == 2 else ETH_IPV6 if fam in (10, 24, 28, 30) else None
        if et is None:
            return None
        return FAKE_MACS + struct.pack(">H", et) + frame[4:]
    return None


# ------------------------------------------------------------ checksums


def csum_add(total, word_bytes):
    """Ones'-complement sum of 16-bit words (len must be even)."""
    for i in range(0, len(word_bytes), 2):
        total += (word_bytes[i] << 8) | word_bytes[i + 1]
    return total


def fold(total):
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def patch_csum(buf, pos, old, new):
    """RFC 1624 incremental update of the checksum at buf[pos:pos+2] when the
    bytes `old` are replaced by `new` (same even length)."""
    hc = (buf[pos] << 8) | buf[pos + 1]
    total = (~hc) & 0xFFFF
    total = csum_add(total, bytes(b ^ 0xFF for b in old))  # + ~m
    total = csum_add(total, new)  # + m'
    res = (~fold(total)) & 0xFFFF
    buf[pos] = res >> 8
    buf[pos + 1] = res & 0xFF


# ------------------------------------------------------------ rewriting


class AddrMap:
    """Per (round, capture) map: original address -> fresh address."""

    def __init__(self, alloc):
        self.alloc = alloc
        self.v4 = {}
        self.v6 = {}

    def map4(self, a):
        m = self.v4.get(a)
        if m is None:
            m = self.v4[a] = self.alloc.next4()
        return m

    def map6(self, a):
        m = self.v6.get(a)
        if m is None:
            m = self.v6[a] = self.alloc.next6()
        return m


class Allocator:
    def __init__(self):
        self.c4 = 0
        self.c6 = 0

    def next4(self):
        c = self.c4
        self.c4 += 1
        if c < (1 << 24) - 2:
            v = 0x0A000001 + c  # 10.0.0.1 ...
        elif c < (1 << 24) - 2 + (1 << 22) - 2:
            v = 0x64400001 + (c - ((1 << 24) - 2))  # 100.64.0.1 ...
        else:
            raise RuntimeError("out of IPv4 addresses; lower --size-mb")
        return struct.pack(">I", v)

    def next6(self):
        c = self.c6
        self.c6 += 1
        return b"\xfd\x00" + struct.pack(">Q", 0) + struct.pack(">IH", c >> 16, c & 0xFFFF)


L4_CSUM_OFF = {6: 16, 17: 6, 58: 2}  # TCP, UDP, ICMPv6 (ICMPv4 has no pseudo-header)
IPV6_EXT = (0, 43, 60)  # hop-by-hop, routing, destination options


def rewrite(frame, amap):
    """Rewrites the outer IP addresses of an Ethernet frame in place (bytearray)."""
    off = 12
    n = len(frame)
    et = (frame[off] << 8) | frame[off + 1] if n >= 14 else 0
    off = 14
    while et in (0x8100, 0x88A8, 0x9100) and off + 4 <= n:
        et = (frame[off + 2] << 8) | frame[off + 3]
        off += 4
    if et == ETH_IPV4 and off + 20 <= n and frame[off] >> 4 == 4:
        ihl = (frame[off] & 0x0F) * 4
        if ihl < 20 or off + ihl > n:
            return
        old = bytes(frame[off + 12 : off + 20])
        new = amap.map4(old[:4]) + amap.map4(old[4:])
        frame[off + 12 : off + 20] = new
        patch_csum(frame, off + 10, old, new)
        proto = frame[off + 9]
        frag_off = ((frame[off + 6] << 8) | frame[off + 7]) & 0x1FFF
        l4 = off + ihl
        co = L4_CSUM_OFF.get(proto)
        if co is not None and proto != 58 and frag_off == 0 and l4 + co + 2 <= n:
            if proto == 17 and frame[l4 + 6] == 0 and frame[l4 + 7] == 0:
                return  # UDP without checksum
            patch_csum(frame, l4 + co, old, new)
    elif et == ETH_IPV6 and off + 40 <= n and frame[off] >> 4 == 6:
        old = bytes(frame[off + 8 : off + 40])
        new = amap.map6(old[:16]) + amap.map6(old[16:])
        frame[off + 8 : off + 40] = new
        nh = frame[off + 6]
        p = off + 40
        while nh in IPV6_EXT and p + 8 <= n:
            nh, p = frame[p], p + (frame[p + 1] + 1) * 8
        if nh == 44 and p + 8 <= n:  # fragment header: only the first fragment has the L4 header
            if ((frame[p + 2] << 8) | frame[p + 3]) & 0xFFF8:
                return
            nh, p = frame[p], p + 8
        co = L4_CSUM_OFF.get(nh)
        if co is not None and p + co + 2 <= n:
            patch_csum(frame, p + co, old, new)


# ------------------------------------------------------------------- main


def select_inputs(corpus):
    paths = []
    with open(os.path.join(corpus, "INDEX.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 2 or not cols[1] or cols[0].startswith("pcap-parser/"):
                continue
            paths.append(cols[0])
    return sorted(paths)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size-mb", type=int, default=300, help="stop once the output reaches this many MB (10^6 bytes)")
    args = ap.parse_args()
    target = args.size_mb * 1_000_000

    captures = []
    skipped = []
    for rel in select_inputs(args.corpus):
        try:
            pkts = read_capture(os.path.join(args.corpus, rel))
        except (OSError, ValueError, struct.error, EOFError) as e:
            skipped.append(f"{rel}: {e}")
            continue
        frames = []
        for lt, ts, fr in pkts:
            eth = to_ethernet(lt, fr)
            if eth is None:
                continue
            frames.append((ts, bytes(eth)))
        if not frames:
            skipped.append(f"{rel}: no packet with a supported link type ({sorted({p[0] for p in pkts})})")
            continue
        # Relative times; a jump of more than MAX_GAP between two packets (some
        # captures span years, some go back in time) is cut to MAX_GAP.
        rel_ts = [0]
        for (t0, _), (t1, _) in zip(frames, frames[1:]):
            rel_ts.append(rel_ts[-1] + max(-MAX_GAP_NS, min(MAX_GAP_NS, t1 - t0)))
        tmin = min(rel_ts)
        captures.append((rel, [(t - tmin, fr) for t, (_, fr) in zip(rel_ts, frames)]))
    for s in skipped:
        eprint(f"gen-bench-pcap: skipped {s}")
    if not captures:
        sys.exit("gen-bench-pcap: no usable capture in the corpus")
    eprint(f"gen-bench-pcap: {len(captures)} captures, {sum(len(c[1]) for c in captures)} packets per round")

    alloc = Allocator()
    cursor_ns = 1_700_000_000 * 1_000_000_000  # 2023-11-14, fixed for determinism
    written = 24
    npkts = 0
    rounds = 0
    rec = struct.Struct("<IIII")
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        while written < target:
            rounds += 1
            for _rel, frames in captures:
                amap = AddrMap(alloc)
                last = cursor_ns
                chunk = []
                for rel_ts, fr in frames:
                    buf = bytearray(fr)
                    rewrite(buf, amap)
                    ts = cursor_ns + rel_ts
                    last = max(last, ts)
                    sec, ns = divmod(ts, 1_000_000_000)
                    chunk.append(rec.pack(sec, ns // 1000, len(buf), len(buf)))
                    chunk.append(buf)
                    written += 16 + len(buf)
                    npkts += 1
                out.write(b"".join(chunk))
                cursor_ns = last + 1_000_000_000
                if written >= target:
                    break
    os.replace(tmp, args.out)
    eprint(
        f"gen-bench-pcap: wrote {args.out}: {written} bytes, {npkts} packets, "
        f"{rounds} round(s), {alloc.c4} IPv4 + {alloc.c6} IPv6 addresses"
    )


if __name__ == "__main__":
    main()
