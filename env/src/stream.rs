//! Vectorised envs streaming over channels: K worker threads, each owning one [`EnvBatch`], play
//! episodes and send every transition to one consumer over a bounded channel. The consumer may
//! also drive the envs (agent in the loop) by answering [`Query`]s with decisions.
//!
//! Episode `i` plays scenario `i mod S` with seed [`episode_seed`]`(base, i)`, and the `k`-th
//! requested episode always goes to env slot `k mod (K·E)`, so what is played never depends on
//! thread timing; only the interleaving of different episodes' messages does.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use crate::action::Decision;
use crate::batch::{Advanced, EnvBatch, EnvConfig, Directive};
use crate::error::{EnvError, Result};
use crate::expert::expert_decision;
use crate::observation::{Frame, Info, Step};
use crate::render::Renderer;
use crate::policy::{Policy, PolicySpec};
use crate::task::scenario::Scenario;

/// The seed of episode `episode` under `base_seed`: distinct for distinct episodes of one base.
pub fn episode_seed(base_seed: u64, episode: u64) -> u64 {
    // splitmix64 is a bijection, so distinct episodes of one base never share a seed.
    splitmix64(splitmix64(base_seed) ^ episode)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What to play and on how many threads.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// Scenarios, used round robin by episode index.
    pub scenarios: Vec<Arc<Scenario>>,
    /// Every episode's seed derives from this.
    pub base_seed: u64,
    /// The episode indices to play.
    pub episodes: Vec<u64>,
    /// Worker threads (K), each with its own Bevy App.
    pub workers: usize,
    /// Envs per worker's App (E).
    pub envs_per_worker: usize,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Messages the channel holds before workers block.
    pub capacity: usize,
    /// Ask the scripted expert, on each visited state, what it would do there: the label goes
    /// into [`Pending::expert`] and [`Transition::expert`] (online imitation, DAgger).
    pub expert_labels: bool,
    /// Which renderer draws the frames.
    pub renderer: Renderer,
}

impl StreamConfig {
    /// Episodes `0..episodes` of `scenarios` on one worker with 4 envs, 64×64 frames.
    pub fn new(scenarios: Vec<Arc<Scenario>>, base_seed: u64, episodes: u64) -> Self {
        Self { scenarios, base_seed, episodes: (0..episodes).collect(), workers: 1, envs_per_worker: 4, width: 64, height: 64, capacity: 256, expert_labels: false, renderer: Renderer::default() }
    }

    /// The scenario episode `episode` plays.
    pub fn scenario_of(&self, episode: u64) -> &Arc<Scenario> {
        &self.scenarios[(episode % self.scenarios.len() as u64) as usize]
    }

    fn validate(&self) -> Result<()> {
        if self.scenarios.is_empty() {
            return Err(EnvError::Config("a stream needs at least one scenario".into()));
        }
        if !(1..=64).contains(&self.workers) {
            return Err(EnvError::Config(format!("workers must be in 1..=64, got {}", self.workers)));
        }
        if self.envs_per_worker == 0 || self.capacity == 0 {
            return Err(EnvError::Config("envs per worker and channel capacity must be at least 1".into()));
        }
        Ok(())
    }

    /// The episodes each env slot of worker `w` plays, in order.
    fn assignment(&self, w: usize) -> Vec<VecDeque<u64>> {
        let slots = self.workers * self.envs_per_worker;
        let mut out = vec![VecDeque::new(); self.envs_per_worker];
        for (k, &e) in self.episodes.iter().enumerate() {
            let g = k % slots;
            if g / self.envs_per_worker == w {
                out[g % self.envs_per_worker].push_back(e);
            }
        }
        out
    }
}

/// Who decides the actions.
#[derive(Clone, Debug)]
pub enum Decider {
    /// A built-in policy inside the workers, seeded per episode.
    Policy(PolicySpec),
    /// The consumer, by answering each [`Query`] (agent in the loop).
    External,
}

/// One row of an episode: a frame, what was done from it and what that earned.
#[derive(Clone, Debug)]
pub struct Transition {
    /// Which worker played it.
    pub worker: usize,
    /// Which env of that worker's batch.
    pub slot: usize,
    /// Episode index.
    pub episode: u64,
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// The episode's seed.
    pub seed: u64,
    /// Frame index within the episode (0 is the reset frame).
    pub step: u32,
    /// The frame.
    pub frame: Frame,
    /// Mission or question text.
    pub mission: Arc<str>,
    /// Ground truth at this frame (including the true answer for questions).
    pub info: Info,
    /// What was done from this frame; `None` on the episode's last frame.
    pub decision: Option<Decision>,
    /// What the expert would have done from this frame (with [`StreamConfig::expert_labels`];
    /// `None` otherwise and on the last frame).
    pub expert: Option<Decision>,
    /// Reward for the decision (0 on the last frame).
    pub reward: f32,
    /// The decision ended the episode by success or failure.
    pub terminated: bool,
    /// The decision ended the episode by the step budget.
    pub truncated: bool,
}

impl Transition {
    /// Whether this is the episode's last frame.
    pub fn is_last(&self) -> bool {
        self.decision.is_none()
    }
}

/// What every row of one episode repeats: where it was played and which episode it is.
#[derive(Clone, Debug)]
pub struct RowOrigin {
    /// Which worker plays it.
    pub worker: usize,
    /// Which env of that worker's batch.
    pub slot: usize,
    /// Episode index.
    pub episode: u64,
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// The episode's seed.
    pub seed: u64,
    /// Mission or question text.
    pub mission: Arc<str>,
}

impl RowOrigin {
    fn row(&self, frame: Frame, info: Info, decision: Option<Decision>, expert: Option<Decision>, ends: (f32, bool, bool)) -> Transition {
        let (reward, terminated, truncated) = ends;
        Transition {
            worker: self.worker,
            slot: self.slot,
            episode: self.episode,
            scenario: self.scenario.clone(),
            seed: self.seed,
            step: info.step,
            frame,
            mission: self.mission.clone(),
            info,
            decision,
            expert,
            reward,
            terminated,
            truncated,
        }
    }

    /// The row of `decision` taken from `frame` (with the expert's `label`); `ends` is the
    /// step's reward, terminated and truncated.
    pub fn step_row(&self, frame: Frame, info: Info, decision: Decision, label: Option<Decision>, ends: (f32, bool, bool)) -> Transition {
        self.row(frame, info, Some(decision), label, ends)
    }

    /// The episode's last row: its final frame, with no decision and no reward.
    pub fn last_row(&self, frame: Frame, info: Info) -> Transition {
        self.row(frame, info, None, None, (0.0, false, false))
    }
}

/// An env waiting for a decision, as the consumer sees it.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Which env of the worker's batch.
    pub slot: usize,
    /// Episode index.
    pub episode: u64,
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// Frame index within the episode.
    pub step: u32,
    /// The current frame.
    pub frame: Frame,
    /// Mission or question text.
    pub mission: Arc<str>,
    /// Ground truth (for scoring and scripted consumers; a learned policy should not read it).
    pub info: Info,
    /// The expert's decision for this state (with [`StreamConfig::expert_labels`]).
    pub expert: Option<Decision>,
}

/// A worker's request for one decision per pending env; answer it with [`Query::reply`].
pub struct Query {
    /// Which worker asks.
    pub worker: usize,
    /// The envs that need a decision.
    pub pending: Vec<Pending>,
    reply: Sender<Vec<Decision>>,
}

impl Query {
    /// Send one decision per pending env, in order.
    pub fn reply(self, decisions: Vec<Decision>) -> Result<()> {
        if decisions.len() != self.pending.len() {
            return Err(EnvError::Config(format!("{} decisions for {} pending envs", decisions.len(), self.pending.len())));
        }
        // A worker that has gone away has nothing left to drive.
        let _ = self.reply.send(decisions);
        Ok(())
    }
}

/// What the consumer receives.
pub enum Event {
    /// A row of some episode.
    Transition(Box<Transition>),
    /// Decisions wanted (only with [`Decider::External`]).
    Query(Query),
}

enum Msg {
    Event(Event),
    Finished,
    Failed(String),
}

/// The consumer's end: K workers playing the configured episodes.
///
/// Dropping it stops the workers and waits for them; a failed or panicking worker is an error
/// from [`Stream::recv`], never a hang.
pub struct Stream {
    rx: Option<Receiver<(usize, Msg)>>,
    handles: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    running: usize,
}

impl Stream {
    /// Start the workers. Each builds its own Bevy App on its own thread.
    pub fn spawn(config: StreamConfig, decider: Decider) -> Result<Self> {
        config.validate()?;
        let (tx, rx) = bounded(config.capacity);
        let stop = Arc::new(AtomicBool::new(false));
        let config = Arc::new(config);
        let mut handles = Vec::with_capacity(config.workers);
        for w in 0..config.workers {
            let (tx, config, decider, stop) = (tx.clone(), config.clone(), decider.clone(), stop.clone());
            let handle = std::thread::Builder::new()
                .name(format!("env-worker-{w}"))
                .spawn(move || {
                    let mut sink = ChannelSink { worker: w, tx: tx.clone(), stop };
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| run_worker(w, &config, &decider, &mut sink)));
                    let msg = match result {
                        Ok(Ok(())) => Msg::Finished,
                        Ok(Err(Exit::Closed)) => return,
                        Ok(Err(Exit::Env(e))) => Msg::Failed(e.to_string()),
                        Err(panic) => Msg::Failed(format!("panicked: {}", panic_message(panic.as_ref()))),
                    };
                    let _ = tx.send((w, msg));
                })
                .map_err(|e| EnvError::Config(format!("cannot start env worker {w}: {e}")))?;
            handles.push(handle);
        }
        Ok(Self { rx: Some(rx), handles, stop, running: config.workers })
    }

    /// The next event, or `None` once every worker has played all its episodes.
    pub fn recv(&mut self) -> Result<Option<Event>> {
        let Some(rx) = &self.rx else { return Ok(None) };
        while self.running > 0 {
            match rx.recv() {
                Ok((_, Msg::Event(e))) => return Ok(Some(e)),
                Ok((_, Msg::Finished)) => self.running -= 1,
                Ok((worker, Msg::Failed(message))) => {
                    self.shutdown();
                    return Err(EnvError::Worker { worker, message });
                }
                Err(_) => {
                    // Every sender is gone: some worker died without a word (an abort, not a panic).
                    let worker = self.handles.iter().position(|h| h.is_finished()).unwrap_or(0);
                    self.shutdown();
                    return Err(EnvError::Worker { worker, message: "exited without finishing".into() });
                }
            }
        }
        Ok(None)
    }

    /// Drive every env with `decide` (agent in the loop) and hand each transition to `on_row`,
    /// until all episodes are played.
    pub fn drive(
        mut self,
        mut decide: impl FnMut(&[Pending]) -> Vec<Decision>,
        mut on_row: impl FnMut(Transition),
    ) -> Result<()> {
        while let Some(event) = self.recv()? {
            match event {
                Event::Transition(t) => on_row(*t),
                Event::Query(q) => {
                    let d = decide(&q.pending);
                    q.reply(d)?;
                }
            }
        }
        Ok(())
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Closing the channel unblocks every worker waiting to send.
        self.rx = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        self.running = 0;
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Play the configured episodes with a built-in policy on K threads without any channel, the
/// baseline against which the stream's overhead is measured. Returns the frames rendered.
pub fn play_unstreamed(config: &StreamConfig, policy: &PolicySpec) -> Result<u64> {
    config.validate()?;
    let decider = Decider::Policy(policy.clone());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..config.workers)
            .map(|w| {
                let decider = &decider;
                scope.spawn(move || {
                    let mut sink = CountSink(0);
                    run_worker(w, config, decider, &mut sink).map(|()| sink.0)
                })
            })
            .collect();
        let mut frames = 0;
        for (w, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(Ok(n)) => frames += n,
                Ok(Err(Exit::Env(e))) => return Err(e),
                Ok(Err(Exit::Closed)) => {}
                Err(p) => return Err(EnvError::Worker { worker: w, message: format!("panicked: {}", panic_message(p.as_ref())) }),
            }
        }
        Ok(frames)
    })
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into())
}

/// Why a worker stopped early.
enum Exit {
    /// The consumer went away.
    Closed,
    /// The env failed.
    Env(EnvError),
}

impl From<EnvError> for Exit {
    fn from(e: EnvError) -> Self {
        Exit::Env(e)
    }
}

/// Where a worker's output goes.
trait Sink {
    fn row(&mut self, t: Transition) -> Result<(), Exit>;
    fn ask(&mut self, pending: Vec<Pending>) -> Result<Vec<Decision>, Exit>;
}

struct ChannelSink {
    worker: usize,
    tx: Sender<(usize, Msg)>,
    stop: Arc<AtomicBool>,
}

impl Sink for ChannelSink {
    fn row(&mut self, t: Transition) -> Result<(), Exit> {
        self.tx.send((self.worker, Msg::Event(Event::Transition(Box::new(t))))).map_err(|_| Exit::Closed)
    }

    fn ask(&mut self, pending: Vec<Pending>) -> Result<Vec<Decision>, Exit> {
        let n = pending.len();
        let (reply, answers) = bounded(1);
        let q = Query { worker: self.worker, pending, reply };
        self.tx.send((self.worker, Msg::Event(Event::Query(q)))).map_err(|_| Exit::Closed)?;
        loop {
            // Poll so a consumer that drops the stream while holding a query cannot hang us.
            match answers.recv_timeout(Duration::from_millis(100)) {
                Ok(d) if d.len() == n => return Ok(d),
                Ok(d) => return Err(Exit::Env(EnvError::Config(format!("{} decisions for {n} pending envs", d.len())))),
                Err(RecvTimeoutError::Timeout) if !self.stop.load(Ordering::SeqCst) => {}
                Err(_) => return Err(Exit::Closed),
            }
        }
    }
}

struct CountSink(u64);

impl Sink for CountSink {
    fn row(&mut self, _: Transition) -> Result<(), Exit> {
        self.0 += 1;
        Ok(())
    }

    fn ask(&mut self, _: Vec<Pending>) -> Result<Vec<Decision>, Exit> {
        Err(Exit::Env(EnvError::Config("the unstreamed baseline needs a built-in policy".into())))
    }
}

/// An episode in progress in one env slot.
struct Live {
    origin: RowOrigin,
    frame: Frame,
    info: Info,
    policy: Option<Policy>,
}

/// One worker's life: build a batch, play its episodes, send every row.
fn run_worker(w: usize, config: &StreamConfig, decider: &Decider, sink: &mut impl Sink) -> Result<(), Exit> {
    let mut queues = config.assignment(w);
    if queues.iter().all(VecDeque::is_empty) {
        return Ok(());
    }
    let n = config.envs_per_worker;
    let mut batch = EnvBatch::new(EnvConfig {
        scenario: config.scenarios[0].clone(),
        num_envs: n,
        width: config.width,
        height: config.height,
        renderer: config.renderer,
    })?;
    let mut live: Vec<Option<Live>> = (0..n).map(|_| None).collect();
    loop {
        // The expert plans from whatever state the env is in, so it can label any visited state.
        let mut labels: Vec<Option<Decision>> = vec![None; n];
        if config.expert_labels {
            for (s, l) in live.iter().enumerate() {
                if l.is_some() {
                    let state = batch.state(s).ok_or(EnvError::NeedsReset { index: s, reason: "no state after reset" })?;
                    labels[s] = Some(expert_decision(state));
                }
            }
        }
        let decisions: Vec<Option<Decision>> = match decider {
            Decider::Policy(_) => {
                let mut out = Vec::with_capacity(n);
                for (s, l) in live.iter_mut().enumerate() {
                    out.push(match l {
                        Some(l) => {
                            let state = batch.state(s).ok_or(EnvError::NeedsReset { index: s, reason: "no state after reset" })?;
                            l.policy.as_mut().map(|p| p.decide(state))
                        }
                        None => None,
                    });
                }
                out
            }
            Decider::External => {
                let pending: Vec<Pending> = live
                    .iter()
                    .enumerate()
                    .filter_map(|(slot, l)| {
                        l.as_ref().map(|l| Pending {
                            slot,
                            episode: l.origin.episode,
                            scenario: l.origin.scenario.clone(),
                            step: l.info.step,
                            frame: l.frame.clone(),
                            mission: l.origin.mission.clone(),
                            info: l.info.clone(),
                            expert: labels[slot].clone(),
                        })
                    })
                    .collect();
                if pending.is_empty() {
                    vec![None; n]
                } else {
                    let mut answers = sink.ask(pending)?.into_iter();
                    live.iter().map(|l| l.as_ref().and_then(|_| answers.next())).collect()
                }
            }
        };

        // Free slots start their next episode in the same update as the others' steps.
        let mut requests: Vec<Option<Directive>> = decisions.iter().map(|d| d.clone().map(Directive::Decide)).collect();
        let mut starting: Vec<Option<(u64, Arc<Scenario>, u64)>> = vec![None; n];
        for (s, queue) in queues.iter_mut().enumerate() {
            if live[s].is_none()
                && let Some(episode) = queue.pop_front()
            {
                let scenario = config.scenario_of(episode).clone();
                let seed = episode_seed(config.base_seed, episode);
                batch.set_scenario(s, scenario.clone());
                requests[s] = Some(Directive::Reset(seed));
                starting[s] = Some((episode, scenario, seed));
            }
        }
        if requests.iter().all(Option::is_none) {
            return Ok(());
        }

        let advanced = batch.advance(&requests)?;
        let mut steps: Vec<Option<Step>> = Vec::with_capacity(n);
        for (s, a) in advanced.into_iter().enumerate() {
            steps.push(match a {
                Some(Advanced::Reset(obs, info)) => {
                    if let Some((episode, scenario, seed)) = starting[s].take() {
                        let policy = match decider {
                            Decider::Policy(spec) => Some(Policy::new(spec.clone(), seed)),
                            Decider::External => None,
                        };
                        let origin = RowOrigin { worker: w, slot: s, episode, scenario, seed, mission: obs.mission.into() };
                        live[s] = Some(Live { origin, frame: obs.frame, info, policy });
                    }
                    None
                }
                Some(Advanced::Stepped(step)) => Some(step),
                None => None,
            });
        }
        for (s, ((step, decision), label)) in steps.into_iter().zip(decisions).zip(labels).enumerate() {
            let (Some(step), Some(decision), Some(l)) = (step, decision, live[s].as_mut()) else { continue };
            let frame = std::mem::replace(&mut l.frame, step.obs.frame);
            let info = std::mem::replace(&mut l.info, step.info);
            sink.row(l.origin.step_row(frame, info, decision, label, (step.reward, step.terminated, step.truncated)))?;
            if step.terminated || step.truncated {
                sink.row(l.origin.last_row(l.frame.clone(), l.info.clone()))?;
                live[s] = None;
            }
        }
    }
}
