//! `sandtable eval-wm`: the world model on held-out episodes against the copy-last baseline.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sandtable_agent::loader::load_world_model;
use sandtable_agent::dataset::Dataset;
use sandtable_agent::run_dir::RunDir;
use sandtable_agent::world_model_eval::{EvalOptions, WmEvalResult, evaluate};
use sandtable_agent::plot::{Series, line_chart};

/// Arguments of `sandtable eval-wm`.
#[derive(Debug, Args)]
pub struct EvalWmArgs {
    /// Checkpoint directory, or a run directory (its latest checkpoint).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Held-out dataset directories (recorded with seeds not used in training).
    #[arg(long = "data", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Windows to evaluate (rounded up to batches of 16; at least 2, so actions can be shuffled).
    #[arg(long, default_value_t = 128)]
    pub windows: usize,
    /// Open-loop rollout length.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub horizon: u16,
    /// Seed of the window choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write eval.json and psnr_horizon.svg [default: CHECKPOINT's run directory /eval-wm].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Evaluate and report.
pub fn run(args: EvalWmArgs) -> Result<()> {
    let device = sandtable::device::parse(&args.device)?;
    let wm = load_world_model(&args.checkpoint, &device).context("loading the world model")?;
    let data = args
        .data
        .iter()
        .map(|d| Dataset::open(d).with_context(|| format!("opening dataset {}", d.display())))
        .collect::<Result<Vec<_>>>()?;
    // The per-kind rows and the rollouts read action names: the data must mean what the model learned.
    let names = sandtable_agent::actions::of_datasets(&data)?;
    sandtable_agent::actions::check(&wm.state.actions, "the world model", &names, "the held-out data")?;
    let sets: Vec<&Dataset> = data.iter().collect();
    let opts = EvalOptions { windows: args.windows.max(1), horizon: usize::from(args.horizon), seed: args.seed };
    let report = evaluate(&wm.config, &wm.tokenizer, &wm.dynamics, &sets, opts, &device).context("evaluating")?;
    let out = match &args.out {
        Some(o) => o.clone(),
        // checkpoints/step-N → the run directory.
        None => wm.dir.parent().and_then(|p| p.parent()).map_or_else(|| PathBuf::from(RunDir::EVAL_WM), |run| run.join(RunDir::EVAL_WM)),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let doc = WmEvalResult { checkpoint: wm.dir.clone(), step: wm.state.step, config: wm.config.name.clone(), data: args.data.clone(), report };
    // Through a `Value`, whose objects keep their keys sorted.
    sandtable::media::write_atomic(&out.join(RunDir::EVAL_RESULT), serde_json::to_string_pretty(&serde_json::to_value(&doc)?)?.as_bytes())?;
    let report = doc.report;
    let line = |f: &dyn Fn(&sandtable_agent::world_model_eval::Psnrs) -> f64| report.rollout.iter().map(|r| (r.k as f64, f(&r.psnr))).collect();
    let series = [
        Series { label: "model, true actions".into(), points: line(&|r| r.model_psnr), dashed: false, color: None },
        Series { label: "model, shuffled actions".into(), points: line(&|r| r.shuffled_actions_psnr), dashed: false, color: None },
        Series { label: "copy last frame".into(), points: line(&|r| r.copy_last_psnr), dashed: true, color: None },
        Series { label: "true tokens (tokenizer ceiling)".into(), points: line(&|r| r.true_tokens_psnr), dashed: true, color: None },
        Series { label: "last frame's tokens".into(), points: line(&|r| r.copy_tokens_psnr), dashed: true, color: None },
    ];
    line_chart(&out.join("psnr_horizon.svg"), "Open-loop prediction PSNR", "steps ahead", "PSNR (dB)", &series, false)?;

    println!(
        "world model {} (step {}) on {} held-out windows, {} real frames then {} predicted:",
        wm.config.name, wm.state.step, report.windows, report.context_frames, report.horizon
    );
    println!(
        "  tokenizer reconstruction PSNR {:.2} dB, SSIM {:.3}; 1-step SSIM {:.3} (copy last {:.3}); teacher-forced token accuracy {:.3}",
        report.recon_psnr, report.recon_ssim, report.one_step_ssim, report.copy_last_ssim, report.token_accuracy
    );
    println!("  PSNR, dB             | model | shuffled actions | copy last | true tokens | last frame's tokens");
    let rows = report.rollout.iter().map(|r| (format!("k = {}", r.k), &r.psnr)).chain(report.by_action.iter().map(|r| (format!("k = 1, {} ({})", r.kind, r.windows), &r.psnr)));
    for (label, p) in rows {
        println!("  {label:<20} | {:5.2} | {:16.2} | {:9.2} | {:11.2} | {:19.2}", p.model_psnr, p.shuffled_actions_psnr, p.copy_last_psnr, p.true_tokens_psnr, p.copy_tokens_psnr);
    }
    println!("wrote {} and {}", out.join(RunDir::EVAL_RESULT).display(), out.join("psnr_horizon.svg").display());
    Ok(())
}
