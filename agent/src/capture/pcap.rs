//! Offline capture: pcap and pcapng files (optionally gzip-compressed) into [`Segment`]s.
//!
//! Why this shape:
//! - **Streaming.** Captures can be far larger than memory, so the file goes through
//!   pcap-parser's circular buffer; memory stays bounded by the buffer plus the largest block.
//! - **Format by content, not by name.** gzip is recognised by its magic `1f 8b` (RFC 1952 §2.3.1),
//!   pcap by its magic (either byte order, micro- or nanosecond, and the "modified" variant),
//!   pcapng by its Section Header Block (draft-ietf-opsawg-pcapng §4.1). `-` reads stdin.
//! - **Partial results survive.** Every segment before a corrupt or truncated block has already
//!   been delivered when the [`PcapError`] comes back, and the error names the byte offset of the
//!   bad block (for gzip input, the offset in the decompressed stream), so whatever findings were
//!   already made can still be written.
//! - **Bad packets are counted, not fatal.** A frame that is not TCP/UDP over IP, or is cut
//!   short, is a [`Skip`] reason in [`Stats`].
//!
//! The reader is a lending iterator ([`PcapSource::next_segment`]) because a [`Segment`] borrows
//! the read buffer; [`PcapSource::for_each_segment`] wraps it for callers that want a callback.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{PcapBlockOwned, PcapError as ParserError};

use super::decode::{decode, linktype};
pub use super::decode::{Skip, SkipCounts};
use super::{Segment, TcpMeta};
use crate::flow::Transport;
use crate::time::Timestamp;

/// Initial size of the circular read buffer: large enough for any ordinary frame, and big
/// enough that refills are rare.
const BUFFER_SIZE: usize = 256 * 1024;
/// A block larger than this is treated as corruption rather than grown into: a bogus length
/// field must not make us allocate gigabytes.
const MAX_BLOCK_SIZE: usize = 16 * 1024 * 1024;
/// gzip member magic (RFC 1952 §2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why a capture could not be read (further). Every variant after opening names a byte offset.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("cannot open capture {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("read error at byte offset {offset}: {source}")]
    Io { offset: u64, source: io::Error },
    #[error("not a pcap or pcapng capture (no known magic at byte offset {offset})")]
    UnknownFormat { offset: u64 },
    #[error("capture is empty (byte offset 0)")]
    Empty,
    #[error("capture truncated or corrupt: incomplete block at byte offset {offset}")]
    Truncated { offset: u64 },
    #[error("corrupt block at byte offset {offset} (parser: {parser})")]
    Corrupt { offset: u64, parser: String },
    #[error("block at byte offset {offset} is larger than the {limit}-byte limit")]
    BlockTooLarge { offset: u64, limit: usize },
    /// Reported at the end of the input, after every decodable packet was delivered: a
    /// pcapng file may mix interfaces, and only the packets of the unknown one are lost.
    #[error(
        "link type {linktype} ({name}) is not supported: {packets} packets not decoded, \
         the first at byte offset {offset} (supported: {supported})",
        name = linktype::name(*linktype),
        supported = SUPPORTED_NAMES
    )]
    UnsupportedLinktype {
        linktype: u32,
        packets: u64,
        offset: u64,
    },
}

/// The link types [`PcapSource`] decodes, for the error that refuses the others.
const SUPPORTED_NAMES: &str = "ETHERNET (with VLAN, QinQ, PPPoE, MPLS), LINUX_SLL, \
     LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP, PPP, PPP_HDLC, PPP_ETHER, NFLOG, IEEE802_11, \
     IEEE802_11_RADIOTAP";

impl PcapError {
    /// The byte offset the error refers to, where there is one (all but `Open`).
    pub fn offset(&self) -> Option<u64> {
        match self {
            PcapError::Open { .. } => None,
            PcapError::Empty => Some(0),
            PcapError::Io { offset, .. }
            | PcapError::UnknownFormat { offset }
            | PcapError::Truncated { offset }
            | PcapError::Corrupt { offset, .. }
            | PcapError::BlockTooLarge { offset, .. }
            | PcapError::UnsupportedLinktype { offset, .. } => Some(*offset),
        }
    }
}

/// What the reader did, for the report and the drop counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packet records read (pcap records, pcapng EPB/SPB/legacy packet blocks).
    pub packets: u64,
    /// Segments handed to the caller.
    pub segments: u64,
    /// Packets that gave no segment, by reason.
    pub skipped: SkipCounts,
    /// Bytes of capture consumed (decompressed bytes for gzip input).
    pub bytes: u64,
    /// Packets whose captured length is below the wire length (snap length cut them).
    pub snapped: u64,
}

/// The container format, as detected from content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

/// One pcapng interface (IDB): what is needed to decode its packets.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second (if_tsresol, default 10^6).
    units_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_secs: i64,
}

/// A segment without its payload, so it outlives the borrow of the block.
struct Head {
    ts: Timestamp,
    src_ip: IpAddr,
    dst_ip: IpAddr,
    src_port: u16,
    dst_port: u16,
    transport: Transport,
    tcp: Option<TcpMeta>,
    wire_len: u32,
}

impl Head {
    fn of(s: &Segment<'_>) -> Head {
        Head {
            ts: s.ts,
            src_ip: s.src_ip,
            dst_ip: s.dst_ip,
            src_port: s.src_port,
            dst_port: s.dst_port,
            transport: s.transport,
            tcp: s.tcp,
            wire_len: s.wire_len,
        }
    }

    fn with_payload(self, payload: &[u8]) -> Segment<'_> {
        Segment {
            ts: self.ts,
            src_ip: self.src_ip,
            dst_ip: self.dst_ip,
            src_port: self.src_port,
            dst_port: self.dst_port,
            transport: self.transport,
            tcp: self.tcp,
            payload,
            wire_len: self.wire_len,
        }
    }
}

/// The decoded part of a segment, kept while the payload stays in the reader's buffer.
struct Pending {
    head: Head,
    /// Payload location inside `reader.data()`.
    start: usize,
    end: usize,
}

/// An io error seen by the read adapter, kept because pcap-parser reduces it to `ReadError`.
type IoSlot = Arc<Mutex<Option<io::Error>>>;

/// Read adapter: fills the whole destination when it can (pcap-parser parses the file header
/// from the first `read` only, and a pipe or a gzip decoder may return short reads), and
/// remembers the first io error so it can be reported with its cause. After an error that
/// came with data, it reads as end of input: pcap-parser reads twice while opening a file,
/// so an error passed on at the second read would throw away every packet of a gzip
/// capture cut within its first buffer. The reader reports the kept error at the end.
struct FillReader<R> {
    inner: R,
    error: IoSlot,
    failed: bool,
}

impl<R: Read> Read for FillReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(0);
        }
        let mut n = 0;
        while n < buf.len() {
            let Some(dst) = buf.get_mut(n..) else { break };
            match self.inner.read(dst) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failed = true;
                    if n > 0 {
                        // Deliver what we have; the error is reported at the end of input.
                        if let Ok(mut slot) = self.error.lock() {
                            *slot = Some(e);
                        }
                        return Ok(n);
                    }
                    let copy = io::Error::new(e.kind(), e.to_string());
                    if let Ok(mut slot) = self.error.lock() {
                        *slot = Some(e);
                    }
                    return Err(copy);
                }
            }
        }
        Ok(n)
    }
}

/// A streaming reader of one capture.
pub struct PcapSource {
    reader: Box<dyn PcapReaderIterator + Send>,
    compressed: bool,
    io_error: IoSlot,
    /// Bytes of the block whose payload the last returned segment borrows; consumed on the
    /// next call.
    pending_consume: usize,
    /// Current read buffer capacity (grows for large blocks, up to `MAX_BLOCK_SIZE`).
    capacity: usize,
    done: bool,
    state: State,
}

/// Per-capture decoding state, apart from the reader so a block borrowed from the reader can
/// update it.
#[derive(Debug)]
struct State {
    format: Format,
    /// Legacy pcap: link type and whether fractions are nanoseconds.
    legacy_linktype: u32,
    legacy_nanos: bool,
    /// pcapng: interfaces of the current section (an SHB resets them).
    interfaces: Vec<Interface>,
    /// Last packet time, used for pcapng Simple Packet Blocks, which carry none.
    last_ts: Timestamp,
    stats: Stats,
    /// The first link type refused, with the byte offset of its first packet and how many
    /// packets it cost; reported when the input ends.
    unsupported: Option<(u32, u64, u64)>,
    /// Byte offset of the block being handled.
    block_offset: u64,
}

impl std::fmt::Debug for PcapSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapSource")
            .field("compressed", &self.compressed)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl PcapSource {
    /// Open a capture file, or stdin for `-`.
    pub fn open(path: &Path) -> Result<Self, PcapError> {
        if path.as_os_str() == "-" {
            return Self::from_reader(io::stdin());
        }
        let file = File::open(path).map_err(|source| PcapError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(file)
    }

    /// Read a capture from any byte stream (file, stdin, memory).
    pub fn from_reader<R: Read + Send + 'static>(mut input: R) -> Result<Self, PcapError> {
        let io_error: IoSlot = Arc::new(Mutex::new(None));
        // Peek at the first two bytes to recognise gzip, then put them back in front.
        let mut head = [0u8; 2];
        let mut got = 0;
        while got < head.len() {
            let Some(dst) = head.get_mut(got..) else {
                break;
            };
            match input.read(dst) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(PcapError::Io { offset: 0, source }),
            }
        }
        let prefix = Cursor::new(head.get(..got).unwrap_or_default().to_vec());
        let compressed = got == 2 && head == GZIP_MAGIC;
        let stream: Box<dyn Read + Send> = if compressed {
            Box::new(flate2::read::MultiGzDecoder::new(prefix.chain(input)))
        } else {
            Box::new(prefix.chain(input))
        };
        let fill = FillReader {
            inner: stream,
            error: Arc::clone(&io_error),
            failed: false,
        };
        let reader = match pcap_parser::create_reader(BUFFER_SIZE, fill) {
            Ok(r) => r,
            Err(e) => {
                let taken = io_error.lock().ok().and_then(|mut s| s.take());
                return Err(match (e, taken) {
                    (_, Some(source)) => PcapError::Io { offset: 0, source },
                    (ParserError::Eof, None) => PcapError::Empty,
                    (ParserError::Incomplete(_), None) => PcapError::Truncated { offset: 0 },
                    _ => PcapError::UnknownFormat { offset: 0 },
                });
            }
        };
        Ok(PcapSource {
            reader,
            compressed,
            io_error,
            pending_consume: 0,
            capacity: BUFFER_SIZE,
            done: false,
            state: State {
                format: Format::Pcap,
                legacy_linktype: 0,
                legacy_nanos: false,
                interfaces: Vec::new(),
                last_ts: Timestamp(0),
                stats: Stats::default(),
                unsupported: None,
                block_offset: 0,
            },
        })
    }

    /// Counters so far (also valid after an error).
    pub fn stats(&self) -> Stats {
        self.state.stats
    }

    /// The container format (known once the first block was read).
    pub fn format(&self) -> Format {
        self.state.format
    }

    /// Whether the input was gzip-compressed (error offsets are then decompressed offsets).
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// Call `f` for every segment, in file order. On error, every segment before the bad
    /// block has been delivered; [`PcapSource::stats`] still has the counts.
    pub fn for_each_segment(
        &mut self,
        mut f: impl FnMut(&Segment<'_>),
    ) -> Result<Stats, PcapError> {
        while let Some(seg) = self.next_segment()? {
            f(&seg);
        }
        Ok(self.state.stats)
    }

    /// The next segment, `None` at the end of the capture. The segment borrows the read buffer,
    /// so it lives until the next call.
    pub fn next_segment(&mut self) -> Result<Option<Segment<'_>>, PcapError> {
        // `consume_noshift` throughout: the plain `consume` moves the unread rest of the
        // buffer to its start on every call once past its middle, which copied about one
        // byte per byte read (a fifth of pcap mode's instructions on bulk traffic). The
        // rest is moved once per refill instead (`refill` shifts).
        if self.pending_consume > 0 {
            self.reader.consume_noshift(self.pending_consume);
            self.pending_consume = 0;
        }
        if self.done {
            return Ok(None);
        }
        let mut stalls = 0u32;
        let found = loop {
            let offset = self.reader.consumed() as u64;
            // The buffer does not move between here and the parse, so payload positions can be
            // taken relative to it.
            let data_start = self.reader.data().as_ptr() as usize;
            let at_end = self.reader.data().is_empty();
            let step = match self.reader.next() {
                Ok((len, block)) => {
                    stalls = 0;
                    self.state.block_offset = offset;
                    Step::Block(len, self.state.handle_block(block, data_start))
                }
                Err(ParserError::Eof) => Step::Eof,
                Err(ParserError::Incomplete(_)) => Step::Refill,
                Err(ParserError::BufferTooSmall) => Step::Grow,
                // An empty buffer at the end of input is a clean end, not a cut block.
                Err(ParserError::UnexpectedEof) if at_end => Step::Eof,
                Err(ParserError::UnexpectedEof) => Step::Fail(PcapError::Truncated { offset }),
                Err(ParserError::ReadError) => Step::ReadError,
                Err(ParserError::HeaderNotRecognized) => {
                    Step::Fail(PcapError::UnknownFormat { offset })
                }
                Err(ParserError::NomError(_, kind)) | Err(ParserError::OwnedNomError(_, kind)) => {
                    Step::Fail(PcapError::Corrupt {
                        offset,
                        parser: format!("{kind:?}"),
                    })
                }
            };
            match step {
                Step::Block(len, Some(p)) => {
                    self.state.stats.bytes = offset + len as u64;
                    self.pending_consume = len;
                    break p;
                }
                Step::Block(len, None) => {
                    self.state.stats.bytes = offset + len as u64;
                    self.reader.consume_noshift(len);
                }
                Step::Eof => {
                    if self.io_failed() {
                        return Err(self.read_error(offset));
                    }
                    self.done = true;
                    if let Some((linktype, offset, packets)) = self.state.unsupported {
                        return Err(PcapError::UnsupportedLinktype {
                            linktype,
                            packets,
                            offset,
                        });
                    }
                    return Ok(None);
                }
                Step::Refill => {
                    stalls += 1;
                    let before = self.reader.data().len();
                    if self.reader.refill().is_err() {
                        return Err(self.read_error(offset));
                    }
                    // A refill that adds nothing twice in a row means the parser wants more than
                    // the buffer can ever hold: treat as a block that is too large.
                    if self.reader.data().len() == before && stalls > 2 {
                        return Err(self.fail(PcapError::BlockTooLarge {
                            offset,
                            limit: MAX_BLOCK_SIZE,
                        }));
                    }
                }
                Step::Grow => {
                    let want = self.capacity.saturating_mul(2);
                    if want > MAX_BLOCK_SIZE || !self.reader.grow(want) {
                        return Err(self.fail(PcapError::BlockTooLarge {
                            offset,
                            limit: MAX_BLOCK_SIZE,
                        }));
                    }
                    self.capacity = want;
                    if self.reader.refill().is_err() {
                        return Err(self.read_error(offset));
                    }
                }
                Step::ReadError => return Err(self.read_error(offset)),
                // The input ended inside a block because reading failed: report the cause.
                Step::Fail(PcapError::Truncated { .. }) if self.io_failed() => {
                    return Err(self.read_error(offset))
                }
                Step::Fail(e) => return Err(self.fail(e)),
            }
        };
        self.state.stats.segments += 1;
        let data = self.reader.data();
        // The payload was a sub-slice of the block, so this always succeeds; no panic if not.
        let payload = data.get(found.start..found.end).unwrap_or_default();
        Ok(Some(found.head.with_payload(payload)))
    }

    fn fail(&mut self, e: PcapError) -> PcapError {
        self.done = true;
        e
    }

    /// Whether the input stopped on an io error (kept by [`FillReader`]).
    fn io_failed(&self) -> bool {
        self.io_error.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    fn read_error(&mut self, offset: u64) -> PcapError {
        self.done = true;
        let taken = self.io_error.lock().ok().and_then(|mut s| s.take());
        let source = taken.unwrap_or_else(|| io::Error::other("read failed"));
        // A gzip stream cut short surfaces as an io error; it is still a truncated capture.
        PcapError::Io { offset, source }
    }
}

impl State {
    /// Handle one block: update format state, decode packets. Returns the segment head when
    /// the block yielded one.
    fn handle_block(&mut self, block: PcapBlockOwned<'_>, data_start: usize) -> Option<Pending> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.format = Format::Pcap;
                // The low 16 bits are the link type; above them are FCS-length bits
                // (draft-ietf-opsawg-pcap §4, LinkType and additional information).
                self.legacy_linktype = (h.network.0 as u32) & 0xFFFF;
                self.legacy_nanos = h.is_nanosecond_precision();
                None
            }
            PcapBlockOwned::Legacy(b) => {
                self.stats.packets += 1;
                let nanos = if self.legacy_nanos {
                    b.ts_usec
                } else {
                    b.ts_usec.saturating_mul(1000)
                };
                let ts = Timestamp::from_secs_nanos(u64::from(b.ts_sec), nanos);
                self.last_ts = ts;
                let caplen = usize::try_from(b.caplen).unwrap_or(usize::MAX);
                let frame = b.data.get(..caplen).unwrap_or(b.data);
                self.frame(self.legacy_linktype, ts, frame, b.origlen, data_start)
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                self.format = Format::PcapNg;
                self.interfaces.clear();
                None
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface {
                    linktype: idb.linktype.0 as u32,
                    // An invalid if_tsresol falls back to the default microseconds.
                    units_per_sec: idb.ts_resolution().unwrap_or(1_000_000),
                    offset_secs: idb.ts_offset(),
                });
                None
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                self.stats.packets += 1;
                let Some(iface) = usize::try_from(epb.if_id)
                    .ok()
                    .and_then(|i| self.interfaces.get(i))
                    .copied()
                else {
                    self.stats.skipped.add(Skip::UnknownInterface);
                    return None;
                };
                let ts = ng_timestamp(epb.ts_high, epb.ts_low, iface);
                self.last_ts = ts;
                self.frame(
                    iface.linktype,
                    ts,
                    epb.packet_data(),
                    epb.orig_len(),
                    data_start,
                )
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                self.stats.packets += 1;
                // An SPB belongs to the section's first interface and has no timestamp
                // (pcapng §4.4): reuse the last packet time so time never goes backwards.
                let Some(iface) = self.interfaces.first().copied() else {
                    self.stats.skipped.add(Skip::UnknownInterface);
                    return None;
                };
                let ts = self.last_ts;
                self.frame(
                    iface.linktype,
                    ts,
                    spb.packet_data(),
                    spb.orig_len(),
                    data_start,
                )
            }
            PcapBlockOwned::NG(_) => None,
        }
    }

    fn frame(
        &mut self,
        linktype: u32,
        ts: Timestamp,
        frame: &[u8],
        origlen: u32,
        data_start: usize,
    ) -> Option<Pending> {
        if (frame.len() as u64) < u64::from(origlen) {
            self.stats.snapped += 1;
        }
        match decode(linktype, ts, frame, origlen) {
            Ok(seg) => {
                let start = (seg.payload.as_ptr() as usize).checked_sub(data_start)?;
                let end = start.checked_add(seg.payload.len())?;
                Some(Pending {
                    head: Head::of(&seg),
                    start,
                    end,
                })
            }
            Err(reason) => {
                self.stats.skipped.add(reason);
                if reason == Skip::UnsupportedLinktype {
                    match &mut self.unsupported {
                        Some((lt, _, n)) if *lt == linktype => *n += 1,
                        Some(_) => {}
                        None => self.unsupported = Some((linktype, self.block_offset, 1)),
                    }
                }
                None
            }
        }
    }
}

enum Step {
    Block(usize, Option<Pending>),
    Eof,
    Refill,
    Grow,
    ReadError,
    Fail(PcapError),
}

/// pcapng timestamp: a 64-bit count of `units_per_sec` units, plus if_tsoffset seconds
/// (pcapng §4.6, options if_tsresol and if_tsoffset).
fn ng_timestamp(high: u32, low: u32, iface: Interface) -> Timestamp {
    let raw = (u64::from(high) << 32) | u64::from(low);
    let units = iface.units_per_sec.max(1);
    let secs = raw / units;
    let frac = raw % units;
    let nanos = u128::from(frac) * 1_000_000_000 / u128::from(units);
    let secs = if iface.offset_secs >= 0 {
        secs.saturating_add(iface.offset_secs.unsigned_abs())
    } else {
        secs.saturating_sub(iface.offset_secs.unsigned_abs())
    };
    Timestamp::from_secs_nanos(secs, u32::try_from(nanos).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw IPv4/UDP packet 10.0.0.1:1234 -> 10.0.0.2:53 with the given payload.
    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let total = (20 + 8 + payload.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(&1234u16.to_be_bytes());
        p.extend_from_slice(&53u16.to_be_bytes());
        p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn ethernet(l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(l3);
        f
    }

    /// Legacy pcap: `magic` decides byte order and time unit.
    fn legacy(big_endian: bool, nanos: bool, linktype: u32, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = w32(magic).to_vec();
        f.extend_from_slice(&w16(2));
        f.extend_from_slice(&w16(4));
        f.extend_from_slice(&w32(0));
        f.extend_from_slice(&w32(0));
        f.extend_from_slice(&w32(262_144));
        f.extend_from_slice(&w32(linktype));
        for (sec, frac, data) in recs {
            f.extend_from_slice(&w32(*sec));
            f.extend_from_slice(&w32(*frac));
            f.extend_from_slice(&w32(data.len() as u32));
            f.extend_from_slice(&w32(data.len() as u32));
            f.extend_from_slice(data);
        }
        f
    }

    /// Segments as (timestamp ns, payload), and how the read ended.
    type Collected = (Vec<(u64, Vec<u8>)>, Result<Stats, PcapError>);

    fn collect(bytes: Vec<u8>) -> Collected {
        let mut src = PcapSource::from_reader(Cursor::new(bytes)).expect("open");
        let mut out = Vec::new();
        let r = src.for_each_segment(|s| out.push((s.ts.0, s.payload.to_vec())));
        (out, r)
    }

    #[test]
    fn legacy_both_endians_micro_and_nano() {
        let pkt = ethernet(&ipv4_udp(b"abc"));
        for be in [false, true] {
            let (segs, r) = collect(legacy(be, false, 1, &[(10, 250_000, &pkt)]));
            assert!(r.is_ok(), "{r:?}");
            assert_eq!(segs, vec![(10_250_000_000, b"abc".to_vec())], "be={be}");
            let (segs, r) = collect(legacy(be, true, 1, &[(10, 7, &pkt)]));
            assert!(r.is_ok(), "{r:?}");
            assert_eq!(
                segs,
                vec![(10_000_000_007, b"abc".to_vec())],
                "nano be={be}"
            );
        }
    }

    fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = (12 + body.len()) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    fn shb() -> Vec<u8> {
        let mut body = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
        ng_block(0x0A0D_0D0A, &body)
    }

    fn idb(linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut body = linktype.to_le_bytes().to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&0u32.to_le_bytes());
        if let Some(r) = tsresol {
            // if_tsresol (code 9, length 1, padded), then opt_endofopt.
            body.extend_from_slice(&9u16.to_le_bytes());
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        ng_block(1, &body)
    }

    fn epb(if_id: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut body = if_id.to_le_bytes().to_vec();
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        ng_block(6, &body)
    }

    #[test]
    fn pcapng_interfaces_with_own_linktype_and_resolution() {
        let mut f = shb();
        f.extend(idb(1, None)); // Ethernet, microseconds
        f.extend(idb(101, Some(9))); // raw IP, nanoseconds
        f.extend(epb(0, 5_000_001, &ethernet(&ipv4_udp(b"eth"))));
        f.extend(epb(1, 5_000_000_123, &ipv4_udp(b"raw")));
        f.extend(epb(7, 1, &ipv4_udp(b"nobody"))); // no such interface: counted
        let mut src = PcapSource::from_reader(Cursor::new(f)).expect("open");
        let mut segs = Vec::new();
        let stats = src
            .for_each_segment(|s| segs.push((s.ts.0, s.payload.to_vec())))
            .expect("valid");
        assert_eq!(src.format(), Format::PcapNg);
        assert_eq!(
            segs,
            vec![
                (5_000_001_000, b"eth".to_vec()),
                (5_000_000_123, b"raw".to_vec())
            ]
        );
        assert_eq!(stats.packets, 3);
        assert_eq!(stats.skipped.get(Skip::UnknownInterface), 1);
    }

    #[test]
    fn unsupported_link_type_is_named_at_the_end_after_the_other_interfaces() {
        let mut f = shb();
        f.extend(idb(1, None)); // Ethernet
        f.extend(idb(147, None)); // USER0: nothing to decode
        f.extend(idb(249, None)); // USBPCAP, but no packet on it: no error for it
        f.extend(epb(0, 1, &ethernet(&ipv4_udp(b"a"))));
        let first_bad = f.len() as u64;
        f.extend(epb(1, 2, &ipv4_udp(b"x")));
        f.extend(epb(1, 3, &ipv4_udp(b"y")));
        f.extend(epb(0, 4, &ethernet(&ipv4_udp(b"b"))));
        let (segs, r) = collect(f);
        assert_eq!(segs.len(), 2, "both Ethernet packets delivered");
        let e = r.expect_err("unsupported");
        assert_eq!(e.offset(), Some(first_bad));
        let text = e.to_string();
        assert!(text.contains("link type 147 (USER0)"), "{text}");
        assert!(text.contains("2 packets"), "{text}");
        // Legacy pcap: the same, with the FCS bits above the link type ignored.
        let (segs, r) = collect(legacy(false, false, 0x1000_0000 | 249, &[(1, 0, b"??")]));
        assert!(segs.is_empty());
        let text = r.expect_err("unsupported").to_string();
        assert!(text.contains("link type 249 (USBPCAP)"), "{text}");
        assert!(text.contains("byte offset 24"), "{text}");
    }

    #[test]
    fn corrupt_pcapng_block_names_its_offset() {
        let mut f = shb();
        f.extend(idb(101, None));
        f.extend(epb(0, 1, &ipv4_udp(b"ok")));
        let bad_at = f.len() as u64;
        let mut bad = epb(0, 2, &ipv4_udp(b"bad"));
        let n = bad.len();
        bad[n - 4] ^= 0xFF; // trailing block length no longer matches
        f.extend(bad);
        f.extend(epb(0, 3, &ipv4_udp(b"never")));
        let (segs, r) = collect(f);
        assert_eq!(segs.len(), 1, "the good block before was delivered");
        let e = r.expect_err("corrupt");
        assert_eq!(e.offset(), Some(bad_at), "{e}");
        assert!(e.to_string().contains(&bad_at.to_string()));
    }

    #[test]
    fn large_block_grows_the_buffer() {
        let big = ipv4_udp(&vec![7u8; 60_000]);
        let mut huge = big.clone();
        huge.resize(BUFFER_SIZE * 2 + 100, 0); // trailing bytes beyond the IP length
        let f = legacy(
            false,
            false,
            101,
            &[(1, 0, &huge), (2, 0, &ipv4_udp(b"after"))],
        );
        let (segs, r) = collect(f);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].1.len(), 60_000);
        assert_eq!(segs[1].1, b"after");
    }

    /// An endless capture: the reader must hand out segments without reading to the end.
    struct Endless {
        buf: Vec<u8>,
        pos: usize,
        served: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.pos >= self.buf.len() {
                // Next record, same packet each time.
                let rec = legacy(false, false, 101, &[(1, 0, &ipv4_udp(b"tick"))]);
                self.buf = rec[24..].to_vec();
                self.pos = 0;
            }
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            self.served
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
    }

    #[test]
    fn streaming_reads_an_endless_capture_incrementally() {
        let header = legacy(false, false, 101, &[]);
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let endless = Endless {
            buf: header,
            pos: 0,
            served: Arc::clone(&served),
        };
        let mut src = PcapSource::from_reader(endless).expect("open");
        for _ in 0..10_000 {
            let seg = src.next_segment().expect("ok").expect("more");
            assert_eq!(seg.payload, b"tick");
        }
        assert_eq!(src.stats().segments, 10_000);
        // Bounded read-ahead: what was pulled from the input is what was consumed plus at most
        // one buffer.
        let pulled = served.load(std::sync::atomic::Ordering::Relaxed) as u64;
        let consumed = src.stats().bytes;
        assert!(consumed >= 10_000 * 48);
        assert!(
            pulled <= consumed + BUFFER_SIZE as u64,
            "{pulled} vs {consumed}"
        );
    }
}
