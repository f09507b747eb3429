//! `sandtable bench stream`: what the channel costs. The same workers play the same episodes
//! with the same policy twice: once sending every transition to a consumer thread over the
//! bounded channel, once counting them in place.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use sandtable::bench::stream_rates;
use sandtable_env::{PolicySpec, Scenario, StreamConfig};
use serde_json::json;

use super::summary;

/// Arguments of `sandtable bench stream`.
#[derive(Debug, Args)]
pub struct StreamBenchArgs {
    /// Scenario to play.
    #[arg(long, default_value = "go_to_object")]
    pub scenario: String,
    /// Worker thread counts to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2])]
    pub workers: Vec<usize>,
    /// Envs per worker's App.
    #[arg(long, default_value_t = 4)]
    pub envs: usize,
    /// Episodes per timed run.
    #[arg(long, default_value_t = 16)]
    pub episodes: u64,
    /// Policy.
    #[arg(long, default_value = "expert")]
    pub policy: PolicySpec,
    /// Frame side.
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Timed runs of each mode, alternated; medians are reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Run the stream benchmark.
pub fn run(args: StreamBenchArgs) -> Result<()> {
    anyhow::ensure!(args.runs >= 1 && args.episodes >= 1, "--runs and --episodes must be at least 1");
    let scenario = Arc::new(Scenario::load(&args.scenario).context("loading the scenario")?);
    println!("| workers | envs/worker | direct frames/s | streamed frames/s | overhead, median of pairs (min .. max) |");
    println!("|---|---|---|---|---|");
    let mut rows = Vec::new();
    for &workers in &args.workers {
        let config = StreamConfig {
            workers,
            envs_per_worker: args.envs,
            width: args.size,
            height: args.size,
            ..StreamConfig::new(vec![scenario.clone()], 0, args.episodes)
        };
        let (mut direct, mut streamed) = (Vec::new(), Vec::new());
        for _ in 0..args.runs {
            let (d, s) = stream_rates(&config, &args.policy)?;
            direct.push(d);
            streamed.push(s);
        }
        // Runs alternate, so each streamed run is compared with the direct run just before it:
        // the machine's drift over minutes cancels out of the paired ratio.
        let mut paired: Vec<f64> = direct.iter().zip(&streamed).map(|(d, s)| 100.0 * (d - s) / d).collect();
        let (overhead, lo, hi) = summary(&mut paired);
        let (d, _, _) = summary(&mut direct);
        let (s, _, _) = summary(&mut streamed);
        println!("| {workers} | {} | {d:.0} | {s:.0} | {overhead:.1}% ({lo:.1}% .. {hi:.1}%) |", args.envs);
        rows.push(json!({
            "workers": workers, "envs_per_worker": args.envs, "episodes": args.episodes, "runs": args.runs,
            "direct_fps_median": d, "streamed_fps_median": s, "overhead_percent_median_of_pairs": overhead, "overhead_percent_pairs": paired,
            "direct_fps_all": direct, "streamed_fps_all": streamed,
        }));
    }
    if let Some(path) = &args.json {
        let doc = json!({ "scenario": scenario.name, "policy": args.policy.name(), "size": args.size, "results": rows });
        sandtable::media::write_json(path, &doc)?;
    }
    Ok(())
}
