//! Recording: play episodes with a built-in policy on K worker threads and write them as a
//! dataset, resumable after its last committed shard.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sandtable_agent::dataset::{DatasetInfo, DatasetWriter};
use sandtable_env::{Decider, Event, PolicySpec, Renderer, Stream, StreamConfig};

use crate::live::assembler::{EpisodeAssembler, dataset_info, load_scenarios};

/// A recording request.
#[derive(Clone, Debug)]
pub struct Recording {
    /// Scenarios, round robin by episode.
    pub scenarios: Vec<String>,
    /// Episodes the dataset holds when done.
    pub episodes: u64,
    /// Who acts.
    pub policy: PolicySpec,
    /// Env worker threads.
    pub workers: usize,
    /// Envs per worker.
    pub envs: usize,
    /// Frame side, pixels.
    pub size: u32,
    /// Which renderer draws the frames.
    pub renderer: Renderer,
    /// Base seed.
    pub seed: u64,
    /// Record the expert's decision for every row instead of what was done.
    pub expert_labels: bool,
    /// Frames per shard.
    pub shard_frames: u64,
    /// Continue the dataset at `out`.
    pub resume: bool,
    /// The dataset's folder.
    pub out: PathBuf,
}

/// What a recording did.
pub struct Recorded {
    /// Episodes the dataset held before.
    pub before: u64,
    /// Frames played now.
    pub frames: u64,
    /// Successful episodes among those played now.
    pub successes: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The dataset as it stands now.
    pub info: DatasetInfo,
}

/// Record `job`'s episodes, after those its dataset already holds.
pub fn record(job: &Recording) -> Result<Recorded> {
    let scenarios = load_scenarios(&job.scenarios)?;
    let policy = if job.expert_labels { format!("{} labelled by expert", job.policy.name()) } else { job.policy.name() };
    let info = dataset_info(&scenarios, job.size, job.renderer, job.seed, &policy, job.episodes)?;
    let mut writer = if job.resume {
        anyhow::ensure!(job.out.join(sandtable_agent::dataset::DatasetInfo::FILE).is_file(), "--resume: {} holds no dataset to continue", job.out.display());
        DatasetWriter::resume(&job.out, info, job.shard_frames).context("resuming the recording")?
    } else {
        DatasetWriter::create(&job.out, info, job.shard_frames).context("creating the dataset")?
    };
    let before = writer.committed_episodes();
    if before >= job.episodes {
        let info = writer.finish().context("closing the dataset")?;
        return Ok(Recorded { before, frames: 0, successes: 0, seconds: 0.0, info });
    }
    if before > 0 {
        tracing::info!(episodes = before, "resuming after the committed episodes");
    }
    let config = StreamConfig {
        scenarios,
        base_seed: job.seed,
        episodes: (before..job.episodes).collect(),
        workers: job.workers,
        envs_per_worker: job.envs,
        width: job.size,
        height: job.size,
        capacity: 256,
        expert_labels: job.expert_labels,
        renderer: job.renderer,
    };
    let mut stream = Stream::spawn(config, Decider::Policy(job.policy.clone())).context("starting the env workers")?;
    // Timed from the workers' start, as frames per second have always been.
    let start = Instant::now();
    let bar = ProgressBar::new(job.episodes);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} episodes  {msg}  ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.set_position(before);
    let (mut frames, mut successes) = (0u64, 0u64);
    let mut episodes = if job.expert_labels { EpisodeAssembler::labelled() } else { EpisodeAssembler::default() };
    while let Some(event) = stream.recv().context("recording")? {
        let Event::Transition(t) = event else { anyhow::bail!("a built-in policy never asks for decisions") };
        frames += 1;
        if let Some(ep) = episodes.push(&t) {
            successes += u64::from(ep.meta.success);
            writer.push(ep).context("writing the dataset")?;
            bar.inc(1);
            bar.set_message(format!("{:.0} frames/s", frames as f64 / start.elapsed().as_secs_f64()));
        }
    }
    let info = writer.finish().context("writing the last shard")?;
    bar.finish_and_clear();
    Ok(Recorded { before, frames, successes, seconds: start.elapsed().as_secs_f64(), info })
}
