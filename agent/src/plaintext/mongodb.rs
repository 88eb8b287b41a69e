//! MongoDB wire protocol (mongodb.com "MongoDB Wire Protocol"): standard message
//! header, OP_MSG (2013), OP_QUERY (2004), OP_REPLY (1), OP_COMPRESSED (2012);
//! BSON (bsonspec.org 1.1) just enough to read a command name and a
//! `saslStart` with mechanism PLAIN (RFC 4616 payload).

use super::wire::{self, Reader};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

const OP_REPLY: u32 = 1;
const OP_QUERY: u32 = 2004;
const OP_COMPRESSED: u32 = 2012;
const OP_MSG: u32 = 2013;
/// Default maxMessageSizeBytes (48 MB).
const MAX_MESSAGE: u32 = 48_000_000;

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    let mut r = Reader::new(data);
    let (Some(len), Some(_req), Some(resp_to), Some(op)) =
        (r.u32_le(), r.u32_le(), r.u32_le(), r.u32_le())
    else {
        return if data.len() < 16 && data.get(3).is_none_or(|&b| b < 3) {
            Verdict::Maybe
        } else {
            Verdict::No
        };
    };
    if !(21..=MAX_MESSAGE).contains(&len) {
        return Verdict::No;
    }
    match (dir, op) {
        (Direction::ToServer, OP_QUERY) => {
            // flags, then fullCollectionName "db.collection".
            let _ = r.skip(4);
            match r.cstr() {
                Some(ns) if ns.contains(&b'.') && ns.iter().all(u8::is_ascii_graphic) => {
                    Verdict::Yes
                }
                None if data.len() < 64 => Verdict::Maybe,
                _ => Verdict::No,
            }
        }
        (Direction::ToServer, OP_MSG) if resp_to == 0 => msg_verdict(&mut r),
        (Direction::ToClient, OP_MSG) if resp_to != 0 => msg_verdict(&mut r),
        (Direction::ToClient, OP_REPLY) if resp_to != 0 => Verdict::Weak,
        (_, OP_COMPRESSED) => Verdict::Weak,
        _ => Verdict::No,
    }
}

/// OP_MSG: flagBits then a kind-0 section holding a BSON document.
fn msg_verdict(r: &mut Reader<'_>) -> Verdict {
    let (Some(flags), Some(kind)) = (r.u32_le(), r.u8()) else {
        return Verdict::Maybe;
    };
    // Only bits 0, 1 and 16 are defined.
    if flags & !0x0001_0003 != 0 || kind > 1 {
        return Verdict::No;
    }
    match r.i32_le() {
        Some(n) if n >= 5 => Verdict::Yes,
        Some(_) => Verdict::No,
        None => Verdict::Maybe,
    }
}

/// One BSON element: (type, key, value bytes).
type Element<'a> = (u8, &'a [u8], &'a [u8]);

/// Top-level elements of a BSON document (at most `max`), borrowed.
fn elements(doc: &[u8], max: usize) -> Vec<Element<'_>> {
    let mut out = Vec::new();
    let mut r = Reader::new(doc);
    let Some(total) = r.i32_le() else { return out };
    let total = usize::try_from(total).unwrap_or(0).min(doc.len());
    let mut r = Reader::new(doc.get(4..total).unwrap_or(&[]));
    while out.len() < max {
        let Some(ty) = r.u8() else { break };
        if ty == 0 {
            break;
        }
        let Some(key) = r.cstr() else { break };
        let size = match ty {
            0x01 | 0x09 | 0x11 | 0x12 => Some(8),
            0x02 | 0x0D | 0x0E => r
                .rest()
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(|b| 4 + usize::try_from(i32::from_le_bytes(b)).unwrap_or(usize::MAX / 2)),
            0x03 | 0x04 | 0x0F => r
                .rest()
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(|b| usize::try_from(i32::from_le_bytes(b)).unwrap_or(usize::MAX / 2)),
            0x05 => r
                .rest()
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(|b| 5 + usize::try_from(i32::from_le_bytes(b)).unwrap_or(usize::MAX / 2)),
            0x07 => Some(12),
            0x08 => Some(1),
            0x0A | 0x06 | 0x7F | 0xFF => Some(0),
            0x10 => Some(4),
            0x13 => Some(16),
            _ => None,
        };
        let Some(value) = size.and_then(|n| r.take(n)) else {
            break;
        };
        out.push((ty, key, value));
    }
    out
}

/// A BSON string value (int32 length including NUL, bytes, NUL).
fn bson_str(v: &[u8]) -> Option<&[u8]> {
    let s = v.get(4..)?;
    Some(s.strip_suffix(&[0]).unwrap_or(s))
}

/// A BSON binary value (int32 length, subtype, bytes).
fn bson_bin(v: &[u8]) -> Option<&[u8]> {
    v.get(5..)
}

#[derive(Debug, Default)]
pub(crate) struct Mongodb {
    pos: [usize; 2],
    msgs: [usize; 2],
    stop: [bool; 2],
    verbs: Vec<String>,
    creds: Vec<Cred>,
    mechanisms: Vec<String>,
    compressed: bool,
    legacy: bool,
}

const MAX_MSGS: usize = 32;

impl Mongodb {
    fn command(&mut self, doc: &[u8]) {
        let els = elements(doc, 16);
        let Some((_, name, _)) = els.first() else {
            return;
        };
        push_verb(
            &mut self.verbs,
            wire::token(name).map(|_| wire::printable(name, 24)),
        );
        if *name != b"saslStart" {
            return;
        }
        let mech = els
            .iter()
            .find(|(t, k, _)| *t == 0x02 && *k == b"mechanism")
            .and_then(|(_, _, v)| bson_str(v));
        if let Some(m) = mech {
            let m = wire::printable(m, 32);
            if !self.mechanisms.contains(&m) {
                self.mechanisms.push(m.clone());
            }
            if m == "PLAIN" {
                let payload =
                    els.iter()
                        .find(|(_, k, _)| *k == b"payload")
                        .and_then(|(t, _, v)| match t {
                            0x05 => bson_bin(v),
                            0x02 => bson_str(v),
                            _ => None,
                        });
                if let Some((user, true)) = payload.and_then(wire::sasl_plain_user) {
                    push_cred(&mut self.creds, Cred::new("sasl_plain", Some(user)));
                }
            }
        }
    }
}

impl Analyzer for Mongodb {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        loop {
            let (Some(&pos), Some(&n), Some(&stop)) =
                (self.pos.get(i), self.msgs.get(i), self.stop.get(i))
            else {
                return;
            };
            if stop || n >= MAX_MSGS {
                return;
            }
            let msg = data.get(pos..).unwrap_or(&[]);
            let mut r = Reader::new(msg);
            let (Some(len), Some(_), Some(_), Some(op)) =
                (r.u32_le(), r.u32_le(), r.u32_le(), r.u32_le())
            else {
                return;
            };
            if !(16..=MAX_MESSAGE).contains(&len) {
                if let Some(s) = self.stop.get_mut(i) {
                    *s = true;
                }
                return;
            }
            let Some(body) = msg.get(16..len as usize) else {
                return;
            };
            if let Some(p) = self.pos.get_mut(i) {
                *p += len as usize;
            }
            if let Some(m) = self.msgs.get_mut(i) {
                *m += 1;
            }
            if dir != Direction::ToServer {
                if op == OP_COMPRESSED {
                    self.compressed = true;
                }
                continue;
            }
            let mut b = Reader::new(body);
            match op {
                OP_MSG => {
                    let _flags = b.u32_le();
                    if b.u8() == Some(0) {
                        self.command(b.rest());
                    }
                }
                OP_QUERY => {
                    self.legacy = true;
                    let _flags = b.u32_le();
                    let _ns = b.cstr();
                    let _ = b.skip(8);
                    self.command(b.rest());
                }
                OP_COMPRESSED => self.compressed = true,
                _ => {}
            }
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        if !self.mechanisms.is_empty() {
            f.attrs.insert("sasl_mechanisms", self.mechanisms.join(" "));
        }
        if self.compressed {
            f.attrs.insert("compressed", "true".into());
        }
        f.version = Some(if self.legacy { "OP_QUERY" } else { "OP_MSG" }.into());
        f.done = self.msgs.iter().all(|&m| m >= 2) || !self.creds.is_empty();
    }
}
