//! What the benchmarks time in live envs: env steps with rendering and readback on several
//! threads, and the worker stream against the same workers with no channel. `sandtable bench`
//! prints and writes the figures.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sandtable_env::stream::play_unstreamed;
use sandtable_env::{Action, Advanced, Decider, Decision, Directive, EnvBatch, EnvConfig, PolicySpec, Stream, StreamConfig};

/// Milliseconds per update by phase, from thread 0's App.
pub type Phases = Vec<(&'static str, f64)>;

/// Frames per second of each of `runs` runs of `steps` updates, summed over `threads` threads
/// with one App of `config` each, and where thread 0's updates spent their time. Threads run
/// their runs side by side without a barrier, so a thread that fails cannot leave the others
/// waiting.
pub fn env_rates(config: &EnvConfig, threads: usize, steps: usize, runs: usize) -> Result<(Vec<f64>, Phases)> {
    let envs = config.num_envs;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let config = config.clone();
            std::thread::Builder::new()
                .name(format!("bench-env-{t}"))
                .spawn(move || -> Result<(Vec<Duration>, Phases)> {
                    // Each App is built inside its own thread.
                    let mut batch = EnvBatch::new(config)?;
                    let mut rng = ChaCha8Rng::seed_from_u64(t as u64);
                    let mut next_seed = (t * 1_000_000) as u64;
                    let seeds: Vec<(usize, u64)> = (0..envs).map(|i| (i, next_seed + i as u64)).collect();
                    next_seed += envs as u64;
                    batch.reset_many(&seeds)?;
                    // Finished envs reset in the next update, beside the others' steps.
                    let mut finished = vec![false; envs];
                    let mut go = |batch: &mut EnvBatch, n: usize| -> Result<()> {
                        for _ in 0..n {
                            let requests: Vec<Option<Directive>> = finished
                                .iter()
                                .map(|&done| {
                                    Some(if done {
                                        next_seed += 1;
                                        Directive::Reset(next_seed)
                                    } else {
                                        Directive::Decide(Decision::Act(Action::ALL[rng.random_range(1..7)]))
                                    })
                                })
                                .collect();
                            for (done, out) in finished.iter_mut().zip(batch.advance(&requests)?) {
                                *done = matches!(out, Some(Advanced::Stepped(s)) if s.terminated || s.truncated);
                            }
                        }
                        Ok(())
                    };
                    go(&mut batch, 20)?;
                    batch.profile().clear();
                    let mut times = Vec::with_capacity(runs);
                    for _ in 0..runs {
                        let start = Instant::now();
                        go(&mut batch, steps)?;
                        times.push(start.elapsed());
                    }
                    Ok((times, batch.profile().report().0))
                })
                .context("spawning a bench thread")
        })
        .collect::<Result<_>>()?;
    let mut per_thread = Vec::new();
    for h in handles {
        per_thread.push(h.join().map_err(|_| anyhow::anyhow!("a bench thread panicked"))??);
    }
    let frames = (envs * steps) as f64;
    let fps = (0..runs).map(|r| per_thread.iter().map(|t| frames / t.0[r].as_secs_f64()).sum()).collect();
    Ok((fps, per_thread.swap_remove(0).1))
}

/// One run of `config`'s episodes played by `policy` twice, straight after each other: the
/// workers alone, then through the stream. Returns both runs' frames per second.
pub fn stream_rates(config: &StreamConfig, policy: &PolicySpec) -> Result<(f64, f64)> {
    let t = Instant::now();
    let frames = play_unstreamed(config, policy).context("direct run")?;
    let direct = frames as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut stream = Stream::spawn(config.clone(), Decider::Policy(policy.clone()))?;
    let mut frames = 0u64;
    while let Some(_event) = stream.recv().context("streamed run")? {
        frames += 1;
    }
    Ok((direct, frames as f64 / t.elapsed().as_secs_f64()))
}
