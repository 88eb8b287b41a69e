//! Injected time. In pcap mode the clock is packet time, so results are deterministic.

use serde::{Serialize, Serializer};

/// Nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const NANOS_PER_SEC: u64 = 1_000_000_000;

    pub fn from_secs_nanos(secs: u64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(Self::NANOS_PER_SEC)
                .saturating_add(u64::from(nanos)),
        )
    }

    pub fn secs(self) -> i64 {
        i64::try_from(self.0 / Self::NANOS_PER_SEC).unwrap_or(i64::MAX)
    }

    pub fn subsec_nanos(self) -> u32 {
        // The remainder is < 1e9, so it fits.
        u32::try_from(self.0 % Self::NANOS_PER_SEC).unwrap_or(0)
    }

    /// Seconds as a float, as `ts` in the JSON events (Zeek-style).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / Self::NANOS_PER_SEC as f64
    }

    pub fn saturating_sub(self, other: Timestamp) -> u64 {
        self.0.saturating_sub(other.0)
    }

    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_secs_nanos(d.as_secs(), d.subsec_nanos())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Microsecond precision, like the peers' logs.
        let micros = self.0 / 1_000;
        s.serialize_f64(micros as f64 / 1e6)
    }
}
