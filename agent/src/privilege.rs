//! The capabilities the live modes need, and a clear message when one is missing.
//!
//! `plainsight run` and `plainsight capture` need, in the initial user namespace
//! (docs/security.md explains each):
//! - `CAP_BPF`: create the maps and load the programs (`bpf(2)`);
//! - `CAP_PERFMON`: the verifier accepts the programs' reads of stack bytes it cannot
//!   prove initialised only from a perfmon-capable loader;
//! - `CAP_NET_ADMIN`: load TC (`sched_cls`) programs, attach them (tcx links or clsact
//!   qdisc and filters over rtnetlink), query and remove stale ones.
//!
//! `CAP_SYS_ADMIN` alone covers all three (and is what kernels before 5.8 need).

use std::error::Error;
use std::io;

/// Capability numbers from `linux/capability.h`.
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// What the live modes need: (bit, name).
pub const REQUIRED: [(u32, &str); 3] = [
    (CAP_BPF, "CAP_BPF"),
    (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
    (CAP_PERFMON, "CAP_PERFMON"),
];

/// The effective set from `/proc/self/status` (`CapEff`, hexadecimal).
pub fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

/// Whether a seccomp filter is installed (`Seccomp: 2` in `/proc/self/status`): a
/// container runtime's default profile answers EPERM to `bpf(2)` without CAP_SYS_ADMIN,
/// which would otherwise read as a capability problem.
fn seccomp_filtered(status: &str) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .is_some_and(|m| m.trim() == "2")
}

/// Names of the [`REQUIRED`] capabilities missing from `eff` (none with CAP_SYS_ADMIN).
pub fn missing_from(eff: u64) -> Vec<&'static str> {
    let has = |bit: u32| eff & (1u64 << bit) != 0;
    if has(CAP_SYS_ADMIN) {
        return Vec::new();
    }
    REQUIRED
        .iter()
        .filter(|(bit, _)| !has(*bit))
        .map(|(_, name)| *name)
        .collect()
}

/// Whether `err` or one of its sources is a permission error from the kernel.
pub fn is_permission_error(err: &(dyn Error + 'static)) -> bool {
    let mut cur: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::PermissionDenied)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// For a failed load or attach: which capability is missing, when that is the cause.
pub fn hint(err: &(dyn Error + 'static)) -> Option<String> {
    if !is_permission_error(err) {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let missing = missing_from(parse_cap_eff(&status)?);
    Some(if missing.is_empty() && seccomp_filtered(&status) {
        "permission denied although CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON are effective, \
         under a seccomp filter: a container runtime's default seccomp profile refuses \
         bpf(2) without CAP_SYS_ADMIN; run with deploy/seccomp/plainsight.json \
         (docs/container.md)"
            .to_owned()
    } else if missing.is_empty() {
        "permission denied although CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON are effective: \
         are they held in the initial user namespace? (docs/security.md)"
            .to_owned()
    } else {
        format!(
            "missing capabilities: {}; the live modes need CAP_BPF, CAP_NET_ADMIN and \
             CAP_PERFMON (docs/security.md)",
            missing.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_set() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000000c000001000\n";
        let eff = parse_cap_eff(status).unwrap();
        assert_eq!(missing_from(eff), Vec::<&str>::new());
        // Without CAP_PERFMON (bit 38).
        assert_eq!(missing_from(eff & !(1 << 38)), vec!["CAP_PERFMON"]);
        assert_eq!(
            missing_from(0),
            vec!["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"]
        );
        assert!(missing_from(1 << 21).is_empty());
        assert!(!seccomp_filtered(status));
        assert!(seccomp_filtered(
            "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n"
        ));
        assert!(!seccomp_filtered("Seccomp:\t0\n"));
    }

    #[test]
    fn finds_a_permission_error_in_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] io::Error);
        let denied = Outer(io::Error::from_raw_os_error(libc::EPERM));
        assert!(is_permission_error(&denied));
        let other = Outer(io::Error::from_raw_os_error(libc::ENOENT));
        assert!(!is_permission_error(&other));
    }
}
