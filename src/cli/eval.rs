//! `sandtable eval`: closed-loop evaluation in live envs. The fine-tuned agent drives the envs
//! through the agent-in-the-loop stream (frames in, decisions out, no expert help); a random
//! policy and the expert play the same seeds as the floor and the ceiling.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sandtable_agent::controller::{Choice, Controller, Request};
use sandtable_agent::dataset::{Dataset, EpisodeData, EpisodeMeta};
use sandtable_agent::loader::{TrainedAgent, load_agent};
use sandtable_agent::holdout::{Pair, named_pair};
use sandtable_agent::score::{Outcome, Summary, summarise};
use sandtable_env::{Action, Decision, Driver, Event, Frame, PolicySpec, Stream, StreamConfig, episode_seed};
use serde_json::json;

use crate::episodes::{EpisodeAssembler, load_scenarios};
use crate::media::{GifWriter, write_atomic};

/// Who plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Player {
    /// The fine-tuned agent of --checkpoint.
    Agent,
    /// Uniformly random decisions (the floor).
    Random,
    /// The scripted expert (the ceiling).
    Expert,
}

impl Player {
    fn name(self) -> &'static str {
        match self {
            Player::Agent => "agent",
            Player::Random => "random",
            Player::Expert => "expert",
        }
    }
}

/// Arguments of `sandtable eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Fine-tuned agent (checkpoint or run directory); without it only the baselines play.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Scenarios (built-in names or `.ron` paths).
    #[arg(long = "scenario", num_args = 1.., default_value = "go_to_object")]
    pub scenarios: Vec<String>,
    /// Episodes per scenario.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub episodes: u64,
    /// Who plays [default: agent (with --checkpoint), random and expert].
    #[arg(long = "policy", value_enum, num_args = 1..)]
    pub players: Vec<Player>,
    /// Worker threads, each with its own Bevy App.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Envs per worker.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub envs: u16,
    /// Base seed of the evaluation episodes; must differ from every training episode's.
    #[arg(long, default_value_t = 1_000_003)]
    pub seed: u64,
    /// Colour:shape pairs to report separately [default: the agent's held-out pairs].
    #[arg(long = "holdout-pairs", value_delimiter = ',', num_args = 1..)]
    pub holdout: Option<Vec<Pair>>,
    /// Sample the agent's decisions at this temperature instead of taking the most likely (0).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// GIFs of the agent's successful and of its failed episodes, per scenario (each).
    #[arg(long, default_value_t = 2)]
    pub gifs: usize,
    /// Frame side for the baselines when no --checkpoint fixes it.
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Output directory for eval.json and GIFs [default: CHECKPOINT/eval, else runs/eval].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Results of one player: per scenario, each episode's mission and outcome, in episode order.
type Played = BTreeMap<String, Vec<(u64, String, Outcome)>>;

/// Evaluate.
pub fn run(args: EvalArgs) -> Result<()> {
    let device = crate::device::parse(&args.device)?;
    let model = match &args.checkpoint {
        Some(c) => Some(load_agent(c, &device).with_context(|| format!("loading the agent {}", c.display()))?),
        None => None,
    };
    let mut players = args.players.clone();
    if players.is_empty() {
        players = if model.is_some() { vec![Player::Agent, Player::Random, Player::Expert] } else { vec![Player::Random, Player::Expert] };
    }
    players.sort();
    players.dedup();
    anyhow::ensure!(!players.contains(&Player::Agent) || model.is_some(), "--policy agent needs --checkpoint");
    let holdout: Vec<Pair> = match (&args.holdout, &model) {
        (Some(h), _) => h.clone(),
        (None, Some(m)) => m.card.holdout.clone(),
        (None, None) => Vec::new(),
    };
    let size = model.as_ref().map_or(args.size, |m| m.config.image_size as u32);
    let scenarios = load_scenarios(&args.scenarios)?;
    let total = args.episodes * scenarios.len() as u64;
    if let Some(m) = &model {
        check_unseen(m, args.seed, total)?;
    }
    let out = args.out.clone().unwrap_or_else(|| args.checkpoint.as_ref().map_or_else(|| PathBuf::from("runs/eval"), |c| c.join("eval")));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let config = StreamConfig {
        workers: usize::from(args.workers),
        envs_per_worker: usize::from(args.envs),
        width: size,
        height: size,
        ..StreamConfig::new(scenarios, args.seed, total)
    };

    let mut rows = Vec::new();
    let mut timing = serde_json::Map::new();
    let mut gifs = Vec::new();
    for &player in &players {
        let start = Instant::now();
        let bar = ProgressBar::new(total);
        bar.set_style(ProgressStyle::with_template("{prefix:>7} {bar:30} {pos}/{len} episodes {msg} ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar.set_prefix(player.name());
        let keep = if player == Player::Agent { args.gifs } else { 0 };
        let mut saver = GifSaver { dir: out.join("gifs"), keep, saved: HashMap::new(), written: Vec::new() };
        let played = match player {
            Player::Agent => {
                let model = model.as_ref().context("--policy agent needs --checkpoint")?;
                play_agent(config.clone(), model, &device, (args.temperature, args.seed), &bar, &mut saver)?
            }
            Player::Random => play_policy(config.clone(), PolicySpec::Random, &bar)?,
            Player::Expert => play_policy(config.clone(), PolicySpec::Expert, &bar)?,
        };
        bar.finish_and_clear();
        gifs.extend(saver.written);
        timing.insert(player.name().into(), json!(start.elapsed().as_secs_f64()));
        for (scenario, eps) in &played {
            let all: Vec<Outcome> = eps.iter().map(|e| e.2.clone()).collect();
            rows.push(Row { player: player.name(), scenario: scenario.clone(), subset: "all".into(), summary: summarise(&all) });
            if !holdout.is_empty() {
                let held: Vec<Outcome> = eps.iter().filter(|e| named_pair(&holdout, &e.1).is_some()).map(|e| e.2.clone()).collect();
                if !held.is_empty() {
                    rows.push(Row { player: player.name(), scenario: scenario.clone(), subset: "holdout pairs".into(), summary: summarise(&held) });
                }
            }
        }
    }
    print_table(&rows);
    let doc = json!({
        "checkpoint": model.as_ref().map(|m| m.dir.clone()),
        "scenarios": args.scenarios,
        "episodes_per_scenario": args.episodes,
        "base_seed": args.seed,
        "seed_rule": "episode i plays scenario i mod S with seed splitmix64(splitmix64(base_seed) ^ i)",
        "frame_size": size,
        "agent_temperature": args.temperature,
        "holdout_pairs": holdout.iter().map(Pair::to_string).collect::<Vec<_>>(),
        "wall_seconds": timing,
        "gifs": gifs.iter().map(|p: &PathBuf| p.strip_prefix(&out).unwrap_or(p).to_path_buf()).collect::<Vec<_>>(),
        "results": rows.iter().map(|r| json!({"policy": r.player, "scenario": r.scenario, "subset": r.subset, "summary": r.summary})).collect::<Vec<_>>(),
    });
    let path = out.join("eval.json");
    write_atomic(&path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    println!("wrote {} and {} GIFs in {}", path.display(), gifs.len(), out.join("gifs").display());
    Ok(())
}

/// One line of the report.
struct Row {
    player: &'static str,
    scenario: String,
    subset: String,
    summary: Summary,
}

fn print_table(rows: &[Row]) {
    println!("{:<8} {:<18} {:<14} {:>5} {:>21} {:>7} {:>7} {:>8}", "policy", "scenario", "subset", "eps", "success [95% CI]", "length", "return", "answers");
    for r in rows {
        let s = &r.summary;
        let acc = s.answer_accuracy.map_or("-".to_string(), |a| format!("{:.1}%", 100.0 * a));
        println!(
            "{:<8} {:<18} {:<14} {:>5} {:>6.1}% [{:>5.1}, {:>5.1}] {:>7.1} {:>7.3} {:>8}",
            r.player,
            r.scenario,
            r.subset,
            s.episodes,
            100.0 * s.success_rate,
            100.0 * s.success_ci95.0,
            100.0 * s.success_ci95.1,
            s.mean_length,
            s.mean_return,
            acc
        );
    }
}

/// Refuse to evaluate on an episode seed the agent was trained on.
fn check_unseen(model: &TrainedAgent, base: u64, total: u64) -> Result<()> {
    let eval: std::collections::HashSet<u64> = (0..total).map(|i| episode_seed(base, i)).collect();
    for dir in &model.card.data {
        let Ok(d) = Dataset::open(dir) else {
            tracing::warn!(dataset = %dir.display(), "training dataset not found; cannot check that the evaluation seeds are unseen");
            continue;
        };
        for i in 0..d.num_episodes() {
            let seed = d.episode(i)?.meta.seed;
            anyhow::ensure!(!eval.contains(&seed), "evaluation seed {seed} was used in training ({}); choose another --seed", dir.display());
        }
    }
    Ok(())
}

/// Keeps the first `keep` successful and `keep` failed episodes of each scenario as GIFs.
struct GifSaver {
    dir: PathBuf,
    keep: usize,
    saved: HashMap<(String, bool), usize>,
    written: Vec<PathBuf>,
}

impl GifSaver {
    fn offer(&mut self, ep: &EpisodeData, size: u32) -> Result<()> {
        let (scenario, success) = (&ep.meta.scenario, ep.meta.success);
        let n = self.saved.entry((scenario.clone(), success)).or_default();
        if *n >= self.keep || ep.frames.is_empty() {
            return Ok(());
        }
        *n += 1;
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(format!("{scenario}_{}_{:04}.gif", if success { "success" } else { "failure" }, ep.meta.index));
        write_gif(&path, &ep.frames, size)?;
        self.written.push(path);
        Ok(())
    }
}

/// An episode's `size`² RGB frames as a GIF at 10 frames per second, the last held for a second.
fn write_gif(path: &Path, frames: &[u8], size: u32) -> Result<()> {
    let mut gif = GifWriter::create(path, size, size)?;
    let rows: Vec<&[u8]> = frames.chunks((size * size * 3) as usize).collect();
    for (i, rgb) in rows.iter().enumerate() {
        let frame = Frame { width: size, height: size, rgb: rgb.to_vec() };
        gif.push(&frame, if i + 1 == rows.len() { 100 } else { 10 })?;
    }
    gif.finish()?;
    Ok(())
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

fn record(played: &mut Played, ep: EpisodeData, bar: &ProgressBar) {
    let m = ep.meta;
    let o = outcome(&m);
    played.entry(m.scenario).or_default().push((m.index, m.mission, o));
    let done: usize = played.values().map(Vec::len).sum();
    let wins: usize = played.values().flat_map(|v| v.iter()).filter(|e| e.2.success).count();
    bar.inc(1);
    bar.set_message(format!("success {:.1}%", 100.0 * wins as f64 / done.max(1) as f64));
}

/// Episodes arrive in completion order; report them in episode order.
fn in_episode_order(mut played: Played) -> Played {
    for list in played.values_mut() {
        list.sort_by_key(|e| e.0);
    }
    played
}

fn play_policy(config: StreamConfig, spec: PolicySpec, bar: &ProgressBar) -> Result<Played> {
    let mut stream = Stream::spawn(config, Driver::Policy(spec)).context("starting the env workers")?;
    let (mut episodes, mut played) = (EpisodeAssembler::default(), Played::new());
    while let Some(event) = stream.recv().context("playing")? {
        let Event::Transition(t) = event else { anyhow::bail!("a built-in policy never asks for decisions") };
        if let Some(ep) = episodes.push(&t) {
            record(&mut played, ep, bar);
        }
    }
    Ok(in_episode_order(played))
}

fn play_agent(config: StreamConfig, model: &TrainedAgent, device: &candle_core::Device, sampling: (f64, u64), bar: &ProgressBar, saver: &mut GifSaver) -> Result<Played> {
    let size = config.width;
    let stream = Stream::spawn(config, Driver::External).context("starting the env workers")?;
    let controller = std::cell::RefCell::new(Controller::new(model, device).sampling(sampling.0, sampling.1));
    let mut failure: Option<anyhow::Error> = None;
    let (mut episodes, mut played) = (EpisodeAssembler::default(), Played::new());
    let mut save_error: Option<anyhow::Error> = None;
    let result = stream.drive(
        |pending| {
            let requests: Vec<Request<'_>> = pending.iter().map(|p| Request { episode: p.episode, mission: &p.mission, frame: &p.frame.rgb, question: p.scenario.task.answer.is_some() }).collect();
            match controller.borrow_mut().decide(&requests) {
                Ok(choices) => choices
                    .into_iter()
                    .map(|c| match c {
                        Choice::Act(a) => Decision::Act(Action::from_index(a as u8).unwrap_or(Action::Noop)),
                        Choice::Answer(w) => Decision::Answer(w),
                    })
                    .collect(),
                Err(e) => {
                    // Keep the workers moving to the end; the error is reported after.
                    failure.get_or_insert_with(|| anyhow::Error::new(e).context("the agent failed to decide"));
                    pending.iter().map(|_| Decision::Act(Action::Done)).collect()
                }
            }
        },
        |t| {
            if let Some(ep) = episodes.push(&t) {
                controller.borrow_mut().finish(ep.meta.index);
                if let Err(e) = saver.offer(&ep, size) {
                    save_error.get_or_insert(e);
                }
                record(&mut played, ep, bar);
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
    Ok(in_episode_order(played))
}
