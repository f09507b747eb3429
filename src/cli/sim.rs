//! `sandtable sim`: play one episode headless and write what it saw (`episode_files`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sandtable::episode_files::{SimEpisode, simulate};
use sandtable_env::{PolicySpec, Renderer};

/// Arguments of `sandtable sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// A built-in scenario name or a path to a `.ron` file.
    #[arg(long, default_value = "go_to_object")]
    pub scenario: String,
    /// Episode seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most steps to take (the episode may end sooner).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub steps: u32,
    /// Who chooses the actions: expert, random, wander (walks about, no expert) or mixed:P (the expert with a fraction P of random decisions).
    #[arg(long, default_value = "expert")]
    pub policy: PolicySpec,
    /// Frame side in pixels (square frames).
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Which renderer draws the frames: batch (every env in one pass) or pbr (Bevy's own path).
    #[arg(long, default_value_t = Renderer::Batch)]
    pub renderer: Renderer,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

/// Run one episode and write frames, a GIF, steps.jsonl and meta.json into `--out`.
pub fn run(args: SimArgs) -> Result<()> {
    let job = SimEpisode { scenario: args.scenario, seed: args.seed, steps: args.steps, policy: args.policy, size: args.size, renderer: args.renderer, out: args.out };
    let done = simulate(&job)?;
    println!(
        "{} after {} steps, return {:.3}; wrote {} frames, episode.gif and steps.jsonl to {}",
        done.outcome,
        done.steps,
        done.episode_return,
        done.frames,
        job.out.display()
    );
    Ok(())
}
