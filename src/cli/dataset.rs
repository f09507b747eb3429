//! `sandtable dataset check`: open a dataset as training would, verify its checksums and
//! summarise it. `sandtable dataset manifest`: list datasets recorded apart in one manifest,
//! checked to fit together, for training's `--data`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sandtable_agent::dataset::{Dataset, Manifest};

/// Dataset tools.
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Validate a dataset against its info.json (shapes, dtypes, rows, SHA-256) and summarise it.
    Check(CheckArgs),
    /// Write a manifest of datasets recorded apart (refused if their seeds overlap or their frame
    /// size, renderer or vocabularies differ); `pretrain` and `finetune` take it as `--data`.
    Manifest(ManifestArgs),
}

/// Arguments of `sandtable dataset manifest`.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Dataset directories.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The manifest file to write (JSON); dataset paths in it are relative to its folder.
    #[arg(long)]
    pub out: PathBuf,
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
        DatasetCommand::Manifest(a) => manifest(a),
    }
}

fn manifest(args: ManifestArgs) -> Result<()> {
    let manifest = Manifest::describe(&args.dirs, &args.out).context("describing the datasets")?;
    sandtable::media::write_json(&args.out, &manifest).with_context(|| format!("writing {}", args.out.display()))?;
    let (episodes, frames): (u64, u64) = manifest.datasets.iter().fold((0, 0), |(e, f), d| (e + d.episodes, f + d.frames));
    println!("wrote {}: {} datasets, {episodes} episodes, {frames} frames", args.out.display(), manifest.datasets.len());
    Ok(())
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
