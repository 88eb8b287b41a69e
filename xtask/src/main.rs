//! `cargo xtask <command>`: see `cargo xtask --help`.
//!
//! The toolchain recipe these commands encode is `docs/toolchain.md`: Debian's
//! Rust 1.96 (with a prebuilt `core` for `bpfel-unknown-none`), LLVM 22 and
//! bpf-linker 0.13.0. `setup` installs only what is missing, so every other command
//! can call it and stay fast.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// Debian packages the build needs: Debian's Rust with the prebuilt BPF `core`, and the
/// LLVM that bpf-linker is built against. Enough to run the agent.
const BUILD_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "libstd-rust-web-dev-bpf",
    "llvm-22-dev",
];

/// What the kernel and lab tests, the demo and the benchmarks drive: real servers and
/// clients run inside throwaway network namespaces. nginx is handled apart: either
/// `nginx-light` or `nginx` will do. `prometheus` brings `promtool`, which checks the
/// scraped metrics and dashboards/alerts.yml. Never needed to monitor a host.
const LAB_PACKAGES: &[&str] = &[
    "tcpdump",
    "iproute2",
    "ethtool",
    "iperf3",
    "curl",
    "openssl",
    "postgresql",
    "python3",
    "prometheus",
    "redis-server",
    "redis-tools",
    "python3-pyftpdlib",
    "python3-aiosmtpd",
    "vsftpd",
    "memcached",
    "dnsmasq-base",
    "mosquitto",
    "mosquitto-clients",
    "mariadb-server",
    "mariadb-client",
    "slapd",
    "ldap-utils",
    "dovecot-imapd",
    "dovecot-pop3d",
];

/// systemd units that lab packages would start on the host, by package. The tests run
/// their own instances in namespaces; the host's stay stopped and disabled.
const LAB_SERVICES: &[(&str, &str)] = &[
    ("postgresql", "postgresql"),
    ("prometheus", "prometheus"),
    ("redis-server", "redis-server"),
    ("vsftpd", "vsftpd"),
    ("memcached", "memcached"),
    ("mosquitto", "mosquitto"),
    ("mariadb-server", "mariadb"),
    ("nginx-light", "nginx"),
    ("slapd", "slapd"),
    ("dovecot-imapd", "dovecot"),
    ("dovecot-pop3d", "dovecot"),
    // `cargo xtask image`: podman's API socket and timers are not wanted on the host.
    ("podman", "podman.socket"),
    ("podman", "podman.service"),
    ("podman", "podman-restart.service"),
    ("podman", "podman-auto-update.timer"),
];

const BPF_LINKER_VERSION: &str = "0.13.0";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

#[derive(Parser)]
#[command(name = "xtask", about = "Plainsight project automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install missing toolchain pieces (apt packages, bpf-linker). Idempotent.
    Setup,
    /// Build or reuse the Kubernetes lab the identity tests run against (kube-apiserver
    /// v1.20.2 from Debian's source package, etcd, kubectl) in /var/cache/plainsight/k8s-lab
    /// (PLAINSIGHT_K8S_LAB overrides). Idempotent: fast when everything is there.
    K8sLab,
    /// Build the eBPF object alone (target/bpfel-unknown-none/release/agent-ebpf).
    BuildEbpf,
    /// Setup (lab packages, the Kubernetes lab API server), `cargo test` of the default
    /// members, the root kernel tests, then every fuzz target for 20 s.
    Test {
        /// Extra arguments for the kernel tests' harness (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Setup, build and run the agent. With no arguments: `plainsight run` on every
    /// interface (the node agent); otherwise the arguments, e.g. `-- capture --iface eth0`.
    /// `cargo xtask run --demo` runs the demo lab instead (see `demo`).
    Run {
        /// Run the demo lab (same as `cargo xtask demo`).
        #[arg(long)]
        demo: bool,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Measure per-packet program cost with kernel.bpf_stats_enabled.
    BenchKernel,
    /// The demo lab: hardened and weak nginx, plain HTTP, PostgreSQL without TLS and
    /// failing handshakes in network namespaces, a traffic round every 2 s, and
    /// `plainsight run` serving http://127.0.0.1:9909/metrics. Ctrl-C removes it all.
    Demo {
        /// Stop after this many rounds (0: run until Ctrl-C).
        #[arg(long, default_value_t = 300)]
        rounds: u64,
        /// Port of the agent's HTTP server on 127.0.0.1.
        #[arg(long, default_value_t = 9909)]
        port: u16,
    },
    /// The live agent's cost: iperf3 across the lab's veth (offloads off) with no
    /// program, the agent and the empty program, in alternating rounds; then a TLS
    /// connection flood stepped up (1, 2, 4, 8 parallel `openssl s_time -new`): drops and
    /// agent CPU per 1,000 handshakes. Writes docs/bench-live.md (and a .tsv beside it).
    BenchLive {
        /// Seconds per flood step.
        #[arg(long, default_value_t = 8)]
        secs: u64,
        /// Parallel clients of each flood step.
        #[arg(long, default_value = "1,2,4,8")]
        steps: String,
        /// Alternating iperf3 rounds (each: baseline, agent, empty program).
        #[arg(long, default_value_t = 10)]
        rounds: u32,
    },
    /// Records real traffic in network namespaces (nginx, openssl, PostgreSQL, Redis,
    /// bulk transfers; offloads off) into target/bench/capture-<mix>.pcap. Extra
    /// arguments size the mix, e.g. `-- --tls13 3000 --bulk 0`.
    BenchCapture {
        /// handshake, bulk or mixed; repeat for several (default: all three).
        #[arg(long)]
        mix: Vec<String>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Every benchmark in one run (pcap on the three recorded mixes and the corpus mix
    /// with the peers and the record-loop floor, bench-kernel, bench-live); writes
    /// BENCHMARKS.md and the README's benchmark block from it.
    Bench {
        /// Rounds of each pcap tool.
        #[arg(long, default_value_t = 5)]
        reps: u32,
        /// Size of the corpus mix (scripts/gen-bench-pcap.py).
        #[arg(long, default_value_t = 100)]
        corpus_mb: u32,
        /// Record the mixes again even when target/bench has them.
        #[arg(long)]
        recapture: bool,
    },
    /// Coverage-guided fuzzing (cargo-fuzz, libFuzzer, nightly): builds the targets in
    /// `fuzz/` and runs each (or TARGET) for `--secs`, from `fuzz/seeds/<target>` plus
    /// what earlier runs found (`fuzz/corpus/<target>`). Installs cargo-fuzz if missing.
    /// A crash is left in `fuzz/artifacts/<target>/` and fails the command.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        secs: u64,
        /// Re-extract `fuzz/seeds` from a capture corpus (default `tests/corpus`) and the
        /// test fixtures first.
        #[arg(long, value_name = "CORPUS", num_args = 0..=1, default_missing_value = "tests/corpus")]
        seeds: Option<PathBuf>,
        /// One target (see `fuzz/Cargo.toml`); default: all of them.
        target: Option<String>,
    },
    /// The dashboard as PNGs, Grafana not being installable here (not in Debian): the
    /// end-to-end test (tests/tests/e2e.rs) with PLAINSIGHT_DASHBOARD_OUT writes each
    /// panel's Prometheus results, scripts/render-dashboard.py draws them into
    /// docs/img/dashboard/. Installs python3-matplotlib if missing.
    DashboardsRender,
    /// Hostile traffic against the live agent (tests/tests/flood.rs: spoofed FINs, a
    /// 100k SYN flood, UDP, 10k random SNIs, ring-buffer overload, 10k/100k flows);
    /// writes docs/reliability.md from the figures they record.
    Stress,
    /// The container image localhost/plainsight:<version> (docs/container.md): the
    /// release binary on the Debian packages it links against, built with podman in a
    /// private store under target/image, saved as target/image/plainsight-<version>.oci.tar.
    /// Installs podman, runc, mmdebstrap and binutils if missing. Idempotent.
    Image {
        /// Rebuild the root filesystem even if its inputs look unchanged (a new point
        /// release of the mirror).
        #[arg(long)]
        refresh: bool,
        /// Put this `plainsight` binary in the image instead of building the release one.
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// Write deploy/seccomp/plainsight.json: the container runtime's default seccomp
    /// profile plus bpf(2) with CAP_BPF. `--check`: fail if the committed file differs.
    Seccomp {
        #[arg(long)]
        check: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    match cli.command {
        Cmd::Setup => setup(Need::Lab),
        Cmd::K8sLab => k8s_lab(&root),
        Cmd::BuildEbpf => {
            setup(Need::Build)?;
            build_ebpf(&root)
        }
        Cmd::Test { args } => test(&root, &args),
        Cmd::Run { demo: true, .. } => demo(&root, 300, 9909),
        Cmd::Demo { rounds, port } => demo(&root, rounds, port),
        Cmd::BenchLive {
            secs,
            steps,
            rounds,
        } => {
            require_root("bench-live (network namespaces, BPF)")?;
            setup(Need::Lab)?;
            bench_live(&root, secs, &steps, rounds)
        }
        Cmd::BenchCapture { mix, args } => {
            require_root("bench-capture (network namespaces)")?;
            setup(Need::Lab)?;
            let mixes = if mix.is_empty() {
                bench::MIXES.iter().map(|m| (*m).to_owned()).collect()
            } else {
                mix
            };
            bench::capture(&root, &mixes, &args)
        }
        Cmd::Bench {
            reps,
            corpus_mb,
            recapture,
        } => {
            require_root("bench (network namespaces, BPF, apt)")?;
            setup(Need::Lab)?;
            bench::bench(
                &root,
                &bench::Options {
                    reps,
                    corpus_mb,
                    recapture,
                },
            )
        }
        Cmd::Run { demo: false, args } => {
            setup(Need::Build)?;
            let args = if args.is_empty() {
                vec!["run".to_owned()]
            } else {
                args
            };
            run(cargo()
                .current_dir(&root)
                .args([
                    "run",
                    "--release",
                    "--quiet",
                    "-p",
                    "plainsight",
                    "--bin",
                    "plainsight",
                    "--",
                ])
                .args(&args))
        }
        Cmd::BenchKernel => {
            setup(Need::Lab)?;
            bench(&root)
        }
        Cmd::Fuzz {
            secs,
            seeds,
            target,
        } => fuzz(&root, secs, seeds.as_deref(), target.as_deref()),
        Cmd::DashboardsRender => dashboards_render(&root),
        Cmd::Stress => {
            require_root("stress (network namespaces, BPF)")?;
            setup(Need::Lab)?;
            stress::run(&root)
        }
        Cmd::Image { refresh, binary } => image::build(&root, refresh, binary.as_deref()),
        Cmd::Seccomp { check } => seccomp::run(&root, check),
    }
}

mod bench;
mod image;
mod seccomp;
mod stress;

fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

/// The cargo that runs xtask (rustup's), with ~/.cargo/bin on PATH for bpf-linker.
pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.env("PATH", path_with_cargo_bin());
    c
}

fn cargo_bin_dir() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"));
    home.join("bin")
}

fn path_with_cargo_bin() -> String {
    let bin = cargo_bin_dir();
    let path = std::env::var("PATH").unwrap_or_default();
    if path.split(':').any(|p| Path::new(p) == bin) {
        path
    } else {
        format!("{}:{path}", bin.display())
    }
}

pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// `apt-get install` with services kept off the host: a policy-rc.d that denies every
/// start (invoke-rc.d(8)) while apt runs, then, under systemd, the units of the lab
/// packages just installed are disabled (never units that were there before).
fn apt_install(missing: &[&str]) -> Result<()> {
    eprintln!("xtask setup: installing {}", missing.join(" "));
    run(Command::new("apt-get").arg("update").arg("-qq"))
        .context("apt-get update failed (network or apt sources?)")?;
    const MARK: &str = "# written by cargo xtask setup while apt runs";
    let policy = Path::new("/usr/sbin/policy-rc.d");
    // Ours when absent, or left over by a setup that was interrupted.
    let ours = std::fs::read_to_string(policy).map_or(true, |t| t.contains(MARK));
    if ours {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(policy, format!("#!/bin/sh\n{MARK}\nexit 101\n"))
            .context("writing /usr/sbin/policy-rc.d")?;
        std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755))?;
    }
    let res = run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .with_context(|| format!("apt-get install {} failed", missing.join(" ")));
    if ours {
        std::fs::remove_file(policy).context("removing /usr/sbin/policy-rc.d")?;
    }
    res?;
    if Path::new("/run/systemd/system").exists() {
        for (pkg, unit) in LAB_SERVICES {
            if missing.contains(pkg) {
                // Best effort: a unit may not exist on this release.
                let _ = Command::new("systemctl")
                    .args(["disable", "--now", "--quiet", unit])
                    .status();
            }
        }
    }
    Ok(())
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains("install ok installed")
        })
        .unwrap_or(false)
}

/// What a command needs installed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Build and run the agent.
    Build,
    /// Also the servers and tools of the lab (tests, demo, benchmarks).
    Lab,
}

fn setup(need: Need) -> Result<()> {
    let mut wanted: Vec<&str> = BUILD_PACKAGES.to_vec();
    if need == Need::Lab {
        wanted.extend_from_slice(LAB_PACKAGES);
        if !installed("nginx-light") && !installed("nginx") {
            wanted.push("nginx-light");
        }
    }
    let missing: Vec<&str> = wanted.into_iter().filter(|p| !installed(p)).collect();
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    let linker = cargo_bin_dir().join("bpf-linker");
    let have = Command::new(&linker)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION))
        .unwrap_or(false);
    if !have {
        eprintln!("xtask setup: installing bpf-linker {BPF_LINKER_VERSION} against LLVM 22");
        run(cargo()
            .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION])
            .args([
                "--locked",
                "--no-default-features",
                "--features",
                "llvm-22",
                "--force",
            ])
            .env("LLVM_PREFIX", LLVM_PREFIX))
        .context("cargo install bpf-linker failed (is llvm-22-dev installed?)")?;
    }
    Ok(())
}

/// `scripts/k8s-lab.sh`: builds what is missing of the Kubernetes lab (docs/kubernetes.md),
/// outside the repository. Minutes the first time (mostly the Go build; figures in
/// docs/kubernetes.md), well under a second afterwards.
fn k8s_lab(root: &Path) -> Result<()> {
    require_root("the Kubernetes lab setup (apt packages)")?;
    run(Command::new("bash").arg(root.join("scripts/k8s-lab.sh")))
        .context("the Kubernetes lab setup failed (logs under /var/cache/plainsight/k8s-lab/logs)")
}

fn build_ebpf(root: &Path) -> Result<()> {
    // Debian's cargo and rustc together: the rustup proxies would pick a rustc
    // without a `core` for the BPF target.
    run(Command::new("/usr/bin/cargo")
        .current_dir(root)
        .env("RUSTC", "/usr/bin/rustc")
        .env("PATH", path_with_cargo_bin())
        .args([
            "build",
            "-p",
            "agent-ebpf",
            "--release",
            "--target",
            "bpfel-unknown-none",
        ]))
    .context("building agent-ebpf failed")?;
    eprintln!(
        "eBPF object: {}",
        root.join("target/bpfel-unknown-none/release/agent-ebpf")
            .display()
    );
    Ok(())
}

/// See [`Cmd::DashboardsRender`].
fn dashboards_render(root: &Path) -> Result<()> {
    require_root("the end-to-end test (network namespaces, BPF)")?;
    setup(Need::Lab)?;
    k8s_lab(root)?;
    if !installed("python3-matplotlib") {
        apt_install(&["python3-matplotlib"])?;
    }
    run(cargo()
        .current_dir(root)
        .args(["build", "-p", "plainsight", "--bin", "plainsight"]))?;
    let results = root.join("target/dashboard");
    run(cargo()
        .current_dir(root)
        .args(["test", "-p", "plainsight-tests", "--test", "e2e", "--"])
        .arg("--test-threads=1")
        .env("PLAINSIGHT_BIN", root.join("target/debug/plainsight"))
        .env("PLAINSIGHT_DASHBOARD_OUT", &results))?;
    // Debian's interpreter: python3-matplotlib is installed for it, not for another
    // python3 earlier on PATH.
    run(Command::new("/usr/bin/python3")
        .arg(root.join("scripts/render-dashboard.py"))
        .arg(&results)
        .arg(root.join("docs/img/dashboard")))
}

fn test(root: &Path, args: &[String]) -> Result<()> {
    setup(Need::Lab)?;
    // The identity tests (tests/tests/k8s.rs) start a real API server from the lab.
    k8s_lab(root)?;
    let mut tally = Tally::default();
    // --no-fail-fast: one red test binary must not hide the others.
    let unit = tally.run(cargo().current_dir(root).args(["test", "--no-fail-fast"]));
    // The kernel tests drive the real binary inside network namespaces.
    run(cargo()
        .current_dir(root)
        .args(["build", "-p", "plainsight", "--bin", "plainsight"]))?;
    let kernel = tally.run(
        cargo()
            .current_dir(root)
            .args(["test", "--no-fail-fast", "-p", "plainsight-tests", "--"])
            // Tests share the kernel (counters of one netns, bpf stats): one at a time.
            .arg("--test-threads=1")
            .args(args)
            .env("PLAINSIGHT_BIN", root.join("target/debug/plainsight")),
    );
    // Every fuzz target for a bounded time, from its committed seeds: a crash fails the
    // run (the input is left in fuzz/artifacts/). Skipped when a test filter is given.
    let fuzzed = if args.is_empty() {
        fuzz(root, CI_FUZZ_SECS, None, None)
    } else {
        Ok(())
    };
    // One closing line for the whole run, in the plain `N passed, N failed` form.
    println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    unit.context("unit and corpus tests failed")?;
    kernel.context("kernel tests failed")?;
    fuzzed.context("fuzzing found a crash")
}

/// Seconds each fuzz target runs in `cargo xtask test`.
const CI_FUZZ_SECS: u64 = 20;

/// Sums cargo's `test result:` lines while passing the output through.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    fn run(&mut self, cmd: &mut Command) -> Result<()> {
        use std::io::{BufRead, BufReader, Write};
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start {cmd:?}"))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            writeln!(out, "{line}")?;
            if let Some(rest) = line.strip_prefix("test result: ") {
                self.passed += count(rest, " passed");
                self.failed += count(rest, " failed");
            }
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("{cmd:?} failed: {status}");
        }
        Ok(())
    }
}

/// The number before `what` in a `test result:` line (`ok. 3 passed; 0 failed; …`).
fn count(line: &str, what: &str) -> u64 {
    line.find(what)
        .and_then(|end| line[..end].rsplit([' ', '.']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn bench(root: &Path) -> Result<()> {
    run(cargo().current_dir(root).args([
        "build",
        "--release",
        "-p",
        "plainsight-tests",
        "--bin",
        "bench-kernel",
    ]))?;
    run(Command::new(root.join("target/release/bench-kernel"))
        .current_dir(root)
        .arg(root.join("docs/bench-kernel.md")))
    .context("bench-kernel failed")
}

/// Builds the agent (debug) and the demo binary, then runs the demo with SIGINT
/// ignored here: Ctrl-C reaches the demo, which tears the lab down before exiting.
fn demo(root: &Path, rounds: u64, port: u16) -> Result<()> {
    require_root("the demo lab (network namespaces, BPF)")?;
    setup(Need::Lab)?;
    run(cargo()
        .current_dir(root)
        .args(["build", "-p", "plainsight", "--bin", "plainsight"]))?;
    run(cargo()
        .current_dir(root)
        .args(["build", "-p", "plainsight-tests", "--bin", "lab-demo"]))?;
    // SAFETY: ignoring a signal has no preconditions; the demo installs its own handler.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    run(Command::new(root.join("target/debug/lab-demo"))
        .current_dir(root)
        .args(["--rounds", &rounds.to_string(), "--port", &port.to_string()])
        .env("PLAINSIGHT_BIN", root.join("target/debug/plainsight")))
    .context("the demo failed")
}

/// Release agent, release bench binary, then the measured run (under the lock the
/// kernel tests take: both attach programs and make namespaces).
fn bench_live(root: &Path, secs: u64, steps: &str, rounds: u32) -> Result<()> {
    run(cargo().current_dir(root).args([
        "build",
        "--release",
        "-p",
        "plainsight",
        "--bin",
        "plainsight",
    ]))?;
    run(cargo().current_dir(root).args([
        "build",
        "--release",
        "-p",
        "plainsight-tests",
        "--bin",
        "bench-live",
    ]))?;
    run(Command::new("flock")
        .current_dir(root)
        .arg("/tmp/plainsight-root-tests.lock")
        .arg(root.join("target/release/bench-live"))
        .arg(root.join("docs/bench-live.md"))
        .args(["--secs", &secs.to_string(), "--steps", steps])
        .args(["--rounds", &rounds.to_string()])
        .env("PLAINSIGHT_BIN", root.join("target/release/plainsight")))
    .context("bench-live failed")
}

/// `cargo` of the nightly toolchain (cargo-fuzz needs `-Z sanitizer`). `rustup run`
/// rather than `cargo +nightly`: `CARGO` may name a toolchain's cargo directly.
fn nightly_cargo(root: &Path) -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", "nightly", "cargo"])
        .current_dir(root)
        .env("PATH", path_with_cargo_bin())
        // The fuzz targets never load the eBPF object: skip building it.
        .env("AYA_BUILD_SKIP", "1");
    c
}

fn fuzz(root: &Path, secs: u64, seeds: Option<&Path>, only: Option<&str>) -> Result<()> {
    let has_nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nightly {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    let has_fuzz = nightly_cargo(root)
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        eprintln!("xtask fuzz: installing cargo-fuzz");
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    if let Some(corpus) = seeds {
        run(nightly_cargo(root)
            .args(["run", "--quiet", "--manifest-path", "fuzz/Cargo.toml"])
            .args(["--bin", "extract-seeds", "--"])
            .arg(corpus)
            .arg("agent/tests/fixtures"))?;
    }
    let list = nightly_cargo(root).args(["fuzz", "list"]).output()?;
    if !list.status.success() {
        bail!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&list.stderr)
        );
    }
    let all: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let targets: Vec<String> = match only {
        Some(t) if all.iter().any(|a| a == t) => vec![t.to_owned()],
        Some(t) => bail!("no fuzz target {t}; targets: {}", all.join(", ")),
        None => all,
    };
    let started = std::time::Instant::now();
    run(nightly_cargo(root).args(["fuzz", "build"]))?;
    eprintln!(
        "xtask fuzz: built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut report = Vec::new();
    let mut crashed = Vec::new();
    for t in &targets {
        let corpus = root.join("fuzz/corpus").join(t);
        std::fs::create_dir_all(&corpus)?;
        let out = nightly_cargo(root)
            .args(["fuzz", "run", t])
            .arg(&corpus)
            .arg(root.join("fuzz/seeds").join(t))
            .args(["--", &format!("-max_total_time={secs}"), "-timeout=10"])
            .args(["-print_final_stats=1"])
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let (status, stats) = follow_libfuzzer(out)?;
        if !status.success() {
            crashed.push(t.clone());
        }
        report.push(format!("{t:<12} {stats}"));
    }
    eprintln!(
        "xtask fuzz: {} target(s), {secs} s each, {:.0} s in all (build included)",
        targets.len(),
        started.elapsed().as_secs_f64()
    );
    for line in &report {
        eprintln!("  {line}");
    }
    if !crashed.is_empty() {
        bail!(
            "fuzz target(s) failed: {} (inputs in fuzz/artifacts/<target>/)",
            crashed.join(", ")
        );
    }
    Ok(())
}

/// Echoes libFuzzer's stderr and keeps the last status line's figures
/// (`#runs cov: … ft: … corp: …`) and the final exec count.
fn follow_libfuzzer(mut child: std::process::Child) -> Result<(std::process::ExitStatus, String)> {
    use std::io::BufRead as _;
    let mut last = String::new();
    let mut execs = String::new();
    if let Some(err) = child.stderr.take() {
        for line in std::io::BufReader::new(err).lines() {
            let line = line?;
            eprintln!("{line}");
            if line.starts_with('#') && line.contains("cov:") {
                last = line.clone();
            }
            if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
                execs = n.trim().to_owned();
            }
        }
    }
    let status = child.wait()?;
    Ok((status, format!("execs {execs:>10}  last: {last}")))
}

fn require_root(what: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("{what} needs root");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_cargo_result_lines() {
        let ok =
            "ok. 206 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 2.39s";
        assert_eq!((count(ok, " passed"), count(ok, " failed")), (206, 0));
        let bad = "FAILED. 4 passed; 1 failed; 0 ignored; 0 measured";
        assert_eq!((count(bad, " passed"), count(bad, " failed")), (4, 1));
    }
}
