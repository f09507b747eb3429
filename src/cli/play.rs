//! `sandtable play`: a window onto one env, driven by the keyboard, the expert or a trained agent;
//! `--record` writes every episode played into the normal dataset format.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use sandtable_env::{Renderer, Scenario};

/// Who drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Driver {
    /// The keyboard only.
    Human,
    /// The scripted expert (keys still act, P pauses it).
    Expert,
    /// A fine-tuned agent from --checkpoint.
    Agent,
}

/// Arguments of `sandtable play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// A scenario file or built-in name.
    #[arg(long, default_value = "go_to_object")]
    pub scenario: String,
    /// The first episode's seed (R moves to the next one).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Who drives: human, expert or agent.
    #[arg(long, value_enum, default_value_t = Driver::Human)]
    pub driver: Driver,
    /// The fine-tuned agent (checkpoint or run directory) for `--driver agent`.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Decisions per second of the expert or agent.
    #[arg(long, default_value_t = 4.0)]
    pub speed: f32,
    /// Start with the expert or agent paused (P resumes, `.` steps once).
    #[arg(long)]
    pub paused: bool,
    /// The env's frame side, pixels (the agent's own resolution for `--driver agent`).
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Screen pixels per frame pixel.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub scale: u32,
    /// Hide the top-down map.
    #[arg(long)]
    pub no_map: bool,
    /// Which renderer draws the frames: batch or pbr [default: for `--driver agent`, the one that
    /// drew its training data; else batch].
    #[arg(long)]
    pub renderer: Option<Renderer>,
    /// Append every episode played to this dataset (created if missing; appending needs the same
    /// scenario, size, renderer and driver). Each finished episode is committed at once, so a
    /// killed session leaves a valid dataset.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Close the window after this many episodes.
    #[arg(long)]
    pub episodes: Option<u64>,
    /// Where F12 screenshots go.
    #[arg(long, default_value = ".")]
    pub screenshots: PathBuf,
    /// Device for `--driver agent`: cpu or cuda[:N].
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Run `sandtable play`.
pub fn run(args: PlayArgs) -> Result<()> {
    let scenario = Arc::new(Scenario::load(&args.scenario).context("loading the scenario")?);
    anyhow::ensure!(args.speed > 0.0, "--speed must be positive, got {}", args.speed);
    anyhow::ensure!(args.checkpoint.is_none() || args.driver == Driver::Agent, "--checkpoint needs --driver agent");
    anyhow::ensure!(args.size * args.scale <= 4096, "--size {} × --scale {} makes a view wider than 4096 pixels", args.size, args.scale);
    open(args, scenario)
}

#[cfg(not(feature = "window"))]
fn open(_: PlayArgs, _: Arc<Scenario>) -> Result<()> {
    anyhow::bail!("this build has no play window: rebuild with `--features window`")
}

#[cfg(feature = "window")]
fn open(args: PlayArgs, scenario: Arc<Scenario>) -> Result<()> {
    use sandtable_env::window::{ExpertPilot, Pilot, ViewerConfig, run};

    let (pilot, trained_on): (Option<Box<dyn Pilot>>, Option<Renderer>) = match args.driver {
        Driver::Human => (None, None),
        Driver::Expert => {
            anyhow::ensure!(sandtable_env::has_expert(&scenario), "scenario `{}` has no scripted expert to watch", scenario.name);
            (Some(Box::new(ExpertPilot)), None)
        }
        Driver::Agent => {
            let (pilot, renderer) = agent::pilot(args.checkpoint.as_deref(), &args.device, args.size)?;
            (Some(pilot), renderer)
        }
    };
    let renderer = args.renderer.or(trained_on).unwrap_or_default();
    let driver = format!("{:?}", args.driver).to_lowercase();
    let sink = match &args.record {
        Some(dir) => Some(recording::sink(dir, &scenario, args.size, renderer, &driver)?),
        None => None,
    };
    let config = ViewerConfig {
        scenario,
        seed: args.seed,
        size: args.size,
        scale: args.scale,
        map: !args.no_map,
        renderer,
        speed: args.speed,
        episodes: args.episodes,
        screenshots: args.screenshots.clone(),
        paused: args.paused,
        driver,
    };
    let summary = run(config, pilot, sink).context("playing")?;
    println!("played {} episodes, {} successes, {} steps", summary.episodes, summary.successes, summary.steps);
    if let Some(dir) = &args.record {
        println!("recorded into {}", dir.display());
    }
    Ok(())
}

/// A trained agent as the window's pilot.
#[cfg(feature = "window")]
mod agent {
    use std::path::Path;

    use anyhow::{Context, Result};
    use sandtable_agent::controller::Controller;
    use sandtable_agent::loader::load_agent;
    use sandtable_env::window::Pilot;
    use sandtable_env::{Decision, Pending, Renderer};

    use crate::play::closed_loop::agent_decisions;

    struct AgentPilot {
        controller: Controller<'static>,
    }

    impl Pilot for AgentPilot {
        fn decide(&mut self, pending: &Pending) -> Result<Decision, String> {
            let mut d = agent_decisions(&mut self.controller, std::slice::from_ref(pending)).map_err(|e| e.to_string())?;
            d.pop().ok_or_else(|| "the agent made no decision".to_string())
        }

        fn finish(&mut self, episode: u64) {
            self.controller.finish(episode);
        }
    }

    /// Load the agent; it must see frames of the size it was trained on. Also returns the
    /// renderer that drew its training frames, when its card names one.
    pub fn pilot(checkpoint: Option<&Path>, device: &str, size: u32) -> Result<(Box<dyn Pilot>, Option<Renderer>)> {
        let path = checkpoint.context("--driver agent needs --checkpoint")?;
        let device = crate::device::parse(device)?;
        let model = load_agent(path, &device).with_context(|| format!("loading the agent {}", path.display()))?;
        let env_actions: Vec<String> = sandtable_env::decision_vocabulary().iter().map(|s| s.to_string()).collect();
        sandtable_agent::actions::check(&model.actions, &format!("the agent {}", path.display()), &env_actions, "the env")?;
        let trained = model.config.image_size as u32;
        anyhow::ensure!(trained == size, "the agent sees {trained}×{trained} frames: pass --size {trained}");
        let renderer = model.card.renderer.parse().ok();
        // The window plays until the process ends, so the model lives as long.
        let model = Box::leak(Box::new(model));
        Ok((Box::new(AgentPilot { controller: Controller::new(model, &device) }), renderer))
    }
}

/// Recording the episodes played into a dataset.
#[cfg(feature = "window")]
mod recording {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::Arc;

    use anyhow::{Context, Result};
    use sandtable_agent::dataset::DatasetWriter;
    use sandtable_env::window::Sink;
    use sandtable_env::{Renderer, Scenario};

    use crate::play::episodes::{EpisodeAssembler, dataset_info};

    /// Closes the writer when the session ends, so an episode that never arrived is reported.
    struct Recorder {
        writer: Option<DatasetWriter>,
        episodes: EpisodeAssembler,
        /// Dataset index of each session episode that recorded rows, in order of first row.
        index: HashMap<u64, u64>,
        next: u64,
    }

    impl Drop for Recorder {
        fn drop(&mut self) {
            if let Some(Err(e)) = self.writer.take().map(DatasetWriter::finish) {
                tracing::error!("the play recording is incomplete: {e}");
            }
        }
    }

    /// A sink that appends each finished episode to the dataset at `dir` as its own shard.
    pub fn sink(dir: &Path, scenario: &Arc<Scenario>, size: u32, renderer: Renderer, driver: &str) -> Result<Sink> {
        // Seeds are chosen in the window, so the recording's base seed is 0 and each
        // episode's own seed is in its metadata.
        let mut info = dataset_info(std::slice::from_ref(scenario), size, renderer, 0, &format!("play:{driver}"), 0)?;
        info.recording.seed_rule = "chosen in the play window (--seed, then R: next, N: fresh); each episode's seed is in episodes.jsonl".into();
        let writer = if dir.join("info.json").exists() {
            DatasetWriter::resume(dir, info, 1).with_context(|| format!("appending to the dataset {}", dir.display()))?
        } else {
            DatasetWriter::create(dir, info, 1).with_context(|| format!("creating the dataset {}", dir.display()))?
        };
        let next = writer.committed_episodes();
        let mut rec = Recorder { writer: Some(writer), episodes: EpisodeAssembler::default(), index: HashMap::new(), next };
        Ok(Box::new(move |row| {
            // Episodes reset before their first step record nothing, so dataset indices are
            // given in order of first row: the writer needs them consecutive.
            let mut row = row.clone();
            let next = &mut rec.next;
            row.episode = *rec.index.entry(row.episode).or_insert_with(|| {
                *next += 1;
                *next - 1
            });
            match (rec.episodes.push(&row), rec.writer.as_mut()) {
                (Some(ep), Some(writer)) => writer.push(ep).map_err(|e| format!("writing the dataset: {e}")),
                _ => Ok(()),
            }
        }))
    }
}
