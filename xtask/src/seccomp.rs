//! `cargo xtask seccomp`: writes `deploy/seccomp/plainsight.json` from the container
//! runtime's default profile (containers-common's `/usr/share/containers/seccomp.json`,
//! installed with podman) with one change: `bpf(2)` is also allowed to a container that
//! holds `CAP_BPF`. The default allows it only with `CAP_SYS_ADMIN` and answers EPERM
//! otherwise, so the agent, which runs with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON and
//! never CAP_SYS_ADMIN, cannot load its programs under it (docs/container.md).
//!
//! `--check` compares instead of writing: the committed profile must be exactly the
//! transform of the installed default (tests/tests/image.rs runs it).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The default profile the transform starts from (package golang-github-containers-common,
/// a dependency of podman).
pub const DEFAULT_PROFILE: &str = "/usr/share/containers/seccomp.json";
/// Where the profile lives in the repository.
pub const PROFILE: &str = "deploy/seccomp/plainsight.json";

/// What the rules added here say about themselves.
const COMMENT: &str = "plainsight: bpf(2) with CAP_BPF (cargo xtask seccomp, docs/container.md)";

pub fn run(root: &Path, check: bool) -> Result<()> {
    if !Path::new(DEFAULT_PROFILE).exists() {
        crate::image::install_tools()?;
    }
    let text = std::fs::read_to_string(DEFAULT_PROFILE)
        .with_context(|| format!("reading {DEFAULT_PROFILE}"))?;
    let default: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {DEFAULT_PROFILE}"))?;
    let mut out = serde_json::to_string_pretty(&transform(default)?)?;
    out.push('\n');
    let path = root.join(PROFILE);
    if check {
        let committed =
            std::fs::read_to_string(&path).with_context(|| format!("reading {PROFILE}"))?;
        if committed != out {
            bail!(
                "{PROFILE} is not the transform of {DEFAULT_PROFILE} (the default changed?): \
                 run `cargo xtask seccomp` and review the diff"
            );
        }
        println!("{PROFILE}: the installed default plus bpf with CAP_BPF");
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, out).with_context(|| format!("writing {PROFILE}"))?;
    println!("wrote {PROFILE} from {DEFAULT_PROFILE}");
    Ok(())
}

/// The default profile with `bpf` allowed under CAP_BPF. The default has `bpf` in two
/// rules: ALLOW when CAP_SYS_ADMIN is held (kept) and ERRNO(EPERM) unless it is held.
/// `bpf` leaves the second; a rule of its own gives EPERM only when neither capability
/// is held (`excludes` skips a rule when any listed capability is held), and a last rule
/// allows it with CAP_BPF. No two rules that apply together give `bpf` different actions,
/// which libseccomp would refuse.
pub fn transform(mut profile: Value) -> Result<Value> {
    let rules = profile
        .get_mut("syscalls")
        .and_then(Value::as_array_mut)
        .context("the default profile has no `syscalls` array")?;
    let caps = |rule: &Value, key: &str| -> Vec<String> {
        rule.get(key)
            .and_then(|v| v.get("caps"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let has_bpf = |rule: &Value| {
        rule.get("names")
            .and_then(Value::as_array)
            .is_some_and(|n| n.iter().any(|s| s == "bpf"))
    };
    let action = |rule: &Value| {
        rule.get("action")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let sys_admin = vec!["CAP_SYS_ADMIN".to_owned()];
    let allow_with_admin = rules
        .iter()
        .any(|r| has_bpf(r) && action(r) == "SCMP_ACT_ALLOW" && caps(r, "includes") == sys_admin);
    let deny_pos = rules.iter().position(|r| {
        has_bpf(r) && action(r) == "SCMP_ACT_ERRNO" && caps(r, "excludes") == sys_admin
    });
    let other_bpf = rules.iter().filter(|r| has_bpf(r)).count();
    let Some(pos) = deny_pos.filter(|_| allow_with_admin && other_bpf == 2) else {
        bail!(
            "{DEFAULT_PROFILE} no longer has exactly the two bpf rules this transform expects \
             (ALLOW with CAP_SYS_ADMIN, EPERM without): review it by hand"
        );
    };
    let deny = &mut rules[pos];
    let errno_ret = deny.get("errnoRet").cloned().unwrap_or(json!(1));
    let errno = deny.get("errno").cloned().unwrap_or(json!("EPERM"));
    if let Some(names) = deny.get_mut("names").and_then(Value::as_array_mut) {
        names.retain(|n| n != "bpf");
    }
    rules.insert(
        pos + 1,
        json!({
            "names": ["bpf"],
            "action": "SCMP_ACT_ERRNO",
            "args": [],
            "comment": COMMENT,
            "includes": {},
            "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]},
            "errnoRet": errno_ret,
            "errno": errno,
        }),
    );
    rules.push(json!({
        "names": ["bpf"],
        "action": "SCMP_ACT_ALLOW",
        "args": [],
        "comment": COMMENT,
        "includes": {"caps": ["CAP_BPF"]},
        "excludes": {},
    }));
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two bpf rules of containers-common's default, in its shape.
    fn default_like() -> Value {
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [],
                 "includes": {}, "excludes": {}},
                {"names": ["bpf", "perf_event_open"], "action": "SCMP_ACT_ALLOW", "args": [],
                 "includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {}},
                {"names": ["bpf", "perf_event_open"], "action": "SCMP_ACT_ERRNO", "args": [],
                 "includes": {}, "excludes": {"caps": ["CAP_SYS_ADMIN"]},
                 "errnoRet": 1, "errno": "EPERM"},
            ]
        })
    }

    #[test]
    fn allows_bpf_with_cap_bpf_and_keeps_the_rest() {
        let out = transform(default_like()).unwrap();
        let rules = out["syscalls"].as_array().unwrap();
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0], default_like()["syscalls"][0]);
        assert_eq!(rules[1], default_like()["syscalls"][1]);
        assert_eq!(rules[2]["names"], json!(["perf_event_open"]));
        assert_eq!(rules[3]["names"], json!(["bpf"]));
        assert_eq!(
            rules[3]["excludes"]["caps"],
            json!(["CAP_SYS_ADMIN", "CAP_BPF"])
        );
        assert_eq!(rules[3]["errnoRet"], json!(1));
        assert_eq!(rules[4]["action"], json!("SCMP_ACT_ALLOW"));
        assert_eq!(rules[4]["includes"]["caps"], json!(["CAP_BPF"]));
    }

    #[test]
    fn refuses_a_default_of_another_shape() {
        let mut d = default_like();
        d["syscalls"].as_array_mut().unwrap().remove(2);
        assert!(transform(d).is_err());
    }
}
