//! Closed-loop evaluation in live envs: the fine-tuned agent drives the envs
//! ([`closed_loop`](crate::live::closed_loop)); a random policy and the expert play the same seeds
//! as the floor and the ceiling. Every episode is scored and diagnosed, and the result is
//! written as `eval.json` and `episodes.jsonl` ([`eval_result`](crate::live::eval_result)).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};
use sandtable_agent::holdout::{Pair, named_pair};
use sandtable_agent::loader::{TrainedAgent, load_agent};
use sandtable_agent::score::{Outcome, summarise};
use sandtable_env::{PolicySpec, Renderer, StreamConfig};

use crate::live::assembler::load_scenarios;
use crate::live::closed_loop::{AgentPlay, PlayedEpisode, play_agent, play_policy};
use crate::live::diagnosis::tally;
use crate::live::eval_result::{ALL, EpisodeLine, EvalResult, HOLDOUT_PAIRS, ResultRow};
use crate::live::gifs::GifSaver;
use crate::live::seeds::check_unseen;

/// Who plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Player {
    /// The fine-tuned agent of --checkpoint.
    Agent,
    /// Uniformly random decisions (the floor).
    Random,
    /// The scripted expert (the ceiling).
    Expert,
}

impl Player {
    /// Its name in the results.
    pub fn name(self) -> &'static str {
        match self {
            Player::Agent => "agent",
            Player::Random => "random",
            Player::Expert => "expert",
        }
    }
}

/// The seed rule every evaluation states.
pub const SEED_RULE: &str = "episode i plays scenario i mod S with seed splitmix64(splitmix64(base_seed) ^ i)";

/// An evaluation request.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The fine-tuned agent (checkpoint or run directory); without it only the baselines play.
    pub checkpoint: Option<PathBuf>,
    /// Scenarios (built-in names or `.ron` paths).
    pub scenarios: Vec<String>,
    /// Episodes per scenario.
    pub episodes: u64,
    /// Who plays; empty: the agent (with a checkpoint), random and expert.
    pub players: Vec<Player>,
    /// Env worker threads.
    pub workers: usize,
    /// Envs per worker.
    pub envs: usize,
    /// Base seed of the episodes; must differ from every training episode's.
    pub seed: u64,
    /// Colour:shape pairs reported as their own subset; `None`: the agent's held-out pairs.
    pub holdout: Option<Vec<Pair>>,
    /// How the agent decides.
    pub temperature: f64,
    /// Answer a question still open at the step limit.
    pub deadline_answer: bool,
    /// GIFs of the agent's successful and of its failed episodes, per scenario (each).
    pub gifs: usize,
    /// Frame side for the baselines when no checkpoint fixes it.
    pub size: u32,
    /// The renderer; `None`: the one that drew the agent's training data, else batch.
    pub renderer: Option<Renderer>,
    /// Output folder; `None`: CHECKPOINT/eval, else runs/eval.
    pub out: Option<PathBuf>,
}

/// What an evaluation wrote.
pub struct Evaluated {
    /// The result, as written to `eval.json`.
    pub result: EvalResult,
    /// Where it was written.
    pub path: PathBuf,
    /// The evaluation folder.
    pub dir: PathBuf,
}

/// Load an agent for closed-loop play: it must act in the env's action vocabulary.
pub fn load_player(path: &std::path::Path, device: &Device) -> Result<TrainedAgent> {
    let model = load_agent(path, device).with_context(|| format!("loading the agent {}", path.display()))?;
    let env_actions: Vec<String> = sandtable_env::decision_vocabulary().iter().map(|s| s.to_string()).collect();
    sandtable_agent::actions::check_playable(&model.actions, &format!("the agent {}", path.display()), &env_actions)?;
    Ok(model)
}

/// Play `job`'s episodes with each player, score and diagnose them, and write the result.
pub fn evaluate(job: &Evaluation, device: &Device) -> Result<Evaluated> {
    let model = job.checkpoint.as_deref().map(|c| load_player(c, device)).transpose()?;
    let mut players = job.players.clone();
    if players.is_empty() {
        players = if model.is_some() { vec![Player::Agent, Player::Random, Player::Expert] } else { vec![Player::Random, Player::Expert] };
    }
    players.sort();
    players.dedup();
    anyhow::ensure!(!players.contains(&Player::Agent) || model.is_some(), "--policy agent needs --checkpoint");
    let holdout: Vec<Pair> = match (&job.holdout, &model) {
        (Some(h), _) => h.clone(),
        (None, Some(m)) => m.card.holdout.clone(),
        (None, None) => Vec::new(),
    };
    let size = model.as_ref().map_or(job.size, |m| m.config.image_size as u32);
    // An agent sees frames like those it trained on unless asked otherwise.
    let renderer = job.renderer.or_else(|| model.as_ref().and_then(|m| m.card.renderer.parse().ok())).unwrap_or_default();
    let scenarios = load_scenarios(&job.scenarios)?;
    let total = job.episodes * scenarios.len() as u64;
    if let Some(m) = &model {
        check_unseen(m, job.seed, total)?;
    }
    let out = job.out.clone().unwrap_or_else(|| job.checkpoint.as_ref().map_or_else(|| PathBuf::from("runs/eval"), |c| c.join(sandtable_agent::run_dir::RunDir::EVAL)));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let config = StreamConfig { workers: job.workers, envs_per_worker: job.envs, width: size, height: size, renderer, ..StreamConfig::new(scenarios, job.seed, total) };

    let mut results = Vec::new();
    let mut wall_seconds = BTreeMap::new();
    let mut gifs = Vec::new();
    let mut lines = Vec::new();
    for &player in &players {
        let start = Instant::now();
        let bar = ProgressBar::new(total);
        bar.set_style(ProgressStyle::with_template("{prefix:>7} {bar:30} {pos}/{len} episodes {msg} ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar.set_prefix(player.name());
        let keep = if player == Player::Agent { job.gifs } else { 0 };
        let mut saver = GifSaver::new(out.join("gifs"), keep);
        let played = match player {
            Player::Agent => {
                let model = model.as_ref().context("--policy agent needs --checkpoint")?;
                let how = AgentPlay { temperature: job.temperature, seed: job.seed, deadline: job.deadline_answer };
                play_agent(config.clone(), model, device, how, &bar, &mut saver)?
            }
            Player::Random => play_policy(config.clone(), PolicySpec::Random, &bar)?,
            Player::Expert => play_policy(config.clone(), PolicySpec::Expert, &bar)?,
        };
        bar.finish_and_clear();
        gifs.extend(saver.written);
        wall_seconds.insert(player.name().to_string(), start.elapsed().as_secs_f64());
        for (scenario, eps) in &played {
            let held: Vec<&PlayedEpisode> = eps.iter().filter(|e| named_pair(&holdout, &e.mission).is_some()).collect();
            let mut subsets = vec![(ALL, eps.iter().collect::<Vec<_>>())];
            if !held.is_empty() {
                subsets.push((HOLDOUT_PAIRS, held));
            }
            for (subset, list) in subsets {
                let outcomes: Vec<Outcome> = list.iter().map(|e| e.outcome.clone()).collect();
                let failures = tally(list.iter().filter_map(|e| e.diagnosis.as_ref()));
                results.push(ResultRow { policy: player.name().into(), scenario: scenario.clone(), subset: subset.into(), summary: summarise(&outcomes), failures });
            }
            lines.extend(eps.iter().map(|e| EpisodeLine {
                policy: player.name().into(),
                scenario: scenario.clone(),
                index: e.index,
                seed: e.seed,
                mission: e.mission.clone(),
                success: e.outcome.success,
                length: e.outcome.length,
                episode_return: e.outcome.episode_return,
                answer: e.outcome.answer.as_ref().map(|a| a.0.clone()),
                given_answer: e.outcome.answer.as_ref().and_then(|a| a.1.clone()),
                diagnosis: e.diagnosis.clone(),
            }));
        }
    }
    let result = EvalResult {
        checkpoint: model.as_ref().map(|m| m.dir.clone()),
        scenarios: job.scenarios.clone(),
        episodes_per_scenario: job.episodes,
        base_seed: job.seed,
        seed_rule: SEED_RULE.into(),
        frame_size: size,
        renderer: renderer.name().to_string(),
        agent_temperature: job.temperature,
        agent_answers_at_deadline: job.deadline_answer,
        holdout_pairs: holdout.iter().map(Pair::to_string).collect(),
        wall_seconds,
        gifs: gifs.iter().map(|p: &PathBuf| p.strip_prefix(&out).unwrap_or(p).to_path_buf()).collect(),
        results,
    };
    let path = result.write(&out, &lines)?;
    Ok(Evaluated { result, path, dir: out })
}
