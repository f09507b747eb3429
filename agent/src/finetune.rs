//! Instruction tuning and prompting (stages two and three): the agent learns, by behaviour
//! cloning on expert demonstrations, to emit the expert's next action after an instruction and
//! the frames so far, and the answer word after a question. It starts from a pretraining
//! checkpoint or from scratch with the same architecture, so the two can be compared.
//!
//! The frame tokenizer stays as it starts (pretrained, or random from scratch): the agent reads
//! its discrete codes, through which no gradient flows. Every dynamics weight is trained.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use candle_nn::VarMap;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AgentError;
use crate::checkpoint::{self, Stage, TrainState};
use crate::config::Config;
use crate::dataset::{Dataset, NO_ACTION, shuffle};
use crate::holdout::{Pair, named_pair};
use crate::metrics::mean;
use crate::codes::Codes;
use crate::model::{ANSWER_ACTION, Agent, Episode, SeededInit, Tokenizer, frozen};
use crate::optim::{AdamW, learning_rate};
use crate::text::TextVocab;
use crate::train::{EvalRecord, Observer, StepRecord, keep_metrics_up_to, plot_losses};

/// What a fine-tuning run starts from and holds out; saved as `agent.json` in the run and in
/// every checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentCard {
    /// The pretraining checkpoint it started from; `None` for from scratch.
    pub init: Option<PathBuf>,
    /// Colour×shape pairs whose missions were kept out of training.
    pub holdout: Vec<Pair>,
    /// Words the agent may answer with.
    pub answers: Vec<String>,
    /// Demonstration datasets.
    pub data: Vec<PathBuf>,
    /// Episodes trained on (after the split and the holdout).
    pub train_episodes: usize,
    /// Episodes held out for validation.
    pub val_episodes: usize,
    /// Episodes dropped because their mission names a held-out pair.
    pub holdout_episodes: usize,
    /// Whether the transformer blocks were frozen (only embeddings, positions, the final norm and
    /// the head trained).
    #[serde(default)]
    pub frozen_trunk: bool,
}

/// A fine-tuning request.
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
}

/// A window: dataset, episode, first row, frames.
#[derive(Clone, Copy, Debug)]
struct Item {
    set: usize,
    episode: usize,
    start: usize,
    frames: usize,
}

/// Every window of `episodes` of each dataset: one per row that has an action, of up to
/// `frames` rows (fewer where the episode ends).
fn items(data: &[Dataset], episodes: &[Vec<usize>], frames: usize) -> Result<Vec<Item>, AgentError> {
    let mut out = Vec::new();
    for (set, (d, eps)) in data.iter().zip(episodes).enumerate() {
        for &episode in eps {
            let acted = d.episode(episode)?.actions.iter().filter(|&&a| a != NO_ACTION).count();
            for start in 0..acted {
                out.push(Item { set, episode, start, frames: frames.min(acted - start) });
            }
        }
    }
    Ok(out)
}

/// The model's inputs for `items`: each window's instruction, codes, actions and answer.
fn windows(data: &[Dataset], items: &[Item], codes: &Codes, vocab: &TextVocab, text_len: usize) -> Result<Vec<Episode>, AgentError> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let ep = data[it.set].episode(it.episode)?;
        let actions = ep.actions[it.start..it.start + it.frames].to_vec();
        let answer = match (actions.last(), &ep.meta.given_answer) {
            (Some(&a), Some(word)) if a == ANSWER_ACTION as i64 => vocab.id(word),
            _ => None,
        };
        let frames = (it.start..it.start + it.frames).map(|t| codes.frame(it.set, it.episode, t)).collect();
        // As at inference, a longer instruction keeps its last words (`finetune` warns about such
        // missions once, up front).
        let (text, _) = vocab.encode_last(&ep.meta.mission, text_len);
        out.push(Episode { text, codes: frames, actions, answer });
    }
    Ok(out)
}

/// The vocabulary of the datasets' missions and answer words.
pub fn build_vocab(data: &[Dataset]) -> Result<(TextVocab, Vec<String>), AgentError> {
    let mut texts = Vec::new();
    let mut answers: Vec<String> = Vec::new();
    for d in data {
        for i in 0..d.num_episodes() {
            texts.push(d.episode(i)?.meta.mission.clone());
        }
        for a in &d.info().answer_vocabulary {
            if !answers.contains(a) {
                answers.push(a.clone());
            }
        }
    }
    texts.extend(answers.iter().cloned());
    Ok((TextVocab::build(texts.iter().map(String::as_str)), answers))
}

/// Fine-tune; returns the state reached. Deterministic on CPU, resumed or not.
pub fn finetune(cfg: &Config, job: &Finetune<'_>, device: &Device, obs: &mut dyn Observer) -> Result<TrainState, AgentError> {
    let io = |p: &Path, e: std::io::Error| AgentError::Io { path: p.to_path_buf(), source: e };
    let (data, run) = (job.data, job.run);
    if data.is_empty() {
        return Err(AgentError::Config("fine-tuning needs at least one demonstration dataset".into()));
    }
    std::fs::create_dir_all(run).map_err(|e| io(run, e))?;
    let has_run = run.join("checkpoints").join("latest").exists();
    if has_run && !job.resume {
        return Err(AgentError::Config(format!("{} already holds a run; pass --resume to continue it or choose another --out", run.display())));
    }
    let (tr, ft) = (&cfg.train, &cfg.finetune);
    let (vocab, answers) = build_vocab(data)?;
    if vocab.len() > cfg.dynamics.text_tokens {
        return Err(AgentError::Config(format!("the missions use {} words; config `{}` reserves {} text tokens", vocab.len(), cfg.name, cfg.dynamics.text_tokens)));
    }

    let words = |d: &Dataset, i: usize| d.episode(i).ok().map(|e| vocab.encode(&e.meta.mission).0.len());
    let longest = data.iter().flat_map(|d| (0..d.num_episodes()).filter_map(|i| words(d, i))).max().unwrap_or(0);
    if longest > ft.text_len {
        tracing::warn!(longest, text_len = ft.text_len, "some missions are longer than the model reads; they keep their last words");
    }

    // Split by episode, then drop every episode whose mission names a held-out pair.
    let (mut train_eps, mut val_eps, mut dropped) = (Vec::new(), Vec::new(), 0);
    for d in data {
        let split = d.split(tr.val_fraction, tr.seed);
        let keep = |eps: &[usize], dropped: &mut usize| -> Result<Vec<usize>, AgentError> {
            let mut kept = Vec::new();
            for &e in eps {
                if named_pair(job.holdout, &d.episode(e)?.meta.mission).is_some() {
                    *dropped += 1;
                } else {
                    kept.push(e);
                }
            }
            Ok(kept)
        };
        train_eps.push(keep(&split.train, &mut dropped)?);
        val_eps.push(keep(&split.val, &mut dropped)?);
    }
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

    let tok_map = VarMap::new();
    let dyn_map = VarMap::new();
    Tokenizer::new(cfg, SeededInit::new(tok_map.clone(), tr.seed).builder(device))?;
    if let Some(init) = job.init {
        let ckpt = checkpoint::resolve(init)?;
        let saved = checkpoint::load_config(&ckpt)?;
        if (saved.image_size, &saved.tokenizer, &saved.dynamics) != (cfg.image_size, &cfg.tokenizer, &cfg.dynamics) {
            return Err(AgentError::Checkpoint { path: ckpt, message: format!("has another architecture than config `{}`; fine-tune with the config it was pretrained with", cfg.name) });
        }
        crate::model::Dynamics::new(cfg, SeededInit::new(dyn_map.clone(), tr.seed.wrapping_add(1)).builder(device))?;
        checkpoint::load_into(&tok_map, &ckpt, "tokenizer")?;
        checkpoint::load_into(&dyn_map, &ckpt, "dynamics")?;
    }
    // With an init this adds only `text_pos`; from scratch it draws every weight.
    let mut agent = Agent::new(cfg, SeededInit::new(dyn_map.clone(), tr.seed.wrapping_add(2)).builder(device))?;
    if job.freeze_trunk {
        agent.freeze_blocks(cfg, &dyn_map)?;
    }
    // Absolute, so that `eval` finds them to check its seeds from any working directory.
    let data_dirs: Vec<PathBuf> = data.iter().map(|d| std::fs::canonicalize(d.dir()).unwrap_or_else(|_| d.dir().to_path_buf())).collect();
    let mut state = TrainState { stage: Stage::Finetune, step: 0, sampler: (0, 0), seed: tr.seed, data: data_dirs.clone() };
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
    if job.resume && has_run {
        let ckpt = checkpoint::resolve(run)?;
        if &checkpoint::load_config(&ckpt)? != cfg {
            return Err(AgentError::Checkpoint { path: ckpt, message: "was trained with a different config; resume with the same --config".into() });
        }
        let saved_card: AgentCard = std::fs::read_to_string(ckpt.join("agent.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| AgentError::Checkpoint { path: ckpt.clone(), message: "has no agent.json: it is not a fine-tuning run, so it cannot be resumed by `finetune`".into() })?;
        let mismatch = if saved_card.frozen_trunk != job.freeze_trunk {
            Some("--freeze-trunk")
        } else if saved_card.init != job.init.map(Path::to_path_buf) {
            Some("--init")
        } else if saved_card.holdout != job.holdout {
            Some("--holdout-pairs")
        } else if saved_card.data != data_dirs {
            Some("--data")
        } else {
            None
        };
        if let Some(flag) = mismatch {
            return Err(AgentError::Checkpoint { path: ckpt, message: format!("was trained with another {flag}; resume with the same one") });
        }
        checkpoint::load_into(&tok_map, &ckpt, "tokenizer")?;
        checkpoint::load_into(&dyn_map, &ckpt, "dynamics")?;
        state = checkpoint::load_state(&ckpt)?;
        if state.step > 0 && state.stage == Stage::Finetune {
            let moments = checkpoint::load_tensors(&ckpt, "optimizer")?;
            opt.load_state(&moments, state.step).map_err(|m| AgentError::Checkpoint { path: ckpt.clone(), message: m })?;
        }
        tracing::info!(checkpoint = %ckpt.display(), step = state.step, "resuming");
    }
    let tok = Tokenizer::new(cfg, frozen(&tok_map, device))?;
    let codes = Codes::encode(data, &[&train_eps, &val_eps], &tok, cfg.tokens_per_frame(), device)?;

    let card = AgentCard {
        init: job.init.map(Path::to_path_buf),
        holdout: job.holdout.to_vec(),
        answers,
        data: state.data.clone(),
        train_episodes: train_eps.iter().map(Vec::len).sum(),
        val_episodes: val_eps.iter().map(Vec::len).sum(),
        holdout_episodes: dropped,
        frozen_trunk: job.freeze_trunk,
    };
    let card_json = checkpoint::to_json(&card)?;
    let vocab_json = serde_json::to_string_pretty(&vocab).map_err(|e| AgentError::Config(e.to_string()))?;
    for (file, text) in [("config.json", checkpoint::to_json(cfg)?), ("agent.json", card_json.clone()), ("vocab.json", vocab_json.clone())] {
        crate::atomic::write_atomic(&run.join(file), text.as_bytes()).map_err(|e| io(run, e))?;
    }
    let extras: [(&str, &[u8]); 2] = [("vocab.json", vocab_json.as_bytes()), ("agent.json", card_json.as_bytes())];
    let metrics_path = run.join("metrics.jsonl");
    keep_metrics_up_to(&metrics_path, state.step)?;
    let mut metrics = std::fs::OpenOptions::new().create(true).append(true).open(&metrics_path).map_err(|e| io(&metrics_path, e))?;
    let mut log = |v: serde_json::Value| writeln!(metrics, "{v}").map_err(|e| io(&metrics_path, e));

    let steps = ft.steps;
    let mut order = train_items.clone();
    let (mut epoch, mut pos) = state.sampler;
    // Windows grouped by episode, for episode-balanced epochs.
    let mut groups: Vec<Vec<Item>> = Vec::new();
    for it in &train_items {
        match groups.last_mut() {
            Some(g) if g[0].set == it.set && g[0].episode == it.episode => g.push(*it),
            _ => groups.push(vec![*it]),
        }
    }
    let per_episode = train_items.len().div_ceil(groups.len().max(1));
    let reshuffle = |order: &mut Vec<Item>, epoch: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(tr.seed ^ 0xF17E ^ epoch.wrapping_mul(0x9E37_79B9));
        if ft.episode_balanced {
            // Every episode gives the same number of windows, drawn from its own: a one-window
            // question weighs as much as a 150-step walk.
            use rand::Rng;
            order.clear();
            for g in &groups {
                order.extend((0..per_episode).map(|_| g[rng.random_range(0..g.len())]));
            }
        } else {
            order.clone_from(&train_items);
        }
        shuffle(order, &mut rng);
    };
    reshuffle(&mut order, epoch);
    obs.on_stage(Stage::Finetune, state.step.min(steps), steps);
    if state.stage == Stage::Done || job.until.is_some_and(|u| u <= state.step) {
        return Ok(state);
    }
    for s in state.step..steps {
        let t0 = Instant::now();
        let mut batch = Vec::with_capacity(ft.batch);
        while batch.len() < ft.batch {
            if pos >= order.len() {
                epoch += 1;
                pos = 0;
                reshuffle(&mut order, epoch);
            }
            batch.push(order[pos]);
            pos += 1;
        }
        let seqs = agent.sequences(&windows(data, &batch, &codes, &vocab, ft.text_len)?)?;
        let (loss, acc) = agent.loss(&seqs, ft.frame_loss_weight)?;
        let grads = loss.backward()?;
        let lr = learning_rate(s, steps, ft.warmup_steps, ft.lr, tr.min_lr_fraction);
        let grad_norm = opt.step(&grads, lr, tr.grad_clip)?;
        let loss = f64::from(loss.to_scalar::<f32>()?);
        let seconds = t0.elapsed().as_secs_f64();
        state.step = s + 1;
        state.sampler = (epoch, pos);
        let r = StepRecord { stage: Stage::Finetune, step: s + 1, stage_step: s + 1, stage_steps: steps, loss, lr, grad_norm, seconds, items: seqs.rows * seqs.len };
        log(json!({"stage": "finetune", "step": r.step, "loss": loss, "accuracy": acc, "lr": lr, "grad_norm": grad_norm, "step_ms": seconds * 1e3}))?;
        obs.on_step(&r);
        let last = s + 1 == steps;
        if (s + 1) % ft.eval_every == 0 || last {
            let frozen_agent = Agent::new(cfg, frozen(&dyn_map, device))?;
            let (mut losses, mut accs) = (Vec::new(), Vec::new());
            for chunk in val_items.chunks(ft.batch) {
                let seqs = frozen_agent.sequences(&windows(data, chunk, &codes, &vocab, ft.text_len)?)?;
                let (l, a) = frozen_agent.loss(&seqs, 0.0)?;
                losses.push(f64::from(l.to_scalar::<f32>()?));
                accs.push(a);
            }
            let (val_loss, val_acc) = (mean(&losses), mean(&accs));
            log(json!({"stage": "finetune", "step": s + 1, "val_loss": val_loss, "val_accuracy": val_acc}))?;
            obs.on_eval(&EvalRecord { stage: Stage::Finetune, step: s + 1, val_loss, val_metric: val_acc });
            plot_losses(run)?;
        }
        let stop = job.until == Some(state.step);
        if (s + 1) % ft.checkpoint_every == 0 || last || stop {
            if last {
                state.stage = Stage::Done;
            }
            let dir = checkpoint::save(run, cfg, &[("tokenizer", &tok_map), ("dynamics", &dyn_map)], &opt.state(), &state, &extras)?;
            obs.on_checkpoint(&dir);
        }
        if stop {
            return Ok(state);
        }
    }
    if steps == 0 {
        state.stage = Stage::Done;
    }
    Ok(state)
}

/// A fine-tuned agent, ready to act (its weights record no autograd graph).
pub struct TrainedAgent {
    /// The checkpoint directory it came from.
    pub dir: PathBuf,
    /// Its config.
    pub config: Config,
    /// Its instruction vocabulary.
    pub vocab: TextVocab,
    /// What it was trained from.
    pub card: AgentCard,
    /// The frame tokenizer.
    pub tokenizer: Tokenizer,
    /// The transformer.
    pub agent: Agent,
}

/// Load the fine-tuned agent a path names (checkpoint or run directory) onto `device`.
pub fn load_agent(path: &Path, device: &Device) -> Result<TrainedAgent, AgentError> {
    let dir = checkpoint::resolve(path)?;
    let config = checkpoint::load_config(&dir)?;
    let vocab_path = dir.join("vocab.json");
    if !vocab_path.is_file() {
        return Err(AgentError::Checkpoint { path: dir, message: "has no vocab.json: it is not a fine-tuned agent (make one with `sandtable finetune`)".into() });
    }
    let vocab = TextVocab::load(&vocab_path)?;
    let card_path = dir.join("agent.json");
    let card: AgentCard = std::fs::read_to_string(&card_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        .map_err(|m| AgentError::Checkpoint { path: card_path.clone(), message: m })?;
    let (tm, dm) = (VarMap::new(), VarMap::new());
    Tokenizer::new(&config, SeededInit::new(tm.clone(), 0).builder(device))?;
    Agent::new(&config, SeededInit::new(dm.clone(), 0).builder(device))?;
    checkpoint::load_into(&tm, &dir, "tokenizer")?;
    checkpoint::load_into(&dm, &dir, "dynamics")?;
    let tokenizer = Tokenizer::new(&config, frozen(&tm, device))?;
    let agent = Agent::new(&config, frozen(&dm, device))?;
    Ok(TrainedAgent { dir, config, vocab, card, tokenizer, agent })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::{Choice, Controller, Request};
    use crate::dataset::{DatasetInfo, DatasetWriter, EpisodeData, EpisodeMeta, Recording};
    use crate::train::Quiet;

    /// One episode of distinct noise frames with a fixed action sequence that ends in an answer.
    fn demo(dir: &Path, actions: &[i64]) -> Vec<Vec<u8>> {
        let recording = Recording {
            base_seed: 0,
            seed_rule: "test".into(),
            policy: "expert".into(),
            episodes_requested: 1,
            scenario_names: vec!["synthetic".into()],
            scenarios: vec![json!({"name": "synthetic"})],
            created_by: "unit test".into(),
        };
        let vocab: Vec<String> = (0..11).map(|i| format!("a{i}")).collect();
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
        let actions = [1i64, 1, 3, 1, 4, 4, 2, 1, 3, 7, 10];
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
        let job = Finetune { data: &data, init: None, holdout: &[], run: &run, resume: false, until: None, freeze_trunk: false };
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
            chosen.extend(ctl.decide(&[Request { episode: 3, mission: "what color is the cube?", frame, question: true }])?);
        }
        let mut expected: Vec<Choice> = actions[..actions.len() - 1].iter().map(|&a| Choice::Act(a as usize)).collect();
        expected.push(Choice::Answer("red".into()));
        assert_eq!(chosen, expected);
        Ok(())
    }

    #[test]
    fn a_frozen_trunk_trains_only_the_embeddings_and_head() -> Result<(), AgentError> {
        let tmp = tempfile::tempdir().map_err(|e| AgentError::Config(e.to_string()))?;
        demo(&tmp.path().join("demo"), &[1, 3, 4, 10]);
        let data = [Dataset::open(&tmp.path().join("demo"))?];
        let mut cfg = Config::tiny();
        cfg.finetune.steps = 5;
        let run = tmp.path().join("run");
        let job = Finetune { data: &data, init: None, holdout: &[], run: &run, resume: false, until: None, freeze_trunk: true };
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

    fn loss_at(run: &Path, step: u64) -> f64 {
        let text = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics");
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["step"] == step && v["loss"].is_number())
            .and_then(|v| v["loss"].as_f64())
            .expect("a logged step")
    }
}
