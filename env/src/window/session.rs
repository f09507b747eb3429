//! One play session: the env, who drives it, the episode in progress, and the rows it records.
//!
//! Rows are the stream's [`Transition`]s, so a recorded session is assembled into the normal
//! dataset format by the same code as `sandtable record`. The row of the latest step is held back
//! until the next one, so an episode the person abandons (reset, quit, closed window) can still be
//! marked truncated.

use std::sync::{Arc, Mutex, PoisonError};

use crate::action::{Action, Decision};
use crate::batch::{Env, EnvConfig};
use crate::expert::{expert_decision, has_expert};
use crate::observation::{Frame, Info};
use crate::render::Renderer;
use crate::stream::{Pending, RowOrigin, Transition};
use crate::task::scenario::Scenario;

/// Who decides when nobody presses a key: the scripted expert or a trained agent.
pub trait Pilot {
    /// The decision for the env in `pending` (its `expert` field holds the expert's choice).
    fn decide(&mut self, pending: &Pending) -> Result<Decision, String>;
    /// Episode `episode` is over; forget its history.
    fn finish(&mut self, _episode: u64) {}
}

/// The scripted expert as a pilot.
pub struct ExpertPilot;

impl Pilot for ExpertPilot {
    fn decide(&mut self, pending: &Pending) -> Result<Decision, String> {
        pending.expert.clone().ok_or_else(|| format!("scenario `{}` has no scripted expert", pending.scenario.name))
    }
}

/// Where recorded rows go; an error ends the session.
pub type Sink = Box<dyn FnMut(&Transition) -> Result<(), String>>;

/// How a play session is set up.
pub struct ViewerConfig {
    /// The scenario to play.
    pub scenario: Arc<Scenario>,
    /// The first episode's seed.
    pub seed: u64,
    /// The env's frame side, pixels.
    pub size: u32,
    /// How many screen pixels show one frame pixel.
    pub scale: u32,
    /// Show the top-down map beside the view.
    pub map: bool,
    /// The env's renderer.
    pub renderer: Renderer,
    /// A pilot's decisions per second.
    pub speed: f32,
    /// Close the window after this many finished episodes.
    pub episodes: Option<u64>,
    /// Where F12 screenshots go.
    pub screenshots: std::path::PathBuf,
    /// Start with the pilot paused.
    pub paused: bool,
    /// The driver's name, shown in the status line.
    pub driver: String,
}

/// What a session did, for the caller once the window has closed.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Finished episodes (including abandoned ones that took a step).
    pub episodes: u64,
    /// Of those, successes.
    pub successes: u64,
    /// Steps taken.
    pub steps: u64,
    /// The error that ended the session, if one did.
    pub error: Option<String>,
}

/// The play session, a non-send resource of the window's App.
pub struct Session {
    /// The env (its own headless Bevy App).
    pub env: Env,
    /// The setup.
    pub config: ViewerConfig,
    /// The current episode's seed.
    pub seed: u64,
    /// The current episode's index in this session.
    pub episode: u64,
    /// The frame the view shows.
    pub frame: Frame,
    /// The ground truth of that frame.
    pub info: Info,
    /// The mission text.
    pub mission: Arc<str>,
    /// The latest reward and the episode's return.
    pub reward: f32,
    /// The episode's return so far.
    pub episode_return: f32,
    /// The episode ended; the next one starts after a short pause or on R / N.
    pub over: bool,
    /// Seconds since the episode ended, or since the pilot's last decision.
    pub timer: f32,
    /// The pilot waits for P or `.`.
    pub paused: bool,
    /// The answer being typed, while the answer box is open.
    pub answer: Option<String>,
    /// A remark for the answer box (an unknown word).
    pub notice: Option<String>,
    /// Something changed since the window last drew the view.
    pub dirty: bool,
    /// Screenshots taken.
    pub screenshots: u32,
    pilot: Option<Box<dyn Pilot>>,
    sink: Option<Sink>,
    held_row: Option<Transition>,
    summary: Arc<Mutex<Summary>>,
    fresh_seeds: u64,
}

impl Session {
    /// Build the env and start the first episode.
    pub fn new(config: ViewerConfig, pilot: Option<Box<dyn Pilot>>, sink: Option<Sink>, summary: Arc<Mutex<Summary>>) -> crate::Result<Self> {
        let env_config = EnvConfig { width: config.size, height: config.size, renderer: config.renderer, ..EnvConfig::new(config.scenario.clone()) };
        let mut env = Env::with_config(env_config)?;
        let (obs, info) = env.reset(config.seed)?;
        Ok(Self {
            env,
            seed: config.seed,
            episode: 0,
            frame: obs.frame,
            info,
            mission: obs.mission.into(),
            reward: 0.0,
            episode_return: 0.0,
            over: false,
            timer: 0.0,
            paused: config.paused,
            answer: None,
            notice: None,
            dirty: true,
            screenshots: 0,
            pilot,
            sink,
            held_row: None,
            summary,
            fresh_seeds: 0,
            config,
        })
    }

    /// Whether a pilot drives.
    pub fn piloted(&self) -> bool {
        self.pilot.is_some()
    }

    /// The finished-episode count.
    pub fn finished(&self) -> u64 {
        self.summary.lock().unwrap_or_else(PoisonError::into_inner).episodes
    }

    /// Record the error that ends the session.
    pub fn fail(&self, error: String) {
        self.summary.lock().unwrap_or_else(PoisonError::into_inner).error.get_or_insert(error);
    }

    fn expert_label(&self) -> Option<Decision> {
        if !has_expert(&self.config.scenario) {
            return None;
        }
        self.env.state().map(expert_decision)
    }

    /// What this episode's rows repeat.
    fn origin(&self) -> RowOrigin {
        RowOrigin { worker: 0, slot: 0, episode: self.episode, scenario: self.config.scenario.clone(), seed: self.seed, mission: self.mission.clone() }
    }

    fn emit(&mut self, row: &Transition) -> Result<(), String> {
        match self.sink.as_mut() {
            Some(sink) => sink(row),
            None => Ok(()),
        }
    }

    /// The pilot's decision for the current frame.
    pub fn pilot_decision(&mut self) -> Result<Option<Decision>, String> {
        if self.pilot.is_none() || self.over {
            return Ok(None);
        }
        let pending = Pending {
            slot: 0,
            episode: self.episode,
            scenario: self.config.scenario.clone(),
            step: self.info.step,
            frame: self.frame.clone(),
            mission: self.mission.clone(),
            info: self.info.clone(),
            expert: self.expert_label(),
        };
        self.pilot.as_mut().map(|p| p.decide(&pending)).transpose()
    }

    /// Take `decision` in the env.
    pub fn act(&mut self, decision: Decision) -> Result<(), String> {
        if self.over {
            return Ok(());
        }
        let question = self.config.scenario.task.answer.is_some();
        // Outside question scenarios an answer is not a move: the env refuses it.
        let decision = match decision {
            Decision::Answer(_) if !question => Decision::Act(Action::Noop),
            d => d,
        };
        let label = self.expert_label();
        let step = match &decision {
            Decision::Act(a) => self.env.step(*a),
            Decision::Answer(word) => self.env.answer(word),
        }
        .map_err(|e| e.to_string())?;
        if let Some(row) = self.held_row.take() {
            self.emit(&row)?;
        }
        let frame = std::mem::replace(&mut self.frame, step.obs.frame);
        let info = std::mem::replace(&mut self.info, step.info);
        self.held_row = Some(self.origin().step_row(frame, info, decision, label, (step.reward, step.terminated, step.truncated)));
        self.reward = step.reward;
        self.episode_return += step.reward;
        self.summary.lock().unwrap_or_else(PoisonError::into_inner).steps += 1;
        self.dirty = true;
        self.timer = 0.0;
        if step.terminated || step.truncated {
            self.end_episode(false)?;
        }
        Ok(())
    }

    /// Pick up when nothing is held, else drop.
    pub fn pick_or_drop(&mut self) -> Result<(), String> {
        let action = if self.info.held.is_some() { Action::Drop } else { Action::PickUp };
        self.act(Decision::Act(action))
    }

    /// Close the episode: flush its rows (the last one truncated when `abandoned`). An episode
    /// that took no step records nothing.
    pub fn end_episode(&mut self, abandoned: bool) -> Result<(), String> {
        if self.over {
            return Ok(());
        }
        self.over = true;
        self.timer = 0.0;
        let Some(mut last) = self.held_row.take() else { return Ok(()) };
        if abandoned {
            last.truncated = true;
        }
        self.emit(&last)?;
        let end = self.origin().last_row(self.frame.clone(), self.info.clone());
        self.emit(&end)?;
        {
            let mut summary = self.summary.lock().unwrap_or_else(PoisonError::into_inner);
            summary.episodes += 1;
            summary.successes += u64::from(self.info.success);
        }
        if let Some(p) = self.pilot.as_mut() {
            p.finish(self.episode);
        }
        Ok(())
    }

    /// Start a new episode: with the next seed, or a fresh one derived from the session.
    pub fn reset(&mut self, next_seed: bool) -> Result<(), String> {
        self.end_episode(true)?;
        self.seed = if next_seed {
            self.seed.wrapping_add(1)
        } else {
            self.fresh_seeds += 1;
            crate::stream::episode_seed(self.seed ^ 0x5eed_f00d, self.fresh_seeds)
        };
        let (obs, info) = self.env.reset(self.seed).map_err(|e| e.to_string())?;
        self.episode += 1;
        self.frame = obs.frame;
        self.info = info;
        self.mission = obs.mission.into();
        self.reward = 0.0;
        self.episode_return = 0.0;
        self.over = false;
        self.timer = 0.0;
        self.answer = None;
        self.dirty = true;
        Ok(())
    }
}

impl Drop for Session {
    /// A window closed mid-episode still records what was played.
    fn drop(&mut self) {
        if let Err(e) = self.end_episode(true) {
            self.fail(e);
        }
    }
}
