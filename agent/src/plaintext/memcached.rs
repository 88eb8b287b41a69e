//! Memcached text protocol (memcached `doc/protocol.txt`) and the binary
//! protocol header (magic 0x80 request / 0x81 response, "Memcache Binary
//! Protocol" draft). Binary SASL PLAIN (opcode 0x21) is a credential.

use super::wire::{self, lines, Reader};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

/// Storage commands carry `<bytes>` of data after the command line.
const STORAGE: &[&[u8]] = &[b"set", b"add", b"replace", b"append", b"prepend", b"cas"];
/// Other text commands.
const OTHER: &[&[u8]] = &[
    b"get",
    b"gets",
    b"gat",
    b"gats",
    b"delete",
    b"incr",
    b"decr",
    b"touch",
    b"stats",
    b"version",
    b"flush_all",
    b"verbosity",
    b"quit",
    b"mg",
    b"ms",
    b"md",
    b"mn",
    b"ma",
    b"me",
];
/// Server reply lines.
const REPLIES: &[&[u8]] = &[
    b"VALUE",
    b"STORED",
    b"NOT_STORED",
    b"EXISTS",
    b"NOT_FOUND",
    b"DELETED",
    b"END",
    b"STAT",
    b"VERSION",
    b"TOUCHED",
    b"ERROR",
    b"CLIENT_ERROR",
    b"SERVER_ERROR",
];
/// Binary protocol magic bytes.
const MAGIC_REQUEST: u8 = 0x80;
const MAGIC_RESPONSE: u8 = 0x81;
/// Binary opcode SASL Auth.
const OP_SASL_AUTH: u8 = 0x21;

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    let magic = match dir {
        Direction::ToServer => MAGIC_REQUEST,
        Direction::ToClient => MAGIC_RESPONSE,
    };
    if data.first() == Some(&magic) {
        // 24-byte header: magic, opcode, key length, extras length, data type 0.
        let mut r = Reader::new(data);
        let (Some(_), Some(op), Some(keylen), Some(extlen), Some(dtype)) =
            (r.u8(), r.u8(), r.u16_be(), r.u8(), r.u8())
        else {
            return Verdict::Maybe;
        };
        let _ = r.skip(2);
        let Some(body) = r.u32_be() else {
            return Verdict::Maybe;
        };
        let plausible = dtype == 0
            && op <= 0x48
            && u32::from(keylen) + u32::from(extlen) <= body
            && body < 1 << 20;
        return if plausible {
            Verdict::Weak
        } else {
            Verdict::No
        };
    }
    let Some((line, _)) = lines(data, 0).next() else {
        return Verdict::No;
    };
    let word = wire::words(line).next().unwrap_or(&[]);
    match dir {
        Direction::ToServer => {
            // Commands are case-sensitive lower case; storage commands carry
            // numeric <flags> <exptime> <bytes>.
            let lower = word.to_vec();
            let numeric = wire::words(line)
                .skip(2)
                .take(3)
                .filter(|w| w.iter().all(u8::is_ascii_digit))
                .count();
            let storage = STORAGE.contains(&lower.as_slice()) && numeric == 3;
            if storage
                || matches!(
                    lower.as_slice(),
                    b"stats" | b"version" | b"gets" | b"flush_all"
                )
            {
                Verdict::Yes
            } else if OTHER.contains(&lower.as_slice()) {
                Verdict::Weak
            } else {
                Verdict::No
            }
        }
        Direction::ToClient => {
            if matches!(word, b"VALUE" | b"STAT" | b"STORED" | b"NOT_STORED") {
                Verdict::Yes
            } else if REPLIES.contains(&word) {
                Verdict::Weak
            } else {
                Verdict::No
            }
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Memcached {
    pos: usize,
    skip: usize,
    stop: bool,
    commands: usize,
    binary: bool,
    verbs: Vec<String>,
    creds: Vec<Cred>,
    version: Option<String>,
    spos: usize,
}

const MAX_COMMANDS: usize = 64;

impl Memcached {
    fn client(&mut self, data: &[u8]) {
        while !self.stop && self.commands < MAX_COMMANDS {
            if data.get(self.pos) == Some(&MAGIC_REQUEST) {
                self.binary = true;
                let mut r = Reader::new(data.get(self.pos..).unwrap_or(&[]));
                let (Some(_), Some(op), Some(keylen), Some(extlen)) =
                    (r.u8(), r.u8(), r.u16_be(), r.u8())
                else {
                    return;
                };
                let _ = r.skip(3);
                let Some(body) = r.u32_be() else { return };
                let body = body as usize;
                let _ = r.skip(12);
                let Some(payload) = r.take(body) else { return };
                self.pos += 24 + body;
                self.commands += 1;
                if op == OP_SASL_AUTH {
                    let key =
                        payload.get(usize::from(extlen)..usize::from(extlen) + usize::from(keylen));
                    if key == Some(b"PLAIN") {
                        let value = payload
                            .get(usize::from(extlen) + usize::from(keylen)..)
                            .unwrap_or(&[]);
                        if let Some((user, true)) = wire::sasl_plain_user(value) {
                            push_cred(&mut self.creds, Cred::new("sasl_plain", Some(user)));
                        }
                    }
                }
                continue;
            }
            if self.skip > 0 {
                if data.len() < self.pos.saturating_add(self.skip) {
                    return;
                }
                self.pos += self.skip;
                self.skip = 0;
            }
            let Some((line, end)) = lines(data, self.pos).next() else {
                return;
            };
            self.pos = end;
            if line.iter().any(|&b| !wire::is_text_byte(b)) {
                self.stop = true;
                return;
            }
            self.commands += 1;
            let args: Vec<&[u8]> = wire::words(line).collect();
            let Some(cmd) = args.first() else { continue };
            let lower = cmd.to_ascii_lowercase();
            push_verb(&mut self.verbs, wire::token(&lower));
            if STORAGE.contains(&lower.as_slice()) {
                // <command> <key> <flags> <exptime> <bytes> [...]: data block + CRLF.
                let n = args
                    .get(4)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|b| b.parse::<usize>().ok());
                match n {
                    Some(n) => self.skip = n.saturating_add(2),
                    None => self.stop = true,
                }
            }
        }
    }

    fn server(&mut self, data: &[u8]) {
        if self.version.is_some() {
            return;
        }
        for (line, end) in lines(data, self.spos).take(64) {
            self.spos = end;
            if let Some(v) = line.strip_prefix(b"VERSION ") {
                self.version = Some(wire::printable(v, 32));
                return;
            }
            if let Some(v) = line.strip_prefix(b"STAT version ") {
                self.version = Some(wire::printable(v, 32));
                return;
            }
        }
    }
}

impl Analyzer for Memcached {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        match dir {
            Direction::ToServer => self.client(data),
            Direction::ToClient => self.server(data),
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        f.version = self.version.clone();
        if self.binary {
            f.attrs.insert("encoding", "binary".into());
        }
        f.done = self.commands >= 4 || self.version.is_some();
    }
}
