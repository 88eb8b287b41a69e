//! `plainsight pcap`: the offline analyser. Same engine as live mode, packet time as clock.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::capture::pcap::{PcapError, PcapSource, Stats};
use crate::cli::{Format, PcapArgs};
use crate::config::{Config, ConfigError};
use crate::engine::{Engine, FlowRecord};
use crate::export::events::{EventWriter, EventsError};
use crate::export::summary::{self, Summary};

/// Exit statuses, documented in the README.
pub mod exit {
    /// A finding reached `--fail-on`.
    pub const FINDINGS: u8 = 1;
    /// Bad usage or configuration.
    pub const USAGE: u8 = 2;
    /// An input could not be read completely (what was read was still analysed).
    pub const INPUT: u8 = 3;
    /// The agent could not do its work: loading or attaching the programs, binding the
    /// endpoint, writing events (`run`, `capture`).
    pub const RUNTIME: u8 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Events(#[from] EventsError),
}

/// What a run saw, for the exit status and the tests.
#[derive(Debug, Default)]
pub struct Outcome {
    pub summary: Summary,
    /// Inputs that failed, with the error (each names its byte offset where it has one).
    pub input_errors: Vec<(PathBuf, PcapError)>,
    pub stats: Stats,
}

pub fn run(args: &PcapArgs) -> Result<Outcome, OfflineError> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let mut engine = Engine::new(&config);
    let mut writer = match args.format {
        Format::Json => EventWriter::stdout_buffered(),
        Format::Table => EventWriter::sink(),
    };
    let mut outcome = Outcome::default();
    let mut records = Vec::new();
    let mut table = summary::Table::default();
    let mut emit =
        |records: &mut Vec<FlowRecord>, outcome: &mut Outcome| -> Result<(), OfflineError> {
            for r in records.drain(..) {
                if !args.all_flows && r.protocol == "none" && r.findings.is_empty() {
                    continue;
                }
                outcome.summary.add(&r);
                match args.format {
                    Format::Json => writer.write(&r)?,
                    Format::Table => table.add(&r),
                }
            }
            Ok(())
        };
    for path in &args.files {
        let mut source = match PcapSource::open(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("plainsight: {}: {e}", path.display());
                outcome.input_errors.push((path.clone(), e));
                continue;
            }
        };
        loop {
            match source.next_segment() {
                Ok(Some(seg)) => engine.process(&seg, &mut records),
                Ok(None) => break,
                Err(e) => {
                    eprintln!("plainsight: {}: {e}", path.display());
                    outcome.input_errors.push((path.clone(), e));
                    break;
                }
            }
            if !records.is_empty() {
                emit(&mut records, &mut outcome)?;
            }
        }
        tracing::debug!(input = %path.display(), stats = ?source.stats(), "input read");
        add_stats(&mut outcome.stats, &source.stats());
    }
    engine.finish(&mut records);
    emit(&mut records, &mut outcome)?;
    writer.flush()?;
    if args.format == Format::Table {
        let top = (!args.all).then_some(args.top);
        let mut out = io::stdout().lock();
        write!(out, "{}", table.render(top)).map_err(EventsError::Write)?;
    }
    if !args.no_summary {
        let text = render_summary(&outcome, &engine);
        match args.format {
            Format::Json => eprint!("{text}"),
            Format::Table => print!("\n{text}"),
        }
    }
    Ok(outcome)
}

fn add_stats(total: &mut Stats, s: &Stats) {
    total.packets += s.packets;
    total.segments += s.segments;
    total.bytes += s.bytes;
    total.snapped += s.snapped;
    total.skipped.merge(&s.skipped);
}

fn render_summary(outcome: &Outcome, engine: &Engine) -> String {
    let s = &outcome.stats;
    let e = engine.stats();
    let mut text = format!(
        "packets: {} read, {} analysed, {} skipped",
        s.packets,
        s.segments,
        s.skipped.total()
    );
    let reasons: Vec<String> = s
        .skipped
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{}={n}", r.as_str()))
        .collect();
    if !reasons.is_empty() {
        text.push_str(&format!(" ({})", reasons.join(", ")));
    }
    text.push('\n');
    if e.dropped_table_full > 0 {
        text.push_str(&format!(
            "dropped: {} segments of flows refused by the full flow table\n",
            e.dropped_table_full
        ));
    }
    let evicted: u64 = e.evicted.iter().sum();
    if evicted > 0 {
        text.push_str(&format!(
            "evicted: {evicted} flows reported early to make room in the full flow table\n"
        ));
    }
    text.push_str(&outcome.summary.render());
    for (path, err) in &outcome.input_errors {
        text.push_str(&format!("input error: {}: {err}\n", path.display()));
    }
    text
}
