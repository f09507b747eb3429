//! `sandtable report RUN_DIR`: (re)write the run's self-contained `report.html`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

/// Arguments of `sandtable report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory: made by `demo`, `pretrain`, `finetune`, or any mix of commands.
    pub run: PathBuf,
}

/// Write the report.
pub fn run(args: ReportArgs) -> Result<()> {
    let path = sandtable::report::write_report(&args.run)?;
    println!("wrote {}", path.display());
    Ok(())
}
