//! AMQP 0-9-1 (AMQP 0-9-1 specification §4.2.2 protocol header, §4.2.3 frames,
//! Connection.Start / Start-Ok with SASL PLAIN and AMQPLAIN) and AMQP 1.0
//! (OASIS AMQP 1.0 §2.2 protocol headers: id 0 AMQP, 2 TLS, 3 SASL; §5.3.3.3
//! sasl-init). A TLS protocol header means the connection is encrypted.

use super::wire::{self, Reader};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

const HEADER_091: &[u8] = b"AMQP\x00\x00\x09\x01";
/// Protocol ids in "AMQP" id major minor revision (AMQP 1.0 §2.2).
const ID_AMQP: u8 = 0;
const ID_TLS: u8 = 2;
const ID_SASL: u8 = 3;
/// 0-9-1 frame type METHOD and class/method ids for connection.start(-ok).
const FRAME_METHOD: u8 = 1;
const CLASS_CONNECTION: u16 = 10;
const METHOD_START: u16 = 10;
const METHOD_START_OK: u16 = 11;
/// AMQP 1.0 SASL frame type and sasl-init descriptor code.
const FRAME_SASL: u8 = 1;
const SASL_INIT: u8 = 0x41;

pub(crate) fn sniff(_dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if data.len() < 8 {
        return if b"AMQP".starts_with(data.get(..data.len().min(4)).unwrap_or(&[])) {
            Verdict::Maybe
        } else {
            Verdict::No
        };
    }
    if data.starts_with(b"AMQP") {
        Verdict::Yes
    } else {
        Verdict::No
    }
}

#[derive(Debug, Default)]
pub(crate) struct Amqp {
    /// (protocol id, major, minor, revision) of each direction's header.
    header: [Option<[u8; 4]>; 2],
    checked: [bool; 2],
    pos: [usize; 2],
    frames: usize,
    stop: bool,
    server_mechanisms: Option<String>,
    mechanism: Option<String>,
    creds: Vec<Cred>,
    verbs: Vec<String>,
}

impl Amqp {
    fn v091(&self) -> bool {
        self.header
            .iter()
            .flatten()
            .any(|h| HEADER_091.ends_with(h))
    }

    fn frames_091(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        while !self.stop && self.frames < 32 {
            let Some(&pos) = self.pos.get(i) else { return };
            let mut r = Reader::new(data.get(pos..).unwrap_or(&[]));
            let (Some(ty), Some(_ch), Some(size)) = (r.u8(), r.u16_be(), r.u32_be()) else {
                return;
            };
            if size > 1 << 20 {
                self.stop = true;
                return;
            }
            let Some(payload) = r.take(size as usize) else {
                return;
            };
            // frame-end octet (§4.2.3); not arrived yet means wait.
            match r.u8() {
                None => return,
                Some(0xCE) => {}
                Some(_) => {
                    self.stop = true;
                    return;
                }
            }
            if let Some(p) = self.pos.get_mut(i) {
                *p += 8 + size as usize;
            }
            self.frames += 1;
            if ty != FRAME_METHOD {
                continue;
            }
            let mut m = Reader::new(payload);
            let (Some(class), Some(method)) = (m.u16_be(), m.u16_be()) else {
                continue;
            };
            match (class, method) {
                (CLASS_CONNECTION, METHOD_START) => {
                    // version-major, version-minor, server-properties, mechanisms, locales
                    let _ = m.skip(2);
                    let props = m.u32_be().unwrap_or(0);
                    let _ = m.skip(props as usize);
                    let n = m.u32_be().unwrap_or(0);
                    if let Some(mechs) = m.take(n as usize) {
                        self.server_mechanisms = Some(wire::printable(mechs, 64));
                    }
                }
                (CLASS_CONNECTION, METHOD_START_OK) => {
                    push_verb(&mut self.verbs, Some("START-OK".into()));
                    let props = m.u32_be().unwrap_or(0);
                    let _ = m.skip(props as usize);
                    let ml = m.u8().unwrap_or(0);
                    let mech = m.take(usize::from(ml)).unwrap_or(&[]).to_vec();
                    let rl = m.u32_be().unwrap_or(0);
                    let response = m.take(rl as usize).unwrap_or(&[]);
                    self.mechanism = Some(wire::printable(&mech, 32));
                    self.response(&mech, response);
                }
                (c, me) => push_verb(&mut self.verbs, Some(format!("{c}.{me}"))),
            }
        }
    }

    fn response(&mut self, mech: &[u8], response: &[u8]) {
        match mech {
            b"PLAIN" => {
                if let Some((user, true)) = wire::sasl_plain_user(response) {
                    push_cred(&mut self.creds, Cred::new("sasl_plain", Some(user)));
                }
            }
            b"AMQPLAIN" => {
                // A field table without its length: shortstr key, type, value.
                let mut r = Reader::new(response);
                let mut user = None;
                let mut has_pw = false;
                for _ in 0..8 {
                    let Some(kl) = r.u8() else { break };
                    let Some(k) = r.take(usize::from(kl)) else {
                        break;
                    };
                    let (Some(b'S'), Some(vl)) = (r.u8(), r.u32_be()) else {
                        break;
                    };
                    let Some(v) = r.take(vl as usize) else { break };
                    match k {
                        b"LOGIN" => user = Some(wire::printable(v, 128)),
                        b"PASSWORD" => has_pw = !v.is_empty(),
                        _ => {}
                    }
                }
                if has_pw {
                    push_cred(&mut self.creds, Cred::new("amqplain", user));
                }
            }
            _ => {}
        }
    }

    /// AMQP 1.0 SASL frames from the client: find sasl-init (mechanism, initial-response).
    fn frames_10_sasl(&mut self, data: &[u8]) {
        while !self.stop && self.frames < 16 {
            let Some(&pos) = self.pos.first() else { return };
            let mut r = Reader::new(data.get(pos..).unwrap_or(&[]));
            let (Some(size), Some(doff), Some(ty)) = (r.u32_be(), r.u8(), r.u8()) else {
                return;
            };
            if !(8..1 << 20).contains(&size) || doff < 2 {
                self.stop = true;
                return;
            }
            let Some(frame) = data.get(pos..pos + size as usize) else {
                return;
            };
            if let Some(p) = self.pos.first_mut() {
                *p += size as usize;
            }
            self.frames += 1;
            if ty != FRAME_SASL {
                self.stop = true;
                return;
            }
            let mut b = Reader::new(frame.get(usize::from(doff) * 4..).unwrap_or(&[]));
            // Described type: 0x00, smallulong 0x53 code.
            if (b.u8(), b.u8(), b.u8()) != (Some(0x00), Some(0x53), Some(SASL_INIT)) {
                continue;
            }
            // list8 (0xc0 size count) or list32 (0xd0 size count).
            match b.u8() {
                Some(0xc0) => {
                    let _ = b.skip(2);
                }
                Some(0xd0) => {
                    let _ = b.skip(8);
                }
                _ => continue,
            }
            let mech = match b.u8() {
                Some(0xa3) => b.u8().and_then(|n| b.take(usize::from(n))),
                Some(0xb3) => b.u32_be().and_then(|n| b.take(n as usize)),
                _ => None,
            };
            let resp = match b.u8() {
                Some(0xa0) => b.u8().and_then(|n| b.take(usize::from(n))),
                Some(0xb0) => b.u32_be().and_then(|n| b.take(n as usize)),
                _ => None,
            };
            if let Some(m) = mech {
                self.mechanism = Some(wire::printable(m, 32));
                if let (b"PLAIN", Some(resp)) = (m, resp) {
                    if let Some((user, true)) = wire::sasl_plain_user(resp) {
                        push_cred(&mut self.creds, Cred::new("sasl_plain", Some(user)));
                    }
                }
            }
            self.stop = true;
        }
    }
}

impl Analyzer for Amqp {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        if self.checked.get(i) == Some(&false) {
            if data.len() < 8 && b"AMQP".starts_with(data.get(..data.len().min(4)).unwrap_or(&[])) {
                return;
            }
            if let Some(c) = self.checked.get_mut(i) {
                *c = true;
            }
            // The 0-9-1 server answers with frames, not a header (§4.2.2).
            if let Some(h) = data.get(4..8).filter(|_| data.starts_with(b"AMQP")) {
                let mut v = [0u8; 4];
                v.copy_from_slice(h);
                if let Some(slot) = self.header.get_mut(i) {
                    *slot = Some(v);
                }
                if let Some(p) = self.pos.get_mut(i) {
                    *p = 8;
                }
            }
        }
        if self.v091() {
            self.frames_091(dir, data);
        } else if dir == Direction::ToServer
            && self.header.first().copied().flatten().map(|h| h[0]) == Some(ID_SASL)
        {
            self.frames_10_sasl(data);
        }
    }

    fn facts(&self, f: &mut Facts) {
        let client = self.header.first().copied().flatten();
        let server = self.header.get(1).copied().flatten();
        if let Some(h) = client.or(server) {
            f.version = Some(match h {
                [ID_AMQP, 0, 9, 1] => "0-9-1".into(),
                [id, maj, min, rev] => {
                    let kind = match id {
                        ID_TLS => "tls",
                        ID_SASL => "sasl",
                        ID_AMQP => "amqp",
                        _ => "other",
                    };
                    format!("{maj}.{min}.{rev} {kind}")
                }
            });
            if h[0] == ID_TLS {
                // AMQP 1.0 §5.2.1: TLS starts right after the 8-byte headers.
                f.encrypted = true;
                f.tls_offsets = Some([8, 8]);
            }
        }
        if let Some(m) = &self.server_mechanisms {
            f.attrs.insert("server_mechanisms", m.clone());
        }
        if let Some(m) = &self.mechanism {
            f.attrs.insert("sasl_mechanism", m.clone());
        }
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        f.done = f.encrypted || self.mechanism.is_some() || self.stop;
    }
}
