//! `sandtable scenario list|check|preview`: what is built in, whether files are valid, and what
//! the randomisation produces.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sandtable::preview::{ScenarioPreview, preview};
use sandtable_env::{Renderer, Scenario, builtin_names};

/// Scenario tools.
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Show the built-in scenarios with their one-line descriptions.
    List,
    /// Validate scenario files; exits non-zero at the first bad one.
    Check(CheckArgs),
    /// Render the first frame of several seeds as one labelled grid image.
    Preview(PreviewArgs),
}

/// Arguments of `scenario check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files (or built-in names).
    #[arg(required = true)]
    pub files: Vec<String>,
}

/// Arguments of `scenario preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// A scenario file or built-in name.
    pub scenario: String,
    /// Number of seeds, starting at `--first-seed`.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Frame side, pixels.
    #[arg(long, default_value_t = 96)]
    pub size: u32,
    /// Which renderer draws the frames: batch or pbr.
    #[arg(long, default_value_t = Renderer::Batch)]
    pub renderer: Renderer,
    /// The PNG to write; a JSON file with each cell's seed and mission is written beside it.
    #[arg(long)]
    pub out: PathBuf,
}

/// Run a scenario tool.
pub fn run(cmd: ScenarioCommand) -> Result<()> {
    match cmd {
        ScenarioCommand::List => {
            for name in builtin_names() {
                let s = Scenario::load(name).with_context(|| format!("built-in scenario {name}"))?;
                println!("{name:<20} {}", s.description);
            }
            Ok(())
        }
        ScenarioCommand::Check(a) => {
            for f in &a.files {
                let s = Scenario::load(f)?;
                println!("ok {f} ({})", s.name);
            }
            Ok(())
        }
        ScenarioCommand::Preview(a) => execute_preview(&a.request()),
    }
}

impl PreviewArgs {
    /// The request these arguments make.
    pub fn request(&self) -> ScenarioPreview {
        ScenarioPreview { scenario: self.scenario.clone(), seeds: self.seeds, first_seed: self.first_seed, size: self.size, renderer: self.renderer, out: self.out.clone() }
    }
}

/// Write the preview `job` asks for and say where.
pub fn execute_preview(job: &ScenarioPreview) -> Result<()> {
    let done = preview(job)?;
    let (cols, rows) = done.grid;
    println!("wrote {} ({} seeds, {cols}x{rows}) and {}", job.out.display(), job.seeds, done.legend.display());
    Ok(())
}
