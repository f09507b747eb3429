//! Pretraining (stage one): the frame tokenizer first, then the dynamics transformer on the
//! frozen tokenizer's codes, each with AdamW, warm-up and cosine decay, gradient clipping, a
//! validation split by episode, `metrics.jsonl`, SVG loss curves and resumable checkpoints.
//!
//! Sequential rather than joint: the dynamics model then learns over a fixed vocabulary, and the
//! tokenizer's quality (the ceiling of every prediction) is measured on its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::AgentError;
use crate::checkpoint::{self, Stage, TrainState};
use crate::codes::Codes;
use crate::config::Config;
use crate::dataset::{Dataset, Split, WindowBatch, WindowSampler};
use crate::replay::ReplayBuffer;
use crate::metrics::{mean, mse, psnr_of_mse};
use crate::model::{Dynamics, SeededInit, Tokenizer, frozen, interleave};
use crate::optim::{AdamW, learning_rate};
use crate::plot::{Series, line_chart};

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
    /// Tokens (dynamics) or frames (tokenizer) in the batch.
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
    /// Tokenizer: reconstruction PSNR; dynamics: next-token accuracy.
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

/// Where training windows come from.
pub enum Source<'a> {
    /// Recorded datasets, split by episode into training and validation.
    Recorded(&'a [Dataset]),
    /// A replay buffer that live env workers fill while training runs.
    Live(&'a ReplayBuffer),
}

/// A stream of batches of one window length.
enum Feed<'a> {
    Recorded { sampler: WindowSampler, sets: Vec<&'a Dataset> },
    Live { buffer: &'a ReplayBuffer, rng: Box<ChaCha8Rng>, len: usize, batch: usize, val: bool },
}

impl Feed<'_> {
    fn next(&mut self, device: &Device) -> Result<WindowBatch, AgentError> {
        match self {
            Feed::Recorded { sampler, sets } => Ok(sampler.next_batch(sets, device)?),
            Feed::Live { buffer, rng, len, batch, val } => buffer.sample(rng, *len, *batch, *val, device),
        }
    }

    fn position(&self) -> (u64, usize) {
        match self {
            Feed::Recorded { sampler, .. } => sampler.position(),
            Feed::Live { .. } => (0, 0),
        }
    }
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// Pretrain on `source` into the run directory `run`; with `resume`, continue from its latest
/// checkpoint; with `until`, stop (with a checkpoint) after that global step. Returns the state
/// reached. From recorded datasets on CPU the run is deterministic, resumed or not; a live
/// source depends on how fast the env workers fill the buffer.
pub fn pretrain(
    cfg: &Config,
    source: Source<'_>,
    run: &Path,
    resume: bool,
    until: Option<u64>,
    device: &Device,
    obs: &mut dyn Observer,
) -> Result<TrainState, AgentError> {
    let io = |p: &Path, e: std::io::Error| AgentError::Io { path: p.to_path_buf(), source: e };
    let data: &[Dataset] = match source {
        Source::Recorded([]) => return Err(AgentError::Config("pretraining needs at least one dataset".into())),
        Source::Recorded(d) => d,
        Source::Live(_) => &[],
    };
    std::fs::create_dir_all(run).map_err(|e| io(run, e))?;
    let has_run = run.join("checkpoints").join("latest").exists();
    if has_run && !resume {
        return Err(AgentError::Config(format!("{} already holds a run; pass --resume to continue it or choose another --out", run.display())));
    }
    let tr = &cfg.train;
    let splits: Vec<Split> = data.iter().map(|d| d.split(tr.val_fraction, tr.seed)).collect();
    let tok_map = VarMap::new();
    let dyn_map = VarMap::new();
    let tokenizer = Tokenizer::new(cfg, SeededInit::new(tok_map.clone(), tr.seed).builder(device))?;
    let dynamics = Dynamics::new(cfg, SeededInit::new(dyn_map.clone(), tr.seed.wrapping_add(1)).builder(device))?;
    let mut state = TrainState { stage: Stage::Tokenizer, step: 0, sampler: (0, 0), seed: tr.seed, data: data.iter().map(|d| d.dir().to_path_buf()).collect() };
    let mut moments = Default::default();
    if resume && has_run {
        let ckpt = checkpoint::resolve(run)?;
        let saved = checkpoint::load_config(&ckpt)?;
        if &saved != cfg {
            return Err(AgentError::Checkpoint { path: ckpt, message: "was trained with a different config; resume with the same --config".into() });
        }
        checkpoint::load_into(&tok_map, &ckpt, "tokenizer")?;
        checkpoint::load_into(&dyn_map, &ckpt, "dynamics")?;
        moments = checkpoint::load_tensors(&ckpt, "optimizer")?;
        state = checkpoint::load_state(&ckpt)?;
        tracing::info!(checkpoint = %ckpt.display(), step = state.step, "resuming");
    }
    crate::atomic::write_atomic(&run.join("config.json"), checkpoint::to_json(cfg)?.as_bytes()).map_err(|e| io(run, e))?;
    let split_doc = json!({ "seed": tr.seed, "val_fraction": tr.val_fraction,
        "datasets": data.iter().zip(&splits).map(|(d, s)| json!({"dir": d.dir(), "train": s.train.len(), "val": s.val})).collect::<Vec<_>>() });
    crate::atomic::write_atomic(&run.join("split.json"), split_doc.to_string().as_bytes()).map_err(|e| io(run, e))?;
    let metrics_path = run.join("metrics.jsonl");
    keep_metrics_up_to(&metrics_path, state.step)?;
    let mut metrics = std::fs::OpenOptions::new().create(true).append(true).open(&metrics_path).map_err(|e| io(&metrics_path, e))?;
    let mut log = |v: serde_json::Value| writeln!(metrics, "{v}").map_err(|e| io(&metrics_path, e));

    let sets: Vec<&Dataset> = data.iter().collect();
    let train: Vec<(&Dataset, &[usize])> = data.iter().zip(&splits).map(|(d, s)| (d, s.train.as_slice())).collect();
    let val: Vec<(&Dataset, &[usize])> = data.iter().zip(&splits).map(|(d, s)| (d, s.val.as_slice())).collect();
    let val = if val.iter().all(|v| v.1.is_empty()) { train.clone() } else { val };
    let (h, w) = match source {
        Source::Recorded(d) => d[0].frame_size(),
        Source::Live(b) => b.frame_size(),
    };
    // A feed of `len`-frame windows, `batch` at a time, for training or validation.
    let feed = |len: usize, batch: usize, seed: u64, val_set: bool| -> Result<Feed<'_>, AgentError> {
        Ok(match source {
            Source::Recorded(_) => {
                let from = if val_set { &val } else { &train };
                Feed::Recorded { sampler: WindowSampler::new(from, len, batch, seed)?, sets: sets.clone() }
            }
            Source::Live(buffer) => Feed::Live { buffer, rng: Box::new(ChaCha8Rng::seed_from_u64(seed)), len, batch, val: val_set },
        })
    };
    let tok_steps = tr.tokenizer_steps;

    if state.stage == Stage::Tokenizer {
        let mut opt = AdamW::new(&tok_map, tr.weight_decay)?;
        if state.step > 0 {
            opt.load_state(&moments, state.step).map_err(|m| AgentError::Checkpoint { path: run.to_path_buf(), message: m })?;
        }
        let mut sampler = feed(1, tr.tokenizer_batch, tr.seed ^ 0x70C0, false)?;
        if let Feed::Recorded { sampler, .. } = &mut sampler {
            sampler.seek(state.sampler.0, state.sampler.1);
        }
        obs.on_stage(Stage::Tokenizer, state.step, tok_steps);
        for s in state.step..tok_steps {
            let t0 = Instant::now();
            let batch = sampler.next(device)?;
            let b = batch.episodes.len();
            let frames = batch.frames.reshape((b, h, w, 3))?;
            let loss = tokenizer.loss(&frames)?;
            let grads = loss.backward()?;
            let lr = learning_rate(s, tok_steps, tr.warmup_steps, tr.tokenizer_lr, tr.min_lr_fraction);
            let grad_norm = opt.step(&grads, lr, tr.grad_clip)?;
            let loss = f64::from(loss.to_scalar::<f32>()?);
            let seconds = t0.elapsed().as_secs_f64();
            state.step = s + 1;
            state.sampler = sampler.position();
            let r = StepRecord { stage: Stage::Tokenizer, step: s + 1, stage_step: s + 1, stage_steps: tok_steps, loss, lr, grad_norm, seconds, items: b };
            log(json!({"stage": "tokenizer", "step": r.step, "loss": loss, "lr": lr, "grad_norm": grad_norm, "step_ms": seconds * 1e3, "frames_per_s": b as f64 / seconds}))?;
            obs.on_step(&r);
            let last = s + 1 == tok_steps;
            if (s + 1) % tr.eval_every == 0 || last {
                let frozen_tok = Tokenizer::new(cfg, frozen(&tok_map, device))?;
                let mut vs = feed(1, tr.tokenizer_batch, tr.seed ^ 0x7A1, true)?;
                let (val_loss, val_psnr) = validate_tokenizer(&frozen_tok, &mut vs, tr.eval_batches, h, w, device)?;
                log(json!({"stage": "tokenizer", "step": s + 1, "val_loss": val_loss, "val_psnr": val_psnr}))?;
                obs.on_eval(&EvalRecord { stage: Stage::Tokenizer, step: s + 1, val_loss, val_metric: val_psnr });
                plot_losses(run)?;
            }
            let stop = until == Some(state.step);
            if (s + 1) % tr.checkpoint_every == 0 || last || stop {
                let saved_moments = if last {
                    state.stage = Stage::Dynamics;
                    state.sampler = (0, 0);
                    Default::default()
                } else {
                    opt.state()
                };
                let dir = checkpoint::save(run, cfg, &[("tokenizer", &tok_map), ("dynamics", &dyn_map)], &saved_moments, &state, &[])?;
                obs.on_checkpoint(&dir);
            }
            if stop {
                return Ok(state);
            }
        }
        if tok_steps == 0 {
            state.stage = Stage::Dynamics;
            state.sampler = (0, 0);
        }
    }

    if state.stage == Stage::Dynamics {
        let tok = Tokenizer::new(cfg, frozen(&tok_map, device))?;
        let dyn_steps = tr.dynamics_steps;
        let done = state.step - tok_steps;
        let mut opt = AdamW::new(&dyn_map, tr.weight_decay)?;
        if done > 0 {
            opt.load_state(&moments, done).map_err(|m| AgentError::Checkpoint { path: run.to_path_buf(), message: m })?;
        }
        let t = cfg.dynamics.frames;
        // Recorded frames are encoded once, up front; live ones as they are sampled.
        let codes = match source {
            Source::Recorded(d) => {
                let (train_eps, val_eps): (Vec<Vec<usize>>, Vec<Vec<usize>>) = splits.iter().map(|s| (s.train.clone(), s.val.clone())).unzip();
                tracing::info!(episodes = train_eps.iter().chain(&val_eps).map(Vec::len).sum::<usize>(), "encoding the datasets' frames once");
                Some(Codes::encode(d, &[&train_eps, &val_eps], &tok, cfg.tokens_per_frame(), device)?)
            }
            Source::Live(_) => None,
        };
        let codes = codes.as_ref();
        let mut sampler = feed(t, tr.dynamics_batch, tr.seed ^ 0xD1A0, false)?;
        if let Feed::Recorded { sampler, .. } = &mut sampler {
            sampler.seek(state.sampler.0, state.sampler.1);
        }
        obs.on_stage(Stage::Dynamics, done, dyn_steps);
        for s in done..dyn_steps {
            let t0 = Instant::now();
            let tokens = window_tokens(cfg, &tok, codes, &mut sampler, h, w, device)?;
            let (loss, _) = dynamics.loss(&tokens)?;
            let grads = loss.backward()?;
            let lr = learning_rate(s, dyn_steps, tr.warmup_steps, tr.dynamics_lr, tr.min_lr_fraction);
            let grad_norm = opt.step(&grads, lr, tr.grad_clip)?;
            let loss = f64::from(loss.to_scalar::<f32>()?);
            let seconds = t0.elapsed().as_secs_f64();
            state.step = tok_steps + s + 1;
            state.sampler = sampler.position();
            let items = tokens.elem_count();
            let r = StepRecord { stage: Stage::Dynamics, step: state.step, stage_step: s + 1, stage_steps: dyn_steps, loss, lr, grad_norm, seconds, items };
            log(json!({"stage": "dynamics", "step": r.step, "loss": loss, "lr": lr, "grad_norm": grad_norm, "step_ms": seconds * 1e3, "tokens_per_s": items as f64 / seconds}))?;
            obs.on_step(&r);
            let last = s + 1 == dyn_steps;
            if (s + 1) % tr.eval_every == 0 || last {
                let frozen_dyn = Dynamics::new(cfg, frozen(&dyn_map, device))?;
                let mut vs = feed(t, tr.dynamics_batch, tr.seed ^ 0x7A1, true)?;
                let (mut losses, mut accs) = (Vec::new(), Vec::new());
                for _ in 0..tr.eval_batches {
                    let tokens = window_tokens(cfg, &tok, codes, &mut vs, h, w, device)?;
                    let (l, a) = frozen_dyn.loss(&tokens)?;
                    losses.push(f64::from(l.to_scalar::<f32>()?));
                    accs.push(a);
                }
                let (val_loss, val_acc) = (mean(&losses), mean(&accs));
                log(json!({"stage": "dynamics", "step": state.step, "val_loss": val_loss, "val_accuracy": val_acc}))?;
                obs.on_eval(&EvalRecord { stage: Stage::Dynamics, step: state.step, val_loss, val_metric: val_acc });
                plot_losses(run)?;
            }
            let stop = until == Some(state.step);
            if (s + 1) % tr.checkpoint_every == 0 || last || stop {
                if last {
                    state.stage = Stage::Done;
                }
                let dir = checkpoint::save(run, cfg, &[("tokenizer", &tok_map), ("dynamics", &dyn_map)], &opt.state(), &state, &[])?;
                obs.on_checkpoint(&dir);
            }
            if stop {
                return Ok(state);
            }
        }
        if dyn_steps == 0 {
            state.stage = Stage::Done;
        }
    }
    Ok(state)
}

/// Tokens of the sampler's next batch of windows: frame codes (from `codes` when the frames
/// were encoded up front, else through the frozen tokenizer) interleaved with the actions.
fn window_tokens(cfg: &Config, tok: &Tokenizer, codes: Option<&Codes>, feed: &mut Feed<'_>, h: usize, w: usize, device: &Device) -> Result<Tensor, AgentError> {
    let batch = feed.next(device)?;
    let (b, t) = batch.actions.dims2()?;
    let codes = match codes {
        Some(c) => c.windows(&batch)?,
        None => {
            let codes = tok.encode(&batch.frames.reshape((b * t, h, w, 3))?)?;
            let p = codes.dims()[1];
            codes.reshape((b, t, p))?.to_device(&Device::Cpu)?
        }
    };
    Ok(interleave(cfg, &codes, &batch.actions.to_device(&Device::Cpu)?)?.to_device(device)?)
}

/// Validation loss and reconstruction PSNR of the tokenizer on fixed validation frames.
fn validate_tokenizer(tok: &Tokenizer, vs: &mut Feed<'_>, batches: usize, h: usize, w: usize, device: &Device) -> Result<(f64, f64), AgentError> {
    let (mut losses, mut errors) = (Vec::new(), Vec::new());
    for _ in 0..batches {
        let batch = vs.next(device)?;
        let b = batch.episodes.len();
        let frames = batch.frames.reshape((b, h, w, 3))?;
        losses.push(f64::from(tok.loss(&frames)?.to_scalar::<f32>()?));
        let truth = (frames.to_dtype(DType::F32)? / 255.0)?;
        errors.extend(mse(&tok.reconstruct(&frames)?.clamp(0.0, 1.0)?, &truth)?);
    }
    Ok((mean(&losses), psnr_of_mse(mean(&errors))))
}

/// Drop `metrics.jsonl` lines past `step`, left by a run that stopped after its last checkpoint.
pub(crate) fn keep_metrics_up_to(path: &Path, step: u64) -> Result<(), AgentError> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).ok().and_then(|v| v["step"].as_u64()).is_some_and(|s| s <= step))
        .collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    crate::atomic::write_atomic(path, out.as_bytes()).map_err(|e| AgentError::Io { path: path.to_path_buf(), source: e })
}

/// Redraw the loss curve of each stage `metrics.jsonl` holds: `tokenizer_loss.svg`,
/// `dynamics_loss.svg` (pretraining), `finetune_loss.svg` (fine-tuning).
pub fn plot_losses(run: &Path) -> Result<(), AgentError> {
    let path: PathBuf = run.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| AgentError::Io { path: path.clone(), source: e })?;
    let rows: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let stages = [
        ("tokenizer", "tokenizer_loss.svg", "Tokenizer: reconstruction MSE", "validation"),
        ("dynamics", "dynamics_loss.svg", "Dynamics: next-token cross-entropy", "validation"),
        ("finetune", "finetune_loss.svg", "Fine-tuning: action and answer cross-entropy", "validation (actions and answers only)"),
    ];
    for (stage, file, title, val_label) in stages {
        let pick = |key: &str| -> Vec<(f64, f64)> {
            rows.iter()
                .filter(|r| r["stage"] == stage)
                .filter_map(|r| Some((r["step"].as_f64()?, r[key].as_f64()?)))
                .collect()
        };
        let train = pick("loss");
        if train.is_empty() {
            continue;
        }
        let series = vec![
            Series { label: "train".into(), points: smooth(&train, 20), dashed: false, color: None },
            Series { label: val_label.into(), points: pick("val_loss"), dashed: true, color: None },
        ];
        line_chart(&run.join(file), title, "step", "loss", &series, true)?;
    }
    Ok(())
}

/// Trailing mean over `k` points, to read a noisy loss curve.
fn smooth(points: &[(f64, f64)], k: usize) -> Vec<(f64, f64)> {
    (0..points.len())
        .map(|i| {
            let lo = i.saturating_sub(k - 1);
            let ys: Vec<f64> = points[lo..=i].iter().map(|p| p.1).collect();
            (points[i].0, mean(&ys))
        })
        .collect()
}
