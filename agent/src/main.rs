//! The `plainsight` binary: parses the command line and hands over to a mode.

use std::process::ExitCode;

use clap::Parser;
use plainsight::cli::{Cli, Command, ConfigCommand};
use plainsight::config::Config;
use plainsight::daemon;
use plainsight::offline::{self, exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    match cli.command {
        Command::Pcap(args) => match offline::run(&args) {
            Ok(outcome) => {
                if !outcome.input_errors.is_empty() {
                    ExitCode::from(exit::INPUT)
                } else if args
                    .fail_on
                    .is_some_and(|t| outcome.summary.worst().is_some_and(|w| w >= t))
                {
                    ExitCode::from(exit::FINDINGS)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("plainsight: {e}");
                ExitCode::from(exit::USAGE)
            }
        },
        Command::Run(args) => match runtime().map(|rt| rt.block_on(daemon::run(args))) {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => {
                eprintln!("plainsight: {e}");
                ExitCode::from(if e.is_usage() { exit::USAGE } else { 1 })
            }
            Err(e) => {
                eprintln!("plainsight: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Capture(args) => {
            match runtime().map(|rt| rt.block_on(plainsight::capture::live::run_capture(args))) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    eprintln!("plainsight: {e}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("plainsight: cannot start the async runtime: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::K8sIdentity(args) => {
            match runtime().map(|rt| rt.block_on(plainsight::k8s::command::run(args))) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    eprintln!("plainsight: {e:#}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("plainsight: cannot start the async runtime: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Config(ConfigCommand::PrintDefault) => {
            print!("{}", Config::default_toml());
            ExitCode::SUCCESS
        }
        Command::Config(ConfigCommand::Check { path }) => match Config::load(&path) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("plainsight: {e}");
                ExitCode::from(exit::USAGE)
            }
        },
    }
}

/// One thread: the engine is single-owner and the endpoint is light.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
