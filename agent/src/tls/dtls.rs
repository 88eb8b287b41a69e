//! DTLS (RFC 6347 for 1.0/1.2, RFC 9147 for 1.3): the datagram framing around the same
//! handshake messages TLS uses.
//!
//! Why a separate layer and not a second parser: once a DTLS handshake message is
//! reassembled from its fragments, its body is a TLS body (the ClientHello only adds a
//! cookie after the session id), so the bodies go to the existing [`Session`] and its
//! `handshake` parsers, and fingerprints, findings and the JSON contract stay the same.
//! This module owns only what DTLS adds: the 13-byte record header, the 12-byte handshake
//! header with fragment offsets, retransmissions, the ClientHello cookie, and the DTLS 1.3
//! unified header of encrypted records.

use super::handshake::{self, Reader};
use super::names::{DTLS10, DTLS10_OPENSSL_PRE, DTLS12, DTLS13};
use super::record::{self, Record};
use super::{Session, Stop};
use crate::flow::Direction;

/// DTLS record header: type(1) version(2) epoch(2) sequence_number(6) length(2)
/// (RFC 6347 §4.1).
pub const RECORD_HEADER_LEN: usize = 13;

/// DTLS handshake header: msg_type(1) length(3) message_seq(2) fragment_offset(3)
/// fragment_length(3) (RFC 6347 §4.2.2).
pub const HANDSHAKE_HEADER_LEN: usize = 12;

/// HelloVerifyRequest (RFC 6347 §4.2.1): the server's stateless cookie exchange.
pub const HS_HELLO_VERIFY_REQUEST: u8 = 3;

/// Largest handshake message reassembled; the TLS side caps its buffer the same way.
const MAX_MESSAGE: usize = super::MAX_HANDSHAKE_BUFFER;

/// Whether a record-layer version is DTLS. DTLS 1.3 keeps 0xfefd in the record header
/// (RFC 9147 §5.3) but 0xfefc is accepted, as some stacks send it; 0x0100 is OpenSSL's
/// pre-RFC DTLS 1.0 (nDPI's dtls_old_version.pcapng).
pub fn is_dtls_version(v: u16) -> bool {
    matches!(v, DTLS10 | DTLS12 | DTLS13 | DTLS10_OPENSSL_PRE)
}

/// The handshake type of a DTLS ClientHello, ServerHello or HelloVerifyRequest that starts
/// `datagram` in epoch 0, or `None` when the datagram does not start a DTLS handshake.
///
/// Used to start DTLS analysis on a UDP flow. Checked fields: content type handshake, a DTLS
/// version, epoch 0, a record length that fits, and a first fragment at offset 0.
pub fn probe(datagram: &[u8]) -> Option<u8> {
    let (hdr, _) = record_header(datagram)?;
    if hdr.content_type != record::CT_HANDSHAKE || hdr.epoch != 0 {
        return None;
    }
    let frag = parse_fragment(hdr.payload)?.0;
    let hello = matches!(
        frag.msg_type,
        handshake::HS_CLIENT_HELLO | handshake::HS_SERVER_HELLO | HS_HELLO_VERIFY_REQUEST
    );
    (hello && frag.offset == 0 && frag.total <= MAX_MESSAGE).then_some(frag.msg_type)
}

/// A STUN message (RFC 5389 §6): the two top bits zero and the magic cookie 0x2112A442 at
/// offset 4. WebRTC multiplexes STUN with DTLS on one 5-tuple (RFC 7983 §7), so such
/// datagrams are skipped while waiting for the DTLS hello.
pub fn is_stun(datagram: &[u8]) -> bool {
    const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
    datagram.first().is_some_and(|b| b & 0xc0 == 0) && datagram.get(4..8) == Some(&MAGIC_COOKIE[..])
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct RecordHeader<'a> {
    content_type: u8,
    version: u16,
    epoch: u16,
    payload: &'a [u8],
}

impl std::fmt::Debug for RecordHeader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordHeader")
            .field("content_type", &self.content_type)
            .field("version", &self.version)
            .field("epoch", &self.epoch)
            .field("payload", &crate::redact::Len(self.payload))
            .finish()
    }
}

/// One DTLSPlaintext record at the start of `data` and the bytes it used.
fn record_header(data: &[u8]) -> Option<(RecordHeader<'_>, usize)> {
    let mut r = Reader::new(data, "DTLS record header");
    let content_type = r.u8().ok()?;
    let version = r.u16().ok()?;
    let epoch = r.u16().ok()?;
    r.bytes(6).ok()?; // sequence_number
    let payload = r.vec16().ok()?;
    let known = (record::CT_CHANGE_CIPHER_SPEC..=record::CT_HEARTBEAT).contains(&content_type);
    if !known || !is_dtls_version(version) {
        return None;
    }
    let used = RECORD_HEADER_LEN + payload.len();
    Some((
        RecordHeader {
            content_type,
            version,
            epoch,
            payload,
        },
        used,
    ))
}

/// One handshake fragment (RFC 6347 §4.2.2).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Fragment<'a> {
    msg_type: u8,
    total: usize,
    seq: u16,
    offset: usize,
    bytes: &'a [u8],
}

impl std::fmt::Debug for Fragment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fragment")
            .field("msg_type", &self.msg_type)
            .field("total", &self.total)
            .field("seq", &self.seq)
            .field("offset", &self.offset)
            .field("bytes", &crate::redact::Len(self.bytes))
            .finish()
    }
}

/// The fragment at the start of a handshake record payload and the bytes it used.
fn parse_fragment(data: &[u8]) -> Option<(Fragment<'_>, usize)> {
    let mut r = Reader::new(data, "DTLS handshake header");
    let msg_type = r.u8().ok()?;
    let total = r.u24().ok()?;
    let seq = r.u16().ok()?;
    let offset = r.u24().ok()?;
    let bytes = r.vec24().ok()?;
    if offset.checked_add(bytes.len())? > total {
        return None;
    }
    Some((
        Fragment {
            msg_type,
            total,
            seq,
            offset,
            bytes,
        },
        HANDSHAKE_HEADER_LEN + bytes.len(),
    ))
}

/// A handshake message being put together from fragments.
///
/// The pieces are kept as they arrive, never a buffer of the length the header claims: a
/// peer that announces 64 KiB and sends one byte at the end makes us hold one byte.
#[derive(Default)]
struct Partial {
    seq: u16,
    msg_type: u8,
    /// The message length the fragments claim.
    total: usize,
    /// Received bytes by offset; non-overlapping (the first copy of a byte wins).
    pieces: Vec<(usize, Vec<u8>)>,
    /// Byte ranges received, kept merged and sorted.
    have: Vec<(usize, usize)>,
}

impl std::fmt::Debug for Partial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partial")
            .field("seq", &self.seq)
            .field("msg_type", &self.msg_type)
            .field("total", &self.total)
            .field(
                "pieces",
                &format_args!(
                    "<{} piece(s), {} bytes>",
                    self.pieces.len(),
                    self.pieces.iter().map(|(_, b)| b.len()).sum::<usize>()
                ),
            )
            .field("have", &self.have)
            .finish()
    }
}

impl Partial {
    fn add(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset + bytes.len();
        // Keep only what no earlier fragment covered.
        let mut cursor = offset;
        for &(a, b) in &self.have {
            if b <= cursor || a >= end {
                continue;
            }
            if a > cursor {
                if let Some(part) = bytes.get(cursor - offset..a - offset) {
                    self.pieces.push((cursor, part.to_vec()));
                }
            }
            cursor = cursor.max(b);
        }
        if cursor < end {
            if let Some(part) = bytes.get(cursor - offset..) {
                self.pieces.push((cursor, part.to_vec()));
            }
        }
        self.have.push((offset, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(a, b) in &self.have {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.have = merged;
    }

    fn complete(&self) -> bool {
        self.have.as_slice() == [(0, self.total)] || self.total == 0
    }

    /// Bytes held (what was received, not what was claimed).
    fn held(&self) -> usize {
        self.pieces.iter().map(|(_, p)| p.len()).sum()
    }

    /// The whole message, once [`Partial::complete`].
    fn assemble(&self) -> Vec<u8> {
        let mut body = vec![0; self.total];
        for (at, p) in &self.pieces {
            if let Some(dst) = body.get_mut(*at..at + p.len()) {
                dst.copy_from_slice(p);
            }
        }
        body
    }
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
struct DirReasm {
    /// message_seq of the next message not yet delivered; lower ones are retransmissions.
    next_seq: u16,
    partial: Option<Partial>,
}

/// Per-flow DTLS state, kept beside the flow's TLS [`Session`].
#[derive(Debug, Default)]
pub struct Dtls {
    /// The DTLS client is the flow's responder (e.g. WebRTC, where either peer may be the
    /// DTLS client and STUN decides who sent the flow's first packet).
    swap: bool,
    dirs: [DirReasm; 2],
    /// Handshake messages refused because they claimed more than the cap
    /// ([`MAX_MESSAGE`]): exported as a drop.
    pub refused: u64,
}

impl Dtls {
    /// `client` is the flow direction the DTLS client's datagrams travel in.
    pub fn new(client: Direction) -> Self {
        Dtls {
            swap: client == Direction::ToClient,
            dirs: Default::default(),
            refused: 0,
        }
    }

    /// Bytes held in partly received handshake messages.
    pub fn held_bytes(&self) -> usize {
        self.dirs
            .iter()
            .filter_map(|d| d.partial.as_ref())
            .map(Partial::held)
            .sum()
    }

    /// Feeds one UDP datagram of flow direction `dir`: every record in it, in order.
    pub fn feed(&mut self, session: &mut Session, dir: Direction, datagram: &[u8]) {
        let role = if self.swap { dir.reverse() } else { dir };
        let mut rest = datagram;
        while let Some(&b0) = rest.first() {
            if session
                .hs
                .stopped
                .get(role.index())
                .copied()
                .flatten()
                .is_some()
            {
                return;
            }
            if b0 & 0xe0 == 0x20 {
                // DTLS 1.3 unified header (RFC 9147 §4): an encrypted record.
                let used = unified_record_len(rest);
                let payload = rest.get(..used).unwrap_or(rest);
                session.on_record(
                    role,
                    Record {
                        content_type: record::CT_APPLICATION_DATA,
                        version: DTLS13,
                        payload,
                    },
                );
                rest = rest.get(used..).unwrap_or_default();
                continue;
            }
            if is_stun(rest) {
                return;
            }
            let Some((hdr, used)) = record_header(rest) else {
                if rest.len() >= RECORD_HEADER_LEN && rest.first().is_some_and(|t| *t >= 20) {
                    // Not a record we can frame: stop this direction rather than guess.
                    session.stop(role, Stop::Garbage(super::TlsError::BadRecordHeader));
                }
                return;
            };
            rest = rest.get(used..).unwrap_or_default();
            let rec = Record {
                content_type: hdr.content_type,
                version: hdr.version,
                payload: hdr.payload,
            };
            if hdr.content_type != record::CT_HANDSHAKE {
                session.on_record(role, rec);
                continue;
            }
            if session.dir(role).encrypted || hdr.epoch > 0 {
                // The Finished after ChangeCipherSpec (epoch 1) is encrypted.
                session.dir(role).encrypted = true;
                session.on_record(role, rec);
                continue;
            }
            self.on_handshake_record(session, role, hdr.payload);
        }
    }

    fn on_handshake_record(&mut self, session: &mut Session, role: Direction, mut data: &[u8]) {
        while let Some((frag, used)) = parse_fragment(data) {
            data = data.get(used..).unwrap_or_default();
            if let Some((msg_type, body)) = self.add_fragment(role, frag) {
                deliver(session, role, msg_type, &body);
            }
        }
    }

    /// Adds a fragment; returns the whole message when it completes one.
    fn add_fragment(&mut self, role: Direction, frag: Fragment<'_>) -> Option<(u8, Vec<u8>)> {
        let st = self.dirs.get_mut(role.index())?;
        if frag.seq < st.next_seq {
            return None; // a retransmission
        }
        if frag.total > MAX_MESSAGE {
            self.refused += 1;
            return None;
        }
        let fresh = st
            .partial
            .as_ref()
            .is_none_or(|p| p.seq != frag.seq || p.msg_type != frag.msg_type);
        if fresh {
            // A newer message replaces one whose fragments were lost.
            st.partial = Some(Partial {
                seq: frag.seq,
                msg_type: frag.msg_type,
                total: frag.total,
                pieces: Vec::new(),
                have: Vec::new(),
            });
        }
        let p = st.partial.as_mut()?;
        if p.total != frag.total {
            return None;
        }
        p.add(frag.offset, frag.bytes);
        if !p.complete() {
            return None;
        }
        let done = st.partial.take()?;
        st.next_seq = done.seq.wrapping_add(1);
        Some((done.msg_type, done.assemble()))
    }
}

/// Bytes of the unified-header record at the start of `data` (RFC 9147 §4: `001CSLEE`).
/// With a connection id its length is known only from the negotiation, so the record is
/// taken to fill the datagram, which is also what a missing length field means.
fn unified_record_len(data: &[u8]) -> usize {
    let Some(&b0) = data.first() else {
        return 0;
    };
    let cid = b0 & 0x10 != 0;
    let seq_len = if b0 & 0x08 != 0 { 2 } else { 1 };
    let has_len = b0 & 0x04 != 0;
    if cid || !has_len {
        return data.len();
    }
    let at = 1 + seq_len;
    match (data.get(at), data.get(at + 1)) {
        (Some(&hi), Some(&lo)) => {
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            (at + 2 + len).min(data.len())
        }
        _ => data.len(),
    }
}

/// Hands a reassembled message to the TLS session, in TLS form.
fn deliver(session: &mut Session, role: Direction, msg_type: u8, body: &[u8]) {
    match msg_type {
        HS_HELLO_VERIFY_REQUEST => {}
        handshake::HS_CLIENT_HELLO => {
            let Some(tls_body) = client_hello_without_cookie(body) else {
                session.stop(
                    role,
                    Stop::Garbage(super::TlsError::Truncated("DTLS ClientHello")),
                );
                return;
            };
            session.on_handshake_message(role, msg_type, &tls_body);
            // JA4 marks DTLS with `d` where TCP has `t` (FoxIO technical_details/JA4.md).
            if let Some(ja4) = session.info.ja4.as_mut() {
                if let Some(rest) = ja4.strip_prefix('t') {
                    *ja4 = format!("d{rest}");
                }
            }
        }
        _ => session.on_handshake_message(role, msg_type, body),
    }
}

/// A DTLS ClientHello body with its cookie removed (RFC 6347 §4.2.1: `cookie<0..2^8-1>`
/// follows `session_id`), which is exactly a TLS ClientHello body.
pub fn client_hello_without_cookie(body: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(body, "DTLS ClientHello");
    let head = r.bytes(2 + 32).ok()?;
    let sid = r.vec8().ok()?;
    r.vec8().ok()?; // cookie
    let mut out = Vec::with_capacity(body.len());
    out.extend_from_slice(head);
    out.push(u8::try_from(sid.len()).ok()?);
    out.extend_from_slice(sid);
    out.extend_from_slice(r.rest());
    Some(out)
}

#[cfg(test)]
mod tests;
