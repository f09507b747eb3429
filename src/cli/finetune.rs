//! `sandtable finetune`: stages two and three, instruction tuning and prompting, from a
//! pretraining checkpoint or from scratch: behaviour cloning on recorded demonstrations, or
//! online imitation (`--online`, `live::online`) in live envs with the expert as teacher.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sandtable_agent::finetune::{Finetune, finetune};
use sandtable_agent::holdout::Pair;
use sandtable_env::Renderer;

use sandtable::live::assembler::load_scenarios;
use sandtable::live::online::{Online, online};
use sandtable::progress::Bars;

use super::training::{open_datasets, resolve_config};

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

/// Fine-tune.
pub fn run(args: FinetuneArgs) -> Result<()> {
    let init = (args.init != "none").then(|| PathBuf::from(&args.init));
    // Without --config, the init checkpoint's own architecture.
    let mut cfg = resolve_config(args.config.as_deref(), &args.out, args.resume, || match &init {
        Some(i) => {
            let ckpt = sandtable_agent::checkpoint::resolve(i).with_context(|| format!("--init {}", i.display()))?;
            Ok(ckpt.join("config.json").display().to_string())
        }
        None => Ok("small".into()),
    })?;
    if let Some(s) = args.steps {
        cfg.finetune.steps = s;
    }
    if let Some(s) = args.seed {
        cfg.train.seed = s;
    }
    let on = &mut cfg.finetune.online;
    on.rounds = args.rounds.unwrap_or(on.rounds);
    on.episodes = args.round_episodes.unwrap_or(on.episodes);
    on.beta = args.beta.unwrap_or(on.beta);
    on.beta_decay = args.beta_decay.unwrap_or(on.beta_decay);
    on.first_round_steps = args.first_round_steps.or(on.first_round_steps);
    cfg.validate().map_err(|m| anyhow::anyhow!("config `{}`: {m}", cfg.name))?;
    let device = sandtable::device::parse(&args.device)?;
    let tuning = Finetune {
        data: &[],
        init: init.as_deref(),
        holdout: &args.holdout,
        run: &args.out,
        resume: args.resume,
        until: args.until,
        freeze_trunk: args.freeze_trunk,
        vocab_texts: &[],
        stable_split: false,
        codes: None,
    };
    if args.online {
        // Checked here (frame size) and opened again each round.
        open_datasets(&args.data, &cfg)?;
        let job = Online {
            scenarios: load_scenarios(&args.scenarios)?,
            workers: usize::from(args.workers),
            envs: usize::from(args.envs),
            renderer: args.renderer,
            demos: args.data.clone(),
            tuning,
        };
        let mut bar = Bars::default();
        let result = online(&cfg, &job, &device, &mut bar);
        bar.finish();
        let state = result.context("online fine-tuning")?;
        println!("fine-tuning {:?} at step {}; run in {} (metrics.jsonl, online/, checkpoints/)", state.stage, state.step, args.out.display());
        return Ok(());
    }
    let data = open_datasets(&args.data, &cfg)?;
    tracing::info!(config = %cfg.name, init = args.init, datasets = data.len(), "fine-tuning");
    let job = Finetune { data: &data, ..tuning };
    let mut bar = Bars::default();
    let state = finetune(&cfg, &job, &device, &mut bar).context("fine-tuning")?;
    bar.finish();
    println!("fine-tuning {:?} at step {}; run in {} (metrics.jsonl, finetune_loss.svg, checkpoints/)", state.stage, state.step, args.out.display());
    Ok(())
}
