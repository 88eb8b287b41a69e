//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::detect::Severity;

/// The exit-status table every subcommand keeps (also in the README).
pub const EXIT_STATUS: &str = "\
Exit status (every subcommand):
  0  ok
  1  findings at or above --fail-on (pcap)
  2  usage or configuration error (nothing was attached or read)
  3  input error: a capture could not be read completely (what was read is reported)
  4  runtime error: loading or attaching the programs, binding the endpoint, writing events";

#[derive(Debug, Parser)]
#[command(
    name = "plainsight",
    version,
    about = "Finds plaintext traffic and weak TLS, live (eBPF) or in pcap files.",
    after_help = EXIT_STATUS
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
    #[cfg(feature = "kubernetes")]
    K8sIdentity(crate::k8s::command::IdentityArgs),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Explain findings: with no id, list every finding; with an id, print its card
    /// (what triggers it, its evidence, how to fix it, references).
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A finding id, e.g. `tls.cipher.weak`.
    pub id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per flow (the event schema), summary on stderr.
    Json,
    /// For people: flows grouped by finding and destination (the top groups; see
    /// `--top` and `--all`), then a summary.
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
    /// With `--format table`: how many groups to print.
    #[arg(long, default_value_t = 25, value_name = "N")]
    pub top: usize,
    /// With `--format table`: print every group.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the documented default configuration.
    PrintDefault,
    /// Validate a configuration file and exit.
    Check { path: PathBuf },
}
