//! `sandtable pretrain`: stage one, the action-conditioned next-frame world model.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sandtable::live::feeder::LivePretrain;
use sandtable::progress::Bars;
use sandtable::training::{Pretraining, run_pretraining};
use sandtable_env::Renderer;

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
    /// Live: who acts (expert, random, wander, mixed:P).
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

impl PretrainArgs {
    /// The request these arguments make.
    pub fn request(&self) -> Pretraining {
        let live = self.live.then(|| LivePretrain {
            scenarios: self.scenarios.clone(),
            workers: usize::from(self.workers),
            envs: usize::from(self.envs),
            policy: self.policy.clone(),
            buffer_frames: self.buffer_frames,
            renderer: self.renderer,
            run: self.out.clone(),
            resume: self.resume,
            until: self.until,
        });
        Pretraining {
            data: self.data.clone(),
            live,
            config: self.config.clone(),
            out: self.out.clone(),
            resume: self.resume,
            tokenizer_steps: self.tokenizer_steps,
            dynamics_steps: self.dynamics_steps,
            seed: self.seed,
            until: self.until,
        }
    }
}

/// Train.
pub fn run(args: PretrainArgs) -> Result<()> {
    execute(&args.request(), &args.device)
}

/// Run `job` on `device` and say where it stands.
pub fn execute(job: &Pretraining, device: &str) -> Result<()> {
    let device = sandtable::device::parse(device)?;
    let result = Bars::around(|bars| run_pretraining(job, &device, bars));
    let done = result?;
    let state = done.state;
    match done.live_episodes {
        Some(episodes) => println!("pretraining {:?} at step {} from {episodes} live episodes; run in {}", state.stage, state.step, job.out.display()),
        None => println!(
            "pretraining {:?} at step {}; run in {} (metrics.jsonl, tokenizer_loss.svg, dynamics_loss.svg, checkpoints/)",
            state.stage,
            state.step,
            job.out.display()
        ),
    }
    Ok(())
}
