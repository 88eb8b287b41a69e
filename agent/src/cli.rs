//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::detect::Severity;

#[derive(Debug, Parser)]
#[command(
    name = "plainsight",
    version,
    about = "Finds plaintext traffic and weak TLS, live (eBPF) or in pcap files."
)]
pub struct Cli {
    /// Log filter (tracing EnvFilter syntax); also RUST_LOG.
    #[arg(long, global = true, default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse pcap/pcapng files (gzip too; `-` reads standard input).
    Pcap(PcapArgs),
    /// Run the node agent: capture live, export metrics and events.
    Run(crate::daemon::RunArgs),
    /// Attach the TC programs and print flows and captured segments as JSON lines.
    Capture(crate::capture::live::CaptureArgs),
    /// Resolve addresses to Kubernetes workloads (namespace, pod, workload, service)
    /// from the API server, as the agent's `[kubernetes]` watches see them.
    K8sIdentity(crate::k8s::command::IdentityArgs),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per flow (the event schema), summary on stderr.
    Json,
    /// One line per flow and a summary, for people.
    Table,
}

#[derive(Debug, Args)]
pub struct PcapArgs {
    /// Capture files; `-` is standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Exit with status 1 when a finding at or above this severity is raised.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Policy/configuration file (TOML); see `plainsight config print-default`.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Also write events for flows with no payload and no findings.
    #[arg(long)]
    pub all_flows: bool,
    /// No closing summary.
    #[arg(long)]
    pub no_summary: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the documented default configuration.
    PrintDefault,
    /// Validate a configuration file and exit.
    Check { path: PathBuf },
}
