//! Pretraining from live envs: a feeder thread turns the env stream's transitions into whole
//! episodes in a replay buffer while the trainer samples from the buffer.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use candle_core::Device;
use sandtable_agent::checkpoint::TrainState;
use sandtable_agent::config::Config;
use sandtable_agent::pretrain::{Source, pretrain};
use sandtable_agent::replay::{ReplayBuffer, ReplayEpisode};
use sandtable_agent::runner::Observer;
use sandtable_env::{Decider, Event, PolicySpec, Renderer, Stream, StreamConfig};

use crate::live::assembler::{EpisodeAssembler, load_scenarios};

/// Feed `stream`'s episodes into `buffer` until `stop` is set, the stream ends or fails (the
/// failure is left in the buffer for the trainer to report). Dropping the stream on exit stops
/// and joins its workers.
pub fn spawn_feeder(mut stream: Stream, buffer: Arc<ReplayBuffer>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut episodes = EpisodeAssembler::default();
        while !stop.load(Ordering::SeqCst) {
            match stream.recv() {
                Ok(Some(Event::Transition(t))) => {
                    if let Some(ep) = episodes.push(&t) {
                        buffer.push(ReplayEpisode { frames: ep.frames, actions: ep.actions, mission: ep.meta.mission });
                    }
                }
                Ok(Some(Event::Query(_))) | Ok(None) => break,
                Err(e) => {
                    buffer.fail(e.to_string());
                    break;
                }
            }
        }
    })
}

/// A live pretraining request.
#[derive(Clone, Debug)]
pub struct LivePretrain {
    /// Scenarios played, round robin by episode.
    pub scenarios: Vec<String>,
    /// Env worker threads.
    pub workers: usize,
    /// Envs per worker.
    pub envs: usize,
    /// Who acts.
    pub policy: PolicySpec,
    /// Frames the replay buffer keeps.
    pub buffer_frames: usize,
    /// Which renderer draws the frames.
    pub renderer: Renderer,
    /// Run directory.
    pub run: PathBuf,
    /// Continue the run.
    pub resume: bool,
    /// Stop after this global step.
    pub until: Option<u64>,
}

/// Pretrain from live envs; returns the state reached and the episodes played into the buffer.
pub fn pretrain_live(cfg: &Config, job: &LivePretrain, device: &Device, obs: &mut dyn Observer) -> Result<(TrainState, u64)> {
    let scenarios = load_scenarios(&job.scenarios)?;
    let size = cfg.image_size as u32;
    let actions = sandtable_env::decision_vocabulary().iter().map(|s| s.to_string()).collect();
    let buffer = Arc::new(ReplayBuffer::new(job.buffer_frames, cfg.image_size, cfg.image_size, actions));
    let stop = Arc::new(AtomicBool::new(false));
    let config = StreamConfig { workers: job.workers, envs_per_worker: job.envs, width: size, height: size, renderer: job.renderer, ..StreamConfig::new(scenarios, cfg.train.seed, 1_000_000) };
    let stream = Stream::spawn(config, Decider::Policy(job.policy.clone())).context("starting the env workers")?;
    let feeder = spawn_feeder(stream, buffer.clone(), stop.clone());
    tracing::info!(config = %cfg.name, workers = job.workers, "pretraining from the live stream");
    let result = pretrain(cfg, Source::Live(&buffer), &job.run, job.resume, job.until, device, obs);
    stop.store(true, Ordering::SeqCst);
    let episodes = buffer.episodes_added();
    // The feeder drops the stream, which stops and joins the workers.
    let _ = feeder.join();
    let state = result.context("pretraining from the live stream")?;
    Ok((state, episodes))
}
