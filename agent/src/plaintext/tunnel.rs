//! Proxy preambles in front of the tunnelled protocol: SOCKS 4 and 4a (Ying-Da Lee, "SOCKS:
//! A protocol for TCP proxy across firewalls" and "SOCKS 4A"), SOCKS 5 (RFC 1928, with the
//! username/password sub-negotiation of RFC 1929) and HTTP CONNECT (RFC 9110 §9.3.6).
//!
//! Why: a client that reaches a server through such a proxy sends the proxy's handshake
//! first, so the first-message recognisers see SOCKS bytes or a CONNECT request instead of
//! the HTTP, SMTP… that follows. [`client`] measures the client's preamble and [`server`] the
//! proxy's answer; once the answer grants the tunnel, recognition starts after both.
//! Framing only: nothing here keeps a byte (the RFC 1929 password included).

/// What the client's first bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Client {
    /// A complete preamble of this kind, this many bytes long.
    Found(Kind, usize),
    /// A plausible prefix of a preamble: wait for more bytes.
    Pending,
    None,
}

/// The proxy's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Server {
    /// The tunnel is open; the answer took this many bytes.
    Granted(usize),
    Pending,
    /// Refused, or not a proxy answer at all.
    No,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Socks4,
    Socks4a,
    Socks5,
    HttpConnect,
}

impl Kind {
    /// The event's `proxy` value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Socks4 => "socks4",
            Kind::Socks4a => "socks4a",
            Kind::Socks5 => "socks5",
            Kind::HttpConnect => "http_connect",
        }
    }
}

/// Credentials in a complete preamble of `kind` (`data` starts with it): a CONNECT's
/// `Proxy-Authorization` (RFC 9110 §11.7.1), or the RFC 1929 username/password of SOCKS 5
/// (mechanism `socks5`). The secret is not kept.
pub(crate) fn credentials(kind: Kind, data: &[u8]) -> Option<super::Cred> {
    match kind {
        Kind::HttpConnect => {
            let head = data.get(..head_end(data)?)?;
            super::wire::lines(head, 0).skip(1).find_map(|(line, _)| {
                let colon = line.iter().position(|&b| b == b':')?;
                let name = line.get(..colon)?.to_ascii_lowercase();
                (name == b"proxy-authorization")
                    .then(|| super::http::authorization(line.get(colon + 1..)?))
                    .flatten()
            })
        }
        Kind::Socks5 => {
            let n = usize::from(*data.get(1)?);
            let at = 2 + n;
            if data.get(at) != Some(&1) || !data.get(2..at)?.contains(&2) {
                return None;
            }
            let ulen = usize::from(*data.get(at + 1)?);
            let user = data.get(at + 2..at + 2 + ulen)?;
            Some(super::Cred::new(
                "socks5",
                Some(super::wire::printable(user, 128)),
            ))
        }
        Kind::Socks4 | Kind::Socks4a => None,
    }
}

/// Longest user id or host name accepted in a SOCKS 4/4a request.
const MAX_SOCKS4_FIELD: usize = 255;
/// Longest CONNECT request or answer head.
const MAX_HTTP_HEAD: usize = 4096;

/// Measures the client's preamble at the start of its stream.
pub(crate) fn client(data: &[u8]) -> Client {
    match data.first() {
        None => Client::Pending,
        Some(4) => socks4(data),
        Some(5) => socks5(data),
        Some(b'C') => connect(data),
        Some(_) => Client::None,
    }
}

/// Measures the proxy's answer to a `kind` preamble at the start of the server's stream.
pub(crate) fn server(kind: Kind, data: &[u8]) -> Server {
    match kind {
        // VN 0, CD 90 (granted), port, address (SOCKS 4 "CONNECT").
        Kind::Socks4 | Kind::Socks4a => match (data.first(), data.get(1)) {
            (Some(0), Some(0x5a)) if data.len() >= 8 => Server::Granted(8),
            (Some(0), Some(0x5a)) | (Some(0), None) | (None, _) => Server::Pending,
            _ => Server::No,
        },
        Kind::Socks5 => socks5_server(data),
        Kind::HttpConnect => {
            let n = data.len().min(12);
            if !(data.starts_with(b"HTTP/1.1 200") || data.starts_with(b"HTTP/1.0 200")) {
                let prefix = b"HTTP/1.1 200".get(..n) == data.get(..n)
                    || b"HTTP/1.0 200".get(..n) == data.get(..n);
                return if prefix { Server::Pending } else { Server::No };
            }
            match head_end(data) {
                Some(end) => Server::Granted(end),
                None if data.len() < MAX_HTTP_HEAD => Server::Pending,
                None => Server::No,
            }
        }
    }
}

/// VN 4, CD 1 (connect) or 2 (bind), port, IPv4, user id NUL; with 0.0.0.x (x ≠ 0) as the
/// address (4a), the host name NUL follows.
fn socks4(data: &[u8]) -> Client {
    match data.get(1) {
        None => return Client::Pending,
        Some(1 | 2) => {}
        Some(_) => return Client::None,
    }
    let Some(ip) = data.get(4..8) else {
        return Client::Pending;
    };
    let a4 = ip[..3] == [0, 0, 0] && ip[3] != 0;
    let Some(user_end) = nul_field(data, 8) else {
        return pending_unless_long(data, 8);
    };
    if !a4 {
        return Client::Found(Kind::Socks4, user_end);
    }
    match nul_field(data, user_end) {
        Some(end) if end > user_end + 1 => Client::Found(Kind::Socks4a, end),
        Some(_) => Client::None,
        None => pending_unless_long(data, user_end),
    }
}

/// The end (past the NUL) of a printable NUL-terminated field starting at `from`.
fn nul_field(data: &[u8], from: usize) -> Option<usize> {
    let rest = data.get(from..)?;
    let n = rest
        .iter()
        .take(MAX_SOCKS4_FIELD + 1)
        .position(|&b| b == 0)?;
    rest[..n]
        .iter()
        .all(u8::is_ascii_graphic)
        .then_some(from + n + 1)
}

fn pending_unless_long(data: &[u8], from: usize) -> Client {
    let rest = data.get(from..).unwrap_or(&[]);
    if rest.len() <= MAX_SOCKS4_FIELD && rest.iter().all(u8::is_ascii_graphic) {
        Client::Pending
    } else {
        Client::None
    }
}

/// RFC 1928 §3 greeting (VER 5, NMETHODS, METHODS), the RFC 1929 sub-negotiation when the
/// client sends one (VER 1, ULEN, UNAME, PLEN, PASSWD), then the §4 request (VER 5, CMD 1-3,
/// RSV 0, ATYP 1/3/4, address, port).
fn socks5(data: &[u8]) -> Client {
    let Some(&n) = data.get(1) else {
        return Client::Pending;
    };
    if n == 0 || n > 16 {
        return Client::None;
    }
    let mut at = 2 + usize::from(n);
    let Some(methods) = data.get(2..at) else {
        return Client::Pending;
    };
    // Methods: no auth, GSSAPI, username/password, IANA-assigned, private (RFC 1928 §3).
    if methods
        .iter()
        .any(|&m| (0x0a..0x80).contains(&m) || m == 0xff)
    {
        return Client::None;
    }
    if data.get(at) == Some(&1) {
        // Username/password: skip it without looking at it.
        let Some(&ulen) = data.get(at + 1) else {
            return Client::Pending;
        };
        let plen_at = at + 2 + usize::from(ulen);
        let Some(&plen) = data.get(plen_at) else {
            return Client::Pending;
        };
        at = plen_at + 1 + usize::from(plen);
    }
    let Some(req) = data.get(at..at + 4) else {
        return if data.len() <= at || data.get(at) == Some(&5) {
            Client::Pending
        } else {
            Client::None
        };
    };
    if req[0] != 5 || !(1..=3).contains(&req[1]) || req[2] != 0 {
        return Client::None;
    }
    let addr = match req[3] {
        1 => 4,
        4 => 16,
        3 => match data.get(at + 4) {
            Some(&len) if len > 0 => 1 + usize::from(len),
            Some(_) => return Client::None,
            None => return Client::Pending,
        },
        _ => return Client::None,
    };
    let end = at + 4 + addr + 2;
    if data.len() >= end {
        Client::Found(Kind::Socks5, end)
    } else {
        Client::Pending
    }
}

/// RFC 1928: method selection (VER 5, METHOD), the RFC 1929 status (VER 1, STATUS 0) after
/// method 2, then the reply (VER 5, REP 0 = succeeded, RSV 0, ATYP, address, port).
fn socks5_server(data: &[u8]) -> Server {
    let (Some(&v), Some(&method)) = (data.first(), data.get(1)) else {
        return if data.first().is_none_or(|&v| v == 5) {
            Server::Pending
        } else {
            Server::No
        };
    };
    if v != 5 || method == 0xff {
        return Server::No;
    }
    let mut at = 2;
    if method == 2 {
        match (data.get(2), data.get(3)) {
            (Some(1), Some(0)) => at = 4,
            (Some(1), None) | (None, _) => return Server::Pending,
            _ => return Server::No,
        }
    }
    let Some(rep) = data.get(at..at + 4) else {
        return Server::Pending;
    };
    if rep[0] != 5 || rep[1] != 0 || rep[2] != 0 {
        return Server::No;
    }
    let addr = match rep[3] {
        1 => 4,
        4 => 16,
        3 => match data.get(at + 4) {
            Some(&len) => 1 + usize::from(len),
            None => return Server::Pending,
        },
        _ => return Server::No,
    };
    let end = at + 4 + addr + 2;
    if data.len() >= end {
        Server::Granted(end)
    } else {
        Server::Pending
    }
}

/// `CONNECT host:port HTTP/1.x` and its header block.
fn connect(data: &[u8]) -> Client {
    const VERB: &[u8] = b"CONNECT ";
    let n = data.len().min(VERB.len());
    if VERB.get(..n) != data.get(..n) {
        return Client::None;
    }
    let line_end = data.iter().take(MAX_HTTP_HEAD).position(|&b| b == b'\n');
    if let Some(e) = line_end {
        let line = data.get(..e).unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !(line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0")) {
            return Client::None;
        }
    }
    match head_end(data) {
        Some(end) => Client::Found(Kind::HttpConnect, end),
        None if data.len() < MAX_HTTP_HEAD => Client::Pending,
        None => Client::None,
    }
}

/// The end of an HTTP head (past its blank line).
fn head_end(data: &[u8]) -> Option<usize> {
    let d = data.get(..MAX_HTTP_HEAD.min(data.len()))?;
    d.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Where the tunnel starts in a direction's bytes, given where the preamble (or answer)
/// ended: a stray LF right after a CONNECT head belongs to the head, as Suricata takes it
/// (suricata-verify `http-connect-tls`: client and server both send `\r\n\r\n\n`, and
/// the TLS record follows). Decided only once that byte is there, so feeding byte by
/// byte gives the same answer.
pub(crate) fn tunnel_start(kind: Kind, data: &[u8], end: usize) -> usize {
    if kind == Kind::HttpConnect && data.get(end) == Some(&b'\n') {
        end + 1
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socks5_with_and_without_password() {
        let mut c = vec![5, 1, 0];
        assert_eq!(client(&c), Client::Pending);
        c.extend_from_slice(&[5, 1, 0, 3, 3, b'a', b'.', b'b', 0, 80]);
        assert_eq!(client(&c), Client::Found(Kind::Socks5, 13));
        c.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(client(&c), Client::Found(Kind::Socks5, 13));
        let s = [5, 0, 5, 0, 0, 1, 10, 0, 0, 2, 0, 80];
        assert_eq!(server(Kind::Socks5, &s[..5]), Server::Pending);
        assert_eq!(server(Kind::Socks5, &s), Server::Granted(12));
        let refused = [5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(server(Kind::Socks5, &refused), Server::No);

        let mut auth = vec![5, 1, 2, 1, 1, b'u', 2, b'p', b'w'];
        auth.extend_from_slice(&[5, 1, 0, 1, 10, 0, 0, 2, 0, 25]);
        assert_eq!(client(&auth), Client::Found(Kind::Socks5, 19));
        let s = [5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 2, 0, 25];
        assert_eq!(server(Kind::Socks5, &s), Server::Granted(14));
    }

    #[test]
    fn preamble_credentials_without_the_secret() {
        let c = b"CONNECT a:443 HTTP/1.1\r\nProxy-Authorization: Basic dXNlcjpQcm94eVB3\r\n\r\n";
        let cred = credentials(Kind::HttpConnect, c).expect("basic");
        assert_eq!(cred.mechanism, "basic");
        assert!(!format!("{cred:?}").contains("ProxyPw"));
        let mut s = vec![5, 1, 2, 1, 3, b'b', b'o', b'b', 3, b'p', b'w', b'!'];
        s.extend_from_slice(&[5, 1, 0, 1, 10, 0, 0, 2, 0, 25]);
        let cred = credentials(Kind::Socks5, &s).expect("socks5");
        assert_eq!(cred.mechanism, "socks5");
        assert_eq!(
            credentials(Kind::Socks5, &[5, 1, 0, 5, 1, 0, 1, 1, 1, 1, 1, 0, 1]),
            None
        );
    }

    #[test]
    fn socks4_and_4a() {
        let c = [4, 1, 1, 187, 10, 0, 0, 2, b'u', 0];
        assert_eq!(client(&c), Client::Found(Kind::Socks4, 10));
        let mut a = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
        a.extend_from_slice(b"example.com\0");
        assert_eq!(client(&a), Client::Found(Kind::Socks4a, 21));
        assert_eq!(
            server(Kind::Socks4, &[0, 0x5a, 0, 0, 0, 0, 0, 0]),
            Server::Granted(8)
        );
        assert_eq!(
            server(Kind::Socks4, &[0, 0x5b, 0, 0, 0, 0, 0, 0]),
            Server::No
        );
    }

    #[test]
    fn http_connect() {
        let c = b"CONNECT mail.example:25 HTTP/1.1\r\nHost: mail.example:25\r\n\r\n";
        assert_eq!(client(c), Client::Found(Kind::HttpConnect, c.len()));
        assert_eq!(client(&c[..20]), Client::Pending);
        assert_eq!(client(b"CONNECTED\r\n"), Client::None);
        let s = b"HTTP/1.1 200 Connection established\r\n\r\n220 mail ESMTP\r\n";
        assert_eq!(server(Kind::HttpConnect, s), Server::Granted(39));
        assert_eq!(tunnel_start(Kind::HttpConnect, s, 39), 39);
        assert_eq!(tunnel_start(Kind::HttpConnect, b"x\r\n\r\n\n", 5), 6);
        assert_eq!(
            server(
                Kind::HttpConnect,
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            ),
            Server::No
        );
    }

    #[test]
    fn other_first_bytes_are_not_a_preamble() {
        assert_eq!(client(b"GET / HTTP/1.1\r\n"), Client::None);
        assert_eq!(client(&[5, 0]), Client::None);
        assert_eq!(client(&[4, 9, 0, 0]), Client::None);
        assert_eq!(client(&[0x16, 3, 1]), Client::None);
    }
}
