//! HPACK header-block decoding (RFC 7541) for cleartext HTTP/2.
//!
//! Why: HTTP/2 header blocks are compressed. Real clients Huffman-code values
//! and refer to earlier fields through a per-connection dynamic table, so
//! `content-type: application/grpc` or an `authorization` header only become
//! visible once every block of a direction is decoded, in order.
//!
//! Panic-free and bounded on any input: integers, strings, fields per block and
//! the dynamic table all have caps. Decoded names and values are handed to a
//! callback and not kept, except in the dynamic table the protocol requires, and
//! there without the values of credential and cookie fields; `Debug` shows sizes
//! and counts only.

#![deny(clippy::indexing_slicing, clippy::panic, clippy::expect_used)]

use std::collections::VecDeque;
use std::fmt;

/// Initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2; RFC 7541 §4.2).
pub(crate) const DEFAULT_TABLE_SIZE: usize = 4096;
/// Hard cap on the table size a peer's SETTINGS can make us accept (ours).
pub(crate) const MAX_TABLE_SIZE: usize = 64 * 1024;
/// Longest decoded name or value (ours, to bound memory; see RFC 7541 §7.3).
pub(crate) const MAX_STRING: usize = 8 * 1024;
/// Most fields in one header block (ours).
pub(crate) const MAX_FIELDS: usize = 256;
/// Per-entry overhead in the table size (RFC 7541 §4.1).
const ENTRY_OVERHEAD: usize = 32;
/// Integers larger than this are refused: RFC 7541 §5.1 makes values beyond
/// implementation limits decoding errors (no valid length or index is near it).
const MAX_INTEGER: usize = u32::MAX as usize;

/// Why a header block could not be decoded. After an error the decoder's
/// dynamic table is out of step with the encoder's (RFC 9113 §4.3 makes it a
/// connection error): the caller stops decoding that direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HpackError {
    #[error("header block ends inside a representation")]
    Truncated,
    #[error("integer too large")]
    IntegerOverflow,
    #[error("index 0")]
    ZeroIndex,
    #[error("index beyond the static and dynamic tables")]
    BadIndex,
    #[error("EOS symbol inside a Huffman-coded string")]
    HuffmanEos,
    #[error("Huffman padding longer than 7 bits or not all ones")]
    HuffmanPadding,
    #[error("string longer than the decoder's limit")]
    StringTooLong,
    #[error("dynamic table size update above the allowed maximum")]
    TableSizeTooLarge,
    #[error("dynamic table size update after a field")]
    TableSizeUpdateLate,
    #[error("too many fields in one header block")]
    TooManyFields,
}

/// Static table (RFC 7541 Appendix A), index 1 first.
const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Fields whose values are credentials or session tokens. The dynamic table keeps
/// them with their length (the size accounting needs it) but not their value: a later
/// reference decodes to an empty value. The first occurrence has been seen in full.
const SECRET_FIELDS: &[&[u8]] = &[
    b"authorization",
    b"proxy-authorization",
    b"cookie",
    b"set-cookie",
];

/// One dynamic table entry (RFC 7541 §2.3.2).
struct Entry {
    name: Box<[u8]>,
    /// Empty for [`SECRET_FIELDS`].
    value: Box<[u8]>,
    /// The value's length as sent, for the size accounting.
    value_len: usize,
}

impl Entry {
    fn new(name: &[u8], value: &[u8]) -> Self {
        let secret = SECRET_FIELDS.iter().any(|s| name.eq_ignore_ascii_case(s));
        Entry {
            name: name.into(),
            value: if secret { Box::default() } else { value.into() },
            value_len: value.len(),
        }
    }

    /// Size for table accounting (RFC 7541 §4.1).
    fn size(&self) -> usize {
        self.name.len() + self.value_len + ENTRY_OVERHEAD
    }
}

/// The decoding context of one direction of a connection (RFC 7541 §2.2).
pub(crate) struct Decoder {
    /// Newest entry first (RFC 7541 §2.3.3: index 62 is the newest).
    table: VecDeque<Entry>,
    /// Sum of entry sizes (RFC 7541 §4.1).
    size: usize,
    /// Current maximum, changed by size updates (RFC 7541 §4.2, §6.3).
    max_size: usize,
    /// Largest maximum a size update may set (the decoder's SETTINGS value).
    limit: usize,
}

impl fmt::Debug for Decoder {
    /// Counts only: entries may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("entries", &self.table.len())
            .field("size", &self.size)
            .field("max_size", &self.max_size)
            .field("limit", &self.limit)
            .finish()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

/// A string: borrowed from the block, or owned (Huffman-decoded, or a table name).
enum Text<'a> {
    Raw(&'a [u8]),
    Owned(Vec<u8>),
}

impl Text<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Text::Raw(b) => b,
            Text::Owned(v) => v,
        }
    }
}

impl Decoder {
    /// A decoder with the default table size (4096).
    pub(crate) fn new() -> Self {
        Decoder::with_table_size(DEFAULT_TABLE_SIZE)
    }

    /// A decoder whose table starts at `size` octets (capped at [`MAX_TABLE_SIZE`]).
    pub(crate) fn with_table_size(size: usize) -> Self {
        let size = size.min(MAX_TABLE_SIZE);
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: size,
            limit: size,
        }
    }

    /// The decoding side announced SETTINGS_HEADER_TABLE_SIZE = `value`: size
    /// updates up to it are accepted from then on. Never below the default (a
    /// block may have been encoded before the peer saw the setting) and never
    /// above [`MAX_TABLE_SIZE`], whatever the peer says.
    pub(crate) fn set_settings_table_size(&mut self, value: u32) {
        let value = usize::try_from(value).unwrap_or(MAX_TABLE_SIZE);
        self.limit = value.clamp(DEFAULT_TABLE_SIZE, MAX_TABLE_SIZE);
    }

    /// Sum of the dynamic table's entry sizes (RFC 7541 §4.1).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn table_size(&self) -> usize {
        self.size
    }

    /// Entries in the dynamic table.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<(&[u8], &[u8])> {
        self.table.iter().map(|e| (&*e.name, &*e.value)).collect()
    }

    /// Decode one complete header block (all HEADERS/CONTINUATION fragments
    /// concatenated), calling `field(name, value)` for each field in order.
    pub(crate) fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let mut pos = 0usize;
        let mut fields = 0usize;
        while let Some(&b) = block.get(pos) {
            if b & 0xe0 == 0x20 {
                // §6.3 Dynamic Table Size Update: only before the first field (§4.2).
                if fields > 0 {
                    return Err(HpackError::TableSizeUpdateLate);
                }
                let size = integer(block, &mut pos, 5)?;
                if size > self.limit {
                    return Err(HpackError::TableSizeTooLarge);
                }
                self.max_size = size;
                self.evict(0);
                continue;
            }
            fields += 1;
            if fields > MAX_FIELDS {
                return Err(HpackError::TooManyFields);
            }
            if b & 0x80 != 0 {
                // §6.1 Indexed Header Field.
                let index = integer(block, &mut pos, 7)?;
                let (name, value) = self.get(index)?;
                field(name, value);
            } else if b & 0x40 != 0 {
                // §6.2.1 Literal with Incremental Indexing.
                let (name, value) = self.literal(block, &mut pos, 6)?;
                field(name.bytes(), value.bytes());
                self.insert(Entry::new(name.bytes(), value.bytes()));
            } else {
                // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001).
                let (name, value) = self.literal(block, &mut pos, 4)?;
                field(name.bytes(), value.bytes());
            }
        }
        Ok(())
    }

    /// A name and value by index (RFC 7541 §2.3.3): static 1..=61, then dynamic.
    fn get(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        if index == 0 {
            return Err(HpackError::ZeroIndex);
        }
        if let Some(&(n, v)) = STATIC.get(index - 1) {
            return Ok((n, v));
        }
        let e = self
            .table
            .get(index - 1 - STATIC.len())
            .ok_or(HpackError::BadIndex)?;
        Ok((&e.name, &e.value))
    }

    /// A literal field (RFC 7541 §6.2): the name is an index (prefix of
    /// `prefix` bits) or, when that index is 0, a string; then the value.
    fn literal<'b>(
        &self,
        block: &'b [u8],
        pos: &mut usize,
        prefix: u32,
    ) -> Result<(Text<'b>, Text<'b>), HpackError> {
        let index = integer(block, pos, prefix)?;
        let name = if index == 0 {
            string(block, pos)?
        } else {
            Text::Owned(self.get(index)?.0.to_vec())
        };
        let value = string(block, pos)?;
        Ok((name, value))
    }

    /// Add an entry, evicting old ones first (RFC 7541 §4.4). An entry larger
    /// than the table empties it and is not added.
    fn insert(&mut self, e: Entry) {
        let n = e.size();
        if n > self.max_size {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict(n);
        self.size += n;
        self.table.push_front(e);
    }

    /// Evict the oldest entries until `room` more octets fit (RFC 7541 §4.3, §4.4).
    fn evict(&mut self, room: usize) {
        while self.size.saturating_add(room) > self.max_size {
            match self.table.pop_back() {
                Some(old) => self.size = self.size.saturating_sub(old.size()),
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }
}

/// An integer with an N-bit prefix (RFC 7541 §5.1), starting at `block[*pos]`.
fn integer(block: &[u8], pos: &mut usize, prefix: u32) -> Result<usize, HpackError> {
    let mask: u8 = u8::MAX >> (8u32.saturating_sub(prefix));
    let first = *block.get(*pos).ok_or(HpackError::Truncated)? & mask;
    *pos += 1;
    if first < mask {
        return Ok(usize::from(first));
    }
    let mut value = usize::from(mask);
    let mut shift = 0u32;
    loop {
        let b = *block.get(*pos).ok_or(HpackError::Truncated)?;
        *pos += 1;
        // Five continuation bytes carry 35 bits: more than any valid value.
        if shift > 28 {
            return Err(HpackError::IntegerOverflow);
        }
        let add = usize::from(b & 0x7f)
            .checked_shl(shift)
            .ok_or(HpackError::IntegerOverflow)?;
        value = value
            .checked_add(add)
            .filter(|&v| v <= MAX_INTEGER)
            .ok_or(HpackError::IntegerOverflow)?;
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// A string literal (RFC 7541 §5.2): H bit, 7-bit-prefix length, octets.
fn string<'b>(block: &'b [u8], pos: &mut usize) -> Result<Text<'b>, HpackError> {
    let huffman = block.get(*pos).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let len = integer(block, pos, 7)?;
    if len > MAX_STRING {
        return Err(HpackError::StringTooLong);
    }
    let end = pos.checked_add(len).ok_or(HpackError::Truncated)?;
    let raw = block.get(*pos..end).ok_or(HpackError::Truncated)?;
    *pos = end;
    if huffman {
        Ok(Text::Owned(huffman_decode(raw)?))
    } else {
        Ok(Text::Raw(raw))
    }
}

/// The Huffman code (RFC 7541 Appendix B): `(code, bit length)` for symbols
/// 0..=255 and EOS (256), code right-aligned as in the RFC's "as hex" column.
const HUFFMAN: [(u32, u8); 257] = [
    (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    (0x14, 6),       // ' ' (32)
    (0x3f8, 10),     // '!'
    (0x3f9, 10),     // '"'
    (0xffa, 12),     // '#'
    (0x1ff9, 13),    // '$'
    (0x15, 6),       // '%'
    (0xf8, 8),       // '&'
    (0x7fa, 11),     // '''
    (0x3fa, 10),     // '('
    (0x3fb, 10),     // ')'
    (0xf9, 8),       // '*'
    (0x7fb, 11),     // '+'
    (0xfa, 8),       // ','
    (0x16, 6),       // '-'
    (0x17, 6),       // '.'
    (0x18, 6),       // '/'
    (0x0, 5),        // '0' (48)
    (0x1, 5),        // '1'
    (0x2, 5),        // '2'
    (0x19, 6),       // '3'
    (0x1a, 6),       // '4'
    (0x1b, 6),       // '5'
    (0x1c, 6),       // '6'
    (0x1d, 6),       // '7'
    (0x1e, 6),       // '8'
    (0x1f, 6),       // '9'
    (0x5c, 7),       // ':'
    (0xfb, 8),       // ';'
    (0x7ffc, 15),    // '<'
    (0x20, 6),       // '='
    (0xffb, 12),     // '>'
    (0x3fc, 10),     // '?'
    (0x1ffa, 13),    // '@' (64)
    (0x21, 6),       // 'A'
    (0x5d, 7),       // 'B'
    (0x5e, 7),       // 'C'
    (0x5f, 7),       // 'D'
    (0x60, 7),       // 'E'
    (0x61, 7),       // 'F'
    (0x62, 7),       // 'G'
    (0x63, 7),       // 'H'
    (0x64, 7),       // 'I'
    (0x65, 7),       // 'J'
    (0x66, 7),       // 'K'
    (0x67, 7),       // 'L'
    (0x68, 7),       // 'M'
    (0x69, 7),       // 'N'
    (0x6a, 7),       // 'O'
    (0x6b, 7),       // 'P' (80)
    (0x6c, 7),       // 'Q'
    (0x6d, 7),       // 'R'
    (0x6e, 7),       // 'S'
    (0x6f, 7),       // 'T'
    (0x70, 7),       // 'U'
    (0x71, 7),       // 'V'
    (0x72, 7),       // 'W'
    (0xfc, 8),       // 'X'
    (0x73, 7),       // 'Y'
    (0xfd, 8),       // 'Z'
    (0x1ffb, 13),    // '['
    (0x7fff0, 19),   // '\'
    (0x1ffc, 13),    // ']'
    (0x3ffc, 14),    // '^'
    (0x22, 6),       // '_'
    (0x7ffd, 15),    // '`' (96)
    (0x3, 5),        // 'a'
    (0x23, 6),       // 'b'
    (0x4, 5),        // 'c'
    (0x24, 6),       // 'd'
    (0x5, 5),        // 'e'
    (0x25, 6),       // 'f'
    (0x26, 6),       // 'g'
    (0x27, 6),       // 'h'
    (0x6, 5),        // 'i'
    (0x74, 7),       // 'j'
    (0x75, 7),       // 'k'
    (0x28, 6),       // 'l'
    (0x29, 6),       // 'm'
    (0x2a, 6),       // 'n'
    (0x7, 5),        // 'o'
    (0x2b, 6),       // 'p' (112)
    (0x76, 7),       // 'q'
    (0x2c, 6),       // 'r'
    (0x8, 5),        // 's'
    (0x9, 5),        // 't'
    (0x2d, 6),       // 'u'
    (0x77, 7),       // 'v'
    (0x78, 7),       // 'w'
    (0x79, 7),       // 'x'
    (0x7a, 7),       // 'y'
    (0x7b, 7),       // 'z'
    (0x7ffe, 15),    // '{'
    (0x7fc, 11),     // '|'
    (0x3ffd, 14),    // '}'
    (0x1ffd, 13),    // '~'
    (0xffffffc, 28), // (127)
    (0xfffe6, 20),   // (128)
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    (0xffffec, 24), // (144)
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    (0x3fffda, 22), // (160)
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    (0x1fffe0, 21), // (176)
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    (0x3ffffe0, 26), // (192)
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    (0x7fff2, 19), // (208)
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    (0xfffec, 20), // (224)
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    (0x3ffffeb, 26), // (240)
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),  // (255)
    (0x3fffffff, 30), // EOS (256)
];

/// The EOS symbol (RFC 7541 §5.2).
const EOS: u16 = 256;
/// Longest code in bits (RFC 7541 Appendix B).
const MAX_CODE_BITS: usize = 30;

/// The Appendix B code is canonical: codes of one length are consecutive and
/// ordered by symbol, so a code of length `n` is `first[n] + k` for the `k`-th
/// symbol of that length (`symbols[start[n] + k]`).
struct Canonical {
    first: [u32; MAX_CODE_BITS + 1],
    count: [u32; MAX_CODE_BITS + 1],
    start: [u16; MAX_CODE_BITS + 1],
    symbols: [u16; 257],
}

/// Built at compile time from [`HUFFMAN`]: an index out of range here is a
/// build error, not a run-time panic.
#[allow(clippy::indexing_slicing)]
const fn canonical() -> Canonical {
    let mut c = Canonical {
        first: [0; MAX_CODE_BITS + 1],
        count: [0; MAX_CODE_BITS + 1],
        start: [0; MAX_CODE_BITS + 1],
        symbols: [0; 257],
    };
    let mut s = 0;
    while s < HUFFMAN.len() {
        c.count[HUFFMAN[s].1 as usize] += 1;
        s += 1;
    }
    let mut n = 1;
    let mut acc = 0u16;
    while n <= MAX_CODE_BITS {
        c.start[n] = acc;
        acc += c.count[n] as u16;
        n += 1;
    }
    let mut fill = [0u16; MAX_CODE_BITS + 1];
    s = 0;
    while s < HUFFMAN.len() {
        let (code, len) = HUFFMAN[s];
        let len = len as usize;
        if fill[len] == 0 {
            c.first[len] = code;
        }
        c.symbols[(c.start[len] + fill[len]) as usize] = s as u16;
        fill[len] += 1;
        s += 1;
    }
    c
}

const CANONICAL: Canonical = canonical();

/// The symbol whose code is the `len`-bit value `code`, if any.
fn symbol(code: u32, len: usize) -> Option<u16> {
    let first = *CANONICAL.first.get(len)?;
    let count = *CANONICAL.count.get(len)?;
    let k = code.checked_sub(first).filter(|&k| k < count)?;
    let at = usize::from(*CANONICAL.start.get(len)?).checked_add(usize::try_from(k).ok()?)?;
    CANONICAL.symbols.get(at).copied()
}

/// Decode a Huffman-coded string (RFC 7541 §5.2, Appendix B).
fn huffman_decode(src: &[u8]) -> Result<Vec<u8>, HpackError> {
    let mut out = Vec::with_capacity(src.len().saturating_mul(8) / 5);
    let mut code = 0u32;
    let mut len = 0usize;
    for &byte in src {
        for bit in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> bit) & 1);
            len += 1;
            if let Some(sym) = symbol(code, len) {
                if sym == EOS {
                    return Err(HpackError::HuffmanEos);
                }
                if out.len() >= MAX_STRING {
                    return Err(HpackError::StringTooLong);
                }
                out.push(u8::try_from(sym).map_err(|_| HpackError::HuffmanEos)?);
                code = 0;
                len = 0;
            } else if len >= MAX_CODE_BITS {
                // Unreachable with a complete code; refuse rather than overflow.
                return Err(HpackError::HuffmanPadding);
            }
        }
    }
    // Padding: at most 7 bits, the most significant bits of EOS (all ones).
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(HpackError::HuffmanPadding);
    }
    Ok(out)
}

/// A minimal encoder for building test inputs (RFC 7541 §5.1, §5.2, Appendix B).
#[cfg(test)]
#[allow(clippy::indexing_slicing)]
pub(crate) mod encode {
    use super::HUFFMAN;

    /// An integer on a `prefix`-bit prefix, with `high` (the representation's
    /// pattern bits) in the first octet.
    pub(crate) fn integer(high: u8, prefix: u32, mut value: usize) -> Vec<u8> {
        let max = (1usize << prefix) - 1;
        if value < max {
            return vec![high | value as u8];
        }
        let mut out = vec![high | max as u8];
        value -= max;
        while value >= 128 {
            out.push((value % 128) as u8 | 0x80);
            value /= 128;
        }
        out.push(value as u8);
        out
    }

    /// Huffman-code `s` with the Appendix B table, padding with EOS bits.
    pub(crate) fn huffman(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u64, 0u32);
        for &b in s {
            let (code, len) = HUFFMAN[usize::from(b)];
            acc = (acc << len) | u64::from(code);
            bits += u32::from(len);
            while bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        if bits > 0 {
            out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) as u8);
        }
        out
    }

    /// A string literal, Huffman-coded or not.
    pub(crate) fn string(s: &[u8], huffman_coded: bool) -> Vec<u8> {
        let body = if huffman_coded {
            huffman(s)
        } else {
            s.to_vec()
        };
        let mut out = integer(if huffman_coded { 0x80 } else { 0 }, 7, body.len());
        out.extend_from_slice(&body);
        out
    }

    /// A literal field whose name is static/dynamic index `name` (§6.2):
    /// `high` is 0x40 (incremental indexing), 0x00 (without) or 0x10 (never).
    pub(crate) fn literal(high: u8, name: usize, value: &[u8], huffman_coded: bool) -> Vec<u8> {
        let prefix = if high == 0x40 { 6 } else { 4 };
        let mut out = integer(high, prefix, name);
        out.extend_from_slice(&string(value, huffman_coded));
        out
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::encode::huffman as huffman_encode;
    use super::*;
    use crate::plaintext::tests::Rng;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
            .collect()
    }

    fn decode(d: &mut Decoder, block: &[u8]) -> Result<Vec<(String, String)>, HpackError> {
        let mut out = Vec::new();
        d.decode(block, |n, v| {
            out.push((
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ));
        })?;
        Ok(out)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn table(d: &Decoder) -> Vec<(String, String)> {
        d.entries()
            .into_iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn huffman_table_is_the_canonical_code_of_appendix_b() {
        // Kraft equality: the code is complete (sum of 2^-len over 257 symbols is 1).
        let kraft: u64 = HUFFMAN.iter().map(|&(_, n)| 1u64 << (30 - n)).sum();
        assert_eq!(kraft, 1 << 30);
        // Canonical: sorted by (length, symbol), each code is the previous plus
        // one, shifted to the new length. Any mistyped code or length fails this.
        let mut order: Vec<usize> = (0..257).collect();
        order.sort_by_key(|&s| (HUFFMAN[s].1, s));
        let mut code = 0u32;
        for w in order.windows(2) {
            let (a, b) = (HUFFMAN[w[0]], HUFFMAN[w[1]]);
            if w[0] == order[0] {
                assert_eq!(a.0, 0);
            }
            code = (code + 1) << (b.1 - a.1);
            assert_eq!(b.0, code, "symbol {}", w[1]);
        }
        // Spot values printed in the RFC: '/' is 011000, EOS is 30 ones.
        assert_eq!(HUFFMAN[usize::from(b'/')], (0x18, 6));
        assert_eq!(HUFFMAN[256], (0x3fff_ffff, 30));
        // Every symbol decodes back through the canonical lookup.
        for (s, &(code, len)) in HUFFMAN.iter().enumerate() {
            assert_eq!(symbol(code, usize::from(len)), Some(s as u16));
        }
    }

    #[test]
    fn huffman_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(huffman_decode(&huffman_encode(&all)), Ok(all));
        for b in 0..=255u8 {
            assert_eq!(huffman_decode(&huffman_encode(&[b])), Ok(vec![b]));
        }
        assert_eq!(huffman_decode(&[]), Ok(vec![]));
    }

    #[test]
    fn rfc7541_c1_integers() {
        // C.1.1: 10 on a 5-bit prefix; C.1.2: 1337 on 5 bits; C.1.3: 42 on 8 bits.
        let mut pos = 0;
        assert_eq!(integer(&[0b111_01010], &mut pos, 5), Ok(10));
        let mut pos = 0;
        assert_eq!(integer(&[0x1f, 0x9a, 0x0a], &mut pos, 5), Ok(1337));
        assert_eq!(pos, 3);
        let mut pos = 0;
        assert_eq!(integer(&[42], &mut pos, 8), Ok(42));
        // The test encoder agrees.
        assert_eq!(encode::integer(0, 5, 10), vec![10]);
        assert_eq!(encode::integer(0, 5, 1337), vec![0x1f, 0x9a, 0x0a]);
    }

    #[test]
    fn rfc7541_c2_field_representations() {
        // C.2.1 literal with indexing.
        let mut d = Decoder::new();
        let got = decode(
            &mut d,
            &hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
        );
        assert_eq!(got, Ok(pairs(&[("custom-key", "custom-header")])));
        assert_eq!(table(&d), pairs(&[("custom-key", "custom-header")]));
        assert_eq!(d.table_size(), 55);
        // C.2.2 literal without indexing.
        let mut d = Decoder::new();
        let got = decode(&mut d, &hex("040c 2f73 616d 706c 652f 7061 7468"));
        assert_eq!(got, Ok(pairs(&[(":path", "/sample/path")])));
        assert_eq!(d.table_size(), 0);
        // C.2.3 literal never indexed.
        let mut d = Decoder::new();
        let got = decode(&mut d, &hex("1008 7061 7373 776f 7264 0673 6563 7265 74"));
        assert_eq!(got, Ok(pairs(&[("password", "secret")])));
        assert_eq!(d.table_size(), 0);
        // C.2.4 indexed.
        let mut d = Decoder::new();
        assert_eq!(decode(&mut d, &hex("82")), Ok(pairs(&[(":method", "GET")])));
        assert_eq!(d.table_size(), 0);
    }

    /// Three requests on one connection (C.3 plain, C.4 Huffman): same lists and tables.
    fn requests(blocks: [&str; 3]) {
        let mut d = Decoder::new();
        let first = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ];
        assert_eq!(decode(&mut d, &hex(blocks[0])), Ok(pairs(&first)));
        assert_eq!(table(&d), pairs(&[(":authority", "www.example.com")]));
        assert_eq!(d.table_size(), 57);

        let mut second = first.to_vec();
        second.push(("cache-control", "no-cache"));
        assert_eq!(decode(&mut d, &hex(blocks[1])), Ok(pairs(&second)));
        assert_eq!(
            table(&d),
            pairs(&[
                ("cache-control", "no-cache"),
                (":authority", "www.example.com")
            ])
        );
        assert_eq!(d.table_size(), 110);

        let third = [
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ];
        assert_eq!(decode(&mut d, &hex(blocks[2])), Ok(pairs(&third)));
        assert_eq!(
            table(&d),
            pairs(&[
                ("custom-key", "custom-value"),
                ("cache-control", "no-cache"),
                (":authority", "www.example.com")
            ])
        );
        assert_eq!(d.table_size(), 164);
    }

    #[test]
    fn rfc7541_c3_requests_without_huffman() {
        requests([
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ]);
    }

    #[test]
    fn rfc7541_c4_requests_with_huffman() {
        requests([
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ]);
    }

    /// Three responses with SETTINGS_HEADER_TABLE_SIZE 256 (C.5 plain, C.6 Huffman).
    fn responses(blocks: [&str; 3]) {
        let mut d = Decoder::with_table_size(256);
        let date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
        let loc = "https://www.example.com";
        let first = [
            (":status", "302"),
            ("cache-control", "private"),
            ("date", date1),
            ("location", loc),
        ];
        assert_eq!(decode(&mut d, &hex(blocks[0])), Ok(pairs(&first)));
        assert_eq!(
            table(&d),
            pairs(&[
                ("location", loc),
                ("date", date1),
                ("cache-control", "private"),
                (":status", "302")
            ])
        );
        assert_eq!(d.table_size(), 222);

        let mut second = first;
        second[0] = (":status", "307");
        assert_eq!(decode(&mut d, &hex(blocks[1])), Ok(pairs(&second)));
        assert_eq!(
            table(&d),
            pairs(&[
                (":status", "307"),
                ("location", loc),
                ("date", date1),
                ("cache-control", "private")
            ])
        );
        assert_eq!(d.table_size(), 222);

        let date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
        let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
        let third = [
            (":status", "200"),
            ("cache-control", "private"),
            ("date", date2),
            ("location", loc),
            ("content-encoding", "gzip"),
            ("set-cookie", cookie),
        ];
        assert_eq!(decode(&mut d, &hex(blocks[2])), Ok(pairs(&third)));
        // The RFC's table holds the cookie; ours keeps its size but not its value.
        assert_eq!(
            table(&d),
            pairs(&[
                ("set-cookie", ""),
                ("content-encoding", "gzip"),
                ("date", date2)
            ])
        );
        assert_eq!(d.table_size(), 215);
    }

    #[test]
    fn rfc7541_c5_responses_without_huffman() {
        responses([
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
             6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
             54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
             5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
             3d31",
        ]);
    }

    #[test]
    fn rfc7541_c6_responses_with_huffman() {
        responses([
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ]);
    }

    #[test]
    fn size_update_evicts_and_is_bounded() {
        let mut d = Decoder::new();
        decode(
            &mut d,
            &hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
        )
        .expect("c.2.1");
        assert_eq!(d.table_size(), 55);
        // Size update to 0 empties the table; the entry is gone (index 62 fails).
        assert_eq!(decode(&mut d, &[0x20]), Ok(vec![]));
        assert_eq!(d.table_size(), 0);
        assert_eq!(decode(&mut d, &[0xbe]), Err(HpackError::BadIndex));
        // 4096 is allowed, 4097 is not (default SETTINGS_HEADER_TABLE_SIZE).
        assert_eq!(decode(&mut d, &[0x3f, 0xe1, 0x1f]), Ok(vec![]));
        assert_eq!(
            decode(&mut d, &[0x3f, 0xe2, 0x1f]),
            Err(HpackError::TableSizeTooLarge)
        );
        // A peer's SETTINGS raises the limit, but never beyond the hard cap.
        d.set_settings_table_size(u32::MAX);
        assert_eq!(d.limit, MAX_TABLE_SIZE);
        d.set_settings_table_size(0);
        assert_eq!(d.limit, DEFAULT_TABLE_SIZE);
        // An update after a field is refused (RFC 7541 §4.2).
        assert_eq!(
            decode(&mut d, &[0x82, 0x20]),
            Err(HpackError::TableSizeUpdateLate)
        );
        // An entry larger than the table empties it and is not added (§4.4).
        let mut d = Decoder::with_table_size(40);
        decode(&mut d, &hex("4001 6101 62")).expect("a: b"); // 1 + 1 + 32 = 34
        assert_eq!(d.table_size(), 34);
        decode(&mut d, &hex("4001 6108 6262 6262 6262 6262")).expect("a: bbbbbbbb"); // 41
        assert_eq!(d.table_size(), 0);
        assert!(d.entries().is_empty());
    }

    #[test]
    fn name_reference_to_an_entry_evicted_by_the_insert() {
        // Table of 60 octets holding "aaaa: b" (37); a literal with incremental
        // indexing names index 62 and needs the room: the name is still right.
        let mut d = Decoder::with_table_size(60);
        decode(&mut d, &hex("4004 6161 6161 0162")).expect("first");
        let got = decode(&mut d, &hex("7e0a 3030 3030 3030 3030 3030"));
        assert_eq!(got, Ok(pairs(&[("aaaa", "0000000000")])));
        assert_eq!(table(&d), pairs(&[("aaaa", "0000000000")]));
        assert_eq!(d.table_size(), 46);
    }

    #[test]
    fn credentials_stay_out_of_the_dynamic_table() {
        // authorization is static index 23; literal with incremental indexing.
        let value = b"Basic bGFiOlMzY3JldA==";
        let mut d = Decoder::new();
        let first = encode::literal(0x40, 23, value, true);
        let got = decode(&mut d, &first).expect("first");
        assert_eq!(got, pairs(&[("authorization", "Basic bGFiOlMzY3JldA==")]));
        // Kept with its size, without its value; a reference decodes to empty.
        assert_eq!(table(&d), pairs(&[("authorization", "")]));
        assert_eq!(d.table_size(), 13 + value.len() + 32);
        let got = decode(&mut d, &[0x80 | 62]).expect("indexed");
        assert_eq!(got, pairs(&[("authorization", "")]));
    }

    #[test]
    fn malformed_blocks_are_errors() {
        let cases: &[(&[u8], HpackError)] = &[
            // Truncated integers: prefix full, continuation missing or unfinished.
            (&[0xff], HpackError::Truncated),
            (&[0xff, 0x80], HpackError::Truncated),
            (&[0x3f], HpackError::Truncated),
            // Integer overflow: too many continuation bytes.
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
                HpackError::IntegerOverflow,
            ),
            (
                &[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
                HpackError::IntegerOverflow,
            ),
            // Above u32 in five bytes.
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
                HpackError::IntegerOverflow,
            ),
            // Index 0 (for a literal, name index 0 means a literal name instead).
            (&[0x80], HpackError::ZeroIndex),
            // Beyond the static table with an empty dynamic table.
            (&[0xbe], HpackError::BadIndex),
            (&[0xff, 0x80, 0x01], HpackError::BadIndex),
            (&[0x7e, 0x00], HpackError::BadIndex),
            // Literal string shorter than announced.
            (&[0x04, 0x05, b'a', b'b'], HpackError::Truncated),
            (&[0x40, 0x01, b'a'], HpackError::Truncated),
            // Huffman: padding of 8 bits (a whole 0xff byte after "0" = 00000 + 111).
            (&[0x04, 0x82, 0x07, 0xff], HpackError::HuffmanPadding),
            // Huffman: padding not all ones ('0' then 000).
            (&[0x04, 0x81, 0x00], HpackError::HuffmanPadding),
            // Huffman: EOS (30 ones) inside the string.
            (
                &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff],
                HpackError::HuffmanEos,
            ),
            // Table size update above the default limit.
            (&[0x3f, 0xe2, 0x1f], HpackError::TableSizeTooLarge),
            (
                &[0x3f, 0xff, 0xff, 0xff, 0x0f],
                HpackError::TableSizeTooLarge,
            ),
            // String length above the cap.
            (&[0x04, 0x7f, 0x82, 0x40], HpackError::StringTooLong),
        ];
        for (block, want) in cases {
            let mut d = Decoder::new();
            assert_eq!(decode(&mut d, block), Err(*want), "{block:02x?}");
        }
        // Too many fields in one block.
        let mut d = Decoder::new();
        let block = vec![0x82; MAX_FIELDS + 1];
        assert_eq!(decode(&mut d, &block), Err(HpackError::TooManyFields));
        assert_eq!(decode(&mut d, &block[1..]).map(|v| v.len()), Ok(MAX_FIELDS));
    }

    #[test]
    fn huffman_string_of_the_maximum_length() {
        // Raw length at the cap is fine; its Huffman form decodes to the cap too.
        let value = vec![b'a'; MAX_STRING];
        let coded = huffman_encode(&value);
        assert!(coded.len() < MAX_STRING);
        assert_eq!(huffman_decode(&coded).map(|v| v.len()), Ok(MAX_STRING));
        // One more decoded byte than the cap is refused.
        let coded = huffman_encode(&vec![b'0'; MAX_STRING + 1]);
        assert_eq!(huffman_decode(&coded), Err(HpackError::StringTooLong));
    }

    #[test]
    fn never_panics_on_prefixes_flips_and_noise() {
        let blocks = [
            hex(
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ),
            hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
            hex("3fe11f 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf bebe"),
        ];
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let mut errors = 0usize;
        for block in &blocks {
            // Every prefix, on a fresh decoder and on one that keeps its table.
            let mut shared = Decoder::with_table_size(256);
            for n in 0..=block.len() {
                errors += usize::from(Decoder::new().decode(&block[..n], |_, _| {}).is_err());
                let _ = shared.decode(&block[..n], |_, _| {});
                assert!(shared.table_size() <= 256);
            }
            // Random single and multiple byte flips.
            let mut d = Decoder::new();
            for _ in 0..2000 {
                let mut b = block.clone();
                for _ in 0..=(rng.next() % 3) {
                    let i = (rng.next() as usize) % b.len();
                    b[i] ^= 1 << (rng.next() % 8);
                }
                let _ = d.decode(&b, |n, v| {
                    assert!(n.len() <= MAX_STRING && v.len() <= MAX_STRING);
                });
                assert!(d.table_size() <= DEFAULT_TABLE_SIZE);
            }
        }
        // Pure noise.
        let mut d = Decoder::new();
        for _ in 0..2000 {
            let len = (rng.next() % 64) as usize;
            let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = d.decode(&b, |_, _| {});
            assert!(d.table_size() <= DEFAULT_TABLE_SIZE);
        }
        // Some prefixes really failed (the loop did exercise error paths).
        assert!(errors > 10, "{errors}");
    }

    #[test]
    fn debug_shows_no_header_value() {
        let mut d = Decoder::new();
        decode(
            &mut d,
            &hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
        )
        .expect("c.2.1");
        let s = format!("{d:?}");
        assert!(!s.contains("custom"), "{s}");
        assert!(s.contains("entries: 1"), "{s}");
    }
}
