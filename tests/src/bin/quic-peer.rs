//! A real QUIC client and server (quinn over rustls/ring) for the live QUIC test
//! (tests/tests/quic.rs): Debian bookworm's curl has no HTTP/3, so the peers are built here.
//!
//! Usage:
//!   quic-peer server ADDR:PORT CERT.pem KEY.pem        answers "pong" on every stream
//!   quic-peer client ADDR:PORT SNI CA.pem [--big]      sends "ping", prints the answer
//!
//! Both speak ALPN `h3` only (no HTTP/3 framing: the test needs the QUIC handshake).
//! `--big` adds 40 long filler ALPN values after `h3`, so the ClientHello (about 2.5 KB)
//! needs CRYPTO frames in two Initial packets in two datagrams, as post-quantum key
//! shares do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let mut r = std::io::BufReader::new(std::fs::File::open(path).context(path.to_owned())?);
    Ok(rustls_pemfile::certs(&mut r).collect::<Result<Vec<_>, _>>()?)
}

async fn server(addr: SocketAddr, cert: &str, key: &str) -> Result<()> {
    let certs = read_certs(cert)?;
    let mut r = std::io::BufReader::new(std::fs::File::open(key).context(key.to_owned())?);
    let key = rustls_pemfile::private_key(&mut r)?.context("no private key")?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)?;
    let endpoint =
        quinn::Endpoint::server(quinn::ServerConfig::with_crypto(Arc::new(crypto)), addr)?;
    println!("listening on {addr}");
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(async move {
            let run = async {
                let conn = incoming.await?;
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    recv.read_to_end(1024).await?;
                    send.write_all(b"pong").await?;
                    send.finish()?;
                }
                anyhow::Ok(())
            };
            if let Err(e) = run.await {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}

async fn client(addr: SocketAddr, sni: &str, ca: &str, big: bool) -> Result<()> {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(ca)? {
        roots.add(c)?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    if big {
        for i in 0..40u8 {
            let mut v = format!("filler-{i:02}-").into_bytes();
            v.resize(50, b'x');
            tls.alpn_protocols.push(v);
        }
    }
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let mut endpoint = quinn::Endpoint::client(bind)?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let conn = endpoint.connect(addr, sni)?.await?;
    let (mut send, mut recv) = conn.open_bi().await?;
    send.write_all(b"ping").await?;
    send.finish()?;
    let answer = recv.read_to_end(1024).await?;
    conn.close(0u32.into(), b"done");
    endpoint.wait_idle().await;
    println!("{}", String::from_utf8_lossy(&answer));
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[1..] {
        ["server", addr, cert, key] => rt.block_on(server(addr.parse()?, cert, key)),
        ["client", addr, sni, ca] => rt.block_on(client(addr.parse()?, sni, ca, false)),
        ["client", addr, sni, ca, "--big"] => rt.block_on(client(addr.parse()?, sni, ca, true)),
        _ => bail!("usage: quic-peer server ADDR CERT KEY | client ADDR SNI CA [--big]"),
    }
}
