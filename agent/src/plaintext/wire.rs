//! Small, panic-free helpers shared by the protocol recognisers: a bounds-checked
//! byte reader, line splitting, base64 and SASL PLAIN decoding.
//!
//! Everything here works on borrowed input and returns `Option` instead of
//! indexing, because every byte comes from the network.

/// A forward-only cursor over untrusted bytes. Every read is bounds-checked.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Length and position only: the bytes may be a login.
impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("buf", &crate::redact::Len(self.buf))
            .field("pos", &self.pos)
            .finish()
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    pub(crate) fn u16_be(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    pub(crate) fn u32_be(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }

    pub(crate) fn u32_le(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?))
    }

    pub(crate) fn i32_le(&mut self) -> Option<i32> {
        let b = self.take(4)?;
        Some(i32::from_le_bytes(b.try_into().ok()?))
    }

    /// A NUL-terminated string (the NUL is consumed, not returned).
    pub(crate) fn cstr(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest();
        let n = rest.iter().position(|&b| b == 0)?;
        let s = rest.get(..n)?;
        self.pos = self.pos.checked_add(n + 1)?;
        Some(s)
    }
}

/// Complete lines (terminated by LF; a trailing CR is stripped) starting at `from`.
/// Yields `(line, end_offset_after_terminator)`. An incomplete tail is not yielded.
pub(crate) fn lines(data: &[u8], from: usize) -> impl Iterator<Item = (&[u8], usize)> {
    let mut pos = from;
    std::iter::from_fn(move || {
        let rest = data.get(pos..)?;
        let n = rest.iter().position(|&b| b == b'\n')?;
        let line = rest.get(..n)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += n + 1;
        Some((line, pos))
    })
}

/// Does `data` start like a TLS record (handshake content type 22, major version 3)?
/// RFC 8446 §5.1 / RFC 5246 §6.2.1. `None` when fewer than two bytes are available.
pub(crate) fn starts_tls(data: &[u8]) -> Option<bool> {
    match (data.first(), data.get(1)) {
        (Some(0x16), Some(0x03)) => Some(true),
        (Some(0x16), None) => None,
        (Some(_), _) => Some(false),
        (None, _) => None,
    }
}

/// Printable ASCII or common whitespace.
pub(crate) fn is_text_byte(b: u8) -> bool {
    matches!(b, 0x20..=0x7e | b'\t' | b'\r' | b'\n')
}

/// Fraction of text bytes in `data` (0.0 for empty input).
pub(crate) fn text_ratio(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let n = data.iter().filter(|&&b| is_text_byte(b)).count();
    n as f64 / data.len() as f64
}

/// A protocol verb or keyword, upper-cased, if it is a short alphanumeric token.
/// Anything else (arguments, binary) is refused so that no payload leaks into events.
pub(crate) fn token(word: &[u8]) -> Option<String> {
    if word.is_empty()
        || word.len() > 24
        || !word
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return None;
    }
    Some(String::from_utf8_lossy(word).to_ascii_uppercase())
}

/// A bounded, printable rendering of a non-secret field (host, user, version).
pub(crate) fn printable(field: &[u8], max: usize) -> String {
    field
        .iter()
        .take(max)
        .map(|&b| {
            if (0x20..=0x7e).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

/// Split on ASCII whitespace, skipping empties.
pub(crate) fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

/// Standard base64 (RFC 4648 §4), padding optional, whitespace refused.
/// The output may hold a secret: callers parse it and drop it at once.
pub(crate) fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    }
    let trimmed: &[u8] = {
        let mut end = input.len();
        while end > 0 && input.get(end - 1) == Some(&b'=') {
            end -= 1;
        }
        input.get(..end)?
    };
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in trimmed {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// SASL PLAIN message (RFC 4616 §2): `[authzid] NUL authcid NUL passwd`.
/// Returns the authentication identity and whether a non-empty password was present.
/// The password itself is never returned.
pub(crate) fn sasl_plain_user(msg: &[u8]) -> Option<(String, bool)> {
    let mut parts = msg.splitn(3, |&b| b == 0);
    let _authzid = parts.next()?;
    let authcid = parts.next()?;
    let passwd = parts.next()?;
    Some((printable(authcid, 128), !passwd.is_empty()))
}

/// A username decoded from base64 (SMTP AUTH LOGIN, IMAP AUTHENTICATE LOGIN).
pub(crate) fn base64_text(input: &[u8]) -> Option<String> {
    let raw = base64_decode(input)?;
    Some(printable(&raw, 128))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrip_known_vectors() {
        // RFC 4648 §10 test vectors.
        assert_eq!(base64_decode(b"Zm9vYmFy").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base64_decode(b"Zm9vYg==").as_deref(), Some(&b"foob"[..]));
        assert_eq!(base64_decode(b"Zg").as_deref(), Some(&b"f"[..]));
        assert!(base64_decode(b"Zm9v YmFy").is_none());
    }

    #[test]
    fn sasl_plain_splits_without_returning_secret() {
        let (user, has_pw) = sasl_plain_user(b"\0alice\0hunter2").expect("plain");
        assert_eq!(user, "alice");
        assert!(has_pw);
        assert!(sasl_plain_user(b"nonul").is_none());
    }

    #[test]
    fn lines_skip_incomplete_tail() {
        let v: Vec<_> = lines(b"a\r\nbb\ncc", 0).collect();
        assert_eq!(v, vec![(&b"a"[..], 3), (&b"bb"[..], 6)]);
    }

    #[test]
    fn reader_never_panics_past_end() {
        let mut r = Reader::new(b"\x01\x02");
        assert_eq!(r.u32_be(), None);
        assert_eq!(r.u16_be(), Some(0x0102));
        assert_eq!(r.u8(), None);
        assert_eq!(r.cstr(), None);
    }
}
