//! Hostile traffic for the flood tests: a raw-socket sender (AF_PACKET, packet(7)) that
//! writes crafted frames out of an interface inside a test namespace, frame builders for
//! spoofed FINs, SYNs, UDP datagrams and ClientHellos with random server names, and the
//! agent process's memory as the kernel reports it.
//!
//! Every frame goes to [`crate::lab::SERVER_IP`] from sources inside the lab's /24, with a
//! destination MAC no interface has: the lab bridge floods it to the server's port, whose
//! stack drops it, so the server never answers and only the agent (on the client's hub
//! port) sees it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::time::{Duration, Instant};

use crate::frames::{ipv4, L4};
use crate::lab::{in_netns, SERVER_IP};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// Port the floods aim at on the server (discard, RFC 863): nothing listens there.
pub const FLOOD_PORT: u16 = 9;
/// Distinct source ports per spoofed source address.
const PORTS_PER_ADDR: u32 = 60_000;

/// A raw AF_PACKET socket bound to one interface of one namespace.
#[derive(Debug)]
pub struct RawSender {
    fd: OwnedFd,
    ifindex: i32,
    /// Frames written.
    pub sent: u64,
}

impl RawSender {
    /// Opens the socket inside `ns` (it stays bound to that namespace's `iface`).
    pub fn open(ns: &str, iface: &str) -> RawSender {
        let iface = iface.to_owned();
        let (fd, ifindex) = in_netns(Some(ns), move || {
            let name = std::ffi::CString::new(iface.clone()).unwrap();
            // SAFETY: if_nametoindex reads a NUL-terminated string we own.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
            assert!(ifindex > 0, "no interface {iface}");
            // SAFETY: a plain socket(2) call; the descriptor is owned right after.
            let raw = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    i32::from((libc::ETH_P_ALL as u16).to_be()),
                )
            };
            assert!(
                raw >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: raw is a fresh descriptor nobody else owns.
            (unsafe { OwnedFd::from_raw_fd(raw) }, ifindex as i32)
        });
        RawSender {
            fd,
            ifindex,
            sent: 0,
        }
    }

    /// Writes one Ethernet frame; retries while the device queue is full.
    pub fn send(&mut self, frame: &[u8]) {
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.ifindex;
        addr.sll_halen = 6;
        loop {
            // SAFETY: sendto with a buffer and an address we own, sizes given.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    std::ptr::addr_of!(addr).cast(),
                    size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if n >= 0 {
                self.sent += 1;
                return;
            }
            let e = std::io::Error::last_os_error();
            assert_eq!(
                e.raw_os_error(),
                Some(libc::ENOBUFS),
                "raw send on ifindex {}: {e}",
                self.ifindex
            );
            std::thread::yield_now();
        }
    }

    /// Sends `count` frames built by `frame(i)`, at most `per_sec` a second (0: as fast
    /// as the socket takes them). Returns how long it took.
    pub fn flood(
        &mut self,
        count: u32,
        per_sec: u32,
        mut frame: impl FnMut(u32) -> Vec<u8>,
    ) -> Duration {
        let start = Instant::now();
        for i in 0..count {
            if per_sec > 0 && i % 100 == 0 {
                let due = Duration::from_secs_f64(f64::from(i) / f64::from(per_sec));
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            self.send(&frame(i));
        }
        start.elapsed()
    }
}

/// The spoofed source of flood packet `i`: 10.210.0.100 upwards, one port each.
pub fn source(i: u32) -> (Ipv4Addr, u16) {
    let host = 100 + (i / PORTS_PER_ADDR) as u8;
    let port = 1024 + (i % PORTS_PER_ADDR) as u16;
    (Ipv4Addr::new(10, 210, 0, host), port)
}

fn server() -> Ipv4Addr {
    SERVER_IP.parse().unwrap()
}

/// A TCP segment of flood tuple `i` with `flags`, carrying `payload`.
pub fn tcp(i: u32, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
    let (src, sport) = source(i);
    let l4 = L4::tcp(sport, FLOOD_PORT, seq, 1, flags);
    ipv4(&[], src, server(), 0, &l4, payload)
}

/// A spoofed payload-less FIN+ACK on a new tuple.
pub fn spoofed_fin(i: u32) -> Vec<u8> {
    tcp(i, FIN | ACK, 1000, b"")
}

/// A SYN on a new tuple (the kernel makes a flow entry; no event reaches userspace).
pub fn syn(i: u32) -> Vec<u8> {
    tcp(i, SYN, 1000, b"")
}

/// A UDP datagram with 32 bytes of pseudo-random payload on a new tuple.
pub fn udp(i: u32) -> Vec<u8> {
    let (src, sport) = source(i);
    let mut x = i.wrapping_mul(2_654_435_761) | 1;
    let payload: Vec<u8> = (0..32)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    ipv4(
        &[],
        src,
        server(),
        0,
        &L4::Udp {
            sport,
            dport: FLOOD_PORT,
        },
        &payload,
    )
}

/// A server name no one uses, different for each `i`: `<hex>.flood.lab.test`.
pub fn random_sni(i: u32) -> String {
    format!("{:08x}.flood.lab.test", i.wrapping_mul(2_654_435_761))
}

/// A TLS 1.2 ClientHello record (RFC 8446 §4.1.2) offering two suites, with
/// `server_name` (RFC 6066 §3).
pub fn client_hello(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut sni_ext = Vec::new();
    sni_ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes()); // list
    sni_ext.push(0); // host_name
    sni_ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni_ext.extend_from_slice(name);
    let mut exts = vec![0, 0]; // server_name
    exts.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
    exts.extend_from_slice(&sni_ext);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x5a; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0, 4, 0xc0, 0x2f, 0xc0, 0x2b]); // two ECDHE-GCM suites
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// `/proc/<pid>/status` field in bytes (`VmRSS`, `VmHWM`: peak resident).
pub fn proc_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Bytes the kernel charges for the BPF maps `pid` holds open (`memlock` in each map
/// descriptor's fdinfo), by map name prefix where the kernel shows it.
pub fn map_memlock(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|t| t.contains("map_type:"))
        .filter_map(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("memlock:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}

/// Appends one JSON line to `$PLAINSIGHT_STRESS_REPORT` (set by `cargo xtask stress`,
/// which writes docs/reliability.md from them); nothing when unset.
pub fn report(line: &serde_json::Value) {
    let Some(path) = std::env::var_os("PLAINSIGHT_STRESS_REPORT") else {
        return;
    };
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the stress report");
    writeln!(f, "{line}").expect("write the stress report");
}
