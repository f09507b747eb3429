//! `sandtable sim`: play one episode headless and write what it saw.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sandtable_env::{Decision, Env, EnvConfig, Policy, PolicySpec, Renderer, Scenario};
use serde_json::json;

use crate::media::{GifWriter, partial_path, png_bytes, write_atomic};

/// Arguments of `sandtable sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// A built-in scenario name or a path to a `.ron` file.
    #[arg(long, default_value = "go_to_object")]
    pub scenario: String,
    /// Episode seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most steps to take (the episode may end sooner).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub steps: u32,
    /// Who chooses the actions: expert, random, or mixed:P (the expert with a fraction P of random decisions).
    #[arg(long, default_value = "expert")]
    pub policy: PolicySpec,
    /// Frame side in pixels (square frames).
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Which renderer draws the frames: batch (every env in one pass) or pbr (Bevy's own path).
    #[arg(long, default_value_t = Renderer::Batch)]
    pub renderer: Renderer,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
}

/// Run one episode and write frames, a GIF, steps.jsonl and meta.json into `--out`.
pub fn run(args: SimArgs) -> Result<()> {
    let scenario = Arc::new(Scenario::load(&args.scenario).context("loading the scenario")?);
    let frames_dir = args.out.join("frames");
    std::fs::create_dir_all(&frames_dir).with_context(|| format!("creating output directory {}", frames_dir.display()))?;
    let config = EnvConfig { width: args.size, height: args.size, renderer: args.renderer, ..EnvConfig::new(scenario.clone()) };
    let mut env = Env::with_config(config).context("starting the environment")?;
    tracing::info!(adapter = env.adapter(), scenario = %scenario.name, seed = args.seed, "env ready");

    let steps_path = args.out.join("steps.jsonl");
    let steps_tmp = partial_path(&steps_path);
    let mut steps_file = std::io::BufWriter::new(
        std::fs::File::create(&steps_tmp).with_context(|| format!("creating {}", steps_tmp.display()))?,
    );
    let mut gif = GifWriter::create(&args.out.join("episode.gif"), args.size, args.size)?;
    let (obs, info) = env.reset(args.seed).context("resetting the environment")?;
    write_atomic(&frames_dir.join(format!("{:06}.png", 0)), &png_bytes(&obs.frame)?)?;
    gif.push(&obs.frame, 10)?;
    tracing::info!(mission = %obs.mission, "episode started");

    let bar = ProgressBar::new(u64::from(args.steps));
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} steps {per_sec} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let mut policy = Policy::new(args.policy.clone(), args.seed);
    let mut total = 0.0f32;
    let mut outcome = "step limit";
    let mut taken = 0;
    let _ = info;
    for t in 1..=args.steps {
        let state = env.state().context("env has no state after reset")?;
        let decision = policy.decide(state);
        let (step, action, answer) = match &decision {
            Decision::Act(a) => (env.step(*a).with_context(|| format!("step {t}"))?, a.name(), None),
            Decision::Answer(w) => (env.answer(w).with_context(|| format!("answering at step {t}"))?, "answer", Some(w.clone())),
        };
        total += step.reward;
        taken = t;
        let line = json!({
            "step": t,
            "action": action,
            "answer": answer,
            "reward": step.reward,
            "terminated": step.terminated,
            "truncated": step.truncated,
            "info": step.info,
        });
        writeln!(steps_file, "{line}").context("writing steps.jsonl")?;
        write_atomic(&frames_dir.join(format!("{t:06}.png")), &png_bytes(&step.obs.frame)?)?;
        gif.push(&step.obs.frame, 10)?;
        bar.inc(1);
        if step.terminated || step.truncated {
            outcome = if step.info.success { "success" } else if step.terminated { "terminated" } else { "truncated" };
            break;
        }
    }
    bar.finish_and_clear();
    steps_file.flush().context("flushing steps.jsonl")?;
    drop(steps_file);
    std::fs::rename(&steps_tmp, &steps_path).context("renaming steps.jsonl into place")?;
    let frames = gif.finish()?;
    let meta = json!({
        "scenario": scenario.name,
        "seed": args.seed,
        "policy": args.policy.name(),
        "size": args.size,
        "renderer": args.renderer.name(),
        "steps": taken,
        "frames": frames,
        "return": total,
        "outcome": outcome,
        "mission": obs.mission,
        "adapter": env.adapter(),
    });
    write_atomic(&args.out.join("meta.json"), serde_json::to_string_pretty(&meta)?.as_bytes())?;
    println!(
        "{outcome} after {taken} steps, return {total:.3}; wrote {frames} frames, episode.gif and steps.jsonl to {}",
        args.out.display()
    );
    Ok(())
}
