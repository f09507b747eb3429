//! `sandtable bench env`: env steps per second with rendering and readback, medians over runs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use sandtable::bench::env_rates;
use sandtable_env::{EnvConfig, Renderer, Scenario};
use serde_json::json;

use super::median;

/// Arguments of `sandtable bench env`.
#[derive(Debug, Args)]
pub struct EnvBenchArgs {
    /// Scenario to step.
    #[arg(long, default_value = "go_to_object")]
    pub scenario: String,
    /// Frame sides to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [64u32, 128])]
    pub sizes: Vec<u32>,
    /// Thread counts to measure (one single-threaded App per thread).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2])]
    pub threads: Vec<usize>,
    /// Envs per App (per thread).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize])]
    pub envs: Vec<usize>,
    /// Renderers to measure: batch, pbr.
    #[arg(long, value_delimiter = ',', default_values_t = [Renderer::Batch])]
    pub renderers: Vec<Renderer>,
    /// Timed batch steps per run.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Timed frames per run and thread instead of `--steps`: each configuration then steps
    /// `frames / envs` times (at least 20), so big batches and slow renderers cost the same time.
    #[arg(long)]
    pub frames: Option<usize>,
    /// Timed runs; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Also print where an update's milliseconds go, per phase (thread 0's App).
    #[arg(long)]
    pub profile: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Run the env benchmark.
pub fn run(args: EnvBenchArgs) -> Result<()> {
    anyhow::ensure!(args.runs >= 1 && args.steps >= 1 && args.frames != Some(0), "--runs, --steps and --frames must be at least 1");
    let scenario = Arc::new(Scenario::load(&args.scenario).context("loading the scenario")?);
    let mut rows = Vec::new();
    println!("| renderer | size | threads | envs/App | frames/s (median) | min | max | ms/update (median) |");
    println!("|---|---|---|---|---|---|---|---|");
    for &renderer in &args.renderers {
    for &size in &args.sizes {
        for &threads in &args.threads {
            for &envs in &args.envs {
                let config = EnvConfig { num_envs: envs, width: size, height: size, renderer, ..EnvConfig::new(scenario.clone()) };
                let steps = args.frames.map_or(args.steps, |f| f.div_ceil(envs).max(20));
                let (runs, phases) = env_rates(&config, threads, steps, args.runs)
                    .with_context(|| format!("benchmarking the {renderer} renderer at {size}x{size}, {threads} threads, {envs} envs per App"))?;
                let mut fps = runs;
                fps.sort_by(f64::total_cmp);
                let med = median(&fps);
                // Each thread's App renders `envs` frames per update.
                let ms_per_update = 1000.0 * (threads * envs) as f64 / med;
                println!(
                    "| {renderer} | {size} | {threads} | {envs} | {med:.0} | {:.0} | {:.0} | {:.2} |",
                    fps[0],
                    fps[fps.len() - 1],
                    ms_per_update
                );
                if args.profile {
                    for (phase, ms) in &phases {
                        println!("|   |   | {phase} | | {ms:.3} ms | | | |");
                    }
                }
                let phases: serde_json::Map<String, serde_json::Value> =
                    phases.iter().map(|(p, ms)| (p.to_string(), json!(ms))).collect();
                rows.push(json!({
                    "renderer": renderer.name(), "size": size, "threads": threads, "envs_per_app": envs, "steps": steps,
                    "runs": args.runs, "fps_median": med, "fps_all": fps, "ms_per_update_by_phase": phases,
                }));
            }
        }
    }
    }
    if let Some(path) = &args.json {
        let doc = json!({ "scenario": scenario.name, "adapter": sandtable_env::render::gpu::probe_vulkan().unwrap_or_default(), "results": rows });
        sandtable::media::write_json(path, &doc)?;
    }
    Ok(())
}
