//! One probe connection: TCP connect, a rustls handshake that accepts any certificate,
//! the leaf read, an optional `HEAD /` for HSTS, close. Every step has its own timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::{Outcome, Probed, Target};
use crate::config::ProbeConfig;

/// Accepts every certificate chain: the probe reads certificates, it does not trust
/// them. Handshake signatures are still checked against the leaf's key, so the answer
/// comes from whoever holds that certificate's key.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The probe's TLS client: TLS 1.3 and 1.2, ALPN h2 then http/1.1, no client
/// certificate, no session resumption (each probe must see the certificate).
pub fn connector() -> Result<TlsConnector, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    config.enable_sni = true;
    Ok(TlsConnector::from(Arc::new(config)))
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Connects to `t`, reads its certificate and (when asked and ALPN allows) its HSTS
/// header. Never fails: what went wrong is the outcome.
pub async fn probe(connector: &TlsConnector, t: &Target, cfg: &ProbeConfig) -> Probed {
    let mut p = Probed::new(t.clone());
    let tcp = match timeout(ms(cfg.connect_timeout_ms), TcpStream::connect(t.server)).await {
        Err(_) => return p.with(Outcome::Timeout),
        Ok(Err(_)) => return p.with(Outcome::ConnectFailed),
        Ok(Ok(s)) => s,
    };
    p.local = tcp.local_addr().ok();
    // The observed SNI when it is a DNS name; else no SNI (rustls sends none for an
    // address), as the observed client did.
    let name = t
        .sni
        .as_deref()
        .and_then(|s| ServerName::try_from(s.to_owned()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(t.server.ip().into()));
    let mut tls = match timeout(ms(cfg.handshake_timeout_ms), connector.connect(name, tcp)).await {
        Err(_) => return p.with(Outcome::Timeout),
        Ok(Err(_)) => return p.with(Outcome::HandshakeFailed),
        Ok(Ok(s)) => s,
    };
    {
        let (_, conn) = tls.get_ref();
        p.version = conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
            other => format!("{other:?}"),
        });
        p.cipher = conn
            .negotiated_cipher_suite()
            .map(|s| crate::tls::suites::label(u16::from(s.suite())).into_owned());
        p.alpn = conn
            .alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned());
        let Some(leaf) = conn.peer_certificates().and_then(|c| c.first()) else {
            let _ = tls.shutdown().await;
            return p.with(Outcome::NoCertificate);
        };
        match crate::tls::cert::parse(leaf.as_ref()) {
            Ok(c) => p.cert = Some(c),
            Err(_) => {
                let _ = tls.shutdown().await;
                return p.with(Outcome::BadCertificate);
            }
        }
    }
    if cfg.hsts {
        let host = t.sni.clone().unwrap_or_else(|| match t.server {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        });
        let exchange = async {
            match p.alpn.as_deref() {
                Some("http/1.1") => head_h1(&mut tls, &host).await,
                Some("h2") => head_h2(&mut tls, &host).await,
                _ => None,
            }
        };
        p.hsts = timeout(ms(cfg.read_timeout_ms), exchange)
            .await
            .ok()
            .flatten();
    }
    let _ = timeout(ms(cfg.read_timeout_ms), tls.shutdown()).await;
    p.with(Outcome::Ok)
}

/// The most of an answer's header section read: enough for any sane server.
const MAX_HEAD: usize = 16 * 1024;

/// `HEAD /` over HTTP/1.1: `Some(true)` when the answer has `Strict-Transport-Security`.
async fn head_h1<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, host: &str) -> Option<bool> {
    let req = format!(
        "HEAD / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: plainsight-probe\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.ok()?;
    s.flush().await.ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        buf.extend_from_slice(chunk.get(..n)?);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            break;
        }
        if n == 0 || buf.len() > MAX_HEAD {
            return None;
        }
    }
    let mut lines = buf.split(|&b| b == b'\n');
    if !lines.next()?.starts_with(b"HTTP/1.") {
        return None;
    }
    Some(lines.any(|l| {
        l.iter()
            .position(|&b| b == b':')
            .and_then(|c| l.get(..c))
            .is_some_and(|n| {
                n.trim_ascii()
                    .eq_ignore_ascii_case(b"strict-transport-security")
            })
    }))
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK literal without indexing, name from the static table (RFC 7541 §6.2.2),
/// for values under 127 bytes.
fn hpack_literal(index: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![index & 0x0f, value.len().min(126) as u8];
    v.extend_from_slice(value.get(..126).unwrap_or(value));
    v
}

/// `HEAD /` over HTTP/2 (RFC 9113): preface, empty SETTINGS, one HEADERS frame on
/// stream 1, then frames are read until stream 1's header block is complete and
/// decoded with the agent's own HPACK decoder. Server SETTINGS are acknowledged.
async fn head_h2<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, host: &str) -> Option<bool> {
    let mut block = vec![0x84, 0x87]; // :path /, :scheme https (static indices 4, 7)
    block.extend(hpack_literal(2, b"HEAD")); // :method
    block.extend(hpack_literal(1, host.as_bytes())); // :authority
    let mut out = H2_PREFACE.to_vec();
    out.extend(h2_frame(0x4, 0, 0, &[]));
    out.extend(h2_frame(0x1, 0x4 | 0x1, 1, &block)); // END_HEADERS | END_STREAM
    s.write_all(&out).await.ok()?;
    s.flush().await.ok()?;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut headers: Vec<u8> = Vec::new();
    let mut total = 0usize;
    loop {
        // Whole frames in the buffer first.
        while buf.len() >= 9 {
            let len =
                (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if buf.len() < 9 + len {
                break;
            }
            let (kind, flags) = (buf[3], buf[4]);
            let stream = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
            let payload: Vec<u8> = buf.drain(..9 + len).skip(9).collect();
            match (kind, stream) {
                (0x4, 0) if flags & 0x1 == 0 => {
                    s.write_all(&h2_frame(0x4, 0x1, 0, &[])).await.ok()?;
                }
                (0x1 | 0x9, 1) => {
                    let mut p = payload.as_slice();
                    if kind == 0x1 {
                        if flags & 0x8 != 0 {
                            let pad = usize::from(*p.first()?);
                            p = p.get(1..p.len().checked_sub(pad)?)?;
                        }
                        if flags & 0x20 != 0 {
                            p = p.get(5..)?;
                        }
                    }
                    headers.extend_from_slice(p);
                    if flags & 0x4 != 0 {
                        let mut found = false;
                        let mut dec = crate::plaintext::hpack::Decoder::new();
                        dec.decode(&headers, |name, _| {
                            found |= name.eq_ignore_ascii_case(b"strict-transport-security");
                        })
                        .ok()?;
                        let _ = s.write_all(&h2_frame(0x7, 0, 0, &[0; 8])).await; // GOAWAY
                        return Some(found);
                    }
                }
                (0x3, 1) => return None, // RST_STREAM
                // GOAWAY: stream 1 is still answered when the last stream id covers it
                // (nginx with keepalive_timeout 0 says so at once, RFC 9113 §6.8).
                (0x7, _) => {
                    let last = payload
                        .get(..4)
                        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff);
                    if last.unwrap_or(0) < 1 {
                        return None;
                    }
                }
                _ => {}
            }
        }
        let n = s.read(&mut chunk).await.ok()?;
        total += n;
        if n == 0 || total > 4 * MAX_HEAD {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    }
}
