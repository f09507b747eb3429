//! `sandtable eval`: closed-loop evaluation in live envs. The fine-tuned agent drives the envs
//! (`play::closed_loop`); a random policy and the expert play the same seeds as the floor and the
//! ceiling. This file parses the arguments, calls the players and prints and writes the results.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sandtable_agent::holdout::{Pair, named_pair};
use sandtable_agent::loader::load_agent;
use sandtable_agent::score::{Outcome, Summary, summarise};
use sandtable_env::{PolicySpec, Renderer, StreamConfig};
use serde_json::json;

use crate::media::write_atomic;
use crate::play::closed_loop::{AgentPlay, PlayedEpisode, play_agent, play_policy};
use crate::play::diagnosis::tally;
use crate::play::episodes::load_scenarios;
use crate::play::gifs::GifSaver;
use crate::play::seeds::check_unseen;

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
    /// Sample the agent's actions at this temperature instead of taking the most likely (0); answer words stay the most likely.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Leave a question unanswered when the agent has not answered by the step limit, instead
    /// of answering at the last step (the default).
    #[arg(long)]
    pub no_deadline_answer: bool,
    /// GIFs of the agent's successful and of its failed episodes, per scenario (each).
    #[arg(long, default_value_t = 2)]
    pub gifs: usize,
    /// Frame side for the baselines when no --checkpoint fixes it.
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Which renderer draws the env's frames: batch or pbr [default: the one that drew the
    /// agent's training data, else batch].
    #[arg(long)]
    pub renderer: Option<Renderer>,
    /// Output directory for eval.json, episodes.jsonl (one line per episode, with why it failed) and GIFs [default: CHECKPOINT/eval, else runs/eval].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Evaluate.
pub fn run(args: EvalArgs) -> Result<()> {
    let device = crate::device::parse(&args.device)?;
    let model = match &args.checkpoint {
        Some(c) => {
            let model = load_agent(c, &device).with_context(|| format!("loading the agent {}", c.display()))?;
            let env_actions: Vec<String> = sandtable_env::decision_vocabulary().iter().map(|s| s.to_string()).collect();
            sandtable_agent::actions::check(&model.actions, &format!("the agent {}", c.display()), &env_actions, "the env")?;
            Some(model)
        }
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
    // An agent sees frames like those it trained on unless asked otherwise.
    let renderer = args.renderer.or_else(|| model.as_ref().and_then(|m| m.card.renderer.parse().ok())).unwrap_or_default();
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
        renderer,
        ..StreamConfig::new(scenarios, args.seed, total)
    };

    let mut rows = Vec::new();
    let mut timing = serde_json::Map::new();
    let mut gifs = Vec::new();
    let mut lines = Vec::new();
    for &player in &players {
        let start = Instant::now();
        let bar = ProgressBar::new(total);
        bar.set_style(ProgressStyle::with_template("{prefix:>7} {bar:30} {pos}/{len} episodes {msg} ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar.set_prefix(player.name());
        let keep = if player == Player::Agent { args.gifs } else { 0 };
        let mut saver = GifSaver::new(out.join("gifs"), keep);
        let played = match player {
            Player::Agent => {
                let model = model.as_ref().context("--policy agent needs --checkpoint")?;
                let how = AgentPlay { temperature: args.temperature, seed: args.seed, deadline: !args.no_deadline_answer };
                play_agent(config.clone(), model, &device, how, &bar, &mut saver)?
            }
            Player::Random => play_policy(config.clone(), PolicySpec::Random, &bar)?,
            Player::Expert => play_policy(config.clone(), PolicySpec::Expert, &bar)?,
        };
        bar.finish_and_clear();
        gifs.extend(saver.written);
        timing.insert(player.name().into(), json!(start.elapsed().as_secs_f64()));
        for (scenario, eps) in &played {
            let held: Vec<&PlayedEpisode> = eps.iter().filter(|e| named_pair(&holdout, &e.mission).is_some()).collect();
            let mut subsets = vec![("all", eps.iter().collect::<Vec<_>>())];
            if !held.is_empty() {
                subsets.push(("holdout pairs", held));
            }
            for (subset, list) in subsets {
                let outcomes: Vec<Outcome> = list.iter().map(|e| e.outcome.clone()).collect();
                let failures = tally(list.iter().filter_map(|e| e.diagnosis.as_ref()));
                rows.push(Row { player: player.name(), scenario: scenario.clone(), subset: subset.into(), summary: summarise(&outcomes), failures });
            }
            for e in eps {
                lines.push(json!({"policy": player.name(), "scenario": scenario, "index": e.index, "seed": e.seed, "mission": e.mission,
                    "success": e.outcome.success, "length": e.outcome.length, "return": e.outcome.episode_return,
                    "answer": e.outcome.answer.as_ref().map(|a| &a.0), "given_answer": e.outcome.answer.as_ref().and_then(|a| a.1.as_ref()),
                    "diagnosis": e.diagnosis}));
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
        "renderer": renderer.name(),
        "agent_temperature": args.temperature,
        "agent_answers_at_deadline": !args.no_deadline_answer,
        "holdout_pairs": holdout.iter().map(Pair::to_string).collect::<Vec<_>>(),
        "wall_seconds": timing,
        "gifs": gifs.iter().map(|p: &PathBuf| p.strip_prefix(&out).unwrap_or(p).to_path_buf()).collect::<Vec<_>>(),
        "results": rows.iter().map(|r| json!({"policy": r.player, "scenario": r.scenario, "subset": r.subset, "summary": r.summary, "failures": r.failures})).collect::<Vec<_>>(),
    });
    let mut jsonl = String::new();
    for line in &lines {
        jsonl.push_str(&serde_json::to_string(line)?);
        jsonl.push('\n');
    }
    write_atomic(&out.join("episodes.jsonl"), jsonl.as_bytes())?;
    let path = out.join("eval.json");
    write_atomic(&path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    println!("wrote {}, episodes.jsonl and {} GIFs in {}", path.display(), gifs.len(), out.join("gifs").display());
    Ok(())
}

/// One line of the report.
struct Row {
    player: &'static str,
    scenario: String,
    subset: String,
    summary: Summary,
    /// Failed episodes by kind (scenarios with a target object).
    failures: BTreeMap<String, usize>,
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<8} {:<18} {:<14} {:>5} {:>21} {:>7} {:>7} {:>8} {:>14}",
        "policy", "scenario", "subset", "eps", "success [95% CI]", "length", "return", "answers", "majority prior"
    );
    for r in rows {
        let s = &r.summary;
        let acc = s.answer_accuracy.map_or("-".to_string(), |a| format!("{:.1}%", 100.0 * a));
        let prior = s.majority.as_ref().map_or("-".to_string(), |(w, a)| format!("{:.1}% ({w})", 100.0 * a));
        println!(
            "{:<8} {:<18} {:<14} {:>5} {:>6.1}% [{:>5.1}, {:>5.1}] {:>7.1} {:>7.3} {:>8} {:>14}",
            r.player,
            r.scenario,
            r.subset,
            s.episodes,
            100.0 * s.success_rate,
            100.0 * s.success_ci95.0,
            100.0 * s.success_ci95.1,
            s.mean_length,
            s.mean_return,
            acc,
            prior
        );
        if !r.failures.is_empty() {
            // "wrong_object 42 (color 12, shape 4, neither 26)": each kind with what its wrong objects share.
            let kinds: Vec<String> = r
                .failures
                .iter()
                .filter(|(k, _)| !k.contains("_sharing_"))
                .map(|(kind, n)| {
                    let shares: Vec<String> = ["color", "shape", "neither"]
                        .iter()
                        .filter_map(|part| r.failures.get(&format!("{kind}_sharing_{part}")).map(|m| format!("{part} {m}")))
                        .collect();
                    if shares.is_empty() { format!("{kind} {n}") } else { format!("{kind} {n} (sharing {})", shares.join(", ")) }
                })
                .collect();
            println!("{:<42} failures: {}", "", kinds.join("; "));
        }
    }
}
