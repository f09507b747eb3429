//! `sandtable pretrain`: stage one, the action-conditioned next-frame world model.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sandtable_agent::config::Config;
use sandtable_agent::pretrain::{Source, pretrain};
use sandtable_agent::replay::ReplayBuffer;
use sandtable_env::{Driver, Renderer, Stream, StreamConfig};

use crate::play::episodes::load_scenarios;
use crate::play::feeder::spawn_feeder;
use super::training::{open_datasets, resolve_config};
use crate::progress::Bars;

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
    let device = crate::device::parse(&args.device)?;
    if args.live {
        return live(&args, &cfg, &device);
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

/// Train from the live stream: a feeder thread (`play::feeder`) turns transitions into episodes
/// in the replay buffer while the trainer samples from it.
fn live(args: &PretrainArgs, cfg: &Config, device: &candle_core::Device) -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let scenarios = load_scenarios(&args.scenarios)?;
    let size = cfg.image_size as u32;
    let actions = sandtable_env::decision_vocabulary().iter().map(|s| s.to_string()).collect();
    let buffer = Arc::new(ReplayBuffer::new(args.buffer_frames, cfg.image_size, cfg.image_size, actions));
    let stop = Arc::new(AtomicBool::new(false));
    let config = StreamConfig {
        workers: usize::from(args.workers),
        envs_per_worker: usize::from(args.envs),
        width: size,
        height: size,
        renderer: args.renderer,
        ..StreamConfig::new(scenarios, cfg.train.seed, 1_000_000)
    };
    let stream = Stream::spawn(config, Driver::Policy(args.policy.clone())).context("starting the env workers")?;
    let feeder = spawn_feeder(stream, buffer.clone(), stop.clone());
    tracing::info!(config = %cfg.name, workers = args.workers, "pretraining from the live stream");
    let mut bar = Bars::default();
    let result = pretrain(cfg, Source::Live(&buffer), &args.out, args.resume, args.until, device, &mut bar);
    bar.finish();
    stop.store(true, Ordering::SeqCst);
    let episodes = buffer.episodes_added();
    // The feeder drops the stream, which stops and joins the workers.
    let _ = feeder.join();
    let state = result.context("pretraining from the live stream")?;
    println!(
        "pretraining {:?} at step {} from {episodes} live episodes; run in {}",
        state.stage,
        state.step,
        args.out.display()
    );
    Ok(())
}
