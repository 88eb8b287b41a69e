//! `cargo xtask image`: the agent's container image, `localhost/plainsight:<version>`,
//! saved as `target/image/plainsight-<version>.oci.tar` (docs/container.md).
//!
//! `FROM scratch` plus a root filesystem that holds only the Debian packages the release
//! binary links against: found with `ldd` and `dpkg -S`, extracted by `mmdebstrap
//! --variant=extract` from the mirrors of this machine's apt sources, docs, man pages,
//! locales and gconv left out. Podman builds it in a private store under target/image
//! with a configuration file of its own, never the system's store or /etc/containers.
//! Every step is skipped when its inputs have not changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{apt_install, cargo, installed, run as run_cmd};

/// What building the image needs. buildah, crun, fuse-overlayfs, slirp4netns and uidmap
/// are not needed: root builds with the kernel's overlayfs, and the image has no RUN step.
const TOOLS: &[&str] = &["podman", "runc", "mmdebstrap", "binutils"];

/// Left out of the root filesystem (dpkg path filters, which mmdebstrap applies to the
/// extract variant too); the copyright files stay, as Debian's licences ask.
const PATH_FILTERS: &[&str] = &[
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/lintian/*",
    "path-exclude=/usr/lib/*/gconv/*",
];

/// `--variant=extract` leaves /var/lib/dpkg/status empty, so an image scanner could not
/// tell which libc is inside. This hook writes a status stanza for every package
/// extracted, from the control file of the very .deb that was (`$1` is the root).
const STATUS_HOOK: &str = r#"set -e
for deb in "$1"/var/cache/apt/archives/*.deb; do
  dpkg-deb -f "$deb" | sed '/^Package:/a Status: install ok installed'
  echo
done > "$1/var/lib/dpkg/status""#;

/// podman's configuration for the private store: runc (crun fails on hybrid cgroup
/// hierarchies), explicit ulimits (without CAP_SYS_RESOURCE the runtime cannot raise
/// them to podman's defaults), cgroupfs and a file event log (no systemd or journald
/// needed), network definitions kept in the store.
pub fn containers_conf(store: &Path) -> String {
    format!(
        "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
         events_logfile_path = \"{store}/events.log\"\n\n\
         [containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\n\
         [network]\nnetwork_config_dir = \"{store}/networks\"\n",
        store = store.display()
    )
}

/// `podman` on the private store in `store`: its own root, runroot, tmpdir and
/// configuration file (written here).
pub fn podman(store: &Path) -> Result<Command> {
    std::fs::create_dir_all(store).with_context(|| format!("creating {}", store.display()))?;
    let conf = store.join("containers.conf");
    let text = containers_conf(store);
    if std::fs::read_to_string(&conf).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
    }
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", &conf)
        .arg("--root")
        .arg(store.join("root"))
        .arg("--runroot")
        .arg(runroot(store))
        .arg("--tmpdir")
        .arg(store.join("tmp"));
    Ok(c)
}

/// podman's runtime state for `store`: podman refuses a runroot path longer than 50
/// bytes, which a checkout's target/ easily is, so it lives in /tmp under a name derived
/// from the store's path (the same store always gets the same runroot).
fn runroot(store: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    // DefaultHasher::new() has fixed keys: stable for a path across runs.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    store.hash(&mut h);
    PathBuf::from(format!("/tmp/plainsight-podman-{:08x}", h.finish() as u32))
}

/// Installs what is missing of [`TOOLS`].
pub fn install_tools() -> Result<()> {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|p| !installed(p)).collect();
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    Ok(())
}

/// The package's version, repository and licence, as cargo sees them.
struct Meta {
    version: String,
    source: String,
    licenses: String,
}

fn metadata(root: &Path) -> Result<Meta> {
    let out = cargo()
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let pkg = v["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "plainsight"))
        .context("no package `plainsight` in cargo metadata")?;
    let field = |k: &str| pkg[k].as_str().map(str::to_owned);
    Ok(Meta {
        version: field("version").context("plainsight has no version")?,
        // The agent's manifest does not inherit the workspace's repository.
        source: field("repository")
            .or_else(|| workspace_repository(root))
            .unwrap_or_else(|| "unknown".to_owned()),
        licenses: field("license").unwrap_or_else(|| "unknown".to_owned()),
    })
}

/// `repository` of `[workspace.package]` in the root Cargo.toml.
fn workspace_repository(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
    let mut in_section = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
        } else if in_section {
            if let Some(v) = line.strip_prefix("repository") {
                let v = v.trim_start().strip_prefix('=')?.trim().trim_matches('"');
                return Some(v.to_owned());
            }
        }
    }
    None
}

/// Output of a command that must succeed.
fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("failed to start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The shared libraries `ldd` lists for `bin` (absolute paths; the vDSO has none).
fn shared_libraries(ldd: &str) -> Vec<String> {
    ldd.lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => l,
            };
            let path = path.split(" (").next().unwrap_or_default().trim();
            path.starts_with('/').then(|| path.to_owned())
        })
        .collect()
}

/// The Debian packages (no architecture suffix) that own the libraries `bin` loads.
fn runtime_packages(bin: &Path) -> Result<Vec<String>> {
    let ldd = output(Command::new("ldd").arg(bin))?;
    let libs = shared_libraries(&ldd);
    if libs.is_empty() {
        bail!("ldd lists no shared library for {}: {ldd}", bin.display());
    }
    let mut pkgs = Vec::new();
    for lib in libs {
        // dpkg knows a file by the path its package ships; with a merged /usr the
        // loader may report the other one.
        let canonical = std::fs::canonicalize(&lib)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| lib.clone());
        let owner = [lib.clone(), canonical]
            .iter()
            .find_map(|p| output(Command::new("dpkg").args(["-S", p])).ok())
            .with_context(|| format!("no Debian package owns {lib} (dpkg -S)"))?;
        // `libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6`
        let name = owner
            .lines()
            .next()
            .and_then(|l| l.split(':').next())
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .with_context(|| format!("cannot read `dpkg -S {lib}`: {owner}"))?;
        if !pkgs.iter().any(|p| p == name) {
            pkgs.push(name.to_owned());
        }
    }
    pkgs.sort();
    Ok(pkgs)
}

/// This machine's release codename (the rootfs must match the libc the binary was
/// linked against).
fn codename() -> Result<String> {
    let text = std::fs::read_to_string("/etc/os-release").context("reading /etc/os-release")?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .context("no VERSION_CODENAME in /etc/os-release")
}

/// One-line `deb` sources for mmdebstrap: every enabled Debian-format source of this
/// machine's apt configuration whose suite is `codename` or `codename-*` (security and
/// updates included, so the image gets the same libc as the host), component `main`.
fn mirrors(codename: &str) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    let mut out: Vec<String> = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let found = match file.extension().and_then(|e| e.to_str()) {
            Some("sources") => deb822_sources(&text, codename),
            Some("list") => one_line_sources(&text, codename),
            // Anything else in sources.list.d (`.disabled`, backups) is ignored by apt too.
            _ => continue,
        };
        for line in found {
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    if out.is_empty() {
        bail!("no enabled `deb` source for {codename} main in /etc/apt/sources.list(.d)");
    }
    Ok(out)
}

fn suite_ok(suite: &str, codename: &str) -> bool {
    suite == codename
        || suite
            .strip_prefix(codename)
            .is_some_and(|s| s.starts_with('-'))
}

/// The `deb` lines of a deb822 `.sources` file.
fn deb822_sources(text: &str, codename: &str) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let field = |k: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}:")))
                .map(str::trim)
                .unwrap_or_default()
        };
        if !field("Types").split_whitespace().any(|t| t == "deb")
            || field("Enabled").eq_ignore_ascii_case("no")
            || !field("Components").split_whitespace().any(|c| c == "main")
        {
            continue;
        }
        // A key file is passed on; an inline key cannot be, and apt's defaults apply.
        let signed = field("Signed-By");
        let opts = if signed.starts_with('/') {
            format!("[signed-by={signed}] ")
        } else {
            String::new()
        };
        for uri in field("URIs").split_whitespace() {
            for suite in field("Suites")
                .split_whitespace()
                .filter(|s| suite_ok(s, codename))
            {
                out.push(format!("deb {opts}{uri} {suite} main"));
            }
        }
    }
    out
}

/// The `deb` lines of a one-line-style `.list` file, options kept.
fn one_line_sources(text: &str, codename: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let rest = rest.trim();
        let (opts, rest) = match rest.strip_prefix('[') {
            Some(r) => match r.split_once(']') {
                Some((o, r)) => (format!("[{}] ", o.trim()), r.trim()),
                None => continue,
            },
            None => (String::new(), rest),
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let [uri, suite, comps @ ..] = words.as_slice() {
            if suite_ok(suite, codename) && comps.contains(&"main") {
                out.push(format!("deb {opts}{uri} {suite} main"));
            }
        }
    }
    out
}

/// Size of a file.
fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// Builds (or reuses) the image and its OCI archive. `refresh` rebuilds the root
/// filesystem even when its inputs look unchanged (to pick up a new point release).
/// `binary`: put this build of `plainsight` in the image instead of building the release
/// one (the tests use the debug build they already have).
pub fn build(root: &Path, refresh: bool, binary: Option<&Path>) -> Result<()> {
    let start = Instant::now();
    crate::require_root("cargo xtask image (mmdebstrap, podman's store)")?;
    install_tools()?;
    crate::setup(crate::Need::Build)?;
    let meta = metadata(root)?;
    let reference = format!("localhost/plainsight:{}", meta.version);
    let dir = root.join("target/image");
    let ctx = dir.join("context");
    std::fs::create_dir_all(&ctx)?;

    // 1. The release binary, debug info stripped (symbols stay for backtraces).
    let t = Instant::now();
    let release = match binary {
        Some(b) => b.to_path_buf(),
        None => {
            run_cmd(cargo().current_dir(root).args([
                "build",
                "--release",
                "-p",
                "plainsight",
                "--bin",
                "plainsight",
            ]))?;
            root.join("target/release/plainsight")
        }
    };
    let bin = ctx.join("plainsight");
    run_cmd(
        Command::new("objcopy")
            .arg("--strip-debug")
            .arg(&release)
            .arg(&bin),
    )?;
    eprintln!(
        "image: binary {} ({} before stripping) in {:.1} s",
        mib(file_size(&bin)),
        mib(file_size(&release)),
        t.elapsed().as_secs_f64()
    );

    // 2. The root filesystem: the binary's runtime packages, from this machine's mirrors.
    let t = Instant::now();
    let pkgs = runtime_packages(&bin)?;
    let codename = codename()?;
    let sources = mirrors(&codename)?;
    // The host's versions are part of the key: a libc update here rebuilds the rootfs.
    let host_versions: Vec<String> = pkgs
        .iter()
        .map(|p| output(Command::new("dpkg-query").args(["-W", "-f=${Package} ${Version}", p])))
        .collect::<Result<_>>()?;
    let key = format!(
        "{codename}\n{}\n{}\n{}\n{STATUS_HOOK}\n",
        host_versions.join("\n"),
        sources.join("\n"),
        PATH_FILTERS.join("\n")
    );
    let rootfs = ctx.join("rootfs.tar");
    let key_file = dir.join("rootfs.key");
    let fresh = !refresh
        && rootfs.exists()
        && std::fs::read_to_string(&key_file).ok().as_deref() == Some(key.as_str());
    if fresh {
        eprintln!("image: rootfs.tar reused ({})", pkgs.join(", "));
    } else {
        let _ = std::fs::remove_file(&key_file);
        let mut c = Command::new("mmdebstrap");
        c.args(["--variant=extract", "--quiet"])
            .arg(format!("--include={}", pkgs.join(",")))
            .args(PATH_FILTERS.iter().map(|f| format!("--dpkgopt={f}")))
            .arg(format!("--extract-hook={STATUS_HOOK}"))
            .arg(&codename)
            .arg(&rootfs)
            .args(&sources);
        run_cmd(&mut c).context("mmdebstrap failed")?;
        std::fs::write(&key_file, &key)?;
        eprintln!(
            "image: rootfs.tar {} ({}) in {:.1} s",
            mib(file_size(&rootfs)),
            pkgs.join(", "),
            t.elapsed().as_secs_f64()
        );
    }

    // 3. The image, in the private store.
    let t = Instant::now();
    let store = dir.join("store");
    let git = |args: &[&str]| {
        output(Command::new("git").current_dir(root).args(args))
            .map(|s| s.trim().to_owned())
            .ok()
    };
    let revision = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    // The commit's time as every timestamp in the image: the same inputs give the same
    // image id, so the archive below is reused. No layer cache: buildah 1.28 reuses a
    // cached LABEL step whose build arguments changed (a stale version label). One layer
    // (`--layers=false`): rootfs and binary together.
    let timestamp = git(&["log", "-1", "--format=%ct"]).unwrap_or_else(|| "0".to_owned());
    run_cmd(
        podman(&store)?
            .args([
                "build",
                "--pull=never",
                "--no-cache",
                "--layers=false",
                "--quiet",
            ])
            .arg(format!("--timestamp={timestamp}"))
            .arg("--file")
            .arg(root.join("deploy/image/Containerfile"))
            .args(["--tag", &reference])
            .arg(format!("--build-arg=VERSION={}", meta.version))
            .arg(format!("--build-arg=SOURCE={}", meta.source))
            .arg(format!("--build-arg=LICENSES={}", meta.licenses))
            .arg(format!("--build-arg=REVISION={revision}"))
            .arg(&ctx)
            .stdout(std::process::Stdio::null()),
    )
    .context("podman build failed")?;
    // The image a new build replaced under the same tag.
    run_cmd(
        podman(&store)?
            .args(["image", "prune", "--force"])
            .stdout(std::process::Stdio::null()),
    )?;
    let id = output(podman(&store)?.args(["image", "inspect", "--format", "{{.Id}}", &reference]))?
        .trim()
        .to_owned();
    let image_size: u64 =
        output(podman(&store)?.args(["image", "inspect", "--format", "{{.Size}}", &reference]))?
            .trim()
            .parse()
            .unwrap_or(0);
    eprintln!(
        "image: built {reference} in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // 4. The OCI archive, written again only when the image changed.
    let archive = dir.join(format!("plainsight-{}.oci.tar", meta.version));
    let id_file = dir.join("archive.id");
    if archive.exists() && std::fs::read_to_string(&id_file).ok().as_deref() == Some(id.as_str()) {
        eprintln!("image: archive reused (image {})", &id[..12.min(id.len())]);
    } else {
        let _ = std::fs::remove_file(&id_file);
        let _ = std::fs::remove_file(&archive);
        run_cmd(
            podman(&store)?
                .args(["save", "--quiet", "--format", "oci-archive", "--output"])
                .arg(&archive)
                .arg(&reference),
        )
        .context("podman save failed")?;
        std::fs::write(&id_file, &id)?;
    }
    println!(
        "image: {reference} ({}, id {})",
        mib(image_size),
        &id[..12.min(id.len())]
    );
    println!("archive: {}", archive.display());
    println!(
        "archive size: {} ({} bytes)",
        mib(file_size(&archive)),
        file_size(&archive)
    );
    println!("build time: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_apt_sources() {
        let deb822 = "Types: deb\nURIs: http://mirror.invalid/debian\n\
                      Suites: bookworm bookworm-updates\nComponents: main contrib\n\
                      Signed-By: /usr/share/keyrings/k.gpg\n\n\
                      Types: deb-src\nURIs: http://mirror.invalid/debian\n\
                      Suites: bookworm\nComponents: main\n\n\
                      Types: deb\nURIs: http://mirror.invalid/debian\n\
                      Suites: trixie bookworm-backports\nComponents: main\n";
        assert_eq!(
            deb822_sources(deb822, "bookworm"),
            [
                "deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.invalid/debian bookworm main",
                "deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.invalid/debian bookworm-updates main",
                "deb http://mirror.invalid/debian bookworm-backports main",
            ]
        );
        let list = "# deb http://mirror.invalid/debian bookworm main\n\
                    deb [arch=amd64] http://mirror.invalid/debian bookworm main non-free\n\
                    deb http://mirror.invalid/debian bookwormish main\n\
                    deb http://mirror.invalid/debian bookworm contrib\n";
        assert_eq!(
            one_line_sources(list, "bookworm"),
            ["deb [arch=amd64] http://mirror.invalid/debian bookworm main"]
        );
    }

    #[test]
    fn reads_ldd_output() {
        let ldd = "\tlinux-vdso.so.1 (0x00007ffc)\n\
                   \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            shared_libraries(ldd),
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
    }
}
