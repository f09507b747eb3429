//! `sandtable eval`: closed-loop evaluation in live envs (`live::evaluation`). This file parses
//! the arguments, calls the evaluation and prints its table.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sandtable::live::eval_result::ResultRow;
use sandtable::live::evaluation::{Evaluation, Player, evaluate};
use sandtable_agent::holdout::Pair;
use sandtable_env::Renderer;

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
    execute(&args.request(), &args.device)
}

impl EvalArgs {
    /// The request these arguments make.
    pub fn request(&self) -> Evaluation {
        Evaluation {
            checkpoint: self.checkpoint.clone(),
            scenarios: self.scenarios.clone(),
            episodes: self.episodes,
            players: self.players.clone(),
            workers: usize::from(self.workers),
            envs: usize::from(self.envs),
            seed: self.seed,
            holdout: self.holdout.clone(),
            temperature: self.temperature,
            deadline_answer: !self.no_deadline_answer,
            gifs: self.gifs,
            size: self.size,
            renderer: self.renderer,
            out: self.out.clone(),
        }
    }
}

/// Evaluate as `job` asks on `device` and print the table.
pub fn execute(job: &Evaluation, device: &str) -> Result<()> {
    let device = sandtable::device::parse(device)?;
    let done = evaluate(job, &device)?;
    print_table(&done.result.results);
    println!("wrote {}, episodes.jsonl and {} GIFs in {}", done.path.display(), done.result.gifs.len(), done.dir.join("gifs").display());
    Ok(())
}

fn print_table(rows: &[ResultRow]) {
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
            r.policy,
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
