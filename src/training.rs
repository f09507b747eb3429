//! Training runs as requests: [`Pretraining`] (stage one, from datasets or live envs) and
//! [`Finetuning`] (stages two and three, behaviour cloning or online imitation). Both resolve
//! their config the same way (an explicit preset or file, else the run's own when resuming, else
//! a default) and open their datasets checked against its frame size.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::Device;
use sandtable_agent::checkpoint::TrainState;
use sandtable_agent::config::Config;
use sandtable_agent::dataset::{Dataset, Manifest, check_disjoint};
use sandtable_agent::finetune::{Finetune, finetune};
use sandtable_agent::holdout::Pair;
use sandtable_agent::pretrain::{Source, pretrain};
use sandtable_agent::run_dir::RunDir;
use sandtable_agent::runner::Observer;

use crate::live::assembler::load_scenarios;
use crate::live::feeder::{LivePretrain, pretrain_live};
use crate::live::online::{Online, online};

/// The config of a training run writing to `out`: `explicit`, else `out`'s own `config.json`
/// when resuming, else `default()` (a preset name or a config file).
pub fn resolve_config(explicit: Option<&str>, out: &Path, resume: bool, default: impl FnOnce() -> Result<String>) -> Result<Config> {
    let own = out.join(RunDir::CONFIG);
    let name = match explicit {
        Some(c) => c.to_string(),
        None if resume && own.is_file() => return sandtable_agent::checkpoint::load_saved_config(&own).context("loading the run's config"),
        None => default()?,
    };
    Config::load(&name).context("loading the model config")
}

/// The dataset folders `paths` name: each a dataset folder, or a manifest file
/// (`sandtable dataset manifest`) standing for the datasets it lists, checked against it.
pub fn dataset_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::with_capacity(paths.len());
    let mut manifests = Vec::new();
    for p in paths {
        if p.is_file() {
            dirs.extend(Manifest::open(p).with_context(|| format!("reading the manifest {}", p.display()))?);
            manifests.push(p);
        } else {
            dirs.push(p.clone());
        }
    }
    // A manifest's datasets must not meet again beside it: given as a folder too, or in another manifest.
    if !manifests.is_empty() && paths.len() > 1 {
        check_disjoint(&dirs, manifests[0]).context("the datasets given with --data")?;
    }
    Ok(dirs)
}

/// Open `paths` (dataset folders or manifests) as datasets whose frames fit `cfg`.
pub fn open_datasets(paths: &[PathBuf], cfg: &Config) -> Result<Vec<Dataset>> {
    let data = dataset_dirs(paths)?.iter().map(|d| Dataset::open(d).with_context(|| format!("opening dataset {}", d.display()))).collect::<Result<Vec<_>>>()?;
    for d in &data {
        let (h, w) = d.frame_size();
        anyhow::ensure!(h == cfg.image_size && w == cfg.image_size, "{} has {h}x{w} frames; config `{}` expects {}x{}", d.dir().display(), cfg.name, cfg.image_size, cfg.image_size);
    }
    Ok(data)
}

/// A pretraining request.
#[derive(Clone, Debug)]
pub struct Pretraining {
    /// Recorded datasets; empty with `live`.
    pub data: Vec<PathBuf>,
    /// Train from live envs instead (its `run`, `resume` and `until` are overridden by these).
    pub live: Option<LivePretrain>,
    /// Preset or config file; `None`: small, or the run's own when resuming.
    pub config: Option<String>,
    /// Run directory.
    pub out: PathBuf,
    /// Continue the run.
    pub resume: bool,
    /// Override the config's tokenizer steps.
    pub tokenizer_steps: Option<u64>,
    /// Override the config's dynamics steps.
    pub dynamics_steps: Option<u64>,
    /// Override the config's seed.
    pub seed: Option<u64>,
    /// Stop after this global step.
    pub until: Option<u64>,
}

/// Where a pretraining run stands, and the live episodes it read.
pub struct Pretrained {
    /// The state reached.
    pub state: TrainState,
    /// Episodes played into the replay buffer, when it trained live.
    pub live_episodes: Option<u64>,
}

/// Pretrain as `job` asks, reporting to `obs`.
pub fn run_pretraining(job: &Pretraining, device: &Device, obs: &mut dyn Observer) -> Result<Pretrained> {
    let mut cfg = resolve_config(job.config.as_deref(), &job.out, job.resume, || Ok("small".into()))?;
    cfg.train.tokenizer_steps = job.tokenizer_steps.unwrap_or(cfg.train.tokenizer_steps);
    cfg.train.dynamics_steps = job.dynamics_steps.unwrap_or(cfg.train.dynamics_steps);
    cfg.train.seed = job.seed.unwrap_or(cfg.train.seed);
    if let Some(live) = &job.live {
        let live = LivePretrain { run: job.out.clone(), resume: job.resume, until: job.until, ..live.clone() };
        let (state, episodes) = pretrain_live(&cfg, &live, device, obs)?;
        return Ok(Pretrained { state, live_episodes: Some(episodes) });
    }
    let data = open_datasets(&job.data, &cfg)?;
    tracing::info!(config = %cfg.name, datasets = data.len(), "pretraining");
    let state = pretrain(&cfg, Source::Recorded(&data), &job.out, job.resume, job.until, device, obs).context("pretraining")?;
    Ok(Pretrained { state, live_episodes: None })
}

/// What online imitation plays, beside a fine-tuning request.
#[derive(Clone, Debug)]
pub struct OnlineRounds {
    /// Scenarios the rounds play.
    pub scenarios: Vec<String>,
    /// Rounds; `None`: the config's.
    pub rounds: Option<u64>,
    /// Episodes per round; `None`: the config's.
    pub round_episodes: Option<u64>,
    /// β of round 1; `None`: the config's.
    pub beta: Option<f64>,
    /// β's factor per round; `None`: the config's.
    pub beta_decay: Option<f64>,
    /// Training steps of round 0; `None`: the config's.
    pub first_round_steps: Option<u64>,
    /// Env worker threads.
    pub workers: usize,
    /// Envs per worker.
    pub envs: usize,
    /// Which renderer draws the frames.
    pub renderer: sandtable_env::Renderer,
}

/// A fine-tuning request.
#[derive(Clone, Debug)]
pub struct Finetuning {
    /// The pretraining checkpoint or run to start from; `None`: from scratch.
    pub init: Option<PathBuf>,
    /// Demonstrations (with `online`, trained on beside the aggregated dataset).
    pub data: Vec<PathBuf>,
    /// Online imitation instead of behaviour cloning alone.
    pub online: Option<OnlineRounds>,
    /// Preset or config file; `None`: the init's own, else small; the run's own when resuming.
    pub config: Option<String>,
    /// Colour:shape pairs kept out of training.
    pub holdout: Vec<Pair>,
    /// Run directory.
    pub out: PathBuf,
    /// Continue the run.
    pub resume: bool,
    /// Override the config's fine-tuning steps.
    pub steps: Option<u64>,
    /// Override the config's seed.
    pub seed: Option<u64>,
    /// Stop after this step.
    pub until: Option<u64>,
    /// Train only the embeddings, positions, final norm and head.
    pub freeze_trunk: bool,
}

/// Fine-tune as `job` asks, reporting to `obs`; returns the state reached.
pub fn run_finetuning(job: &Finetuning, device: &Device, obs: &mut dyn Observer) -> Result<TrainState> {
    // Without a config, the init checkpoint's own architecture.
    let mut cfg = resolve_config(job.config.as_deref(), &job.out, job.resume, || match &job.init {
        Some(i) => {
            let ckpt = sandtable_agent::checkpoint::resolve(i).with_context(|| format!("--init {}", i.display()))?;
            Ok(ckpt.join(RunDir::CONFIG).display().to_string())
        }
        None => Ok("small".into()),
    })?;
    cfg.finetune.steps = job.steps.unwrap_or(cfg.finetune.steps);
    cfg.train.seed = job.seed.unwrap_or(cfg.train.seed);
    if let Some(o) = &job.online {
        let on = &mut cfg.finetune.online;
        on.rounds = o.rounds.unwrap_or(on.rounds);
        on.episodes = o.round_episodes.unwrap_or(on.episodes);
        on.beta = o.beta.unwrap_or(on.beta);
        on.beta_decay = o.beta_decay.unwrap_or(on.beta_decay);
        on.first_round_steps = o.first_round_steps.or(on.first_round_steps);
    }
    cfg.validate().map_err(|m| anyhow::anyhow!("config `{}`: {m}", cfg.name))?;
    let tuning = Finetune {
        data: &[],
        init: job.init.as_deref(),
        holdout: &job.holdout,
        run: &job.out,
        resume: job.resume,
        until: job.until,
        freeze_trunk: job.freeze_trunk,
        vocab_texts: &[],
        stable_split: false,
        codes: None,
    };
    if let Some(o) = &job.online {
        // Checked here (frame size) and opened again each round.
        let demos = dataset_dirs(&job.data)?;
        open_datasets(&demos, &cfg)?;
        let rounds = Online { scenarios: load_scenarios(&o.scenarios)?, workers: o.workers, envs: o.envs, renderer: o.renderer, demos, tuning };
        return online(&cfg, &rounds, device, obs).context("online fine-tuning");
    }
    let data = open_datasets(&job.data, &cfg)?;
    tracing::info!(config = %cfg.name, init = ?job.init, datasets = data.len(), "fine-tuning");
    finetune(&cfg, &Finetune { data: &data, ..tuning }, device, obs).context("fine-tuning")
}
