//! `sandtable finetune`: stages two and three, instruction tuning and prompting on expert
//! demonstrations, from a pretraining checkpoint or from scratch.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sandtable_agent::finetune::{Finetune, finetune};
use sandtable_agent::holdout::Pair;

use super::training::{open_datasets, resolve_config};
use crate::progress::Bars;

/// Arguments of `sandtable finetune`.
#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// Pretraining checkpoint or run directory to start from, or `none` for from scratch.
    #[arg(long)]
    pub init: String,
    /// Demonstration datasets (repeat to mix several).
    #[arg(long = "data", num_args = 1.., required = true)]
    pub data: Vec<PathBuf>,
    /// Preset or JSON config [default: the init checkpoint's, else small; the run's own with --resume].
    #[arg(long)]
    pub config: Option<String>,
    /// Colour:shape pairs whose missions are kept out of training (for example red:cube).
    #[arg(long = "holdout-pairs", value_delimiter = ',', num_args = 1..)]
    pub holdout: Vec<Pair>,
    /// Run directory: checkpoints, metrics.jsonl, finetune_loss.svg, vocab.json, agent.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its latest checkpoint.
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
    let device = crate::device::parse(&args.device)?;
    let data = open_datasets(&args.data, &cfg)?;
    tracing::info!(config = %cfg.name, init = args.init, datasets = data.len(), "fine-tuning");
    let job = Finetune { data: &data, init: init.as_deref(), holdout: &args.holdout, run: &args.out, resume: args.resume, until: args.until, freeze_trunk: args.freeze_trunk };
    let mut bar = Bars::default();
    let state = finetune(&cfg, &job, &device, &mut bar).context("fine-tuning")?;
    bar.finish();
    println!("fine-tuning {:?} at step {}; run in {} (metrics.jsonl, finetune_loss.svg, checkpoints/)", state.stage, state.step, args.out.display());
    Ok(())
}
