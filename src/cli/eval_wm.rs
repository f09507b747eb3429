//! `sandtable eval-wm`: the world model on held-out episodes against the copy-last baseline.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sandtable::wm_evaluation::{WmEvaluation, evaluate_world_model};
use sandtable_agent::run_dir::RunDir;

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

impl EvalWmArgs {
    /// The request these arguments make.
    pub fn request(&self) -> WmEvaluation {
        WmEvaluation { checkpoint: self.checkpoint.clone(), data: self.data.clone(), windows: self.windows, horizon: usize::from(self.horizon), seed: self.seed, out: self.out.clone() }
    }
}

/// Evaluate and report.
pub fn run(args: EvalWmArgs) -> Result<()> {
    execute(&args.request(), &args.device)
}

/// Run `job` on `device` and print its table.
pub fn execute(job: &WmEvaluation, device: &str) -> Result<()> {
    let device = sandtable::device::parse(device)?;
    let done = evaluate_world_model(job, &device)?;
    let (r, w) = (&done.result, &done.result.report);
    println!("world model {} (step {}) on {} held-out windows, {} real frames then {} predicted:", r.config, r.step, w.windows, w.context_frames, w.horizon);
    println!(
        "  tokenizer reconstruction PSNR {:.2} dB, SSIM {:.3}; 1-step SSIM {:.3} (copy last {:.3}); teacher-forced token accuracy {:.3}",
        w.recon_psnr, w.recon_ssim, w.one_step_ssim, w.copy_last_ssim, w.token_accuracy
    );
    // ΔtPSNR (Genie, Bruce et al. 2024): what the true actions are worth over another window's.
    println!("  PSNR, dB             | model | shuffled actions | ΔtPSNR | copy last | true tokens | last frame's tokens");
    let rows = w.rollout.iter().map(|r| (format!("k = {}", r.k), &r.psnr)).chain(w.by_action.iter().map(|r| (format!("k = 1, {} ({})", r.kind, r.windows), &r.psnr)));
    for (label, p) in rows {
        let delta = p.model_psnr - p.shuffled_actions_psnr;
        println!("  {label:<20} | {:5.2} | {:16.2} | {delta:6.2} | {:9.2} | {:11.2} | {:19.2}", p.model_psnr, p.shuffled_actions_psnr, p.copy_last_psnr, p.true_tokens_psnr, p.copy_tokens_psnr);
    }
    println!("wrote {} and {}", done.dir.join(RunDir::EVAL_RESULT).display(), done.dir.join("psnr_horizon.svg").display());
    Ok(())
}
