//! A small rustls TLS client for the mTLS captures and tests (tests/corpus/local/mtls/):
//! connects, optionally presents a client certificate, sends one HTTP/1.0 GET, reads the
//! answer, and with `--twice` connects a second time with the same configuration so the
//! second handshake resumes (TLS 1.3 PSK or a TLS 1.2 ticket).
//!
//! Usage: mtls-client ADDR SNI CA_PEM [--cert PEM --key PEM] [--tls12] [--twice]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, sni, ca, rest @ ..] = &args[..] else {
        panic!("usage: mtls-client ADDR SNI CA_PEM [--cert PEM --key PEM] [--tls12] [--twice]");
    };
    let mut cert = None;
    let mut key = None;
    let mut tls12 = false;
    let mut twice = false;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--cert" => cert = it.next().cloned(),
            "--key" => key = it.next().cloned(),
            "--tls12" => tls12 = true,
            "--twice" => twice = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca) {
        roots.add(c).unwrap();
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12 {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match (cert, key) {
        (Some(c), Some(k)) => {
            let pem = std::fs::read(&k).unwrap();
            let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pem.as_slice())
                .unwrap()
                .expect("a private key");
            builder.with_client_auth_cert(certs(&c), key).unwrap()
        }
        _ => builder.with_no_client_auth(),
    };
    let config = Arc::new(config);
    let name = ServerName::try_from(sni.clone()).unwrap();
    for _ in 0..if twice { 2 } else { 1 } {
        let mut conn = rustls::ClientConnection::new(config.clone(), name.clone()).unwrap();
        let mut sock = TcpStream::connect(addr.as_str()).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        let _ = tls.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let mut answer = Vec::new();
        let got = tls.read_to_end(&mut answer);
        println!(
            "resumed={:?} read={} {}",
            conn.handshake_kind(),
            answer.len(),
            got.map_or_else(|e| e.to_string(), |_| "ok".into())
        );
    }
}

fn certs(path: &str) -> Vec<CertificateDer<'static>> {
    let pem = std::fs::read(path).unwrap();
    rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .unwrap()
}
