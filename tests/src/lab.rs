//! A reusable lab: a client namespace and a server namespace joined through a bridge
//! in a hub, with real servers (nginx hardened, nginx weak, nginx TLS 1.2-only, plain
//! HTTP, PostgreSQL without TLS) and the clients that exercise them.
//!
//! ```text
//!   [client ns] eth0 ──veth── <cli-hub> ─┐
//!                                        bridge (hub: a namespace, or the host netns)
//!   [server ns] eth0 ──veth── <srv-hub> ─┘
//! ```
//!
//! Every client/server packet crosses the client's hub-side veth (`client_hub_if`)
//! exactly once in each direction, so an agent attached there sees every flow once.
//! The hub has no address: tests put it in a namespace of their own (`Hub::Netns`);
//! the demo puts it in the host netns (`Hub::Host`) so an agent there can serve
//! /metrics on the host's loopback. Addresses exist only inside the client and
//! server namespaces.
//!
//! Everything panics on failure; `Drop` stops the servers and removes the namespaces
//! and links (also after a panic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{require_root, sh, Guard};

pub const CLIENT_IP: &str = "10.210.0.10";
pub const SERVER_IP: &str = "10.210.0.20";
pub const PORT_HTTP: u16 = 80;
pub const PORT_HARDENED: u16 = 443;
pub const PORT_WEAK: u16 = 8443;
/// TLS 1.2 only: a TLS 1.3-only client fails here with a protocol_version alert.
pub const PORT_STRICT: u16 = 9443;
pub const PORT_PG: u16 = 5432;
/// The hardened server again, requiring a client certificate (mutual TLS).
pub const PORT_HARDENED_MTLS: u16 = 4443;
pub const SNI_HARDENED: &str = "hardened.lab.test";
pub const SNI_WEAK: &str = "weak.lab.test";
pub const SNI_STRICT: &str = "strict.lab.test";
/// The SAN of the lab's client certificate (`web-client.pem`).
pub const WEB_CLIENT_SPIFFE: &str = "spiffe://lab.test/ns/lab/sa/web";

/// The suites the hardened server allows (also the hardened TLS 1.2 client's list).
pub const HARDENED_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305";
/// This OpenSSL 3.0 has no 3DES/RC4 even at SECLEVEL=0: static-RSA CBC suites are the
/// weakest it can still negotiate.
pub const WEAK_CIPHERS: &str = "AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0";

/// Where the bridge lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hub {
    /// A namespace of its own, created and removed with the lab (tests).
    Netns,
    /// The host's network namespace (the demo): only the bridge and the hub-side veth
    /// ends are created there, without any address.
    Host,
}

/// The lab. Create with [`Lab::new`], start servers with [`Lab::start_servers`].
#[derive(Debug)]
pub struct Lab {
    pub name: String,
    /// `None`: the hub is the host netns.
    pub hub_ns: Option<String>,
    pub client_ns: String,
    pub server_ns: String,
    pub bridge: String,
    /// The hub-side end of the client's veth: attach the agent here.
    pub client_hub_if: String,
    /// The hub-side end of the server's veth.
    pub server_hub_if: String,
    /// Temp directory: certificates, configs, logs, PostgreSQL cluster.
    pub dir: PathBuf,
    /// The PostgreSQL password that travels in clear (and must never be reported).
    pub pg_password: String,
    nginx: Option<Guard>,
    postgres: bool,
}

/// Deletes namespaces whose name starts with `prefix` (after killing what runs in
/// them) and host links named in `links`. For stale demo labs: `ps-demo-`.
pub fn cleanup_stale(prefix: &str, links: &[&str]) {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for ns in out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
    {
        kill_netns_processes(ns);
        let _ = Command::new("ip").args(["netns", "del", ns]).output();
    }
    for l in links {
        let _ = Command::new("ip")
            .args(["link", "del", l])
            .stderr(Stdio::null())
            .output();
    }
}

/// SIGKILLs every process in namespace `ns` (servers that daemonised, stray clients).
fn kill_netns_processes(ns: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        // SAFETY: kill(2) with a pid read from the kernel; the worst case is ESRCH.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// `ip netns exec <ns> args...`.
pub fn ns_cmd(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

/// Runs `cmd` with a time limit, returning its output (stdin closed unless given).
pub fn run_timeout(mut cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let Some(data) = stdin {
        let mut si = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&data);
        });
    }
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done2 = done.clone();
    let killer = std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if done2.load(std::sync::atomic::Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        true
    });
    let out = child.wait_with_output().expect("wait");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let timed_out = killer.join().unwrap_or(false);
    assert!(!timed_out, "{cmd:?} did not finish within {limit:?}");
    out
}

/// Debian's interpreter: the lab's Python servers (aiosmtpd) are installed for it.
pub const PYTHON: &str = "/usr/bin/python3";

pub const SMTP_PLAIN_PORT: u16 = 2525;
pub const SMTP_STARTTLS_PORT: u16 = 2526;
/// A middlebox in front of SMTP_STARTTLS_PORT that overwrites the STARTTLS capability.
pub const SMTP_STRIPPER_PORT: u16 = 2527;
pub const SMTP_USER: &str = "labsmtp";
pub const SMTP_PASSWORD: &str = "S3cretSmtpPw";

/// Two aiosmtpd servers: one without STARTTLS that takes AUTH in clear, one offering
/// STARTTLS (the lab's weak.pem); and in front of the second, a STARTTLS-stripping
/// middlebox that overwrites the capability with `XXXXXXXA`, as some firewalls' SMTP
/// inspection does. argv = ip, plain port, starttls port, stripper port, cert, key.
/// High ports on purpose: the server speaks first, so only the SYNs say who connected.
pub const SMTP_SERVER: &str = r#"
import sys, ssl, asyncio, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
ip, plain_port, tls_port, strip_port, cert, key = sys.argv[1:7]
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
def accept_any(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
Controller(Sink(), hostname=ip, port=int(plain_port), authenticator=accept_any,
           auth_require_tls=False).start()
Controller(Sink(), hostname=ip, port=int(tls_port), tls_context=ctx).start()

async def pipe(reader, writer, strip):
    try:
        while data := await reader.read(65536):
            # aiosmtpd writes one reply line a segment, so the keyword is never split.
            writer.write(data.replace(b"STARTTLS", b"XXXXXXXA") if strip else data)
            await writer.drain()
    finally:
        writer.close()

async def relay(cr, cw):
    sr, sw = await asyncio.open_connection(ip, int(tls_port))
    await asyncio.gather(pipe(cr, sw, False), pipe(sr, cw, True))

async def stripper():
    server = await asyncio.start_server(relay, ip, int(strip_port))
    print("listening", flush=True)
    await server.serve_forever()

asyncio.run(stripper())
"#;

/// One smtplib session: argv = ip, port, mode, user, password. Modes: `auth` (AUTH
/// PLAIN in clear), `clear` (mail without STARTTLS), `starttls` (upgrade first),
/// `refused` (STARTTLS sent to a server without it), `failed` (STARTTLS accepted, then
/// a command in clear instead of a ClientHello).
pub const SMTP_CLIENT: &str = r#"
import sys, ssl, smtplib
ip, port, mode, user, pw = sys.argv[1:6]
s = smtplib.SMTP(ip, int(port), timeout=10)
s.ehlo("client.lab.test")
if mode == "refused":
    code, _ = s.docmd("STARTTLS")
    assert code == 454, code
    s.quit()
    sys.exit(0)
if mode == "failed":
    code, _ = s.docmd("STARTTLS")
    assert code == 220, code
    s.sock.sendall(b"QUIT\r\n")
    s.close()
    sys.exit(0)
if mode == "starttls":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx)
    s.ehlo("client.lab.test")
if mode == "auth":
    s.login(user, pw)
s.sendmail("a@lab.test", ["b@lab.test"], "Subject: lab\r\n\r\nhello\r\n")
s.quit()
"#;

impl Lab {
    /// Creates the namespaces, veths and bridge. `name` prefixes every namespace
    /// (`<name>-cli`, `<name>-srv`, `<name>-hub`) and, with `Hub::Host`, the host links.
    pub fn new(name: &str, hub: Hub) -> Lab {
        require_root();
        let client_ns = format!("{name}-cli");
        let server_ns = format!("{name}-srv");
        let (hub_ns, bridge, client_hub_if, server_hub_if) = match hub {
            Hub::Netns => (
                Some(format!("{name}-hub")),
                "labbr".to_owned(),
                "cli-hub".to_owned(),
                "srv-hub".to_owned(),
            ),
            Hub::Host => {
                // Host link names are global: keep them short (IFNAMSIZ 16).
                let short: String = name.chars().take(9).collect();
                (
                    None,
                    format!("{short}-br"),
                    format!("{short}-c"),
                    format!("{short}-s"),
                )
            }
        };
        let dir = PathBuf::from(format!("/tmp/{name}"));
        let mut lab = Lab {
            name: name.to_owned(),
            hub_ns,
            client_ns,
            server_ns,
            bridge,
            client_hub_if,
            server_hub_if,
            dir,
            pg_password: format!("Lab-PG-s3cret-{}", std::process::id()),
            nginx: None,
            postgres: false,
        };
        // Leftovers of a crashed run with the same name would make `add` fail.
        lab.teardown();
        let _ = std::fs::remove_dir_all(&lab.dir);
        std::fs::create_dir_all(&lab.dir).expect("lab temp dir");
        sh(&[
            "chmod",
            "755",
            lab.dir.to_str().expect("utf-8 temp dir path"),
        ]);
        if let Some(h) = &lab.hub_ns {
            sh(&["ip", "netns", "add", h]);
        }
        sh(&["ip", "netns", "add", &lab.client_ns]);
        sh(&["ip", "netns", "add", &lab.server_ns]);
        let hub_args: Vec<&str> = match &lab.hub_ns {
            Some(h) => vec!["netns", h.as_str()],
            None => vec![],
        };
        for (hub_if, ns) in [
            (&lab.client_hub_if, &lab.client_ns),
            (&lab.server_hub_if, &lab.server_ns),
        ] {
            let mut a = vec!["ip", "link", "add", hub_if.as_str()];
            a.extend_from_slice(&hub_args);
            a.extend_from_slice(&["type", "veth", "peer", "name", "eth0", "netns", ns]);
            sh(&a);
        }
        lab.hub_ip(&["link", "add", &lab.bridge, "type", "bridge"]);
        lab.hub_ip(&[
            "link",
            "set",
            &lab.bridge,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]);
        for i in [&lab.client_hub_if, &lab.server_hub_if] {
            lab.hub_ip(&["link", "set", i, "master", &lab.bridge]);
            lab.hub_ip(&["link", "set", i, "up"]);
        }
        lab.hub_ip(&["link", "set", &lab.bridge, "up"]);
        if let Some(h) = &lab.hub_ns {
            sh(&["ip", "-n", h, "link", "set", "lo", "up"]);
        }
        for (ns, ip) in [(&lab.client_ns, CLIENT_IP), (&lab.server_ns, SERVER_IP)] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                "eth0",
            ]);
            sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
        }
        // The bridge forwards once its ports are up; make sure before going on.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut a = vec!["bridge"];
            if let Some(h) = &lab.hub_ns {
                a.extend_from_slice(&["-n", h]);
            }
            a.extend_from_slice(&["link", "show"]);
            let out = sh(&a);
            let forwarding = out
                .lines()
                .filter(|l| {
                    let port = l
                        .split(": ")
                        .nth(1)
                        .and_then(|n| n.split(['@', ':']).next())
                        .unwrap_or("");
                    (port == lab.client_hub_if || port == lab.server_hub_if)
                        && l.contains("state forwarding")
                })
                .count();
            if forwarding == 2 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "lab {name}: bridge ports not forwarding: {out}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        lab
    }

    /// `ip <args>` in the hub (its namespace, or the host).
    fn hub_ip(&self, args: &[&str]) {
        let mut a = vec!["ip"];
        if let Some(h) = &self.hub_ns {
            a.extend_from_slice(&["-n", h]);
        }
        a.extend_from_slice(args);
        sh(&a);
    }

    /// A command run in the hub (namespace or host).
    pub fn hub_cmd(&self, args: &[&str]) -> Command {
        match &self.hub_ns {
            Some(h) => ns_cmd(h, args),
            None => {
                let mut c = Command::new(args[0]);
                c.args(&args[1..]);
                c
            }
        }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).to_str().expect("utf-8 path").to_owned()
    }

    /// A lab CA and leaf certificates signed by it, SAN = the SNI clients use:
    /// hardened (EC P-256), weak (RSA 2048), strict (EC P-256); and `web-client` (EC P-256,
    /// SAN = a SPIFFE ID, clientAuth) for the mutual-TLS server. Valid for a year, so no
    /// tls.cert.* finding is expected from them (they are not self-signed either).
    pub fn make_certs(&self) {
        let ca_key = self.path("ca.key");
        let ca = self.path("ca.pem");
        sh(&[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "365",
            "-subj",
            "/CN=Plainsight Lab CA",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
        ]);
        for (leaf, sni, rsa) in [
            ("hardened", SNI_HARDENED, false),
            ("weak", SNI_WEAK, true),
            ("strict", SNI_STRICT, false),
            ("web-client", WEB_CLIENT_SPIFFE, false),
        ] {
            let key = self.path(&format!("{leaf}.key"));
            let csr = self.path(&format!("{leaf}.csr"));
            let crt = self.path(&format!("{leaf}.pem"));
            let ext = self.path(&format!("{leaf}.ext"));
            let (san, usage) = if leaf == "web-client" {
                (format!("URI:{sni}"), "clientAuth")
            } else {
                (format!("DNS:{sni}"), "serverAuth")
            };
            std::fs::write(
                &ext,
                format!(
                    "subjectAltName={san}\nbasicConstraints=CA:FALSE\n\
                     keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n"
                ),
            )
            .unwrap();
            let mut req = vec!["openssl", "req", "-new", "-nodes"];
            if rsa {
                req.extend_from_slice(&["-newkey", "rsa:2048"]);
            } else {
                req.extend_from_slice(&[
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                ]);
            }
            let subj = format!("/CN={}", if leaf == "web-client" { leaf } else { sni });
            req.extend_from_slice(&["-subj", &subj, "-keyout", &key, "-out", &csr]);
            sh(&req);
            let serial = format!("{}", 1000 + std::process::id());
            sh(&[
                "openssl",
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-set_serial",
                &serial,
                "-days",
                "365",
                "-sha256",
                "-extfile",
                &ext,
                "-out",
                &crt,
            ]);
        }
    }

    /// Certificates, nginx (hardened, weak, strict, plain HTTP) and PostgreSQL.
    pub fn start_servers(&mut self) {
        self.make_certs();
        self.start_nginx();
        self.start_postgres();
        for port in [
            PORT_HTTP,
            PORT_HARDENED,
            PORT_HARDENED_MTLS,
            PORT_WEAK,
            PORT_STRICT,
            PORT_PG,
        ] {
            self.wait_port(port);
        }
    }

    fn nginx_conf(&self) -> String {
        let d = self.dir.to_str().expect("utf-8");
        let tls = |name: &str| {
            format!("ssl_certificate {d}/{name}.pem; ssl_certificate_key {d}/{name}.key;\n",)
        };
        format!(
            r#"daemon off;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  default_type text/plain;
  client_body_temp_path {d}/nginx-tmp/body;
  proxy_temp_path {d}/nginx-tmp/proxy;
  fastcgi_temp_path {d}/nginx-tmp/fastcgi;
  uwsgi_temp_path {d}/nginx-tmp/uwsgi;
  scgi_temp_path {d}/nginx-tmp/scgi;
  keepalive_timeout 0;

  # (c) plain HTTP
  server {{
    listen {ip}:{http};
    location / {{ return 200 "plain hello\n"; }}
  }}
  # (a) hardened
  server {{
    listen {ip}:{hardened} ssl;
    server_name {sni_h};
    {tls_h}
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {hc};
    ssl_prefer_server_ciphers off;
    ssl_session_tickets off;
    location / {{ return 200 "hardened hello\n"; }}
  }}
  # (a') hardened, and a client certificate signed by the lab CA required (mutual TLS)
  server {{
    listen {ip}:{hardened_mtls} ssl;
    server_name {sni_h};
    {tls_h}
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {hc};
    ssl_prefer_server_ciphers off;
    ssl_session_tickets off;
    ssl_verify_client on;
    ssl_client_certificate {d}/ca.pem;
    location / {{ return 200 "hardened mtls hello\n"; }}
  }}
  # (b) weak: TLS 1.0/1.1 allowed, static-RSA CBC suites
  server {{
    listen {ip}:{weak} ssl;
    server_name {sni_w};
    {tls_w}
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
    ssl_ciphers '{wc}';
    ssl_prefer_server_ciphers on;
    location / {{ return 200 "weak hello\n"; }}
  }}
  # (e) TLS 1.2 only: TLS 1.3-only clients fail with protocol_version
  server {{
    listen {ip}:{strict} ssl;
    server_name {sni_s};
    {tls_s}
    ssl_protocols TLSv1.2;
    ssl_ciphers {hc};
    ssl_session_tickets off;
    location / {{ return 200 "strict hello\n"; }}
  }}
}}
"#,
            ip = SERVER_IP,
            http = PORT_HTTP,
            hardened = PORT_HARDENED,
            hardened_mtls = PORT_HARDENED_MTLS,
            weak = PORT_WEAK,
            strict = PORT_STRICT,
            sni_h = SNI_HARDENED,
            sni_w = SNI_WEAK,
            sni_s = SNI_STRICT,
            tls_h = tls("hardened"),
            tls_w = tls("weak"),
            tls_s = tls("strict"),
            hc = HARDENED_CIPHERS,
            wc = WEAK_CIPHERS,
        )
    }

    fn start_nginx(&mut self) {
        std::fs::create_dir_all(self.dir.join("nginx-tmp")).unwrap();
        let conf = self.path("nginx.conf");
        std::fs::write(&conf, self.nginx_conf()).unwrap();
        let nginx = which("nginx").unwrap_or_else(|| {
            panic!("nginx not installed: run `cargo xtask setup` (installs nginx-light)")
        });
        let test = ns_cmd(
            &self.server_ns,
            &[&nginx, "-t", "-c", &conf, "-p", &self.path("")],
        )
        .output()
        .unwrap();
        assert!(
            test.status.success(),
            "nginx -t rejects the lab config: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = ns_cmd(
            &self.server_ns,
            &[&nginx, "-c", &conf, "-p", &self.path("")],
        )
        // Its own process group: a Ctrl-C meant for the demo must not stop it before
        // the demo tears down in order.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nginx");
        self.nginx = Some(Guard(child));
    }

    /// A PostgreSQL program of the newest installed major version.
    pub fn pg_bin(tool: &str) -> String {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        let p = dirs
            .iter()
            .rev()
            .map(|d| d.join("bin").join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| {
                panic!(
                    "PostgreSQL's {tool} not found: run `cargo xtask setup` (installs postgresql)"
                )
            });
        p.to_str().expect("utf-8").to_owned()
    }

    /// A throwaway cluster run by user postgres inside the server namespace, on the
    /// veth address, password (cleartext) authentication for TCP clients, no TLS.
    fn start_postgres(&mut self) {
        let pg = self.dir.join("pg");
        std::fs::create_dir_all(&pg).unwrap();
        let pgs = pg.to_str().unwrap().to_owned();
        let pwfile = format!("{pgs}/pwfile");
        std::fs::write(&pwfile, format!("{}\n", self.pg_password)).unwrap();
        sh(&["chown", "-R", "postgres:postgres", &pgs]);
        sh(&["chmod", "700", &pgs]);
        let data = format!("{pgs}/data");
        let initdb = Self::pg_bin("initdb");
        let out = Command::new("runuser")
            .args([
                "-u", "postgres", "--", &initdb, "-D", &data, "-U", "postgres",
            ])
            .args([
                "--pwfile",
                &pwfile,
                "--auth-local=trust",
                "--auth-host=password",
            ])
            .args(["-E", "UTF8", "--no-sync", "--no-instructions"])
            .current_dir(&pg)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // initdb's host lines cover loopback only; the lab client is on the veth subnet.
        let hba = format!("{data}/pg_hba.conf");
        let mut f = std::fs::OpenOptions::new().append(true).open(&hba).unwrap();
        writeln!(f, "host all all {CLIENT_IP}/32 password").unwrap();
        drop(f);
        let opts = format!("-c listen_addresses={SERVER_IP} -c port={PORT_PG} -k {pgs} -c ssl=off");
        let pg_ctl = Self::pg_bin("pg_ctl");
        let out = ns_cmd(
            &self.server_ns,
            &[
                "runuser",
                "-u",
                "postgres",
                "--",
                &pg_ctl,
                "-D",
                &data,
                "-l",
                &format!("{pgs}/log"),
                "-w",
                "-t",
                "30",
                "-o",
                &opts,
                "start",
            ],
        )
        .current_dir(&pg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {} (log: {})",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(format!("{pgs}/log")).unwrap_or_default()
        );
        self.postgres = true;
    }

    /// Waits until `port` on the server accepts connections from the client namespace.
    /// Whether a TCP connection from the client namespace to `SERVER_IP:port` opens.
    /// A plain HTTP server (Python's `http.server`) on the server's port 80, serving the
    /// lab folder: real traffic without the lab's TLS setup. Stopped when dropped.
    pub fn plain_http_server(&self) -> Guard {
        let server = Guard(
            ns_cmd(
                &self.server_ns,
                &[
                    "python3",
                    "-m",
                    "http.server",
                    "80",
                    "--bind",
                    SERVER_IP,
                    "--directory",
                ],
            )
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3 -m http.server"),
        );
        self.wait_port(80);
        server
    }

    pub fn port_open(&self, port: u16) -> bool {
        ns_cmd(
            &self.client_ns,
            &[
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{SERVER_IP}/{port}"),
            ],
        )
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    }

    pub fn wait_port(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.port_open(port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "lab {}: port {SERVER_IP}:{port} never opened (nginx log: {})",
                self.name,
                std::fs::read_to_string(self.path("nginx-error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn client(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut a = vec!["timeout", "15"];
        a.extend_from_slice(args);
        run_timeout(ns_cmd(&self.client_ns, &a), stdin, Duration::from_secs(20))
    }

    fn expect_ok(&self, what: &str, out: &Output, body: &str) {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(body),
            "{what}: status {}, expected {body:?} in stdout\nstdout: {text}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// curl over HTTPS to the hardened server; `tls12` pins TLS 1.2, else TLS 1.3.
    pub fn hardened_curl(&self, tls12: bool) {
        self.hardened_curl_from(tls12, &[]);
    }

    /// curl with the lab's `web-client` certificate to the hardened server that requires
    /// one (mutual TLS); TLS 1.2 when `tls12`, else TLS 1.3.
    pub fn hardened_mtls_curl(&self, tls12: bool) {
        let (cert, key) = (self.path("web-client.pem"), self.path("web-client.key"));
        self.curl_hardened(
            PORT_HARDENED_MTLS,
            tls12,
            &["--cert", &cert, "--key", &key],
            "hardened mtls hello",
        );
    }

    /// [`Lab::hardened_curl`] with extra curl arguments (e.g. `--local-port`).
    pub fn hardened_curl_from(&self, tls12: bool, extra: &[&str]) {
        self.curl_hardened(PORT_HARDENED, tls12, extra, "hardened hello");
    }

    /// curl to a hardened nginx server on `port` (TLS 1.2 when `tls12`, else 1.3), which
    /// must answer `body`.
    fn curl_hardened(&self, port: u16, tls12: bool, extra: &[&str], body: &str) {
        let ca = self.path("ca.pem");
        let resolve = format!("{SNI_HARDENED}:{port}:{SERVER_IP}");
        let url = format!("https://{SNI_HARDENED}:{port}/");
        let mut a = vec![
            "curl",
            "-sS",
            "--fail",
            "--http1.1",
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
        ];
        if tls12 {
            a.extend_from_slice(&["--tlsv1.2", "--tls-max", "1.2"]);
        } else {
            a.extend_from_slice(&["--tlsv1.3"]);
        }
        a.extend_from_slice(extra);
        a.push(&url);
        let out = self.client(&a, None);
        self.expect_ok(&format!("curl to the hardened server :{port}"), &out, body);
    }

    /// `openssl s_client` to the weak server with `flags` (e.g. `-tls1`), an HTTP/1.0
    /// request, and a check that the response came back (the handshake completed).
    pub fn weak_s_client(&self, flags: &[&str]) {
        let target = format!("{SERVER_IP}:{PORT_WEAK}");
        let ca = self.path("ca.pem");
        let mut a = vec![
            "openssl",
            "s_client",
            "-connect",
            &target,
            "-servername",
            SNI_WEAK,
            "-CAfile",
            &ca,
            "-ign_eof",
        ];
        a.extend_from_slice(flags);
        let out = self.client(
            &a,
            Some(format!("GET / HTTP/1.0\r\nHost: {SNI_WEAK}\r\n\r\n").as_bytes()),
        );
        self.expect_ok(
            &format!("s_client {flags:?} to the weak server"),
            &out,
            "weak hello",
        );
    }

    /// The three weak handshakes: TLS 1.0 and 1.1 with AES128-SHA (SECLEVEL=0), and
    /// TLS 1.2 with AES128-SHA.
    pub fn weak_all(&self) {
        self.weak_s_client(&["-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0"]);
        self.weak_s_client(&["-tls1_1", "-cipher", "AES128-SHA:@SECLEVEL=0"]);
        self.weak_s_client(&["-tls1_2", "-cipher", "AES128-SHA"]);
    }

    /// curl over plain HTTP.
    pub fn plain_http(&self) {
        let url = format!("http://{SERVER_IP}:{PORT_HTTP}/");
        let out = self.client(&["curl", "-sS", "--fail", &url], None);
        self.expect_ok("curl over plain HTTP", &out, "plain hello");
    }

    /// Turns TSO, GSO and GRO off on every interface of the lab, so that segments are
    /// MTU-sized as on a wire (the benchmarks' recorder and live runs).
    pub fn offloads_off(&self) {
        let hub = self.hub_ns.as_deref();
        let ends = [
            (Some(self.client_ns.as_str()), "eth0"),
            (Some(self.server_ns.as_str()), "eth0"),
            (hub, self.client_hub_if.as_str()),
            (hub, self.server_hub_if.as_str()),
            (hub, self.bridge.as_str()),
        ];
        for (ns, iface) in ends {
            let off = [
                "ethtool", "-K", iface, "tso", "off", "gso", "off", "gro", "off",
            ];
            match ns {
                Some(ns) => sh(&[&["ip", "netns", "exec", ns][..], &off[..]].concat()),
                None => sh(&off),
            };
        }
    }

    /// One plain HTTP GET of the server's port 80 with Basic credentials (a password in
    /// the clear for the agent to find); panics unless it succeeds.
    pub fn basic_auth_get(&self, user: &str, password: &str) {
        let url = format!("http://{SERVER_IP}:{PORT_HTTP}/");
        let cred = format!("{user}:{password}");
        let out = self.client(&["curl", "-sS", "--fail", "-u", &cred, &url], None);
        assert!(
            out.status.success(),
            "curl with Basic credentials: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// psql with sslmode=disable and a password that travels in clear.
    pub fn psql(&self) {
        let psql = Self::pg_bin("psql");
        let conn = format!(
            "host={SERVER_IP} port={PORT_PG} user=postgres dbname=postgres sslmode=disable"
        );
        let pw = format!("PGPASSWORD={}", self.pg_password);
        let out = self.client(
            &[
                "env",
                &pw,
                &psql,
                "-X",
                "-A",
                "-t",
                &conn,
                "-c",
                "select 'psql ' || 40 + 2",
            ],
            None,
        );
        self.expect_ok("psql sslmode=disable", &out, "psql 42");
    }

    /// `n` TLS 1.3-only handshakes against the TLS 1.2-only server, each failing with a
    /// protocol_version alert. Returns how long they took.
    pub fn failing_handshakes(&self, n: usize) -> Duration {
        let target = format!("{SERVER_IP}:{PORT_STRICT}");
        let start = Instant::now();
        for i in 0..n {
            let out = self.client(
                &[
                    "openssl",
                    "s_client",
                    "-connect",
                    &target,
                    "-servername",
                    SNI_STRICT,
                    "-tls1_3",
                ],
                None,
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && err.contains("alert protocol version"),
                "handshake {i} to the TLS 1.2-only server should fail with protocol_version: \
                 status {}, stderr: {err}",
                out.status
            );
        }
        start.elapsed()
    }

    /// The SMTP servers of [`SMTP_SERVER`] in the server namespace (certificates from
    /// [`Lab::make_certs`]), waited for; stopped when the guard drops.
    pub fn start_smtp(&self) -> Guard {
        let (plain, tls, strip) = (
            SMTP_PLAIN_PORT.to_string(),
            SMTP_STARTTLS_PORT.to_string(),
            SMTP_STRIPPER_PORT.to_string(),
        );
        let log = std::fs::File::create(self.path("smtp.log")).expect("smtp log");
        let child = ns_cmd(
            &self.server_ns,
            &[
                PYTHON,
                "-c",
                SMTP_SERVER,
                SERVER_IP,
                &plain,
                &tls,
                &strip,
                &self.path("weak.pem"),
                &self.path("weak.key"),
            ],
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start aiosmtpd (python3-aiosmtpd)");
        let guard = Guard(child);
        for port in [SMTP_PLAIN_PORT, SMTP_STARTTLS_PORT, SMTP_STRIPPER_PORT] {
            self.wait_port(port);
        }
        guard
    }

    /// One [`SMTP_CLIENT`] session from the client namespace (`mode`: auth, clear,
    /// starttls, refused, failed); panics unless it succeeded.
    pub fn smtp(&self, port: u16, mode: &str, user: &str, password: &str) {
        let port = port.to_string();
        let out = self.client(
            &[
                PYTHON,
                "-c",
                SMTP_CLIENT,
                SERVER_IP,
                &port,
                mode,
                user,
                password,
            ],
            None,
        );
        assert!(
            out.status.success(),
            "smtplib {mode} on {port}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// One round of every scenario (the demo's traffic loop).
    pub fn round(&self, failures: usize) {
        self.hardened_curl(false);
        self.hardened_curl(true);
        self.weak_all();
        self.plain_http();
        self.psql();
        self.failing_handshakes(failures);
    }

    fn teardown(&mut self) {
        if let Some(mut g) = self.nginx.take() {
            // SIGTERM first so nginx removes its pid file, then the guard's SIGKILL.
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(g.0.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(g.0.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(g);
        }
        if self.postgres {
            self.postgres = false;
            let data = self.dir.join("pg/data");
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--", &Self::pg_bin("pg_ctl"), "-D"])
                .arg(&data)
                .args(["-m", "immediate", "-w", "-t", "10", "stop"])
                .current_dir("/")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let mut namespaces = vec![self.client_ns.clone(), self.server_ns.clone()];
        namespaces.extend(self.hub_ns.clone());
        for ns in &namespaces {
            if Path::new(&format!("/var/run/netns/{ns}")).exists() {
                kill_netns_processes(ns);
                let _ = Command::new("ip").args(["netns", "del", ns]).output();
            }
        }
        if self.hub_ns.is_none() {
            for l in [&self.client_hub_if, &self.server_hub_if, &self.bridge] {
                let _ = Command::new("ip")
                    .args(["link", "del", l])
                    .stderr(Stdio::null())
                    .output();
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
        // Test labs leave their temp dir (logs, captures, events) only when failing;
        // the demo keeps its events for a look after Ctrl-C.
        if self.hub_ns.is_some() && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Path of `prog` on PATH (also /usr/sbin, where nginx lives).
/// curl in namespace `ns` (or here): (HTTP status, body), status 0 when nothing
/// answered. `extra` goes before the URL (e.g. `--data-urlencode` for a POST).
pub fn http_get(ns: Option<&str>, url: &str, extra: &[&str]) -> (u16, String) {
    let mut args = vec![
        "curl",
        "-sS",
        "--max-time",
        "5",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let cmd = match ns {
        Some(n) => ns_cmd(n, &args),
        None => {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        }
    };
    let out = run_timeout(cmd, None, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

pub fn which(prog: &str) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"])
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file());
    found.map(|p| p.to_str().expect("utf-8").to_owned())
}

/// `plainsight run` attached to the lab's client-side hub interface, listening on
/// 127.0.0.1:`port` in the hub, events to a file. Stdout and stderr go to files in the
/// lab directory (so the tests can search them for secrets).
#[derive(Debug)]
pub struct LiveAgent {
    pub proc: Guard,
    pub events: String,
    pub stdout: String,
    pub stderr: String,
    pub listen: String,
    hub_ns: Option<String>,
}

impl LiveAgent {
    /// Spawns the agent; does not wait (see [`LiveAgent::wait_ready`]).
    pub fn spawn(lab: &Lab, port: u16, extra: &[&str]) -> LiveAgent {
        let bin = crate::agent_bin();
        let bin = bin.to_str().expect("utf-8 path");
        let events = lab.path("events.jsonl");
        let stdout = lab.path("agent.stdout");
        let stderr = lab.path("agent.stderr");
        let listen = format!("127.0.0.1:{port}");
        let _ = std::fs::remove_file(&events);
        let mut a = vec![
            bin,
            "run",
            "--iface",
            &lab.client_hub_if,
            "--events",
            &events,
            "--listen",
            &listen,
        ];
        a.extend_from_slice(extra);
        let child = lab
            .hub_cmd(&a)
            .env("RUST_LOG", "info")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn plainsight run");
        LiveAgent {
            proc: Guard(child),
            events,
            stdout,
            stderr,
            listen,
            hub_ns: lab.hub_ns.clone(),
        }
    }

    /// Spawns the agent and waits until /readyz answers 200.
    pub fn start(lab: &Lab, port: u16, extra: &[&str]) -> LiveAgent {
        let mut a = Self::spawn(lab, port, extra);
        a.wait_ready();
        a
    }

    pub fn pid(&self) -> u32 {
        self.proc.0.id()
    }

    /// GET `path`: (HTTP status, body). Status 0 when nothing answered.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(
            self.hub_ns.as_deref(),
            &format!("http://{}{path}", self.listen),
            &[],
        )
    }

    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(st)) = self.proc.0.try_wait() {
                panic!(
                    "plainsight run exited before it was ready: {st}\nstderr: {}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            if self.get("/readyz").0 == 200 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "plainsight run: /readyz not 200 within 30 s\nstderr: {}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The /metrics text (panics unless 200).
    pub fn metrics(&self) -> String {
        let (code, body) = self.get("/metrics");
        assert_eq!(code, 200, "/metrics answered {code}: {body}");
        body
    }

    /// Sends `sig` and waits (bounded) for the exit status.
    pub fn signal_and_wait(&mut self, sig: i32) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.proc.0.id() as i32, sig) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.proc.0.try_wait().expect("wait") {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "plainsight run did not exit within 30 s of signal {sig}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Events written so far, parsed.
    pub fn events(&self) -> Vec<serde_json::Value> {
        parse_events(&std::fs::read_to_string(&self.events).unwrap_or_default())
    }
}

#[path = "../../agent/tests/common/schema.rs"]
mod schema;

/// `plainsight pcap --no-summary [ARGS] FILE` with the binary under test: its standard
/// output, once it has exited successfully (the live tests' pcap/live parity runs).
pub fn pcap_stdout(pcap: &str, args: &[&str]) -> String {
    let bin = crate::agent_bin().display().to_string();
    let mut a = vec![bin.as_str(), "pcap", "--no-summary"];
    a.extend_from_slice(args);
    a.push(pcap);
    sh(&a)
}

/// JSON lines → values; panics on a line that is not JSON or not per
/// `docs/event.schema.json`, so every live lab checks the schema of what it reads.
pub fn parse_events(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v = serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event line {l:?}: {e}"));
            let errors = schema::event_errors(&v);
            assert!(
                errors.is_empty(),
                "event not per docs/event.schema.json: {errors:?}\n{l}"
            );
            v
        })
        .collect()
}

/// One sample of the text exposition format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the samples (not the comments) of a Prometheus text exposition.
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad metrics line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let (name, labels) = match head.split_once('{') {
            None => (head.to_owned(), Vec::new()),
            Some((n, rest)) => {
                let rest = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("bad labels in {line:?}"));
                (n.to_owned(), parse_labels(rest, line))
            }
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn parse_labels(s: &str, line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "bad label in {line:?}");
        let mut val = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => val.push('\n'),
                    Some(o) => val.push(o),
                    None => break,
                },
                '"' => break,
                c => val.push(c),
            }
        }
        out.push((key.trim_start_matches(',').to_owned(), val));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    out
}

/// The sum of `name` samples whose labels include all of `want`.
pub fn metric_sum(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && want.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

/// Runs `f` on a thread that has entered network namespace `ns` (`None`: this one).
pub fn in_netns<T: Send + 'static>(ns: Option<&str>, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = ns.map(|ns| format!("/var/run/netns/{ns}"));
    std::thread::spawn(move || {
        if let Some(path) = path {
            let file = std::fs::File::open(&path).unwrap();
            use std::os::fd::AsRawFd as _;
            // SAFETY: setns on a valid netns fd affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}");
        }
        f()
    })
    .join()
    .unwrap()
}

/// Everything attached to `iface`'s TC hooks in `ns`: tcx program names, then the
/// `tc filter show` lines of clsact ingress/egress (empty when nothing is attached).
pub fn attached(ns: Option<&str>, iface: &str) -> Vec<String> {
    use aya::programs::{SchedClassifier, TcAttachType};
    let ifc = iface.to_owned();
    let mut out = in_netns(ns, move || {
        let mut names = Vec::new();
        for hook in [TcAttachType::Ingress, TcAttachType::Egress] {
            let (_, progs) = SchedClassifier::query_tcx(&ifc, hook)
                .unwrap_or_else(|e| panic!("query tcx on {ifc}: {e}"));
            names.extend(
                progs
                    .iter()
                    .map(|p| format!("tcx {hook:?}: {}", p.name_as_str().unwrap_or("?"))),
            );
        }
        names
    });
    for hook in ["ingress", "egress"] {
        let mut a = vec!["tc"];
        if let Some(ns) = ns {
            a.extend_from_slice(&["-n", ns]);
        }
        a.extend_from_slice(&["filter", "show", "dev", iface, hook]);
        out.extend(
            sh(&a)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("tc {hook}: {l}")),
        );
    }
    out
}
