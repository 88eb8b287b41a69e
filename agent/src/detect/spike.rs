//! Handshake-failure spikes per destination service, against a learned baseline.
//!
//! Time is cut into fixed windows. Each service keeps an EWMA of failures per window;
//! a spike starts when the current window's failures reach both `min_failures` and
//! `threshold × (baseline + 1)` (the `+ 1` keeps a quiet service from alarming on its
//! first stray failure). It ends when a window closes below that bar. The finding rides
//! on the flow whose failure started the spike, so it keeps the per-flow event schema.
//!
//! Service names come from the peer (the SNI), so they are an attacker's open set: each is
//! cut to [`MAX_SERVICE_LEN`] bytes, and at `max_services` the least recently seen service
//! without an active spike is evicted for the newcomer (counted in `evicted`). Only when
//! every tracked service is mid-spike does a newcomer fall into `other` (`overflow`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use crate::detect::{FindingDef, Severity};
use crate::time::Timestamp;

/// Raised by the live agent on the flow whose failure starts a spike.
pub const FAILURE_SPIKE: FindingDef = FindingDef {
    id: "tls.handshake.failure_spike",
    severity: Severity::High,
    severity_note: "",
    title: "Spike of TLS handshake failures",
    description: "TLS handshake failures to one service rise well above its learned baseline \
                  (at least `min_failures` in a window and `threshold` × (baseline + 1)). Live \
                  mode only; see docs/configuration.md `[spike]`.",
    evidence: "`service` (the SNI; `unnamed` for hellos without one), `failures_in_window`, \
               `baseline` (EWMA of failures per window)",
    remediation: "Check the service's certificate, protocol and cipher settings and recent \
                  client changes; a sudden spike can also be a scan or an attack.",
    references: &["RFC 8446 (TLS 1.3, §6 Alert protocol)"],
};

/// The definitions this module raises.
pub static DEFS: &[FindingDef] = &[FAILURE_SPIKE];

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub window_ns: u64,
    /// EWMA weight of the newest window, in (0, 1].
    pub alpha: f64,
    pub threshold: f64,
    pub min_failures: u32,
    /// Services tracked at once; the rest share the `other` bucket.
    pub max_services: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            window_ns: 10 * Timestamp::NANOS_PER_SEC,
            alpha: 0.3,
            threshold: 3.0,
            min_failures: 5,
            max_services: 256,
        }
    }
}

/// The label used once `max_services` are tracked and none can be evicted.
pub const OTHER: &str = "other";

/// Longest service name kept, in bytes (a DNS name is at most 253, RFC 1035 §2.3.4; an SNI
/// can claim 65535). Longer names are cut at a character boundary.
pub const MAX_SERVICE_LEN: usize = 253;

/// `name` cut to [`MAX_SERVICE_LEN`] bytes at a character boundary.
pub fn bounded_name(name: &str) -> &str {
    if name.len() <= MAX_SERVICE_LEN {
        return name;
    }
    let mut end = MAX_SERVICE_LEN;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.get(..end).unwrap_or_default()
}

#[derive(Clone, Debug, Default)]
struct Service {
    /// Packet time of the last observation: the eviction order.
    last_seen: u64,
    window_start: u64,
    failures: u32,
    attempts: u32,
    baseline: f64,
    active: bool,
    /// The window end this service is queued for in [`Detector::due`]; 0 when not queued.
    queued: u64,
}

impl Service {
    /// Nothing to fold: no handshake in the window, no baseline, no spike. Rolling such a
    /// service only moves its window, which its next handshake does just the same, so it
    /// is left out of the queue.
    fn quiet(&self) -> bool {
        self.attempts == 0 && self.failures == 0 && self.baseline == 0.0 && !self.active
    }
}

/// A spike that just started.
#[derive(Clone, Debug, PartialEq)]
pub struct Spike {
    pub service: String,
    pub failures: u32,
    pub baseline: f64,
}

#[derive(Debug)]
pub struct Detector {
    params: Params,
    /// Names are shared with `due` (no second copy of a peer-chosen string).
    services: HashMap<Arc<str>, Service>,
    /// When the window of each service that is not quiet ([`Service::quiet`]) ends,
    /// earliest first. [`Detector::advance`] runs for every packet and rolls only those:
    /// walking every service whenever the earliest window ended cost one walk per service
    /// and window (windows start at each service's first handshake, so they are
    /// staggered), 8% of pcap mode's instructions on the handshake-heavy capture. Entries
    /// whose service was evicted or rolled since are stale and skipped; the heap is
    /// rebuilt when they pile up.
    due: BinaryHeap<Reverse<(u64, Arc<str>)>>,
    /// No service's window ends before this (the earliest entry of `due`).
    next_due: u64,
    /// Services folded into `other` because of the cap (every tracked one mid-spike).
    pub overflow: u64,
    /// Services evicted (least recently seen) to make room for a new one.
    pub evicted: u64,
}

impl Detector {
    pub fn new(params: Params) -> Self {
        Detector {
            params,
            services: HashMap::new(),
            due: BinaryHeap::new(),
            next_due: u64::MAX,
            overflow: 0,
            evicted: 0,
        }
    }

    /// Services tracked now (`other` included).
    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Heap bytes held by the service map (names and entries, with the map's spare room)
    /// and the window queue.
    pub fn bytes(&self) -> usize {
        let entry = (size_of::<(Arc<str>, Service)>() + 1) * 8 / 7;
        let names = self
            .services
            .keys()
            .map(|k| k.len() + 2 * size_of::<usize>() + entry)
            .sum::<usize>();
        names + self.due.capacity() * size_of::<(u64, Arc<str>)>()
    }

    /// Queues `name`'s window end; rebuilds the queue from the live services when stale
    /// entries outnumber them, so it stays within twice the service count.
    fn queue(&mut self, at: u64, name: Arc<str>) {
        self.due.push(Reverse((at, name)));
        if self.due.len() > 2 * self.services.len() + 16 {
            self.due = self
                .services
                .iter()
                .filter(|(_, s)| s.queued != 0)
                .map(|(k, s)| Reverse((s.queued, Arc::clone(k))))
                .collect();
        }
        self.next_due = self.due.peek().map_or(u64::MAX, |Reverse((d, _))| *d);
    }

    /// Evicts the least recently seen service without an active spike; false if none.
    fn evict_one(&mut self) -> bool {
        let victim = self
            .services
            .iter()
            .filter(|(k, s)| !s.active && &***k != OTHER)
            .min_by_key(|(k, s)| (s.last_seen, Arc::clone(k)))
            .map(|(k, _)| k.clone());
        match victim {
            Some(k) => {
                self.services.remove(&k);
                self.evicted += 1;
                true
            }
            None => false,
        }
    }

    /// Records one handshake outcome for `service`; returns the spike it starts, if any.
    pub fn observe(&mut self, now: Timestamp, service: &str, failed: bool) -> Option<Spike> {
        let service = bounded_name(service);
        let known = self.services.contains_key(service);
        let tracked = self.services.len() - usize::from(self.services.contains_key(OTHER));
        let key = if known || tracked < self.params.max_services || self.evict_one() {
            service
        } else {
            self.overflow += 1;
            OTHER
        };
        let p = self.params;
        let name: Arc<str> = match self.services.get_key_value(key) {
            Some((k, _)) => Arc::clone(k),
            None => Arc::from(key),
        };
        let s = self
            .services
            .entry(Arc::clone(&name))
            .or_insert_with(|| Service {
                window_start: now.0,
                ..Service::default()
            });
        roll(s, now.0, &p);
        s.last_seen = s.last_seen.max(now.0);
        let after = due(s, &p);
        s.attempts += 1;
        let mut spike = None;
        if failed {
            s.failures += 1;
            if !s.active && over(s, &p) {
                s.active = true;
                spike = Some(Spike {
                    service: key.to_owned(),
                    failures: s.failures,
                    baseline: s.baseline,
                });
            }
        }
        if p.window_ns > 0 && s.queued != after {
            s.queued = after;
            self.queue(after, name);
        }
        spike
    }

    /// Closes elapsed windows so spikes end and baselines decay without new traffic.
    /// Called for every packet: the check that nothing is due stays inline.
    #[inline]
    pub fn advance(&mut self, now: Timestamp) {
        if now.0 >= self.next_due && self.params.window_ns > 0 {
            self.roll_due(now);
        }
    }

    /// Rolls the services whose window ended by `now`.
    fn roll_due(&mut self, now: Timestamp) {
        let p = self.params;
        while let Some(Reverse((at, _))) = self.due.peek() {
            if *at > now.0 {
                break;
            }
            let Some(Reverse((at, name))) = self.due.pop() else {
                break;
            };
            // Only the entry of the service's current window counts (others are stale).
            if let Some(s) = self.services.get_mut(&name).filter(|s| s.queued == at) {
                roll(s, now.0, &p);
                s.queued = 0;
                if !s.quiet() {
                    s.queued = due(s, &p);
                    self.due.push(Reverse((s.queued, name)));
                }
            }
        }
        self.next_due = self.due.peek().map_or(u64::MAX, |Reverse((d, _))| *d);
    }

    /// (service, failure ratio in the current window, spike active) for the metrics.
    pub fn series(&self) -> impl Iterator<Item = (&str, f64, bool)> {
        self.services.iter().map(|(k, s)| {
            let ratio = if s.attempts == 0 {
                0.0
            } else {
                f64::from(s.failures) / f64::from(s.attempts)
            };
            (&**k, ratio, s.active)
        })
    }
}

/// When the service's current window ends.
fn due(s: &Service, p: &Params) -> u64 {
    s.window_start.saturating_add(p.window_ns)
}

fn over(s: &Service, p: &Params) -> bool {
    s.failures >= p.min_failures && f64::from(s.failures) >= p.threshold * (s.baseline + 1.0)
}

/// Folds every window that ended before `now` into the baseline.
fn roll(s: &mut Service, now: u64, p: &Params) {
    if p.window_ns == 0 || now < s.window_start.saturating_add(p.window_ns) {
        return;
    }
    let elapsed = (now - s.window_start) / p.window_ns;
    // The window that just closed, then `elapsed - 1` empty ones.
    s.active = s.active && over(s, p);
    s.baseline = p.alpha * f64::from(s.failures) + (1.0 - p.alpha) * s.baseline;
    let empty = elapsed.saturating_sub(1).min(1_000);
    s.baseline *= (1.0 - p.alpha).powi(i32::try_from(empty).unwrap_or(1_000));
    if empty > 0 {
        s.active = false;
    }
    s.failures = 0;
    s.attempts = 0;
    s.window_start = s
        .window_start
        .saturating_add(elapsed.saturating_mul(p.window_ns));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = Timestamp::NANOS_PER_SEC;

    fn t(s: u64) -> Timestamp {
        Timestamp(s * SEC)
    }

    #[test]
    fn burst_on_a_quiet_service_is_a_spike_once() {
        let mut d = Detector::new(Params::default());
        let mut spikes = Vec::new();
        for i in 0..10 {
            spikes.extend(d.observe(t(100 + i / 5), "api", true));
        }
        assert_eq!(spikes.len(), 1);
        assert_eq!(spikes[0].failures, 5);
        assert_eq!(spikes[0].service, "api");
    }

    #[test]
    fn steady_failures_raise_the_baseline_and_stop_alarming() {
        let p = Params {
            min_failures: 3,
            ..Params::default()
        };
        let mut d = Detector::new(p);
        let mut spikes = 0;
        // 4 failures every window for 30 windows: the first windows alarm, then the
        // baseline learns that 4 is normal.
        for w in 0..30 {
            for k in 0..4 {
                if d.observe(t(w * 10 + k), "db", true).is_some() {
                    spikes += 1;
                }
            }
        }
        assert!(spikes >= 1);
        let mut d2 = d;
        let mut late_spikes = 0;
        for w in 30..40 {
            for k in 0..4 {
                if d2.observe(t(w * 10 + k), "db", true).is_some() {
                    late_spikes += 1;
                }
            }
        }
        assert_eq!(late_spikes, 0, "a learned baseline must not keep alarming");
        // A tenfold burst over that baseline is a spike again.
        let mut burst = 0;
        for k in 0..40 {
            if d2.observe(t(400 + k / 10), "db", true).is_some() {
                burst += 1;
            }
        }
        assert_eq!(burst, 1);
    }

    #[test]
    fn successes_do_not_count_and_services_are_capped() {
        let p = Params {
            max_services: 2,
            ..Params::default()
        };
        let mut d = Detector::new(p);
        for i in 0..20 {
            assert!(d.observe(t(1), "ok", false).is_none(), "{i}");
        }
        d.observe(t(2), "b", false);
        d.observe(t(3), "c", false);
        // "ok" was the least recently seen: evicted for "c", nothing folded into other.
        assert_eq!((d.evicted, d.overflow), (1, 0));
        let mut names: Vec<&str> = d.series().map(|(n, _, _)| n).collect();
        names.sort_unstable();
        assert_eq!(names, ["b", "c"]);
    }

    #[test]
    fn random_names_are_evicted_and_cut_so_memory_stays_bounded() {
        let p = Params {
            max_services: 64,
            ..Params::default()
        };
        let mut d = Detector::new(p);
        // A live spike on a real service survives the flood of random names.
        for _ in 0..6 {
            d.observe(t(1), "api.example", true);
        }
        let long = "x".repeat(70_000);
        let mut peak = 0;
        for i in 0..10_000u64 {
            let name = format!("{i:08x}.{long}");
            d.observe(t(2 + i / 1000), &name, false);
            peak = peak.max(d.bytes());
        }
        assert_eq!(d.len(), 64);
        assert!(d.series().all(|(n, _, _)| n.len() <= MAX_SERVICE_LEN));
        assert!(
            d.series()
                .any(|(n, _, active)| n == "api.example" && active),
            "an active spike is never evicted"
        );
        assert_eq!(d.evicted, 10_000 - 63);
        assert_eq!(d.overflow, 0);
        assert!(peak <= 64 * (MAX_SERVICE_LEN + 256), "{peak} bytes");
    }

    #[test]
    fn only_active_services_left_means_other() {
        let p = Params {
            max_services: 1,
            min_failures: 1,
            threshold: 1.0,
            ..Params::default()
        };
        let mut d = Detector::new(p);
        assert!(d.observe(t(1), "a", true).is_some());
        d.observe(t(1), "b", true);
        assert_eq!((d.evicted, d.overflow), (0, 1));
        assert!(d.series().any(|(n, _, _)| n == OTHER));
    }

    #[test]
    fn names_are_cut_at_a_char_boundary() {
        let name = "é".repeat(200); // 400 bytes
        let cut = bounded_name(&name);
        assert!(cut.len() <= MAX_SERVICE_LEN && cut.len() >= MAX_SERVICE_LEN - 1);
        assert!(name.starts_with(cut));
    }

    #[test]
    fn every_window_with_handshakes_is_rolled_and_the_queue_stays_bounded() {
        let mut d = Detector::new(Params {
            max_services: 64,
            ..Params::default()
        });
        for i in 0..10_000u64 {
            d.observe(t(1 + i / 100), &format!("s{i}"), i % 2 == 0);
            d.advance(t(1 + i / 100));
            assert!(d.due.len() <= 2 * d.len() + 16, "{} queued", d.due.len());
        }
        // Every window has ended: none of them still counts its handshakes.
        d.advance(t(1_000));
        assert!(d.series().all(|(_, ratio, active)| ratio == 0.0 && !active));
    }

    #[test]
    fn spike_ends_after_a_quiet_window() {
        let mut d = Detector::new(Params::default());
        for _ in 0..6 {
            d.observe(t(1), "s", true);
        }
        assert!(d.series().any(|(_, _, active)| active));
        d.advance(t(35));
        assert!(d.series().all(|(_, _, active)| !active));
    }
}
