//! Kafka protocol (kafka.apache.org/protocol: request header v0-v2, ApiVersions
//! key 18, SaslHandshake key 17, SaslAuthenticate key 36; KIP-43 raw SASL
//! tokens after SaslHandshake v0; KIP-152 SaslAuthenticate). A SASL handshake
//! on a connection this module can read is SASL_PLAINTEXT by definition.

use super::wire::{self, Reader};
use super::{push_cred, push_verb, Analyzer, Cred, Extra, Facts, Verdict};
use crate::flow::Direction;
use crate::plaintext::findings::KAFKA_SASL_PLAINTEXT;

const SASL_HANDSHAKE: u16 = 17;
const API_VERSIONS: u16 = 18;
const SASL_AUTHENTICATE: u16 = 36;
/// Highest api key we accept when sniffing (Kafka 3.x defines up to ~75).
const MAX_API_KEY: u16 = 80;
/// Largest request we believe (socket.request.max.bytes default 100 MiB).
const MAX_REQUEST: u32 = 100 * 1024 * 1024;

fn api_name(key: u16) -> String {
    match key {
        0 => "Produce".into(),
        1 => "Fetch".into(),
        2 => "ListOffsets".into(),
        3 => "Metadata".into(),
        8 => "OffsetCommit".into(),
        9 => "OffsetFetch".into(),
        10 => "FindCoordinator".into(),
        11 => "JoinGroup".into(),
        12 => "Heartbeat".into(),
        13 => "LeaveGroup".into(),
        14 => "SyncGroup".into(),
        SASL_HANDSHAKE => "SaslHandshake".into(),
        API_VERSIONS => "ApiVersions".into(),
        19 => "CreateTopics".into(),
        SASL_AUTHENTICATE => "SaslAuthenticate".into(),
        k => format!("Api{k}"),
    }
}

/// A parsed request header (v1/v2 layout; v0 has no client id and is not used
/// by any current client).
struct Header<'a> {
    api_key: u16,
    api_version: u16,
    client_id: Option<&'a [u8]>,
    body: Reader<'a>,
}

fn header(frame: &[u8]) -> Option<Header<'_>> {
    let mut r = Reader::new(frame);
    let api_key = r.u16_be()?;
    let api_version = r.u16_be()?;
    let _corr = r.u32_be()?;
    let id_len = r.u16_be()? as i16;
    let client_id = if id_len < 0 {
        None
    } else {
        Some(r.take(usize::try_from(id_len).ok()?)?)
    };
    Some(Header {
        api_key,
        api_version,
        client_id,
        body: r,
    })
}

/// Is this request version "flexible" (header v2 with tagged fields, KIP-482)?
fn flexible(key: u16, version: u16) -> bool {
    match key {
        API_VERSIONS => version >= 3,
        SASL_AUTHENTICATE => version >= 2,
        SASL_HANDSHAKE => false,
        3 => version >= 9,
        0 => version >= 9,
        1 => version >= 12,
        _ => false,
    }
}

fn uvarint(r: &mut Reader<'_>) -> Option<usize> {
    let mut v: usize = 0;
    for shift in (0..35).step_by(7) {
        let b = r.u8()?;
        v |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

pub(crate) fn sniff(dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if dir != Direction::ToServer {
        return Verdict::No;
    }
    let mut r = Reader::new(data);
    let Some(len) = r.u32_be() else {
        return if data.first().is_none_or(|&b| b == 0) {
            Verdict::Maybe
        } else {
            Verdict::No
        };
    };
    if !(10..=MAX_REQUEST).contains(&len) {
        return Verdict::No;
    }
    let frame = r.rest();
    let frame = frame.get(..len as usize).unwrap_or(frame);
    let Some(h) = header(frame) else {
        return if data.len() < 64 {
            Verdict::Maybe
        } else {
            Verdict::No
        };
    };
    if h.api_key > MAX_API_KEY || h.api_version > 20 {
        return Verdict::No;
    }
    match h.client_id {
        Some(id) if !id.is_empty() && id.iter().all(|b| b.is_ascii_graphic()) => Verdict::Yes,
        None if matches!(h.api_key, API_VERSIONS | SASL_HANDSHAKE | 3) => Verdict::Weak,
        _ => Verdict::No,
    }
}

#[derive(Debug, Default)]
pub(crate) struct Kafka {
    pos: usize,
    stop: bool,
    requests: usize,
    verbs: Vec<String>,
    client_id: Option<String>,
    mechanism: Option<String>,
    handshake_version: Option<u16>,
    /// After SaslHandshake v0 the next frame is a raw SASL token (KIP-43).
    raw_token_next: bool,
    authenticated: bool,
    creds: Vec<Cred>,
}

const MAX_REQUESTS: usize = 32;

impl Kafka {
    fn token(&mut self, token: &[u8]) {
        self.authenticated = true;
        if self.mechanism.as_deref() == Some("PLAIN") {
            if let Some((user, true)) = wire::sasl_plain_user(token) {
                push_cred(&mut self.creds, Cred::new("sasl_plain", Some(user)));
            }
        }
    }

    fn request(&mut self, frame: &[u8]) {
        if self.raw_token_next {
            self.raw_token_next = false;
            self.token(frame);
            return;
        }
        let Some(mut h) = header(frame) else {
            self.stop = true;
            return;
        };
        push_verb(&mut self.verbs, Some(api_name(h.api_key)));
        if self.client_id.is_none() {
            self.client_id = h.client_id.map(|c| wire::printable(c, 64));
        }
        if flexible(h.api_key, h.api_version) {
            // Header tagged fields.
            let n = uvarint(&mut h.body).unwrap_or(0);
            for _ in 0..n.min(16) {
                let _tag = uvarint(&mut h.body);
                let size = uvarint(&mut h.body).unwrap_or(0);
                let _ = h.body.skip(size);
            }
        }
        match h.api_key {
            SASL_HANDSHAKE => {
                let len = h.body.u16_be().unwrap_or(0);
                if let Some(m) = h.body.take(usize::from(len)) {
                    self.mechanism = Some(wire::printable(m, 32));
                }
                self.handshake_version = Some(h.api_version);
                self.raw_token_next = h.api_version == 0;
            }
            SASL_AUTHENTICATE => {
                let token = if h.api_version >= 2 {
                    uvarint(&mut h.body).and_then(|n| h.body.take(n.checked_sub(1)?))
                } else {
                    h.body.u32_be().and_then(|n| h.body.take(n as usize))
                };
                if let Some(t) = token {
                    self.token(t);
                }
            }
            _ => {}
        }
    }
}

impl Analyzer for Kafka {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        if dir != Direction::ToServer {
            return;
        }
        while !self.stop && self.requests < MAX_REQUESTS {
            let mut r = Reader::new(data.get(self.pos..).unwrap_or(&[]));
            let Some(len) = r.u32_be() else { return };
            if len > MAX_REQUEST {
                self.stop = true;
                return;
            }
            let Some(frame) = r.take(len as usize) else {
                return;
            };
            self.pos += 4 + len as usize;
            self.requests += 1;
            self.request(frame);
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        if let Some(c) = &self.client_id {
            f.attrs.insert("client_id", c.clone());
        }
        if let Some(m) = &self.mechanism {
            f.attrs.insert("sasl_mechanism", m.clone());
        }
        if let Some(v) = self.handshake_version {
            let mut evidence = vec![("handshake_version", v.into())];
            if let Some(m) = &self.mechanism {
                evidence.push(("mechanism", m.as_str().into()));
            }
            f.extras.push(Extra {
                id: KAFKA_SASL_PLAINTEXT,
                evidence,
            });
        }
        f.done = self.authenticated || self.requests >= 4;
    }
}
