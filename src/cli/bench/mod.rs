//! `sandtable bench`: throughput measurements, each a median over several timed runs.

mod env;
mod reader;
mod stream;
mod train;

use clap::Subcommand;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Env steps/s with rendering and readback, for 1 env and N envs in N threads.
    Env(env::EnvBenchArgs),
    /// Frames/s through the worker stream against the same workers with no channel.
    Stream(stream::StreamBenchArgs),
    /// Training batches/s served by the dataset reader.
    Reader(reader::ReaderBenchArgs),
    /// World-model training step time and a per-layer profile, optionally against PyTorch.
    Train(train::TrainBenchArgs),
}

/// Run a benchmark.
pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Env(a) => env::run(a),
        BenchCommand::Stream(a) => stream::run(a),
        BenchCommand::Reader(a) => reader::run(a),
        BenchCommand::Train(a) => train::run(a),
    }
}

/// The median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

/// Sort in place and return (median, min, max).
fn summary(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (median(values), values[0], values[values.len() - 1])
}
