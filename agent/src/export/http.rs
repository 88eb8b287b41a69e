//! The HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, optionally over TLS with client
//! certificates. A monitor of plaintext traffic should not have to be one itself.

use std::convert::Infallible;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::metrics::Metrics;

/// State the endpoint reads; the agent updates it.
#[derive(Debug, Default)]
pub struct Shared {
    pub metrics: Mutex<Metrics>,
    /// Set once the programs are attached and the first poll succeeded.
    pub ready: AtomicBool,
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} holds no {what}")]
    Empty { path: PathBuf, what: &'static str },
    #[error("TLS configuration rejected: {0}")]
    Tls(#[from] rustls::Error),
    #[error("client CA rejected: {0}")]
    ClientCa(#[from] rustls::server::VerifierBuilderError),
}

/// A bound endpoint, ready to serve.
pub struct Endpoint {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// Binds now, so that a bad address or certificate fails before anything is attached.
    pub async fn bind(addr: SocketAddr, tls: Option<&TlsFiles>) -> Result<Self, HttpError> {
        let tls = tls.map(acceptor).transpose()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| HttpError::Bind { addr, source })?;
        Ok(Endpoint { listener, tls })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` changes.
    pub async fn serve(self, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.changed() => return,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let shared = Arc::clone(&shared);
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, Infallible>(route(&req, &shared)) }
                });
                let result = match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => http1::Builder::new()
                            .serve_connection(TokioIo::new(s), svc)
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(format!("TLS handshake: {e}")),
                    },
                    None => http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                        .map_err(|e| e.to_string()),
                };
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "HTTP connection ended with an error");
                }
            });
        }
    }
}

fn route(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match req.uri().path() {
        "/metrics" => {
            let body = match shared.metrics.lock() {
                Ok(mut m) => m.render(),
                Err(poisoned) => poisoned.into_inner().render(),
            };
            let mut r = text(StatusCode::OK, body);
            if let Ok(v) = "text/plain; version=0.0.4; charset=utf-8".parse() {
                r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
            }
            r
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => {
            if shared.ready.load(Ordering::Relaxed) {
                text(StatusCode::OK, "ready\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz, /readyz\n",
        ),
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads and checks the endpoint's certificate, key and client CA as serving would:
/// what `plainsight config check` and `run`'s start-up use to refuse a bad setting early.
pub fn check_tls(files: &TlsFiles) -> Result<(), HttpError> {
    acceptor(files).map(drop)
}

fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, HttpError> {
    let certs = read_certs(&files.cert)?;
    let key = read_key(&files.key)?;
    // TLS 1.2 and 1.3 with rustls' defaults: forward-secret AEAD suites only.
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in read_certs(ca)? {
                roots.add(c)?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_pem(path: &Path) -> Result<Vec<u8>, HttpError> {
    fs::read(path).map_err(|source| HttpError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    let pem = read_pem(path)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|source| HttpError::Read {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(HttpError::Empty {
            path: path.to_owned(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, HttpError> {
    let pem = read_pem(path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|source| HttpError::Read {
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(|| HttpError::Empty {
            path: path.to_owned(),
            what: "PEM private key",
        })
}

/// Marks the endpoint ready.
pub fn set_ready(shared: &Shared, ready: bool) {
    shared.ready.store(ready, Ordering::Relaxed);
}
