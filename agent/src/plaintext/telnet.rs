//! Telnet (RFC 854 IAC command sequences, RFC 855 option negotiation) and the
//! classic login dialogue: a `login:` prompt, the user name, a `Password:`
//! prompt, then a line that is the password (counted, never read into memory
//! beyond its terminator). Prompts and lines are correlated in feed order,
//! which is packet order.

use super::wire;
use super::{push_cred, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

/// RFC 854 command codes.
const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    match (data.first(), data.get(1)) {
        (Some(&IAC), Some(&c)) if (WILL..=DONT).contains(&c) || c == SB => Verdict::Yes,
        (Some(&IAC), None) => Verdict::Maybe,
        (Some(&IAC), _) => Verdict::No,
        _ if dir == Direction::ToClient
            && data.len() < 1024
            && data.iter().all(|&b| wire::is_text_byte(b))
            && contains_ci(data, b"login:") =>
        {
            Verdict::Weak
        }
        _ => Verdict::No,
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[derive(Default)]
pub(crate) struct Telnet {
    pos: [usize; 2],
    /// Data bytes (IAC sequences removed) per direction.
    clean: [usize; 2],
    options: usize,
    /// Server text tail for prompt matching (last few bytes only; server text).
    tail: Vec<u8>,
    login_prompt: bool,
    /// Client line count when the password prompt appeared.
    password_prompt_at: Option<usize>,
    client_lines: usize,
    last_was_cr: bool,
    /// User name typed after the login prompt (only while no password prompt).
    user_buf: Vec<u8>,
    user: Option<String>,
    creds: Vec<Cred>,
}

/// Counts and state only: `user_buf` is typed login input and `tail` server text.
impl std::fmt::Debug for Telnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telnet")
            .field("pos", &self.pos)
            .field("clean", &self.clean)
            .field("options", &self.options)
            .field("tail", &crate::redact::Len(&self.tail))
            .field("login_prompt", &self.login_prompt)
            .field("password_prompt_at", &self.password_prompt_at)
            .field("client_lines", &self.client_lines)
            .field("last_was_cr", &self.last_was_cr)
            .field("user_buf", &crate::redact::Len(&self.user_buf))
            .field("user", &self.user)
            .field("creds", &self.creds)
            .finish()
    }
}

const TAIL: usize = 32;
/// Stop after this many client lines; the login is over by then.
const MAX_LINES: usize = 16;

impl Telnet {
    fn server_byte(&mut self, b: u8) {
        if self.tail.len() >= TAIL {
            self.tail.remove(0);
        }
        self.tail.push(b.to_ascii_lowercase());
        if self.tail.ends_with(b"login:") || self.tail.ends_with(b"username:") {
            self.login_prompt = true;
        }
        if self.tail.ends_with(b"password:") && self.password_prompt_at.is_none() {
            self.password_prompt_at = Some(self.client_lines);
            if self.user.is_none() && !self.user_buf.is_empty() {
                self.user = Some(wire::printable(&self.user_buf, 64));
            }
            self.user_buf.clear();
        }
    }

    fn client_byte(&mut self, b: u8) {
        let eol = b == b'\r' || (b == b'\n' && !self.last_was_cr);
        self.last_was_cr = b == b'\r';
        if eol {
            self.client_lines += 1;
            if let Some(at) = self.password_prompt_at {
                if self.client_lines > at && self.creds.is_empty() {
                    push_cred(&mut self.creds, Cred::new("login", self.user.clone()));
                }
            } else if self.login_prompt && !self.user_buf.is_empty() && self.user.is_none() {
                self.user = Some(wire::printable(&self.user_buf, 64));
                self.user_buf.clear();
            }
            return;
        }
        // Only the user name phase is buffered: after the login prompt and
        // before the password prompt. Password keystrokes are never kept.
        if self.login_prompt
            && self.password_prompt_at.is_none()
            && self.user.is_none()
            && b.is_ascii_graphic()
            && self.user_buf.len() < 64
        {
            self.user_buf.push(b);
        }
    }
}

impl Analyzer for Telnet {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        let mut pos = self.pos.get(i).copied().unwrap_or(0);
        while self.client_lines < MAX_LINES {
            let Some(&b) = data.get(pos) else { break };
            if b == IAC {
                let Some(&cmd) = data.get(pos + 1) else { break };
                match cmd {
                    IAC => {
                        pos += 2;
                        self.data_byte(dir, IAC);
                    }
                    WILL..=DONT => {
                        if data.get(pos + 2).is_none() {
                            break;
                        }
                        self.options += 1;
                        pos += 3;
                    }
                    SB => {
                        // Subnegotiation runs to IAC SE.
                        let rest = data.get(pos + 2..).unwrap_or(&[]);
                        let Some(end) = rest.windows(2).position(|w| w == [IAC, SE]) else {
                            break;
                        };
                        pos += 2 + end + 2;
                    }
                    _ => pos += 2,
                }
                continue;
            }
            pos += 1;
            self.data_byte(dir, b);
        }
        if let Some(p) = self.pos.get_mut(i) {
            *p = pos;
        }
    }

    fn facts(&self, f: &mut Facts) {
        if self.options > 0 {
            f.attrs
                .insert("option_negotiations", self.options.to_string());
        }
        if self.login_prompt {
            f.attrs.insert("login_prompt", "true".into());
        }
        f.creds = self.creds.clone();
        f.done = !self.creds.is_empty() || self.client_lines >= MAX_LINES;
    }
}

impl Telnet {
    fn data_byte(&mut self, dir: Direction, b: u8) {
        if let Some(c) = self.clean.get_mut(dir.index()) {
            *c += 1;
        }
        match dir {
            Direction::ToClient => self.server_byte(b),
            Direction::ToServer => {
                if b != 0 {
                    self.client_byte(b);
                }
            }
        }
    }
}
