//! Online imitation, DAgger (Ross et al. 2011): the agent plays live envs, the expert labels
//! every state it visits with the decision it would take there, the labelled steps join one
//! aggregated dataset, and the agent trains on all of it; round after round.
//!
//! Round 0 is the expert's own play (β = 1). From round 1 the agent plays, and each decision is
//! the expert's instead with probability β, which decays (`finetune.online` in the config).
//! Demonstrations given beside (`--data`) join every round's training set, so round 0 is
//! behaviour cloning on them and the expert's play, and the later rounds add the labels of the
//! agent's own states to them rather than replacing them.
//!
//! Each round's episodes are committed to the dataset as one shard, so a run killed while
//! playing resumes by replaying that round from the same checkpoint, and one killed while
//! training resumes from its last checkpoint: both exactly.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sandtable_agent::checkpoint::TrainState;
use sandtable_agent::codes::CodeCache;
use sandtable_agent::config::Config;
use sandtable_agent::controller::Controller;
use sandtable_agent::dataset::{Dataset, DatasetInfo, DatasetWriter};
use sandtable_agent::finetune::{Finetune, finetune};
use sandtable_agent::loader::{TrainedAgent, load_agent};
use sandtable_agent::plot::{Series, line_chart};
use sandtable_agent::run_dir::{MetricsRow, OnlineRound, OnlineStage, PlayTiming, RunDir};
use sandtable_agent::runner::Observer;
use sandtable_env::task::{answer_vocabulary, template_text};
use sandtable_env::{Action, Decider, Decision, Renderer, Scenario, Stream, StreamConfig, has_expert};

use crate::live::assembler::{EpisodeAssembler, dataset_info};
use crate::live::closed_loop::agent_decisions;

/// The policy name the aggregated dataset records.
const POLICY: &str = "dagger";

/// An online fine-tuning request.
pub struct Online<'a> {
    /// Scenarios played, round robin by episode.
    pub scenarios: Vec<Arc<Scenario>>,
    /// Env worker threads.
    pub workers: usize,
    /// Envs per worker.
    pub envs: usize,
    /// Which renderer draws the frames.
    pub renderer: Renderer,
    /// Recorded demonstrations trained on beside the aggregated dataset in every round.
    pub demos: Vec<PathBuf>,
    /// How to fine-tune: its init, held-out pairs, run directory, `resume` (continue the run),
    /// `until` (stop at that step) and frozen trunk apply to the whole online run; its data,
    /// vocabulary and split are the aggregated dataset's, set each round.
    pub tuning: Finetune<'a>,
}

/// Every word the scenarios' missions and answers can use, so the vocabulary is fixed from
/// round 0 however the data grows.
fn vocabulary_texts(scenarios: &[Arc<Scenario>]) -> Vec<String> {
    let mut texts: Vec<String> = scenarios.iter().map(|s| template_text(&s.task.mission)).collect();
    texts.extend(answer_vocabulary());
    texts
}

/// Whether round `round`'s decision for `episode` at `step` is the expert's: a coin of
/// probability `beta` drawn from the seed, the episode and the step alone, so it never depends
/// on which worker or batch the env is in.
fn expert_turn(seed: u64, episode: u64, step: u32, beta: f64) -> bool {
    let key = seed ^ 0xDA66_E400 ^ episode.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(step).wrapping_mul(0xD1B5_4A32_D192_ED03);
    ChaCha8Rng::seed_from_u64(key).random::<f64>() < beta
}

/// Train online, reporting the rounds and their training to `obs`; returns the state reached.
pub fn online(cfg: &Config, job: &Online<'_>, device: &Device, obs: &mut dyn Observer) -> Result<TrainState> {
    for s in &job.scenarios {
        anyhow::ensure!(
            has_expert(s),
            "scenario `{}` has no expert to label the states the agent visits (it needs a success condition naming an object to reach, hold or place, or a question); --online cannot train on it",
            s.name
        );
    }
    let on = &cfg.finetune.online;
    anyhow::ensure!(on.rounds <= cfg.finetune.steps, "finetune.online.rounds {} exceeds the {} fine-tuning steps", on.rounds, cfg.finetune.steps);
    let run = RunDir::new(job.tuning.run);
    // The same check as every training run's: the rounds inside resume whatever this allows.
    run.claim(job.tuning.resume)?;
    let data_dir = run.online();
    // Checks a resumed dataset against this run (seed, scenarios, vocabularies) and drops the
    // uncommitted rest of an interrupted round.
    let collected = open_writer(cfg, job, run.has_online_data())?.committed_episodes();
    anyhow::ensure!(collected % on.episodes == 0, "{} holds {collected} episodes, not whole rounds of {}", data_dir.display(), on.episodes);
    if run.has_checkpoint() {
        // An extended run whose steps did not grow with its rounds would play them and never
        // train on what they gathered.
        let trained = sandtable_agent::checkpoint::load_state(&sandtable_agent::checkpoint::resolve(run.root())?)?.step;
        let next = collected / on.episodes;
        let ends = on.steps_until(next, cfg.finetune.steps);
        anyhow::ensure!(
            next >= on.rounds || ends > trained,
            "round {next} would end at step {ends} but the run has trained {trained} steps already; more --rounds need more --steps"
        );
    }
    if let Some(init) = job.tuning.init {
        sandtable_agent::checkpoint::resolve(init).with_context(|| format!("--init {}", init.display()))?;
    }
    // The config is the run's from the start, so a run killed in round 0's play resumes with it.
    let config_path = run.file(RunDir::CONFIG);
    if !config_path.is_file() {
        let text = serde_json::to_string_pretty(cfg).context("describing the config")?;
        sandtable_agent::atomic::write_atomic(&config_path, text.as_bytes()).with_context(|| format!("writing {}", config_path.display()))?;
    }
    let texts = vocabulary_texts(&job.scenarios);
    // The tokenizer stays frozen through all rounds, so a frame's codes are encoded once.
    let codes = CodeCache::default();
    let mut state = None;
    let mut played = None;
    for round in 0..on.rounds {
        let collected = DatasetInfo::load(&data_dir).context("reading the aggregated dataset")?.total_episodes;
        let start_step = if round == 0 { 0 } else { on.steps_until(round - 1, cfg.finetune.steps) };
        if job.tuning.until.is_some_and(|u| u <= start_step) && round > 0 {
            break;
        }
        if collected / on.episodes <= round {
            let model = (round > 0).then(|| load_agent(run.root(), device)).transpose().context("loading the agent for its rollouts")?;
            let beta = on.beta_of(round);
            played = Some(play_round(cfg, job, round, beta, model.as_ref(), device, obs)?);
        }
        let mut data = vec![Dataset::open(&data_dir).context("opening the aggregated dataset")?];
        log_round(&run, &data[0], cfg, round, start_step, played.take(), obs)?;
        for d in &job.demos {
            data.push(Dataset::open(d).with_context(|| format!("opening dataset {}", d.display()))?);
        }
        // Claimed above: each round continues the run wherever it stands.
        let until = on.steps_until(round, cfg.finetune.steps).min(job.tuning.until.unwrap_or(u64::MAX));
        let ft = Finetune { data: &data, resume: true, until: Some(until), vocab_texts: &texts, stable_split: true, codes: Some(&codes), ..job.tuning };
        let reached = finetune(cfg, &ft, device, obs).with_context(|| format!("training round {round}"))?;
        state = Some(reached);
    }
    state.context("no round was run")
}

/// Play round `round`'s episodes with the agent (or, in round 0, the expert), label every state
/// with the expert's decision, and commit them as one shard.
fn play_round(cfg: &Config, job: &Online<'_>, round: u64, beta: f64, model: Option<&TrainedAgent>, device: &Device, obs: &mut dyn Observer) -> Result<PlayTiming> {
    let on = &cfg.finetune.online;
    let mut writer = open_writer(cfg, job, true)?;
    let first = round * on.episodes;
    let size = cfg.image_size as u32;
    let config = StreamConfig {
        episodes: (first..first + on.episodes).collect(),
        workers: job.workers,
        envs_per_worker: job.envs,
        width: size,
        height: size,
        expert_labels: true,
        renderer: job.renderer,
        ..StreamConfig::new(job.scenarios.clone(), cfg.train.seed, 0)
    };
    obs.on_round_start(round, on.episodes);
    let controller = model.map(|m| RefCell::new(Controller::new(m, device)));
    let seed = cfg.train.seed;
    let (mut failure, mut write_failure): (Option<anyhow::Error>, Option<anyhow::Error>) = (None, None);
    let (mut episodes, mut wins, mut done) = (EpisodeAssembler::labelled(), 0u64, 0u64);
    let (mut labels, mut dataset_episodes) = (writer.committed_frames() - writer.committed_episodes(), writer.committed_episodes());
    let stream = Stream::spawn(config, Decider::External).context("starting the env workers")?;
    let start = Instant::now();
    let (mut agent_seconds, mut decisions, mut rows) = (0.0, 0u64, 0u64);
    let result = stream.drive(
        |pending| {
            let labels: Vec<Decision> = pending.iter().map(|p| p.expert.clone().unwrap_or(Decision::Act(Action::Noop))).collect();
            let Some(ctl) = &controller else { return labels };
            // The agent sees every frame, whoever acts, so its history is the episode's.
            let t0 = Instant::now();
            let decided = agent_decisions(&mut ctl.borrow_mut(), pending);
            agent_seconds += t0.elapsed().as_secs_f64();
            decisions += pending.len() as u64;
            match decided {
                Ok(agent) => pending.iter().zip(labels).zip(agent).map(|((p, label), a)| if expert_turn(seed, p.episode, p.step, beta) { label } else { a }).collect(),
                Err(e) => {
                    failure.get_or_insert_with(|| anyhow::Error::new(e).context("the agent failed to decide"));
                    pending.iter().map(|_| Decision::Act(Action::Done)).collect()
                }
            }
        },
        |t| {
            rows += 1;
            labels += u64::from(t.expert.is_some());
            if let Some(ep) = episodes.push(&t) {
                if let Some(ctl) = &controller {
                    ctl.borrow_mut().finish(ep.meta.index);
                }
                done += 1;
                dataset_episodes += 1;
                wins += u64::from(ep.meta.success);
                obs.on_round_episode(&format!("β {beta:.2} | success {:.1}% | {labels} expert labels | {dataset_episodes} episodes", 100.0 * wins as f64 / done as f64));
                if let Err(e) = writer.push(ep) {
                    write_failure.get_or_insert_with(|| anyhow::Error::new(e).context("writing the aggregated dataset"));
                }
            }
        },
    );
    if let Some(e) = failure.or(write_failure) {
        return Err(e);
    }
    result.with_context(|| format!("playing round {round}"))?;
    let timing = PlayTiming { seconds: start.elapsed().as_secs_f64(), agent_seconds, rows, decisions };
    let info = writer.finish().context("committing the round to the aggregated dataset")?;
    tracing::info!(round, beta, success = wins as f64 / done.max(1) as f64, episodes = info.total_episodes, frames = info.total_frames, "round played");
    Ok(timing)
}

/// The aggregated dataset's writer: continued where `existing`, else new. It cuts no shard of
/// its own, so a round lands whole at `finish` or not at all.
fn open_writer(cfg: &Config, job: &Online<'_>, existing: bool) -> Result<DatasetWriter> {
    let on = &cfg.finetune.online;
    let dir = RunDir::new(job.tuning.run).online();
    let info = dataset_info(&job.scenarios, cfg.image_size as u32, job.renderer, cfg.train.seed, POLICY, on.rounds * on.episodes)?;
    if existing {
        DatasetWriter::resume(&dir, info, u64::MAX).with_context(|| format!("resuming the aggregated dataset {}", dir.display()))
    } else {
        DatasetWriter::create(&dir, info, u64::MAX).with_context(|| format!("creating the aggregated dataset {}", dir.display()))
    }
}

/// What round `round` adds to `metrics.jsonl` (once, at the step its training starts): β, the
/// success of its rollouts per scenario and overall, the expert labels so far and the dataset's
/// size. Everything is read back from the dataset, so a resumed run logs the same line.
fn log_round(run: &RunDir, data: &Dataset, cfg: &Config, round: u64, step: u64, play: Option<PlayTiming>, obs: &mut dyn Observer) -> Result<()> {
    if run.online_rounds().iter().any(|r| r.round == round) {
        // A run killed between the line and the plot redraws it here.
        return plot_rounds(run);
    }
    let on = &cfg.finetune.online;
    let mut by_scenario = std::collections::BTreeMap::<String, (u64, u64)>::new();
    for i in (round * on.episodes) as usize..data.num_episodes().min(((round + 1) * on.episodes) as usize) {
        let ep = data.episode(i)?;
        let e = by_scenario.entry(ep.meta.scenario.clone()).or_default();
        e.0 += u64::from(ep.meta.success);
        e.1 += 1;
    }
    // Every row but an episode's last holds a label.
    let info: &DatasetInfo = data.info();
    let (wins, n) = by_scenario.values().fold((0, 0), |(w, n), (a, b)| (w + a, n + b));
    let row = OnlineRound {
        stage: OnlineStage::Online,
        step,
        round,
        beta: on.beta_of(round),
        success: wins as f64 / n.max(1) as f64,
        success_by_scenario: by_scenario.iter().map(|(k, (w, n))| (k.clone(), *w as f64 / (*n).max(1) as f64)).collect(),
        labels: info.total_frames - info.total_episodes,
        episodes: info.total_episodes,
        frames: info.total_frames,
        play,
    };
    run.open_metrics()?.append(&MetricsRow::Round(row.clone()))?;
    obs.on_round(&row);
    plot_rounds(run)
}

/// `online_success.svg`: each round's rollout success per scenario against the expert labels
/// gathered before it, the online learning curve.
fn plot_rounds(run: &RunDir) -> Result<()> {
    let mut series: Vec<Series> = Vec::new();
    let mut labels_before = 0.0;
    for r in run.online_rounds() {
        for (name, success) in &r.success_by_scenario {
            let point = (labels_before, 100.0 * success);
            match series.iter_mut().find(|s| &s.label == name) {
                Some(s) => s.points.push(point),
                None => series.push(Series { label: name.clone(), points: vec![point], dashed: false, color: None }),
            }
        }
        labels_before = r.labels as f64;
    }
    let path = run.file("online_success.svg");
    line_chart(&path, "Online rounds: rollout success (round 0 is the expert)", "expert labels before the round", "success (%)", &series, false).context("plotting the online rounds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expert_coin_follows_beta_and_repeats() {
        let share = |beta| (0..4000u32).filter(|&s| expert_turn(7, u64::from(s % 40), s, beta)).count() as f64 / 4000.0;
        assert!((share(0.25) - 0.25).abs() < 0.03);
        assert_eq!(share(0.0), 0.0);
        assert_eq!(share(1.0), 1.0);
        assert_eq!(expert_turn(7, 3, 9, 0.5), expert_turn(7, 3, 9, 0.5));
    }
}
