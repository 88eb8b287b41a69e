//! Cleartext HTTP/2 ("h2c"): the prior-knowledge connection preface (RFC 9113
//! §3.4) followed by frames (§4.1). Header blocks (HEADERS + CONTINUATION, and
//! PUSH_PROMISE to keep the server's table in step) are decompressed with HPACK
//! (RFC 7541), one decoding context per direction, in frame order. From the
//! client's fields: the method, `:authority`, gRPC (`content-type:
//! application/grpc…`, service from `:path`) and credentials in
//! `authorization` / `proxy-authorization`, parsed as for HTTP/1.x; from the
//! server's: the first `:status` and `server`. Field values pass through a
//! callback: nothing else of them is kept.
//!
//! Limits: the first 64 frames of each direction; a decoding error stops
//! decoding that direction for good (its dynamic table is lost) but not the
//! frame walk; a peer's SETTINGS_HEADER_TABLE_SIZE above the default counts
//! only once its SETTINGS frame was walked (it is read from the other direction).

use super::hpack::{Decoder, HpackError};
use super::wire::{self, Reader};
use super::{http, push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

/// RFC 9113 §3.4 client connection preface.
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if dir != Direction::ToServer {
        return Verdict::No;
    }
    if data.starts_with(PREFACE) {
        Verdict::Yes
    } else if PREFACE.starts_with(data) {
        Verdict::Maybe
    } else {
        Verdict::No
    }
}

/// Frame types (RFC 9113 §6).
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const CONTINUATION: u8 = 0x9;
/// Frame flags (RFC 9113 §6.2, §6.5, §6.6).
const FLAG_ACK: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;
/// SETTINGS_HEADER_TABLE_SIZE identifier (RFC 9113 §6.5.2).
const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
/// Frame header length (RFC 9113 §4.1).
const FRAME_HEADER: usize = 9;

/// Frames walked per direction.
const MAX_FRAMES: usize = 64;
/// Largest header block (all fragments) decoded; a larger one stops decoding.
const MAX_BLOCK: usize = 64 * 1024;
/// Requests after which a connection without credentials is settled.
const MAX_REQUESTS: usize = 3;

/// Header-block state of one direction.
#[derive(Debug, Default)]
struct Side {
    hpack: Decoder,
    /// Fragments (offsets into this direction's bytes) of a block whose
    /// END_HEADERS has not come yet: offsets only, never the bytes.
    fragments: Vec<(usize, usize)>,
    /// Stream of that open block: only CONTINUATION on it may follow (§6.10).
    open: Option<u32>,
    /// The open block is a PUSH_PROMISE (a promised request, not a message).
    push: bool,
    /// Decoding stopped: HPACK error or a frame sequence that breaks it.
    stopped: bool,
    /// HEADERS blocks decoded.
    blocks: usize,
    /// Blocks that failed to decode, and blocks given up at a cap.
    errors: u32,
    capped: u32,
}

impl Side {
    fn stop(&mut self) {
        self.stopped = true;
        self.fragments.clear();
        self.open = None;
    }

    /// A HEADERS / PUSH_PROMISE / CONTINUATION fragment at `start..end`.
    fn fragment(&mut self, stream: u32, start: usize, end: usize) {
        let total: usize = self.fragments.iter().map(|(s, e)| e - s).sum();
        if end < start || total + (end - start) > MAX_BLOCK {
            if end >= start {
                self.capped += 1;
            }
            self.stop();
            return;
        }
        self.fragments.push((start, end));
        self.open = Some(stream);
    }
}

/// What the decoded fields told: no field value is kept beyond these facts.
#[derive(Debug, Default)]
struct Seen {
    verbs: Vec<String>,
    host: Option<String>,
    grpc: bool,
    grpc_service: Option<String>,
    status: Option<u16>,
    /// A 401 or 407 answer: credentials may come with a later request.
    challenged: bool,
    server: Option<String>,
    creds: Vec<Cred>,
}

/// Per-block state: the gRPC service of `:path` waits for the content type.
#[derive(Default)]
struct Block {
    service: Option<String>,
    grpc: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Http2 {
    pos: [usize; 2],
    frames: [usize; 2],
    settings: [bool; 2],
    /// One HPACK context per direction (RFC 7541 §2.2).
    sides: [Side; 2],
    seen: Seen,
}

/// One complete frame: header fields and the payload's offsets.
struct Frame {
    ty: u8,
    flags: u8,
    stream: u32,
    start: usize,
    end: usize,
}

fn frame_at(data: &[u8], pos: usize) -> Option<Frame> {
    let mut r = Reader::new(data.get(pos..)?);
    let (hi, lo) = (r.u8()?, r.u16_be()?);
    let len = (usize::from(hi) << 16) | usize::from(lo);
    let (ty, flags, stream) = (r.u8()?, r.u8()?, r.u32_be()? & 0x7fff_ffff);
    r.skip(len)?;
    let start = pos.checked_add(FRAME_HEADER)?;
    Some(Frame {
        ty,
        flags,
        stream,
        start,
        end: start.checked_add(len)?,
    })
}

impl Http2 {
    /// Per direction: header blocks decoded, and whether decoding stopped.
    #[cfg(test)]
    pub(crate) fn decoded(&self) -> [(usize, bool); 2] {
        let [c, s] = &self.sides;
        [(c.blocks, c.stopped), (s.blocks, s.stopped)]
    }

    fn frame(&mut self, dir: Direction, data: &[u8], f: &Frame) {
        let i = dir.index();
        if f.ty == SETTINGS {
            if let Some(s) = self.settings.get_mut(i) {
                *s = true;
            }
            if f.flags & FLAG_ACK == 0 {
                self.settings_frame(dir, data.get(f.start..f.end).unwrap_or(&[]));
            }
        }
        let Some(side) = self.sides.get_mut(i) else {
            return;
        };
        if side.stopped {
            return;
        }
        // While a block is open only its CONTINUATION may come (RFC 9113 §6.10).
        if let Some(stream) = side.open {
            if f.ty != CONTINUATION || f.stream != stream {
                side.stop();
                return;
            }
        }
        let payload = data.get(f.start..f.end).unwrap_or(&[]);
        let mut r = Reader::new(payload);
        let pad = if f.flags & FLAG_PADDED != 0 && f.ty != CONTINUATION {
            r.u8().map_or(usize::MAX, usize::from)
        } else {
            0
        };
        match f.ty {
            HEADERS => {
                // §6.2: Pad Length, then the priority fields when PRIORITY is set.
                if f.flags & FLAG_PRIORITY != 0 && r.skip(5).is_none() {
                    side.stop();
                    return;
                }
                side.push = false;
            }
            PUSH_PROMISE if dir == Direction::ToClient => {
                // §6.6: Pad Length, then the promised stream id.
                if r.skip(4).is_none() {
                    side.stop();
                    return;
                }
                side.push = true;
            }
            // A client cannot push (§8.4): nothing more can be trusted.
            PUSH_PROMISE => {
                side.stop();
                return;
            }
            CONTINUATION if side.open.is_some() => {}
            CONTINUATION => {
                side.stop();
                return;
            }
            _ => return,
        }
        let start = f.start + r.pos();
        let Some(end) = f.end.checked_sub(pad).filter(|&e| e >= start) else {
            side.stop();
            return;
        };
        side.fragment(f.stream, start, end);
        if f.flags & FLAG_END_HEADERS != 0 {
            self.decode(dir, data);
        }
    }

    /// SETTINGS parameters (RFC 9113 §6.5.1): the sender's header table size
    /// bounds the table of the blocks it receives, i.e. the other direction's.
    fn settings_frame(&mut self, dir: Direction, payload: &[u8]) {
        let mut r = Reader::new(payload);
        while let (Some(id), Some(value)) = (r.u16_be(), r.u32_be()) {
            if id == SETTINGS_HEADER_TABLE_SIZE {
                if let Some(other) = self.sides.get_mut(dir.reverse().index()) {
                    other.hpack.set_settings_table_size(value);
                }
            }
        }
    }

    /// Decode the block just completed by END_HEADERS.
    fn decode(&mut self, dir: Direction, data: &[u8]) {
        let Some(side) = self.sides.get_mut(dir.index()) else {
            return;
        };
        let mut block = Vec::new();
        for &(s, e) in &side.fragments {
            match data.get(s..e) {
                Some(b) => block.extend_from_slice(b),
                None => {
                    side.stop();
                    return;
                }
            }
        }
        side.fragments.clear();
        side.open = None;
        let push = side.push;
        let seen = &mut self.seen;
        let mut msg = Block::default();
        let res = side.hpack.decode(&block, |name, value| {
            if !push {
                seen.field(dir, &mut msg, name, value);
            }
        });
        match res {
            Ok(()) if !push => side.blocks += 1,
            Ok(()) => {}
            Err(HpackError::StringTooLong | HpackError::TooManyFields) => {
                side.capped += 1;
                side.stop();
            }
            Err(_) => {
                side.errors += 1;
                side.stop();
            }
        }
    }
}

impl Seen {
    fn field(&mut self, dir: Direction, msg: &mut Block, name: &[u8], value: &[u8]) {
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        match dir {
            Direction::ToServer => {
                if is(b":method") {
                    push_verb(&mut self.verbs, wire::token(value));
                } else if is(b":authority") || is(b"host") {
                    if self.host.is_none() {
                        self.host = authority(value);
                    }
                } else if is(b":path") {
                    msg.service = grpc_service(value);
                } else if is(b"content-type") {
                    msg.grpc = msg.grpc || is_grpc(value);
                } else if is(b"authorization") || is(b"proxy-authorization") {
                    if let Some(c) = http::authorization(value) {
                        push_cred(&mut self.creds, c);
                    }
                }
                if msg.grpc {
                    self.grpc = true;
                    if self.grpc_service.is_none() {
                        self.grpc_service = msg.service.take();
                    }
                }
            }
            Direction::ToClient => {
                if is(b":status") {
                    let code = std::str::from_utf8(value)
                        .ok()
                        .and_then(|c| c.parse::<u16>().ok());
                    if self.status.is_none() {
                        self.status = code;
                    }
                    self.challenged = self.challenged || matches!(code, Some(401 | 407));
                } else if is(b"server") {
                    if self.server.is_none() {
                        self.server = Some(wire::printable(value, 64));
                    }
                } else if is(b"content-type") && is_grpc(value) {
                    self.grpc = true;
                }
            }
        }
    }
}

/// `application/grpc`, `application/grpc+proto`… (gRPC over HTTP/2 protocol spec).
fn is_grpc(content_type: &[u8]) -> bool {
    content_type
        .get(..16)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc"))
}

/// `:authority` without a userinfo part (RFC 9113 §8.3.1 forbids it; a
/// client that sends one anyway must not get it into events).
fn authority(value: &[u8]) -> Option<String> {
    let host = value.rsplit(|&b| b == b'@').next().unwrap_or(value);
    (!host.is_empty()).then(|| wire::printable(host, 128))
}

/// The service of a gRPC `:path`, `/package.Service/Method` → `package.Service`.
fn grpc_service(path: &[u8]) -> Option<String> {
    let rest = path.strip_prefix(b"/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (service, method) = (rest.get(..slash)?, rest.get(slash + 1..)?);
    let name = |s: &[u8]| {
        !s.is_empty()
            && s.len() <= 128
            && s.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    (name(service) && name(method)).then(|| wire::printable(service, 128))
}

impl Analyzer for Http2 {
    fn trouble(&self) -> super::Trouble {
        super::Trouble {
            hpack_errors: self.sides.iter().map(|s| s.errors).sum(),
            hpack_capped: self.sides.iter().map(|s| s.capped).sum(),
        }
    }

    fn feed(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        let (Some(&pos), Some(&frames)) = (self.pos.get(i), self.frames.get(i)) else {
            return;
        };
        let (mut pos, mut frames) = (pos, frames);
        if dir == Direction::ToServer && pos == 0 {
            if !data.starts_with(PREFACE) {
                return;
            }
            pos = PREFACE.len();
        }
        while frames < MAX_FRAMES {
            let Some(f) = frame_at(data, pos) else {
                break;
            };
            pos = f.end;
            frames += 1;
            self.frame(dir, data, &f);
        }
        if let (Some(p), Some(n)) = (self.pos.get_mut(i), self.frames.get_mut(i)) {
            *p = pos;
            *n = frames;
        }
    }

    fn facts(&self, f: &mut Facts) {
        let s = &self.seen;
        f.version = Some("HTTP/2".into());
        f.attrs.insert("h2c", "prior-knowledge".into());
        f.verbs = s.verbs.clone();
        f.creds = s.creds.clone();
        if let Some(h) = &s.host {
            f.attrs.insert("host", h.clone());
        }
        if s.grpc {
            f.attrs.insert("grpc", "true".into());
        }
        if let Some(g) = &s.grpc_service {
            f.attrs.insert("grpc_service", g.clone());
        }
        if let Some(c) = s.status {
            f.attrs.insert("status", c.to_string());
        }
        if let Some(v) = &s.server {
            f.attrs.insert("server", v.clone());
        }
        // As for HTTP/1.x: credentials may follow a 401 on a later request, so
        // the verdict is settled by a credential, an unchallenged answer, a few
        // requests, or a client direction that cannot be read further.
        let [client, _] = &self.sides;
        let answered = client.blocks >= 1 && s.status.is_some() && !s.challenged;
        f.done = self.settings.iter().all(|&x| x)
            && (!s.creds.is_empty()
                || answered
                || client.blocks >= MAX_REQUESTS
                || client.stopped
                || self.frames.first().is_some_and(|&n| n >= MAX_FRAMES));
    }
}
