//! deploy/: every kustomize overlay renders with the lab's `kubectl kustomize`, passes
//! `kubernetes-validate --strict`, applies server-side to the lab's real kube-apiserver
//! and reads back as applied; the DaemonSet holds exactly the least-privilege
//! capabilities; the ConfigMap's policy passes `plainsight config check`; the
//! PrometheusRule is dashboards/alerts.yml; and the agent, started in the state a
//! container runtime gives the DaemonSet's securityContext with the in-cluster service
//! account, names a web → db flow by workload and runs within its limits.
//!
//! There is no kubelet here: what a node would do is played by the last test
//! (docs/deploy.md says what was run and what was not).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use plainsight_tests::k8s::{lab, lab_dir, Cluster};
use plainsight_tests::lab::{
    attached, http_get, metric_sum, parse_metrics, Hub, Lab, Sample, CLIENT_IP, SERVER_IP,
};
use plainsight_tests::{agent_bin, Guard, LEAST_PRIVILEGE_CAPS};
use serde_json::{json, Value};

const OVERLAYS: [&str; 2] = ["default", "unconfined-seccomp"];
/// CRD kinds: kubernetes-validate has no schema for them (see `crd_objects_are_checked`).
const CRD_KINDS: [&str; 2] = ["PrometheusRule", "ServiceMonitor"];
/// The tests that apply to the lab's API server change the same objects: one at a time
/// even when the harness runs tests in parallel.
static APPLY: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// The node the emulated pod runs on.
const NODE: &str = "lab-node";
const PROMETHEUS_RULE: &str = "deploy/components/monitoring/prometheusrule.yaml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn kubectl() -> PathBuf {
    lab_dir().join("venv/bin/kubectl")
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ps-deploy-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `kubectl kustomize deploy/overlays/<overlay>` (no server needed).
fn render(overlay: &str) -> String {
    let out = output(
        Command::new(kubectl())
            .arg("kustomize")
            .arg(root().join("deploy/overlays").join(overlay)),
    );
    assert!(
        out.status.success(),
        "kubectl kustomize {overlay}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The documents of a multi-document YAML stream, as JSON.
fn objects(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn find<'a>(objs: &'a [Value], kind: &str) -> &'a Value {
    let mut it = objs.iter().filter(|o| o["kind"] == kind);
    let o = it.next().unwrap_or_else(|| panic!("no {kind} rendered"));
    assert!(it.next().is_none(), "more than one {kind}");
    o
}

/// The agent's container in the DaemonSet.
fn container(ds: &Value) -> &Value {
    let cs = ds["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(cs.len(), 1, "one container");
    &cs[0]
}

/// The ConfigMap's policy, written to a file.
fn policy(objs: &[Value], dir: &Path) -> (PathBuf, plainsight::config::Config) {
    let text = find(objs, "ConfigMap")["data"]["plainsight.toml"]
        .as_str()
        .expect("ConfigMap key plainsight.toml")
        .to_owned();
    let path = dir.join("plainsight.toml");
    std::fs::write(&path, &text).unwrap();
    let cfg = plainsight::config::Config::load(&path).expect("the ConfigMap's policy loads");
    (path, cfg)
}

#[test]
fn every_overlay_passes_kubernetes_validate_strict() {
    let dir = temp_dir("validate");
    for overlay in OVERLAYS {
        let yaml = render(overlay);
        let objs = objects(&yaml);
        let core = objs
            .iter()
            .filter(|o| !CRD_KINDS.iter().any(|k| o["kind"] == *k))
            .count();
        let file = dir.join(format!("{overlay}.yaml"));
        std::fs::write(&file, &yaml).unwrap();
        // The oldest schema set this kubernetes-validate ships (1.25: it has none for the
        // lab's 1.20; the apply test's kubectl validates against that server's OpenAPI)
        // and its default (the newest).
        for version in [Some("1.25.0"), None] {
            let mut cmd = Command::new(lab_dir().join("venv/bin/kubernetes-validate"));
            cmd.arg("--strict");
            if let Some(v) = version {
                cmd.args(["-k", v]);
            }
            let out = output(cmd.arg(&file));
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{overlay} {version:?}:\n{text}");
            let passed = text
                .lines()
                .filter(|l| l.starts_with("INFO") && l.contains(" passed for resource "))
                .count();
            assert_eq!(
                passed, core,
                "{overlay} {version:?}: every core object passes:\n{text}"
            );
            // The only warnings allowed: no schema for the prometheus-operator's kinds.
            for l in text.lines().filter(|l| !l.starts_with("INFO")) {
                assert!(
                    l.starts_with("WARN")
                        && l.contains("Couldn't find schema for kind")
                        && CRD_KINDS.iter().any(|k| l.contains(&format!("kind {k} "))),
                    "{overlay} {version:?}: {l}"
                );
            }
        }
    }
    // The validator does reject what it should: a misspelt field in the DaemonSet.
    let objs = objects(&render("default"));
    let mut ds = find(&objs, "DaemonSet").clone();
    ds["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = json!({});
    let bad = dir.join("bad.json");
    std::fs::write(&bad, ds.to_string()).unwrap();
    let out = output(
        Command::new(lab_dir().join("venv/bin/kubernetes-validate"))
            .arg("--strict")
            .arg(&bad),
    );
    assert!(!out.status.success(), "an unknown field passed --strict");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_daemonset_is_least_privilege_and_complete() {
    let dir = temp_dir("ds");
    let default = objects(&render("default"));
    let ds = find(&default, "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    let c = container(ds);
    let sc = &c["securityContext"];

    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    let add: Vec<String> = sc["capabilities"]["add"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(add, LEAST_PRIVILEGE_CAPS, "capabilities.add");
    // uid 0 holding only those three (docs/deploy.md: runtimes give non-root containers
    // no ambient capabilities); the last test runs the agent in exactly that state.
    assert_eq!(sc["runAsUser"], 0);
    assert_eq!(sc["runAsNonRoot"], false);
    assert!(pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v.get("hostPath").is_none()));
    assert_eq!(
        pod["securityContext"]["seccompProfile"],
        json!({ "type": "Localhost", "localhostProfile": "plainsight.json" })
    );

    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["priorityClassName"], "system-node-critical");
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 10);
    assert!(
        pod["tolerations"]
            .as_array()
            .unwrap()
            .contains(&json!({ "operator": "Exists" })),
        "tolerates every taint"
    );
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({ "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": "10%" } })
    );
    let sa = find(&default, "ServiceAccount");
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    assert_eq!(sa["metadata"]["namespace"], ds["metadata"]["namespace"]);

    // Image: the agent's version, never pulled when the node has it.
    let version = String::from_utf8(output(Command::new(agent_bin()).arg("--version")).stdout)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    assert_eq!(c["image"], format!("localhost/plainsight:{version}"));
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");

    for res in ["requests", "limits"] {
        for what in ["cpu", "memory"] {
            assert!(c["resources"][res][what].is_string(), "{res}.{what}");
        }
    }
    assert_eq!(
        c["env"],
        json!([{ "name": "NODE_NAME", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } }])
    );

    // The policy comes from the ConfigMap, events go to stdout.
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "run",
            "--config",
            "/etc/plainsight/plainsight.toml",
            "--events",
            "-"
        ]
    );
    let cm = find(&default, "ConfigMap");
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/etc/plainsight")
        .expect("/etc/plainsight mounted");
    assert_eq!(mount["readOnly"], true);
    let vol = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(vol["configMap"]["name"], cm["metadata"]["name"]);

    // Probes and the Service on the policy's [http] listen port.
    let (_, cfg) = policy(&default, &dir);
    let port = u64::from(cfg.http.listen.port());
    let ports = c["ports"].as_array().unwrap();
    let metrics = ports.iter().find(|p| p["name"] == "metrics").unwrap();
    assert_eq!(metrics["containerPort"], port);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(
            get["port"] == "metrics" || get["port"] == port,
            "{probe} port {}",
            get["port"]
        );
    }
    let svc = find(&default, "Service");
    let sp = &svc["spec"]["ports"][0];
    assert_eq!(sp["name"], "metrics");
    assert_eq!(sp["port"], port);
    assert!(sp["targetPort"] == "metrics" || sp["targetPort"] == port);
    let labels = &ds["spec"]["template"]["metadata"]["labels"];
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "the Service selects the agent's pods");
    }
    let sm = find(&default, "ServiceMonitor");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            &svc["metadata"]["labels"][k], v,
            "the ServiceMonitor selects the Service"
        );
    }

    // What is deployed is what tests/tests/k8s.rs proves enough and no more.
    let rbac = objects(&std::fs::read_to_string(root().join("deploy/base/rbac.yaml")).unwrap());
    for want in &rbac {
        let kind = want["kind"].as_str().unwrap();
        let got = find(&default, kind);
        for key in ["rules", "roleRef", "subjects"] {
            assert_eq!(got[key], want[key], "{kind}.{key}");
        }
        assert_eq!(got["metadata"]["name"], want["metadata"]["name"]);
    }

    // The other overlay changes the seccomp profile and nothing else.
    let unconfined = objects(&render("unconfined-seccomp"));
    let mut ds2 = find(&unconfined, "DaemonSet").clone();
    assert_eq!(
        ds2["spec"]["template"]["spec"]["securityContext"]["seccompProfile"],
        json!({ "type": "Unconfined" })
    );
    ds2["spec"]["template"]["spec"]["securityContext"]["seccompProfile"] =
        pod["securityContext"]["seccompProfile"].clone();
    assert_eq!(&ds2, ds);
    assert_eq!(unconfined.len(), default.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_configmap_policy_passes_config_check() {
    let dir = temp_dir("policy");
    let objs = objects(&render("default"));
    let (path, cfg) = policy(&objs, &dir);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        std::fs::read_to_string(root().join("deploy/base/plainsight.toml")).unwrap()
    );
    let out = output(
        Command::new(agent_bin())
            .args(["config", "check"])
            .arg(&path),
    );
    assert!(
        out.status.success(),
        "plainsight config check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cfg.kubernetes.enabled, "[kubernetes] enabled");
    assert!(
        cfg.kubernetes.kubeconfig.is_none(),
        "in-cluster service account"
    );
    // A bad policy does fail the same check.
    std::fs::write(&path, "[limits]\nmax_flowz = 1\n").unwrap();
    let out = output(
        Command::new(agent_bin())
            .args(["config", "check"])
            .arg(&path),
    );
    assert!(
        !out.status.success(),
        "config check accepted an unknown key"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// deploy/components/monitoring/prometheusrule.yaml from dashboards/alerts.yml: its
/// groups, indented under `spec:` (uniform indentation keeps YAML's meaning).
fn prometheus_rule_text() -> String {
    let alerts = std::fs::read_to_string(root().join("dashboards/alerts.yml")).unwrap();
    let mut s = String::from(
        "# Generated from dashboards/alerts.yml by tests/tests/deploy.rs: do not edit.\n\
         # PLAINSIGHT_WRITE_DOCS=1 cargo test -p plainsight-tests --test deploy prometheus_rule\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: plainsight\n  namespace: plainsight\n  labels:\n    app.kubernetes.io/name: plainsight\n\
         spec:\n",
    );
    for line in alerts.lines() {
        if !line.is_empty() {
            s.push_str("  ");
            s.push_str(line);
        }
        s.push('\n');
    }
    s
}

#[test]
fn the_prometheus_rule_is_alerts_yml() {
    let want = prometheus_rule_text();
    let path = root().join(PROMETHEUS_RULE);
    if std::env::var_os("PLAINSIGHT_WRITE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap_or_default() == want,
        "{PROMETHEUS_RULE} differs from dashboards/alerts.yml: rewrite it with \
         PLAINSIGHT_WRITE_DOCS=1 cargo test -p plainsight-tests --test deploy prometheus_rule"
    );

    // The rendered rule behaves as alerts.yml: promtool checks its groups and runs
    // dashboards/alerts.test.yml against them.
    let dir = temp_dir("rules");
    let objs = objects(&render("default"));
    let spec = &find(&objs, "PrometheusRule")["spec"];
    check_rules_like_alerts_yml(spec, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `promtool check rules` on `spec` (a PrometheusRule's), and `promtool test rules`
/// with dashboards/alerts.test.yml pointed at it.
fn check_rules_like_alerts_yml(spec: &Value, dir: &Path) {
    let promtool = plainsight_tests::lab::which("promtool")
        .expect("promtool missing: run `cargo xtask setup` (installs prometheus)");
    let rules = dir.join("rules.json");
    std::fs::write(&rules, spec.to_string()).unwrap();
    let out = output(Command::new(&promtool).args(["check", "rules"]).arg(&rules));
    assert!(
        out.status.success(),
        "promtool check rules: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let tests = std::fs::read_to_string(root().join("dashboards/alerts.test.yml")).unwrap();
    assert!(
        tests.contains("\n  - alerts.yml\n"),
        "alerts.test.yml's rule_files"
    );
    let tests = tests.replacen("\n  - alerts.yml\n", "\n  - rules.json\n", 1);
    std::fs::write(dir.join("alerts.test.yml"), tests).unwrap();
    let out = output(
        Command::new(&promtool)
            .args(["test", "rules", "alerts.test.yml"])
            .current_dir(dir),
    );
    assert!(
        out.status.success(),
        "promtool test rules on the PrometheusRule: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Minimal CRDs for the prometheus-operator's kinds (the lab has no operator): the
/// server stores and serves the objects; their fields are not schema-checked here.
fn install_crds() {
    let crd = |plural: &str, kind: &str| {
        json!({ "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": { "name": format!("{plural}.monitoring.coreos.com") },
            "spec": { "group": "monitoring.coreos.com", "scope": "Namespaced",
                "names": { "plural": plural, "kind": kind, "singular": kind.to_lowercase(), "listKind": format!("{kind}List") },
                "versions": [{ "name": "v1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": { "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true } } }] } })
    };
    let list = json!({ "apiVersion": "v1", "kind": "List",
        "items": [crd("servicemonitors", "ServiceMonitor"), crd("prometheusrules", "PrometheusRule")] });
    let lab = lab();
    lab.kubectl(&["apply", "-f", "-"], Some(&list.to_string()));
    for c in ["servicemonitors", "prometheusrules"] {
        lab.kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                &format!("crd/{c}.monitoring.coreos.com"),
            ],
            None,
        );
    }
}

/// Every field of `want` is in `got` with the same value (the server adds defaults).
fn assert_subset(want: &Value, got: &Value, at: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                let g = g
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k} missing: {got}"));
                assert_subset(v, g, &format!("{at}.{k}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{at}: {got}");
            for (i, (w, g)) in w.iter().zip(g).enumerate() {
                assert_subset(w, g, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(want, got, "{at}"),
    }
}

/// `kubectl apply --server-side` of `yaml` to the lab's API server (CRDs installed).
fn apply(yaml: &str) -> String {
    install_crds();
    lab().kubectl(
        &[
            "apply",
            "--server-side",
            "--field-manager=plainsight-deploy-test",
            "-f",
            "-",
        ],
        Some(yaml),
    )
}

#[test]
fn every_overlay_applies_server_side_and_reads_back() {
    let _one = APPLY.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    for overlay in OVERLAYS {
        let yaml = render(overlay);
        let out = apply(&yaml);
        let objs = objects(&yaml);
        assert_eq!(
            out.lines()
                .filter(|l| l.ends_with("serverside-applied"))
                .count(),
            objs.len(),
            "{overlay}: {out}"
        );
        for want in &objs {
            let kind = want["kind"].as_str().unwrap();
            let name = want["metadata"]["name"].as_str().unwrap();
            let mut args = vec!["get", kind, name, "-o", "json"];
            let ns = want["metadata"]["namespace"].as_str();
            if let Some(ns) = ns {
                args.extend(["-n", ns]);
            }
            let got: Value = serde_json::from_str(&lab.kubectl(&args, None)).unwrap();
            assert_subset(want, &got, &format!("{overlay} {kind}/{name}"));
        }
        // The PrometheusRule the server holds still behaves as alerts.yml.
        let pr: Value = serde_json::from_str(&lab.kubectl(
            &[
                "get",
                "prometheusrule",
                "plainsight",
                "-n",
                "plainsight",
                "-o",
                "json",
            ],
            None,
        ))
        .unwrap();
        let dir = temp_dir(&format!("served-{overlay}"));
        check_rules_like_alerts_yml(&pr["spec"], &dir);
        let _ = std::fs::remove_dir_all(&dir);
    }
    // The account the pods run as has the role (its reach: tests/tests/k8s.rs).
    let sa = "--as=system:serviceaccount:plainsight:plainsight";
    for (verb, res, want) in [("watch", "pods", "yes"), ("list", "secrets", "no")] {
        let out = output(
            Command::new(kubectl())
                .arg("--kubeconfig")
                .arg(&lab.kubeconfig)
                .args(["auth", "can-i", sa, verb, res, "--all-namespaces"]),
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            want,
            "{verb} {res}"
        );
    }
}

/// Bytes of a Kubernetes memory quantity (`384Mi`, `1Gi`, plain bytes).
fn quantity_bytes(q: &str) -> u64 {
    for (suffix, mult) in [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30)] {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().unwrap() * mult;
        }
    }
    q.parse().unwrap()
}

/// A `/proc/<pid>/status` field (first word).
fn status_field(pid: u32, name: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Kernel memory of the BPF maps a process holds (fdinfo `memlock`), charged to its
/// memory cgroup since Linux 5.11.
fn bpf_map_bytes(pid: u32) -> u64 {
    let mut total = 0;
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let is_map = std::fs::read_link(fd.path())
            .is_ok_and(|t| t.to_string_lossy() == "anon_inode:bpf-map");
        if !is_map {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        total += info
            .lines()
            .find_map(|l| l.strip_prefix("memlock:"))
            .map_or(0, |v| v.trim().parse::<u64>().unwrap());
    }
    total
}

/// `plainsight run` with the container's args, in the state a container runtime
/// (runc under containerd or CRI-O) creates for the DaemonSet's securityContext: its
/// own mount namespace with a read-only root, the ConfigMap read-only at
/// /etc/plainsight, uid `uid`, the added capabilities in the bounding and inheritable
/// sets, no ambient capabilities (the CRI clears them), no_new_privs
/// (`allowPrivilegeEscalation: false`). For uid 0 the kernel makes the bounding set
/// the permitted one at exec; for any other uid the permitted set ends empty.
fn spawn_as_the_runtime_would(
    lab: &Lab,
    ds: &Value,
    uid: u64,
    pod_dir: &Path,
    tag: &str,
) -> (Guard, String) {
    let c = container(ds);
    let sc = &c["securityContext"];
    let caps = sc["capabilities"]["add"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("+{}", c.as_str().unwrap().to_lowercase()))
        .collect::<Vec<_>>()
        .join(",");
    let caps = format!("-all,{caps}");
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    let mount = &c["volumeMounts"][0]["mountPath"];
    assert_eq!(mount, "/etc/plainsight");
    let mut setpriv = vec!["setpriv".to_owned()];
    if uid != 0 {
        let id = uid.to_string();
        setpriv.extend(["--reuid".into(), id.clone(), "--regid".into(), id]);
        setpriv.push("--clear-groups".into());
    }
    setpriv.extend([
        "--inh-caps".into(),
        caps.clone(),
        "--bounding-set".into(),
        caps,
        "--no-new-privs".into(),
        "--".into(),
        agent_bin().display().to_string(),
    ]);
    setpriv.extend(
        c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned()),
    );
    let quoted: Vec<String> = setpriv.iter().map(|a| format!("'{a}'")).collect();
    // tmpfs over /etc and /run (the image has nothing there the agent reads), the
    // policy and the service account's token, CA and namespace bound read-only where
    // the kubelet puts them, the root remounted read-only; none of it leaves this
    // namespace. /var/run is /run.
    let sa = "/run/secrets/kubernetes.io/serviceaccount";
    let script = format!(
        "set -e; mount -t tmpfs -o mode=755 tmpfs /etc; mkdir /etc/plainsight; \
         mount --bind '{pod}/config' /etc/plainsight; mount -o remount,ro,bind /etc/plainsight; \
         mount -o remount,ro /etc; \
         mount -t tmpfs -o mode=755 tmpfs /run; mkdir -p {sa}; \
         mount --bind '{pod}/serviceaccount' {sa}; mount -o remount,ro,bind {sa}; \
         mount -o remount,ro /run; mount -o remount,ro,bind /; exec {}",
        quoted.join(" "),
        pod = pod_dir.display(),
    );
    let stderr = lab.path(&format!("{tag}.stderr"));
    let child = lab
        .hub_cmd(&[
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("NODE_NAME", NODE)
        // What the kubelet sets for the in-cluster client; the lab's API server is
        // forwarded into the namespace on this address (Lab::forward_into).
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env(
            "KUBERNETES_SERVICE_PORT",
            plainsight_tests::k8s::lab().api_port.to_string(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("spawn the agent as the runtime would");
    (Guard(child), stderr)
}

fn mkdir(d: &Path) -> PathBuf {
    std::fs::create_dir_all(d).unwrap();
    d.to_path_buf()
}

#[test]
fn the_agent_runs_in_the_daemonsets_security_context_within_its_limits() {
    let _one = APPLY.lock().unwrap_or_else(|e| e.into_inner());
    let yaml = render("default");
    let objs = objects(&yaml);
    let ds = find(&objs, "DaemonSet");
    let c = container(ds);
    let lab = Lab::new(&format!("ps-dep{}", std::process::id()), Hub::Netns);
    let pod_dir = PathBuf::from(lab.path("pod"));
    let (_, cfg) = policy(&objs, &mkdir(&pod_dir.join("config")));
    let port = cfg.http.listen.port();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");

    // The deployment applied to the lab's API server; the pod's service account
    // volume as the kubelet projects it (mode 0644), with a token of that account.
    apply(&yaml);
    let k8s = plainsight_tests::k8s::lab();
    let sa_dir = mkdir(&pod_dir.join("serviceaccount"));
    let token = k8s.kubectl(&["create", "token", "plainsight", "-n", "plainsight"], None);
    std::fs::write(sa_dir.join("token"), token.trim()).unwrap();
    std::fs::copy(lab_dir().join("pki/ca.crt"), sa_dir.join("ca.crt")).unwrap();
    std::fs::write(sa_dir.join("namespace"), "plainsight").unwrap();
    let hub = lab.hub_ns.clone().unwrap();
    let _api = k8s.forward_into(&hub);
    // Deployment web (the lab client) talks to StatefulSet db (the lab server) in a
    // namespace of their own, both on this node.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let shop = rt.block_on(async {
        let c = Cluster::admin().await;
        let ns = c.namespace("shop").await;
        let web = c.deployment_pod(&ns, "web", NODE).await;
        let db = c.statefulset_pod(&ns, "db", NODE).await;
        c.set_running(&ns, &web.pod, CLIENT_IP, "192.0.2.1").await;
        c.set_running(&ns, &db.pod, SERVER_IP, "192.0.2.1").await;
        ns
    });

    // As uid 65534 (the image's USER) the same securityContext leaves the agent no
    // capability: it says so and exits 4. That is why the DaemonSet runs as uid 0.
    let (mut agent, stderr) = spawn_as_the_runtime_would(&lab, ds, 65534, &pod_dir, "nobody");
    let st = agent
        .wait_exit(Duration::from_secs(30))
        .expect("uid 65534 kept running");
    let err = std::fs::read_to_string(&stderr).unwrap();
    assert_eq!(st.code(), Some(4), "uid 65534: {st}\n{err}");
    assert!(err.contains("missing capabilities"), "{err}");

    let _server = lab.plain_http_server();
    let uid = c["securityContext"]["runAsUser"].as_u64().unwrap();
    let (mut agent, stderr) = spawn_as_the_runtime_would(&lab, ds, uid, &pod_dir, "pod");
    let pid = agent.0.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The readiness probe's path, then the liveness probe's.
    while http_get(lab.hub_ns.as_deref(), &url("/readyz"), &[]).0 != 200 {
        if let Ok(Some(st)) = agent.0.try_wait() {
            panic!(
                "the agent exited: {st}\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "not ready within 30 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        http_get(lab.hub_ns.as_deref(), &url("/healthz"), &[]).0,
        200
    );
    assert_eq!(status_field(pid, "Uid:"), uid.to_string());
    assert_eq!(
        status_field(pid, "CapEff:"),
        format!("{:016x}", (1u64 << 39) | (1 << 12) | (1 << 38))
    );
    assert_eq!(status_field(pid, "CapAmb:"), "0000000000000000");
    assert_eq!(status_field(pid, "NoNewPrivs:"), "1");
    assert!(!attached(lab.hub_ns.as_deref(), &lab.client_hub_if).is_empty());

    for _ in 0..3 {
        let out = lab.client(
            &["curl", "-sS", "--fail", &format!("http://{}/", SERVER_IP)],
            None,
        );
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (code, body) = http_get(lab.hub_ns.as_deref(), &url("/metrics"), &[]);
        assert_eq!(code, 200);
        // Named by workload through the in-cluster account and the deployed RBAC.
        let named = [
            ("protocol", "http"),
            ("src_namespace", shop.as_str()),
            ("src_workload", "web"),
            ("dst_namespace", shop.as_str()),
            ("dst_workload", "db"),
        ];
        if metric_sum(&parse_metrics(&body), "plainsight_flows_total", &named) >= 3.0 {
            let s = parse_metrics(&body);
            let up: Vec<&Sample> = s
                .iter()
                .filter(|x| x.name == "plainsight_kubernetes_watch_up")
                .collect();
            assert!(
                !up.is_empty() && up.iter().all(|x| x.value == 1.0),
                "every watch up:\n{body}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no http flows within 40 s:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Memory: what the container is charged with (the process and its BPF maps),
    // plus the bounded state's cap, fits the limit.
    let rss = quantity_bytes(&format!("{}Ki", status_field(pid, "VmRSS:")));
    let hwm = quantity_bytes(&format!("{}Ki", status_field(pid, "VmHWM:")));
    let maps = bpf_map_bytes(pid);
    let limit = quantity_bytes(c["resources"]["limits"]["memory"].as_str().unwrap());
    let request = quantity_bytes(c["resources"]["requests"]["memory"].as_str().unwrap());
    let cap = cfg.limits.max_memory_bytes;
    eprintln!(
        "measured: VmRSS {} KiB, VmHWM {} KiB, BPF maps {} KiB; max_memory_bytes {} MiB; limit {} MiB",
        rss >> 10, hwm >> 10, maps >> 10, cap >> 20, limit >> 20
    );
    assert!(
        hwm + maps + cap <= limit,
        "peak RSS + maps + max_memory_bytes above the limit"
    );
    assert!(
        rss + maps <= request,
        "the idle agent needs more than its request"
    );

    // SIGTERM, as the kubelet stops a pod: a clean exit within the grace period.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let grace = ds["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    let st = agent
        .wait_exit(Duration::from_secs(grace))
        .expect("no exit within the grace period");
    assert!(
        st.success(),
        "exit {st}: {}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    assert!(attached(lab.hub_ns.as_deref(), &lab.client_hub_if).is_empty());
}
