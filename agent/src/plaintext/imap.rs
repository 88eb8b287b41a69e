//! IMAP4 (RFC 9051, RFC 3501) with `STARTTLS` (RFC 9051 §6.2.1), `LOGIN` and
//! `AUTHENTICATE` (PLAIN RFC 4616, LOGIN, SASL-IR RFC 4959).
//!
//! Commands and tagged responses are matched by tag, so ordering between the two
//! directions does not matter. Literals (`{n}` / `{n+}`, RFC 7888) are skipped
//! by length without being read.

use super::textproto::{self, mangled, Sasl};
use super::wire::{self, lines};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    match dir {
        Direction::ToClient => {
            for g in [&b"* OK"[..], b"* PREAUTH", b"* BYE"] {
                if data.starts_with(g) {
                    return Verdict::Yes;
                }
                if g.starts_with(data) {
                    return Verdict::Maybe;
                }
            }
            Verdict::No
        }
        Direction::ToServer => {
            let Some((line, _)) = lines(data, 0).next() else {
                return Verdict::No;
            };
            let mut ws = wire::words(line);
            let (Some(tag), Some(cmd)) = (ws.next(), ws.next()) else {
                return Verdict::No;
            };
            let cmd = cmd.to_ascii_uppercase();
            if tag.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'.')
                && matches!(
                    cmd.as_slice(),
                    b"CAPABILITY" | b"STARTTLS" | b"LOGIN" | b"AUTHENTICATE" | b"ID"
                )
            {
                Verdict::Yes
            } else {
                Verdict::No
            }
        }
    }
}

/// A `{n}` or `{n+}` literal announcement at the end of a line (RFC 9051 §4.3).
fn literal_len(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let num = inner.get(open + 1..)?;
    let num = num.strip_suffix(b"+").unwrap_or(num);
    std::str::from_utf8(num).ok()?.parse().ok()
}

/// An IMAP atom or quoted string (first argument of LOGIN); literals give `None`.
fn astring(arg: &[u8]) -> Option<String> {
    if let Some(q) = arg.strip_prefix(b"\"") {
        let end = q.iter().position(|&b| b == b'"')?;
        return Some(wire::printable(q.get(..end)?, 128));
    }
    let w = wire::words(arg).next()?;
    (!w.starts_with(b"{")).then(|| wire::printable(w, 128))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tagged {
    tag: String,
    ok: bool,
    status: String,
    end: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Imap {
    spos: usize,
    sstop: bool,
    tagged: Vec<Tagged>,
    /// First capability listing: (has STARTTLS, mangled keyword).
    caps: Option<(bool, Option<String>)>,
    banner: Option<String>,
    cpos: usize,
    cstop: bool,
    sasl: Sasl,
    commands: usize,
    /// STARTTLS: (tag, how many earlier commands used the same tag, end offset).
    starttls: Option<(String, usize, usize)>,
    /// Tags of the commands seen (bounded), to match reused tags by position.
    tags: Vec<String>,
    /// Client issued a non-trivial command (LOGIN, SELECT…) after capabilities were seen.
    went_on: bool,
    creds: Vec<Cred>,
    verbs: Vec<String>,
    client_after: Option<bool>,
    server_after: Option<bool>,
}

impl Imap {
    fn scan_caps(&mut self, text: &[u8]) {
        if self.caps.is_some() {
            return;
        }
        let upper = text.to_ascii_uppercase();
        let Some(at) = upper.windows(10).position(|w| w == b"CAPABILITY") else {
            return;
        };
        let list = upper.get(at + 10..).unwrap_or(&[]);
        let list = list.split(|&b| b == b']').next().unwrap_or(&[]);
        let mut starttls = false;
        let mut mangle = None;
        for w in wire::words(list) {
            if w == b"STARTTLS" {
                starttls = true;
            } else if let Some(m) = mangled(w) {
                mangle = Some(m);
            }
        }
        self.caps = Some((starttls, mangle));
    }

    fn server(&mut self, data: &[u8]) {
        while !self.sstop {
            let rest = data.get(self.spos..).unwrap_or(&[]);
            if wire::starts_tls(rest) == Some(true)
                || textproto::binary_start(rest)
                || self.tagged.len() >= textproto::MAX_REPLIES
            {
                self.sstop = true;
                return;
            }
            let Some((line, end)) = lines(data, self.spos).next() else {
                return;
            };
            let mut next = end;
            if let Some(n) = literal_len(line) {
                if data.len() < end.saturating_add(n) {
                    return;
                }
                next = end + n;
            }
            self.spos = next;
            let mut ws = wire::words(line);
            let Some(tag) = ws.next() else { continue };
            if tag == b"*" {
                if self.banner.is_none() {
                    self.banner = Some(wire::printable(line.get(2..).unwrap_or(&[]), 80));
                }
                self.scan_caps(line);
            } else if tag != b"+" {
                let status = ws.next().unwrap_or(&[]).to_ascii_uppercase();
                self.scan_caps(line);
                self.tagged.push(Tagged {
                    tag: wire::printable(tag, 32),
                    ok: status == b"OK",
                    status: wire::printable(&status, 8),
                    end,
                });
            }
        }
    }

    fn client(&mut self, data: &[u8]) {
        if let Some((_, _, end)) = &self.starttls {
            self.client_after = textproto::after(data, *end);
        }
        while !self.cstop {
            let rest = data.get(self.cpos..).unwrap_or(&[]);
            if wire::starts_tls(rest) == Some(true)
                || textproto::binary_start(rest)
                || self.commands >= textproto::MAX_REPLIES
            {
                self.cstop = true;
                return;
            }
            let Some((line, end)) = lines(data, self.cpos).next() else {
                return;
            };
            if let Some(n) = literal_len(line) {
                // The literal's bytes (maybe a password) are skipped unread; the
                // command's verb is on this first line anyway.
                if data.len() < end.saturating_add(n) {
                    return;
                }
                self.cpos = end + n;
            } else {
                self.cpos = end;
            }
            if self.sasl.active() {
                if let Some(c) = self.sasl.cont(line) {
                    push_cred(&mut self.creds, c);
                }
                continue;
            }
            let mut ws = wire::words(line);
            let (Some(tag), Some(cmd)) = (ws.next(), ws.next()) else {
                continue;
            };
            let cmd = cmd.to_ascii_uppercase();
            self.commands += 1;
            let t = wire::printable(tag, 32);
            push_verb(&mut self.verbs, wire::token(&cmd));
            let args = line.splitn(3, |&b| b == b' ').nth(2).unwrap_or(&[]);
            match cmd.as_slice() {
                b"STARTTLS" => {
                    if self.starttls.is_none() {
                        let t = wire::printable(tag, 32);
                        let nth = self.tags.iter().filter(|x| **x == t).count();
                        self.starttls = Some((t, nth, end));
                    }
                }
                b"LOGIN" => {
                    self.went_on = true;
                    push_cred(&mut self.creds, Cred::new("login", astring(args)));
                }
                b"AUTHENTICATE" => {
                    self.went_on = true;
                    let mut a = wire::words(args);
                    if let Some(mech) = a.next() {
                        if let Some(c) = self.sasl.start(mech, a.next()) {
                            push_cred(&mut self.creds, c);
                        }
                    }
                }
                b"CAPABILITY" | b"NOOP" | b"ID" | b"LOGOUT" => {}
                _ => self.went_on = true,
            }
            self.tags.push(t);
        }
    }

    /// The `nth` tagged response carrying `tag` (clients may reuse tags).
    fn answer(&self, tag: &str, nth: usize) -> Option<&Tagged> {
        self.tagged.iter().filter(|t| t.tag == tag).nth(nth)
    }
}

impl Analyzer for Imap {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        match dir {
            Direction::ToServer => self.client(data),
            Direction::ToClient => {
                self.server(data);
                if let Some((tag, nth, _)) = &self.starttls {
                    if let Some(r) = self.answer(tag, *nth) {
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
        if let Some((has, m)) = &self.caps {
            let st = f.starttls();
            st.offered = Some(*has);
            st.mangled = m.clone();
            st.cleartext_after_offer = self.went_on;
        }
        if let Some((tag, nth, end)) = &self.starttls {
            let st = f.starttls();
            st.requested = true;
            if let Some(r) = self.answer(tag, *nth) {
                st.reply = Some(r.status.clone());
                st.accepted = Some(r.ok);
                if r.ok {
                    st.tls_followed = textproto::tls_followed(self.client_after, self.server_after);
                    f.tls_offsets = Some([*end, r.end]);
                }
            }
        }
        f.done = f.tls_offsets.is_some() || !self.creds.is_empty();
    }
}
