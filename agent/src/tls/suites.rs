//! Every IANA TLS cipher suite, classified once.
//!
//! Why one table: findings (weak cipher, no forward secrecy, CBC) and the `cipher` field all
//! need the same facts, and a sorted slice is cheap to search and easy to audit. Codes,
//! names and parameters come from tls-parser's table (generated from the IANA "TLS Cipher
//! Suites" registry, RFC 8447, with the pre-standard `EXPORT1024` suites 0x0060–0x0066 that
//! old clients still offer); [`classify`] turns them into the facts the findings use and
//! corrects tls-parser where it is wrong. The GOST suites it lacks and the SSL 2.0 cipher
//! specs (three-byte codes, draft-hickman-netscape-ssl-00 §C.4) are listed here.

use serde::Serialize;

/// Key exchange, the property that decides forward secrecy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Kx {
    /// `TLS_NULL_WITH_NULL_NULL`: no key exchange at all.
    Null,
    /// Static RSA key transport: no forward secrecy.
    Rsa,
    /// Static (certificate) Diffie-Hellman: no forward secrecy.
    DhStatic,
    Dhe,
    /// Static (certificate) ECDH: no forward secrecy.
    EcdhStatic,
    Ecdhe,
    Psk,
    RsaPsk,
    DhePsk,
    EcdhePsk,
    /// Anonymous DH: ephemeral but unauthenticated.
    DhAnon,
    EcdhAnon,
    Srp,
    Krb5,
    EccPwd,
    Gost,
    /// TLS 1.3 suites name no key exchange: it is always (EC)DHE or PSK-(EC)DHE/PSK (RFC 8446 §4.2.9).
    Tls13,
    /// Signalling values, not real suites (RFC 5746 §3.3, RFC 7507 §6).
    Scsv,
    /// SSL 2.0 cipher specs: RSA key transport.
    Ssl2Rsa,
}

impl Kx {
    /// Whether a negotiated suite with this key exchange keeps past traffic safe if the
    /// server's long-term key leaks. PSK-only and Kerberos are listed as not forward secret.
    pub fn forward_secret(self) -> bool {
        matches!(
            self,
            Kx::Dhe
                | Kx::Ecdhe
                | Kx::DhePsk
                | Kx::EcdhePsk
                | Kx::DhAnon
                | Kx::EcdhAnon
                | Kx::Srp
                | Kx::EccPwd
                | Kx::Gost
                | Kx::Tls13
        )
    }

    /// Short label for evidence and docs.
    pub fn label(self) -> &'static str {
        match self {
            Kx::Null => "NULL",
            Kx::Rsa | Kx::Ssl2Rsa => "RSA",
            Kx::DhStatic => "DH",
            Kx::Dhe => "DHE",
            Kx::EcdhStatic => "ECDH",
            Kx::Ecdhe => "ECDHE",
            Kx::Psk => "PSK",
            Kx::RsaPsk => "RSA-PSK",
            Kx::DhePsk => "DHE-PSK",
            Kx::EcdhePsk => "ECDHE-PSK",
            Kx::DhAnon => "DH-anon",
            Kx::EcdhAnon => "ECDH-anon",
            Kx::Srp => "SRP",
            Kx::Krb5 => "KRB5",
            Kx::EccPwd => "ECCPWD",
            Kx::Gost => "GOST",
            Kx::Tls13 => "TLS1.3",
            Kx::Scsv => "SCSV",
        }
    }

    /// Static key exchange: the `tls.cipher.no_forward_secrecy` set.
    pub fn is_static(self) -> bool {
        matches!(
            self,
            Kx::Rsa | Kx::DhStatic | Kx::EcdhStatic | Kx::Psk | Kx::RsaPsk | Kx::Krb5 | Kx::Ssl2Rsa
        )
    }
}

/// Server authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Auth {
    Null,
    Rsa,
    Dss,
    Ecdsa,
    Psk,
    Anon,
    Srp,
    Krb5,
    EccPwd,
    Gost,
    /// Decided by the certificate and signature_algorithms in TLS 1.3.
    Tls13,
}

/// Bulk cipher (and mode where it matters for findings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Cipher {
    Null,
    Rc4,
    Rc2,
    Des,
    TripleDes,
    Idea,
    AesCbc,
    AesGcm,
    AesCcm,
    AesCcm8,
    Chacha20Poly1305,
    CamelliaCbc,
    CamelliaGcm,
    AriaCbc,
    AriaGcm,
    Seed,
    Sm4Gcm,
    Sm4Ccm,
    Aegis,
    Kuznyechik,
    Magma,
    Gost28147,
}

impl Cipher {
    /// CBC-mode block ciphers: exposed to padding-oracle and Lucky13-style attacks.
    pub fn is_cbc(self) -> bool {
        matches!(
            self,
            Cipher::Rc2
                | Cipher::Des
                | Cipher::TripleDes
                | Cipher::Idea
                | Cipher::AesCbc
                | Cipher::CamelliaCbc
                | Cipher::AriaCbc
                | Cipher::Seed
        )
    }

    /// Short class label, used in evidence and as a bounded metrics label.
    pub fn class(self) -> &'static str {
        match self {
            Cipher::Null => "NULL",
            Cipher::Rc4 => "RC4",
            Cipher::Rc2 => "RC2",
            Cipher::Des => "DES",
            Cipher::TripleDes => "3DES",
            Cipher::Idea => "IDEA",
            Cipher::AesCbc => "AES-CBC",
            Cipher::AesGcm => "AES-GCM",
            Cipher::AesCcm | Cipher::AesCcm8 => "AES-CCM",
            Cipher::Chacha20Poly1305 => "CHACHA20",
            Cipher::CamelliaCbc => "CAMELLIA-CBC",
            Cipher::CamelliaGcm => "CAMELLIA-GCM",
            Cipher::AriaCbc => "ARIA-CBC",
            Cipher::AriaGcm => "ARIA-GCM",
            Cipher::Seed => "SEED",
            Cipher::Sm4Gcm | Cipher::Sm4Ccm => "SM4",
            Cipher::Aegis => "AEGIS",
            Cipher::Kuznyechik | Cipher::Magma | Cipher::Gost28147 => "GOST",
        }
    }
}

/// Record MAC; `Aead` when the cipher authenticates itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Mac {
    Null,
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Aead,
    Gost,
}

/// One cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    pub code: u16,
    pub name: &'static str,
    pub kx: Kx,
    pub auth: Auth,
    pub cipher: Cipher,
    /// Effective key bits (40 for export, 112 for 3DES).
    pub bits: u16,
    pub mac: Mac,
    pub export: bool,
}

impl Suite {
    pub fn is_anon(&self) -> bool {
        self.auth == Auth::Anon
    }

    pub fn is_null_cipher(&self) -> bool {
        self.cipher == Cipher::Null
    }

    /// Why this suite is weak, if it is: the reasons behind `tls.cipher.weak`.
    pub fn weakness(&self) -> Option<&'static str> {
        if self.kx == Kx::Scsv {
            None
        } else if self.is_null_cipher() {
            Some("null cipher")
        } else if self.export {
            Some("export-grade")
        } else if self.is_anon() {
            Some("anonymous key exchange")
        } else {
            match (self.cipher, self.mac) {
                (Cipher::Rc4, _) => Some("RC4"),
                (Cipher::Des, _) | (Cipher::Rc2, _) => Some("DES"),
                (Cipher::TripleDes, _) => Some("3DES"),
                (_, Mac::Md5) => Some("MD5 MAC"),
                _ => None,
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
const fn s(
    code: u16,
    name: &'static str,
    kx: Kx,
    auth: Auth,
    cipher: Cipher,
    bits: u16,
    mac: Mac,
    export: bool,
) -> Suite {
    Suite {
        code,
        name,
        kx,
        auth,
        cipher,
        bits,
        mac,
        export,
    }
}

/// Look a suite up by its two-byte code.
pub fn lookup(code: u16) -> Option<&'static Suite> {
    let all = table();
    all.binary_search_by_key(&code, |s| s.code)
        .ok()
        .and_then(|i| all.get(i))
}

/// Every suite, sorted by code: tls-parser's IANA table (`tls_parser::CIPHERS`, generated
/// from the registry when tls-parser is built) classified by [`classify`], plus the GOST
/// suites it lacks. Built once, at the first lookup.
pub fn table() -> &'static [Suite] {
    static TABLE: std::sync::OnceLock<Vec<Suite>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<Suite> = tls_parser::CIPHERS.values().map(classify).collect();
        let missing: Vec<Suite> = GOST
            .iter()
            .filter(|g| !all.iter().any(|s| s.code == g.code))
            .copied()
            .collect();
        all.extend(missing);
        all.sort_unstable_by_key(|s| s.code);
        all
    })
}

/// Our classification of one tls-parser record. tls-parser's fields map one to one except
/// where its data is wrong or says less than the findings need (each checked against the
/// RFC, and listed in docs/dependencies.md):
/// - export grade is not a field: the IANA name says it (`EXPORT`, `EXPORT1024`);
/// - signalling values (`_SCSV`) are not suites;
/// - 3DES counts its effective strength, 112 bits, not the 168-bit key;
/// - CCM with an 8-byte tag is told apart by its name (`_CCM_8`);
/// - ChaCha20-Poly1305 keys are 256 bits (RFC 8439 §2.3), tls-parser says 128;
/// - AEGIS is an AEAD (draft-irtf-cfrg-aegis-aead), tls-parser gives the PRF hash as MAC;
/// - `TLS_PSK_DHE_WITH_AES_*_CCM_8` (RFC 6655 §3) are DHE-PSK, tls-parser says PSK, no auth;
/// - RSA-PSK servers authenticate with an RSA certificate (RFC 4279 §4), tls-parser says PSK.
fn classify(t: &tls_parser::TlsCipherSuite) -> Suite {
    use tls_parser::{TlsCipherAu as A, TlsCipherEnc as E, TlsCipherEncMode as M};
    use tls_parser::{TlsCipherKx as K, TlsCipherMac as H};
    let name = t.name;
    let psk = t.au == A::Psk;
    let anon = t.au == A::Null;
    let kx = if name.ends_with("_SCSV") {
        Kx::Scsv
    } else if name.starts_with("TLS_PSK_DHE_") {
        Kx::DhePsk
    } else {
        match t.kx {
            K::Null => Kx::Null,
            K::Psk => Kx::Psk,
            K::Krb5 => Kx::Krb5,
            K::Srp => Kx::Srp,
            K::Rsa if psk => Kx::RsaPsk,
            K::Rsa => Kx::Rsa,
            K::Dh if anon => Kx::DhAnon,
            K::Dh => Kx::DhStatic,
            K::Dhe if psk => Kx::DhePsk,
            K::Dhe => Kx::Dhe,
            K::Ecdh if anon => Kx::EcdhAnon,
            K::Ecdh => Kx::EcdhStatic,
            K::Ecdhe if psk => Kx::EcdhePsk,
            K::Ecdhe => Kx::Ecdhe,
            K::Aecdh => Kx::EcdhAnon,
            K::Eccpwd => Kx::EccPwd,
            K::Tls13 => Kx::Tls13,
        }
    };
    let auth = match (kx, t.au) {
        (Kx::Scsv | Kx::Null, _) => Auth::Null,
        (Kx::RsaPsk, _) => Auth::Rsa,
        (Kx::DhePsk, _) => Auth::Psk,
        (_, A::Null | A::Dhe) => Auth::Anon,
        (_, A::Psk) => Auth::Psk,
        (_, A::Krb5) => Auth::Krb5,
        (_, A::Srp) => Auth::Srp,
        (_, A::Srp_Dss | A::Dss) => Auth::Dss,
        (_, A::Srp_Rsa | A::Rsa) => Auth::Rsa,
        (_, A::Ecdsa) => Auth::Ecdsa,
        (_, A::Eccpwd) => Auth::EccPwd,
        (_, A::Tls13) => Auth::Tls13,
    };
    let cipher = match (t.enc, t.enc_mode) {
        _ if kx == Kx::Scsv => Cipher::Null,
        (E::Null, _) => Cipher::Null,
        (E::Des, _) => Cipher::Des,
        (E::TripleDes, _) => Cipher::TripleDes,
        (E::Rc2, _) => Cipher::Rc2,
        (E::Rc4, _) => Cipher::Rc4,
        (E::Idea, _) => Cipher::Idea,
        (E::Seed, _) => Cipher::Seed,
        (E::Aes, M::Gcm) => Cipher::AesGcm,
        (E::Aes, M::Ccm) if name.contains("_CCM_8") => Cipher::AesCcm8,
        (E::Aes, M::Ccm) => Cipher::AesCcm,
        (E::Aes, _) => Cipher::AesCbc,
        (E::Camellia, M::Gcm) => Cipher::CamelliaGcm,
        (E::Camellia, _) => Cipher::CamelliaCbc,
        (E::Aria, M::Gcm) => Cipher::AriaGcm,
        (E::Aria, _) => Cipher::AriaCbc,
        (E::Chacha20_Poly1305, _) => Cipher::Chacha20Poly1305,
        (E::Sm4, M::Ccm) => Cipher::Sm4Ccm,
        (E::Sm4, _) => Cipher::Sm4Gcm,
        (E::Aegis, _) => Cipher::Aegis,
    };
    let bits = match cipher {
        Cipher::Null => 0,
        Cipher::TripleDes => 112,
        Cipher::Chacha20Poly1305 => 256,
        _ => t.enc_size,
    };
    let mac = match t.mac {
        _ if kx == Kx::Scsv => Mac::Null,
        _ if cipher == Cipher::Aegis => Mac::Aead,
        H::Null => Mac::Null,
        H::HmacMd5 => Mac::Md5,
        H::HmacSha1 => Mac::Sha1,
        H::HmacSha256 => Mac::Sha256,
        H::HmacSha384 => Mac::Sha384,
        H::HmacSha512 => Mac::Sha512,
        H::Aead => Mac::Aead,
    };
    Suite {
        code: t.id.0,
        name,
        kx,
        auth,
        cipher,
        bits,
        mac,
        export: name.contains("EXPORT"),
    }
}

/// The GOST suites (RFC 9189 for TLS 1.2, RFC 9367 for TLS 1.3) tls-parser 0.12 lacks.
#[rustfmt::skip]
static GOST: [Suite; 7] = [
    s(0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC", Kx::Gost, Auth::Gost, Cipher::Kuznyechik, 256, Mac::Gost, false),
    s(0xC101, "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC", Kx::Gost, Auth::Gost, Cipher::Magma, 256, Mac::Gost, false),
    s(0xC102, "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT", Kx::Gost, Auth::Gost, Cipher::Gost28147, 256, Mac::Gost, false),
    s(0xC103, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L", Kx::Tls13, Auth::Tls13, Cipher::Kuznyechik, 256, Mac::Aead, false),
    s(0xC104, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L", Kx::Tls13, Auth::Tls13, Cipher::Magma, 256, Mac::Aead, false),
    s(0xC105, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S", Kx::Tls13, Auth::Tls13, Cipher::Kuznyechik, 256, Mac::Aead, false),
    s(0xC106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", Kx::Tls13, Auth::Tls13, Cipher::Magma, 256, Mac::Aead, false),
];

/// The suite's IANA name (borrowed), or `0xNNNN` for unassigned codes (and GREASE,
/// RFC 8701).
pub fn label(code: u16) -> std::borrow::Cow<'static, str> {
    match lookup(code) {
        Some(s) => std::borrow::Cow::Borrowed(s.name),
        None => std::borrow::Cow::Owned(format!("0x{code:04X}")),
    }
}

/// An SSL 2.0 cipher spec (three bytes on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ssl2Spec {
    pub code: u32,
    pub name: &'static str,
    pub cipher: Cipher,
    pub bits: u16,
    pub export: bool,
}

/// SSL 2.0 cipher kinds (draft-hickman-netscape-ssl-00, appendix C.4); all use MD5 and RSA.
pub static SSL2_SPECS: &[Ssl2Spec] = &[
    Ssl2Spec {
        code: 0x01_0080,
        name: "SSL2_RC4_128_WITH_MD5",
        cipher: Cipher::Rc4,
        bits: 128,
        export: false,
    },
    Ssl2Spec {
        code: 0x02_0080,
        name: "SSL2_RC4_128_EXPORT40_WITH_MD5",
        cipher: Cipher::Rc4,
        bits: 40,
        export: true,
    },
    Ssl2Spec {
        code: 0x03_0080,
        name: "SSL2_RC2_128_CBC_WITH_MD5",
        cipher: Cipher::Rc2,
        bits: 128,
        export: false,
    },
    Ssl2Spec {
        code: 0x04_0080,
        name: "SSL2_RC2_128_CBC_EXPORT40_WITH_MD5",
        cipher: Cipher::Rc2,
        bits: 40,
        export: true,
    },
    Ssl2Spec {
        code: 0x05_0080,
        name: "SSL2_IDEA_128_CBC_WITH_MD5",
        cipher: Cipher::Idea,
        bits: 128,
        export: false,
    },
    Ssl2Spec {
        code: 0x06_0040,
        name: "SSL2_DES_64_CBC_WITH_MD5",
        cipher: Cipher::Des,
        bits: 56,
        export: false,
    },
    Ssl2Spec {
        code: 0x07_00C0,
        name: "SSL2_DES_192_EDE3_CBC_WITH_MD5",
        cipher: Cipher::TripleDes,
        bits: 112,
        export: false,
    },
    Ssl2Spec {
        code: 0x08_0080,
        name: "SSL2_RC4_64_WITH_MD5",
        cipher: Cipher::Rc4,
        bits: 64,
        export: false,
    },
];

pub fn ssl2_lookup(code: u32) -> Option<&'static Ssl2Spec> {
    SSL2_SPECS.iter().find(|s| s.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where [`classify`] corrects or completes tls-parser (the hand-written table this
    /// replaced, checked equal on all 359 suites in the commit that replaced it, had these).
    #[test]
    fn corrections_over_tls_parser() {
        let get = |c| lookup(c).expect("listed");
        assert_eq!(get(0xCCA8).bits, 256, "ChaCha20 keys are 256 bits");
        assert_eq!(get(0x1306).mac, Mac::Aead, "AEGIS is an AEAD");
        assert_eq!((get(0xC0AA).kx, get(0xC0AA).auth), (Kx::DhePsk, Auth::Psk));
        assert_eq!((get(0x0094).kx, get(0x0094).auth), (Kx::RsaPsk, Auth::Rsa));
        assert_eq!(get(0x000A).bits, 112, "3DES: effective strength");
        assert_eq!(get(0xC0A8).cipher, Cipher::AesCcm8);
        assert_eq!(get(0xC0A4).cipher, Cipher::AesCcm);
        assert_eq!(get(0x5600).kx, Kx::Scsv);
        assert_eq!(get(0x00FF).kx, Kx::Scsv);
        assert!(get(0x0062).export, "EXPORT1024");
        assert!(!get(0x0066).export);
        assert_eq!(table().iter().filter(|s| s.kx == Kx::Gost).count(), 3);
        assert_eq!(
            table().iter().filter(|s| s.name.contains("GOSTR")).count(),
            7
        );
        assert_eq!(table().len(), 359);
    }

    #[test]
    fn codes_sorted_and_unique() {
        let all = table();
        assert!(all.len() > 340, "table looks truncated: {}", all.len());
        for w in all.windows(2) {
            assert!(
                w[0].code < w[1].code,
                "{:04x} !< {:04x}",
                w[0].code,
                w[1].code
            );
        }
        let mut names: Vec<_> = all.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn known_entries() {
        let s = lookup(0xC02F).expect("ECDHE-RSA-AES128-GCM");
        assert_eq!(s.name, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(
            (s.kx, s.auth, s.cipher, s.bits, s.mac),
            (Kx::Ecdhe, Auth::Rsa, Cipher::AesGcm, 128, Mac::Aead)
        );
        assert_eq!(s.weakness(), None);

        let s = lookup(0x0004).expect("RC4-MD5");
        assert_eq!(s.name, "TLS_RSA_WITH_RC4_128_MD5");
        assert_eq!((s.kx, s.cipher, s.mac), (Kx::Rsa, Cipher::Rc4, Mac::Md5));
        assert_eq!(s.weakness(), Some("RC4"));
        assert!(s.kx.is_static());

        let s = lookup(0x0003).expect("export");
        assert!(s.export);
        assert_eq!(s.weakness(), Some("export-grade"));

        let s = lookup(0x0018).expect("anon");
        assert_eq!(s.name, "TLS_DH_anon_WITH_RC4_128_MD5");
        assert!(s.is_anon());

        let s = lookup(0x1301).expect("TLS 1.3");
        assert_eq!(s.name, "TLS_AES_128_GCM_SHA256");
        assert_eq!(s.kx, Kx::Tls13);
        assert!(s.kx.forward_secret());

        let s = lookup(0x000A).expect("3DES");
        assert_eq!(s.weakness(), Some("3DES"));
        assert!(s.cipher.is_cbc());

        let s = lookup(0xCCA8).expect("chacha");
        assert_eq!(s.name, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
        assert_eq!(s.cipher, Cipher::Chacha20Poly1305);

        let s = lookup(0xC005).expect("ECDH static");
        assert_eq!(s.kx, Kx::EcdhStatic);
        assert!(s.kx.is_static());

        assert_eq!(lookup(0x5600).map(|s| s.kx), Some(Kx::Scsv));
        assert_eq!(lookup(0x0a0a), None, "GREASE is not a suite");
        assert_eq!(label(0x0a0a), "0x0A0A");
        assert_eq!(
            lookup(0x0001).and_then(|s| s.weakness()),
            Some("null cipher")
        );
    }

    #[test]
    fn ssl2_specs() {
        assert_eq!(
            ssl2_lookup(0x07_00C0).map(|s| s.cipher),
            Some(Cipher::TripleDes)
        );
        assert!(ssl2_lookup(0x02_0080).is_some_and(|s| s.export));
        assert!(ssl2_lookup(0x00_0000).is_none());
    }
}
