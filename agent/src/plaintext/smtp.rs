//! SMTP (RFC 5321) with STARTTLS (RFC 3207) and AUTH (RFC 4954: PLAIN RFC 4616,
//! LOGIN draft-murchison-sasl-login).
//!
//! Replies are matched to client "units" by order: the banner is reply 0 and each
//! command, AUTH continuation line, or DATA body gets exactly one final reply,
//! pipelined or not.

use super::textproto::{self, Replies};
use super::wire::{self, lines};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

/// Words in a `220` banner that say SMTP rather than FTP.
const SMTP_WORDS: &[&[u8]] = &[b"SMTP", b"ESMTP", b"POSTFIX", b"EXIM", b"SENDMAIL", b"MAIL"];

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    match dir {
        Direction::ToClient => banner_verdict(data, SMTP_WORDS, &[b"FTP", b"FILEZILLA"]),
        Direction::ToServer => {
            let Some((line, _)) = lines(data, 0).next() else {
                return if data.len() < 6 && !data.is_empty() {
                    Verdict::Maybe
                } else {
                    Verdict::No
                };
            };
            let (v, _) = textproto::verb(line);
            match v.as_slice() {
                b"EHLO" | b"HELO" => Verdict::Yes,
                // Shared with FTP, POP3, Redis: the port decides.
                b"QUIT" | b"NOOP" | b"MAIL" | b"RCPT" => Verdict::Weak,
                _ => Verdict::No,
            }
        }
    }
}

/// Shared by SMTP and FTP: a `220` greeting naming `mine` is Yes, naming `other`
/// is No, anything else is a weak match that the port settles.
pub(crate) fn banner_verdict(data: &[u8], mine: &[&[u8]], other: &[&[u8]]) -> Verdict {
    let Some((line, _)) = lines(data, 0).next() else {
        let n = data.len().min(3);
        let head_ok = data.get(..n).is_some_and(|h| b"220".starts_with(h));
        return if head_ok
            && data.len() < textproto::MAX_LINE
            && data.iter().all(|&b| wire::is_text_byte(b))
        {
            Verdict::Maybe
        } else {
            Verdict::No
        };
    };
    if !(line.starts_with(b"220 ") || line.starts_with(b"220-") || line == b"220") {
        return Verdict::No;
    }
    // Look at the whole (multi-line) greeting that has arrived.
    let greeting: Vec<u8> = lines(data, 0)
        .take(16)
        .take_while(|(l, _)| l.starts_with(b"220"))
        .flat_map(|(l, _)| l.iter().copied().chain([b' ']))
        .collect();
    if greeting.iter().any(|&b| !wire::is_text_byte(b)) {
        return Verdict::No;
    }
    let upper = greeting.to_ascii_uppercase();
    let has = |w: &[u8]| upper.windows(w.len()).any(|x| x == w);
    let theirs = other.iter().any(|w| has(w));
    if mine.iter().any(|w| has(w)) && !theirs {
        Verdict::Yes
    } else if theirs {
        Verdict::No
    } else {
        Verdict::Weak
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ehlo,
    Helo,
    StartTls { end: usize },
    Auth,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Command,
    AuthPlain,
    AuthLoginUser,
    AuthLoginPass,
    AuthOther,
    Data,
    Bdat(usize),
}

#[derive(Debug)]
pub(crate) struct Smtp {
    server: Replies,
    pos: usize,
    mode: Mode,
    units: Vec<Unit>,
    /// Client bytes stopped being SMTP here (TLS or garbage).
    client_stop: Option<usize>,
    client_after_starttls: Option<bool>,
    server_after_starttls: Option<bool>,
    login_user: Option<String>,
    creds: Vec<Cred>,
    verbs: Vec<String>,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            server: Replies::default(),
            pos: 0,
            mode: Mode::Command,
            units: Vec::new(),
            client_stop: None,
            client_after_starttls: None,
            server_after_starttls: None,
            login_user: None,
            creds: Vec::new(),
            verbs: Vec::new(),
        }
    }
}

impl Smtp {
    fn starttls_unit(&self) -> Option<(usize, usize)> {
        self.units.iter().enumerate().find_map(|(i, u)| match u {
            Unit::StartTls { end } => Some((i, *end)),
            _ => None,
        })
    }

    fn client(&mut self, data: &[u8]) {
        if let Some((_, end)) = self.starttls_unit() {
            self.client_after_starttls = textproto::after(data, end);
        }
        if self.client_stop.is_some() {
            return;
        }
        loop {
            if let Mode::Bdat(n) = self.mode {
                if data.len() < self.pos.saturating_add(n) {
                    return;
                }
                self.pos += n;
                self.mode = Mode::Command;
            }
            let rest = data.get(self.pos..).unwrap_or(&[]);
            if self.mode == Mode::Command
                && (wire::starts_tls(rest) == Some(true) || textproto::binary_start(rest))
            {
                self.client_stop = Some(self.pos);
                return;
            }
            let Some((line, end)) = lines(data, self.pos).next() else {
                if rest.len() > textproto::MAX_LINE && self.mode == Mode::Command {
                    self.client_stop = Some(self.pos);
                }
                return;
            };
            self.pos = end;
            if self.units.len() >= textproto::MAX_REPLIES {
                self.client_stop = Some(self.pos);
                return;
            }
            self.line(line, end);
        }
    }

    fn line(&mut self, line: &[u8], end: usize) {
        match self.mode {
            Mode::Data => {
                if line == b"." {
                    self.units.push(Unit::Other);
                    self.mode = Mode::Command;
                }
            }
            Mode::AuthPlain => {
                self.units.push(Unit::Auth);
                self.mode = Mode::Command;
                if line != b"*" {
                    self.plain(line);
                }
            }
            Mode::AuthLoginUser => {
                self.units.push(Unit::Auth);
                if line == b"*" {
                    self.mode = Mode::Command;
                } else {
                    self.login_user = wire::base64_text(line);
                    self.mode = Mode::AuthLoginPass;
                }
            }
            Mode::AuthLoginPass => {
                self.units.push(Unit::Auth);
                self.mode = Mode::Command;
                if line != b"*" && !line.is_empty() {
                    push_cred(&mut self.creds, Cred::new("login", self.login_user.take()));
                }
            }
            Mode::AuthOther => {
                self.units.push(Unit::Auth);
                self.mode = Mode::Command;
            }
            Mode::Bdat(_) | Mode::Command => self.command(line, end),
        }
    }

    fn command(&mut self, line: &[u8], end: usize) {
        let (verb, rest) = textproto::verb(line);
        push_verb(&mut self.verbs, wire::token(&verb));
        let unit = match verb.as_slice() {
            b"EHLO" => Unit::Ehlo,
            b"HELO" => Unit::Helo,
            b"STARTTLS" => Unit::StartTls { end },
            b"AUTH" => {
                let mut ws = wire::words(rest);
                let mech = ws.next().unwrap_or(&[]).to_ascii_uppercase();
                let ir = ws.next();
                match (mech.as_slice(), ir) {
                    (b"PLAIN", Some(ir)) => self.plain(ir),
                    (b"PLAIN", None) => self.mode = Mode::AuthPlain,
                    (b"LOGIN", Some(ir)) => {
                        self.login_user = wire::base64_text(ir);
                        self.mode = Mode::AuthLoginPass;
                    }
                    (b"LOGIN", None) => self.mode = Mode::AuthLoginUser,
                    (b"XOAUTH2", Some(_)) => {
                        push_cred(&mut self.creds, Cred::new("oauth_bearer", None))
                    }
                    (_, None) => self.mode = Mode::AuthOther,
                    _ => {}
                }
                Unit::Auth
            }
            b"DATA" => {
                self.mode = Mode::Data;
                Unit::Other
            }
            b"BDAT" => {
                let n = wire::words(rest)
                    .next()
                    .and_then(|w| std::str::from_utf8(w).ok())
                    .and_then(|s| s.parse::<usize>().ok());
                match n {
                    Some(n) => self.mode = Mode::Bdat(n),
                    None => self.client_stop = Some(end),
                }
                Unit::Other
            }
            _ => Unit::Other,
        };
        self.units.push(unit);
    }

    fn plain(&mut self, b64: &[u8]) {
        let user = wire::base64_decode(b64).and_then(|raw| wire::sasl_plain_user(&raw));
        if let Some((user, has_pw)) = user {
            if has_pw {
                push_cred(&mut self.creds, Cred::new("plain", Some(user)));
            }
        }
    }
}

impl Analyzer for Smtp {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        match dir {
            Direction::ToServer => self.client(data),
            Direction::ToClient => {
                self.server.feed(data);
                if let Some((i, _)) = self.starttls_unit() {
                    if let Some(r) = self.server.answer(i) {
                        self.server_after_starttls = textproto::after(data, r.end);
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
        let ehlo = self
            .units
            .iter()
            .position(|u| *u == Unit::Ehlo)
            .and_then(|i| self.server.answer(i).map(|r| (i, r)));
        if let Some((i, r)) = ehlo {
            if (200..300).contains(&r.code) {
                if let Some(m) = &r.caps.auth_mechs {
                    f.attrs.insert("auth_mechanisms", m.clone());
                }
                let st = f.starttls();
                st.offered = Some(r.caps.starttls);
                st.mangled = r.caps.mangled.clone();
                st.cleartext_after_offer = self.units.get(i + 1..).is_some_and(|later| {
                    later.iter().any(|u| matches!(u, Unit::Auth | Unit::Other))
                });
            }
        }
        if let Some((i, end)) = self.starttls_unit() {
            let st = f.starttls();
            st.requested = true;
            if let Some(r) = self.server.answer(i) {
                st.reply = Some(r.code.to_string());
                if r.code == 220 {
                    st.accepted = Some(true);
                    st.tls_followed = textproto::tls_followed(
                        self.client_after_starttls,
                        self.server_after_starttls,
                    );
                    f.tls_offsets = Some([end, r.end]);
                } else {
                    st.accepted = Some(false);
                }
            }
        }
        f.done = f.tls_offsets.is_some() || self.verbs.iter().any(|v| v == "MAIL" || v == "QUIT");
    }
}
