//! Pretraining (stage one): the frame tokenizer first, then the dynamics transformer on the
//! frozen tokenizer's codes, each with AdamW, warm-up and cosine decay and gradient clipping,
//! through the shared [`Runner`] (validation split by episode, `metrics.jsonl`, SVG loss curves,
//! resumable checkpoints).
//!
//! Sequential rather than joint: the dynamics model then learns over a fixed vocabulary, and the
//! tokenizer's quality (the ceiling of every prediction) is measured on its own.

use std::path::{Path, PathBuf};

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
use crate::metrics::{mean, mse, psnr_of_mse};
use crate::model::{Agent, Dynamics, Tokenizer, frozen, interleave};
use crate::optim::{AdamW, learning_rate};
use crate::play_windows::{Drops, play_windows};
use crate::text::TextVocab;
use crate::replay::ReplayBuffer;
use crate::run_dir::RunDir;
use crate::runner::{Cadence, Metric, Observer, Runner, StageLoop, StepOutcome, Validation};
use crate::weights::Weights;

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

/// Where a stage's batches come from: the datasets' training and validation episodes, or the
/// live replay buffer.
struct Feeds<'a> {
    source: &'a Source<'a>,
    sets: Vec<&'a Dataset>,
    train: Vec<(&'a Dataset, &'a [usize])>,
    val: Vec<(&'a Dataset, &'a [usize])>,
}

impl<'a> Feeds<'a> {
    /// A feed of `len`-frame windows, `batch` at a time, for training or validation.
    fn feed(&self, len: usize, batch: usize, seed: u64, val: bool) -> Result<Feed<'a>, AgentError> {
        Ok(match self.source {
            Source::Recorded(_) => {
                let from = if val { &self.val } else { &self.train };
                Feed::Recorded { sampler: WindowSampler::new(from, len, batch, seed)?, sets: self.sets.clone() }
            }
            Source::Live(buffer) => Feed::Live { buffer, rng: Box::new(ChaCha8Rng::seed_from_u64(seed)), len, batch, val },
        })
    }

    /// A training feed placed where a resumed run's sampler stood.
    fn resumed(&self, len: usize, batch: usize, seed: u64, at: (u64, usize)) -> Result<Feed<'a>, AgentError> {
        let mut feed = self.feed(len, batch, seed, false)?;
        if let Feed::Recorded { sampler, .. } = &mut feed {
            sampler.seek(at.0, at.1);
        }
        Ok(feed)
    }
}

/// What both pretraining stages share: the config, both models' variables and the frame size.
struct Shared<'a> {
    cfg: &'a Config,
    tok_map: &'a VarMap,
    dyn_map: &'a VarMap,
    device: &'a Device,
    h: usize,
    w: usize,
    /// Pretraining in the agent's layout: the vocabulary of the text before the frames, and its
    /// JSON, saved in every checkpoint so that fine-tuning keeps the words' ids.
    text: Option<(TextVocab, String)>,
}

impl Shared<'_> {
    fn save(&self, run: &Path, opt: Option<&AdamW>, state: &TrainState) -> Result<PathBuf, AgentError> {
        let moments = opt.map(AdamW::state).unwrap_or_default();
        let extras: Vec<(&str, &[u8])> = self.text.iter().map(|(_, json)| (RunDir::VOCAB, json.as_bytes())).collect();
        checkpoint::save(run, self.cfg, &[("tokenizer", self.tok_map), ("dynamics", self.dyn_map)], &moments, state, &extras)
    }

    /// The agent's layout over the dynamics variables (without a pixel stem), for pretraining
    /// with a text prefix; `frozen` detaches it from training.
    fn agent(&self, frozen_view: bool) -> Result<Agent, AgentError> {
        let vb = if frozen_view { frozen(self.dyn_map, self.device) } else { candle_nn::VarBuilder::from_varmap(self.dyn_map, DType::F32, self.device) };
        Ok(Agent::without_stem(self.cfg, vb)?)
    }

    /// The next-frame loss and exact fraction of the feed's next batch: in the world model's
    /// layout, or with `agent`, in the agent's (actions dropped from `seed` either way).
    fn frame_loss(&self, tok: &Tokenizer, codes: Option<&Codes>, feed: &mut Feed<'_>, model: &Model, drops: Drops, seed: u64) -> Result<(Tensor, f64, usize), AgentError> {
        let (batch, window_codes) = window_codes(tok, codes, feed, self.h, self.w, self.device)?;
        match (model, &self.text) {
            (Model::Agent(agent), Some((vocab, _))) => {
                let windows = play_windows(&batch, &window_codes, vocab, (self.cfg.train.text_prefix, self.cfg.finetune.text_len), drops, seed, false)?;
                let seqs = agent.play_sequences(&windows)?;
                let (loss, acc) = agent.frame_loss(&seqs)?;
                Ok((loss, acc, seqs.rows * seqs.len))
            }
            (Model::Dynamics(dynamics), _) => {
                let tokens = interleave(self.cfg, &window_codes, &batch.actions.to_device(&Device::Cpu)?)?;
                let tokens = drop_actions(self.cfg, &tokens, drops, seed)?.to_device(self.device)?;
                let (loss, acc) = dynamics.loss(&tokens)?;
                Ok((loss, acc, tokens.elem_count()))
            }
            (Model::Agent(_), None) => Err(AgentError::Config("the agent's layout needs a text vocabulary".into())),
        }
    }
}

/// What the dynamics stage trains through: the world model's layout or the agent's.
enum Model {
    Dynamics(Dynamics),
    Agent(Agent),
}

/// Stage one of pretraining: the frame tokenizer, on single frames.
struct TokenizerStage<'a> {
    shared: &'a Shared<'a>,
    feeds: &'a Feeds<'a>,
    tokenizer: Tokenizer,
    opt: AdamW,
    feed: Feed<'a>,
}

impl StageLoop for TokenizerStage<'_> {
    fn stage(&self) -> Stage {
        Stage::Tokenizer
    }

    fn step(&mut self, s: u64, total: u64) -> Result<StepOutcome, AgentError> {
        let (sh, tr) = (self.shared, &self.shared.cfg.train);
        let batch = self.feed.next(sh.device)?;
        let b = batch.episodes.len();
        let loss = self.tokenizer.loss(&batch.frames.reshape((b, sh.h, sh.w, 3))?)?;
        let lr = learning_rate(s, total, tr.warmup_steps, tr.tokenizer_lr, tr.min_lr_fraction);
        StepOutcome::optimise(&loss, &mut self.opt, lr, tr.grad_clip, b)
    }

    fn validate(&mut self) -> Result<Validation, AgentError> {
        let sh = self.shared;
        let tr = &sh.cfg.train;
        let frozen_tok = Tokenizer::new(sh.cfg, frozen(sh.tok_map, sh.device))?;
        let mut vs = self.feeds.feed(1, tr.tokenizer_batch, tr.seed ^ 0x7A1, true)?;
        let (loss, psnr) = validate_tokenizer(&frozen_tok, &mut vs, tr.eval_batches, sh.h, sh.w, sh.device)?;
        Ok(Validation { loss, metric: Metric::Psnr(psnr) })
    }

    fn sampler(&self) -> (u64, usize) {
        self.feed.position()
    }

    fn save(&mut self, run: &Path, state: &TrainState, finished: bool) -> Result<PathBuf, AgentError> {
        if finished {
            // The next resume starts the dynamics stage afresh, with no tokenizer moments.
            let next = TrainState { stage: Stage::Dynamics, sampler: (0, 0), ..state.clone() };
            return self.shared.save(run, None, &next);
        }
        self.shared.save(run, Some(&self.opt), state)
    }
}

/// Stage two: the dynamics transformer on the frozen tokenizer's codes.
struct DynamicsStage<'a> {
    shared: &'a Shared<'a>,
    feeds: &'a Feeds<'a>,
    tokenizer: Tokenizer,
    model: Model,
    codes: Option<Codes>,
    opt: AdamW,
    feed: Feed<'a>,
}

impl DynamicsStage<'_> {
    /// Frames per window: the world model's context, or in the agent's layout the agent's
    /// context and the frame after it.
    fn window(cfg: &Config) -> usize {
        if cfg.train.text_prefix.is_none() { cfg.dynamics.frames } else { cfg.finetune.frames + 1 }
    }
}

impl StageLoop for DynamicsStage<'_> {
    fn stage(&self) -> Stage {
        Stage::Dynamics
    }

    fn step(&mut self, s: u64, total: u64) -> Result<StepOutcome, AgentError> {
        let (sh, tr) = (self.shared, &self.shared.cfg.train);
        let drops = Drops { rate: tr.action_dropout, window_rate: tr.null_window_rate };
        let (loss, _, tokens) = sh.frame_loss(&self.tokenizer, self.codes.as_ref(), &mut self.feed, &self.model, drops, tr.seed ^ s.wrapping_mul(0x9E37_79B9_7F4A_7C15))?;
        let lr = learning_rate(s, total, tr.warmup_steps, tr.dynamics_lr, tr.min_lr_fraction);
        StepOutcome::optimise(&loss, &mut self.opt, lr, tr.grad_clip, tokens)
    }

    fn validate(&mut self) -> Result<Validation, AgentError> {
        let sh = self.shared;
        let tr = &sh.cfg.train;
        let model = match self.model {
            Model::Dynamics(_) => Model::Dynamics(Dynamics::new(sh.cfg, frozen(sh.dyn_map, sh.device))?),
            Model::Agent(_) => Model::Agent(sh.agent(true)?),
        };
        let mut vs = self.feeds.feed(Self::window(sh.cfg), tr.dynamics_batch, tr.seed ^ 0x7A1, true)?;
        let (mut losses, mut accs) = (Vec::new(), Vec::new());
        // Validation reads every action given, the same windows at every pass.
        let given = Drops { rate: 0.0, window_rate: 0.0 };
        for _ in 0..tr.eval_batches {
            let (l, a, _) = sh.frame_loss(&self.tokenizer, self.codes.as_ref(), &mut vs, &model, given, 0)?;
            losses.push(f64::from(l.to_scalar::<f32>()?));
            accs.push(a);
        }
        Ok(Validation { loss: mean(&losses), metric: Metric::Accuracy(mean(&accs)) })
    }

    fn sampler(&self) -> (u64, usize) {
        self.feed.position()
    }

    fn save(&mut self, run: &Path, state: &TrainState, finished: bool) -> Result<PathBuf, AgentError> {
        let state = if finished { TrainState { stage: Stage::Done, ..state.clone() } } else { state.clone() };
        self.shared.save(run, Some(&self.opt), &state)
    }
}

/// Pretrain on `source` into the run directory `run`; with `resume`, continue from its latest
/// checkpoint; with `until`, stop (with a checkpoint) after that global step, or at once if the
/// run is already there. Returns the state reached. From recorded datasets on CPU the run is
/// deterministic, resumed or not; a live source depends on how fast the env workers fill the
/// buffer.
pub fn pretrain(cfg: &Config, source: Source<'_>, run: &Path, resume: bool, until: Option<u64>, device: &Device, obs: &mut dyn Observer) -> Result<TrainState, AgentError> {
    let data: &[Dataset] = match source {
        Source::Recorded([]) => return Err(AgentError::Config("pretraining needs at least one dataset".into())),
        Source::Recorded(d) => d,
        Source::Live(_) => &[],
    };
    let tr = &cfg.train;
    if !tr.text_prefix.is_none() && data.is_empty() {
        return Err(AgentError::Config("train.text_prefix needs recorded datasets: live pretraining has no missions up front for the vocabulary".into()));
    }
    let data_dirs: Vec<PathBuf> = data.iter().map(|d| d.dir().to_path_buf()).collect();
    let actions = match source {
        Source::Recorded(d) => crate::actions::of_datasets(d, cfg.dynamics.action_tokens)?,
        Source::Live(b) => b.actions().to_vec(),
    };
    let (mut runner, resumed) = Runner::open(run, cfg, &data_dirs, &actions, resume, until, obs)?;
    let splits: Vec<Split> = data.iter().map(|d| d.split(tr.val_fraction, tr.seed)).collect();
    let (weights, tokenizer, dynamics) = Weights::world_model(cfg, tr.seed, resumed.as_ref().map(|(c, _)| c.as_path()), device)?;
    let (tok_map, dyn_map) = (&weights.tokenizer, &weights.dynamics);
    let mut state = TrainState { format: checkpoint::FORMAT, stage: Stage::Tokenizer, step: 0, sampler: (0, 0), seed: tr.seed, data: data_dirs, actions };
    let mut moments = Default::default();
    if let Some((ckpt, saved)) = resumed {
        moments = checkpoint::load_tensors(&ckpt, "optimizer")?;
        state = saved;
        tracing::info!(checkpoint = %ckpt.display(), step = state.step, "resuming");
    }
    let split_doc = json!({ "seed": tr.seed, "val_fraction": tr.val_fraction,
        "datasets": data.iter().zip(&splits).map(|(d, s)| json!({"dir": d.dir(), "train": s.train.len(), "val": s.val})).collect::<Vec<_>>() });
    crate::atomic::write_atomic(&run.join(RunDir::SPLIT), split_doc.to_string().as_bytes()).map_err(|e| AgentError::io(run, e))?;

    let train: Vec<(&Dataset, &[usize])> = data.iter().zip(&splits).map(|(d, s)| (d, s.train.as_slice())).collect();
    let val: Vec<(&Dataset, &[usize])> = data.iter().zip(&splits).map(|(d, s)| (d, s.val.as_slice())).collect();
    let val = if val.iter().all(|v| v.1.is_empty()) { train.clone() } else { val };
    let feeds = Feeds { source: &source, sets: data.iter().collect(), train, val };
    let (h, w) = match source {
        Source::Recorded(d) => d[0].frame_size(),
        Source::Live(b) => b.frame_size(),
    };
    let text = if tr.text_prefix.is_none() {
        None
    } else {
        let captions: Vec<String> = if tr.text_prefix == crate::config::TextPrefix::Caption { caption_texts(data)? } else { Vec::new() };
        let (vocab, _) = crate::finetune::build_vocab(data, &captions)?;
        if vocab.len() > cfg.dynamics.text_tokens {
            return Err(AgentError::Config(format!("the missions use {} words; config `{}` reserves {} text tokens", vocab.len(), cfg.name, cfg.dynamics.text_tokens)));
        }
        let json = serde_json::to_string_pretty(&vocab).map_err(|e| AgentError::Config(e.to_string()))?;
        Some((vocab, json))
    };
    let shared = Shared { cfg, tok_map, dyn_map, device, h, w, text };
    let tok_steps = tr.tokenizer_steps;
    let cadence = Cadence { eval_every: tr.eval_every, checkpoint_every: tr.checkpoint_every };

    if state.stage == Stage::Tokenizer {
        let mut opt = AdamW::new(tok_map, tr.weight_decay)?;
        if state.step > 0 {
            opt.load_state(&moments, state.step).map_err(|m| AgentError::Checkpoint { path: run.to_path_buf(), message: m })?;
        }
        let feed = feeds.resumed(1, tr.tokenizer_batch, tr.seed ^ 0x70C0, state.sampler)?;
        let mut stage = TokenizerStage { shared: &shared, feeds: &feeds, tokenizer, opt, feed };
        if runner.run_stage(&mut stage, &mut state, 0, tok_steps, cadence)? {
            return Ok(state);
        }
        state.stage = Stage::Dynamics;
        state.sampler = (0, 0);
    }

    if state.stage == Stage::Dynamics {
        if runner.stops_at(state.step) {
            return Ok(state);
        }
        let tok = weights.frozen_tokenizer(cfg, device)?;
        let done = state.step - tok_steps;
        let mut opt = AdamW::new(dyn_map, tr.weight_decay)?;
        if done > 0 {
            opt.load_state(&moments, done).map_err(|m| AgentError::Checkpoint { path: run.to_path_buf(), message: m })?;
        }
        // Recorded frames are encoded once, up front; live ones as they are sampled.
        let codes = match source {
            Source::Recorded(d) => {
                let (train_eps, val_eps): (Vec<Vec<usize>>, Vec<Vec<usize>>) = splits.iter().map(|s| (s.train.clone(), s.val.clone())).unzip();
                tracing::info!(episodes = train_eps.iter().chain(&val_eps).map(Vec::len).sum::<usize>(), "encoding the datasets' frames once");
                Some(Codes::encode(d, &[&train_eps, &val_eps], &tok, cfg.tokens_per_frame(), device, None)?)
            }
            Source::Live(_) => None,
        };
        let feed = feeds.resumed(DynamicsStage::window(cfg), tr.dynamics_batch, tr.seed ^ 0xD1A0, state.sampler)?;
        let model = if shared.text.is_some() { Model::Agent(shared.agent(false)?) } else { Model::Dynamics(dynamics) };
        let mut stage = DynamicsStage { shared: &shared, feeds: &feeds, tokenizer: tok, model, codes, opt, feed };
        if runner.run_stage(&mut stage, &mut state, tok_steps, tr.dynamics_steps, cadence)? {
            return Ok(state);
        }
        state.stage = Stage::Done;
    }
    Ok(state)
}

/// Every distinct caption of the datasets' episodes (their words join the vocabulary).
fn caption_texts(data: &[Dataset]) -> Result<Vec<String>, AgentError> {
    let mut texts = std::collections::BTreeSet::new();
    for d in data {
        for i in 0..d.num_episodes() {
            texts.extend(d.episode(i)?.meta.captions.iter().flatten().cloned());
        }
    }
    Ok(texts.into_iter().collect())
}

/// The sampler's next batch of windows and their frame codes `[b, t, p]` (u32, on the CPU):
/// from `codes` when the frames were encoded up front, else through the frozen tokenizer.
fn window_codes(tok: &Tokenizer, codes: Option<&Codes>, feed: &mut Feed<'_>, h: usize, w: usize, device: &Device) -> Result<(WindowBatch, Tensor), AgentError> {
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
    Ok((batch, codes))
}

/// `tokens` (interleaved windows) with their actions dropped to the `null` token by `drops`,
/// drawn from `seed`.
fn drop_actions(cfg: &Config, tokens: &Tensor, drops: Drops, seed: u64) -> Result<Tensor, AgentError> {
    if drops.rate <= 0.0 && drops.window_rate <= 0.0 {
        return Ok(tokens.clone());
    }
    let (b, n) = tokens.dims2()?;
    let block = cfg.tokens_per_frame() + 1;
    let mut ids: Vec<u32> = tokens.flatten_all()?.to_vec1()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let slots: Vec<usize> = (block - 1..n).step_by(block).collect();
    for r in 0..b {
        for (&at, off) in slots.iter().zip(drops.draw(&mut rng, slots.len())) {
            if off {
                ids[r * n + at] = cfg.null_action_token();
            }
        }
    }
    Ok(Tensor::from_vec(ids, (b, n), tokens.device())?)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The share of windows whose actions are all `null` follows `null_window_rate`; slot
    /// dropout alone makes such windows only at `rate` to the power of the actions a window has.
    #[test]
    fn whole_windows_lose_their_actions_at_the_configured_rate() -> Result<(), AgentError> {
        let cfg = Config::tiny();
        let (rows, block) = (4000, cfg.tokens_per_frame() + 1);
        let n = cfg.dynamics.frames * block;
        let ids: Vec<u32> = (0..rows * n).map(|i| if i % n % block == block - 1 { cfg.action_token(1) } else { 3 }).collect();
        let tokens = Tensor::from_vec(ids, (rows, n), &Device::Cpu)?;
        let share_all_null = |rate: f64, window_rate: f64| -> Result<f64, AgentError> {
            let out: Vec<u32> = drop_actions(&cfg, &tokens, Drops { rate, window_rate }, 7)?.flatten_all()?.to_vec1()?;
            let all_null = out.chunks(n).filter(|row| (block - 1..n).step_by(block).all(|at| row[at] == cfg.null_action_token())).count();
            Ok(all_null as f64 / rows as f64)
        };
        assert!((share_all_null(0.0, 0.3)? - 0.3).abs() < 0.03);
        let slots = cfg.dynamics.frames as i32;
        assert!((share_all_null(0.5, 0.0)? - 0.5f64.powi(slots)).abs() < 0.03);
        assert_eq!(share_all_null(0.0, 0.0)?, 0.0);
        // Frame codes are never touched.
        let out: Vec<u32> = drop_actions(&cfg, &tokens, Drops { rate: 0.5, window_rate: 0.5 }, 7)?.flatten_all()?.to_vec1()?;
        assert!(out.iter().enumerate().all(|(i, &t)| i % n % block == block - 1 || t == 3));
        Ok(())
    }
}
