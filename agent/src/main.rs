//! `plainsight`: thin entry point; each subcommand lives in its module.

use clap::{Parser, Subcommand};
use plainsight::capture::live::{run_capture, CaptureArgs};

#[derive(Debug, Parser)]
#[command(
    name = "plainsight",
    version,
    about = "eBPF monitor for plaintext traffic and weak TLS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Attach the TC programs and print flows and captured segments as JSON lines.
    Capture(CaptureArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Capture(args) => run_capture(args).await?,
    }
    Ok(())
}
