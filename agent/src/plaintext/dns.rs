//! DNS over TCP (RFC 1035 §4.2.2: two-byte length prefix, then the message) and over
//! UDP (§4.2.1: one message a datagram); header §4.1.1. DNS is plaintext by design and
//! the default policy allows it.

use super::wire::Reader;
use super::{push_verb, Analyzer, Facts, Verdict};
use crate::flow::Direction;

/// Check a DNS message header and first question; `Yes` when it looks right.
fn header_ok(msg: &[u8], query: bool) -> Option<Verdict> {
    let mut r = Reader::new(msg);
    let _id = r.u16_be()?;
    let flags = r.u16_be()?;
    let qd = r.u16_be()?;
    let an = r.u16_be()?;
    let ns = r.u16_be()?;
    let ar = r.u16_be()?;
    let opcode = (flags >> 11) & 0xf;
    let is_response = flags & 0x8000 != 0;
    if opcode > 6
        || qd > 4
        || an > 512
        || ns > 512
        || ar > 512
        || (query && is_response)
        || (!query && !is_response)
    {
        return Some(Verdict::No);
    }
    if qd == 0 {
        return Some(if query { Verdict::No } else { Verdict::Weak });
    }
    // First question name: labels of 1..=63 bytes, ending with 0 or a pointer.
    let mut labels = 0;
    loop {
        let l = r.u8()?;
        if l == 0 {
            break;
        }
        if l & 0xc0 == 0xc0 {
            r.u8()?;
            break;
        }
        if l > 63 {
            return Some(Verdict::No);
        }
        let label = r.take(usize::from(l))?;
        if !label.iter().all(|b| b.is_ascii_graphic()) {
            return Some(Verdict::No);
        }
        labels += 1;
        if labels > 32 {
            return Some(Verdict::No);
        }
    }
    let qtype = r.u16_be()?;
    let qclass = r.u16_be()?;
    Some(
        if qtype != 0 && (qclass == 1 || qclass == 255 || qclass == 3 || qclass & 0x7fff == 1) {
            Verdict::Yes
        } else {
            Verdict::No
        },
    )
}

/// One UDP datagram. Only a whole, plausible message counts: a datagram cannot be
/// waited on, and many UDP protocols start with two arbitrary bytes.
pub(crate) fn sniff_datagram(dir: Direction, data: &[u8]) -> bool {
    data.len() >= 17 && header_ok(data, dir == Direction::ToServer) == Some(Verdict::Yes)
}

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    let mut r = Reader::new(data);
    let Some(len) = r.u16_be() else {
        return Verdict::Maybe;
    };
    let len = usize::from(len);
    if len < 17 {
        return Verdict::No;
    }
    let msg = r.rest();
    let msg = msg.get(..len).unwrap_or(msg);
    match header_ok(msg, dir == Direction::ToServer) {
        Some(v) => v,
        None if data.len() < 64 => Verdict::Maybe,
        None => Verdict::No,
    }
}

#[derive(Debug)]
pub(crate) struct Dns {
    /// UDP: each `feed` is one whole message, without a length prefix.
    datagram: bool,
    pos: [usize; 2],
    messages: [usize; 2],
    qname: Option<String>,
}

impl Dns {
    pub(crate) fn new(datagram: bool) -> Self {
        Dns {
            datagram,
            pos: [0; 2],
            messages: [0; 2],
            qname: None,
        }
    }
}

/// The first question's name, dotted (compression pointers end it).
fn qname(msg: &[u8]) -> Option<String> {
    let mut r = Reader::new(msg.get(12..)?);
    let mut name = String::new();
    for _ in 0..32 {
        let l = r.u8()?;
        if l == 0 || l & 0xc0 != 0 {
            break;
        }
        let label = r.take(usize::from(l))?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&super::wire::printable(label, 63));
    }
    Some(name)
}

impl Analyzer for Dns {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        let (Some(pos), Some(count)) = (self.pos.get_mut(i), self.messages.get_mut(i)) else {
            return;
        };
        if self.datagram {
            *count += 1;
            if self.qname.is_none() {
                self.qname = qname(data);
            }
            return;
        }
        while *count < 64 {
            let mut r = Reader::new(data.get(*pos..).unwrap_or(&[]));
            let Some(len) = r.u16_be() else { return };
            let Some(msg) = r.take(usize::from(len)) else {
                return;
            };
            *pos += 2 + usize::from(len);
            *count += 1;
            if self.qname.is_none() {
                self.qname = qname(msg);
            }
        }
    }

    fn facts(&self, f: &mut Facts) {
        if let Some(q) = &self.qname {
            f.attrs.insert("qname", q.clone());
        }
        push_verb(&mut f.verbs, Some("QUERY".into()));
        f.done = self.messages.iter().all(|&m| m > 0);
    }
}
