//! Plaintext recognition and findings on REAL bytes: the first bytes of flows
//! from the public corpus in tests/corpus/, extracted into
//! `tests/fixtures/plaintext/*.flow` by `make_fixtures.py` (which names the
//! capture and flow of each fixture; each file's first line repeats it).
//!
//! Captures used: ndpi http_auth, http2, kafka, mqtt, smtp, pop3, ftp, telnet,
//! memcached; zeek postgresql/{psql-aws-ssl-preferred, greenhouse-app,
//! psql-aws-ssl-disable, psql-login-fail, http-on-port-5432,
//! mysql-on-port-5432}, mysql/{encrypted, plain-amazon-rds, mysql},
//! redis/{auth, set}, ldap/{simpleauth, ldap-starttls, krb5-sign-seal-01,
//! sasl-ntlm}, tls/{smtp-starttls,
//! imap-starttls}, smtp.pcap, ftp/{ftp-auth-tls, ftp-password-pass-command,
//! bigtransfer}; arkime mongo, dns-tcp, ssh2; suricata-verify pop3-auth-01;
//! ja4 http2-with-cookies; arkime https-connect. `derived_*` fixtures are real flows with one
//! documented edit (see make_fixtures.py) for failures the corpus lacks.
//!
//! The corpus has no AMQP: `amqp*` fixtures come from a local capture against a
//! real RabbitMQ 3.10.8 (tests/fixtures/plaintext/captures/README.md), and
//! `kafka_sasl_plain` from a real librdkafka client (kcat) against a stub broker.
//! `mongodb_sasl_plain` is a real pymongo client against a stub server, and
//! `*_curl` are real curl clients against scripted stubs. `h2c_*`, `grpc_*`
//! and `postgres_cleartext` come from local captures (captures/README.md).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

#[path = "common/corpus.rs"]
mod corpus_path;

use plainsight::config::{Config, Policy};
use plainsight::flow::{Direction, FlowKey, Transport};
use plainsight::plaintext::Session;

struct Flow {
    port: u16,
    segments: Vec<(Direction, Vec<u8>)>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn load(name: &str) -> Flow {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plaintext")
        .join(format!("{name}.flow"));
    load_path(&path)
}

fn load_path(path: &std::path::Path) -> Flow {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut flow = Flow {
        port: 0,
        segments: Vec::new(),
    };
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (tag, rest) = line.split_once(' ').expect("tag");
        match tag {
            "port" => flow.port = rest.parse().expect("port"),
            "c" => flow.segments.push((Direction::ToServer, hex(rest))),
            "s" => flow.segments.push((Direction::ToClient, hex(rest))),
            other => panic!("bad line tag {other}"),
        }
    }
    flow
}

/// Feed the flow as the engine would: each time, the whole prefix of that direction.
fn run(name: &str) -> (Session, Flow) {
    let flow = load(name);
    (feed_all(&flow), flow)
}

fn feed_all(flow: &Flow) -> Session {
    let mut s = Session::new(flow.port);
    let mut bufs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for (dir, seg) in &flow.segments {
        let b = &mut bufs[dir.index()];
        b.extend_from_slice(seg);
        s.feed(*dir, b);
    }
    s
}

fn key(port: u16, external: bool) -> FlowKey {
    let server: SocketAddr = if external {
        format!("203.0.113.7:{port}")
    } else {
        format!("10.0.0.2:{port}")
    }
    .parse()
    .expect("addr");
    FlowKey {
        client: "10.0.0.1:40000".parse().expect("addr"),
        server,
        transport: Transport::Tcp,
    }
}

struct Expect {
    name: &'static str,
    protocol: Option<&'static str>,
    findings: &'static [&'static str],
    tls: bool,
    /// Strings (passwords from the capture) that must not appear in any output.
    secrets: &'static [&'static str],
}

const fn e(
    name: &'static str,
    protocol: Option<&'static str>,
    findings: &'static [&'static str],
    tls: bool,
    secrets: &'static [&'static str],
) -> Expect {
    Expect {
        name,
        protocol,
        findings,
        tls,
        secrets,
    }
}

const CASES: &[Expect] = &[
    e("http_connect_tls", Some("http"), &[], true, &[]),
    e(
        "h2c_upgrade_basic",
        Some("http2"),
        &["plaintext.http2", "plaintext.credentials"],
        false,
        &["H2cBasicPw", "aDJ1c2VyOkgyY0Jhc2ljUHc"],
    ),
    e(
        "h2c_prior_knowledge_curl",
        Some("http2"),
        &["plaintext.http2"],
        false,
        &[],
    ),
    e(
        "grpc_python_basic",
        Some("http2"),
        &["plaintext.http2", "plaintext.credentials"],
        false,
        &["GrpcRealPw4", "Z3JwY3VzZXI6R3JwY1JlYWxQdzQ"],
    ),
    e(
        "grpc_curl_h2c_basic",
        Some("http2"),
        &["plaintext.http2", "plaintext.credentials"],
        false,
        &["CurlGrpcPw5", "Y3VybHVzZXI6Q3VybEdycGNQdzU"],
    ),
    e(
        "postgres_cleartext",
        Some("postgres"),
        &[
            "plaintext.postgres",
            "postgres.ssl_refused",
            "plaintext.credentials",
        ],
        false,
        &["PgCleartextPw7"],
    ),
    e(
        "kafka_sasl_plain",
        Some("kafka"),
        &[
            "plaintext.kafka",
            "kafka.sasl_plaintext",
            "plaintext.credentials",
        ],
        false,
        &["KafkaRealPw9"],
    ),
    e(
        "mongodb_sasl_plain",
        Some("mongodb"),
        &["plaintext.mongodb", "plaintext.credentials"],
        false,
        &["MongoRealPw3"],
    ),
    e(
        "http_basic",
        Some("http"),
        &["plaintext.http", "plaintext.credentials"],
        false,
        &["fail2", "dGVzdDpmYWlsMg"],
    ),
    e(
        "http_on_5432",
        Some("http"),
        // Apache answers 200 with a page: content over plain HTTP.
        &["plaintext.http", "http.no_https_redirect"],
        false,
        &[],
    ),
    e("http2_h2c", Some("http2"), &["plaintext.http2"], false, &[]),
    e("tls_https", None, &[], false, &[]),
    e("postgres_ssl_accepted", Some("postgres"), &[], true, &[]),
    e(
        "postgres_ssl_refused_md5",
        Some("postgres"),
        &[
            "plaintext.postgres",
            "postgres.ssl_refused",
            "plaintext.credentials",
        ],
        false,
        &[
            "md57e45bd227c38f260985f33fc27745946",
            "7e45bd227c38f260985f33fc27745946",
        ],
    ),
    e(
        "postgres_nossl_md5",
        Some("postgres"),
        &["plaintext.postgres", "plaintext.credentials"],
        false,
        &["d47dfe4b3c0e9cbf539949db664f528b"],
    ),
    e(
        "postgres_scram",
        Some("postgres"),
        &["plaintext.postgres"],
        false,
        &[],
    ),
    e("mysql_ssl", Some("mysql"), &[], true, &[]),
    e(
        "mysql_ssl_not_used",
        Some("mysql"),
        &["plaintext.mysql", "mysql.ssl_not_used"],
        false,
        &[],
    ),
    e("mysql_old", Some("mysql"), &["plaintext.mysql"], false, &[]),
    e(
        "mysql_on_5432",
        Some("mysql"),
        &["plaintext.mysql", "mysql.ssl_not_used"],
        false,
        &[],
    ),
    e(
        "redis_auth",
        Some("redis"),
        &["plaintext.redis", "plaintext.credentials"],
        false,
        &["notapassword"],
    ),
    e("redis_set", Some("redis"), &["plaintext.redis"], false, &[]),
    e(
        "mongodb_query",
        Some("mongodb"),
        &["plaintext.mongodb"],
        false,
        &[],
    ),
    e(
        "kafka_apiversions",
        Some("kafka"),
        &["plaintext.kafka"],
        false,
        &[],
    ),
    e(
        "kafka_produce",
        Some("kafka"),
        &["plaintext.kafka"],
        false,
        &[],
    ),
    e(
        "mqtt_password",
        Some("mqtt"),
        &["plaintext.mqtt", "plaintext.credentials"],
        false,
        &[],
    ),
    e(
        "mqtt_311",
        Some("mqtt"),
        &["plaintext.mqtt", "plaintext.credentials"],
        false,
        &[],
    ),
    e(
        "ldap_simple",
        Some("ldap"),
        &["plaintext.ldap", "plaintext.credentials"],
        false,
        &["passwor8d1"],
    ),
    e("ldap_gss_sealed", Some("ldap"), &[], false, &[]),
    e(
        "ldap_ntlm_unsealed",
        Some("ldap"),
        &["plaintext.ldap"],
        false,
        &[],
    ),
    e("ldap_starttls", Some("ldap"), &[], true, &[]),
    e("smtp_starttls", Some("smtp"), &[], true, &[]),
    e(
        "smtp_not_used_login",
        Some("smtp"),
        &[
            "plaintext.smtp",
            "starttls.not_used",
            "plaintext.credentials",
        ],
        false,
        &["cHVuamFiQDEyMw", "punjab@123"],
    ),
    e(
        "smtp_not_offered",
        Some("smtp"),
        &["plaintext.smtp", "starttls.not_offered"],
        false,
        &[],
    ),
    e("smtp_helo", Some("smtp"), &["plaintext.smtp"], false, &[]),
    e("imap_starttls", Some("imap"), &[], true, &[]),
    e(
        "pop3_userpass",
        Some("pop3"),
        &["plaintext.pop3", "plaintext.credentials"],
        false,
        &["pippozzo"],
    ),
    e(
        "pop3_not_used_plain",
        Some("pop3"),
        &[
            "plaintext.pop3",
            "starttls.not_used",
            "plaintext.credentials",
        ],
        false,
        &[
            "napier",
            "AGRpZ2l0YWxpbnZlc3RpZ2F0b3JAbmV0d29ya3NpbXMuY29tAG5hcGllcg",
        ],
    ),
    e(
        "pop3_xoauth2",
        Some("pop3"),
        &[
            "plaintext.pop3",
            "starttls.not_offered",
            "plaintext.credentials",
        ],
        false,
        &["AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Bearer"],
    ),
    e("ftp_auth_tls", Some("ftp"), &[], true, &[]),
    e(
        "ftp_pass",
        Some("ftp"),
        &["plaintext.ftp", "plaintext.credentials"],
        false,
        &["qwerty"],
    ),
    e(
        "ftp_anonymous_feat",
        Some("ftp"),
        &["plaintext.ftp", "starttls.not_used"],
        false,
        &[],
    ),
    e(
        "ftp_data_listing",
        Some("unknown_text"),
        &["plaintext.unknown"],
        false,
        &[],
    ),
    e("ftp_data_binary", Some("unknown_binary"), &[], false, &[]),
    e(
        "telnet_login",
        Some("telnet"),
        &["plaintext.telnet", "plaintext.credentials"],
        false,
        &[],
    ),
    e(
        "memcached_stats",
        Some("memcached"),
        &["plaintext.memcached"],
        false,
        &[],
    ),
    e("dns_tcp", Some("dns"), &[], false, &[]),
    e("ssh", Some("ssh"), &[], false, &[]),
    e(
        "http_digest_curl",
        Some("http"),
        // 401, then 200 with the page after the Digest answer.
        &[
            "plaintext.http",
            "plaintext.credentials",
            "http.no_https_redirect",
        ],
        false,
        &["DigestRealPw5"],
    ),
    e(
        "smtp_auth_plain_curl",
        Some("smtp"),
        &[
            "plaintext.smtp",
            "starttls.not_offered",
            "plaintext.credentials",
        ],
        false,
        &["SmtpRealPw6", "AHNtdHB1c2VyAFNtdHBSZWFsUHc2"],
    ),
    e(
        "imap_authenticate_plain_curl",
        Some("imap"),
        &[
            "plaintext.imap",
            "starttls.not_offered",
            "plaintext.credentials",
        ],
        false,
        &["ImapRealPw8", "AGltYXB1c2VyAEltYXBSZWFsUHc4"],
    ),
    e(
        "imap_login_curl",
        Some("imap"),
        &[
            "plaintext.imap",
            "starttls.not_used",
            "plaintext.credentials",
        ],
        false,
        &["ImapLoginRealPw"],
    ),
    e(
        "amqp091_plain",
        Some("amqp"),
        &["plaintext.amqp", "plaintext.credentials"],
        false,
        &["AmqpRealPw42"],
    ),
    e(
        "amqp091_amqplain",
        Some("amqp"),
        &["plaintext.amqp", "plaintext.credentials"],
        false,
        &["AmqpRealPw42"],
    ),
    e(
        "amqp10_sasl_plain",
        Some("amqp"),
        &["plaintext.amqp", "plaintext.credentials"],
        false,
        &["AmqpRealPw42"],
    ),
    e(
        "derived_smtp_stripped_mangled",
        Some("smtp"),
        &[
            "plaintext.smtp",
            "starttls.stripped",
            "plaintext.credentials",
        ],
        false,
        &["punjab@123"],
    ),
    e(
        "derived_smtp_stripped_454",
        Some("smtp"),
        &["plaintext.smtp", "starttls.stripped"],
        false,
        &[],
    ),
    e(
        "derived_smtp_failed",
        Some("smtp"),
        &["plaintext.smtp", "starttls.failed"],
        true,
        &[],
    ),
    e(
        "derived_imap_stripped",
        Some("imap"),
        &["plaintext.imap", "starttls.stripped"],
        false,
        &[],
    ),
    e(
        "derived_imap_login",
        Some("imap"),
        &[
            "plaintext.imap",
            "starttls.not_used",
            "plaintext.credentials",
        ],
        false,
        &["Imap Secret"],
    ),
    e(
        "derived_pop3_not_offered",
        Some("pop3"),
        &[
            "plaintext.pop3",
            "starttls.not_offered",
            "plaintext.credentials",
        ],
        false,
        &[],
    ),
];

#[test]
fn corpus_flows_recognised_with_expected_findings() {
    let policy = Policy::default();
    let mut failures = Vec::new();
    for c in CASES {
        let (s, flow) = run(c.name);
        let got: BTreeSet<&str> = s
            .findings(&key(flow.port, false), &policy)
            .iter()
            .map(|f| f.id)
            .collect();
        let want: BTreeSet<&str> = c.findings.iter().copied().collect();
        if s.protocol() != c.protocol || got != want || s.tls_offsets().is_some() != c.tls {
            failures.push(format!(
                "{}: protocol {:?} (want {:?}), findings {:?} (want {:?}), tls {:?} (want {})\n  info {}",
                c.name,
                s.protocol(),
                c.protocol,
                got,
                want,
                s.tls_offsets(),
                c.tls,
                serde_json::to_string(s.info()).unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_secrets_never_reach_output() {
    // Even with user names allowed, no password (or its encoding) appears.
    let policy = Policy::default().with_report_usernames(true);
    for c in CASES {
        let (s, flow) = run(c.name);
        let findings = s.findings(&key(flow.port, true), &policy);
        let out = format!(
            "{}{}{:?}{:?}{:?}",
            serde_json::to_string(s.info()).expect("json"),
            serde_json::to_string(&findings).expect("json"),
            s.info(),
            findings,
            s
        );
        for secret in c.secrets {
            assert!(
                !out.contains(secret),
                "{}: secret {secret:?} leaked: {out}",
                c.name
            );
        }
    }
}

#[test]
fn corpus_usernames_only_with_policy() {
    let (s, flow) = run("pop3_userpass");
    let k = key(flow.port, false);
    let hidden = s.findings(&k, &Policy::default());
    let text = serde_json::to_string(&hidden).expect("json");
    assert!(!text.contains("cicciopernacchio"), "{text}");
    let shown = s.findings(&k, &Policy::default().with_report_usernames(true));
    let cred = shown
        .iter()
        .find(|f| f.id == "plaintext.credentials")
        .expect("cred");
    assert_eq!(
        cred.evidence_text("user").as_deref(),
        Some("cicciopernacchio@mail.com")
    );
    assert_eq!(cred.evidence_text("mechanism").as_deref(), Some("pass"));
}

#[test]
fn corpus_credential_mechanisms_and_users() {
    let policy = Policy::default().with_report_usernames(true);
    let cases = [
        ("http_basic", "basic", Some("test")),
        ("postgres_nossl_md5", "md5", Some("zeek")),
        ("postgres_cleartext", "cleartext", Some("pguser")),
        ("h2c_upgrade_basic", "basic", Some("h2user")),
        ("grpc_python_basic", "basic", Some("grpcuser")),
        ("grpc_curl_h2c_basic", "basic", Some("curluser")),
        ("kafka_sasl_plain", "sasl_plain", Some("kuser")),
        ("mongodb_sasl_plain", "sasl_plain", Some("mongouser")),
        ("http_digest_curl", "digest", Some("digestuser")),
        ("smtp_auth_plain_curl", "plain", Some("smtpuser")),
        ("imap_authenticate_plain_curl", "plain", Some("imapuser")),
        ("imap_login_curl", "login", Some("imaplogin")),
        ("redis_auth", "auth", Some("notauser")),
        ("mqtt_password", "connect_password", Some("02D5050223D3")),
        (
            "ldap_simple",
            "simple",
            Some("xxxxxxxxxxx@xx.xxx.xxxxx.net"),
        ),
        (
            "smtp_not_used_login",
            "login",
            Some("gurpartap@patriots.in"),
        ),
        (
            "pop3_not_used_plain",
            "plain",
            Some("digitalinvestigator@networksims.com"),
        ),
        ("pop3_xoauth2", "oauth_bearer", None),
        ("ftp_pass", "pass", Some("Admin")),
        ("telnet_login", "login", Some("fake")),
        ("amqp091_plain", "sasl_plain", Some("plainsight")),
        ("amqp091_amqplain", "amqplain", Some("plainsight")),
        ("amqp10_sasl_plain", "sasl_plain", Some("plainsight")),
    ];
    for (name, mech, user) in cases {
        let (s, flow) = run(name);
        let f = s.findings(&key(flow.port, false), &policy);
        let cred = f
            .iter()
            .find(|f| f.id == "plaintext.credentials")
            .unwrap_or_else(|| panic!("{name}: no credentials"));
        assert_eq!(
            cred.evidence_text("mechanism").as_deref(),
            Some(mech),
            "{name}"
        );
        assert_eq!(cred.evidence_text("user").as_deref(), user, "{name}");
    }
}

#[test]
fn corpus_h2c_header_blocks_are_decoded() {
    // HPACK-decoded facts from real encoders: nghttp2 (curl, Huffman-coded
    // values), an nDPI capture of a 5G SBI client (Huffman), grpc C-core via
    // python3-grpcio (literals, then dynamic-table indices on the second call).
    // (fixture, method, host, status, gRPC service)
    let cases = [
        (
            "h2c_prior_knowledge_curl",
            "GET",
            "127.0.0.1:18080",
            "200",
            None,
        ),
        ("http2_h2c", "POST", "127.0.0.1:29518", "201", None),
        (
            "grpc_python_basic",
            "POST",
            "127.0.0.1:50151",
            "200",
            Some("lab.Echo"),
        ),
        (
            "grpc_curl_h2c_basic",
            "POST",
            "127.0.0.1:50151",
            "200",
            Some("lab.Echo"),
        ),
    ];
    for (name, method, host, status, service) in cases {
        let (s, _) = run(name);
        let info = s.info();
        let attr = |k: &str| info.attrs.get(k).map(String::as_str);
        assert_eq!(info.verbs, vec![method], "{name}");
        assert_eq!(attr("host"), Some(host), "{name}");
        assert_eq!(attr("status"), Some(status), "{name}");
        assert_eq!(attr("grpc_service"), service, "{name}");
        assert_eq!(attr("grpc"), service.map(|_| "true"), "{name}");
        assert!(s.done(), "{name}");
    }
    let (s, _) = run("h2c_prior_knowledge_curl");
    assert_eq!(
        s.info().attrs.get("server").map(String::as_str),
        Some("nghttpd nghttp2/1.52.0")
    );
    // The h2c upgrade keeps its HTTP/1.1 request facts. (This capture ends with the
    // server's SETTINGS, sent without a 101: nothing after the switch to decode;
    // plaintext::tests has a full exchange.)
    let (s, _) = run("h2c_upgrade_basic");
    assert_eq!(s.info().verbs, vec!["GET"]);
    assert_eq!(
        s.info().attrs.get("host").map(String::as_str),
        Some("127.0.0.1:18080")
    );
}

#[test]
fn corpus_external_traffic_is_one_level_higher() {
    let (s, flow) = run("redis_set");
    let policy = Policy::default();
    let internal = s.findings(&key(flow.port, false), &policy);
    let external = s.findings(&key(flow.port, true), &policy);
    let sev = |v: &[plainsight::detect::Finding]| {
        v.iter()
            .find(|f| f.id == "plaintext.redis")
            .map(|f| f.severity)
    };
    assert_eq!(sev(&internal), Some(plainsight::detect::Severity::High));
    assert_eq!(sev(&external), Some(plainsight::detect::Severity::Critical));
}

#[test]
fn corpus_dns_reported_when_not_allowed() {
    let (s, flow) = run("dns_tcp");
    let cfg = Config::parse("[[allow]]\nprotocol = \"http\"\nport = 8080\n").expect("cfg");
    let ids: Vec<&str> = s
        .findings(&key(flow.port, false), &cfg.policy())
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, vec!["plaintext.dns"]);
}

#[test]
fn corpus_flows_are_direction_order_independent() {
    // Feed all client bytes first, then all server bytes (and the reverse):
    // recognition and findings must not depend on interleaving, except for
    // Telnet and PostgreSQL whose prompts/answers are matched in packet order,
    // and POP3, whose missing greeting (capture started late) is detected by order.
    let policy = Policy::default();
    for c in CASES {
        if c.name.starts_with("telnet") || c.name.starts_with("postgres") || c.name.contains("pop3")
        {
            continue;
        }
        let flow = load(c.name);
        for order in [
            [Direction::ToServer, Direction::ToClient],
            [Direction::ToClient, Direction::ToServer],
        ] {
            let mut s = Session::new(flow.port);
            for dir in order {
                let mut buf = Vec::new();
                for (d, seg) in &flow.segments {
                    if *d == dir {
                        buf.extend_from_slice(seg);
                        s.feed(dir, &buf);
                    }
                }
            }
            // A second pass feeds the other direction again, as later packets would.
            for dir in order {
                let buf: Vec<u8> = flow
                    .segments
                    .iter()
                    .filter(|(d, _)| *d == dir)
                    .flat_map(|(_, b)| b.iter().copied())
                    .collect();
                if !buf.is_empty() {
                    s.feed(dir, &buf);
                }
            }
            let got: BTreeSet<&str> = s
                .findings(&key(flow.port, false), &policy)
                .iter()
                .map(|f| f.id)
                .collect();
            let want: BTreeSet<&str> = c.findings.iter().copied().collect();
            assert_eq!(s.protocol(), c.protocol, "{} {:?}", c.name, order);
            assert_eq!(got, want, "{} {:?}", c.name, order);
        }
    }
}

#[test]
fn corpus_recognition_does_not_need_the_port() {
    // Same bytes, port hint removed (0) or misleading (5432): same protocol.
    // Only weak matches may use the port: a bare `220 ready` greeting or
    // `QUIT`-only flows. None of the fixtures below is that ambiguous.
    for c in CASES {
        let flow = load(c.name);
        for port in [0u16, 5432, 443] {
            let moved = Flow {
                port,
                segments: flow.segments.clone(),
            };
            let s = feed_all(&moved);
            assert_eq!(s.protocol(), c.protocol, "{} on port {port}", c.name);
        }
    }
}

#[test]
fn corpus_refeeding_a_prefix_changes_nothing() {
    // The engine may hand the same prefix again; and a byte-at-a-time feed of
    // the same bytes must give the same verdict.
    let policy = Policy::default().with_report_usernames(true);
    for c in CASES {
        let flow = load(c.name);
        let once = feed_all(&flow);
        let mut twice = Session::new(flow.port);
        let mut bytewise = Session::new(flow.port);
        let mut bufs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        for (dir, seg) in &flow.segments {
            let b = &mut bufs[dir.index()];
            for &byte in seg.iter().take(2048) {
                b.push(byte);
                bytewise.feed(*dir, b);
            }
            b.extend_from_slice(seg.get(2048..).unwrap_or(&[]));
            bytewise.feed(*dir, b);
            twice.feed(*dir, b);
            twice.feed(*dir, b);
        }
        let k = key(flow.port, false);
        assert_eq!(
            twice.findings(&k, &policy),
            once.findings(&k, &policy),
            "{} twice",
            c.name
        );
        assert_eq!(twice.info(), once.info(), "{} twice", c.name);
        assert_eq!(bytewise.protocol(), once.protocol(), "{} bytewise", c.name);
        assert_eq!(
            bytewise.findings(&k, &policy),
            once.findings(&k, &policy),
            "{} bytewise",
            c.name
        );
    }
}

/// Every TCP flow of the corpus as `.flow` files: `PLAINSIGHT_FLOW_DIR` when set, else
/// extracted afresh by `extract.py dumpall` (standard-library Python, a few seconds).
fn corpus_flows() -> Vec<PathBuf> {
    let dir = match std::env::var_os("PLAINSIGHT_FLOW_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let corpus = corpus_path::corpus_root();
            assert!(
                corpus.join("INDEX.tsv").is_file(),
                "corpus not found at {} (set PLAINSIGHT_CORPUS)",
                corpus.display()
            );
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("corpus-flows");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("flow dir");
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/plaintext/extract.py");
            let out = std::process::Command::new("python3")
                .arg(&script)
                .arg("dumpall")
                .arg(&corpus)
                .arg(&dir)
                .output()
                .expect("run python3 extract.py dumpall");
            assert!(
                out.status.success(),
                "extract.py dumpall failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            dir
        }
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    paths.sort();
    assert!(
        paths.len() > 1000,
        "only {} flows in {}",
        paths.len(),
        dir.display()
    );
    paths
}

/// Every TCP flow of the corpus, fed whole and then byte by byte (the first 1024 bytes of
/// each segment), gives the same protocol and findings, and nothing panics. With
/// `--nocapture` it also prints one TSV line per flow (file, port, protocol, findings),
/// the raw material for accuracy work.
#[test]
fn every_corpus_flow_gives_one_verdict_however_it_is_fed() {
    let policy = Policy::default();
    let mut bad = Vec::new();
    for p in corpus_flows() {
        let flow = load_path(&p);
        let once = feed_all(&flow);
        let mut bytewise = Session::new(flow.port);
        let mut bufs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        for (d, seg) in &flow.segments {
            let b = &mut bufs[d.index()];
            for &byte in seg.iter().take(1024) {
                b.push(byte);
                bytewise.feed(*d, b);
            }
            b.extend_from_slice(seg.get(1024..).unwrap_or(&[]));
            bytewise.feed(*d, b);
        }
        let k = key(flow.port, false);
        let a: Vec<&str> = once.findings(&k, &policy).iter().map(|f| f.id).collect();
        println!(
            "{}\t{}\t{}\t{}",
            p.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default(),
            flow.port,
            once.protocol().unwrap_or("-"),
            a.join(",")
        );
        let b: Vec<&str> = bytewise
            .findings(&k, &policy)
            .iter()
            .map(|f| f.id)
            .collect();
        if once.protocol() != bytewise.protocol() || a != b {
            bad.push(format!(
                "{}: {:?} {a:?} vs bytewise {:?} {b:?}",
                p.display(),
                once.protocol(),
                bytewise.protocol()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
