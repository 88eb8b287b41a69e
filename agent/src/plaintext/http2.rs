//! Cleartext HTTP/2 ("h2c"): the prior-knowledge connection preface (RFC 9113
//! §3.4) followed by frames (§4.1). gRPC (content-type `application/grpc`) is
//! recognised when the HPACK literal is not Huffman-coded; headers are not
//! decompressed, so this is best effort and documented as such.

use super::wire::Reader;
use super::{Analyzer, Facts, Verdict};
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

#[derive(Debug, Default)]
pub(crate) struct Http2 {
    pos: [usize; 2],
    frames: [usize; 2],
    settings: [bool; 2],
    headers: usize,
    grpc: bool,
}

const MAX_FRAMES: usize = 64;

impl Analyzer for Http2 {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        let (Some(pos), Some(frames)) = (self.pos.get_mut(i), self.frames.get_mut(i)) else {
            return;
        };
        if dir == Direction::ToServer && *pos == 0 {
            if !data.starts_with(PREFACE) {
                return;
            }
            *pos = PREFACE.len();
        }
        while *frames < MAX_FRAMES {
            let mut r = Reader::new(data.get(*pos..).unwrap_or(&[]));
            let (Some(hi), Some(lo)) = (r.u8(), r.u16_be()) else {
                return;
            };
            let len = (usize::from(hi) << 16) | usize::from(lo);
            let (Some(ty), Some(_flags), Some(_stream)) = (r.u8(), r.u8(), r.u32_be()) else {
                return;
            };
            let Some(payload) = r.take(len) else { return };
            *pos += 9 + len;
            *frames += 1;
            match ty {
                SETTINGS => {
                    if let Some(s) = self.settings.get_mut(i) {
                        *s = true;
                    }
                }
                HEADERS => {
                    self.headers += 1;
                    if payload.windows(16).any(|w| w == b"application/grpc") {
                        self.grpc = true;
                    }
                }
                _ => {}
            }
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.version = Some("HTTP/2".into());
        f.attrs.insert("h2c", "prior-knowledge".into());
        if self.grpc {
            f.attrs.insert("grpc", "true".into());
        }
        f.done = self.headers > 0 && self.settings.iter().all(|&s| s);
    }
}
