//! HTTP/1.x (RFC 9112) requests and responses: method, version, Host, and
//! credentials in `Authorization` / `Proxy-Authorization` (Basic RFC 7617,
//! Digest RFC 7616, Bearer RFC 6750). An `Upgrade: h2c` answered by `101`
//! (RFC 7540 §3.2) turns the session into cleartext HTTP/2: what follows the
//! `101` and the client's connection preface is handed to the HTTP/2 analyzer,
//! so requests made after the upgrade (and their credentials) are read too.
//!
//! Each response is also judged as content or redirect (`http.no_https_redirect`): a
//! 2xx that carries a body (not to HEAD, not 204) serves content in the clear; a 3xx
//! whose `Location` starts with `https://` sends the client to TLS. The verdict is per
//! flow, and content wins: one keep-alive connection that both redirects and serves a
//! page raises the finding (with `redirect: https` in its evidence), because that page
//! did cross the network in the clear. Only a flow whose every judged response is an
//! HTTPS redirect counts as redirect-only.

use super::findings::HTTP_NO_HTTPS_REDIRECT;
use super::http2::{Http2, PREFACE};
use super::wire::{self, lines};
use super::{push_cred, push_verb, Analyzer, Cred, Extra, Facts, Protocol, Verdict};
use crate::flow::Direction;

/// Request methods (RFC 9110 §9 plus WebDAV RFC 4918 and PATCH RFC 5789).
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"PUT",
    b"DELETE",
    b"HEAD",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
];

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if data.starts_with(b"HTTP/1.") {
        return Verdict::Yes;
    }
    if b"HTTP/1.".starts_with(data) {
        return Verdict::Maybe;
    }
    let _ = dir;
    let sp = data.iter().position(|&b| b == b' ');
    let Some(sp) = sp else {
        let partial = METHODS.iter().any(|m| m.starts_with(data));
        return if partial { Verdict::Maybe } else { Verdict::No };
    };
    let method = data.get(..sp).unwrap_or(&[]);
    if !METHODS.contains(&method) {
        return Verdict::No;
    }
    match lines(data, 0).next() {
        Some((line, _)) => {
            if line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0") {
                Verdict::Yes
            } else {
                Verdict::No
            }
        }
        None if data.iter().all(|&b| wire::is_text_byte(b)) => {
            if data.len() >= 64 {
                Verdict::Weak
            } else {
                Verdict::Maybe
            }
        }
        None => Verdict::No,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum St {
    #[default]
    Start,
    Headers,
    Body(usize),
}

/// One direction's message framing state.
#[derive(Debug, Default)]
struct Side {
    pos: usize,
    st: St,
    stop: bool,
    msgs: usize,
    content_length: usize,
    /// A `Content-Length` header was seen in this message.
    length_given: bool,
    chunked: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Http {
    req: Side,
    resp: Side,
    version: Option<String>,
    verbs: Vec<String>,
    host: Option<String>,
    status: Option<u16>,
    server: Option<String>,
    www_auth: Option<String>,
    h2c_requested: bool,
    h2c_switched: bool,
    /// After the switch: the HTTP/2 session and where it starts in each direction
    /// (the client's preface; the end of the `101` response).
    h2: Option<Box<Http2>>,
    h2_start: [Option<usize>; 2],
    grpc: bool,
    creds: Vec<Cred>,
    /// The first request is CONNECT.
    connect: bool,
    /// Offsets after the CONNECT request and its response headers.
    tunnel: [Option<usize>; 2],
    /// The client's first tunnelled bytes are a TLS record.
    tunnel_tls: Option<bool>,
    /// Which requests were HEAD or CONNECT, in order (their answers carry no body,
    /// RFC 9110 §9.3.2 and §9.3.6).
    heads: Vec<bool>,
    /// The response being read: its status and whether `Location` is `https://…`.
    cur_status: Option<u16>,
    cur_https_location: bool,
    /// Every response read (at most [`MAX_MESSAGES`]): judged in `facts`, when the
    /// request each answers is known whatever order the directions were fed in.
    responses: Vec<Response>,
}

/// What decides whether a response served content or sent the client to HTTPS.
#[derive(Debug, Clone, Copy)]
struct Response {
    status: Option<u16>,
    /// A body by its framing (chunked, a non-zero `Content-Length`, or neither header,
    /// which means "until close", RFC 9112 §6.3).
    body: bool,
    https_location: bool,
}

/// Stop after this many messages per direction: the verdict is settled by then.
const MAX_MESSAGES: usize = 16;

impl Http {
    fn walk(&mut self, dir: Direction, data: &[u8]) {
        loop {
            let side = match dir {
                Direction::ToServer => &mut self.req,
                Direction::ToClient => &mut self.resp,
            };
            if side.stop || side.msgs >= MAX_MESSAGES {
                return;
            }
            if let St::Body(n) = side.st {
                if data.len() < side.pos.saturating_add(n) {
                    return;
                }
                side.pos += n;
                side.st = St::Start;
                continue;
            }
            let Some((line, end)) = lines(data, side.pos).next() else {
                return;
            };
            side.pos = end;
            match side.st {
                St::Start => {
                    if line.is_empty() {
                        continue;
                    }
                    side.content_length = 0;
                    side.length_given = false;
                    side.chunked = false;
                    side.st = St::Headers;
                    self.start_line(dir, line);
                }
                St::Headers if line.is_empty() => {
                    let side = match dir {
                        Direction::ToServer => &mut self.req,
                        Direction::ToClient => &mut self.resp,
                    };
                    side.msgs += 1;
                    let body = side.chunked || side.content_length > 0 || !side.length_given;
                    if side.chunked {
                        side.stop = true;
                    } else {
                        side.st = St::Body(side.content_length);
                    }
                    // CONNECT (RFC 9110 §9.3.6): after the request and a 2xx answer
                    // the connection is a tunnel; the tunnel is not HTTP any more.
                    // The first message's end is kept on both sides whatever the
                    // method, because the response may be parsed before the request.
                    let (end, first) = (side.pos, side.msgs == 1);
                    if dir == Direction::ToClient {
                        self.responses.push(Response {
                            status: self.cur_status,
                            body,
                            https_location: self.cur_https_location,
                        });
                    }
                    if first {
                        match dir {
                            Direction::ToServer => {
                                self.tunnel[0] = Some(end);
                                if self.connect {
                                    self.req.stop = true;
                                }
                            }
                            Direction::ToClient => self.tunnel[1] = Some(end),
                        }
                    }
                    if dir == Direction::ToClient && self.status == Some(101) && self.h2c_requested
                    {
                        self.h2c_switched = true;
                        self.h2_start[1] = Some(end);
                        self.resp.stop = true;
                        self.req.stop = true;
                    }
                }
                St::Headers => self.header(dir, line),
                St::Body(_) => {}
            }
        }
    }

    fn start_line(&mut self, dir: Direction, line: &[u8]) {
        let mut ws = wire::words(line);
        match dir {
            Direction::ToServer => {
                let method = ws.next().unwrap_or(&[]);
                if !METHODS.contains(&method) {
                    self.req.stop = true;
                    return;
                }
                push_verb(&mut self.verbs, wire::token(method));
                if self.heads.len() < MAX_MESSAGES {
                    self.heads.push(method == b"HEAD" || method == b"CONNECT");
                }
                if method == b"CONNECT" && self.req.msgs == 0 {
                    self.connect = true;
                }
                let version = line.rsplit(|&b| b == b' ').next().unwrap_or(&[]);
                if self.version.is_none() && version.starts_with(b"HTTP/") {
                    self.version = Some(wire::printable(version, 16));
                }
            }
            Direction::ToClient => {
                let version = ws.next().unwrap_or(&[]);
                if !version.starts_with(b"HTTP/1.") {
                    self.resp.stop = true;
                    return;
                }
                if self.version.is_none() {
                    self.version = Some(wire::printable(version, 16));
                }
                let code = ws
                    .next()
                    .and_then(|c| std::str::from_utf8(c).ok())
                    .and_then(|c| c.parse::<u16>().ok());
                self.cur_status = code;
                self.cur_https_location = false;
                if self.status.is_none() || code == Some(101) {
                    self.status = code;
                }
            }
        }
    }

    fn header(&mut self, dir: Direction, line: &[u8]) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return;
        };
        let name = line.get(..colon).unwrap_or(&[]).to_ascii_lowercase();
        let value = line.get(colon + 1..).unwrap_or(&[]);
        let value = value.trim_ascii();
        let side = match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        };
        match name.as_slice() {
            b"location" if dir == Direction::ToClient => {
                self.cur_https_location = value.len() > 8
                    && value
                        .get(..8)
                        .is_some_and(|p| p.eq_ignore_ascii_case(b"https://"));
            }
            b"content-length" => {
                side.length_given = true;
                side.content_length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            }
            b"transfer-encoding" => {
                side.chunked = value
                    .to_ascii_lowercase()
                    .windows(7)
                    .any(|w| w == b"chunked");
            }
            b"content-type" if value.to_ascii_lowercase().starts_with(b"application/grpc") => {
                self.grpc = true;
            }
            b"host" if dir == Direction::ToServer && self.host.is_none() => {
                self.host = Some(wire::printable(value, 128));
            }
            b"upgrade" if value.to_ascii_lowercase().windows(3).any(|w| w == b"h2c") => {
                self.h2c_requested = self.h2c_requested || dir == Direction::ToServer;
            }
            b"server" if dir == Direction::ToClient && self.server.is_none() => {
                self.server = Some(wire::printable(value, 64));
            }
            b"www-authenticate" if self.www_auth.is_none() => {
                self.www_auth = wire::words(value).next().and_then(wire::token);
            }
            b"authorization" | b"proxy-authorization" if dir == Direction::ToServer => {
                if let Some(c) = authorization(value) {
                    push_cred(&mut self.creds, c);
                }
            }
            _ => {}
        }
    }
}

impl Http {
    /// The flow's verdict: the status of its first content response (a 2xx with a body,
    /// not to HEAD or CONNECT, not 204: RFC 9110 §15.3.5) and how many responses
    /// redirected to `https://`.
    fn judge(&self) -> (Option<u16>, usize) {
        let (mut served, mut redirects) = (None, 0);
        for (i, r) in self.responses.iter().enumerate() {
            let bodiless_request = self.heads.get(i).copied().unwrap_or(false);
            match r.status {
                Some(s @ 200..=299) if s != 204 && r.body && !bodiless_request => {
                    served = served.or(Some(s));
                }
                Some(300..=399) if r.https_location => redirects += 1,
                _ => {}
            }
        }
        (served, redirects)
    }
}

/// Parse an `Authorization` / `Proxy-Authorization` value (HTTP/1.x header or
/// HTTP/2 field) into a credential record; the secret is dropped. Mechanisms:
/// `basic` (RFC 7617) and `digest` (RFC 7616) with their user name, `bearer`
/// (RFC 6750) without one; other schemes are not credentials we can name.
pub(super) fn authorization(value: &[u8]) -> Option<Cred> {
    let mut parts = value.trim_ascii().splitn(2, |&b| b == b' ');
    let scheme = parts.next()?.to_ascii_lowercase();
    let rest = parts.next().unwrap_or(&[]).trim_ascii();
    match scheme.as_slice() {
        b"basic" => {
            let raw = wire::base64_decode(rest);
            let user = raw.as_deref().and_then(|r| {
                let colon = r.iter().position(|&b| b == b':')?;
                Some(wire::printable(r.get(..colon)?, 128))
            });
            Some(Cred::new("basic", user))
        }
        b"digest" => Some(Cred::new("digest", digest_param(rest, b"username"))),
        b"bearer" => Some(Cred::new("bearer", None)),
        _ => None,
    }
}

/// A `name="value"` or `name=value` parameter of a Digest header (RFC 7616 §3.4).
fn digest_param(params: &[u8], name: &[u8]) -> Option<String> {
    for p in params.split(|&b| b == b',') {
        let p = p.trim_ascii();
        let eq = p.iter().position(|&b| b == b'=')?;
        if p.get(..eq)?.trim_ascii().eq_ignore_ascii_case(name) {
            let v = p.get(eq + 1..)?.trim_ascii();
            let v = v.strip_prefix(b"\"").unwrap_or(v);
            let v = v.strip_suffix(b"\"").unwrap_or(v);
            return Some(wire::printable(v, 128));
        }
    }
    None
}

/// How far into the client's bytes the preface after an `Upgrade: h2c` request is
/// looked for (the upgrade request, and a body it may carry, come first).
const PREFACE_SEARCH: usize = 16 * 1024;

impl Http {
    /// Hands the bytes after the switch to the HTTP/2 analyzer.
    fn feed_h2(&mut self, dir: Direction, data: &[u8]) {
        let i = dir.index();
        if dir == Direction::ToServer && self.h2_start[0].is_none() {
            let from = self.tunnel[0].unwrap_or(0);
            let head = data.get(from..).unwrap_or(&[]);
            let head = head.get(..PREFACE_SEARCH).unwrap_or(head);
            self.h2_start[0] = head
                .windows(PREFACE.len())
                .position(|w| w == PREFACE)
                .map(|at| from + at);
        }
        let Some(start) = self.h2_start.get(i).copied().flatten() else {
            return;
        };
        let h2 = self.h2.get_or_insert_with(Box::default);
        if let Some(rest) = data.get(start..) {
            h2.feed(dir, rest);
        }
    }
}

impl Analyzer for Http {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        // After `Upgrade: h2c`, a server that answers straight away with an
        // HTTP/2 SETTINGS frame (RFC 9113 §4.1, type 0x4) speaks h2c.
        if dir == Direction::ToClient
            && self.h2c_requested
            && self.resp.pos == 0
            && data.first() == Some(&0)
            && data.get(3) == Some(&0x4)
        {
            self.h2c_switched = true;
            self.h2_start[1] = Some(0);
            self.resp.stop = true;
        }
        self.walk(dir, data);
        if self.h2c_switched {
            self.feed_h2(dir, data);
        }
        if let (Direction::ToServer, Some(off)) = (dir, self.tunnel[0]) {
            self.tunnel_tls = super::textproto::after(data, off);
        }
    }

    fn facts(&self, f: &mut Facts) {
        if self.h2c_switched || self.grpc {
            f.protocol = Some(Protocol::Http2);
        }
        f.version = self.version.clone();
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        if let Some(h) = &self.host {
            f.attrs.insert("host", h.clone());
        }
        if let Some(s) = self.status {
            f.attrs.insert("status", s.to_string());
        }
        if let Some(s) = &self.server {
            f.attrs.insert("server", s.clone());
        }
        if let Some(s) = &self.www_auth {
            f.attrs.insert("www_authenticate", s.clone());
        }
        if self.h2c_requested {
            f.attrs.insert("upgrade", "h2c".into());
        }
        match self.judge() {
            (Some(status), redirects) => {
                let mut evidence = vec![("status", status.into())];
                if redirects > 0 {
                    evidence.push(("redirect", "https".into()));
                }
                f.extras.push(Extra {
                    id: HTTP_NO_HTTPS_REDIRECT,
                    evidence,
                });
            }
            (None, 1..) => {
                f.attrs.insert("redirect", "https".into());
            }
            (None, 0) => {}
        }
        let mut h2_done = false;
        if let Some(h2) = &self.h2 {
            let mut h = Facts::default();
            h2.facts(&mut h);
            h2_done = h.done;
            for v in h.verbs {
                push_verb(&mut f.verbs, Some(v));
            }
            for c in h.creds {
                if !f.creds.contains(&c) {
                    push_cred(&mut f.creds, c);
                }
            }
            // The HTTP/2 answer is the real one; the 101 only switched protocols.
            for key in ["status", "server", "grpc", "grpc_service"] {
                if let Some(v) = h.attrs.remove(key) {
                    f.attrs.insert(key, v);
                }
            }
            if let Some(v) = h.attrs.remove("host") {
                f.attrs.entry("host").or_insert(v);
            }
        }
        if self.grpc {
            f.attrs.insert("grpc", "true".into());
        }
        // A CONNECT tunnel carrying TLS: hand the TLS module its offsets, and do
        // not call the tunnel plaintext (the proxy request itself carries no data).
        if let (true, [Some(c), Some(s)], Some(true), Some(200..=299)) =
            (self.connect, self.tunnel, self.tunnel_tls, self.status)
        {
            f.tls_offsets = Some([c, s]);
            f.attrs.insert("tunnel", "tls".into());
        }
        // Credentials often arrive on the second request (after a 401), so keep reading
        // until one is seen or a few exchanges passed.
        // After an h2c switch the HTTP/2 analyzer settles it (or a credential did).
        f.done = h2_done || !self.creds.is_empty() || (self.req.msgs >= 3 && self.resp.msgs >= 3);
    }
}
