//! `sandtable finetune` and `sandtable eval` with the tiny preset: exact resume, the agent in the
//! loop on two workers, the baselines' known success rates, unseen seeds and clear errors.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{sandtable, stderr};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Expert demonstrations of a walking task and a question, recorded once per test.
fn demos(dir: &Path) -> PathBuf {
    let out = dir.join("demos");
    let o = sandtable(&["record", "--scenario", "go_to_object", "describe_object", "--episodes", "8", "--policy", "expert", "--workers", "2", "--seed", "5", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

fn finetune(data: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["finetune", "--init", "none", "--config", "tiny", "--data", s(data), "--out", s(out), "--holdout-pairs", "red:cube,blue:sphere"];
    args.extend_from_slice(extra);
    let o = sandtable(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("JSON")
}

fn losses(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .expect("metrics.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .filter(|v| v.get("loss").is_some())
        .map(|v| format!("{} {}", v["step"], v["loss"]))
        .collect()
}

fn rows<'a>(eval: &'a Value, policy: &str) -> Vec<&'a Value> {
    eval["results"].as_array().expect("results").iter().filter(|r| r["policy"] == policy && r["subset"] == "all").collect()
}

#[test]
fn finetune_resumes_exactly_and_the_agent_drives_two_workers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demos(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    finetune(&data, &a, &[]);
    finetune(&data, &b, &["--until", "35"]);
    finetune(&data, &b, &["--resume"]);
    let (la, lb) = (losses(&a), losses(&b));
    assert_eq!(la.len(), 60);
    assert_eq!(la, lb, "losses differ after resuming");
    for f in ["finetune_loss.svg", "vocab.json", "agent.json", "config.json", "checkpoints/step-00000060/vocab.json"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let card = json(&a.join("agent.json"));
    assert_eq!(card["holdout"].as_array().map(Vec::len), Some(2));
    assert_eq!(card["init"], Value::Null);
    assert_eq!(card["renderer"], "batch", "the card names the renderer that drew its training data");

    // Closed loop on 2 workers, with the baselines on the same seeds.
    let out = dir.path().join("eval");
    let o = sandtable(&["eval", "--checkpoint", s(&a), "--scenario", "go_to_object", "describe_object", "--episodes", "3", "--workers", "2", "--envs", "2", "--gifs", "1", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("success [95% CI]") && table.contains("agent"), "{table}");
    let eval = json(&out.join("eval.json"));
    assert_eq!(eval["renderer"], "batch", "eval plays with the renderer the agent trained on");
    for policy in ["agent", "random", "expert"] {
        let r = rows(&eval, policy);
        assert_eq!(r.len(), 2, "{policy}: one row per scenario");
        for row in r {
            assert_eq!(row["summary"]["episodes"], 3);
            let (lo, hi) = (row["summary"]["success_ci95"][0].as_f64().expect("lo"), row["summary"]["success_ci95"][1].as_f64().expect("hi"));
            let rate = row["summary"]["success_rate"].as_f64().expect("rate");
            assert!(lo <= rate && rate <= hi);
            let qa = row["scenario"] == "describe_object";
            assert_eq!(row["summary"]["answer_accuracy"].is_number(), qa, "answer accuracy only for questions");
        }
    }
    let gifs = eval["gifs"].as_array().expect("gifs");
    assert!(!gifs.is_empty() && gifs.len() <= 4);
    for g in gifs {
        let bytes = std::fs::read(out.join(g.as_str().expect("path"))).expect("gif");
        assert!(bytes.starts_with(b"GIF89a"));
    }

    // Every question episode is diagnosed: a failure kind exactly when it failed.
    let text = std::fs::read_to_string(out.join("episodes.jsonl")).expect("episodes.jsonl");
    let asked: Vec<Value> = text.lines().map(|l| serde_json::from_str::<Value>(l).expect("JSON")).filter(|l| l["scenario"] == "describe_object").collect();
    assert_eq!(asked.len(), 9);
    for l in &asked {
        assert!(l["diagnosis"].is_object(), "{l}");
        assert_eq!(l["diagnosis"]["failure"].is_null(), l["success"] == true, "{l}");
    }

    // With one step allowed, that step is the last: the agent answers there, every time, unless
    // told not to.
    let ron = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenarios/describe_object.ron")).expect("scenario");
    let once = dir.path().join("describe_once.ron");
    std::fs::write(&once, ron.replace("max_steps: 60", "max_steps: 1")).expect("write");
    let answered = |extra: &[&str]| -> (Vec<Value>, Value) {
        let out = dir.path().join("eval_once");
        let mut args = vec!["eval", "--checkpoint", s(&a), "--scenario", s(&once), "--episodes", "6", "--policy", "agent", "--out", s(&out)];
        args.extend_from_slice(extra);
        let o = sandtable(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = std::fs::read_to_string(out.join("episodes.jsonl")).expect("episodes.jsonl");
        (text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect(), json(&out.join("eval.json"))["agent_answers_at_deadline"].clone())
    };
    let (lines, rule) = answered(&[]);
    assert_eq!(rule, Value::Bool(true));
    assert_eq!(lines.len(), 6);
    assert!(lines.iter().all(|l| !l["given_answer"].is_null() && l["diagnosis"]["failure"] != "unanswered"), "{lines:?}");
    // Without the rule, an episode the agent did not answer is diagnosed as unanswered.
    let (lines, rule) = answered(&["--no-deadline-answer"]);
    assert_eq!(rule, Value::Bool(false), "the rule is recorded in eval.json");
    for l in &lines {
        assert_eq!(l["given_answer"].is_null(), l["diagnosis"]["failure"] == "unanswered", "{l}");
    }

    // A question with a word it never learnt ("size"): the warning is logged once, with its
    // count at the end, not once per episode; and a log that is not a terminal has no colours.
    let out_size = dir.path().join("eval_size");
    let o = sandtable(&["eval", "--checkpoint", s(&a), "--scenario", "size_of_object", "--episodes", "4", "--policy", "agent", "--gifs", "0", "--out", s(&out_size)]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("words outside the vocabulary read as <unk>").count(), 2, "the warning, then its count: {err}");
    assert!(err.contains("4 times in all"), "{err}");
    assert!(!err.contains('\x1b'), "no ANSI codes when stderr is not a terminal: {err}");

    // The demonstrations' own seeds are refused.
    let o = sandtable(&["eval", "--checkpoint", s(&a), "--scenario", "go_to_object", "describe_object", "--episodes", "2", "--seed", "5", "--out", s(&out)]);
    assert!(!o.status.success() && stderr(&o).contains("was used in training"), "{}", stderr(&o));
}

#[test]
fn baselines_report_the_expert_ceiling_and_the_random_floor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("eval");
    let o = sandtable(&["eval", "--scenario", "go_to_object", "--episodes", "12", "--workers", "2", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let eval = json(&out.join("eval.json"));
    // The expert solves go_to_object on every one of 200 checked seeds.
    let expert = rows(&eval, "expert")[0]["summary"].clone();
    assert_eq!(expert["success_rate"], 1.0);
    assert_eq!(expert["episodes"], 12);
    let random = rows(&eval, "random")[0]["summary"].clone();
    assert!(random["success_rate"].as_f64().expect("rate") <= 0.25, "random {random}");
    assert!(random["mean_length"].as_f64().expect("length") > expert["mean_length"].as_f64().expect("length"));
    // One line per episode and player, each with its diagnosis: the expert's say it saw the
    // target and did not fail; every random failure has a kind, and the row counts them.
    let text = std::fs::read_to_string(out.join("episodes.jsonl")).expect("episodes.jsonl");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 24);
    for l in &lines {
        let d = &l["diagnosis"];
        assert!(l["seed"].is_u64() && d["final_distance"].is_number(), "{l}");
        assert_eq!(d["failure"].is_null(), l["success"] == true, "{l}");
        if l["policy"] == "expert" {
            assert!(d["target_seen_at"].is_u64() && d["final_distance"].as_f64().expect("distance") < 2.0, "{l}");
        }
    }
    let failed = lines.iter().filter(|l| l["policy"] == "random" && l["success"] == false).count();
    let kinds = rows(&eval, "random")[0]["failures"].as_object().expect("failures").clone();
    let counted: u64 = kinds.iter().filter(|(k, _)| !k.contains("_sharing_")).map(|(_, n)| n.as_u64().expect("count")).sum();
    assert_eq!(counted as usize, failed, "{kinds:?}");
    assert!(rows(&eval, "expert")[0]["failures"].as_object().expect("failures").is_empty());
}

#[test]
fn bad_checkpoints_are_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = demos(dir.path());
    let o = sandtable(&["finetune", "--init", s(&dir.path().join("nowhere")), "--config", "tiny", "--data", s(&data), "--out", s(&dir.path().join("x"))]);
    assert!(!o.status.success());
    let err = stderr(&o);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: ") && last.contains("nowhere") && last.contains("checkpoint"), "{err}");
    // A pretraining run is not an agent.
    let pre = dir.path().join("pre");
    let o = sandtable(&["pretrain", "--data", s(&data), "--config", "tiny", "--tokenizer-steps", "2", "--dynamics-steps", "2", "--out", s(&pre)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sandtable(&["eval", "--checkpoint", s(&pre), "--episodes", "1"]);
    let err = stderr(&o);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(!o.status.success() && last.starts_with("error: ") && last.contains("not a fine-tuned agent"), "{err}");
    // A checkpoint of the token-by-token world model (format 1: no `format` field) is refused
    // with the reason, and the run is left as it was.
    let old = dir.path().join("old");
    copy_dir(&pre, &old);
    let latest = std::fs::read_to_string(old.join("checkpoints/latest")).expect("latest");
    let state_path = old.join("checkpoints").join(latest.trim()).join("state.json");
    let mut state = json(&state_path);
    state.as_object_mut().expect("object").remove("format");
    std::fs::write(&state_path, state.to_string()).expect("write");
    let o = sandtable(&["eval-wm", "--checkpoint", s(&old), "--data", s(&data), "--windows", "1", "--horizon", "1"]);
    let err = stderr(&o);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(!o.status.success() && last.contains("checkpoint format 1") && last.contains("retrain"), "{err}");
    assert_eq!(std::fs::read_to_string(&state_path).expect("state"), state.to_string());
    // Fine-tuning from it works, and a wrong pair is refused by the parser.
    finetune_from(&data, &pre, &dir.path().join("ft"));
    let o = sandtable(&["finetune", "--init", "none", "--data", s(&data), "--out", s(&dir.path().join("y")), "--holdout-pairs", "red"]);
    assert!(!o.status.success() && stderr(&o).contains("colour:shape"), "{}", stderr(&o));
}

fn finetune_from(data: &Path, init: &Path, out: &Path) {
    let o = sandtable(&["finetune", "--init", s(init), "--config", "tiny", "--data", s(data), "--steps", "3", "--out", s(out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&out.join("agent.json"))["init"], s(init));
}

/// Copy a directory tree.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let dst = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), dst).expect("copy");
        }
    }
}
