//! POP3 (RFC 1939) with `CAPA` (RFC 2449), `STLS` (RFC 2595 §4), `USER`/`PASS`
//! and `AUTH` (RFC 5034).
//!
//! Server replies are `+OK`/`-ERR` status lines, SASL `+ ` continuations, and
//! multi-line bodies ending with `.`; a body is recognised because its lines
//! are not status lines, so the N-th status answers the N-th client unit.

use super::textproto::{self, Caps, Sasl};
use super::wire::{self, lines};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

pub(crate) fn sniff(dir: Direction, data: &[u8], first: bool) -> Verdict {
    match dir {
        Direction::ToClient => {
            if !first {
                // A server that did not speak first is not greeting: `+OK` is then
                // a Redis reply.
                return Verdict::No;
            }
            if data.starts_with(b"+OK ") {
                Verdict::Yes
            } else if data.starts_with(b"+OK\r\n") {
                // A bare `+OK` is also a Redis reply.
                Verdict::Weak
            } else if b"+OK ".starts_with(data) {
                Verdict::Maybe
            } else {
                Verdict::No
            }
        }
        Direction::ToServer => {
            let Some((line, _)) = lines(data, 0).next() else {
                return Verdict::No;
            };
            let (v, _) = textproto::verb(line);
            match v.as_slice() {
                b"CAPA" | b"STLS" | b"APOP" => Verdict::Yes,
                b"USER" | b"AUTH" | b"QUIT" | b"NOOP" | b"STAT" | b"RETR" | b"LIST" => {
                    Verdict::Weak
                }
                _ => Verdict::No,
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    ok: bool,
    end: usize,
    caps: Caps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Capa,
    Stls { end: usize },
    Login,
    Other,
}

#[derive(Debug, Default)]
pub(crate) struct Pop3 {
    spos: usize,
    in_body: bool,
    replies: Vec<Status>,
    sstop: bool,
    cpos: usize,
    cstop: bool,
    units: Vec<Unit>,
    sasl: Sasl,
    user: Option<String>,
    creds: Vec<Cred>,
    verbs: Vec<String>,
    banner: Option<String>,
    no_greeting: bool,
    client_after: Option<bool>,
    server_after: Option<bool>,
}

impl Pop3 {
    fn stls_unit(&self) -> Option<(usize, usize)> {
        self.units.iter().enumerate().find_map(|(i, u)| match u {
            Unit::Stls { end } => Some((i, *end)),
            _ => None,
        })
    }

    fn server(&mut self, data: &[u8]) {
        while !self.sstop {
            let rest = data.get(self.spos..).unwrap_or(&[]);
            if wire::starts_tls(rest) == Some(true)
                || textproto::binary_start(rest)
                || self.replies.len() >= textproto::MAX_REPLIES
            {
                self.sstop = true;
                return;
            }
            let Some((line, end)) = lines(data, self.spos).next() else {
                return;
            };
            self.spos = end;
            let status = if line.starts_with(b"+OK") {
                Some(true)
            } else if line.starts_with(b"-ERR") || line.starts_with(b"+ ") || line == b"+" {
                Some(line.starts_with(b"+"))
            } else {
                None
            };
            match status {
                Some(ok) if !self.in_body => {
                    if self.banner.is_none() && !self.no_greeting {
                        self.banner = Some(wire::printable(line.get(4..).unwrap_or(&[]), 80));
                    }
                    self.replies.push(Status {
                        ok,
                        end,
                        caps: Caps::default(),
                    });
                }
                _ => {
                    // Body of a multi-line reply (CAPA, LIST, RETR, AUTH list).
                    if line == b"." {
                        self.in_body = false;
                    } else {
                        self.in_body = true;
                        if let Some(last) = self.replies.last_mut() {
                            last.caps.scan(line);
                            last.end = end;
                        }
                    }
                    if let Some(last) = self.replies.last_mut() {
                        last.end = end;
                    }
                }
            }
        }
    }

    fn client(&mut self, data: &[u8]) {
        if self.spos == 0 && self.cpos == 0 {
            self.no_greeting = true;
        }
        if let Some((_, end)) = self.stls_unit() {
            self.client_after = textproto::after(data, end);
        }
        while !self.cstop {
            let rest = data.get(self.cpos..).unwrap_or(&[]);
            if wire::starts_tls(rest) == Some(true)
                || textproto::binary_start(rest)
                || self.units.len() >= textproto::MAX_REPLIES
            {
                self.cstop = true;
                return;
            }
            let Some((line, end)) = lines(data, self.cpos).next() else {
                return;
            };
            self.cpos = end;
            if self.sasl.active() {
                if let Some(c) = self.sasl.cont(line) {
                    push_cred(&mut self.creds, c);
                }
                self.units.push(Unit::Login);
                continue;
            }
            let (verb, rest) = textproto::verb(line);
            push_verb(&mut self.verbs, wire::token(&verb));
            let unit = match verb.as_slice() {
                b"CAPA" => Unit::Capa,
                b"STLS" => Unit::Stls { end },
                b"USER" => {
                    self.user = Some(wire::printable(rest, 128));
                    Unit::Login
                }
                b"PASS" => {
                    push_cred(&mut self.creds, Cred::new("pass", self.user.clone()));
                    Unit::Login
                }
                b"APOP" => Unit::Login,
                b"AUTH" => {
                    let mut ws = wire::words(rest);
                    if let Some(mech) = ws.next() {
                        if let Some(c) = self.sasl.start(mech, ws.next()) {
                            push_cred(&mut self.creds, c);
                        }
                    }
                    Unit::Login
                }
                _ => Unit::Other,
            };
            self.units.push(unit);
        }
    }

    /// The status answering client unit `unit`: the greeting is status 0 unless
    /// the capture began after it (the client spoke before any server byte).
    fn answer(&self, unit: usize) -> Option<&Status> {
        let skip = usize::from(!self.no_greeting);
        self.replies.get(unit.checked_add(skip)?)
    }
}

impl Analyzer for Pop3 {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        match dir {
            Direction::ToServer => self.client(data),
            Direction::ToClient => {
                self.server(data);
                if let Some((i, _)) = self.stls_unit() {
                    if let Some(r) = self.answer(i) {
                        self.server_after = textproto::after(data, r.end);
                    }
                }
            }
        }
    }

    fn facts(&self, f: &mut Facts) {
        if let Some(b) = &self.banner {
            f.attrs.insert("banner", b.clone());
        }
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        let capa = self
            .units
            .iter()
            .position(|u| *u == Unit::Capa)
            .and_then(|i| self.answer(i).map(|r| (i, r)));
        if let Some((i, r)) = capa {
            if r.ok {
                let st = f.starttls();
                st.offered = Some(r.caps.starttls);
                st.mangled = r.caps.mangled.clone();
                st.cleartext_after_offer = self
                    .units
                    .get(i + 1..)
                    .is_some_and(|l| l.contains(&Unit::Login));
            }
        }
        if let Some((i, end)) = self.stls_unit() {
            let st = f.starttls();
            st.requested = true;
            if let Some(r) = self.answer(i) {
                st.reply = Some(if r.ok { "+OK" } else { "-ERR" }.to_owned());
                st.accepted = Some(r.ok);
                if r.ok {
                    st.tls_followed = textproto::tls_followed(self.client_after, self.server_after);
                    f.tls_offsets = Some([end, r.end]);
                }
            }
        }
        f.done = f.tls_offsets.is_some() || !self.creds.is_empty();
    }
}
