//! `EnvBatch`: N envs in one Bevy App, stepped together by one `update()`; `Env` is a batch of one.

use std::sync::Arc;
use std::time::Duration;

use bevy::app::{PluginsState, TerminalCtrlCHandlerPlugin};
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::render::settings::{Backends, RenderCreation, WgpuLimits, WgpuSettings, WgpuSettingsPriority};
use bevy::time::TimeUpdateStrategy;
use bevy::window::{ExitCondition, WindowPlugin};

use crate::action::{Action, Decision};
use crate::error::{EnvError, Result};
use crate::observation::{Frame, Info, Observation, Step};
use crate::plugin::{Command, EnvPlugin, EnvSlots, Reply};
use crate::render::frames::FrameStore;
use crate::render::gpu::probe_vulkan;
use crate::render::profile::{FrameProfile, Mark};
use crate::render::{BatchRenderPlugin, FramesPlugin, PbrRenderPlugin, Renderer};
use crate::task::scenario::Scenario;

/// Largest frame side accepted.
pub const MAX_SIZE: u32 = 1024;
/// Smallest frame side accepted.
pub const MIN_SIZE: u32 = 8;
/// Simulated seconds per step: the fixed timestep, and the frame rate datasets record (30 fps).
pub const STEP_SECONDS: f64 = 1.0 / 30.0;
/// Renders after a reset before a PBR frame is trusted to be complete, at most.
const MAX_SETTLE_RENDERS: usize = 8;
/// Memory per env the renderers keep besides the frame itself: readback, atlas colour and depth,
/// in RGBA8-sized pixels of the 64-aligned tile.
const TILE_COPIES: u64 = 3;

/// How to build a batch.
#[derive(Clone, Debug)]
pub struct EnvConfig {
    /// The scenario every env starts with.
    pub scenario: Arc<Scenario>,
    /// Number of envs in the App.
    pub num_envs: usize,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// Which renderer draws the frames.
    pub renderer: Renderer,
}

impl EnvConfig {
    /// One env at 64×64 with the default renderer.
    pub fn new(scenario: Arc<Scenario>) -> Self {
        Self { scenario, num_envs: 1, width: 64, height: 64, renderer: Renderer::default() }
    }

    fn validate(&self) -> Result<()> {
        if self.num_envs == 0 {
            return Err(EnvError::Config("num_envs must be at least 1".into()));
        }
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if !(MIN_SIZE..=MAX_SIZE).contains(&v) {
                return Err(EnvError::Config(format!("frame {name} must be in {MIN_SIZE}..={MAX_SIZE} pixels, got {v}")));
            }
        }
        let tile = u64::from(self.width.div_ceil(64) * 64) * u64::from(self.height.div_ceil(64) * 64) * 4;
        let per_env = u64::from(self.width) * u64::from(self.height) * 3 + TILE_COPIES * tile;
        let need = per_env.saturating_mul(self.num_envs as u64);
        if let Some(free) = available_memory()
            && need > free
        {
            let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
            return Err(EnvError::Config(format!(
                "{} envs of {}×{} need {:.1} GiB for their frames, more than the {:.1} GiB of memory available",
                self.num_envs,
                self.width,
                self.height,
                gib(need),
                gib(free)
            )));
        }
        Ok(())
    }
}

/// The memory the system can still give this process, from `/proc/meminfo` where there is one.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// What to do with one env in an update.
#[derive(Clone, Debug, PartialEq)]
pub enum Directive {
    /// Start a new episode with this seed.
    Reset(u64),
    /// Act or answer.
    Decide(Decision),
}

/// What one env did in an update.
#[derive(Clone, Debug)]
pub enum Advanced {
    /// A new episode started.
    Reset(Observation, Info),
    /// The env took its decision.
    Stepped(Step),
}

/// N envs sharing one single-threaded Bevy App. Build one per thread to use several cores.
///
/// Bevy is compiled without its `multi_threaded` feature, so every schedule, asset load and
/// pipeline compilation runs on the thread that calls `update()`, in program order. What a frame
/// shows is then a function of the update count alone, never of thread timing.
pub struct EnvBatch {
    app: App,
    store: FrameStore,
    profile: FrameProfile,
    scenarios: Vec<Arc<Scenario>>,
    adapter: String,
    renderer: Renderer,
}

impl EnvBatch {
    /// Build the App, its cameras and render targets. Fails cleanly when no Vulkan adapter exists.
    pub fn new(config: EnvConfig) -> Result<Self> {
        config.validate()?;
        let adapter = probe_vulkan()?;
        let mut app = App::new();
        let plugins = DefaultPlugins.build();
        // With the play window compiled in, Bevy's defaults would open an event loop: an env
        // never owns a window.
        #[cfg(feature = "window")]
        let plugins = plugins.disable::<bevy::winit::WinitPlugin>();
        app.add_plugins(
            plugins
                // A library must not take over the host's logger or its Ctrl-C handling.
                .disable::<LogPlugin>()
                .disable::<TerminalCtrlCHandlerPlugin>()
                .set(WindowPlugin { primary_window: None, exit_condition: ExitCondition::DontExit, close_when_requested: false, ..default() })
                .set(RenderPlugin {
                    render_creation: RenderCreation::Automatic(Box::new(wgpu_settings())),
                    synchronous_pipeline_compilation: true,
                    ..default()
                }),
        );
        // Simulation time never comes from the wall clock.
        app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(STEP_SECONDS)));
        let (n, width, height) = (config.num_envs, config.width, config.height);
        app.add_plugins((EnvPlugin { num_envs: n }, FramesPlugin { num_envs: n, width, height }));
        match config.renderer {
            Renderer::Batch => app.add_plugins(BatchRenderPlugin { num_envs: n }),
            Renderer::Pbr => app.add_plugins(PbrRenderPlugin { num_envs: n, width, height }),
        };
        while app.plugins_state() == PluginsState::Adding {
            bevy::tasks::tick_global_task_pools_on_main_thread();
        }
        app.finish();
        app.cleanup();
        let store = app.world().resource::<FrameStore>().clone();
        let profile = app.world().resource::<FrameProfile>().clone();
        let scenarios = vec![config.scenario; config.num_envs];
        let mut batch = Self { app, store, profile, scenarios, adapter, renderer: config.renderer };
        // Run startup systems so cameras (PBR) or the pipeline (batch) exist before the first reset.
        batch.update()?;
        Ok(batch)
    }

    /// Number of envs.
    pub fn len(&self) -> usize {
        self.scenarios.len()
    }

    /// Whether the batch holds no envs (never true for a built batch).
    pub fn is_empty(&self) -> bool {
        self.scenarios.is_empty()
    }

    /// The Vulkan adapter in use.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// The renderer drawing the frames.
    pub fn renderer(&self) -> Renderer {
        self.renderer
    }

    /// Frame width and height.
    pub fn frame_size(&self) -> (u32, u32) {
        (self.store.width(), self.store.height())
    }

    /// Where this batch's updates spent their time so far.
    pub fn profile(&self) -> &FrameProfile {
        &self.profile
    }

    /// The scenario env `i` plays.
    pub fn scenario(&self, i: usize) -> &Arc<Scenario> {
        &self.scenarios[i]
    }

    /// Change the scenario env `i` plays from its next reset on.
    pub fn set_scenario(&mut self, i: usize, scenario: Arc<Scenario>) {
        self.scenarios[i] = scenario;
    }

    fn check_index(&self, i: usize) -> Result<()> {
        let n = self.len();
        if i >= n {
            return Err(EnvError::Config(format!("env index {i} is out of range for a batch of {n}")));
        }
        Ok(())
    }

    fn update(&mut self) -> Result<()> {
        let before = self.store.renders();
        self.profile.mark(Mark::Start);
        self.app.update();
        self.profile.mark(Mark::End);
        self.profile.finish_frame();
        if let Some(e) = self.store.take_error() {
            return Err(EnvError::Render(e));
        }
        if self.store.renders() == before {
            return Err(EnvError::Render("the update rendered no frame".into()));
        }
        Ok(())
    }

    fn slots_mut(&mut self) -> Mut<'_, EnvSlots> {
        self.app.world_mut().resource_mut::<EnvSlots>()
    }

    /// Start new episodes in the given envs, as `(env index, seed)` pairs, with one batched render
    /// (the PBR path adds renders until the new frames are stable).
    pub fn reset_many(&mut self, which: &[(usize, u64)]) -> Result<Vec<(Observation, Info)>> {
        let mut requests = vec![None; self.len()];
        for &(i, seed) in which {
            self.check_index(i)?;
            if requests[i].replace(Directive::Reset(seed)).is_some() {
                return Err(EnvError::Config(format!("env {i} is reset twice in one call")));
            }
        }
        let mut out = self.advance(&requests)?;
        Ok(which
            .iter()
            .map(|&(i, _)| match out[i].take() {
                Some(Advanced::Reset(obs, info)) => (obs, info),
                _ => unreachable!("advance answers every reset with a reset"),
            })
            .collect())
    }

    /// Start a new episode in env `i`.
    pub fn reset(&mut self, i: usize, seed: u64) -> Result<(Observation, Info)> {
        Ok(self.reset_many(&[(i, seed)])?.remove(0))
    }

    /// Step the envs that have an action; `None` leaves an env untouched. One render for all.
    pub fn step_some(&mut self, actions: &[Option<Action>]) -> Result<Vec<Option<Step>>> {
        let decisions: Vec<Option<Decision>> = actions.iter().map(|a| a.map(Decision::Act)).collect();
        self.apply(&decisions)
    }

    /// Apply one decision per env (`None` leaves an env untouched): actions and answers together,
    /// with one render for all.
    pub fn apply(&mut self, decisions: &[Option<Decision>]) -> Result<Vec<Option<Step>>> {
        let requests: Vec<Option<Directive>> = decisions.iter().map(|d| d.clone().map(Directive::Decide)).collect();
        Ok(self
            .advance(&requests)?
            .into_iter()
            .map(|a| match a {
                Some(Advanced::Stepped(step)) => Some(step),
                _ => None,
            })
            .collect())
    }

    fn check_answer(&self, i: usize, word: &str) -> Result<()> {
        self.check_index(i)?;
        if self.scenarios[i].task.answer.is_none() {
            return Err(EnvError::Config(format!("scenario `{}` asks no question", self.scenarios[i].name)));
        }
        if !crate::task::answer::answer_vocabulary().iter().any(|w| w == word) {
            return Err(EnvError::Config(format!("`{word}` is not in the answer vocabulary")));
        }
        Ok(())
    }

    /// Answer env `i`'s question with a word of [`crate::task::answer_vocabulary`]; the episode ends.
    pub fn answer(&mut self, i: usize, word: &str) -> Result<Step> {
        self.check_index(i)?;
        let mut decisions = vec![None; self.len()];
        decisions[i] = Some(Decision::Answer(word.to_string()));
        self.apply(&decisions)?.swap_remove(i).ok_or(EnvError::NeedsReset { index: i, reason: "no episode is running" })
    }

    /// One update for the whole batch: each env with a request is reset or takes its decision,
    /// and every frame is rendered once (the PBR path renders again after a reset until the new
    /// frames are stable). Resets ride along with the others' steps, so an
    /// autoresetting batch costs one update per step. `None` leaves an env untouched.
    pub fn advance(&mut self, requests: &[Option<Directive>]) -> Result<Vec<Option<Advanced>>> {
        let n = self.len();
        if requests.len() != n {
            return Err(EnvError::Config(format!("got {} actions for a batch of {n}", requests.len())));
        }
        let mut commands = Vec::with_capacity(n);
        for (i, r) in requests.iter().enumerate() {
            commands.push(match r {
                None => None,
                Some(Directive::Reset(seed)) => Some(Command::Reset { scenario: self.scenarios[i].clone(), seed: *seed }),
                Some(Directive::Decide(Decision::Act(a))) => Some(Command::Act(*a)),
                Some(Directive::Decide(Decision::Answer(word))) => {
                    self.check_answer(i, word)?;
                    Some(Command::Answer(word.clone()))
                }
            });
        }
        {
            let mut slots = self.slots_mut();
            for (i, c) in commands.into_iter().enumerate() {
                if c.is_some() {
                    slots.slots[i].command = c;
                }
            }
        }
        self.update()?;
        let mut replies: Vec<Option<Reply>> = {
            let mut slots = self.slots_mut();
            slots.slots.iter_mut().map(|s| s.reply.take()).collect()
        };
        let resets: Vec<usize> = (0..n).filter(|&i| matches!(replies[i], Some(Reply::Reset))).collect();
        if self.renderer == Renderer::Pbr && !resets.is_empty() {
            self.settle(&resets)?;
        }
        let slots = self.app.world().resource::<EnvSlots>();
        let mut out = Vec::with_capacity(n);
        let mut failure = None;
        for (i, reply) in replies.iter_mut().enumerate() {
            let state = slots.slots[i].state.as_ref();
            out.push(match (reply.take(), state) {
                (Some(Reply::Reset), Some(s)) => Some(Advanced::Reset(observation(s, self.store.get(i), &self.store), s.info())),
                (Some(Reply::Stepped(o)), Some(s)) => Some(Advanced::Stepped(Step {
                    obs: observation(s, self.store.get(i), &self.store),
                    reward: o.reward,
                    terminated: o.terminated,
                    truncated: o.truncated,
                    info: s.info(),
                })),
                (Some(Reply::Failed(e)), _) => {
                    failure.get_or_insert(e);
                    None
                }
                _ => None,
            });
        }
        failure.map_or(Ok(out), Err)
    }

    /// Bevy's PBR path can need a second render after a scene is built before every pipeline
    /// and asset is in place: render until the new envs' frames stop changing.
    fn settle(&mut self, envs: &[usize]) -> Result<()> {
        let mut previous: Vec<Vec<u8>> = envs.iter().map(|&i| self.store.get(i)).collect();
        for _ in 0..MAX_SETTLE_RENDERS {
            self.update()?;
            let now: Vec<Vec<u8>> = envs.iter().map(|&i| self.store.get(i)).collect();
            if now == previous {
                break;
            }
            previous = now;
        }
        Ok(())
    }

    /// Step every env with one action each.
    pub fn step(&mut self, actions: &[Action]) -> Result<Vec<Step>> {
        let some: Vec<Option<Action>> = actions.iter().copied().map(Some).collect();
        Ok(self.step_some(&some)?.into_iter().flatten().collect())
    }

    /// The simulation state of env `i`, if it has been reset (for experts and inspection).
    pub fn state(&self, i: usize) -> Option<&crate::sim::SimState> {
        self.app.world().resource::<EnvSlots>().slots.get(i).and_then(|s| s.state.as_ref())
    }
}

fn observation(s: &crate::sim::SimState, rgb: Vec<u8>, store: &FrameStore) -> Observation {
    Observation {
        frame: Frame { width: store.width(), height: store.height(), rgb },
        mission: s.layout.mission.clone(),
        pose: s.agent,
    }
}

fn wgpu_settings() -> WgpuSettings {
    let mut s = WgpuSettings::default();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        s.backends = Some(Backends::VULKAN);
    }
    // WebGL2-level limits measured faster on lavapipe; WGPU_SETTINGS_PRIO overrides.
    if std::env::var_os("WGPU_SETTINGS_PRIO").is_none() {
        s.priority = WgpuSettingsPriority::WebGL2;
        s.limits = WgpuLimits::downlevel_webgl2_defaults();
    }
    s
}

/// A single env: a batch of one, with the Gymnasium-style API.
pub struct Env {
    batch: EnvBatch,
}

impl Env {
    /// Build an env rendering `width × height` frames.
    pub fn new(scenario: Arc<Scenario>, width: u32, height: u32) -> Result<Self> {
        Self::with_config(EnvConfig { width, height, ..EnvConfig::new(scenario) })
    }

    /// Build an env from a full config; `num_envs` must be 1.
    pub fn with_config(config: EnvConfig) -> Result<Self> {
        if config.num_envs != 1 {
            return Err(EnvError::Config(format!("an Env holds one env, got num_envs {}", config.num_envs)));
        }
        Ok(Self { batch: EnvBatch::new(config)? })
    }

    /// Start an episode.
    pub fn reset(&mut self, seed: u64) -> Result<(Observation, Info)> {
        self.batch.reset(0, seed)
    }

    /// Take one action.
    pub fn step(&mut self, action: Action) -> Result<Step> {
        Ok(self.batch.step(&[action])?.remove(0))
    }

    /// Answer the scenario's question; the episode ends.
    pub fn answer(&mut self, word: &str) -> Result<Step> {
        self.batch.answer(0, word)
    }

    /// The simulation state (for the scripted expert).
    pub fn state(&self) -> Option<&crate::sim::SimState> {
        self.batch.state(0)
    }

    /// The scenario.
    pub fn scenario(&self) -> &Arc<Scenario> {
        self.batch.scenario(0)
    }

    /// The Vulkan adapter in use.
    pub fn adapter(&self) -> &str {
        self.batch.adapter()
    }
}
