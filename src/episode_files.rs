//! One episode played headless by a built-in policy and written out (`sandtable sim`): PNG
//! frames, a GIF, `steps.jsonl` (one line per step) and `meta.json`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sandtable_env::{Decision, Env, EnvConfig, PolicySpec, Renderer, Scenario};
use serde_json::json;

use crate::episode::{Visit, play_episode};
use crate::media::{GifWriter, partial_path, png_bytes, write_atomic, write_json};

/// What to play and where to write it.
#[derive(Clone, Debug)]
pub struct SimEpisode {
    /// A built-in scenario name or a `.ron` path.
    pub scenario: String,
    /// The episode's seed.
    pub seed: u64,
    /// Most steps to take.
    pub steps: u32,
    /// Who acts.
    pub policy: PolicySpec,
    /// Frame side, pixels.
    pub size: u32,
    /// Which renderer draws the frames.
    pub renderer: Renderer,
    /// Output folder.
    pub out: PathBuf,
}

/// How the episode went.
pub struct Simulated {
    /// `success`, `terminated`, `truncated` or `step limit`.
    pub outcome: &'static str,
    /// Steps taken.
    pub steps: u32,
    /// Sum of rewards.
    pub episode_return: f32,
    /// Frames written.
    pub frames: usize,
}

/// Play and write `job`'s episode.
pub fn simulate(job: &SimEpisode) -> Result<Simulated> {
    let scenario = Arc::new(Scenario::load(&job.scenario).context("loading the scenario")?);
    let frames_dir = job.out.join("frames");
    std::fs::create_dir_all(&frames_dir).with_context(|| format!("creating output directory {}", frames_dir.display()))?;
    let config = EnvConfig { width: job.size, height: job.size, renderer: job.renderer, ..EnvConfig::new(scenario.clone()) };
    let mut env = Env::with_config(config).context("starting the environment")?;
    tracing::info!(adapter = env.adapter(), scenario = %scenario.name, seed = job.seed, "env ready");

    let steps_path = job.out.join("steps.jsonl");
    let steps_tmp = partial_path(&steps_path);
    let mut steps_file = std::io::BufWriter::new(std::fs::File::create(&steps_tmp).with_context(|| format!("creating {}", steps_tmp.display()))?);
    let mut gif = GifWriter::create(&job.out.join("episode.gif"), job.size, job.size)?;
    let bar = ProgressBar::new(u64::from(job.steps));
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} steps {per_sec} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let (mut total, mut outcome, mut taken) = (0.0f32, "step limit", 0);
    let obs = play_episode(&mut env, &job.policy, job.seed, job.steps, |visit| {
        let (t, decision, step) = match visit {
            Visit::Reset(obs, _) => {
                write_atomic(&frames_dir.join(format!("{:06}.png", 0)), &png_bytes(&obs.frame)?)?;
                gif.push(&obs.frame, 10)?;
                tracing::info!(mission = %obs.mission, "episode started");
                return Ok(());
            }
            Visit::Step(t, decision, step) => (t, decision, step),
        };
        let (action, answer) = match decision {
            Decision::Act(a) => (a.name(), None),
            Decision::Answer(w) => ("answer", Some(w.clone())),
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
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    steps_file.flush().context("flushing steps.jsonl")?;
    drop(steps_file);
    std::fs::rename(&steps_tmp, &steps_path).context("renaming steps.jsonl into place")?;
    let frames = gif.finish()?;
    let meta = json!({
        "scenario": scenario.name,
        "seed": job.seed,
        "policy": job.policy.name(),
        "size": job.size,
        "renderer": job.renderer.name(),
        "steps": taken,
        "frames": frames,
        "return": total,
        "outcome": outcome,
        "mission": obs.mission,
        "adapter": env.adapter(),
    });
    write_json(&job.out.join("meta.json"), &meta)?;
    Ok(Simulated { outcome, steps: taken, episode_return: total, frames })
}
