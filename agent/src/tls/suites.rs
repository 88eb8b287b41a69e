//! Every IANA TLS cipher suite, classified once.
//!
//! Why one table: findings (weak cipher, no forward secrecy, CBC) and the `cipher` field all
//! need the same facts, and a sorted static slice is cheap to search and easy to audit.
//! Codes and names follow the IANA "TLS Cipher Suites" registry (RFC 8447), plus the
//! pre-standard `EXPORT1024` suites (0x0060–0x0066) that old clients still offer, and the
//! SSL 2.0 cipher specs (three-byte codes, draft-hickman-netscape-ssl-00 §C.4).

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
/// - AEGIS is an AEAD (RFC 9800-draft, `TLS_AEGIS_*`), tls-parser gives the PRF hash as MAC;
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

/// The suite's IANA name, or `0xNNNN` for unassigned codes (and GREASE, RFC 8701).
pub fn name(code: u16) -> String {
    match lookup(code) {
        Some(s) => s.name.to_owned(),
        None => format!("0x{code:04X}"),
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
#[rustfmt::skip]
static OLD_SUITES: &[Suite] = &[
    s(0x0000, "TLS_NULL_WITH_NULL_NULL", Kx::Null, Auth::Null, Cipher::Null, 0, Mac::Null, false),
    s(0x0001, "TLS_RSA_WITH_NULL_MD5", Kx::Rsa, Auth::Rsa, Cipher::Null, 0, Mac::Md5, false),
    s(0x0002, "TLS_RSA_WITH_NULL_SHA", Kx::Rsa, Auth::Rsa, Cipher::Null, 0, Mac::Sha1, false),
    s(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", Kx::Rsa, Auth::Rsa, Cipher::Rc4, 40, Mac::Md5, true),
    s(0x0004, "TLS_RSA_WITH_RC4_128_MD5", Kx::Rsa, Auth::Rsa, Cipher::Rc4, 128, Mac::Md5, false),
    s(0x0005, "TLS_RSA_WITH_RC4_128_SHA", Kx::Rsa, Auth::Rsa, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", Kx::Rsa, Auth::Rsa, Cipher::Rc2, 40, Mac::Md5, true),
    s(0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::Idea, 128, Mac::Sha1, false),
    s(0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::Des, 40, Mac::Sha1, true),
    s(0x0009, "TLS_RSA_WITH_DES_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::Des, 56, Mac::Sha1, false),
    s(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x000B, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA", Kx::DhStatic, Auth::Dss, Cipher::Des, 40, Mac::Sha1, true),
    s(0x000C, "TLS_DH_DSS_WITH_DES_CBC_SHA", Kx::DhStatic, Auth::Dss, Cipher::Des, 56, Mac::Sha1, false),
    s(0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA", Kx::DhStatic, Auth::Dss, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x000E, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA", Kx::DhStatic, Auth::Rsa, Cipher::Des, 40, Mac::Sha1, true),
    s(0x000F, "TLS_DH_RSA_WITH_DES_CBC_SHA", Kx::DhStatic, Auth::Rsa, Cipher::Des, 56, Mac::Sha1, false),
    s(0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA", Kx::DhStatic, Auth::Rsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::Des, 40, Mac::Sha1, true),
    s(0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::Des, 56, Mac::Sha1, false),
    s(0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", Kx::Dhe, Auth::Rsa, Cipher::Des, 40, Mac::Sha1, true),
    s(0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", Kx::Dhe, Auth::Rsa, Cipher::Des, 56, Mac::Sha1, false),
    s(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", Kx::Dhe, Auth::Rsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", Kx::DhAnon, Auth::Anon, Cipher::Rc4, 40, Mac::Md5, true),
    s(0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", Kx::DhAnon, Auth::Anon, Cipher::Rc4, 128, Mac::Md5, false),
    s(0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", Kx::DhAnon, Auth::Anon, Cipher::Des, 40, Mac::Sha1, true),
    s(0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA", Kx::DhAnon, Auth::Anon, Cipher::Des, 56, Mac::Sha1, false),
    s(0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", Kx::DhAnon, Auth::Anon, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x001E, "TLS_KRB5_WITH_DES_CBC_SHA", Kx::Krb5, Auth::Krb5, Cipher::Des, 56, Mac::Sha1, false),
    s(0x001F, "TLS_KRB5_WITH_3DES_EDE_CBC_SHA", Kx::Krb5, Auth::Krb5, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x0020, "TLS_KRB5_WITH_RC4_128_SHA", Kx::Krb5, Auth::Krb5, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0x0021, "TLS_KRB5_WITH_IDEA_CBC_SHA", Kx::Krb5, Auth::Krb5, Cipher::Idea, 128, Mac::Sha1, false),
    s(0x0022, "TLS_KRB5_WITH_DES_CBC_MD5", Kx::Krb5, Auth::Krb5, Cipher::Des, 56, Mac::Md5, false),
    s(0x0023, "TLS_KRB5_WITH_3DES_EDE_CBC_MD5", Kx::Krb5, Auth::Krb5, Cipher::TripleDes, 112, Mac::Md5, false),
    s(0x0024, "TLS_KRB5_WITH_RC4_128_MD5", Kx::Krb5, Auth::Krb5, Cipher::Rc4, 128, Mac::Md5, false),
    s(0x0025, "TLS_KRB5_WITH_IDEA_CBC_MD5", Kx::Krb5, Auth::Krb5, Cipher::Idea, 128, Mac::Md5, false),
    s(0x0026, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA", Kx::Krb5, Auth::Krb5, Cipher::Des, 40, Mac::Sha1, true),
    s(0x0027, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA", Kx::Krb5, Auth::Krb5, Cipher::Rc2, 40, Mac::Sha1, true),
    s(0x0028, "TLS_KRB5_EXPORT_WITH_RC4_40_SHA", Kx::Krb5, Auth::Krb5, Cipher::Rc4, 40, Mac::Sha1, true),
    s(0x0029, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5", Kx::Krb5, Auth::Krb5, Cipher::Des, 40, Mac::Md5, true),
    s(0x002A, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5", Kx::Krb5, Auth::Krb5, Cipher::Rc2, 40, Mac::Md5, true),
    s(0x002B, "TLS_KRB5_EXPORT_WITH_RC4_40_MD5", Kx::Krb5, Auth::Krb5, Cipher::Rc4, 40, Mac::Md5, true),
    s(0x002C, "TLS_PSK_WITH_NULL_SHA", Kx::Psk, Auth::Psk, Cipher::Null, 0, Mac::Sha1, false),
    s(0x002D, "TLS_DHE_PSK_WITH_NULL_SHA", Kx::DhePsk, Auth::Psk, Cipher::Null, 0, Mac::Sha1, false),
    s(0x002E, "TLS_RSA_PSK_WITH_NULL_SHA", Kx::RsaPsk, Auth::Rsa, Cipher::Null, 0, Mac::Sha1, false),
    s(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA", Kx::DhStatic, Auth::Dss, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA", Kx::DhStatic, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Kx::Dhe, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", Kx::DhAnon, Auth::Anon, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA", Kx::DhStatic, Auth::Dss, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA", Kx::DhStatic, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Kx::Dhe, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA", Kx::DhAnon, Auth::Anon, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x003B, "TLS_RSA_WITH_NULL_SHA256", Kx::Rsa, Auth::Rsa, Cipher::Null, 0, Mac::Sha256, false),
    s(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", Kx::Rsa, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", Kx::Rsa, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha256, false),
    s(0x003E, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256", Kx::DhStatic, Auth::Dss, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x003F, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256", Kx::DhStatic, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", Kx::Dhe, Auth::Dss, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha1, false),
    s(0x0042, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA", Kx::DhStatic, Auth::Dss, Cipher::CamelliaCbc, 128, Mac::Sha1, false),
    s(0x0043, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA", Kx::DhStatic, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha1, false),
    s(0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::CamelliaCbc, 128, Mac::Sha1, false),
    s(0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", Kx::Dhe, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha1, false),
    s(0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA", Kx::DhAnon, Auth::Anon, Cipher::CamelliaCbc, 128, Mac::Sha1, false),
    s(0x0060, "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5", Kx::Rsa, Auth::Rsa, Cipher::Rc4, 56, Mac::Md5, true),
    s(0x0061, "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5", Kx::Rsa, Auth::Rsa, Cipher::Rc2, 56, Mac::Md5, true),
    s(0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::Des, 56, Mac::Sha1, true),
    s(0x0063, "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::Des, 56, Mac::Sha1, true),
    s(0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", Kx::Rsa, Auth::Rsa, Cipher::Rc4, 56, Mac::Sha1, true),
    s(0x0065, "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA", Kx::Dhe, Auth::Dss, Cipher::Rc4, 56, Mac::Sha1, true),
    s(0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA", Kx::Dhe, Auth::Dss, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Kx::Dhe, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256", Kx::DhStatic, Auth::Dss, Cipher::AesCbc, 256, Mac::Sha256, false),
    s(0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256", Kx::DhStatic, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha256, false),
    s(0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", Kx::Dhe, Auth::Dss, Cipher::AesCbc, 256, Mac::Sha256, false),
    s(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Kx::Dhe, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha256, false),
    s(0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", Kx::DhAnon, Auth::Anon, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", Kx::DhAnon, Auth::Anon, Cipher::AesCbc, 256, Mac::Sha256, false),
    s(0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha1, false),
    s(0x0085, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA", Kx::DhStatic, Auth::Dss, Cipher::CamelliaCbc, 256, Mac::Sha1, false),
    s(0x0086, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA", Kx::DhStatic, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha1, false),
    s(0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::CamelliaCbc, 256, Mac::Sha1, false),
    s(0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", Kx::Dhe, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha1, false),
    s(0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA", Kx::DhAnon, Auth::Anon, Cipher::CamelliaCbc, 256, Mac::Sha1, false),
    s(0x008A, "TLS_PSK_WITH_RC4_128_SHA", Kx::Psk, Auth::Psk, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA", Kx::Psk, Auth::Psk, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", Kx::Psk, Auth::Psk, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA", Kx::Psk, Auth::Psk, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x008E, "TLS_DHE_PSK_WITH_RC4_128_SHA", Kx::DhePsk, Auth::Psk, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0x008F, "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA", Kx::DhePsk, Auth::Psk, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", Kx::DhePsk, Auth::Psk, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", Kx::DhePsk, Auth::Psk, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA", Kx::RsaPsk, Auth::Rsa, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0x0093, "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA", Kx::RsaPsk, Auth::Rsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", Kx::RsaPsk, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", Kx::RsaPsk, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", Kx::Rsa, Auth::Rsa, Cipher::Seed, 128, Mac::Sha1, false),
    s(0x0097, "TLS_DH_DSS_WITH_SEED_CBC_SHA", Kx::DhStatic, Auth::Dss, Cipher::Seed, 128, Mac::Sha1, false),
    s(0x0098, "TLS_DH_RSA_WITH_SEED_CBC_SHA", Kx::DhStatic, Auth::Rsa, Cipher::Seed, 128, Mac::Sha1, false),
    s(0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA", Kx::Dhe, Auth::Dss, Cipher::Seed, 128, Mac::Sha1, false),
    s(0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA", Kx::Dhe, Auth::Rsa, Cipher::Seed, 128, Mac::Sha1, false),
    s(0x009B, "TLS_DH_anon_WITH_SEED_CBC_SHA", Kx::DhAnon, Auth::Anon, Cipher::Seed, 128, Mac::Sha1, false),
    s(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", Kx::Rsa, Auth::Rsa, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", Kx::Rsa, Auth::Rsa, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", Kx::Dhe, Auth::Rsa, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Kx::Dhe, Auth::Rsa, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", Kx::DhStatic, Auth::Rsa, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x00A1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384", Kx::DhStatic, Auth::Rsa, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", Kx::Dhe, Auth::Dss, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", Kx::Dhe, Auth::Dss, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x00A4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256", Kx::DhStatic, Auth::Dss, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x00A5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384", Kx::DhStatic, Auth::Dss, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", Kx::DhAnon, Auth::Anon, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", Kx::DhAnon, Auth::Anon, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", Kx::Psk, Auth::Psk, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", Kx::Psk, Auth::Psk, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", Kx::DhePsk, Auth::Psk, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", Kx::DhePsk, Auth::Psk, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", Kx::RsaPsk, Auth::Rsa, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", Kx::RsaPsk, Auth::Rsa, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", Kx::Psk, Auth::Psk, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", Kx::Psk, Auth::Psk, Cipher::AesCbc, 256, Mac::Sha384, false),
    s(0x00B0, "TLS_PSK_WITH_NULL_SHA256", Kx::Psk, Auth::Psk, Cipher::Null, 0, Mac::Sha256, false),
    s(0x00B1, "TLS_PSK_WITH_NULL_SHA384", Kx::Psk, Auth::Psk, Cipher::Null, 0, Mac::Sha384, false),
    s(0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", Kx::DhePsk, Auth::Psk, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384", Kx::DhePsk, Auth::Psk, Cipher::AesCbc, 256, Mac::Sha384, false),
    s(0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256", Kx::DhePsk, Auth::Psk, Cipher::Null, 0, Mac::Sha256, false),
    s(0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384", Kx::DhePsk, Auth::Psk, Cipher::Null, 0, Mac::Sha384, false),
    s(0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", Kx::RsaPsk, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384", Kx::RsaPsk, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha384, false),
    s(0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256", Kx::RsaPsk, Auth::Rsa, Cipher::Null, 0, Mac::Sha256, false),
    s(0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384", Kx::RsaPsk, Auth::Rsa, Cipher::Null, 0, Mac::Sha384, false),
    s(0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256", Kx::Rsa, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0x00BB, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256", Kx::DhStatic, Auth::Dss, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0x00BC, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256", Kx::DhStatic, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0x00BD, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256", Kx::Dhe, Auth::Dss, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", Kx::Dhe, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0x00BF, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256", Kx::DhAnon, Auth::Anon, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256", Kx::Rsa, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha256, false),
    s(0x00C1, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256", Kx::DhStatic, Auth::Dss, Cipher::CamelliaCbc, 256, Mac::Sha256, false),
    s(0x00C2, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256", Kx::DhStatic, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha256, false),
    s(0x00C3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256", Kx::Dhe, Auth::Dss, Cipher::CamelliaCbc, 256, Mac::Sha256, false),
    s(0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256", Kx::Dhe, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha256, false),
    s(0x00C5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256", Kx::DhAnon, Auth::Anon, Cipher::CamelliaCbc, 256, Mac::Sha256, false),
    s(0x00C6, "TLS_SM4_GCM_SM3", Kx::Tls13, Auth::Tls13, Cipher::Sm4Gcm, 128, Mac::Aead, false),
    s(0x00C7, "TLS_SM4_CCM_SM3", Kx::Tls13, Auth::Tls13, Cipher::Sm4Ccm, 128, Mac::Aead, false),
    s(0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", Kx::Scsv, Auth::Null, Cipher::Null, 0, Mac::Null, false),
    s(0x1301, "TLS_AES_128_GCM_SHA256", Kx::Tls13, Auth::Tls13, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0x1302, "TLS_AES_256_GCM_SHA384", Kx::Tls13, Auth::Tls13, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0x1303, "TLS_CHACHA20_POLY1305_SHA256", Kx::Tls13, Auth::Tls13, Cipher::Chacha20Poly1305, 256, Mac::Aead, false),
    s(0x1304, "TLS_AES_128_CCM_SHA256", Kx::Tls13, Auth::Tls13, Cipher::AesCcm, 128, Mac::Aead, false),
    s(0x1305, "TLS_AES_128_CCM_8_SHA256", Kx::Tls13, Auth::Tls13, Cipher::AesCcm8, 128, Mac::Aead, false),
    s(0x1306, "TLS_AEGIS_256_SHA512", Kx::Tls13, Auth::Tls13, Cipher::Aegis, 256, Mac::Aead, false),
    s(0x1307, "TLS_AEGIS_128L_SHA256", Kx::Tls13, Auth::Tls13, Cipher::Aegis, 128, Mac::Aead, false),
    s(0x5600, "TLS_FALLBACK_SCSV", Kx::Scsv, Auth::Null, Cipher::Null, 0, Mac::Null, false),
    s(0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA", Kx::EcdhStatic, Auth::Ecdsa, Cipher::Null, 0, Mac::Sha1, false),
    s(0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", Kx::EcdhStatic, Auth::Ecdsa, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", Kx::EcdhStatic, Auth::Ecdsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", Kx::Ecdhe, Auth::Ecdsa, Cipher::Null, 0, Mac::Sha1, false),
    s(0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", Kx::Ecdhe, Auth::Ecdsa, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", Kx::Ecdhe, Auth::Ecdsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA", Kx::EcdhStatic, Auth::Rsa, Cipher::Null, 0, Mac::Sha1, false),
    s(0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA", Kx::EcdhStatic, Auth::Rsa, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", Kx::EcdhStatic, Auth::Rsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", Kx::EcdhStatic, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", Kx::EcdhStatic, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA", Kx::Ecdhe, Auth::Rsa, Cipher::Null, 0, Mac::Sha1, false),
    s(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", Kx::Ecdhe, Auth::Rsa, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", Kx::Ecdhe, Auth::Rsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Kx::Ecdhe, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Kx::Ecdhe, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC015, "TLS_ECDH_anon_WITH_NULL_SHA", Kx::EcdhAnon, Auth::Anon, Cipher::Null, 0, Mac::Sha1, false),
    s(0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA", Kx::EcdhAnon, Auth::Anon, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", Kx::EcdhAnon, Auth::Anon, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", Kx::EcdhAnon, Auth::Anon, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", Kx::EcdhAnon, Auth::Anon, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC01A, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA", Kx::Srp, Auth::Srp, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC01B, "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA", Kx::Srp, Auth::Rsa, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC01C, "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA", Kx::Srp, Auth::Dss, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC01D, "TLS_SRP_SHA_WITH_AES_128_CBC_SHA", Kx::Srp, Auth::Srp, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC01E, "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA", Kx::Srp, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC01F, "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA", Kx::Srp, Auth::Dss, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC020, "TLS_SRP_SHA_WITH_AES_256_CBC_SHA", Kx::Srp, Auth::Srp, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC021, "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA", Kx::Srp, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC022, "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA", Kx::Srp, Auth::Dss, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesCbc, 256, Mac::Sha384, false),
    s(0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AesCbc, 256, Mac::Sha384, false),
    s(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", Kx::Ecdhe, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Kx::Ecdhe, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha384, false),
    s(0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", Kx::EcdhStatic, Auth::Rsa, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", Kx::EcdhStatic, Auth::Rsa, Cipher::AesCbc, 256, Mac::Sha384, false),
    s(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Kx::Ecdhe, Auth::Rsa, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Kx::Ecdhe, Auth::Rsa, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", Kx::EcdhStatic, Auth::Rsa, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", Kx::EcdhStatic, Auth::Rsa, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0xC033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA", Kx::EcdhePsk, Auth::Psk, Cipher::Rc4, 128, Mac::Sha1, false),
    s(0xC034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA", Kx::EcdhePsk, Auth::Psk, Cipher::TripleDes, 112, Mac::Sha1, false),
    s(0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", Kx::EcdhePsk, Auth::Psk, Cipher::AesCbc, 128, Mac::Sha1, false),
    s(0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", Kx::EcdhePsk, Auth::Psk, Cipher::AesCbc, 256, Mac::Sha1, false),
    s(0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", Kx::EcdhePsk, Auth::Psk, Cipher::AesCbc, 128, Mac::Sha256, false),
    s(0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", Kx::EcdhePsk, Auth::Psk, Cipher::AesCbc, 256, Mac::Sha384, false),
    s(0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA", Kx::EcdhePsk, Auth::Psk, Cipher::Null, 0, Mac::Sha1, false),
    s(0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256", Kx::EcdhePsk, Auth::Psk, Cipher::Null, 0, Mac::Sha256, false),
    s(0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384", Kx::EcdhePsk, Auth::Psk, Cipher::Null, 0, Mac::Sha384, false),
    s(0xC03C, "TLS_RSA_WITH_ARIA_128_CBC_SHA256", Kx::Rsa, Auth::Rsa, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC03D, "TLS_RSA_WITH_ARIA_256_CBC_SHA384", Kx::Rsa, Auth::Rsa, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC03E, "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256", Kx::DhStatic, Auth::Dss, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC03F, "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384", Kx::DhStatic, Auth::Dss, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC040, "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256", Kx::DhStatic, Auth::Rsa, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC041, "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384", Kx::DhStatic, Auth::Rsa, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC042, "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256", Kx::Dhe, Auth::Dss, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC043, "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384", Kx::Dhe, Auth::Dss, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC044, "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256", Kx::Dhe, Auth::Rsa, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC045, "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384", Kx::Dhe, Auth::Rsa, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC046, "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256", Kx::DhAnon, Auth::Anon, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC047, "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384", Kx::DhAnon, Auth::Anon, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC048, "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256", Kx::Ecdhe, Auth::Ecdsa, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC049, "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384", Kx::Ecdhe, Auth::Ecdsa, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC04A, "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC04B, "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC04C, "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256", Kx::Ecdhe, Auth::Rsa, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC04D, "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384", Kx::Ecdhe, Auth::Rsa, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC04E, "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256", Kx::EcdhStatic, Auth::Rsa, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC04F, "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384", Kx::EcdhStatic, Auth::Rsa, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256", Kx::Rsa, Auth::Rsa, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384", Kx::Rsa, Auth::Rsa, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256", Kx::Dhe, Auth::Rsa, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384", Kx::Dhe, Auth::Rsa, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC054, "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256", Kx::DhStatic, Auth::Rsa, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC055, "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384", Kx::DhStatic, Auth::Rsa, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256", Kx::Dhe, Auth::Dss, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384", Kx::Dhe, Auth::Dss, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC058, "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256", Kx::DhStatic, Auth::Dss, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC059, "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384", Kx::DhStatic, Auth::Dss, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC05A, "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256", Kx::DhAnon, Auth::Anon, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC05B, "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384", Kx::DhAnon, Auth::Anon, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", Kx::Ecdhe, Auth::Ecdsa, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384", Kx::Ecdhe, Auth::Ecdsa, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC05E, "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC05F, "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384", Kx::EcdhStatic, Auth::Ecdsa, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", Kx::Ecdhe, Auth::Rsa, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384", Kx::Ecdhe, Auth::Rsa, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC062, "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256", Kx::EcdhStatic, Auth::Rsa, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC063, "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384", Kx::EcdhStatic, Auth::Rsa, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC064, "TLS_PSK_WITH_ARIA_128_CBC_SHA256", Kx::Psk, Auth::Psk, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC065, "TLS_PSK_WITH_ARIA_256_CBC_SHA384", Kx::Psk, Auth::Psk, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC066, "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256", Kx::DhePsk, Auth::Psk, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC067, "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384", Kx::DhePsk, Auth::Psk, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC068, "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256", Kx::RsaPsk, Auth::Rsa, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC069, "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384", Kx::RsaPsk, Auth::Rsa, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC06A, "TLS_PSK_WITH_ARIA_128_GCM_SHA256", Kx::Psk, Auth::Psk, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC06B, "TLS_PSK_WITH_ARIA_256_GCM_SHA384", Kx::Psk, Auth::Psk, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC06C, "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256", Kx::DhePsk, Auth::Psk, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC06D, "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384", Kx::DhePsk, Auth::Psk, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC06E, "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256", Kx::RsaPsk, Auth::Rsa, Cipher::AriaGcm, 128, Mac::Aead, false),
    s(0xC06F, "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384", Kx::RsaPsk, Auth::Rsa, Cipher::AriaGcm, 256, Mac::Aead, false),
    s(0xC070, "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256", Kx::EcdhePsk, Auth::Psk, Cipher::AriaCbc, 128, Mac::Sha256, false),
    s(0xC071, "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384", Kx::EcdhePsk, Auth::Psk, Cipher::AriaCbc, 256, Mac::Sha384, false),
    s(0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", Kx::Ecdhe, Auth::Ecdsa, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", Kx::Ecdhe, Auth::Ecdsa, Cipher::CamelliaCbc, 256, Mac::Sha384, false),
    s(0xC074, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", Kx::EcdhStatic, Auth::Ecdsa, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0xC075, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", Kx::EcdhStatic, Auth::Ecdsa, Cipher::CamelliaCbc, 256, Mac::Sha384, false),
    s(0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", Kx::Ecdhe, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384", Kx::Ecdhe, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha384, false),
    s(0xC078, "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256", Kx::EcdhStatic, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0xC079, "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384", Kx::EcdhStatic, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha384, false),
    s(0xC07A, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256", Kx::Rsa, Auth::Rsa, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC07B, "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384", Kx::Rsa, Auth::Rsa, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC07C, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", Kx::Dhe, Auth::Rsa, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC07D, "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", Kx::Dhe, Auth::Rsa, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC07E, "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256", Kx::DhStatic, Auth::Rsa, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC07F, "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384", Kx::DhStatic, Auth::Rsa, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC080, "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256", Kx::Dhe, Auth::Dss, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC081, "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384", Kx::Dhe, Auth::Dss, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC082, "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256", Kx::DhStatic, Auth::Dss, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC083, "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384", Kx::DhStatic, Auth::Dss, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC084, "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256", Kx::DhAnon, Auth::Anon, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC085, "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384", Kx::DhAnon, Auth::Anon, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC086, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", Kx::Ecdhe, Auth::Ecdsa, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC087, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", Kx::Ecdhe, Auth::Ecdsa, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC088, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", Kx::EcdhStatic, Auth::Ecdsa, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC089, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", Kx::EcdhStatic, Auth::Ecdsa, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC08A, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", Kx::Ecdhe, Auth::Rsa, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC08B, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", Kx::Ecdhe, Auth::Rsa, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC08C, "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256", Kx::EcdhStatic, Auth::Rsa, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC08D, "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384", Kx::EcdhStatic, Auth::Rsa, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC08E, "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256", Kx::Psk, Auth::Psk, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC08F, "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384", Kx::Psk, Auth::Psk, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC090, "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256", Kx::DhePsk, Auth::Psk, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC091, "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384", Kx::DhePsk, Auth::Psk, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC092, "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256", Kx::RsaPsk, Auth::Rsa, Cipher::CamelliaGcm, 128, Mac::Aead, false),
    s(0xC093, "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384", Kx::RsaPsk, Auth::Rsa, Cipher::CamelliaGcm, 256, Mac::Aead, false),
    s(0xC094, "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256", Kx::Psk, Auth::Psk, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0xC095, "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384", Kx::Psk, Auth::Psk, Cipher::CamelliaCbc, 256, Mac::Sha384, false),
    s(0xC096, "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", Kx::DhePsk, Auth::Psk, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0xC097, "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", Kx::DhePsk, Auth::Psk, Cipher::CamelliaCbc, 256, Mac::Sha384, false),
    s(0xC098, "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256", Kx::RsaPsk, Auth::Rsa, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0xC099, "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384", Kx::RsaPsk, Auth::Rsa, Cipher::CamelliaCbc, 256, Mac::Sha384, false),
    s(0xC09A, "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", Kx::EcdhePsk, Auth::Psk, Cipher::CamelliaCbc, 128, Mac::Sha256, false),
    s(0xC09B, "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", Kx::EcdhePsk, Auth::Psk, Cipher::CamelliaCbc, 256, Mac::Sha384, false),
    s(0xC09C, "TLS_RSA_WITH_AES_128_CCM", Kx::Rsa, Auth::Rsa, Cipher::AesCcm, 128, Mac::Aead, false),
    s(0xC09D, "TLS_RSA_WITH_AES_256_CCM", Kx::Rsa, Auth::Rsa, Cipher::AesCcm, 256, Mac::Aead, false),
    s(0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", Kx::Dhe, Auth::Rsa, Cipher::AesCcm, 128, Mac::Aead, false),
    s(0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", Kx::Dhe, Auth::Rsa, Cipher::AesCcm, 256, Mac::Aead, false),
    s(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", Kx::Rsa, Auth::Rsa, Cipher::AesCcm8, 128, Mac::Aead, false),
    s(0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", Kx::Rsa, Auth::Rsa, Cipher::AesCcm8, 256, Mac::Aead, false),
    s(0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", Kx::Dhe, Auth::Rsa, Cipher::AesCcm8, 128, Mac::Aead, false),
    s(0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", Kx::Dhe, Auth::Rsa, Cipher::AesCcm8, 256, Mac::Aead, false),
    s(0xC0A4, "TLS_PSK_WITH_AES_128_CCM", Kx::Psk, Auth::Psk, Cipher::AesCcm, 128, Mac::Aead, false),
    s(0xC0A5, "TLS_PSK_WITH_AES_256_CCM", Kx::Psk, Auth::Psk, Cipher::AesCcm, 256, Mac::Aead, false),
    s(0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM", Kx::DhePsk, Auth::Psk, Cipher::AesCcm, 128, Mac::Aead, false),
    s(0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM", Kx::DhePsk, Auth::Psk, Cipher::AesCcm, 256, Mac::Aead, false),
    s(0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", Kx::Psk, Auth::Psk, Cipher::AesCcm8, 128, Mac::Aead, false),
    s(0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8", Kx::Psk, Auth::Psk, Cipher::AesCcm8, 256, Mac::Aead, false),
    s(0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", Kx::DhePsk, Auth::Psk, Cipher::AesCcm8, 128, Mac::Aead, false),
    s(0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8", Kx::DhePsk, Auth::Psk, Cipher::AesCcm8, 256, Mac::Aead, false),
    s(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesCcm, 128, Mac::Aead, false),
    s(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesCcm, 256, Mac::Aead, false),
    s(0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesCcm8, 128, Mac::Aead, false),
    s(0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", Kx::Ecdhe, Auth::Ecdsa, Cipher::AesCcm8, 256, Mac::Aead, false),
    s(0xC0B0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256", Kx::EccPwd, Auth::EccPwd, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0xC0B1, "TLS_ECCPWD_WITH_AES_256_GCM_SHA384", Kx::EccPwd, Auth::EccPwd, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0xC0B2, "TLS_ECCPWD_WITH_AES_128_CCM_SHA256", Kx::EccPwd, Auth::EccPwd, Cipher::AesCcm, 128, Mac::Aead, false),
    s(0xC0B3, "TLS_ECCPWD_WITH_AES_256_CCM_SHA384", Kx::EccPwd, Auth::EccPwd, Cipher::AesCcm, 256, Mac::Aead, false),
    s(0xC0B4, "TLS_SHA256_SHA256", Kx::Tls13, Auth::Tls13, Cipher::Null, 0, Mac::Sha256, false),
    s(0xC0B5, "TLS_SHA384_SHA384", Kx::Tls13, Auth::Tls13, Cipher::Null, 0, Mac::Sha384, false),
    s(0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC", Kx::Gost, Auth::Gost, Cipher::Kuznyechik, 256, Mac::Gost, false),
    s(0xC101, "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC", Kx::Gost, Auth::Gost, Cipher::Magma, 256, Mac::Gost, false),
    s(0xC102, "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT", Kx::Gost, Auth::Gost, Cipher::Gost28147, 256, Mac::Gost, false),
    s(0xC103, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L", Kx::Tls13, Auth::Tls13, Cipher::Kuznyechik, 256, Mac::Aead, false),
    s(0xC104, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L", Kx::Tls13, Auth::Tls13, Cipher::Magma, 256, Mac::Aead, false),
    s(0xC105, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S", Kx::Tls13, Auth::Tls13, Cipher::Kuznyechik, 256, Mac::Aead, false),
    s(0xC106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", Kx::Tls13, Auth::Tls13, Cipher::Magma, 256, Mac::Aead, false),
    s(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Kx::Ecdhe, Auth::Rsa, Cipher::Chacha20Poly1305, 256, Mac::Aead, false),
    s(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", Kx::Ecdhe, Auth::Ecdsa, Cipher::Chacha20Poly1305, 256, Mac::Aead, false),
    s(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Kx::Dhe, Auth::Rsa, Cipher::Chacha20Poly1305, 256, Mac::Aead, false),
    s(0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", Kx::Psk, Auth::Psk, Cipher::Chacha20Poly1305, 256, Mac::Aead, false),
    s(0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", Kx::EcdhePsk, Auth::Psk, Cipher::Chacha20Poly1305, 256, Mac::Aead, false),
    s(0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", Kx::DhePsk, Auth::Psk, Cipher::Chacha20Poly1305, 256, Mac::Aead, false),
    s(0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", Kx::RsaPsk, Auth::Rsa, Cipher::Chacha20Poly1305, 256, Mac::Aead, false),
    s(0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", Kx::EcdhePsk, Auth::Psk, Cipher::AesGcm, 128, Mac::Aead, false),
    s(0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", Kx::EcdhePsk, Auth::Psk, Cipher::AesGcm, 256, Mac::Aead, false),
    s(0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", Kx::EcdhePsk, Auth::Psk, Cipher::AesCcm8, 128, Mac::Aead, false),
    s(0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", Kx::EcdhePsk, Auth::Psk, Cipher::AesCcm, 128, Mac::Aead, false),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_table_equals_the_hand_written_one() {
        assert_eq!(table(), OLD_SUITES);
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
        assert_eq!(name(0x0a0a), "0x0A0A");
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
