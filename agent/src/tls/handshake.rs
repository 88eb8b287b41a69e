//! Handshake messages in the clear: ClientHello, ServerHello (and HelloRetryRequest),
//! Certificate, ServerKeyExchange, plus the SSL 2.0 hellos.
//!
//! A small bounds-checked reader is used instead of a general-purpose parser because the
//! fingerprints need every value exactly as and where it appeared on the wire (extension
//! order, GREASE, unknown extensions, empty bodies), and because a malformed extension
//! must not throw away the rest of the hello.

use super::TlsError;

/// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
pub const HS_HELLO_REQUEST: u8 = 0;
pub const HS_CLIENT_HELLO: u8 = 1;
pub const HS_SERVER_HELLO: u8 = 2;
pub const HS_NEW_SESSION_TICKET: u8 = 4;
pub const HS_CERTIFICATE: u8 = 11;
pub const HS_SERVER_KEY_EXCHANGE: u8 = 12;
pub const HS_CERTIFICATE_REQUEST: u8 = 13;
pub const HS_SERVER_HELLO_DONE: u8 = 14;
pub const HS_CLIENT_KEY_EXCHANGE: u8 = 16;
pub const HS_FINISHED: u8 = 20;

/// Extension types (IANA "TLS ExtensionType Values").
pub const EXT_SERVER_NAME: u16 = 0; // RFC 6066 §3
pub const EXT_SUPPORTED_GROUPS: u16 = 10; // RFC 8422 §5.1.1, RFC 7919
pub const EXT_EC_POINT_FORMATS: u16 = 11; // RFC 8422 §5.1.2
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 13; // RFC 8446 §4.2.3
pub const EXT_HEARTBEAT: u16 = 15; // RFC 6520 §2
pub const EXT_ALPN: u16 = 16; // RFC 7301 §3.1
pub const EXT_EXTENDED_MASTER_SECRET: u16 = 23; // RFC 7627
pub const EXT_SESSION_TICKET: u16 = 35; // RFC 5077 §3.2
pub const EXT_PRE_SHARED_KEY: u16 = 41; // RFC 8446 §4.2.11
pub const EXT_EARLY_DATA: u16 = 42; // RFC 8446 §4.2.10
pub const EXT_SUPPORTED_VERSIONS: u16 = 43; // RFC 8446 §4.2.1
pub const EXT_KEY_SHARE: u16 = 51; // RFC 8446 §4.2.8
/// key_share's code point before draft-ietf-tls-tls13-23 (§4.2.8 of drafts ≤ 22).
pub const EXT_KEY_SHARE_OLD: u16 = 40;
pub const EXT_ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d; // draft-ietf-tls-esni (ECH)
pub const EXT_ENCRYPTED_SERVER_NAME: u16 = 0xffce; // draft-ietf-tls-esni-01..06 (ESNI)
pub const EXT_RENEGOTIATION_INFO: u16 = 0xff01; // RFC 5746 §3.2

/// Signalling cipher suite values.
pub const SCSV_RENEGOTIATION: u16 = 0x00ff; // RFC 5746 §3.3
pub const SCSV_FALLBACK: u16 = 0x5600; // RFC 7507 §6

/// ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Downgrade sentinel prefix in the last 8 bytes of ServerHello.random (RFC 8446 §4.1.3):
/// `DOWNGRD` then 0x01 (TLS 1.2 negotiated) or 0x00 (TLS 1.1 or below).
pub const DOWNGRADE_PREFIX: [u8; 7] = *b"DOWNGRD";

/// GREASE values (RFC 8701 §2): 0x?A?A with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A bounds-checked big-endian reader. Every read fails with a `TlsError` instead of
/// panicking, so arbitrary input is safe.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("buf", &crate::redact::Len(self.buf))
            .field("what", &self.what)
            .finish()
    }
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], TlsError> {
        if n > self.buf.len() {
            return Err(TlsError::Truncated(self.what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, TlsError> {
        let b = self.bytes(1)?;
        b.first().copied().ok_or(TlsError::Truncated(self.what))
    }

    pub fn u16(&mut self) -> Result<u16, TlsError> {
        let b = self.bytes(2)?;
        match b {
            [a, c] => Ok(u16::from_be_bytes([*a, *c])),
            _ => Err(TlsError::Truncated(self.what)),
        }
    }

    pub fn u24(&mut self) -> Result<usize, TlsError> {
        let b = self.bytes(3)?;
        match b {
            [a, c, d] => Ok((usize::from(*a) << 16) | (usize::from(*c) << 8) | usize::from(*d)),
            _ => Err(TlsError::Truncated(self.what)),
        }
    }

    /// `opaque x<0..2^8-1>`
    pub fn vec8(&mut self) -> Result<&'a [u8], TlsError> {
        let n = usize::from(self.u8()?);
        self.bytes(n)
    }

    /// `opaque x<0..2^16-1>`
    pub fn vec16(&mut self) -> Result<&'a [u8], TlsError> {
        let n = usize::from(self.u16()?);
        self.bytes(n)
    }

    /// `opaque x<0..2^24-1>`
    pub fn vec24(&mut self) -> Result<&'a [u8], TlsError> {
        let n = self.u24()?;
        self.bytes(n)
    }
}

/// Read a list of u16 values (cipher suites, groups, signature schemes, versions).
fn u16_list(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|c| match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        })
        .collect()
}

/// One extension as it appeared on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    pub typ: u16,
    pub len: usize,
}

/// Everything Plainsight keeps from a ClientHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// Came in an SSL 2.0 record (RFC 5246 appendix E.2).
    pub sslv2_record: bool,
    /// `legacy_version` (`client_version` before TLS 1.3).
    pub version: u16,
    pub session_id: Vec<u8>,
    /// Cipher suites in wire order, GREASE included. For an SSLv2 hello, the specs whose first
    /// byte is 0 (TLS suites carried in SSLv2 form).
    pub ciphers: Vec<u16>,
    /// SSL 2.0 cipher specs (three bytes) of an SSLv2-format hello whose first byte is not 0.
    pub ssl2_specs: Vec<u32>,
    pub compression: Vec<u8>,
    /// Whether an extensions block was present at all (absent in SSL 3.0 era hellos).
    pub has_extensions: bool,
    pub extensions: Vec<Extension>,
    pub sni: Option<String>,
    pub alpn: Vec<Vec<u8>>,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    pub sig_algs: Vec<u16>,
    pub supported_versions: Vec<u16>,
    pub key_share_groups: Vec<u16>,
    pub early_data: bool,
    /// Session ticket extension present; `Some(len)` of the ticket offered (0 = asks for one).
    pub session_ticket: Option<usize>,
    pub renegotiation_info: bool,
    /// Heartbeat extension mode (RFC 6520 §2): 1 peer_allowed_to_send, 2 not allowed.
    pub heartbeat: Option<u8>,
    pub ech: bool,
    pub esni: bool,
    pub psk: bool,
    /// Extensions that failed to parse (their type), kept so findings can be cautious.
    pub malformed_extensions: Vec<u16>,
}

impl ClientHello {
    pub fn has_extension(&self, typ: u16) -> bool {
        self.extensions.iter().any(|e| e.typ == typ)
    }

    /// The highest version the client offers: `supported_versions` when present
    /// (RFC 8446 §4.2.1 makes `legacy_version` meaningless then), else `legacy_version`.
    pub fn max_version(&self) -> u16 {
        let best = self
            .supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max_by_key(|v| super::names::version_rank(*v));
        best.unwrap_or(self.version)
    }

    pub fn offers_cipher(&self, code: u16) -> bool {
        self.ciphers.contains(&code)
    }
}

/// Parse a ClientHello body (after the 4-byte handshake header), RFC 8446 §4.1.2.
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, TlsError> {
    let mut r = Reader::new(body, "ClientHello");
    let mut ch = ClientHello {
        version: r.u16()?,
        ..ClientHello::default()
    };
    r.bytes(32)?; // random
    ch.session_id = r.vec8()?.to_vec();
    ch.ciphers = u16_list(r.vec16()?);
    ch.compression = r.vec8()?.to_vec();
    if r.is_empty() {
        return Ok(ch);
    }
    ch.has_extensions = true;
    let mut exts = Reader::new(r.vec16()?, "ClientHello extensions");
    while !exts.is_empty() {
        // Trailing bytes too short for one more extension end the list; the extensions
        // before them stay (tshark computes JA3 the same way, e.g. nDPI's
        // ossfuzz_seed_fake_traces_1.pcapng).
        let (Ok(typ), Ok(data)) = (exts.u16(), exts.vec16()) else {
            break;
        };
        ch.extensions.push(Extension {
            typ,
            len: data.len(),
        });
        if client_extension(&mut ch, typ, data).is_err() {
            ch.malformed_extensions.push(typ);
        }
    }
    Ok(ch)
}

fn client_extension(ch: &mut ClientHello, typ: u16, data: &[u8]) -> Result<(), TlsError> {
    let mut r = Reader::new(data, "extension");
    match typ {
        EXT_SERVER_NAME => {
            // An empty body is legal in the ServerHello only; a client sends a list.
            let mut list = Reader::new(r.vec16()?, "server_name list");
            while !list.is_empty() {
                let name_type = list.u8()?;
                let name = list.vec16()?;
                if name_type == 0 && ch.sni.is_none() {
                    ch.sni = Some(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
        EXT_SUPPORTED_GROUPS => ch.groups = u16_list(r.vec16()?),
        EXT_EC_POINT_FORMATS => ch.point_formats = r.vec8()?.to_vec(),
        EXT_SIGNATURE_ALGORITHMS => ch.sig_algs = u16_list(r.vec16()?),
        EXT_HEARTBEAT => ch.heartbeat = Some(r.u8()?),
        EXT_ALPN => {
            let mut list = Reader::new(r.vec16()?, "alpn list");
            while !list.is_empty() {
                ch.alpn.push(list.vec8()?.to_vec());
            }
        }
        EXT_SESSION_TICKET => ch.session_ticket = Some(data.len()),
        EXT_PRE_SHARED_KEY => ch.psk = true,
        EXT_EARLY_DATA => ch.early_data = true,
        EXT_SUPPORTED_VERSIONS => ch.supported_versions = u16_list(r.vec8()?),
        EXT_KEY_SHARE | EXT_KEY_SHARE_OLD => {
            let mut list = Reader::new(r.vec16()?, "key_share list");
            while !list.is_empty() {
                ch.key_share_groups.push(list.u16()?);
                list.vec16()?;
            }
        }
        EXT_ENCRYPTED_CLIENT_HELLO => ch.ech = true,
        EXT_ENCRYPTED_SERVER_NAME => ch.esni = true,
        EXT_RENEGOTIATION_INFO => ch.renegotiation_info = true,
        _ => {}
    }
    Ok(())
}

/// Parse an SSL 2.0 CLIENT-HELLO message (draft-hickman-netscape-ssl-00 §2.5), as sent by SSLv2
/// clients and by SSLv3/TLS clients in the backwards-compatible form (RFC 5246 appendix E.2).
pub fn parse_ssl2_client_hello(msg: &[u8]) -> Result<ClientHello, TlsError> {
    let mut r = Reader::new(msg, "SSLv2 CLIENT-HELLO");
    if r.u8()? != 1 {
        return Err(TlsError::Unexpected("SSLv2 message type"));
    }
    let mut ch = ClientHello {
        sslv2_record: true,
        version: r.u16()?,
        ..ClientHello::default()
    };
    let specs_len = usize::from(r.u16()?);
    let sid_len = usize::from(r.u16()?);
    let challenge_len = usize::from(r.u16()?);
    let specs = r.bytes(specs_len)?;
    ch.session_id = r.bytes(sid_len)?.to_vec();
    r.bytes(challenge_len)?;
    for spec in specs.chunks_exact(3) {
        if let [a, b, c] = spec {
            if *a == 0 {
                ch.ciphers.push(u16::from_be_bytes([*b, *c]));
            } else {
                ch.ssl2_specs
                    .push((u32::from(*a) << 16) | (u32::from(*b) << 8) | u32::from(*c));
            }
        }
    }
    ch.compression = vec![0];
    Ok(ch)
}

/// An SSL 2.0 SERVER-HELLO (draft-hickman-netscape-ssl-00 §2.6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ssl2ServerHello {
    pub session_id_hit: bool,
    pub version: u16,
    pub certificate: Vec<u8>,
    pub specs: Vec<u32>,
}

pub fn parse_ssl2_server_hello(msg: &[u8]) -> Result<Ssl2ServerHello, TlsError> {
    let mut r = Reader::new(msg, "SSLv2 SERVER-HELLO");
    if r.u8()? != 4 {
        return Err(TlsError::Unexpected("SSLv2 message type"));
    }
    let session_id_hit = r.u8()? != 0;
    let _cert_type = r.u8()?;
    let version = r.u16()?;
    let cert_len = usize::from(r.u16()?);
    let specs_len = usize::from(r.u16()?);
    let _conn_id_len = r.u16()?;
    let certificate = r.bytes(cert_len)?.to_vec();
    let specs = r
        .bytes(specs_len)?
        .chunks_exact(3)
        .map(|s| match s {
            [a, b, c] => (u32::from(*a) << 16) | (u32::from(*b) << 8) | u32::from(*c),
            _ => 0,
        })
        .collect();
    Ok(Ssl2ServerHello {
        session_id_hit,
        version,
        certificate,
        specs,
    })
}

/// Everything Plainsight keeps from a ServerHello or HelloRetryRequest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher: u16,
    pub compression: u8,
    pub extensions: Vec<Extension>,
    pub supported_version: Option<u16>,
    /// Selected key-share group (RFC 8446 §4.2.8); for a HelloRetryRequest the group asked for.
    pub key_share_group: Option<u16>,
    pub alpn: Option<Vec<u8>>,
    pub renegotiation_info: bool,
    pub heartbeat: Option<u8>,
    pub session_ticket: bool,
    pub psk: bool,
    pub point_formats: Vec<u8>,
    pub hello_retry: bool,
}

impl ServerHello {
    /// The negotiated version: `supported_versions` wins over `legacy_version` (RFC 8446 §4.2.1).
    pub fn negotiated(&self) -> u16 {
        self.supported_version.unwrap_or(self.version)
    }

    /// The RFC 8446 §4.1.3 downgrade sentinel, if present: `Some(1)` for the TLS 1.2 marker,
    /// `Some(0)` for the TLS 1.1-and-below marker.
    pub fn downgrade_sentinel(&self) -> Option<u8> {
        let tail = self.random.get(24..)?;
        let (prefix, last) = tail.split_at(7);
        if prefix == DOWNGRADE_PREFIX {
            last.first().copied().filter(|b| *b <= 1)
        } else {
            None
        }
    }

    pub fn has_extension(&self, typ: u16) -> bool {
        self.extensions.iter().any(|e| e.typ == typ)
    }
}

/// TLS 1.3 drafts 0x7f00..0x7f15 (before draft 22) used a shorter ServerHello.
fn is_early_tls13_draft(v: u16) -> bool {
    (v >> 8) == 0x7f && (v & 0xff) < 22
}

/// Parse a ServerHello body (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, TlsError> {
    let mut r = Reader::new(body, "ServerHello");
    let mut sh = ServerHello {
        version: r.u16()?,
        ..ServerHello::default()
    };
    sh.random.copy_from_slice(r.bytes(32)?);
    sh.hello_retry = sh.random == HRR_RANDOM;
    if is_early_tls13_draft(sh.version) {
        // Drafts before 22 had no legacy_session_id_echo nor compression method
        // (draft-ietf-tls-tls13-21 §4.1.3), and carried the version here.
        sh.cipher = r.u16()?;
    } else {
        sh.session_id = r.vec8()?.to_vec();
        sh.cipher = r.u16()?;
        sh.compression = r.u8()?;
    }
    if r.is_empty() {
        return Ok(sh);
    }
    let mut exts = Reader::new(r.vec16()?, "ServerHello extensions");
    while !exts.is_empty() {
        let typ = exts.u16()?;
        let data = exts.vec16()?;
        sh.extensions.push(Extension {
            typ,
            len: data.len(),
        });
        // A malformed extension leaves its field unset; the rest is still useful.
        let _ = server_extension(&mut sh, typ, data);
    }
    Ok(sh)
}

fn server_extension(sh: &mut ServerHello, typ: u16, data: &[u8]) -> Result<(), TlsError> {
    let mut r = Reader::new(data, "extension");
    match typ {
        EXT_SUPPORTED_VERSIONS => sh.supported_version = Some(r.u16()?),
        // ServerHello: KeyShareEntry; HelloRetryRequest: NamedGroup only (RFC 8446 §4.2.8).
        // Code point 40 is only ever key_share in a ServerHello (TLS 1.3 drafts ≤ 22).
        EXT_KEY_SHARE | EXT_KEY_SHARE_OLD => sh.key_share_group = Some(r.u16()?),
        EXT_ALPN => {
            let mut list = Reader::new(r.vec16()?, "alpn list");
            sh.alpn = Some(list.vec8()?.to_vec());
        }
        EXT_RENEGOTIATION_INFO => sh.renegotiation_info = true,
        EXT_HEARTBEAT => sh.heartbeat = Some(r.u8()?),
        EXT_SESSION_TICKET => sh.session_ticket = true,
        EXT_PRE_SHARED_KEY => sh.psk = true,
        EXT_EC_POINT_FORMATS => sh.point_formats = r.vec8()?.to_vec(),
        _ => {}
    }
    Ok(())
}

/// The DER certificates of a TLS 1.2-and-below Certificate message (RFC 5246 §7.4.2).
/// A chain cut short by the capture yields the certificates that are complete.
pub fn parse_certificate_list(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut r = Reader::new(body, "Certificate");
    let Ok(total) = r.u24() else {
        return out;
    };
    let list = r.rest();
    let mut list = Reader::new(list.get(..total).unwrap_or(list), "certificate_list");
    while let Ok(cert) = list.vec24() {
        out.push(cert);
    }
    out
}

/// What a ServerKeyExchange says about the key exchange group (RFC 8422 §5.4, RFC 5246 §7.4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyExchangeParams {
    /// ECDHE over a named curve.
    NamedCurve(u16),
    /// Finite-field DHE with a prime of this many bits.
    Dh { prime_bits: usize },
}

/// `ecdhe` says which layout to expect, from the negotiated suite.
pub fn parse_server_key_exchange(body: &[u8], ecdhe: bool) -> Option<KeyExchangeParams> {
    let mut r = Reader::new(body, "ServerKeyExchange");
    if ecdhe {
        // ECCurveType named_curve(3) then NamedCurve.
        (r.u8().ok()? == 3)
            .then(|| r.u16().ok())
            .flatten()
            .map(KeyExchangeParams::NamedCurve)
    } else {
        let p = r.vec16().ok()?;
        let p = match p.iter().position(|b| *b != 0) {
            Some(i) => p.get(i..)?,
            None => return None,
        };
        let lead = p.first().map_or(0, |b| b.leading_zeros() as usize);
        Some(KeyExchangeParams::Dh {
            prime_bits: (p.len() * 8).saturating_sub(lead),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn reader_never_panics() {
        let mut r = Reader::new(&[0, 5, 1], "t");
        assert!(r.vec16().is_err());
        let mut r = Reader::new(&[], "t");
        assert!(r.u24().is_err());
    }

    #[test]
    fn downgrade_sentinel() {
        let mut sh = ServerHello::default();
        assert_eq!(sh.downgrade_sentinel(), None);
        sh.random[24..31].copy_from_slice(b"DOWNGRD");
        sh.random[31] = 1;
        assert_eq!(sh.downgrade_sentinel(), Some(1));
        sh.random[31] = 0;
        assert_eq!(sh.downgrade_sentinel(), Some(0));
        sh.random[31] = 7;
        assert_eq!(sh.downgrade_sentinel(), None);
    }

    #[test]
    fn ske_dh_prime_bits() {
        let mut body = vec![0x01, 0x01, 0x00, 0x80];
        body.extend(std::iter::repeat_n(0xff, 0x100));
        assert_eq!(
            parse_server_key_exchange(&body, false),
            Some(KeyExchangeParams::Dh { prime_bits: 2048 })
        );
        assert_eq!(
            parse_server_key_exchange(&[3, 0, 29, 32], true),
            Some(KeyExchangeParams::NamedCurve(29))
        );
    }
}
