//! Builds the eBPF object (crate `agent-ebpf`) with Debian's Rust, which ships a
//! prebuilt `core` for `bpfel-unknown-none`, and leaves it in `OUT_DIR` for
//! `capture::live` to embed. See `docs/toolchain.md` for why this toolchain.
//!
//! `AYA_BUILD_SKIP=1` skips the build (for tools that only need to type-check); the
//! agent then embeds an empty object and `capture` fails at load time with a clear error.

use std::path::PathBuf;

use aya_build::{build_ebpf, Package, Toolchain};

fn main() -> anyhow::Result<()> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // aya-build watches agent-ebpf; the shared types live in agent-common.
    println!("cargo:rerun-if-changed=../agent-common/src");
    println!("cargo:rerun-if-changed=../agent-ebpf/src");
    let skip = std::env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v == "true");
    if skip {
        std::fs::write(out_dir.join("agent-ebpf"), [])?;
    }
    // aya-build forwards every stderr line of the inner cargo as a cargo warning; keep
    // its progress lines out and leave only real diagnostics.
    std::env::set_var("CARGO_TERM_QUIET", "true");
    build_ebpf(
        [Package {
            name: "agent-ebpf",
            root_dir: "../agent-ebpf",
            ..Default::default()
        }],
        // rustup accepts a path as a toolchain: Debian's cargo and rustc under /usr.
        Toolchain::Custom("/usr"),
    )
}
