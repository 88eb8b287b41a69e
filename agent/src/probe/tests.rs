//! The probe's policy, planner bounds, and the worker against real local listeners.

use super::*;
use crate::config::Config;

fn target(addr: &str, sni: Option<&str>) -> Target {
    Target {
        server: addr.parse().expect("addr"),
        sni: sni.map(str::to_owned),
    }
}

fn cfg(text: &str) -> ProbeConfig {
    Config::parse(text).expect("config").probe
}

#[test]
fn policy_refuses_in_order_and_lists_cannot_readmit_the_node() {
    let policy = Policy::default();
    let own = |ip: IpAddr| ip == "10.0.0.5".parse::<IpAddr>().expect("ip");
    let c = cfg("[probe]\nenabled = true\n");
    let ok = |c: &ProbeConfig, t: &Target| check(c, &policy, 9909, own, t);
    assert_eq!(ok(&c, &target("10.1.2.3:443", Some("a"))), Ok(()));
    // Internal only by default.
    assert_eq!(
        ok(&c, &target("198.51.100.7:443", None)),
        Err(Skip::External)
    );
    // The node itself, and the metrics port anywhere, even when allowed explicitly.
    let open =
        cfg("[probe]\ninternal_only = false\nallow = [\"0.0.0.0/0\"]\nallow_ports = [9909, 443]\n");
    assert_eq!(ok(&open, &target("10.0.0.5:443", None)), Err(Skip::OwnNode));
    assert_eq!(
        ok(&open, &target("10.1.2.3:9909", None)),
        Err(Skip::MetricsPort)
    );
    assert_eq!(ok(&open, &target("198.51.100.7:443", None)), Ok(()));
    // Deny lists win over allow lists.
    let c = cfg("[probe]\nallow = [\"10.0.0.0/8\"]\ndeny = [\"10.9.0.0/16\"]\nallow_ports = [443]\ndeny_ports = [8443]\n");
    assert_eq!(
        ok(&c, &target("10.9.1.1:443", None)),
        Err(Skip::DeniedNetwork)
    );
    assert_eq!(
        ok(&c, &target("10.1.1.1:8443", None)),
        Err(Skip::DeniedPort)
    );
    assert_eq!(
        ok(&c, &target("172.16.0.1:443", None)),
        Err(Skip::NotAllowedNetwork)
    );
    assert_eq!(
        ok(&c, &target("10.1.1.1:444", None)),
        Err(Skip::NotAllowedPort)
    );
    assert_eq!(ok(&c, &target("10.1.1.1:443", None)), Ok(()));
}

#[test]
fn loopback_and_local_addresses_are_the_node() {
    assert!(is_own_address("127.0.0.1".parse().expect("ip")));
    assert!(is_own_address("::1".parse().expect("ip")));
    assert!(is_own_address("0.0.0.0".parse().expect("ip")));
    // TEST-NET-3 is never assigned to this machine.
    assert!(!is_own_address("203.0.113.77".parse().expect("ip")));
}

fn tls13_record(server: &str, sni: Option<&str>, cert: bool) -> FlowRecord {
    let mut r = FlowRecord::for_test("tls", 443);
    r.key.server = server.parse().expect("addr");
    r.tls = Some(TlsInfo {
        version: Some("TLS 1.3".into()),
        sni: sni.map(str::to_owned),
        cert: cert.then(|| Arc::new(CertInfo::default())),
        ..TlsInfo::default()
    });
    r
}

#[test]
fn planner_queues_each_endpoint_once_per_interval_and_counts_what_it_drops() {
    let (tx, mut rx) = mpsc::channel(2);
    let c = cfg("[probe]\nenabled = true\ninterval_secs = 60\nmax_endpoints = 3\n");
    let mut p = Planner::new(c, Policy::default(), 9909, tx);
    let t0 = Instant::now();
    // TLS 1.2 (certificate read) and a TLS 1.3 flow with a certificate: nothing to do.
    let mut tls12 = tls13_record("10.1.0.1:443", Some("a"), true);
    if let Some(t) = tls12.tls.as_mut() {
        t.version = Some("TLS 1.2".into());
    }
    p.offer(&tls12, t0);
    p.offer(&tls13_record("10.1.0.1:443", Some("a"), true), t0);
    assert_eq!(p.queued, 0);
    // The same endpoint twice within the interval: one probe; a new SNI is another endpoint.
    p.offer(&tls13_record("10.1.0.1:443", Some("a"), false), t0);
    p.offer(&tls13_record("10.1.0.1:443", Some("a"), false), t0);
    p.offer(&tls13_record("10.1.0.1:443", Some("b"), false), t0);
    assert_eq!(p.queued, 2);
    // Queue full: dropped and counted, and forgotten so a later flow can offer it again.
    p.offer(&tls13_record("10.1.0.2:443", None, false), t0);
    assert_eq!(p.queue_full, 1);
    assert_eq!(rx.try_recv().ok(), Some(target("10.1.0.1:443", Some("a"))));
    p.offer(&tls13_record("10.1.0.2:443", None, false), t0);
    assert_eq!(p.queued, 3);
    // External: refused once per interval and counted.
    p.offer(&tls13_record("198.51.100.1:443", None, false), t0);
    p.offer(&tls13_record("198.51.100.1:443", None, false), t0);
    assert_eq!(p.skipped[0], 1);
    // max_endpoints = 3: the fourth distinct endpoint evicted the oldest.
    assert!(p.endpoints() <= 3);
    assert!(p.evicted >= 1);
    // After the interval the endpoint is due again.
    let _ = rx.try_recv();
    let _ = rx.try_recv();
    p.offer(
        &tls13_record("10.1.0.1:443", Some("b"), false),
        t0 + Duration::from_secs(61),
    );
    assert_eq!(p.queued, 4);
}

/// A listener that accepts and never answers: every probe to it waits for its
/// handshake timeout. Counts the connections it accepted.
async fn silent_listener() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let n = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&n);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    (addr, n)
}

#[tokio::test]
async fn worker_caps_concurrency_and_times_out_handshakes() {
    use std::sync::atomic::Ordering;
    let (addr, accepted) = silent_listener().await;
    let c = cfg("[probe]\nenabled = true\nmax_concurrent = 2\nrate_per_minute = 6000\nhandshake_timeout_ms = 1500\n");
    let (res_tx, mut res_rx) = mpsc::channel(8);
    let tx = spawn(c, res_tx).expect("spawn");
    for i in 0..4 {
        tx.send(target(&addr.to_string(), Some(&format!("s{i}.lab.test"))))
            .await
            .expect("queue");
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "max_concurrent = 2");
    let first = res_rx.recv().await.expect("result");
    assert_eq!(first.outcome, Outcome::Timeout);
    for _ in 0..3 {
        let r = tokio::time::timeout(Duration::from_secs(5), res_rx.recv())
            .await
            .expect("in time")
            .expect("result");
        assert_eq!(r.outcome, Outcome::Timeout);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn worker_spaces_connection_starts_by_the_rate_limit() {
    use std::sync::atomic::Ordering;
    let (addr, accepted) = silent_listener().await;
    // 30 per minute: one start every 2 s, with room for many at once.
    let c = cfg("[probe]\nenabled = true\nmax_concurrent = 8\nrate_per_minute = 30\nhandshake_timeout_ms = 200\n");
    let (res_tx, _res_rx) = mpsc::channel(8);
    let tx = spawn(c, res_tx).expect("spawn");
    for i in 0..3 {
        tx.send(target(&addr.to_string(), Some(&format!("r{i}.lab.test"))))
            .await
            .expect("queue");
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connect_refused_is_an_outcome() {
    // A port just released: refused.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    let c = cfg("[probe]\nconnect_timeout_ms = 300\n");
    let conn = client::connector().expect("connector");
    let p = client::probe(&conn, &target(&addr.to_string(), None), &c).await;
    assert_eq!(p.outcome, Outcome::ConnectFailed);
}

#[test]
fn probed_record_carries_source_certificate_findings_and_hsts() {
    let mut p = Probed::new(target("10.1.0.9:443", Some("svc.lab.test")));
    p.version = Some("TLS 1.3".into());
    p.alpn = Some("http/1.1".into());
    p.hsts = Some(false);
    p.at = Timestamp::from_secs_nanos(1_000_000, 0);
    p.cert = Some(CertInfo {
        subject: "CN=svc.lab.test".into(),
        issuer: "CN=Lab CA".into(),
        san: vec!["svc.lab.test".into()],
        not_after_unix: 1_000_000 + 10 * 86_400,
        not_before_unix: 0,
        ..CertInfo::default()
    });
    let r = p.record(&Policy::default()).expect("record");
    assert_eq!(r.source, Some("probe"));
    let ids: Vec<&str> = r.findings.iter().map(|f| f.id).collect();
    assert!(ids.contains(&"tls.cert.expiring"), "{ids:?}");
    assert!(ids.contains(&HSTS_MISSING), "{ids:?}");
    assert_eq!(
        r.cert_expiry.as_ref().map(|c| c.not_after_unix),
        Some(1_000_000 + 10 * 86_400)
    );
    let ev = serde_json::to_value(crate::export::events::Event::from_record(&r)).expect("json");
    assert_eq!(ev["source"], "probe");
    assert_eq!(ev["tls"]["sni"], "svc.lab.test");
    // With the header, or without an answer: no HSTS finding.
    p.hsts = Some(true);
    let r = p.record(&Policy::default()).expect("record");
    assert!(r.findings.iter().all(|f| f.id != HSTS_MISSING));
    // No certificate, no record.
    p.cert = None;
    assert!(p.record(&Policy::default()).is_none());
}

/// A listener whose accept queue is full (backlog 0, never accepting, one connection
/// already queued): the kernel drops further SYNs, so a connect hangs.
fn full_listener() -> (SocketAddr, std::os::fd::OwnedFd, Vec<std::net::TcpStream>) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    // SAFETY: fd was just returned by socket(2).
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_in is plain data; all zeroes is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
    let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: sa is a valid sockaddr_in of `len` bytes.
    let rc = unsafe { libc::bind(fd, std::ptr::addr_of!(sa).cast(), len) };
    assert_eq!(rc, 0);
    // SAFETY: fd is a bound socket.
    assert_eq!(unsafe { libc::listen(fd, 0) }, 0);
    let mut got = sa;
    let mut glen = len;
    // SAFETY: got has room for a sockaddr_in.
    let rc = unsafe { libc::getsockname(fd, std::ptr::addr_of_mut!(got).cast(), &mut glen) };
    assert_eq!(rc, 0);
    let addr = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, u16::from_be(got.sin_port)));
    // Fill the queue: connections that complete until the kernel starts dropping SYNs.
    let mut held = Vec::new();
    for _ in 0..4 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    (addr, owned, held)
}

#[tokio::test]
async fn connect_timeout_is_an_outcome() {
    let (addr, _fd, _held) = full_listener();
    let c = cfg("[probe]\nconnect_timeout_ms = 400\n");
    let conn = client::connector().expect("connector");
    let start = Instant::now();
    let p = client::probe(&conn, &target(&addr.to_string(), None), &c).await;
    assert_eq!(p.outcome, Outcome::Timeout);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
}
