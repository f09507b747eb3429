//! `sandtable probe`: linear probes of trunks' frozen features for what the env knows.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sandtable::probing::{Probing, probe};
use sandtable_env::PolicySpec;

/// Arguments of `sandtable probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Checkpoints or runs to probe (pretraining or fine-tuning).
    #[arg(long = "checkpoint", num_args = 1.., required = true)]
    pub checkpoints: Vec<PathBuf>,
    /// Also probe each checkpoint's tokenizer under a transformer with random weights.
    #[arg(long)]
    pub random: bool,
    /// Scenario name or `.ron` file.
    #[arg(long, default_value = "go_to_object")]
    pub scenario: String,
    /// Episodes to play.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(4..))]
    pub episodes: u64,
    /// Seed of the first episode (the validation seeds by default, never the held-out ones).
    #[arg(long, default_value_t = 2_000_003)]
    pub seed: u64,
    /// Who plays: expert, random, wander or mixed:P.
    #[arg(long, default_value = "mixed:0.3")]
    pub policy: PolicySpec,
    /// Decisions per episode at most.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub steps: u32,
    /// Write the scores here as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl ProbeArgs {
    /// The request these arguments make.
    pub fn request(&self) -> Probing {
        Probing {
            checkpoints: self.checkpoints.clone(),
            random: self.random,
            scenario: self.scenario.clone(),
            episodes: self.episodes,
            seed: self.seed,
            policy: self.policy.clone(),
            steps: self.steps,
        }
    }
}

/// Probe and print one line per trunk.
pub fn run(args: ProbeArgs) -> Result<()> {
    execute(&args.request(), &args.device, args.out.as_deref())
}

/// Probe as `job` asks on `device`, print one line per trunk and write the scores to `out`.
pub fn execute(job: &Probing, device: &str, out: Option<&std::path::Path>) -> Result<()> {
    let device = sandtable::device::parse(device)?;
    let result = probe(job, &device)?;
    println!("{} frames fitted, {} scored ({} episodes of {}, {}):", result.frames.0, result.frames.1, result.episodes, result.scenario, result.policy);
    println!("{:<48} {:<18} {:>16} {:>9} {:>16} {:>16}", "checkpoint", "weights", "target in view", "bearing", "centre colour", "centre shape");
    let pair = |(a, b): (f64, f64)| format!("{:.1}% ({:.1}%)", 100.0 * a, 100.0 * b);
    for r in &result.rows {
        let bearing = r.target_bearing_r2.map_or("-".to_string(), |v| format!("{v:.3}"));
        println!("{:<48} {:<18} {:>16} {:>9} {:>16} {:>16}", r.checkpoint.display(), r.weights, pair(r.target_in_view), bearing, pair(r.centre_color), pair(r.centre_shape));
    }
    println!("(accuracy, majority class in brackets; bearing: R² on held-out episodes)");
    if let Some(out) = out {
        sandtable::media::write_json(out, &result)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
