//! PostgreSQL frontend/backend protocol 3.0 (PostgreSQL docs, "Message Formats",
//! §55.7 in v16): StartupMessage, SSLRequest, GSSENCRequest, CancelRequest, and
//! the authentication exchange (`R` requests, `p` password messages).

use super::wire::{self, Reader};
use super::{push_cred, Analyzer, Cred, Extra, Facts, Verdict};
use crate::flow::Direction;
use crate::plaintext::findings::POSTGRES_SSL_REFUSED;

/// Protocol version 3.0 as sent in StartupMessage (196608 = 3 << 16).
const PROTOCOL_3_0: u32 = 196_608;
/// Protocol 2.0 (pre-7.4 servers), still recognised.
const PROTOCOL_2_0: u32 = 131_072;
/// SSLRequest code (1234 << 16 | 5679).
const SSL_REQUEST: u32 = 80_877_103;
/// GSSENCRequest code (1234 << 16 | 5680).
const GSSENC_REQUEST: u32 = 80_877_104;
/// CancelRequest code (1234 << 16 | 5678).
const CANCEL_REQUEST: u32 = 80_877_102;
/// Longest startup packet the server accepts (MAX_STARTUP_PACKET_LENGTH).
const MAX_STARTUP: u32 = 10_000;

/// AuthenticationRequest codes (the int32 after `R`).
const AUTH_OK: u32 = 0;
const AUTH_CLEARTEXT: u32 = 3;
const AUTH_MD5: u32 = 5;
const AUTH_SASL_FINAL: u32 = 12;

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if dir != Direction::ToServer {
        return Verdict::No;
    }
    let mut r = Reader::new(data);
    let (Some(len), Some(code)) = (r.u32_be(), r.u32_be()) else {
        return if data.iter().take(2).all(|&b| b == 0) {
            Verdict::Maybe
        } else {
            Verdict::No
        };
    };
    match code {
        SSL_REQUEST | GSSENC_REQUEST if len == 8 => Verdict::Yes,
        CANCEL_REQUEST if len == 16 => Verdict::Yes,
        PROTOCOL_3_0 | PROTOCOL_2_0 if (9..=MAX_STARTUP).contains(&len) => {
            // The first parameter name must be printable.
            let name = r.rest().iter().take_while(|&&b| b != 0).take(16);
            if name.clone().count() > 0 && name.clone().all(|&b| b.is_ascii_graphic()) {
                Verdict::Yes
            } else {
                Verdict::Maybe
            }
        }
        _ => Verdict::No,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Ssl,
    Gss,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PwKind {
    Cleartext,
    Md5,
    Sasl,
}

#[derive(Debug, Default)]
pub(crate) struct Postgres {
    cpos: usize,
    cstop: bool,
    /// SSL/GSS requests before the startup message, with the client offset after each.
    requests: Vec<(Request, usize)>,
    startup_done: bool,
    user: Option<String>,
    database: Option<String>,
    application: Option<String>,
    version: Option<String>,
    cancel: bool,
    passwords: Vec<PwKind>,
    spos: usize,
    sstop: bool,
    /// Single-byte answers to `requests`, in order.
    answers: Vec<u8>,
    auth_codes: Vec<u32>,
    server_version: Option<String>,
    ready: bool,
    error: bool,
    client_after_ssl: Option<bool>,
}

const MAX_MSGS: usize = 64;

impl Postgres {
    fn client(&mut self, data: &[u8]) {
        if let Some(off) = self.ssl_offset() {
            self.client_after_ssl = super::textproto::after(data, off);
        }
        while !self.cstop {
            let rest = data.get(self.cpos..).unwrap_or(&[]);
            if !self.startup_done {
                // Answered 'S' or 'G': the rest is TLS or GSSAPI, not ours to parse.
                if self.answers.iter().any(|&a| a == b'S' || a == b'G') {
                    self.cstop = true;
                    return;
                }
                let mut r = Reader::new(rest);
                let (Some(len), Some(code)) = (r.u32_be(), r.u32_be()) else {
                    return;
                };
                let len = len as usize;
                if !(8..=MAX_STARTUP as usize).contains(&len) {
                    self.cstop = true;
                    return;
                }
                let Some(body) = rest.get(8..len) else { return };
                self.cpos += len;
                match code {
                    SSL_REQUEST => self.requests.push((Request::Ssl, self.cpos)),
                    GSSENC_REQUEST => self.requests.push((Request::Gss, self.cpos)),
                    CANCEL_REQUEST => {
                        self.cancel = true;
                        self.cstop = true;
                    }
                    PROTOCOL_3_0 | PROTOCOL_2_0 => {
                        self.version =
                            Some(if code == PROTOCOL_3_0 { "3.0" } else { "2.0" }.into());
                        self.startup_params(body);
                        self.startup_done = true;
                    }
                    _ => self.cstop = true,
                }
                if self.requests.len() > 4 {
                    self.cstop = true;
                }
                continue;
            }
            // Typed messages: Byte1 type, Int32 length (self-inclusive).
            let mut r = Reader::new(rest);
            let (Some(ty), Some(len)) = (r.u8(), r.u32_be()) else {
                return;
            };
            let len = len as usize;
            if len < 4 || self.passwords.len() >= MAX_MSGS {
                self.cstop = true;
                return;
            }
            let Some(body) = r.take(len - 4) else { return };
            self.cpos += 1 + len;
            if ty == b'p' {
                self.passwords.push(classify_password(body));
            }
        }
    }

    fn startup_params(&mut self, body: &[u8]) {
        let mut r = Reader::new(body);
        while let (Some(k), Some(v)) = (r.cstr(), r.cstr()) {
            if k.is_empty() {
                break;
            }
            match k {
                b"user" => self.user = Some(wire::printable(v, 128)),
                b"database" => self.database = Some(wire::printable(v, 128)),
                b"application_name" => self.application = Some(wire::printable(v, 64)),
                _ => {}
            }
        }
    }

    fn server(&mut self, data: &[u8]) {
        // The answers to SSL/GSS requests are single bytes; wait for the client's
        // requests to be known before interpreting the first server bytes.
        if self.cpos == 0 {
            return;
        }
        while !self.sstop {
            if self.answers.len() < self.requests.len() {
                let Some(&b) = data.get(self.spos) else {
                    return;
                };
                self.answers.push(b);
                self.spos += 1;
                if b != b'N' {
                    self.sstop = true;
                    return;
                }
                continue;
            }
            if !self.startup_done {
                return;
            }
            let rest = data.get(self.spos..).unwrap_or(&[]);
            let mut r = Reader::new(rest);
            let (Some(ty), Some(len)) = (r.u8(), r.u32_be()) else {
                return;
            };
            let len = len as usize;
            if len < 4 || !ty.is_ascii_alphabetic() || self.auth_codes.len() >= MAX_MSGS {
                self.sstop = true;
                return;
            }
            let Some(body) = r.take(len - 4) else { return };
            self.spos += 1 + len;
            let mut b = Reader::new(body);
            match ty {
                b'R' => {
                    if let Some(code) = b.u32_be() {
                        self.auth_codes.push(code);
                    }
                }
                b'S' => {
                    if let (Some(k), Some(v)) = (b.cstr(), b.cstr()) {
                        if k == b"server_version" {
                            self.server_version = Some(wire::printable(v, 32));
                        }
                    }
                }
                b'Z' => {
                    self.ready = true;
                    self.sstop = true;
                }
                b'E' => self.error = true,
                _ => {}
            }
        }
    }

    fn ssl_offset(&self) -> Option<usize> {
        let i = self.answers.iter().position(|&a| a == b'S')?;
        match self.requests.get(i) {
            Some((Request::Ssl, off)) => Some(*off),
            _ => None,
        }
    }
}

/// What kind of PasswordMessage this is, from its shape alone: "md5" + 32 hex
/// digits, a SASL mechanism name with an Int32 length, or a cleartext password.
/// Only the shape is kept; the body is dropped.
fn classify_password(body: &[u8]) -> PwKind {
    if body.len() == 36 && body.starts_with(b"md5") && body.last() == Some(&0) {
        return PwKind::Md5;
    }
    let mut r = Reader::new(body);
    if let Some(mech) = r.cstr() {
        if mech.starts_with(b"SCRAM-") && r.remaining() >= 4 {
            return PwKind::Sasl;
        }
    }
    PwKind::Cleartext
}

impl Analyzer for Postgres {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        match dir {
            Direction::ToServer => {
                self.client(data);
            }
            Direction::ToClient => self.server(data),
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.version = self.version.clone();
        if let Some(d) = &self.database {
            f.attrs.insert("database", d.clone());
        }
        if let Some(a) = &self.application {
            f.attrs.insert("application_name", a.clone());
        }
        if let Some(v) = &self.server_version {
            f.attrs.insert("server_version", v.clone());
        }
        if self.cancel {
            f.verbs.push("CANCEL".into());
        }
        for (i, (req, off)) in self.requests.iter().enumerate() {
            let answer = self.answers.get(i).copied();
            match (req, answer) {
                (Request::Ssl, Some(b'S')) => {
                    let st = f.starttls();
                    st.requested = true;
                    st.reply = Some("S".into());
                    st.accepted = Some(true);
                    st.tls_followed = self.client_after_ssl;
                    f.tls_offsets = Some([*off, i + 1]);
                }
                (Request::Ssl, Some(b'N')) => f.extras.push(Extra {
                    id: POSTGRES_SSL_REFUSED,
                    evidence: vec![("reply", "N".into())],
                }),
                (Request::Gss, Some(b'G')) => {
                    f.encrypted = true;
                    f.attrs.insert("gssenc", "accepted".into());
                }
                (Request::Gss, Some(b'N')) => {
                    f.attrs.insert("gssenc", "refused".into());
                }
                _ => {}
            }
        }
        // The n-th password message answers the n-th non-final auth request.
        let requests: Vec<u32> = self
            .auth_codes
            .iter()
            .copied()
            .filter(|&c| c != AUTH_OK && c != AUTH_SASL_FINAL)
            .collect();
        for (i, kind) in self.passwords.iter().enumerate() {
            let mech = match (requests.get(i).copied(), kind) {
                (Some(AUTH_CLEARTEXT), _) | (None, PwKind::Cleartext) => "cleartext",
                (Some(AUTH_MD5), _) | (None, PwKind::Md5) => "md5",
                _ => continue,
            };
            push_cred(&mut f.creds, Cred::new(mech, self.user.clone()));
        }
        if let Some(c) = self.auth_codes.iter().find(|&&c| c != AUTH_OK) {
            f.attrs.insert(
                "auth",
                match *c {
                    AUTH_CLEARTEXT => "cleartext",
                    AUTH_MD5 => "md5",
                    10 => "sasl",
                    7 => "gss",
                    9 => "sspi",
                    _ => "other",
                }
                .into(),
            );
        } else if self.auth_codes.contains(&AUTH_OK) {
            f.attrs.insert("auth", "trust".into());
        }
        f.done = f.tls_offsets.is_some() || f.encrypted || self.ready || self.cancel || self.error;
    }
}
