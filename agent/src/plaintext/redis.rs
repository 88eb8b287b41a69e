//! Redis serialization protocol (RESP2/RESP3, redis.io "Redis serialization
//! protocol specification"): arrays of bulk strings and inline commands, with
//! `AUTH [user] password` and `HELLO protover AUTH user password`.

use super::wire::{self, lines};
use super::{push_cred, push_verb, Analyzer, Cred, Facts, Verdict};
use crate::flow::Direction;

/// Inline commands that only Redis speaks (memcached shares get/set/incr…).
const REDIS_ONLY: &[&[u8]] = &[
    b"PING",
    b"HELLO",
    b"INFO",
    b"SELECT",
    b"KEYS",
    b"CONFIG",
    b"CLIENT",
    b"CLUSTER",
    b"SUBSCRIBE",
    b"PSUBSCRIBE",
    b"PUBLISH",
    b"MONITOR",
    b"FLUSHALL",
    b"FLUSHDB",
    b"EXISTS",
    b"EXPIRE",
    b"HGET",
    b"HSET",
    b"HGETALL",
    b"LPUSH",
    b"RPUSH",
    b"LRANGE",
    b"SADD",
    b"SMEMBERS",
    b"ZADD",
    b"ZRANGE",
    b"SCAN",
    b"TTL",
    b"TYPE",
    b"MULTI",
    b"EXEC",
    b"DBSIZE",
    b"ECHO",
    b"DEL",
    b"MGET",
    b"MSET",
    b"SETEX",
    b"XADD",
    b"XREAD",
];
/// Inline commands shared with memcached's text protocol.
/// AUTH is shared with POP3/SMTP AUTH.
const SHARED: &[&[u8]] = &[b"GET", b"SET", b"INCR", b"DECR", b"QUIT", b"AUTH"];

fn digits_crlf(rest: &[u8]) -> Option<bool> {
    let n = rest
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'-')
        .count();
    match rest.get(n) {
        None => None,
        Some(b'\r') if n > 0 => Some(true),
        _ => Some(false),
    }
}

pub(crate) fn sniff(dir: Direction, data: &[u8], first: bool) -> Verdict {
    let Some(&lead) = data.first() else {
        return Verdict::Maybe;
    };
    match (dir, lead) {
        (Direction::ToServer, b'*') => match digits_crlf(data.get(1..).unwrap_or(&[])) {
            Some(true) => {
                let after = lines(data, 0).next().map(|(_, e)| e).unwrap_or(data.len());
                match data.get(after) {
                    Some(b'$') => Verdict::Yes,
                    None => Verdict::Maybe,
                    _ => Verdict::No,
                }
            }
            None => Verdict::Maybe,
            Some(false) => Verdict::No,
        },
        (Direction::ToServer, _) => {
            let Some((line, _)) = lines(data, 0).next() else {
                return Verdict::No;
            };
            let word = wire::words(line).next().unwrap_or(&[]).to_ascii_uppercase();
            if REDIS_ONLY.contains(&word.as_slice()) {
                Verdict::Yes
            } else if SHARED.contains(&word.as_slice()) {
                Verdict::Weak
            } else {
                Verdict::No
            }
        }
        // RESP2 bulk/integer/array and RESP3 map, set, attribute, push (same framing).
        (Direction::ToClient, b'$' | b':' | b'*' | b'%' | b'~' | b'|' | b'>') => {
            match digits_crlf(data.get(1..).unwrap_or(&[])) {
                Some(true) => Verdict::Yes,
                None => Verdict::Maybe,
                Some(false) => Verdict::No,
            }
        }
        (Direction::ToClient, b'+' | b'-') => {
            let Some((line, _)) = lines(data, 0).next() else {
                return Verdict::Maybe;
            };
            match line {
                b"+PONG" | b"+QUEUED" => Verdict::Yes,
                _ if line.starts_with(b"-NOAUTH") || line.starts_with(b"-WRONGPASS") => {
                    Verdict::Yes
                }
                _ if line.starts_with(b"-ERR unknown command") => Verdict::Yes,
                b"+OK" if !first => Verdict::Yes,
                b"+OK" => Verdict::Weak,
                _ => Verdict::No,
            }
        }
        _ => Verdict::No,
    }
}

/// At most this many commands are inspected.
const MAX_COMMANDS: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct Redis {
    pos: usize,
    stop: bool,
    commands: usize,
    verbs: Vec<String>,
    creds: Vec<Cred>,
    resp3: bool,
}

/// Parse one RESP array of bulk strings at `data[pos..]`. Returns the end offset
/// and the first `keep` elements (borrowed, never stored), plus the total count.
fn resp_command(data: &[u8], pos: usize, keep: usize) -> Result<(usize, Vec<&[u8]>, usize), bool> {
    let mut it = lines(data, pos);
    let (head, mut end) = it.next().ok_or(false)?;
    let n: usize = head
        .strip_prefix(b"*")
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse().ok())
        .ok_or(true)?;
    if n > 1024 * 1024 {
        return Err(true);
    }
    let mut elems = Vec::new();
    for _ in 0..n {
        let (lenline, after) = lines(data, end).next().ok_or(false)?;
        let len: usize = lenline
            .strip_prefix(b"$")
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse().ok())
            .ok_or(true)?;
        let stop = after.checked_add(len).ok_or(true)?;
        let elem = data.get(after..stop).ok_or(false)?;
        if data.get(stop..stop + 2).ok_or(false)? != b"\r\n" {
            return Err(true);
        }
        if elems.len() < keep {
            elems.push(elem);
        }
        end = stop + 2;
    }
    Ok((end, elems, n))
}

impl Redis {
    fn command(&mut self, args: &[&[u8]], argc: usize) {
        let Some(cmd) = args.first() else { return };
        let cmd = cmd.to_ascii_uppercase();
        push_verb(&mut self.verbs, wire::token(&cmd));
        match cmd.as_slice() {
            // AUTH password | AUTH username password (Redis 6 ACL).
            b"AUTH" if argc == 3 => {
                let user = args.get(1).map(|u| wire::printable(u, 128));
                push_cred(&mut self.creds, Cred::new("auth", user));
            }
            b"AUTH" if argc == 2 => push_cred(&mut self.creds, Cred::new("auth", None)),
            b"HELLO" => {
                if args.get(1).is_some_and(|v| v.starts_with(b"3")) {
                    self.resp3 = true;
                }
                // HELLO protover [AUTH username password] [SETNAME clientname]
                let auth_at = args.iter().position(|a| a.eq_ignore_ascii_case(b"AUTH"));
                if let Some(i) = auth_at {
                    if argc > i + 2 {
                        let user = args.get(i + 1).map(|u| wire::printable(u, 128));
                        push_cred(&mut self.creds, Cred::new("hello_auth", user));
                    }
                }
            }
            _ => {}
        }
    }
}

impl Analyzer for Redis {
    fn feed(&mut self, dir: Direction, data: &[u8]) {
        if dir != Direction::ToServer {
            return;
        }
        while !self.stop && self.commands < MAX_COMMANDS {
            match data.get(self.pos) {
                None => return,
                Some(b'*') => match resp_command(data, self.pos, 4) {
                    Ok((end, args, argc)) => {
                        self.pos = end;
                        self.commands += 1;
                        self.command(&args, argc);
                    }
                    Err(false) => return,
                    Err(true) => self.stop = true,
                },
                Some(_) => {
                    let Some((line, end)) = lines(data, self.pos).next() else {
                        return;
                    };
                    self.pos = end;
                    if line.iter().any(|&b| !wire::is_text_byte(b)) {
                        self.stop = true;
                        return;
                    }
                    let args: Vec<&[u8]> = wire::words(line).take(4).collect();
                    let argc = wire::words(line).count();
                    self.commands += 1;
                    self.command(&args, argc);
                }
            }
        }
    }

    fn facts(&self, f: &mut Facts) {
        f.verbs = self.verbs.clone();
        f.creds = self.creds.clone();
        if self.resp3 {
            f.version = Some("RESP3".into());
        }
        f.done = self.commands >= 8 || !self.creds.is_empty();
    }
}
