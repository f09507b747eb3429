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
    use sandtable::live::pilot::agent_pilot;
    use sandtable::live::recorder::dataset_sink;
    use sandtable_env::window::{ExpertPilot, Pilot, ViewerConfig, run};

    let (pilot, trained_on): (Option<Box<dyn Pilot>>, Option<Renderer>) = match args.driver {
        Driver::Human => (None, None),
        Driver::Expert => {
            anyhow::ensure!(sandtable_env::has_expert(&scenario), "scenario `{}` has no scripted expert to watch", scenario.name);
            (Some(Box::new(ExpertPilot)), None)
        }
        Driver::Agent => {
            let checkpoint = args.checkpoint.as_deref().context("--driver agent needs --checkpoint")?;
            let device = sandtable::device::parse(&args.device)?;
            let (pilot, renderer) = agent_pilot(checkpoint, &device, args.size)?;
            (Some(pilot), renderer)
        }
    };
    let renderer = args.renderer.or(trained_on).unwrap_or_default();
    let driver = format!("{:?}", args.driver).to_lowercase();
    let sink = match &args.record {
        Some(dir) => Some(dataset_sink(dir, &scenario, args.size, renderer, &driver)?),
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
