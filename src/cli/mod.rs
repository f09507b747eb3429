//! Subcommands: each has an args struct and a `run` in its own file.

mod bench;
mod dataset;
mod demo;
mod dream;
mod eval;
mod eval_wm;
mod finetune;
mod play;
mod pretrain;
mod probe;
mod record;
mod report;
mod scenario;
mod sim;


use clap::{Parser, Subcommand};

/// sandtable: a headless Bevy world and a candle world-model trainer.
#[derive(Debug, Parser)]
#[command(name = "sandtable", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The whole pipeline in one command: record, pretrain, eval-wm, finetune, eval, report.
    Demo(demo::DemoArgs),
    /// Write a run directory's self-contained report.html.
    Report(report::ReportArgs),
    /// Play one episode and write its frames as PNG, a GIF and steps.jsonl.
    Sim(sim::SimArgs),
    /// Open a window onto an env: drive it with the keyboard, watch the expert or an agent, record.
    Play(play::PlayArgs),
    /// Record episodes into a dataset (safetensors shards, info.json, episodes.jsonl).
    Record(record::RecordArgs),
    /// Stage one: train the action-conditioned next-frame world model on recorded datasets.
    Pretrain(pretrain::PretrainArgs),
    /// Stages two and three: fine-tune the agent to follow instructions and answer questions.
    Finetune(finetune::FinetuneArgs),
    /// Closed-loop evaluation in live envs: the agent against random and expert.
    Eval(eval::EvalArgs),
    /// Evaluate a world model on held-out episodes against copying the last frame.
    #[command(name = "eval-wm")]
    EvalWm(eval_wm::EvalWmArgs),
    /// Linear probes of trunks' frozen features: target in view, its bearing, the object at the centre.
    Probe(probe::ProbeArgs),
    /// Play an episode and the world model's imagination of it side by side, as a GIF.
    Dream(dream::DreamArgs),
    /// Check and summarise datasets.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
    /// List, check and preview scenarios.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Run the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Report(a) => report::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Record(a) => record::run(a),
        Command::Play(a) => play::run(a),
        Command::Dataset(d) => dataset::run(d),
        Command::Pretrain(a) => pretrain::run(a),
        Command::EvalWm(a) => eval_wm::run(a),
        Command::Finetune(a) => finetune::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Dream(a) => dream::run(a),
        Command::Probe(a) => probe::run(a),
        Command::Scenario(s) => scenario::run(s),
        Command::Bench(b) => bench::run(b),
    }
}
