//! `sandtable pretrain`: stage one, the action-conditioned next-frame world model.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sandtable_agent::checkpoint::Stage;
use sandtable_agent::config::Config;
use sandtable_agent::dataset::Dataset;
use sandtable_agent::train::{EvalRecord, Observer, StepRecord, pretrain};

/// Arguments of `sandtable pretrain`.
#[derive(Debug, Args)]
pub struct PretrainArgs {
    /// Dataset directories (repeat to mix several).
    #[arg(long = "data", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Preset (tiny, small, base) or a JSON config file [default: small, or the run's own with --resume].
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
    let own = args.out.join("config.json");
    let name = match &args.config {
        Some(c) => c.clone(),
        None if args.resume && own.is_file() => own.display().to_string(),
        None => "small".into(),
    };
    let mut cfg = Config::load(&name).context("loading the model config")?;
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
    let data = args
        .data
        .iter()
        .map(|d| Dataset::open(d).with_context(|| format!("opening dataset {}", d.display())))
        .collect::<Result<Vec<_>>>()?;
    for d in &data {
        let (h, w) = d.frame_size();
        anyhow::ensure!(
            h == cfg.image_size && w == cfg.image_size,
            "{} has {h}x{w} frames; config `{}` expects {}x{}",
            d.dir().display(),
            cfg.name,
            cfg.image_size,
            cfg.image_size
        );
    }
    tracing::info!(config = %cfg.name, device = args.device, datasets = data.len(), "pretraining");
    let mut bar = Bars::default();
    let state = pretrain(&cfg, &data, &args.out, args.resume, args.until, &device, &mut bar).context("pretraining")?;
    bar.finish();
    println!(
        "pretraining {:?} at step {}; run in {} (metrics.jsonl, tokenizer_loss.svg, dynamics_loss.svg, checkpoints/)",
        state.stage,
        state.step,
        args.out.display()
    );
    Ok(())
}

/// A progress bar per stage, with loss and throughput.
#[derive(Default)]
struct Bars {
    bar: Option<ProgressBar>,
    started: Option<Instant>,
    first: u64,
    val: String,
}

impl Bars {
    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

impl Observer for Bars {
    fn on_stage(&mut self, stage: Stage, done: u64, total: u64) {
        self.finish();
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{prefix:>9} {bar:30} {pos}/{len} {msg} ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_prefix(format!("{stage:?}").to_lowercase());
        b.set_position(done);
        self.bar = Some(b);
        self.started = Some(Instant::now());
        self.first = done;
        self.val.clear();
    }

    fn on_step(&mut self, r: &StepRecord) {
        let Some(b) = &self.bar else { return };
        b.set_position(r.stage_step);
        let secs = self.started.map_or(1.0, |t| t.elapsed().as_secs_f64().max(1e-9));
        let rate = (r.stage_step - self.first) as f64 / secs;
        let unit = if r.stage == Stage::Tokenizer { "frames" } else { "tokens" };
        b.set_message(format!("loss {:.4} {rate:.2} steps/s {:.0} {unit}/s{}", r.loss, r.items as f64 / r.seconds, self.val));
    }

    fn on_eval(&mut self, r: &EvalRecord) {
        self.val = match r.stage {
            Stage::Tokenizer => format!(" | val {:.4} {:.1} dB", r.val_loss, r.val_metric),
            _ => format!(" | val {:.3} acc {:.3}", r.val_loss, r.val_metric),
        };
        tracing::debug!(step = r.step, val_loss = r.val_loss, metric = r.val_metric, "validation");
    }
}
