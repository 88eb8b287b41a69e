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

const fn def(
    id: &'static str,
    severity: Severity,
    trigger: &'static str,
    remediation: &'static str,
) -> FindingDef {
    FindingDef {
        id,
        severity,
        trigger,
        remediation,
    }
}

pub const VERSION_DEPRECATED: FindingDef = def(
    "tls.version.deprecated",
    Severity::Medium,
    "The negotiated protocol is SSL 2.0 (critical), SSL 3.0 (high), TLS 1.0 or TLS 1.1 (medium).",
    "Disable SSL 2.0/3.0 and TLS 1.0/1.1 on the server (RFC 8996); allow TLS 1.2 and 1.3 only.",
);
pub const CLIENT_MAX_VERSION_LOW: FindingDef = def(
    "tls.client.max_version_low",
    Severity::Medium,
    "The client's highest offered version is below TLS 1.2.",
    "Upgrade or reconfigure the client's TLS library to offer TLS 1.2 and 1.3.",
);
pub const CIPHER_WEAK: FindingDef = def(
    "tls.cipher.weak",
    Severity::High,
    "The negotiated suite uses a NULL, export-grade, anonymous, RC4, DES or 3DES cipher, or an MD5 MAC.",
    "Remove these suites from the server's cipher list; prefer ECDHE with AES-GCM or ChaCha20-Poly1305.",
);
pub const CIPHER_NO_FORWARD_SECRECY: FindingDef = def(
    "tls.cipher.no_forward_secrecy",
    Severity::Medium,
    "The negotiated suite uses static RSA, static DH/ECDH, plain PSK or Kerberos key exchange.",
    "Prefer ECDHE/DHE suites (or TLS 1.3) so that a leaked server key cannot decrypt past traffic.",
);
pub const CIPHER_CBC: FindingDef = def(
    "tls.cipher.cbc",
    Severity::Low,
    "The negotiated suite uses a CBC-mode block cipher (TLS 1.2 or below).",
    "Prefer AEAD suites (AES-GCM, ChaCha20-Poly1305); keep CBC only for legacy clients.",
);
pub const CLIENT_WEAK_OFFERED: FindingDef = def(
    "tls.client.weak_offered",
    Severity::Info,
    "The client offers at least one weak suite (NULL, export, anonymous, RC4, DES, 3DES, MD5 MAC).",
    "Remove weak suites from the client's configuration so no server can pick them.",
);
pub const DOWNGRADE_VERSION: FindingDef = def(
    "tls.downgrade.version",
    Severity::Medium,
    "The client offered TLS 1.3 but the server chose an older version, without the RFC 8446 downgrade sentinel.",
    "Enable TLS 1.3 on the server (and on any TLS-terminating middlebox in front of it).",
);
pub const DOWNGRADE_SENTINEL: FindingDef = def(
    "tls.downgrade.sentinel",
    Severity::High,
    "The ServerHello random carries the RFC 8446 §4.1.3 downgrade sentinel although the client offered the higher version.",
    "Something between client and server altered the ClientHello: investigate interception or a broken middlebox.",
);
pub const DOWNGRADE_FALLBACK_SCSV: FindingDef = def(
    "tls.downgrade.fallback_scsv",
    Severity::Medium,
    "The ClientHello carries TLS_FALLBACK_SCSV (0x5600): the client is retrying with a lower version after a failure.",
    "Find why the first, higher-version handshake failed (server or middlebox intolerance) and fix it.",
);
pub const DOWNGRADE_INAPPROPRIATE_FALLBACK: FindingDef = def(
    "tls.downgrade.inappropriate_fallback",
    Severity::Medium,
    "An inappropriate_fallback alert (86, RFC 7507) was sent: a version fallback was refused.",
    "Investigate the failed higher-version handshake that caused the client to fall back.",
);
pub const HANDSHAKE_FAILURE: FindingDef = def(
    "tls.handshake.failure",
    Severity::Medium,
    "A fatal alert was sent before the handshake completed, or the connection was reset or closed after the ClientHello with no ServerHello.",
    "Check protocol/cipher compatibility and certificates between this client and server.",
);
pub const CERT_EXPIRED: FindingDef = def(
    "tls.cert.expired",
    Severity::High,
    "The server certificate's notAfter is in the past (packet time).",
    "Renew the certificate and automate renewal.",
);
pub const CERT_NOT_YET_VALID: FindingDef = def(
    "tls.cert.not_yet_valid",
    Severity::Medium,
    "The server certificate's notBefore is in the future (packet time).",
    "Check the issuing system's clock and the certificate's validity period.",
);
pub const CERT_EXPIRING: FindingDef = def(
    "tls.cert.expiring",
    Severity::Medium,
    "The server certificate expires in less than 30 days (medium) or 7 days (high).",
    "Renew the certificate now and automate renewal.",
);
pub const CERT_SELF_SIGNED: FindingDef = def(
    "tls.cert.self_signed",
    Severity::Medium,
    "The server's leaf certificate has subject equal to issuer.",
    "Use a certificate from a trusted (public or internal) CA.",
);
pub const CERT_WEAK_KEY: FindingDef = def(
    "tls.cert.weak_key",
    Severity::High,
    "The server certificate's key is RSA or DSA below 2048 bits, or EC below 256 bits.",
    "Reissue the certificate with RSA >= 2048 bits or an EC P-256/Ed25519 key.",
);
pub const CERT_WEAK_SIGNATURE: FindingDef = def(
    "tls.cert.weak_signature",
    Severity::Medium,
    "The server certificate is signed with MD5/MD2 (high) or SHA-1 (medium).",
    "Reissue the certificate with a SHA-256 (or stronger) signature.",
);
pub const CERT_NAME_MISMATCH: FindingDef = def(
    "tls.cert.name_mismatch",
    Severity::Medium,
    "The SNI matches no DNS name of the certificate's subjectAltName (or CN without SAN), per RFC 6125.",
    "Serve a certificate that covers the requested name, or fix the client's target name.",
);
pub const SNI_MISSING: FindingDef = def(
    "tls.sni.missing",
    Severity::Low,
    "The ClientHello has no server_name extension.",
    "Configure the client to send SNI (connect by host name, not IP address).",
);
pub const RENEGOTIATION_INSECURE: FindingDef = def(
    "tls.renegotiation.insecure",
    Severity::Medium,
    "A TLS 1.2-or-below handshake completed without RFC 5746 secure renegotiation signalled by both sides.",
    "Upgrade the TLS library (RFC 5746 support) or disable renegotiation.",
);
pub const COMPRESSION: FindingDef = def(
    "tls.compression",
    Severity::High,
    "The ServerHello selected a non-null compression method (CRIME, CVE-2012-4929).",
    "Disable TLS compression on the server.",
);
pub const HEARTBEAT_ENABLED: FindingDef = def(
    "tls.heartbeat.enabled",
    Severity::Low,
    "The server accepted the heartbeat extension (RFC 6520).",
    "Disable the heartbeat extension unless needed (DTLS only), and confirm the library is not vulnerable to Heartbleed.",
);
pub const HEARTBEAT_HEARTBLEED: FindingDef = def(
    "tls.heartbeat.heartbleed",
    Severity::Critical,
    "A heartbeat request's payload_length exceeds its record (the Heartbleed pattern, CVE-2014-0160).",
    "Treat as an attack: patch OpenSSL, rotate keys and certificates, investigate the source.",
);
pub const EARLY_DATA: FindingDef = def(
    "tls.early_data",
    Severity::Info,
    "The client offered TLS 1.3 0-RTT early data, which can be replayed (RFC 8446 §8).",
    "Accept 0-RTT only for idempotent requests, or disable it on the server.",
);
pub const SESSION_TICKET: FindingDef = def(
    "tls.session_ticket",
    Severity::Info,
    "A TLS 1.2-or-below session ticket (RFC 5077) was offered or issued.",
    "Rotate ticket keys often; tickets weaken forward secrecy until the key is discarded.",
);

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
        out.push(Finding::new(&COMPRESSION).with("method", sh.compression.to_string()));
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
                    .with("client_signalled", client_signal.to_string())
                    .with("server_acknowledged", sh.renegotiation_info.to_string()),
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
                    .with("client_ticket_bytes", offered.to_string())
                    .with("server_issued", hs.new_session_ticket.to_string()),
            );
        }
    }
    if let Some(mode) = sh.heartbeat {
        out.push(Finding::new(&HEARTBEAT_ENABLED).with("mode", mode.to_string()));
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
                .with("count", weak.len().to_string())
                .with(
                    "examples",
                    weak.iter().take(5).copied().collect::<Vec<_>>().join(","),
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
        out.push(Finding::new(&EARLY_DATA).with("psk_accepted", accepted.to_string()));
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

fn certificate(c: &CertInfo, sni: Option<&str>, now: Timestamp, out: &mut Vec<Finding>) {
    let now = now.secs();
    if now > c.not_after_unix {
        let days = (now - c.not_after_unix) / DAY;
        out.push(
            Finding::new(&CERT_EXPIRED)
                .with("not_after", c.not_after.clone())
                .with("days_expired", days.to_string()),
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
                    .with("days_left", (left / DAY).to_string()),
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
                .with("key_bits", c.key_bits.unwrap_or(0).to_string()),
        );
    }
    let sig = c.sig_alg.to_ascii_lowercase();
    let sig_sev = if sig.contains("md5") || sig.contains("md2") || sig.contains("md4") {
        Some(Severity::High)
    } else if sig.contains("sha1") || sig.contains("sha-1") {
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
            let mut list: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
            if names.len() > 10 {
                list.push("…");
            }
            let mut f = Finding::new(&CERT_NAME_MISMATCH)
                .with("sni", host)
                .with("cert_names", list.join(","));
            if host.parse::<std::net::IpAddr>().is_ok() {
                // RFC 6066 §3 forbids IP literals in SNI; say so, it explains the mismatch.
                f = f.with("sni_is_ip", "true");
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
                .with("payload_length", h.payload_length.to_string())
                .with("record_length", h.record_length.to_string())
                .with("answered", answered.to_string()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_unique_and_dotted() {
        let mut ids: Vec<_> = DEFS.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), DEFS.len());
        for d in DEFS {
            assert!(d.id.starts_with("tls."), "{}", d.id);
            assert!(!d.trigger.is_empty() && !d.remediation.is_empty());
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
