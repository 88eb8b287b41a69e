//! `cargo xtask bench-capture`: records real traffic for the pcap benchmark.
//!
//! The lab of tests/src/lab.rs (client and server namespaces bridged in a hub namespace
//! of their own) with nginx, PostgreSQL, plus Redis and two bulk file servers started
//! here in the server namespace. Offloads are turned off on every veth end and the
//! bridge, so TCP goes in MTU-sized segments as on a real wire; tcpdump in the hub
//! namespace writes everything that crosses the client's hub-side veth. Nothing leaves
//! the namespaces, which are removed at the end (also after a panic).
//!
//! The mix is sized by counts: connections of each kind, and bulk transfers of a given
//! size (half over TLS 1.3, half plain HTTP). The shape (connections, sizes, order) is
//! deterministic; the bytes are not (keys, ports, timing).
//!
//! Usage: bench-capture OUT.pcap --mix handshake|bulk|mixed [--tls13 N] [--tls12 N]
//!        [--tls10 N] [--http N] [--pg N] [--redis N] [--bulk N] [--bulk-mb N]
//! Writes OUT.pcap and OUT.pcap.txt (the parameters, counts and tcpdump's figures).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use plainsight_tests::lab::{
    ns_cmd, Hub, Lab, PORT_HARDENED, PORT_HTTP, PORT_PG, PORT_WEAK, SERVER_IP, SNI_HARDENED,
    SNI_WEAK,
};
use plainsight_tests::Guard;

const PORT_REDIS: u16 = 9950;
const PORT_BULK_TLS: u16 = 9951;
const PORT_BULK_PLAIN: u16 = 9952;

/// Connections of each kind and the bulk transfers.
#[derive(Debug, Clone, Copy)]
struct Mix {
    tls13: u32,
    tls12: u32,
    tls10: u32,
    http: u32,
    pg: u32,
    redis: u32,
    bulk: u32,
    bulk_mb: u32,
}

impl Mix {
    fn preset(name: &str) -> Mix {
        match name {
            // Short connections dominate: nearly every packet is in a handshake.
            "handshake" => Mix {
                tls13: 8000,
                tls12: 6000,
                tls10: 1200,
                http: 2400,
                pg: 1200,
                redis: 1200,
                bulk: 0,
                bulk_mb: 0,
            },
            // A few long transfers carry nearly all the bytes.
            "bulk" => Mix {
                tls13: 100,
                tls12: 100,
                tls10: 20,
                http: 40,
                pg: 20,
                redis: 20,
                bulk: 30,
                bulk_mb: 10,
            },
            "mixed" => Mix {
                tls13: 3000,
                tls12: 2000,
                tls10: 500,
                http: 1500,
                pg: 800,
                redis: 800,
                bulk: 12,
                bulk_mb: 8,
            },
            other => panic!("unknown mix {other:?}: handshake, bulk or mixed"),
        }
    }
}

/// Runs a bash script in the client namespace (one process per kind of traffic, so
/// thousands of connections do not each pay an `ip netns exec`). Returns stdout.
fn client_script(lab: &Lab, what: &str, script: &str) -> String {
    let t0 = Instant::now();
    let out = ns_cmd(&lab.client_ns, &["bash", "-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("run client script");
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "bench-capture: {what} in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Counts the lines equal to `want` and asserts there are `n` of them.
fn expect_lines(what: &str, out: &str, want: &str, n: u32) {
    let got = out.lines().filter(|l| l.trim() == want).count();
    assert_eq!(
        got,
        n as usize,
        "{what}: {got} of {n} succeeded; output tail: {}",
        out.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
    );
}

fn spawn_server(lab: &Lab, args: &[&str], dir: &str) -> Guard {
    Guard(
        ns_cmd(&lab.server_ns, args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}")),
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out_path = args
        .next()
        .expect("usage: bench-capture OUT.pcap --mix NAME [...]");
    let mut mix_name = "mixed".to_owned();
    let mut overrides: Vec<(String, u32)> = Vec::new();
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        if a == "--mix" {
            mix_name = v;
        } else {
            let n: u32 = v.parse().unwrap_or_else(|_| panic!("{a} {v}: not a count"));
            overrides.push((a, n));
        }
    }
    let mut mix = Mix::preset(&mix_name);
    for (k, n) in overrides {
        let slot = match k.as_str() {
            "--tls13" => &mut mix.tls13,
            "--tls12" => &mut mix.tls12,
            "--tls10" => &mut mix.tls10,
            "--http" => &mut mix.http,
            "--pg" => &mut mix.pg,
            "--redis" => &mut mix.redis,
            "--bulk" => &mut mix.bulk,
            "--bulk-mb" => &mut mix.bulk_mb,
            other => panic!("unknown argument {other}"),
        };
        *slot = n;
    }
    eprintln!("bench-capture: mix {mix_name}: {mix:?}");

    let mut lab = Lab::new(
        &format!("ps-bc-cap{}", std::process::id() % 10000),
        Hub::Netns,
    );
    let hub = lab.hub_ns.clone().expect("hub namespace");
    // MTU-sized segments, as on a wire: no TSO/GSO on the senders, no GRO on receive.
    lab.offloads_off();
    lab.start_servers();
    let dir = lab.path("");
    let ca = lab.path("ca.pem");

    // Redis without persistence, and the bulk servers: a file of bulk_mb MB (a fixed
    // pseudo-random pattern, so nothing in the path compresses it), served by
    // `openssl s_server -WWW` (TLS 1.3) and python's http.server (plain HTTP).
    let redis_port = PORT_REDIS.to_string();
    let _redis = spawn_server(
        &lab,
        &[
            "redis-server",
            "--bind",
            SERVER_IP,
            "--port",
            &redis_port,
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
        ],
        &dir,
    );
    let mut _bulk = Vec::new();
    if mix.bulk > 0 {
        let len = mix.bulk_mb as usize * 1_000_000;
        let mut data = Vec::with_capacity(len);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while data.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        data.truncate(len);
        std::fs::write(lab.path("bulk.bin"), &data).expect("write bulk file");
        let accept = PORT_BULK_TLS.to_string();
        let (cert, key) = (lab.path("hardened.pem"), lab.path("hardened.key"));
        _bulk.push(spawn_server(
            &lab,
            &[
                "openssl", "s_server", "-quiet", "-WWW", "-tls1_3", "-accept", &accept, "-cert",
                &cert, "-key", &key,
            ],
            &dir,
        ));
        let plain = PORT_BULK_PLAIN.to_string();
        _bulk.push(spawn_server(
            &lab,
            &[
                "python3",
                "-m",
                "http.server",
                &plain,
                "--bind",
                SERVER_IP,
                "--directory",
                &dir,
            ],
            &dir,
        ));
        lab.wait_port(PORT_BULK_TLS);
        lab.wait_port(PORT_BULK_PLAIN);
    }
    lab.wait_port(PORT_REDIS);

    // tcpdump in the hub: every client/server packet crosses the client's hub-side veth
    // once. A large buffer (-B, KiB) so bulk bursts are not dropped; --immediate-mode so
    // nothing still in a ring block is lost at SIGINT.
    let pcap_tmp = lab.path("capture.pcap");
    let mut tcpdump = Guard(
        ns_cmd(
            &hub,
            &[
                "tcpdump",
                "--immediate-mode",
                "-B",
                "65536",
                "-i",
                &lab.client_hub_if,
                "-s",
                "0",
                "-n",
                "-w",
                &pcap_tmp,
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcpdump"),
    );
    let mut td_err = tcpdump.0.stderr.take().expect("tcpdump stderr");
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&seen).contains("listening on") {
        let n = td_err.read(&mut buf).expect("read tcpdump stderr");
        assert!(n > 0, "tcpdump exited: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let t0 = Instant::now();

    let curl = format!(
        "curl -sS --http1.1 --no-sessionid --cacert {ca} -o /dev/null -w '%{{http_code}}\\n'"
    );
    let hardened = format!(
        "--resolve {SNI_HARDENED}:{PORT_HARDENED}:{SERVER_IP} 'https://{SNI_HARDENED}:{PORT_HARDENED}/[1-{{n}}]'"
    );
    // Each kind is sent in a few rounds, interleaved, so the capture is not one block
    // per protocol.
    const ROUNDS: u32 = 4;
    let pg_script = lab.path("pgbench.sql");
    std::fs::write(&pg_script, "select 1;\n").expect("pgbench script");
    let pgbench = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL installed")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pgbench"))
        .find(|p| p.exists())
        .expect("pgbench (package postgresql)");
    let pgbench = pgbench.to_str().expect("utf-8");
    for round in 0..ROUNDS {
        let part = |total: u32| total / ROUNDS + u32::from(round < total % ROUNDS);
        let n = part(mix.tls13);
        if n > 0 {
            let out = client_script(
                &lab,
                &format!("{n} TLS 1.3 connections"),
                &format!(
                    "{curl} --tlsv1.3 {}",
                    hardened.replace("{n}", &n.to_string())
                ),
            );
            expect_lines("TLS 1.3", &out, "200", n);
        }
        let n = part(mix.tls12);
        if n > 0 {
            let out = client_script(
                &lab,
                &format!("{n} TLS 1.2 connections"),
                &format!(
                    "{curl} --tlsv1.2 --tls-max 1.2 {}",
                    hardened.replace("{n}", &n.to_string())
                ),
            );
            expect_lines("TLS 1.2", &out, "200", n);
        }
        let n = part(mix.tls10);
        if n > 0 {
            // TLS 1.0 with a static-RSA CBC suite: OpenSSL 3 allows it at SECLEVEL=0.
            let out = client_script(
                &lab,
                &format!("{n} TLS 1.0 connections"),
                &format!(
                    "{curl} --tlsv1.0 --tls-max 1.0 --ciphers 'AES128-SHA:@SECLEVEL=0' \
                     --resolve {SNI_WEAK}:{PORT_WEAK}:{SERVER_IP} \
                     'https://{SNI_WEAK}:{PORT_WEAK}/[1-{n}]'"
                ),
            );
            expect_lines("TLS 1.0", &out, "200", n);
        }
        let n = part(mix.http);
        if n > 0 {
            let out = client_script(
                &lab,
                &format!("{n} HTTP connections"),
                &format!("{curl} 'http://{SERVER_IP}:{PORT_HTTP}/[1-{n}]'"),
            );
            expect_lines("HTTP", &out, "200", n);
        }
        let n = part(mix.pg);
        if n > 0 {
            // -C: a new connection (startup, cleartext password, query) per transaction.
            let out = client_script(
                &lab,
                &format!("{n} PostgreSQL connections"),
                &format!(
                    "PGPASSWORD='{}' {pgbench} -n -C -c 1 -t {n} -f {pg_script} \
                     -h {SERVER_IP} -p {PORT_PG} -U postgres postgres",
                    lab.pg_password
                ),
            );
            assert!(
                out.contains(&format!(
                    "number of transactions actually processed: {n}/{n}"
                )),
                "pgbench: {out}"
            );
        }
        let n = part(mix.redis);
        if n > 0 {
            // -k 0: reconnect for every request, so n connections with one SET each.
            client_script(
                &lab,
                &format!("{n} Redis connections"),
                &format!(
                    "redis-benchmark -h {SERVER_IP} -p {PORT_REDIS} -c 1 -k 0 -n {n} -t set -q"
                ),
            );
        }
        let n = part(mix.bulk);
        for i in 0..n {
            let want = (mix.bulk_mb as u64 * 1_000_000).to_string();
            let (what, url) = if (round + i) % 2 == 0 {
                (
                    "bulk over TLS 1.3",
                    format!(
                        "--tlsv1.3 --resolve {SNI_HARDENED}:{PORT_BULK_TLS}:{SERVER_IP} \
                         https://{SNI_HARDENED}:{PORT_BULK_TLS}/bulk.bin"
                    ),
                )
            } else {
                (
                    "bulk over plain HTTP",
                    format!("http://{SERVER_IP}:{PORT_BULK_PLAIN}/bulk.bin"),
                )
            };
            let out = client_script(
                &lab,
                &format!("{what}, {} MB", mix.bulk_mb),
                &format!("curl -sS --cacert {ca} -o /dev/null -w '%{{size_download}}\\n' {url}"),
            );
            expect_lines(what, &out, &want, 1);
        }
    }
    let took = t0.elapsed();
    // Let the last FINs cross, then stop tcpdump and read its counts.
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(tcpdump.0.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    let _ = td_err.read_to_string(&mut rest);
    let _ = tcpdump.0.wait();
    let stats: Vec<&str> = rest.lines().filter(|l| l.contains("packets")).collect();
    let dropped: u64 = stats
        .iter()
        .find(|l| l.contains("dropped by kernel"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    assert_eq!(dropped, 0, "tcpdump dropped packets: {stats:?}");

    if let Some(parent) = std::path::Path::new(&out_path).parent() {
        std::fs::create_dir_all(parent).expect("output dir");
    }
    std::fs::copy(&pcap_tmp, &out_path).expect("copy the capture");
    let bytes = std::fs::metadata(&out_path).map(|m| m.len()).unwrap_or(0);
    let mut meta = String::new();
    let _ = writeln!(meta, "mix: {mix_name}");
    let _ = writeln!(
        meta,
        "connections: tls13 {} tls12 {} tls10 {} http {} pg {} redis {}; bulk {} x {} MB",
        mix.tls13, mix.tls12, mix.tls10, mix.http, mix.pg, mix.redis, mix.bulk, mix.bulk_mb
    );
    let _ = writeln!(
        meta,
        "recorded in {:.1} s in {ROUNDS} interleaved rounds, {bytes} bytes; pgbench and \
         redis-benchmark each add a connection of their own per round",
        took.as_secs_f64()
    );
    for l in &stats {
        let _ = writeln!(meta, "tcpdump: {l}");
    }
    std::fs::write(format!("{out_path}.txt"), &meta).expect("write the description");
    print!("{meta}");
    drop(_bulk);
    drop(_redis);
    drop(lab);
}
