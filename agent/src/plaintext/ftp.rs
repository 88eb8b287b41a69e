//! FTP control connection (RFC 959) with FTPS upgrade `AUTH TLS` (RFC 4217 §4,
//! reply 234), `FEAT` listing (RFC 2389 §3) and `USER`/`PASS` login.
//!
//! Replies match commands by order; 1xx preliminary replies are skipped (RFC 959
//! §4.2), so the N-th final reply answers the N-th command.

use super::smtp::banner_verdict;
use super::textproto::{self, Replies};
use super::wire::{self, lines};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    match dir {
        Direction::ToClient => banner_verdict(data, &[b"FTP", b"FILEZILLA", b"SERV-U"], &[b"SMTP"]),
        Direction::ToServer => {
            let Some((line, _)) = lines(data, 0).next() else {
                return Verdict::No;
            };
            let (v, rest) = textproto::verb(line);
            match v.as_slice() {
                b"AUTH" if is_tls_mech(rest) => Verdict::Yes,
                // RFC 959 / RFC 2428 / RFC 3659 commands no other protocol here uses.
                b"FEAT" | b"SYST" | b"PORT" | b"PASV" | b"EPSV" | b"EPRT" | b"CWD" | b"PWD"
                | b"RETR" | b"STOR" | b"NLST" | b"MLSD" | b"MDTM" | b"TYPE" => Verdict::Yes,
                b"USER" | b"QUIT" | b"NOOP" => Verdict::Weak,
                _ => Verdict::No,
            }
        }
    }
}

/// RFC 4217 §4 mechanisms: TLS, SSL, TLS-C, TLS-P.
fn is_tls_mech(arg: &[u8]) -> bool {
    let a = arg.to_ascii_uppercase();
    a.starts_with(b"TLS") || a.starts_with(b"SSL")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Feat,
    User,
    AuthTls { end: usize },
    Other,
}

#[derive(Debug, Default)]
pub(crate) struct Ftp {
    server: Replies,
    pos: usize,
    stop: bool,
    units: Vec<Unit>,
    user: Option<String>,
    creds: Vec<Cred>,
    verbs: Vec<String>,
    client_after: Option<bool>,
    server_after: Option<bool>,
}

impl Ftp {
    fn auth_unit(&self) -> Option<(usize, usize)> {
        self.units.iter().enumerate().find_map(|(i, u)| match u {
            Unit::AuthTls { end } => Some((i, *end)),
            _ => None,
        })
    }

    fn client(&mut self, data: &[u8]) {
        if let Some((_, end)) = self.auth_unit() {
            self.client_after = textproto::after(data, end);
        }
        while !self.stop {
            let rest = data.get(self.pos..).unwrap_or(&[]);
            if wire::starts_tls(rest) == Some(true)
                || textproto::binary_start(rest)
                || self.units.len() >= textproto::MAX_REPLIES
            {
                self.stop = true;
                return;
            }
            let Some((line, end)) = lines(data, self.pos).next() else {
                return;
            };
            self.pos = end;
            let (verb, rest) = textproto::verb(line);
            push_verb(&mut self.verbs, wire::token(&verb));
            let unit = match verb.as_slice() {
                b"FEAT" => Unit::Feat,
                b"USER" => {
                    self.user = Some(wire::printable(rest, 128));
                    Unit::User
                }
                b"PASS" => {
                    let anonymous = self.user.as_deref().is_some_and(|u| {
                        u.eq_ignore_ascii_case("anonymous") || u.eq_ignore_ascii_case("ftp")
                    });
                    if !anonymous {
                        push_cred(&mut self.creds, Cred::new("pass", self.user.clone()));
                    }
                    Unit::Other
                }
                b"AUTH" if is_tls_mech(rest) => Unit::AuthTls { end },
                _ => Unit::Other,
            };
            self.units.push(unit);
        }
    }
}

impl Analyzer for Ftp {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        match dir {
            Direction::ToServer => self.client(data),
            Direction::ToClient => {
                self.server.feed(data);
                if let Some((i, _)) = self.auth_unit() {
                    if let Some(r) = self.server.answer(i) {
                        self.server_after = textproto::after(data, r.end);
                    }
                }
            }
        }
    }

    fn facts(&self, f: &mut Facts) {
        if let Some(b) = self.server.replies.first() {
            f.attrs.insert("banner", b.text.clone());
        }
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        let feat = self
            .units
            .iter()
            .position(|u| *u == Unit::Feat)
            .and_then(|i| self.server.answer(i).map(|r| (i, r)));
        if let Some((i, r)) = feat {
            if (200..300).contains(&r.code) {
                let st = f.starttls();
                st.offered = Some(r.caps.auth_tls);
                st.mangled = r.caps.mangled.clone();
                st.cleartext_after_offer = self
                    .units
                    .get(i + 1..)
                    .is_some_and(|l| l.iter().any(|u| matches!(u, Unit::User | Unit::Other)));
            }
        }
        if let Some((i, end)) = self.auth_unit() {
            let st = f.starttls();
            st.requested = true;
            if let Some(r) = self.server.answer(i) {
                st.reply = Some(r.code.to_string());
                // 234 per RFC 4217; some servers answer AUTH SSL with 334 (RFC 2228).
                if r.code == 234 || r.code == 334 {
                    st.accepted = Some(true);
                    st.tls_followed = textproto::tls_followed(self.client_after, self.server_after);
                    f.tls_offsets = Some([end, r.end]);
                } else {
                    st.accepted = Some(false);
                }
            }
        }
        f.done = f.tls_offsets.is_some() || !self.creds.is_empty();
    }
}
