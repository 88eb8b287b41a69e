//! SSH protocol version exchange (RFC 4253 §4.2): `SSH-protoversion-softwareversion`.
//! SSH is encrypted: it is recognised so that it is not called unknown, and it
//! never raises a plaintext finding.

use super::wire::{self, lines};
use super::{Analyzer, Facts, Verdict};
use crate::flow::Direction;

pub(crate) fn sniff(_dir: Direction, data: &[u8], _first: bool) -> Verdict {
    if data.starts_with(b"SSH-") {
        Verdict::Yes
    } else if b"SSH-".starts_with(data) {
        Verdict::Maybe
    } else {
        Verdict::No
    }
}

/// Also used as the inert analyzer for classes without a parser.
#[derive(Debug, Default)]
pub(crate) struct Ssh {
    banner: [Option<String>; 2],
}

impl Analyzer for Ssh {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        let Some(slot) = self.banner.get_mut(dir.index()) else {
            return;
        };
        if slot.is_none() {
            // RFC 4253 §4.2 allows other lines before the banner (server side).
            if let Some((line, _)) = lines(data, 0).take(8).find(|(l, _)| l.starts_with(b"SSH-")) {
                *slot = Some(wire::printable(line, 64));
            }
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.encrypted = true;
        let client = self.banner.first().cloned().flatten();
        let server = self.banner.get(1).cloned().flatten();
        if let Some(b) = &client {
            f.attrs.insert("client_banner", b.clone());
        }
        if let Some(b) = &server {
            f.attrs.insert("server_banner", b.clone());
        }
        f.version = client
            .or(server)
            .and_then(|b| b.split('-').nth(1).map(str::to_owned));
        f.done = self.banner.iter().all(Option::is_some);
    }
}
