//! `cargo xtask <command>`: see `cargo xtask --help`.
fn main() -> anyhow::Result<()> {
    Ok(())
}
