//! The live loop as a library: online imitation and closed-loop evaluation driven through the
//! `sandtable` library's API, with no CLI process.

use candle_core::Device;
use sandtable::live::assembler::load_scenarios;
use sandtable::live::eval_result::{ALL, EpisodeLine, EvalResult};
use sandtable::live::evaluation::{Evaluation, Player, evaluate};
use sandtable::live::online::{Online, online};
use sandtable_agent::checkpoint::{self, Stage};
use sandtable_agent::config::Config;
use sandtable_agent::finetune::Finetune;
use sandtable_agent::run_dir::{MetricsRow, OnlineRound, RunDir};
use sandtable_agent::runner::{Observer, StepRecord};
use sandtable_env::Renderer;

/// Counts what the loop reports.
#[derive(Default)]
struct Seen {
    round_starts: Vec<u64>,
    episodes: usize,
    rounds: Vec<OnlineRound>,
    steps: Vec<u64>,
}

impl Observer for Seen {
    fn on_step(&mut self, r: &StepRecord) {
        self.steps.push(r.step);
    }
    fn on_round_start(&mut self, round: u64, _episodes: u64) {
        self.round_starts.push(round);
    }
    fn on_round_episode(&mut self, _status: &str) {
        self.episodes += 1;
    }
    fn on_round(&mut self, r: &OnlineRound) {
        self.rounds.push(r.clone());
    }
}

#[test]
fn online_imitation_and_evaluation_run_through_the_library() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("agent");
    let mut cfg = Config::tiny();
    cfg.finetune.steps = 4;
    cfg.finetune.online.rounds = 2;
    cfg.finetune.online.episodes = 4;
    let tuning = Finetune {
        data: &[],
        init: None,
        holdout: &[],
        run: &out,
        resume: false,
        until: None,
        freeze_trunk: false,
        vocab_texts: &[],
        stable_split: false,
        codes: None,
    };
    let job = Online { scenarios: load_scenarios(&["go_to_object".to_string()]).expect("scenario"), workers: 1, envs: 4, renderer: Renderer::Batch, demos: Vec::new(), tuning };
    let mut seen = Seen::default();
    let state = online(&cfg, &job, &Device::Cpu, &mut seen).expect("online imitation");
    assert_eq!((state.stage, state.step), (Stage::Done, 4));
    // Both rounds were played and reported, one progress path for play and training.
    assert_eq!(seen.round_starts, [0, 1]);
    assert_eq!(seen.episodes, 8);
    assert_eq!(seen.rounds.iter().map(|r| r.round).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(seen.steps, [1, 2, 3, 4]);
    // The run directory's records say the same.
    let run = RunDir::new(&out);
    // The rows read back (play times aside: JSON keeps 17 digits) are what was reported, and
    // each round played here says where its play time went.
    let untimed = |rounds: &[OnlineRound]| rounds.iter().map(|r| OnlineRound { play: None, ..r.clone() }).collect::<Vec<_>>();
    assert_eq!(untimed(&run.online_rounds()), untimed(&seen.rounds));
    for r in &seen.rounds {
        let play = r.play.expect("played in this process");
        assert!(play.rows >= 4 && play.seconds > 0.0 && play.agent_seconds <= play.seconds, "{play:?}");
        // Round 0 is the expert's own play: the agent decides nothing.
        assert_eq!(play.decisions == 0, r.round == 0, "{play:?}");
    }
    assert_eq!(run.online_rounds()[0].success, 1.0, "round 0 is the expert's own play");
    let steps = run.metrics_rows().iter().filter(|r| matches!(r, MetricsRow::Step(_))).count();
    assert_eq!(steps, 4);
    assert_eq!(checkpoint::load_state(&checkpoint::resolve(&out).expect("checkpoint")).expect("state").step, 4);
    // The same directory again without resume is refused by the one check every run makes.
    let again = online(&cfg, &job, &Device::Cpu, &mut Seen::default());
    assert!(again.is_err_and(|e| e.to_string().contains("pass --resume")));

    // Closed-loop evaluation of that agent, against the expert, on unseen seeds.
    let eval_dir = dir.path().join("eval");
    let job = Evaluation {
        checkpoint: Some(out.clone()),
        scenarios: vec!["go_to_object".into()],
        episodes: 3,
        players: vec![Player::Agent, Player::Expert],
        workers: 1,
        envs: 3,
        seed: 1_000_003,
        holdout: None,
        temperature: 0.0,
        deadline_answer: true,
        gifs: 1,
        size: 64,
        renderer: None,
        out: Some(eval_dir.clone()),
    };
    let done = evaluate(&job, &Device::Cpu).expect("evaluation");
    let expert = done.result.row("expert", "go_to_object", ALL).expect("the expert's row");
    assert_eq!((expert.summary.episodes, expert.summary.successes), (3, 3));
    assert_eq!(done.result.row("agent", "go_to_object", ALL).expect("the agent's row").summary.episodes, 3);
    // What was written reads back as what was returned (floats aside: JSON keeps 17 digits).
    let back = EvalResult::load(&eval_dir).expect("eval.json");
    let key = |r: &EvalResult| r.results.iter().map(|x| (x.policy.clone(), x.scenario.clone(), x.subset.clone(), x.summary.episodes, x.summary.successes, x.failures.clone())).collect::<Vec<_>>();
    assert_eq!(key(&back), key(&done.result));
    assert_eq!((&back.checkpoint, &back.gifs, back.base_seed, &back.renderer), (&done.result.checkpoint, &done.result.gifs, done.result.base_seed, &done.result.renderer));
    let lines: Vec<EpisodeLine> = std::fs::read_to_string(eval_dir.join(RunDir::EVAL_EPISODES))
        .expect("episodes.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("an episode line"))
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(lines.iter().all(|l| l.diagnosis.is_some()), "go_to_object names a target: every episode is diagnosed");
}
