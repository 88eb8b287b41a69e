//! `Debug` for payload bytes without the bytes.
//!
//! Payload can carry credentials (a `PASS` line, an `Authorization` header), and `Debug`
//! output ends up in logs, panics and test failures. Types that hold payload implement
//! `Debug` by hand and show it through [`Len`]: its length, never its content.

use std::fmt;

/// Formats as `<N bytes>`.
#[derive(Clone, Copy)]
pub struct Len<'a>(pub &'a [u8]);

impl fmt::Debug for Len<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_length_only() {
        assert_eq!(format!("{:?}", Len(b"PASS hunter2\r\n")), "<14 bytes>");
        assert_eq!(format!("{:#?}", Len(b"")), "<0 bytes>");
    }
}
