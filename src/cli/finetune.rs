//! `sandtable finetune`: stages two and three, instruction tuning and prompting, from a
//! pretraining checkpoint or from scratch: behaviour cloning on recorded demonstrations, or
//! online imitation (`--online`, `live::online`) in live envs with the expert as teacher.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sandtable::progress::Bars;
use sandtable::training::{Finetuning, OnlineRounds, run_finetuning};
use sandtable_agent::holdout::Pair;
use sandtable_env::Renderer;

/// Arguments of `sandtable finetune`.
#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// Pretraining checkpoint or run directory to start from, or `none` for from scratch.
    #[arg(long)]
    pub init: String,
    /// Demonstration datasets (repeat to mix several): behaviour cloning, or with --online trained
    /// on beside the aggregated dataset in every round.
    #[arg(long = "data", num_args = 1.., required_unless_present = "online")]
    pub data: Vec<PathBuf>,
    /// Online imitation (DAgger): play --scenario live, have the expert label every state the
    /// agent visits, aggregate the labels in OUT/online/ and train on them, in rounds.
    #[arg(long, requires = "scenarios")]
    pub online: bool,
    /// Scenarios the online rounds play (built-in names or `.ron` paths).
    #[arg(long = "scenario", num_args = 1.., requires = "online")]
    pub scenarios: Vec<String>,
    /// Online: rounds [default: the config's finetune.online.rounds].
    #[arg(long, requires = "online")]
    pub rounds: Option<u64>,
    /// Online: episodes played per round [default: the config's finetune.online.episodes].
    #[arg(long, requires = "online")]
    pub round_episodes: Option<u64>,
    /// Online: probability of the expert acting in round 1 [default: the config's].
    #[arg(long, requires = "online")]
    pub beta: Option<f64>,
    /// Online: β's factor per round after [default: the config's].
    #[arg(long, requires = "online")]
    pub beta_decay: Option<f64>,
    /// Online: training steps of round 0 [default: the config's, else an even share].
    #[arg(long, requires = "online")]
    pub first_round_steps: Option<u64>,
    /// Online: env worker threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64), requires = "online")]
    pub workers: u16,
    /// Online: envs per worker.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64), requires = "online")]
    pub envs: u16,
    /// Preset or JSON config [default: the init checkpoint's, else small; the run's own with --resume].
    #[arg(long)]
    pub config: Option<String>,
    /// Colour:shape pairs whose missions are kept out of training (for example red:cube).
    #[arg(long = "holdout-pairs", value_delimiter = ',', num_args = 1..)]
    pub holdout: Vec<Pair>,
    /// Run directory: checkpoints, metrics.jsonl, finetune_loss.svg, vocab.json, agent.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its latest checkpoint; with a larger --steps (and
    /// --rounds), a finished run goes on.
    #[arg(long)]
    pub resume: bool,
    /// Override the config's fine-tuning steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Override the config's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this step, with a checkpoint (continue later with --resume).
    #[arg(long)]
    pub until: Option<u64>,
    /// Freeze the transformer blocks: train only embeddings, positions, the final norm and the head.
    #[arg(long)]
    pub freeze_trunk: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Online: which renderer draws the envs' frames (batch or pbr).
    #[arg(long, default_value_t = Renderer::Batch, requires = "online")]
    pub renderer: Renderer,
}

impl FinetuneArgs {
    /// The request these arguments make.
    pub fn request(&self) -> Finetuning {
        let online = self.online.then(|| OnlineRounds {
            scenarios: self.scenarios.clone(),
            rounds: self.rounds,
            round_episodes: self.round_episodes,
            beta: self.beta,
            beta_decay: self.beta_decay,
            first_round_steps: self.first_round_steps,
            workers: usize::from(self.workers),
            envs: usize::from(self.envs),
            renderer: self.renderer,
        });
        Finetuning {
            init: (self.init != "none").then(|| PathBuf::from(&self.init)),
            data: self.data.clone(),
            online,
            config: self.config.clone(),
            holdout: self.holdout.clone(),
            out: self.out.clone(),
            resume: self.resume,
            steps: self.steps,
            seed: self.seed,
            until: self.until,
            freeze_trunk: self.freeze_trunk,
        }
    }
}

/// Fine-tune.
pub fn run(args: FinetuneArgs) -> Result<()> {
    execute(&args.request(), &args.device)
}

/// Run `job` on `device` and say where it stands.
pub fn execute(job: &Finetuning, device: &str) -> Result<()> {
    let device = sandtable::device::parse(device)?;
    let result = Bars::around(|bars| run_finetuning(job, &device, bars));
    let state = result?;
    let files = if job.online.is_some() { "metrics.jsonl, online/, checkpoints/" } else { "metrics.jsonl, finetune_loss.svg, checkpoints/" };
    println!("fine-tuning {:?} at step {}; run in {} ({files})", state.stage, state.step, job.out.display());
    Ok(())
}
