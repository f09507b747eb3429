//! `sandtable record`: play episodes on K worker threads and write them as a dataset.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sandtable::live::recording::{Recording, record};
use sandtable_env::{PolicySpec, Renderer};

/// Arguments of `sandtable record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Scenarios (built-in names or `.ron` paths); episode i plays the (i mod S)-th.
    #[arg(long = "scenario", required = true, num_args = 1..)]
    pub scenarios: Vec<String>,
    /// Episodes in the dataset.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub episodes: u64,
    /// Who acts: expert, random, wander (walks about, no expert) or mixed:P (the expert with a fraction P of random decisions).
    #[arg(long, default_value = "expert")]
    pub policy: PolicySpec,
    /// Worker threads, each with its own Bevy App.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Envs per worker's App.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub envs: u16,
    /// Frame side in pixels (square frames).
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Which renderer draws the frames: batch (every env in one pass) or pbr (Bevy's own path).
    #[arg(long, default_value_t = Renderer::Batch)]
    pub renderer: Renderer,
    /// Base seed; every episode's seed derives from it and the episode index.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Store the expert's decision for every visited state as the row's action (and answer), in
    /// place of what `--policy` did: with `mixed:P`, demonstrations that show how to recover
    /// from the random decisions' detours (noise injection, as in DART, Laskey et al. 2017).
    #[arg(long)]
    pub expert_labels: bool,
    /// Rows per shard (shards are cut at episode ends once they reach this).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub shard_frames: u64,
    /// Continue an interrupted recording in `--out` (same scenarios, policy, seed and size).
    #[arg(long)]
    pub resume: bool,
    /// Dataset directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// Record the dataset.
pub fn run(args: RecordArgs) -> Result<()> {
    execute(&args.request())
}

impl RecordArgs {
    /// The request these arguments make.
    pub fn request(&self) -> Recording {
        Recording {
            scenarios: self.scenarios.clone(),
            episodes: self.episodes,
            policy: self.policy.clone(),
            workers: usize::from(self.workers),
            envs: usize::from(self.envs),
            size: self.size,
            renderer: self.renderer,
            seed: self.seed,
            expert_labels: self.expert_labels,
            shard_frames: self.shard_frames,
            resume: self.resume,
            out: self.out.clone(),
        }
    }
}

/// Record what `job` asks and say what the dataset holds.
pub fn execute(job: &Recording) -> Result<()> {
    let done = record(job)?;
    if done.before >= job.episodes {
        println!("{} already holds {} episodes; nothing to record", job.out.display(), done.before);
        return Ok(());
    }
    let recorded = job.episodes - done.before;
    println!(
        "recorded {recorded} episodes, {} frames in {:.1} s ({:.0} frames/s); success {}/{recorded}; \
         dataset {} now holds {} episodes, {} frames in {} shards",
        done.frames,
        done.seconds,
        done.frames as f64 / done.seconds,
        done.successes,
        job.out.display(),
        done.info.total_episodes,
        done.info.total_frames,
        done.info.shards.len()
    );
    Ok(())
}
