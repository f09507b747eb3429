//! The one training loop that every stage (tokenizer, dynamics, fine-tuning) runs through. The
//! runner owns the run directory, resume validation (config, data, actions, `--until`), `metrics.jsonl`
//! and its trimming on resume, the evaluation and checkpoint cadence, and checkpoint retention
//! (the last few and each stage's best are kept; older ones are pruned). A stage supplies only
//! its step, its validation and what its checkpoint holds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Tensor;

use crate::AgentError;
use crate::checkpoint::{self, Stage, TrainState};
use crate::config::Config;
use crate::optim::AdamW;
use crate::plot::plot_losses;
use crate::run_dir::{BestCheckpoints, MetricsLog, MetricsRow, OnlineRound, RunDir, StepRow, ValidationRow};

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
    /// An online round starts playing its `episodes` episodes.
    fn on_round_start(&mut self, _round: u64, _episodes: u64) {}
    /// An episode of the round being played ended; `status` says how the round goes so far.
    fn on_round_episode(&mut self, _status: &str) {}
    /// An online round was played and logged.
    fn on_round(&mut self, _r: &OnlineRound) {}
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
    /// The batch's accuracy, for stages that measure one.
    pub accuracy: Option<f64>,
}

impl StepOutcome {
    /// Backpropagate `loss`, take one optimiser step at rate `lr` with clipping at `clip`, and
    /// report it: what every stage's step ends with.
    pub fn optimise(loss: &Tensor, opt: &mut AdamW, lr: f64, clip: f64, items: usize) -> Result<Self, AgentError> {
        let grad_norm = opt.step(&loss.backward()?, lr, clip)?;
        Ok(Self { loss: f64::from(loss.to_scalar::<f32>()?), lr, grad_norm, items, accuracy: None })
    }
}

/// What a stage's validation reports.
pub(crate) struct Validation {
    pub loss: f64,
    /// The stage's headline metric: PSNR or accuracy.
    pub metric: Metric,
}

/// A stage's headline validation metric.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Metric {
    /// Reconstruction PSNR, dB.
    Psnr(f64),
    /// Accuracy of the predicted tokens.
    Accuracy(f64),
}

impl Metric {
    fn value(self) -> f64 {
        match self {
            Self::Psnr(v) | Self::Accuracy(v) => v,
        }
    }
}

/// One trainable stage: the runner calls these and does everything else.
pub(crate) trait StageLoop {
    /// Which stage this is (its name in `metrics.jsonl`).
    fn stage(&self) -> Stage;
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

/// A run directory being trained.
pub(crate) struct Runner<'a> {
    run: RunDir,
    metrics: MetricsLog,
    until: Option<u64>,
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
        let run = RunDir::new(run);
        run.claim(resume)?;
        let resumed = if run.has_checkpoint() {
            let ckpt = checkpoint::resolve(run.root())?;
            if !cfg.continues(&checkpoint::load_config(&ckpt)?) {
                return Err(AgentError::Checkpoint { path: ckpt, message: "was trained with a different config; resume with the same --config (only fine-tuning's steps and online rounds may grow)".into() });
            }
            let state = checkpoint::load_state(&ckpt)?;
            if canonical(&state.data) != canonical(data) {
                let list = |d: &[PathBuf]| d.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
                return Err(AgentError::Checkpoint { path: ckpt, message: format!("was trained on --data {}, not {}; resume with the same --data", list(&state.data), list(data)) });
            }
            crate::actions::check(&state.actions, &format!("the run in {}", run.root().display()), actions, "its data")?;
            Some((ckpt, state))
        } else {
            None
        };
        let config = run.file(RunDir::CONFIG);
        crate::atomic::write_atomic(&config, checkpoint::to_json(cfg)?.as_bytes()).map_err(|e| AgentError::io(&config, e))?;
        run.keep_metrics_up_to(resumed.as_ref().map_or(0, |(_, s)| s.step))?;
        let metrics = run.open_metrics()?;
        Ok((Self { run, metrics, until, obs, last_val: None }, resumed))
    }

    /// Whether `--until` asks to stop at `step` (or already did before it).
    pub fn stops_at(&self, step: u64) -> bool {
        self.until.is_some_and(|u| step >= u)
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
            let rate = out.items as f64 / seconds;
            self.metrics.append(&MetricsRow::Step(StepRow {
                stage: stage.stage(),
                step: state.step,
                loss: out.loss,
                lr: out.lr,
                grad_norm: out.grad_norm,
                step_ms: seconds * 1e3,
                accuracy: out.accuracy,
                frames_per_s: (stage.stage() == Stage::Tokenizer).then_some(rate),
                tokens_per_s: (stage.stage() == Stage::Dynamics).then_some(rate),
            }))?;
            let r = StepRecord { stage: stage.stage(), step: state.step, stage_step: s + 1, stage_steps: total, loss: out.loss, lr: out.lr, grad_norm: out.grad_norm, seconds, items: out.items };
            self.obs.on_step(&r);
            let last = s + 1 == total;
            if (s + 1) % cadence.eval_every.max(1) == 0 || last {
                let v = stage.validate()?;
                let (val_psnr, val_accuracy) = match v.metric {
                    Metric::Psnr(p) => (Some(p), None),
                    Metric::Accuracy(a) => (None, Some(a)),
                };
                self.metrics.append(&MetricsRow::Validation(ValidationRow { stage: stage.stage(), step: state.step, val_loss: v.loss, val_psnr, val_accuracy }))?;
                self.obs.on_eval(&EvalRecord { stage: stage.stage(), step: state.step, val_loss: v.loss, val_metric: v.metric.value() });
                self.last_val = Some((state.step, v.loss));
                plot_losses(self.run.root())?;
            }
            let stop = self.stops_at(state.step);
            if (s + 1) % cadence.checkpoint_every.max(1) == 0 || last || stop {
                let dir = stage.save(self.run.root(), state, last)?;
                self.retain(stage.stage(), &dir, state.step)?;
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
    fn retain(&mut self, stage: Stage, dir: &Path, step: u64) -> Result<(), AgentError> {
        let root = self.run.checkpoints();
        let mut best = BestCheckpoints::load(&self.run);
        let label = stage.name();
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some((at, loss)) = self.last_val
            && at == step
            && best.stages.get(label).is_none_or(|(b, _)| loss < *b)
        {
            best.stages.insert(label.to_string(), (loss, name.clone()));
            best.save(&self.run)?;
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
