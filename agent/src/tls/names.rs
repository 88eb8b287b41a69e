//! Human names for wire values: protocol versions, named groups, alerts.
//!
//! The names are part of the JSON contract, so they live in one place and are tested.
//! Known values are `Cow::Borrowed`: a ClientHello names several groups and versions, and
//! a `String` for each was measurable (profile-pcap.md, third pass).

use std::borrow::Cow;

/// SSL 2.0's version number (draft-hickman-netscape-ssl-00 §2.5).
pub const SSL2: u16 = 0x0002;
pub const SSL3: u16 = 0x0300; // RFC 6101
pub const TLS10: u16 = 0x0301; // RFC 2246
pub const TLS11: u16 = 0x0302; // RFC 4346
pub const TLS12: u16 = 0x0303; // RFC 5246
pub const TLS13: u16 = 0x0304; // RFC 8446
pub const DTLS10: u16 = 0xfeff; // RFC 4347 §4.1
/// DTLS 1.0 as OpenSSL before 0.9.8f numbered it (`DTLS1_BAD_VER`, still sent by Cisco
/// AnyConnect); tshark names it "DTLS 1.0 (OpenSSL pre 0.9.8f)".
pub const DTLS10_OPENSSL_PRE: u16 = 0x0100;
pub const DTLS12: u16 = 0xfefd; // RFC 6347 §4.1
pub const DTLS13: u16 = 0xfefc; // RFC 9147 §5.3

/// TLS 1.3 drafts were numbered 0x7fNN (draft-ietf-tls-tls13-NN §4.2.1); Chrome's 2017
/// "TLS 1.3 experiment" variants used 0x7e0N and Facebook's 0xfb1N. All behave like TLS 1.3
/// on the wire: everything after the ServerHello is encrypted.
pub fn is_tls13_draft(v: u16) -> bool {
    (v >> 8) == 0x7f || (v & 0xfff0) == 0x7e00 || (v & 0xfff0) == 0xfb10
}

/// Whether the handshake after a ServerHello with this version is encrypted (TLS 1.3 family).
pub fn is_tls13_family(v: u16) -> bool {
    v == TLS13 || v == DTLS13 || is_tls13_draft(v)
}

/// The contract's version string, or `None` for values that are not a released version.
pub fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        SSL2 => "SSL 2.0",
        SSL3 => "SSL 3.0",
        TLS10 => "TLS 1.0",
        TLS11 => "TLS 1.1",
        TLS12 => "TLS 1.2",
        TLS13 => "TLS 1.3",
        DTLS10 | DTLS10_OPENSSL_PRE => "DTLS 1.0",
        DTLS12 => "DTLS 1.2",
        DTLS13 => "DTLS 1.3",
        _ => return None,
    })
}

/// Like [`version_name`] but never empty: drafts read `TLS 1.3 draft N`, others `0xNNNN`.
pub fn version_label(v: u16) -> Cow<'static, str> {
    match version_name(v) {
        Some(n) => Cow::Borrowed(n),
        None if (v >> 8) == 0x7f => Cow::Owned(format!("TLS 1.3 draft {}", v & 0xff)),
        None if is_tls13_draft(v) => Cow::Owned(format!("TLS 1.3 variant 0x{v:04X}")),
        None => Cow::Owned(format!("0x{v:04X}")),
    }
}

/// An order over versions that puts TLS 1.3 drafts just below TLS 1.3 and unknown values
/// (GREASE) at the bottom, so "highest offered" is meaningful. DTLS versions rank with the
/// TLS version they derive from (DTLS 1.0 from TLS 1.1, RFC 4347 §1), so the same
/// "below TLS 1.2" thresholds apply to them (RFC 8996 deprecates DTLS 1.0 with TLS 1.1).
pub fn version_rank(v: u16) -> u32 {
    match v {
        SSL2 => 1,
        DTLS10 | DTLS10_OPENSSL_PRE => u32::from(TLS11) * 2,
        DTLS12 => u32::from(TLS12) * 2,
        DTLS13 => u32::from(TLS13) * 2,
        SSL3..=TLS13 => u32::from(v) * 2,
        _ if is_tls13_draft(v) => u32::from(TLS13) * 2 - 1,
        _ => 0,
    }
}

/// IANA "TLS Supported Groups" names (RFC 8422 §5.1.1, RFC 7919, RFC 8446 §4.2.7,
/// draft-ietf-tls-ecdhe-mlkem, draft-tls-westerbaan-xyber768d00).
pub fn group_name(g: u16) -> Cow<'static, str> {
    let n = match g {
        1 => "sect163k1",
        2 => "sect163r1",
        3 => "sect163r2",
        4 => "sect193r1",
        5 => "sect193r2",
        6 => "sect233k1",
        7 => "sect233r1",
        8 => "sect239k1",
        9 => "sect283k1",
        10 => "sect283r1",
        11 => "sect409k1",
        12 => "sect409r1",
        13 => "sect571k1",
        14 => "sect571r1",
        15 => "secp160k1",
        16 => "secp160r1",
        17 => "secp160r2",
        18 => "secp192k1",
        19 => "secp192r1",
        20 => "secp224k1",
        21 => "secp224r1",
        22 => "secp256k1",
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        26 => "brainpoolP256r1",
        27 => "brainpoolP384r1",
        28 => "brainpoolP512r1",
        29 => "x25519",
        30 => "x448",
        31 => "brainpoolP256r1tls13",
        32 => "brainpoolP384r1tls13",
        33 => "brainpoolP512r1tls13",
        34 => "GC256A",
        35 => "GC256B",
        36 => "GC256C",
        37 => "GC256D",
        38 => "GC512A",
        39 => "GC512B",
        40 => "GC512C",
        41 => "curveSM2",
        0x0100 => "ffdhe2048",
        0x0101 => "ffdhe3072",
        0x0102 => "ffdhe4096",
        0x0103 => "ffdhe6144",
        0x0104 => "ffdhe8192",
        0x0200 => "MLKEM512",
        0x0201 => "MLKEM768",
        0x0202 => "MLKEM1024",
        0x11eb => "SecP256r1MLKEM768",
        0x11ec => "X25519MLKEM768",
        0x11ed => "SecP384r1MLKEM1024",
        0x6399 => "X25519Kyber768Draft00",
        0x639a => "SecP256r1Kyber768Draft00",
        0xff01 => "arbitrary_explicit_prime_curves",
        0xff02 => "arbitrary_explicit_char2_curves",
        _ => return Cow::Owned(format!("0x{g:04X}")),
    };
    Cow::Borrowed(n)
}

/// Whether the group is a hybrid or pure post-quantum KEM.
pub fn group_is_post_quantum(g: u16) -> bool {
    matches!(g, 0x0200..=0x0202 | 0x11eb..=0x11ed | 0x6399 | 0x639a)
}

/// Alert descriptions (RFC 8446 §6, RFC 5246 §7.2, RFC 7507, RFC 7301, ECH draft).
pub fn alert_name(d: u8) -> String {
    let n = match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => return format!("unknown_{d}"),
    };
    n.to_owned()
}

/// Alert levels (RFC 5246 §7.2).
pub const ALERT_WARNING: u8 = 1;
pub const ALERT_FATAL: u8 = 2;
/// inappropriate_fallback (RFC 7507 §2).
pub const ALERT_INAPPROPRIATE_FALLBACK: u8 = 86;
pub const ALERT_CLOSE_NOTIFY: u8 = 0;
pub const ALERT_USER_CANCELED: u8 = 90;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(version_name(0x0303), Some("TLS 1.2"));
        assert_eq!(version_name(0x0002), Some("SSL 2.0"));
        assert_eq!(version_name(0x7f17), None);
        assert_eq!(version_label(0x7f17), "TLS 1.3 draft 23");
        assert!(version_rank(0x7f17) > version_rank(TLS12));
        assert!(version_rank(0x0a0a) < version_rank(SSL2));
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0x6399), "X25519Kyber768Draft00");
        assert_eq!(group_name(29), "x25519");
        assert_eq!(group_name(0x1a1a), "0x1A1A");
        assert_eq!(alert_name(40), "handshake_failure");
        assert_eq!(alert_name(86), "inappropriate_fallback");
        assert_eq!(alert_name(200), "unknown_200");
        assert!(is_tls13_family(0x7f1c) && is_tls13_family(0xfb1a) && !is_tls13_family(TLS12));
        assert!(is_tls13_family(0x7e01));
        assert_eq!(version_label(0xfb1a), "TLS 1.3 variant 0xFB1A");
    }
}
