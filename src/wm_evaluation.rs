//! The world model's evaluation on held-out episodes (`sandtable eval-wm`): prediction PSNR
//! against copying the last frame, written as `eval.json` ([`WmEvalResult`]) and
//! `psnr_horizon.svg`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::Device;
use sandtable_agent::dataset::Dataset;
use sandtable_agent::loader::load_world_model;
use sandtable_agent::plot::{Series, line_chart};
use sandtable_agent::run_dir::RunDir;
use sandtable_agent::world_model_eval::{EvalOptions, Psnrs, WmEvalResult, evaluate};

use crate::media::write_json;

/// A world-model evaluation request.
#[derive(Clone, Debug)]
pub struct WmEvaluation {
    /// The checkpoint or run directory.
    pub checkpoint: PathBuf,
    /// Held-out datasets.
    pub data: Vec<PathBuf>,
    /// Windows to evaluate.
    pub windows: usize,
    /// Open-loop rollout length.
    pub horizon: usize,
    /// Seed of the window choice.
    pub seed: u64,
    /// Output folder; `None`: the checkpoint's run directory's `eval-wm`.
    pub out: Option<PathBuf>,
}

/// What an evaluation wrote.
pub struct WmEvaluated {
    /// The result, as written.
    pub result: WmEvalResult,
    /// The folder it went to.
    pub dir: PathBuf,
}

/// Evaluate as `job` asks and write the result and its plot.
pub fn evaluate_world_model(job: &WmEvaluation, device: &Device) -> Result<WmEvaluated> {
    let wm = load_world_model(&job.checkpoint, device).context("loading the world model")?;
    let data = job.data.iter().map(|d| Dataset::open(d).with_context(|| format!("opening dataset {}", d.display()))).collect::<Result<Vec<_>>>()?;
    // The per-kind rows and the rollouts read action names: the data must mean what the model learned.
    let names = sandtable_agent::actions::of_datasets(&data, wm.config.dynamics.action_tokens)?;
    sandtable_agent::actions::check(&wm.state.actions, "the world model", &names, "the held-out data")?;
    let sets: Vec<&Dataset> = data.iter().collect();
    let opts = EvalOptions { windows: job.windows.max(1), horizon: job.horizon, seed: job.seed };
    let report = evaluate(&wm.config, &wm.tokenizer, &wm.dynamics, &sets, opts, device).context("evaluating")?;
    let dir = match &job.out {
        Some(o) => o.clone(),
        // checkpoints/step-N → the run directory.
        None => wm.dir.parent().and_then(|p| p.parent()).map_or_else(|| PathBuf::from(RunDir::EVAL_WM), |run| run.join(RunDir::EVAL_WM)),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = WmEvalResult { checkpoint: wm.dir.clone(), step: wm.state.step, config: wm.config.name.clone(), data: job.data.clone(), report };
    write_json(&dir.join(RunDir::EVAL_RESULT), &result)?;
    let line = |f: &dyn Fn(&Psnrs) -> f64| result.report.rollout.iter().map(|r| (r.k as f64, f(&r.psnr))).collect();
    let series = [
        Series { label: "model, true actions".into(), points: line(&|r| r.model_psnr), dashed: false, color: None },
        Series { label: "model, shuffled actions".into(), points: line(&|r| r.shuffled_actions_psnr), dashed: false, color: None },
        Series { label: "copy last frame".into(), points: line(&|r| r.copy_last_psnr), dashed: true, color: None },
        Series { label: "true tokens (tokenizer ceiling)".into(), points: line(&|r| r.true_tokens_psnr), dashed: true, color: None },
        Series { label: "last frame's tokens".into(), points: line(&|r| r.copy_tokens_psnr), dashed: true, color: None },
    ];
    line_chart(&dir.join("psnr_horizon.svg"), "Open-loop prediction PSNR", "steps ahead", "PSNR (dB)", &series, false)?;
    Ok(WmEvaluated { result, dir })
}
