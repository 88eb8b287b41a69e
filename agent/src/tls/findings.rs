//! TLS finding definitions and the rules that raise them.
//!
//! Ids are stable: they are what alerts, dashboards and suppressions refer to. Each rule
//! reports facts only (versions, suite names, alert names, day counts), never key material.
//! docs/findings.md documents every id; a test checks that the two agree.

use super::cert::CertInfo;
use super::handshake::{is_grease, SCSV_RENEGOTIATION};
use super::names::{self, version_label, version_rank};
use super::suites::{self, Cipher};
use super::{Close, Handshake, TlsInfo};
use crate::detect::{Finding, FindingDef, Severity};
use crate::flow::Direction;
use crate::time::Timestamp;

pub const VERSION_DEPRECATED: FindingDef = FindingDef {
    id: "tls.version.deprecated",
    severity: Severity::Medium,
    severity_note: "critical (SSL 2.0), high (SSL 3.0), medium (TLS 1.0, TLS 1.1, DTLS 1.0)",
    title: "Deprecated TLS or SSL version",
    description: "The negotiated version is below TLS 1.2 (RFC 8996, RFC 7568, RFC 6176); RFC 8996 deprecates DTLS 1.0 with them.",
    evidence: "`version`",
    remediation: "Disable SSL 2.0/3.0 and TLS 1.0/1.1 on the server (RFC 8996); allow TLS 1.2 and 1.3 only.",
    references: &["RFC 8996 (Deprecating TLS 1.0 and TLS 1.1)", "RFC 7568 (Deprecating SSL 3.0)", "RFC 6176 (Prohibiting SSL 2.0)", "NIST SP 800-52r2 (Guidelines for TLS implementations)"],
};
pub const CLIENT_MAX_VERSION_LOW: FindingDef = FindingDef {
    id: "tls.client.max_version_low",
    severity: Severity::Medium,
    severity_note: "",
    title: "Client offers nothing above TLS 1.1",
    description: "The client's highest offered version (`supported_versions` if present, else `legacy_version`) is below TLS 1.2.",
    evidence: "`client_max_version`",
    remediation: "Upgrade or reconfigure the client's TLS library to offer TLS 1.2 and 1.3.",
    references: &["RFC 8996 (Deprecating TLS 1.0 and TLS 1.1)", "NIST SP 800-52r2 (Guidelines for TLS implementations)"],
};
pub const CIPHER_WEAK: FindingDef = FindingDef {
    id: "tls.cipher.weak",
    severity: Severity::High,
    severity_note: "",
    title: "Weak cipher suite negotiated",
    description: "The negotiated suite has a NULL cipher, is export-grade, is anonymous (no server authentication), uses RC4, DES/RC2 or 3DES, or an MD5 MAC. All SSL 2.0 cipher kinds qualify (MD5 MAC).",
    evidence: "`cipher` (IANA name), `reason` (`null cipher`, `export-grade`, `anonymous key exchange`, `RC4`, `DES`, `3DES`, `MD5 MAC`)",
    remediation: "Remove these suites from the server's cipher list; prefer ECDHE with AES-GCM or ChaCha20-Poly1305.",
    references: &["RFC 7465 (Prohibiting RC4 cipher suites)", "RFC 9325 (BCP 195: recommendations for secure use of TLS)", "NIST SP 800-52r2 (Guidelines for TLS implementations)", "Mozilla Server Side TLS guidelines"],
};
pub const CIPHER_NO_FORWARD_SECRECY: FindingDef = FindingDef {
    id: "tls.cipher.no_forward_secrecy",
    severity: Severity::Medium,
    severity_note: "",
    title: "Cipher suite without forward secrecy",
    description: "The negotiated suite's key exchange is static: RSA key transport, static DH or ECDH (certificate keys), plain PSK, RSA-PSK or Kerberos.",
    evidence: "`cipher`, `key_exchange` (`RSA`, `DH`, `ECDH`, `PSK`, `RSA-PSK`, `KRB5`)",
    remediation: "Prefer ECDHE/DHE suites (or TLS 1.3) so that a leaked server key cannot decrypt past traffic.",
    references: &["RFC 9325 (BCP 195: recommendations for secure use of TLS)", "NIST SP 800-52r2 (Guidelines for TLS implementations)", "Mozilla Server Side TLS guidelines"],
};
pub const CIPHER_CBC: FindingDef = FindingDef {
    id: "tls.cipher.cbc",
    severity: Severity::Low,
    severity_note: "",
    title: "CBC-mode cipher suite",
    description: "The negotiated suite uses a CBC-mode block cipher (AES, Camellia, ARIA, SEED, IDEA, DES, 3DES, RC2 in CBC).",
    evidence: "`cipher`, `cipher_class`",
    remediation: "Prefer AEAD suites (AES-GCM, ChaCha20-Poly1305); keep CBC only for legacy clients.",
    references: &["RFC 7457 (Summarizing known attacks on TLS)", "RFC 9325 (BCP 195: recommendations for secure use of TLS)", "Mozilla Server Side TLS guidelines"],
};
pub const CLIENT_WEAK_OFFERED: FindingDef = FindingDef {
    id: "tls.client.weak_offered",
    severity: Severity::Info,
    severity_note: "",
    title: "Client offers weak cipher suites",
    description: "The ClientHello offers at least one suite that would raise `tls.cipher.weak` (or an SSL 2.0 cipher kind).",
    evidence: "`count`, `examples` (a list of up to 5 names)",
    remediation: "Remove weak suites from the client's configuration so no server can pick them.",
    references: &["RFC 9325 (BCP 195: recommendations for secure use of TLS)", "RFC 7465 (Prohibiting RC4 cipher suites)"],
};
pub const DOWNGRADE_VERSION: FindingDef = FindingDef {
    id: "tls.downgrade.version",
    severity: Severity::Medium,
    severity_note: "",
    title: "TLS 1.3 offered, older version chosen",
    description: "The client offered TLS 1.3 but the server chose an older version, and the ServerHello carries no downgrade sentinel.",
    evidence: "`version`, `client_max_version`",
    remediation: "Enable TLS 1.3 on the server (and on any TLS-terminating middlebox in front of it).",
    references: &["RFC 8446 (TLS 1.3, §4.1.3)", "NIST SP 800-52r2 (Guidelines for TLS implementations)"],
};
pub const DOWNGRADE_SENTINEL: FindingDef = FindingDef {
    id: "tls.downgrade.sentinel",
    severity: Severity::High,
    severity_note: "",
    title: "Downgrade sentinel: the hello was altered in transit",
    description: "The last 8 bytes of ServerHello.random are `DOWNGRD\\x01` (TLS 1.2 chosen) while the client offered TLS 1.3, or `DOWNGRD\\x00` (TLS 1.1 or below chosen) while the client offered TLS 1.2 or more (RFC 8446 §4.1.3): the server saw a different ClientHello than the client sent. Raised instead of `tls.downgrade.version`.",
    evidence: "`version`, `client_max_version`, `sentinel` (`TLS 1.2`, `TLS 1.1 or below`)",
    remediation: "Something between client and server altered the ClientHello: investigate interception or a broken middlebox.",
    references: &["RFC 8446 (TLS 1.3, §4.1.3)"],
};
pub const DOWNGRADE_FALLBACK_SCSV: FindingDef = FindingDef {
    id: "tls.downgrade.fallback_scsv",
    severity: Severity::Medium,
    severity_note: "",
    title: "Client fell back to a lower version",
    description: "The ClientHello offers `TLS_FALLBACK_SCSV` (0x5600, RFC 7507): the client is retrying with a lower version after a failed handshake.",
    evidence: "`client_version`",
    remediation: "Find why the first, higher-version handshake failed (server or middlebox intolerance) and fix it.",
    references: &["RFC 7507 (TLS Fallback SCSV)"],
};
pub const DOWNGRADE_INAPPROPRIATE_FALLBACK: FindingDef = FindingDef {
    id: "tls.downgrade.inappropriate_fallback",
    severity: Severity::Medium,
    severity_note: "",
    title: "Version fallback refused",
    description: "A plaintext `inappropriate_fallback` alert (86, RFC 7507 §2) was seen.",
    evidence: "`sent_by` (`client`/`server`)",
    remediation:
        "Investigate the failed higher-version handshake that caused the client to fall back.",
    references: &["RFC 7507 (TLS Fallback SCSV, §2)"],
};
pub const HANDSHAKE_FAILURE: FindingDef = FindingDef {
    id: "tls.handshake.failure",
    severity: Severity::Medium,
    severity_note: "",
    title: "TLS handshake failed",
    description: "A fatal alert was sent before the handshake completed, or the connection was reset or closed (FIN) after the ClientHello and before any ServerHello. Idle timeout and end of capture do not count.",
    evidence: "`reason` (alert name, `reset after ClientHello`, `closed after ClientHello`), `sent_by`",
    remediation: "Check protocol/cipher compatibility and certificates between this client and server.",
    references: &["RFC 8446 (TLS 1.3, §6 Alert protocol)", "RFC 5246 (TLS 1.2, §7.2)"],
};
pub const CERT_EXPIRED: FindingDef = FindingDef {
    id: "tls.cert.expired",
    severity: Severity::High,
    severity_note: "",
    title: "Certificate expired",
    description: "`now` is after the leaf certificate's notAfter.",
    evidence: "`not_after`, `days_expired`",
    remediation: "Renew the certificate and automate renewal.",
    references: &["RFC 5280 (X.509 PKI certificate profile, §4.1.2.5)"],
};
pub const CERT_NOT_YET_VALID: FindingDef = FindingDef {
    id: "tls.cert.not_yet_valid",
    severity: Severity::Medium,
    severity_note: "",
    title: "Certificate not yet valid",
    description: "`now` is before the leaf certificate's notBefore.",
    evidence: "`not_before`",
    remediation: "Check the issuing system's clock and the certificate's validity period.",
    references: &["RFC 5280 (X.509 PKI certificate profile, §4.1.2.5)"],
};
pub const CERT_EXPIRING: FindingDef = FindingDef {
    id: "tls.cert.expiring",
    severity: Severity::Medium,
    severity_note: "medium (< 30 days left), high (< 7 days left)",
    title: "Certificate expires soon",
    description: "The leaf certificate expires within 30 days of `now`.",
    evidence: "`not_after`, `days_left`",
    remediation: "Renew the certificate now and automate renewal.",
    references: &[
        "RFC 5280 (X.509 PKI certificate profile, §4.1.2.5)",
        "NIST SP 800-52r2 (Guidelines for TLS implementations)",
    ],
};
pub const CERT_SELF_SIGNED: FindingDef = FindingDef {
    id: "tls.cert.self_signed",
    severity: Severity::Medium,
    severity_note: "",
    title: "Self-signed server certificate",
    description: "The leaf certificate's subject equals its issuer (byte-wise; the signature is not verified).",
    evidence: "`subject`",
    remediation: "Use a certificate from a trusted (public or internal) CA.",
    references: &["RFC 5280 (X.509 PKI certificate profile)", "NIST SP 800-52r2 (Guidelines for TLS implementations)"],
};
pub const CERT_WEAK_KEY: FindingDef = FindingDef {
    id: "tls.cert.weak_key",
    severity: Severity::High,
    severity_note: "",
    title: "Weak certificate key",
    description: "The leaf key is RSA, RSA-PSS or DSA below 2048 bits, or EC below 256 bits.",
    evidence: "`key_type`, `key_bits`",
    remediation: "Reissue the certificate with RSA >= 2048 bits or an EC P-256/Ed25519 key.",
    references: &[
        "NIST SP 800-131A r2 (Transitioning cryptographic algorithms and key lengths)",
        "NIST SP 800-52r2 (Guidelines for TLS implementations)",
        "Mozilla Server Side TLS guidelines",
    ],
};
pub const CERT_WEAK_SIGNATURE: FindingDef = FindingDef {
    id: "tls.cert.weak_signature",
    severity: Severity::Medium,
    severity_note: "high (MD2/MD4/MD5), medium (SHA-1)",
    title: "Weak certificate signature hash",
    description: "The leaf certificate's signature algorithm uses a broken hash.",
    evidence: "`sig_alg`",
    remediation: "Reissue the certificate with a SHA-256 (or stronger) signature.",
    references: &[
        "RFC 6151 (MD5 security considerations)",
        "NIST SP 800-131A r2 (Transitioning cryptographic algorithms and key lengths)",
        "Mozilla Server Side TLS guidelines",
    ],
};
pub const CERT_NAME_MISMATCH: FindingDef = FindingDef {
    id: "tls.cert.name_mismatch",
    severity: Severity::Medium,
    severity_note: "",
    title: "Certificate does not cover the requested name",
    description: "The SNI matches none of the certificate's subjectAltName DNS names (or, when there are none, its subject CNs), per RFC 6125 §6.4: case-insensitive, a wildcard only as the whole left-most label covering exactly one label, never `*.tld`.",
    evidence: "`sni`, `cert_names` (a list, up to 10)",
    remediation: "Serve a certificate that covers the requested name, or fix the client's target name.",
    references: &["RFC 6125 (Service identity in TLS, §6.4)", "RFC 9525 (Service identity in TLS)"],
};
pub const SNI_MISSING: FindingDef = FindingDef {
    id: "tls.sni.missing",
    severity: Severity::Info,
    severity_note: "info between internal addresses, low when either end is external",
    title: "ClientHello without SNI",
    description: "A TLS ClientHello has no server_name extension. RFC 6066 §3 allows no IP literal in SNI, so a client that connects by address sends none by design, which is common between internal services: hence info inside the internal networks and low beyond them (not raised for SSL 2.0-format hellos, which cannot carry one, nor when the hello carries ESNI).",
    evidence: "",
    remediation: "Configure the client to send SNI (connect by host name, not IP address).",
    references: &["RFC 6066 (TLS extensions, §3 Server Name Indication)", "RFC 9325 (BCP 195: recommendations for secure use of TLS)"],
};
pub const RENEGOTIATION_INSECURE: FindingDef = FindingDef {
    id: "tls.renegotiation.insecure",
    severity: Severity::Medium,
    severity_note: "",
    title: "Insecure renegotiation",
    description: "TLS ≤ 1.2 was negotiated and RFC 5746 secure renegotiation is not signalled by both sides: the client sent neither the `renegotiation_info` extension nor the SCSV 0x00ff, or the server did not echo `renegotiation_info`.",
    evidence: "`version`, `client_signalled`, `server_acknowledged`",
    remediation: "Upgrade the TLS library (RFC 5746 support) or disable renegotiation.",
    references: &["RFC 5746 (TLS renegotiation indication extension)"],
};
pub const COMPRESSION: FindingDef = FindingDef {
    id: "tls.compression",
    severity: Severity::High,
    severity_note: "",
    title: "TLS compression (CRIME)",
    description:
        "The ServerHello selected a compression method other than null (CRIME, CVE-2012-4929).",
    evidence: "`method` (1 = DEFLATE)",
    remediation: "Disable TLS compression on the server.",
    references: &[
        "CVE-2012-4929 (CRIME)",
        "RFC 7457 (Summarizing known attacks on TLS, §2.6)",
        "RFC 9325 (BCP 195: recommendations for secure use of TLS)",
    ],
};
pub const HEARTBEAT_ENABLED: FindingDef = FindingDef {
    id: "tls.heartbeat.enabled",
    severity: Severity::Low,
    severity_note: "",
    title: "Heartbeat extension enabled",
    description: "The server echoed the heartbeat extension (RFC 6520).",
    evidence: "`mode` (1 peer_allowed_to_send, 2 peer_not_allowed_to_send)",
    remediation: "Disable the heartbeat extension unless needed (DTLS only), and confirm the library is not vulnerable to Heartbleed.",
    references: &["RFC 6520 (TLS and DTLS heartbeat extension)", "CVE-2014-0160 (Heartbleed)"],
};
pub const HEARTBEAT_HEARTBLEED: FindingDef = FindingDef {
    id: "tls.heartbeat.heartbleed",
    severity: Severity::Critical,
    severity_note: "",
    title: "Heartbleed pattern",
    description: "A plaintext heartbeat request (record type 24) whose `payload_length` plus type, length and the mandatory 16 bytes of padding does not fit in the record (RFC 6520 §4): the Heartbleed pattern (CVE-2014-0160). Encrypted heartbeats cannot be inspected.",
    evidence: "`sent_by`, `payload_length`, `record_length`, `answered` (a heartbeat response was seen from the peer)",
    remediation: "Treat as an attack: patch OpenSSL, rotate keys and certificates, investigate the source.",
    references: &["CVE-2014-0160 (Heartbleed)", "RFC 6520 (TLS and DTLS heartbeat extension, §4)"],
};
pub const EARLY_DATA: FindingDef = FindingDef {
    id: "tls.early_data",
    severity: Severity::Info,
    severity_note: "",
    title: "TLS 1.3 0-RTT early data offered",
    description:
        "The ClientHello offers TLS 1.3 0-RTT (`early_data`), which can be replayed (RFC 8446 §8).",
    evidence: "`psk_accepted`",
    remediation: "Accept 0-RTT only for idempotent requests, or disable it on the server.",
    references: &[
        "RFC 8446 (TLS 1.3, §8 0-RTT and anti-replay)",
        "RFC 8470 (Using early data in HTTP)",
    ],
};
pub const SESSION_TICKET: FindingDef = FindingDef {
    id: "tls.session_ticket",
    severity: Severity::Info,
    severity_note: "",
    title: "TLS 1.2 session ticket",
    description: "In TLS ≤ 1.2, the client presented a non-empty session ticket or the server issued one in clear NewSessionTicket (RFC 5077).",
    evidence: "`client_ticket_bytes`, `server_issued`",
    remediation: "Rotate ticket keys often; tickets weaken forward secrecy until the key is discarded.",
    references: &["RFC 5077 (TLS session resumption without server-side state)", "Mozilla Server Side TLS guidelines"],
};

pub const MTLS_ABSENT: FindingDef = FindingDef {
    id: "tls.mtls.absent",
    severity: Severity::Medium,
    severity_note: "",
    title: "TLS without a client certificate (no mTLS)",
    description: "A completed TLS handshake in the `[mtls] require` scope (default: both ends internal) where the client presented no certificate: the event's `client_auth` is `none` (the server asked for none) or `requested` (the server asked and accepted an empty answer; a server that refused it raises nothing). Read from the handshake in TLS 1.2 and older, inferred from record sizes in TLS 1.3; `unknown` (resumption, ambiguous sizes, a handshake cut short) never raises it.",
    evidence: "`client_auth` (`none`, `requested`), `client_auth_source` (`handshake`, `inferred`), `scope` (`internal`, `external`)",
    remediation: "Require client certificates on the server (a service mesh's STRICT mTLS mode, nginx `ssl_verify_client on`, OpenSSL `-Verify`), or exempt the destination with an `[[allow]]` rule.",
    references: &["RFC 8446 (TLS 1.3, §4.3.2 CertificateRequest, §4.4.2 Certificate)", "RFC 5246 (TLS 1.2, §7.4.4, §7.4.6)", "NIST SP 800-207 (Zero Trust Architecture)", "NIST SP 800-204A (service mesh security, mTLS between services)"],
};

pub static DEFS: &[FindingDef] = &[
    VERSION_DEPRECATED,
    CLIENT_MAX_VERSION_LOW,
    CIPHER_WEAK,
    CIPHER_NO_FORWARD_SECRECY,
    CIPHER_CBC,
    CLIENT_WEAK_OFFERED,
    DOWNGRADE_VERSION,
    DOWNGRADE_SENTINEL,
    DOWNGRADE_FALLBACK_SCSV,
    DOWNGRADE_INAPPROPRIATE_FALLBACK,
    HANDSHAKE_FAILURE,
    CERT_EXPIRED,
    CERT_NOT_YET_VALID,
    CERT_EXPIRING,
    CERT_SELF_SIGNED,
    CERT_WEAK_KEY,
    CERT_WEAK_SIGNATURE,
    CERT_NAME_MISMATCH,
    SNI_MISSING,
    RENEGOTIATION_INSECURE,
    COMPRESSION,
    HEARTBEAT_ENABLED,
    HEARTBEAT_HEARTBLEED,
    EARLY_DATA,
    SESSION_TICKET,
    MTLS_ABSENT,
];

const DAY: i64 = 86_400;

fn side(dir: Direction) -> &'static str {
    match dir {
        Direction::ToServer => "client",
        Direction::ToClient => "server",
    }
}

/// Evaluate every rule over one connection.
pub(super) fn evaluate(info: &TlsInfo, hs: &Handshake, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    negotiated(hs, &mut out);
    client(hs, &mut out);
    downgrade(hs, &mut out);
    failure(info, hs, &mut out);
    if let Some(c) = &info.cert {
        certificate(c, info.sni.as_deref(), now, &mut out);
    }
    heartbeat(hs, &mut out);
    out
}

fn negotiated(hs: &Handshake, out: &mut Vec<Finding>) {
    let version = match (&hs.server_hello, &hs.ssl2_server_hello) {
        (Some(sh), _) => Some(sh.negotiated()),
        (None, Some(_)) => Some(names::SSL2),
        _ => None,
    };
    if let Some(v) = version {
        let sev = match v {
            names::SSL2 => Some(Severity::Critical),
            names::SSL3 => Some(Severity::High),
            // RFC 8996 deprecates DTLS 1.0 together with TLS 1.0 and 1.1.
            names::TLS10 | names::TLS11 | names::DTLS10 | names::DTLS10_OPENSSL_PRE => {
                Some(Severity::Medium)
            }
            _ => None,
        };
        if let Some(sev) = sev {
            out.push(
                Finding::new(&VERSION_DEPRECATED)
                    .with_severity(sev)
                    .with("version", version_label(v)),
            );
        }
    }
    if let Some(kind) = hs.ssl2_cipher {
        // Every SSL 2.0 cipher kind pairs RSA key transport with an MD5 MAC.
        if let Some(spec) = suites::ssl2_lookup(kind) {
            let reason = if spec.export {
                "export-grade"
            } else {
                match spec.cipher {
                    Cipher::Rc4 => "RC4",
                    Cipher::Des | Cipher::Rc2 => "DES",
                    Cipher::TripleDes => "3DES",
                    _ => "MD5 MAC",
                }
            };
            out.push(
                Finding::new(&CIPHER_WEAK)
                    .with("cipher", spec.name)
                    .with("reason", reason),
            );
            out.push(
                Finding::new(&CIPHER_NO_FORWARD_SECRECY)
                    .with("cipher", spec.name)
                    .with("key_exchange", "RSA"),
            );
        }
    }
    let Some(sh) = &hs.server_hello else {
        return;
    };
    if let Some(suite) = suites::lookup(sh.cipher) {
        if let Some(reason) = suite.weakness() {
            out.push(
                Finding::new(&CIPHER_WEAK)
                    .with("cipher", suite.name)
                    .with("reason", reason),
            );
        }
        if suite.kx.is_static() {
            out.push(
                Finding::new(&CIPHER_NO_FORWARD_SECRECY)
                    .with("cipher", suite.name)
                    .with("key_exchange", suite.kx.label()),
            );
        }
        if suite.cipher.is_cbc() {
            out.push(
                Finding::new(&CIPHER_CBC)
                    .with("cipher", suite.name)
                    .with("cipher_class", suite.cipher.class()),
            );
        }
    }
    if sh.compression != 0 {
        out.push(Finding::new(&COMPRESSION).with("method", sh.compression));
    }
    let v = sh.negotiated();
    if !names::is_tls13_family(v) {
        let client_signal = hs
            .client_hello
            .as_ref()
            .is_some_and(|c| c.renegotiation_info || c.offers_cipher(SCSV_RENEGOTIATION));
        if !(client_signal && sh.renegotiation_info) {
            out.push(
                Finding::new(&RENEGOTIATION_INSECURE)
                    .with("version", version_label(v))
                    .with("client_signalled", client_signal)
                    .with("server_acknowledged", sh.renegotiation_info),
            );
        }
        let offered = hs
            .client_hello
            .as_ref()
            .and_then(|c| c.session_ticket)
            .unwrap_or(0);
        if offered > 0 || hs.new_session_ticket {
            out.push(
                Finding::new(&SESSION_TICKET)
                    .with("client_ticket_bytes", offered)
                    .with("server_issued", hs.new_session_ticket),
            );
        }
    }
    if let Some(mode) = sh.heartbeat {
        out.push(Finding::new(&HEARTBEAT_ENABLED).with("mode", mode));
    }
}

fn client(hs: &Handshake, out: &mut Vec<Finding>) {
    let Some(ch) = &hs.client_hello else {
        return;
    };
    let max = ch.max_version();
    if version_rank(max) < version_rank(names::TLS12) {
        out.push(
            Finding::new(&CLIENT_MAX_VERSION_LOW).with("client_max_version", version_label(max)),
        );
    }
    let mut weak: Vec<&str> = ch
        .ciphers
        .iter()
        .filter(|c| !is_grease(**c))
        .filter_map(|c| suites::lookup(*c))
        .filter(|s| s.weakness().is_some())
        .map(|s| s.name)
        .collect();
    weak.extend(
        ch.ssl2_specs
            .iter()
            .filter_map(|k| suites::ssl2_lookup(*k))
            .map(|s| s.name),
    );
    if !weak.is_empty() {
        out.push(
            Finding::new(&CLIENT_WEAK_OFFERED)
                .with("count", weak.len())
                .with(
                    "examples",
                    weak.iter()
                        .take(5)
                        .map(|n| (*n).to_owned())
                        .collect::<Vec<_>>(),
                ),
        );
    }
    if ch.offers_cipher(super::handshake::SCSV_FALLBACK) {
        out.push(Finding::new(&DOWNGRADE_FALLBACK_SCSV).with("client_version", version_label(max)));
    }
    if ch.sni.is_none() && !ch.esni && !ch.sslv2_record {
        out.push(Finding::new(&SNI_MISSING));
    }
    if ch.early_data {
        let accepted = hs.server_hello.as_ref().is_some_and(|s| s.psk);
        out.push(Finding::new(&EARLY_DATA).with("psk_accepted", accepted));
    }
}

fn downgrade(hs: &Handshake, out: &mut Vec<Finding>) {
    let (Some(ch), Some(sh)) = (&hs.client_hello, &hs.server_hello) else {
        return;
    };
    let offered = ch.max_version();
    let chosen = sh.negotiated();
    match sh.downgrade_sentinel() {
        // RFC 8446 §4.1.3: a 1.3 client must abort on DOWNGRD\x01 (or \x00); a 1.2 client
        // should abort on DOWNGRD\x00. Only raise when the client really offered more.
        Some(s)
            if (s == 1 && version_rank(offered) >= version_rank(names::TLS13))
                || (s == 0 && version_rank(offered) >= version_rank(names::TLS12)) =>
        {
            out.push(
                Finding::new(&DOWNGRADE_SENTINEL)
                    .with("version", version_label(chosen))
                    .with("client_max_version", version_label(offered))
                    .with(
                        "sentinel",
                        if s == 1 {
                            "TLS 1.2"
                        } else {
                            "TLS 1.1 or below"
                        },
                    ),
            );
            return;
        }
        _ => {}
    }
    if offered == names::TLS13 && !names::is_tls13_family(chosen) {
        out.push(
            Finding::new(&DOWNGRADE_VERSION)
                .with("version", version_label(chosen))
                .with("client_max_version", version_label(offered)),
        );
    }
}

fn failure(info: &TlsInfo, hs: &Handshake, out: &mut Vec<Finding>) {
    if let Some(a) = hs
        .alerts
        .iter()
        .find(|a| a.description == names::ALERT_INAPPROPRIATE_FALLBACK)
    {
        out.push(Finding::new(&DOWNGRADE_INAPPROPRIATE_FALLBACK).with("sent_by", side(a.dir)));
    }
    if info.established {
        return;
    }
    let fatal = hs
        .alerts
        .iter()
        .find(|a| a.level == names::ALERT_FATAL && a.during_handshake);
    if let Some(a) = fatal {
        out.push(
            Finding::new(&HANDSHAKE_FAILURE)
                .with("reason", names::alert_name(a.description))
                .with("sent_by", side(a.dir)),
        );
        return;
    }
    let no_server_hello = hs.server_hello.is_none() && hs.ssl2_server_hello.is_none();
    if hs.client_hello.is_some() && no_server_hello {
        let reason = match hs.close {
            Some(Close::Rst(d)) => Some(("reset after ClientHello", d)),
            Some(Close::Fin(d)) => Some(("closed after ClientHello", d)),
            _ => None,
        };
        if let Some((reason, d)) = reason {
            out.push(
                Finding::new(&HANDSHAKE_FAILURE)
                    .with("reason", reason)
                    .with("sent_by", side(d)),
            );
        }
    }
}

/// Whether `hay` contains `needle` (lowercase ASCII) in any ASCII case, without the
/// lowered copy of `hay` that `to_ascii_lowercase` allocated for every certificate.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

pub(crate) fn certificate(c: &CertInfo, sni: Option<&str>, now: Timestamp, out: &mut Vec<Finding>) {
    let now = now.secs();
    if now > c.not_after_unix {
        let days = (now - c.not_after_unix) / DAY;
        out.push(
            Finding::new(&CERT_EXPIRED)
                .with("not_after", c.not_after.clone())
                .with("days_expired", days),
        );
    } else if now < c.not_before_unix {
        out.push(Finding::new(&CERT_NOT_YET_VALID).with("not_before", c.not_before.clone()));
    } else {
        let left = c.not_after_unix.saturating_sub(now);
        if left < 30 * DAY {
            let sev = if left < 7 * DAY {
                Severity::High
            } else {
                Severity::Medium
            };
            out.push(
                Finding::new(&CERT_EXPIRING)
                    .with_severity(sev)
                    .with("not_after", c.not_after.clone())
                    .with("days_left", left / DAY),
            );
        }
    }
    if c.self_signed {
        out.push(Finding::new(&CERT_SELF_SIGNED).with("subject", c.subject.clone()));
    }
    let weak_key = match (c.key_type.as_str(), c.key_bits) {
        ("RSA" | "RSA-PSS" | "DSA", Some(b)) => b < 2048,
        ("EC", Some(b)) => b < 256,
        _ => false,
    };
    if weak_key {
        out.push(
            Finding::new(&CERT_WEAK_KEY)
                .with("key_type", c.key_type.clone())
                .with("key_bits", c.key_bits.unwrap_or(0)),
        );
    }
    let sig = |needle: &str| contains_ignore_case(&c.sig_alg, needle);
    let sig_sev = if sig("md5") || sig("md2") || sig("md4") {
        Some(Severity::High)
    } else if sig("sha1") || sig("sha-1") {
        Some(Severity::Medium)
    } else {
        None
    };
    if let Some(sev) = sig_sev {
        out.push(
            Finding::new(&CERT_WEAK_SIGNATURE)
                .with_severity(sev)
                .with("sig_alg", c.sig_alg.clone()),
        );
    }
    if let Some(host) = sni {
        if !host.is_empty() && !c.covers(host) {
            let names = if c.san.is_empty() {
                &c.common_names
            } else {
                &c.san
            };
            let mut list: Vec<String> = names.iter().take(10).cloned().collect();
            if names.len() > 10 {
                list.push("…".to_owned());
            }
            let mut f = Finding::new(&CERT_NAME_MISMATCH)
                .with("sni", host)
                .with("cert_names", list);
            if host.parse::<std::net::IpAddr>().is_ok() {
                // RFC 6066 §3 forbids IP literals in SNI; say so, it explains the mismatch.
                f = f.with("sni_is_ip", true);
            }
            out.push(f);
        }
    }
}

fn heartbeat(hs: &Handshake, out: &mut Vec<Finding>) {
    if let Some(h) = hs.heartbeats.iter().find(|h| h.overlong()) {
        let answered = hs.heartbeats.iter().any(|r| r.kind == 2 && r.dir != h.dir);
        out.push(
            Finding::new(&HEARTBEAT_HEARTBLEED)
                .with("sent_by", side(h.dir))
                .with("payload_length", h.payload_length)
                .with("record_length", h.record_length)
                .with("answered", answered),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_check_ignores_case_like_the_lowered_copy() {
        for (alg, want) in [
            ("sha1WithRSAEncryption", true),
            ("SHA1-RSA", true),
            ("ecdsa-with-SHA-1", true),
            ("sha256WithRSAEncryption", false),
            ("", false),
        ] {
            assert_eq!(
                contains_ignore_case(alg, "sha1") || contains_ignore_case(alg, "sha-1"),
                want,
                "{alg}"
            );
            assert_eq!(
                contains_ignore_case(alg, "sha1"),
                alg.to_ascii_lowercase().contains("sha1"),
                "{alg}"
            );
        }
        assert!(contains_ignore_case("md5WithRSAEncryption", "md5"));
        assert!(!contains_ignore_case("md", "md5"));
    }

    #[test]
    fn ids_unique_and_dotted() {
        let mut ids: Vec<_> = DEFS.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), DEFS.len());
        for d in DEFS {
            assert!(d.id.starts_with("tls."), "{}", d.id);
            assert!(
                !d.title.is_empty()
                    && !d.description.is_empty()
                    && !d.remediation.is_empty()
                    && !d.references.is_empty()
            );
        }
    }

    #[test]
    fn every_id_documented() {
        let doc = include_str!("../../../docs/findings.md");
        let tls = doc
            .split("## TLS")
            .nth(1)
            .expect("docs/findings.md has a ## TLS section");
        for d in DEFS {
            assert!(
                tls.contains(&format!("`{}`", d.id)),
                "{} missing from docs",
                d.id
            );
        }
    }
}
