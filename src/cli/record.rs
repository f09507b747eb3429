//! `sandtable record`: play episodes on K worker threads and write them as a dataset.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sandtable_agent::dataset::DatasetWriter;
use sandtable_env::{Driver, Event, PolicySpec, Renderer, Stream, StreamConfig};

use crate::play::episodes::{EpisodeAssembler, dataset_info, load_scenarios};

/// Arguments of `sandtable record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Scenarios (built-in names or `.ron` paths); episode i plays the (i mod S)-th.
    #[arg(long = "scenario", required = true, num_args = 1..)]
    pub scenarios: Vec<String>,
    /// Episodes in the dataset.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub episodes: u64,
    /// Who acts: expert, random, or mixed:P (the expert with a fraction P of random decisions).
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
    let scenarios = load_scenarios(&args.scenarios)?;
    let policy = if args.expert_labels { format!("{} labelled by expert", args.policy.name()) } else { args.policy.name() };
    let info = dataset_info(&scenarios, args.size, args.renderer, args.seed, &policy, args.episodes)?;
    let mut writer = if args.resume {
        anyhow::ensure!(args.out.join("info.json").is_file(), "--resume: {} holds no dataset to continue", args.out.display());
        DatasetWriter::resume(&args.out, info, args.shard_frames).context("resuming the recording")?
    } else {
        DatasetWriter::create(&args.out, info, args.shard_frames).context("creating the dataset")?
    };
    let done = writer.committed_episodes();
    if done >= args.episodes {
        println!("{} already holds {done} episodes; nothing to record", args.out.display());
        return Ok(());
    }
    if done > 0 {
        tracing::info!(episodes = done, "resuming after the committed episodes");
    }

    let config = StreamConfig {
        scenarios,
        base_seed: args.seed,
        episodes: (done..args.episodes).collect(),
        workers: usize::from(args.workers),
        envs_per_worker: usize::from(args.envs),
        width: args.size,
        height: args.size,
        capacity: 256,
        expert_labels: args.expert_labels,
        renderer: args.renderer,
    };
    let mut stream = Stream::spawn(config, Driver::Policy(args.policy.clone())).context("starting the env workers")?;
    let bar = ProgressBar::new(args.episodes);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} episodes  {msg}  ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(done);
    let start = Instant::now();
    let mut frames = 0u64;
    let mut successes = 0u64;
    let mut episodes = if args.expert_labels { EpisodeAssembler::labelled() } else { EpisodeAssembler::default() };
    while let Some(event) = stream.recv().context("recording")? {
        let Event::Transition(t) = event else { anyhow::bail!("a built-in policy never asks for decisions") };
        frames += 1;
        if let Some(ep) = episodes.push(&t) {
            successes += u64::from(ep.meta.success);
            writer.push(ep).context("writing the dataset")?;
            bar.inc(1);
            bar.set_message(format!("{:.0} frames/s", frames as f64 / start.elapsed().as_secs_f64()));
        }
    }
    let info = writer.finish().context("writing the last shard")?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let recorded = args.episodes - done;
    println!(
        "recorded {recorded} episodes, {frames} frames in {secs:.1} s ({:.0} frames/s); success {successes}/{recorded}; \
         dataset {} now holds {} episodes, {} frames in {} shards",
        frames as f64 / secs,
        args.out.display(),
        info.total_episodes,
        info.total_frames,
        info.shards.len()
    );
    Ok(())
}
