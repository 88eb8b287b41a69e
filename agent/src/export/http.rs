//! The HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, optionally over TLS with client
//! certificates. A monitor of plaintext traffic should not have to be one itself.
//!
//! Bounded, so a client cannot tie the agent up: at most [`Limits::max_connections`] at
//! once (more are closed at accept and counted as
//! `plainsight_dropped_total{stage="http",reason="connection_limit"}`), request headers
//! within [`Limits::header_timeout`] and a whole connection, TLS handshake included,
//! within [`Limits::connection_timeout`]. A connection cut by a timeout before it was
//! answered once counts as `reason="timeout"`; one idling out after answers (a scraper's
//! keep-alive) is a normal close.

use std::convert::Infallible;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::metrics::Metrics;

/// State the endpoint reads; the agent updates it.
#[derive(Debug, Default)]
pub struct Shared {
    pub metrics: Mutex<Metrics>,
    /// Set once the programs are attached and the first poll succeeded.
    pub ready: AtomicBool,
    /// Connections closed at accept because [`Limits::max_connections`] were open. Kept
    /// here, not in `metrics`, which the agent overwrites with its own copy every tick.
    pub refused: AtomicU64,
    /// Connections cut by a timeout.
    pub timed_out: AtomicU64,
}

/// The endpoint's bounds. Prometheus opens one connection per scrape (or keeps one
/// alive), so a handful is plenty; the timeouts are far above a scrape on a LAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    /// Time for a request's headers to arrive (hyper's header read timeout).
    pub header_timeout: Duration,
    /// Time a connection may live, TLS handshake and every request on it included.
    pub connection_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 16,
            header_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(30),
        }
    }
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
    limits: Limits,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .field("limits", &self.limits)
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
        Ok(Endpoint {
            listener,
            tls,
            limits: Limits::default(),
        })
    }

    /// Replaces the default [`Limits`] (tests use short timeouts).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` changes.
    pub async fn serve(self, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
        let limits = self.limits;
        let slots = Arc::new(Semaphore::new(limits.max_connections));
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
            // Refused, not queued: a queue would hold sockets (and file descriptors)
            // for clients that are already misbehaving.
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                shared.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "HTTP connection refused: connection limit");
                drop(stream);
                continue;
            };
            let shared = Arc::clone(&shared);
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let answered = Arc::new(AtomicU64::new(0));
                let served = tokio::time::timeout(
                    limits.connection_timeout,
                    connection(
                        stream,
                        tls,
                        Arc::clone(&shared),
                        limits,
                        Arc::clone(&answered),
                    ),
                )
                .await;
                let result = match served {
                    Ok(r) => r,
                    Err(_) => Err(ConnError::Timeout("connection")),
                };
                if let Err(error) = result {
                    if matches!(error, ConnError::Timeout(_))
                        && answered.load(Ordering::Relaxed) == 0
                    {
                        shared.timed_out.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::debug!(%peer, %error, "HTTP connection ended with an error");
                }
                drop(permit);
            });
        }
    }
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("{0} timeout")]
    Timeout(&'static str),
    #[error("TLS handshake: {0}")]
    Tls(io::Error),
    #[error("{0}")]
    Http(hyper::Error),
}

impl From<hyper::Error> for ConnError {
    fn from(e: hyper::Error) -> Self {
        if e.is_timeout() {
            ConnError::Timeout("header read")
        } else {
            ConnError::Http(e)
        }
    }
}

/// One connection: TLS handshake when configured, then HTTP/1.1 requests.
async fn connection(
    stream: tokio::net::TcpStream,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    limits: Limits,
    answered: Arc<AtomicU64>,
) -> Result<(), ConnError> {
    let svc = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        answered.fetch_add(1, Ordering::Relaxed);
        async move { Ok::<_, Infallible>(route(&req, &shared)) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    match tls {
        Some(acceptor) => {
            let s = acceptor.accept(stream).await.map_err(ConnError::Tls)?;
            builder.serve_connection(TokioIo::new(s), svc).await?;
        }
        None => builder.serve_connection(TokioIo::new(stream), svc).await?,
    }
    Ok(())
}

fn route(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match req.uri().path() {
        "/metrics" => {
            let refused = shared.refused.load(Ordering::Relaxed) as f64;
            let timed_out = shared.timed_out.load(Ordering::Relaxed) as f64;
            let render = |m: &mut Metrics| {
                m.dropped.set(["http", "connection_limit"], refused);
                m.dropped.set(["http", "timeout"], timed_out);
                m.render()
            };
            let body = match shared.metrics.lock() {
                Ok(mut m) => render(&mut m),
                Err(poisoned) => render(&mut poisoned.into_inner()),
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    use super::*;

    async fn start(limits: Limits) -> (SocketAddr, Arc<Shared>, watch::Sender<bool>) {
        let ep = Endpoint::bind(SocketAddr::from(([127, 0, 0, 1], 0)), None)
            .await
            .unwrap()
            .with_limits(limits);
        let addr = ep.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (tx, rx) = watch::channel(false);
        tokio::spawn(ep.serve(Arc::clone(&shared), rx));
        (addr, shared, tx)
    }

    /// Reads until the server closes; the bytes read, or `None` if it did not close
    /// within `within`.
    async fn read_to_close(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        tokio::time::timeout(within, s.read_to_end(&mut out))
            .await
            .ok()
            .map(|r| {
                // A reset counts as closed too.
                let _ = r;
                out
            })
    }

    async fn get_metrics(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let body = read_to_close(&mut s, Duration::from_secs(5)).await.unwrap();
        String::from_utf8(body).unwrap()
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let limits = Limits {
            header_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let (addr, shared, _stop) = start(limits).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        let t0 = Instant::now();
        slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        // Keep dribbling bytes, as slowloris does: each one would reset a read timeout.
        let cut = async {
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if slow.write_all(b"a").await.is_err() {
                    return true;
                }
                let mut b = [0u8; 64];
                match tokio::time::timeout(Duration::from_millis(1), slow.read(&mut b)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return true,
                    _ => {}
                }
            }
            false
        }
        .await;
        let took = t0.elapsed();
        assert!(cut, "the slow client was still connected after 2 s");
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
            "cut after {took:?}, expected ~300 ms"
        );
        assert_eq!(shared.timed_out.load(Ordering::Relaxed), 1);
        let m = get_metrics(addr).await;
        assert!(
            m.contains("plainsight_dropped_total{stage=\"http\",reason=\"timeout\"} 1"),
            "{m}"
        );
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_are_refused_and_counted() {
        let limits = Limits {
            max_connections: 2,
            header_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(10),
        };
        let (addr, shared, _stop) = start(limits).await;
        // Two idle connections hold both slots (the server has accepted them once a
        // request on a third is refused).
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let _ = extra
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let got = read_to_close(&mut extra, Duration::from_secs(3))
            .await
            .expect("the third connection was not closed");
        assert!(got.is_empty(), "the third connection got an answer");
        assert_eq!(shared.refused.load(Ordering::Relaxed), 1);

        // Freeing a slot lets the next client in, and the refusal is in the metrics.
        drop(held.pop());
        let deadline = Instant::now() + Duration::from_secs(3);
        let m = loop {
            let m = get_metrics(addr).await;
            if m.starts_with("HTTP/1.1 200") || Instant::now() > deadline {
                break m;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(m.starts_with("HTTP/1.1 200"), "{m}");
        assert!(
            m.contains("plainsight_dropped_total{stage=\"http\",reason=\"connection_limit\"}"),
            "{m}"
        );
        let refused = shared.refused.load(Ordering::Relaxed);
        assert!(
            m.contains(&format!(
                "plainsight_dropped_total{{stage=\"http\",reason=\"connection_limit\"}} {refused}"
            )),
            "{m}"
        );
    }

    #[tokio::test]
    async fn a_connection_is_cut_after_its_lifetime() {
        let limits = Limits {
            connection_timeout: Duration::from_millis(400),
            ..Limits::default()
        };
        let (addr, shared, _stop) = start(limits).await;
        // Silent (a TLS client that never says hello would be the same): cut, counted.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let t0 = Instant::now();
        let got = read_to_close(&mut silent, Duration::from_secs(3))
            .await
            .expect("the silent connection outlived its timeout");
        assert!(got.is_empty());
        assert!(t0.elapsed() >= Duration::from_millis(300));
        assert_eq!(shared.timed_out.load(Ordering::Relaxed), 1);

        // A complete request, keep-alive: answered, then cut, but not a drop.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let t0 = Instant::now();
        let got = read_to_close(&mut s, Duration::from_secs(3))
            .await
            .expect("the connection outlived its timeout");
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
        assert!(t0.elapsed() >= Duration::from_millis(300));
        assert_eq!(shared.timed_out.load(Ordering::Relaxed), 1);
    }
}
