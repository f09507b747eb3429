//! Online imitation (`sandtable finetune --online`, DAgger): the expert's labels on the states
//! the agent visits, exact resume between and inside rounds, the aggregated dataset's validity
//! and the errors for what cannot be trained online.

use std::path::Path;
use std::process::Command;

use sandtable_env::{Action, Decision, Decider, Stream, StreamConfig, Transition};
use serde_json::Value;

use crate::util::{go_to, read_tree, sandtable, stderr};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// The way back from `d`: what undoes a step or turns the other way.
fn wrong_way(d: &Decision) -> Decision {
    Decision::Act(match d {
        Decision::Act(Action::TurnLeft) => Action::TurnRight,
        Decision::Act(Action::TurnRight) => Action::TurnLeft,
        _ => Action::Back,
    })
}

/// Each episode's rows, in order.
fn episodes(config: StreamConfig, driver: Decider, mut decide: impl FnMut(&sandtable_env::Pending) -> Decision) -> Vec<Vec<Transition>> {
    let n = config.episodes.len();
    let stream = Stream::spawn(config, driver).expect("stream");
    let mut rows: Vec<Transition> = Vec::new();
    stream.drive(|pending| pending.iter().map(&mut decide).collect(), |t| rows.push(t)).expect("drive");
    (0..n as u64).map(|e| rows.iter().filter(|t| t.episode == e).cloned().collect()).collect()
}

/// The agent walks away from its target for its first steps; the expert's labels on those
/// states point back, and following them from wherever it got to reaches the target.
#[test]
fn expert_labels_turn_back_an_agent_that_walks_the_wrong_way() {
    const DETOUR: u32 = 10;
    let config = StreamConfig { expert_labels: true, envs_per_worker: 2, ..StreamConfig::new(vec![go_to()], 11, 4) };
    let detoured = episodes(config.clone(), Decider::External, |p| {
        let label = p.expert.clone().expect("every pending state is labelled");
        if p.step < DETOUR { wrong_way(&label) } else { label }
    });
    let straight = episodes(config, Decider::Policy(sandtable_env::PolicySpec::Expert), |_| unreachable!("the expert decides inside the workers"));
    for (e, (ep, plain)) in detoured.iter().zip(&straight).enumerate() {
        let last = ep.last().expect("rows");
        assert!(last.is_last() && last.info.success, "episode {e}: following the labels after the detour reaches the target");
        // Walking the wrong way, what was done and what the expert says differ at every step.
        assert!(ep.iter().filter(|t| t.step < DETOUR).all(|t| t.decision != t.expert), "episode {e}");
        // The labels answer the states visited, not the expert's own path: they differ from it.
        let labels: Vec<_> = ep.iter().map(|t| t.expert.clone()).collect();
        let own: Vec<_> = plain.iter().map(|t| t.decision.clone()).collect();
        assert_ne!(labels, own, "episode {e}");
        assert!(plain.iter().all(|t| t.expert == t.decision), "a built-in expert's rows carry its own decisions as labels");
        // Afterwards the labels are what was done, and none is missing but on the last row.
        assert!(ep.iter().filter(|t| t.step >= DETOUR && !t.is_last()).all(|t| t.decision == t.expert));
        assert!(ep.iter().all(|t| t.is_last() == t.expert.is_none()));
    }
    // A turn the wrong way can happen to bring a target into view sooner than the expert's
    // one-way search would; over the episodes the detour costs steps.
    let rows = |eps: &[Vec<Transition>]| eps.iter().map(Vec::len).sum::<usize>();
    assert!(rows(&detoured) > rows(&straight), "the detour costs steps: {} rows against {}", rows(&detoured), rows(&straight));
}

fn online(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "finetune", "--online", "--scenario", "go_to_object", "describe_object", "--init", "none", "--config", "tiny", "--steps", "6", "--rounds", "3",
        "--round-episodes", "4", "--envs", "4", "--out", s(out),
    ];
    args.extend_from_slice(extra);
    sandtable(&args)
}

fn metrics(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics").lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

/// Files by relative path, with their bytes.
type Files = Vec<(String, Vec<u8>)>;

/// What a run's result is: the final weights, the aggregated dataset and every logged number
/// but times.
fn outcome(run: &Path) -> (Files, Files, Vec<Value>) {
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).expect("latest");
    let weights = run.join("checkpoints").join(latest.trim()).join("dynamics.safetensors");
    let weights = std::fs::read(&weights).unwrap_or_else(|e| panic!("{}: {e}", weights.display()));
    let mut lines = metrics(run);
    for l in &mut lines {
        if let Some(o) = l.as_object_mut() {
            o.remove("step_ms");
            o.remove("tokens_per_s");
            o.remove("play");
        }
    }
    (vec![("dynamics".into(), weights)], read_tree(&run.join("online")), lines)
}

#[test]
fn online_rounds_resume_exactly_and_the_aggregated_dataset_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = dir.path().join("whole");
    let o = online(&whole, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rounds: Vec<Value> = metrics(&whole).into_iter().filter(|v| v["stage"] == "online").collect();
    assert_eq!(rounds.len(), 3);
    for (r, v) in rounds.iter().enumerate() {
        assert_eq!(v["round"], r as u64);
        assert_eq!(v["episodes"], 4 * (r as u64 + 1));
        assert!(v["labels"].as_u64().is_some_and(|n| n > 0) && v["success"].is_number());
    }
    assert_eq!(rounds[0]["beta"], 1.0);
    assert_eq!(rounds[0]["success"], 1.0, "round 0 is the expert's own play");

    // Interrupted inside round 1's training, then between rounds 1 and 2, then finished.
    // A round killed while playing leaves a shard being written and episode lines past the
    // commit point; the resumed run drops them and plays the round again.
    let parts = dir.path().join("parts");
    for extra in [&["--until", "3"][..], &["--resume", "--until", "4"], &["--resume"]] {
        let o = online(&parts, extra);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        if extra.contains(&"4") {
            let data = parts.join("online");
            std::fs::write(data.join("data/shard-00002.safetensors.partial"), b"half a shard").expect("leftover shard");
            let lines = std::fs::read_to_string(data.join("episodes.jsonl")).expect("episodes.jsonl");
            let first = lines.lines().next().expect("a line").to_string();
            std::fs::write(data.join("episodes.jsonl"), format!("{lines}{first}\n")).expect("leftover line");
        }
    }
    let rounds_played = |run: &Path| metrics(run).iter().filter(|v| v["stage"] == "online").count();
    assert_eq!(rounds_played(&parts), 3);
    assert!(outcome(&whole) == outcome(&parts), "a resumed online run must match the uninterrupted one");

    // A fourth round on the same 6 steps would end where the run already is, and so never train
    // on what it gathered: a one-line error, and nothing is played.
    let o = sandtable(&[
        "finetune", "--online", "--resume", "--scenario", "go_to_object", "describe_object", "--init", "none", "--steps", "6", "--rounds", "4",
        "--round-episodes", "4", "--envs", "4", "--out", s(&whole),
    ]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("more --rounds need more --steps") && e.trim().lines().count() == 1, "{e}");
    let o = sandtable(&["dataset", "check", s(&whole.join("online"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("12 episodes"));
    let python = Command::new("python3").args(["-c", "import numpy, safetensors"]).status();
    if python.is_ok_and(|s| s.success()) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_dataset.py");
        let o = Command::new("python3").arg(&script).arg(whole.join("online")).output().expect("python3 runs");
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("ok: 12 episodes"), "{}", stderr(&o));
    } else {
        eprintln!("python3 with numpy and safetensors not found: skipping the Python check");
    }
}

/// Demonstrations given with --data join every round's training set, round 0 trains for
/// --first-round-steps before the agent first plays, and a finished run can be extended.
#[test]
fn demonstrations_beside_the_rounds_and_a_longer_round_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demos = dir.path().join("demos");
    let o = sandtable(&["record", "--scenario", "go_to_object", "--episodes", "6", "--policy", "expert", "--seed", "5", "--out", s(&demos)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.path().join("run");
    let o = online(&run, &["--data", s(&demos), "--first-round-steps", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rounds: Vec<Value> = metrics(&run).into_iter().filter(|v| v["stage"] == "online").collect();
    let starts: Vec<u64> = rounds.iter().map(|v| v["step"].as_u64().expect("step")).collect();
    assert_eq!(starts, [0, 4, 5], "round 0 trains 4 of the 6 steps, the other two rounds one each");
    let card: Value = serde_json::from_str(&std::fs::read_to_string(run.join("agent.json")).expect("agent.json")).expect("JSON");
    let data: Vec<&str> = card["data"].as_array().expect("data").iter().map(|d| d.as_str().expect("path")).collect();
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(data[0].ends_with("online") && data[1].ends_with("demos"), "{data:?}");
    // The split keeps most of the 6 demonstrations and the 12 played episodes for training.
    let (train, val) = (card["train_episodes"].as_u64().expect("train"), card["val_episodes"].as_u64().expect("val"));
    assert_eq!(train + val + card["holdout_episodes"].as_u64().unwrap_or(0), 18);
    // The finished run goes on with more steps and rounds: the rounds played stay as they were,
    // and two more follow at the new total's boundaries.
    let o = sandtable(&[
        "finetune", "--online", "--resume", "--scenario", "go_to_object", "describe_object", "--init", "none", "--steps", "8", "--rounds", "5",
        "--first-round-steps", "4", "--round-episodes", "4", "--envs", "4", "--data", s(&demos), "--out", s(&run),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rounds: Vec<Value> = metrics(&run).into_iter().filter(|v| v["stage"] == "online").collect();
    let starts: Vec<u64> = rounds.iter().map(|v| v["step"].as_u64().expect("step")).collect();
    assert_eq!(starts, [0, 4, 5, 6, 7]);
    assert_eq!(rounds[4]["episodes"], 20);
    assert!(metrics(&run).iter().any(|v| v["step"] == 8 && v["loss"].is_number()));
    // A bad --first-round-steps is a one-line error.
    let o = online(&dir.path().join("bad"), &["--first-round-steps", "6"]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("first_round_steps") && e.trim().lines().count() == 1, "{e}");
}

#[test]
fn online_refuses_a_scenario_without_expert_and_a_changed_action_vocabulary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builtin = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/go_to_object.ron")).expect("scenario");
    let sight = builtin.replace("success: Near(Agent, Object(\"target\"), 0.5)", "success: Visible(\"target\")");
    assert_ne!(sight, builtin);
    let file = dir.path().join("look_at.ron");
    std::fs::write(&file, sight).expect("write");
    let out = dir.path().join("run");
    let o = sandtable(&["finetune", "--online", "--scenario", s(&file), "--init", "none", "--config", "tiny", "--out", s(&out)]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("has no expert"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");

    let o = online(&out, &["--until", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info = out.join("online/info.json");
    let text = std::fs::read_to_string(&info).expect("info.json");
    std::fs::write(&info, text.replace("\"turn_left\"", "\"spin_left\"")).expect("tamper");
    let o = online(&out, &["--resume"]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("vocabulary"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(!e.contains("panicked"), "{e}");
}
