//! `sandtable dream`: the real env and the world model's imagination side by side, from the same
//! first frame and the same actions (`dream`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sandtable::dream::{Dream, dream};
use sandtable_env::PolicySpec;

/// Arguments of `sandtable dream`.
#[derive(Debug, Args)]
pub struct DreamArgs {
    /// Checkpoint directory, or a run directory (its latest checkpoint).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Scenario name or `.ron` file.
    #[arg(long, default_value = "go_to_object")]
    pub scenario: String,
    /// Episode seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Steps to play and imagine (fewer if the episode ends).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub steps: u32,
    /// Who acts: expert, random, wander or mixed:P.
    #[arg(long, default_value = "expert")]
    pub policy: PolicySpec,
    /// Output GIF: real frames on the left, imagined on the right.
    #[arg(long, default_value = "dream.gif")]
    pub out: PathBuf,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Play, imagine and write the GIF.
pub fn run(args: DreamArgs) -> Result<()> {
    execute(&args.request(), &args.device)
}

impl DreamArgs {
    /// The request these arguments make.
    pub fn request(&self) -> Dream {
        Dream { checkpoint: self.checkpoint.clone(), scenario: self.scenario.clone(), seed: self.seed, steps: self.steps, policy: self.policy.clone(), out: self.out.clone() }
    }
}

/// Dream as `job` asks on `device` and say what was written.
pub fn execute(job: &Dream, device: &str) -> Result<()> {
    let device = sandtable::device::parse(device)?;
    let done = dream(job, &device)?;
    println!(
        "wrote {} ({} frames, {}x{}): real on the left, imagined from the first frame and the same {} actions on the right",
        job.out.display(),
        done.frames,
        done.size.0,
        done.size.1,
        done.actions
    );
    Ok(())
}
