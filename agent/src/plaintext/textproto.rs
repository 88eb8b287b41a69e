//! Shared pieces of the line-based mail/file protocols (SMTP, FTP, POP3, IMAP):
//! three-digit reply parsing (RFC 5321 §4.2, RFC 959 §4.2), capability keyword
//! scanning, and the STARTTLS bookkeeping they all share.

use super::wire::{self, lines};
use super::Cred;

/// Replies kept per session: enough for a handshake, bounded for memory.
pub(crate) const MAX_REPLIES: usize = 64;
/// A line longer than this without a terminator is not this protocol.
pub(crate) const MAX_LINE: usize = 2048;

/// Capability keywords seen in one reply (EHLO response, FEAT listing, CAPA…).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Caps {
    pub starttls: bool,
    /// FTP `AUTH TLS` / `AUTH SSL` (RFC 4217 §6), POP3 `STLS` (RFC 2595 §4).
    pub auth_tls: bool,
    /// SMTP `AUTH` mechanisms (RFC 4954 §3), space separated.
    pub auth_mechs: Option<String>,
    /// A keyword that looks like STARTTLS overwritten in transit.
    pub mangled: Option<String>,
}

impl Caps {
    /// Scan one capability line (the text after the reply code, or a FEAT line).
    pub(crate) fn scan(&mut self, text: &[u8]) {
        let mut ws = wire::words(text);
        let Some(first) = ws.next() else { return };
        let kw = first.to_ascii_uppercase();
        match kw.as_slice() {
            b"STARTTLS" | b"STLS" => self.starttls = true,
            b"AUTH" | b"AUTH=" => {
                let rest: Vec<String> = ws.filter_map(wire::token).collect();
                if rest.iter().any(|m| m.contains("TLS") || m.contains("SSL")) {
                    self.auth_tls = true;
                } else if !rest.is_empty() {
                    self.auth_mechs = Some(rest.join(" "));
                }
            }
            _ => {
                if let Some(m) = mangled(&kw) {
                    self.mangled = Some(m);
                }
            }
        }
    }
}

/// The signature of STARTTLS stripping: an 8-letter keyword (the length of
/// "STARTTLS") made mostly of `X`, e.g. Cisco's `XXXXXXXA`.
pub(crate) fn mangled(kw: &[u8]) -> Option<String> {
    let xs = kw.iter().filter(|&&b| b == b'X').count();
    (kw.len() == 8 && xs >= 4 && kw.iter().all(u8::is_ascii_alphabetic))
        .then(|| String::from_utf8_lossy(kw).into_owned())
}

/// One complete reply from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    /// Offset just after the reply's last line.
    pub end: usize,
    pub caps: Caps,
    /// First line's text (after the code), bounded and printable.
    pub text: String,
}

/// Incremental parser of three-digit replies (SMTP, FTP). 1xx preliminary replies
/// (FTP) are skipped so that the N-th reply answers the N-th command.
#[derive(Debug, Default)]
pub(crate) struct Replies {
    pos: usize,
    open: Option<Reply>,
    pub replies: Vec<Reply>,
    /// Offset where non-reply bytes start (TLS after a go-ahead, or garbage).
    pub stop: Option<usize>,
}

fn code_of(line: &[u8]) -> Option<(u16, Option<u8>)> {
    let d = line.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = d
        .iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
    Some((code, line.get(3).copied()))
}

impl Replies {
    pub(crate) fn feed(&mut self, data: &[u8]) {
        if self.stop.is_some() {
            return;
        }
        let start = self.pos;
        for (line, end) in lines(data, start) {
            let line_start = self.pos;
            if self.replies.len() >= MAX_REPLIES {
                break;
            }
            if line.iter().any(|&b| !wire::is_text_byte(b)) {
                self.stop = Some(line_start);
                return;
            }
            self.pos = end;
            let parsed = code_of(line);
            match (&mut self.open, parsed) {
                (Some(open), Some((code, sep))) if code == open.code && sep != Some(b'-') => {
                    open.caps.scan(line.get(4..).unwrap_or(&[]));
                    open.end = end;
                    if let Some(r) = self.open.take() {
                        self.finish(r);
                    }
                }
                (Some(open), _) => {
                    // Continuation line: `DDD-text` or, in FTP, free text.
                    let text = match parsed {
                        Some((_, Some(b'-'))) => line.get(4..).unwrap_or(&[]),
                        _ => line,
                    };
                    open.caps.scan(text);
                    open.end = end;
                }
                (None, Some((code, sep))) => {
                    let mut r = Reply {
                        code,
                        end,
                        caps: Caps::default(),
                        text: wire::printable(line.get(4..).unwrap_or(&[]), 80),
                    };
                    if sep == Some(b'-') {
                        self.open = Some(r);
                    } else {
                        r.caps.scan(line.get(4..).unwrap_or(&[]));
                        self.finish(r);
                    }
                }
                (None, None) => {}
            }
        }
        let rest = data.get(self.pos..).unwrap_or(&[]);
        if wire::starts_tls(rest) == Some(true) || rest.len() > MAX_LINE || binary_start(rest) {
            self.stop = Some(self.pos);
        }
    }

    fn finish(&mut self, r: Reply) {
        if !(100..200).contains(&r.code) {
            self.replies.push(r);
        }
    }

    /// Reply to the command unit with index `unit` (the banner is reply 0).
    pub(crate) fn answer(&self, unit: usize) -> Option<&Reply> {
        self.replies.get(unit.checked_add(1)?)
    }
}

/// Do the bytes at a message boundary stop being a text protocol? A TLS record,
/// or control bytes in the first line (at most 64 bytes are looked at).
pub(crate) fn binary_start(rest: &[u8]) -> bool {
    if wire::starts_tls(rest) == Some(true) {
        return true;
    }
    rest.iter()
        .take(64)
        .take_while(|&&b| b != b'\n')
        .any(|&b| !wire::is_text_byte(b))
}

/// What followed a go-ahead at `offset` in one direction: `Some(true)` a TLS
/// record, `Some(false)` anything else, `None` nothing yet.
pub(crate) fn after(data: &[u8], offset: usize) -> Option<bool> {
    wire::starts_tls(data.get(offset..)?)
}

/// Combine both directions' observations after a go-ahead.
pub(crate) fn tls_followed(client: Option<bool>, server: Option<bool>) -> Option<bool> {
    match (client, server) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), _) | (_, Some(true)) => Some(true),
        _ => None,
    }
}

/// Split a command line into its upper-cased verb and the rest.
pub(crate) fn verb(line: &[u8]) -> (Vec<u8>, &[u8]) {
    let trimmed = line.strip_prefix(b" ").unwrap_or(line);
    let n = trimmed
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(trimmed.len());
    let v = trimmed.get(..n).unwrap_or(&[]).to_ascii_uppercase();
    let rest = trimmed.get(n..).unwrap_or(&[]);
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    (v, rest)
}

/// Client side of a SASL exchange in a line protocol (RFC 4422 framing as used by
/// SMTP AUTH, POP3 AUTH RFC 5034, IMAP AUTHENTICATE RFC 9051 §6.2.2): base64 lines.
/// Only the user name is kept; the secret part is decoded, checked and dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) enum Sasl {
    #[default]
    Idle,
    PlainWait,
    LoginUser,
    LoginPass(Option<String>),
    /// XOAUTH2 / OAUTHBEARER (RFC 7628) waiting for its bearer token.
    Bearer,
    /// Unknown or challenge-response mechanism: continuation lines until a command.
    Other,
}

impl Sasl {
    pub(crate) fn active(&self) -> bool {
        *self != Sasl::Idle
    }

    /// A new exchange with mechanism `mech` and optional initial response.
    pub(crate) fn start(&mut self, mech: &[u8], ir: Option<&[u8]>) -> Option<Cred> {
        let mech = mech.to_ascii_uppercase();
        let ir = ir.filter(|r| *r != b"=");
        *self = Sasl::Idle;
        match (mech.as_slice(), ir) {
            (b"PLAIN", Some(ir)) => plain(ir),
            (b"PLAIN", None) => {
                *self = Sasl::PlainWait;
                None
            }
            (b"LOGIN", Some(ir)) => {
                *self = Sasl::LoginPass(wire::base64_text(ir));
                None
            }
            (b"LOGIN", None) => {
                *self = Sasl::LoginUser;
                None
            }
            (b"XOAUTH2" | b"OAUTHBEARER", Some(_)) => Some(Cred::new("oauth_bearer", None)),
            (b"XOAUTH2" | b"OAUTHBEARER", None) => {
                *self = Sasl::Bearer;
                None
            }
            (_, _) => {
                *self = Sasl::Other;
                None
            }
        }
    }

    /// A continuation line from the client.
    pub(crate) fn cont(&mut self, line: &[u8]) -> Option<Cred> {
        let state = std::mem::take(self);
        if line == b"*" {
            return None;
        }
        match state {
            Sasl::PlainWait => plain(line),
            Sasl::LoginUser => {
                *self = Sasl::LoginPass(wire::base64_text(line));
                None
            }
            Sasl::LoginPass(user) => (!line.is_empty()).then(|| Cred::new("login", user)),
            Sasl::Bearer => (!line.is_empty()).then(|| Cred::new("oauth_bearer", None)),
            Sasl::Other | Sasl::Idle => None,
        }
    }
}

/// SASL PLAIN initial response in base64: the credential with its user name.
pub(crate) fn plain(b64: &[u8]) -> Option<Cred> {
    let raw = wire::base64_decode(b64)?;
    let (user, has_pw) = wire::sasl_plain_user(&raw)?;
    has_pw.then(|| Cred::new("plain", Some(user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies_and_caps() {
        let mut r = Replies::default();
        r.feed(b"220 mx ESMTP\r\n250-mx hello\r\n250-XXXXXXXA\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n");
        assert_eq!(r.replies.len(), 2);
        let ehlo = &r.replies[1];
        assert_eq!(ehlo.caps.mangled.as_deref(), Some("XXXXXXXA"));
        assert_eq!(ehlo.caps.auth_mechs.as_deref(), Some("PLAIN LOGIN"));
        assert!(!ehlo.caps.starttls);
    }

    #[test]
    fn ftp_style_multiline_and_prelim() {
        let mut r = Replies::default();
        r.feed(b"220 ftp\r\n211-Features:\r\n AUTH TLS\r\n PBSZ\r\n211 End\r\n150 open\r\n226 done\r\n");
        assert_eq!(r.replies.len(), 3);
        assert!(r.replies[1].caps.auth_tls);
        assert_eq!(r.replies[2].code, 226);
    }

    #[test]
    fn stops_at_tls() {
        let mut r = Replies::default();
        r.feed(b"220 go ahead\r\n\x16\x03\x03\x00\x10");
        assert_eq!(r.replies.len(), 1);
        assert_eq!(r.stop, Some(14));
    }
}
