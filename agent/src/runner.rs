//! The one training loop that every stage (tokenizer, dynamics, fine-tuning) runs through. The
//! runner owns the run directory, resume validation (config, data, actions, `--until`), `metrics.jsonl`
//! and its trimming on resume, the evaluation and checkpoint cadence, and checkpoint retention
//! (the last few and each stage's best are kept; older ones are pruned). A stage supplies only
//! its step, its validation and what its checkpoint holds.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AgentError;
use crate::checkpoint::{self, Stage, TrainState};
use crate::config::Config;
use crate::optim::AdamW;
use crate::plot::plot_losses;

/// Checkpoints kept besides each stage's best.
const KEEP_LAST: usize = 3;

/// One optimiser step, as reported to the observer and `metrics.jsonl`.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// Stage.
    pub stage: Stage,
    /// Global step (after this one).
    pub step: u64,
    /// Step within the stage (after this one).
    pub stage_step: u64,
    /// Steps in the stage.
    pub stage_steps: u64,
    /// Training loss.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Wall time of the step, seconds.
    pub seconds: f64,
    /// Tokens (dynamics, fine-tuning) or frames (tokenizer) in the batch.
    pub items: usize,
}

/// A validation pass.
#[derive(Clone, Debug)]
pub struct EvalRecord {
    /// Stage.
    pub stage: Stage,
    /// Global step.
    pub step: u64,
    /// Validation loss.
    pub val_loss: f64,
    /// Tokenizer: reconstruction PSNR; dynamics and fine-tuning: accuracy.
    pub val_metric: f64,
}

/// Receives progress; every method has a do-nothing default.
pub trait Observer {
    /// A stage starts (or resumes) at `done` of `total` steps.
    fn on_stage(&mut self, _stage: Stage, _done: u64, _total: u64) {}
    /// A step finished.
    fn on_step(&mut self, _r: &StepRecord) {}
    /// A validation pass finished.
    fn on_eval(&mut self, _r: &EvalRecord) {}
    /// A checkpoint was written.
    fn on_checkpoint(&mut self, _dir: &Path) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// What a stage's step reports.
pub(crate) struct StepOutcome {
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f64,
    /// Frames or tokens in the batch.
    pub items: usize,
    /// Extra `metrics.jsonl` fields of the step.
    pub fields: Vec<(&'static str, f64)>,
}

impl StepOutcome {
    /// Backpropagate `loss`, take one optimiser step at rate `lr` with clipping at `clip`, and
    /// report it: what every stage's step ends with.
    pub fn optimise(loss: &Tensor, opt: &mut AdamW, lr: f64, clip: f64, items: usize) -> Result<Self, AgentError> {
        let grad_norm = opt.step(&loss.backward()?, lr, clip)?;
        Ok(Self { loss: f64::from(loss.to_scalar::<f32>()?), lr, grad_norm, items, fields: Vec::new() })
    }
}

/// What a stage's validation reports.
pub(crate) struct Validation {
    pub loss: f64,
    /// The stage's headline metric (PSNR or accuracy), also logged under `metric_name`.
    pub metric: f64,
    pub metric_name: &'static str,
}

/// One trainable stage: the runner calls these and does everything else.
pub(crate) trait StageLoop {
    /// Which stage this is.
    fn stage(&self) -> Stage;
    /// Name in `metrics.jsonl`.
    fn label(&self) -> &'static str;
    /// Extra per-step `metrics.jsonl` fields derived from the step's items and time.
    fn rate_field(&self) -> Option<&'static str> {
        None
    }
    /// One optimiser step; `s` counts from 0 within the stage of `total` steps.
    fn step(&mut self, s: u64, total: u64) -> Result<StepOutcome, AgentError>;
    /// A validation pass over fixed held-out batches.
    fn validate(&mut self) -> Result<Validation, AgentError>;
    /// Where the batch sampler stands (saved for an exact resume).
    fn sampler(&self) -> (u64, usize);
    /// Write a checkpoint of `state`; `finished` is set after the stage's last step.
    fn save(&mut self, run: &Path, state: &TrainState, finished: bool) -> Result<PathBuf, AgentError>;
}

/// How often a stage validates and checkpoints.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cadence {
    pub eval_every: u64,
    pub checkpoint_every: u64,
}

/// The best validation loss of a stage and the checkpoint that holds it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Best {
    stages: std::collections::BTreeMap<String, (f64, String)>,
}

/// A run directory being trained.
pub(crate) struct Runner<'a> {
    run: PathBuf,
    until: Option<u64>,
    metrics: std::fs::File,
    metrics_path: PathBuf,
    obs: &'a mut dyn Observer,
    /// The last validation: (global step, loss).
    last_val: Option<(u64, f64)>,
}

/// `paths` in a form two runs can compare: canonical where the path exists.
pub(crate) fn canonical(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())).collect()
}

impl<'a> Runner<'a> {
    /// Open `run` for training with `cfg` on the datasets `data`, whose actions are named
    /// `actions`. Without `resume` an existing run is refused; with it, its latest checkpoint is
    /// returned after checking that it was trained with the same config (or one that only
    /// fine-tunes longer, [`Config::continues`]), data and actions.
    /// `metrics.jsonl` keeps only the lines up to the resumed step, and `config.json` holds `cfg`.
    pub fn open(
        run: &Path,
        cfg: &Config,
        data: &[PathBuf],
        actions: &[String],
        resume: bool,
        until: Option<u64>,
        obs: &'a mut dyn Observer,
    ) -> Result<(Self, Option<(PathBuf, TrainState)>), AgentError> {
        std::fs::create_dir_all(run).map_err(|e| AgentError::io(run, e))?;
        let has_run = run.join("checkpoints").join("latest").exists();
        if has_run && !resume {
            return Err(AgentError::Config(format!("{} already holds a run; pass --resume to continue it or choose another --out", run.display())));
        }
        let resumed = if has_run {
            let ckpt = checkpoint::resolve(run)?;
            if !cfg.continues(&checkpoint::load_config(&ckpt)?) {
                return Err(AgentError::Checkpoint { path: ckpt, message: "was trained with a different config; resume with the same --config (only fine-tuning's steps and online rounds may grow)".into() });
            }
            let state = checkpoint::load_state(&ckpt)?;
            if canonical(&state.data) != canonical(data) {
                let list = |d: &[PathBuf]| d.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
                return Err(AgentError::Checkpoint { path: ckpt, message: format!("was trained on --data {}, not {}; resume with the same --data", list(&state.data), list(data)) });
            }
            crate::actions::check(&state.actions, &format!("the run in {}", run.display()), actions, "its data")?;
            Some((ckpt, state))
        } else {
            None
        };
        crate::atomic::write_atomic(&run.join("config.json"), checkpoint::to_json(cfg)?.as_bytes()).map_err(|e| AgentError::io(run, e))?;
        let metrics_path = run.join("metrics.jsonl");
        keep_metrics_up_to(&metrics_path, resumed.as_ref().map_or(0, |(_, s)| s.step))?;
        let metrics = std::fs::OpenOptions::new().create(true).append(true).open(&metrics_path).map_err(|e| AgentError::io(&metrics_path, e))?;
        Ok((Self { run: run.to_path_buf(), until, metrics, metrics_path, obs, last_val: None }, resumed))
    }

    /// Whether `--until` asks to stop at `step` (or already did before it).
    pub fn stops_at(&self, step: u64) -> bool {
        self.until.is_some_and(|u| step >= u)
    }

    fn log(&mut self, v: Value) -> Result<(), AgentError> {
        writeln!(self.metrics, "{v}").map_err(|e| AgentError::io(&self.metrics_path, e))
    }

    /// Run `stage` from where `state` stands to its `total` steps; its step `s` is global step
    /// `base + s + 1`. Returns `true` when it stopped early at `--until`.
    pub fn run_stage(&mut self, stage: &mut dyn StageLoop, state: &mut TrainState, base: u64, total: u64, cadence: Cadence) -> Result<bool, AgentError> {
        let done = state.step.saturating_sub(base).min(total);
        self.obs.on_stage(stage.stage(), done, total);
        if self.stops_at(state.step) {
            return Ok(true);
        }
        for s in done..total {
            let t0 = Instant::now();
            let out = stage.step(s, total)?;
            let seconds = t0.elapsed().as_secs_f64();
            state.step = base + s + 1;
            state.sampler = stage.sampler();
            let mut row = Map::new();
            row.insert("stage".into(), json!(stage.label()));
            row.insert("step".into(), json!(state.step));
            row.insert("loss".into(), json!(out.loss));
            row.insert("lr".into(), json!(out.lr));
            row.insert("grad_norm".into(), json!(out.grad_norm));
            row.insert("step_ms".into(), json!(seconds * 1e3));
            if let Some(rate) = stage.rate_field() {
                row.insert(rate.into(), json!(out.items as f64 / seconds));
            }
            for (k, v) in &out.fields {
                row.insert((*k).into(), json!(v));
            }
            self.log(Value::Object(row))?;
            let r = StepRecord { stage: stage.stage(), step: state.step, stage_step: s + 1, stage_steps: total, loss: out.loss, lr: out.lr, grad_norm: out.grad_norm, seconds, items: out.items };
            self.obs.on_step(&r);
            let last = s + 1 == total;
            if (s + 1) % cadence.eval_every.max(1) == 0 || last {
                let v = stage.validate()?;
                self.log(json!({"stage": stage.label(), "step": state.step, "val_loss": v.loss, v.metric_name: v.metric}))?;
                self.obs.on_eval(&EvalRecord { stage: stage.stage(), step: state.step, val_loss: v.loss, val_metric: v.metric });
                self.last_val = Some((state.step, v.loss));
                plot_losses(&self.run)?;
            }
            let stop = self.stops_at(state.step);
            if (s + 1) % cadence.checkpoint_every.max(1) == 0 || last || stop {
                let dir = stage.save(&self.run, state, last)?;
                self.retain(stage.label(), &dir, state.step)?;
                self.obs.on_checkpoint(&dir);
            }
            if stop {
                return Ok(!last);
            }
        }
        Ok(false)
    }

    /// Record `dir` as its stage's best if its validation loss is the lowest so far, then prune
    /// every checkpoint that is neither among the last [`KEEP_LAST`] nor a stage's best.
    fn retain(&mut self, label: &str, dir: &Path, step: u64) -> Result<(), AgentError> {
        let root = self.run.join("checkpoints");
        let best_path = root.join("best.json");
        let mut best: Best = std::fs::read_to_string(&best_path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some((at, loss)) = self.last_val
            && at == step
            && best.stages.get(label).is_none_or(|(b, _)| loss < *b)
        {
            best.stages.insert(label.to_string(), (loss, name.clone()));
            crate::atomic::write_atomic(&best_path, checkpoint::to_json(&best)?.as_bytes()).map_err(|e| AgentError::io(&best_path, e))?;
        }
        let mut steps: Vec<String> = std::fs::read_dir(&root)
            .map_err(|e| AgentError::io(&root, e))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.starts_with("step-") && !n.ends_with(".partial"))
            .collect();
        steps.sort();
        let keep_from = steps.len().saturating_sub(KEEP_LAST);
        for (i, n) in steps.iter().enumerate() {
            let is_best = best.stages.values().any(|(_, b)| b == n);
            if i < keep_from && !is_best && *n != name {
                let old = root.join(n);
                std::fs::remove_dir_all(&old).map_err(|e| AgentError::io(&old, e))?;
            }
        }
        Ok(())
    }
}

/// Drop `metrics.jsonl` lines past `step`, left by a run that stopped after its last checkpoint.
pub(crate) fn keep_metrics_up_to(path: &Path, step: u64) -> Result<(), AgentError> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).ok().and_then(|v| v["step"].as_u64()).is_some_and(|s| s <= step))
        .collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    crate::atomic::write_atomic(path, out.as_bytes()).map_err(|e| AgentError::io(path, e))
}
