//! `sandtable pretrain`: stage one, the action-conditioned next-frame world model.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sandtable::live::feeder::{LivePretrain, pretrain_live};
use sandtable::progress::Bars;
use sandtable_agent::pretrain::{Source, pretrain};
use sandtable_env::Renderer;

use super::training::{open_datasets, resolve_config};

/// Arguments of `sandtable pretrain`.
#[derive(Debug, Args)]
pub struct PretrainArgs {
    /// Dataset directories (repeat to mix several).
    #[arg(long = "data", num_args = 1.., required_unless_present = "live", conflicts_with = "live")]
    pub data: Vec<PathBuf>,
    /// Train from live env workers instead of datasets: they fill a replay buffer as it trains.
    #[arg(long)]
    pub live: bool,
    /// Live: scenarios to play (episode i plays the (i mod S)-th).
    #[arg(long = "scenario", num_args = 1.., default_value = "go_to_object", requires = "live")]
    pub scenarios: Vec<String>,
    /// Live: worker threads, each with its own Bevy App.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Live: envs per worker.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub envs: u16,
    /// Live: who acts (expert, random, mixed:P).
    #[arg(long, default_value = "mixed:0.3")]
    pub policy: sandtable_env::PolicySpec,
    /// Live: frames the replay buffer keeps (oldest episodes are dropped).
    #[arg(long, default_value_t = 20_000)]
    pub buffer_frames: usize,
    /// Live: which renderer draws the workers' frames (batch or pbr).
    #[arg(long, default_value_t = Renderer::Batch, requires = "live")]
    pub renderer: Renderer,
    /// Preset (tiny, mini, small, base, count) or a JSON config file [default: small, or the run's own with --resume].
    #[arg(long)]
    pub config: Option<String>,
    /// Run directory: checkpoints, metrics.jsonl, loss plots.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Override the preset's tokenizer steps.
    #[arg(long)]
    pub tokenizer_steps: Option<u64>,
    /// Override the preset's dynamics steps.
    #[arg(long)]
    pub dynamics_steps: Option<u64>,
    /// Override the preset's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this global step, with a checkpoint (continue later with --resume).
    #[arg(long)]
    pub until: Option<u64>,
}

/// Train.
pub fn run(args: PretrainArgs) -> Result<()> {
    let mut cfg = resolve_config(args.config.as_deref(), &args.out, args.resume, || Ok("small".into()))?;
    if let Some(s) = args.tokenizer_steps {
        cfg.train.tokenizer_steps = s;
    }
    if let Some(s) = args.dynamics_steps {
        cfg.train.dynamics_steps = s;
    }
    if let Some(s) = args.seed {
        cfg.train.seed = s;
    }
    let device = sandtable::device::parse(&args.device)?;
    if args.live {
        let job = LivePretrain {
            scenarios: args.scenarios.clone(),
            workers: usize::from(args.workers),
            envs: usize::from(args.envs),
            policy: args.policy.clone(),
            buffer_frames: args.buffer_frames,
            renderer: args.renderer,
            run: args.out.clone(),
            resume: args.resume,
            until: args.until,
        };
        let mut bar = Bars::default();
        let result = pretrain_live(&cfg, &job, &device, &mut bar);
        bar.finish();
        let (state, episodes) = result?;
        println!("pretraining {:?} at step {} from {episodes} live episodes; run in {}", state.stage, state.step, args.out.display());
        return Ok(());
    }
    let data = open_datasets(&args.data, &cfg)?;
    tracing::info!(config = %cfg.name, device = args.device, datasets = data.len(), "pretraining");
    let mut bar = Bars::default();
    let state = pretrain(&cfg, Source::Recorded(&data), &args.out, args.resume, args.until, &device, &mut bar).context("pretraining")?;
    bar.finish();
    println!(
        "pretraining {:?} at step {}; run in {} (metrics.jsonl, tokenizer_loss.svg, dynamics_loss.svg, checkpoints/)",
        state.stage,
        state.step,
        args.out.display()
    );
    Ok(())
}
