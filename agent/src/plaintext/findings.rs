//! Plaintext, STARTTLS and credential finding definitions.
//!
//! Severities here are for traffic between two internal addresses; the session
//! raises `plaintext.<protocol>` and `plaintext.credentials` one level when either
//! end is outside the policy's internal networks. `[severity]` in the
//! configuration overrides the final value.

use crate::detect::{FindingDef, Severity};

pub const CREDENTIALS: &str = "plaintext.credentials";
pub const STARTTLS_NOT_OFFERED: &str = "starttls.not_offered";
pub const STARTTLS_NOT_USED: &str = "starttls.not_used";
pub const STARTTLS_STRIPPED: &str = "starttls.stripped";
pub const STARTTLS_FAILED: &str = "starttls.failed";
pub const POSTGRES_SSL_REFUSED: &str = "postgres.ssl_refused";
pub const MYSQL_SSL_NOT_USED: &str = "mysql.ssl_not_used";
pub const KAFKA_SASL_PLAINTEXT: &str = "kafka.sasl_plaintext";

const fn plain(
    id: &'static str,
    severity: Severity,
    what: &'static str,
    fix: &'static str,
) -> FindingDef {
    FindingDef {
        id,
        severity,
        trigger: what,
        remediation: fix,
    }
}

pub static DEFS: &[FindingDef] = &[
    plain(
        "plaintext.http",
        Severity::Medium,
        "An HTTP/1.x request or response was seen in the clear.",
        "Serve HTTPS (or put the service behind a TLS-terminating proxy or mesh mTLS) and redirect or close port 80.",
    ),
    plain(
        "plaintext.http2",
        Severity::Medium,
        "Cleartext HTTP/2 (h2c prior-knowledge preface, Upgrade: h2c, or gRPC without TLS) was seen.",
        "Use HTTP/2 over TLS (h2) or gRPC with TLS credentials, or enable mesh mTLS.",
    ),
    plain(
        "plaintext.postgres",
        Severity::High,
        "A PostgreSQL session ran without TLS (startup message, queries and results in the clear).",
        "Set ssl=on on the server, hostssl-only rules in pg_hba.conf, and sslmode=verify-full on clients.",
    ),
    plain(
        "plaintext.mysql",
        Severity::High,
        "A MySQL/MariaDB session ran without TLS.",
        "Enable TLS on the server, set require_secure_transport=ON, and use ssl-mode=VERIFY_IDENTITY on clients.",
    ),
    plain(
        "plaintext.redis",
        Severity::High,
        "Redis RESP or inline commands were seen in the clear.",
        "Enable Redis TLS (tls-port, tls-cert-file) and disable the plaintext port (port 0).",
    ),
    plain(
        "plaintext.mongodb",
        Severity::High,
        "MongoDB wire-protocol messages (OP_MSG/OP_QUERY) were seen in the clear.",
        "Set net.tls.mode: requireTLS on mongod/mongos and tls=true in client connection strings.",
    ),
    plain(
        "plaintext.kafka",
        Severity::Medium,
        "Kafka protocol requests were seen on a PLAINTEXT or SASL_PLAINTEXT listener.",
        "Use SSL or SASL_SSL listeners and security.protocol=SASL_SSL (or SSL) on clients.",
    ),
    plain(
        "plaintext.amqp",
        Severity::Medium,
        "An AMQP 0-9-1 or 1.0 connection started without TLS.",
        "Use AMQPS (port 5671) with TLS on the broker and disable the plaintext listener.",
    ),
    plain(
        "plaintext.mqtt",
        Severity::Medium,
        "An MQTT CONNECT was seen in the clear.",
        "Use MQTT over TLS (port 8883) and disable the plaintext listener on 1883.",
    ),
    plain(
        "plaintext.ldap",
        Severity::High,
        "LDAP messages were seen in the clear (no StartTLS, not LDAPS).",
        "Use LDAPS (636) or require StartTLS before bind (e.g. ldap server integrity/signing requirements).",
    ),
    plain(
        "plaintext.smtp",
        Severity::Low,
        "An SMTP session ran in the clear (never upgraded with STARTTLS).",
        "Offer and require STARTTLS (or implicit TLS on 465 for submission); enable MTA-STS for relays.",
    ),
    plain(
        "plaintext.imap",
        Severity::Medium,
        "An IMAP session ran in the clear.",
        "Use IMAPS (993) or require STARTTLS before LOGIN (e.g. disable_plaintext_auth / LOGINDISABLED).",
    ),
    plain(
        "plaintext.pop3",
        Severity::Medium,
        "A POP3 session ran in the clear.",
        "Use POP3S (995) or require STLS before authentication.",
    ),
    plain(
        "plaintext.ftp",
        Severity::Medium,
        "An FTP control connection ran in the clear.",
        "Replace FTP with SFTP, or require FTPS (AUTH TLS) for control and data channels.",
    ),
    plain(
        "plaintext.telnet",
        Severity::High,
        "A Telnet session was seen (option negotiation or login prompt).",
        "Disable telnetd and use SSH.",
    ),
    plain(
        "plaintext.memcached",
        Severity::Medium,
        "Memcached text or binary protocol commands were seen in the clear.",
        "Enable memcached TLS (-Z with ssl_chain_cert/ssl_key) or restrict it to a local socket.",
    ),
    plain(
        "plaintext.dns",
        Severity::Info,
        "DNS messages were seen in the clear, over UDP or TCP (allowed by the default policy).",
        "If DNS privacy matters here, use DNS over TLS (853) or DNS over HTTPS.",
    ),
    plain(
        "plaintext.unknown",
        Severity::Low,
        "An unrecognised protocol carried mostly printable text in the clear.",
        "Identify the service and wrap it in TLS (or mesh mTLS); add an [[allow]] rule if it is acceptable.",
    ),
    plain(
        STARTTLS_NOT_OFFERED,
        Severity::Medium,
        "The server listed its capabilities (EHLO, CAPABILITY, CAPA, FEAT) without STARTTLS / STLS / AUTH TLS.",
        "Configure a certificate on the server and enable STARTTLS (and require it for authentication).",
    ),
    plain(
        STARTTLS_NOT_USED,
        Severity::Medium,
        "The server offered STARTTLS but the client went on in the clear.",
        "Configure the client to require STARTTLS (e.g. smtp_tls_security_level=encrypt, ssl=starttls-required).",
    ),
    plain(
        STARTTLS_STRIPPED,
        Severity::High,
        "The STARTTLS capability was mangled in transit (e.g. XXXXXXXA) or the upgrade command was refused (e.g. 454/502, NO, -ERR).",
        "Find the middlebox rewriting the session (SMTP/ESMTP inspection) and disable it; make clients require TLS.",
    ),
    plain(
        STARTTLS_FAILED,
        Severity::Medium,
        "The server accepted the upgrade but the bytes that followed were not a TLS record.",
        "Check the client and server TLS configuration; the session fell back to or stayed in the clear.",
    ),
    plain(
        POSTGRES_SSL_REFUSED,
        Severity::Medium,
        "The client asked for TLS (SSLRequest) and the PostgreSQL server answered 'N'.",
        "Enable ssl=on with a certificate on the server; use sslmode=require or verify-full on clients.",
    ),
    plain(
        MYSQL_SSL_NOT_USED,
        Severity::Medium,
        "The MySQL server offered TLS (CLIENT_SSL) but the client's handshake response did not request it.",
        "Use ssl-mode=REQUIRED or VERIFY_IDENTITY on clients and require_secure_transport=ON on the server.",
    ),
    plain(
        KAFKA_SASL_PLAINTEXT,
        Severity::High,
        "A Kafka SASL handshake ran over a cleartext connection (SASL_PLAINTEXT).",
        "Switch the listener and clients to SASL_SSL.",
    ),
    plain(
        CREDENTIALS,
        Severity::High,
        "A password or equivalent secret crossed the network in the clear (HTTP Basic/Digest/Bearer over HTTP/1.x or h2c, gRPC `authorization` metadata, FTP/POP3 PASS, IMAP LOGIN, SMTP AUTH, Telnet login, LDAP simple bind, PostgreSQL password, Redis AUTH, MQTT, MongoDB/Kafka/AMQP SASL PLAIN).",
        "Rotate the exposed credential, then enable TLS for this service before authenticating.",
    ),
];

/// Look up a plaintext finding definition by id.
pub fn def(id: &str) -> Option<&'static FindingDef> {
    DEFS.iter().find(|d| d.id == id)
}
