//! Closed-loop play in live envs: the fine-tuned agent drives the envs through the
//! agent-in-the-loop stream (frames in, decisions out, no expert help), or a built-in policy plays
//! the same seeds; every finished episode becomes an outcome.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use sandtable_agent::AgentError;
use sandtable_agent::controller::{Choice, Controller, Request};
use sandtable_agent::dataset::{EpisodeData, EpisodeMeta};
use sandtable_agent::loader::TrainedAgent;
use sandtable_agent::score::Outcome;
use sandtable_env::{Action, Decision, Decider, Event, Pending, PolicySpec, Stream, StreamConfig, Transition};

use crate::live::assembler::EpisodeAssembler;
use crate::live::diagnosis::{Diagnoser, Diagnosis};
use crate::live::gifs::GifSaver;

/// One played episode.
#[derive(Clone, Debug)]
pub struct PlayedEpisode {
    /// Episode index.
    pub index: u64,
    /// The episode's seed.
    pub seed: u64,
    /// Mission or question.
    pub mission: String,
    /// How it went.
    pub outcome: Outcome,
    /// Why it failed, for scenarios with a target object.
    pub diagnosis: Option<Diagnosis>,
}

/// Results of one player: per scenario, its episodes in episode order.
pub type Played = BTreeMap<String, Vec<PlayedEpisode>>;

/// Episodes and their diagnoses, assembled from the stream's transitions.
#[derive(Default)]
struct Collector {
    episodes: EpisodeAssembler,
    diagnoser: Diagnoser,
    played: Played,
}

impl Collector {
    /// Add a row; returns the episode and its diagnosis when it was its last (both end on the
    /// same row).
    fn push(&mut self, t: &Transition) -> Option<(EpisodeData, Option<Diagnosis>)> {
        let diagnosis = self.diagnoser.push(t);
        self.episodes.push(t).map(|ep| (ep, diagnosis))
    }

    fn record(&mut self, (ep, diagnosis): (EpisodeData, Option<Diagnosis>), bar: &ProgressBar) {
        let m = ep.meta;
        let outcome = outcome(&m);
        self.played.entry(m.scenario).or_default().push(PlayedEpisode { index: m.index, seed: m.seed, mission: m.mission, outcome, diagnosis });
        let done: usize = self.played.values().map(Vec::len).sum();
        let wins: usize = self.played.values().flat_map(|v| v.iter()).filter(|e| e.outcome.success).count();
        bar.inc(1);
        bar.set_message(format!("success {:.1}%", 100.0 * wins as f64 / done.max(1) as f64));
    }

    /// Episodes arrive in completion order; report them in episode order.
    fn finish(mut self) -> Played {
        for list in self.played.values_mut() {
            list.sort_by_key(|e| e.index);
        }
        self.played
    }
}

/// A finished episode's outcome: its decisions are its rows but the last.
fn outcome(meta: &EpisodeMeta) -> Outcome {
    Outcome {
        success: meta.success,
        length: u32::try_from(meta.length.saturating_sub(1)).unwrap_or(u32::MAX),
        episode_return: meta.episode_return,
        answer: meta.answer.clone().map(|truth| (truth, meta.given_answer.clone())),
    }
}

/// Play every episode of `config` with a built-in policy.
pub fn play_policy(config: StreamConfig, spec: PolicySpec, bar: &ProgressBar) -> Result<Played> {
    let mut stream = Stream::spawn(config, Decider::Policy(spec)).context("starting the env workers")?;
    let mut collector = Collector::default();
    while let Some(event) = stream.recv().context("playing")? {
        let Event::Transition(t) = event else { anyhow::bail!("a built-in policy never asks for decisions") };
        if let Some(done) = collector.push(&t) {
            collector.record(done, bar);
        }
    }
    Ok(collector.finish())
}

/// The agent's decisions for the envs waiting in `pending`, in order.
pub fn agent_decisions<'a>(controller: &mut Controller<'_>, pending: &'a [Pending]) -> Result<Vec<Decision>, AgentError> {
    let request = |p: &'a Pending| Request {
        episode: p.episode,
        mission: &p.mission,
        frame: &p.frame.rgb,
        question: p.scenario.task.answer.is_some(),
        last: p.step.saturating_add(1) >= p.scenario.max_steps,
    };
    let requests: Vec<Request<'_>> = pending.iter().map(request).collect();
    Ok(controller
        .decide(&requests)?
        .into_iter()
        .map(|c| match c {
            // By name: a model trained before `toggle` existed numbers `answer` differently.
            Choice::Act(a) => Decision::Act(controller.action_name(a).and_then(|n| n.parse().ok()).or_else(|| Action::from_index(a as u8)).unwrap_or(Action::Noop)),
            Choice::Answer(w) => Decision::Answer(w),
        })
        .collect())
}

/// How the fine-tuned agent decides in closed-loop play.
#[derive(Clone, Copy, Debug)]
pub struct AgentPlay {
    /// Action temperature (0: the most likely action).
    pub temperature: f64,
    /// Seed of the action draws.
    pub seed: u64,
    /// Answer a question still open at the step limit (see [`Controller::answering_at_deadline`]).
    pub deadline: bool,
}

/// Play every episode of `config` with the fine-tuned agent in the loop, offering each finished
/// episode to `saver`.
pub fn play_agent(config: StreamConfig, model: &TrainedAgent, device: &candle_core::Device, how: AgentPlay, bar: &ProgressBar, saver: &mut GifSaver) -> Result<Played> {
    let size = config.width;
    let stream = Stream::spawn(config, Decider::External).context("starting the env workers")?;
    let controller = std::cell::RefCell::new(Controller::new(model, device).sampling(how.temperature, how.seed).answering_at_deadline(how.deadline));
    let mut failure: Option<anyhow::Error> = None;
    let mut collector = Collector::default();
    let mut save_error: Option<anyhow::Error> = None;
    let result = stream.drive(
        |pending| match agent_decisions(&mut controller.borrow_mut(), pending) {
            Ok(decisions) => decisions,
            Err(e) => {
                // Keep the workers moving to the end; the error is reported after.
                failure.get_or_insert_with(|| anyhow::Error::new(e).context("the agent failed to decide"));
                pending.iter().map(|_| Decision::Act(Action::Done)).collect()
            }
        },
        |t| {
            if let Some(done) = collector.push(&t) {
                controller.borrow_mut().finish(done.0.meta.index);
                if let Err(e) = saver.offer(&done.0, size) {
                    save_error.get_or_insert(e);
                }
                collector.record(done, bar);
            }
        },
    );
    if let Some(e) = failure {
        return Err(e);
    }
    result.context("playing with the agent")?;
    if let Some(e) = save_error {
        return Err(e.context("writing episode GIFs"));
    }
    Ok(collector.finish())
}
