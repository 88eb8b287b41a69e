//! The server's leaf certificate, read with x509-parser, reduced to the facts findings need.
//!
//! Only the leaf is summarised: it is the certificate whose names, dates and key decide what
//! a client sees. Nothing is validated against a trust store; this is observation, not PKI.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::TlsError;

/// The `cert` object of the JSON `tls` object. Field names are a public contract.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// RFC 4514-style distinguished name, as x509-parser displays it.
    pub subject: String,
    pub issuer: String,
    /// Serial number as uppercase hex, no separators, bytes as encoded (a leading 00 kept).
    pub serial: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
    /// `RSA`, `RSA-PSS`, `EC`, `Ed25519`, `Ed448`, `DSA`, `GOST`, or the algorithm OID.
    pub key_type: String,
    pub key_bits: Option<u32>,
    /// Signature algorithm short name, e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`.
    pub sig_alg: String,
    /// DNS names from subjectAltName.
    pub san: Vec<String>,
    /// Subject equals issuer (a self-issued certificate; the signature is not checked).
    pub self_signed: bool,
    /// subjectAltName IP addresses, for clients that (wrongly, RFC 6066 §3) put an IP in SNI.
    #[serde(skip)]
    pub san_ips: Vec<IpAddr>,
    /// Subject common names, for name matching when there is no SAN.
    #[serde(skip)]
    pub common_names: Vec<String>,
    #[serde(skip)]
    pub not_before_unix: i64,
    #[serde(skip)]
    pub not_after_unix: i64,
}

/// Format Unix seconds as RFC 3339 UTC without pulling in a date crate
/// (days-to-civil conversion from H. Hinnant's public-domain algorithm).
pub fn rfc3339(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

fn key_type(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        "1.2.840.10045.2.1" => "EC",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.643.2.2.19" | "1.2.643.7.1.1.1.1" | "1.2.643.7.1.1.1.2" => "GOST",
        // FIPS 204 ML-DSA (draft-ietf-lamps-dilithium-certificates).
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44",
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65",
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87",
        _ => return None,
    })
}

/// Bits of a big-endian unsigned integer, ignoring leading zero bytes (DER adds one when the
/// top bit is set).
fn int_bits(v: &[u8]) -> u32 {
    let Some(i) = v.iter().position(|b| *b != 0) else {
        return 0;
    };
    let v = v.get(i..).unwrap_or_default();
    let lead = v.first().map_or(0, |b| b.leading_zeros());
    u32::try_from(v.len()).unwrap_or(u32::MAX / 8) * 8 - lead
}

/// Summarise one DER certificate.
pub fn parse(der: &[u8]) -> Result<CertInfo, TlsError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| TlsError::Certificate)?;
    let spki = cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    let kt = key_type(&alg);
    let key_bits = match (kt, spki.parsed()) {
        (_, Ok(PublicKey::RSA(rsa))) => Some(int_bits(rsa.modulus)),
        (_, Ok(PublicKey::EC(ec))) => u32::try_from(ec.key_size()).ok(),
        (Some("DSA"), Ok(PublicKey::DSA(_))) => spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| dsa_p_bits(p.data)),
        (Some("Ed25519"), _) => Some(256),
        (Some("Ed448"), _) => Some(456),
        _ => None,
    };
    let sig_oid = &cert.signature_algorithm.algorithm;
    let sig_id = sig_oid.to_id_string();
    let sig_alg = match oid2sn(sig_oid, oid_registry()) {
        Ok(sn) => sn.to_owned(),
        // ML-DSA signs with the same OID as its key type.
        Err(_) => key_type(&sig_id).map_or(sig_id, str::to_owned),
    };
    let mut san = Vec::new();
    let mut san_ips = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => san.push((*d).to_owned()),
                GeneralName::IPAddress(b) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                        san_ips.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                        san_ips.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    let common_names = cert
        .subject()
        .iter_common_name()
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect();
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex::encode_upper(cert.raw_serial()),
        not_before: rfc3339(nb),
        not_after: rfc3339(na),
        key_type: kt.map_or(alg.clone(), str::to_owned),
        key_bits,
        sig_alg,
        san,
        san_ips,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        common_names,
        not_before_unix: nb,
        not_after_unix: na,
    })
}

/// Certificates remembered by [`parse_cached`]; past this, the cache starts over.
const CACHE_ENTRIES: usize = 256;
/// Larger certificates are parsed each time, not kept: the cache stays under about 2 MiB
/// whatever peers send (real leaf certificates are 1–2 KB).
const CACHE_MAX_DER: usize = 8 * 1024;

/// DER bytes to their summary (`None`: unparsable), see [`parse_cached`].
type Cache = HashMap<Box<[u8]>, Option<Arc<CertInfo>>>;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(HashMap::new());
}

/// [`parse`], remembering the last few hundred distinct certificates. Real traffic repeats
/// one server chain over thousands of connections, and x509-parser cost about 41,000
/// instructions per certificate (10% of the recorded handshake mix). The summary is a
/// function of the DER bytes alone (time-dependent conclusions such as expiry are drawn
/// per event from `not_after_unix`), so a hit returns the same value a parse would. The
/// map hashes with SipHash keyed per process: certificates are chosen by whoever sends
/// them.
pub fn parse_cached(der: &[u8]) -> Result<Arc<CertInfo>, TlsError> {
    if der.len() > CACHE_MAX_DER {
        return parse(der).map(Arc::new);
    }
    let hit = CACHE.with(|c| c.borrow().get(der).cloned());
    let parsed = match hit {
        Some(v) => v,
        None => {
            let v = parse(der).ok().map(Arc::new);
            CACHE.with(|c| {
                let mut c = c.borrow_mut();
                if c.len() >= CACHE_ENTRIES {
                    c.clear();
                }
                c.insert(der.into(), v.clone());
            });
            v
        }
    };
    parsed.ok_or(TlsError::Certificate)
}

/// The `client_cert` object of the JSON `tls` object: who the client said it was, by name
/// only (never key material). Read from the client's Certificate message, which travels in
/// the clear in TLS 1.2 and older only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClientCertInfo {
    /// RFC 4514-style distinguished name, as x509-parser displays it.
    pub subject: String,
    /// subjectAltName entries: DNS names, URIs (a SPIFFE ID is a URI), e-mail addresses and
    /// IP addresses, as text, in certificate order.
    pub san: Vec<String>,
}

/// Names of a client certificate (subject and every subjectAltName kind a workload
/// identity uses).
pub fn parse_client(der: &[u8]) -> Result<ClientCertInfo, TlsError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| TlsError::Certificate)?;
    let mut san = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) | GeneralName::URI(d) | GeneralName::RFC822Name(d) => {
                    san.push((*d).to_owned());
                }
                GeneralName::IPAddress(b) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                        san.push(IpAddr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                        san.push(IpAddr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(ClientCertInfo {
        subject: cert.subject().to_string(),
        san,
    })
}

/// DSA parameters are `SEQUENCE { p, q, g }`; the key size is the size of `p`.
fn dsa_p_bits(params: &[u8]) -> Option<u32> {
    use x509_parser::der_parser::der::parse_der_integer;
    let (_, p) = parse_der_integer(params).ok()?;
    p.as_slice().ok().map(int_bits)
}

/// Whether `host` (the SNI) is covered by `pattern` (a SAN dNSName or CN), following RFC 6125
/// §6.4: case-insensitive; a wildcard only as the whole left-most label, matching exactly one
/// label; no wildcard over a public suffix-like single remaining label.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let p = pattern.trim_end_matches('.').to_ascii_lowercase();
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if p.is_empty() || h.is_empty() {
        return false;
    }
    match p.strip_prefix("*.") {
        Some(rest) => {
            // "*.com" would cover a whole TLD: refuse, as browsers do.
            if !rest.contains('.') || rest.contains('*') {
                return false;
            }
            match h.split_once('.') {
                Some((label, hrest)) => !label.is_empty() && hrest == rest,
                None => false,
            }
        }
        None => !p.contains('*') && p == h,
    }
}

impl CertInfo {
    /// Whether the SNI is covered: SANs when present, else the subject CNs (RFC 6125 §6.4.4).
    /// An IP-literal SNI is compared with the iPAddress SANs (RFC 6125 §6.2.2 reference
    /// identities) and, without any SAN, with the CNs as text.
    pub fn covers(&self, host: &str) -> bool {
        if let Ok(ip) = host.parse::<IpAddr>() {
            if !self.san_ips.is_empty() || !self.san.is_empty() {
                return self.san_ips.contains(&ip);
            }
        }
        if self.san.is_empty() {
            self.common_names.iter().any(|cn| name_matches(cn, host))
        } else {
            self.san.iter().any(|n| name_matches(n, host))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn wildcard_rules() {
        assert!(name_matches("example.com", "EXAMPLE.com"));
        assert!(name_matches("*.example.com", "www.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(!name_matches("w*.example.com", "www.example.com"));
        assert!(name_matches("example.com.", "example.com"));
    }

    #[test]
    fn int_bits_strips_leading_zero() {
        assert_eq!(int_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(int_bits(&[0x01, 0x00]), 9);
        assert_eq!(int_bits(&[]), 0);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(&[0x30, 0x03, 0x02, 0x01]).is_err());
    }
}
