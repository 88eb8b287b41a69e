//! The Initial CRYPTO stream of one direction, put back together from frames that may
//! come in any order, repeat (retransmissions) or overlap, across packets and datagrams.
//!
//! Bounded: the contiguous prefix and the pieces waiting for a gap to fill together hold at
//! most [`MAX_HELD`] bytes; what would pass it is refused and counted.

/// Most bytes held per direction. A ClientHello with post-quantum key shares and ECH is a
/// few KiB; 16 KiB leaves room for large ones while bounding a peer that announces far
/// offsets.
pub const MAX_HELD: usize = 16 * 1024;

/// One direction's CRYPTO stream at the Initial level.
#[derive(Default)]
pub struct Stream {
    /// Bytes from offset 0 on, contiguous.
    data: Vec<u8>,
    /// Pieces past a gap: (offset, bytes), not overlapping `data`.
    pending: Vec<(usize, Vec<u8>)>,
    /// Frames (or parts of frames) refused because of [`MAX_HELD`].
    pub refused: u64,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("data", &crate::redact::Len(&self.data))
            .field("pending", &self.pending.len())
            .field("refused", &self.refused)
            .finish()
    }
}

impl Stream {
    /// Bytes held, contiguous and pending.
    pub fn held(&self) -> usize {
        self.data.len() + self.pending.iter().map(|(_, p)| p.len()).sum::<usize>()
    }

    /// The contiguous bytes from offset 0.
    pub fn contiguous(&self) -> &[u8] {
        &self.data
    }

    /// Adds a CRYPTO frame's bytes at `offset`.
    pub fn add(&mut self, offset: u64, bytes: &[u8]) {
        let Ok(offset) = usize::try_from(offset) else {
            self.refused += 1;
            return;
        };
        let Some(end) = offset.checked_add(bytes.len()) else {
            self.refused += 1;
            return;
        };
        if end <= self.data.len() || bytes.is_empty() {
            return; // already have it
        }
        if end > MAX_HELD || self.held() + bytes.len() > MAX_HELD {
            self.refused += 1;
            return;
        }
        if offset <= self.data.len() {
            let skip = self.data.len() - offset;
            self.data
                .extend_from_slice(bytes.get(skip..).unwrap_or_default());
            self.merge_pending();
        } else {
            self.pending.push((offset, bytes.to_vec()));
        }
    }

    /// Moves pending pieces that now touch the contiguous prefix into it.
    fn merge_pending(&mut self) {
        loop {
            let have = self.data.len();
            let Some(i) = self.pending.iter().position(|(o, _)| *o <= have) else {
                return;
            };
            let (o, p) = self.pending.swap_remove(i);
            if let Some(tail) = p.get(have - o..) {
                self.data.extend_from_slice(tail);
            }
        }
    }
}
