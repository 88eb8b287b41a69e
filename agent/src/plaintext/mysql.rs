//! MySQL / MariaDB client/server protocol (MySQL Source Code Documentation,
//! "Connection Phase": Protocol::Handshake v10, Protocol::SSLRequest,
//! Protocol::HandshakeResponse41/320, AuthSwitchRequest).

use super::wire::{self, Reader};
use super::{push_cred, Analyzer, Cred, Extra, Facts, Verdict};
use crate::flow::Direction;
use crate::plaintext::findings::MYSQL_SSL_NOT_USED;

/// Capability flags (include/mysql_com.h).
const CLIENT_CONNECT_WITH_DB: u32 = 0x0000_0008;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x0020_0000;
/// Handshake protocol version 10 (the only one since MySQL 3.21).
const PROTOCOL_10: u8 = 10;
/// An SSLRequest is the first 32 bytes of a HandshakeResponse41.
const SSL_REQUEST_LEN: usize = 32;
/// The auth plugin that sends the password itself.
const CLEAR_PASSWORD: &str = "mysql_clear_password";

/// A packet: 3-byte little-endian length, sequence id, payload.
fn packet(data: &[u8], pos: usize) -> Option<(u8, &[u8], usize)> {
    let mut r = Reader::new(data.get(pos..)?);
    let h = r.take(4)?;
    let len =
        usize::from(*h.first()?) | usize::from(*h.get(1)?) << 8 | usize::from(*h.get(2)?) << 16;
    let seq = *h.get(3)?;
    let payload = r.take(len)?;
    Some((seq, payload, pos + 4 + len))
}

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if data.len() < 6 {
        return if data.len() < 4 || data.get(3) == Some(&0) || data.get(3) == Some(&1) {
            Verdict::Maybe
        } else {
            Verdict::No
        };
    }
    let len = usize::from(data.first().copied().unwrap_or(0))
        | usize::from(data.get(1).copied().unwrap_or(0)) << 8
        | usize::from(data.get(2).copied().unwrap_or(0)) << 16;
    match (dir, data.get(3), data.get(4)) {
        (Direction::ToClient, Some(0), Some(&PROTOCOL_10)) if (30..1024).contains(&len) => {
            let version = data.get(5..).unwrap_or(&[]);
            let n = version.iter().take_while(|&&b| b != 0).count();
            let ok = n > 0
                && n < 64
                && version
                    .get(..n)
                    .is_some_and(|v| v.iter().all(u8::is_ascii_graphic))
                && (version.len() > n || data.len() < 5 + 64);
            if ok && version.len() > n {
                Verdict::Yes
            } else if ok {
                Verdict::Maybe
            } else {
                Verdict::No
            }
        }
        (Direction::ToClient, Some(0), Some(0xff)) if (3..512).contains(&len) => Verdict::Weak,
        (Direction::ToServer, Some(1), _) if (SSL_REQUEST_LEN..4096).contains(&len) => {
            let mut r = Reader::new(data.get(4..).unwrap_or(&[]));
            let caps = r.u32_le().unwrap_or(0);
            let filler = data.get(13..36);
            match filler {
                Some(f) if caps & CLIENT_PROTOCOL_41 != 0 && f.iter().all(|&b| b == 0) => {
                    Verdict::Yes
                }
                None => Verdict::Maybe,
                _ => Verdict::No,
            }
        }
        _ => Verdict::No,
    }
}

#[derive(Debug, Default)]
pub(crate) struct Mysql {
    spos: usize,
    sstop: bool,
    greeting_end: Option<usize>,
    server_caps: Option<u32>,
    server_version: Option<String>,
    server_plugin: Option<String>,
    switch_plugin: Option<String>,
    auth_result: Option<&'static str>,
    cpos: usize,
    cstop: bool,
    client_caps: Option<u32>,
    ssl_request_end: Option<usize>,
    client_plugin: Option<String>,
    user: Option<String>,
    database: Option<String>,
    /// Packets the client sent after its handshake response (auth switch replies).
    client_auth_packets: usize,
    /// A non-empty auth response was sent in the handshake response.
    handshake_auth_nonempty: bool,
    client_after_ssl: Option<bool>,
}

impl Mysql {
    fn server(&mut self, data: &[u8]) {
        while !self.sstop {
            let Some((seq, payload, end)) = packet(data, self.spos) else {
                return;
            };
            self.spos = end;
            let mut r = Reader::new(payload);
            if self.greeting_end.is_none() {
                self.greeting_end = Some(end);
                if r.u8() != Some(PROTOCOL_10) {
                    self.auth_result = Some("error");
                    self.sstop = true;
                    return;
                }
                self.server_version = r.cstr().map(|v| wire::printable(v, 64));
                let _thread = r.skip(4);
                let _scramble1 = r.skip(9);
                let lo = r.u16_be().map(u16::swap_bytes).map(u32::from).unwrap_or(0);
                let _charset_status = r.skip(3);
                let hi = r.u16_be().map(u16::swap_bytes).map(u32::from).unwrap_or(0);
                self.server_caps = Some(lo | hi << 16);
                let scramble_len = r.u8().map(usize::from).unwrap_or(0);
                let _reserved = r.skip(10);
                let _scramble2 = r.skip(scramble_len.saturating_sub(8).max(13));
                self.server_plugin = r.cstr().map(|p| wire::printable(p, 64));
                continue;
            }
            if seq < 2 {
                continue;
            }
            match r.u8() {
                Some(0x00) => {
                    self.auth_result = Some("ok");
                    self.sstop = true;
                }
                Some(0xff) => {
                    self.auth_result = Some("error");
                    self.sstop = true;
                }
                Some(0xfe) => {
                    self.switch_plugin = r.cstr().map(|p| wire::printable(p, 64));
                }
                _ => {}
            }
        }
    }

    fn client(&mut self, data: &[u8]) {
        if let Some(off) = self.ssl_request_end {
            self.client_after_ssl = super::textproto::after(data, off);
            return;
        }
        while !self.cstop {
            let Some((_seq, payload, end)) = packet(data, self.cpos) else {
                if data.len().saturating_sub(self.cpos) > 8192 {
                    self.cstop = true;
                }
                return;
            };
            self.cpos = end;
            if self.client_caps.is_some() {
                self.client_auth_packets += 1;
                if self.client_auth_packets > 4 {
                    self.cstop = true;
                }
                continue;
            }
            let mut r = Reader::new(payload);
            let Some(lo) = r.u16_be().map(u16::swap_bytes) else {
                self.cstop = true;
                return;
            };
            let mut caps = u32::from(lo);
            if caps & CLIENT_PROTOCOL_41 != 0 {
                let hi = r.u16_be().map(u16::swap_bytes).unwrap_or(0);
                caps |= u32::from(hi) << 16;
                self.client_caps = Some(caps);
                if caps & CLIENT_SSL != 0 && payload.len() == SSL_REQUEST_LEN {
                    self.ssl_request_end = Some(end);
                    self.client_after_ssl = super::textproto::after(data, end);
                    self.cstop = true;
                    return;
                }
                let _max_packet_charset_filler = r.skip(4 + 1 + 23);
                self.user = r.cstr().map(|u| wire::printable(u, 128));
                let auth_len = if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
                    lenenc(&mut r)
                } else if caps & CLIENT_SECURE_CONNECTION != 0 {
                    r.u8().map(usize::from)
                } else {
                    r.cstr().map(|s| s.len())
                };
                let auth_len = auth_len.unwrap_or(0);
                self.handshake_auth_nonempty = auth_len > 0;
                if caps & CLIENT_SECURE_CONNECTION != 0
                    || caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0
                {
                    let _ = r.skip(auth_len);
                }
                if caps & CLIENT_CONNECT_WITH_DB != 0 {
                    self.database = r.cstr().map(|d| wire::printable(d, 64));
                }
                if caps & CLIENT_PLUGIN_AUTH != 0 {
                    self.client_plugin = r.cstr().map(|p| wire::printable(p, 64));
                }
            } else {
                // HandshakeResponse320: caps(2), max packet(3), user, auth.
                self.client_caps = Some(caps);
                let _ = r.skip(3);
                self.user = r.cstr().map(|u| wire::printable(u, 128));
                self.handshake_auth_nonempty = r.remaining() > 0;
            }
        }
    }
}

/// Length-encoded integer (Protocol::LengthEncodedInteger).
fn lenenc(r: &mut Reader<'_>) -> Option<usize> {
    match r.u8()? {
        n @ 0..=0xfa => Some(usize::from(n)),
        0xfc => r.u16_be().map(|v| usize::from(v.swap_bytes())),
        0xfd => {
            let b = r.take(3)?;
            Some(
                usize::from(*b.first()?)
                    | usize::from(*b.get(1)?) << 8
                    | usize::from(*b.get(2)?) << 16,
            )
        }
        _ => None,
    }
}

impl Analyzer for Mysql {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        match dir {
            Direction::ToServer => self.client(data),
            Direction::ToClient => self.server(data),
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.version = self.server_version.clone();
        let plugin = self
            .switch_plugin
            .clone()
            .or_else(|| self.client_plugin.clone())
            .or_else(|| self.server_plugin.clone());
        if let Some(p) = &plugin {
            f.attrs.insert("auth_plugin", p.clone());
        }
        if let Some(d) = &self.database {
            f.attrs.insert("database", d.clone());
        }
        if let Some(a) = self.auth_result {
            f.attrs.insert("auth_result", a.into());
        }
        let server_ssl = self.server_caps.map(|c| c & CLIENT_SSL != 0);
        if let Some(s) = server_ssl {
            f.attrs.insert("server_ssl", s.to_string());
        }
        if let Some(end) = self.ssl_request_end {
            let st = f.starttls();
            st.offered = server_ssl;
            st.requested = true;
            st.accepted = Some(true);
            st.tls_followed = self.client_after_ssl;
            f.tls_offsets = Some([end, self.greeting_end.unwrap_or(0)]);
        } else if let Some(caps) = self.client_caps {
            if server_ssl == Some(true) && caps & CLIENT_SSL == 0 {
                f.extras.push(Extra {
                    id: MYSQL_SSL_NOT_USED,
                    evidence: vec![("server_capabilities", "CLIENT_SSL".into())],
                });
            }
            let clear = plugin.as_deref() == Some(CLEAR_PASSWORD);
            let sent = if self.switch_plugin.is_some() {
                self.client_auth_packets > 0
            } else {
                self.handshake_auth_nonempty
            };
            if clear && sent {
                push_cred(&mut f.creds, Cred::new(CLEAR_PASSWORD, self.user.clone()));
            }
        }
        f.done = f.tls_offsets.is_some() || self.auth_result.is_some();
    }
}
