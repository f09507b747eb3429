//! `sandtable dataset check`: open a dataset as training would, verify its checksums and
//! summarise it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sandtable_agent::dataset::Dataset;

/// Dataset tools.
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Validate a dataset against its info.json (shapes, dtypes, rows, SHA-256) and summarise it.
    Check(CheckArgs),
}

/// Arguments of `sandtable dataset check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Dataset directory.
    pub dir: PathBuf,
    /// Skip the SHA-256 comparison (structure only).
    #[arg(long)]
    pub no_checksums: bool,
}

/// Run a dataset tool.
pub fn run(cmd: DatasetCommand) -> Result<()> {
    match cmd {
        DatasetCommand::Check(a) => check(a),
    }
}

fn check(args: CheckArgs) -> Result<()> {
    let ds = Dataset::open(&args.dir).with_context(|| format!("opening dataset {}", args.dir.display()))?;
    if !args.no_checksums {
        ds.verify().with_context(|| format!("verifying dataset {}", args.dir.display()))?;
    }
    let info = ds.info();
    let (h, w) = ds.frame_size();
    let successes = (0..ds.num_episodes()).filter_map(|i| ds.episode(i).ok()).filter(|e| e.meta.success).count();
    println!(
        "ok: {} episodes, {} frames of {h}x{w} in {} shards; scenarios {}; policy {}; base seed {}; success {successes}/{}{}",
        info.total_episodes,
        info.total_frames,
        info.shards.len(),
        info.recording.scenario_names.join(", "),
        info.recording.policy,
        info.recording.base_seed,
        ds.num_episodes(),
        if args.no_checksums { "" } else { "; checksums match" },
    );
    Ok(())
}
