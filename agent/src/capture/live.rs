//! Live capture: loads the TC programs, reads the ring buffer, polls flow counters.
//!
//! This is the only module that imports aya. It owns the kernel objects' whole life:
//! load (with the capture budget patched in), attach to interfaces (tcx or netlink
//! clsact), read events, tell the kernel which flows are done, and detach so that no
//! link, filter or qdisc outlives the process.

use std::collections::HashSet;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::time::Duration;

use agent_common::parse::{Endpoints, Event, EventKind, Hook, ParseError, Protocol};
use agent_common::{config_flag, counter, names, tcp_flag, CaptureConfig, FlowKey, FlowStats};
use aya::maps::{HashMap as BpfHashMap, MapData, MapError, PerCpuArray, RingBuf};
use aya::programs::tc::{self, NlOptions, SchedClassifierLinkId, TcAttachOptions, TcError};
use aya::programs::{LinkOrder, ProgramError, SchedClassifier, TcAttachType};
use aya::{Ebpf, EbpfError, EbpfLoader};
use serde::Serialize;
use tokio::io::unix::AsyncFd;

use crate::capture::{Segment, TcpMeta};
use crate::flow::Transport;
use crate::time::Timestamp;

mod netlink;

/// The eBPF object built by `agent/build.rs` from the `agent-ebpf` crate.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/agent-ebpf"));

/// Everything that can go wrong between loading the object and detaching it.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("the embedded eBPF object is empty (built with AYA_BUILD_SKIP?)")]
    EmptyObject,
    #[error("loading the eBPF object: {0}")]
    Load(#[from] EbpfError),
    #[error("program {name}: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error("the object has no program {0}")]
    MissingProgram(&'static str),
    #[error("the object has no map {0}")]
    MissingMap(&'static str),
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: MapError,
    },
    #[error("interface {iface}: {source}")]
    Tc {
        iface: String,
        #[source]
        source: TcError,
    },
    #[error("interface {iface}: {source}")]
    Netlink {
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("interface {iface} already has a live plainsight tcx program ({prog}); refusing to attach twice")]
    AlreadyAttached { iface: String, prog: String },
    #[error("no such interface {0}")]
    NoSuchInterface(String),
    #[error("no interface to attach to")]
    NoInterfaces,
    #[error("bad ring-buffer record: {0}")]
    Record(#[from] ParseError),
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    #[error("writing output: {0}")]
    Json(#[from] serde_json::Error),
    #[error("detaching failed {} time(s); first: {}", .0.len(), first_error(.0))]
    Detach(Vec<LiveError>),
}

/// How programs are attached to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachMode {
    /// tcx links (kernel ≥ 6.6): no qdisc, detached automatically when the process dies.
    Tcx,
    /// A clsact qdisc with direct-action cls_bpf filters (any kernel).
    Netlink,
}

/// Asks the kernel whether it has tcx (mainline 6.6): `BPF_PROG_QUERY` for
/// `BPF_TCX_INGRESS` on the loopback interface, which every network namespace has. A
/// kernel without tcx does not know the attach type and answers EINVAL. Deliberately
/// not a version check: distributions backport features, so version strings lie.
pub fn probe_tcx() -> Result<(), LiveError> {
    SchedClassifier::query_tcx("lo", TcAttachType::Ingress)
        .map(|_| ())
        .map_err(|source| LiveError::Program {
            name: "tcx probe",
            source,
        })
}

/// The mode `auto` means: tcx if `probe` says the kernel has it, netlink clsact
/// otherwise. The probe is a parameter so tests can force the fallback.
pub fn resolve_auto(probe: impl FnOnce() -> Result<(), LiveError>) -> AttachMode {
    match probe() {
        Ok(()) => AttachMode::Tcx,
        Err(e) => {
            tracing::info!(error = %e, "no tcx on this kernel; attaching with netlink clsact");
            AttachMode::Netlink
        }
    }
}

/// Every value of `plainsight_attach_failures_total{reason}`.
pub const ATTACH_FAILURE_REASONS: [&str; 5] = [
    "interface_gone",
    "already_attached",
    "qdisc",
    "program",
    "other",
];

impl LiveError {
    /// Why an attach failed, as one of [`ATTACH_FAILURE_REASONS`]. `interface_gone` is
    /// the ordinary race of a pod's veth removed before it was attached.
    pub fn attach_reason(&self) -> &'static str {
        if matches!(self.os_error(), Some(libc::ENODEV | libc::ENXIO)) {
            return "interface_gone";
        }
        match self {
            LiveError::NoSuchInterface(_) => "interface_gone",
            LiveError::AlreadyAttached { .. } => "already_attached",
            LiveError::Tc { .. } | LiveError::Netlink { .. } => "qdisc",
            LiveError::Program { .. } | LiveError::MissingProgram(_) => "program",
            _ => "other",
        }
    }

    /// The errno under this error, where there is one.
    fn os_error(&self) -> Option<i32> {
        fn tc(e: &TcError) -> Option<i32> {
            match e {
                TcError::NetlinkError(n) => n.raw_os_error(),
                TcError::IoError(e) => e.raw_os_error(),
                _ => None,
            }
        }
        match self {
            LiveError::Tc { source, .. } => tc(source),
            LiveError::Netlink { source, .. } | LiveError::Io(source) => source.raw_os_error(),
            LiveError::Program { source, .. } => match source {
                ProgramError::TcError(t) => tc(t),
                ProgramError::SyscallError(e) => e.io_error.raw_os_error(),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The object's ring buffer size (agent-ebpf's `EVENTS`).
pub const DEFAULT_RINGBUF_BYTES: u32 = 1 << 20;

/// How long a record can wait in the ring unannounced: the reader looks at least this
/// often, since records below the wake-up threshold come without a notification.
pub const RING_POLL: Duration = Duration::from_millis(20);

/// Load-time knobs. The map sizes exist so tests can force the full-map and
/// full-ring paths; the defaults come from the object.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    pub config: CaptureConfig,
    pub flow_entries: Option<u32>,
    pub done_entries: Option<u32>,
    pub ringbuf_bytes: Option<u32>,
    /// [`CaptureConfig::wakeup_bytes`]; `None`: an eighth of the ring. `Some(0)` is the
    /// kernel's default wake-up (the benchmark's comparison).
    pub wakeup_bytes: Option<u32>,
    /// [`config_flag::COARSE_CLOCK`]; `None`: where the kernel has the helper (probed).
    pub coarse_clock: Option<bool>,
}

/// Whether TC programs may call `bpf_ktime_get_coarse_ns` (Linux 5.11+), asked of the
/// verifier with a two-instruction program, as libbpf probes helpers. A failed probe
/// means the precise clock, which every supported kernel has.
/// Probed once per process.
pub fn has_coarse_clock() -> bool {
    use aya::programs::ProgramType;
    use aya::sys::{is_helper_supported, BpfHelper};
    static PROBED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROBED.get_or_init(|| {
        match is_helper_supported(
            ProgramType::SchedClassifier,
            BpfHelper::BPF_FUNC_ktime_get_coarse_ns,
        ) {
            Ok(yes) => yes,
            Err(e) => {
                tracing::debug!(error = %e, "probing bpf_ktime_get_coarse_ns failed; using the precise clock");
                false
            }
        }
    })
}

/// Loads the object with `opts` patched in and loads (verifies) all three programs.
/// Public so the kernel tests can run the very same object with BPF_PROG_TEST_RUN.
pub fn load(opts: &LoadOptions) -> Result<Ebpf, LiveError> {
    if EBPF_OBJECT.is_empty() {
        return Err(LiveError::EmptyObject);
    }
    let mut config = opts.config;
    // By default an eighth of the ring: a burst wakes the reader long before it fills.
    let ring = opts.ringbuf_bytes.unwrap_or(DEFAULT_RINGBUF_BYTES);
    config.wakeup_bytes = opts.wakeup_bytes.unwrap_or((ring / 8).max(1));
    if opts.coarse_clock.unwrap_or_else(has_coarse_clock) {
        config.flags |= config_flag::COARSE_CLOCK;
    } else {
        config.flags &= !config_flag::COARSE_CLOCK;
    }
    let mut loader = EbpfLoader::new();
    loader.override_global(names::CONFIG, &config, true);
    if let Some(n) = opts.flow_entries {
        loader.map_max_entries(names::FLOWS, n);
    }
    if let Some(n) = opts.done_entries {
        loader.map_max_entries(names::DONE, n);
    }
    if let Some(n) = opts.ringbuf_bytes {
        loader.map_max_entries(names::EVENTS, n);
    }
    let mut ebpf = loader.load(EBPF_OBJECT)?;
    for name in [names::PROG_INGRESS, names::PROG_EGRESS, names::PROG_EMPTY] {
        classifier(&mut ebpf, name)?
            .load()
            .map_err(|source| LiveError::Program { name, source })?;
    }
    Ok(ebpf)
}

fn classifier<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, LiveError> {
    ebpf.program_mut(name)
        .ok_or(LiveError::MissingProgram(name))?
        .try_into()
        .map_err(|source| LiveError::Program { name, source })
}

/// One program attached to one hook of one interface.
#[derive(Debug)]
struct Attachment {
    iface: String,
    ifindex: u32,
    prog: &'static str,
    link: SchedClassifierLinkId,
}

/// An owned [`Segment`] plus where it was seen: what the ring buffer hands the engine.
/// `Debug` shows the payload's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedSegment {
    pub ts: Timestamp,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub transport: Transport,
    pub tcp: Option<TcpMeta>,
    pub payload: Vec<u8>,
    pub wire_len: u32,
    /// Payload length on the wire; `payload` may be shorter (budget, event cap).
    pub payload_len: u32,
    pub ifindex: u32,
    pub hook: Hook,
    pub kind: EventKind,
}

impl std::fmt::Debug for OwnedSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedSegment")
            .field("ts", &self.ts)
            .field("src_ip", &self.src_ip)
            .field("dst_ip", &self.dst_ip)
            .field("src_port", &self.src_port)
            .field("dst_port", &self.dst_port)
            .field("transport", &self.transport)
            .field("tcp", &self.tcp)
            .field("payload", &crate::redact::Len(&self.payload))
            .field("wire_len", &self.wire_len)
            .field("payload_len", &self.payload_len)
            .field("ifindex", &self.ifindex)
            .field("hook", &self.hook)
            .field("kind", &self.kind)
            .finish()
    }
}

impl OwnedSegment {
    pub fn as_segment(&self) -> Segment<'_> {
        Segment {
            ts: self.ts,
            src_ip: self.src_ip,
            dst_ip: self.dst_ip,
            src_port: self.src_port,
            dst_port: self.dst_port,
            transport: self.transport,
            tcp: self.tcp,
            payload: &self.payload,
            wire_len: self.wire_len,
        }
    }

    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            src: std::net::SocketAddr::new(self.src_ip, self.src_port),
            dst: std::net::SocketAddr::new(self.dst_ip, self.dst_port),
            protocol: match self.transport {
                Transport::Tcp => Protocol::Tcp,
                Transport::Udp => Protocol::Udp,
            },
        }
    }
}

/// Converts kernel CLOCK_MONOTONIC nanoseconds to wall-clock [`Timestamp`]s.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall_minus_mono: i128,
}

impl Clock {
    pub fn new() -> Self {
        let mono = monotonic_ns();
        let wall = Timestamp::now().0;
        Clock {
            wall_minus_mono: i128::from(wall) - i128::from(mono),
        }
    }

    /// The inverse of [`Clock::wall`].
    pub fn mono(&self, wall: Timestamp) -> u64 {
        let t = i128::from(wall.0) - self.wall_minus_mono;
        u64::try_from(t.max(0)).unwrap_or(u64::MAX)
    }

    pub fn wall(&self, mono_ns: u64) -> Timestamp {
        let t = i128::from(mono_ns) + self.wall_minus_mono;
        Timestamp(u64::try_from(t.max(0)).unwrap_or(u64::MAX))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// `CLOCK_MONOTONIC` now, the clock `bpf_ktime_get_ns` reads.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Turns one ring-buffer record into an owned segment.
pub fn convert(record: &[u8], clock: &Clock) -> Result<OwnedSegment, ParseError> {
    let ev = Event::try_from(record)?;
    let transport = match ev.endpoints.protocol {
        Protocol::Tcp => Transport::Tcp,
        Protocol::Udp => Transport::Udp,
    };
    Ok(OwnedSegment {
        ts: clock.wall(ev.ts_ns),
        src_ip: ev.endpoints.src.ip(),
        dst_ip: ev.endpoints.dst.ip(),
        src_port: ev.endpoints.src.port(),
        dst_port: ev.endpoints.dst.port(),
        transport,
        tcp: (transport == Transport::Tcp).then_some(TcpMeta {
            seq: ev.seq,
            ack: ev.ack,
            flags: ev.tcp_flags,
            first_flags: ev.first_flags,
        }),
        payload: ev.payload.to_vec(),
        wire_len: ev.wire_len,
        payload_len: ev.payload_len,
        ifindex: ev.ifindex,
        hook: ev.hook,
        kind: ev.kind,
    })
}

/// Reads the ring buffer. Owns the map, so it can live in its own task.
pub struct EventReader {
    ring: AsyncFd<RingBuf<MapData>>,
    clock: Clock,
    /// Records that failed to parse (a contract bug, counted not fatal).
    pub bad_records: u64,
}

impl std::fmt::Debug for EventReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader")
            .field("bad_records", &self.bad_records)
            .finish_non_exhaustive()
    }
}

/// Records taken from the ring buffer per wake-up. Under a flood the ring never empties:
/// without a bound one drain would hold the task, and the tick, the kernel eviction and the
/// shutdown signal would all wait for it.
pub const DRAIN_BATCH: usize = 4096;

/// Moves at most `max` records from `next` into `out` (a record that does not parse is
/// counted in `bad`). Returns true when `next` ran dry, false when the bound stopped it.
pub fn fill_batch(
    out: &mut Vec<OwnedSegment>,
    max: usize,
    bad: &mut u64,
    mut next: impl FnMut() -> Option<Result<OwnedSegment, ParseError>>,
) -> bool {
    for _ in 0..max {
        match next() {
            Some(Ok(seg)) => out.push(seg),
            Some(Err(_)) => *bad += 1,
            None => return true,
        }
    }
    false
}

impl EventReader {
    /// Waits until the kernel signals new records, or [`RING_POLL`] passes (records below
    /// the wake-up threshold come unannounced), then moves at most `max` of them into
    /// `out`. When the bound stops it, readiness is kept, so the caller's next `select!`
    /// comes straight back here after its other branches had their turn.
    pub async fn next_batch(
        &mut self,
        out: &mut Vec<OwnedSegment>,
        max: usize,
    ) -> Result<(), LiveError> {
        let clock = self.clock;
        match tokio::time::timeout(RING_POLL, self.ring.readable_mut()).await {
            Ok(guard) => {
                let mut guard = guard?;
                let ring = guard.get_inner_mut();
                let dry = fill_batch(out, max, &mut self.bad_records, || {
                    ring.next().map(|item| convert(&item, &clock))
                });
                if dry {
                    guard.clear_ready();
                }
            }
            // No wake-up: read what arrived below the threshold.
            Err(_) => {
                let ring = self.ring.get_mut();
                fill_batch(out, max, &mut self.bad_records, || {
                    ring.next().map(|item| convert(&item, &clock))
                });
            }
        }
        Ok(())
    }

    /// Drains whatever is in the ring now, without waiting (the shutdown path: with the
    /// programs detached the ring only empties, so this ends).
    pub fn drain(&mut self, out: &mut Vec<OwnedSegment>) {
        let clock = self.clock;
        let ring = self.ring.get_mut();
        fill_batch(out, usize::MAX, &mut self.bad_records, || {
            ring.next().map(|item| convert(&item, &clock))
        });
    }
}

/// A loaded, possibly attached, set of Plainsight programs.
#[derive(Debug)]
pub struct LiveCapture {
    ebpf: Ebpf,
    attachments: Vec<Attachment>,
    /// Interfaces whose clsact qdisc we should remove when our filters go.
    clsact_owned: Vec<(String, u32)>,
    clock: Clock,
}

/// The names of all network interfaces, in index order.
pub fn interfaces() -> Result<Vec<(String, u32)>, LiveError> {
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns a heap array terminated by a zero entry, which we
    // free with if_freenameindex after copying the names out.
    unsafe {
        let head = libc::if_nameindex();
        if head.is_null() {
            return Err(io::Error::last_os_error().into());
        }
        let mut p = head;
        while (*p).if_index != 0 && !(*p).if_name.is_null() {
            let name = std::ffi::CStr::from_ptr((*p).if_name)
                .to_string_lossy()
                .into_owned();
            out.push((name, (*p).if_index));
            p = p.add(1);
        }
        libc::if_freenameindex(head);
    }
    out.sort_by_key(|(_, i)| *i);
    Ok(out)
}

fn ifindex(name: &str) -> Result<u32, LiveError> {
    interfaces()?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, i)| i)
        .ok_or_else(|| LiveError::NoSuchInterface(name.to_owned()))
}

/// Kernel program names are cut to 15 bytes (BPF_OBJ_NAME_LEN - 1).
fn is_plainsight_prog(name: &str) -> bool {
    name.starts_with("plainsight_")
}

/// The real programs on both hooks, as the daemon attaches them.
pub const HOOKS: [(TcAttachType, &str); 2] = [
    (TcAttachType::Ingress, names::PROG_INGRESS),
    (TcAttachType::Egress, names::PROG_EGRESS),
];

impl LiveCapture {
    pub fn load(opts: &LoadOptions) -> Result<Self, LiveError> {
        Ok(LiveCapture {
            ebpf: load(opts)?,
            attachments: Vec::new(),
            clsact_owned: Vec::new(),
            clock: Clock::new(),
        })
    }

    /// Kernel facts about one of the programs (run counts and time when
    /// `kernel.bpf_stats_enabled` is on; used by the benchmark).
    pub fn program_info(
        &self,
        name: &'static str,
    ) -> Result<aya::programs::ProgramInfo, LiveError> {
        let prog = self
            .ebpf
            .program(name)
            .ok_or(LiveError::MissingProgram(name))?;
        prog.info()
            .map_err(|source| LiveError::Program { name, source })
    }

    /// Removes what a previous run left: clsact filters named `plainsight_*` (they
    /// outlive their process), and the clsact qdisc if that leaves it empty. A tcx
    /// link dies with its process, so a live plainsight tcx program means another agent
    /// is running: that is an error, not something to take over.
    pub fn remove_stale(iface: &str) -> Result<(), LiveError> {
        let idx = ifindex(iface)?;
        let mut removed_any = false;
        for (hook, _) in HOOKS {
            for prog in [names::PROG_INGRESS, names::PROG_EGRESS, names::PROG_EMPTY] {
                match tc::qdisc_detach_program(iface, hook, prog) {
                    Ok(()) => removed_any = true,
                    Err(TcError::IoError(e)) if e.kind() == io::ErrorKind::NotFound => {}
                    // No clsact qdisc at all: nothing to remove.
                    Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EINVAL) => {}
                    Err(source) => {
                        return Err(LiveError::Tc {
                            iface: iface.to_owned(),
                            source,
                        })
                    }
                }
            }
            if let Ok((_, progs)) = SchedClassifier::query_tcx(iface, hook) {
                if let Some(p) = progs
                    .iter()
                    .filter_map(|p| p.name_as_str())
                    .find(|n| is_plainsight_prog(n))
                {
                    return Err(LiveError::AlreadyAttached {
                        iface: iface.to_owned(),
                        prog: p.to_owned(),
                    });
                }
            }
        }
        if removed_any {
            delete_clsact_if_empty(iface, idx)?;
        }
        Ok(())
    }

    /// Attaches the ingress and egress programs to each interface in `ifaces`. Each
    /// interface is attached or rolled back on its own: a failure leaves the others
    /// attached. Returns the first failure (for `plainsight capture`, which then exits);
    /// the daemon calls [`LiveCapture::attach_one`] per interface instead.
    pub fn attach(&mut self, ifaces: &[String], mode: AttachMode) -> Result<(), LiveError> {
        if ifaces.is_empty() {
            return Err(LiveError::NoInterfaces);
        }
        let mut first = None;
        for iface in ifaces {
            if let Err(e) = self.attach_one(iface, mode, &HOOKS) {
                tracing::warn!(%iface, error = %e, "cannot attach");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Attaches `hooks` (program per TC hook) to one interface and returns its index.
    /// On failure, whatever this call attached to the interface is removed again and
    /// nothing else is touched.
    pub fn attach_one(
        &mut self,
        iface: &str,
        mode: AttachMode,
        hooks: &[(TcAttachType, &'static str)],
    ) -> Result<u32, LiveError> {
        let before = self.attachments.len();
        let owned_before = self.clsact_owned.len();
        let res = self.try_attach_one(iface, mode, hooks);
        if res.is_err() {
            // Only this call's own attachments and qdisc; errors are expected here (the
            // interface may be gone) and the attach error is the one worth reporting.
            for a in self.attachments.split_off(before) {
                let _ = self.detach_attachment(a);
            }
            for (name, idx) in self.clsact_owned.split_off(owned_before) {
                let _ = delete_clsact_if_empty(&name, idx);
            }
        }
        res
    }

    fn try_attach_one(
        &mut self,
        iface: &str,
        mode: AttachMode,
        hooks: &[(TcAttachType, &'static str)],
    ) -> Result<u32, LiveError> {
        Self::remove_stale(iface)?;
        let idx = ifindex(iface)?;
        if mode == AttachMode::Netlink {
            match tc::qdisc_add_clsact(iface) {
                Ok(()) => self.clsact_owned.push((iface.to_owned(), idx)),
                Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(source) => {
                    return Err(LiveError::Tc {
                        iface: iface.to_owned(),
                        source,
                    })
                }
            }
        }
        for &(hook, prog) in hooks {
            let options = match mode {
                AttachMode::Tcx => TcAttachOptions::TcxOrder(LinkOrder::default()),
                AttachMode::Netlink => TcAttachOptions::Netlink(NlOptions::default()),
            };
            let link = classifier(&mut self.ebpf, prog)?
                .attach_with_options(iface, hook, options)
                .map_err(|source| LiveError::Program { name: prog, source })?;
            self.attachments.push(Attachment {
                iface: iface.to_owned(),
                ifindex: idx,
                prog,
                link,
            });
        }
        // The name resolved again for each hook: if the interface was replaced by
        // another of the same name meanwhile, part of this went to the wrong one.
        if ifindex(iface)? != idx {
            return Err(LiveError::NoSuchInterface(iface.to_owned()));
        }
        Ok(idx)
    }

    fn detach_attachment(&mut self, a: Attachment) -> Result<(), LiveError> {
        classifier(&mut self.ebpf, a.prog).and_then(|c| {
            c.detach(a.link).map_err(|source| LiveError::Program {
                name: a.prog,
                source,
            })
        })
    }

    /// Detaches everything this instance attached and removes the clsact qdiscs it
    /// created once they hold no filter. Tries every step; reports all failures.
    pub fn detach(&mut self) -> Result<(), LiveError> {
        let mut errors = Vec::new();
        for a in std::mem::take(&mut self.attachments) {
            let (iface, prog) = (a.iface.clone(), a.prog);
            if let Err(e) = self.detach_attachment(a) {
                tracing::warn!(%iface, prog, error = %e, "detach failed");
                errors.push(e);
            }
        }
        for (iface, idx) in std::mem::take(&mut self.clsact_owned) {
            if let Err(e) = delete_clsact_if_empty(&iface, idx) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LiveError::Detach(errors))
        }
    }

    /// Drops an interface that vanished (or was replaced by another of the same name):
    /// its filters went with it and its tcx links are defunct, but the link descriptors
    /// are still ours to close. Errors are expected (nothing left to detach) and ignored.
    pub fn forget_interface(&mut self, iface: &str) {
        let (gone, kept) = std::mem::take(&mut self.attachments)
            .into_iter()
            .partition(|a| a.iface == iface);
        self.attachments = kept;
        for a in gone {
            let _ = self.detach_attachment(a);
        }
        let (owned, kept) = std::mem::take(&mut self.clsact_owned)
            .into_iter()
            .partition(|(name, _)| name == iface);
        self.clsact_owned = kept;
        // Still there under another name or no longer wanted: leave no empty qdisc.
        for (name, idx) in owned {
            let _ = delete_clsact_if_empty(&name, idx);
        }
    }

    /// The interface index `iface` had when it was attached, if it is attached.
    pub fn attached_ifindex(&self, iface: &str) -> Option<u32> {
        self.attachments
            .iter()
            .find(|a| a.iface == iface)
            .map(|a| a.ifindex)
    }

    /// Interfaces currently attached.
    pub fn attached_interfaces(&self) -> Vec<String> {
        let set: HashSet<&str> = self.attachments.iter().map(|a| a.iface.as_str()).collect();
        let mut v: Vec<String> = set.into_iter().map(str::to_owned).collect();
        v.sort();
        v
    }

    /// Takes the ring buffer out for a reader task. Can be called once.
    pub fn events(&mut self) -> Result<EventReader, LiveError> {
        let map = self
            .ebpf
            .take_map(names::EVENTS)
            .ok_or(LiveError::MissingMap(names::EVENTS))?;
        let ring = RingBuf::try_from(map).map_err(|source| LiveError::Map {
            name: names::EVENTS,
            source,
        })?;
        Ok(EventReader {
            // SAFETY: the RingBuf owns its map fd and keeps it open, unreplaced,
            // for as long as the AsyncFd that wraps it lives.
            ring: unsafe { AsyncFd::register(ring) }.map_err(io::Error::from)?,
            clock: self.clock,
            bad_records: 0,
        })
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Counters summed over CPUs, indexed by `agent_common::counter`.
    pub fn counters(&self) -> Result<[u64; counter::COUNT as usize], LiveError> {
        read_counters(&self.ebpf)
    }

    /// Every flow direction in the kernel map.
    pub fn flows(&self) -> Result<Vec<(FlowKey, FlowStats)>, LiveError> {
        read_flows(&self.ebpf)
    }

    /// The kernel's counters for one flow direction, if it still has an entry.
    pub fn flow_stats(&self, flow: &Endpoints) -> Result<Option<FlowStats>, LiveError> {
        let m: BpfHashMap<_, FlowKey, FlowStats> = hash_map(&self.ebpf, names::FLOWS)?;
        Ok(m.get(&flow.to_key(), 0).ok())
    }

    /// The `DONE` map, writable.
    fn done_map(&mut self) -> Result<BpfHashMap<&mut MapData, FlowKey, u8>, LiveError> {
        hash_map_mut(&mut self.ebpf, names::DONE)
    }

    /// Forgets the `DONE` mark of both directions of a flow that ended, so the map holds
    /// only live flows (it is a plain hash map: full means new marks fail).
    pub fn unmark_done(&mut self, flow: &Endpoints) -> Result<(), LiveError> {
        let mut done = self.done_map()?;
        let key = flow.to_key();
        for k in [key, key.reversed()] {
            // Absent (never marked, or already evicted) is fine.
            let _ = done.remove(&k);
        }
        Ok(())
    }

    /// Removes both kernel entries of a TCP connection whose record was just written and
    /// that the kernel saw close (FIN or RST), returning how many went. Left to the idle
    /// walk, closed connections would fill the LRU map under a flood of short ones, and
    /// its evictions would then take live flows. `seen` is the entries of `flow` and of its
    /// reverse as the caller just read them ([`flow_stats`](Self::flow_stats)). An entry
    /// that started after `last_seen_mono` (the record's last segment) belongs to a new
    /// connection on the same tuple and stays.
    pub fn forget_closed(
        &mut self,
        flow: &Endpoints,
        seen: [Option<FlowStats>; 2],
        last_seen_mono: u64,
    ) -> Result<usize, LiveError> {
        if flow.protocol != Protocol::Tcp {
            return Ok(0);
        }
        let mut m: BpfHashMap<_, FlowKey, FlowStats> = hash_map_mut(&mut self.ebpf, names::FLOWS)?;
        let key = flow.to_key();
        let mut removed = 0;
        for (k, st) in [key, key.reversed()].into_iter().zip(seen) {
            let Some(st) = st else {
                continue;
            };
            let closed = st.tcp_flags & (tcp_flag::FIN | tcp_flag::RST) != 0;
            if closed && st.first_seen_ns <= last_seen_mono && m.remove(&k).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Tells the kernel both directions of a flow need no more capture.
    pub fn mark_done(&mut self, flow: &Endpoints) -> Result<(), LiveError> {
        let mut done = self.done_map()?;
        let key = flow.to_key();
        for k in [key, key.reversed()] {
            done.insert(k, 1, 0).map_err(|source| LiveError::Map {
                name: names::DONE,
                source,
            })?;
        }
        Ok(())
    }

    /// Number of directions in the `DONE` map (for metrics and tests: it must not grow
    /// without bound).
    pub fn done_entries(&self) -> Result<usize, LiveError> {
        let done: BpfHashMap<_, FlowKey, u8> = hash_map(&self.ebpf, names::DONE)?;
        Ok(done.keys().filter_map(Result::ok).count())
    }

    /// Removes flow directions idle for longer than `idle`, and `DONE` entries whose
    /// flow is gone (the LRU may have evicted it). Returns the flows removed.
    pub fn evict_idle(&mut self, idle: Duration) -> Result<Vec<(FlowKey, FlowStats)>, LiveError> {
        self.evict_idle_counted(idle).map(|(gone, _)| gone)
    }

    /// [`LiveCapture::evict_idle`], also returning how many entries the flow map still
    /// holds (from the same walk: at 2 × 65,536 entries a walk is not free).
    pub fn evict_idle_counted(
        &mut self,
        idle: Duration,
    ) -> Result<(Vec<(FlowKey, FlowStats)>, usize), LiveError> {
        let now = monotonic_ns();
        let cutoff = now.saturating_sub(u64::try_from(idle.as_nanos()).unwrap_or(u64::MAX));
        let flows = self.flows()?;
        let mut stale: Vec<(FlowKey, FlowStats)> = flows
            .iter()
            .filter(|(_, s)| s.last_seen_ns < cutoff)
            .copied()
            .collect();
        let live: HashSet<FlowKey> = flows
            .iter()
            .filter(|(_, s)| s.last_seen_ns >= cutoff)
            .map(|(k, _)| *k)
            .collect();
        {
            let mut m: BpfHashMap<_, FlowKey, FlowStats> =
                hash_map_mut(&mut self.ebpf, names::FLOWS)?;
            // Already gone (LRU or a racing packet path) is fine, but not ours to count.
            stale.retain(|(k, _)| m.remove(k).is_ok());
        }
        let mut done = self.done_map()?;
        let orphaned: Vec<FlowKey> = done
            .keys()
            .filter_map(Result::ok)
            .filter(|k| !live.contains(k))
            .collect();
        for k in orphaned {
            let _ = done.remove(&k);
        }
        let remaining = flows.len() - stale.len();
        Ok((stale, remaining))
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        // aya detaches links when the programs drop, but not our clsact qdiscs.
        let _ = self.detach();
    }
}

/// The first of a non-empty error list, for [`LiveError::Detach`]'s message.
fn first_error(errors: &[LiveError]) -> String {
    errors.first().map(ToString::to_string).unwrap_or_default()
}

fn delete_clsact_if_empty(iface: &str, idx: u32) -> Result<(), LiveError> {
    let nl = |source| LiveError::Netlink {
        iface: iface.to_owned(),
        source,
    };
    let filters = netlink::filter_count(idx, netlink::PARENT_INGRESS).map_err(nl)?
        + netlink::filter_count(idx, netlink::PARENT_EGRESS).map_err(nl)?;
    if filters == 0 {
        match netlink::delete_clsact(idx) {
            Ok(()) => {}
            // Already gone (interface removed, or deleted by someone else).
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EINVAL | libc::ENODEV)
                ) => {}
            Err(e) => return Err(nl(e)),
        }
    }
    Ok(())
}

/// Per-CPU counters summed; public for tests that hold a bare [`Ebpf`].
pub fn read_counters(ebpf: &Ebpf) -> Result<[u64; counter::COUNT as usize], LiveError> {
    let map = ebpf
        .map(names::COUNTERS)
        .ok_or(LiveError::MissingMap(names::COUNTERS))?;
    let arr: PerCpuArray<_, u64> = PerCpuArray::try_from(map).map_err(|source| LiveError::Map {
        name: names::COUNTERS,
        source,
    })?;
    let mut out = [0u64; counter::COUNT as usize];
    for (i, slot) in out.iter_mut().enumerate() {
        let values = arr.get(&(i as u32), 0).map_err(|source| LiveError::Map {
            name: names::COUNTERS,
            source,
        })?;
        *slot = values.iter().sum();
    }
    Ok(out)
}

/// A hash map of the object, read-only, typed.
fn hash_map<'a, K: aya::Pod, V: aya::Pod>(
    ebpf: &'a Ebpf,
    name: &'static str,
) -> Result<BpfHashMap<&'a MapData, K, V>, LiveError> {
    let map = ebpf.map(name).ok_or(LiveError::MissingMap(name))?;
    BpfHashMap::try_from(map).map_err(|source| LiveError::Map { name, source })
}

/// A hash map of the object, writable, typed.
fn hash_map_mut<'a, K: aya::Pod, V: aya::Pod>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<BpfHashMap<&'a mut MapData, K, V>, LiveError> {
    let map = ebpf.map_mut(name).ok_or(LiveError::MissingMap(name))?;
    BpfHashMap::try_from(map).map_err(|source| LiveError::Map { name, source })
}

/// Every entry of the flow map; public for tests that hold a bare [`Ebpf`].
pub fn read_flows(ebpf: &Ebpf) -> Result<Vec<(FlowKey, FlowStats)>, LiveError> {
    let m: BpfHashMap<_, FlowKey, FlowStats> = hash_map(ebpf, names::FLOWS)?;
    // An entry evicted between key iteration and lookup is skipped, not an error.
    Ok(m.iter().filter_map(Result::ok).collect())
}

/// `plainsight capture`: attach, print captured segments and flows as JSON lines.
#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// Interface to watch (repeatable). Default: every interface except `lo`.
    #[arg(long = "iface")]
    pub ifaces: Vec<String>,
    /// Attachment kind: tcx links or netlink clsact filters. Default: tcx if the
    /// kernel has it (probed), netlink otherwise.
    #[arg(long, value_enum)]
    pub attach: Option<AttachMode>,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Payload bytes captured per flow direction.
    #[arg(long, default_value_t = CaptureConfig::DEFAULT.byte_budget)]
    pub byte_budget: u32,
    /// Segments captured per flow direction.
    #[arg(long, default_value_t = CaptureConfig::DEFAULT.segment_budget)]
    pub segment_budget: u32,
    /// Flow directions idle this long (seconds) are removed from the kernel map.
    #[arg(long, default_value_t = 120)]
    pub idle_timeout: u64,
    /// Also print each segment's captured payload as hex (`payload_hex`). This prints
    /// SECRETS: passwords, tokens and cookies sent in the clear appear verbatim. Without
    /// it only lengths are printed.
    #[arg(long)]
    pub payload: bool,
}

#[derive(Serialize)]
struct SegmentLine<'a> {
    r#type: &'static str,
    ts: Timestamp,
    kind: &'static str,
    hook: &'static str,
    ifindex: u32,
    transport: Transport,
    src: String,
    dst: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ack: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_flags: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_flags: Option<u8>,
    wire_len: u32,
    payload_len: u32,
    /// Payload bytes the kernel copied (≤ `payload_len`).
    captured_len: usize,
    /// Only with `--payload`: the bytes may be credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_hex: Option<&'a str>,
}

#[derive(Serialize)]
struct FlowLine {
    r#type: &'static str,
    src: String,
    dst: String,
    transport: &'static str,
    packets: u64,
    bytes: u64,
    first_seen: Timestamp,
    last_seen: Timestamp,
    tcp_flags: u8,
    captured_segments: u16,
    captured_bytes: u32,
    capture_state: u8,
    first_flags: u8,
}

#[derive(Serialize)]
struct CountersLine {
    r#type: &'static str,
    counters: std::collections::BTreeMap<&'static str, u64>,
    bad_records: u64,
}

fn kind_str(k: EventKind) -> &'static str {
    match k {
        EventKind::Segment => "segment",
        EventKind::Fin => "fin",
        EventKind::Rst => "rst",
    }
}

/// One `segment` line; the payload itself only when `payload` is set (`--payload`).
fn write_segment(
    out: &mut impl io::Write,
    s: &OwnedSegment,
    payload: bool,
) -> Result<(), LiveError> {
    let hex = payload.then(|| hex::encode(&s.payload));
    let ep = s.endpoints();
    let line = SegmentLine {
        r#type: "segment",
        ts: s.ts,
        kind: kind_str(s.kind),
        hook: s.hook.as_str(),
        ifindex: s.ifindex,
        transport: s.transport,
        src: ep.src.to_string(),
        dst: ep.dst.to_string(),
        seq: s.tcp.map(|t| t.seq),
        ack: s.tcp.map(|t| t.ack),
        tcp_flags: s.tcp.map(|t| t.flags),
        first_flags: s.tcp.map(|t| t.first_flags),
        wire_len: s.wire_len,
        payload_len: s.payload_len,
        captured_len: s.payload.len(),
        payload_hex: hex.as_deref(),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    Ok(())
}

fn write_flows(
    out: &mut impl io::Write,
    flows: &[(FlowKey, FlowStats)],
    clock: &Clock,
) -> Result<(), LiveError> {
    for (k, s) in flows {
        let Ok(ep) = Endpoints::try_from(k) else {
            continue;
        };
        let line = FlowLine {
            r#type: "flow",
            src: ep.src.to_string(),
            dst: ep.dst.to_string(),
            transport: match ep.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            },
            packets: s.packets,
            bytes: s.bytes,
            first_seen: clock.wall(s.first_seen_ns),
            last_seen: clock.wall(s.last_seen_ns),
            tcp_flags: s.tcp_flags,
            captured_segments: s.captured_segments,
            captured_bytes: s.captured_bytes,
            capture_state: s.capture_state,
            first_flags: s.first_flags,
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Runs `plainsight capture` until the duration ends or SIGINT/SIGTERM arrives,
/// then prints the flow table and the counters and detaches everything.
pub async fn run_capture(args: CaptureArgs) -> Result<(), LiveError> {
    use tokio::signal::unix::{signal, SignalKind};
    // Signals first: a SIGINT during attach must still lead to a clean detach.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;

    let ifaces = if args.ifaces.is_empty() {
        interfaces()?
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| n != "lo")
            .collect()
    } else {
        args.ifaces.clone()
    };
    let config = CaptureConfig {
        byte_budget: args.byte_budget,
        segment_budget: args.segment_budget,
        ..CaptureConfig::DEFAULT
    };
    let mut cap = LiveCapture::load(&LoadOptions {
        config,
        ..LoadOptions::default()
    })?;
    let mode = args.attach.unwrap_or_else(|| resolve_auto(probe_tcx));
    cap.attach(&ifaces, mode)?;
    tracing::info!(interfaces = ?cap.attached_interfaces(), ?mode, "attached");
    let mut reader = cap.events()?;
    let clock = cap.clock();

    let duration = args
        .duration
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::MAX / 4);
    let deadline = tokio::time::sleep(duration);
    tokio::pin!(deadline);
    let mut evict = tokio::time::interval(Duration::from_secs(args.idle_timeout.max(1)));
    let idle = Duration::from_secs(args.idle_timeout);

    let stdout = io::stdout();
    let mut batch = Vec::new();
    let res: Result<(), LiveError> = async {
        loop {
            tokio::select! {
                r = reader.next_batch(&mut batch, DRAIN_BATCH) => {
                    r?;
                    let mut out = stdout.lock();
                    for s in batch.drain(..) {
                        write_segment(&mut out, &s, args.payload)?;
                    }
                    out.flush()?;
                }
                _ = evict.tick() => {
                    let gone = cap.evict_idle(idle)?;
                    let mut out = stdout.lock();
                    write_flows(&mut out, &gone, &clock)?;
                }
                _ = sigint.recv() => break,
                _ = sigterm.recv() => break,
                _ = &mut deadline => break,
            }
        }
        Ok(())
    }
    .await;

    // Whatever happened, detach before reporting it.
    let detached = cap.detach();
    let mut out = stdout.lock();
    reader.drain(&mut batch);
    for s in batch.drain(..) {
        write_segment(&mut out, &s, args.payload)?;
    }
    write_flows(&mut out, &cap.flows()?, &clock)?;
    let counters = cap.counters()?;
    let line = CountersLine {
        r#type: "counters",
        counters: counter::NAMES
            .iter()
            .copied()
            .zip(counters.iter().copied())
            .collect(),
        bad_records: reader.bad_records,
    };
    serde_json::to_writer(&mut out, &line)?;
    out.write_all(b"\n")?;
    out.flush()?;
    res?;
    detached
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn segment() -> OwnedSegment {
        OwnedSegment {
            ts: Timestamp(1),
            src_ip: IpAddr::from([10, 0, 0, 1]),
            dst_ip: IpAddr::from([10, 0, 0, 2]),
            src_port: 40000,
            dst_port: 110,
            transport: Transport::Tcp,
            tcp: Some(TcpMeta::default()),
            payload: b"PASS hunter2\r\n".to_vec(),
            wire_len: 80,
            payload_len: 14,
            ifindex: 2,
            hook: Hook::Egress,
            kind: EventKind::Segment,
        }
    }

    fn seg(n: u16) -> OwnedSegment {
        OwnedSegment {
            ts: Timestamp(u64::from(n)),
            src_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dst_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            src_port: n,
            dst_port: 80,
            transport: Transport::Udp,
            tcp: None,
            payload: Vec::new(),
            wire_len: 42,
            payload_len: 0,
            ifindex: 1,
            hook: Hook::Ingress,
            kind: EventKind::Segment,
        }
    }

    fn line(payload: bool) -> serde_json::Value {
        let mut out = Vec::new();
        write_segment(&mut out, &segment(), payload).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn capture_prints_payload_only_with_the_flag() {
        let hidden = line(false);
        assert_eq!(hidden["captured_len"], 14);
        assert!(hidden.get("payload_hex").is_none(), "{hidden}");
        assert!(!hidden.to_string().contains(&hex::encode("hunter2")));

        let shown = line(true);
        assert_eq!(shown["payload_hex"], hex::encode(b"PASS hunter2\r\n"));
    }

    #[test]
    fn a_flooded_ring_is_read_in_bounded_batches() {
        // Before: one wake-up read until the ring was empty, which under a flood is never.
        let mut endless = (0u16..).map(|n| {
            if n % 10 == 9 {
                Err(ParseError::Family(9))
            } else {
                Ok(seg(n))
            }
        });
        let (mut out, mut bad) = (Vec::new(), 0);
        let dry = fill_batch(&mut out, DRAIN_BATCH, &mut bad, || endless.next());
        assert!(!dry, "the bound stopped it, not an empty ring");
        assert_eq!(out.len() as u64 + bad, DRAIN_BATCH as u64);
        assert_eq!(bad, DRAIN_BATCH as u64 / 10);
        // The next batch goes on where this one stopped.
        out.clear();
        fill_batch(&mut out, 1, &mut bad, || endless.next());
        assert_eq!(out.first().map(|s| s.src_port), Some(DRAIN_BATCH as u16));
        // A ring that empties first reports it.
        let mut three = (0..3).map(|n| Ok(seg(n)));
        out.clear();
        assert!(fill_batch(&mut out, DRAIN_BATCH, &mut bad, || three.next()));
        assert_eq!(out.len(), 3);
    }
}
