//! `sandtable bench reader`: how fast the dataset reader serves training windows as tensors.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use clap::Args;
use sandtable_agent::dataset::{Dataset, WindowSampler};
use serde_json::json;

use super::summary;

/// Arguments of `sandtable bench reader`.
#[derive(Debug, Args)]
pub struct ReaderBenchArgs {
    /// Dataset directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Rows per window.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Batches per timed run.
    #[arg(long, default_value_t = 200)]
    pub batches: usize,
    /// Timed runs; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Run the reader benchmark.
pub fn run(args: ReaderBenchArgs) -> Result<()> {
    anyhow::ensure!(args.runs >= 1 && args.batches >= 1, "--runs and --batches must be at least 1");
    let t = Instant::now();
    let ds = Dataset::open(&args.data).with_context(|| format!("opening {}", args.data.display()))?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let episodes: Vec<usize> = (0..ds.num_episodes()).collect();
    let mut sampler = WindowSampler::new(&[(&ds, &episodes)], args.window, args.batch, 0)?;
    let mut rates = Vec::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        for _ in 0..args.batches {
            let b = sampler.next_batch(&[&ds], &Device::Cpu)?;
            std::hint::black_box(&b);
        }
        rates.push(args.batches as f64 / t.elapsed().as_secs_f64());
    }
    let (med, lo, hi) = summary(&mut rates);
    let (h, w) = ds.frame_size();
    let mb = (args.batch * args.window * h * w * 3) as f64 / 1e6;
    println!(
        "opened {} episodes in {open_ms:.1} ms; window {} x batch {}: {med:.0} batches/s (min {lo:.0}, max {hi:.0}), {:.0} MB/s of frames",
        ds.num_episodes(),
        args.window,
        args.batch,
        med * mb
    );
    if let Some(path) = &args.json {
        let doc = json!({
            "data": args.data, "episodes": ds.num_episodes(), "frame_size": [h, w], "window": args.window,
            "batch": args.batch, "batches": args.batches, "runs": args.runs, "open_ms": open_ms,
            "batches_per_s_median": med, "batches_per_s_all": rates,
        });
        sandtable::media::write_json(path, &doc)?;
    }
    Ok(())
}
