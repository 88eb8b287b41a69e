//! MQTT CONNECT (MQTT 3.1 "MQIsdp", 3.1.1 OASIS §3.1, 5.0 OASIS §3.1): fixed
//! header 0x10, remaining length, protocol name and level, connect flags with
//! the user name (0x80) and password (0x40) bits. CONNACK (0x20) gives the result.

use super::wire::{self, Reader};
use super::{push_cred, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

const CONNECT: u8 = 0x10;
const CONNACK: u8 = 0x20;
const FLAG_USERNAME: u8 = 0x80;
const FLAG_PASSWORD: u8 = 0x40;
const FLAG_WILL: u8 = 0x04;

/// The variable-length "remaining length" (§2.2.3): up to 4 bytes.
fn remaining_length(r: &mut Reader<'_>) -> Option<usize> {
    let mut v = 0usize;
    for i in 0..4 {
        let b = r.u8()?;
        v |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if dir != Direction::ToServer {
        return Verdict::No;
    }
    let mut r = Reader::new(data);
    match r.u8() {
        Some(CONNECT) => {}
        None => return Verdict::Maybe,
        Some(_) => return Verdict::No,
    }
    let Some(_len) = remaining_length(&mut r) else {
        return Verdict::Maybe;
    };
    let Some(n) = r.u16_be() else {
        return Verdict::Maybe;
    };
    match (n, r.take(usize::from(n))) {
        (4, Some(b"MQTT")) | (6, Some(b"MQIsdp")) => Verdict::Yes,
        (4 | 6, None) => Verdict::Maybe,
        _ => Verdict::No,
    }
}

#[derive(Debug, Default)]
pub(crate) struct Mqtt {
    parsed: bool,
    level: Option<u8>,
    flags: u8,
    client_id: Option<String>,
    user: Option<String>,
    connack: Option<u8>,
}

/// A UTF-8 string or binary field: u16 length + bytes.
fn field<'a>(r: &mut Reader<'a>) -> Option<&'a [u8]> {
    let n = r.u16_be()?;
    r.take(usize::from(n))
}

impl Mqtt {
    fn connect(&mut self, data: &[u8]) -> Option<()> {
        let mut r = Reader::new(data);
        let _ = r.u8()?;
        let len = remaining_length(&mut r)?;
        let body = r.take(len)?;
        self.parsed = true;
        let mut b = Reader::new(body);
        let _name = field(&mut b)?;
        self.level = Some(b.u8()?);
        self.flags = b.u8()?;
        let _keepalive = b.u16_be()?;
        if self.level == Some(5) {
            let plen = remaining_length(&mut b)?;
            b.skip(plen)?;
        }
        self.client_id = Some(wire::printable(field(&mut b)?, 64));
        if self.flags & FLAG_WILL != 0 {
            if self.level == Some(5) {
                let plen = remaining_length(&mut b)?;
                b.skip(plen)?;
            }
            let _topic = field(&mut b)?;
            let _payload = field(&mut b)?;
        }
        if self.flags & FLAG_USERNAME != 0 {
            self.user = Some(wire::printable(field(&mut b)?, 128));
        }
        // The password field follows; it is not read.
        Some(())
    }
}

impl Analyzer for Mqtt {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        match dir {
            Direction::ToServer if !self.parsed => {
                let _ = self.connect(data);
            }
            Direction::ToClient if self.connack.is_none() => {
                let mut r = Reader::new(data);
                if r.u8() == Some(CONNACK) && r.u8().is_some() {
                    let _session_present = r.u8();
                    self.connack = r.u8();
                }
            }
            _ => {}
        }
    }

    fn facts(&self, f: &mut Facts) {
        if let Some(l) = self.level {
            f.version = Some(
                match l {
                    3 => "3.1",
                    4 => "3.1.1",
                    5 => "5.0",
                    _ => "other",
                }
                .into(),
            );
        }
        f.verbs.push("CONNECT".into());
        if let Some(c) = &self.client_id {
            f.attrs.insert("client_id", c.clone());
        }
        if let Some(c) = self.connack {
            f.attrs.insert("connack", c.to_string());
        }
        if self.parsed && self.flags & FLAG_PASSWORD != 0 {
            push_cred(
                &mut f.creds,
                Cred::new("connect_password", self.user.clone()),
            );
        }
        f.done = self.parsed && self.connack.is_some();
    }
}
