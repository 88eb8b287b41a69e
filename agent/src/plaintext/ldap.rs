//! LDAPv3 (RFC 4511 §4.1.1 LDAPMessage in BER, X.690): bindRequest simple and
//! SASL authentication (§4.2), extendedRequest StartTLS (§4.14, OID
//! 1.3.6.1.4.1.1466.20037) and the matching extendedResponse.

use super::wire::{self, Reader};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

/// RFC 4511 §4.14.1 StartTLS request name.
const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// protocolOp application tags (RFC 4511 §4.2-§4.14), client side.
const CLIENT_OPS: &[u8] = &[0x60, 0x42, 0x63, 0x66, 0x68, 0x4a, 0x6c, 0x6e, 0x50, 0x77];
/// Server side.
const SERVER_OPS: &[u8] = &[
    0x61, 0x64, 0x65, 0x73, 0x67, 0x69, 0x6b, 0x6d, 0x6f, 0x78, 0x79,
];

/// A BER TLV header: (tag, content length). Definite lengths up to 4 bytes.
fn tlv(r: &mut Reader<'_>) -> Option<(u8, usize)> {
    let tag = r.u8()?;
    let first = r.u8()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut v = 0usize;
        for _ in 0..n {
            v = (v << 8) | usize::from(r.u8()?);
        }
        v
    };
    Some((tag, len))
}

fn int(bytes: &[u8]) -> i64 {
    bytes
        .iter()
        .take(8)
        .fold(0i64, |acc, &b| (acc << 8) | i64::from(b))
}

/// (messageID, protocolOp tag, protocolOp content, end offset of the message).
fn message(data: &[u8], pos: usize) -> Result<(i64, u8, &[u8], usize), bool> {
    let rest = data.get(pos..).ok_or(false)?;
    let mut r = Reader::new(rest);
    let (tag, len) = tlv(&mut r).ok_or(rest.len() >= 6)?;
    if tag != 0x30 || len > 1 << 24 {
        return Err(true);
    }
    let start = r.pos();
    let body = r.take(len).ok_or(false)?;
    let mut b = Reader::new(body);
    let (itag, ilen) = tlv(&mut b).ok_or(true)?;
    if itag != 0x02 || !(1..=4).contains(&ilen) {
        return Err(true);
    }
    let id = int(b.take(ilen).ok_or(true)?);
    let (op, olen) = tlv(&mut b).ok_or(true)?;
    let content = b.take(olen).ok_or(true)?;
    Ok((id, op, content, pos + start + len))
}

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if data.first().is_some_and(|&b| b != 0x30) {
        return Verdict::No;
    }
    let ops = match dir {
        Direction::ToServer => CLIENT_OPS,
        Direction::ToClient => SERVER_OPS,
    };
    // Check the header even if the message is incomplete.
    let mut r = Reader::new(data);
    let Some((_, _)) = tlv(&mut r) else {
        return Verdict::Maybe;
    };
    let Some((itag, ilen)) = tlv(&mut r) else {
        return Verdict::Maybe;
    };
    if itag != 0x02 || !(1..=4).contains(&ilen) {
        return Verdict::No;
    }
    if r.skip(ilen).is_none() {
        return Verdict::Maybe;
    }
    match r.u8() {
        Some(op) if ops.contains(&op) => Verdict::Yes,
        Some(_) => Verdict::No,
        None => Verdict::Maybe,
    }
}

/// The first buffer of a SASL security layer (RFC 4422 §3.7: 4-byte length +
/// wrapped token) after a GSSAPI / GSS-SPNEGO bind: is it sealed (encrypted)?
/// Kerberos RFC 1964 §1.2.2 wrap token (TOK_ID 02 01, SEAL_ALG ffff = none),
/// RFC 4121 §4.2.2 (TOK_ID 05 04, flag 0x02 Sealed), NTLM (MS-NLMP §2.2.2.9:
/// 16-byte signature, then the message, which is plain BER when only signed).
/// `Err(())`: too few bytes yet; `Ok(None)`: unrecognised token.
fn sasl_layer(buf: &[u8]) -> Result<Option<bool>, ()> {
    let mut r = Reader::new(buf);
    let _len = r.u32_be().ok_or(())?;
    let token = r.rest();
    match (token.first(), token.get(1)) {
        (Some(0x60), _) => {
            let mut t = Reader::new(token);
            let (_, _) = tlv(&mut t).ok_or(())?;
            let (otag, olen) = tlv(&mut t).ok_or(())?;
            if otag != 0x06 {
                return Ok(None);
            }
            t.skip(olen).ok_or(())?;
            let tok_id = t.u16_be().ok_or(())?;
            let _sgn = t.u16_be().ok_or(())?;
            let seal = t.u16_be().ok_or(())?;
            Ok((tok_id == 0x0201).then_some(seal != 0xffff))
        }
        (Some(0x05), Some(0x04)) => Ok(Some(token.get(2).ok_or(())? & 0x02 != 0)),
        (Some(0x01), Some(0x00)) => Ok(Some(*token.get(16).ok_or(())? != 0x30)),
        (None, _) | (Some(_), None) => Err(()),
        _ => Ok(None),
    }
}

fn op_name(op: u8) -> &'static str {
    match op {
        0x60 => "BIND",
        0x42 => "UNBIND",
        0x63 => "SEARCH",
        0x66 => "MODIFY",
        0x68 => "ADD",
        0x4a => "DELETE",
        0x6c => "MODDN",
        0x6e => "COMPARE",
        0x50 => "ABANDON",
        0x77 => "EXTENDED",
        _ => "OTHER",
    }
}

#[derive(Debug, Default)]
pub(crate) struct Ldap {
    pos: [usize; 2],
    stop: [bool; 2],
    msgs: usize,
    verbs: Vec<String>,
    creds: Vec<Cred>,
    sasl: Option<String>,
    anonymous_bind: bool,
    bind_result: Option<i64>,
    /// StartTLS request: (messageID, client offset after it).
    starttls: Option<(i64, usize)>,
    /// Its response: (resultCode, server offset after it).
    starttls_resp: Option<(i64, usize)>,
    client_after: Option<bool>,
    server_after: Option<bool>,
    /// Bytes stopped parsing as LDAP after a SASL bind (security layer).
    wrapped: Option<Option<bool>>,
}

const MAX_MSGS: usize = 64;

impl Ldap {
    fn bind(&mut self, content: &[u8]) -> Option<()> {
        let mut r = Reader::new(content);
        let (_, vl) = tlv(&mut r)?;
        r.skip(vl)?;
        let (ntag, nl) = tlv(&mut r)?;
        let name = if ntag == 0x04 {
            r.take(nl)?
        } else {
            return None;
        };
        let (atag, al) = tlv(&mut r)?;
        let auth = r.take(al)?;
        match atag {
            0x80 => {
                if auth.is_empty() {
                    self.anonymous_bind = true;
                } else {
                    push_cred(
                        &mut self.creds,
                        Cred::new("simple", Some(wire::printable(name, 256))),
                    );
                }
            }
            0xa3 => {
                let mut s = Reader::new(auth);
                let (_, ml) = tlv(&mut s)?;
                let mech = s.take(ml)?;
                self.sasl = Some(wire::printable(mech, 32));
                if mech == b"PLAIN" {
                    let (_, cl) = tlv(&mut s)?;
                    let cred = s.take(cl)?;
                    if let Some((user, true)) = wire::sasl_plain_user(cred) {
                        push_cred(&mut self.creds, Cred::new("sasl_plain", Some(user)));
                    }
                }
            }
            _ => {}
        }
        Some(())
    }

    fn result_code(content: &[u8]) -> Option<i64> {
        let mut r = Reader::new(content);
        let (tag, len) = tlv(&mut r)?;
        (tag == 0x0a).then_some(())?;
        Some(int(r.take(len)?))
    }
}

impl Analyzer for Ldap {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        match (dir, self.starttls, self.starttls_resp) {
            (Direction::ToServer, Some((_, end)), _) => {
                self.client_after = super::textproto::after(data, end);
            }
            (Direction::ToClient, _, Some((_, end))) => {
                self.server_after = super::textproto::after(data, end);
            }
            _ => {}
        }
        while self.stop.get(i) == Some(&false) && self.msgs < MAX_MSGS {
            let pos = self.pos.get(i).copied().unwrap_or(0);
            let (id, op, content, end) = match message(data, pos) {
                Ok(m) => m,
                Err(false) => return,
                Err(true) => {
                    if self.sasl.is_some() && pos > 0 && dir == Direction::ToServer {
                        match sasl_layer(data.get(pos..).unwrap_or(&[])) {
                            Err(()) => return,
                            Ok(sealed) => self.wrapped = Some(sealed),
                        }
                    }
                    if let Some(s) = self.stop.get_mut(i) {
                        *s = true;
                    }
                    return;
                }
            };
            if let Some(p) = self.pos.get_mut(i) {
                *p = end;
            }
            self.msgs += 1;
            match (dir, op) {
                (Direction::ToServer, 0x60) => {
                    push_verb(&mut self.verbs, Some(op_name(op).into()));
                    let _ = self.bind(content);
                }
                (Direction::ToServer, 0x77) => {
                    push_verb(&mut self.verbs, Some(op_name(op).into()));
                    let mut r = Reader::new(content);
                    if let Some((0x80, l)) = tlv(&mut r) {
                        if r.take(l) == Some(STARTTLS_OID) && self.starttls.is_none() {
                            push_verb(&mut self.verbs, Some("STARTTLS".into()));
                            self.starttls = Some((id, end));
                            self.client_after = super::textproto::after(data, end);
                            if let Some(s) = self.stop.get_mut(i) {
                                *s = true;
                            }
                        }
                    }
                }
                (Direction::ToServer, _) => push_verb(&mut self.verbs, Some(op_name(op).into())),
                (Direction::ToClient, 0x61) if self.bind_result.is_none() => {
                    self.bind_result = Self::result_code(content);
                }
                (Direction::ToClient, 0x78)
                    if self.starttls.is_none_or(|(sid, _)| sid == id)
                        && self.starttls_resp.is_none() =>
                {
                    if let Some(code) = Self::result_code(content) {
                        self.starttls_resp = Some((code, end));
                        self.server_after = super::textproto::after(data, end);
                        if code == 0 {
                            if let Some(s) = self.stop.get_mut(i) {
                                *s = true;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        f.version = Some("3".into());
        if let Some(m) = &self.sasl {
            f.attrs.insert("sasl_mechanism", m.clone());
        }
        if self.anonymous_bind {
            f.attrs.insert("anonymous_bind", "true".into());
        }
        if let Some(r) = self.bind_result {
            f.attrs.insert("bind_result", r.to_string());
        }
        if let Some(sealed) = self.wrapped {
            let layer = match sealed {
                Some(true) => "sealed",
                Some(false) => "signed",
                None => "unknown",
            };
            f.attrs.insert("sasl_security_layer", layer.into());
            // A sealed SASL layer (Kerberos/NTLM confidentiality, the AD default)
            // encrypts every message after the bind.
            if sealed == Some(true) {
                f.encrypted = true;
            }
        }
        if let Some((_, cend)) = self.starttls {
            let st = f.starttls();
            st.requested = true;
            if let Some((code, send)) = self.starttls_resp {
                st.reply = Some(code.to_string());
                st.accepted = Some(code == 0);
                if code == 0 {
                    st.tls_followed =
                        super::textproto::tls_followed(self.client_after, self.server_after);
                    f.tls_offsets = Some([cend, send]);
                }
            }
        }
        f.done = f.tls_offsets.is_some() || self.bind_result.is_some() && self.msgs >= 4;
    }
}
