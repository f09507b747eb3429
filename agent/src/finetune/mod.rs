//! Instruction tuning and prompting (stages two and three): the agent learns, by behaviour
//! cloning on expert demonstrations, to emit the expert's next action after an instruction and
//! the frames so far, and the answer word after a question. It starts from a pretraining
//! checkpoint or from scratch with the same architecture, so the two can be compared.
//!
//! The frame tokenizer stays as it starts (pretrained, or random from scratch): the agent reads
//! its discrete codes, through which no gradient flows, and with `finetune.pixel_stem` the
//! frames' pixels through a stem trained here. Every dynamics weight is trained, unless the
//! trunk is frozen.

mod vocab;
mod windows;

use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_nn::VarMap;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use vocab::build_vocab;

use self::windows::{Balance, Batches, Item, items, windows};
use crate::AgentError;
use crate::card::AgentCard;
use crate::checkpoint::{self, Stage, TrainState};
use crate::codes::{CodeCache, Codes};
use crate::config::Config;
use crate::dataset::{Dataset, WindowSampler, shuffle};
use crate::holdout::{Pair, named_pair};
use crate::metrics::mean;
use crate::model::{Agent, frozen};
use crate::optim::{AdamW, learning_rate};
use crate::play_windows::{Drops, play_windows};
use crate::run_dir::RunDir;
use crate::runner::{Cadence, Metric, Observer, Runner, StageLoop, StepOutcome, Validation, canonical};
use crate::text::TextVocab;
use crate::weights::Weights;

/// A fine-tuning request.
#[derive(Clone, Copy)]
pub struct Finetune<'a> {
    /// Demonstrations.
    pub data: &'a [Dataset],
    /// Pretraining checkpoint or run to start from; `None` starts from scratch.
    pub init: Option<&'a Path>,
    /// Pairs to keep out of training.
    pub holdout: &'a [Pair],
    /// Run directory.
    pub run: &'a Path,
    /// Continue the run in `run`.
    pub resume: bool,
    /// Stop (with a checkpoint) after this step.
    pub until: Option<u64>,
    /// Train everything but the transformer blocks.
    pub freeze_trunk: bool,
    /// Texts whose words join the vocabulary besides the data's missions and answers.
    pub vocab_texts: &'a [String],
    /// Split episodes with [`Dataset::stable_split`], for data that grows between runs.
    pub stable_split: bool,
    /// Frame codes kept from an earlier training with the same frozen tokenizer.
    pub codes: Option<&'a CodeCache>,
}

/// The fine-tuning stage the runner drives.
struct FinetuneStage<'a> {
    cfg: &'a Config,
    data: &'a [Dataset],
    agent: Agent,
    opt: AdamW,
    batches: Batches,
    val_items: Vec<Item>,
    codes: Codes,
    vocab: &'a TextVocab,
    tok_map: &'a VarMap,
    dyn_map: &'a VarMap,
    device: &'a Device,
    extras: [(&'static str, String); 2],
    replay: Option<Replay>,
}

/// Co-training's replayed play: windows of the world model's pretraining datasets, laid out as
/// in its pretraining, `per_step` beside each batch of demonstrations.
struct Replay {
    data: Vec<Dataset>,
    codes: Codes,
    sampler: WindowSampler,
    /// What the world model read before the frames.
    text: crate::config::TextPrefix,
    drops: Drops,
}

impl Replay {
    /// Windows to replay beside a batch of `batch` demonstration windows, so that they are
    /// `share` of the two together.
    fn per_step(share: f64, batch: usize) -> usize {
        (batch as f64 * share / (1.0 - share)).round() as usize
    }

    /// The play windows of step `s`.
    fn next(&mut self, vocab: &TextVocab, cfg: &Config, s: u64, pixels: bool, device: &Device) -> Result<Vec<crate::model::PlayWindow>, AgentError> {
        let sets: Vec<&Dataset> = self.data.iter().collect();
        let batch = self.sampler.next_batch(&sets, device)?;
        let codes = self.codes.windows(&batch)?;
        play_windows(&batch, &codes, vocab, (self.text, cfg.finetune.text_len), self.drops, cfg.train.seed ^ 0x5E91 ^ s.wrapping_mul(0x9E37_79B9_7F4A_7C15), pixels)
    }
}

impl StageLoop for FinetuneStage<'_> {
    fn stage(&self) -> Stage {
        Stage::Finetune
    }

    fn step(&mut self, s: u64, total: u64) -> Result<StepOutcome, AgentError> {
        let (tr, ft) = (&self.cfg.train, &self.cfg.finetune);
        let batch = self.batches.next(ft.batch);
        let seqs = self.agent.sequences(&windows(self.data, &batch, &self.codes, self.vocab, ft.text_len, ft.pixel_stem)?)?;
        let (mut loss, acc) = self.agent.loss(&seqs, ft.frame_loss_weight)?;
        let mut items = seqs.rows * seqs.len;
        if let Some(replay) = &mut self.replay {
            let played = self.agent.play_sequences(&replay.next(self.vocab, self.cfg, s, ft.pixel_stem, self.device)?)?;
            loss = (loss + (self.agent.frame_loss(&played)?.0 * ft.replay_weight)?)?;
            items += played.rows * played.len;
        }
        let lr = learning_rate(s, total, ft.warmup_steps, ft.lr, tr.min_lr_fraction);
        let out = StepOutcome::optimise(&loss, &mut self.opt, lr, tr.grad_clip, items)?;
        Ok(StepOutcome { accuracy: Some(acc), ..out })
    }

    fn validate(&mut self) -> Result<Validation, AgentError> {
        let ft = &self.cfg.finetune;
        let frozen_agent = Agent::new(self.cfg, frozen(self.dyn_map, self.device))?;
        let (mut losses, mut accs) = (Vec::new(), Vec::new());
        for chunk in self.val_items.chunks(ft.batch) {
            let seqs = frozen_agent.sequences(&windows(self.data, chunk, &self.codes, self.vocab, ft.text_len, ft.pixel_stem)?)?;
            let (l, a) = frozen_agent.loss(&seqs, 0.0)?;
            losses.push(f64::from(l.to_scalar::<f32>()?));
            accs.push(a);
        }
        Ok(Validation { loss: mean(&losses), metric: Metric::Accuracy(mean(&accs)) })
    }

    fn sampler(&self) -> (u64, usize) {
        self.batches.position()
    }

    fn save(&mut self, run: &Path, state: &TrainState, finished: bool) -> Result<PathBuf, AgentError> {
        let state = if finished { TrainState { stage: Stage::Done, ..state.clone() } } else { state.clone() };
        let extras: Vec<(&str, &[u8])> = self.extras.iter().map(|(n, t)| (*n, t.as_bytes())).collect();
        checkpoint::save(run, self.cfg, &[("tokenizer", self.tok_map), ("dynamics", self.dyn_map)], &self.opt.state(), &state, &extras)
    }
}

/// Episodes per dataset after the split by episode and the holdout.
struct Episodes {
    train: Vec<Vec<usize>>,
    val: Vec<Vec<usize>>,
    /// Episodes dropped because their missions name a held-out pair.
    dropped: usize,
}

/// Training and validation episodes per dataset after the split, less those whose missions name
/// a held-out pair.
fn split_episodes(data: &[Dataset], cfg: &Config, holdout: &[Pair], stable: bool) -> Result<Episodes, AgentError> {
    let (mut train_eps, mut val_eps, mut dropped) = (Vec::new(), Vec::new(), 0);
    for d in data {
        let split = if stable { d.stable_split(cfg.train.val_fraction, cfg.train.seed) } else { d.split(cfg.train.val_fraction, cfg.train.seed) };
        let mut keep = |eps: &[usize]| -> Result<Vec<usize>, AgentError> {
            let mut kept = Vec::new();
            for &e in eps {
                if named_pair(holdout, &d.episode(e)?.meta.mission).is_some() {
                    dropped += 1;
                } else {
                    kept.push(e);
                }
            }
            Ok(kept)
        };
        train_eps.push(keep(&split.train)?);
        val_eps.push(keep(&split.val)?);
    }
    Ok(Episodes { train: train_eps, val: val_eps, dropped })
}

/// Fine-tune; returns the state reached. Deterministic on CPU, resumed or not.
pub fn finetune(cfg: &Config, job: &Finetune<'_>, device: &Device, obs: &mut dyn Observer) -> Result<TrainState, AgentError> {
    let (data, run) = (job.data, job.run);
    if data.is_empty() {
        return Err(AgentError::Config("fine-tuning needs at least one demonstration dataset".into()));
    }
    let (tr, ft) = (&cfg.train, &cfg.finetune);
    let (vocab, answers) = build_vocab(data, job.vocab_texts)?;
    let words = |d: &Dataset, i: usize| d.episode(i).ok().map(|e| vocab.encode(&e.meta.mission).0.len());
    let longest = data.iter().flat_map(|d| (0..d.num_episodes()).filter_map(|i| words(d, i))).max().unwrap_or(0);
    if longest > ft.text_len {
        tracing::warn!(longest, text_len = ft.text_len, "some missions are longer than the model reads; they keep their last words");
    }

    // Absolute, so that `eval` finds them to check its seeds from any working directory.
    let data_dirs = canonical(&data.iter().map(|d| d.dir().to_path_buf()).collect::<Vec<_>>());
    let actions = crate::actions::of_datasets(data, cfg.dynamics.action_tokens)?;
    let (mut runner, resumed) = Runner::open(run, cfg, &data_dirs, &actions, job.resume, job.until, obs)?;
    let Episodes { train: train_eps, val: val_eps, dropped } = split_episodes(data, cfg, job.holdout, job.stable_split)?;
    let t = cfg.finetune.frames;
    let train_items = items(data, &train_eps, t)?;
    let mut val_items = items(data, &val_eps, t)?;
    if train_items.is_empty() {
        return Err(AgentError::Config("no training windows are left after the validation split and the holdout".into()));
    }
    if val_items.is_empty() {
        tracing::warn!("no validation episodes (too few to split): validation reports the training windows");
        val_items = train_items.clone();
    }
    shuffle(&mut val_items, &mut ChaCha8Rng::seed_from_u64(tr.seed ^ 0x7A1));
    val_items.truncate(ft.eval_batches * ft.batch);

    let init = match job.init {
        Some(init) => {
            let ckpt = checkpoint::resolve(init)?;
            let saved = checkpoint::load_config(&ckpt)?;
            let pretrained = checkpoint::load_state(&ckpt)?;
            crate::actions::check(&pretrained.actions, &format!("--init {}", ckpt.display()), &actions, "the demonstrations")?;
            if (saved.image_size, &saved.tokenizer, &saved.dynamics) != (cfg.image_size, &cfg.tokenizer, &cfg.dynamics) {
                return Err(AgentError::Checkpoint { path: ckpt, message: format!("has another architecture than config `{}` (its dynamics.action_tokens is {}, the config's {}); fine-tune with the config it was pretrained with", cfg.name, saved.dynamics.action_tokens, cfg.dynamics.action_tokens) });
            }
            Some(ckpt)
        }
        None => None,
    };
    // A world model pretrained with text keeps its words' ids; the demonstrations' new words
    // come after them.
    let pretrained_vocab = init.as_ref().map(|c| c.join(RunDir::VOCAB)).filter(|p| p.is_file());
    let vocab = match pretrained_vocab {
        Some(path) => TextVocab::load(&path)?.extended(&vocab),
        None => vocab,
    };
    if vocab.len() > cfg.dynamics.text_tokens {
        return Err(AgentError::Config(format!("the missions use {} words; config `{}` reserves {} text tokens", vocab.len(), cfg.name, cfg.dynamics.text_tokens)));
    }
    let (weights, _, mut agent) = Weights::agent(cfg, tr.seed, init.as_deref(), device)?;
    let (tok_map, dyn_map) = (&weights.tokenizer, &weights.dynamics);
    if job.freeze_trunk {
        agent.freeze_blocks(cfg, dyn_map)?;
    }
    let mut state = TrainState { format: checkpoint::FORMAT, stage: Stage::Finetune, step: 0, sampler: (0, 0), seed: tr.seed, data: data_dirs.clone(), actions };
    let trained = if job.freeze_trunk {
        // The same variables (shared storage), without the blocks: the optimiser sees only these.
        let subset = VarMap::new();
        {
            let all = dyn_map.data().lock().unwrap_or_else(|p| p.into_inner());
            let mut sub = subset.data().lock().unwrap_or_else(|p| p.into_inner());
            for (name, var) in all.iter().filter(|(n, _)| !n.starts_with("blocks.")) {
                sub.insert(name.clone(), var.clone());
            }
        }
        subset
    } else {
        dyn_map.clone()
    };
    let mut opt = AdamW::new(&trained, tr.weight_decay)?;
    // The agent's own parts (the instruction and answer positions, the pixel stem) at the full
    // rate; everything the world model has, at the trunk's.
    let own = |name: &str| name.starts_with("text_pos") || name.starts_with("stem.");
    opt.scale_rates(|name| if own(name) { 1.0 } else { ft.trunk_lr_scale });
    opt.hold_until(|name| !own(name), ft.probe_steps);
    if let Some((ckpt, saved)) = resumed {
        let saved_card = AgentCard::load(&ckpt)
            .map_err(|_| AgentError::Checkpoint { path: ckpt.clone(), message: "has no agent.json: it is not a fine-tuning run, so it cannot be resumed by `finetune`".into() })?;
        let mismatch = if saved_card.frozen_trunk != job.freeze_trunk {
            Some("--freeze-trunk")
        } else if saved_card.init != job.init.map(Path::to_path_buf) {
            Some("--init")
        } else if saved_card.holdout != job.holdout {
            Some("--holdout-pairs")
        } else {
            None
        };
        if let Some(flag) = mismatch {
            return Err(AgentError::Checkpoint { path: ckpt, message: format!("was trained with another {flag}; resume with the same one") });
        }
        weights.load(&ckpt)?;
        state = saved;
        if state.stage == Stage::Done && state.step < ft.steps {
            // Extended with more steps: the learning rate follows the new total's schedule from
            // here, so it rises again where the finished run had decayed it.
            state.stage = Stage::Finetune;
        }
        if state.step > 0 && state.stage == Stage::Finetune {
            let moments = checkpoint::load_tensors(&ckpt, "optimizer")?;
            opt.load_state(&moments, state.step).map_err(|m| AgentError::Checkpoint { path: ckpt.clone(), message: m })?;
        }
        tracing::info!(checkpoint = %ckpt.display(), step = state.step, "resuming");
    }
    if state.stage == Stage::Done || runner.stops_at(state.step) {
        return Ok(state);
    }
    let tok = weights.frozen_tokenizer(cfg, device)?;
    let codes = Codes::encode(data, &[&train_eps, &val_eps], &tok, cfg.tokens_per_frame(), device, job.codes)?;
    let replay = match init.as_deref() {
        _ if ft.replay_share <= 0.0 => None,
        None => return Err(AgentError::Config("finetune.replay_share replays the world model's pretraining data: it needs a pretrained start (--init)".into())),
        Some(ckpt) => Some(open_replay(cfg, ckpt, &tok, state.step, device, job.codes)?),
    };

    let card = AgentCard {
        init: job.init.map(Path::to_path_buf),
        holdout: job.holdout.to_vec(),
        answers,
        data: state.data.clone(),
        train_episodes: train_eps.iter().map(Vec::len).sum(),
        val_episodes: val_eps.iter().map(Vec::len).sum(),
        holdout_episodes: dropped,
        frozen_trunk: job.freeze_trunk,
        renderer: crate::card::common_renderer(data.iter().map(|d| d.info().recording.renderer.as_str())),
    };
    let card_json = checkpoint::to_json(&card)?;
    let vocab_json = serde_json::to_string_pretty(&vocab).map_err(|e| AgentError::Config(e.to_string()))?;
    for (file, text) in [(RunDir::CARD, &card_json), (RunDir::VOCAB, &vocab_json)] {
        crate::atomic::write_atomic(&run.join(file), text.as_bytes()).map_err(|e| AgentError::io(run, e))?;
    }
    let balance = Balance { episodes: ft.episode_balanced, scenarios: ft.scenario_balanced };
    let batches = Batches::new(train_items, balance, tr.seed, state.sampler);
    let mut stage = FinetuneStage {
        cfg,
        data,
        agent,
        opt,
        batches,
        val_items,
        codes,
        vocab: &vocab,
        tok_map,
        dyn_map,
        device,
        extras: [(RunDir::VOCAB, vocab_json), (RunDir::CARD, card_json)],
        replay,
    };
    let cadence = Cadence { eval_every: ft.eval_every, checkpoint_every: ft.checkpoint_every };
    if !runner.run_stage(&mut stage, &mut state, 0, ft.steps, cadence)? {
        state.stage = Stage::Done;
    }
    Ok(state)
}

/// Co-training's replay of the pretraining datasets of checkpoint `ckpt`, placed where step
/// `step` finds it: the same windows whatever the resumes.
fn open_replay(cfg: &Config, ckpt: &Path, tok: &crate::model::Tokenizer, step: u64, device: &Device, cache: Option<&CodeCache>) -> Result<Replay, AgentError> {
    let (pretrained, saved) = (checkpoint::load_state(ckpt)?, checkpoint::load_config(ckpt)?);
    let mut data = Vec::with_capacity(pretrained.data.len());
    for dir in &pretrained.data {
        data.push(Dataset::open(dir).map_err(|e| AgentError::Config(format!("finetune.replay_share replays the world model's pretraining data, and {} does not open: {e}", dir.display())))?);
    }
    let episodes: Vec<Vec<usize>> = data.iter().map(|d| (0..d.num_episodes()).collect()).collect();
    let codes = Codes::encode(&data, &[&episodes], tok, cfg.tokens_per_frame(), device, cache)?;
    let per_step = Replay::per_step(cfg.finetune.replay_share, cfg.finetune.batch).max(1);
    let sources: Vec<(&Dataset, &[usize])> = data.iter().zip(&episodes).map(|(d, e)| (d, e.as_slice())).collect();
    let mut sampler = WindowSampler::new(&sources, cfg.finetune.frames + 1, per_step, cfg.train.seed ^ 0x5E91)?;
    let at = usize::try_from(step).unwrap_or(usize::MAX).saturating_mul(per_step);
    let per_epoch = sampler.windows_per_epoch();
    sampler.seek((at / per_epoch) as u64, at % per_epoch);
    let drops = Drops { rate: saved.train.action_dropout, window_rate: saved.train.null_window_rate };
    tracing::info!(datasets = data.len(), per_step, "co-training: replaying the world model's pretraining windows");
    Ok(Replay { data, codes, sampler, text: saved.train.text_prefix, drops })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::{Choice, Controller, Request};
    use crate::dataset::{DatasetInfo, DatasetWriter, EpisodeData, EpisodeMeta, NO_ACTION, Recording};
    use std::collections::HashMap;

    use crate::loader::load_agent;
    use crate::model::SeededInit;
    use crate::runner::Quiet;

    /// One episode of distinct noise frames with a fixed action sequence that ends in an answer.
    /// The demo datasets' `answer`: the last of the model's action tokens.
    const ANSWER: i64 = crate::config::ACTION_TOKENS as i64 - 1;

    fn demo(dir: &Path, actions: &[i64]) -> Vec<Vec<u8>> {
        let recording = Recording {
            base_seed: 0,
            seed_rule: "test".into(),
            policy: "expert".into(),
            episodes_requested: 1,
            scenario_names: vec!["synthetic".into()],
            scenarios: vec![json!({"name": "synthetic"})],
            created_by: "unit test".into(),
            renderer: "batch".into(),
        };
        let vocab: Vec<String> = (0..crate::config::ACTION_TOKENS).map(|i| format!("a{i}")).collect();
        let info = DatasetInfo::new(64, 64, 30.0, vocab, vec!["red".into(), "blue".into()], recording);
        let meta = EpisodeMeta {
            index: 0,
            scenario: "synthetic".into(),
            seed: 0,
            mission: "what color is the cube?".into(),
            answer: Some("red".into()),
            given_answer: Some("red".into()),
            success: true,
            length: 0,
            episode_return: 1.0,
            subgoal_rows: None,
            captions: None,
        };
        let mut ep = EpisodeData::new(meta);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut frames = Vec::new();
        for t in 0..=actions.len() {
            use rand::Rng;
            let frame: Vec<u8> = (0..64 * 64 * 3).map(|_| rng.random::<u8>()).collect();
            let a = actions.get(t).copied().unwrap_or(NO_ACTION);
            ep.push_row(&frame, a, 0.0, t + 1 == actions.len(), false);
            frames.push(frame);
        }
        let mut w = DatasetWriter::create(dir, info, 1000).expect("create");
        w.push(ep).expect("push");
        w.finish().expect("finish");
        frames
    }

    #[test]
    fn tiny_imitates_a_fixed_action_sequence_and_answers() -> Result<(), AgentError> {
        let tmp = tempfile::tempdir().map_err(|e| AgentError::Config(e.to_string()))?;
        let actions = [1i64, 1, 3, 1, 4, 4, 2, 1, 3, 7, ANSWER];
        let frames = demo(&tmp.path().join("demo"), &actions);
        let data = [Dataset::open(&tmp.path().join("demo"))?];
        let mut cfg = Config::tiny();
        cfg.finetune.steps = 200;
        cfg.finetune.batch = 8;
        cfg.finetune.lr = 3e-3;
        cfg.finetune.warmup_steps = 10;
        cfg.finetune.eval_every = 100;
        cfg.finetune.checkpoint_every = 100;
        let run = tmp.path().join("run");
        let job = plain(&data, &run);
        let state = finetune(&cfg, &job, &Device::Cpu, &mut Quiet)?;
        assert_eq!((state.stage, state.step), (Stage::Done, 200));
        let first: f64 = loss_at(&run, 1);
        let last: f64 = loss_at(&run, 200);
        assert!(last < first / 10.0, "loss {first} -> {last}");

        // Replay the episode closed loop: the agent must choose the demonstrated decisions.
        let model = load_agent(&run, &Device::Cpu)?;
        let mut ctl = Controller::new(&model, &Device::Cpu);
        let mut chosen = Vec::new();
        for frame in &frames[..actions.len()] {
            chosen.extend(ctl.decide(&[Request { episode: 3, mission: "what color is the cube?", frame, question: true, last: false }])?);
        }
        let mut expected: Vec<Choice> = actions[..actions.len() - 1].iter().map(|&a| Choice::Act(a as usize)).collect();
        expected.push(Choice::Answer("red".into()));
        assert_eq!(chosen, expected);

        // At the step limit an open question is answered, at once; a mission is not, and the
        // deadline can be switched off.
        let at_limit = |episode, question| Request { episode, mission: "what color is the cube?", frame: &frames[0], question, last: true };
        assert!(matches!(ctl.decide(&[at_limit(4, true)])?[..], [Choice::Answer(_)]));
        assert_eq!(ctl.decide(&[at_limit(5, false)])?, [Choice::Act(actions[0] as usize)]);
        let mut patient = Controller::new(&model, &Device::Cpu).answering_at_deadline(false);
        assert_eq!(patient.decide(&[at_limit(6, true)])?, [Choice::Act(actions[0] as usize)]);
        Ok(())
    }

    #[test]
    fn a_frozen_trunk_trains_only_the_embeddings_and_head() -> Result<(), AgentError> {
        let tmp = tempfile::tempdir().map_err(|e| AgentError::Config(e.to_string()))?;
        demo(&tmp.path().join("demo"), &[1, 3, 4, ANSWER]);
        let data = [Dataset::open(&tmp.path().join("demo"))?];
        let mut cfg = Config::tiny();
        cfg.finetune.steps = 5;
        let run = tmp.path().join("run");
        let job = Finetune { freeze_trunk: true, ..plain(&data, &run) };
        finetune(&cfg, &job, &Device::Cpu, &mut Quiet)?;
        // The same seeds draw the same initial weights: compare with a fresh agent.
        let fresh = VarMap::new();
        Agent::new(&cfg, SeededInit::new(fresh.clone(), cfg.train.seed.wrapping_add(2)).builder(&Device::Cpu))?;
        let trained = checkpoint::load_tensors(&checkpoint::resolve(&run)?, "dynamics")?;
        let fresh = fresh.data().lock().map_err(|e| AgentError::Config(e.to_string()))?;
        for (name, var) in fresh.iter() {
            let same = trained[name].flatten_all()?.to_vec1::<f32>()? == var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            assert_eq!(same, name.starts_with("blocks."), "{name}: frozen iff a block weight");
        }
        // Resuming with the other setting is refused.
        let job = Finetune { resume: true, freeze_trunk: false, ..job };
        assert!(finetune(&cfg, &job, &Device::Cpu, &mut Quiet).is_err_and(|e| e.to_string().contains("freeze-trunk")));
        Ok(())
    }

    #[test]
    fn a_finished_run_goes_on_when_only_its_steps_grow() -> Result<(), AgentError> {
        let tmp = tempfile::tempdir().map_err(|e| AgentError::Config(e.to_string()))?;
        demo(&tmp.path().join("demo"), &[1, 3, 4, ANSWER]);
        let data = [Dataset::open(&tmp.path().join("demo"))?];
        let mut cfg = Config::tiny();
        cfg.finetune.steps = 4;
        let run = tmp.path().join("run");
        let job = plain(&data, &run);
        assert_eq!(finetune(&cfg, &job, &Device::Cpu, &mut Quiet)?.step, 4);
        let job = Finetune { resume: true, ..job };
        // Anything else changed is refused, and the finished run is left as it was.
        let mut other = cfg.clone();
        other.finetune.steps = 6;
        other.finetune.lr *= 2.0;
        assert!(finetune(&other, &job, &Device::Cpu, &mut Quiet).is_err_and(|e| e.to_string().contains("different config")));
        assert_eq!(checkpoint::load_state(&checkpoint::resolve(&run)?)?.step, 4);
        cfg.finetune.steps = 6;
        let state = finetune(&cfg, &job, &Device::Cpu, &mut Quiet)?;
        assert_eq!((state.stage, state.step), (Stage::Done, 6));
        assert!(loss_at(&run, 6).is_finite());
        Ok(())
    }

    /// LP-FT: the trunk stays as it is through the probe steps and trains after, and a run
    /// stopped inside the probe resumes to the same weights as one left alone.
    #[test]
    fn the_probe_phase_holds_the_trunk_and_resumes_exactly() -> Result<(), AgentError> {
        let tmp = tempfile::tempdir().map_err(|e| AgentError::Config(e.to_string()))?;
        demo(&tmp.path().join("demo"), &[1, 3, 4, ANSWER]);
        let data = [Dataset::open(&tmp.path().join("demo"))?];
        let mut cfg = Config::tiny();
        cfg.finetune.steps = 6;
        cfg.finetune.probe_steps = 3;
        let weights = latest_dynamics;
        let (whole, probe) = (tmp.path().join("whole"), tmp.path().join("probe"));
        finetune(&cfg, &plain(&data, &whole), &Device::Cpu, &mut Quiet)?;
        finetune(&cfg, &Finetune { until: Some(3), ..plain(&data, &probe) }, &Device::Cpu, &mut Quiet)?;
        let (at_probe, at_end) = (weights(&probe)?, weights(&whole)?);
        let fresh = VarMap::new();
        Agent::new(&cfg, SeededInit::new(fresh.clone(), cfg.train.seed.wrapping_add(2)).builder(&Device::Cpu))?;
        let fresh = fresh.data().lock().map_err(|e| AgentError::Config(e.to_string()))?;
        for (name, var) in fresh.iter() {
            let start = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            let own = name.starts_with("text_pos") || name.starts_with("stem.");
            assert_eq!(at_probe[name] == start, !own, "{name}: held through the probe iff part of the trunk");
            if name.starts_with("blocks.") && name.ends_with("weight") {
                assert_ne!(at_end[name], start, "{name}: trained after the probe");
            }
        }
        let parts = tmp.path().join("parts");
        finetune(&cfg, &Finetune { until: Some(2), ..plain(&data, &parts) }, &Device::Cpu, &mut Quiet)?;
        finetune(&cfg, &Finetune { resume: true, ..plain(&data, &parts) }, &Device::Cpu, &mut Quiet)?;
        assert!(weights(&parts)? == at_end, "stopped inside the probe and resumed, the same weights");
        Ok(())
    }

    /// Pretraining in the agent's layout hands fine-tuning its words' ids and instruction
    /// positions; co-training replays its windows; a stopped and resumed run of either ends with
    /// the weights of one left alone.
    #[test]
    fn agent_layout_pretraining_carries_into_co_training_and_both_resume_exactly() -> Result<(), AgentError> {
        let tmp = tempfile::tempdir().map_err(|e| AgentError::Config(e.to_string()))?;
        demo(&tmp.path().join("demo"), &[1, 3, 4, 1, 1, 2, ANSWER]);
        let data = [Dataset::open(&tmp.path().join("demo"))?];
        let mut cfg = Config::tiny();
        cfg.train.text_prefix = crate::config::TextPrefix::Mission;
        cfg.train.null_window_rate = 0.5;
        (cfg.train.tokenizer_steps, cfg.train.dynamics_steps, cfg.train.checkpoint_every) = (3, 4, 2);
        let tensors = latest_dynamics;
        let (world, parts) = (tmp.path().join("world"), tmp.path().join("world_parts"));
        crate::pretrain::pretrain(&cfg, crate::pretrain::Source::Recorded(&data), &world, false, None, &Device::Cpu, &mut Quiet)?;
        crate::pretrain::pretrain(&cfg, crate::pretrain::Source::Recorded(&data), &parts, false, Some(5), &Device::Cpu, &mut Quiet)?;
        crate::pretrain::pretrain(&cfg, crate::pretrain::Source::Recorded(&data), &parts, true, None, &Device::Cpu, &mut Quiet)?;
        let pretrained = tensors(&world)?;
        assert!(pretrained == tensors(&parts)?, "pretraining stopped inside the dynamics stage and resumed, the same weights");
        let words = TextVocab::load(&checkpoint::resolve(&world)?.join(RunDir::VOCAB))?;
        assert!(words.id("cube").is_some());

        // The instruction positions come from pretraining.
        let ckpt = checkpoint::resolve(&world)?;
        let (weights, _, _) = Weights::agent(&cfg, 9, Some(&ckpt), &Device::Cpu)?;
        let text_pos = weights.dynamics.data().lock().map_err(|e| AgentError::Config(e.to_string()))?["text_pos"].as_tensor().flatten_all()?.to_vec1::<f32>()?;
        assert_eq!(text_pos, pretrained["text_pos"]);

        cfg.finetune.steps = 4;
        (cfg.finetune.replay_share, cfg.finetune.replay_weight) = (0.5, 1.0);
        let (whole, stopped) = (tmp.path().join("whole"), tmp.path().join("stopped"));
        finetune(&cfg, &Finetune { init: Some(&world), ..plain(&data, &whole) }, &Device::Cpu, &mut Quiet)?;
        finetune(&cfg, &Finetune { init: Some(&world), until: Some(2), ..plain(&data, &stopped) }, &Device::Cpu, &mut Quiet)?;
        finetune(&cfg, &Finetune { init: Some(&world), resume: true, ..plain(&data, &stopped) }, &Device::Cpu, &mut Quiet)?;
        assert!(tensors(&whole)? == tensors(&stopped)?, "co-training stopped and resumed, the same weights");
        // The pretrained words keep their ids; the co-trained agent differs from one without replay.
        let tuned = TextVocab::load(&whole.join(RunDir::VOCAB))?;
        assert_eq!(tuned.id("cube"), words.id("cube"));
        cfg.finetune.replay_share = 0.0;
        let alone = tmp.path().join("alone");
        finetune(&cfg, &Finetune { init: Some(&world), ..plain(&data, &alone) }, &Device::Cpu, &mut Quiet)?;
        assert!(tensors(&alone)? != tensors(&whole)?, "the replayed windows move the weights");
        Ok(())
    }

    /// The replayed windows are the configured share of each step's windows.
    #[test]
    fn replay_takes_its_share_of_each_batch() {
        for (share, batch, replayed) in [(0.5, 16, 16), (0.25, 16, 5), (0.2, 8, 2), (0.0, 8, 0)] {
            assert_eq!(Replay::per_step(share, batch), replayed, "share {share} of batch {batch}");
        }
    }

    /// The latest checkpoint's dynamics weights, by name.
    fn latest_dynamics(run: &Path) -> Result<HashMap<String, Vec<f32>>, AgentError> {
        let tensors = checkpoint::load_tensors(&checkpoint::resolve(run)?, "dynamics")?;
        tensors.into_iter().map(|(k, t)| Ok((k, t.flatten_all()?.to_vec1::<f32>()?))).collect()
    }

    /// A fresh fine-tuning of `data` into `run` from scratch, with nothing else asked.
    fn plain<'a>(data: &'a [Dataset], run: &'a Path) -> Finetune<'a> {
        Finetune { data, init: None, holdout: &[], run, resume: false, until: None, freeze_trunk: false, vocab_texts: &[], stable_split: false, codes: None }
    }

    fn loss_at(run: &Path, step: u64) -> f64 {
        let text = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics");
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["step"] == step && v["loss"].is_number())
            .and_then(|v| v["loss"].as_f64())
            .expect("a logged step")
    }
}
