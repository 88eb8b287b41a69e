//! The container image (docs/container.md): `cargo xtask image` builds it once per test
//! run; each test loads the OCI archive into a private podman store (a temp dir removed
//! at the end) and runs the agent the way a cluster would: read-only root, uid 65534,
//! only CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, no-new-privileges, the committed seccomp
//! profile, in a lab's hub network namespace. It must see a real flow (event on stdout,
//! metric on /metrics), keep the Basic password out of everything it prints, and stop
//! cleanly on `podman stop` with nothing left attached. Under podman's default seccomp
//! profile it must fail with an error that names seccomp: that is why the profile exists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use plainsight_tests::lab::{
    attached, http_get, metric_sum, parse_events, parse_metrics, run_timeout, Hub, Lab, SERVER_IP,
};

const PORT: u16 = 9930;
const PASSWORD: &str = "Img-Basic-s3cret";
const PROFILE: &str = "deploy/seccomp/plainsight.json";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `cargo xtask <args>` from the workspace root; panics with its output unless it succeeds.
fn xtask(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .current_dir(root())
        .arg("xtask")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run cargo xtask");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "cargo xtask {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The image, built once per test run: (reference, OCI archive).
fn image() -> &'static (String, PathBuf) {
    static IMAGE: OnceLock<(String, PathBuf)> = OnceLock::new();
    IMAGE.get_or_init(|| {
        // From the debug build the other kernel tests run (PLAINSIGHT_BIN): the same code
        // as the release image without a second, release, build of the workspace.
        let bin = plainsight_tests::agent_bin();
        let out = xtask(&["image", "--binary", bin.to_str().expect("utf-8 path")]);
        let field = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap_or_else(|| panic!("no `{k}` line in cargo xtask image's output:\n{out}"))
                .trim()
                .to_owned()
        };
        let reference = field("image:")
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        let archive = PathBuf::from(field("archive:"));
        assert!(archive.is_file(), "{} missing", archive.display());
        (reference, archive)
    })
}

/// A podman store of this test's own in a temp dir, with the same configuration as the
/// xtask's (runc, explicit ulimits, cgroupfs, file events; see docs/container.md).
/// Drop removes its containers, images and the directory.
struct Store {
    dir: PathBuf,
}

impl Store {
    fn new(tag: &str) -> Store {
        let dir = PathBuf::from(format!("/tmp/ps-img-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n\
                 events_logger = \"file\"\nevents_logfile_path = \"{d}/events.log\"\n\n\
                 [containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\n\
                 [network]\nnetwork_config_dir = \"{d}/networks\"\n"
            ),
        )
        .unwrap();
        Store { dir }
    }

    fn podman(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Runs podman (bounded); panics unless it succeeds. Returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, Duration::from_secs(120));
        assert!(
            out.status.success(),
            "podman {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn run(&self, args: &[&str], limit: Duration) -> Output {
        run_timeout(self.podman(args), None, limit)
    }

    /// Loads the image archive; returns the reference.
    fn load(&self) -> String {
        let (reference, archive) = image();
        let out = self.ok(&["load", "--input", archive.to_str().unwrap()]);
        assert!(out.contains(reference.as_str()), "podman load: {out}");
        reference.clone()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = self
                .podman(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        quiet(&["rm", "--all", "--force", "--time", "0"]);
        quiet(&["system", "reset", "--force"]);
        // Whatever podman left mounted under the store (nothing, normally).
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let prefix = format!("{}/", self.dir.display());
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", p]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The least-privilege `podman run` arguments of docs/container.md, in the lab's hub,
/// with `seccomp` as the profile (`None`: podman's default).
fn run_args<'a>(
    lab: &'a Lab,
    netns: &'a str,
    seccomp: Option<&'a str>,
    listen: &'a str,
) -> Vec<&'a str> {
    let mut a = vec![
        "--network",
        netns,
        "--read-only",
        "--user",
        "65534",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "BPF,NET_ADMIN,PERFMON",
        "--security-opt",
        "no-new-privileges",
        "--env",
        "RUST_LOG=info",
    ];
    if let Some(p) = seccomp {
        a.extend_from_slice(&["--security-opt", p]);
    }
    a.push("IMAGE");
    a.extend_from_slice(&[
        "run",
        "--iface",
        &lab.client_hub_if,
        "--events",
        "-",
        "--listen",
        listen,
    ]);
    a
}

fn hub_netns(lab: &Lab) -> String {
    format!("ns:/var/run/netns/{}", lab.hub_ns.as_deref().unwrap())
}

/// `podman logs` of a container: (stdout, stderr), kept apart (events vs. logs).
fn logs(store: &Store, name: &str) -> (String, String) {
    let out = store.run(&["logs", name], Duration::from_secs(30));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn inspect(store: &Store, name: &str, format: &str) -> String {
    store
        .ok(&["inspect", "--format", format, name])
        .trim()
        .to_owned()
}

#[test]
fn the_agent_runs_in_its_image_with_least_privilege() {
    let store = Store::new("run");
    let reference = store.load();
    let lab = Lab::new(&format!("ps-img{}", std::process::id()), Hub::Netns);
    let _server = lab.plain_http_server();

    let netns = hub_netns(&lab);
    let listen = format!("127.0.0.1:{PORT}");
    let seccomp = format!("seccomp={}", root().join(PROFILE).display());
    let mut args = vec!["run", "--detach", "--name", "ps-img-agent"];
    args.extend(
        run_args(&lab, &netns, Some(&seccomp), &listen)
            .into_iter()
            .map(|a| if a == "IMAGE" { reference.as_str() } else { a }),
    );
    store.ok(&args);

    let metrics_url = format!("http://{listen}/metrics");
    let ready_url = format!("http://{listen}/readyz");
    let hub = lab.hub_ns.as_deref();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(hub, &ready_url, &[]).0 != 200 {
        let running = inspect(&store, "ps-img-agent", "{{.State.Running}}");
        assert!(
            running == "true",
            "the agent's container stopped: {:?}",
            logs(&store, "ps-img-agent")
        );
        assert!(
            Instant::now() < deadline,
            "not ready within 30 s: {:?}",
            logs(&store, "ps-img-agent")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The container's process: nobody, exactly the three capabilities.
    let pid = inspect(&store, "ps-img-agent", "{{.State.Pid}}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert!(field("Uid:").starts_with("65534"), "{status}");
    let eff = u64::from_str_radix(&field("CapEff:"), 16).unwrap();
    assert_eq!(eff, (1 << 39) | (1 << 38) | (1 << 12), "CapEff {eff:#x}");
    assert_eq!(field("Seccomp:"), "2", "a seccomp filter is active");
    assert_eq!(field("NoNewPrivs:"), "1");
    let hooks = attached(hub, &lab.client_hub_if);
    assert_eq!(hooks.len(), 2, "ingress and egress attached: {hooks:?}");

    lab.basic_auth_get("img", PASSWORD);
    // The flow ends with FIN: reported within the agent's close linger.
    let deadline = Instant::now() + Duration::from_secs(40);
    let (events, metrics) = loop {
        let (code, body) = http_get(hub, &metrics_url, &[]);
        assert_eq!(code, 200, "/metrics: {body}");
        let (stdout, _) = logs(&store, "ps-img-agent");
        let events = parse_events(&stdout);
        let seen = events.iter().any(|e| {
            e["dst_ip"] == SERVER_IP
                && e["findings"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f == "plaintext.credentials"))
        });
        let s = parse_metrics(&body);
        if seen && metric_sum(&s, "plainsight_flows_total", &[("protocol", "http")]) >= 1.0 {
            break (stdout, body);
        }
        assert!(
            Instant::now() < deadline,
            "no plaintext.credentials event and http flow within 40 s:\n{body}\n{:?}",
            logs(&store, "ps-img-agent")
        );
        std::thread::sleep(Duration::from_millis(500));
    };

    // podman stop: SIGTERM, a clean exit, nothing left on the interface.
    store.ok(&["stop", "--time", "30", "ps-img-agent"]);
    assert_eq!(inspect(&store, "ps-img-agent", "{{.State.ExitCode}}"), "0");
    assert!(
        attached(hub, &lab.client_hub_if).is_empty(),
        "left attached after podman stop"
    );
    let (stdout, stderr) = logs(&store, "ps-img-agent");
    for (what, text) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("events", &events),
        ("metrics", &metrics),
    ] {
        assert!(
            !text.contains(PASSWORD),
            "the password is in the agent's {what}"
        );
    }
}

#[test]
fn the_default_seccomp_profile_refuses_bpf() {
    let store = Store::new("default");
    let reference = store.load();
    let lab = Lab::new(&format!("ps-imgd{}", std::process::id()), Hub::Netns);
    let netns = hub_netns(&lab);
    let listen = format!("127.0.0.1:{}", PORT + 1);
    let mut args = vec!["run", "--name", "ps-img-default"];
    args.extend(run_args(&lab, &netns, None, &listen).into_iter().map(|a| {
        if a == "IMAGE" {
            reference.as_str()
        } else {
            a
        }
    }));
    let out = store.run(&args, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(4),
        "under the default profile: {}\n{err}",
        out.status
    );
    assert!(
        err.contains("seccomp"),
        "the error does not name seccomp:\n{err}"
    );
    assert!(attached(lab.hub_ns.as_deref(), &lab.client_hub_if).is_empty());
}

#[test]
fn the_committed_profile_is_the_default_plus_bpf() {
    // The image build installs podman, whose containers-common holds the default.
    image();
    xtask(&["seccomp", "--check"]);
}
