//! Unit tests for the plaintext recognisers: one byte fixture per protocol and
//! mechanism, the secret-never-leaks property for every credential mechanism,
//! and a fuzz-ish robustness test. Real captures are in `tests/plaintext_corpus.rs`.

use super::*;
use crate::config::Config;
use crate::flow::Transport;

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

/// Feed segments in order, each time with the whole prefix of that direction.
fn run(port: u16, segs: &[(Direction, &[u8])]) -> Session {
    let mut s = Session::new(port);
    let mut bufs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for (d, seg) in segs {
        let Some(b) = bufs.get_mut(d.index()) else {
            continue;
        };
        b.extend_from_slice(seg);
        s.feed(*d, b);
    }
    s
}

fn key(port: u16, external: bool) -> FlowKey {
    let server = if external { "198.51.100.9" } else { "10.1.2.3" };
    FlowKey {
        client: "10.9.8.7:50000".parse().expect("addr"),
        server: format!("{server}:{port}").parse().expect("addr"),
        transport: Transport::Tcp,
    }
}

fn ids(s: &Session) -> Vec<&'static str> {
    let mut v: Vec<_> = s
        .findings(&key(1, false), &Policy::default())
        .iter()
        .map(|f| f.id)
        .collect();
    v.sort_unstable();
    v
}

fn cred(s: &Session) -> Option<Finding> {
    s.findings(
        &key(1, false),
        &Policy::default().with_report_usernames(true),
    )
    .into_iter()
    .find(|f| f.id == findings::CREDENTIALS)
}

/// Serialise everything the session can output (JSON and Debug, with user
/// names allowed) and check that `secret` appears nowhere.
fn assert_secret_absent(s: &Session, secret: &str) {
    let policy = Policy::default().with_report_usernames(true);
    let fs = s.findings(&key(1, true), &policy);
    let out = format!(
        "{}\n{}\n{:?}\n{:?}\n{:?}",
        serde_json::to_string(s.info()).expect("json"),
        serde_json::to_string(&fs).expect("json"),
        s.info(),
        fs,
        s
    );
    assert!(!out.contains(secret), "secret {secret:?} leaked:\n{out}");
}

/// A credential finding with this mechanism and user, and the secret nowhere.
fn check_cred(s: &Session, mechanism: &str, user: Option<&str>, secret: &str) {
    let f = cred(s).unwrap_or_else(|| panic!("no credential finding: {:?}", s.info()));
    assert_eq!(f.evidence_text("mechanism").as_deref(), Some(mechanism));
    assert_eq!(f.evidence_text("user").as_deref(), user);
    assert_secret_absent(s, secret);
    // Without report_usernames, no user either.
    let hidden = s.findings(&key(1, false), &Policy::default());
    assert!(hidden.iter().all(|f| !f.evidence.contains_key("user")));
}

fn b64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------- HTTP

#[test]
fn http_request_response() {
    let s = run(
        8081,
        &[
            (C, b"GET /x HTTP/1.1\r\nHost: api.internal\r\n\r\n"),
            (
                S,
                b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\n\r\nhi",
            ),
        ],
    );
    assert_eq!(s.protocol(), Some("http"));
    // A 200 with a body: content served in the clear.
    assert_eq!(ids(&s), vec!["http.no_https_redirect", "plaintext.http"]);
    assert_eq!(
        s.info().attrs.get("host").map(String::as_str),
        Some("api.internal")
    );
    assert_eq!(s.info().version.as_deref(), Some("HTTP/1.1"));
}

fn finding(s: &Session, id: &str) -> Option<Finding> {
    s.findings(&key(80, false), &Policy::default())
        .into_iter()
        .find(|f| f.id == id)
}

#[test]
fn http_redirect_only_is_low_and_raises_no_content_finding() {
    let s = run(
        80,
        &[
            (C, b"GET / HTTP/1.1\r\nHost: web\r\n\r\n"),
            (
                S,
                b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://web/\r\nContent-Length: 5\r\n\r\nmoved",
            ),
        ],
    );
    assert_eq!(ids(&s), vec!["plaintext.http"]);
    let f = finding(&s, "plaintext.http").expect("plaintext.http");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.evidence_text("redirect").as_deref(), Some("https"));
    // Leaving the internal networks does not raise it back.
    let ext = s.findings(&key(80, true), &Policy::default());
    assert!(ext.iter().all(|f| f.severity == Severity::Low), "{ext:?}");
}

#[test]
fn http_redirect_to_http_or_relative_is_not_an_https_redirect() {
    for loc in [&b"http://web/"[..], b"/login", b"HTTPS://"] {
        let mut resp = b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: ".to_vec();
        resp.extend_from_slice(loc);
        resp.extend_from_slice(b"\r\n\r\n");
        let s = run(80, &[(C, b"GET / HTTP/1.1\r\n\r\n"), (S, &resp)]);
        let f = finding(&s, "plaintext.http").expect("plaintext.http");
        assert_eq!(f.severity, Severity::Medium, "{loc:?}");
        assert!(f.evidence_text("redirect").is_none());
        assert!(finding(&s, "http.no_https_redirect").is_none(), "{loc:?}");
    }
}

#[test]
fn http_keep_alive_with_redirect_and_content_raises_the_content_finding() {
    let s = run(
        80,
        &[
            (C, b"GET / HTTP/1.1\r\n\r\nGET /page HTTP/1.1\r\n\r\n"),
            (
                S,
                b"HTTP/1.1 301 Moved\r\nLocation: https://web/\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            ),
        ],
    );
    let f = finding(&s, "http.no_https_redirect").expect("content finding");
    assert_eq!(f.evidence_text("status").as_deref(), Some("200"));
    assert_eq!(f.evidence_text("redirect").as_deref(), Some("https"));
    let p = finding(&s, "plaintext.http").expect("plaintext.http");
    assert_eq!(p.severity, Severity::Medium);
}

#[test]
fn http_bodiless_answers_are_not_content() {
    // HEAD's 200 (with the length of the body it would have), a 204 and a 200 with
    // Content-Length: 0 carry nothing.
    let s = run(
        80,
        &[
            (C, b"HEAD / HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
            (
                S,
                b"HTTP/1.1 200 OK\r\nContent-Length: 612\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            ),
        ],
    );
    assert!(finding(&s, "http.no_https_redirect").is_none());
    // A 200 without Content-Length or chunking runs until close: content.
    let s = run(
        80,
        &[
            (C, b"GET / HTTP/1.0\r\n\r\n"),
            (S, b"HTTP/1.0 200 OK\r\n\r\n<html>"),
        ],
    );
    assert!(finding(&s, "http.no_https_redirect").is_some());
}

#[test]
fn http_basic_credentials() {
    let auth = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic {}\r\n\r\n",
        b64(b"alice:S3cretPw!")
    );
    let s = run(80, &[(C, auth.as_bytes())]);
    check_cred(&s, "basic", Some("alice"), "S3cretPw!");
    assert_secret_absent(&s, &b64(b"alice:S3cretPw!"));
}

#[test]
fn http_digest_credentials() {
    let req = b"GET /d HTTP/1.1\r\nAuthorization: Digest username=\"bob\", realm=\"r\", nonce=\"n\", uri=\"/d\", response=\"6629fae49393a05397450978507c4ef1\"\r\n\r\n";
    let s = run(80, &[(C, req)]);
    check_cred(
        &s,
        "digest",
        Some("bob"),
        "6629fae49393a05397450978507c4ef1",
    );
}

#[test]
fn http_bearer_and_proxy_auth() {
    let req =
        b"GET / HTTP/1.1\r\nProxy-Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.TOKENSECRET\r\n\r\n";
    let s = run(3128, &[(C, req)]);
    check_cred(&s, "bearer", None, "TOKENSECRET");
}

#[test]
fn http_response_first_and_split() {
    let s = run(0, &[(S, b"HTTP/1."), (S, b"0 200 OK\r\n\r\n")]);
    assert_eq!(s.protocol(), Some("http"));
}

// ---------------------------------------------------------------- HTTP/2

/// One HTTP/2 frame (RFC 9113 §4.1).
fn h2_frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().to_be_bytes();
    let mut f = vec![len[5], len[6], len[7], ty, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// Client bytes: preface, empty SETTINGS, then one HEADERS frame (END_HEADERS)
/// per block, on streams 1, 3, 5…
fn h2_client(blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut c = http2::PREFACE.to_vec();
    c.extend_from_slice(H2_SETTINGS);
    for (n, b) in blocks.iter().enumerate() {
        c.extend_from_slice(&h2_frame(1, 0x4, 1 + 2 * n as u32, b));
    }
    c
}

/// Server bytes: SETTINGS, then a HEADERS block per status on streams 1, 3…
fn h2_server(statuses: &[Vec<u8>]) -> Vec<u8> {
    let mut s = H2_SETTINGS.to_vec();
    for (n, b) in statuses.iter().enumerate() {
        s.extend_from_slice(&h2_frame(1, 0x4, 1 + 2 * n as u32, b));
    }
    s
}

/// `:method POST`, `:scheme http`, `:path` and `:authority` Huffman-coded
/// (literal with incremental indexing, as grpc-go and nghttp2 send them).
fn h2_post(path: &str, authority: &str) -> Vec<u8> {
    let mut b = vec![0x83, 0x86];
    b.extend(hpack::encode::literal(0x40, 4, path.as_bytes(), true));
    b.extend(hpack::encode::literal(0x40, 1, authority.as_bytes(), true));
    b
}

fn attr<'a>(s: &'a Session, k: &str) -> Option<&'a str> {
    s.info().attrs.get(k).map(String::as_str)
}

#[test]
fn http2_prior_knowledge_and_grpc() {
    // The content type is a plain (not Huffman-coded) literal.
    let hdr = b"\x83\x86\x5f\x10application/grpc".to_vec();
    let c = h2_client(&[hdr]);
    let s = run(50051, &[(C, &c), (S, H2_SETTINGS)]);
    assert_eq!(s.protocol(), Some("http2"));
    assert_eq!(attr(&s, "grpc"), Some("true"));
    assert_eq!(s.info().verbs, vec!["POST"]);
    assert_eq!(ids(&s), vec!["plaintext.http2"]);
    // No answer yet: credentials could still follow a 401.
    assert!(!s.done());
    let s = run(50051, &[(C, &c), (S, &h2_server(&[vec![0x88]]))]);
    assert_eq!(attr(&s, "status"), Some("200"));
    assert!(s.done());
}

#[test]
fn http2_grpc_huffman_coded_content_type() {
    let mut b = h2_post("/lab.Echo/Say", "127.0.0.1:50051");
    // content-type (static 31) Huffman-coded, then te: trailers.
    b.extend(hpack::encode::literal(0x40, 31, b"application/grpc", true));
    b.push(0x40);
    b.extend(hpack::encode::string(b"te", true));
    b.extend(hpack::encode::string(b"trailers", true));
    // The literal bytes are nowhere in the block: only decoding finds them.
    assert!(!b.windows(16).any(|w| w == b"application/grpc"));
    let c = h2_client(&[b]);
    let s = run(50051, &[(C, &c), (S, &h2_server(&[vec![0x88]]))]);
    assert_eq!(s.protocol(), Some("http2"));
    assert_eq!(attr(&s, "grpc"), Some("true"));
    assert_eq!(attr(&s, "grpc_service"), Some("lab.Echo"));
    assert_eq!(attr(&s, "host"), Some("127.0.0.1:50051"));
    assert_eq!(s.info().verbs, vec!["POST"]);
    assert_eq!(ids(&s), vec!["plaintext.http2"]);
}

#[test]
fn http2_grpc_second_call_uses_the_dynamic_table() {
    // The first request is not gRPC (JSON) but enters its path and authority
    // in the client's table; the second is gRPC and names the path only by
    // dynamic index (62.. : newest first). The service is known only if the
    // table was kept from one block to the next.
    let mut first = h2_post("/lab.Echo/Say", "svc:50051");
    first.extend(hpack::encode::literal(0x40, 31, b"application/json", true));
    let s = run(50051, &[(C, &h2_client(std::slice::from_ref(&first)))]);
    assert_eq!(attr(&s, "grpc"), None);
    // Table now: 62 content-type, 63 :authority, 64 :path.
    let mut second = vec![0x83, 0x86, 0x80 | 64, 0x80 | 63];
    second.extend(hpack::encode::literal(0x00, 31, b"application/grpc", true));
    let c = h2_client(&[first, second]);
    let s = run(50051, &[(C, &c)]);
    assert_eq!(attr(&s, "grpc"), Some("true"));
    assert_eq!(attr(&s, "grpc_service"), Some("lab.Echo"));
    // A path that is not /Service/Method names no service.
    let mut b = h2_post("/lab.Echo", "svc");
    b.extend(hpack::encode::literal(0x40, 31, b"application/grpc", true));
    let s = run(50051, &[(C, &h2_client(&[b]))]);
    assert_eq!(attr(&s, "grpc"), Some("true"));
    assert_eq!(attr(&s, "grpc_service"), None);
}

#[test]
fn http2_basic_credentials_huffman_coded() {
    let token = b64(b"h2user:H2Secret!pw");
    let value = format!("Basic {token}");
    let mut b = vec![0x82, 0x86, 0x84];
    b.extend(hpack::encode::literal(0x40, 1, b"api.internal", true));
    // authorization (static 23), literal with incremental indexing, Huffman.
    b.extend(hpack::encode::literal(0x40, 23, value.as_bytes(), true));
    let c = h2_client(&[b]);
    let s = run(8080, &[(C, &c), (S, &h2_server(&[vec![0x88]]))]);
    assert_eq!(s.protocol(), Some("http2"));
    assert_eq!(attr(&s, "host"), Some("api.internal"));
    assert_eq!(s.info().verbs, vec!["GET"]);
    assert_eq!(s.info().credentials, vec!["basic"]);
    check_cred(&s, "basic", Some("h2user"), "H2Secret!pw");
    assert_secret_absent(&s, &token);
    assert_eq!(ids(&s), vec!["plaintext.credentials", "plaintext.http2"]);
    assert!(s.done());
}

#[test]
fn http2_bearer_and_proxy_authorization_never_indexed() {
    let mut b = vec![0x82, 0x86, 0x84];
    // proxy-authorization (static 49), literal never indexed (RFC 7541 §6.2.3).
    b.extend(hpack::encode::literal(
        0x10,
        49,
        b"Bearer eyJhbGciOiJIUzI1NiJ9.H2TOKENSECRET",
        true,
    ));
    let s = run(8080, &[(C, &h2_client(&[b]))]);
    check_cred(&s, "bearer", None, "H2TOKENSECRET");
}

#[test]
fn http2_digest_after_a_401_on_a_later_stream() {
    let first = vec![0x82, 0x86, 0x84];
    let digest = "Digest username=\"dora\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"0123456789abcdef0123456789abcdef\"";
    let mut second = vec![0x82, 0x86, 0x84];
    second.extend(hpack::encode::literal(0x00, 23, digest.as_bytes(), true));
    // 401 is not in the static table: literal :status.
    let unauthorized = hpack::encode::literal(0x00, 8, b"401", true);
    let c1 = h2_client(std::slice::from_ref(&first));
    let s = run(
        80,
        &[
            (C, &c1),
            (S, &h2_server(std::slice::from_ref(&unauthorized))),
        ],
    );
    assert_eq!(attr(&s, "status"), Some("401"));
    assert!(!s.done(), "a 401 keeps the flow open for the retry");
    let c2 = h2_client(&[first, second]);
    let s = run(
        80,
        &[
            (C, &c1),
            (S, &h2_server(&[unauthorized])),
            (C, &c2[c1.len()..]),
        ],
    );
    check_cred(
        &s,
        "digest",
        Some("dora"),
        "0123456789abcdef0123456789abcdef",
    );
    assert!(s.done());
}

#[test]
fn http2_headers_with_padding_priority_and_continuation() {
    let token = b64(b"cont:ContSecret9");
    let mut block = vec![0x82, 0x86, 0x84];
    block.extend(hpack::encode::literal(0x40, 1, b"split.example", true));
    block.extend(hpack::encode::literal(
        0x00,
        23,
        format!("Basic {token}").as_bytes(),
        true,
    ));
    // Split inside the Huffman-coded authorization value, then once more.
    let (a, rest) = block.split_at(block.len() - 9);
    let (b, c) = rest.split_at(4);
    // HEADERS with PADDED (3 octets of padding) and PRIORITY, no END_HEADERS.
    let mut p = vec![3];
    p.extend_from_slice(&[0x80, 0, 0, 0, 15]);
    p.extend_from_slice(a);
    p.extend_from_slice(&[0, 0, 0]);
    let mut cl = http2::PREFACE.to_vec();
    cl.extend_from_slice(H2_SETTINGS);
    cl.extend(h2_frame(1, 0x8 | 0x20, 1, &p));
    cl.extend(h2_frame(9, 0, 1, b));
    cl.extend(h2_frame(9, 0x4, 1, c));
    // Fed byte by byte: fragments wait for END_HEADERS across feeds.
    let mut s = Session::new(8080);
    for n in 1..=cl.len() {
        s.feed(C, &cl[..n]);
    }
    assert_eq!(attr(&s, "host"), Some("split.example"));
    check_cred(&s, "basic", Some("cont"), "ContSecret9");
    assert_secret_absent(&s, &token);
}

#[test]
fn http2_interleaved_frame_inside_a_header_block_stops_decoding() {
    // RFC 9113 §6.10: after HEADERS without END_HEADERS only CONTINUATION on
    // the same stream may follow. A DATA frame in between breaks the block:
    // nothing from it or after it is recorded.
    let mut block = vec![0x82, 0x86, 0x84];
    block.extend(hpack::encode::literal(
        0x00,
        23,
        format!("Basic {}", b64(b"x:y")).as_bytes(),
        true,
    ));
    let (a, b) = block.split_at(2);
    let mut cl = http2::PREFACE.to_vec();
    cl.extend_from_slice(H2_SETTINGS);
    cl.extend(h2_frame(1, 0, 1, a));
    cl.extend(h2_frame(0, 0, 1, b"data"));
    cl.extend(h2_frame(9, 0x4, 1, b));
    cl.extend(h2_frame(1, 0x4, 3, &block));
    let s = run(8080, &[(C, &cl)]);
    assert_eq!(s.protocol(), Some("http2"));
    assert!(s.info().credentials.is_empty(), "{:?}", s.info());
    assert!(s.info().verbs.is_empty());
}

#[test]
fn http2_decoding_error_stops_that_direction_only() {
    // First client block refers to dynamic index 70 of an empty table: error.
    // The next block (valid on its own) must not be decoded: the table is lost.
    let mut good = vec![0x82, 0x86, 0x84];
    good.extend(hpack::encode::literal(
        0x10,
        23,
        format!("Basic {}", b64(b"u:AfterErrorPw")).as_bytes(),
        true,
    ));
    let c = h2_client(&[vec![0x80 | 70], good]);
    let s = run(8080, &[(C, &c), (S, &h2_server(&[vec![0x88]]))]);
    assert_eq!(s.protocol(), Some("http2"));
    assert!(s.info().credentials.is_empty());
    assert_eq!(ids(&s), vec!["plaintext.http2"]);
    // The server direction is still decoded; the flow is settled.
    assert_eq!(attr(&s, "status"), Some("200"));
    assert!(s.done());
    assert_secret_absent(&s, "AfterErrorPw");
}

#[test]
fn http2_authority_userinfo_is_dropped() {
    let mut b = vec![0x82, 0x86, 0x84];
    b.extend(hpack::encode::literal(
        0x40,
        1,
        b"bob:UserinfoPw@db.internal",
        true,
    ));
    let s = run(8080, &[(C, &h2_client(&[b]))]);
    assert_eq!(attr(&s, "host"), Some("db.internal"));
    assert_secret_absent(&s, "UserinfoPw");
}

#[test]
fn http2_server_table_size_settings_are_honoured_and_capped() {
    // The client's SETTINGS_HEADER_TABLE_SIZE = 8192 lets the server's encoder
    // raise its table to 8192 (0x3f e1 3f); 70000 is above our cap whatever
    // the SETTINGS say.
    let mut c = http2::PREFACE.to_vec();
    c.extend(h2_frame(4, 0, 0, &[0, 1, 0, 0, 0x20, 0]));
    c.extend(h2_frame(1, 0x4, 1, &[0x82, 0x86, 0x84]));
    let mut big = vec![0x3f, 0xe1, 0x3f, 0x88];
    big.extend(hpack::encode::literal(0x40, 54, b"nghttpd", true));
    let s = run(8080, &[(C, &c), (S, &h2_server(&[big.clone()]))]);
    assert_eq!(attr(&s, "server"), Some("nghttpd"));
    assert_eq!(attr(&s, "status"), Some("200"));
    // Without the client's SETTINGS the same update is refused.
    let c0 = h2_client(&[vec![0x82, 0x86, 0x84]]);
    let s = run(8080, &[(C, &c0), (S, &h2_server(&[big]))]);
    assert_eq!(attr(&s, "server"), None);
    // 70000 with SETTINGS of 2^32-1: above the 64 KiB cap.
    let mut c = http2::PREFACE.to_vec();
    c.extend(h2_frame(4, 0, 0, &[0, 1, 0xff, 0xff, 0xff, 0xff]));
    let mut huge = hpack::encode::integer(0x20, 5, 70_000);
    huge.push(0x88);
    let s = run(8080, &[(C, &c), (S, &h2_server(&[huge]))]);
    assert_eq!(attr(&s, "status"), None);
}

/// The segments of a `.flow` fixture (format: tests/plaintext_corpus.rs).
fn flow_fixture(text: &str) -> Vec<(Direction, Vec<u8>)> {
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len() / 2)
            .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex"))
            .collect()
    };
    text.lines()
        .filter_map(|l| match l.split_once(' ') {
            Some(("c", h)) => Some((C, hex(h))),
            Some(("s", h)) => Some((S, hex(h))),
            _ => None,
        })
        .collect()
}

#[test]
fn http2_real_captures_decode_every_block_in_order() {
    // Real encoders: every header block of both directions decodes, including
    // grpc C-core's second call, which is mostly dynamic-table indices
    // (`c4 c3 83 86 c2 c1 c0`), and its server's `88 c0 bf` / `be` answers.
    let cases = [
        (
            include_str!("../../tests/fixtures/plaintext/grpc_python_basic.flow"),
            [(2, false), (4, false)],
        ),
        (
            include_str!("../../tests/fixtures/plaintext/grpc_curl_h2c_basic.flow"),
            [(1, false), (2, false)],
        ),
        (
            include_str!("../../tests/fixtures/plaintext/h2c_prior_knowledge_curl.flow"),
            [(1, false), (1, false)],
        ),
    ];
    for (text, want) in cases {
        for bytewise in [false, true] {
            let mut a = http2::Http2::default();
            let mut bufs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
            for (d, seg) in flow_fixture(text) {
                let b = &mut bufs[d.index()];
                if bytewise {
                    for &x in &seg {
                        b.push(x);
                        a.feed(d, b);
                    }
                } else {
                    b.extend_from_slice(&seg);
                    a.feed(d, b);
                }
            }
            assert_eq!(a.decoded(), want, "{}", text.lines().next().unwrap_or(""));
        }
    }
}

#[test]
fn http2_upgrade_h2c() {
    let s = run(
        80,
        &[
            (C, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"),
            (S, b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04"),
        ],
    );
    assert_eq!(s.protocol(), Some("http2"));
    assert_eq!(ids(&s), vec!["plaintext.http2"]);
}

#[test]
fn http2_requests_after_an_h2c_upgrade_are_decoded() {
    // RFC 7540 §3.2: the upgrade request is answered on stream 1 in HTTP/2; the client
    // then sends the preface and its next request, with credentials, on stream 3.
    let upgrade = b"GET / HTTP/1.1\r\nHost: api.lab\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    let token = b64(b"late:H2cAfterUpgradePw");
    let mut req = vec![0x82, 0x86, 0x84];
    req.extend(hpack::encode::literal(0x40, 1, b"api.lab", true));
    req.extend(hpack::encode::literal(
        0x40,
        23,
        format!("Basic {token}").as_bytes(),
        true,
    ));
    let mut c = upgrade.to_vec();
    c.extend_from_slice(http2::PREFACE);
    c.extend_from_slice(H2_SETTINGS);
    c.extend_from_slice(&h2_frame(1, 0x4, 3, &req));
    let mut srv =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec();
    srv.extend_from_slice(H2_SETTINGS);
    srv.extend_from_slice(&h2_frame(1, 0x4, 1, &[0x88])); // :status 200, stream 1
    srv.extend_from_slice(&h2_frame(1, 0x4, 3, &[0x88]));
    // Fed in the order the bytes travel: request, 101 and SETTINGS, preface and request.
    let split = upgrade.len();
    let s = run(80, &[(C, &c[..split]), (S, &srv), (C, &c[split..])]);
    assert_eq!(s.protocol(), Some("http2"));
    assert_eq!(attr(&s, "upgrade"), Some("h2c"));
    assert_eq!(
        attr(&s, "status"),
        Some("200"),
        "the HTTP/2 answer, not the 101"
    );
    check_cred(&s, "basic", Some("late"), "H2cAfterUpgradePw");
    assert_secret_absent(&s, &token);
    assert_eq!(ids(&s), vec!["plaintext.credentials", "plaintext.http2"]);
    assert!(s.done());
    // Before the client's HTTP/2 request the verdict is open: live capture goes on.
    let s = run(80, &[(C, &c[..split]), (S, &srv)]);
    assert!(!s.done());
}

// ---------------------------------------------------------------- PostgreSQL

fn pg_startup(user: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes());
    for (k, v) in [("user", user), ("database", "app")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut m = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&body);
    m
}

fn pg_typed(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

const SSL_REQUEST: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

#[test]
fn postgres_cleartext_password() {
    let s = run(
        6543,
        &[
            (C, &pg_startup("app_rw")),
            (S, &pg_typed(b'R', &3u32.to_be_bytes())),
            (C, &pg_typed(b'p', b"Hunter2Pg\0")),
            (S, &pg_typed(b'R', &0u32.to_be_bytes())),
        ],
    );
    assert_eq!(s.protocol(), Some("postgres"));
    assert_eq!(ids(&s), vec!["plaintext.credentials", "plaintext.postgres"]);
    check_cred(&s, "cleartext", Some("app_rw"), "Hunter2Pg");
    assert_eq!(
        s.info().attrs.get("database").map(String::as_str),
        Some("app")
    );
}

#[test]
fn postgres_md5_password() {
    let s = run(
        5432,
        &[
            (C, &pg_startup("u")),
            (S, &pg_typed(b'R', &[0, 0, 0, 5, 1, 2, 3, 4])),
            (C, &pg_typed(b'p', b"md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1\0")),
        ],
    );
    check_cred(&s, "md5", Some("u"), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1");
}

#[test]
fn postgres_ssl_accepted_sets_offsets() {
    let s = run(
        5432,
        &[
            (C, SSL_REQUEST),
            (S, b"S"),
            (C, b"\x16\x03\x01\x00\x05hello"),
        ],
    );
    assert_eq!(s.protocol(), Some("postgres"));
    assert_eq!(s.tls_offsets(), Some([8, 1]));
    assert!(ids(&s).is_empty());
    assert!(s.done());
}

#[test]
fn postgres_ssl_refused() {
    let s = run(5432, &[(C, SSL_REQUEST), (S, b"N"), (C, &pg_startup("x"))]);
    assert_eq!(ids(&s), vec!["plaintext.postgres", "postgres.ssl_refused"]);
}

#[test]
fn postgres_ssl_followed_by_cleartext_fails() {
    let mut c = SSL_REQUEST.to_vec();
    c.extend_from_slice(&pg_startup("x"));
    let s = run(5432, &[(C, SSL_REQUEST), (S, b"S"), (C, &c[8..])]);
    assert_eq!(ids(&s), vec!["plaintext.postgres", "starttls.failed"]);
}

#[test]
fn postgres_gssenc_is_encrypted() {
    let s = run(
        5432,
        &[(C, &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]), (S, b"G")],
    );
    assert_eq!(s.protocol(), Some("postgres"));
    assert!(s.info().encrypted);
    assert!(ids(&s).is_empty());
}

// ---------------------------------------------------------------- MySQL

fn my_packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let n = payload.len() as u32;
    let mut p = vec![
        (n & 0xff) as u8,
        ((n >> 8) & 0xff) as u8,
        (n >> 16) as u8,
        seq,
    ];
    p.extend_from_slice(payload);
    p
}

fn my_greeting(ssl: bool, plugin: &str) -> Vec<u8> {
    let mut g = vec![10];
    g.extend_from_slice(b"8.0.36\0");
    g.extend_from_slice(&[1, 0, 0, 0]);
    g.extend_from_slice(b"abcdefgh\0");
    let caps: u32 = 0x0008_8200 | 0x8000 | if ssl { 0x800 } else { 0 };
    g.extend_from_slice(&(caps as u16).to_le_bytes());
    g.extend_from_slice(&[0x21, 2, 0]);
    g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(b"ijklmnopqrst\0");
    g.extend_from_slice(plugin.as_bytes());
    g.push(0);
    my_packet(0, &g)
}

fn my_response(ssl: bool, user: &str, auth: &[u8], plugin: &str) -> Vec<u8> {
    let caps: u32 = 0x0008_8200 | if ssl { 0x800 } else { 0 };
    let mut r = caps.to_le_bytes().to_vec();
    r.extend_from_slice(&[0, 0, 0, 1, 0x21]);
    r.extend_from_slice(&[0; 23]);
    r.extend_from_slice(user.as_bytes());
    r.push(0);
    r.push(auth.len() as u8);
    r.extend_from_slice(auth);
    r.extend_from_slice(plugin.as_bytes());
    r.push(0);
    my_packet(1, &r)
}

#[test]
fn mysql_ssl_request_sets_offsets() {
    let greeting = my_greeting(true, "caching_sha2_password");
    let mut ssl = 0x0008_8a00u32.to_le_bytes().to_vec();
    ssl.extend_from_slice(&[0, 0, 0, 1, 0x21]);
    ssl.extend_from_slice(&[0; 23]);
    let s = run(
        3306,
        &[
            (S, &greeting),
            (C, &my_packet(1, &ssl)),
            (C, b"\x16\x03\x01\x00\x01x"),
        ],
    );
    assert_eq!(s.protocol(), Some("mysql"));
    assert_eq!(s.tls_offsets(), Some([36, greeting.len()]));
    assert!(ids(&s).is_empty());
}

#[test]
fn mysql_ssl_not_used() {
    let s = run(
        3306,
        &[
            (S, &my_greeting(true, "mysql_native_password")),
            (
                C,
                &my_response(false, "root", &[7; 20], "mysql_native_password"),
            ),
        ],
    );
    assert_eq!(ids(&s), vec!["mysql.ssl_not_used", "plaintext.mysql"]);
}

#[test]
fn mysql_clear_password_credentials() {
    let s = run(
        3306,
        &[
            (S, &my_greeting(false, "mysql_clear_password")),
            (
                C,
                &my_response(false, "svc", b"MyClearPw9\0", "mysql_clear_password"),
            ),
        ],
    );
    assert_eq!(ids(&s), vec!["plaintext.credentials", "plaintext.mysql"]);
    check_cred(&s, "mysql_clear_password", Some("svc"), "MyClearPw9");
}

// ---------------------------------------------------------------- Redis

#[test]
fn redis_resp_auth_user_password() {
    let s = run(
        7000,
        &[
            (
                C,
                b"*3\r\n$4\r\nAUTH\r\n$5\r\nadmin\r\n$11\r\nRedisPw_123\r\n",
            ),
            (S, b"+OK\r\n"),
        ],
    );
    assert_eq!(s.protocol(), Some("redis"));
    check_cred(&s, "auth", Some("admin"), "RedisPw_123");
}

#[test]
fn redis_inline_auth_password_only() {
    let s = run(6379, &[(C, b"AUTH InlinePw77\r\n")]);
    assert_eq!(s.protocol(), Some("redis"));
    check_cred(&s, "auth", None, "InlinePw77");
}

#[test]
fn redis_hello_auth() {
    let s = run(
        6379,
        &[(
            C,
            b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$9\r\nHelloPw42\r\n",
        )],
    );
    check_cred(&s, "hello_auth", Some("bob"), "HelloPw42");
    assert_eq!(s.info().version.as_deref(), Some("RESP3"));
}

// ---------------------------------------------------------------- MongoDB

fn bson(elems: &[(u8, &str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, k, v) in elems {
        body.push(*t);
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v);
    }
    body.push(0);
    let mut d = ((body.len() + 4) as i32).to_le_bytes().to_vec();
    d.extend_from_slice(&body);
    d
}

fn bson_string(s: &str) -> Vec<u8> {
    let mut v = ((s.len() + 1) as i32).to_le_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

fn op_msg(doc: &[u8]) -> Vec<u8> {
    let mut body = 0u32.to_le_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(doc);
    let mut m = ((body.len() + 16) as u32).to_le_bytes().to_vec();
    m.extend_from_slice(&7u32.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&2013u32.to_le_bytes());
    m.extend_from_slice(&body);
    m
}

#[test]
fn mongodb_op_msg_hello() {
    let doc = bson(&[
        (0x10, "hello", 1i32.to_le_bytes().to_vec()),
        (0x02, "$db", bson_string("admin")),
    ]);
    let s = run(27018, &[(C, &op_msg(&doc))]);
    assert_eq!(s.protocol(), Some("mongodb"));
    assert_eq!(s.info().verbs, vec!["hello".to_owned()]);
    assert_eq!(ids(&s), vec!["plaintext.mongodb"]);
}

#[test]
fn mongodb_sasl_plain_credentials() {
    let payload = b"\0ldapuser\0MongoPlainPw1";
    let mut bin = (payload.len() as i32).to_le_bytes().to_vec();
    bin.push(0);
    bin.extend_from_slice(payload);
    let doc = bson(&[
        (0x10, "saslStart", 1i32.to_le_bytes().to_vec()),
        (0x02, "mechanism", bson_string("PLAIN")),
        (0x05, "payload", bin),
        (0x02, "$db", bson_string("$external")),
    ]);
    let s = run(27017, &[(C, &op_msg(&doc))]);
    check_cred(&s, "sasl_plain", Some("ldapuser"), "MongoPlainPw1");
}

// ---------------------------------------------------------------- Kafka

fn kafka_req(key: u16, ver: u16, body: &[u8]) -> Vec<u8> {
    let mut f = key.to_be_bytes().to_vec();
    f.extend_from_slice(&ver.to_be_bytes());
    f.extend_from_slice(&1u32.to_be_bytes());
    f.extend_from_slice(&7u16.to_be_bytes());
    f.extend_from_slice(b"my-app1");
    f.extend_from_slice(body);
    let mut m = (f.len() as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&f);
    m
}

#[test]
fn kafka_api_versions() {
    let s = run(19092, &[(C, &kafka_req(18, 2, &[]))]);
    assert_eq!(s.protocol(), Some("kafka"));
    assert_eq!(ids(&s), vec!["plaintext.kafka"]);
    assert_eq!(
        s.info().attrs.get("client_id").map(String::as_str),
        Some("my-app1")
    );
}

#[test]
fn kafka_sasl_plain_over_plaintext() {
    let mut hs = 5u16.to_be_bytes().to_vec();
    hs.extend_from_slice(b"PLAIN");
    let token = b"\0kuser\0KafkaPw#9";
    let mut auth = (token.len() as u32).to_be_bytes().to_vec();
    auth.extend_from_slice(token);
    let mut c = kafka_req(17, 1, &hs);
    c.extend_from_slice(&kafka_req(36, 1, &auth));
    let s = run(9092, &[(C, &c)]);
    assert_eq!(
        ids(&s),
        vec![
            "kafka.sasl_plaintext",
            "plaintext.credentials",
            "plaintext.kafka"
        ]
    );
    check_cred(&s, "sasl_plain", Some("kuser"), "KafkaPw#9");
}

#[test]
fn kafka_sasl_handshake_v0_raw_token() {
    let mut hs = 5u16.to_be_bytes().to_vec();
    hs.extend_from_slice(b"PLAIN");
    let token = b"\0raw\0RawTokenPw";
    let mut c = kafka_req(17, 0, &hs);
    c.extend_from_slice(&(token.len() as u32).to_be_bytes());
    c.extend_from_slice(token);
    let s = run(9092, &[(C, &c)]);
    check_cred(&s, "sasl_plain", Some("raw"), "RawTokenPw");
}

#[test]
fn kafka_scram_is_sasl_plaintext_without_credentials() {
    let mut hs = 13u16.to_be_bytes().to_vec();
    hs.extend_from_slice(b"SCRAM-SHA-512");
    let s = run(9092, &[(C, &kafka_req(17, 1, &hs))]);
    assert_eq!(ids(&s), vec!["kafka.sasl_plaintext", "plaintext.kafka"]);
}

// ---------------------------------------------------------------- AMQP

fn amqp_method(class: u16, method: u16, args: &[u8]) -> Vec<u8> {
    let mut p = class.to_be_bytes().to_vec();
    p.extend_from_slice(&method.to_be_bytes());
    p.extend_from_slice(args);
    let mut f = vec![1, 0, 0];
    f.extend_from_slice(&(p.len() as u32).to_be_bytes());
    f.extend_from_slice(&p);
    f.push(0xce);
    f
}

fn longstr(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

fn amqp_start() -> Vec<u8> {
    let mut a = vec![0, 9];
    a.extend_from_slice(&longstr(b""));
    a.extend_from_slice(&longstr(b"PLAIN AMQPLAIN"));
    a.extend_from_slice(&longstr(b"en_US"));
    amqp_method(10, 10, &a)
}

fn amqp_start_ok(mech: &[u8], response: &[u8]) -> Vec<u8> {
    let mut a = longstr(b"");
    a.push(mech.len() as u8);
    a.extend_from_slice(mech);
    a.extend_from_slice(&longstr(response));
    a.extend_from_slice(b"\x05en_US");
    amqp_method(10, 11, &a)
}

#[test]
fn amqp091_plain_credentials() {
    let mut c = b"AMQP\x00\x00\x09\x01".to_vec();
    let s1 = run(5672, &[(C, &c)]);
    assert_eq!(s1.protocol(), Some("amqp"));
    assert_eq!(ids(&s1), vec!["plaintext.amqp"]);
    let start_ok = amqp_start_ok(b"PLAIN", b"\0guest\0AmqpPw!x");
    c.extend_from_slice(&start_ok);
    let s = run(
        5672,
        &[
            (C, b"AMQP\x00\x00\x09\x01"),
            (S, &amqp_start()),
            (C, &start_ok),
        ],
    );
    check_cred(&s, "sasl_plain", Some("guest"), "AmqpPw!x");
    assert_eq!(
        s.info().attrs.get("server_mechanisms").map(String::as_str),
        Some("PLAIN AMQPLAIN")
    );
}

#[test]
fn amqp091_amqplain_credentials() {
    let mut t = b"\x05LOGINS".to_vec();
    t.extend_from_slice(&longstr(b"rabbit"));
    t.extend_from_slice(b"\x08PASSWORDS");
    t.extend_from_slice(&longstr(b"AmqPlainPw5"));
    let s = run(
        5672,
        &[
            (C, b"AMQP\x00\x00\x09\x01"),
            (S, &amqp_start()),
            (C, &amqp_start_ok(b"AMQPLAIN", &t)),
        ],
    );
    check_cred(&s, "amqplain", Some("rabbit"), "AmqPlainPw5");
}

#[test]
fn amqp10_sasl_plain_credentials() {
    let resp = b"\0u10\0Amqp10Pw";
    let mut body = vec![0x00, 0x53, 0x41, 0xc0];
    let mut fields = vec![0xa3, 5];
    fields.extend_from_slice(b"PLAIN");
    fields.push(0xa0);
    fields.push(resp.len() as u8);
    fields.extend_from_slice(resp);
    body.push((fields.len() + 1) as u8);
    body.push(2);
    body.extend_from_slice(&fields);
    let mut frame = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&[2, 1, 0, 0]);
    frame.extend_from_slice(&body);
    let mut c = b"AMQP\x03\x01\x00\x00".to_vec();
    c.extend_from_slice(&frame);
    let s = run(5672, &[(C, &c)]);
    assert_eq!(s.info().version.as_deref(), Some("1.0.0 sasl"));
    check_cred(&s, "sasl_plain", Some("u10"), "Amqp10Pw");
}

#[test]
fn amqp10_tls_header_is_encrypted() {
    let s = run(
        5671,
        &[(C, b"AMQP\x02\x01\x00\x00"), (S, b"AMQP\x02\x01\x00\x00")],
    );
    assert_eq!(s.protocol(), Some("amqp"));
    assert!(s.info().encrypted);
    assert_eq!(s.tls_offsets(), Some([8, 8]));
    assert!(ids(&s).is_empty());
}

// ---------------------------------------------------------------- MQTT

fn mqtt_connect(level: u8, user: Option<&str>, pass: Option<&str>) -> Vec<u8> {
    let mut v = vec![0, 4];
    v.extend_from_slice(b"MQTT");
    v.push(level);
    let flags =
        0x02 | if user.is_some() { 0x80 } else { 0 } | if pass.is_some() { 0x40 } else { 0 };
    v.push(flags);
    v.extend_from_slice(&[0, 60]);
    if level == 5 {
        v.push(0);
    }
    for f in [Some("dev-1"), user, pass].into_iter().flatten() {
        v.extend_from_slice(&(f.len() as u16).to_be_bytes());
        v.extend_from_slice(f.as_bytes());
    }
    let mut p = vec![0x10, v.len() as u8];
    p.extend_from_slice(&v);
    p
}

#[test]
fn mqtt_connect_with_password() {
    let s = run(
        1884,
        &[
            (C, &mqtt_connect(4, Some("sensor"), Some("MqttPw_7"))),
            (S, &[0x20, 2, 0, 0]),
        ],
    );
    assert_eq!(s.protocol(), Some("mqtt"));
    assert_eq!(s.info().version.as_deref(), Some("3.1.1"));
    check_cred(&s, "connect_password", Some("sensor"), "MqttPw_7");
    assert!(s.done());
}

#[test]
fn mqtt5_without_credentials() {
    let s = run(1883, &[(C, &mqtt_connect(5, None, None))]);
    assert_eq!(s.info().version.as_deref(), Some("5.0"));
    assert_eq!(ids(&s), vec!["plaintext.mqtt"]);
}

// ---------------------------------------------------------------- LDAP

fn ber(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    if content.len() < 0x80 {
        v.push(content.len() as u8);
    } else {
        v.push(0x82);
        v.extend_from_slice(&(content.len() as u16).to_be_bytes());
    }
    v.extend_from_slice(content);
    v
}

fn ldap_msg(id: u8, op: Vec<u8>) -> Vec<u8> {
    let mut c = ber(0x02, &[id]);
    c.extend_from_slice(&op);
    ber(0x30, &c)
}

fn ldap_bind(dn: &str, pw: &str) -> Vec<u8> {
    let mut c = ber(0x02, &[3]);
    c.extend_from_slice(&ber(0x04, dn.as_bytes()));
    c.extend_from_slice(&ber(0x80, pw.as_bytes()));
    ldap_msg(1, ber(0x60, &c))
}

fn ldap_result(id: u8, op: u8, code: u8) -> Vec<u8> {
    let mut c = ber(0x0a, &[code]);
    c.extend_from_slice(&ber(0x04, b""));
    c.extend_from_slice(&ber(0x04, b""));
    ldap_msg(id, ber(op, &c))
}

#[test]
fn ldap_simple_bind_credentials() {
    let s = run(
        10389,
        &[
            (C, &ldap_bind("cn=admin,dc=ex", "LdapPw%1")),
            (S, &ldap_result(1, 0x61, 0)),
        ],
    );
    assert_eq!(s.protocol(), Some("ldap"));
    check_cred(&s, "simple", Some("cn=admin,dc=ex"), "LdapPw%1");
    assert_eq!(
        s.info().attrs.get("bind_result").map(String::as_str),
        Some("0")
    );
}

#[test]
fn ldap_anonymous_bind_is_not_a_credential() {
    let s = run(389, &[(C, &ldap_bind("", ""))]);
    assert_eq!(ids(&s), vec!["plaintext.ldap"]);
}

fn ldap_starttls_req() -> Vec<u8> {
    ldap_msg(1, ber(0x77, &ber(0x80, b"1.3.6.1.4.1.1466.20037")))
}

#[test]
fn ldap_starttls_success_sets_offsets() {
    let req = ldap_starttls_req();
    let resp = ldap_result(1, 0x78, 0);
    let s = run(
        389,
        &[(C, &req), (S, &resp), (C, b"\x16\x03\x01\x00\x02ab")],
    );
    assert_eq!(s.tls_offsets(), Some([req.len(), resp.len()]));
    assert!(ids(&s).is_empty());
}

#[test]
fn ldap_starttls_refused_is_stripped() {
    let s = run(
        389,
        &[(C, &ldap_starttls_req()), (S, &ldap_result(1, 0x78, 2))],
    );
    assert_eq!(ids(&s), vec!["plaintext.ldap", "starttls.stripped"]);
}

// ---------------------------------------------------------------- SMTP

const EHLO_TLS: &[u8] =
    b"250-mx.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n";

#[test]
fn smtp_auth_plain_initial_response() {
    let auth = format!("AUTH PLAIN {}\r\n", b64(b"\0mailer\0SmtpPlainPw"));
    let s = run(
        2525,
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO me\r\n"),
            (S, EHLO_TLS),
            (C, auth.as_bytes()),
            (S, b"235 ok\r\n"),
        ],
    );
    assert_eq!(s.protocol(), Some("smtp"));
    assert_eq!(
        ids(&s),
        vec![
            "plaintext.credentials",
            "plaintext.smtp",
            "starttls.not_used"
        ]
    );
    check_cred(&s, "plain", Some("mailer"), "SmtpPlainPw");
}

#[test]
fn smtp_auth_plain_continuation() {
    let resp = format!("{}\r\n", b64(b"\0cont\0SmtpContPw"));
    let s = run(
        25,
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"AUTH PLAIN\r\n"),
            (S, b"334 \r\n"),
            (C, resp.as_bytes()),
        ],
    );
    check_cred(&s, "plain", Some("cont"), "SmtpContPw");
}

#[test]
fn smtp_auth_login() {
    let c = format!(
        "EHLO me\r\nAUTH LOGIN\r\n{}\r\n{}\r\nMAIL FROM:<a@b>\r\n",
        b64(b"loginuser"),
        b64(b"SmtpLoginPw")
    );
    let s = run(587, &[(S, b"220 mx ESMTP\r\n"), (C, c.as_bytes())]);
    check_cred(&s, "login", Some("loginuser"), "SmtpLoginPw");
    assert_secret_absent(&s, &b64(b"SmtpLoginPw"));
}

#[test]
fn smtp_starttls_accepted() {
    let s = run(
        25,
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO me\r\n"),
            (S, EHLO_TLS),
            (C, b"STARTTLS\r\n"),
            (S, b"220 2.0.0 go ahead\r\n"),
            (C, b"\x16\x03\x01\x00\x10"),
        ],
    );
    assert_eq!(s.tls_offsets(), Some([19, 14 + EHLO_TLS.len() + 20]));
    assert!(ids(&s).is_empty());
    assert!(s.done());
}

#[test]
fn smtp_starttls_refused_and_mangled() {
    let s = run(
        25,
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO me\r\nSTARTTLS\r\n"),
            (S, EHLO_TLS),
            (S, b"502 5.5.1 no\r\n"),
        ],
    );
    assert_eq!(ids(&s), vec!["plaintext.smtp", "starttls.stripped"]);
    let s = run(
        25,
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO me\r\nMAIL FROM:<a@b>\r\n"),
            (S, b"250-mx\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n"),
        ],
    );
    assert_eq!(ids(&s), vec!["plaintext.smtp", "starttls.stripped"]);
}

#[test]
fn smtp_not_offered() {
    let s = run(
        25,
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO me\r\n"),
            (S, b"250-mx\r\n250 8BITMIME\r\n"),
        ],
    );
    assert_eq!(ids(&s), vec!["plaintext.smtp", "starttls.not_offered"]);
}

// ---------------------------------------------------------------- IMAP

const IMAP_BANNER: &[u8] = b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n";

#[test]
fn imap_login_quoted() {
    let s = run(
        1143,
        &[
            (S, IMAP_BANNER),
            (C, b"a1 LOGIN \"joe\" \"ImapPw 1\"\r\n"),
            (S, b"a1 OK\r\n"),
        ],
    );
    assert_eq!(s.protocol(), Some("imap"));
    assert_eq!(
        ids(&s),
        vec![
            "plaintext.credentials",
            "plaintext.imap",
            "starttls.not_used"
        ]
    );
    check_cred(&s, "login", Some("joe"), "ImapPw 1");
}

#[test]
fn imap_login_literal_password() {
    let s = run(
        143,
        &[
            (S, IMAP_BANNER),
            (C, b"a1 LOGIN joe {10}\r\n"),
            (S, b"+ go\r\n"),
            (C, b"ImapLitPw9\r\na2 SELECT INBOX\r\n"),
        ],
    );
    check_cred(&s, "login", Some("joe"), "ImapLitPw9");
    assert!(s.info().verbs.contains(&"SELECT".to_owned()));
}

#[test]
fn imap_authenticate_plain_ir_and_continuation() {
    let ir = format!("a AUTHENTICATE PLAIN {}\r\n", b64(b"\0ir\0ImapIrPw"));
    let s = run(143, &[(S, IMAP_BANNER), (C, ir.as_bytes())]);
    check_cred(&s, "plain", Some("ir"), "ImapIrPw");
    let cont = format!("a AUTHENTICATE PLAIN\r\n{}\r\n", b64(b"\0ct\0ImapContPw"));
    let s = run(143, &[(S, IMAP_BANNER), (C, cont.as_bytes())]);
    check_cred(&s, "plain", Some("ct"), "ImapContPw");
}

#[test]
fn imap_starttls_refused() {
    let s = run(
        143,
        &[
            (S, IMAP_BANNER),
            (C, b"a STARTTLS\r\n"),
            (S, b"a NO not now\r\n"),
        ],
    );
    assert_eq!(ids(&s), vec!["plaintext.imap", "starttls.stripped"]);
}

// ---------------------------------------------------------------- POP3

#[test]
fn pop3_user_pass() {
    let s = run(
        1110,
        &[
            (S, b"+OK ready\r\n"),
            (C, b"USER pat\r\n"),
            (S, b"+OK\r\n"),
            (C, b"PASS Pop3Pw!!\r\n"),
            (S, b"+OK\r\n"),
        ],
    );
    assert_eq!(s.protocol(), Some("pop3"));
    check_cred(&s, "pass", Some("pat"), "Pop3Pw!!");
}

#[test]
fn pop3_stls_refused() {
    let s = run(
        110,
        &[(S, b"+OK ready\r\n"), (C, b"STLS\r\n"), (S, b"-ERR no\r\n")],
    );
    assert_eq!(ids(&s), vec!["plaintext.pop3", "starttls.stripped"]);
}

#[test]
fn pop3_stls_accepted() {
    let s = run(
        110,
        &[
            (S, b"+OK ready\r\n"),
            (C, b"STLS\r\n"),
            (S, b"+OK begin\r\n\x16\x03\x03"),
        ],
    );
    assert_eq!(s.tls_offsets(), Some([6, 22]), "{:?}", s.info());
    assert!(ids(&s).is_empty());
}

// ---------------------------------------------------------------- FTP

#[test]
fn ftp_user_pass() {
    let s = run(
        2100,
        &[
            (S, b"220 ProFTPD ready\r\n"),
            (C, b"USER deploy\r\n"),
            (S, b"331 pw\r\n"),
            (C, b"PASS FtpPw#1\r\n"),
        ],
    );
    assert_eq!(s.protocol(), Some("ftp"));
    check_cred(&s, "pass", Some("deploy"), "FtpPw#1");
}

#[test]
fn ftp_anonymous_is_not_a_credential() {
    let s = run(
        21,
        &[(S, b"220 FTP\r\n"), (C, b"USER anonymous\r\nPASS me@x\r\n")],
    );
    assert_eq!(ids(&s), vec!["plaintext.ftp"]);
}

#[test]
fn ftp_auth_tls_accepted_and_refused() {
    let s = run(
        21,
        &[
            (S, b"220 FTP\r\n"),
            (C, b"AUTH TLS\r\n"),
            (S, b"234 go\r\n"),
            (C, b"\x16\x03\x01"),
        ],
    );
    assert_eq!(s.tls_offsets(), Some([10, 17]));
    assert!(ids(&s).is_empty());
    let s = run(
        21,
        &[
            (S, b"220 FTP\r\n"),
            (C, b"AUTH TLS\r\n"),
            (S, b"500 no\r\n"),
        ],
    );
    assert_eq!(ids(&s), vec!["plaintext.ftp", "starttls.stripped"]);
}

// ---------------------------------------------------------------- Telnet

#[test]
fn telnet_login_char_by_char() {
    let mut segs: Vec<(Direction, Vec<u8>)> = vec![
        (C, vec![255, 253, 3, 255, 251, 24]),
        (S, vec![255, 251, 1]),
        (S, b"\r\nhost login: ".to_vec()),
    ];
    for ch in b"root\r" {
        segs.push((C, vec![*ch]));
    }
    segs.push((S, b"\r\nPassword:".to_vec()));
    for ch in b"TelnetPw5\r\0" {
        segs.push((C, vec![*ch]));
    }
    let refs: Vec<(Direction, &[u8])> = segs.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    let s = run(2323, &refs);
    assert_eq!(s.protocol(), Some("telnet"));
    assert_eq!(ids(&s), vec!["plaintext.credentials", "plaintext.telnet"]);
    check_cred(&s, "login", Some("root"), "TelnetPw5");
}

// ---------------------------------------------------------------- Memcached

#[test]
fn memcached_text() {
    let s = run(
        11212,
        &[
            (C, b"set k 0 0 5\r\nhello\r\nget k\r\n"),
            (S, b"STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n"),
        ],
    );
    assert_eq!(s.protocol(), Some("memcached"));
    assert_eq!(s.info().verbs, vec!["SET".to_owned(), "GET".to_owned()]);
    assert_eq!(ids(&s), vec!["plaintext.memcached"]);
}

#[test]
fn memcached_binary_sasl_plain() {
    let value = b"\0mc\0MemcPw3";
    let mut p = vec![0x80, 0x21, 0, 5, 0, 0, 0, 0];
    p.extend_from_slice(&((5 + value.len()) as u32).to_be_bytes());
    p.extend_from_slice(&[0; 12]);
    p.extend_from_slice(b"PLAIN");
    p.extend_from_slice(value);
    let s = run(11211, &[(C, &p)]);
    assert_eq!(s.protocol(), Some("memcached"));
    check_cred(&s, "sasl_plain", Some("mc"), "MemcPw3");
}

// ---------------------------------------------------------------- DNS, SSH, TLS, unknown

#[test]
fn dns_over_tcp_is_allowed_by_default() {
    let q = b"\x00\x1d\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    let s = run(5353, &[(C, q)]);
    assert_eq!(s.protocol(), Some("dns"));
    assert!(ids(&s).is_empty());
    assert_eq!(
        s.info().attrs.get("qname").map(String::as_str),
        Some("example.com")
    );
}

#[test]
fn dns_over_udp_is_one_message_a_datagram() {
    let q =
        b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
    let mut s = Session::new_datagram(53);
    s.feed(C, q);
    assert_eq!(s.protocol(), Some("dns"));
    assert!(!s.done(), "waits for the answer");
    let mut a = q.to_vec();
    a[2] = 0x81;
    a[3] = 0x80;
    s.feed(Direction::ToClient, &a);
    assert!(s.done());
    assert!(ids(&s).is_empty(), "allowed by the default policy");
    assert_eq!(
        s.info().attrs.get("qname").map(String::as_str),
        Some("example.com")
    );
    // The same bytes as a TCP stream are not DNS: there they lack the length prefix.
    let s = run(53, &[(C, q)]);
    assert_ne!(s.protocol(), Some("dns"));
}

#[test]
fn ssh_is_encrypted() {
    let s = run(
        2222,
        &[(S, b"SSH-2.0-OpenSSH_9.6\r\n"), (C, b"SSH-2.0-Go\r\n")],
    );
    assert_eq!(s.protocol(), Some("ssh"));
    assert!(s.info().encrypted);
    assert!(ids(&s).is_empty());
    assert!(s.done());
}

#[test]
fn tls_reports_nothing() {
    let s = run(443, &[(C, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")]);
    assert_eq!(s.protocol(), None);
    assert!(ids(&s).is_empty());
    assert!(s.done());
}

#[test]
fn unknown_text_and_binary() {
    let s = run(4000, &[(C, b"XYZZY: this is a custom text protocol\n")]);
    assert_eq!(s.protocol(), Some("unknown_text"));
    assert_eq!(ids(&s), vec!["plaintext.unknown"]);
    let s = run(
        4000,
        &[(
            C,
            &[
                0x9f, 0x01, 0xee, 0x00, 0x13, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
                0x10, 0x20, 0x30,
            ],
        )],
    );
    assert_eq!(s.protocol(), Some("unknown_binary"));
    assert!(ids(&s).is_empty());
    // Too few bytes: no verdict yet.
    let s = run(4000, &[(C, b"xyz")]);
    assert_eq!(s.protocol(), None);
}

// ---------------------------------------------------------------- policy

#[test]
fn allow_rule_suppresses_protocol_finding_but_not_credentials() {
    let s = run(
        80,
        &[(C, b"GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n")],
    );
    let cfg = Config::parse("[[allow]]\nprotocol = \"http\"\ndestination = \"10.1.0.0/16\"\n")
        .expect("cfg");
    let v: Vec<_> = s
        .findings(&key(80, false), &cfg.policy())
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(v, vec!["plaintext.credentials"]);
}

#[test]
fn severity_override_and_escalation() {
    let s = run(80, &[(C, b"GET / HTTP/1.1\r\n\r\n")]);
    let ext = s.findings(&key(80, true), &Policy::default());
    assert_eq!(ext.first().map(|f| f.severity), Some(Severity::High));
    let cfg = Config::parse("[severity]\n\"plaintext.http\" = \"low\"\n").expect("cfg");
    let v = s.findings(&key(80, true), &cfg.policy());
    assert_eq!(v.first().map(|f| f.severity), Some(Severity::Low));
}

#[test]
fn recognition_is_port_independent() {
    let flows: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\n\r\n",
        b"*1\r\n$4\r\nPING\r\n",
        b"AMQP\x00\x00\x09\x01",
        b"stats\r\n",
    ];
    for f in flows {
        let a = run(0, &[(C, f)]).protocol();
        let b = run(443, &[(C, f)]).protocol();
        let c = run(5432, &[(C, f)]).protocol();
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(a, c);
    }
}

#[test]
fn every_catalogue_id_is_unique_and_documented_in_defs() {
    let mut seen = BTreeSet::new();
    for d in findings::DEFS {
        assert!(seen.insert(d.id), "duplicate {}", d.id);
        assert!(
            !d.title.is_empty()
                && !d.description.is_empty()
                && !d.remediation.is_empty()
                && !d.references.is_empty()
        );
    }
    for p in Protocol::ALL {
        if let Some(id) = p.finding_id() {
            assert!(findings::def(id).is_some(), "{id} missing");
        }
    }
}

// ---------------------------------------------------------------- robustness

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
pub(super) struct Rng(pub(super) u64);
impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// An h2c client whose HEADERS (PADDED, PRIORITY) and CONTINUATION carry
/// Huffman-coded fields, for the robustness test.
fn h2c_seed() -> Vec<u8> {
    let mut block = h2_post("/lab.Echo/Say", "svc:50051");
    block.extend(hpack::encode::literal(0x40, 31, b"application/grpc", true));
    block.extend(hpack::encode::literal(0x10, 23, b"Basic dTpw", true));
    let (a, b) = block.split_at(7);
    let mut p = vec![2, 0, 0, 0, 0, 9];
    p.extend_from_slice(a);
    p.extend_from_slice(&[0, 0]);
    let mut c = h2_client(&[vec![0x82, 0x3f, 0xe1, 0x1f]]);
    c.extend(h2_frame(1, 0x8 | 0x20, 3, &p));
    c.extend(h2_frame(9, 0x4, 3, b));
    c.extend(h2_frame(1, 0x4, 5, &[0x83, 0x86, 0xbe, 0xbf, 0xc0]));
    c
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        pg_startup("x"),
        SSL_REQUEST.to_vec(),
        my_greeting(true, "mysql_native_password"),
        my_response(false, "u", &[1; 20], "p"),
        op_msg(&bson(&[(0x10, "hello", vec![1, 0, 0, 0])])),
        kafka_req(18, 3, &[0, 0]),
        mqtt_connect(5, Some("u"), Some("p")),
        ldap_bind("cn=x", "y"),
        ldap_starttls_req(),
        b"AMQP\x00\x00\x09\x01".to_vec(),
        amqp_start(),
        http2::PREFACE.to_vec(),
        h2c_seed(),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".to_vec(),
        b"220 mx ESMTP\r\n250-STARTTLS\r\n".to_vec(),
        b"* OK [CAPABILITY STARTTLS] x\r\n".to_vec(),
        b"+OK x\r\n".to_vec(),
        vec![255, 251, 1, 255, 250, 24, 1, 255, 240],
        b"\x00\x1d\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01".to_vec(),
        b"set k 0 0 5\r\nhello\r\n".to_vec(),
        vec![0x80, 0x21, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9],
        b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(),
    ]
}

#[test]
fn never_panics_on_truncated_mutated_or_random_input() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds = seeds();
    for seed in &seeds {
        // Every prefix, in both directions, on a fresh session and a shared one.
        for dir in [C, S] {
            let mut shared = Session::new(0);
            for n in 0..=seed.len() {
                let mut s = Session::new(0);
                s.feed(dir, &seed[..n]);
                shared.feed(dir, &seed[..n]);
                shared.feed(dir.reverse(), &seed[..n]);
                let _ = s.findings(&key(1, true), &Policy::default());
                let _ = serde_json::to_string(s.info());
            }
            let _ = shared.findings(&key(1, false), &Policy::default());
        }
        // Mutations.
        for _ in 0..200 {
            let mut m = seed.clone();
            for _ in 0..1 + rng.next() % 4 {
                if m.is_empty() {
                    break;
                }
                let i = (rng.next() as usize) % m.len();
                m[i] = rng.next() as u8;
            }
            let cut = (rng.next() as usize) % (m.len() + 1);
            let mut s = Session::new((rng.next() % 65536) as u16);
            s.feed(C, &m[..cut]);
            s.feed(S, &m);
            s.feed(C, &m);
            let _ = s.findings(
                &key(1, true),
                &Policy::default().with_report_usernames(true),
            );
            let _ = (s.protocol(), s.tls_offsets(), s.done());
        }
    }
    // Pure noise, including after each recogniser has engaged.
    for round in 0..600 {
        let len = (rng.next() % 600) as usize;
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let mut s = Session::new((rng.next() % 65536) as u16);
        let seed = &seeds[round % seeds.len()];
        let mut c = seed.clone();
        c.extend_from_slice(&noise);
        s.feed(C, &c);
        s.feed(S, &noise);
        s.feed(S, &c);
        let _ = s.findings(&key(1, true), &Policy::default());
    }
}

#[test]
fn docs_list_every_plaintext_finding_and_protocol() {
    let doc = include_str!("../../../docs/findings.md");
    let section = doc
        .split("## Plaintext")
        .nth(1)
        .expect("## Plaintext section");
    // The finding rows are generated from the catalogue (detect::explain's tests).
    for d in findings::DEFS {
        assert!(section.contains(&format!("| `{}` |", d.id)), "{}", d.id);
    }
    for p in Protocol::ALL {
        assert!(
            section.contains(&format!("`{}`", p.as_str())),
            "{} undocumented",
            p.as_str()
        );
    }
}

#[test]
fn docs_cover_every_config_key() {
    let doc = include_str!("../../../docs/configuration.md");
    for line in Config::default_toml().lines() {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            assert!(
                doc.contains(&format!("`[{section}]`")) || doc.contains(&format!("`{section}`")),
                "{section}"
            );
        } else if let Some((k, _)) = line.split_once(" = ").filter(|_| !line.starts_with('#')) {
            assert!(
                doc.contains(&format!("`{k}`")),
                "docs/configuration.md lacks `{k}`"
            );
        }
    }
    for k in [
        "tls_cert",
        "tls_key",
        "client_ca",
        "destination",
        "port",
        "comment",
    ] {
        assert!(doc.contains(&format!("`{k}`")), "{k}");
    }
}

#[test]
fn http_connect_tunnel_with_tls_is_not_plaintext() {
    let req = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic dXNlcjpQcm94eVB3\r\n\r\n";
    let resp = b"HTTP/1.1 200 Connection established\r\n\r\n";
    let mut c = req.to_vec();
    c.extend_from_slice(b"\x16\x03\x01\x00\x05hello");
    let s = run(3128, &[(C, req), (S, resp), (C, &c[req.len()..])]);
    assert_eq!(s.tls_offsets(), Some([req.len(), resp.len()]));
    assert_eq!(ids(&s), vec!["plaintext.credentials"]);
    assert_secret_absent(&s, "ProxyPw");
    // A tunnel carrying cleartext stays plaintext.http.
    let s = run(3128, &[(C, req), (S, resp), (C, b"GET / HTTP/1.1\r\n\r\n")]);
    assert_eq!(s.tls_offsets(), None);
    assert_eq!(ids(&s), vec!["plaintext.credentials", "plaintext.http"]);
}

#[test]
fn generic_greeting_is_settled_by_the_other_direction() {
    let s = run(
        0,
        &[
            (S, b"220 ready\r\n"),
            (C, b"USER bob\r\n"),
            (S, b"220 ready\r\n331 pw\r\n"),
        ],
    );
    assert_eq!(s.protocol(), Some("ftp"));
    let s = run(0, &[(S, b"220 ready\r\n"), (C, b"EHLO me\r\n")]);
    assert_eq!(s.protocol(), Some("smtp"));
    let s = run(0, &[(S, b"220 ready\r\n"), (C, b"QUIT\r\n")]);
    assert!(matches!(s.protocol(), Some("smtp" | "ftp")));
    // Port as tie-breaker, and a best guess when nothing else comes.
    assert_eq!(run(21, &[(S, b"220 ready\r\n")]).protocol(), Some("ftp"));
    assert_eq!(run(25, &[(S, b"220 ready\r\n")]).protocol(), Some("smtp"));
    assert!(run(0, &[(S, b"220 ready\r\n")]).protocol().is_some());
}

#[test]
fn pop3_auth_plain_and_login() {
    let c = format!("AUTH PLAIN {}\r\n", b64(b"\0pp\0Pop3PlainPw"));
    let s = run(110, &[(S, b"+OK hi\r\n"), (C, c.as_bytes())]);
    check_cred(&s, "plain", Some("pp"), "Pop3PlainPw");
    let c = format!(
        "AUTH LOGIN\r\n{}\r\n{}\r\n",
        b64(b"pl"),
        b64(b"Pop3LoginPw")
    );
    let s = run(110, &[(S, b"+OK hi\r\n"), (C, c.as_bytes())]);
    check_cred(&s, "login", Some("pl"), "Pop3LoginPw");
    assert_secret_absent(&s, &b64(b"Pop3LoginPw"));
}

#[test]
fn imap_authenticate_login_and_xoauth2() {
    let c = format!(
        "a AUTHENTICATE LOGIN\r\n{}\r\n{}\r\n",
        b64(b"il"),
        b64(b"ImapLoginPw")
    );
    let s = run(143, &[(S, IMAP_BANNER), (C, c.as_bytes())]);
    check_cred(&s, "login", Some("il"), "ImapLoginPw");
    let tok = b64(b"user=x\x01auth=Bearer ya29.SECRETTOKEN\x01\x01");
    let c = format!("a AUTHENTICATE XOAUTH2 {tok}\r\n");
    let s = run(143, &[(S, IMAP_BANNER), (C, c.as_bytes())]);
    check_cred(&s, "oauth_bearer", None, "SECRETTOKEN");
    assert_secret_absent(&s, &tok);
}

#[test]
fn smtp_xoauth2() {
    let tok = b64(b"user=x\x01auth=Bearer ya29.SMTPTOKEN\x01\x01");
    let c = format!("EHLO me\r\nAUTH XOAUTH2 {tok}\r\n");
    let s = run(587, &[(S, b"220 mx ESMTP\r\n"), (C, c.as_bytes())]);
    check_cred(&s, "oauth_bearer", None, "SMTPTOKEN");
}

#[test]
fn ldap_sasl_plain_bind() {
    let mut sasl = ber(0x04, b"PLAIN");
    sasl.extend_from_slice(&ber(0x04, b"\0saslu\0LdapSaslPw"));
    let mut c = ber(0x02, &[3]);
    c.extend_from_slice(&ber(0x04, b""));
    c.extend_from_slice(&ber(0xa3, &sasl));
    let s = run(389, &[(C, &ldap_msg(1, ber(0x60, &c)))]);
    check_cred(&s, "sasl_plain", Some("saslu"), "LdapSaslPw");
    assert_eq!(
        s.info().attrs.get("sasl_mechanism").map(String::as_str),
        Some("PLAIN")
    );
}

#[test]
fn debug_output_holds_no_user_name() {
    let s = run(
        21,
        &[(S, b"220 FTP\r\n"), (C, b"USER deploy-bot\r\nPASS x9\r\n")],
    );
    let dbg = format!("{s:?} {:?}", s.info());
    assert!(!dbg.contains("deploy-bot"), "{dbg}");
    assert!(dbg.contains("ftp"));
}

#[test]
fn proxy_protocol_header_is_skipped() {
    // v1 in front of HTTP: still HTTP, not unknown text.
    let s = run(
        80,
        &[(
            C,
            b"PROXY TCP4 10.0.0.1 10.0.0.2 5555 80\r\nGET / HTTP/1.1\r\n\r\n",
        )],
    );
    assert_eq!(s.protocol(), Some("http"));
    assert_eq!(
        s.info().attrs.get("proxy_protocol").map(String::as_str),
        Some("v1")
    );
    // v2 in front of TLS: nothing to report, TLS starts after the header.
    let mut v2 = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    v2.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0x15, 0xb3, 1, 187]);
    let hdr = v2.len();
    v2.extend_from_slice(b"\x16\x03\x01\x00\x05hello");
    let s = run(443, &[(C, &v2[..5]), (C, &v2[5..])]);
    assert_eq!(s.protocol(), None);
    assert_eq!(s.tls_offsets(), Some([hdr, 0]));
    assert!(ids(&s).is_empty());
    // STARTTLS offsets are shifted by the header length.
    let mut c = b"PROXY TCP4 10.0.0.1 10.0.0.2 5555 25\r\n".to_vec();
    let skip = c.len();
    c.extend_from_slice(b"EHLO me\r\nSTARTTLS\r\n");
    let s = run(
        25,
        &[
            (S, b"220 mx ESMTP\r\n"),
            (C, &c),
            (S, EHLO_TLS),
            (S, b"220 go\r\n"),
        ],
    );
    assert_eq!(s.tls_offsets(), Some([skip + 19, 14 + EHLO_TLS.len() + 8]));
}

#[test]
fn ldap_sasl_security_layer_sealed_or_signed() {
    let mut sasl = ber(0x04, b"GSS-SPNEGO");
    sasl.extend_from_slice(&ber(0x04, b"token"));
    let mut c = ber(0x02, &[3]);
    c.extend_from_slice(&ber(0x04, b""));
    c.extend_from_slice(&ber(0xa3, &sasl));
    let bind = ldap_msg(1, ber(0x60, &c));
    // RFC 4121 wrap token with the Sealed flag.
    let mut sealed = bind.clone();
    sealed.extend_from_slice(&[0, 0, 0, 20, 0x05, 0x04, 0x06, 0xff, 0, 0, 0, 0]);
    sealed.extend_from_slice(&[0xaa; 12]);
    let s = run(389, &[(C, &sealed)]);
    assert_eq!(
        s.info()
            .attrs
            .get("sasl_security_layer")
            .map(String::as_str),
        Some("sealed")
    );
    assert!(s.info().encrypted);
    assert!(ids(&s).is_empty());
    // RFC 4121 wrap token without it: signed only, still plaintext.
    let mut signed = bind;
    signed.extend_from_slice(&[0, 0, 0, 20, 0x05, 0x04, 0x04, 0xff, 0, 0, 0, 0]);
    signed.extend_from_slice(&[0x30; 12]);
    let s = run(389, &[(C, &signed)]);
    assert_eq!(
        s.info()
            .attrs
            .get("sasl_security_layer")
            .map(String::as_str),
        Some("signed")
    );
    assert_eq!(ids(&s), vec!["plaintext.ldap"]);
}

#[test]
fn http2_hpack_caps_and_errors_are_counted() {
    // Before: a header block past a decoder cap, or one that failed to decode, stopped
    // decoding without a trace in the metrics.
    // A literal whose value claims 9000 octets: past the 8 KiB string cap.
    let too_long = vec![0x83, 0x00, 0x01, b'x', 0x7f, 0xa9, 0x45];
    let c = h2_client(&[too_long]);
    let s = run(50051, &[(C, &c), (S, H2_SETTINGS)]);
    assert_eq!(s.protocol(), Some("http2"));
    assert_eq!(
        s.trouble(),
        Trouble {
            hpack_errors: 0,
            hpack_capped: 1
        }
    );
    // Index 0 is a decoding error (RFC 7541 §6.1).
    let c = h2_client(&[vec![0x80]]);
    let s = run(50051, &[(C, &c), (S, H2_SETTINGS)]);
    assert_eq!(s.trouble().hpack_errors, 1);
    assert_eq!(s.trouble().hpack_capped, 0);
}

#[test]
fn smtp_behind_socks5_with_a_password_is_smtp_and_a_credential() {
    // RFC 1928 greeting offering username/password, RFC 1929 sub-negotiation, CONNECT to
    // port 25, then SMTP in the tunnel.
    let mut c = vec![5, 1, 2, 1, 5, b'a', b'l', b'i', b'c', b'e', 6];
    c.extend_from_slice(b"Sox5Pw");
    c.extend_from_slice(&[5, 1, 0, 1, 10, 0, 0, 2, 0, 25]);
    let pre = c.len();
    let mut s = vec![5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 2, 0, 25];
    let granted = s.len();
    s.extend_from_slice(b"220 mx.lab ESMTP\r\n");
    c.extend_from_slice(b"EHLO client\r\nMAIL FROM:<a@b>\r\n");
    let sess = run(
        1080,
        &[
            (C, &c[..3]),
            (S, &s[..2]),
            (C, &c[3..pre]),
            (S, &s[2..granted]),
            (S, &s[granted..]),
            (C, &c[pre..]),
        ],
    );
    assert_eq!(sess.protocol(), Some("smtp"));
    assert_eq!(sess.proxy(), Some("socks5"));
    let found = ids(&sess);
    assert!(found.contains(&"plaintext.credentials"), "{found:?}");
    assert!(found.contains(&"plaintext.smtp"), "{found:?}");
    assert_eq!(sess.info().credentials, vec!["socks5"]);
    assert_secret_absent(&sess, "Sox5Pw");
}

#[test]
fn a_refused_socks_request_is_not_a_tunnel() {
    let c = [5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 2, 0, 25];
    let s = [5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0];
    let sess = run(
        1080,
        &[(C, &c[..3]), (S, &s[..2]), (C, &c[3..]), (S, &s[2..])],
    );
    assert_eq!(sess.proxy(), None);
    assert_ne!(sess.protocol(), Some("smtp"));
}
