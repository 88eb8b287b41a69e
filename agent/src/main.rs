//! The `plainsight` binary: parses the command line and hands over to a mode.

use std::process::ExitCode;

use clap::Parser;
use plainsight::cli::{Cli, Command, ConfigCommand};
use plainsight::config::Config;
use plainsight::daemon;
use plainsight::detect::{catalogue, explain};
use plainsight::offline::{self, exit};
use plainsight::privilege;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    match cli.command {
        Command::Pcap(args) => match offline::run(&args) {
            Ok(outcome) => {
                if !outcome.input_errors.is_empty() {
                    ExitCode::from(exit::INPUT)
                } else if let Some(t) = args
                    .fail_on
                    .filter(|t| outcome.summary.worst().is_some_and(|w| w >= *t))
                {
                    for (sev, id, n) in outcome.summary.at_or_above(t) {
                        eprintln!("plainsight: --fail-on {t}: {id} ({sev}) on {n} flow(s)");
                    }
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
                if let daemon::RunError::Live(live) = &e {
                    if let Some(hint) = privilege::hint(live) {
                        eprintln!("plainsight: {hint}");
                    }
                }
                ExitCode::from(if e.is_usage() {
                    exit::USAGE
                } else {
                    exit::RUNTIME
                })
            }
            Err(e) => {
                eprintln!("plainsight: cannot start the async runtime: {e}");
                ExitCode::from(exit::RUNTIME)
            }
        },
        Command::Capture(args) => {
            match runtime().map(|rt| rt.block_on(plainsight::capture::live::run_capture(args))) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    eprintln!("plainsight: {e}");
                    if let Some(hint) = privilege::hint(&e) {
                        eprintln!("plainsight: {hint}");
                    }
                    ExitCode::from(exit::RUNTIME)
                }
                Err(e) => {
                    eprintln!("plainsight: cannot start the async runtime: {e}");
                    ExitCode::from(exit::RUNTIME)
                }
            }
        }
        Command::Explain(args) => match args.id {
            None => {
                print!("{}", explain::list());
                ExitCode::SUCCESS
            }
            Some(id) => match catalogue::get(&id) {
                Some(def) => {
                    print!("{}", explain::card(def));
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!(
                        "plainsight: unknown finding id {id:?}; `plainsight explain` lists them"
                    );
                    ExitCode::from(exit::USAGE)
                }
            },
        },
        #[cfg(feature = "kubernetes")]
        Command::K8sIdentity(args) => {
            match runtime().map(|rt| rt.block_on(plainsight::k8s::command::run(args))) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    eprintln!("plainsight: {e:#}");
                    ExitCode::from(exit::RUNTIME)
                }
                Err(e) => {
                    eprintln!("plainsight: cannot start the async runtime: {e}");
                    ExitCode::from(exit::RUNTIME)
                }
            }
        }
        Command::Config(ConfigCommand::PrintDefault) => {
            print!("{}", Config::default_toml());
            ExitCode::SUCCESS
        }
        Command::Config(ConfigCommand::Check { path }) => {
            match Config::load(&path).and_then(|c| daemon::preflight(&c)) {
                Ok(()) => {
                    println!("{}: ok", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("plainsight: {e}");
                    ExitCode::from(exit::USAGE)
                }
            }
        }
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
