//! Client and server fingerprints: JA3 and JA3S (Salesforce, BSD-3-Clause) and JA4 (FoxIO,
//! BSD-3-Clause, `technical_details/JA4.md`).
//!
//! Why these and only these: they are what the peers in the corpus (tshark, Suricata, Zeek,
//! Arkime) emit, so flows can be joined across tools. JA4S and the rest of JA4+ are under the
//! FoxIO licence, which is not open source, and are deliberately not implemented.

use std::cell::RefCell;
use std::collections::HashMap;

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::handshake::{is_grease, ClientHello, ServerHello, EXT_ALPN, EXT_SERVER_NAME};
use super::names;

/// Decimal values joined by `sep`, written into one buffer: a `to_string` per value (an
/// allocation and a trip through `fmt` each) was a visible share of a handshake-heavy
/// pcap under callgrind.
fn join<T: Into<u32>>(v: impl Iterator<Item = T>, sep: &str) -> String {
    let mut out = String::new();
    for (i, x) in v.enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        let mut n: u32 = x.into();
        let mut digits = [0u8; 10];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend(digits[at..].iter().map(|&d| char::from(d)));
    }
    out
}

/// Four-digit lower-case hex values joined by `,` (JA4's raw lists).
fn hex_list(v: &[u16]) -> String {
    let mut out = String::with_capacity(v.len() * 5);
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&lower_hex(&x.to_be_bytes()));
    }
    out
}

/// The JA3 string: `version,ciphers,extensions,groups,point_formats`, decimal values joined by
/// `-`, GREASE values (RFC 8701) removed.
pub fn ja3_string(ch: &ClientHello) -> String {
    let ciphers = join(ch.ciphers.iter().copied().filter(|c| !is_grease(*c)), "-");
    let exts = join(
        ch.extensions
            .iter()
            .map(|e| e.typ)
            .filter(|t| !is_grease(*t)),
        "-",
    );
    let groups = join(ch.groups.iter().copied().filter(|g| !is_grease(*g)), "-");
    let pf = join(ch.point_formats.iter().copied(), "-");
    format!("{},{ciphers},{exts},{groups},{pf}", ch.version)
}

pub fn ja3(ch: &ClientHello) -> String {
    lower_hex(&Md5::digest(ja3_string(ch).as_bytes()))
}

/// The JA3S string: `version,cipher,extensions`.
pub fn ja3s_string(sh: &ServerHello) -> String {
    let exts = join(
        sh.extensions
            .iter()
            .map(|e| e.typ)
            .filter(|t| !is_grease(*t)),
        "-",
    );
    format!("{},{},{exts}", sh.version, sh.cipher)
}

pub fn ja3s(sh: &ServerHello) -> String {
    lower_hex(&Md5::digest(ja3s_string(sh).as_bytes()))
}

/// Distinct hellos remembered by [`client`] and [`server`]; past this a memo starts over.
const MEMO_ENTRIES: usize = 256;
/// Hellos with longer keys (thousands of offered values) are fingerprinted each time, not
/// kept: a memo stays under about 1 MiB whatever peers send.
const MEMO_MAX_KEY: usize = 4 * 1024;

thread_local! {
    /// [`client_key`] to (JA3, JA4).
    static CLIENT_MEMO: RefCell<HashMap<Vec<u8>, (String, String)>> = RefCell::new(HashMap::new());
    /// [`server_key`] to JA3S.
    static SERVER_MEMO: RefCell<HashMap<Vec<u8>, String>> = RefCell::new(HashMap::new());
}

/// A list into a memo key, its length first so that two keys are equal only when every
/// list is.
fn key_list(key: &mut Vec<u8>, values: impl ExactSizeIterator<Item = u16>) {
    key.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        key.extend_from_slice(&v.to_le_bytes());
    }
}

/// Everything JA3 and JA4 read from a ClientHello, and nothing else (not the random, the
/// session id, the key shares or the SNI value).
fn client_key(ch: &ClientHello) -> Vec<u8> {
    let mut key = Vec::with_capacity(256);
    key.extend_from_slice(&ch.version.to_le_bytes());
    key_list(&mut key, ch.ciphers.iter().copied());
    key_list(&mut key, ch.extensions.iter().map(|e| e.typ));
    key_list(&mut key, ch.groups.iter().copied());
    key_list(&mut key, ch.point_formats.iter().map(|&p| u16::from(p)));
    key_list(&mut key, ch.sig_algs.iter().copied());
    key_list(&mut key, ch.supported_versions.iter().copied());
    if let Some(alpn) = ch.alpn.first() {
        key_list(&mut key, alpn.iter().map(|&b| u16::from(b)));
    }
    key
}

fn server_key(sh: &ServerHello) -> Vec<u8> {
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(&sh.version.to_le_bytes());
    key.extend_from_slice(&sh.cipher.to_le_bytes());
    key_list(&mut key, sh.extensions.iter().map(|e| e.typ));
    key
}

/// `key`'s value in `memo`, computed by `make` the first time.
fn memoised<V: Clone>(
    memo: &'static std::thread::LocalKey<RefCell<HashMap<Vec<u8>, V>>>,
    key: Vec<u8>,
    make: impl FnOnce() -> V,
) -> V {
    if key.len() > MEMO_MAX_KEY {
        return make();
    }
    if let Some(v) = memo.with(|m| m.borrow().get(&key).cloned()) {
        return v;
    }
    let v = make();
    memo.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMO_ENTRIES {
            m.clear();
        }
        m.insert(key, v.clone());
    });
    v
}

/// JA3 and JA4 of `ch`, remembered per distinct set of inputs. A client sends the same hello
/// shape on every connection, and computing both (strings, sorts, MD5, two SHA-256) cost
/// about 40,000 instructions per hello, 20% of the recorded handshake mix; the memo key is
/// a few hundred bytes hashed with the map's SipHash (keyed per process: hellos are chosen
/// by whoever sends them).
pub fn client(ch: &ClientHello) -> (String, String) {
    memoised(&CLIENT_MEMO, client_key(ch), || (ja3(ch), ja4(ch)))
}

/// JA3S of `sh`, remembered as [`client`] remembers JA3 and JA4.
pub fn server(sh: &ServerHello) -> String {
    memoised(&SERVER_MEMO, server_key(sh), || ja3s(sh))
}

/// JA4's two-character code for a version value; `00` when unknown.
fn ja4_version_code(v: u16) -> &'static str {
    match v {
        names::TLS13 => "13",
        names::TLS12 => "12",
        names::TLS11 => "11",
        names::TLS10 => "10",
        names::SSL3 => "s3",
        names::SSL2 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's version: the highest `supported_versions` value, else `legacy_version`, mapped to its
/// code; a TLS 1.3 draft (0x7fNN) has none and gives `00`. "Highest" is numeric, as in FoxIO's
/// spec ("the highest value in the extension"), Arkime and Suricata (`t00…` for the seven
/// draft-16..23 hellos of the corpus). Values that are not IETF TLS versions (GREASE, Facebook's
/// 0xfb1a, Google's experiment 0x7e01) are skipped, as Suricata does in twelve corpus hellos
/// (`instagram.pcap`, `chrome-63.0.3211.0-canary-tls_experiment.pcap`: `t13`, `t12`). Suricata
/// also skips draft 14, which it does not know: those four flows are excused in
/// `agent/tests/golden/exceptions.toml`. DTLS values count down (0xfeff is DTLS 1.0), so a DTLS
/// list is ordered by version rank instead.
fn ja4_version(ch: &ClientHello) -> &'static str {
    let offered = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| ja4_version_code(*v) != "00" || v >> 8 == 0x7f);
    let dtls = ch.supported_versions.iter().any(|v| v >> 8 == 0xfe);
    let best = if dtls {
        offered.max_by_key(|v| names::version_rank(*v))
    } else {
        offered.max()
    };
    match best {
        Some(v) => ja4_version_code(v),
        None if ch.supported_versions.is_empty() => ja4_version_code(ch.version),
        None => "00",
    }
}

/// JA4's ALPN part: first and last character of the first ALPN value; `00` without one.
///
/// When the first or last byte is not an ASCII letter or digit, the current spec text uses the
/// first and last character of the value's hex form (`0xBAAD` → `bd`). We follow the spec (as
/// Suricata and Arkime do); FoxIO's own Rust tool writes `99` for that case instead.
fn ja4_alpn(ch: &ClientHello) -> String {
    let Some(first) = ch.alpn.first() else {
        return "00".to_owned();
    };
    match (first.first(), first.last()) {
        (Some(&a), Some(&b)) if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => {
            format!("{}{}", char::from(a), char::from(b))
        }
        (Some(_), Some(_)) => {
            let h = lower_hex(first);
            let a = h.chars().next().unwrap_or('0');
            let b = h.chars().last().unwrap_or('0');
            format!("{a}{b}")
        }
        _ => "00".to_owned(),
    }
}

/// First 12 hex characters of SHA-256, or twelve zeros for an empty input list.
fn sha12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_owned();
    }
    // Twelve hex digits: the first six bytes of the digest.
    lower_hex(Sha256::digest(s.as_bytes()).get(..6).unwrap_or_default())
}

/// Lower-case hex of `bytes`. `hex::encode` collects a char iterator, one UTF-8 push per
/// digit, and was the largest single cost of JA4 in a handshake-heavy pcap (callgrind:
/// about 1,800 instructions per SHA-256 digest); a table lookup per nibble is a tenth.
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The JA4 raw parts (the `JA4_r` form): prefix, sorted ciphers, sorted extensions, sig algs.
pub fn ja4_parts(ch: &ClientHello) -> (String, String, String, String) {
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let ext_all: Vec<u16> = ch
        .extensions
        .iter()
        .map(|e| e.typ)
        .filter(|t| !is_grease(*t))
        .collect();
    let sni = if ch.has_extension(EXT_SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let prefix = format!(
        "t{}{sni}{:02}{:02}{}",
        ja4_version(ch),
        ciphers.len().min(99),
        ext_all.len().min(99),
        ja4_alpn(ch)
    );
    ciphers.sort_unstable();
    let mut exts: Vec<u16> = ext_all
        .into_iter()
        .filter(|t| *t != EXT_SERVER_NAME && *t != EXT_ALPN)
        .collect();
    exts.sort_unstable();
    let sigs: Vec<u16> = ch
        .sig_algs
        .iter()
        .copied()
        .filter(|s| !is_grease(*s))
        .collect();
    (prefix, hex_list(&ciphers), hex_list(&exts), hex_list(&sigs))
}

/// JA4 for a ClientHello over TCP (`t` prefix).
pub fn ja4(ch: &ClientHello) -> String {
    let (prefix, ciphers, exts, sigs) = ja4_parts(ch);
    let ext_hash = if exts.is_empty() {
        "000000000000".to_owned()
    } else if sigs.is_empty() {
        sha12(&exts)
    } else {
        sha12(&format!("{exts}_{sigs}"))
    };
    format!("{prefix}_{}_{ext_hash}", sha12(&ciphers))
}

/// JA4's first character for QUIC (`t` is TCP, `d` DTLS; FoxIO technical_details/JA4.md).
pub const JA4_QUIC: char = 'q';

/// `ja4` with its transport character replaced by `transport`: the rest of the fingerprint
/// is computed from the ClientHello alone, whatever carried it.
pub fn with_transport(ja4: &str, transport: char) -> String {
    let mut chars = ja4.chars();
    chars.next();
    format!("{transport}{}", chars.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::handshake::Extension;

    fn ext(typ: u16) -> Extension {
        Extension { typ, len: 0 }
    }

    #[test]
    fn memo_answers_as_the_functions_do() {
        let mut ch = ClientHello {
            version: 0x0303,
            ciphers: vec![0x1301, 0xc02f],
            extensions: vec![ext(0), ext(10), ext(16)],
            groups: vec![29, 23],
            alpn: vec![b"h2".to_vec()],
            ..ClientHello::default()
        };
        for _ in 0..2 {
            assert_eq!(client(&ch), (ja3(&ch), ja4(&ch)));
        }
        // Each input changes the key: no stale answer for a different hello.
        ch.alpn = vec![b"http/1.1".to_vec()];
        assert_eq!(client(&ch), (ja3(&ch), ja4(&ch)));
        ch.point_formats = vec![0];
        assert_eq!(client(&ch), (ja3(&ch), ja4(&ch)));
        ch.sig_algs = vec![0x0403];
        assert_eq!(client(&ch), (ja3(&ch), ja4(&ch)));
        ch.supported_versions = vec![0x0304];
        assert_eq!(client(&ch), (ja3(&ch), ja4(&ch)));
        // Lists that concatenate alike but split differently.
        let a = ClientHello {
            ciphers: vec![1, 2],
            extensions: vec![ext(3)],
            ..ClientHello::default()
        };
        let b = ClientHello {
            ciphers: vec![1],
            extensions: vec![ext(2), ext(3)],
            ..ClientHello::default()
        };
        assert_ne!(client_key(&a), client_key(&b));
        assert_eq!(client(&b), (ja3(&b), ja4(&b)));
    }

    #[test]
    fn ja3_removes_grease() {
        let ch = ClientHello {
            version: 0x0303,
            ciphers: vec![0x2a2a, 0x1301, 0xc02f],
            extensions: vec![ext(0x3a3a), ext(0), ext(10), ext(11)],
            groups: vec![0x4a4a, 29, 23],
            point_formats: vec![0],
            ..ClientHello::default()
        };
        assert_eq!(ja3_string(&ch), "771,4865-49199,0-10-11,29-23,0");
        assert_eq!(ja3(&ch).len(), 32);
    }

    #[test]
    fn ja4_alpn_rules() {
        let mut ch = ClientHello::default();
        assert_eq!(ja4_alpn(&ch), "00");
        ch.alpn = vec![b"http/1.1".to_vec()];
        assert_eq!(ja4_alpn(&ch), "h1");
        ch.alpn = vec![b"h".to_vec()];
        assert_eq!(ja4_alpn(&ch), "hh");
        ch.alpn = vec![vec![0xba, 0xad]];
        assert_eq!(ja4_alpn(&ch), "bd");
        ch.alpn = vec![vec![]];
        assert_eq!(ja4_alpn(&ch), "00");
    }

    #[test]
    fn ja4_version_is_the_highest_value() {
        let mut ch = ClientHello {
            version: 0x0303,
            supported_versions: vec![0x0304, 0x0303],
            ..ClientHello::default()
        };
        assert_eq!(ja4_version(&ch), "13");
        ch.supported_versions = vec![0x0304, 0xfb1a];
        assert_eq!(ja4_version(&ch), "13");
        ch.supported_versions = vec![0x7a7a, 0x7e01, 0x0303];
        assert_eq!(ja4_version(&ch), "12");
        ch.supported_versions = vec![0x5a5a, 0x7f0e, 0x0303, 0x0302];
        assert_eq!(ja4_version(&ch), "00");
        ch.supported_versions = vec![0xdada, 0x7f17, 0x0304, 0x0303];
        assert_eq!(ja4_version(&ch), "00");
        ch.supported_versions = vec![0xfefc, 0xfefd];
        assert_eq!(ja4_version(&ch), "d3");
        ch.supported_versions = vec![0x7f12];
        assert_eq!(ja4_version(&ch), "00");
        ch.supported_versions.clear();
        assert_eq!(ja4_version(&ch), "12");
        ch.version = 0x0300;
        assert_eq!(ja4_version(&ch), "s3");
    }

    #[test]
    fn ja4_transport_prefix() {
        assert_eq!(
            with_transport("t13d0310h3_55b375c5d22e_cd85d2d88918", JA4_QUIC),
            "q13d0310h3_55b375c5d22e_cd85d2d88918"
        );
    }

    #[test]
    fn ja4_empty_lists() {
        let ch = ClientHello {
            version: 0x0301,
            extensions: vec![ext(0)],
            ..ClientHello::default()
        };
        assert_eq!(ja4(&ch), "t10d000100_000000000000_000000000000");
    }
}
