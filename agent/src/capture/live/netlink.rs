//! The two rtnetlink requests aya 0.14 does not offer: count the filters under a clsact
//! hook, and delete the clsact qdisc. Both exist so that netlink mode leaves nothing
//! behind, without shelling out to `tc`.

use std::io;
use std::mem::size_of;

const NETLINK_ROUTE: libc::c_int = 0;
const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_GETTFILTER: u16 = 46;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const TCA_KIND: u16 = 1;
/// `TC_H_CLSACT` (= `TC_H_INGRESS`), the clsact qdisc's parent.
const TC_H_CLSACT: u32 = 0xFFFF_FFF1;
/// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS)`.
pub const PARENT_INGRESS: u32 = 0xFFFF_FFF2;
pub const PARENT_EGRESS: u32 = 0xFFFF_FFF3;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NlMsgHdr {
    len: u32,
    ty: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TcMsg {
    family: u8,
    _pad1: u8,
    _pad2: u16,
    ifindex: i32,
    handle: u32,
    parent: u32,
    info: u32,
}

struct Socket(libc::c_int);

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: the fd is owned by this struct and closed once.
        unsafe { libc::close(self.0) };
    }
}

impl Socket {
    fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket(fd))
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: msg is a valid buffer of msg.len() bytes.
        let n = unsafe { libc::send(self.0, msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Receives one datagram, which may hold several netlink messages.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

fn request(ty: u16, flags: u16, tc: TcMsg, kind: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    // SAFETY: TcMsg is repr(C) plain data with no padding holes beyond named fields.
    body.extend_from_slice(unsafe {
        std::slice::from_raw_parts((&tc as *const TcMsg).cast::<u8>(), size_of::<TcMsg>())
    });
    if let Some(kind) = kind {
        let attr_len = 4 + kind.len();
        body.extend_from_slice(&(attr_len as u16).to_ne_bytes());
        body.extend_from_slice(&TCA_KIND.to_ne_bytes());
        body.extend_from_slice(kind);
        body.resize(body.len().next_multiple_of(4), 0);
    }
    let hdr = NlMsgHdr {
        len: (size_of::<NlMsgHdr>() + body.len()) as u32,
        ty,
        flags,
        seq: 1,
        pid: 0,
    };
    let mut out = Vec::with_capacity(hdr.len as usize);
    out.extend_from_slice(&hdr.len.to_ne_bytes());
    out.extend_from_slice(&hdr.ty.to_ne_bytes());
    out.extend_from_slice(&hdr.flags.to_ne_bytes());
    out.extend_from_slice(&hdr.seq.to_ne_bytes());
    out.extend_from_slice(&hdr.pid.to_ne_bytes());
    out.extend_from_slice(&body);
    out
}

/// Walks the messages of every datagram until DONE or an ACK/error; calls `on_msg`
/// with each message's type.
fn drain(sock: &Socket, mut on_msg: impl FnMut(u16)) -> io::Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = sock.recv(&mut buf)?;
        let mut off = 0;
        while off + size_of::<NlMsgHdr>() <= n {
            let len =
                u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
            let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            if len < size_of::<NlMsgHdr>() || off + len > n {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "truncated netlink message",
                ));
            }
            match ty {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => {
                    let p = off + size_of::<NlMsgHdr>();
                    let errno = buf
                        .get(p..p + 4)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(-libc::EIO);
                    if errno == 0 {
                        return Ok(());
                    }
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                other => on_msg(other),
            }
            off += len.next_multiple_of(4);
        }
    }
}

/// Number of tc filters attached at `parent` ([`PARENT_INGRESS`]/[`PARENT_EGRESS`]).
pub fn filter_count(ifindex: u32, parent: u32) -> io::Result<usize> {
    let sock = Socket::open()?;
    let tc = TcMsg {
        ifindex: ifindex as i32,
        parent,
        ..TcMsg::default()
    };
    sock.send(&request(
        RTM_GETTFILTER,
        NLM_F_REQUEST | NLM_F_DUMP,
        tc,
        None,
    ))?;
    let mut count = 0;
    drain(&sock, |ty| {
        if ty == RTM_NEWTFILTER {
            count += 1;
        }
    })?;
    Ok(count)
}

/// Deletes the clsact qdisc of `ifindex` (and with it any filter still under it).
pub fn delete_clsact(ifindex: u32) -> io::Result<()> {
    let sock = Socket::open()?;
    let tc = TcMsg {
        ifindex: ifindex as i32,
        handle: 0xFFFF_0000,
        parent: TC_H_CLSACT,
        ..TcMsg::default()
    };
    sock.send(&request(
        RTM_DELQDISC,
        NLM_F_REQUEST | NLM_F_ACK,
        tc,
        Some(b"clsact\0"),
    ))?;
    drain(&sock, |_| {})
}
