//! `sandtable demo`: the whole paradigm end to end on a sensible default, resumable, ending in
//! `report.html`. Every stage is an ordinary `sandtable` command line, run in this process and
//! logged to `commands.jsonl`, so what the report shows is exactly what ran and can be rerun.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser};
use sandtable::report::CommandLine;
use sandtable_agent::run_dir::RunDir;

/// Arguments of `sandtable demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run directory.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// Start over: delete --out first instead of reusing what it holds.
    #[arg(long)]
    pub fresh: bool,
    /// A few minutes' smoke run (the `tiny` preset on a handful of episodes) instead of the
    /// default (`mini`, about 15 minutes on 2 CPU cores after the build).
    #[arg(long)]
    pub quick: bool,
    /// Env worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: u16,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// The sizes of one demo.
struct Plan {
    config: &'static str,
    preview_seeds: u64,
    pretrain_episodes: u64,
    val_episodes: u64,
    tokenizer_steps: u64,
    dynamics_steps: u64,
    demo_episodes: u64,
    /// Extra expert episodes of the question scenarios: short (a count is one step, a
    /// description a walk of about 13), so cheap, and many distinct scenes are what make the
    /// answers learnable (docs/results.md).
    question_episodes: u64,
    finetune_steps: u64,
    /// Fine-tuning steps of behaviour cloning before the agent first plays.
    first_round_steps: u64,
    /// Online rounds after the first: each plays this many walking episodes.
    round_episodes: u64,
    wm_windows: u64,
    eval_episodes: u64,
}

const SCENARIOS: [&str; 4] = ["go_to_object", "pick_up_object", "describe_object", "count_objects"];
/// A question kind no fine-tuning round asks: prompting it measures zero-shot transfer.
const ZERO_SHOT: &str = "size_of_object";

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self { config: "tiny", preview_seeds: 4, pretrain_episodes: 8, val_episodes: 2, tokenizer_steps: 20, dynamics_steps: 20, demo_episodes: 8, question_episodes: 8, finetune_steps: 20, first_round_steps: 15, round_episodes: 4, wm_windows: 16, eval_episodes: 2 }
        } else {
            Self { config: "mini", preview_seeds: 9, pretrain_episodes: 240, val_episodes: 24, tokenizer_steps: 600, dynamics_steps: 600, demo_episodes: 6400, question_episodes: 16000, finetune_steps: 4800, first_round_steps: 3600, round_episodes: 200, wm_windows: 64, eval_episodes: 100 }
        }
    }
}

/// Whether a run directory's latest checkpoint has finished training.
fn finished(run: &Path) -> bool {
    use sandtable_agent::checkpoint::{Stage, load_state, resolve};
    resolve(run).and_then(|c| load_state(&c)).is_ok_and(|s| s.stage == Stage::Done)
}

struct Stages {
    out: PathBuf,
    log: std::fs::File,
    count: usize,
    done: usize,
}

impl Stages {
    /// Run `sandtable ARGS` unless `reuse`; log it either way.
    fn run(&mut self, stage: &str, args: Vec<String>, reuse: bool) -> Result<()> {
        let t0 = Instant::now();
        if reuse {
            println!("   {stage}: reusing what {} holds", self.out.display());
        } else {
            println!("   $ sandtable {}", args.join(" "));
            let cli = super::Cli::try_parse_from(std::iter::once("sandtable".to_string()).chain(args.iter().cloned()))
                .map_err(|e| anyhow::anyhow!("the demo built a bad command line `{}`: {e}", args.join(" ")))?;
            super::run(cli).with_context(|| format!("demo stage `{stage}`"))?;
        }
        let line = CommandLine { stage: stage.to_string(), argv: args, seconds: t0.elapsed().as_secs_f64(), reused: reuse };
        writeln!(self.log, "{}", line.to_line()?).context("writing commands.jsonl")?;
        Ok(())
    }

    fn header(&mut self, what: &str) {
        self.done += 1;
        println!("== {}/{} {what}", self.done, self.count);
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Run the demo.
pub fn run(args: DemoArgs) -> Result<()> {
    let start = Instant::now();
    let out = args.out.clone();
    if args.fresh && out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {} (--fresh)", out.display()))?;
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let plan = Plan::new(args.quick);
    // A fresh log per invocation: stages already done are logged as reused.
    let log_path = out.join(RunDir::COMMANDS);
    let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut st = Stages { out: out.clone(), log, count: 6, done: 0 };
    let workers = args.workers.to_string();
    let scen = || SCENARIOS.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let data = out.join("data");
    let (pre, val, demos, questions) = (data.join("pretrain"), data.join("val"), data.join("demos"), data.join("questions"));
    let (world, agent) = (out.join("world"), out.join("agent"));

    st.header("record: scenario previews, mixed-policy data for pretraining, expert demonstrations");
    for name in SCENARIOS {
        let png = out.join("previews").join(format!("{name}.png"));
        let a = vec!["scenario".into(), "preview".into(), name.into(), "--seeds".into(), plan.preview_seeds.to_string(), "--size".into(), "64".into(), "--out".into(), s(&png)];
        st.run(&format!("preview {name}"), a, png.is_file())?;
    }
    // Recordings resume (and stop at once when complete); seeds differ between sets.
    let record = |dir: &Path, scenarios: Vec<String>, episodes: u64, policy: &str, seed: u64| -> Vec<String> {
        let mut a = vec!["record".to_string(), "--scenario".into()];
        a.extend(scenarios);
        a.extend(["--episodes".into(), episodes.to_string(), "--policy".into(), policy.into(), "--workers".into(), workers.clone(), "--seed".into(), seed.to_string(), "--out".into(), s(dir)]);
        if dir.join("info.json").is_file() {
            a.push("--resume".into());
        }
        a
    };
    let complete = |dir: &Path, n: u64| sandtable_agent::dataset::DatasetInfo::load(dir).is_ok_and(|i| i.total_episodes >= n);
    st.run("record pretraining data", record(&pre, scen(), plan.pretrain_episodes, "mixed:0.3", 300), complete(&pre, plan.pretrain_episodes))?;
    let walking = vec!["go_to_object".to_string(), "pick_up_object".into()];
    st.run("record held-out world-model data", record(&val, walking, plan.val_episodes, "mixed:0.3", 301), complete(&val, plan.val_episodes))?;
    st.run("record expert demonstrations", record(&demos, scen(), plan.demo_episodes, "expert", 100), complete(&demos, plan.demo_episodes))?;
    let asking = vec!["describe_object".to_string(), "count_objects".into()];
    st.run("record more questions", record(&questions, asking, plan.question_episodes, "expert", 102), complete(&questions, plan.question_episodes))?;

    st.header("pretrain: the world model (frame tokenizer, then dynamics)");
    let mut a = vec!["pretrain".to_string(), "--data".into(), s(&pre), "--config".into(), plan.config.into(), "--tokenizer-steps".into(), plan.tokenizer_steps.to_string(), "--dynamics-steps".into(), plan.dynamics_steps.to_string(), "--device".into(), args.device.clone(), "--out".into(), s(&world)];
    if RunDir::new(&world).has_checkpoint() {
        a.push("--resume".into());
    }
    st.run("pretrain", a, finished(&world))?;

    st.header("eval-wm: prediction PSNR against copying the last frame, and a dream");
    let wm_eval = world.join(RunDir::EVAL_WM);
    let a = vec!["eval-wm".to_string(), "--checkpoint".into(), s(&world), "--data".into(), s(&val), "--windows".into(), plan.wm_windows.to_string(), "--device".into(), args.device.clone(), "--out".into(), s(&wm_eval)];
    st.run("eval-wm", a, wm_eval.join(RunDir::EVAL_RESULT).is_file())?;
    let dream = world.join("dream.gif");
    let a = vec!["dream".to_string(), "--checkpoint".into(), s(&world), "--scenario".into(), "go_to_object".into(), "--seed".into(), "3".into(), "--steps".into(), "32".into(), "--device".into(), args.device.clone(), "--out".into(), s(&dream)];
    st.run("dream", a, dream.is_file())?;

    // Behaviour cloning on the demonstrations and questions first, then one online round: the
    // agent walks alone, the expert labels the states it reaches (a wrong object picked up: put
    // it down), and training goes on with those labels beside the demonstrations. With the
    // demonstrations kept this beat behaviour cloning at equal steps (docs/results.md).
    st.header("finetune: follow missions and answer questions, imitating the expert, then online on its own states");
    // The preset balances scenarios, so the extra questions add distinct scenes, not share.
    let mut a = vec!["finetune".to_string(), "--online".into(), "--scenario".into(), "go_to_object".into(), "pick_up_object".into(), "--init".into(), s(&world), "--config".into(), plan.config.into()];
    a.extend(["--data".into(), s(&demos), s(&questions), "--steps".into(), plan.finetune_steps.to_string(), "--first-round-steps".into(), plan.first_round_steps.to_string()]);
    a.extend(["--rounds".into(), "2".into(), "--round-episodes".into(), plan.round_episodes.to_string(), "--beta".into(), "0".into(), "--workers".into(), workers.clone()]);
    a.extend(["--holdout-pairs".into(), "red:cube,blue:sphere".into(), "--device".into(), args.device.clone(), "--out".into(), s(&agent)]);
    if RunDir::new(&agent).holds_run() {
        a.push("--resume".into());
    }
    st.run("finetune", a, finished(&agent))?;

    st.header("eval: the agent closed loop in live envs, against random and expert, and prompted zero-shot");
    let closed = agent.join(RunDir::EVAL);
    let mut a = vec!["eval".to_string(), "--checkpoint".into(), s(&agent), "--scenario".into()];
    a.extend(scen());
    a.push(ZERO_SHOT.into());
    // Sampled actions: greedy ones loop where a frame alone does not say which way to turn
    // (22% against 51% on `go_to_object`, docs/results.md).
    a.extend(["--episodes".into(), plan.eval_episodes.to_string(), "--temperature".into(), "1".into(), "--workers".into(), workers.clone(), "--device".into(), args.device.clone(), "--out".into(), s(&closed)]);
    st.run("eval", a, closed.join(RunDir::EVAL_RESULT).is_file())?;

    st.header("report: report.html with the previews, plots, GIFs, tables and these commands");
    st.run("report", vec!["report".into(), s(&out)], false)?;
    // The report was written before its own line reached commands.jsonl; write it again so the
    // log in it is complete.
    sandtable::report::write_report(&out)?;
    println!("demo finished in {:.0} s: open {}", start.elapsed().as_secs_f64(), out.join("report.html").display());
    Ok(())
}
